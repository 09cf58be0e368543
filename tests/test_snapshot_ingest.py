"""arXiv's official metadata snapshot layout (`arxiv-metadata-oai-snapshot.json`: plain .json, one object per
line) ingested catalog-only with `ingest --no-embed`, then embedded later with `academichub embed`.

The files come from tests/helpers.py's snapshot writer over the bundled sample (unique synthetic ids, cycled
abstracts). The model must not load for a catalog-only run: `get_embedder` is replaced by one that fails
the test if called. Runs that embed use the session's model."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest
from conftest import make_settings, sample_records
from helpers import kill_9_at, snapshot_lines
from typer.testing import CliRunner, Result

from assistant.core.lazy import Lazy
from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.store.catalog import Catalog
from assistant.store.embedding import EncoderMismatchError
from assistant.store.vectors import VectorIndex
from assistant.ui.cli import app
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs


def write_snapshot(path: Path, lines: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.writelines(snapshot_lines(sample_records(), lines))
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def flat(text: str) -> str:
    return " ".join(text.split())


def counts(settings: Settings) -> tuple[int, int, int]:
    """(catalog papers, Chroma vectors, papers waiting for vectors)."""
    catalog = Catalog(settings.storage.catalog_path)
    try:
        papers, pending = catalog.count(), catalog.count_pending()
    finally:
        catalog.close()
    return papers, VectorIndex(settings).count(), pending


@pytest.fixture
def no_model(monkeypatch):
    """Any attempt to load the embedding model fails the test."""

    def refuse(settings: object) -> None:
        raise AssertionError("the embedding model was loaded")

    monkeypatch.setattr("ingest.pipeline.get_embedder", refuse)


@pytest.fixture
def shared_model(monkeypatch, embedder):
    """Runs that embed (and searches) use the session's model instead of loading another one."""
    monkeypatch.setattr("ingest.pipeline.get_embedder", lambda settings: embedder)
    monkeypatch.setattr("assistant.engine.get_embedder", lambda settings: embedder)
    return embedder


def test_no_embed_stores_a_snapshot_file_without_vectors_or_model_and_search_finds_it_by_words(
    tmp_path, use_home, no_model, monkeypatch, embedder
):
    settings = use_home(tmp_path / "home")
    path = write_snapshot(tmp_path / "arxiv-metadata-oai-snapshot.json", 300)

    result = invoke("ingest", "--no-embed", str(path))

    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert counts(settings) == (300, 0, 300)
    assert re.search(r"papers waiting for vectors\W+300\b", out)
    assert "300 papers are waiting for vectors" in out and "academichub embed" in out
    again = invoke("ingest", "--embed-later", "--json", str(path))  # the alias; nothing changes
    summary = json.loads(again.stdout)
    assert (summary["new"], summary["unchanged"], summary["embedded"]) == (0, 300, 0)
    assert summary["pending_embeddings"] == 300 and counts(settings) == (300, 0, 300)

    stats = invoke("stats")
    assert stats.exit_code == 0 and "warning" not in stats.output
    assert "300 papers (0 vectors, 300 waiting to be embedded)" in flat(stats.output)
    assert "academichub embed" in flat(stats.output)

    # Search loads the model for the query; BM25 finds a paper that has no vector yet.
    monkeypatch.setattr("assistant.engine.get_embedder", lambda settings: embedder)
    last = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
    found = invoke("search", " ".join(last["title"].split()), "--k", "3", "--json")
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)["results"]
    assert hits and hits[0]["id"] == last["id"]  # the 300 abstracts are distinct: one paper has this title


def test_embed_limit_embeds_exactly_that_many_then_the_rest_and_an_ingest_says_what_it_embeds_first(
    tmp_path, use_home, shared_model, monkeypatch
):
    monkeypatch.setenv("ACADEMICHUB_INGEST_BATCH_SIZE", "8")  # a limit of 13 crosses a batch boundary
    settings = use_home(tmp_path / "home")
    path = write_snapshot(tmp_path / "arxiv-metadata-oai-snapshot.json", 30)
    assert invoke("ingest", "--no-embed", str(path)).exit_code == 0

    first = invoke("embed", "--limit", "13", "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert (summary["embedded"], summary["vectors_total"], summary["pending_embeddings"]) == (13, 13, 17)
    assert counts(settings) == (30, 13, 17)

    # A filtered search over a partly embedded catalog: the dense side only asks for papers with a vector
    # (Chroma fails on an id it lacks), BM25 finds the others, and says they have no vector yet.
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    waiting = lines[-1]  # the oldest papers were embedded first
    category = waiting["categories"].split()[0]
    found = invoke("search", " ".join(waiting["title"].split()), "--category", category, "--json")
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)["results"]
    assert hits[0]["id"] == waiting["id"] and hits[0]["has_vector"] is False
    embedded = {line["id"] for line in lines[:13]}
    assert all(("has_vector" in hit) != (hit["id"] in embedded) for hit in hits)
    shown = invoke("search", " ".join(waiting["title"].split()), "--category", category, "--k", "1")
    assert "found by its words (no vector yet)" in flat(shown.output)

    # A normal ingest embeds what is waiting first, and says so before it starts.
    more = write_snapshot(tmp_path / "more.json", 32)  # the same 30 papers and 2 new ones
    second = invoke("ingest", str(more))
    assert second.exit_code == 0, second.output
    out = flat(second.output)
    assert "17 papers are waiting for vectors" in out and "embedding them first" in out
    assert counts(settings) == (32, 32, 0)

    done = invoke("embed")
    assert done.exit_code == 0 and "nothing waits to be embedded" in flat(done.output)
    assert counts(settings) == (32, 32, 0)


def test_a_catalog_only_ingest_killed_with_9_and_run_again_keeps_exact_counts(tmp_path, use_home, no_model):
    """The real command line, killed with SIGKILL as it is about to store its third batch (tests/stop_at.py
    stops it there, so the kill lands mid-run on any machine); the same command again must leave every
    paper once, none embedded, and count them once (new or unchanged)."""
    lines = 4000
    path = write_snapshot(tmp_path / "arxiv-metadata-oai-snapshot.json", lines)
    home = tmp_path / "home"
    env = {**os.environ, "ACADEMICHUB_HOME": str(home), "ACADEMICHUB_INGEST_BATCH_SIZE": "50"}
    args = ["ingest", "--no-embed", "--json", str(path)]
    status = kill_9_at("assistant.store.catalog:Catalog.upsert", 3, args, env, tmp_path)
    assert status == -signal.SIGKILL
    stored, _ = Catalog.progress(home / "catalog.sqlite3")
    assert stored == 100  # two batches of 50 committed, the third never written

    settings = use_home(home)
    result = invoke("ingest", "--no-embed", "--json", str(path))

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["new"] + summary["unchanged"] == lines and summary["unchanged"] >= stored
    assert summary["papers_total"] == summary["pending_embeddings"] == lines
    assert counts(settings) == (lines, 0, lines)
    catalog = Catalog(settings.storage.catalog_path)
    try:
        ids = catalog.all_ids()
    finally:
        catalog.close()
    assert len(set(ids)) == len(ids) == lines


def test_a_catalog_only_index_takes_the_encoder_of_its_first_vectors(tmp_path):
    """`ingest --no-embed` with the default encoder made the collection; `embed` with another encoder may
    still fill it (nothing to mismatch yet), after which the other encoder is refused as ever."""
    settings = make_settings(tmp_path / "home")
    assert VectorIndex(settings).count() == 0  # the collection as a catalog-only ingest leaves it
    onnx = settings.replace(embedding={"backend": "onnx"})
    index = VectorIndex(onnx)
    paper = Paper.model_validate(
        {
            "id": "2606.00001",
            "title": "A title",
            "abstract": "An abstract.",
            "authors": ["A. Author"],
            "categories": ["cs.LG"],
        }
    )
    index.upsert([paper], np.ones((1, 384), dtype=np.float32) / np.sqrt(384))
    assert VectorIndex(onnx).collection.metadata["embedding_backend"] == "onnx"
    with pytest.raises(EncoderMismatchError):
        VectorIndex(settings)


class StopsOnSecondBatch:
    """The session's encoder, interrupted (as by Ctrl-C) when asked for its second batch."""

    def __init__(self, embedder) -> None:
        self.embedder, self.calls = embedder, 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return self.embedder.encode(texts)


def test_an_interrupted_embed_keeps_what_it_stored_and_the_next_one_finishes_exactly(tmp_path, embedder):
    settings = make_settings(tmp_path / "home").replace(sources={"ingest_batch_size": 8})
    path = write_snapshot(tmp_path / "arxiv-metadata-oai-snapshot.json", 20)
    ingestor = open_ingestor(settings)
    try:
        assert ingestor.run(file_runs([path]), embed=False).pending_total == 20
        ingestor._embedder = Lazy.of(StopsOnSecondBatch(embedder))  # type: ignore[arg-type]
        with pytest.raises(KeyboardInterrupt):
            ingestor.embed_pending()
    finally:
        ingestor.close()
    assert counts(settings) == (20, 8, 12)  # the first batch stored and marked, the second lost

    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        summary = ingestor.embed_pending()
    finally:
        ingestor.close()
    assert (summary.embedded, summary.vectors_total, summary.pending_total) == (12, 20, 0)
    ids = VectorIndex(settings).all_ids()
    assert len(ids) == len(set(ids)) == 20
