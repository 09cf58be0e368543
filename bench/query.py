"""Query benchmark: warm latency (p50/p95) and peak memory of search, ask (extractive) and brief, on an index
and on a 10% subset of it side by side; plus the cold start of `academichub serve` until its page answers.

    python -m bench.query                        # the index at ACADEMICHUB_HOME
    python -m bench.query --home /tmp/june-home --no-serve

"Warm" means the process, the model and the stores are loaded (one warm-up call per operation with a
question not used for timing); each timed question is asked once, so the answer's sentence cache only helps
where papers repeat across questions, as in real use. Peak RSS is the process's high-water mark while the
operation ran (reset before each, via /proc/self/clear_refs; the model and the index are part of it), so it
is the memory an app worker needs for that operation. The subset (every 10th paper, with the very same
vectors) is built once under --work-dir and reused while the index is unchanged.

The table goes to stderr, the JSON to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from assistant.compose.answer import Answerer
from assistant.compose.briefing import Briefer
from assistant.core.settings import Settings, get_settings
from assistant.engine import build_retriever
from assistant.store.catalog import Catalog
from assistant.store.embedding import Embedder, get_embedder
from assistant.store.vectors import VectorIndex
from bench.report import BenchError, run_and_report

# Questions a user might ask of an arXiv corpus, across fields. The first of each list warms up.
QUESTIONS = (
    "warm-up: how do transformers handle long documents?",
    "How can large language models be made to forget specific training data?",
    "What methods detect hallucinations in language model outputs?",
    "Which approaches decode EEG signals with deep learning?",
    "How are graph neural networks used for molecule property prediction?",
    "What are recent results on quantum error correction codes?",
    "How do diffusion models generate images from text?",
    "Which techniques make reinforcement learning sample efficient?",
    "How is climate model output downscaled with machine learning?",
    "What are methods for protein structure prediction?",
    "How can federated learning protect user privacy?",
    "Which benchmarks evaluate code generation by language models?",
    "How do robots learn manipulation skills from demonstrations?",
    "What are efficient attention mechanisms for long sequences?",
    "How is uncertainty quantified in neural network predictions?",
    "Which methods explain the decisions of image classifiers?",
    "How are time series forecast with foundation models?",
)
BRIEF_TOPICS = (
    "warm-up: speech recognition",
    "machine unlearning",
    "brain-computer interfaces",
    "graph neural networks",
    "quantum machine learning",
    "diffusion models",
)
SEARCH_TARGET_MS = 100.0
ASK_TARGET_MS = 1000.0
SERVE_TARGET_S = 30.0
RSS_TARGET_MB = 2048.0


# --- memory --------------------------------------------------------------------------------------------


def status_kb(pid: int | str, field: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """Peak RSS since the last reset (VmHWM), else since the process started (getrusage)."""
    hwm = status_kb("self", "VmHWM")
    if hwm is not None:
        return hwm / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --- latency -------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return float(np.percentile(np.asarray(ordered), pct))


def timed_series(operation: Callable[[str], object], inputs: Sequence[str]) -> dict[str, Any]:
    """Warm up with inputs[0], then time each of inputs[1:] once; peak RSS over the timed calls."""
    operation(inputs[0])
    reset = reset_peak_rss()
    latencies = []
    for text in inputs[1:]:
        started = time.perf_counter()
        operation(text)
        latencies.append((time.perf_counter() - started) * 1000)
    return {
        "n": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "peak_rss_mb": round(peak_rss_mb(), 0),
        "peak_rss_scope": "operation" if reset else "process",
    }


def bench_index(
    settings: Settings, embedder: Embedder, rounds: int, console: Console, limit: int | None = None
) -> dict[str, Any]:
    """search / ask / brief on one index, each timed on `limit` questions (default: all) after a warm-up."""
    retriever = build_retriever(settings, embedder=embedder)
    papers = retriever.catalog.count()
    if papers == 0:
        raise BenchError(f"the index at {settings.storage.home} is empty: ingest something or pass --home")
    retriever.warm_up()
    results: dict[str, Any] = {"home": str(settings.storage.home), "papers": papers}
    asked = list(QUESTIONS[: (limit + 1) if limit else None])
    topics = list(BRIEF_TOPICS[: (limit + 1) if limit else None])
    questions = asked[:1] + asked[1:] * max(1, rounds)
    console.print(f"  search ({papers} papers) ...")
    results["search"] = timed_series(lambda q: retriever.search(q, k=settings.fusion.default_k), questions)

    answerer = Answerer(settings, retriever, llm=None)
    console.print("  ask (extractive) ...")
    results["ask"] = timed_series(lambda q: answerer.answer(q, use_llm=False), asked)
    briefer = Briefer(settings, retriever, llm=None)
    console.print("  brief (extractive) ...")
    results["brief"] = timed_series(lambda t: briefer.brief(t, use_llm=False), topics)
    retriever.catalog.close()
    return results


# --- the 10% subset ------------------------------------------------------------------------------------


def subset_settings(source: Settings, work_dir: Path, fraction: float) -> Settings:
    """An index holding every 1/fraction-th paper of `source` with its stored vector (built once)."""
    catalog = Catalog(source.storage.catalog_path)
    try:
        ids = catalog.all_ids()
        step = max(1, round(1 / fraction))
        chosen = ids[::step]
        stamp = {
            "source": str(source.storage.home.resolve()),
            "source_papers": len(ids),
            "papers": len(chosen),
        }
        home = work_dir / f"subset-{step}-{hashlib.sha1(str(stamp['source']).encode()).hexdigest()[:8]}"
        target = source.replace(storage={"home": home, "chroma_host": None})
        marker = home / "subset.json"
        if marker.is_file() and json.loads(marker.read_text()) == stamp:
            return target
        if home.exists():
            shutil.rmtree(home)
        papers = catalog.get_papers(chosen)
    finally:
        catalog.close()
    source_vectors = VectorIndex(source)
    target_catalog = Catalog(target.storage.catalog_path)
    target_vectors = VectorIndex(target)
    try:
        for start in range(0, len(chosen), 500):
            chunk = [pid for pid in chosen[start : start + 500] if pid in papers]
            vectors = source_vectors.vectors_of(chunk)
            batch = [papers[pid] for pid in chunk if pid in vectors]
            # The pipeline's write order: catalog rows, vectors, then the rows marked embedded.
            target_catalog.upsert(batch)
            target_vectors.upsert(batch, np.asarray([vectors[p.id] for p in batch], dtype=np.float32))
            target_catalog.mark_embedded({p.id: p.content_hash for p in batch})
    finally:
        target_catalog.close()
    marker.write_text(json.dumps(stamp))
    return target


# --- serve cold start ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_cold_start(
    settings: Settings, timeout: float, console: Console, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Start `academichub serve` on a free local port; time until GET / answers 200; its RSS then. `env`:
    the server's whole environment (default: this one, with ACADEMICHUB_HOME = the index's)."""
    exe = Path(sys.executable).with_name("academichub")
    if not exe.exists():
        return {"available": False, "reason": f"{exe} not found (run `make install`)"}
    port = free_port()
    env = env if env is not None else {**os.environ, "ACADEMICHUB_HOME": str(settings.storage.home)}
    console.print(f"  academichub serve on 127.0.0.1:{port} ...")
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready: float | None = None
    try:
        while time.perf_counter() - started < timeout and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        ready = time.perf_counter() - started
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        if ready is not None:
            time.sleep(3.0)  # the app loads the model at start-up; let it settle before reading memory
        rss = status_kb(process.pid, "VmRSS")
        hwm = status_kb(process.pid, "VmHWM")
    finally:
        process.terminate()
        try:
            _, errors = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            _, errors = process.communicate()
    if ready is None:
        tail = (errors or "").strip().splitlines()[-3:]
        return {
            "available": True,
            "ready_seconds": None,
            "error": " | ".join(tail) or f"not ready in {timeout} s",
        }
    return {
        "available": True,
        "ready_seconds": round(ready, 2),
        "rss_mb": round(rss / 1024, 0) if rss else None,
        "peak_rss_mb": round(hwm / 1024, 0) if hwm else None,
    }


# --- report --------------------------------------------------------------------------------------------


def print_table(result: dict[str, Any], console: Console) -> None:
    full, subset = result["full"], result.get("subset")
    title = f"Query benchmark (warm; MB = peak RSS): {full['papers']} papers" + (
        f" vs a subset of {subset['papers']}" if subset else ""
    )
    table = Table(title=title, title_justify="left")
    table.add_column("op")
    for label in ("full", "10%") if subset else ("full",):
        for name in ("p50 ms", "p95 ms", "MB"):
            table.add_column(f"{label} {name}", justify="right")
    if subset:
        table.add_column("p50 ratio", justify="right")
    for op in ("search", "ask", "brief"):
        if op not in full:
            continue
        row = [op, *(f"{full[op][k]:.0f}" for k in ("p50_ms", "p95_ms", "peak_rss_mb"))]
        if subset:
            row += [f"{subset[op][k]:.0f}" for k in ("p50_ms", "p95_ms", "peak_rss_mb")]
            row.append(f"{full[op]['p50_ms'] / max(subset[op]['p50_ms'], 1e-9):.2f}x")
        table.add_row(*row)
    console.print(table)
    serve = result.get("serve")
    if serve:
        if not serve.get("available"):
            console.print(f"serve: not measured ({serve['reason']})")
        elif serve.get("ready_seconds") is None:
            console.print(f"serve: [red]did not answer[/] ({serve['error']})")
        else:
            console.print(
                f"serve cold start: page answered after {serve['ready_seconds']:.1f} s "
                f"(target <= {SERVE_TARGET_S:.0f} s); RSS {serve['rss_mb']:.0f} MB, "
                f"peak {serve['peak_rss_mb']:.0f} MB (target <= {RSS_TARGET_MB:.0f} MB)"
            )


def run(args: argparse.Namespace, console: Console, embedder: Embedder | None = None) -> dict[str, Any]:
    """The benchmark; `embedder` (the index's encoder) is loaded here unless given."""
    base = get_settings()
    settings = base.replace(storage={"home": args.home}) if args.home else base
    if not settings.storage.catalog_path.is_file():
        raise BenchError(f"no index at {settings.storage.home}: ingest something or pass --home")
    embedder = embedder or get_embedder(settings)
    embedder.encode_query("load the model before timing anything")
    result: dict[str, Any] = {
        "targets": {
            "search_p50_ms": SEARCH_TARGET_MS,
            "ask_p50_ms": ASK_TARGET_MS,
            "serve_ready_s": SERVE_TARGET_S,
            "rss_mb": RSS_TARGET_MB,
        },
        "embedding_backend": settings.embedding.backend,
    }
    if args.fraction > 0:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        console.print(f"subset index ({args.fraction:.0%} of {settings.storage.home}) ...")
        sub = subset_settings(settings, args.work_dir, args.fraction)
        # The smaller index first, so its memory figures carry nothing of the larger one.
        result["subset"] = bench_index(sub, embedder, args.rounds, console, args.questions)
    console.print(f"full index {settings.storage.home} ...")
    result["full"] = bench_index(settings, embedder, args.rounds, console, args.questions)
    if not args.no_serve:
        result["serve"] = serve_cold_start(settings, args.serve_timeout, console)
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.query", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="index to benchmark (default: ACADEMICHUB_HOME)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="passes over the questions for search (default 3)"
    )
    parser.add_argument("--questions", type=int, help="time only the first N questions/topics (quick runs)")
    parser.add_argument(
        "--fraction", type=float, default=0.1, help="subset size (0 = no subset; default 0.1)"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "academichub-bench"
    )
    parser.add_argument("--no-serve", action="store_true", help="skip the `academichub serve` cold start")
    parser.add_argument("--serve-timeout", type=float, default=180.0)
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_and_report(parse_args(argv), run, print_table)


if __name__ == "__main__":
    raise SystemExit(main())
