"""What the chat app shows of a list of papers (pure, unit-tested): a page of a list answer's full list, a
radar list (a batch of new papers, or the week's papers again) sorted as asked, and their downloads (the list
as Markdown, BibTeX of every paper, CSV)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from assistant.compose.lists import ListedPaper, group_of, list_csv, list_markdown
from assistant.core.i18n import plural, t
from assistant.search.hit import Hit
from assistant.ui.chat_view import ExportFile, escape_md, export_bibtex, gist_text, slug

PAGE_SIZE = 25
EXPORT_LABELS = {  # the list's download buttons: catalog keys by file type
    "text/markdown": "action.export_list_markdown",
    "application/x-bibtex": "action.export_list_bibtex",
    "text/csv": "action.export_list_csv",
}
WEEK_EXPORT_LABELS = {  # a radar list's downloads: every paper of the week, not only those shown
    "text/markdown": "action.export_all_markdown",
    "application/x-bibtex": "action.export_all_bibtex",
    "text/csv": "action.export_all_csv",
}
SORTS = ("match", "date", "field")  # a radar list's orders (catalog: action.sort.*, radar.sorted.*)


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))


def page_number(value: object) -> int:
    """The page an action's payload asks for (0 first). The payload comes from the page as the client sent
    it: anything but a whole number is the first page (and `page_markdown` keeps it within the list)."""
    if isinstance(value, bool):
        return 0
    try:
        return max(int(value), 0)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return 0


def page_of(items: Sequence[ListedPaper], page: int, size: int = PAGE_SIZE) -> tuple[list[ListedPaper], str]:
    """One page of a list (page 0 first; any page number is kept within the list), and where it is in the
    whole (": 26–50 (page 2 of 3)"; "" when the list fits on one page)."""
    total = len(items)
    page = min(max(page, 0), page_count(total, size) - 1)
    chunk = list(items[page * size : (page + 1) * size])
    if total <= size:
        return chunk, ""
    first, last = page * size + 1, page * size + len(chunk)
    return chunk, t("list.page_span", first=first, last=last, page=page + 1, pages=page_count(total, size))


def page_markdown(topic: str, items: Sequence[ListedPaper], page: int, size: int = PAGE_SIZE) -> str:
    """One page of the full list (page 0 first), with where it is in the whole."""
    chunk, span = page_of(items, page, size)
    heading = t("list.page_heading", papers=plural(len(items), "count.paper"), topic=escape_md(topic))
    return f"**{heading}{span}**\n\n" + list_markdown(chunk)


def next_label(total: int, page: int, size: int = PAGE_SIZE) -> str:
    """The button to the page after `page`: "Next 25" (or what is left)."""
    return t("list.next", n=min(size, total - (page + 1) * size))


def show_all_label(total: int) -> str:
    return t("action.show_all", n=f"{total:,}")


def list_export_files(
    topic: str, items: Sequence[ListedPaper], heading: str | None = None, stem: str | None = None
) -> list[ExportFile]:
    """The whole list, three ways: Markdown (grouped by field), BibTeX (every match), CSV (a spreadsheet).
    `heading` (plain text) and the file `stem` default to a list answer's ("53 papers on ...",
    "papers-on-...-list")."""
    stem = stem or f"{slug(f'papers on {topic}')}-list"
    heading = heading or t("list.export_heading", papers=plural(len(items), "count.paper"), topic=topic)
    markdown = f"# {escape_md(heading)}\n\n" + list_markdown(items)
    return [
        ExportFile(f"{stem}.md", "text/markdown", markdown),
        ExportFile(f"{stem}.bib", "application/x-bibtex", export_bibtex(i.paper for i in items)),
        ExportFile(f"{stem}.csv", "text/csv", list_csv(items)),
    ]


# --- a radar list ------------------------------------------------------------------------------------


def radar_listed(
    hits: Sequence[Hit], ranks: Mapping[str, int], followed: Mapping[str, str] | None = None
) -> list[ListedPaper]:
    """Radar papers as list lines: each numbered by its place in the week's feed (`ranks`, the same number
    in every batch, the week's list and its export), with its match, a one-line gist and the followed
    author that put it there."""
    followed = followed or {}
    return [
        ListedPaper(
            ranks.get(hit.paper.id, len(ranks) + position),
            hit.paper,
            match=hit.relevance,
            gist=gist_text(hit.paper),
            followed_author=followed.get(hit.paper.id),
        )
        for position, hit in enumerate(hits, start=1)
    ]


def sort_name(value: object) -> str:
    """The sort an action's payload asks for, as the client sent it: anything unknown is by match."""
    return value if isinstance(value, str) and value in SORTS else "match"


def sorted_papers(items: Sequence[ListedPaper], sort: str) -> list[ListedPaper]:
    """A radar list in the order asked, each paper keeping its number: best match first; newest first; or
    by field (the largest field first, as a long list groups them); ties by best match, then number."""

    def best(item: ListedPaper) -> tuple[float, int]:
        return -(item.match if item.match is not None else float("-inf")), item.rank

    if sort == "date":
        return sorted(
            items, key=lambda i: (-(i.paper.published.toordinal() if i.paper.published else 0), *best(i))
        )
    if sort == "field":
        sizes = Counter(group_of(item.paper) for item in items)
        return sorted(items, key=lambda i: (-sizes[group_of(i.paper)], group_of(i.paper), *best(i)))
    return sorted(items, key=best)


def radar_list_markdown(
    heading: str, items: Sequence[ListedPaper], sort: str, page: int = 0, size: int = PAGE_SIZE
) -> str:
    """A radar list in one message: its heading (our own Markdown), how it is sorted, and one page of it
    in that order (a batch fits on one page; the week's papers again may take several). Grouped under
    field headings only when sorted by field."""
    sort = sort_name(sort)
    chunk, span = page_of(sorted_papers(items, sort), page, size)
    return f"**{heading}{span}** · {t(f'radar.sorted.{sort}')}\n\n" + list_markdown(
        chunk, by_field=sort == "field"
    )


def week_export_files(topic: str, week: Sequence[ListedPaper]) -> list[ExportFile]:
    """Every paper of the topic's week (the current visit's feed, seen or not), as the list exports."""
    heading = t("radar.export_heading", papers=plural(len(week), "count.paper"), topic=topic)
    return list_export_files(topic, sorted_papers(week, "match"), heading, slug(f"radar {topic}"))
