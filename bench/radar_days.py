r"""The radar over the June listings, day by day: ingest each daily file in date order, visit each topic, page
with "another batch" until exhausted, and check every shown paper was new that day, matches the topic, and
never repeats. Every feed call (first page and each next batch) is timed against the 1 s target.

    python -m bench.radar_days --home /tmp/radar-june [--backend onnx]
    python -m bench.radar_days --home /tmp/radar-74k --base-home /work/indexes/scale-74k-months \
        --backend onnx --output radar-74k.json

Without `--base-home` the June days go into a fresh data directory and the topics are saved after the first
day (an empty index has nothing to save a topic over). With `--base-home` that index (e.g. the 67.8k-paper
months-only one) is copied to `--home` first and the topics are saved "on 2026-05-31": over the backlog,
before the first June day is ingested. Then a shown paper is *older* when it was in the catalog before
that day's ingest (the backlog or an earlier June day) or is dated before the first June listing day: there
must be none.

`--backend` must be the encoder the base index was built with (onnx: the int8 encoder, about three times
faster to ingest); the radar's logic does not depend on the encoder. `--visit-every 7` visits once a week
instead (each visit covers the days since the last one: "that day" above means "since the last visit").
A rich table goes to stderr, the figures as one JSON object to stdout (and `--output`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from assistant.core.settings import Settings
from assistant.engine import build_radar, build_retriever
from assistant.radar.rules import short_topic_words
from assistant.radar.service import Radar, Topic
from assistant.search.lists import ListFinder
from assistant.search.retrieval import Retriever, make_filter
from assistant.store.embedding import Embedder, get_embedder
from bench.report import emit_json
from bench.retrieval import DEFAULT_DAILY_DIR
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs
from ingest.sources import listing_date_from_name

Topics = dict[str, tuple[str, list[str]]]  # name -> (query, fields)

TOPICS: Topics = {
    "agents": ("large language model agents that use tools", ["cs.AI"]),
    "diffusion": ("diffusion models for image and video generation", []),
    "robots": ("robot learning and manipulation", ["cs.RO", "cs.LG"]),
}
TARGET_SECONDS = 1.0  # a feed call (first page or another batch) answers within this


@dataclass
class FeedCall:
    kind: str  # "first page" | "next batch"
    seconds: float
    papers: int


@dataclass
class TopicDay:
    """One topic's feed on one day, checked."""

    shown: list[str]
    expected: set[str]  # the day's new papers that match the topic (`day_matches`)
    repeats: int  # shown twice (in this day's batches, or on an earlier day)
    not_new: int  # shown but not first ingested that day
    older: int  # shown but in the catalog before that day, or dated before the first June listing day
    from_backlog: int  # of those: papers of the base index (before the first day)
    off: int  # shown and not expected, plus expected and not shown
    calls: list[FeedCall] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return self.repeats + self.older + self.off  # `older` includes every paper not new that day

    def to_dict(self) -> dict[str, Any]:
        return {
            "shown": len(self.shown),
            "matching": len(self.expected),
            "matching_shown": len(set(self.shown) & self.expected),
            "shown_ids": self.shown,  # in the order shown: for checking a run afterwards
            "repeats": self.repeats,
            "not_new": self.not_new,
            "older": self.older,
            "from_backlog": self.from_backlog,
            "off": self.off,
            "feed_calls": len(self.calls),
            "max_call_ms": round(1000 * max((c.seconds for c in self.calls), default=0.0), 1),
        }


@dataclass
class Day:
    listing: str
    new: int
    ingest_seconds: float
    topics: dict[str, TopicDay]

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.listing,
            "new_papers": self.new,
            "ingest_seconds": round(self.ingest_seconds, 1),
            "topics": {name: t.to_dict() for name, t in self.topics.items()},
        }


def whole_feed(radar: Radar, name: str, batch: int) -> tuple[list[str], list[FeedCall]]:
    """Visit the topic and page "another batch" until the window is exhausted, timing every call."""
    calls: list[FeedCall] = []
    started = time.perf_counter()
    result = radar.feed(name, batch=batch)
    calls.append(FeedCall("first page", time.perf_counter() - started, len(result.items)))
    shown = [h.paper.id for h in result.items]
    while not result.exhausted:
        started = time.perf_counter()
        result = radar.feed(name, batch=batch, next_batch=True)
        calls.append(FeedCall("next batch", time.perf_counter() - started, len(result.items)))
        if not result.items:
            break  # not exhausted yet nothing to show: counted as "off" below, never an endless loop
        shown += [h.paper.id for h in result.items]
    return shown, calls


def check_topic_day(
    radar: Radar,
    retriever: Retriever,
    name: str,
    batch: int,
    *,
    new_ids: set[str],
    backlog: set[str],
    seen: set[str],
    first_listing_day: date | None,
) -> TopicDay:
    """Read the topic's whole feed after a day's ingest and check it against the day's new papers.

    `seen`: the topic's papers shown on earlier days (updated here); `retriever`: the radar's own."""
    topic = radar.get_topic(name)
    shown, calls = whole_feed(radar, name, batch)
    expected = day_matches(retriever, radar.settings, topic, new_ids)
    shown_set = set(shown)
    papers = retriever.catalog.get_papers(sorted(shown_set))
    dated_before = {
        pid
        for pid, paper in papers.items()
        if first_listing_day and paper.published and paper.published < first_listing_day
    }
    day = TopicDay(
        shown=shown,
        expected=expected,
        repeats=len(shown) - len(shown_set) + len(shown_set & seen),
        not_new=len(shown_set - new_ids),
        older=len((shown_set - new_ids) | dated_before),
        from_backlog=len(shown_set & backlog),
        off=len(shown_set ^ expected),
        calls=calls,
    )
    seen |= shown_set
    return day


def day_matches(retriever: Retriever, settings: Settings, topic: Topic, new_ids: set[str]) -> set[str]:
    """The day's new papers that match the topic by the radar's rule, applied to each paper directly (no
    retrieval, so no cap of 200 results), in the topic's fields: a short topic's members as a list
    question finds them (when papers write its words), else a query-paper cosine of at least
    `settings.radar.min_relevance`."""
    in_fields = retriever.catalog.filter_ids(make_filter(topic.fields, only_ids=new_ids)) if new_ids else []
    if not in_fields:
        return set()
    if short_topic_words(topic.query):
        finder = ListFinder(retriever)
        if finder.learned(topic.query) is not None:
            found = finder.find(topic.query, make_filter(only_ids=set(in_fields)))
            return {hit.paper.id for hit in found.members}
    query = retriever.embedder.encode_query(topic.query.strip())
    cosine = {
        pid: float(np.clip(v @ query, 0.0, 1.0)) for pid, v in retriever.paper_vectors(in_fields).items()
    }
    return {pid for pid, value in cosine.items() if value >= settings.radar.min_relevance}


def copy_base(base: Path, home: Path) -> float:
    """Copy an existing data directory (catalog, Chroma, radar state) to `home`; returns the seconds taken.
    The base must not be written to meanwhile (Chroma's folder is copied file by file)."""
    if not (base / "catalog.sqlite3").is_file():
        raise SystemExit(f"--base-home {base} holds no index (no catalog.sqlite3)")
    if home.exists() and any(home.iterdir()):
        raise SystemExit(f"--home {home} is not empty: the base is copied into a fresh directory")
    started = time.perf_counter()
    shutil.copytree(base, home, dirs_exist_ok=True)
    return time.perf_counter() - started


def percentiles(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"calls": 0}
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "calls": len(ordered),
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * p95, 1),
        "max_ms": round(1000 * ordered[-1], 1),
        "over_target": sum(1 for s in ordered if s > TARGET_SECONDS),
    }


def run(
    args: argparse.Namespace, console: Console, *, topics: Topics = TOPICS, embedder: Embedder | None = None
) -> dict[str, Any]:
    day_files = sorted(args.daily_dir.glob("*.jsonl.gz"))[: args.days]
    if not day_files:
        raise SystemExit(f"no daily listing files (*.jsonl.gz) in {args.daily_dir}: pass --daily-dir")
    copy_seconds = copy_base(args.base_home, args.home) if args.base_home else None
    settings = Settings(_env_file=None, storage={"home": args.home}, embedding={"backend": args.backend})
    embedder = embedder or get_embedder(settings)
    retriever = build_retriever(settings, embedder=embedder)
    backlog = set(retriever.catalog.all_ids())
    radar: Radar | None = None
    if args.base_home:
        # Saved "on 2026-05-31": over the backlog, before the first June day is in.
        radar = build_radar(settings, retriever)
        for name, (query, fields) in topics.items():
            radar.add_topic(name, query, fields)
    first_listing_day = listing_date_from_name(day_files[0])
    seen: dict[str, set[str]] = {name: set() for name in topics}
    days: list[Day] = []
    load_before = os.getloadavg()
    window_started: float | None = None  # when the first ingest since the last visit began
    ingest_seconds = 0.0
    for number, day_file in enumerate(day_files, start=1):
        started = time.time()
        window_started = window_started or started
        ingestor = open_ingestor(settings, embedder=embedder)
        try:
            ingestor.run(file_runs([day_file]))
        finally:
            ingestor.close()
        ingest_seconds += time.time() - started
        if radar is None:
            radar = build_radar(settings, retriever)
            for name, (query, fields) in topics.items():
                radar.add_topic(name, query, fields)
        if number % args.visit_every and number < len(day_files):
            continue  # no visit today: the next one covers this day too
        new_ids = retriever.catalog.ids_ingested_since(window_started)
        checked = {
            name: check_topic_day(
                radar,
                retriever,
                name,
                args.batch,
                new_ids=new_ids,
                backlog=backlog,
                seen=seen[name],
                first_listing_day=first_listing_day,
            )
            for name in topics
        }
        day = Day(day_file.name[:10], len(new_ids), ingest_seconds, checked)
        days.append(day)
        window_started, ingest_seconds = None, 0.0
        console.print(
            f"{day.listing}: new {day.new} (ingest {day.ingest_seconds:.0f} s) | "
            + " | ".join(
                f"{n}: {len(t.shown)} shown/{len(t.expected)} matching, {t.problems} problems, "
                f"max {1000 * max((c.seconds for c in t.calls), default=0):.0f} ms"
                for n, t in checked.items()
            )
        )
    load_after = os.getloadavg()
    if radar is not None:
        radar.close()
    calls = [c for d in days for t in d.topics.values() for c in t.calls]
    topic_days = [t for d in days for t in d.topics.values()]
    return {
        "bench": "radar_days",
        "home": str(args.home),
        "base_home": str(args.base_home) if args.base_home else None,
        "base_copy_seconds": round(copy_seconds, 1) if copy_seconds is not None else None,
        "backend": args.backend,
        "batch": args.batch,
        "visit_every_days": args.visit_every,
        "backlog_papers": len(backlog),
        "catalog_papers_at_end": retriever.catalog.count(),
        "days": [d.to_dict() for d in days],
        "new_papers": sum(d.new for d in days),
        "shown": sum(len(t.shown) for t in topic_days),
        "matching": sum(len(t.expected) for t in topic_days),
        "matching_shown": sum(len(set(t.shown) & t.expected) for t in topic_days),
        "shown_per_topic": {name: len(ids) for name, ids in seen.items()},
        "repeats": sum(t.repeats for t in topic_days),
        "not_new": sum(t.not_new for t in topic_days),
        "older_shown": sum(t.older for t in topic_days),
        "backlog_shown": sum(t.from_backlog for t in topic_days),
        "off": sum(t.off for t in topic_days),
        "problems": sum(t.problems for t in topic_days),
        "feed_calls": percentiles([c.seconds for c in calls]),
        "first_page": percentiles([c.seconds for c in calls if c.kind == "first page"]),
        "next_batch": percentiles([c.seconds for c in calls if c.kind == "next batch"]),
        "target_seconds": TARGET_SECONDS,
        "load_average_before": round(load_before[0], 2),
        "load_average_after": round(load_after[0], 2),
    }


def print_tables(result: dict[str, Any], console: Console) -> None:
    names = list(result["shown_per_topic"])
    days = Table(title="Radar day by day: papers shown / matching that day (repeats + off)")
    for column in ("day", "new", *names, "older", "max call ms"):
        days.add_column(column, justify="right" if column != "day" else "left")
    for day in result["days"]:
        topics = day["topics"]
        cells = [
            f"{t['shown']}/{t['matching']}"
            + (f" ({t['repeats'] + t['off']})" if t["repeats"] + t["off"] else "")
            for t in (topics[n] for n in names)
        ]
        older = sum(t["older"] for t in topics.values())
        slowest = max(t["max_call_ms"] for t in topics.values())
        days.add_row(day["day"], str(day["new_papers"]), *cells, str(older), f"{slowest:.0f}")
    console.print(days)
    timing = Table(title=f"Feed calls against the {TARGET_SECONDS:.0f} s target")
    for column in ("calls", "n", "p50 ms", "p95 ms", "max ms", f"> {TARGET_SECONDS:.0f} s"):
        timing.add_column(column, justify="right" if column != "calls" else "left")
    for label, key in (("all", "feed_calls"), ("first page", "first_page"), ("another batch", "next_batch")):
        p = result[key]
        if p["calls"]:
            timing.add_row(
                label,
                str(p["calls"]),
                f"{p['p50_ms']:.0f}",
                f"{p['p95_ms']:.0f}",
                f"{p['max_ms']:.0f}",
                str(p["over_target"]),
            )
    console.print(timing)
    console.print(
        f"backlog {result['backlog_papers']} papers; {result['new_papers']} new over {len(result['days'])} "
        f"days; shown {result['shown']} of {result['matching']} matching "
        f"({result['matching_shown']} matching shown); older shown {result['older_shown']} "
        f"({result['backlog_shown']} from the backlog), "
        f"repeats {result['repeats']}, not new {result['not_new']}, off {result['off']}: "
        f"problems {result['problems']}; load average {result['load_average_before']} -> "
        f"{result['load_average_after']}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.radar_days", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a fresh data directory")
    parser.add_argument(
        "--base-home",
        type=Path,
        help="copy this data directory (e.g. the months-only index) to --home and save the topics over it "
        "before the first June day",
    )
    parser.add_argument("--daily-dir", type=Path, default=DEFAULT_DAILY_DIR)
    parser.add_argument("--days", type=int, default=None, help="only the first N daily files")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument(
        "--visit-every",
        type=int,
        default=1,
        help="visit the topics every N days (and after the last): each visit covers the days since the last",
    )
    parser.add_argument("--output", type=Path, help="also write the JSON figures here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    result = run(args, console)
    print_tables(result, console)
    emit_json(result, args.output)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
