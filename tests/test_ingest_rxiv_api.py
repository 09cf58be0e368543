"""The bioRxiv/medRxiv API source, offline: tests/rxiv_standin.py answers `details` requests on 127.0.0.1
with the real captured records (a complete capture byte for byte; otherwise paged like the API), plus empty
intervals, 429/5xx, empty pages and dropped connections. Papers go into real SQLite and Chroma with the real
packaged model."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import make_settings
from rxiv_standin import RxivStandIn
from typer.testing import CliRunner

from assistant.core.settings import Settings
from assistant.store.catalog import Catalog
from assistant.store.embedding import Embedder
from assistant.ui.cli import app
from ingest.pipeline import IngestSummary, open_ingestor
from ingest.runs import rxiv_run
from ingest.rxiv_api import RxivRequest, RxivSource
from ingest.sources import Skipped

CANCER = RxivRequest("biorxiv", date(2026, 9, 7), date(2026, 9, 9), "biorxiv:cancer-biology")
AUGUST_TO_SEPTEMBER = RxivRequest("biorxiv", date(2026, 8, 1), date(2026, 9, 30))


def api_settings(home: Path, url: str) -> Settings:
    rxiv = {"api_url": url, "delay_seconds": 0, "backoff_seconds": 0.01, "retries": 3, "timeout_seconds": 5}
    return make_settings(home, sources={"rxiv": rxiv})


def run(settings: Settings, embedder: Embedder, request: RxivRequest) -> IngestSummary:
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        return ingestor.run([rxiv_run(request, settings, ingestor.catalog)])
    finally:
        ingestor.close()


def stored(settings: Settings) -> Catalog:
    return Catalog(settings.storage.catalog_path)


def test_a_captured_answer_is_ingested_with_links_built_from_dois(tmp_path: Path, embedder: Embedder) -> None:
    with RxivStandIn() as standin:
        settings = api_settings(tmp_path, standin.url)
        summary = run(settings, embedder, CANCER)
    assert standin.requests == ["/details/biorxiv/2026-09-07/2026-09-09/0/json?category=cancer_biology"]
    assert (summary.new, summary.embedded, summary.skipped, summary.failures) == (18, 18, 0, [])
    catalog = stored(settings)
    try:
        assert catalog.source_counts() == {"biorxiv": 18}
        assert catalog.known_categories() == {"biorxiv:cancer-biology": 18}
        paper = next(iter(catalog.get_papers(catalog.all_ids()[:1]).values()))
        assert paper.abs_url == f"https://www.biorxiv.org/content/{paper.id}v{paper.version}"
    finally:
        catalog.close()


def test_pages_advance_by_their_count_and_the_newest_version_wins(tmp_path: Path, embedder: Embedder) -> None:
    with RxivStandIn(page_size=10) as standin:
        revised = dict(standin.records[0], version="2", date="2026-09-20", title="Revised title")
        standin.records.append(revised)  # version 2, posted later: the last page
        settings = api_settings(tmp_path, standin.url)
        summary = run(settings, embedder, AUGUST_TO_SEPTEMBER)
    cursors = [int(path.split("/")[5]) for path in standin.requests]
    assert cursors == [0, 10, 20]
    assert (summary.records_read, summary.new, summary.superseded) == (29, 28, 1)
    catalog = stored(settings)
    try:
        paper = catalog.get_paper(revised["doi"])
        assert paper is not None and (paper.version, paper.title) == (2, "Revised title")
        assert paper.abs_url.endswith("v2") and catalog.get_cursor(AUGUST_TO_SEPTEMBER.cursor_key()) == 0
    finally:
        catalog.close()


def test_no_posts_found_is_an_empty_result_not_an_error(tmp_path: Path, embedder: Embedder) -> None:
    with RxivStandIn() as standin:
        settings = api_settings(tmp_path, standin.url)
        summary = run(settings, embedder, RxivRequest("medrxiv", date(2020, 1, 1), date(2020, 1, 2)))
    assert (summary.records_read, summary.new, summary.failures) == (0, 0, [])


def test_429_5xx_empty_pages_and_drops_are_retried(tmp_path: Path, embedder: Embedder) -> None:
    with RxivStandIn(page_size=10) as standin:
        standin.fail(0, 429, 503)
        standin.fail(10, "empty", "drop")
        standin.fail(20, 502)
        settings = api_settings(tmp_path, standin.url)
        summary = run(settings, embedder, AUGUST_TO_SEPTEMBER)
    assert [int(p.split("/")[5]) for p in standin.requests] == [0, 0, 0, 10, 10, 10, 20, 20]
    assert (summary.new, summary.failures) == (28, [])


def test_a_server_that_keeps_failing_stops_and_the_next_run_resumes(
    tmp_path: Path, embedder: Embedder
) -> None:
    with RxivStandIn(page_size=10) as standin:
        standin.fail(20, 503, 503, 503, 503)
        settings = api_settings(tmp_path, standin.url)
        first = run(settings, embedder, AUGUST_TO_SEPTEMBER)
        assert first.new == 20 and len(first.failures) == 1
        assert "resumes where it stopped" in first.failures[0].reason
        assert stored(settings).get_cursor(AUGUST_TO_SEPTEMBER.cursor_key()) == 20
        standin.requests.clear()
        second = run(settings, embedder, AUGUST_TO_SEPTEMBER)
    assert [int(p.split("/")[5]) for p in standin.requests] == [20]
    assert second.new == 8 and any("resumed at record 20" in n for n in second.notices)


def test_cli_ingests_medrxiv_by_date_and_biorxiv_by_subject(
    tmp_path: Path, use_home, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RxivStandIn() as standin:
        monkeypatch.setenv("ACADEMICHUB_RXIV_API_URL", standin.url)
        monkeypatch.setenv("ACADEMICHUB_RXIV_DELAY_SECONDS", "0")
        use_home(tmp_path / "home")
        runner = CliRunner()
        medrxiv = runner.invoke(
            app, ["ingest", "--medrxiv", "--since", "2026-09-15", "--until", "2026-09-15", "--json"]
        )
        assert medrxiv.exit_code == 0, medrxiv.output
        assert json.loads(medrxiv.output)["new"] == 3
        biorxiv = runner.invoke(
            app,
            [
                *("ingest", "--biorxiv", "--since", "2026-09-07", "--until", "2026-09-09"),
                *("--category", "biorxiv:cancer-biology", "--json"),
            ],
        )
        assert biorxiv.exit_code == 0, biorxiv.output
        assert json.loads(biorxiv.output)["new"] == 18
        missing = runner.invoke(app, ["ingest", "--biorxiv"])
        assert missing.exit_code != 0 and "--since" in missing.output
        stats = runner.invoke(app, ["stats", "--json"])
        assert json.loads(stats.output)["sources"] == {"biorxiv": 18, "medrxiv": 3}
        # --daily asks the servers the radar's topics name, for yesterday and today.
        topic = [
            "radar",
            "add",
            "tumours",
            "--query",
            "tumour evolution",
            "--field",
            "biorxiv:cancer-biology",
        ]
        assert runner.invoke(app, topic).exit_code == 0
        standin.requests.clear()
        daily = runner.invoke(app, ["ingest", "--daily", "--json"])
    assert daily.exit_code == 0, daily.output
    assert len(standin.requests) == 1 and standin.requests[0].startswith("/details/biorxiv/")
    assert standin.requests[0].endswith("/0/json?category=cancer_biology")


def test_one_odd_record_in_an_api_answer_is_skipped_and_the_rest_ingested() -> None:
    """A record that is not an object, or whose version is 5000 digits, is that record's problem only."""
    request = RxivRequest("biorxiv", date(2026, 1, 1), date(2026, 1, 2))
    with RxivStandIn() as standin:
        first, second, third = standin.records[:3]
        odd = ["not", "an", "object"]
        collection = [first, odd, dict(second, version="9" * 5000), third]
        header = {"status": "ok", "cursor": 0, "count": len(collection), "total": str(len(collection))}
        standin.complete["/details/biorxiv/2026-01-01/2026-01-02/0/json"] = {
            "messages": [header],
            "collection": collection,
        }
        source = RxivSource(request, api_url=standin.url, delay_seconds=0, retries=0, backoff_seconds=0)
        items = list(source)
    kinds = [type(item).__name__ for item in items]
    assert kinds == ["Paper", "Skipped", "Paper", "Paper"]
    skipped = items[1]
    assert isinstance(skipped, Skipped) and skipped.where.endswith("record 2")
    assert [item.id for item in items if not isinstance(item, Skipped)] == [
        first["doi"],
        second["doi"],
        third["doi"],
    ]
