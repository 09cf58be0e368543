"""What the chat app shows of a list answer's full list (pure, unit-tested): a page of it, and its
downloads (the list as Markdown, BibTeX of every match, CSV)."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.compose.lists import ListedPaper, list_csv, list_markdown
from assistant.core.i18n import plural, t
from assistant.ui.chat_view import ExportFile, escape_md, export_bibtex, slug

PAGE_SIZE = 25
EXPORT_LABELS = {  # the list's download buttons: catalog keys by file type
    "text/markdown": "action.export_list_markdown",
    "application/x-bibtex": "action.export_list_bibtex",
    "text/csv": "action.export_list_csv",
}


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


def page_markdown(topic: str, items: Sequence[ListedPaper], page: int, size: int = PAGE_SIZE) -> str:
    """One page of the full list (page 0 first), with where it is in the whole."""
    total = len(items)
    page = min(max(page, 0), page_count(total, size) - 1)
    chunk = items[page * size : (page + 1) * size]
    first, last = page * size + 1, page * size + len(chunk)
    heading = t("list.page_heading", papers=plural(total, "count.paper"), topic=escape_md(topic))
    if total > size:
        heading += t("list.page_span", first=first, last=last, page=page + 1, pages=page_count(total, size))
    return f"**{heading}**\n\n" + list_markdown(chunk)


def next_label(total: int, page: int, size: int = PAGE_SIZE) -> str:
    """The button to the page after `page`: "Next 25" (or what is left)."""
    return t("list.next", n=min(size, total - (page + 1) * size))


def show_all_label(total: int) -> str:
    return t("action.show_all", n=f"{total:,}")


def list_export_files(topic: str, items: Sequence[ListedPaper]) -> list[ExportFile]:
    """The whole list, three ways: Markdown (grouped by field), BibTeX (every match), CSV (a spreadsheet)."""
    stem = slug(f"papers on {topic}")
    heading = t("list.export_heading", papers=plural(len(items), "count.paper"), topic=topic)
    markdown = f"# {escape_md(heading)}\n\n" + list_markdown(items)
    return [
        ExportFile(f"{stem}-list.md", "text/markdown", markdown),
        ExportFile(f"{stem}-list.bib", "application/x-bibtex", export_bibtex(i.paper for i in items)),
        ExportFile(f"{stem}-list.csv", "text/csv", list_csv(items)),
    ]
