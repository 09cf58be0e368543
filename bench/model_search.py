"""Model-assisted search, measured: the known-item questions (the rule-made sets and the hand-written ones,
`--split` half, as bench.retrieval and bench.passages use them) ranked four ways against the configured
OpenAI-compatible endpoint (issue 29, part 2: the right paper among many):

- `hybrid`: search as it is;
- `+hypothetical`: the search of an abstract the model writes for the question, fused with the question's
  ranking by reciprocal rank (`ACADEMICHUB_LLM_HYPOTHETICAL_ABSTRACT`);
- `+rerank`: the top `--depth` papers in the order the model gives (`ACADEMICHUB_LLM_RERANK`);
- `both`: the fused ranking's top `--depth` reranked (one hypothetical abstract per question serves both).

The same functions as the answer path (assistant/compose/model_search.py, assistant/search/translated.py),
without the answer's relevance threshold (a ranking is scored, as bench.retrieval scores one). Per set and
mode: R@5 and MRR@10; per mode: the extra latency of its model calls (p50/p95, seconds) and how many calls
failed or gave an unusable reply (the search's own ranking stood for them).

    OPENAI_BASE_URL=http://127.0.0.1:8080/v1 ACADEMICHUB_MODEL=NAME \\
        python -m bench.model_search --home DIR --split test [--limit 20]

`--base-url` / `--model` override the environment; nothing runs without an endpoint.

With `--zh FILE` (zh-queries' dev.jsonl.gz) it measures the Chinese questions instead (issue 24: a model
translating the question): `hybrid` is the question searched as it is (its multilingual path), `+translation`
the model's English translation searched too and fused with it (`assistant.compose.translation`,
`assistant.search.translated`), as the answer path does for a Chinese question.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant.compose.llm import LLMClient
from assistant.compose.model_search import hypothetical_abstract, rerank, timed
from assistant.compose.translation import english_question
from assistant.core.errors import UserFacingError
from assistant.core.settings import Settings, get_settings
from assistant.engine import build_retriever
from assistant.search.hit import Hit
from assistant.search.retrieval import Retriever
from assistant.search.translated import ExtraQuery, search_fused, search_with_translation
from assistant.store.embedding import Embedder
from bench.datasets import ZH_KINDS, QuerySet, load_chinese, restrict_split
from bench.report import BenchError, emit_json
from bench.retrieval import DEFAULT_DAILY_DIR, ModeResult, known_item_sets, percentile

MODES = ("hybrid", "+hypothetical", "+rerank", "both")
ZH_MODES = ("hybrid", "+translation")
CUTOFF = 10  # rankings are scored to MRR@10


@dataclass
class Extra:
    """One mode's extra cost over all questions: seconds of model calls per question, failed calls."""

    seconds: list[float] = field(default_factory=list)
    failed: int = 0

    def summary(self) -> dict[str, float | int]:
        return {
            "extra_p50_s": round(percentile(self.seconds, 50), 3),
            "extra_p95_s": round(percentile(self.seconds, 95), 3),
            "failed_calls": self.failed,
        }


def rankings(
    retriever: Retriever,
    llm: LLMClient,
    question: str,
    depth: int,
    max_tokens: int,
    weight: float = 1.0,
    context_window: int | None = None,
) -> dict[str, tuple[list[str], float, int]]:
    """Per mode: the ranked paper ids (top 10), the seconds its model calls took, how many of them failed
    or gave an unusable reply."""
    k = max(CUTOFF, depth)
    hybrid = retriever.search(question, k)
    timings: dict[str, float] = {}
    notices: list[str] = []
    with timed(timings, "hypothetical"):
        abstract = hypothetical_abstract(llm, question, max_tokens, notices)
    extras = [ExtraQuery(abstract, relevance=False, weight=weight)] if abstract else []
    fused = search_fused(retriever, question, extras, k)
    written = (timings["hypothetical"], len(notices))  # the abstract's cost, counted in both modes using it
    results = {"hybrid": (_ids(hybrid), 0.0, 0), "+hypothetical": (_ids(fused), *written)}
    for mode, hits, (seconds, failed) in (("+rerank", hybrid, (0.0, 0)), ("both", fused, written)):
        notices = []
        with timed(timings, mode):
            order = rerank(llm, question, hits[:depth], max_tokens, notices, context_window) + hits[depth:]
        results[mode] = (_ids(order), seconds + timings[mode], failed + len(notices))
    return results


def zh_rankings(
    retriever: Retriever, llm: LLMClient, question: str, max_tokens: int, samples: list[dict[str, str]]
) -> dict[str, tuple[list[str], float, int]]:
    """A Chinese question searched as it is and with the model's English translation fused in; the first
    translations are kept in `samples` (what the model wrote)."""
    timings: dict[str, float] = {}
    notices: list[str] = []
    with timed(timings, "translation"):
        english = english_question(llm, question, max_tokens, notices)
    failed = 0 if english else 1
    if english and len(samples) < 5:
        samples.append({"question": question, "english": english})
    translated = search_with_translation(retriever, question, english, CUTOFF)
    return {
        "hybrid": (_ids(retriever.search(question, CUTOFF)), 0.0, 0),
        "+translation": (_ids(translated), timings["translation"], failed),
    }


def _ids(hits: list[Hit]) -> list[str]:
    return [h.paper.id for h in hits[:CUTOFF]]


def run(args: argparse.Namespace, console: Console, embedder: Embedder | None = None) -> dict[str, Any]:
    settings = _settings(args)
    if not settings.llm.configured:
        raise BenchError(
            "no language model is configured: set OPENAI_BASE_URL (an OpenAI-compatible /v1 endpoint, e.g. "
            "llama.cpp's llama-server) and ACADEMICHUB_MODEL, or pass --base-url and --model"
        )
    retriever = build_retriever(settings, embedder=embedder)
    if retriever.catalog.count() == 0:
        raise BenchError(f"the index at {settings.storage.home} is empty: ingest something or pass --home")
    llm = LLMClient(settings)
    sets = _question_sets(args, retriever)
    retriever.warm_up()
    llm.prepare()  # so the first question's timings are the model's, not the client library's import
    modes = ZH_MODES if args.zh else MODES
    rows: list[dict[str, Any]] = []
    overall = {mode: ModeResult() for mode in modes}
    extra = {mode: Extra() for mode in modes}
    samples: list[dict[str, str]] = []
    max_tokens, context = settings.llm.max_tokens_rewrite, settings.llm.context_window
    for query_set in sets:
        console.print(f"  {query_set.name}: {len(query_set)} questions")
        results = {mode: ModeResult() for mode in modes}
        for qid, text in query_set.queries.items():
            ranked_modes = (
                zh_rankings(retriever, llm, text, max_tokens, samples)
                if args.zh
                else rankings(retriever, llm, text, args.depth, max_tokens, args.hypothetical_weight, context)
            )
            for mode, (ranked, seconds, failed) in ranked_modes.items():
                results[mode].add(ranked, query_set.qrels[qid], seconds)
                extra[mode].seconds.append(seconds)
                extra[mode].failed += failed
        for mode, result in results.items():
            overall[mode].merge(result)
            rows.append({"set": query_set.name, "mode": mode, **_scores(result)})
    return {
        "index": str(settings.storage.home),
        "papers": retriever.catalog.count(),
        "model": llm.describe(),
        "split": args.split,
        "depth": args.depth,
        "context_window": settings.llm.context_window,
        "hypothetical_weight": args.hypothetical_weight,
        "limit": args.limit,
        "results": rows,
        "modes": [{"mode": mode, **_scores(overall[mode]), **extra[mode].summary()} for mode in modes],
        **({"translations": samples} if args.zh else {}),
    }


def _question_sets(args: argparse.Namespace, retriever: Retriever) -> list[QuerySet]:
    """The known-item sets, or with `--zh` the Chinese ones, whose target papers are indexed."""
    if args.zh:
        indexed = set(retriever.catalog.all_ids())
        sets = [restrict_split(load_chinese(args.zh, indexed, kind), args.split) for kind in ZH_KINDS]
    else:
        rule_made, written = known_item_sets(retriever, args.daily_dir, args.n, args.seed, args.split)
        sets = rule_made + written
    kept = [_limited(s, args.limit) for s in sets if s.queries]
    if not kept:
        source = args.zh or args.daily_dir
        raise BenchError(f"no question of {source} targets a paper of the index")
    return kept


def print_table(result: dict[str, Any], console: Console) -> None:
    title = (
        f"Model-assisted search, {result['split']} half, {result['papers']:,} papers, {result['model']}, "
        f"rerank depth {result['depth']} (R@5 / MRR@10)"
    )
    names = [row["mode"] for row in result["modes"]]
    table = Table("set", "n", *names, title=title, title_justify="left")
    by_set: dict[str, dict[str, dict[str, Any]]] = {}
    for row in result["results"]:
        by_set.setdefault(row["set"], {})[row["mode"]] = row
    for name, modes in by_set.items():
        cells = [f"{modes[m]['recall@5']:.3f} / {modes[m]['mrr@10']:.3f}" for m in names]
        table.add_row(name, str(modes[names[0]]["queries"]), *cells)
    console.print(table)
    totals = Table(
        "mode", "n", "R@5", "MRR@10", "extra p50 s", "extra p95 s", "failed calls", title="All sets"
    )
    for row in result["modes"]:
        totals.add_row(
            row["mode"],
            str(row["queries"]),
            f"{row['recall@5']:.3f}",
            f"{row['mrr@10']:.3f}",
            f"{row['extra_p50_s']:.2f}",
            f"{row['extra_p95_s']:.2f}",
            str(row["failed_calls"]),
        )
    console.print(totals)


def _scores(result: ModeResult) -> dict[str, float | int]:
    summary = result.summary()
    return {key: summary[key] for key in ("queries", "recall@5", "mrr@10")}


def _limited(query_set: QuerySet, limit: int | None) -> QuerySet:
    """The set's first `limit` questions (all of them without a limit)."""
    if not limit:
        return query_set
    kept = list(query_set.queries)[:limit]
    return QuerySet(
        query_set.name,
        query_set.description,
        {q: query_set.queries[q] for q in kept},
        {q: query_set.qrels[q] for q in kept},
        query_set.split,
    )


def _settings(args: argparse.Namespace) -> Settings:
    settings = get_settings()
    if args.home:
        settings = settings.replace(storage={"home": args.home})
    llm: dict[str, Any] = {}
    if args.base_url:
        llm["base_url"] = args.base_url
    if args.model:
        llm["model"] = args.model
    return settings.replace(llm=llm) if llm else settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.model_search", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="the index (default: ACADEMICHUB_HOME)")
    parser.add_argument("--daily-dir", type=Path, default=DEFAULT_DAILY_DIR, help="arXiv daily listings")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--n", type=int, default=200, help="questions per rule-made set (before the split)")
    parser.add_argument("--limit", type=int, help="at most this many questions per set (each costs 3 calls)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--depth", type=int, default=20, help="papers the model reranks (default 20)")
    parser.add_argument(
        "--hypothetical-weight",
        type=float,
        default=1.0,
        help="the hypothetical abstract's ranking's weight in the fusion (the question's is 1; the answer "
        "path uses 1)",
    )
    parser.add_argument(
        "--zh",
        type=Path,
        help="Chinese questions (zh-queries dev.jsonl.gz): measure the model's translation (see above)",
    )
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (default: OPENAI_BASE_URL)")
    parser.add_argument("--model", help="model name at the endpoint (default: ACADEMICHUB_MODEL)")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True, width=max(Console(stderr=True).width, 140))
    try:
        result = run(args, console)
    except UserFacingError as err:  # no endpoint, an empty index, no listings: one line, exit code 2
        console.print(f"[bold red]error:[/] {err}")
        return 2
    print_table(result, console)
    emit_json(result, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
