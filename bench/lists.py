"""List questions: does "which papers use diffusion models?" get every paper on the topic, and only those?

    python -m bench.lists --home /tmp/june-home      # the June index
    academichub bench lists --home ~/.local/share/academichub   # the bundled sample

Gold sets: `bench/data/lists.json` (how they were made: bench/data/README.md). Each question has its
`relevant` papers of the June corpus (a paper that names the topic in its title, unless it uses the words in
another sense; one that names it only in its abstract, judged by reading), `not_relevant` ones (the same
words in another sense, or named only in passing: must not be listed) and `borderline` ones (not scored
either way). On an index holding only some of the June papers (the bundled sample) the gold set is what the
index holds; a question's own filter (a date, a category) narrows it, read from the catalog.

Per question and overall (micro: pooled counts; macro: the mean of the questions):
- recall: relevant papers listed / relevant papers the index holds within the question's filter;
- precision: relevant papers listed / papers listed that are not borderline;
- title recall: of the relevant papers naming the topic in their title (these must be found);
- other-sense listed: `not_relevant` papers listed;
- ms: the time to find the list (catalog, vectors, model warm).

Targets on June: recall >= 0.95 and precision >= 0.90 overall. The table goes to stderr, the JSON to stdout.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant.compose.list_answer import ListAnswers
from assistant.core.errors import UserFacingError
from assistant.core.settings import get_settings
from assistant.engine import build_retriever
from assistant.search.lists import list_question
from assistant.store.embedding import Embedder
from assistant.store.filter import PaperFilter
from bench.report import run_and_report

GOLD_PATH = Path(__file__).parent / "data" / "lists.json"
MIN_RELEVANT = 1  # a question whose gold set the index does not hold is left out (said in the table)


def load_gold(path: Path = GOLD_PATH) -> list[dict[str, Any]]:
    """The hand-judged list questions."""
    questions: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return questions


def score(found: list[str], question: dict[str, Any], held: set[str]) -> dict[str, Any]:
    """Recall and precision of one list against its gold set, restricted to the papers `held` (in the index
    and within the question's filter)."""
    relevant = set(question["relevant"]) & held
    titled = set(question["in_title"]) & held
    border = set(question["borderline"])
    wrong = set(question["not_relevant"])
    listed = set(found)
    scored = listed - border
    hits = listed & relevant
    return {
        "id": question["id"],
        "question": question["question"],
        "relevant": len(relevant),
        "listed": len(listed),
        "hits": len(hits),
        "scored_listed": len(scored),
        "recall": len(hits) / len(relevant) if relevant else None,
        "precision": len(hits) / len(scored) if scored else (1.0 if not relevant else 0.0),
        "title_recall": len(listed & titled) / len(titled) if titled else None,
        "other_sense_listed": sorted(listed & wrong),
        "missed": sorted(relevant - listed),
        "extra": sorted(scored - relevant),
    }


def run(args: argparse.Namespace, console: Console, embedder: Embedder | None = None) -> dict[str, Any]:
    base = get_settings()
    settings = base if args.home is None else base.replace(storage={"home": args.home})
    if not settings.storage.catalog_path.is_file():
        raise UserFacingError(f"no index at {settings.storage.home}: pass --home")
    retriever = build_retriever(settings, embedder=embedder)
    retriever.warm_up()
    lists = ListAnswers(retriever)
    catalog = retriever.catalog
    every = set(catalog.all_ids())
    rows = []
    skipped = []
    if args.language == "zh" and retriever.multilingual is None:
        raise UserFacingError(f"the index at {settings.storage.home} has no multilingual (e5) vectors")
    for question in load_gold(args.gold):
        text = question["question_zh" if args.language == "zh" else "question"]
        asked = list_question(text, lists.newest_day())
        if asked is None:
            raise UserFacingError(f"not read as a list question: {text!r}")
        flt = asked.applied_to(PaperFilter())
        held = set(catalog.filter_ids(flt)) if flt.active else every
        if len(set(question["relevant"]) & held) < MIN_RELEVANT:
            skipped.append(question["id"])
            continue
        lists.listing(text, PaperFilter(), None)  # the first call warms what it reads
        started = time.perf_counter()
        listing = lists.listing(text, PaperFilter(), None)  # timed: warm
        elapsed = (time.perf_counter() - started) * 1000
        # A Chinese topic no English name was found for is answered as an ordinary question: nothing listed.
        row = score([h.paper.id for h in listing.found.members] if listing else [], question, held)
        row["ms"] = round(elapsed, 1)
        row["topic"] = listing.found.topic if listing else None
        if args.language == "zh":
            row["question"] = text
        rows.append(row)
    return {"home": str(settings.storage.home), "papers": len(every), "questions": rows, "skipped": skipped,
            "overall": overall(rows)}  # fmt: skip


def overall(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled (micro) and mean (macro) recall and precision."""
    relevant = sum(r["relevant"] for r in rows)
    hits = sum(r["hits"] for r in rows)
    scored = sum(r["scored_listed"] for r in rows)
    recalls = [r["recall"] for r in rows if r["recall"] is not None]
    return {
        "recall": hits / relevant if relevant else None,
        "precision": hits / scored if scored else None,
        "macro_recall": sum(recalls) / len(recalls) if recalls else None,
        "macro_precision": sum(r["precision"] for r in rows) / len(rows) if rows else None,
        "other_sense_listed": sum(len(r["other_sense_listed"]) for r in rows),
        "questions": len(rows),
        "median_ms": sorted(r["ms"] for r in rows)[len(rows) // 2] if rows else None,
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_table(result: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"List questions on {result['home']} ({result['papers']} papers)", title_justify="left"
    )
    for name in (
        "question",
        "matched as",
        "relevant",
        "listed",
        "recall",
        "precision",
        "title recall",
        "other sense",
        "ms",
    ):
        table.add_column(name, justify="left" if name.startswith("list") else "right")
    for row in result["questions"]:
        table.add_row(
            row["id"],
            row["topic"] or "(none)",
            str(row["relevant"]),
            str(row["listed"]),
            _fmt(row["recall"]),
            _fmt(row["precision"]),
            _fmt(row["title_recall"]),
            str(len(row["other_sense_listed"])),
            f"{row['ms']:.0f}",
        )
    total = result["overall"]
    table.add_row(
        "overall (pooled; mean)",
        "",
        str(sum(r["relevant"] for r in result["questions"])),
        str(sum(r["listed"] for r in result["questions"])),
        f"{_fmt(total['recall'])} ({_fmt(total['macro_recall'])})",
        f"{_fmt(total['precision'])} ({_fmt(total['macro_precision'])})",
        "",
        str(total["other_sense_listed"]),
        f"{total['median_ms'] or 0:.0f}",
    )
    console.print(table)
    if result["skipped"]:
        console.print(f"left out (the index holds none of their papers): {', '.join(result['skipped'])}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.lists", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="the index (default: ACADEMICHUB_HOME)")
    parser.add_argument("--gold", type=Path, default=GOLD_PATH, help="the list questions (JSON)")
    parser.add_argument(
        "--language",
        choices=("en", "zh"),
        default="en",
        help="ask each question in English or in Chinese (zh: needs the multilingual index)",
    )
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_and_report(parse_args(argv), run, print_table)


if __name__ == "__main__":
    raise SystemExit(main())
