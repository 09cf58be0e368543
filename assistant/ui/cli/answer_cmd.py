"""`academichub ask` (a cited answer) and `academichub brief` (a cross-field briefing, Markdown + BibTeX)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markdown import Markdown
from rich.markup import escape

from assistant.compose import notices as notes
from assistant.compose.briefing_model import Briefing
from assistant.compose.lists import grouped, listed
from assistant.compose.model import Answer, Source
from assistant.compose.safe_markdown import SafeStream
from assistant.core.i18n import reply_in, t
from assistant.core.language import reply_language
from assistant.core.text import parse_day, strip_control_chars
from assistant.engine import Engine
from assistant.search.retrieval import make_filter
from assistant.ui.cli.common import (
    UserError,
    app,
    build_engine,
    console,
    err_console,
    friendly_errors,
    print_json,
    print_notices,
)


def _engine(extractive: bool) -> Engine:
    """The command's engine; on first use of a model, a warning when its server does not list
    ACADEMICHUB_MODEL."""
    engine = build_engine(use_llm=not extractive)
    warning = engine.model_warning()
    if warning:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    return engine


def _print_sources(sources: list[Source]) -> None:
    """One block per source; links printed whole (a table would truncate them in narrow terminals)."""
    console.print("[bold]Sources[/]")
    for source in sources:
        paper = source.paper
        when = paper.published.isoformat() if paper.published else "undated"
        console.print(f"[bold]\\[{source.number}][/] {escape(paper.title)}", highlight=False)
        console.print(
            f"    {escape(paper.short_authors())} · {when} · {escape(', '.join(paper.categories[:4]))}",
            highlight=False,
        )
        console.print(f"    {paper.abs_url}  (PDF {paper.pdf_url})", highlight=False, soft_wrap=True)
        if paper.published_url:
            console.print(
                f"    journal version {escape(paper.published_url)}", highlight=False, soft_wrap=True
            )
        for twin in source.hit.also:
            console.print(f"    also on {twin.source_label} {twin.abs_url}", highlight=False, soft_wrap=True)


def _print_matches(answer: Answer) -> None:
    """Every match of a list question, best first, grouped by field when the list is long."""
    numbers = {s.paper.id: s.number for s in answer.sources}
    items = listed(answer.matches or [], numbers)
    console.print(f"[bold]{escape(t('cli.all_matches', n=len(items)))}[/] {escape(t('cli.best_first'))}")
    for name, members in grouped(items):
        if name:
            console.print(f"[bold]{escape(name)}[/] ({len(members)})", highlight=False)
        for item in members:
            paper = item.paper
            cited = f" \\[{item.number}]" if item.number else ""
            when = paper.published.isoformat() if paper.published else t("list.undated")
            console.print(
                f"{item.rank:>4}. {escape(paper.title)}{cited} · {when} · {paper.abs_url}",
                highlight=False,
                soft_wrap=True,
            )


class TerminalStream:
    """Model tokens to the terminal, only after neutralisation (no link, image, HTML or control character
    from the model is printed raw; an unfinished construct is held back until it closes)."""

    def __init__(self) -> None:
        self._safe = SafeStream()
        self.shown: list[str] = []

    def __call__(self, token: str) -> None:
        self._write(self._safe.feed(token))

    def finish(self) -> str:
        """Print what was held back; the whole neutralised text shown."""
        self._write(self._safe.flush())
        return "".join(self.shown)

    def _write(self, text: str) -> None:
        if text:
            self.shown.append(text)
            sys.stdout.write(text)
            sys.stdout.flush()


@app.command()
@friendly_errors
def ask(
    question: str = typer.Argument(..., help="The question, in plain words."),
    category: list[str] = typer.Option(
        None, "--category", "-c", help="Only papers in this category or archive."
    ),
    since: str = typer.Option(None, help="Only papers listed on or after YYYY-MM-DD."),
    until: str = typer.Option(None, help="Only papers listed on or before YYYY-MM-DD."),
    author: str = typer.Option(None, help="Only papers with an author matching this name."),
    source: list[str] = typer.Option(None, "--source", help="Only papers from arxiv, biorxiv or medrxiv."),
    k: int = typer.Option(None, "--k", "-k", min=1, max=50, help="How many papers to retrieve (default 8)."),
    extractive: bool = typer.Option(False, "--extractive", help="Do not use the language model."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer, citations and sources as JSON."),
) -> None:
    """A short answer in which every claim cites a retrieved paper [n]."""
    flt = make_filter(
        category, parse_day(since, "--since"), parse_day(until, "--until"), author, sources=source
    )
    answerer = _engine(extractive).answerer
    if not as_json and not extractive and answerer.llm is not None:
        _say_checking()
    stream = TerminalStream()
    answer = answerer.answer(
        question,
        paper_filter=flt,
        k=k,
        use_llm=False if extractive else None,
        on_token=None if as_json else stream,
    )
    if as_json:
        print_json(answer.to_dict())
        return
    with reply_in(reply_language(question)):  # the CLI's own labels follow the question's language
        _print_answer(answer, streamed_text=stream.finish())


def _say_checking() -> None:
    """While the model writes, the screen says what will appear: only sentences that passed the check."""
    err_console.print(
        "[dim]The language model is writing; its sentences appear once each is checked against the "
        "sources it cites.[/]",
        highlight=False,
    )


def _print_answer(answer: Answer, streamed_text: str) -> None:
    """The answer once it is complete. What streamed were only the model's sentences that passed the
    support check (never its raw text); when too few did, the quoted answer follows and says so."""
    if streamed_text:
        sys.stdout.write("\n")
        if answer.mode == "extractive" and streamed_text.strip() != answer.text.strip():
            # The model's streamed text failed the checks (the notes say why).
            console.rule(t("cli.answer_not_used"))
            console.print(Markdown(answer.text))
        elif streamed_text.strip() != answer.text.strip():
            console.rule(t("cli.checked_answer"))
            console.print(Markdown(answer.text))
    else:
        console.print(Markdown(answer.text))
    if answer.sources:
        _print_sources(answer.sources)
    if answer.matches:
        _print_matches(answer)
    _print_flagged(answer.unsupported_sentences, answer.uncited_sentences)
    print_notices(answer.notices)


def _print_flagged(flagged: list[str], uncited: list[str]) -> None:
    if not flagged:
        return
    err_console.print(f"[yellow]{escape(t('cli.flagged'))}[/]")
    for sentence in flagged:
        why = notes.flag_reason(sentence, uncited)
        err_console.print(f"  - {escape(strip_control_chars(sentence))} [dim]({why})[/]", highlight=False)


@app.command()
@friendly_errors
def brief(
    topic: str = typer.Argument(..., help="What the briefing is about."),
    field: list[str] = typer.Option(
        None, "--field", "-f", help="A field: category or archive prefix, e.g. cs.LG or q-bio (repeatable)."
    ),
    since: str = typer.Option(None, help="Only papers listed on or after YYYY-MM-DD."),
    until: str = typer.Option(None, help="Only papers listed on or before YYYY-MM-DD."),
    per_field: int = typer.Option(4, "--per-field", min=1, max=12, help="Papers per field."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the Markdown briefing to this file."),
    bibtex: Path = typer.Option(None, "--bibtex", help="Write the references as BibTeX to this file."),
    extractive: bool = typer.Option(False, "--extractive", help="Do not use the language model."),
    as_json: bool = typer.Option(False, "--json", help="Print the briefing and its sources as JSON."),
) -> None:
    """A cited cross-field briefing: overview, a section per field, bridges, open questions, references."""
    for target in (out, bibtex):
        if target is not None and target.exists() and target.is_dir():
            raise UserError(f"{target} is a directory: give a file name")
    engine = _engine(extractive)
    retriever, briefer = engine.retriever, engine.briefer
    if not as_json and out is None and not extractive and briefer.llm is not None:
        _say_checking()
    streaming = not as_json and out is None
    stream = TerminalStream()
    briefing = briefer.brief(
        topic,
        fields=field or None,
        since=parse_day(since, "--since"),
        until=parse_day(until, "--until"),
        per_field=per_field,
        use_llm=False if extractive else None,
        on_token=stream if streaming else None,
    )
    written = []
    exported: str | None = None
    try:
        if out is not None:
            from assistant.radar.charts import export_pictures

            pictures = export_pictures(out, briefing, retriever)  # the field map, beside the Markdown
            exported = briefing.markdown.rstrip() + "\n\n" + pictures
            out.write_text(exported, encoding="utf-8")
            written.append(str(out))
        if bibtex is not None:
            bibtex.write_text(briefing.to_bibtex(), encoding="utf-8")
            written.append(str(bibtex))
    except OSError as err:
        raise UserError(f"cannot write {err.filename}: {err.strerror}") from None
    if as_json:  # with --out, the Markdown as written (the briefing and its field map)
        print_json({**briefing.to_dict(), **({"markdown": exported} if exported is not None else {})})
        return
    with reply_in(reply_language(topic)):  # the CLI's own labels follow the topic's language
        _print_briefing(briefing, stream, out, written)


def _print_briefing(briefing: Briefing, stream: TerminalStream, out: Path | None, written: list[str]) -> None:
    if out is None:
        if stream.finish():
            sys.stdout.write("\n")
            console.rule(t("word.briefing") if briefing.mode == "llm" else t("cli.briefing_not_used"))
        console.print(Markdown(briefing.markdown))
    for path in written:
        err_console.print(f"wrote {escape(path)}", highlight=False)
    _print_flagged(briefing.unsupported_sentences, briefing.uncited_sentences)
    print_notices(briefing.notices)
