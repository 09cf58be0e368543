"""The radar over the June listings, day by day: ingest each daily file in date order into a fresh data
directory, visit each topic, page with "another batch" until exhausted, and check every shown paper was new
that day, matches the topic, and never repeats. Prints one line per day and a total of problems found.

    python -m bench.radar_days --home /tmp/radar-june [--backend onnx]

`--backend onnx` (the int8 encoder) makes the 30-day ingest about three times faster; the radar's logic does
not depend on the encoder.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from assistant.radar.service import Radar
from assistant.search.retrieval import Retriever, make_filter
from bench.retrieval import DEFAULT_DAILY_DIR
from ingest.embedding import get_embedder
from ingest.pipeline import Ingestor, file_runs
from ingest.settings import Settings

TOPICS = {
    "agents": ("large language model agents that use tools", ["cs.AI"]),
    "diffusion": ("diffusion models for image and video generation", []),
    "robots": ("robot learning and manipulation", ["cs.RO", "cs.LG"]),
}


def whole_feed(radar: Radar, name: str, batch: int) -> list[str]:
    result = radar.feed(name, batch=batch)
    shown = [h.paper.id for h in result.items]
    while not result.exhausted:
        result = radar.feed(name, batch=batch, next_batch=True)
        shown += [h.paper.id for h in result.items]
    return shown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.radar_days", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a fresh data directory")
    parser.add_argument("--daily-dir", type=Path, default=DEFAULT_DAILY_DIR)
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args(argv)
    settings = Settings(_env_file=None, home=args.home, embedding_backend=args.backend)
    embedder = get_embedder(settings)
    retriever = Retriever(settings, embedder=embedder)
    radar: Radar | None = None
    seen: dict[str, set[str]] = {name: set() for name in TOPICS}
    problems = 0
    for day_file in sorted(args.daily_dir.glob("*.jsonl.gz")):
        started = time.time()
        ingestor = Ingestor(settings, embedder=embedder)
        try:
            ingestor.run(file_runs([day_file]))
        finally:
            ingestor.close()
        new_ids = retriever.catalog.ids_ingested_since(started)
        if radar is None:
            radar = Radar(settings, retriever)
            for name, (query, fields) in TOPICS.items():
                radar.add_topic(name, query, fields)
        line = [day_file.name[:10], f"new {len(new_ids)}"]
        for name, (query, fields) in TOPICS.items():
            shown = whole_feed(radar, name, args.batch)
            expected = set()
            if new_ids:
                hits = retriever.search(query, k=200, paper_filter=make_filter(fields, only_ids=new_ids))
                expected = {h.paper.id for h in hits if h.relevance >= settings.radar_min_relevance}
            repeats = len(shown) - len(set(shown)) + len(set(shown) & seen[name])
            not_new = len(set(shown) - new_ids)
            mismatch = len(set(shown) ^ expected)
            problems += repeats + not_new + mismatch
            seen[name] |= set(shown)
            line.append(f"{name}: {len(shown)} shown/{len(expected)} expected, {repeats} rep, {mismatch} off")
        print(" | ".join(line), f"({time.time() - started:.0f} s)", flush=True)
    per_topic = ", ".join(f"{topic} {len(ids)}" for topic, ids in seen.items())
    print(f"problems: {problems}; papers shown per topic: {per_topic}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
