"""Citation benchmark: real questions through `academichub ask --json`, checked from the JSON output.

For every on-topic question: each [n] in the text must be a listed source, every source must carry a
valid arXiv id and the abs/PDF links built from it, and `citations` must agree with the sources. Off-topic
questions must come back as "I could not find this in the indexed papers". Also reports the top relevance
of on- vs off-topic questions (to calibrate ACADEMICHUB_MIN_RELEVANCE) and the warm answer time.

    ACADEMICHUB_HOME=/tmp/june-home python -m bench.citations [--extractive] [--json]

The CLI runs in-process (typer's runner) so the embedding model loads once for all questions.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from typing import Any

from typer.testing import CliRunner

from assistant.core.paper import InvalidArxivId, parse_arxiv_id
from assistant.core.settings import get_settings
from assistant.engine import build_retriever
from assistant.ui.cli.common import app

ON_TOPIC = [
    "How can machine unlearning remove knowledge from large language models?",
    "What methods make LLM agents use long-term memory?",
    "How is on-policy distillation used to train language models?",
    "Which papers evaluate safety alignment of chatbots?",
    "How are diffusion models used for video super-resolution?",
    "What are new approaches to 3D Gaussian splatting from monocular video?",
    "How do time series foundation models handle multimodal inputs?",
    "Can LLM agents improve time series forecasting?",
    "What is known about reinforcement learning for financial trading?",
    "How are EEG signals decoded with deep learning?",
    "Which papers study adversarial attacks on vision-language models?",
    "How do multi-agent reinforcement learning methods transfer knowledge between agents?",
    "What benchmarks evaluate LLM-as-a-judge agreement?",
    "How is deep learning used for optimal auction design?",
    "What are recent results on anomaly detection with self-supervised representations?",
    "How do vision-language-action models control robots?",
    "How are graph neural networks used in molecular property prediction?",
    "What is new in text-to-SQL with large language models?",
    "How does test-time compute scaling affect LLM reasoning evaluation?",
    "Which papers use reconfigurable antennas for mobile networks?",
]
OFF_TOPIC = [
    "best pizza dough hydration",
    "how long should I boil an egg",
    "who won the 1998 football world cup",
    "what is a good recipe for banana bread",
    "cheap flights from Paris to Lisbon in August",
]
_CITATION_RE = re.compile(r"\[(\d+)\]")
_BAD_LINK_RE = re.compile(r"\]\(|<a\s|href=", re.IGNORECASE)


def ask(runner: CliRunner, question: str, extractive: bool) -> tuple[dict[str, Any], float]:
    args = ["ask", question, "--json"] + (["--extractive"] if extractive else [])
    start = time.perf_counter()
    result = runner.invoke(app, args)
    seconds = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(f"ask failed for {question!r}: {result.output}")
    return json.loads(result.stdout), seconds


def check(payload: dict[str, Any]) -> list[str]:
    """Problems with one answer's citations and links (empty = all good)."""
    problems = []
    sources = {s["number"]: s for s in payload["sources"]}
    for n in map(int, _CITATION_RE.findall(payload["text"])):
        if n not in sources:
            problems.append(f"[{n}] maps to no listed source")
    for number, source in sources.items():
        try:
            base, version = parse_arxiv_id(source["id"])
        except InvalidArxivId:
            problems.append(f"source {number}: {source['id']!r} is not an arXiv id")
            continue
        if base != source["id"] or version is not None:
            problems.append(f"source {number}: id {source['id']!r} is not versionless")
        if source["abs_url"] != f"https://arxiv.org/abs/{base}":
            problems.append(f"source {number}: abs link {source['abs_url']!r}")
        if source["pdf_url"] != f"https://arxiv.org/pdf/{base}":
            problems.append(f"source {number}: PDF link {source['pdf_url']!r}")
    for n, pid in payload["citations"].items():
        if int(n) not in sources or sources[int(n)]["id"] != pid:
            problems.append(f"citations[{n}] = {pid} disagrees with the sources")
    if _BAD_LINK_RE.search(payload["text"]):
        problems.append("the text carries a link")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extractive", action="store_true", help="force extractive mode")
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    options = parser.parse_args(argv)
    settings = get_settings()
    runner = CliRunner()
    ask(runner, "warm up the model and the stores", options.extractive)
    retriever = build_retriever(settings)  # raw top relevance (before the threshold) for calibration

    rows = []
    for question in ON_TOPIC + OFF_TOPIC:
        payload, seconds = ask(runner, question, options.extractive)
        top = max((h.relevance for h in retriever.search(question, settings.fusion.default_k)), default=None)
        rows.append(
            {
                "question": question,
                "on_topic": question in ON_TOPIC,
                "found": payload["found"],
                "mode": payload["mode"],
                "sources": len(payload["sources"]),
                "citations": len(_CITATION_RE.findall(payload["text"])),
                "top_relevance": top,
                "seconds": round(seconds, 3),
                "problems": check(payload),
            }
        )
    on = [r for r in rows if r["on_topic"]]
    off = [r for r in rows if not r["on_topic"]]
    total_citations = sum(r["citations"] for r in on)
    bad = sum(len(r["problems"]) for r in rows)
    summary = {
        "home": str(settings.storage.home),
        "min_relevance": settings.fusion.min_relevance,
        "questions": len(on),
        "answered": sum(r["found"] for r in on),
        "citations": total_citations,
        "citation_problems": bad,
        "valid_citation_share": (total_citations - bad) / total_citations if total_citations else None,
        "off_topic_refused": sum(not r["found"] for r in off),
        "off_topic": len(off),
        "lowest_on_topic_relevance": min((r["top_relevance"] or 0.0) for r in on),
        "highest_off_topic_relevance": max((r["top_relevance"] or 0.0) for r in off),
        "median_seconds": round(statistics.median(r["seconds"] for r in rows), 3),
        "p90_seconds": round(sorted(r["seconds"] for r in rows)[int(0.9 * (len(rows) - 1))], 3),
    }
    if options.json:
        print(json.dumps({"summary": summary, "rows": rows}, indent=2))
        return 0 if bad == 0 else 1
    print(f"{'question':62} {'found':>5} {'src':>3} {'cit':>3} {'top rel':>7} {'s':>6}  problems")
    for r in rows:
        shown = f"{r['top_relevance']:.3f}" if r["top_relevance"] is not None else "-"
        mark = "" if r["on_topic"] else " (off-topic)"
        print(
            f"{(r['question'] + mark)[:62]:62} {r['found']!s:>5} {r['sources']:>3} {r['citations']:>3} "
            f"{shown:>7} {r['seconds']:>6.2f}  {'; '.join(r['problems']) or 'ok'}"
        )
    print(json.dumps(summary, indent=2))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
