"""The arXiv API source, offline: a local HTTP server on 127.0.0.1 (tests/arxiv_standin.py) stands in for
export.arxiv.org and replays Atom responses recorded from it (tests/data/arxiv-api/), plus the faults the real
API shows (HTTP 503/429, empty pages, dropped connections). The `arxiv` client talks real HTTP to it; papers
go into real SQLite and Chroma with the real packaged model."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from arxiv_standin import ArxivStandIn
from conftest import make_settings
from typer.testing import CliRunner

from assistant.core.settings import Settings
from assistant.store.catalog import Catalog
from assistant.store.embedding import Embedder
from assistant.store.vectors import VectorIndex
from assistant.ui.cli import app
from ingest.pipeline import IngestSummary, open_ingestor
from ingest.runs import arxiv_run
from ingest.sources import ArxivRequest

REQUEST = ArxivRequest(categories=("cs.LG", "q-bio.NC"), max_results=30)


def api_settings(home: Path, url: str) -> Settings:
    """Page size 10 (the recordings' pages), no 3 s spacing and tiny back-off so the test stays fast."""
    arxiv = {
        "api_url": url,
        "delay_seconds": 0,
        "backoff_seconds": 0.01,
        "retries": 3,
        "page_size": 10,
        "timeout_seconds": 5,
    }
    return make_settings(home, sources={"arxiv": arxiv})


def run_arxiv(settings: Settings, embedder: Embedder, request: ArxivRequest = REQUEST) -> IngestSummary:
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        return ingestor.run([arxiv_run(request, settings, ingestor.catalog)])
    finally:
        ingestor.close()


def catalog_ids(settings: Settings) -> list[str]:
    catalog = Catalog(settings.storage.catalog_path)
    try:
        return catalog.all_ids()
    finally:
        catalog.close()


def saved_cursor(settings: Settings, request: ArxivRequest = REQUEST) -> int:
    catalog = Catalog(settings.storage.catalog_path)
    try:
        return catalog.get_cursor(request.cursor_key())
    finally:
        catalog.close()


def expected_ids(standin: ArxivStandIn, pages: int) -> list[str]:
    return [pid.rsplit("v", 1)[0] for start in range(0, pages * 10, 10) for pid in standin.page_ids(start)]


def test_pages_are_fetched_and_ingested(tmp_path, embedder):
    with ArxivStandIn() as standin:
        settings = api_settings(tmp_path, standin.url)
        summary = run_arxiv(settings, embedder)

    assert standin.starts == [0, 10, 20]
    assert all(r["max_results"] == "10" for r in standin.requests)
    assert standin.requests[0]["search_query"] == "(cat:cs.LG OR cat:q-bio.NC)"
    assert (summary.new, summary.embedded, summary.skipped) == (30, 30, 0)
    assert sorted(catalog_ids(settings)) == sorted(expected_ids(standin, 3))
    assert VectorIndex(settings).count() == 30
    assert saved_cursor(settings) == 0  # finished: nothing to resume
    paper = Catalog(settings.storage.catalog_path).get_paper("2202.12139")
    assert paper is not None and paper.version == 1 and paper.categories[0] == "cs.SE"


def test_rate_limits_server_errors_and_empty_pages_are_retried_with_back_off(tmp_path, embedder):
    with ArxivStandIn() as standin:
        standin.fail(10, 503, 429)
        standin.fail(20, "empty", "empty")  # twice in a row: the retry starting mid-way is empty too
        settings = api_settings(tmp_path, standin.url)
        summary = run_arxiv(settings, embedder)

    assert standin.starts == [0, 10, 10, 10, 20, 20, 20]
    assert (summary.new, summary.skipped, summary.failures) == (30, 0, [])
    assert sorted(catalog_ids(settings)) == sorted(expected_ids(standin, 3))


@pytest.mark.parametrize("fault", [503, "drop"], ids=["retries-exhausted", "server-dies"])
def test_a_run_that_stops_half_way_resumes_at_the_saved_offset(tmp_path, embedder, fault):
    with ArxivStandIn() as standin:
        standin.fail(20, *[fault] * 4)  # more failures than the 3 retries
        settings = api_settings(tmp_path, standin.url)
        stopped = run_arxiv(settings, embedder)

        assert stopped.new == 20
        assert len(stopped.failures) == 1
        assert "resumes where it stopped" in stopped.failures[0].reason
        assert saved_cursor(settings) == 20
        standin.requests.clear()

        resumed = run_arxiv(settings, embedder)

    assert standin.starts == [20]  # nothing fetched twice
    assert (resumed.new, resumed.unchanged, resumed.embedded) == (10, 0, 10)
    assert any("resumed at result 20" in note for note in resumed.notices)
    ids = catalog_ids(settings)
    assert sorted(ids) == sorted(expected_ids(standin, 3))  # nothing lost, nothing twice
    assert VectorIndex(settings).count() == 30
    assert saved_cursor(settings) == 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_reports_an_unreachable_api_readably(tmp_path, use_home, monkeypatch):
    monkeypatch.setenv("ACADEMICHUB_ARXIV_API_URL", f"http://127.0.0.1:{closed_port()}/api/query")
    monkeypatch.setenv("ACADEMICHUB_ARXIV_RETRIES", "1")
    monkeypatch.setenv("ACADEMICHUB_ARXIV_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("ACADEMICHUB_ARXIV_DELAY_SECONDS", "0")
    use_home(tmp_path)

    result = CliRunner().invoke(app, ["ingest", "--arxiv", "--category", "cs.LG", "--max", "20"])

    assert result.exit_code == 1
    output = " ".join(result.output.split())
    assert "a connection error (ConnectionError) 2 times in a row at result 0" in output
    assert "Run the same command again later" in output
    assert "Traceback" not in output


def test_cli_reports_a_rejected_request_without_retrying(tmp_path, use_home, monkeypatch):
    """arXiv answers a malformed request (here its recorded invalid-id error feed) with HTTP 400."""
    with ArxivStandIn(answer_everything_with="id_abc") as standin:
        monkeypatch.setenv("ACADEMICHUB_ARXIV_API_URL", standin.url)
        monkeypatch.setenv("ACADEMICHUB_ARXIV_DELAY_SECONDS", "0")
        use_home(tmp_path)
        result = CliRunner().invoke(app, ["ingest", "--arxiv", "--query", "id:abc", "--max", "5", "--json"])

    assert result.exit_code == 1
    assert len(standin.requests) == 1  # a 400 is final: no retries
    output = " ".join(result.output.split())
    assert "arXiv API refused the request (HTTP 400)" in output
    assert "Traceback" not in output
