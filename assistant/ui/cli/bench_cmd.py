"""`academichub bench ingest|query|retrieval|snapshot|scale|briefing|lists|postgres|all`: the `bench` modules
(same options).

Figures go to stderr as tables and to stdout as JSON; `--help` after a subcommand lists its options.
"""

from __future__ import annotations

import importlib

import typer

from assistant.ui.cli.common import UserError, app, friendly_errors

bench_app = typer.Typer(
    help="Benchmarks: ingest throughput, query latency and memory, retrieval and briefing quality.",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")

_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@friendly_errors
def _run(module: str, ctx: typer.Context) -> None:
    try:
        main = importlib.import_module(module).main
    except ModuleNotFoundError as err:
        if err.name != "bench" and not module.startswith(f"{err.name}."):
            raise
        raise UserError(
            "the benchmarks ship with the source checkout: run this from the project folder"
        ) from None
    raise typer.Exit(main(list(ctx.args)))


@bench_app.command("ingest", context_settings=_PASS_THROUGH)
def bench_ingest(ctx: typer.Context) -> None:
    """Raw encoder vs full ingest throughput, re-ingest time, and the ONNX encoder with --onnx."""
    _run("bench.ingest", ctx)


@bench_app.command("query", context_settings=_PASS_THROUGH)
def bench_query(ctx: typer.Context) -> None:
    """Warm search/ask/brief latency and peak RSS on the index and a 10% subset; serve cold start."""
    _run("bench.query", ctx)


@bench_app.command("retrieval", context_settings=_PASS_THROUGH)
def bench_retrieval(ctx: typer.Context) -> None:
    """Recall@k, MRR and nDCG of dense, BM25 and hybrid retrieval on known-item query sets."""
    _run("bench.retrieval", ctx)


@bench_app.command("snapshot", context_settings=_PASS_THROUGH)
def bench_snapshot(ctx: typer.Context) -> None:
    """arXiv snapshot layout: catalog-only import of 500k lines (lines/s, peak RSS), then a slice embedded."""
    _run("bench.snapshot", ctx)


@bench_app.command("scale", context_settings=_PASS_THROUGH)
def bench_scale(ctx: typer.Context) -> None:
    """The 16-month corpus (~74k papers): build or reuse its index; ingest, search, quality, serve, disk."""
    _run("bench.scale", ctx)


@bench_app.command("briefing", context_settings=_PASS_THROUGH)
def bench_briefing(ctx: typer.Context) -> None:
    """Briefing quality on the June index: listed papers on topic, short sections, generic bridges."""
    _run("bench.briefing", ctx)


@bench_app.command("answers", context_settings=_PASS_THROUGH)
def bench_answers(ctx: typer.Context) -> None:
    """How much of a model's answer is checked: sentences, supported share, echoes, fallbacks per answer
    (recorded small-model replies by default, any OpenAI-compatible server with --base-url)."""
    _run("bench.answers", ctx)


@bench_app.command("lists", context_settings=_PASS_THROUGH)
def bench_lists(ctx: typer.Context) -> None:
    """List questions ("which papers use diffusion models?"): recall and precision, hand-judged sets."""
    _run("bench.lists", ctx)


@bench_app.command("postgres", context_settings=_PASS_THROUGH)
def bench_postgres(ctx: typer.Context) -> None:
    """SQLite vs PostgreSQL on one index: search, extractive ask, radar feed, catalog ingest, concurrent
    users on two worker processes."""
    _run("bench.postgres", ctx)


@bench_app.command("all", context_settings=_PASS_THROUGH)
def bench_all(ctx: typer.Context) -> None:
    """Every benchmark in one run with a summary table (same as `make bench`)."""
    _run("bench.__main__", ctx)
