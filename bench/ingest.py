"""Ingest benchmark: raw encoder throughput vs the full ingest pipeline, in one run, on the same papers.

    python -m bench.ingest                  # N=300 papers of ../shared/data/arxiv-daily
    python -m bench.ingest --n 1000 --onnx  # also the int8 ONNX encoder: throughput and cosine agreement

1. Picks the first N distinct papers of the daily listings and writes them, unchanged, into copies of their
   daily files (same names, so the listing dates are the same) in a temporary folder.
2. Loads the configured encoder once (model load reported apart), warms it up, and times
   `SentenceTransformer.encode` on the papers' `embedding_text` with the ingest batch size.
3. Times the real pipeline, `open_ingestor(...).run(file_runs(...))`, into a fresh data directory, same model.
4. Times a second ingest of the unchanged files (nothing to embed: must be much faster).
5. With `--onnx`: loads the int8 ONNX encoder (exported once into the data directory's cache) and reports its
   throughput on the same texts and its mean/min cosine agreement with the default encoder.

Figures go to stderr as a table, JSON to stdout. Machines shared with other jobs give noisy figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from assistant.core.paper import Paper
from assistant.core.settings import Settings, get_settings
from assistant.store.embedding import Embedder, get_embedder
from bench.report import BenchError, run_and_report
from ingest.normalize import from_json_record
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs
from ingest.sources import listing_date_from_name

DEFAULT_DAILY_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "arxiv-daily"
RATIO_TARGET = 0.85
REINGEST_TARGET = 50.0


@dataclass
class Corpus:
    papers: list[Paper]
    files: list[Path]  # daily-layout copies holding exactly these papers' records


def pick_corpus(daily_dir: Path, n: int, out_dir: Path) -> Corpus:
    """The first `n` distinct papers of the daily files, written to same-named files in `out_dir`."""
    sources = sorted(daily_dir.glob("*.jsonl*"))
    if not sources:
        raise BenchError(f"no .jsonl or .jsonl.gz files in {daily_dir}")
    papers: list[Paper] = []
    seen: set[str] = set()
    files: list[Path] = []
    for source in sources:
        listing_date = listing_date_from_name(source)
        lines: list[str] = []
        opener = gzip.open if source.suffix == ".gz" else open
        with opener(source, "rt", encoding="utf-8") as handle:
            for line in handle:
                if len(papers) >= n:
                    break
                try:
                    paper = from_json_record(json.loads(line), listing_date)
                except (ValueError, TypeError):
                    continue  # malformed lines are the pipeline's business, not this benchmark's
                if paper.id in seen:
                    continue
                seen.add(paper.id)
                papers.append(paper)
                lines.append(line if line.endswith("\n") else line + "\n")
        if lines:
            target = out_dir / source.name
            with (gzip.open if source.suffix == ".gz" else open)(target, "wt", encoding="utf-8") as out:
                out.writelines(lines)
            files.append(target)
        if len(papers) >= n:
            break
    if len(papers) < n:
        raise BenchError(f"{daily_dir} holds only {len(papers)} distinct papers; ask for fewer with --n")
    return Corpus(papers, files)


def raw_encode(embedder: Embedder, texts: list[str], batch_size: int) -> tuple[np.ndarray, float]:
    """`SentenceTransformer.encode` itself, as the pipeline calls it (normalised, numpy), timed."""
    model = embedder.model
    started = time.perf_counter()
    vectors = model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        show_progress_bar=False,
        convert_to_numpy=True,
    )
    return np.asarray(vectors, dtype=np.float32), time.perf_counter() - started


def timed_ingest(settings: Settings, embedder: Embedder, files: list[Path]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        summary = ingestor.run(file_runs(files))
    finally:
        ingestor.close()
    return summary.to_dict(), time.perf_counter() - started


def load_timed(settings: Settings) -> tuple[Embedder, float]:
    started = time.perf_counter()
    embedder = get_embedder(settings)
    embedder.encode(["warm up the encoder", "a second, longer sentence to warm up the encoder"])
    return embedder, time.perf_counter() - started


def run(args: argparse.Namespace, console: Console, embedder: Embedder | None = None) -> dict[str, Any]:
    """The benchmark; `embedder` (the default torch encoder) is loaded here unless given."""
    base = get_settings()
    if args.n < 1:
        raise BenchError("--n must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        (work / "files").mkdir()
        corpus = pick_corpus(args.daily_dir, args.n, work / "files")
        texts = [p.embedding_text for p in corpus.papers]
        # The model cache stays where the user's is (the ONNX export is made once per data directory).
        model_settings = base.replace(embedding={"backend": "torch"})
        home_settings = model_settings.replace(storage={"home": work / "home", "chroma_host": None})
        console.print(f"{len(texts)} papers from {len(corpus.files)} daily file(s); loading the encoder ...")
        if embedder is None:
            embedder, load_seconds = load_timed(model_settings)
        else:
            load_seconds = 0.0
        batch = home_settings.embedding.batch_size

        reference, raw_seconds = raw_encode(embedder, texts, batch)
        console.print(f"raw encode: {len(texts) / raw_seconds:.1f} papers/s; full ingest ...")
        first, first_seconds = timed_ingest(home_settings, embedder, corpus.files)
        if first["embedded"] != len(texts):
            raise BenchError(
                f"the ingest embedded {first['embedded']} papers, expected {len(texts)}: {first}"
            )
        console.print(
            f"ingest: {len(texts) / first_seconds:.1f} papers/s; re-ingest of the unchanged files ..."
        )
        second, second_seconds = timed_ingest(home_settings, embedder, corpus.files)
        if second["embedded"] != 0:
            raise BenchError(f"the re-ingest embedded {second['embedded']} papers, expected 0")

        raw_rate = len(texts) / raw_seconds
        ingest_rate = len(texts) / first_seconds
        result: dict[str, Any] = {
            "papers": len(texts),
            "embed_batch_size": batch,
            "model": embedder.name,
            "model_load_seconds": round(load_seconds, 2),
            "raw_encode_seconds": round(raw_seconds, 3),
            "raw_papers_per_second": round(raw_rate, 2),
            "ingest_seconds": round(first_seconds, 3),
            "ingest_papers_per_second": round(ingest_rate, 2),
            "ingest_to_raw_ratio": round(ingest_rate / raw_rate, 3),
            "ingest_embed_seconds": first["embed_seconds"],
            "ingest_other_seconds": round(first_seconds - first["embed_seconds"], 3),
            "reingest_seconds": round(second_seconds, 3),
            "reingest_speedup": round(first_seconds / second_seconds, 1),
            "reingest_unchanged": second["unchanged"],
            "targets": {"ingest_to_raw_ratio": RATIO_TARGET, "reingest_speedup": REINGEST_TARGET},
        }
        if args.onnx:
            result["onnx"] = onnx_comparison(base, texts, reference, raw_rate, batch, console)
    return result


def onnx_comparison(
    base: Settings, texts: list[str], reference: np.ndarray, torch_rate: float, batch: int, console: Console
) -> dict[str, Any]:
    console.print("int8 ONNX encoder (exported once into the data directory's cache) ...")
    onnx, load_seconds = load_timed(base.replace(embedding={"backend": "onnx"}))
    vectors, seconds = raw_encode(onnx, texts, batch)
    cosines = np.sum(vectors * reference, axis=1)
    rate = len(texts) / seconds
    return {
        "model_load_seconds": round(load_seconds, 2),
        "encode_seconds": round(seconds, 3),
        "papers_per_second": round(rate, 2),
        "speedup_vs_torch": round(rate / torch_rate, 2),
        "mean_cosine_to_torch": round(float(cosines.mean()), 4),
        "min_cosine_to_torch": round(float(cosines.min()), 4),
        "targets": {"speedup_vs_torch": 2.0, "mean_cosine_to_torch": 0.98},
    }


def print_table(result: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"Ingest benchmark ({result['papers']} papers)", title_justify="left", show_header=False
    )
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column()
    table.add_row("model load + warm-up", f"{result['model_load_seconds']:.1f} s", "")
    table.add_row(
        "raw SentenceTransformer.encode",
        f"{result['raw_papers_per_second']:.1f} papers/s",
        f"{result['raw_encode_seconds']:.1f} s",
    )
    table.add_row(
        "full ingest (read, catalog, encode, Chroma)",
        f"{result['ingest_papers_per_second']:.1f} papers/s",
        f"{result['ingest_seconds']:.1f} s (encode {result['ingest_embed_seconds']:.1f} s, "
        f"other {result['ingest_other_seconds']:.1f} s)",
    )
    table.add_row("ingest / raw", f"{result['ingest_to_raw_ratio']:.3f}", f"target >= {RATIO_TARGET}")
    table.add_row(
        "re-ingest, unchanged files",
        f"{result['reingest_seconds']:.2f} s",
        f"{result['reingest_speedup']:.0f}x faster than the first (target >= {REINGEST_TARGET:.0f}x)",
    )
    onnx = result.get("onnx")
    if onnx:
        table.add_row(
            "int8 ONNX encode",
            f"{onnx['papers_per_second']:.1f} papers/s",
            f"{onnx['speedup_vs_torch']:.2f}x the default (target >= 2x)",
        )
        table.add_row(
            "int8 ONNX cosine to default",
            f"{onnx['mean_cosine_to_torch']:.4f}",
            f"min {onnx['min_cosine_to_torch']:.4f} (target mean >= 0.98)",
        )
    console.print(table)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="papers to encode and ingest (default 300)")
    parser.add_argument("--daily-dir", type=Path, default=DEFAULT_DAILY_DIR, help="arXiv daily listings")
    parser.add_argument("--onnx", action="store_true", help="also measure the int8 ONNX encoder")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_and_report(parse_args(argv), run, print_table)


if __name__ == "__main__":
    raise SystemExit(main())
