"""An index built by the previous release keeps working after the upgrade.

tests/data/index-cfa0666 is a real index (catalog + Chroma) that `academichub ingest --file source.jsonl`
built with main at cfa0666, before papers had a source: 15 arXiv papers of the bundled sample. A copy is
opened with the current code, which migrates the catalog in place; it must search, answer, re-read its own
input as unchanged, and take bioRxiv papers beside the old ones."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import DATA_DIR, make_settings

from assistant.compose.answer import Answerer
from assistant.core.settings import Settings
from assistant.engine import build_retriever
from assistant.search.retrieval import make_filter
from assistant.store.catalog import Catalog
from assistant.store.embedding import Embedder
from assistant.store.filter import PaperFilter
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

OLD_INDEX = DATA_DIR / "index-cfa0666"
BIORXIV_DAY = DATA_DIR / "biorxiv" / "daily" / "2026-06-12.jsonl"


@pytest.fixture
def upgraded(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    shutil.copytree(OLD_INDEX, home, ignore=shutil.ignore_patterns("source.jsonl"))
    return make_settings(home)


def test_the_old_catalog_has_no_source_column_and_gets_one_in_place(upgraded: Settings) -> None:
    with sqlite3.connect(upgraded.storage.catalog_path) as conn:
        before = {row[1] for row in conn.execute("PRAGMA table_info(papers)")}
    assert "source" not in before
    catalog = Catalog(upgraded.storage.catalog_path)
    try:
        assert catalog.count() == 15
        assert catalog.source_counts() == {"arxiv": 15}
        paper = catalog.get_paper("2605.30355")
        assert paper is not None and paper.source == "arxiv"
        assert paper.abs_url == "https://arxiv.org/abs/2605.30355"
    finally:
        catalog.close()
    with sqlite3.connect(upgraded.storage.catalog_path) as conn:  # lexical rows now share their paper's rowid
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        mismatched = "SELECT count(*) FROM papers p JOIN papers_fts f ON f.id = p.id WHERE f.rowid != p.rowid"
        assert conn.execute(mismatched).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM papers_fts").fetchone()[0] == 15


def test_the_upgraded_index_searches_and_answers(upgraded: Settings, embedder: Embedder) -> None:
    retriever = build_retriever(upgraded, embedder=embedder)
    hits = retriever.search("collective switched motion for sparse Ising optimization", k=3)
    assert hits and hits[0].paper.id == "2605.30355"
    assert retriever.search("image restoration", k=3, paper_filter=make_filter(["cs.CV"]))
    answer = Answerer(upgraded, retriever).answer(
        "How does collective switched motion solve sparse Ising problems?"
    )
    assert answer.found and answer.sources[0].paper.abs_url.startswith("https://arxiv.org/abs/")


def test_rereading_the_old_input_changes_nothing_and_biorxiv_papers_join(
    upgraded: Settings, embedder: Embedder
) -> None:
    ingestor = open_ingestor(upgraded, embedder=embedder)
    try:
        again = ingestor.run(file_runs([OLD_INDEX / "source.jsonl"]))
        assert (again.unchanged, again.updated, again.new, again.embedded) == (15, 0, 0, 0)
        added = ingestor.run(file_runs([BIORXIV_DAY]))
    finally:
        ingestor.close()
    assert added.new == 3 and added.embedded == 3 and added.vectors_total == 18
    retriever = build_retriever(upgraded, embedder=embedder)
    assert retriever.catalog.source_counts() == {"arxiv": 15, "biorxiv": 3}
    only_biorxiv = PaperFilter(sources=("biorxiv",))
    hits = retriever.search("protein", k=5, paper_filter=only_biorxiv)
    assert hits and all(h.paper.abs_url.startswith("https://www.biorxiv.org/content/10.") for h in hits)
    assert {h.paper.source for h in retriever.search("protein", k=18)} == {"arxiv", "biorxiv"}
