"""Rebuild the bundled sample (`ingest/sample/arxiv_sample.jsonl.gz`) from ../shared/data/arxiv-daily.

Picks a few hundred real papers across fields: papers on a handful of cross-field themes (so briefings
have bridges to find) plus a spread over archives. Each line keeps the daily-listing layout and gains a
`date` field: the first day the paper was listed. Deterministic: same input, same sample.

    python -m bench.build_sample [--daily-dir ../shared/data/arxiv-daily] [--size 400]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from pathlib import Path

from ingest.sources import SAMPLE_PATH

THEMES = {
    "eeg": r"\bEEG\b|electroencephalograph",
    "unlearning": r"\bunlearning\b",
    "llm": r"large language model",
    "graph": r"graph neural network",
    "quantum": r"\bquantum (?:computing|circuit|error)",
    "climate": r"\bclimate\b",
    "protein": r"\bprotein\b",
    "diffusion": r"\bdiffusion model",
}
# The June listings are computer-science listings with cross-lists into other archives: spread the sample
# over cs sub-fields and over every other archive a paper is cross-listed in.
FIELDS = [
    "cs.LG",
    "cs.CV",
    "cs.CL",
    "cs.AI",
    "cs.RO",
    "cs.CR",
    "cs.HC",
    "cs.SE",
    "cs.NE",
    "cs.IR",
    "cs.SD",
    "eess",
    "math",
    "stat",
    "physics",
    "q-bio",
    "econ",
    "cond-mat",
    "q-fin",
    "quant-ph",
]


def load_daily(daily_dir: Path) -> dict[str, dict]:
    papers: dict[str, dict] = {}
    for path in sorted(daily_dir.glob("*.jsonl.gz")):
        day = path.name[:10]
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                first = papers.get(record["id"], {}).get("date", day)
                papers[record["id"]] = {**record, "date": first}
    return papers


def choose(papers: dict[str, dict], size: int) -> list[dict]:
    rng = random.Random(20260601)
    ids = sorted(papers)
    chosen: dict[str, dict] = {}
    per_theme = size // (2 * len(THEMES))
    for pattern in THEMES.values():
        rx = re.compile(pattern, re.IGNORECASE)
        hits = [i for i in ids if rx.search(papers[i]["title"] + " " + papers[i]["summary"])]
        # Prefer cross-listed papers (several archives): they are the bridges between fields.
        hits.sort(key=lambda i: -len({c.split(".")[0] for c in papers[i]["categories"]}))
        half = per_theme // 2
        rest = hits[half:]
        head = hits[:half] + rng.sample(rest, min(len(rest), half))
        chosen.update({i: papers[i] for i in head})
    per_field = max(1, (size - len(chosen)) // len(FIELDS))
    for field in FIELDS:
        pool = [
            i
            for i in ids
            if i not in chosen
            and any(c == field or c.split(".")[0] == field for c in papers[i]["categories"])
        ]
        for i in rng.sample(pool, min(per_field, len(pool))):
            chosen[i] = papers[i]
    return sorted(chosen.values(), key=lambda r: (r["date"], r["id"]))[:size]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--daily-dir", type=Path, default=Path("../shared/data/arxiv-daily"))
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--out", type=Path, default=SAMPLE_PATH)
    args = parser.parse_args()
    sample = choose(load_daily(args.daily_dir), args.size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(filename="", mode="wb", fileobj=args.out.open("wb"), mtime=0) as raw:
        for record in sample:
            raw.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    fields = sorted({c for r in sample for c in r["categories"]})
    print(f"wrote {len(sample)} papers in {len(fields)} categories to {args.out}")


if __name__ == "__main__":
    main()
