"""What the chat app shows, as pure functions: Markdown for answers, sources and radar cards, chat settings
-> retrieval filters, and export files. No Chainlit import here, so all of it is unit-tested directly.

Paper text (titles, abstracts, author names) is untrusted: everything taken from a paper goes through
`escape_md`, so a title like `<script>...` or `[1](javascript:...)` renders as literal text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from assistant.compose import notices as notes
from assistant.compose.bibtex import bibtex_entries
from assistant.compose.citations import cited_numbers, escape_markdown, neutralise_links
from assistant.compose.extractive import split_sentences
from assistant.compose.model import Turn
from assistant.core.errors import UserFacingError
from assistant.core.fields import label as field_label
from assistant.core.i18n import catalog, languages, t
from assistant.core.i18n import plural as i18n_plural
from assistant.core.paper import Paper
from assistant.core.settings import get_settings
from assistant.core.text import DayError, parse_day
from assistant.search.lists import list_question
from assistant.search.retrieval import make_filter
from assistant.search.topic import topic_words
from assistant.store.faults import storage_problem
from assistant.store.filter import PaperFilter

MAX_SOURCES = 20
ABSTRACT_PREVIEW_CHARS = 1200
REFERENCES_HEADING = "## References"  # the last section of a briefing's Markdown (English; see below)


def escape_md(text: str | None) -> str:
    """Untrusted text as literal Markdown on one line (newlines collapse: no headings or lists injected)."""
    return escape_markdown(" ".join((text or "").split()))


def marker(number: int) -> str:
    """The element name and in-text citation for source `number` (Chainlit links an element wherever its
    exact name appears in the message)."""
    return f"[{number}]"


def paper_date(paper: Paper) -> str:
    day = paper.published or paper.updated
    return day.isoformat() if day else "undated"


def paper_byline(paper: Paper, authors: int = 3) -> str:
    """Authors, date and categories on one escaped line: "A. Author et al. · 2026-06-03 · cs.LG"."""
    parts = [escape_md(paper.short_authors(authors)) or "unknown authors", paper_date(paper)]
    if paper.categories:
        parts.append(escape_md(", ".join(paper.categories)))
    return " · ".join(parts)


def paper_links(paper: Paper, also: Sequence[Paper] = ()) -> str:
    """Links built from ids: the abstract page and PDF, the journal version when the server reports one,
    and the same work on its other servers."""
    links = f"[{paper.source_label} abstract]({paper.abs_url}) · [PDF]({paper.pdf_url})"
    if paper.published_url:  # built from the DOI the server reports, never copied
        links += f" · [journal version]({paper.published_url})"
    for twin in also:
        links += f" · [also on {twin.source_label}]({twin.abs_url})"
    return links


def source_markdown(
    number: int, paper: Paper, relevance: float | None = None, also: Sequence[Paper] = ()
) -> str:
    """The side panel opened by clicking [n]: title, authors, date, categories, links, abstract."""
    abstract = paper.abstract or ""
    if len(abstract) > ABSTRACT_PREVIEW_CHARS:
        abstract = abstract[:ABSTRACT_PREVIEW_CHARS].rsplit(" ", 1)[0] + " …"
    lines = [
        f"### {marker(number)} {escape_md(paper.title)}",
        "",
        f"**{t('source.authors')}:** {escape_md(', '.join(paper.authors)) or t('source.unknown')}",
        "",
        f"**{t('source.published')}:** {paper_date(paper)}"
        + (
            t("source.updated", day=paper.updated.isoformat())
            if paper.updated and paper.updated != paper.published
            else ""
        ),
        "",
        f"**{t('source.categories')}:** {escape_md(', '.join(paper.categories)) or t('source.none')}",
        "",
        f"**{paper.source_label}:** {escape_md(paper.id)} · {paper_links(paper, also)}",
    ]
    if paper.journal_ref:
        lines += ["", f"**{t('source.journal')}:** {escape_md(paper.journal_ref)}"]
    if relevance is not None:
        lines += ["", t("source.match", match=f"{relevance:.2f}")]
    lines += ["", "---", "", escape_md(abstract)]
    return "\n".join(lines)


ALSO_RELEVANT_MARGIN = 0.08  # cosine: how far below the weakest cited source an uncited one may match


@dataclass(frozen=True)
class ListedSource:
    number: int
    paper: Paper
    match: float  # cosine similarity to the question


def listed_sources(
    text: str, sources: Sequence[ListedSource], drop_weak: bool = True
) -> tuple[list[ListedSource], list[ListedSource]]:
    """The sources worth listing under a text: (cited, also relevant). The ones the text cites come first;
    an uncited source is listed after them only if it matches the question about as well as the weakest
    cited one (within ALSO_RELEVANT_MARGIN: the answer drew on papers down to that match; an unused paper
    well below it is noise; `drop_weak` False keeps them all, for a briefing whose sources were chosen
    per field on purpose). A text that cites nothing (nothing found) keeps every source as listed."""
    cited_set = cited_numbers(text)
    cited = [s for s in sources if s.number in cited_set]
    if not cited:
        return list(sources), []
    floor = min(s.match for s in cited) - ALSO_RELEVANT_MARGIN if drop_weak else float("-inf")
    also = [s for s in sources if s.number not in cited_set and s.match >= floor]
    return cited, also


def sources_list_markdown(
    numbered: Sequence[tuple[int, Paper]], also: Sequence[tuple[int, Paper]] = ()
) -> str:
    """The list under an answer (the sources it cites), then other relevant papers it did not quote; each
    line starts with its marker, which Chainlit turns into a link."""
    if not numbered and not also:
        return ""
    lines: list[str] = []
    for heading, group in ((f"**{t('list.sources')}**", numbered), (f"**{t('list.also')}**", also)):
        if not group:
            continue
        if lines:
            lines.append("")
        lines += [heading, ""]
        for number, paper in group:
            lines.append(
                f"- {marker(number)} **{escape_md(paper.title)}** — {paper_byline(paper)} · "
                f"[abs]({paper.abs_url}) · [PDF]({paper.pdf_url})"
            )
    return "\n".join(lines)


GIST_CHARS = 220


def gist_text(paper: Paper, limit: int = GIST_CHARS) -> str:
    """A one-line gist of a paper as plain text: the first sentence of its abstract, cut at a word boundary
    (escape it where it is shown: `paper_gist`)."""
    sentences = split_sentences(paper.abstract or "")
    text = " ".join((sentences[0] if sentences else "").split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return text


def paper_gist(paper: Paper, limit: int = GIST_CHARS) -> str:
    """A one-line gist of a paper, escaped for Markdown."""
    return escape_md(gist_text(paper, limit))


def paper_card_markdown(
    paper: Paper, position: int | None = None, relevance: float | None = None, also: Sequence[Paper] = ()
) -> str:
    """A radar card: title, a one-line gist, authors, date, fields, links."""
    head = f"**{position}. " if position is not None else "**"
    lines = [f"{head}{escape_md(paper.title)}**", ""]
    gist = paper_gist(paper)
    if gist:
        lines += [gist, ""]
    lines += [
        f"{escape_md(paper.short_authors(6)) or t('card.unknown_authors')}",
        "",
        f"{paper_date(paper)} · {t('card.fields')}: "
        f"{escape_md(', '.join(paper.archives)) or t('source.none')} "
        f"({escape_md(', '.join(paper.categories))})"
        + (f" · {t('card.match', match=f'{relevance:.2f}')}" if relevance is not None else ""),
        "",
        f"{paper.source_label} {escape_md(paper.id)} · {paper_links(paper, also)}",
    ]
    return "\n".join(lines)


def track_topic(question: str) -> str:
    """What the Track button under a Radar question offers to save: the topic the question is about
    ("what's new on diffusion models?" -> "diffusion models"), as a list question names it, else its
    topic words; the question as typed only when no topic word is left."""
    asked = list_question(question)
    if asked is not None:
        return asked.topic
    return " ".join(topic_words(question)) or " ".join(question.split())


def day_text(day: date) -> str:
    """A listing day as people write it: "30 June 2026" (Chinese: "2026年6月30日")."""
    return t("date.day", day=day.day, month=t(f"month.{day.month}"), year=day.year)


def radar_head_markdown(
    topic: str,
    latest_day: date | None,
    first: int,
    shown: int,
    total: int,
    remaining: int,
    author: str | None = None,
) -> str:
    """The line above a radar batch: the topic, the latest listing day in the index (not "today": the
    index may be older than the clock), which papers of the visit these are, and how many remain."""
    parts = [f"**{t('radar.head', topic=escape_md(topic))}**"]
    if latest_day:
        parts.append(t("radar.latest_day", day=day_text(latest_day)))
    if shown:
        if shown > 1:
            parts.append(t("radar.span", first=first, last=first + shown - 1, total=total))
        else:
            parts.append(t("radar.span_one", first=first, total=total))
        parts.append(t("radar.unseen", n=remaining) if remaining else t("radar.no_unseen"))
    if author:
        parts.append(t("radar.only_author", author=escape_md(author)))
    return " · ".join(parts)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """ "1 paper", "2 papers", "0 papers"."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def retrieval_output_markdown(hits: Sequence[tuple[int, Paper, float, float]]) -> str:
    """The retrieval step's output: the papers in the order the ranking put them (hybrid score, highest
    first), each with its marker and its match (cosine similarity to the question, which the ranking
    fuses with the keyword rank, so a lower match can rank higher). `hits`: (number, paper, score, match)."""
    if not hits:
        return t("step.no_papers")
    ranked = sorted(hits, key=lambda h: -h[2])
    lines = [t("step.found", papers=i18n_plural(len(hits), "count.paper")), ""]
    for rank, (number, paper, _score, match) in enumerate(ranked, start=1):
        lines.append(
            f"{rank}. {marker(number)} {escape_md(paper.title)} ({escape_md(paper.id)}, {paper_date(paper)}, "
            f"{t('card.match', match=f'{match:.2f}')})"
        )
    return "\n".join(lines)


def without_references(markdown: str) -> str:
    """A briefing's text without its own trailing References section: the chat shows the Sources list
    under it (clickable [n] markers), and exports add their own references, so it would show twice."""
    for lang in languages():  # a Chinese briefing ends with the Chinese heading
        head, heading, _ = markdown.rpartition(f"\n## {catalog(lang)['brief.references']}\n")
        if heading:
            return head.rstrip() + "\n"
    return markdown


def notices_markdown(notices: Iterable[str]) -> str:
    """Engine notices (extractive mode, LLM fallback, ...) as a quoted note above the text."""
    items = [escape_md(n) for n in notices if n and n.strip()]  # they may quote a server's error text
    return "\n".join(f"> ℹ️ {n}" for n in items) + ("\n\n" if items else "")


def flagged_markdown(flagged: Sequence[str], uncited: Sequence[str]) -> str:
    """The model's sentences that failed the citation check, listed under the answer."""
    if not flagged:
        return ""
    lines = [t("flag.heading"), ""]
    for sentence in flagged:
        why = notes.flag_reason(sentence, uncited)
        # Shown as the answer shows it: links, tags and URLs neutralised (bare URLs as code), on one line.
        lines.append(f"- {neutralise_links(' '.join(sentence.split()))} *({why})*")
    return "\n".join(lines)


def flagged_suffix(flagged: Sequence[str], uncited: Sequence[str]) -> str:
    """The flagged list as a block to append to a text (empty when nothing is flagged)."""
    listing = flagged_markdown(flagged, uncited)
    return f"\n\n{listing}" if listing else ""


def model_warning_markdown(warning: str) -> str:
    """The start-up warning about the configured model name."""
    return f"> ⚠️ **{t('app.language_model')}:** {escape_md(warning)}"


# --- chat settings -> retrieval --------------------------------------------------------------------


class SettingsError(UserFacingError, ValueError):
    """A chat setting the user typed that cannot be used (the message says what to type)."""


@dataclass(frozen=True)
class ChatPrefs:
    """The retrieval-relevant chat settings of one session."""

    fields: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    k: int = 8
    use_llm: bool | None = None  # None: use the model when one is configured
    exclude_ids: frozenset[str] = field(default_factory=frozenset)

    def paper_filter(self, exclude_ids: Iterable[str] = ()) -> PaperFilter:
        return make_filter(
            categories=list(self.fields),
            since=self.since,
            until=self.until,
            exclude_ids=set(self.exclude_ids) | set(exclude_ids),
        )

    def describe(self, count: str = "count.source") -> str:
        """One line for the retrieval step: which filters apply; `count` is the catalog key naming what k
        counts in this profile: count.source, count.per_field, count.per_batch."""
        every = t("filters.all_fields")
        parts = [t("filters.fields", fields=", ".join(self.fields)) if self.fields else every]
        if self.since or self.until:
            parts.append(t("filters.dates", since=self.since or "…", until=self.until or "…"))
        else:
            parts.append(t("filters.any_date"))
        parts.append(i18n_plural(self.k, count))
        return t("word.semicolon").join(parts)


def prefs_from_settings(
    values: Mapping[str, object], known_fields: Iterable[str], default_k: int, llm_configured: bool
) -> ChatPrefs:
    """Validate the chat settings panel. Raises SettingsError with a readable message."""
    known = set(known_fields)
    raw_fields = values.get("fields") or []
    fields = tuple(str(f) for f in raw_fields) if isinstance(raw_fields, list | tuple) else (str(raw_fields),)
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise SettingsError(f"unknown field(s): {', '.join(unknown)}; pick fields from the list")
    try:
        since = parse_day(values.get("since"), "'Published since'")
        until = parse_day(values.get("until"), "'Published until'")
    except DayError as err:  # every settings-panel problem is a SettingsError (one kind for the app)
        raise SettingsError(str(err)) from None
    if since and until and since > until:
        raise SettingsError(f"the date range is inverted: since {since} is after until {until}")
    try:
        k = int(float(str(values.get("k", default_k))))
    except ValueError:
        raise SettingsError(f"number of sources {values.get('k')!r} is not a number") from None
    k = max(1, min(k, MAX_SOURCES))
    use_llm: bool | None = None
    if llm_configured and "use_llm" in values:
        use_llm = bool(values["use_llm"])
    return ChatPrefs(fields=fields, since=since, until=until, k=k, use_llm=use_llm)


def field_choices(category_counts: Mapping[str, int], archive_counts: Mapping[str, int]) -> dict[str, str]:
    """Multi-select items (label -> value) with readable names: whole fields (archives) first, then
    categories, each by its number of papers (an archive counts each paper once)."""
    items: dict[str, str] = {}
    for archive, count in sorted(archive_counts.items(), key=lambda kv: (-kv[1], kv[0])):
        papers = i18n_plural(count, "count.paper")
        items[t("fields.archive_choice", field=field_label(archive), papers=papers)] = archive
    for category, count in sorted(category_counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if category not in archive_counts:
            papers = i18n_plural(count, "count.paper")
            items[t("fields.category_choice", field=field_label(category), papers=papers)] = category
    return items


def filter_chip_labels(prefs: ChatPrefs) -> list[str]:
    """The active filters, one label each: fields by their readable names, then the dates."""
    chips = [field_label(code) for code in prefs.fields]
    if prefs.since:
        chips.append(t("filters.since", day=prefs.since.isoformat()))
    if prefs.until:
        chips.append(t("filters.until", day=prefs.until.isoformat()))
    return chips


def filter_chips(prefs: ChatPrefs) -> str:
    """The active filters as chips (inline code) on one line, or "" when none is set."""
    chips = filter_chip_labels(prefs)
    if not chips:
        return ""
    return t("filters.label") + " ".join(f"`{chip.replace('`', '')}`" for chip in chips)


def settings_in_force(prefs: ChatPrefs) -> str:
    """The fields and dates that stay in force after a refused settings change, both always named: the
    reader learns which dates are used in place of the refused one (the form shows them again too)."""
    names = ", ".join(field_label(code) for code in prefs.fields)
    fields = t("filters.fields", fields=names) if names else t("filters.all_fields")
    if prefs.since or prefs.until:
        dates = t("filters.dates", since=prefs.since or "…", until=prefs.until or "…")
    else:
        dates = t("filters.any_date")
    return t("word.semicolon").join([fields, dates])


FILTERS_WINDOW_MESSAGE = "academichub:filters"  # the `type` public/academichub.js listens for


def filters_window_message(prefs: ChatPrefs) -> dict[str, object]:
    """What the page shows beside the input: the active filters as chips (none: no chip row). Sent with
    Chainlit's send_window_message; the page's script renders it as text."""
    return {
        "type": FILTERS_WINDOW_MESSAGE,
        "label": t("filters.label").strip(),
        "chips": filter_chip_labels(prefs),
    }


# --- exports ---------------------------------------------------------------------------------------


def slug(text: str, limit: int = 48) -> str:
    """A file name stem from a title: lowercase words joined by '-', cut at a word boundary (never
    mid-word) to at most `limit` characters."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = ""
    for word in words:
        candidate = f"{out}-{word}" if out else word
        if len(candidate) > limit:
            break
        out = candidate
    if not out and words:  # a single word longer than the limit: keep its start rather than nothing
        out = words[0][:limit]
    return out or "academichub"


def export_markdown(title: str, body: str, numbered: Sequence[tuple[int, Paper]]) -> str:
    """A standalone Markdown document: the title once, the text as shown (without the app's notices or a
    heading of its own), then a references list with links; a reference the text does not cite says so."""
    text = body.strip()
    if text.startswith("# "):  # a briefing brings its own "# Briefing: ..." title: keep one
        text = text.split("\n", 1)[1].strip() if "\n" in text else ""
    cited = cited_numbers(text)
    lines = [f"# {escape_md(title)}", "", text, "", "## References", ""]
    for number, paper in numbered:
        authors = paper.short_authors(6).rstrip(".")  # "et al." then the sentence's own full stop
        uncited = f" *({t('export.not_cited')})*" if cited and number not in cited else ""
        lines.append(
            f"{marker(number)} {escape_md(authors)}. *{escape_md(paper.title)}*. "
            f"{escape_md(paper.reference_id)} ({paper_date(paper)}, {escape_md(paper.primary_category)}). "
            f"<{paper.abs_url}>{uncited}"
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ExportFile:
    """A file the user downloads with one click (the Export element builds it in the browser)."""

    name: str
    mime: str
    content: str


def export_files(
    title: str, text: str, numbered: Sequence[tuple[int, Paper]], bibtex: str | None
) -> list[ExportFile]:
    """The Markdown and BibTeX downloads of an answer or briefing; `text` is without notices."""
    stem = slug(title)
    return [
        ExportFile(f"{stem}.md", "text/markdown", export_markdown(title, text, numbered)),
        ExportFile(f"{stem}.bib", "application/x-bibtex", bibtex or export_bibtex(p for _, p in numbered)),
    ]


def export_bibtex(papers: Iterable[Paper]) -> str:
    """BibTeX for the papers of an answer (each once), written like a briefing's reference list."""
    unique: dict[str, Paper] = {}
    for paper in papers:
        unique.setdefault(paper.id, paper)
    return bibtex_entries(list(unique.values()))


def readable_error(err: BaseException) -> tuple[str, bool]:
    """What the user reads instead of a traceback, and whether the error is one we expect (else: log it)."""
    text = escape_md(str(err))
    if isinstance(err, UserFacingError):
        hint = f" {err.hint[:1].upper()}{err.hint[1:]}" if err.hint else ""  # our own text: Markdown kept
        return f"**{err.heading}:** {text}{hint}", True
    problem = storage_problem(err, get_settings().storage.home)  # a full disk, a read-only or damaged index
    if problem:
        return f"**{t('error.index_unusable')}:** {escape_md(problem)}", True
    return t("error.unexpected", kind=type(err).__name__, text=text), False


# --- conversation turns in the stored chat history -----------------------------------------------

TURN_KEY = "academichub_turn"  # answer message metadata: the turn it showed


def turns_of(steps: Iterable[Mapping[str, Any]]) -> list[Turn]:
    """The turns of a stored thread: each answer message keeps its turn (question, standalone form, text,
    numbered source ids) in its metadata. A thread saved before that keeps question and text only: its
    follow-ups are rewritten from the words, and "the second one" cannot point at a paper."""
    turns: list[Turn] = []
    question: str | None = None
    for step in steps:
        stored = _metadata(step).get(TURN_KEY)
        turn = Turn.from_dict(stored) if isinstance(stored, dict) else None
        if turn is not None:
            turns.append(turn)
            question = None
        elif step.get("type") == "user_message":
            question = step.get("output") or ""
        elif step.get("type") == "assistant_message" and question is not None:
            turns.append(Turn(question, question, step.get("output") or ""))
            question = None
    return turns


def _metadata(step: Mapping[str, Any]) -> dict[str, Any]:
    """A step's metadata: a dict, or its JSON text (how SQLite hands it back through Chainlit's layer)."""
    raw = step.get("metadata") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}
