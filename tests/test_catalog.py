"""The catalog's questions about when papers arrived (the radar's windows) and its vector bookkeeping,
on a real SQLite catalog. No embedding model: these run in well under a second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from assistant.core.paper import Paper
from assistant.store.catalog import Catalog


def _paper(pid: str, published: date | None, title: str = "A paper") -> Paper:
    abstract = f"Abstract of {pid}."
    return Paper(id=pid, title=title, abstract=abstract, categories=["cs.LG"], published=published)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    opened = Catalog(tmp_path / "catalog.sqlite3")
    yield opened
    opened.close()


def _ingest(catalog: Catalog, *papers: Paper) -> float:
    """Upsert papers as one ingest and return the catalog's newest ingest time after it."""
    time.sleep(0.01)  # distinct ingest times even on a coarse clock
    catalog.upsert(papers)
    return catalog.newest_ingested()


def test_an_empty_catalog_has_no_newest_ingest(catalog: Catalog) -> None:
    assert catalog.newest_ingested() == 0.0
    assert catalog.ids_ingested_since(0.0) == set()


def test_window_queries_follow_first_ingest_times_and_listing_days(catalog: Catalog) -> None:
    first = _ingest(catalog, _paper("2606.00001", date(2026, 6, 1)))
    second = _ingest(
        catalog,
        _paper("2606.00002", date(2026, 6, 2)),
        _paper("2605.00003", date(2026, 5, 1)),  # an old paper loaded by a backfill
        _paper("2606.00004", None),  # undated
    )
    assert second > first
    # A re-listed (changed) paper keeps its first ingest time: it is not new again.
    relisted = _ingest(catalog, _paper("2606.00001", date(2026, 6, 1), title="A paper, revised"))
    assert relisted == second

    assert catalog.ids_ingested_since(second) == {"2606.00002", "2605.00003", "2606.00004"}
    assert catalog.ids_ingested_since(first) == {"2606.00001", "2606.00002", "2605.00003", "2606.00004"}

    # Later windows: (after, until], backfill (published before the floor) out, undated papers in.
    assert catalog.ids_ingested_between(first, second, date(2026, 5, 25)) == {"2606.00002", "2606.00004"}
    assert catalog.ids_ingested_between(first, second, None) == {"2606.00002", "2605.00003", "2606.00004"}
    assert catalog.ids_ingested_between(second, second, None) == set()
    assert catalog.ids_ingested_between(0.0, first, None) == {"2606.00001"}

    # First windows: the latest listing day, plus whatever entered after the topic was made.
    assert catalog.ids_of_listing(date(2026, 6, 2), second, or_ingested_after=second) == {"2606.00002"}
    assert catalog.ids_of_listing(date(2026, 6, 1), first, or_ingested_after=first) == {"2606.00001"}
    assert catalog.ids_of_listing(date(2026, 6, 2), second, or_ingested_after=first) == {
        "2606.00002",
        "2605.00003",
        "2606.00004",
    }


def test_reset_embedded_makes_exactly_those_papers_pending_again(catalog: Catalog) -> None:
    papers = [_paper(f"2606.0000{i}", date(2026, 6, 1)) for i in range(1, 5)]
    catalog.upsert(papers)
    catalog.mark_embedded({p.id: p.content_hash for p in papers})
    assert catalog.count_pending() == 0

    catalog.reset_embedded(["2606.00002", "2606.00004"])

    assert catalog.pending_ids() == ["2606.00002", "2606.00004"]
    assert catalog.count_pending() == 2
    catalog.reset_embedded([])
    assert catalog.count_pending() == 2


def _fts_rows(path: Path) -> list[tuple[int, str, str]]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return list(conn.execute("SELECT rowid, id, title FROM papers_fts ORDER BY id"))


def _paper_rowids(path: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return {pid: rowid for rowid, pid in conn.execute("SELECT rowid, id FROM papers")}


def test_an_updated_paper_has_one_lexical_row_and_only_its_new_words(catalog: Catalog) -> None:
    catalog.upsert([_paper("2606.00001", date(2026, 6, 1), "Gaussian splatting for cities")])
    catalog.upsert([_paper("2606.00002", date(2026, 6, 1), "Protein folding with diffusion")])
    catalog.upsert([_paper("2606.00001", date(2026, 6, 2), "Neural radiance fields for cities")])
    rows = _fts_rows(catalog.path)
    assert [(pid, title) for _, pid, title in rows] == [
        ("2606.00001", "Neural radiance fields for cities"),
        ("2606.00002", "Protein folding with diffusion"),
    ]
    assert {pid: rowid for rowid, pid, _ in rows} == _paper_rowids(catalog.path)
    assert [pid for pid, _ in catalog.lexical_search('"radiance"', 5)] == ["2606.00001"]
    assert catalog.lexical_search('"splatting"', 5) == []


def test_a_catalog_whose_lexical_rows_are_keyed_by_id_is_rekeyed_once_when_opened(tmp_path: Path) -> None:
    """Catalogs written before FTS rows shared their paper's rowid: the rows are rebuilt in place on open
    (same words, authors and comments searchable), after which an update replaces exactly one row."""
    import sqlite3

    path = tmp_path / "catalog.sqlite3"
    first = Catalog(path)
    first.upsert([_paper(f"2606.{n:05d}", date(2026, 6, 1), f"Title number {n}") for n in range(1, 6)])
    first.upsert(
        [
            Paper(
                id="2606.00009",
                title="Sparse Ising machines",
                abstract="Collective motion.",
                authors=["Ada Lovelace"],
                comment="12 pages",
                categories=["cs.ET"],
            )
        ]
    )
    first.close()
    with sqlite3.connect(path) as conn:  # the old layout: FTS rowids unrelated to the papers' rowids
        conn.execute("UPDATE papers_fts SET rowid = rowid + 1000")
        conn.execute("PRAGMA user_version = 0")
        conn.execute("DROP TABLE schema_migrations")  # such catalogs predate recorded migrations too
    assert set(_paper_rowids(path).values()).isdisjoint(rowid for rowid, _, _ in _fts_rows(path))

    reopened = Catalog(path)
    try:
        rows = _fts_rows(path)
        assert len(rows) == 6
        assert {pid: rowid for rowid, pid, _ in rows} == _paper_rowids(path)
        assert [pid for pid, _ in reopened.lexical_search('"lovelace"', 5)] == ["2606.00009"]
        assert [pid for pid, _ in reopened.lexical_search('"pages"', 5)] == ["2606.00009"]
        reopened.upsert([_paper("2606.00003", date(2026, 6, 3), "A renamed third paper")])
        assert len(_fts_rows(path)) == 6
        assert [pid for pid, _ in reopened.lexical_search('"renamed"', 5)] == ["2606.00003"]
    finally:
        reopened.close()


def test_a_paper_whose_text_changed_after_its_vector_counts_as_not_embedded_everywhere(
    tmp_path: Path,
) -> None:
    """One rule for "embedded" (the vector is of the current text), the same for the ingest, `stats` and a
    benchmark watching the file from another process; the watcher never creates a catalog."""
    path = tmp_path / "catalog.sqlite3"
    assert Catalog.progress(path) == (0, 0) and not path.exists()
    catalog = Catalog(path)
    try:
        papers = [_paper(f"2606.0000{i}", date(2026, 6, 1)) for i in range(1, 4)]
        catalog.upsert(papers)
        catalog.mark_embedded({p.id: p.content_hash for p in papers})
        changed = papers[0].model_copy(update={"abstract": "A new abstract, so a new vector is owed."})
        catalog.upsert([changed])
        assert (catalog.count(), catalog.count_embedded(), catalog.count_pending()) == (3, 2, 1)
        assert Catalog.progress(path) == (3, 2)
    finally:
        catalog.close()


def test_author_counts_read_only_the_first_papers_asked_for(catalog: Catalog) -> None:
    signed = [
        _paper("2606.00001", None).model_copy(update={"authors": ["Ada Lovelace", "Alan Turing"]}),
        _paper("2606.00002", None).model_copy(update={"authors": ["Ada Lovelace"]}),
        _paper("2606.00003", None).model_copy(update={"authors": ["Grace Hopper"]}),
    ]
    catalog.upsert(signed)
    assert catalog.author_counts(first=2) == {"Ada Lovelace": 2, "Alan Turing": 1}
    assert catalog.author_counts(first=10)["Grace Hopper"] == 1
