"""Scale-out: ACADEMICHUB_CHROMA_HOST/_PORT put the vectors in a Chroma server instead of the embedded store.

Starts the real `chroma run` (the chromadb package's server) on 127.0.0.1 and a free port as a
subprocess, waits for its heartbeat, ingests and searches through it with the shared packaged model, and
stops it. Nothing leaves localhost.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import free_port, make_settings, sample_records, write_jsonl

from assistant.engine import build_retriever
from assistant.store.vectors import VectorIndex
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs


def test_ingest_and_search_through_a_chroma_server(tmp_path: Path, embedder, chroma_server: int) -> None:
    records = sample_records(20)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    settings = make_settings(tmp_path / "home").replace(
        storage={"chroma_host": "127.0.0.1", "chroma_port": chroma_server}
    )

    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        first = ingestor.run(file_runs([corpus]))
        again = ingestor.run(file_runs([corpus]))
    finally:
        ingestor.close()
    assert first.embedded == 20 and first.vectors_total == 20
    assert again.embedded == 0 and again.unchanged == 20

    # The vectors live in the server, not in the data directory.
    assert not settings.storage.chroma_path.exists()
    assert VectorIndex(settings).count() == 20

    # A second process-like reader (an app worker) finds papers by meaning through the same server.
    wanted = records[7]
    hits = build_retriever(settings, embedder=embedder).search(wanted["title"], k=3, mode="dense")
    assert hits and hits[0].paper.id == wanted["id"]
    assert hits[0].relevance > 0.5


def test_unreachable_chroma_server_is_a_readable_error(tmp_path: Path) -> None:
    from assistant.store.vectors import VectorStoreError

    settings = make_settings(tmp_path / "home").replace(
        storage={"chroma_host": "127.0.0.1", "chroma_port": free_port()}
    )
    with pytest.raises(VectorStoreError, match=r"cannot open the Chroma vector store at 127\.0\.0\.1:"):
        VectorIndex(settings)


# --- several app workers, one ingest (docs/deployment.md: "Several app workers, one index") -------------

FIRST = 27  # papers indexed before the ingest under test (the sample's first day; none in econ)
NEW = 64  # "Testing Decision Makers without Counterfactuals" (cs.GT, econ.TH): no indexed paper is in econ


def _server_home(tmp_path: Path, name: str, port: int):
    return make_settings(tmp_path / name).replace(storage={"chroma_host": "127.0.0.1", "chroma_port": port})


def _ingest(settings, embedder, corpus: Path, **options: object):
    ingestor = open_ingestor(settings, embedder=embedder, **options)  # type: ignore[arg-type]
    try:
        return ingestor.run(file_runs([corpus]))
    finally:
        ingestor.close()


def test_a_running_reader_mid_ingest_sees_new_rows_before_their_vectors_without_errors(
    tmp_path: Path, embedder, chroma_server: int
) -> None:
    """An ingest stores a batch's catalog rows, then their vectors, then marks them embedded. An app worker
    searching in between finds the new paper by its words, filters on its new field, and its radar
    windows wait for the vectors instead of closing over a paper they cannot rank."""
    from assistant.engine import Engine
    from assistant.search.retrieval import make_filter
    from assistant.store.catalog import Catalog
    from ingest.normalize import from_json_record

    records = sample_records(NEW + 1)
    settings = _server_home(tmp_path, "home", chroma_server)
    app = Engine(settings, use_llm=False)  # an app worker started on an empty index: no starters yet
    assert app.starter_topics() == []
    _ingest(settings, embedder, write_jsonl(tmp_path / "first.jsonl", records[:FIRST]))
    assert app.starter_topics() == ["diffusion models"]  # found again once another process filled it
    app.close()
    reader = build_retriever(settings, embedder=embedder)  # a running app worker
    new = records[NEW]
    assert all(h.paper.id != new["id"] for h in reader.search(new["title"], k=5))
    ready = reader.catalog.searchable_until()

    # The ingest's first step for the new paper (another process): its catalog row, no vector yet.
    writer = Catalog(settings.storage.catalog_path)
    try:
        writer.upsert([from_json_record(new)])
    finally:
        writer.close()
    assert VectorIndex(settings).count() == FIRST

    hits = reader.search(new["title"], k=3)
    assert hits[0].paper.id == new["id"]  # BM25 finds it: its words are in the catalog
    assert hits[0].relevance == 0.0 and hits[0].dense_rank is None  # no vector yet: not rated relevant
    # Filters rank the dense side among the filter's papers: Chroma fails a query naming an id it does not
    # hold, so that list is cut to the papers it has; the new field is accepted at once.
    econ = reader.search(new["title"], k=3, paper_filter=make_filter(categories=["econ"]))
    assert [h.paper.id for h in econ] == [new["id"]]
    mixed = reader.search(new["title"], k=3, paper_filter=make_filter(since=None, categories=["econ", "cs"]))
    assert mixed[0].paper.id == new["id"]
    # The radar's windows stop before the first paper still waiting for its vector.
    assert reader.catalog.newest_ingested() > reader.catalog.searchable_until() == ready

    # The ingest finishes (here: the next run embeds what the interrupted one left pending).
    resumed = _ingest(settings, embedder, write_jsonl(tmp_path / "none.jsonl", []))
    assert resumed.resumed == 1 and resumed.vectors_total == FIRST + 1
    dense = reader.search(new["title"], k=3, mode="dense")
    assert dense[0].paper.id == new["id"] and dense[0].relevance > 0.5
    assert reader.catalog.searchable_until() == reader.catalog.newest_ingested() > ready


def test_a_running_reader_follows_a_rebuild_on_the_server(
    tmp_path: Path, embedder, chroma_server: int
) -> None:
    """`ingest --rebuild` drops the server's collection and sets the catalog aside while app workers hold
    handles to both: their next search opens the new ones instead of failing or reading the old file."""
    records = sample_records(8)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records[:6])
    settings = _server_home(tmp_path, "home", chroma_server)
    _ingest(settings, embedder, corpus)
    reader = build_retriever(settings, embedder=embedder)
    assert reader.search(records[2]["title"], k=1)[0].paper.id == records[2]["id"]

    rebuilt = write_jsonl(tmp_path / "rebuilt.jsonl", records[2:8])
    summary = _ingest(settings, embedder, rebuilt, rebuild=True)
    assert summary.new == 6 and summary.vectors_total == 6

    wanted = records[7]
    hits = reader.search(wanted["title"], k=3, mode="dense")
    assert hits[0].paper.id == wanted["id"] and hits[0].relevance > 0.5
    assert reader.catalog.count() == 6  # the rebuilt catalog, not the one set aside


def test_a_catalog_shipped_to_an_app_machine_is_read_at_the_next_search(
    tmp_path: Path, embedder, chroma_server: int
) -> None:
    """Ingest on one machine, app workers on another, one Chroma server: after each ingest the catalog is
    copied (SQLite's online backup) to the app machine and moved into place; a running worker reads the
    new copy at its next search, without a restart."""
    import os
    import sqlite3

    def ship(source: Path, target: Path) -> None:
        partial = target.with_name(target.name + ".partial")
        with sqlite3.connect(source) as src, sqlite3.connect(partial) as dst:
            src.backup(dst)
        os.replace(partial, target)  # atomic: a reader has the old file or the new one, never half

    records = sample_records(NEW + 1)
    ingest_host = _server_home(tmp_path, "ingest-host", chroma_server)
    app_host = _server_home(tmp_path, "app-host", chroma_server)
    _ingest(ingest_host, embedder, write_jsonl(tmp_path / "first.jsonl", records[:FIRST]))
    app_host.storage.home.mkdir()
    ship(ingest_host.storage.catalog_path, app_host.storage.catalog_path)
    worker = build_retriever(app_host, embedder=embedder)
    new = records[NEW]
    assert all(h.paper.id != new["id"] for h in worker.search(new["title"], k=5))

    _ingest(ingest_host, embedder, write_jsonl(tmp_path / "new.jsonl", [new]))
    # Before the copy arrives the worker sees the new vector but no catalog row: never shown.
    assert all(h.paper.id != new["id"] for h in worker.search(new["title"], k=5))
    ship(ingest_host.storage.catalog_path, app_host.storage.catalog_path)
    hits = worker.search(new["title"], k=3)
    assert hits[0].paper.id == new["id"] and hits[0].relevance > 0.5
