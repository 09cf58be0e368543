"""`academichub search`: hybrid retrieval from the command line (one query, or one per line of a file)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from assistant.core.errors import UserFacingError
from assistant.core.text import parse_day
from assistant.search.hit import Hit
from assistant.search.retrieval import MAX_QUERY_CHARS, Mode, RetrievalError, Retriever, hit_json, make_filter
from assistant.store.filter import PaperFilter
from assistant.ui.cli.common import (
    UserError,
    app,
    build_engine,
    console,
    err_console,
    friendly_errors,
    print_error,
    print_json,
)


@dataclass
class SearchOutcome:
    query: str
    hits: list[Hit]
    error: RetrievalError | None = None
    notice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"query": self.query, "results": [hit_json(h) for h in self.hits]}
        if self.error:
            payload["error"] = str(self.error)
        if self.notice:
            payload["notice"] = self.notice
        return payload


def run_search(
    retriever: Retriever, query: str, k: int, flt: PaperFilter, mode: Mode, diverse: bool
) -> SearchOutcome:
    """One search; input the retriever refuses becomes a message, never an exception."""
    notice = None
    if len(query.strip()) > MAX_QUERY_CHARS:
        notice = (
            f"the query is {len(query.strip())} characters long: only its first {MAX_QUERY_CHARS} were used"
        )
    try:
        hits = retriever.search(query, k=k, paper_filter=flt, mode=mode, diversify=diverse)
    except RetrievalError as err:
        return SearchOutcome(query, [], error=err)
    return SearchOutcome(query, hits, notice=notice)


def print_hits(outcome: SearchOutcome, flt: PaperFilter) -> None:
    if outcome.notice:
        err_console.print(f"[yellow]note:[/] {outcome.notice}", highlight=False)
    if not outcome.hits:
        why = " matching the filters" if flt.active else ""
        console.print(f"No papers{why} found for [bold]{escape(outcome.query[:200])}[/].")
        return
    for rank, hit in enumerate(outcome.hits, start=1):
        paper = hit.paper
        console.print(
            f"[bold]{rank:>2}.[/] [bold link={paper.abs_url}]{escape(paper.title)}[/]", highlight=False
        )
        details = " · ".join(
            part
            for part in (
                escape(paper.short_authors()),
                paper.published.isoformat() if paper.published else "",
                escape(", ".join(paper.categories)),
                f"relevance {hit.relevance:.2f}" if hit.has_vector else "found by its words (no vector yet)",
            )
            if part
        )
        console.print(f"    [dim]{details}[/]", highlight=False)
        console.print(f"    [cyan]{paper.abs_url}[/]  [dim]PDF[/] [cyan]{paper.pdf_url}[/]", highlight=False)
        if paper.published_url:
            console.print(
                f"    [dim]journal version[/] [cyan]{escape(paper.published_url)}[/]", highlight=False
            )
        for twin in hit.also:
            console.print(f"    [dim]also on {twin.source_label}[/] [cyan]{twin.abs_url}[/]", highlight=False)


def _read_queries(path: Path) -> Iterator[str]:
    """Non-blank lines of the file ('-' = standard input)."""
    if str(path) == "-":
        lines: Iterator[str] = iter(sys.stdin)
    else:
        if not path.is_file():
            raise UserError(f"--queries-file {path}: no such file")
        try:
            lines = iter(path.read_text(encoding="utf-8", errors="replace").splitlines())
        except OSError as err:
            raise UserError(f"--queries-file {path}: cannot read it ({err.strerror})") from None
    for line in lines:
        if line.strip():
            yield line.rstrip("\n")


@app.command()
@friendly_errors
def search(
    query: str = typer.Argument(None, help="What you are looking for, in your own words."),
    k: int = typer.Option(10, "--k", "-k", min=1, max=200, help="Number of papers to show."),
    category: list[str] = typer.Option(
        None,
        "--category",
        "-c",
        help="Only these categories; an archive matches its subjects (q-bio = q-bio.*, biorxiv = biorxiv:*).",
    ),
    since: str = typer.Option(None, help="Only papers listed on or after YYYY-MM-DD."),
    until: str = typer.Option(None, help="Only papers listed on or before YYYY-MM-DD."),
    author: str = typer.Option(None, help="Only papers with an author matching this (case/accents ignored)."),
    source: list[str] = typer.Option(None, "--source", help="Only papers from arxiv, biorxiv or medrxiv."),
    mode: str = typer.Option("hybrid", help="hybrid (default), dense or lexical (BM25)."),
    diverse: bool = typer.Option(
        False, "--diverse", help="Spread results out (MMR) instead of pure ranking."
    ),
    queries_file: Path = typer.Option(
        None, "--queries-file", help="Answer every non-blank line of this file ('-' = stdin) as a JSON line."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a list."),
) -> None:
    """Find papers: dense + BM25 hybrid retrieval with exact filters."""
    if mode not in ("hybrid", "dense", "lexical"):
        raise UserError(f"--mode {mode!r}: choose hybrid, dense or lexical")
    if queries_file is None and query is None:
        raise UserError('give a query (academichub search "graph neural networks for EEG") or --queries-file')
    if queries_file is not None and query is not None:
        raise UserError("give either a query or --queries-file, not both")
    try:
        flt = make_filter(
            categories=category,
            since=parse_day(since, "--since"),
            until=parse_day(until, "--until"),
            author=author,
            sources=source,
        )
    except UserFacingError as err:
        if as_json or queries_file is not None:
            print_json({"query": query, "results": [], "error": str(err)})
        raise
    retriever = build_engine().retriever
    search_mode: Mode = mode
    if queries_file is not None:
        for line in _read_queries(queries_file):
            outcome = run_search(retriever, line, k, flt, search_mode, diverse)
            print_json(outcome.to_dict())
            if outcome.error:  # one bad line is that line's problem: report it and go on
                err_console.print(f"[dim]{escape(line[:80])}:[/]", highlight=False)
                print_error(outcome.error)
        return
    outcome = run_search(retriever, query, k, flt, search_mode, diverse)
    if as_json:
        print_json(outcome.to_dict())
    if outcome.error:
        raise outcome.error  # after the JSON line: scripts read the error there, people on stderr
    if not as_json:
        print_hits(outcome, flt)
