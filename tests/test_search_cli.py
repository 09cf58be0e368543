"""`academichub search` on a real index (60 papers of the bundled sample), real Chroma/SQLite and the real
packaged model. In-process tests hand the CLI the session's already-loaded model (no second load); one slow
test runs the installed console script end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.ui.cli import app

runner = CliRunner()


@pytest.fixture
def cli_home(small_index, use_home, embedder, monkeypatch):
    monkeypatch.setattr("assistant.engine.get_embedder", lambda settings: embedder)
    use_home(small_index.storage.home)
    return small_index


@pytest.fixture(scope="module")
def first_paper(small_corpus_file):
    return json.loads(small_corpus_file.read_text(encoding="utf-8").splitlines()[0])


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_json_results_carry_the_fields_scripts_need(cli_home, first_paper):
    result = runner.invoke(app, ["search", first_paper["title"], "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    (payload,) = json_lines(result.stdout)
    assert payload["query"] == first_paper["title"]
    assert len(payload["results"]) == 3
    top = payload["results"][0]
    assert top["id"] == first_paper["id"]
    assert set(top) >= {"id", "title", "authors", "categories", "published", "score", "abs_url", "pdf_url"}
    assert top["abs_url"] == f"https://arxiv.org/abs/{first_paper['id']}"
    assert top["pdf_url"] == f"https://arxiv.org/pdf/{first_paper['id']}"


def test_human_output_is_a_ranked_list_with_links(cli_home, first_paper):
    result = runner.invoke(app, ["search", first_paper["title"], "--k", "2"])
    assert result.exit_code == 0, result.output
    assert " 1. " in result.stdout and " 2. " in result.stdout
    assert f"https://arxiv.org/abs/{first_paper['id']}" in result.stdout
    assert first_paper["title"][:30] in " ".join(result.stdout.split())


def test_filters_from_the_command_line_are_applied(cli_home):
    result = runner.invoke(
        app,
        [
            "search",
            "models",
            "--category",
            "cs.CL",
            "--category",
            "eess",
            "--since",
            "2026-06-02",
            "--author",
            "a",
            "--k",
            "20",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    (payload,) = json_lines(result.stdout)
    assert payload["results"]
    for row in payload["results"]:
        assert any(c == "cs.CL" or c.startswith("eess.") for c in row["categories"])
        assert row["published"] >= "2026-06-02"
        assert any("a" in author.lower() for author in row["authors"])


def test_queries_file_prints_one_json_line_per_query(cli_home, tmp_path, first_paper):
    queries = tmp_path / "queries.txt"
    queries.write_text(f"{first_paper['title']}\n\nspeech synthesis\nrobot grasping\n", encoding="utf-8")
    result = runner.invoke(app, ["search", "--queries-file", str(queries), "--k", "4"])
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    assert [line["query"] for line in lines] == [first_paper["title"], "speech synthesis", "robot grasping"]
    assert all(len(line["results"]) == 4 for line in lines)
    assert lines[0]["results"][0]["id"] == first_paper["id"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "", "--json"], "query is empty"),
        (["search", "vision", "--category", "cs.VISION", "--json"], "unknown category"),
        (["search", "vision", "--since", "2026-06-09", "--until", "2026-06-01", "--json"], "inverted"),
        (["search", "vision", "--since", "June 1st", "--json"], "not a date"),
    ],
)
def test_bad_input_gives_a_message_and_an_empty_result_list(cli_home, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    (payload,) = json_lines(result.stdout)
    assert payload["results"] == []
    assert message in payload["error"]
    assert message in result.stderr


def test_a_ten_thousand_character_query_is_answered_with_a_note(cli_home, first_paper):
    query = ("x" + first_paper["summary"]) * (10_000 // len(first_paper["summary"]) + 1)
    result = runner.invoke(app, ["search", query[:10_000], "--json"])
    assert result.exit_code == 0, result.output
    (payload,) = json_lines(result.stdout)
    assert payload["results"] and "only its first" in payload["notice"]


def test_bad_lines_in_a_queries_file_do_not_stop_the_others(cli_home, tmp_path):
    queries = tmp_path / "queries.txt"
    queries.write_text("speech synthesis\n" + "y" * 10_000 + "\nrobots\n", encoding="utf-8")
    result = runner.invoke(app, ["search", "--queries-file", str(queries), "--category", "cs.RO"])
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    assert len(lines) == 3
    assert all("cs.RO" in row["categories"] for line in lines for row in line["results"])


def test_searching_an_empty_index_says_to_ingest(tmp_path, use_home):
    use_home(tmp_path / "empty")
    result = runner.invoke(app, ["search", "anything"])
    assert result.exit_code == 2
    assert "academichub ingest" in result.stderr and "Traceback" not in result.output


@pytest.mark.slow
def test_console_script_answers_a_queries_file_end_to_end(small_index, tmp_path):
    """The installed `academichub` in a fresh process: loads the model once for all the lines."""
    queries = tmp_path / "q.txt"
    queries.write_text("speech synthesis\nrobot grasping\nprotein structure\n", encoding="utf-8")
    script = Path(sys.executable).with_name("academichub")
    env = {**os.environ, "ACADEMICHUB_HOME": str(small_index.storage.home), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [str(script), "search", "--queries-file", str(queries), "--k", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stdout)
    assert [line["query"] for line in lines] == ["speech synthesis", "robot grasping", "protein structure"]
    assert all(len(line["results"]) == 3 for line in lines)


def test_a_category_in_rich_markup_is_shown_as_text_never_as_a_terminal_link() -> None:
    """An older index may hold any category text: the CLI's sources and radar cards print it literally."""
    from assistant.compose.model import Source
    from assistant.core.paper import Paper
    from assistant.radar.service import FeedBatch
    from assistant.radar.store import Topic
    from assistant.search.hit import Hit
    from assistant.ui.cli.answer_cmd import _print_sources
    from assistant.ui.cli.common import console
    from assistant.ui.cli.radar_cmd import print_feed

    category = "[link=http://evil.example/x]cs.LG[/link]"
    paper = Paper(id="2606.00004", title="Title", abstract="a", authors=["A. Author"], categories=[category])
    hit = Hit(paper, 1.0, 0.9)
    topic = Topic(name="t", query="q", fields=[], authors=[], created_at=0.0, last_visit=None)
    batch = FeedBatch(topic, [hit], None, 1, 0, True, None)
    with console.capture() as captured:
        _print_sources([Source(1, hit)])
        print_feed(batch)
    shown = captured.get().replace("\n", "").replace("│", "").replace(" ", "")
    assert shown.count(category) == 2
