"""Issue 15, ingest side: one bad line is that line's problem only, whatever is wrong with it (a lone
surrogate, JSON nested 100,000 deep, a 5,000-digit number, a 5 MB abstract, terminal escape sequences),
and a missing file is not a record. Real files, real SQLite, real Chroma, the packaged model."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import make_settings, sample_records, write_jsonl
from typer.testing import CliRunner

from assistant.core.text import strip_control_chars
from assistant.store.catalog import Catalog
from assistant.ui.cli import app
from ingest.normalize import MAX_ABSTRACT_CHARS, MAX_TITLE_CHARS
from ingest.pipeline import MAX_SKIP_EXAMPLES, file_runs, open_ingestor
from ingest.sources import read_jsonl


def hostile_lines(good: list[dict]) -> list[str]:
    """Good records interleaved with each kind of bad line the probe found (issue 15, items 4, 6, 10)."""
    deep = '{"id":"2699.00052","title":"t","summary":' + "[" * 100_000 + "]" * 100_000 + "}"
    return [
        json.dumps(good[0]),
        '{"id":"2699.00051","title":"x \\ud800","summary":"y"}',  # lone surrogate
        deep,  # RecursionError in json
        '{"id":"2699.00053","title":"t","summary":"s","n":' + "9" * 5000 + "}",  # int limit ValueError
        json.dumps({**good[1], "summary": "word " * (MAX_ABSTRACT_CHARS // 5 + 10)}),  # oversized abstract
        json.dumps({**good[2], "title": "T" * (MAX_TITLE_CHARS + 1)}),  # oversized title
        json.dumps(good[3]),
    ]


def test_each_bad_line_is_skipped_with_its_reason_and_the_file_goes_on(tmp_path, embedder):
    good = sample_records(4)
    path = tmp_path / "2026-06-05.jsonl"
    path.write_text("\n".join(hostile_lines(good)) + "\n", encoding="utf-8")
    settings = make_settings(tmp_path / "home")

    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        summary = ingestor.run(file_runs([path]))
    finally:
        ingestor.close()

    reasons = {s.where: s.reason for s in summary.skipped_records}
    assert summary.new == 2 and summary.skipped == 5, reasons
    assert "not valid Unicode" in reasons["2026-06-05.jsonl:2"]
    assert "nested too deeply" in reasons["2026-06-05.jsonl:3"]
    assert "number too large" in reasons["2026-06-05.jsonl:4"]
    assert "abstract too long" in reasons["2026-06-05.jsonl:5"]
    assert "title too long" in reasons["2026-06-05.jsonl:6"]
    catalog = Catalog(settings.storage.catalog_path)
    try:
        assert set(catalog.all_ids()) == {good[0]["id"], good[3]["id"]}
    finally:
        catalog.close()


def test_terminal_escape_sequences_never_reach_the_catalog(tmp_path, embedder):
    record = sample_records(1)[0]
    osc = "\u001b]8;;http://evil.example/osc\u001b\\arXiv:2606.00093\u001b]8;;\u001b\\"
    hostile = {
        **record,
        "title": f"{osc} A title\u0007 with a bell\u009b2J",
        "authors": ["Eve \u001b[2J Mallory", "Bob"],
        "summary": record["summary"] + " \u001b[31mred\u001b[0m",
    }
    path = write_jsonl(tmp_path / "esc.jsonl", [hostile])
    settings = make_settings(tmp_path / "home")
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        assert ingestor.run(file_runs([path])).new == 1
    finally:
        ingestor.close()

    conn = sqlite3.connect(settings.storage.catalog_path)
    rows = conn.execute("SELECT title, abstract, title_original, abstract_original, authors FROM papers")
    stored = " ".join(str(v) for row in rows for v in row)
    conn.close()
    assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in stored)
    assert not any(0x7F <= ord(ch) <= 0x9F for ch in stored)
    assert "arXiv:2606.00093" in stored  # the visible text stays; only the control characters go


def test_strip_control_chars_keeps_newlines_tabs_and_text():
    assert strip_control_chars("a\u001b[2Jb\tc\nd\u0085e\u009bf\u0000") == "a[2Jb\tc\nde" + "f"


def test_missing_file_is_a_failed_source_not_a_record_and_long_skip_lists_say_how_many_more(
    tmp_path, use_home
):
    use_home(tmp_path / "home")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(f"not json {n}\n" for n in range(MAX_SKIP_EXAMPLES + 5)), encoding="utf-8")
    missing = tmp_path / "missing.jsonl"

    result = CliRunner().invoke(app, ["ingest", "--json", "--file", str(missing)])
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["records_read"], summary["skipped"]) == (0, 1)
    assert "no such file" in summary["skipped_records"][0]["reason"]

    result = CliRunner().invoke(app, ["ingest", "--file", str(bad)])
    out = " ".join(result.output.split())
    assert "and 5 more; full list with --json" in out

    result = CliRunner().invoke(app, ["ingest", "--json", "--file", str(bad), "--file", str(missing)])
    summary = json.loads(result.stdout)
    assert summary["records_read"] == MAX_SKIP_EXAMPLES + 5
    assert len(summary["skipped_records"]) == MAX_SKIP_EXAMPLES + 6  # every bad line, and the missing file


def test_second_ingest_refuses_before_loading_the_model(tmp_path, use_home, monkeypatch):
    """The lock is taken first: a busy data directory is reported without opening Chroma or the model."""
    from ingest.pipeline import IngestLock

    settings = use_home(tmp_path / "home")
    opened: list[str] = []
    monkeypatch.setattr("ingest.pipeline.VectorIndex", lambda s: opened.append("chroma"))
    monkeypatch.setattr("ingest.pipeline.get_embedder", lambda s: opened.append("model"))
    path = write_jsonl(tmp_path / "in.jsonl", sample_records(1))
    with IngestLock(settings.storage.lock_path):
        result = CliRunner().invoke(app, ["ingest", "--file", str(path)])
    assert result.exit_code == 2
    assert "another ingest is running" in " ".join(result.output.split())
    assert opened == []


def test_a_huge_line_is_skipped_without_parsing_it(tmp_path):
    path = Path(tmp_path / "huge.jsonl")
    record = sample_records(1)[0]
    path.write_text(
        json.dumps({**record, "summary": "x" * 6_000_000}) + "\n" + json.dumps(record) + "\n",
        encoding="utf-8",
    )
    items = list(read_jsonl(path))
    assert [type(i).__name__ for i in items] == ["Skipped", "Paper"]
    assert "too long" in items[0].reason
