"""Scale benchmark: the 16-month corpus (15 monthly listings + 30 June daily listings, ~74k papers) built once
into one index, then measured against the June-only index in the same run.

    python -m bench.scale --home /work/indexes/scale-74k --june-home /work/indexes/june-onnx --backend onnx

Stages (all but default-encoder by default; `--stages build,query` picks some):
  build    ingest the monthly files (killed with -9 once `--kill-at` of their papers hold a vector, then
           re-run to the end), keep a copy of that months-only index (`<home>-months`, for
           `bench.radar_days --base-home`), then ingest the June daily files. Reuses the index when it
           already holds every input paper with its vector. Reports wall time, peak RSS of the ingest process
           when the catalog passed 7k papers and at the end, and the exact counts: catalog papers = Chroma
           vectors = unique ids of the records the ingest accepts.
  reingest the same 45 files again, unchanged (nothing to embed).
  query    warm search / ask / brief p50 and p95 on the 74k index and on the June index (`--june-home`), in
           one process with one encoder; the steps of a search (encode, dense, BM25, fusion and coverage
           vote) timed on their own; filters that admit few papers (one author, one day, q-bio) or many
           (cs.CV), and a query made only of common words.
  quality  `bench.retrieval --split test` on both indexes: the June papers are the targets, the other 67k
           papers distractors on the 74k one.
  serve    `academichub serve` cold start on the 74k index until its first page answers, its RSS, and the
           peak RSS of a CLI `ask`.
  disk     bytes per paper of the catalog (with FTS5) and of Chroma.
  default-encoder  the default (torch) encoder's ingest of a 9,710-paper slice, extrapolated to 74k.

The index is built with the encoder `--backend` names (onnx: the int8 encoder, ~3x faster). Progress bars
go to the terminal (stderr), the figures to stderr as tables and to stdout as one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant.core.paper import InvalidArxivId, Paper, parse_arxiv_id
from assistant.core.settings import get_settings
from assistant.engine import build_retriever
from assistant.search.retrieval import Candidates, FusionParams, Retriever
from assistant.store.catalog import Catalog
from assistant.store.catalog_store import CatalogStore
from assistant.store.embedding import get_embedder
from assistant.store.filter import PaperFilter
from bench.query import status_kb
from bench.report import BenchError, emit_json
from ingest.runs import input_files
from ingest.sources import read_jsonl

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MONTHLY_DIR = SHARED_DATA / "arxiv-monthly"
DAILY_DIR = SHARED_DATA / "arxiv-daily"
SMALL_CORPUS = 7_000  # the RSS of the ingest is read when the catalog passes this many papers, and at the end
STAGES = ("build", "reingest", "query", "quality", "serve", "disk", "default-encoder")
DEFAULT_STAGES = STAGES[:-1]  # the default encoder's slice takes ~12 minutes of both cores: on request


# --- inputs -------------------------------------------------------------------------------------------


def unique_input_ids(files: list[Path]) -> set[str]:
    """The versionless arXiv ids in the input files (each JSON line's `id`), valid records or not."""
    ids: set[str] = set()
    for path in files:
        with gzip.open(path, "rt") if path.name.endswith(".gz") else path.open() as handle:
            lines = list(handle)
        for line in lines:
            try:
                raw = json.loads(line).get("id")
                ids.add(parse_arxiv_id(str(raw))[0])
            except (ValueError, AttributeError, InvalidArxivId):
                continue
    return ids


def valid_input_ids(files: list[Path]) -> tuple[set[str], list[str]]:
    """The ids of the records the ingest accepts (read by the ingest's own reader, so the same rules), and
    why the others were refused: what the index must hold exactly."""
    logging.disable(logging.WARNING)  # dropped class codes are the ingest's to report, not this count's
    ids: set[str] = set()
    refused: list[str] = []
    try:
        for path in files:
            for item in read_jsonl(path):
                if isinstance(item, Paper):
                    ids.add(item.id)
                else:
                    refused.append(f"{item.where}: {item.reason}")
    finally:
        logging.disable(logging.NOTSET)
    return ids, refused


# --- one ingest process, watched ------------------------------------------------------------------------


@dataclass
class IngestRun:
    label: str
    seconds: float = 0.0
    exit_code: int | None = None
    killed: bool = False
    peak_rss_mb: float = 0.0  # the process's high-water mark (wait4's ru_maxrss)
    rss_at_small_mb: float | None = None  # its high-water mark when the catalog first held SMALL_CORPUS
    samples: list[tuple[float, int, float]] = field(default_factory=list)  # (seconds, papers, RSS MB)
    started_small: bool = False  # the catalog held fewer than SMALL_CORPUS papers when it started

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "seconds": round(self.seconds, 1),
            "exit_code": self.exit_code,
            "killed_with_sigkill": self.killed,
            "peak_rss_mb": round(self.peak_rss_mb),
            "peak_rss_at_7k_papers_mb": round(self.rss_at_small_mb) if self.rss_at_small_mb else None,
        }


def status_mb(pid: int, key: str) -> float | None:
    kb = status_kb(pid, key)
    return kb / 1024 if kb is not None else None


def run_ingest(
    label: str,
    files: list[Path],
    env: dict[str, str],
    catalog_path: Path,
    kill_at_embedded: int | None = None,
) -> IngestRun:
    """`academichub ingest --file ...` in a child process (its progress bar on this terminal), sampling its
    RSS and the catalog; killed with SIGKILL once `kill_at_embedded` papers hold their vector."""
    exe = Path(sys.executable).with_name("academichub")
    command = [str(exe), "ingest", *(str(f) for f in files)]
    run = IngestRun(label)
    started = time.perf_counter()
    # Its stdout (the summary) goes to stderr: this process's stdout carries only the JSON figures.
    process = subprocess.Popen(command, env=env, stdout=sys.stderr)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(1.0):
            papers, embedded = Catalog.progress(catalog_path)
            rss = status_mb(process.pid, "VmRSS")
            hwm = status_mb(process.pid, "VmHWM")
            if rss is None:
                continue
            if not run.samples:  # the first sample: did this run start below SMALL_CORPUS papers?
                run.started_small = papers < SMALL_CORPUS
            run.samples.append((time.perf_counter() - started, papers, rss))
            if run.rss_at_small_mb is None and run.started_small and papers >= SMALL_CORPUS and hwm:
                run.rss_at_small_mb = hwm
            if kill_at_embedded is not None and embedded >= kill_at_embedded and not run.killed:
                run.killed = True
                os.kill(process.pid, signal.SIGKILL)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    watcher.join()
    run.seconds = time.perf_counter() - started
    run.exit_code = process.returncode
    run.peak_rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
    return run


# --- stages ---------------------------------------------------------------------------------------------


def index_counts(home: Path, env: dict[str, str]) -> dict[str, int]:
    """Catalog papers, pending vectors and Chroma vectors, read by a fresh process (as a user would)."""
    code = (
        "import json; from assistant.core.settings import get_settings; "
        "from assistant.store.catalog import Catalog; "
        "from assistant.store.vectors import VectorIndex; s = get_settings(); "
        "c = Catalog(s.storage.catalog_path); "
        "print(json.dumps({'papers': c.count(), 'pending': c.count_pending(), "
        "'vectors': VectorIndex(s).count()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "ACADEMICHUB_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise BenchError(f"cannot read the index at {home}: {out.stderr.strip()[-500:]}")
    counts: dict[str, int] = json.loads(out.stdout)
    return counts


def build(args: argparse.Namespace, env: dict[str, str], console: Console) -> dict[str, Any]:
    monthly, daily = input_files([args.monthly_dir]), input_files([args.daily_dir])
    files = monthly + daily
    console.print(
        f"[bold]build[/]: {len(monthly)} monthly + {len(daily)} daily files; counting input ids ..."
    )
    expected_ids, refused = valid_input_ids(files)
    months_ids = unique_input_ids(monthly)
    result: dict[str, Any] = {
        "input_files": len(files),
        "unique_ids_in_input": len(unique_input_ids(files)),
        "unique_ids_of_valid_records": len(expected_ids),
        "refused_records": refused,
        "unique_ids_in_monthly": len(months_ids),
    }
    home = args.home
    if (home / "catalog.sqlite3").is_file():
        counts = index_counts(home, env)
        if (
            counts["papers"] == len(expected_ids)
            and counts["pending"] == 0
            and counts["vectors"] == counts["papers"]
        ):
            console.print(f"  reusing the complete index at {home} ({counts['papers']:,} papers)")
            result.update({"reused": True, "counts": counts})
            previous = home / "build.json"
            if previous.is_file():
                result["first_build"] = json.loads(previous.read_text(encoding="utf-8"))
            return result
        console.print(f"  the index at {home} is incomplete ({counts}); ingesting into it")
    runs: list[IngestRun] = []
    catalog_path = home / "catalog.sqlite3"
    if args.kill_at > 0:
        kill_at = int(len(months_ids) * args.kill_at)
        console.print(f"  monthly files, killed with SIGKILL once {kill_at:,} papers hold their vector ...")
        runs.append(run_ingest("monthly (killed)", monthly, env, catalog_path, kill_at_embedded=kill_at))
        result["counts_after_kill"] = index_counts(home, env)
    console.print("  monthly files" + (" again, to the end ..." if args.kill_at > 0 else " ..."))
    runs.append(run_ingest("monthly", monthly, env, catalog_path))
    result["counts_after_months"] = index_counts(home, env)
    months_copy = months_home(args)
    if months_copy.exists():
        shutil.rmtree(months_copy)
    shutil.copytree(home, months_copy, ignore=shutil.ignore_patterns("cache", "ingest.lock"))
    console.print(f"  kept the months-only index at {months_copy}; June daily files ...")
    runs.append(run_ingest("June daily", daily, env, catalog_path))
    counts = index_counts(home, env)
    result.update(
        {
            "reused": False,
            "runs": [r.to_dict() for r in runs],
            "wall_seconds": round(sum(r.seconds for r in runs), 1),
            "peak_rss_mb": round(max(r.peak_rss_mb for r in runs)),
            "peak_rss_at_7k_papers_mb": next(
                (round(r.rss_at_small_mb) for r in runs if r.rss_at_small_mb), None
            ),
            "rss_samples": [s for r in runs for s in r.samples[:: max(1, len(r.samples) // 40)]],
            "counts": counts,
            "exact": counts["papers"] == counts["vectors"] == len(expected_ids) and counts["pending"] == 0,
        }
    )
    (home / "build.json").write_text(json.dumps(result), encoding="utf-8")
    return result


DEFAULT_SLICE = ("2025-03.jsonl.gz", "2026-05.jsonl.gz")  # 9,710 papers: the default encoder's ~10k slice


def default_encoder_slice(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """The default (torch) encoder's ingest of a ~10k-paper slice into a fresh data directory, and the 74k
    ingest it implies at that rate (extrapolated: the full corpus with this encoder takes over an hour)."""
    files = [args.monthly_dir / name for name in DEFAULT_SLICE]
    home = args.home.with_name(args.home.name + "-torch-slice")
    if home.exists():
        shutil.rmtree(home)
    env = {**os.environ, "ACADEMICHUB_HOME": str(home), "ACADEMICHUB_EMBEDDING_BACKEND": "torch"}
    console.print(f"[bold]default encoder[/]: {', '.join(DEFAULT_SLICE)} into {home} ...")
    run = run_ingest("default encoder, 10k slice", files, env, home / "catalog.sqlite3")
    counts = index_counts(home, env)
    rate = counts["vectors"] / run.seconds if run.seconds else 0.0
    expected, _ = valid_input_ids(files)
    result = {
        **run.to_dict(),
        "counts": counts,
        "exact": counts["papers"] == counts["vectors"] == len(expected) and counts["pending"] == 0,
        "papers_per_second": round(rate, 1),
        "extrapolated_74k_seconds": round(74_427 / rate) if rate else None,
    }
    shutil.rmtree(home, ignore_errors=True)
    return result


def months_home(args: argparse.Namespace) -> Path:
    return args.home.with_name(args.home.name + "-months")


def reingest(args: argparse.Namespace, env: dict[str, str], console: Console) -> dict[str, Any]:
    files = input_files([args.monthly_dir]) + input_files([args.daily_dir])
    console.print("[bold]reingest[/]: the same files, unchanged ...")
    run = run_ingest("re-ingest (unchanged)", files, env, args.home / "catalog.sqlite3")
    return {**run.to_dict(), "counts": index_counts(args.home, env)}


def disk(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    def size(path: Path) -> int:
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())

    counts = index_counts(args.home, env)
    papers = max(1, counts["papers"])
    catalog = sum(size(p) for p in args.home.glob("catalog.sqlite3*"))
    chroma = size(args.home / "chroma")
    return {
        "papers": counts["papers"],
        "catalog_bytes": catalog,
        "chroma_bytes": chroma,
        "catalog_bytes_per_paper": round(catalog / papers),
        "chroma_bytes_per_paper": round(chroma / papers),
    }


# --- queries ----------------------------------------------------------------------------------------------

COMMON_WORDS_QUERY = "language models for images"
FILTER_QUERY = "diffusion models for image generation"


def _ms(operation: Callable[[], object], repeats: int = 3) -> float:
    """Best of `repeats` warm calls, in ms (the machine's noise shows up as the slower ones)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        operation()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else float("nan")


def rank_fresh(retriever: Retriever, found: Candidates, params: FusionParams) -> dict[str, float]:
    """rank() on a copy: it caches term matches in the candidates, which would speed up the next timing."""
    return retriever.rank(replace(found, matches=dict(found.matches)), params)


def stage_timings(retriever: Retriever, questions: list[str]) -> dict[str, float]:
    """Median over the questions of each step of a hybrid search, timed on its own."""
    depth = retriever.settings.fusion.retrieval_depth
    params = FusionParams.from_settings(retriever.settings)
    steps: dict[str, list[float]] = {
        "encode": [],
        "dense": [],
        "bm25": [],
        "fusion+coverage": [],
        "search": [],
    }
    for text in questions:
        qvec = retriever.embedder.encode_query(text)
        found = retriever.candidates(text, depth, PaperFilter())
        assert found is not None
        steps["encode"].append(_ms(partial(retriever.embedder.encode_query, text)))
        steps["dense"].append(_ms(partial(retriever.vectors.nearest, qvec, depth)))
        steps["bm25"].append(_ms(partial(retriever._lexical, text, depth, PaperFilter())))
        # rank() caches term matches in the candidates: each timing gets its own copy
        steps["fusion+coverage"].append(_ms(partial(rank_fresh, retriever, found, params)))
        steps["search"].append(_ms(partial(retriever.search, text, k=retriever.settings.fusion.default_k)))
    return {f"{name}_p50_ms": _median(values) for name, values in steps.items()}


def busiest_author(catalog: CatalogStore) -> str:
    """An author with a handful of papers in the index (a one-author filter admits few papers)."""
    counts = catalog.author_counts(first=3000)
    return max(counts, key=lambda name: counts[name])


def filtered_timings(retriever: Retriever) -> dict[str, Any]:
    """Searches whose filter admits few papers (one author, one day, a small field) or many (cs.CV), and
    a query made only of common words: each with how many papers the filter admits."""
    cases = {
        "one author": PaperFilter(author=busiest_author(retriever.catalog)),
        "one day (2026-06-10)": PaperFilter(since=date(2026, 6, 10), until=date(2026, 6, 10)),
        "small field (q-bio)": PaperFilter(categories=("q-bio",)),
        "large field (cs.CV)": PaperFilter(categories=("cs.CV",)),
    }
    found: dict[str, Any] = {}
    for name, flt in cases.items():
        admitted = len(retriever.catalog.filter_ids(flt))
        retriever.search(FILTER_QUERY, k=8, paper_filter=flt)
        found[name] = {
            "admitted": admitted,
            "search_ms": _ms(partial(retriever.search, FILTER_QUERY, k=8, paper_filter=flt)),
        }
    found["common words only"] = {"search_ms": _ms(partial(retriever.search, COMMON_WORDS_QUERY, k=8))}
    return found


def query_stage(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """Warm search/ask/brief on the 74k and the June index, in this one process, with one encoder."""
    from bench.query import QUESTIONS, bench_index

    base = get_settings().replace(embedding={"backend": args.backend})
    embedder = get_embedder(base)
    embedder.encode_query("load the model before timing anything")
    homes = {"june": args.june_home, "full": args.home} if args.june_home else {"full": args.home}
    result: dict[str, Any] = {}
    for name, home in homes.items():
        settings = base.replace(storage={"home": home})
        console.print(f"[bold]query[/]: {name} index {home} ...")
        figures = bench_index(settings, embedder, args.rounds, console)
        retriever = build_retriever(settings, embedder=embedder)
        retriever.warm_up()
        figures["stages"] = stage_timings(retriever, list(QUESTIONS[1:]))
        figures["filters"] = filtered_timings(retriever)
        result[name] = figures
    if "june" in result:
        result["search_p50_ratio"] = round(
            result["full"]["search"]["p50_ms"] / result["june"]["search"]["p50_ms"], 2
        )
    return result


def quality_stage(args: argparse.Namespace, env: dict[str, str], console: Console) -> dict[str, Any]:
    """bench.retrieval (test halves) on the June index and on the 74k one: the June papers are the targets
    in both, the other 67k papers distractors in the second."""
    homes = {"june": args.june_home, "full": args.home} if args.june_home else {"full": args.home}
    result: dict[str, Any] = {}
    for name, home in homes.items():
        console.print(f"[bold]quality[/]: bench.retrieval on the {name} index ...")
        with tempfile.TemporaryDirectory(prefix="scale-quality-") as tmp:
            out = Path(tmp) / "retrieval.json"
            completed = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.retrieval",
                    "--home",
                    str(home),
                    "--daily-dir",
                    str(args.daily_dir),
                    "--split",
                    "test",
                    "--output",
                    str(out),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                check=False,
            )
            if completed.returncode != 0 or not out.is_file():
                result[name] = {"error": f"bench.retrieval exited with code {completed.returncode}"}
                continue
            report = json.loads(out.read_text(encoding="utf-8"))
        result[name] = {
            f"{row['set']} / {row['mode']}": {"recall@5": row["recall@5"], "mrr@10": row["mrr@10"]}
            for row in report["results"]
        }
    return result


def serve_stage(args: argparse.Namespace, env: dict[str, str], console: Console) -> dict[str, Any]:
    """`academichub serve` cold start on the 74k index, and the peak RSS of a CLI `ask` process."""
    from bench.query import serve_cold_start

    settings = get_settings().replace(storage={"home": args.home}, embedding={"backend": args.backend})
    result = {"serve": serve_cold_start(settings, 180.0, console, env=env)}
    exe = Path(sys.executable).with_name("academichub")
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(exe), "ask", "How can large language models be made to forget specific training data?"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    result["cli_ask"] = {
        "seconds": round(time.perf_counter() - started, 1),
        "exit_code": os.waitstatus_to_exitcode(status),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
    }
    return result


# --- report ---------------------------------------------------------------------------------------------


def print_tables(result: dict[str, Any], console: Console) -> None:
    b = result.get("build")
    if b:
        table = Table(title="build (ingest of the 16-month corpus)")
        for column in ("run", "seconds", "exit", "peak RSS MB", "RSS at 7k MB"):
            table.add_column(column)
        for r in b.get("runs") or b.get("first_build", {}).get("runs", []):
            table.add_row(
                r["label"],
                str(r["seconds"]),
                str(r["exit_code"]),
                str(r["peak_rss_mb"]),
                str(r["peak_rss_at_7k_papers_mb"] or ""),
            )
        console.print(table)
        console.print(
            f"input: {b['unique_ids_in_input']:,} unique ids, {b['unique_ids_of_valid_records']:,} of valid "
            f"records ({len(b['refused_records'])} refused); index: {b['counts']}"
        )
    r = result.get("reingest")
    if r:
        console.print(
            f"re-ingest unchanged: {r['seconds']} s (target < 60 s), peak RSS {r['peak_rss_mb']} MB"
        )
    d = result.get("disk")
    if d:
        console.print(
            f"disk: catalog {d['catalog_bytes_per_paper']:,} B/paper, "
            f"Chroma {d['chroma_bytes_per_paper']:,} B/paper"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="the 74k index (built here if incomplete)")
    parser.add_argument("--june-home", type=Path, help="the June-only index, for side-by-side figures")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="onnx")
    parser.add_argument(
        "--stages", default=",".join(DEFAULT_STAGES), help=f"comma-separated, of {', '.join(STAGES)}"
    )
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions for search")
    parser.add_argument("--kill-at", type=float, default=0.5, help="SIGKILL the monthly ingest at this share")
    parser.add_argument("--monthly-dir", type=Path, default=MONTHLY_DIR)
    parser.add_argument("--daily-dir", type=Path, default=DAILY_DIR)
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        console.print(
            f"[bold red]error:[/] unknown stage(s) {', '.join(unknown)}; known: {', '.join(STAGES)}"
        )
        return 2
    env = {**os.environ, "ACADEMICHUB_HOME": str(args.home), "ACADEMICHUB_EMBEDDING_BACKEND": args.backend}
    result: dict[str, Any] = {"home": str(args.home), "backend": args.backend}
    try:
        if "build" in stages:
            result["build"] = build(args, env, console)
        if "reingest" in stages:
            result["reingest"] = reingest(args, env, console)
        if "query" in stages:
            result["query"] = query_stage(args, console)
        if "quality" in stages:
            result["quality"] = quality_stage(args, env, console)
        if "serve" in stages:
            result["serve"] = serve_stage(args, env, console)
        if "disk" in stages:
            result["disk"] = disk(args, env)
        if "default-encoder" in stages:
            result["default_encoder"] = default_encoder_slice(args, console)
    except BenchError as err:
        console.print(f"[bold red]error:[/] {err}")
        return 2
    print_tables(result, console)
    emit_json(result, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
