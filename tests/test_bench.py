"""The benchmarks run end to end on tiny inputs and print their figures (the figures themselves are not
asserted: they depend on the machine). Real files from the bundled sample, real SQLite and Chroma, the
shared packaged model."""

from __future__ import annotations

import gzip
import io
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import SMALL_CORPUS_SIZE as SMALL_CORPUS
from conftest import make_settings, sample_records, write_jsonl
from rich.console import Console

from bench import ingest as bench_ingest
from bench import lists as bench_lists
from bench import passages as bench_passages
from bench import query as bench_query
from bench import radar_days as bench_radar_days
from bench import scale as bench_scale
from bench.__main__ import main as bench_all
from bench.__main__ import summary_rows
from ingest.pipeline import open_ingestor


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=150, force_terminal=False), buffer


def _daily_dir(tmp_path: Path, n: int) -> Path:
    """Two daily-layout files, named like the real listings."""
    folder = tmp_path / "daily"
    folder.mkdir()
    records = sample_records(n)
    for name, part in (
        ("2026-06-01.jsonl.gz", records[: n // 2]),
        ("2026-06-02.jsonl.gz", records[n // 2 :]),
    ):
        with gzip.open(folder / name, "wt", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r) + "\n" for r in part)
    return folder


@pytest.mark.slow
def test_ingest_bench_prints_throughputs_ratio_and_reingest(tmp_path: Path, embedder) -> None:
    args = bench_ingest.parse_args(["--n", "20", "--daily-dir", str(_daily_dir(tmp_path, 24))])
    console, out = _console()
    result = bench_ingest.run(args, console, embedder=embedder)
    bench_ingest.print_table(result, console)

    assert result["papers"] == 20 and result["reingest_unchanged"] == 20
    assert result["raw_papers_per_second"] > 0 and result["ingest_papers_per_second"] > 0
    assert result["ingest_to_raw_ratio"] == pytest.approx(
        result["ingest_papers_per_second"] / result["raw_papers_per_second"], rel=0.01
    )
    assert result["reingest_seconds"] < result["ingest_seconds"]
    printed = out.getvalue()
    for label in (
        "raw SentenceTransformer.encode",
        "full ingest",
        "ingest / raw",
        "re-ingest, unchanged files",
    ):
        assert label in printed
    assert f"{result['ingest_to_raw_ratio']:.3f}" in printed


def test_ingest_bench_refuses_more_papers_than_the_listings_hold(tmp_path: Path) -> None:
    args = bench_ingest.parse_args(["--n", "50", "--daily-dir", str(_daily_dir(tmp_path, 10))])
    assert bench_ingest.main(["--n", "50", "--daily-dir", str(args.daily_dir)]) == 2


@pytest.mark.slow
def test_query_bench_prints_latency_and_memory_side_by_side(
    tmp_path: Path,
    embedder,
    small_index,
) -> None:
    args = bench_query.parse_args(
        [
            "--home",
            str(small_index.storage.home),
            "--rounds",
            "1",
            "--questions",
            "2",
            "--fraction",
            "0.5",
            "--work-dir",
            str(tmp_path / "work"),
            "--no-serve",
        ]
    )
    console, out = _console()
    result = bench_query.run(args, console, embedder=embedder)
    bench_query.print_table(result, console)

    assert result["full"]["papers"] == 60 and result["subset"]["papers"] == 30
    for corpus in ("full", "subset"):
        for op in ("search", "ask", "brief"):
            figures = result[corpus][op]
            assert figures["n"] == 2 and 0 < figures["p50_ms"] <= figures["p95_ms"]
            assert figures["peak_rss_mb"] > 100  # the model alone is bigger than that
    printed = out.getvalue()
    assert "60 papers vs a subset of 30" in printed
    assert all(op in printed for op in ("search", "ask", "brief"))

    # The subset is built once and reused while the index is unchanged.
    subset_home = Path(result["subset"]["home"])
    marker = (subset_home / "subset.json").stat().st_mtime_ns
    again = bench_query.subset_settings(small_index, tmp_path / "work", 0.5)
    assert again.storage.home == subset_home and (subset_home / "subset.json").stat().st_mtime_ns == marker

    rows = dict((name, value) for name, value, _ in summary_rows({"query": result}))
    assert rows["warm search p50"] == f"{result['full']['search']['p50_ms']:.0f} ms"


def test_briefing_bench_reports_on_topic_share_sections_and_bridges(
    small_index, use_home, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    from bench import briefing as bench_briefing

    use_home(Path(small_index.storage.home))
    assert bench_briefing.main(["--topic", "machine unlearning"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    (topic,) = report["topics"]
    assert topic["topic"] == "machine unlearning" and topic["fields"] == ["cs.LG", "cs.CL", "cs.CV"]
    assert topic["listed"] == report["summary"]["listed"] >= topic["on_topic"]
    assert set(report["summary"]) >= {
        "on_topic_share",
        "short_sections",
        "generic_bridges",
        "open_without_cue",
    }
    assert "Briefing quality" in captured.err
    rows = {name: value for name, value, _ in summary_rows({"briefing": report})}
    assert rows["briefing: generic bridges"] == str(report["summary"]["generic_bridges"])


def test_answers_bench_replays_the_recorded_small_model_replies(small_index, embedder) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    """`bench answers` on the tests' index (the slice its README figures come from): the five failing
    small-model replies fall back and the two good ones are the model's, fully supported."""
    import argparse

    from bench import answers as bench_answers

    args = argparse.Namespace(
        home=small_index.storage.home, base_url=None, model=None, context=2048, timeout=300.0, extractive=0
    )
    console, buffer = _console()
    result = bench_answers.run(args, console, embedder=embedder)
    shown = {row["reply"]: row["shown_as_model_answer"] for row in result["answers"]}
    assert shown == {case: case.startswith(("<<<SOURCES", "cited quotes")) for case in shown}
    assert len(shown) == len(bench_answers.QUESTIONS)
    for row in result["answers"]:
        assert row["fallback"] or row["supported_share"] == 1.0, row
    assert result["extractive"] == {}  # test_support checks extractive answers
    bench_answers.print_table(result, console)
    assert "Checked answers" in buffer.getvalue()


def test_lists_bench_scores_the_gold_questions_the_index_holds(small_index, embedder) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    args = bench_lists.parse_args(["--home", str(small_index.storage.home)])
    console, out = _console()
    result = bench_lists.run(args, console, embedder=embedder)
    bench_lists.print_table(result, console)

    asked = {q["id"] for q in bench_lists.load_gold()}
    scored = {row["id"] for row in result["questions"]}
    assert result["papers"] == 60 and scored and scored | set(result["skipped"]) == asked
    for row in result["questions"]:
        assert row["relevant"] >= 1 and 0 <= row["recall"] <= 1 and 0 <= row["precision"] <= 1
        assert row["hits"] == row["relevant"] - len(row["missed"])
    assert "List questions on" in out.getvalue()
    rows = {name: value for name, value, _ in summary_rows({"lists": result})}
    assert rows["list questions: recall (pooled)"] == f"{result['overall']['recall']:.3f}"


def test_passages_bench_ranks_the_known_items_every_way(small_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    """bench.passages on the small index: every mode scored on every set; a sentence pasted from an abstract
    is its own passage, so the passage vectors put its paper first; --no-passages embeds nothing."""
    daily = _daily_dir(tmp_path, SMALL_CORPUS)
    argv = ["--home", str(small_index.storage.home), "--daily-dir", str(daily), "--split", "all", "--n", "10"]
    out = tmp_path / "passages.json"
    assert bench_passages.main([*argv, "--cache-dir", str(tmp_path / "cache"), "--output", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["papers"] == SMALL_CORPUS and result["passages"] > SMALL_CORPUS
    by = {(row["set"], row["mode"]): row for row in result["results"]}
    assert {mode for _, mode in by} == set(bench_passages.MODES)
    assert by[("sentence", "passage")]["recall@1"] == 1.0
    assert (
        all(0 <= row["recall@5"] <= 1 for row in result["results"]) and by[("sentence", "hybrid")]["queries"]
    )
    lean = tmp_path / "lean.json"
    assert bench_passages.main([*argv, "--no-passages", "--output", str(lean)]) == 0
    lean_result = json.loads(lean.read_text())
    assert lean_result["passages"] == 0
    assert {row["mode"] for row in lean_result["results"]} == set(bench_passages.NO_PASSAGE_MODES)
    assert not (small_index.storage.cache_dir / "bench-passages").exists()  # the index is left as it was


def test_the_all_benchmarks_command_reads_its_home(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m bench --home DIR` with every stage skipped: it reads --home (no index there: said)."""
    skip = "ingest,query,retrieval,briefing,lists"
    assert bench_all(["--home", str(tmp_path), "--skip", skip]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["home"] == str(tmp_path) and "no index at" in report["note"]


def test_radar_days_over_a_copied_base_shows_each_days_new_papers_only(tmp_path: Path, embedder) -> None:
    """`--base-home`: the base index is copied, the topic saved over it before the first day, and each day's
    feed (paged one paper a batch) holds only that day's new papers: never the base's, never a re-listed
    one, never one twice."""
    from ingest.runs import file_runs

    records = sample_records(30)
    base = tmp_path / "base"
    # Undated like the real monthly listings: dated by their id's month (2605.x: 2026-05-01).
    backlog = [{k: v for k, v in r.items() if k != "date"} for r in records[:10]]
    monthly = write_jsonl(tmp_path / "2026-05.jsonl.gz", backlog, gz=True)
    ingestor = open_ingestor(make_settings(base), embedder=embedder)
    try:
        ingestor.run(file_runs([monthly]))
    finally:
        ingestor.close()
    daily = tmp_path / "daily"
    daily.mkdir()
    # Day 1 re-lists a base paper on diffusion, day 2 a paper of day 1: neither is new on its day.
    write_jsonl(daily / "2026-06-01.jsonl.gz", [*records[10:20], records[1]], gz=True)
    write_jsonl(daily / "2026-06-02.jsonl.gz", [*records[20:30], records[15]], gz=True)
    home = tmp_path / "home"
    args = bench_radar_days.parse_args(
        ["--home", str(home), "--base-home", str(base), "--daily-dir", str(daily), "--batch", "1"]
    )
    console, out = _console()
    topics = {"diffusion": ("diffusion models for image generation", [])}
    result = bench_radar_days.run(args, console, topics=topics, embedder=embedder)
    bench_radar_days.print_tables(result, console)

    assert result["backlog_papers"] == 10 and result["new_papers"] == 20
    day1, day2 = ({r["id"] for r in part} for part in (records[10:20], records[20:30]))
    shown = [set(day["topics"]["diffusion"]["shown_ids"]) for day in result["days"]]
    assert shown[0] and shown[0] <= day1 and shown[1] <= day2
    assert result["problems"] == result["older_shown"] == result["backlog_shown"] == result["repeats"] == 0
    assert result["shown"] == result["matching"] == result["matching_shown"]
    # Several batches of one paper: each paged with "another batch", each timed.
    assert result["next_batch"]["calls"] >= 1
    assert result["feed_calls"]["calls"] == result["first_page"]["calls"] + result["next_batch"]["calls"]
    assert "Feed calls against the 1 s target" in out.getvalue()
    # The base itself is left as it was: the June days went into the copy only.
    with sqlite3.connect(base / "catalog.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM papers").fetchone()[0] == 10


@pytest.mark.slow
def test_scale_bench_builds_a_months_and_days_index_with_exact_counts_then_reuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bench.scale on two tiny "monthly" files and two daily ones (real sample records): the months-only copy
    is kept, the counts are exact (a record the ingest refuses is not expected), a second run reuses the
    index, and the re-ingest and disk figures are printed."""
    records = sample_records(40)
    monthly, daily = tmp_path / "monthly", tmp_path / "daily"
    monthly.mkdir(), daily.mkdir()
    refused = {**records[0], "id": "2505.99999", "title": "x" * 1001}  # a title over the cap
    write = lambda path, rows: path.write_text("".join(json.dumps(r) + "\n" for r in rows))  # noqa: E731
    write(monthly / "2025-05.jsonl", [*records[:15], refused])
    write(monthly / "2026-05.jsonl", records[15:25])
    write(daily / "2026-06-01.jsonl", records[25:33])
    write(daily / "2026-06-02.jsonl", [*records[33:40], records[30]])  # a paper listed twice
    home = tmp_path / "scale"
    argv = [
        "--home",
        str(home),
        "--monthly-dir",
        str(monthly),
        "--daily-dir",
        str(daily),
        "--backend",
        "torch",
    ]
    out = tmp_path / "first.json"
    monkeypatch.setattr(bench_scale, "SMALL_CORPUS", 10)  # the ingest's RSS is read as the catalog passes 10

    assert (
        bench_scale.main([*argv, "--kill-at", "0", "--stages", "build,reingest,disk", "--output", str(out)])
        == 0
    )

    first = json.loads(out.read_text())
    build = first["build"]
    assert (build["unique_ids_in_input"], build["unique_ids_of_valid_records"]) == (41, 40)
    assert build["refused_records"] == ["2025-05.jsonl:16: title too long (1,001 characters; at most 1,000)"]
    assert build["counts"] == {"papers": 40, "pending": 0, "vectors": 40} and build["exact"] is True
    assert build["counts_after_months"]["papers"] == 25
    first_run, *later_runs = build["runs"]
    assert first_run["peak_rss_mb"] >= first_run["peak_rss_at_7k_papers_mb"] > 0
    assert all(run["peak_rss_at_7k_papers_mb"] is None for run in later_runs)  # they start above it
    assert (home.parent / "scale-months" / "catalog.sqlite3").is_file()
    assert first["reingest"]["counts"] == build["counts"] and first["reingest"]["exit_code"] == 0
    assert first["disk"]["papers"] == 40 and first["disk"]["catalog_bytes_per_paper"] > 0

    again = tmp_path / "again.json"
    assert bench_scale.main([*argv, "--stages", "build", "--output", str(again)]) == 0
    assert json.loads(again.read_text())["build"]["reused"] is True


@pytest.mark.slow  # ~25 s on two cores: two load workers load the model
def test_postgres_bench_compares_both_backends_on_a_copy_it_drops(small_index, embedder, pg_url: str) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    """bench.postgres on the small index, the PostgreSQL side copied (copy_to_postgres) into a bench_*
    database on the tests' server: both sides search the same papers, every stage has figures for both, and
    the databases it made are gone afterwards; the load stage's workers (one per backend) answer without
    errors."""
    import psycopg

    from bench import postgres as bench_postgres

    home = str(small_index.storage.home)
    argv = ["--home", home, "--server-url", pg_url, "--questions", "3", "--ingest", "30"]
    argv += ["--users", "2", "--workers", "1", "--load-rounds", "1"]
    args = bench_postgres.parse_args(argv)
    console, out = _console()
    result = bench_postgres.run(args, console, embedder=embedder)
    bench_postgres.print_table(result, console)

    assert result["papers"] == {"sqlite": SMALL_CORPUS, "postgres": SMALL_CORPUS}
    assert result["copy"]["copied"]["catalog"]["papers"] == SMALL_CORPUS
    for mode in ("hybrid", "lexical"):
        assert result["search"][mode]["top_k_agreement"] == 1.0  # the same index on both sides
        assert all(result["search"][mode][side]["n"] == 3 for side in ("sqlite", "postgres"))
    assert all(result["ask"][side]["p50_ms"] > 0 for side in ("sqlite", "postgres"))
    radar = result["radar"]
    assert radar["sqlite"]["window_papers"] == radar["postgres"]["window_papers"]
    assert radar["postgres"]["first_feed"]["n"] == len(bench_postgres.RADAR_TOPICS) - 1
    ingest = result["ingest"]
    assert ingest["sqlite"]["stored"] == ingest["postgres"]["stored"] == 30
    load = result["load"]
    assert load["order"] == "sqlite postgres" and load["threads_per_worker"] == 2
    for side in ("sqlite", "postgres"):
        assert load[side]["n"] == 2 and load[side]["errors"] == 0 and load[side]["answers_per_second"] > 0
    assert load["postgres"]["pool_size_per_worker"] == [args.pool_size]
    printed = out.getvalue()
    assert "SQLite vs PostgreSQL" in printed and "radar first feed" in printed
    with psycopg.connect(pg_url) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench_%'").fetchall()
    assert left == []
