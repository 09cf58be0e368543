"""File sources into a real index: snapshot-layout JSONL, daily-layout JSONL.gz, mixed files, bad input,
idempotent re-ingestion and the newest-version rule. Real SQLite, real Chroma, the real packaged model
(the session `embedder`, passed to `Ingestor` so it loads once)."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings, sample_records, write_jsonl

from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.store.catalog import Catalog
from assistant.store.embedding import Embedder
from assistant.store.filter import PaperFilter
from assistant.store.vectors import VectorIndex
from ingest.pipeline import IngestSummary, open_ingestor
from ingest.runs import SourceRun, file_runs, sample_run
from ingest.sources import read_jsonl


def to_snapshot(
    record: dict[str, Any], *, versions: int = 1, update_date: str = "2026-06-02"
) -> dict[str, Any]:
    """A daily-listing record rewritten in the arXiv metadata snapshot layout (Kaggle export)."""
    names = record["authors"]
    authors = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    stamps = ["Mon, 1 Jun 2026 17:59:59 GMT", "Thu, 4 Jun 2026 08:00:00 GMT", "Mon, 8 Jun 2026 12:00:00 GMT"]
    return {
        "id": record["id"],
        "submitter": names[0],
        "authors": authors,
        "title": record["title"],
        "comments": record.get("comment"),
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": " ".join(record["categories"]),
        "license": None,
        "abstract": record["summary"],
        "versions": [{"version": f"v{n + 1}", "created": stamps[n]} for n in range(versions)],
        "update_date": update_date,
    }


def ingest(settings: Settings, embedder: Embedder, *runs: SourceRun) -> IngestSummary:
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        return ingestor.run(list(runs))
    finally:
        ingestor.close()


def index_state(settings: Settings) -> tuple[int, int, int, list[str]]:
    """(catalog papers, Chroma vectors, papers waiting to be embedded, Chroma ids)."""
    catalog = Catalog(settings.storage.catalog_path)
    try:
        papers, pending = catalog.count(), catalog.count_pending()
    finally:
        catalog.close()
    vectors = VectorIndex(settings)
    return papers, vectors.count(), pending, vectors.all_ids()


def stored(settings: Settings, paper_id: str) -> Paper:
    catalog = Catalog(settings.storage.catalog_path)
    try:
        paper = catalog.get_paper(paper_id)
    finally:
        catalog.close()
    assert paper is not None, f"{paper_id} is not in the catalog"
    return paper


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return sample_records(12)


def test_snapshot_layout_file_is_ingested_with_its_fields(tmp_path: Path, embedder, records):
    snap = [to_snapshot(records[0], versions=2), to_snapshot(records[1])]
    snap[0]["authors_parsed"] = [[n.split()[-1], " ".join(n.split()[:-1]), ""] for n in records[0]["authors"]]
    path = write_jsonl(tmp_path / "snapshot.jsonl", snap)
    settings = make_settings(tmp_path / "home")

    summary = ingest(settings, embedder, *file_runs([path]))

    assert (summary.new, summary.embedded, summary.skipped) == (2, 2, 0)
    assert index_state(settings)[:3] == (2, 2, 0)
    first = stored(settings, records[0]["id"])
    assert first.version == 2
    assert first.authors == records[0]["authors"]
    assert first.categories == records[0]["categories"]
    assert (first.published, first.updated) == (date(2026, 6, 1), date(2026, 6, 2))
    second = stored(settings, records[1]["id"])
    assert second.authors == records[1]["authors"]  # split from the one-string form


def test_daily_layout_gz_file_is_dated_by_its_listing_day(tmp_path: Path, embedder, records):
    daily = [{k: v for k, v in r.items() if k != "date"} for r in records[2:5]]
    path = write_jsonl(tmp_path / "2026-06-03.jsonl.gz", daily, gz=True)
    settings = make_settings(tmp_path / "home")

    summary = ingest(settings, embedder, *file_runs([path]))

    assert (summary.records_read, summary.new, summary.embedded) == (3, 3, 3)
    paper = stored(settings, records[2]["id"])
    assert paper.published == date(2026, 6, 3)
    assert paper.abstract_original == records[2]["summary"]
    assert paper.categories[0] == records[2]["categories"][0]
    assert index_state(settings)[:3] == (3, 3, 0)


def test_mixed_file_with_bad_lines_keeps_every_valid_paper_and_says_what_it_skipped(
    tmp_path, embedder, records
):
    lines = [
        json.dumps(records[0]),  # 1 daily
        json.dumps(to_snapshot(records[1])),  # 2 snapshot
        '{"id": "2606.00001", "title": "cut',  # 3 malformed JSON
        json.dumps({"title": "No id", "summary": "x"}),  # 4 missing id
        json.dumps({**records[2], "summary": "   "}),  # 5 missing abstract
        json.dumps({**records[3], "id": "not-an-id"}),  # 6 not an arXiv id
        json.dumps({"id": "2606.00002", "title": "T", "text": "?"}),  # 7 unknown layout
        "",  # 8 blank: ignored, not a record
        "[1, 2]",  # 9 JSON but not an object
        json.dumps(to_snapshot(records[4])),  # 10 snapshot
        json.dumps(records[5]),  # 11 daily
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = make_settings(tmp_path / "home")

    summary = ingest(settings, embedder, *file_runs([path]))

    assert summary.new == 4
    assert summary.skipped == 6
    where = {s.where: s.reason for s in summary.skip_examples}
    assert where["mixed.jsonl:3"].startswith("malformed JSON")
    assert where["mixed.jsonl:4"] == "missing id"
    assert where["mixed.jsonl:5"] == "missing abstract"
    assert where["mixed.jsonl:6"] == "not an arXiv id: 'not-an-id'"
    assert where["mixed.jsonl:7"].startswith("unknown layout")
    assert where["mixed.jsonl:9"] == "line is JSON but not an object"
    assert summary.skip_reasons["not an arXiv id"] == 1
    assert index_state(settings)[:3] == (4, 4, 0)


def test_unreadable_inputs_are_skipped_with_reasons_and_the_rest_is_ingested(tmp_path, embedder, records):
    good = write_jsonl(tmp_path / "good.jsonl", records[:2])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    missing = tmp_path / "nowhere.jsonl"
    folder = tmp_path / "a-folder"
    folder.mkdir()
    # A real .gz cut short: the first part of a 12-paper file.
    whole = write_jsonl(tmp_path / "whole.jsonl.gz", sample_records(40)[28:40], gz=True)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    readable_before_cut = [item for item in read_jsonl(cut) if hasattr(item, "id")]
    settings = make_settings(tmp_path / "home")

    summary = ingest(settings, embedder, *file_runs([good, empty, missing, folder, cut]))

    reasons = {s.where.split(":")[0]: s.reason for s in summary.skip_examples}
    assert reasons["empty.jsonl"] == "empty file"
    assert "no such file" in reasons["nowhere.jsonl"]
    assert "is a directory" in reasons["a-folder"]
    assert reasons["cut.jsonl.gz"].startswith("file cut short or corrupt")
    assert 0 < len(readable_before_cut) < 12
    assert summary.new == 2 + len(readable_before_cut)
    assert index_state(settings)[:3] == (summary.new, summary.new, 0)


def test_reingesting_unchanged_papers_embeds_nothing(tmp_path, embedder, records):
    path = write_jsonl(tmp_path / "2026-06-05.jsonl", records[:6])
    settings = make_settings(tmp_path / "home")
    first = ingest(settings, embedder, *file_runs([path]))
    assert (first.new, first.embedded) == (6, 6)

    again = ingest(settings, embedder, *file_runs([path]))

    assert (again.new, again.updated, again.unchanged, again.embedded) == (0, 0, 6, 0)
    assert index_state(settings)[:3] == (6, 6, 0)


def test_changes_reembed_only_the_changed_abstract(tmp_path, embedder, records):
    settings = make_settings(tmp_path / "home")
    ingest(settings, embedder, *file_runs([write_jsonl(tmp_path / "2026-06-05.jsonl", records[:6])]))
    vectors = VectorIndex(settings)
    before = vectors.collection.get(ids=[records[1]["id"], records[2]["id"]], include=["embeddings"])

    changed = [dict(r) for r in records[:6]]
    # At the start: the encoder reads the first 256 word pieces, so a change at the end of a long
    # abstract may not move the vector at all.
    changed[1]["summary"] = "In this revised version, " + records[1]["summary"]
    changed[2]["categories"] = [*records[2]["categories"], "cs.DL"]  # metadata only
    summary = ingest(settings, embedder, *file_runs([write_jsonl(tmp_path / "2026-06-05.jsonl", changed)]))

    assert (summary.updated, summary.unchanged, summary.embedded) == (2, 4, 1)
    assert stored(settings, records[1]["id"]).abstract.startswith("In this revised version, ")
    assert stored(settings, records[2]["id"]).categories[-1] == "cs.DL"
    after = VectorIndex(settings).collection.get(
        ids=[records[1]["id"], records[2]["id"]], include=["embeddings"]
    )
    old_vec = dict(zip(before["ids"], before["embeddings"], strict=True))
    new_vec = dict(zip(after["ids"], after["embeddings"], strict=True))
    assert list(new_vec[records[2]["id"]]) == list(old_vec[records[2]["id"]])  # not re-embedded
    assert list(new_vec[records[1]["id"]]) != list(old_vec[records[1]["id"]])
    archives = VectorIndex(settings).collection.get(ids=[records[2]["id"]], include=["metadatas"])[
        "metadatas"
    ][0]
    assert "|cs|" in archives["archives"]
    assert index_state(settings)[:3] == (6, 6, 0)


def test_newest_version_wins_in_either_order_and_keeps_the_first_listing_date(tmp_path, embedder, records):
    v1 = to_snapshot(records[0], versions=1, update_date="2026-06-01")
    v2 = {
        **to_snapshot(records[0], versions=2, update_date="2026-06-04"),
        "abstract": "Version two abstract.",
    }
    settings = make_settings(tmp_path / "home")

    first = ingest(settings, embedder, *file_runs([write_jsonl(tmp_path / "v2.jsonl", [v2])]))
    older = ingest(settings, embedder, *file_runs([write_jsonl(tmp_path / "v1.jsonl", [v1])]))

    assert (first.new, older.unchanged, older.embedded) == (1, 1, 0)
    paper = stored(settings, records[0]["id"])
    assert (paper.version, paper.abstract) == (2, "Version two abstract.")
    assert paper.published == date(2026, 6, 1)

    # In one file, in either order: one paper, the newer record, one superseded record.
    for order, name in (([v1, v2], "up.jsonl"), ([v2, v1], "down.jsonl")):
        home = make_settings(tmp_path / f"home-{name}")
        summary = ingest(home, embedder, *file_runs([write_jsonl(tmp_path / name, order)]))
        assert (summary.new, summary.superseded, summary.embedded) == (1, 1, 1)
        assert stored(home, records[0]["id"]).version == 2


def test_a_later_listing_keeps_the_first_listing_date_and_an_earlier_one_restores_it(
    tmp_path, embedder, records
):
    """Daily listings carry no version: the later listing wins, but the paper is dated by its first one."""
    listing = {k: v for k, v in records[0].items() if k != "date"}  # dated by the file name
    day1 = write_jsonl(tmp_path / "2026-06-01.jsonl", [listing])
    day9 = write_jsonl(tmp_path / "2026-06-09.jsonl", [{**listing, "comment": "v2: typos fixed"}])
    in_order = make_settings(tmp_path / "in-order")
    ingest(in_order, embedder, *file_runs([day1, day9]))
    backwards = make_settings(tmp_path / "backwards")
    ingest(backwards, embedder, *file_runs([day9]))
    late = ingest(backwards, embedder, *file_runs([day1]))

    for settings in (in_order, backwards):
        paper = stored(settings, records[0]["id"])
        assert (paper.published, paper.updated, paper.comment) == (
            date(2026, 6, 1),
            date(2026, 6, 9),
            "v2: typos fixed",
        )
    assert (late.updated, late.embedded) == (1, 0)


def test_a_monthly_listing_dates_papers_by_their_id_month_and_a_later_daily_listing_updates_them(
    tmp_path, embedder, records
):
    """`2026-05.jsonl.gz` holds each paper's latest listing that month, with no day: a paper is first listed
    in its id's month (the 1st stands for the unknown day) and updated in the file's month, so date filters
    and the radar see 67k monthly papers as dated, and a June daily listing of one of them is newer."""
    undated = [{k: v for k, v in r.items() if k != "date"} for r in records[:3]]
    april, may, odd = (
        {**undated[0], "id": "2604.01234"},
        {**undated[1], "id": "2605.04321"},
        {**undated[2], "id": "2612.00001"},  # an id month after the file's month: dated by the file
    )
    monthly = write_jsonl(tmp_path / "2026-05.jsonl.gz", [april, may, odd], gz=True)
    daily = write_jsonl(tmp_path / "2026-06-03.jsonl", [{**may, "comment": "camera-ready"}])
    settings = make_settings(tmp_path / "home")

    summary = ingest(settings, embedder, *file_runs([monthly, daily]))

    assert (summary.new, summary.updated, summary.skipped) == (3, 0, 0)
    first, second, third = (stored(settings, pid) for pid in ("2604.01234", "2605.04321", "2612.00001"))
    assert (first.published, first.updated) == (date(2026, 4, 1), date(2026, 5, 1))
    assert (second.published, second.updated, second.comment) == (
        date(2026, 5, 1),
        date(2026, 6, 3),
        "camera-ready",
    )
    assert (third.published, third.updated) == (date(2026, 5, 1), date(2026, 5, 1))
    catalog = Catalog(settings.storage.catalog_path)
    try:
        assert sorted(catalog.filter_ids(PaperFilter(since=date(2026, 5, 1)))) == ["2605.04321", "2612.00001"]
    finally:
        catalog.close()


def test_duplicate_records_count_once_per_run(tmp_path, embedder, records):
    first_file = write_jsonl(tmp_path / "2026-06-01.jsonl", [records[0], records[1], records[0]])
    second_file = write_jsonl(tmp_path / "2026-06-02.jsonl", [records[1], records[2]])
    settings = make_settings(tmp_path / "home")

    summary = ingest(settings, embedder, *file_runs([first_file, second_file]))

    assert (summary.records_read, summary.new, summary.updated, summary.unchanged) == (5, 3, 0, 0)
    assert summary.superseded == 2
    assert summary.embedded == 3
    _, _, _, ids = index_state(settings)
    assert sorted(ids) == sorted({records[0]["id"], records[1]["id"], records[2]["id"]})

    again = ingest(settings, embedder, *file_runs([first_file, second_file]))
    assert (again.new, again.updated, again.unchanged, again.superseded, again.embedded) == (0, 0, 3, 2, 0)


def test_bundled_sample_reads_hundreds_of_papers_across_fields():
    run = sample_run()
    papers = [item for item in run.items if hasattr(item, "id")]
    assert run.expected == len(papers) >= 300
    assert len({p.id for p in papers}) == len(papers)
    archives = {a for p in papers for a in p.archives}
    assert {"cs", "math", "stat", "eess", "physics"} <= archives
    assert all(p.published and p.abstract and p.authors and p.categories for p in papers)


def test_gzip_detected_by_content_not_name(tmp_path):
    path = tmp_path / "listing.jsonl"  # gzip bytes under a plain name
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(sample_records(1)[0]) + "\n")
    assert [item.id for item in read_jsonl(path)] == [sample_records(1)[0]["id"]]
