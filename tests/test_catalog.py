"""The catalog's questions about when papers arrived (the radar's windows) and its vector bookkeeping,
on a real SQLite catalog. No embedding model: these run in well under a second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ingest.catalog import Catalog
from ingest.paper import Paper


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
