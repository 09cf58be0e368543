"""How a list answer reads: the count ("53 papers match ...; the 8 most relevant are summarised below"),
what to say when the words match but the meaning does not, and the full list of matches as Markdown,
BibTeX-ready papers or CSV (the CLI prints it, the app shows and exports it)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.compose.citations import escape_markdown
from assistant.core.fields import label
from assistant.core.i18n import plural, t
from assistant.core.paper import Paper
from assistant.search.hit import Hit
from assistant.search.lists import TopicList
from assistant.store.filter import PaperFilter

GROUP_AT = 12  # a list this long or longer is grouped by field, when it spans two or more


def _form(count: int) -> str:
    return "one" if count == 1 else "other"


def filter_phrase(flt: PaperFilter) -> str:
    """The active exact filters in words ("in cs.CV, since 2026-06-15"), or ""."""
    parts = []
    if flt.categories:
        parts.append(t("list.in", categories=", ".join(flt.categories)))
    if flt.since:
        parts.append(t("filters.since", day=flt.since.isoformat()))
    if flt.until:
        parts.append(t("filters.until", day=flt.until.isoformat()))
    if flt.author:
        parts.append(t("list.by", author=flt.author))
    if flt.sources:
        parts.append(t("list.from", sources=", ".join(flt.sources)))
    return t("list.filter_separator").join(parts)


def _scope(flt: PaperFilter) -> str:
    """The filters as a parenthesis after a noun (" (in cs.CV)"), or ""."""
    where = filter_phrase(flt)
    return t("list.scope", where=where) if where else ""


def count_sentence(found: TopicList, summarised: int, flt: PaperFilter, condition: Sequence[str] = ()) -> str:
    """The answer's first line: how many papers match, and how many of them the text summarises."""
    topic = f"“{escape_markdown(found.topic)}”"
    if condition:
        words = t("word.list_separator").join(f"“{escape_markdown(w)}”" for w in condition)
        topic = t("list.condition", topic=topic, words=words)
    scope = _scope(flt)
    if found.by_meaning_only:
        return t("list.meaning_only", scope=scope, topic=topic, papers=plural(found.count, "count.paper"))
    head = t(f"list.match.{_form(found.count)}", n=f"{found.count:,}", topic=topic, scope=scope)
    if found.count <= summarised:
        return head + t("list.summarised_one" if found.count == 1 else "list.summarised_all")
    return head + t("list.summarised_best", n=summarised)


def other_sense_text(found: TopicList, flt: PaperFilter, shown: int = 3) -> str:
    """Nothing matches, but papers hold the words: say so, and which, so the user can judge."""
    titles = t("word.semicolon").join(f"“{escape_markdown(p.title)}”" for p in found.other_sense[:shown])
    count = len(found.other_sense)
    return t(
        f"list.other_sense.{_form(count)}",
        scope=_scope(flt),
        topic=escape_markdown(found.topic),
        n=f"{count:,}",
        titles=titles,
    )


@dataclass(frozen=True)
class ListedPaper:
    """One line of the full list: its place, the paper, and its citation number when the text cites it. A
    radar list adds the paper's match, a one-line gist (plain text) and the followed author that put it on
    the feed."""

    rank: int
    paper: Paper
    number: int | None = None
    match: float | None = None
    gist: str = ""
    followed_author: str | None = None


def listed(matches: Sequence[Hit], numbers: dict[str, int]) -> list[ListedPaper]:
    return [ListedPaper(i, h.paper, numbers.get(h.paper.id)) for i, h in enumerate(matches, start=1)]


def group_of(paper: Paper) -> str:
    """A paper's group in a long list: its primary field's name."""
    primary = paper.categories[0] if paper.categories else ""
    return label(primary) if primary else t("list.group_other")


def grouped(items: Sequence[ListedPaper]) -> list[tuple[str, list[ListedPaper]]]:
    """The list in groups by field (largest first, best first within) when it is long and spans two or
    more fields; otherwise one unnamed group."""
    if len(items) < GROUP_AT:
        return [("", list(items))]
    groups: dict[str, list[ListedPaper]] = {}
    for item in items:
        groups.setdefault(group_of(item.paper), []).append(item)
    if len(groups) < 2:
        return [("", list(items))]
    sizes = Counter({name: len(members) for name, members in groups.items()})
    return [(name, groups[name]) for name, _ in sizes.most_common()]


def line_markdown(item: ListedPaper) -> str:
    """One paper of the list: title (escaped, never a link from paper text), authors, date, fields, the
    match and followed author of a radar list, the paper's link (built from the id, read as "arXiv
    2606.01234", not a bare URL), then a radar list's one-line gist. A bullet with its rank as text
    ("- 9\\. "): a Markdown ordered list would renumber a field's group (or a list sorted by date) 1, 2, 3
    from its first rank and show the wrong places."""
    paper = item.paper
    when = paper.published.isoformat() if paper.published else t("list.undated")
    cited = f" [{item.number}]" if item.number else ""
    match = f" · {t('card.match', match=f'{item.match:.2f}')}" if item.match is not None else ""
    followed = item.followed_author
    by_followed = f" · *{t('radar.by_followed', author=escape_markdown(followed))}*" if followed else ""
    line = (
        f"- {item.rank}\\. **{escape_markdown(paper.title)}**{cited} — "
        f"{escape_markdown(paper.short_authors())}, {when}, {', '.join(paper.categories[:3])}{match}"
        f"{by_followed} · [{paper.source_label} {paper.id}]({paper.abs_url})"
    )
    if item.gist:  # on a line of its own inside the item (a hard break), one line of plain text
        line += f"  \n  {escape_markdown(' '.join(item.gist.split()))}"
    return line


def list_markdown(items: Sequence[ListedPaper], heading: str = "", by_field: bool = True) -> str:
    """The full list as Markdown, grouped by field when that helps (`by_field` False: in the given order,
    e.g. a list the user sorted by date)."""
    parts = [f"## {heading}"] if heading else []
    for name, members in grouped(items) if by_field else [("", list(items))]:
        if name:
            parts.append(f"### {escape_markdown(name)} ({len(members)})")
        parts.append("\n".join(line_markdown(item) for item in members))
    return "\n\n".join(parts) + "\n"


def list_csv(items: Sequence[ListedPaper]) -> str:
    """The full list as CSV: rank, id, title, authors, published, categories, abs URL; a radar list adds
    each paper's match and gist."""
    out = io.StringIO()
    writer = csv.writer(out)
    radar = any(item.match is not None or item.gist for item in items)
    extra = ["match", "gist"] if radar else []
    writer.writerow(["rank", "id", "title", "authors", "published", "categories", "abs_url", *extra])
    for item in items:
        paper = item.paper
        row: list[object] = [
            item.rank,
            paper.id,
            _cell(paper.title),
            _cell("; ".join(paper.authors)),
            paper.published.isoformat() if paper.published else "",
            " ".join(paper.categories),
            paper.abs_url,
        ]
        if radar:
            row += [f"{item.match:.4f}" if item.match is not None else "", _cell(item.gist)]
        writer.writerow(row)
    return out.getvalue()


def _cell(text: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = " ".join(text.split())
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
