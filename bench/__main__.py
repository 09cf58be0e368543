"""All benchmarks in one command (`make bench`): ingest, query, retrieval, briefing, lists; a summary against
the targets.

    python -m bench                              # index at ACADEMICHUB_HOME
    python -m bench --home /tmp/june-home --n 500
    python -m bench --onnx-home /tmp/june-onnx   # + retrieval quality of an index built with the ONNX encoder

Each benchmark runs in its own process (so one's memory does not count against another's) and prints its
own table to stderr; this prints the summary table to stderr and all figures as one JSON object to stdout.
An index is queried with the encoder it was built with: `--onnx-home` must be an index ingested with
ACADEMICHUB_EMBEDDING_BACKEND=onnx (its retrieval benchmark runs with that setting).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assistant.core.settings import get_settings
from bench.report import emit_json


def run_bench(module: str, args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `python -m bench.<module>` and return its JSON (or the error it reported)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "result.json"
        completed = subprocess.run(
            [sys.executable, "-m", f"bench.{module}", *args, "--output", str(out)],
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            check=False,
        )
        if completed.returncode != 0 or not out.is_file():
            return {"error": f"bench.{module} exited with code {completed.returncode} (its message is above)"}
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def retrieval_summary(result: dict[str, Any]) -> dict[str, float] | None:
    """Recall@5 / MRR@10 of hybrid and dense over all known-item sets."""
    rows = {row["mode"]: row for row in result.get("results", []) if row.get("set") == "known-item (all)"}
    if not rows:
        return None
    return {f"{mode}_{key}": rows[mode][key] for mode in rows for key in ("recall@5", "mrr@10")}


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    ing = report.get("ingest", {})
    if "error" in ing:
        rows.append(("ingest", ing["error"], ""))
    elif ing:
        rows += [
            ("ingest / raw encoder throughput", f"{ing['ingest_to_raw_ratio']:.3f}", ">= 0.85"),
            ("re-ingest speed-up (unchanged)", f"{ing['reingest_speedup']:.0f}x", ">= 50x"),
        ]
        if onnx := ing.get("onnx"):
            rows += [
                ("ONNX int8 speed-up vs default", f"{onnx['speedup_vs_torch']:.2f}x", ">= 2x"),
                ("ONNX int8 mean cosine to default", f"{onnx['mean_cosine_to_torch']:.4f}", ">= 0.98"),
            ]
    query = report.get("query", {})
    if "error" in query:
        rows.append(("query", query["error"], ""))
    elif query:
        full = query["full"]
        rows += [
            ("warm search p50", f"{full['search']['p50_ms']:.0f} ms", "<= 100 ms"),
            ("warm extractive ask p50", f"{full['ask']['p50_ms']:.0f} ms", "<= 1000 ms"),
            ("warm extractive brief p50", f"{full['brief']['p50_ms']:.0f} ms", ""),
            (
                "peak RSS (search/ask/brief)",
                "/".join(f"{full[op]['peak_rss_mb']:.0f}" for op in ("search", "ask", "brief")) + " MB",
                "<= 2048 MB",
            ),
        ]
        if subset := query.get("subset"):
            ratio = full["search"]["p50_ms"] / max(subset["search"]["p50_ms"], 1e-9)
            rows.append(
                (
                    f"search p50 {full['papers']} vs {subset['papers']} papers",
                    f"{ratio:.2f}x",
                    "well below 10x",
                )
            )
        serve = query.get("serve") or {}
        if serve.get("ready_seconds") is not None:
            rows.append(
                ("serve cold start until the page answers", f"{serve['ready_seconds']:.1f} s", "<= 30 s")
            )
            rows.append(("serve RSS after start", f"{serve['rss_mb']:.0f} MB", "<= 2048 MB"))
    brief = (report.get("briefing") or {}).get("summary")
    if brief:
        rows += [
            ("briefing: listed papers on topic", f"{brief['on_topic_share']:.0%}", ">= 90%"),
            ("briefing: sections < 2 on topic (field has >= 5)", str(brief["short_sections"]), "0"),
            ("briefing: generic bridges", str(brief["generic_bridges"]), "0"),
        ]
    elif "error" in (report.get("briefing") or {}):
        rows.append(("briefing", report["briefing"]["error"], ""))
    rows += list_rows(report.get("lists") or {})
    for key, label in (("retrieval", "default encoder"), ("retrieval_onnx", "ONNX int8 encoder")):
        summary = report.get(key, {}).get("summary") or {}
        for mode in ("dense", "hybrid"):
            if f"{mode}_recall@5" in summary:
                rows.append(
                    (
                        f"{mode} Recall@5 / MRR@10 ({label})",
                        f"{summary[f'{mode}_recall@5']:.3f} / {summary[f'{mode}_mrr@10']:.3f}",
                        "ONNX within 0.02" if key == "retrieval_onnx" else "",
                    )
                )
    return rows


def list_rows(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """`bench lists`: pooled recall and precision of the list questions (targets: the June index)."""
    if "error" in result:
        return [("lists", result["error"], "")]
    total = result.get("overall") or {}
    if total.get("recall") is None:
        return []
    return [
        ("list questions: recall (pooled)", f"{total['recall']:.3f}", ">= 0.95 on June"),
        ("list questions: precision (pooled)", f"{total['precision']:.3f}", ">= 0.90 on June"),
        ("list questions: other-sense papers listed", str(total["other_sense_listed"]), ""),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="index for the query and retrieval benchmarks")
    parser.add_argument("--n", type=int, default=300, help="papers for the ingest benchmark (default 300)")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX encoder comparison")
    parser.add_argument(
        "--onnx-home", type=Path, help="an index built with the ONNX encoder (retrieval quality)"
    )
    parser.add_argument("--skip", default="", help="comma-separated: ingest,query,retrieval,briefing,lists")
    parser.add_argument("--query-args", default="", help="extra arguments for bench.query, e.g. '--no-serve'")
    parser.add_argument("--retrieval-args", default="--n 100", help="extra arguments for bench.retrieval")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    home = args.home or get_settings().storage.home
    report: dict[str, Any] = {"home": str(home)}
    if "ingest" not in skip:
        console.rule("ingest")
        report["ingest"] = run_bench("ingest", ["--n", str(args.n), *([] if args.no_onnx else ["--onnx"])])
    has_index = (home / "catalog.sqlite3").is_file()
    if "query" not in skip and has_index:
        console.rule("query")
        report["query"] = run_bench("query", ["--home", str(home), *args.query_args.split()])
    if "retrieval" not in skip and has_index:
        console.rule("retrieval")
        result = run_bench("retrieval", ["--home", str(home), *args.retrieval_args.split()])
        report["retrieval"] = {"summary": retrieval_summary(result), "raw": result}
        if args.onnx_home:
            result = run_bench(
                "retrieval",
                ["--home", str(args.onnx_home), *args.retrieval_args.split()],
                env={"ACADEMICHUB_EMBEDDING_BACKEND": "onnx"},
            )
            report["retrieval_onnx"] = {"summary": retrieval_summary(result), "raw": result}
    if "briefing" not in skip and has_index:
        console.rule("briefing")
        report["briefing"] = run_bench("briefing", ["--home", str(home)])
    if "lists" not in skip and has_index:
        console.rule("lists")
        report["lists"] = run_bench("lists", ["--home", str(home)])
    if not has_index:
        report["note"] = f"no index at {home}: query and retrieval benchmarks skipped (pass --home)"
        console.print(report["note"])
    table = Table(title="Benchmark summary", title_justify="left")
    for name in ("figure", "measured", "target"):
        table.add_column(name, justify="left" if name == "figure" else "right")
    for row in summary_rows(report):
        table.add_row(*row)
    console.print(table)
    emit_json(report, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
