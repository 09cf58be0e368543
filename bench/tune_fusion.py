"""Grid search of the fusion settings (assistant.search.retrieval.FusionParams) on the `dev` split.

Question families weigh equally: the rule-made sets (sentences and terms lifted from the abstract, where
BM25 is nearly perfect) and each hand-written set (bench/data: questions in other words than the paper,
where dense retrieval matters). Settings are ranked by the families' mean Recall@5, then mean MRR@10.

    python -m bench.tune_fusion --home /tmp/june-home

Fetches each query's dense and BM25 lists (and how every listed paper holds the query's words) once, then
fuses them offline for every setting. Report the chosen setting's figures from
`python -m bench.retrieval --split test`, never from this run.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

from rich.console import Console
from rich.table import Table

from assistant.core.settings import get_settings
from assistant.engine import build_retriever
from assistant.search.retrieval import Candidates, FusionParams, Retriever, top_ids
from assistant.store.filter import PaperFilter
from bench.report import emit_json
from bench.retrieval import DEFAULT_DAILY_DIR, ModeResult, known_item_sets

RULE_MADE = "rule-made"
TUNED = {  # FusionParams field -> table header
    "rrf_k": "rrf k",
    "lexical_weight": "BM25 w",
    "confidence_boost": "boost",
    "coverage_threshold": "cov. thr",
    "coverage_weight": "vote w",
    "coverage_depth": "vote depth",
}
RRF_KS = (10, 20, 30)
LEXICAL_WEIGHTS = (0.5, 0.75, 1.0)
CONFIDENCE_BOOSTS = (5.0, 20.0)
COVERAGE_THRESHOLDS = (0.6, 0.8, 1.0)  # 1.0 is off
COVERAGE_VOTES = (
    (0.0, 30),
    (0.5, 20),
    (0.5, 30),
    (0.5, 50),
    (1.0, 20),
    (1.0, 30),
    (1.0, 50),
)  # (weight, depth)


@dataclasses.dataclass
class Question:
    family: str
    wanted: str
    found: Candidates


def grid() -> list[FusionParams]:
    axes = (RRF_KS, LEXICAL_WEIGHTS, CONFIDENCE_BOOSTS, COVERAGE_THRESHOLDS, COVERAGE_VOTES)
    return [
        FusionParams(k, weight, boost, threshold, coverage_weight=vote, coverage_depth=depth)
        for k, weight, boost, threshold, (vote, depth) in itertools.product(*axes)
    ]


def family_scores(ranked: list[tuple[str, str, list[str]]]) -> dict[str, tuple[float, float]]:
    """Recall@5 and MRR@10 per question family, from (family, wanted paper, ranking) triples."""
    results: dict[str, ModeResult] = {}
    for family, wanted, ranking in ranked:
        results.setdefault(family, ModeResult()).add(ranking, {wanted: 1}, 0.0)
    summaries = {family: result.summary() for family, result in results.items()}
    return {family: (float(s["recall@5"]), float(s["mrr@10"])) for family, s in summaries.items()}


def score_setting(
    retriever: Retriever, questions: list[Question], params: FusionParams
) -> dict[str, tuple[float, float]]:
    """Rank every question as search does with `params` (its papers' word matches are already known, so
    no question goes back to the index)."""
    ranked = []
    for question in questions:
        fused = retriever.rank(question.found, params)
        ranked.append((question.family, question.wanted, top_ids(fused, 10)))
    return family_scores(ranked)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tune_fusion", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--daily-dir", type=Path, default=DEFAULT_DAILY_DIR)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    console = Console(stderr=True, width=max(Console(stderr=True).width, 160))
    settings = get_settings()
    if args.home:
        settings = settings.replace(storage={"home": args.home})
    retriever = build_retriever(settings)
    catalog = retriever.catalog
    rule_made, written = known_item_sets(retriever, args.daily_dir, args.n, args.seed, "dev")
    families = [(RULE_MADE, s) for s in rule_made] + [(s.name, s) for s in written]
    questions = []
    for family, query_set in families:
        for qid, text in query_set.queries.items():
            found = retriever.candidates(text, settings.fusion.retrieval_depth, PaperFilter())
            assert found is not None
            # every paper any setting's head can hold: the coverage vote then runs offline
            both = [d for d, _ in found.dense] + [d for d, _ in found.lexical]
            assert found.terms is not None
            found.matches.update(catalog.term_matches(found.terms, both))
            (wanted,) = query_set.qrels[qid]
            questions.append(Question(family, wanted, found))
    console.print(f"{len(questions)} dev questions")
    for label, pick in (("dense only", "dense"), ("BM25 only", "lexical")):
        lists = [(q.family, q.wanted, [d for d, _ in getattr(q.found, pick)]) for q in questions]
        console.print(f"{label}: " + _describe(family_scores(lists)))
    rows = []
    for params in grid():
        scores = score_setting(retriever, questions, params)
        rows.append(
            {
                **dataclasses.asdict(params),
                "family_mean_recall@5": sum(r for r, _ in scores.values()) / len(scores),
                "family_mean_mrr@10": sum(m for _, m in scores.values()) / len(scores),
                "families": scores,
            }
        )
    rows.sort(key=lambda r: (-r["family_mean_recall@5"], -r["family_mean_mrr@10"]))
    family_names = list(rows[0]["families"])
    table = Table(*TUNED.values(), "mean R@5", "mean MRR", *(f"{f} R@5/MRR" for f in family_names))
    table.title = "dev split, best first"
    for row in rows[:15]:
        table.add_row(
            *(str(row[name]) for name in TUNED),
            f"{row['family_mean_recall@5']:.3f}",
            f"{row['family_mean_mrr@10']:.3f}",
            *(f"{row['families'][f][0]:.3f}/{row['families'][f][1]:.3f}" for f in family_names),
        )
    console.print(table)
    emit_json(rows, None)
    return 0


def _describe(scores: dict[str, tuple[float, float]]) -> str:
    return "  ".join(f"{family} {r5:.3f}/{mrr:.3f}" for family, (r5, mrr) in scores.items())


if __name__ == "__main__":
    raise SystemExit(main())
