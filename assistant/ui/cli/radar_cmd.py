"""`academichub radar ...`: saved topics, the feed of new papers in batches, followed authors, the daily
briefing. A thin shell over `assistant.radar.service.Radar` (the chat app's Radar profile uses it too)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from assistant.engine import Engine
from assistant.radar import delivery
from assistant.radar.service import FeedBatch, NothingNewError, Radar, Topic
from assistant.ui.cli.common import (
    UserError,
    app,
    build_engine,
    console,
    err_console,
    friendly_errors,
    print_json,
    print_notices,
    settings,
)

radar_app = typer.Typer(
    help="Daily research radar: saved topics, new papers since your last visit, another batch, a briefing.",
    no_args_is_help=True,
)
app.add_typer(radar_app, name="radar")

JSON_HELP = "Print the result as JSON."
# The CLI is the operator's tool (it reads the data directory itself): it acts for the topics saved without
# login unless told whose, e.g. to send a signed-in user's digest from a scheduled job.
OWNER_OPTION = typer.Option(
    "", "--owner", help="Act on this signed-in app user's topics (their login name); default: no login."
)


@contextmanager
def _engine() -> Iterator[Engine]:
    engine = build_engine()
    try:
        yield engine
    finally:
        engine.close()


@contextmanager
def _radar() -> Iterator[Radar]:
    with _engine() as engine:
        yield engine.radar


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M") if timestamp else "never"


def _print_topic(topic: Topic, verb: str) -> None:
    console.print(f"{verb} topic [bold]{escape(topic.name)}[/]: {escape(topic.query)}")
    if topic.fields:
        console.print("  fields: " + ", ".join(topic.fields), highlight=False)
    if topic.authors:
        console.print("  following: " + escape("; ".join(topic.authors)), highlight=False)


@radar_app.command("add")
@friendly_errors
def add(
    name: str = typer.Argument(..., help="Topic name (unique, case-insensitive)."),
    query: str = typer.Option(None, "--query", "-q", help="What the topic is about, in words."),
    from_library: Path = typer.Option(
        None,
        "--from-library",
        help="A BibTeX, RIS or CSL-JSON export (Zotero, Mendeley, JabRef): new papers are ranked by "
        "closeness to these papers.",
    ),
    field: list[str] = typer.Option(None, "--field", "-f", help="arXiv category or archive (repeatable)."),
    author: list[str] = typer.Option(None, "--author", "-a", help="Follow this author (repeatable)."),
    owner: str = OWNER_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Save a topic to follow: what it is about (--query), or a library export of papers you care about."""
    if from_library is not None:
        _add_from_library(name, from_library, query, field or [], author or [], as_json, owner)
        return
    if not query:
        raise UserError('say what the topic is about: --query "..." or --from-library FILE')
    with _radar() as radar:
        topic = radar.add_topic(name, query, fields=field or (), authors=author or (), owner=owner)
    if as_json:
        print_json(topic.to_dict())
        return
    _print_topic(topic, "Saved")
    console.print(f"See what is new: [bold]academichub radar feed {escape(_quoted(topic.name))}[/]")


def _add_from_library(
    name: str, path: Path, query: str | None, fields: list[str], authors: list[str], as_json: bool, owner: str
) -> None:
    with _radar() as radar:
        made = radar.add_library_topic(name, path, query=query, fields=fields, authors=authors, owner=owner)
    if as_json:
        print_json(made.to_dict())
        return
    inside = [m for m in made.matches if m.paper_id]
    console.print(
        f"Saved topic [bold]{escape(made.topic.name)}[/] from a {made.format} library of "
        f"{len(made.matches)} papers: {len(inside)} in the index anchor it, "
        f"{len(made.matches) - len(inside)} contribute their title/abstract.",
        highlight=False,
    )
    console.print("  distinctive terms: " + escape(", ".join(made.terms)), highlight=False)
    table = Table("#", "library paper", "in the index?")
    for number, match in enumerate(made.matches, start=1):
        style = "green" if match.paper_id else "yellow"
        table.add_row(str(number), escape(match.entry.title[:90]), f"[{style}]{escape(match.status)}[/]")
    console.print(table)
    for reason in made.skipped:
        console.print(f"[yellow]skipped:[/] {escape(reason)}", highlight=False)
    console.print(f"See what is new: [bold]academichub radar feed {escape(_quoted(made.topic.name))}[/]")


@radar_app.command("list")
@friendly_errors
def list_topics(
    owner: str = OWNER_OPTION, as_json: bool = typer.Option(False, "--json", help=JSON_HELP)
) -> None:
    """Saved topics."""
    with _engine() as engine:
        topics = engine.radar.list_topics(owner=owner)
        papers = engine.retriever.catalog.count()
    if as_json:
        print_json({"topics": [t.to_dict() for t in topics], "papers_in_index": papers})
        return
    if not papers:
        console.print("The index is empty: run [bold]academichub ingest[/] first, then add topics.")
    if not topics:
        console.print('No saved topics. Add one: [bold]academichub radar add NAME --query "..."[/]')
        return
    table = Table("topic", "query", "fields", "following", "last visit")
    for topic in topics:
        table.add_row(
            escape(topic.name),
            escape(topic.query),
            ", ".join(topic.fields) or "all",
            escape("; ".join(topic.authors)),
            _when(topic.last_visit),
        )
    console.print(table)


@radar_app.command("remove")
@friendly_errors
def remove(
    name: str = typer.Argument(..., help="Topic name."),
    owner: str = OWNER_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Delete a topic and what it has seen."""
    with _radar() as radar:
        topic = radar.get_topic(name, owner=owner)
        radar.remove_topic(name, owner=owner)
    if as_json:
        print_json({"removed": topic.name})
    else:
        console.print(f"Removed topic [bold]{escape(topic.name)}[/].")


@radar_app.command("follow")
@friendly_errors
def follow(
    name: str = typer.Argument(..., help="Topic name."),
    author: str = typer.Argument(..., help="Author name (or part of it; case and accents don't matter)."),
    owner: str = OWNER_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Follow an author in a topic: their new papers are on the feed whatever they are about."""
    with _radar() as radar:
        topic = radar.follow_author(name, author, owner=owner)
    if as_json:
        print_json(topic.to_dict())
    else:
        _print_topic(topic, "Updated")


@radar_app.command("feed")
@friendly_errors
def feed(
    name: str = typer.Argument(..., help="Topic name."),
    batch: int = typer.Option(10, "--batch", "-n", min=1, max=100, help="Papers per batch."),
    next_batch: bool = typer.Option(False, "--next", help="Another batch: the next papers not yet seen."),
    author: str = typer.Option(None, "--author", "-a", help="Only papers by this author (substring)."),
    output: str = typer.Option(
        "cards",
        "--format",
        help="cards (new since your last visit), atom (the topic's Atom feed: its matches of the last "
        "7 listing days, marks nothing seen) or url (the app's secret feed URL for a feed reader).",
    ),
    owner: str = OWNER_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """New papers for a topic since your last visit, one batch at a time (or its Atom feed)."""
    if output not in ("cards", "atom", "url"):
        raise UserError(f"--format {output!r}: use cards, atom or url")
    if output != "cards":
        with _radar() as radar:
            if output == "atom":
                sys.stdout.write(delivery.topic_feed(radar, name, owner=owner))
                return
            url = delivery.public_url(
                radar.settings, delivery.feed_path(delivery.feed_token(radar, name, owner=owner))
            )
        if as_json:
            print_json({"topic": name, "feed_url": url})
        else:
            sys.stdout.write(url + "\n")
        return
    with _radar() as radar:
        result = radar.feed(name, batch=batch, next_batch=next_batch, author=author, owner=owner)
    if as_json:
        print_json(result.to_dict())
    else:
        print_feed(result)


def print_feed(result: FeedBatch) -> None:
    topic = result.topic
    since = result.since.strftime("%Y-%m-%d %H:%M").removesuffix(" 00:00") if result.since else "the start"
    if result.items:
        console.print(
            f"[bold]{escape(topic.name)}[/] · new since {since} · batch {result.batch_number} · "
            f"{len(result.items)} shown, {result.remaining} more not yet seen",
            highlight=False,
        )
    for number, hit in enumerate(result.items, start=1):
        paper = hit.paper
        lines = [
            escape(paper.short_authors(6)),
            f"{paper.published or 'undated'} · {escape(', '.join(paper.categories))} · "
            f"relevance {hit.relevance:.2f}",
            f"[link={paper.abs_url}]{paper.abs_url}[/link] · [link={paper.pdf_url}]PDF[/link]",
        ]
        followed = result.followed.get(paper.id)
        if followed:
            lines.append(f"[green]followed author: {escape(followed)}[/]")
        console.print(
            Panel("\n".join(lines), title=f"[bold]{number}. {escape(paper.title)}[/]", title_align="left"),
            highlight=False,
        )
    if result.message:
        console.print(result.message, highlight=False)
    elif result.remaining:
        console.print(f"Another batch: [bold]academichub radar feed {escape(_quoted(topic.name))} --next[/]")


@radar_app.command("send")
@friendly_errors
def send(
    name: str = typer.Argument(..., help="Topic name."),
    to: list[str] = typer.Option(
        None, "--to", help="E-mail address (repeatable); SMTP from ACADEMICHUB_SMTP_*."
    ),
    webhook: str = typer.Option(None, "--webhook", help="Slack/Mattermost/Discord incoming-webhook URL."),
    with_briefing: bool = typer.Option(False, "--brief", help="Add today's briefing to the e-mail."),
    limit: int = typer.Option(delivery.DIGEST_MAX, "--max", min=1, max=100, help="Papers per digest."),
    owner: str = OWNER_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Send the topic's new papers (not yet sent there) by e-mail and/or to a webhook; exit 2 if a send
    failed (those papers stay unsent and unseen, so the next run sends them)."""
    cfg = settings()
    recipients: list[str] = list(to or [])
    url: str | None = webhook
    if not recipients and not url:  # the configured defaults only when neither option is given
        recipients = [a for a in cfg.delivery.mail_to.split(",") if a.strip()]
        url = cfg.delivery.webhook.url.get_secret_value() if cfg.delivery.webhook.url else None
    if not recipients and not url:
        raise UserError(
            "say where to send: --to ADDRESS and/or --webhook URL "
            "(or ACADEMICHUB_RADAR_MAIL_TO / ACADEMICHUB_RADAR_WEBHOOK_URL)"
        )
    with _radar() as radar:
        results = delivery.send_digest(
            radar, name, to=recipients, webhook=url, with_briefing=with_briefing, limit=limit, owner=owner
        )
    failed = [r for r in results if not r.sent and r.message and not r.message.startswith("nothing new")]
    if as_json:
        print_json({"topic": name, "deliveries": [r.to_dict() for r in results]})
    else:
        for result in results:
            if result in failed:
                err_console.print(f"[bold red]error:[/] {escape(result.message)}", highlight=False)
            else:
                style = "green" if result.sent else "dim"
                console.print(f"[{style}]{escape(result.message)}[/]", highlight=False)
    if failed:
        raise typer.Exit(2)


@radar_app.command("brief")
@friendly_errors
def brief(
    name: str = typer.Argument(..., help="Topic name."),
    out: Path = typer.Option(None, "--out", "-o", help="Also write the briefing to this Markdown file."),
    use_llm: bool = typer.Option(
        None, "--llm/--no-llm", help="Use the language model (default: if configured)."
    ),
    owner: str = OWNER_OPTION,
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """A cross-field briefing over today's new papers for a topic."""
    if out is not None and not out.parent.is_dir():
        raise UserError(f"cannot write {out}: the folder {out.parent} does not exist")
    with _radar() as radar:
        try:
            briefing = radar.brief(name, use_llm=use_llm, owner=owner)
        except NothingNewError as err:
            if as_json:
                print_json(
                    {
                        "topic": radar.get_topic(name, owner=owner).to_dict(),
                        "briefing": None,
                        "message": str(err),
                    }
                )
            else:
                console.print(str(err), highlight=False)
            return
    if out is not None:
        from assistant.radar.charts import daily_counts, export_pictures

        try:
            with _engine() as engine:  # the radar chart and the field map, beside the Markdown
                pictures = export_pictures(
                    out, briefing, engine.retriever, daily_counts(engine.radar, name, owner=owner)
                )
            out.write_text(briefing.markdown.rstrip() + "\n\n" + pictures, encoding="utf-8")
        except OSError as err:
            raise UserError(f"cannot write {out}: {err.strerror}") from None
    if as_json:
        print_json(briefing.to_dict())
        return
    print_notices(briefing.notices)
    from rich.markdown import Markdown

    console.print(Markdown(briefing.markdown))
    if out is not None:
        console.print(f"Written to {out}", highlight=False)


def _quoted(name: str) -> str:
    return f'"{name}"' if any(ch.isspace() for ch in name) else name
