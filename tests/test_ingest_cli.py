"""`academichub ingest` / `stats` as a user runs them: exit codes and messages for bad input, the lock
against a second ingest, the bundled sample, and a process killed with -9 in the middle of embedding.

In-process CLI runs get the session's model (`ingest.pipeline.get_embedder` is pointed at the `embedder`
fixture) so the model loads once; the kill -9 test runs the real console script in a subprocess."""

from __future__ import annotations

import json
import os
import signal

import pytest
from conftest import make_settings, sample_records, write_jsonl
from helpers import kill_9_at
from typer.testing import CliRunner, Result

from assistant.store.catalog import Catalog
from assistant.store.vectors import VectorIndex
from assistant.ui.cli import app
from ingest.pipeline import IngestLock, open_ingestor
from ingest.runs import file_runs


@pytest.fixture
def shared_model(monkeypatch, embedder):
    """In-process CLI runs use the session's model instead of loading another one."""
    monkeypatch.setattr("ingest.pipeline.get_embedder", lambda settings: embedder)
    return embedder


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def flat(text: str) -> str:
    return " ".join(text.split())


def test_second_ingest_refuses_while_one_holds_the_lock(tmp_path, use_home):
    settings = use_home(tmp_path)
    path = write_jsonl(tmp_path / "in.jsonl", sample_records(3))
    with IngestLock(settings.storage.lock_path):
        result = invoke("ingest", "--file", str(path))

    assert result.exit_code == 2
    assert "another ingest is running" in flat(result.output)
    assert f"(pid {os.getpid()})" in flat(result.output)
    assert "Traceback" not in result.output
    catalog = Catalog(settings.storage.catalog_path)
    assert catalog.count() == 0  # nothing written behind the running ingest's back
    catalog.close()


def test_nothing_readable_exits_1_with_the_reasons(tmp_path, use_home):
    use_home(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "2606.1"\nnot json\n{"title": "no id", "summary": "x"}\n', encoding="utf-8")
    empty = tmp_path / "empty.jsonl.gz"
    empty.write_bytes(b"")

    result = invoke(
        "ingest", "--file", str(bad), "--file", str(empty), "--file", str(tmp_path / "missing.jsonl")
    )

    assert result.exit_code == 1
    out = flat(result.output)
    assert "nothing could be read" in out
    assert "bad.jsonl:1: malformed JSON" in out
    assert "bad.jsonl:3: missing id" in out
    assert "empty.jsonl.gz: empty file" in out
    assert "missing.jsonl: " in out and "no such file" in out
    assert "Traceback" not in result.output


def test_valid_lines_are_ingested_and_exit_0_despite_bad_ones(tmp_path, use_home, shared_model):
    use_home(tmp_path)
    records = sample_records(3)
    path = tmp_path / "some-bad.jsonl"
    path.write_text(
        "\n".join(
            [json.dumps(records[0]), "{oops", json.dumps({**records[1], "id": "abc"}), json.dumps(records[2])]
        )
        + "\n",
        encoding="utf-8",
    )

    result = invoke("ingest", "--json", "--file", str(path))

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["skipped"], summary["papers_total"], summary["vectors_total"]) == (
        2,
        2,
        2,
        2,
    )
    assert {(s["where"], s["reason"]) for s in summary["skip_examples"]} == {
        ("some-bad.jsonl:2", "malformed JSON (Expecting property name enclosed in double quotes)"),
        ("some-bad.jsonl:3", "not an arXiv id: 'abc'"),
    }


def test_several_files_after_one_file_option_positional_paths_and_a_folder(tmp_path, use_home, shared_model):
    """`ingest --file data/*.jsonl.gz` (a shell glob), positional paths and a folder all load every file."""
    use_home(tmp_path)
    records = sample_records(6)
    folder = tmp_path / "daily"
    folder.mkdir()
    a = write_jsonl(folder / "a.jsonl", records[:2])
    b = write_jsonl(folder / "b.jsonl", records[2:4])
    (folder / "notes.txt").write_text("not a data file", encoding="utf-8")
    c = write_jsonl(tmp_path / "c.jsonl", records[4:])

    glob = invoke("ingest", "--json", "--file", str(a), str(b))
    assert glob.exit_code == 0, glob.output
    assert json.loads(glob.stdout)["new"] == 4

    positional = invoke("ingest", "--json", str(c))
    assert positional.exit_code == 0, positional.output
    assert json.loads(positional.stdout)["new"] == 2

    again = invoke("ingest", "--json", str(folder))  # a.jsonl and b.jsonl, not notes.txt
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert (summary["records_read"], summary["unchanged"], summary["skipped"]) == (4, 4, 0)

    empty = tmp_path / "empty-folder"
    empty.mkdir()
    refused = invoke("ingest", str(empty))
    assert refused.exit_code != 0
    assert "no .jsonl, .jsonl.gz or .json files in this folder" in flat(refused.output)
    assert "Traceback" not in refused.output


def test_options_that_need_arxiv_are_refused_without_it(tmp_path, use_home):
    use_home(tmp_path)
    result = invoke("ingest", "--category", "cs.LG")
    assert result.exit_code == 2
    assert "go with --arxiv" in flat(result.output)


@pytest.mark.slow
def test_plain_ingest_builds_the_bundled_sample_and_stats_describe_it(tmp_path, use_home, shared_model):
    use_home(tmp_path)

    result = invoke("ingest")

    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "papers new" in out and "papers in index" in out
    stats = json.loads(invoke("stats", "--json").stdout)
    assert stats["papers"] == stats["vectors"] >= 300
    assert stats["pending_embeddings"] == 0
    assert stats["first_date"] <= stats["last_date"]
    archives = {category.split(".")[0] for category in stats["categories"]}
    assert {"cs", "math", "stat", "eess"} <= archives
    again = json.loads(invoke("ingest", "--json").stdout)
    assert (again["new"], again["embedded"], again["unchanged"]) == (0, 0, stats["papers"])
    text = invoke("stats")
    assert f"{stats['papers']} papers" in flat(text.output)


@pytest.mark.slow
def test_kill_9_during_embedding_then_a_rerun_completes_the_index(tmp_path, embedder):
    """The real command line in a subprocess, killed with SIGKILL at the worst point of a run: the second
    batch's vectors are in Chroma and the catalog does not know yet (tests/stop_at.py stops it there, so the
    kill lands mid-run on any machine). The same ingest again must leave every paper exactly once in both
    stores, all embedded."""
    records = sample_records(200)[:120]
    records += records[:10]  # duplicates inside the file must not become duplicates in the index
    path = write_jsonl(tmp_path / "corpus.jsonl.gz", records, gz=True)
    unique = {r["id"] for r in records}
    home = tmp_path / "home"
    env = {**os.environ, "ACADEMICHUB_HOME": str(home), "ACADEMICHUB_INGEST_BATCH_SIZE": "40"}
    args = ["ingest", "--json", "--file", str(path)]
    status = kill_9_at("assistant.store.catalog:Catalog.mark_embedded", 2, args, env, tmp_path)
    assert status == -signal.SIGKILL
    papers, embedded = Catalog.progress(home / "catalog.sqlite3")
    assert (papers, embedded) == (80, 40)  # two batches stored, the first marked embedded
    assert VectorIndex(make_settings(home)).count() == 80  # the second's vectors written, never marked

    settings = make_settings(home)
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        summary = ingestor.run(file_runs([path]))
    finally:
        ingestor.close()

    catalog = Catalog(settings.storage.catalog_path)
    try:
        catalog_ids, pending = catalog.all_ids(), catalog.count_pending()
    finally:
        catalog.close()
    vector_ids = VectorIndex(settings).all_ids()
    assert len(catalog_ids) == len(set(catalog_ids)) == len(unique)
    assert len(vector_ids) == len(set(vector_ids)) == len(unique)
    assert set(catalog_ids) == set(vector_ids) == unique
    assert pending == 0
    assert summary.papers_total == summary.vectors_total == len(unique)
    assert summary.new + summary.unchanged + summary.updated == len(unique)
