"""SQLite vs PostgreSQL on the same index, side by side: warm search (hybrid and lexical-only), extractive
ask, the radar feed, catalog ingest throughput, and concurrent users on two worker processes.

    python -m bench.postgres --home /work/idx/june --database-url postgresql://postgres@127.0.0.1:55432/june
    python -m bench.postgres --home /tmp/june-home --server-url postgresql://postgres@127.0.0.1:5432/postgres
    academichub bench postgres --home ... --database-url ... --skip-load

Both sides read the same vectors (the data directory's embedded Chroma) with the same encoder; they differ
in where the catalog (papers, lexical index) and the radar state live. The PostgreSQL side is a database
given by --database-url (an existing copy of this index's catalog, e.g. made by `academichub migrate --to`;
its paper count is printed next to SQLite's), or else a fresh `bench_*` database on --server-url's server
(any database there whose role may CREATE DATABASE) that this run fills with `copy_to_postgres` (timed) and
drops at the end (unless --keep-database).

Stages (each bounded; about 3-7 minutes in all on June on two busy cores):

1. search: `Retriever.search` (hybrid, default k) on --questions realistic questions after one warm-up, each
   question timed once per side with the sides interleaved (alternating which goes first), so a change in
   the machine's load hits both alike; then the same with mode="lexical" (BM25 only). The share of top-k ids
   both sides return is printed as a check that they search the same index.
2. ask: `Answerer.answer(q, use_llm=False)` (extractive, no language model) on the first 15 questions.
3. radar: per topic (a few fixed queries, saved under a throwaway owner and removed afterwards), the first
   `Radar.feed` (opens the window and ranks it: the expensive call) and two "another batch" calls. The
   SQLite side's radar state is a fresh file in a temporary folder (the index's own is never written).
4. ingest: --ingest papers from the index's own catalog, re-keyed to new ids, stored with the catalog's
   `upsert` in the pipeline's batches into a fresh SQLite catalog and a fresh PostgreSQL database: the
   catalog write only (rows, categories and the lexical index); no embedding, no vectors.
5. load: instead of two `academichub serve` workers behind browsers (heavy), --workers worker *processes*
   per backend (this module with --worker), each with its own Retriever/Answerer, a pool of threads and, on
   PostgreSQL, the stated connection pool size; --users concurrent users are split over a backend's
   workers, each asking --load-questions extractive questions per round. All workers are loaded and warm
   (every thread has answered once) before the clock starts; the rounds run A B B A (--load-rounds per
   backend), so a change in the machine's load weighs on both backends alike. Per backend: per-question
   latency p50/p95, errors (expected 0), answers per second, and CPU seconds per answer (the workers'
   own, and the whole machine's, which includes the PostgreSQL server's work and anything else running).

The table goes to stderr, the JSON (figures only, nothing asserted) to stdout. The PostgreSQL server's
durability settings are part of the output: a development server with fsync off writes faster than a
production one would.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from assistant.compose.answer import Answerer
from assistant.compose.briefing import Briefer
from assistant.core.lazy import Lazy
from assistant.core.paper import Paper
from assistant.core.settings import Settings, get_settings
from assistant.engine import build_retriever
from assistant.migration import copy_to_postgres
from assistant.radar.service import Radar
from assistant.radar.store import RadarStateStore, RadarStore, open_radar_store
from assistant.search.retrieval import Mode, Retriever
from assistant.store.catalog import Catalog
from assistant.store.embedding import Embedder, get_embedder
from assistant.store.postgres.catalog import CATALOG_STEPS, PostgresCatalog
from assistant.store.postgres.database import DATABASES, Database, redacted
from bench.query import QUESTIONS, percentile
from bench.report import BenchError, run_and_report

# bench.query's questions (the first warms up) and more of the same kind: 40 timed ones in all.
MORE_QUESTIONS = (
    "How do vision-language models ground text in image regions?",
    "What methods compress large language models by quantization?",
    "How is retrieval-augmented generation evaluated?",
    "Which approaches align language models with human preferences?",
    "How are neural radiance fields used for 3D scene reconstruction?",
    "Can language models prove theorems in formal mathematics?",
    "How do language model agents learn to use tools?",
    "Which methods detect deepfake audio or video?",
    "How is speech recognition adapted to low-resource languages?",
    "What techniques improve robustness to adversarial examples?",
    "How are physics-informed neural networks trained to solve PDEs?",
    "What are methods for causal inference from observational data?",
    "How do recommender systems handle cold-start users?",
    "Which methods segment medical images with deep learning?",
    "How is mixture-of-experts routing made efficient?",
    "How can continual learning avoid catastrophic forgetting?",
    "How are the trajectories of other road users predicted for autonomous driving?",
    "What is known about scaling laws of neural language models?",
    "How do surveys detect exoplanets from transit light curves?",
    "What are recent constraints on dark matter from direct detection experiments?",
    "How are knowledge graphs completed with embedding models?",
    "Which methods make chain-of-thought reasoning more reliable?",
    "How do spiking neural networks run on neuromorphic hardware?",
    "What approaches estimate human pose from video?",
)
ALL_QUESTIONS = (*QUESTIONS, *MORE_QUESTIONS)  # [0] warms up
ASK_QUESTIONS = 15
RADAR_TOPICS = (
    "speech recognition",  # warms up
    "diffusion models",
    "machine unlearning",
    "graph neural networks",
    "quantum error correction",
    "large language model agents",
)
RADAR_NEXT_BATCHES = 2
WORKER_START_TIMEOUT_S = 300.0
WORKER_RUN_TIMEOUT_S = 900.0


def figures(latencies: Sequence[float]) -> dict[str, Any]:
    """n, p50, p95, mean (ms) of some timed calls."""
    return {
        "n": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
    }


def timed_ms(call: Callable[[], object]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return (time.perf_counter() - started) * 1000, value


# --- PostgreSQL databases ------------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` on the same server, as the same role."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def create_database(server_url: str, label: str) -> str:
    """A new empty `bench_<label>_<random>` database on the server of `server_url`; its URL."""
    name = f"bench_{label}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    """Drop a database this benchmark made (only `bench_*` ones; its pools must be closed)."""
    name = database_name(url)
    if not name.startswith("bench_"):
        raise ValueError(f"refusing to drop {name!r}: not a benchmark database")
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def server_settings(url: str) -> dict[str, str]:
    """The server's version and the settings that decide write speed and caching."""
    names = [
        "server_version",
        "fsync",
        "synchronous_commit",
        "full_page_writes",
        "shared_buffers",
        "work_mem",
    ]
    with psycopg.connect(url, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)", (names,)
        ).fetchall()
    return {name: value for name, value in rows}


# --- the two sides -------------------------------------------------------------------------------------


@dataclass
class Side:
    name: str
    settings: Settings
    retriever: Retriever
    answerer: Answerer


def open_side(name: str, settings: Settings, embedder: Embedder) -> Side:
    retriever = build_retriever(settings, embedder=embedder)
    retriever.warm_up()
    return Side(name, settings, retriever, Answerer(settings, retriever, llm=None))


def interleaved(
    sides: Sequence[Side], inputs: Sequence[str], call: Callable[[Side, str], object]
) -> tuple[dict[str, list[float]], dict[str, list[object]]]:
    """Each input once per side, alternating which side goes first; latencies (ms) and results per side."""
    latencies: dict[str, list[float]] = {side.name: [] for side in sides}
    results: dict[str, list[object]] = {side.name: [] for side in sides}
    for number, text in enumerate(inputs):
        for side in sides if number % 2 == 0 else list(reversed(sides)):
            elapsed, value = timed_ms(functools.partial(call, side, text))
            latencies[side.name].append(elapsed)
            results[side.name].append(value)
    return latencies, results


def search_ids(side: Side, text: str, *, mode: Mode) -> list[str]:
    hits = side.retriever.search(text, k=side.settings.fusion.default_k, mode=mode)
    return [hit.paper.id for hit in hits]


def briefer_of(side: Side) -> Lazy[Briefer]:
    return Lazy(lambda: Briefer(side.settings, side.retriever, None))


def stage_search(sides: Sequence[Side], questions: Sequence[str], console: Console) -> dict[str, Any]:
    """Warm hybrid search, then lexical-only, interleaved; and how far the two sides agree."""
    result: dict[str, Any] = {"questions": len(questions) - 1}
    modes: tuple[Mode, ...] = ("hybrid", "lexical")
    for mode in modes:
        console.print(f"  search ({mode}, {len(questions) - 1} questions x {len(sides)} sides) ...")
        search = functools.partial(search_ids, mode=mode)
        for side in sides:
            search(side, questions[0])
        latencies, results = interleaved(sides, questions[1:], search)
        result[mode] = {name: figures(values) for name, values in latencies.items()}
        if len(sides) == 2:
            pairs = zip(results[sides[0].name], results[sides[1].name], strict=True)
            shares = [
                len(set(a) & set(b)) / max(len(a), len(b)) if (a or b) else 1.0
                for a, b in pairs
                if isinstance(a, list) and isinstance(b, list)
            ]
            result[mode]["top_k_agreement"] = round(statistics.fmean(shares), 3) if shares else None
    return result


def stage_ask(sides: Sequence[Side], questions: Sequence[str], console: Console) -> dict[str, Any]:
    console.print(f"  ask (extractive, {len(questions) - 1} questions x {len(sides)} sides) ...")
    for side in sides:
        side.answerer.answer(questions[0], use_llm=False)
    latencies, _ = interleaved(sides, questions[1:], lambda side, q: side.answerer.answer(q, use_llm=False))
    return {name: figures(values) for name, values in latencies.items()}


def stage_radar(
    sides: Sequence[Side], stores: dict[str, RadarStateStore], console: Console
) -> dict[str, Any]:
    """First feed (opens and ranks the window) and "another batch" per topic, interleaved; the topics are
    saved under a throwaway owner and removed at the end."""
    owner = f"bench-postgres-{uuid.uuid4().hex[:8]}"
    radars = {
        side.name: Radar(
            side.settings,
            side.retriever,
            stores[side.name],
            briefer_of(side),
        )
        for side in sides
    }
    first: dict[str, list[float]] = {side.name: [] for side in sides}
    later: dict[str, list[float]] = {side.name: [] for side in sides}
    window: dict[str, list[int]] = {side.name: [] for side in sides}
    by_topic: dict[str, dict[str, float]] = {side.name: {} for side in sides}
    added: dict[str, list[str]] = {side.name: [] for side in sides}
    console.print(f"  radar feed ({len(RADAR_TOPICS) - 1} topics x {len(sides)} sides) ...")
    try:
        for number, query in enumerate(RADAR_TOPICS):
            for side in sides if number % 2 == 0 else list(reversed(sides)):
                radar, name = radars[side.name], f"bench {query}"
                radar.add_topic(name, query, owner=owner)
                added[side.name].append(name)
                elapsed, batch = timed_ms(functools.partial(radar.feed, name, owner=owner))
                more = functools.partial(radar.feed, name, next_batch=True, owner=owner)
                pages = [timed_ms(more)[0] for _ in range(RADAR_NEXT_BATCHES)]
                if number == 0:
                    continue  # the warm-up topic
                first[side.name].append(elapsed)
                by_topic[side.name][query] = round(elapsed, 1)
                later[side.name].extend(pages)
                window[side.name].append(batch.window_total)
    finally:
        for side in sides:
            for name in added[side.name]:
                radars[side.name].remove_topic(name, owner=owner)
            radars[side.name].close()
    return {
        side.name: {
            "first_feed": figures(first[side.name]),
            "next_batch": figures(later[side.name]),
            "window_papers": window[side.name],
            "first_feed_ms_by_topic": by_topic[side.name],
        }
        for side in sides
    }


# --- ingest --------------------------------------------------------------------------------------------


def rekeyed(papers: Sequence[Paper]) -> list[Paper]:
    """The papers under new ids (new to any catalog): the same text, categories and dates."""
    return [paper.model_copy(update={"id": f"bench.{n:06d}"}) for n, paper in enumerate(papers)]


def timed_upserts(
    upsert: Callable[[list[Paper]], None], papers: Sequence[Paper], batch: int
) -> dict[str, Any]:
    started = time.perf_counter()
    for start in range(0, len(papers), batch):
        upsert(list(papers[start : start + batch]))
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "papers_per_second": round(len(papers) / seconds, 1)}


def stage_ingest(
    source: Side, n: int, batch: int, server_url: str | None, pool_size: int, work_dir: Path, console: Console
) -> dict[str, Any]:
    ids = source.retriever.catalog.all_ids()[:n]
    found = source.retriever.catalog.get_papers(ids)
    papers = rekeyed([found[pid] for pid in ids if pid in found])
    result: dict[str, Any] = {
        "papers": len(papers),
        "batch": batch,
        "what": "catalog upsert only (rows, categories, lexical index); no embedding, no vectors",
    }
    console.print(f"  ingest: {len(papers)} papers into a fresh SQLite catalog ...")
    catalog = Catalog(work_dir / "ingest" / "catalog.sqlite3")
    try:
        result["sqlite"] = timed_upserts(catalog.upsert, papers, batch)
        result["sqlite"]["stored"] = catalog.count()
    finally:
        catalog.close()
    if server_url is None:
        result["postgres"] = {"skipped": "no server to create a database on (pass --server-url)"}
        return result
    url = create_database(server_url, "ingest")
    console.print(
        f"  ingest: {len(papers)} papers into a fresh PostgreSQL database ({database_name(url)}) ..."
    )
    db = Database(url, pool_size)
    try:
        db.migrate(CATALOG_STEPS)
        pg_catalog = PostgresCatalog(db)
        result["postgres"] = timed_upserts(pg_catalog.upsert, papers, batch)
        result["postgres"]["stored"] = pg_catalog.count()
    finally:
        db.close()
        drop_database(server_url, url)
    return result


# --- load: worker processes ----------------------------------------------------------------------------


def worker_env(home: Path, database_url: str | None, pool_size: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ACADEMICHUB_HOME", "ACADEMICHUB_DATABASE_URL")}
    env["ACADEMICHUB_HOME"] = str(home)
    env["ACADEMICHUB_DATABASE_POOL_SIZE"] = str(pool_size)
    if database_url:
        env["ACADEMICHUB_DATABASE_URL"] = database_url
    return env


def worker(config: dict[str, Any]) -> None:
    """One worker process: its own Retriever/Answerer on the environment's stores and a pool of
    config["threads"] threads. Every thread answers the warm-up question first (as a server's long-lived
    threads would have: on SQLite each thread has its own catalog connection); then it prints "ready" and
    serves rounds: each stdin line is a JSON list of users (one per thread, each a list of questions asked
    in a row), answered by one line of JSON (latencies in ms, errors, wall time, the process's CPU seconds
    over the round, its pool size). An empty line or the end of stdin ends it."""
    settings = get_settings()
    retriever = build_retriever(settings)
    retriever.warm_up()
    answerer = Answerer(settings, retriever, llm=None)
    threads = max(1, int(config["threads"]))
    with ThreadPoolExecutor(max_workers=threads) as pool:
        barrier = threading.Barrier(threads)  # one warm-up on each thread, not several on one

        def warm(_: int) -> None:
            barrier.wait()
            answerer.answer(config["warm_up"], use_llm=False)

        list(pool.map(warm, range(threads)))
        print("ready", flush=True)
        for line in sys.stdin:
            if not line.strip():
                break
            print(json.dumps(serve_round(answerer, pool, json.loads(line), settings)), flush=True)


def serve_round(
    answerer: Answerer, pool: ThreadPoolExecutor, users: list[list[str]], settings: Settings
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def user(questions: list[str]) -> None:
        for question in questions:
            started = time.perf_counter()
            try:
                answerer.answer(question, use_llm=False)
            except Exception as err:  # counted, not raised: the figure is the error count
                with lock:
                    errors.append(f"{type(err).__name__}: {err}"[:300])
                continue
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)

    cpu, started = cpu_seconds(), time.perf_counter()
    list(pool.map(user, users))
    return {
        "latencies_ms": latencies,
        "errors": errors,
        "wall_s": time.perf_counter() - started,
        "cpu_s": cpu_seconds() - cpu,
        "pool_size": settings.storage.database_pool_size if settings.storage.database_url else None,
    }


def cpu_seconds() -> float:
    """This process's CPU time so far (user + system, all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy so far (every process: the workers, the PostgreSQL server,
    and anything else running), from /proc/stat; 0 where there is none."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


LOAD_APPLICATION = "bench-postgres-load"  # the load workers' connections, by application_name


def with_application_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, f"application_name={name}") if q)
    return urlunsplit(parts._replace(query=query))


def backend_cpu(url: str) -> dict[int, float] | None:
    """CPU seconds so far of each PostgreSQL server process serving the load workers (found by their
    application_name), read from /proc: None when the server runs elsewhere (or /proc is not readable)."""
    with psycopg.connect(url, connect_timeout=10) as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (LOAD_APPLICATION,)
        )]  # fmt: skip
    found: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return found


@dataclass
class Worker:
    backend: str
    proc: subprocess.Popen[str]
    log: Path

    def read(self, timeout: float) -> str:
        """The worker's next stdout line, or a BenchError with its log's tail."""
        line: list[str] = []
        stdout = self.proc.stdout
        reader = threading.Thread(
            target=lambda: line.append(stdout.readline() if stdout else ""), daemon=True
        )
        reader.start()
        reader.join(timeout)
        if not line or not line[0]:
            tail = (
                self.log.read_text(errors="replace").strip().splitlines()[-5:] if self.log.is_file() else []
            )
            raise BenchError(
                f"a {self.backend} load worker stopped or hung (exit {self.proc.poll()}): {' | '.join(tail)}"
            )
        return line[0].strip()

    def send(self, users: list[list[str]]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(users) + "\n")
        self.proc.stdin.flush()


@contextmanager
def started_workers(
    backends: dict[str, dict[str, str]], n_workers: int, config: dict[str, Any], logs: Path
) -> Iterator[dict[str, list[Worker]]]:
    """`n_workers` worker processes per backend (name -> its environment), all started together; stopped
    (stdin closed, then killed if still there) on exit."""
    started: dict[str, list[Worker]] = {name: [] for name in backends}
    try:
        for name, env in backends.items():
            for number in range(n_workers):
                log = logs / f"{name}-{number}.log"
                with log.open("w", encoding="utf-8") as err:
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "bench.postgres", "--worker", json.dumps(config)],
                        env=env,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=err,
                        text=True,
                    )
                started[name].append(Worker(name, proc, log))
        yield started
    finally:
        for workers in started.values():
            for item in workers:
                with suppress(OSError):
                    if item.proc.stdin:
                        item.proc.stdin.close()
                try:
                    item.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    item.proc.kill()
                    item.proc.wait()


def round_order(backends: Sequence[str], rounds: int) -> list[tuple[str, int]]:
    """(backend, its round number) in the order they run: A B B A A B ... (a drift in the machine's load
    over the stage weighs on both backends alike)."""
    order: list[tuple[str, int]] = []
    for number in range(rounds):
        for name in backends if number % 2 == 0 else list(reversed(backends)):
            order.append((name, number))
    return order


def stage_load(
    home: Path,
    database_url: str,
    args: argparse.Namespace,
    questions: Sequence[str],
    work_dir: Path,
    console: Console,
) -> dict[str, Any]:
    """--workers processes per backend, all loaded and warm before the clock starts; then --load-rounds
    rounds per backend in A B B A order, each round --users threads (split over the backend's workers)
    asking --load-questions questions each; a backend's rounds get different questions (no answer cache
    helps), the two backends the same ones."""
    threads = max(1, args.users // args.workers)
    users = threads * args.workers
    timed = list(questions[1:])
    per_round = users * args.load_questions
    backends = {
        "sqlite": worker_env(home, None, args.pool_size),
        "postgres": worker_env(home, with_application_name(database_url, LOAD_APPLICATION), args.pool_size),
    }
    logs = work_dir / "load"
    logs.mkdir(parents=True, exist_ok=True)
    reports: dict[str, list[dict[str, Any]]] = {name: [] for name in backends}
    console.print(
        f"  load: {args.workers} worker processes per backend, {threads} threads each, starting ..."
    )
    config = {"warm_up": questions[0], "threads": threads}
    with started_workers(backends, args.workers, config, logs) as workers:
        for pool in workers.values():
            for item in pool:
                if item.read(WORKER_START_TIMEOUT_S) != "ready":
                    raise BenchError(f"a {item.backend} load worker did not say it was ready")
        for name, number in round_order(list(backends), args.load_rounds):
            console.print(f"  load round {number + 1} on {name}: {users} users ...")
            asked = [
                [timed[(number * per_round + u * args.load_questions + j) % len(timed)]
                 for j in range(args.load_questions)]
                for u in range(users)
            ]  # fmt: skip
            server_before = backend_cpu(database_url) if name == "postgres" else None
            busy, started = machine_busy_seconds(), time.perf_counter()
            for index, item in enumerate(workers[name]):
                item.send(asked[index :: args.workers])  # all of the backend's workers start together
            answers = [json.loads(item.read(WORKER_RUN_TIMEOUT_S)) for item in workers[name]]
            wall, busy = time.perf_counter() - started, machine_busy_seconds() - busy
            server_after = backend_cpu(database_url) if server_before is not None else None
            server = (
                sum(cpu - server_before.get(pid, 0.0) for pid, cpu in server_after.items())
                if server_before is not None and server_after is not None
                else None
            )  # a connection closed during the round is missed (the pool keeps them open)
            reports[name].append(
                {"wall_s": wall, "machine_cpu_s": busy, "server_cpu_s": server, "workers": answers}
            )
    result: dict[str, Any] = {
        "users": users,
        "workers": args.workers,
        "threads_per_worker": threads,
        "rounds": args.load_rounds,
        "questions_per_user_per_round": args.load_questions,
        "pool_size": args.pool_size,
        "order": " ".join(name for name, _ in round_order(list(backends), args.load_rounds)),
        "what": "threads in separate worker processes, extractive Answerer.answer (not `academichub serve`)",
    }
    for name, rounds in reports.items():
        latencies = [ms for r in rounds for w in r["workers"] for ms in w["latencies_ms"]]
        errors = [e for r in rounds for w in r["workers"] for e in w["errors"]]
        answered = max(1, len(latencies))
        wall = sum(r["wall_s"] for r in rounds)
        result[name] = {
            **figures(latencies),
            "errors": len(errors),
            "error_samples": errors[:5],
            "answers_per_second": round(len(latencies) / wall, 2),
            "answers_per_second_by_round": [
                round(sum(len(w["latencies_ms"]) for w in r["workers"]) / r["wall_s"], 2) for r in rounds
            ],
            # CPU per answer: the workers' own, and the whole machine's while they ran (the PostgreSQL
            # server's share is in the second; so is anything else running then)
            "worker_cpu_s_per_answer": round(
                sum(w["cpu_s"] for r in rounds for w in r["workers"]) / answered, 2
            ),
            "machine_cpu_s_per_answer": round(sum(r["machine_cpu_s"] for r in rounds) / answered, 2),
            "postgres_server_cpu_s_per_answer": (
                round(sum(r["server_cpu_s"] for r in rounds) / answered, 3)
                if rounds and all(r["server_cpu_s"] is not None for r in rounds)
                else None
            ),
            "pool_size_per_worker": [w["pool_size"] for w in rounds[0]["workers"]] if rounds else [],
        }
    return result


# --- the run -------------------------------------------------------------------------------------------


def sqlite_settings(args: argparse.Namespace) -> Settings:
    base = get_settings()
    settings = base.replace(storage={"home": args.home}) if args.home else base
    settings = settings.replace(storage={"database_url": None, "chroma_host": None})
    if not settings.storage.catalog_path.is_file() or not settings.storage.chroma_path.is_dir():
        raise BenchError(
            f"no embedded index at {settings.storage.home}: pass --home with catalog.sqlite3 and chroma/"
        )
    return settings


def run(args: argparse.Namespace, console: Console, embedder: Embedder | None = None) -> dict[str, Any]:
    """The benchmark; `embedder` (the index's encoder) is loaded here unless given."""
    local = sqlite_settings(args)
    server_url = args.server_url or args.database_url or get_settings().storage.database_url
    if args.database_url is None and server_url is None:
        raise BenchError(
            "no PostgreSQL: pass --database-url (a copy of this index's catalog) or --server-url (a server "
            "to copy it to)"
        )
    if args.questions < 2:
        raise BenchError("--questions must be at least 2")
    work_dir = Path(tempfile.mkdtemp(prefix="bench-postgres-", dir=args.work_dir))
    questions = list(ALL_QUESTIONS[: args.questions + 1])
    result: dict[str, Any] = {
        "home": str(local.storage.home),
        "embedding_backend": local.embedding.backend,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    copied: str | None = None
    if args.database_url:
        url = args.database_url
        result["database_source"] = "existing (--database-url)"
    else:
        assert server_url is not None
        url = copied = create_database(server_url, "copy")
        console.print(f"copying {local.storage.home}'s catalog and radar state to {database_name(url)} ...")
        started = time.perf_counter()
        db = Database(url, args.pool_size)
        try:
            report = copy_to_postgres(local, db)
        finally:
            db.close()
        result["database_source"] = "copied (copy_to_postgres)"
        result["copy"] = {"seconds": round(time.perf_counter() - started, 1), "copied": report.copied}
    result["database"] = redacted(url)
    try:
        result["postgres_server"] = server_settings(url)
        remote = local.replace(storage={"database_url": url, "database_pool_size": args.pool_size})
        embedder = embedder or get_embedder(local)
        embedder.encode_query("load the model before timing anything")
        console.print("opening both sides (warm-up) ...")
        sides = [open_side("sqlite", local, embedder), open_side("postgres", remote, embedder)]
        result["papers"] = {side.name: side.retriever.catalog.count() for side in sides}
        if result["papers"]["sqlite"] != result["papers"]["postgres"]:
            console.print(
                f"[yellow]the database holds {result['papers']['postgres']} papers, the SQLite catalog "
                f"{result['papers']['sqlite']}: the sides do not search the same catalog[/]"
            )
        seconds: dict[str, float] = result.setdefault("stage_seconds", {})

        def stage(name: str, call: Callable[[], dict[str, Any]]) -> None:
            started = time.perf_counter()
            result[name] = call()
            seconds[name] = round(time.perf_counter() - started, 1)

        stage("search", lambda: stage_search(sides, questions, console))
        stage("ask", lambda: stage_ask(sides, questions[: min(len(questions), ASK_QUESTIONS + 1)], console))
        stores = {"sqlite": RadarStore(work_dir / "state.sqlite3"), "postgres": open_radar_store(remote)}
        stage("radar", lambda: stage_radar(sides, stores, console))
        if args.ingest > 0:
            batch = local.sources.ingest_batch_size
            stage(
                "ingest",
                lambda: stage_ingest(
                    sides[0], args.ingest, batch, server_url, args.pool_size, work_dir, console
                ),
            )
        for side in sides:
            side.retriever.catalog.close()
        if not args.skip_load:
            stage("load", lambda: stage_load(local.storage.home, url, args, ALL_QUESTIONS, work_dir, console))
    finally:
        DATABASES.close_all()
        shutil.rmtree(work_dir, ignore_errors=True)
        if copied and server_url and not args.keep_database:
            drop_database(server_url, copied)
        elif copied:
            result["kept_database"] = redacted(copied)
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


# --- report --------------------------------------------------------------------------------------------


def _ratio(sqlite_value: float | None, postgres_value: float | None) -> str:
    if not sqlite_value or postgres_value is None:
        return ""
    return f"{postgres_value / sqlite_value:.2f}x"


def _cell(value: object, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def print_table(result: dict[str, Any], console: Console) -> None:
    papers = result.get("papers", {})
    table = Table(
        title=f"SQLite vs PostgreSQL: {papers.get('sqlite')} papers ({result['home']}; PostgreSQL "
        f"{result['database']}, {papers.get('postgres')} papers)",
        title_justify="left",
    )
    for column in ("figure", "SQLite", "PostgreSQL", "PG / SQLite"):
        table.add_column(column, justify="left" if column == "figure" else "right")

    def latency_rows(label: str, pair: dict[str, Any]) -> None:
        for key in ("p50_ms", "p95_ms"):
            a, b = pair["sqlite"].get(key), pair["postgres"].get(key)
            table.add_row(f"{label} {key[:3]} ms", f"{a:.1f}", f"{b:.1f}", _ratio(a, b))

    search = result.get("search", {})
    for mode, label in (("hybrid", "search (hybrid)"), ("lexical", "search (lexical only)")):
        if mode in search:
            latency_rows(f"{label}, {search['questions']} q,", search[mode])
    if "ask" in result:
        latency_rows(f"ask (extractive), {result['ask']['sqlite']['n']} q,", result["ask"])
    if radar := result.get("radar"):
        for key, label, stat in (
            ("first_feed", "radar first feed", "p50_ms"),
            ("first_feed", "radar first feed", "p95_ms"),
            ("next_batch", "radar next batch", "p50_ms"),
        ):
            a, b = radar["sqlite"][key][stat], radar["postgres"][key][stat]
            table.add_row(
                f"{label} {stat[:3]} ms (n={radar['sqlite'][key]['n']})", f"{a:.1f}", f"{b:.1f}", _ratio(a, b)
            )
    if ingest := result.get("ingest"):
        a = ingest["sqlite"]["papers_per_second"]
        b = ingest["postgres"].get("papers_per_second")
        table.add_row(
            f"ingest {ingest['papers']} papers, catalog only (papers/s)",
            f"{a:.0f}",
            f"{b:.0f}" if b is not None else ingest["postgres"].get("skipped", ""),
            _ratio(a, b),
        )
    if load := result.get("load"):
        label = f"load {load['users']} users / {load['workers']} workers"
        latency_rows(f"{label}, ask", load)
        for key, fmt, ratio in (
            ("answers_per_second", "{:.2f}", True),
            ("worker_cpu_s_per_answer", "{:.2f}", True),
            ("postgres_server_cpu_s_per_answer", "{:.3f}", False),
            ("machine_cpu_s_per_answer", "{:.2f}", True),
            ("errors", "{}", False),
        ):
            a, b = load["sqlite"].get(key), load["postgres"].get(key)
            shown = key.replace("_", " ").replace("cpu s", "CPU s")
            table.add_row(f"{label}, {shown}", _cell(a, fmt), _cell(b, fmt), _ratio(a, b) if ratio else "")
    console.print(table)
    notes = []
    if search.get("hybrid", {}).get("top_k_agreement") is not None:
        notes.append(
            f"top-k ids shared by both sides: hybrid {search['hybrid']['top_k_agreement']:.0%}, "
            f"lexical {search['lexical']['top_k_agreement']:.0%}"
        )
    if load:
        notes.append(
            f"load: {load['users']} concurrent users = {load['workers']} worker processes x "
            f"{load['threads_per_worker']} threads per backend, PostgreSQL pool {load['pool_size']} per "
            f"worker; {load['rounds']} rounds per backend ({load['order']}), "
            f"{load['questions_per_user_per_round']} question per user per round; answers/s by round: "
            f"SQLite {load['sqlite']['answers_per_second_by_round']}, "
            f"PostgreSQL {load['postgres']['answers_per_second_by_round']}"
        )
    if ingest:
        notes.append(f"ingest: {ingest['what']}, batches of {ingest['batch']}")
    if copy := result.get("copy"):
        notes.append(f"copy_to_postgres: {copy['seconds']} s ({copy['copied']})")
    if server := result.get("postgres_server"):
        notes.append("PostgreSQL server: " + ", ".join(f"{k}={v}" for k, v in server.items()))
    if stages := result.get("stage_seconds"):
        notes.append("stage seconds: " + ", ".join(f"{k} {v}" for k, v in stages.items()))
    notes.append(
        f"load average {result['load_average_start']} -> {result.get('load_average_end')} "
        f"on {result['cpus']} CPUs"
    )
    for note in notes:
        console.print(note)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.postgres", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="embedded index (default: ACADEMICHUB_HOME)")
    parser.add_argument(
        "--database-url", help="an existing database holding a copy of the index's catalog (not copied again)"
    )
    parser.add_argument(
        "--server-url",
        help="a database URL on the server where bench_* databases are made (the copy, the ingest stage); "
        "default: --database-url, else ACADEMICHUB_DATABASE_URL",
    )
    parser.add_argument(
        "--questions",
        type=int,
        default=40,
        help=f"search questions (at most {len(ALL_QUESTIONS) - 1}; default 40)",
    )
    parser.add_argument("--ingest", type=int, default=2000, help="papers for the ingest stage (0 = skip)")
    parser.add_argument("--skip-load", action="store_true", help="skip the concurrent-users stage")
    parser.add_argument(
        "--users", type=int, default=20, help="concurrent users in the load stage (default 20)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes in the load stage (default 2)"
    )
    parser.add_argument(
        "--load-questions", type=int, default=1, help="questions each user asks per round (default 1)"
    )
    parser.add_argument(
        "--load-rounds", type=int, default=2, help="rounds per backend, in A B B A order (default 2)"
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=get_settings().storage.database_pool_size,
        help="PostgreSQL connections per process (default: ACADEMICHUB_DATABASE_POOL_SIZE)",
    )
    parser.add_argument("--keep-database", action="store_true", help="keep the copied bench_* database")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # a load worker process: its JSON config
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    return run_and_report(args, run, print_table)


if __name__ == "__main__":
    raise SystemExit(main())
