"""`academichub ingest`, `academichub embed` and `academichub stats`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from assistant.core.paper import SOURCE_LABELS, SourceName
from assistant.core.settings import Settings
from assistant.core.subjects import rxiv_server
from assistant.core.text import parse_day
from assistant.engine import build_retriever
from assistant.store.vectors import consistency_problem
from assistant.ui.cli.common import (
    UserError,
    app,
    console,
    err_console,
    friendly_errors,
    print_json,
    settings,
)
from ingest.pipeline import MAX_SKIP_EXAMPLES, Ingestor, IngestSummary, open_ingestor, pending_notice
from ingest.runs import SourceRun, arxiv_run, file_runs, rxiv_run, sample_run
from ingest.rxiv_api import RxivRequest
from ingest.sources import ArxivRequest


class _ProgressBars:
    """Two rich bars: records read and papers embedded (the slow part)."""

    def __init__(self, progress: Progress, reading: bool = True, embedding: bool = True) -> None:
        self.progress = progress
        self.read = progress.add_task("reading records", total=None, visible=reading)
        self.embed = progress.add_task("embedding papers", total=0, visible=embedding)
        self.multilingual = progress.add_task("multilingual vectors", total=0, visible=False)
        self._embed_total = 0

    def __call__(self, phase: str, advance: int, total: int | None) -> None:
        if phase == "embed-multilingual":
            if total is not None:
                current = self.progress.tasks[self.multilingual].total or 0
                self.progress.update(self.multilingual, total=current + total, visible=True)
            self.progress.advance(self.multilingual, advance)
        elif phase == "read":
            if total is not None:
                current = self.progress.tasks[self.read].total or 0
                self.progress.update(self.read, total=current + total)
            self.progress.advance(self.read, advance)
        else:
            if total is not None:
                self._embed_total += total
                self.progress.update(self.embed, total=self._embed_total)
            self.progress.advance(self.embed, advance)


def print_summary(summary: IngestSummary) -> None:
    table = Table(title="Ingest summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("records read", summary.records_read),
        ("papers new", summary.new),
        ("papers updated", summary.updated),
        ("papers unchanged", summary.unchanged),
        ("records superseded (older/duplicate)", summary.superseded),
        ("records skipped", summary.skipped),
        ("papers embedded", summary.embedded),
    ]
    if summary.multilingual_embedded:
        rows.append(("multilingual vectors made", summary.multilingual_embedded))
    if summary.resumed:
        rows.append(("resumed from an interrupted run", summary.resumed))
    rows += [("papers in index", summary.papers_total), ("vectors in index", summary.vectors_total)]
    if summary.pending_total:
        rows.append(("papers waiting for vectors", summary.pending_total))
    for name, value in rows:
        table.add_row(name, str(value))
    table.add_row("time", f"{summary.seconds:.1f} s")
    console.print(table)
    for note in summary.notices:
        console.print(f"[bold]note:[/] {note}", highlight=False)
    if summary.trimmed:
        console.print(f"[bold]Cut to fit (papers kept):[/] {summary.trimmed}")
        for cut in summary.trimmed_records[:MAX_SKIP_EXAMPLES]:
            console.print(f"  {escape(cut.where)}: {escape(cut.reason)}", highlight=False)
        if summary.trimmed > MAX_SKIP_EXAMPLES:
            console.print(f"  … and {summary.trimmed - MAX_SKIP_EXAMPLES} more; full list with --json")
    if summary.skipped:
        console.print(
            "[bold]Skipped:[/] " + ", ".join(f"{n}× {r}" for r, n in summary.skip_reasons.most_common())
        )
        for example in summary.skip_examples:
            console.print(f"  {escape(example.where)}: {escape(example.reason)}", highlight=False)
        if summary.skipped > len(summary.skip_examples):
            more = summary.skipped - len(summary.skip_examples)
            console.print(f"  … and {more} more; full list with --json")


@app.command()
@friendly_errors
def ingest(
    paths: list[Path] = typer.Argument(
        None,
        help="JSONL/JSONL.gz files or folders (every .jsonl/.jsonl.gz in a folder), e.g. data/*.jsonl.gz.",
        show_default=False,
    ),
    file: list[Path] = typer.Option(
        None,
        "--file",
        "-f",
        help="JSONL/JSONL.gz file or folder (snapshot or daily layout); several may follow one --file.",
    ),
    use_arxiv: bool = typer.Option(False, "--arxiv", help="Fetch from the live arXiv API."),
    use_biorxiv: bool = typer.Option(False, "--biorxiv", help="Fetch from the bioRxiv API (needs --since)."),
    use_medrxiv: bool = typer.Option(False, "--medrxiv", help="Fetch from the medRxiv API (needs --since)."),
    category: list[str] = typer.Option(
        None,
        "--category",
        "-c",
        help="arXiv category (cs.LG) or bioRxiv/medRxiv subject (biorxiv:neuroscience) (repeatable).",
    ),
    since: str = typer.Option(None, help="With --arxiv/--biorxiv/--medrxiv: posted on or after YYYY-MM-DD."),
    until: str = typer.Option(None, help="With --arxiv/--biorxiv/--medrxiv: posted on or before YYYY-MM-DD."),
    query: str = typer.Option(None, help="With --arxiv: free arXiv query, e.g. 'abs:unlearning'."),
    max_results: int = typer.Option(None, "--max", min=1, help="With --arxiv: at most this many papers."),
    daily: bool = typer.Option(
        False,
        "--daily",
        help="For cron: yesterday's and today's arXiv papers in the fields of all radar topics.",
    ),
    rebuild: bool = typer.Option(
        False,
        "--rebuild",
        help="Set the current index aside (renamed, not deleted) and build it afresh from the given sources: "
        "for a damaged catalog or one that disagrees with the vectors.",
    ),
    no_embed: bool = typer.Option(
        False,
        "--no-embed",
        "--embed-later",
        help="Catalog only: store the papers (searchable by their words at once) and leave their vectors "
        "waiting; never loads the model. `academichub embed` embeds them later (all, or --limit N).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Build or update the index. With no source options: the bundled sample (offline).

    A normal ingest first embeds the papers waiting for vectors (after --no-embed), and says so first."""
    cfg = settings()
    runs: list[SourceRun] = []
    ingestor = open_ingestor(cfg, rebuild=rebuild)
    try:
        # `--file a b c` (what a shell glob gives): click takes `a` for --file and leaves `b c` as
        # positional paths, so both lists together are the files the user named, in order.
        files = [*(file or []), *(paths or [])]
        if files:
            runs += file_runs(files)
        wanted: dict[SourceName, bool] = {"biorxiv": use_biorxiv, "medrxiv": use_medrxiv}
        servers = [name for name, asked in wanted.items() if asked]
        arxiv_categories = [c for c in category or () if ":" not in c]
        if daily:
            conflicting = use_arxiv or servers or since or until or query
            runs += _daily_runs(cfg, ingestor, category or [], max_results, conflicting)
        elif servers:
            # With --arxiv too, a bare category is arXiv's; otherwise 'neuroscience' is a server's subject.
            subjects = [c for c in category or () if ":" in c or not use_arxiv]
            runs += _rxiv_runs(cfg, ingestor, servers, subjects, since, until)
        if not daily and use_arxiv:
            request = ArxivRequest(
                categories=tuple(arxiv_categories),
                since=parse_day(since, "--since"),
                until=parse_day(until, "--until"),
                query=query,
                max_results=max_results,
            )
            runs.append(arxiv_run(request, cfg, ingestor.catalog))
        elif not daily and not servers and (category or since or until or query or max_results):
            raise UserError(
                "--category/--since/--until/--query/--max go with --arxiv, --biorxiv or --medrxiv"
            )
        if not runs:
            runs.append(sample_run())
        summary = _run_with_progress(
            ingestor, lambda: ingestor.run(runs, embed=not no_embed), quiet=as_json, embedding=not no_embed
        )
        summary.notices += [f"set aside: {path}" for path in ingestor.set_aside]
    finally:
        ingestor.close()
    if as_json:
        print_json(summary.to_dict())
    else:
        print_summary(summary)
    exit_for(summary)


def _rxiv_runs(
    cfg: Settings,
    ingestor: Ingestor,
    servers: list[SourceName],
    category: list[str],
    since: str | None,
    until: str | None,
) -> list[SourceRun]:
    """One API request per server and subject (the API takes one subject at a time). A subject code names
    its server ('biorxiv:neuroscience'); a bare subject ('neuroscience') applies to every server asked."""
    first = parse_day(since, "--since")
    if first is None:
        raise UserError("--biorxiv/--medrxiv need --since YYYY-MM-DD (the API pages through a date window)")
    last = parse_day(until, "--until") or date.today()
    runs = []
    for server in servers:
        subjects: list[str | None] = [
            c for c in category if rxiv_server(c) == server or ("." not in c and ":" not in c)
        ]
        for subject in subjects or [None]:
            request = RxivRequest(server=server, since=first, until=last, category=subject)
            runs.append(rxiv_run(request, cfg, ingestor.catalog))
    return runs


def _daily_runs(
    cfg: Settings, ingestor: Ingestor, category: list[str], max_results: int | None, conflicting: object
) -> list[SourceRun]:
    """`--daily`: the radar's topics decide the categories (read from the radar state, not from ingest)."""
    from assistant.radar.store import open_radar_store
    from ingest.daily import daily_requests

    if conflicting:
        raise UserError(
            "--daily fetches yesterday and today by itself: drop --arxiv/--biorxiv/--medrxiv/--since/--until/"
            "--query"
        )
    store = open_radar_store(cfg)
    try:
        fields, names = store.saved_fields(), store.saved_topic_names()
    finally:
        store.close()
    arxiv, rxiv = daily_requests(ingestor.catalog, fields, names, category, max_results)
    runs = [arxiv_run(arxiv, cfg, ingestor.catalog)] if arxiv else []
    return runs + [rxiv_run(request, cfg, ingestor.catalog) for request in rxiv]


def exit_for(summary: IngestSummary) -> None:
    """Source failures go to stderr; exit code 1 only when nothing at all could be read."""
    for failure in summary.failures:
        err_console.print(f"[bold red]error:[/] {failure.where}: {failure.reason}", highlight=False)
    if summary.papers == 0 and summary.skipped and not summary.resumed:
        err_console.print("[bold red]error:[/] nothing could be read from the input (see the reasons above).")
        raise typer.Exit(1)


def _run_with_progress(
    ingestor: Ingestor,
    work: Callable[[], IngestSummary],
    quiet: bool,
    reading: bool = True,
    embedding: bool = True,
) -> IngestSummary:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=False,
    )
    with progress:
        ingestor.on_progress = _ProgressBars(progress, reading=reading, embedding=embedding)
        # Notices go to stderr even with --json (stdout stays one JSON object): a cron log then shows why an
        # `ingest --daily` after a large `--no-embed` import is busy embedding.
        ingestor.on_notice = lambda message: progress.console.print(
            f"[bold]note:[/] {escape(message)}", highlight=False
        )
        return work()


@app.command()
@friendly_errors
def embed(
    limit: int = typer.Option(
        None, "--limit", "-n", min=1, help="Embed at most this many papers (oldest first); default: all."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Embed the papers waiting for vectors (after `ingest --no-embed`): all, or a slice with --limit;
    then the multilingual vectors papers lack (an index from before them, or changed abstracts).

    Stored batch by batch: stop it any time (even with kill -9) and run it again to continue."""
    cfg = settings()
    ingestor = open_ingestor(cfg)
    try:
        summary = _run_with_progress(
            ingestor, lambda: ingestor.embed_pending(limit), quiet=as_json, reading=False
        )
    finally:
        ingestor.close()
    if as_json:
        print_json(summary.to_dict())
        return
    rate = f" ({summary.embedded / summary.embed_seconds:.1f} papers/s)" if summary.embed_seconds else ""
    console.print(
        f"embedded [bold]{summary.embedded}[/] papers in {summary.seconds:.1f} s{rate}; "
        f"{summary.vectors_total} vectors for {summary.papers_total} papers in {cfg.storage.location}",
        highlight=False,
    )
    if summary.multilingual_embedded:
        console.print(
            f"made [bold]{summary.multilingual_embedded}[/] multilingual vectors in "
            f"{summary.multilingual_seconds:.1f} s of encoding",
            highlight=False,
        )
    if summary.pending_total:
        console.print(f"[bold]note:[/] {escape(pending_notice(summary.pending_total))}", highlight=False)
    else:
        console.print("every paper has its vector: nothing waits to be embedded", highlight=False)


@app.command()
@friendly_errors
def stats(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Papers per source and category, and the date range of the index."""
    cfg = settings()
    retriever = build_retriever(cfg)  # its stores only: the model never loads for counting
    catalog = retriever.catalog
    try:
        first, last = catalog.date_range()
        categories = catalog.known_categories()
        primary = catalog.primary_category_counts()
        sources = catalog.source_counts()
        papers, pending = catalog.count(), catalog.count_pending()
    finally:
        catalog.close()
    vectors = retriever.vectors.count()
    problem = consistency_problem(papers, papers - pending, vectors, cfg.storage.home)
    if problem:
        err_console.print(f"[bold yellow]warning:[/] {escape(problem)}", highlight=False)
    payload = {
        "home": str(cfg.storage.home),
        "papers": papers,
        "vectors": vectors,
        "problem": problem,
        "pending_embeddings": pending,
        "first_date": first.isoformat() if first else None,
        "last_date": last.isoformat() if last else None,
        "categories": categories,
        "primary_categories": primary,
        "sources": sources,
    }
    if as_json:
        print_json(payload)
        return
    if not papers:
        console.print(f"The index at {cfg.storage.location} is empty: run [bold]academichub ingest[/].")
        return
    console.print(
        f"[bold]{papers}[/] papers ({vectors} vectors, {pending} waiting to be embedded) "
        f"in {cfg.storage.location}, "
        f"listed {payload['first_date']} to {payload['last_date']}"
    )
    if pending:
        console.print(f"[bold]note:[/] {escape(pending_notice(pending))}", highlight=False)
    console.print(
        "per source: "
        + ", ".join(f"{SOURCE_LABELS.get(name, name)} {count}" for name, count in sources.items())
    )
    table = Table("category", "papers (any listing)", "papers (primary)")
    for cat, count in list(categories.items())[:40]:
        table.add_row(cat, str(count), str(primary.get(cat, 0)))
    console.print(table)
