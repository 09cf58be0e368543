"""Snapshot import benchmark: arXiv's metadata snapshot layout, catalog only, then embedding a slice.

    python -m bench.snapshot             # 500,000 lines (about 1 GB); 50,000 for the flat-RSS check
    python -m bench.snapshot --lines 20000 --small 5000 --embed 200 --backend onnx

1. Writes N lines in the layout of the official snapshot (`arxiv-metadata-oai-snapshot.json`: plain .json,
   one object per line, fields id, submitter, authors, title, comments, journal-ref, doi, report-no,
   categories, license, abstract, versions, update_date, authors_parsed), built from the real June
   abstracts of ../shared/data/arxiv-daily, cycled, with unique new-style ids (1501.00001 ...), version
   dates in the id's month and categories rotated per cycle. The first `--small` lines also go to a second
   file.
2. Ingests the small file, then the big one, each with `academichub ingest --no-embed` into a fresh data
   directory, in a child process: wall time, lines/s, peak RSS of that process (`os.wait4`), catalog bytes
   per paper. A flat RSS from small to big shows that nothing held grows with the input.
3. `academichub embed --limit M` on the big index (ACADEMICHUB_EMBEDDING_BACKEND from `--backend`):
   papers/s and peak RSS; then `academichub stats` (papers still waiting) and a `search` for the title of a
   paper that has no vector yet (BM25 must find it).

The generated files are deleted at the end unless `--keep`; so are the data directories.
Figures go to stderr as a table, JSON to stdout. Machines shared with other jobs give noisy figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.core.settings import get_settings
from assistant.store.catalog import Catalog
from bench.ingest import DEFAULT_DAILY_DIR
from bench.report import BenchError, run_and_report

IDS_PER_MONTH = 20_000  # new-style ids 1501.00001 ... 1501.20000, then 1502.00001 ...
FIRST_MONTH = (2015, 1)
LICENSES = [
    "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
    "http://creativecommons.org/licenses/by/4.0/",
    None,
    "http://creativecommons.org/licenses/by-nc-sa/4.0/",
]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class Base:
    """One real June paper, the text every cycle of the generated file reuses."""

    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    comment: str | None


def load_bases(daily_dir: Path) -> list[Base]:
    """The distinct papers of the daily listings, in file order."""
    records: list[Any] = []
    for source in sorted(daily_dir.glob("*.jsonl*")):
        opener = gzip.open if source.suffix == ".gz" else open
        with opener(source, "rt", encoding="utf-8") as handle:
            for line in handle:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue  # malformed lines are the pipeline's business, not this benchmark's
    bases = bases_from_records(records)
    if not bases:
        raise BenchError(f"no readable papers in {daily_dir}")
    return bases


def bases_from_records(records: Iterable[Any]) -> list[Base]:
    """Distinct daily-listing records (id, title, summary, authors, categories, comment) as bases."""
    bases: list[Base] = []
    seen: set[str] = set()
    for record in records:
        try:
            pid, title, abstract, categories = (
                record["id"],
                record["title"],
                record["summary"],
                record["categories"],
            )
        except (KeyError, TypeError):
            continue
        if pid in seen or not (title and abstract and categories):
            continue
        seen.add(pid)
        authors = [str(a) for a in record.get("authors") or []] or ["Anonymous"]
        bases.append(Base(title, abstract, authors, list(categories), record.get("comment")))
    return bases


def synthetic_id(index: int) -> tuple[str, int, int]:
    """(new-style id, year, month) of the `index`-th generated line (0-based)."""
    months, number = divmod(index, IDS_PER_MONTH)
    year, month0 = divmod(FIRST_MONTH[1] - 1 + months, 12)
    year += FIRST_MONTH[0]
    return f"{year % 100:02d}{month0 + 1:02d}.{number + 1:05d}", year, month0 + 1


def stamp(moment: datetime) -> str:
    """The snapshot's version stamp: 'Mon, 2 Apr 2007 19:18:42 GMT' (day not zero-padded)."""
    return (
        f"{WEEKDAYS[moment.weekday()]}, {moment.day} {MONTHS[moment.month - 1]} {moment.year} "
        f"{moment:%H:%M:%S} GMT"
    )


def author_string(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def parsed_authors(names: list[str]) -> list[list[str]]:
    """`authors_parsed`: [last, first, suffix] per author."""
    return [[name.split()[-1], " ".join(name.split()[:-1]), ""] for name in names]


def snapshot_record(index: int, base: Base, cycle: int) -> dict[str, Any]:
    pid, year, month = synthetic_id(index)
    first = datetime(year, month, 1 + index % 28, (index * 7) % 24, (index * 13) % 60, (index * 17) % 60)
    versions = 1 + index % 3
    created = [first + timedelta(days=9 * n, hours=5 * n) for n in range(versions)]
    # Rotating the categories per cycle varies the primary category as well as the date.
    shift = cycle % len(base.categories)
    categories = base.categories[shift:] + base.categories[:shift]
    # The snapshot hard-wraps abstracts with two leading spaces and a trailing newline.
    abstract = "  " + "\n".join(textwrap.wrap(base.abstract, 78)) + "\n"
    return {
        "id": pid,
        "submitter": base.authors[0],
        "authors": author_string(base.authors),
        "title": "\n  ".join(textwrap.wrap(base.title, 70)),
        "comments": base.comment,
        "journal-ref": f"Phys. Rev. D {100 + index % 9}, {index % 99_999:05d} ({year})"
        if index % 5 == 0
        else None,
        "doi": f"10.1103/PhysRevD.{100 + index % 9}.{index % 99_999:06d}" if index % 5 == 0 else None,
        "report-no": None,
        "categories": " ".join(categories),
        "license": LICENSES[index % len(LICENSES)],
        "abstract": abstract,
        "versions": [{"version": f"v{n + 1}", "created": stamp(moment)} for n, moment in enumerate(created)],
        "update_date": f"{created[-1]:%Y-%m-%d}",
        "authors_parsed": parsed_authors(base.authors),
    }


def snapshot_lines(bases: list[Base], n: int) -> Iterator[str]:
    for index in range(n):
        cycle, position = divmod(index, len(bases))
        yield json.dumps(snapshot_record(index, bases[position], cycle), ensure_ascii=False) + "\n"


def write_files(bases: list[Base], n: int, small: int, big: Path, head: Path, console: Console) -> int:
    """Writes `n` lines to `big` and the first `small` of them to `head`; returns the bytes of `big`."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with progress, big.open("w", encoding="utf-8") as out, head.open("w", encoding="utf-8") as first:
        task = progress.add_task("writing snapshot lines", total=n)
        for index, line in enumerate(snapshot_lines(bases, n)):
            out.write(line)
            if index < small:
                first.write(line)
            if index % 5000 == 4999:
                progress.advance(task, 5000)
        progress.update(task, completed=n)
    return big.stat().st_size


@dataclass
class ChildRun:
    seconds: float
    peak_rss_mb: float
    result: dict[str, Any]


@dataclass(frozen=True)
class Watch:
    """A progress bar for a child's work: `count()` of `total` done, read from the outside."""

    console: Console
    description: str
    total: int
    count: Callable[[], int]


def run_cli(args: list[str], env: dict[str, str], watch: Watch | None = None) -> ChildRun:
    """`academichub ARGS --json` in a child process: its wall time, its own peak RSS (os.wait4: this child
    only, unlike RUSAGE_CHILDREN which keeps the largest child so far) and its JSON. With --json the child
    draws no progress bar, so `watch` draws one here (stderr) from what the child has stored."""
    command = [sys.executable, "-c", "from assistant.ui.cli import main; main()", *args, "--json"]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        child = subprocess.Popen(command, env=env, stdout=out, text=True)
        status, usage = _wait_watching(child.pid, watch)
        seconds = time.perf_counter() - started
        out.seek(0)
        output = out.read()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise BenchError(
            f"`academichub {' '.join(args)}` exited with code {child.returncode}: {output[-2000:]}"
        )
    try:
        result = json.loads(output)
    except json.JSONDecodeError:
        raise BenchError(f"`academichub {' '.join(args)}` printed no JSON: {output[-2000:]}") from None
    return ChildRun(seconds, usage.ru_maxrss / 1024, result)  # ru_maxrss is in KiB on Linux


def _wait_watching(pid: int, watch: Watch | None) -> tuple[int, Any]:
    """os.wait4 on the child (its exit status and resource usage), updating `watch`'s bar meanwhile."""
    if watch is None:
        _, status, usage = os.wait4(pid, 0)
        return status, usage
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=watch.console,
    )
    with progress:
        task = progress.add_task(watch.description, total=watch.total)
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                progress.update(task, completed=watch.count())
                return status, usage
            progress.update(task, completed=watch.count())
            time.sleep(1.0)


def stored_papers(home: Path, with_vectors: bool = False) -> Callable[[], int]:
    """How many papers (or papers with vectors) the child has committed to the catalog so far."""
    path = home / "catalog.sqlite3"

    def count() -> int:
        papers, embedded = Catalog.progress(path)
        return embedded if with_vectors else papers

    return count


def catalog_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("catalog.sqlite3*") if p.is_file())


def ingest_figures(
    path: Path, lines: int, home: Path, env: dict[str, str], console: Console
) -> dict[str, Any]:
    console.print(f"ingest --no-embed of {lines} lines into {home} ...")
    watch = Watch(console, f"papers stored ({lines} lines)", lines, stored_papers(home))
    run = run_cli(["ingest", "--no-embed", str(path)], {**env, "ACADEMICHUB_HOME": str(home)}, watch)
    summary = run.result
    if summary["papers_total"] != lines or summary["vectors_total"] != 0 or summary["embedded"] != 0:
        raise BenchError(f"expected {lines} papers and no vectors, got {summary}")
    size = catalog_bytes(home)
    return {
        "lines": lines,
        "seconds": round(run.seconds, 1),
        "pipeline_seconds": summary["seconds"],
        "lines_per_second": round(lines / run.seconds, 1),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "papers": summary["papers_total"],
        "pending": summary["pending_embeddings"],
        "catalog_bytes": size,
        "catalog_bytes_per_paper": round(size / lines),
    }


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    if args.lines < 1 or not 0 < args.small <= args.lines or args.embed < 0:
        raise BenchError("need --lines >= 1, 0 < --small <= --lines and --embed >= 0")
    backend = args.backend or get_settings().embedding.backend
    env = {**os.environ, "ACADEMICHUB_EMBEDDING_BACKEND": backend}
    env.pop("ACADEMICHUB_CHROMA_HOST", None)  # fresh embedded stores, never a shared server
    args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-snapshot-", dir=args.workdir))
    big, head = work / "arxiv-metadata-oai-snapshot.json", work / "snapshot-head.json"
    try:
        bases = load_bases(args.daily_dir)
        started = time.perf_counter()
        size = write_files(bases, args.lines, args.small, big, head, console)
        result: dict[str, Any] = {
            "lines": args.lines,
            "distinct_texts": len(bases),
            "file_bytes": size,
            "mean_line_bytes": round(size / args.lines),
            "generate_seconds": round(time.perf_counter() - started, 1),
            "backend": backend,
        }
        console.print(f"{args.lines} lines, {size / 1e6:.0f} MB ({size / args.lines:.0f} bytes a line)")
        result["small"] = ingest_figures(head, args.small, work / "home-small", env, console)
        shutil.rmtree(work / "home-small", ignore_errors=True)
        home = work / "home"
        result["big"] = ingest_figures(big, args.lines, home, env, console)
        result["rss_big_to_small"] = round(result["big"]["peak_rss_mb"] / result["small"]["peak_rss_mb"], 2)
        home_env = {**env, "ACADEMICHUB_HOME": str(home)}
        if args.embed:
            console.print(f"embed --limit {args.embed} ({backend} encoder) ...")
            slice_size = min(args.embed, args.lines)
            watch = Watch(console, "papers embedded", slice_size, stored_papers(home, with_vectors=True))
            embedded = run_cli(["embed", "--limit", str(args.embed)], home_env, watch)
            got = embedded.result
            if got["embedded"] != min(args.embed, args.lines) or got["vectors_total"] != got["embedded"]:
                raise BenchError(f"expected {args.embed} papers embedded, got {got}")
            result["embed"] = {
                "papers": got["embedded"],
                "seconds": round(embedded.seconds, 1),
                "encode_seconds": got["embed_seconds"],
                "papers_per_second": round(got["embedded"] / embedded.seconds, 2),
                "encode_papers_per_second": round(got["embedded"] / got["embed_seconds"], 2),
                "peak_rss_mb": round(embedded.peak_rss_mb, 1),
                "pending_after": got["pending_embeddings"],
            }
        stats = run_cli(["stats"], home_env).result
        result["stats"] = {k: stats[k] for k in ("papers", "vectors", "pending_embeddings", "problem")}
        result["search"] = search_check(bases, args.lines, home_env, console)
    finally:
        if args.keep:
            console.print(f"kept {work} (the generated files and the index)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return result


def line_of(pid: str) -> int | None:
    """The 0-based generated line of a synthetic id (the inverse of `synthetic_id`)."""
    try:
        yymm, number = pid.split(".")
        months = (2000 + int(yymm[:2]) - FIRST_MONTH[0]) * 12 + int(yymm[2:]) - FIRST_MONTH[1]
        return months * IDS_PER_MONTH + int(number) - 1
    except ValueError:
        return None


def search_check(bases: list[Base], lines: int, env: dict[str, str], console: Console) -> dict[str, Any]:
    """Search for the title of the last generated paper: its text and every copy of it (one per cycle) were
    past the embedded slice, so only BM25 can find them. Found = a hit is one of those copies."""
    target = (lines - 1) % len(bases)
    base = bases[target]
    console.print(f"search for a title without a vector: {base.title[:60]!r} ...")
    found = run_cli(["search", base.title, "--k", "5"], env)
    hits = found.result.get("results", [])
    copies = [
        (line := line_of(str(hit.get("id")))) is not None and line % len(bases) == target for hit in hits
    ]
    return {
        "query": base.title,
        "seconds_cold": round(found.seconds, 1),
        "hits": len(hits),
        "title_found_at": copies.index(True) + 1 if True in copies else None,
    }


def print_table(result: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"Snapshot import ({result['lines']} lines, catalog only; "
        f"{result['backend']} encoder for the slice)",
        title_justify="left",
        show_header=False,
    )
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column()
    table.add_row(
        "generated file",
        f"{result['file_bytes'] / 1e6:.0f} MB",
        f"{result['mean_line_bytes']} bytes a line, {result['distinct_texts']} distinct abstracts cycled",
    )
    for key in ("small", "big"):
        fig = result[key]
        table.add_row(
            f"ingest --no-embed, {fig['lines']} lines",
            f"{fig['lines_per_second']:.0f} lines/s",
            f"{fig['seconds']:.0f} s wall, peak RSS {fig['peak_rss_mb']:.0f} MB, "
            f"catalog {fig['catalog_bytes_per_paper']} bytes/paper",
        )
    table.add_row("peak RSS big / small", f"{result['rss_big_to_small']:.2f}", "flat is about 1")
    embed = result.get("embed")
    if embed:
        table.add_row(
            f"embed --limit {embed['papers']}",
            f"{embed['papers_per_second']:.1f} papers/s",
            f"{embed['seconds']:.0f} s wall (encoding {embed['encode_papers_per_second']:.1f} papers/s), "
            f"peak RSS {embed['peak_rss_mb']:.0f} MB",
        )
    stats = result["stats"]
    table.add_row(
        "stats",
        f"{stats['pending_embeddings']} pending",
        f"{stats['papers']} papers, {stats['vectors']} vectors",
    )
    search = result["search"]
    table.add_row(
        "search (title of a paper without vector)",
        f"rank {search['title_found_at']}" if search["title_found_at"] else "NOT FOUND",
        f"{search['hits']} hits, {search['seconds_cold']:.1f} s cold (model load included)",
    )
    console.print(table)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.snapshot", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--lines", type=int, default=500_000, help="snapshot lines to generate (default 500,000)"
    )
    parser.add_argument("--small", type=int, default=50_000, help="lines of the small run for the RSS check")
    parser.add_argument("--embed", type=int, default=2_000, help="papers to embed afterwards (0: none)")
    parser.add_argument(
        "--backend", choices=["torch", "onnx"], help="encoder backend (default: the configured one)"
    )
    parser.add_argument("--daily-dir", type=Path, default=DEFAULT_DAILY_DIR, help="arXiv daily listings")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()), help="where files go")
    parser.add_argument("--keep", action="store_true", help="keep the generated files and the index")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_and_report(parse_args(argv), run, print_table)


if __name__ == "__main__":
    raise SystemExit(main())
