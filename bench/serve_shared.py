"""Several app workers, one index: what serving the vectors from a Chroma server costs, and how soon a
running app worker sees a paper another process ingests.

    ACADEMICHUB_EMBEDDING_BACKEND=onnx python -m bench.serve_shared --home /work/indexes/june-onnx-after

The index at --home is never modified: its catalog and embedded Chroma are copied under --work-dir, and its
vectors are loaded (read back, not re-encoded) into a `chroma run` server started on 127.0.0.1 for the run.

- search: warm hybrid search p50/p95 (bench.query's questions) with the vectors in the embedded store and
  over HTTP from the Chroma server, same catalog and model; the dense query alone (Chroma's part); and a
  field-filtered search (the filter's ids travel with the dense query).
- visibility: a separate reader process polls BM25 and dense search for a paper the index lacks while this
  process ingests it through the same catalog and server; seconds from the catalog commit (the ingest's
  first write) until the reader finds it each way, and until the ingest marked it embedded.
- memory: RSS of `academichub serve` on the server-backed index once its page answers, and of the Chroma
  server holding the vectors.

The table goes to stderr, the JSON to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from assistant.core.settings import Settings, get_settings
from assistant.engine import build_retriever
from assistant.search.retrieval import make_filter
from assistant.store.catalog import Catalog
from assistant.store.embedding import Embedder, get_embedder
from assistant.store.vectors import VectorIndex
from bench.query import QUESTIONS, free_port, serve_cold_start, status_kb, timed_series
from bench.report import BenchError, run_and_report
from ingest.normalize import from_json_record
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

CHROMA = Path(sys.executable).with_name("chroma")
MONTHLY_DIR = Path("../shared/data/arxiv-monthly")
FILTER_CATEGORY = "cs.CL"  # a large field: its ids are sent with every filtered dense query
POLL_TIMEOUT_S = 60.0


# --- the stores ----------------------------------------------------------------------------------------


def copy_index(source: Settings, work_dir: Path) -> Settings:
    """A private copy of the index (catalog, embedded vectors, the encoder's cache): fresh each run."""
    home = work_dir / "home"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    shutil.copy2(source.storage.catalog_path, home / source.storage.catalog_path.name)
    shutil.copytree(source.storage.chroma_path, home / "chroma")
    if source.storage.cache_dir.is_dir():
        shutil.copytree(source.storage.cache_dir, home / "cache")
    return source.replace(storage={"home": home, "chroma_host": None})


@contextlib.contextmanager
def chroma_server(data_dir: Path, console: Console) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`chroma run` on 127.0.0.1 and a free port: (the process, its port); stopped on exit."""
    if not CHROMA.exists():
        raise BenchError(f"{CHROMA} is missing: the chromadb package installs it (run `make install`)")
    if data_dir.exists():
        shutil.rmtree(data_dir)
    port = free_port()
    server = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"chroma run did not start: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.2)
        console.print(f"  chroma run on 127.0.0.1:{port} (data {data_dir})")
        yield server, port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def load_server(embedded: Settings, served: Settings) -> tuple[int, float]:
    """Copy every vector (read back, not re-encoded) with its metadata into the server's collection, in
    the pipeline's chunks; returns (vectors, seconds)."""
    catalog = Catalog(embedded.storage.catalog_path)
    source, target = VectorIndex(embedded), VectorIndex(served)
    started = time.perf_counter()
    loaded = 0
    try:
        ids = catalog.all_ids()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            vectors = source.vectors_of(chunk)
            papers = catalog.get_papers([pid for pid in chunk if pid in vectors])
            batch = [papers[pid] for pid in chunk if pid in papers]
            target.upsert(batch, np.asarray([vectors[p.id] for p in batch], dtype=np.float32))
            loaded += len(batch)
    finally:
        catalog.close()
    return loaded, time.perf_counter() - started


# --- search latency ------------------------------------------------------------------------------------


def bench_search(settings: Settings, embedder: Embedder, rounds: int) -> dict[str, Any]:
    """Hybrid search, the dense query alone and a field-filtered search, warm, on one set of stores."""
    retriever = build_retriever(settings, embedder=embedder)
    retriever.warm_up()
    questions = list(QUESTIONS[:1]) + list(QUESTIONS[1:]) * max(1, rounds)
    result: dict[str, Any] = {
        "search": timed_series(lambda q: retriever.search(q, k=settings.fusion.default_k), questions)
    }
    vectors = {q: embedder.encode_query(q) for q in QUESTIONS}
    depth = settings.fusion.retrieval_depth
    result["dense_query"] = timed_series(lambda q: retriever.vectors.nearest(vectors[q], depth), questions)
    field = make_filter(categories=[FILTER_CATEGORY])
    result["filtered_search"] = timed_series(
        lambda q: retriever.search(q, k=settings.fusion.default_k, paper_filter=field), questions
    )
    result["filtered_search"]["filter_papers"] = len(retriever.catalog.filter_ids(field))
    return result


# --- visibility after an ingest ------------------------------------------------------------------------


def new_record(catalog: Catalog, monthly_dir: Path) -> dict[str, Any]:
    """A real listing record the index does not hold (the newest monthly file's first unknown paper)."""
    for path in sorted(monthly_dir.glob("*.jsonl.gz"), reverse=True):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if catalog.get_paper(str(record.get("id", ""))) is None:
                    return dict(record)
    raise BenchError(f"no paper outside the index in {monthly_dir}: pass --monthly-dir")


def reader(settings: Settings, paper_id: str, title: str) -> None:
    """The polling app worker (a separate process): prints "ready", then one JSON line with the wall-clock
    times at which BM25 and dense search first ranked the paper first."""
    retriever = build_retriever(settings)
    retriever.warm_up()
    retriever.search(title, k=3)
    print("ready", flush=True)
    seen: dict[str, float] = {}
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while len(seen) < 2 and time.monotonic() < deadline:
        for mode in ("lexical", "dense"):
            if mode not in seen:
                hits = retriever.search(title, k=3, mode=mode)
                if hits and hits[0].paper.id == paper_id:
                    seen[mode] = time.time()
        time.sleep(0.01)
    print(json.dumps(seen), flush=True)


def one_trial(settings: Settings, embedder: Embedder, record: dict[str, Any], corpus: Path) -> dict[str, Any]:
    """A reader process polls while this process ingests `record` (one new paper) into the shared stores."""
    paper = from_json_record(record)
    command = [sys.executable, "-m", "bench.serve_shared", "--reader", paper.id]
    command += ["--reader-title", paper.title]
    proc = subprocess.Popen(command, env=store_env(settings), stdout=subprocess.PIPE, text=True)
    marks: dict[str, float] = {}

    def progress(phase: str, advance: int, total: int | None) -> None:
        if phase == "embed" and advance == 0:
            marks.setdefault("catalog_commit", time.time())  # rows stored and committed, vectors next
        elif phase == "embed":
            marks["marked_embedded"] = time.time()

    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise BenchError("the reader process did not start")
        corpus.write_text(json.dumps(record) + "\n", encoding="utf-8")
        ingestor = open_ingestor(settings, embedder=embedder, on_progress=progress)
        try:
            ingestor.run(file_runs([corpus]))
        finally:
            ingestor.close()
        seen = json.loads(proc.stdout.readline() or "{}")
    finally:
        proc.wait(timeout=POLL_TIMEOUT_S + 30)
    commit = marks["catalog_commit"]
    return {
        "id": paper.id,
        "marked_embedded_s": round(marks["marked_embedded"] - commit, 3),
        "lexical_seen_s": round(seen["lexical"] - commit, 3) if "lexical" in seen else None,
        "dense_seen_s": round(seen["dense"] - commit, 3) if "dense" in seen else None,
    }


def bench_visibility(
    settings: Settings, embedder: Embedder, monthly_dir: Path, work_dir: Path, trials: int
) -> dict[str, Any]:
    catalog = Catalog(settings.storage.catalog_path)
    try:
        results = [
            one_trial(settings, embedder, new_record(catalog, monthly_dir), work_dir / f"new-{trial}.jsonl")
            for trial in range(trials)
        ]
    finally:
        catalog.close()

    def median(key: str) -> float | None:
        values = [r[key] for r in results if r[key] is not None]
        return round(statistics.median(values), 3) if values else None

    return {
        "trials": results,
        "median": {k: median(k) for k in ("marked_embedded_s", "lexical_seen_s", "dense_seen_s")},
        "missed": sum(1 for r in results if r["lexical_seen_s"] is None or r["dense_seen_s"] is None),
    }


def store_env(settings: Settings) -> dict[str, str]:
    """The environment that points a child process at these stores (catalog home, Chroma server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACADEMICHUB_")}
    env.update(
        {
            "ACADEMICHUB_HOME": str(settings.storage.home),
            "ACADEMICHUB_EMBEDDING_BACKEND": settings.embedding.backend,
        }
    )
    if settings.embedding.model:
        env["ACADEMICHUB_EMBEDDING_MODEL"] = settings.embedding.model
    if settings.storage.chroma_host:
        env["ACADEMICHUB_CHROMA_HOST"] = settings.storage.chroma_host
        env["ACADEMICHUB_CHROMA_PORT"] = str(settings.storage.chroma_port)
    return env


# --- the run -------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    base = get_settings()
    source = base.replace(storage={"home": args.home}) if args.home else base
    if not source.storage.catalog_path.is_file() or not source.storage.chroma_path.is_dir():
        raise BenchError(
            f"no embedded index at {source.storage.home}: pass --home with catalog.sqlite3 and chroma/"
        )
    args.work_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"copying {source.storage.home} to {args.work_dir / 'home'} ...")
    embedded = copy_index(source, args.work_dir)
    embedder = get_embedder(embedded)
    embedder.encode_query("load the model before timing anything")
    result: dict[str, Any] = {
        "embedding_backend": embedded.embedding.backend,
        "load_average": os.getloadavg(),
    }
    with chroma_server(args.work_dir / "chroma-server", console) as (server, port):
        served = embedded.replace(storage={"chroma_host": "127.0.0.1", "chroma_port": port})
        console.print("loading the vectors into the server ...")
        vectors, seconds = load_server(embedded, served)
        result["papers"] = Catalog(embedded.storage.catalog_path).count()
        result["server_load"] = {"vectors": vectors, "seconds": round(seconds, 1)}
        console.print("search, embedded Chroma ...")
        result["embedded"] = bench_search(embedded, embedder, args.rounds)
        console.print("search, Chroma server over HTTP ...")
        result["server"] = bench_search(served, embedder, args.rounds)
        if args.trials:
            console.print(f"visibility of a concurrent ingest ({args.trials} trials) ...")
            result["visibility"] = bench_visibility(
                served, embedder, args.monthly_dir, args.work_dir, args.trials
            )
        if not args.no_serve:
            result["serve"] = serve_cold_start(served, args.serve_timeout, console, env=store_env(served))
        rss = status_kb(server.pid, "VmRSS")
        result["chroma_server_rss_mb"] = round(rss / 1024, 0) if rss else None
    result["load_average_after"] = os.getloadavg()
    return result


def print_table(result: dict[str, Any], console: Console) -> None:
    table = Table(title=f"Several app workers, one index: {result['papers']} papers (warm, ms)")
    for column in ("", "embedded p50", "embedded p95", "server p50", "server p95"):
        table.add_column(column, justify="right" if column else "left")
    for key, label in (
        ("search", "hybrid search"),
        ("dense_query", "dense query only"),
        ("filtered_search", f"search in {FILTER_CATEGORY}"),
    ):
        e, s = result["embedded"][key], result["server"][key]
        table.add_row(
            label, f"{e['p50_ms']:.1f}", f"{e['p95_ms']:.1f}", f"{s['p50_ms']:.1f}", f"{s['p95_ms']:.1f}"
        )
    console.print(table)
    if visibility := result.get("visibility"):
        m = visibility["median"]
        console.print(
            f"after an ingest's catalog commit (median of {len(visibility['trials'])}): another process "
            f"finds the paper by BM25 after {m['lexical_seen_s']} s, by dense search after "
            f"{m['dense_seen_s']} s; "
            f"the ingest marked it embedded after {m['marked_embedded_s']} s; missed {visibility['missed']}"
        )
    if serve := result.get("serve"):
        console.print(f"serve on the server-backed index: {serve}")
    before, after = ([round(x, 1) for x in result[k]] for k in ("load_average", "load_average_after"))
    console.print(f"Chroma server RSS {result['chroma_server_rss_mb']} MB; load average {before} -> {after}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_shared", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="embedded index to copy (default: ACADEMICHUB_HOME)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions (default 3)")
    parser.add_argument("--trials", type=int, default=5, help="ingests of one new paper to time (0 = none)")
    parser.add_argument("--monthly-dir", type=Path, default=MONTHLY_DIR, help="where new papers come from")
    parser.add_argument(
        "--work-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "academichub-bench-shared"
    )
    parser.add_argument("--no-serve", action="store_true", help="skip `academichub serve`'s memory")
    parser.add_argument("--serve-timeout", type=float, default=240.0)
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    parser.add_argument("--reader", help=argparse.SUPPRESS)  # the polling process of the visibility trials
    parser.add_argument("--reader-title", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.reader:
        reader(get_settings(), args.reader, args.reader_title or "")
        return 0
    return run_and_report(args, run, print_table)


if __name__ == "__main__":
    raise SystemExit(main())
