"""Grid search of the fusion settings (RRF k, BM25 weight and confidence boost, depth) on the `dev` split.

Two families of known-item questions weigh equally: the rule-made sets (sentences and terms lifted from the
abstract, where BM25 is nearly perfect) and the hand-written paraphrases (bench/data, worded unlike the
paper, where dense retrieval matters). Settings are ranked by the mean of the two families' Recall@5.

    python -m bench.tune_fusion --home /tmp/june-home

Fetches each query's dense and BM25 lists once (deepest depth), then fuses them offline for every setting.
Report the chosen setting's figures from `python -m bench.retrieval --split test`, never from this run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant.retrieval import Retriever, fuse
from bench.datasets import WRITTEN_PARAPHRASES, KnownItemBuilder, load_written, restrict_split
from bench.retrieval import DEFAULT_DAILY_DIR, daily_papers
from ingest.catalog import PaperFilter
from ingest.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tune_fusion", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--daily-dir", type=Path, default=DEFAULT_DAILY_DIR)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    settings = get_settings()
    if args.home:
        settings = settings.model_copy(update={"home": args.home})
    retriever = Retriever(settings)
    catalog = retriever.catalog
    builder = KnownItemBuilder(daily_papers(args.daily_dir, set(catalog.all_ids()), catalog), seed=args.seed)
    sets = [restrict_split(s, "dev") for s in builder.all_sets(args.n)]
    if WRITTEN_PARAPHRASES.exists():
        sets.append(restrict_split(load_written(WRITTEN_PARAPHRASES, set(catalog.all_ids())), "dev"))
    depths, ks, weights, boosts = (
        (50, 100),
        (10, 30, 60, 100),
        (0.5, 0.75, 1.0, 1.5),
        (0.0, 5.0, 10.0, 20.0, 40.0),
    )
    lists = []
    for query_set in sets:
        for qid, text in query_set.queries.items():
            found = retriever.candidates(text, max(depths), PaperFilter())
            assert found is not None
            (wanted,) = query_set.qrels[qid]
            lists.append((query_set.name, wanted, found.dense, found.lexical))
    console.print(f"{len(lists)} dev queries")
    rows = []
    for depth, rrf_k, weight, boost in itertools.product(depths, ks, weights, boosts):
        r5 = rr = 0.0
        per_set: dict[str, list[float]] = {}
        for name, wanted, dense, lexical in lists:
            fused = fuse(dense[:depth], lexical[:depth], rrf_k, weight, boost)
            ranked = sorted(fused, key=lambda d: -fused[d])[:10]
            rank = ranked.index(wanted) + 1 if wanted in ranked else None
            hit5 = float(rank is not None and rank <= 5)
            r5 += hit5
            rr += 1.0 / rank if rank else 0.0
            per_set.setdefault(name, []).append(hit5)
        worst = min(sum(v) / len(v) for v in per_set.values())
        written = per_set.get("paraphrase-written", [])
        rule_made = [h for name, hits in per_set.items() if name != "paraphrase-written" for h in hits]
        families = [sum(f) / len(f) for f in (written, rule_made) if f]
        rows.append(
            {
                "depth": depth,
                "rrf_k": rrf_k,
                "lexical_weight": weight,
                "boost": boost,
                "recall@5": r5 / len(lists),
                "mrr@10": rr / len(lists),
                "worst_set_recall@5": worst,
                "family_mean_recall@5": sum(families) / len(families),
            }
        )
    for label, use_dense in (("dense only", True), ("BM25 only", False)):
        ranks = []
        for _name, wanted, dense, lexical in lists:
            ranked = [d for d, _ in (dense if use_dense else lexical)][:10]
            ranks.append(ranked.index(wanted) + 1 if wanted in ranked else None)
        recall5 = sum(1 for r in ranks if r is not None and r <= 5) / len(lists)
        mrr = sum(1.0 / r for r in ranks if r) / len(lists)
        console.print(f"{label}: R@5 {recall5:.3f}  MRR@10 {mrr:.3f}")
    rows.sort(key=lambda r: (-r["family_mean_recall@5"], -r["mrr@10"]))
    table = Table(
        "depth",
        "rrf_k",
        "BM25 weight",
        "boost",
        "R@5",
        "MRR@10",
        "worst set R@5",
        "family mean R@5",
        title="dev split, best first",
    )
    for row in rows[:15]:
        table.add_row(*(f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in row))
    console.print(table)
    sys.stdout.write(json.dumps(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
