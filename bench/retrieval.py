"""Retrieval benchmark: dense only, BM25 only and hybrid, side by side, on the same queries in one run.

    python -m bench.retrieval                       # known-item sets over the index at ACADEMICHUB_HOME
    python -m bench.retrieval --home /tmp/june-home --split test
    python -m bench.retrieval --beir path/to/scifact --no-known-item

Known-item sets are built from the papers of `--daily-dir` that are in the index (see bench/datasets.py
for how each set is made); the hand-written sets (`paraphrase-written`, `natural-written`) are read from
bench/data (or `--written NAME=FILE`), reported on the same split as the others (`--written-split`: their
dev halves took part in choosing the fusion settings, see bench/tune_fusion.py) and aggregated apart from
the rule-made sets (`written (all)` and `known-item (all)`). A BEIR folder (corpus.jsonl, queries.jsonl,
qrels/test.tsv) is indexed into a temporary directory first (the embedding model encodes ~15 documents/s
on two cores: keep it small).

Reports Recall@1/5/10, MRR@10, nDCG@10 and per-query latency p50/p95 (query encoding included, model
warm). With `--check-filters` (on by default for an existing index) it also runs filtered searches and
counts results that break the filter (must be 0). The table goes to stderr, the JSON to stdout.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, get_args

from rich.console import Console
from rich.table import Table

from assistant.core.paper import Paper
from assistant.core.settings import Settings, get_settings
from assistant.core.text import fold
from assistant.engine import build_retriever
from assistant.search.retrieval import Mode, RetrievalError, Retriever, make_filter
from assistant.store.catalog_store import CatalogStore
from assistant.store.embedding import Embedder, get_embedder
from bench.datasets import (
    WRITTEN_SETS,
    ZH_KINDS,
    DatasetError,
    KnownItemBuilder,
    QuerySet,
    load_beir,
    load_chinese,
    load_written,
    restrict_split,
)
from bench.report import emit_json
from ingest.pipeline import open_ingestor
from ingest.runs import SourceRun
from ingest.sources import read_jsonl

MODES: tuple[Mode, ...] = get_args(Mode)  # hybrid, dense, lexical
MODE_LABEL = {"dense": "dense", "lexical": "BM25", "hybrid": "hybrid"}
CUTOFFS = (1, 5, 10)
DEFAULT_DAILY_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "arxiv-daily"
DEFAULT_ZH = DEFAULT_DAILY_DIR.parent / "zh-queries" / "dev.jsonl.gz"


@dataclass
class ModeResult:
    """Metrics of one retrieval mode on one query set."""

    recall: dict[int, list[float]] = field(default_factory=lambda: {c: [] for c in CUTOFFS})
    rr: list[float] = field(default_factory=list)
    ndcg: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    errors: int = 0

    def add(self, ranked: list[str], relevant: dict[str, int], seconds: float) -> None:
        for cutoff in CUTOFFS:
            found = sum(1 for d in ranked[:cutoff] if relevant.get(d, 0) > 0)
            self.recall[cutoff].append(found / len(relevant))
        first = next((i for i, d in enumerate(ranked[:10], start=1) if relevant.get(d, 0) > 0), None)
        self.rr.append(1.0 / first if first else 0.0)
        self.ndcg.append(ndcg_at(ranked, relevant, 10))
        self.latency_ms.append(seconds * 1000.0)

    def merge(self, other: ModeResult) -> None:
        for cutoff in CUTOFFS:
            self.recall[cutoff] += other.recall[cutoff]
        self.rr += other.rr
        self.ndcg += other.ndcg
        self.latency_ms += other.latency_ms
        self.errors += other.errors

    def summary(self) -> dict[str, float | int]:
        def mean(values: list[float]) -> float:
            return round(statistics.fmean(values), 4) if values else 0.0

        return {
            "queries": len(self.rr),
            **{f"recall@{c}": mean(self.recall[c]) for c in CUTOFFS},
            "mrr@10": mean(self.rr),
            "ndcg@10": mean(self.ndcg),
            "latency_p50_ms": round(percentile(self.latency_ms, 50), 1),
            "latency_p95_ms": round(percentile(self.latency_ms, 95), 1),
            "errors": self.errors,
        }


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    gains = [relevant.get(d, 0) for d in ranked[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains) if g > 0)
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal) if g > 0)
    return dcg / idcg if idcg else 0.0


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def evaluate(
    retriever: Retriever, query_set: QuerySet, modes: tuple[Mode, ...], k: int = 10
) -> dict[str, ModeResult]:
    """Every query through every mode (modes interleaved per query, so load changes hit all modes alike)."""
    results: dict[str, ModeResult] = {mode: ModeResult() for mode in modes}
    for qid, text in query_set.queries.items():
        relevant = query_set.qrels[qid]
        for mode in modes:
            started = time.perf_counter()
            try:
                hits = retriever.search(text, k=k, mode=mode)
            except RetrievalError:
                results[mode].errors += 1
                hits = []
            elapsed = time.perf_counter() - started
            results[mode].add([h.paper.id for h in hits], relevant, elapsed)
    return results


# --- filters --------------------------------------------------------------------------------------------


@dataclass
class FilterCheck:
    searches: int = 0
    results: int = 0
    violations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"searches": self.searches, "results_checked": self.results, "violations": self.violations}


def check_filters(retriever: Retriever, queries: list[str], seed: int = 7) -> FilterCheck:
    """Filtered searches on the real index; every result must satisfy its filter exactly."""
    catalog = retriever.catalog
    rng = random.Random(seed)
    first, last = catalog.date_range()
    categories = list(catalog.known_categories())
    archives = sorted(catalog.known_archives())
    papers = list(catalog.get_papers(rng.sample(catalog.all_ids(), min(50, catalog.count()))).values())
    authors = [a for p in papers for a in p.authors if len(a) > 6]
    check = FilterCheck()
    for query in queries:
        cats = tuple(rng.sample(categories, min(2, len(categories)))) + tuple(rng.sample(archives, 1))
        since = until = None
        if first and last:
            span = (last - first).days
            since = first + timedelta(days=rng.randint(0, max(0, span // 2)))
            until = since + timedelta(days=rng.randint(0, max(1, span // 2)))
        author = None
        if authors:
            name = rng.choice(authors)
            # a fragment of the surname, in the wrong case: the filter is a folded substring match
            surname = name.split()[-1]
            author = surname[: max(4, len(surname) - 1)].upper()
        filters = [
            make_filter(categories=cats),
            make_filter(since=since, until=until),
            make_filter(author=author),
            make_filter(categories=cats[-1:], since=since, until=until),
        ]
        for flt in filters:
            try:
                hits = retriever.search(query, k=20, paper_filter=flt)
            except RetrievalError as err:
                check.violations.append(f"{query!r} with {flt}: raised {err}")
                continue
            check.searches += 1
            for hit in hits:
                check.results += 1
                problem = violation(hit.paper, flt.categories, flt.since, flt.until, flt.author)
                if problem:
                    check.violations.append(f"{hit.paper.id} for {query!r}: {problem}")
    return check


def violation(
    paper: Paper, categories: tuple[str, ...], since: date | None, until: date | None, author: str | None
) -> str | None:
    """Why `paper` breaks the filter, computed independently of the SQL that applied it."""
    if categories and not any(
        c == want or c.split(".", 1)[0] == want for c in paper.categories for want in categories
    ):
        return f"categories {paper.categories} outside {list(categories)}"
    if since and (paper.published is None or paper.published < since):
        return f"published {paper.published} before {since}"
    if until and (paper.published is None or paper.published > until):
        return f"published {paper.published} after {until}"
    if author and not any(fold(author) in fold(a) for a in paper.authors):
        return f"no author matching {author!r} in {paper.authors}"
    return None


# --- datasets into indexes ------------------------------------------------------------------------------


def daily_papers(daily_dir: Path, indexed: set[str], catalog: CatalogStore) -> list[Paper]:
    """The papers listed in `daily_dir` that are in the index, as the index stores them."""
    listed: set[str] = set()
    for path in sorted(daily_dir.glob("*.jsonl*")):
        listed.update(item.id for item in read_jsonl(path) if isinstance(item, Paper))
    return list(catalog.get_papers(sorted(listed & indexed)).values())


def known_item_sets(
    retriever: Retriever, daily_dir: Path, n: int, seed: int, split: str
) -> tuple[list[QuerySet], list[QuerySet]]:
    """The `split` half of the rule-made sets (n questions each before the split) and of the hand-written
    ones bench/data holds, over the listed papers the index holds (tune_fusion, passages)."""
    catalog = retriever.catalog
    indexed = set(catalog.all_ids())
    builder = KnownItemBuilder(daily_papers(daily_dir, indexed, catalog), seed=seed)
    rule_made = [restrict_split(query_set, split) for query_set in builder.all_sets(n)]
    written = [
        restrict_split(load_written(path, indexed, name=name), split)
        for name, path in WRITTEN_SETS.items()
        if path.exists()
    ]
    return rule_made, written


def index_corpus(corpus: list[Paper], home: Path, embedder: Embedder) -> Settings:
    settings = Settings(_env_file=None, storage={"home": home})
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        ingestor.run([SourceRun(label="BEIR corpus", items=iter(corpus), expected=len(corpus))])
    finally:
        ingestor.close()
    return settings


@dataclass
class Report:
    rows: list[dict[str, Any]] = field(default_factory=list)
    filter_checks: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, index: str, query_set: QuerySet, results: dict[str, ModeResult]) -> None:
        for mode, result in results.items():
            self.rows.append(
                {
                    "index": index,
                    "set": query_set.name,
                    "split": query_set.split,
                    "mode": mode,
                    **result.summary(),
                }
            )

    def to_dict(self) -> dict[str, Any]:
        return {"info": self.info, "results": self.rows, "filter_checks": self.filter_checks}


def print_table(report: Report, console: Console) -> None:
    table = Table(title="Retrieval benchmark", title_justify="left")
    for name in ("set", "split", "mode", "n", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10", "p50 ms", "p95 ms"):
        table.add_column(name, justify="left" if name in ("set", "split", "mode") else "right")
    previous = None
    for row in report.rows:
        if previous is not None and row["set"] != previous:
            table.add_section()
        previous = row["set"]
        table.add_row(
            row["set"],
            row["split"],
            MODE_LABEL.get(row["mode"], row["mode"]),
            str(row["queries"]),
            *(f"{row[key]:.3f}" for key in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")),
            f"{row['latency_p50_ms']:.1f}",
            f"{row['latency_p95_ms']:.1f}",
        )
    console.print(table)
    for name, check in report.filter_checks.items():
        status = (
            "[green]exact[/]" if not check["violations"] else f"[red]{len(check['violations'])} violations[/]"
        )
        console.print(
            f"filters on {name}: {check['searches']} searches, {check['results_checked']} results: {status}"
        )


# --- entry point ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.retrieval", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="index to benchmark (default: ACADEMICHUB_HOME)")
    parser.add_argument("--daily-dir", type=Path, default=DEFAULT_DAILY_DIR, help="arXiv daily listings")
    parser.add_argument(
        "--beir", type=Path, action="append", default=[], help="BEIR dataset folder (repeatable)"
    )
    parser.add_argument("--beir-split", default="test", help="qrels file name in qrels/ (default: test)")
    parser.add_argument("--no-known-item", action="store_true", help="skip the known-item sets")
    parser.add_argument(
        "--sets",
        default="sentence,comment,paraphrase-terms,paraphrase-gist,paraphrase-sentence,"
        + ",".join(WRITTEN_SETS),
    )
    parser.add_argument(
        "--written",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help=f"read a hand-written set from FILE instead of bench/data ({', '.join(WRITTEN_SETS)})",
    )
    parser.add_argument(
        "--written-split",
        choices=("dev", "test", "all"),
        default=None,
        help="split of the hand-written sets (default: --split; their dev halves were used for tuning)",
    )
    parser.add_argument(
        "--zh",
        type=Path,
        default=DEFAULT_ZH if DEFAULT_ZH.is_file() else None,
        help="Chinese questions (zh-queries dev.jsonl.gz): the zh-tldr and zh-motivation sets, on --split "
        "(the held-out half is 'test': split by paper id, fixed before tuning); targets absent from the "
        "index are left out. Default: the shared zh-queries file when present",
    )
    parser.add_argument("--no-zh", action="store_true", help="skip the Chinese sets")
    parser.add_argument("--n", type=int, default=200, help="queries per known-item set (before the split)")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--modes", default="dense,lexical,hybrid")
    parser.add_argument("--rrf-k", type=int, help="override ACADEMICHUB_RRF_K")
    parser.add_argument("--lexical-weight", type=float, help="override ACADEMICHUB_LEXICAL_WEIGHT")
    parser.add_argument("--depth", type=int, help="override the candidates per list")
    parser.add_argument("--no-filter-check", action="store_true")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    return parser.parse_args(argv)


def written_paths(overrides: list[str]) -> dict[str, Path]:
    """The hand-written sets by name: bench/data's files, with `NAME=FILE` overrides."""
    paths = dict(WRITTEN_SETS)
    for item in overrides:
        name, sep, file = item.partition("=")
        if not sep or not name.strip() or not file.strip():
            raise DatasetError(f"--written takes NAME=FILE, got {item!r}")
        paths[name.strip()] = Path(file.strip())
    return paths


def _tuned(settings: Settings, args: argparse.Namespace) -> Settings:
    update: dict[str, Any] = {}
    if args.rrf_k:
        update["rrf_k"] = args.rrf_k
    if args.depth:
        update["retrieval_depth"] = args.depth
    if args.lexical_weight is not None:
        update["lexical_weight"] = args.lexical_weight
    return settings.replace(fusion=update) if update else settings


def _warm(retriever: Retriever, queries: Iterator[str]) -> None:
    retriever.warm_up()
    for text, _ in zip(queries, range(5), strict=False):
        for mode in MODES:
            retriever.search(text, k=10, mode=mode)


def run(args: argparse.Namespace, console: Console) -> Report:
    modes = tuple(m for m in MODES if m in args.modes.split(","))
    order = {"dense": 0, "lexical": 1, "hybrid": 2}
    modes = tuple(sorted(modes, key=lambda m: order[m]))
    base = get_settings()
    settings = _tuned(base.replace(storage={"home": args.home}) if args.home else base, args)
    embedder = get_embedder(settings)
    report = Report(
        info={
            "modes": list(modes),
            "rrf_k": settings.fusion.rrf_k,
            "depth": settings.fusion.retrieval_depth,
            "lexical_weight": settings.fusion.lexical_weight,
            "lexical_confidence_boost": settings.fusion.lexical_confidence_boost,
            "lexical_coverage_threshold": settings.fusion.lexical_coverage_threshold,
            "coverage_weight": settings.fusion.coverage_weight,
            "coverage_depth": settings.fusion.coverage_depth,
            "model": embedder.name,
        }
    )

    if not args.no_known_item:
        retriever = build_retriever(settings, embedder=embedder)
        catalog = retriever.catalog
        if catalog.count() == 0:
            raise DatasetError(
                f"the index at {settings.storage.home} is empty: ingest something or pass --home"
            )
        console.print(f"building known-item sets from {args.daily_dir} ...")
        papers = daily_papers(args.daily_dir, set(catalog.all_ids()), catalog)
        if not papers:
            raise DatasetError(f"no paper of {args.daily_dir} is in the index at {settings.storage.home}")
        builder = KnownItemBuilder(papers, seed=args.seed)
        wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
        makers = {
            "sentence": builder.sentence,
            "comment": builder.comment,
            "paraphrase-terms": builder.paraphrase_terms,
            "paraphrase-gist": builder.paraphrase_gist,
            "paraphrase-sentence": builder.paraphrase_sentence,
        }
        written_files = written_paths(args.written)
        unknown = [s for s in wanted if s not in makers and s not in written_files]
        if unknown:
            raise DatasetError(f"unknown set(s) {unknown}; choose from {sorted([*makers, *written_files])}")
        sets = [restrict_split(makers[name](args.n), args.split) for name in wanted if name in makers]
        separate: list[QuerySet] = []
        indexed = {p.id for p in papers}
        for name in (n for n in wanted if n in written_files):
            path = written_files[name]
            if not path.is_file():
                console.print(f"  {name}: {path} not found, skipped")
                continue
            written_set = load_written(path, indexed, args.n, name=name)
            separate.append(restrict_split(written_set, args.written_split or args.split))
        report.info.update(
            {
                "index": str(settings.storage.home),
                "papers_in_index": catalog.count(),
                "known_item_pool": len(papers),
                "split": args.split,
                "seed": args.seed,
                "sets": {s.name: s.description for s in [*sets, *separate]},
                "written_split": args.written_split or args.split,
            }
        )
        if not sets and not separate:
            raise DatasetError("no known-item set left to run (see --sets and --written-file)")
        _warm(retriever, iter([*sets, *separate][0].queries.values()))
        overall: dict[str, ModeResult] = {mode: ModeResult() for mode in modes}
        for query_set in sets:
            console.print(f"  {query_set.name}: {len(query_set)} queries")
            results = evaluate(retriever, query_set, modes)
            report.add(str(settings.storage.home), query_set, results)
            for mode in modes:
                overall[mode].merge(results[mode])
        if sets:
            report.add(
                str(settings.storage.home),
                QuerySet("known-item (all)", "all rule-made known-item sets", {}, {}, args.split),
                overall,
            )
        written_overall: dict[str, ModeResult] = {mode: ModeResult() for mode in modes}
        for query_set in separate:
            console.print(f"  {query_set.name}: {len(query_set)} queries ({query_set.split})")
            results = evaluate(retriever, query_set, modes)
            report.add(str(settings.storage.home), query_set, results)
            for mode in modes:
                written_overall[mode].merge(results[mode])
        if len(separate) > 1:
            split = args.written_split or args.split
            everything = QuerySet("written (all)", "all hand-written sets", {}, {}, split)
            report.add(str(settings.storage.home), everything, written_overall)
        if not args.no_filter_check:
            queries = [q for s in [*sets, *separate] for q in list(s.queries.values())[:3]]
            report.filter_checks[str(settings.storage.home)] = check_filters(retriever, queries).to_dict()

    if args.zh is not None and not args.no_zh:
        _run_chinese(args, settings, embedder, modes, report, console)

    for folder in args.beir:
        dataset = load_beir(folder, args.beir_split)
        with tempfile.TemporaryDirectory(prefix="beir-index-") as tmp:
            console.print(f"indexing {len(dataset.corpus)} documents of {folder.name} ...")
            beir_settings = _tuned(index_corpus(dataset.corpus, Path(tmp), embedder), args)
            retriever = build_retriever(beir_settings, embedder=embedder)
            _warm(retriever, iter(dataset.query_set.queries.values()))
            report.add(str(folder), dataset.query_set, evaluate(retriever, dataset.query_set, modes))
            retriever.catalog.close()
    return report


def _run_chinese(
    args: argparse.Namespace,
    settings: Settings,
    embedder: Embedder,
    modes: tuple[Mode, ...],
    report: Report,
    console: Console,
) -> None:
    """The Chinese sets (tldr and motivation apart) on the index, held-out half by default."""
    retriever = build_retriever(settings, embedder=embedder)
    indexed = set(retriever.catalog.all_ids())
    for kind in ZH_KINDS:
        query_set = restrict_split(load_chinese(args.zh, indexed, kind), args.split)
        if not query_set.queries:
            console.print(f"  zh-{kind}: no target paper of {args.zh.name} is in the index, skipped")
            continue
        _warm(retriever, iter(query_set.queries.values()))
        console.print(f"  zh-{kind}: {len(query_set)} queries ({query_set.split})")
        report.add(str(settings.storage.home), query_set, evaluate(retriever, query_set, modes))
    report.info["zh"] = {"file": str(args.zh), "split_rule": "split_of(paper id): sha1(id) odd = test"}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True, width=max(Console(stderr=True).width, 132))
    try:
        report = run(args, console)
    except (DatasetError, RetrievalError) as err:
        console.print(f"[bold red]error:[/] {err}")
        return 2
    print_table(report, console)
    emit_json(report.to_dict(), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
