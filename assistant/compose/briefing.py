"""Cross-field briefings: topic (+ fields, date window) -> per-field retrieval with quotas and MMR ->
Markdown (title, overview, a section per field, Bridges, open questions, references) and BibTeX.

The skeleton (sections, paper lists, bridges, references) is built here from retrieved papers only; the
prose comes from the LLM (briefing prompt) or, in extractive mode, from abstract sentences. Either way the
citation check runs on the result and links come only from paper ids.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import pairwise
from typing import Any

import numpy as np

from assistant.compose import notices as notes
from assistant.compose.answer import (
    IndexComposer,
    Mode,
    Source,
    fence_safe,
    find_unsupported,
    format_sources,
)
from assistant.compose.checks import drop_unfinished, ends_finished, find_uncited, strip_prompt_echo
from assistant.compose.citations import check_citations, escape_markdown, neutralise_links
from assistant.compose.extractive import cite, rank_quotes, split_sentences
from assistant.compose.generation import generate_over_sources
from assistant.compose.llm import LLMClient
from assistant.compose.prompts import load_prompt, render_prompt
from assistant.search.words import GENERIC_WORDS
from ingest.catalog import PaperFilter
from ingest.errors import UserFacingError
from ingest.paper import Paper, archive_of

MAX_AUTO_FIELDS = 3
BRIEFING_ABSTRACT_CHARS = 1500
OVERVIEW_HEADING = "## Overview"
BRIDGES_HEADING = "## Bridges"
OPEN_HEADING = "## Open questions"
_OPEN_CUES = re.compile(
    r"\b(remains?|remained|open (?:question|problem|challenge)s?|challeng\w*|unclear|unknown|limitation\w*|"
    r"future work|yet to|not yet|lacks?|lacking|under-?explored|little is known|poorly understood)\b",
    re.IGNORECASE,
)
_METHOD_WORDS = re.compile(r"[a-z][a-z\-]{2,}")
_URL = re.compile(r"https?://\S+|www\.\S+|\S+\.(?:com|org|io|net)\S*", re.IGNORECASE)


@dataclass(frozen=True)
class ModelProse:
    """The model's sections by key (overview, a field, bridges, open), and its sentences citing nothing."""

    prose: dict[str, str]
    uncited: list[str]
    removed: list[int]  # citations of sources the model was not given, taken out
    incomplete: str | None = None  # why the model's text was cut short


class BriefingError(UserFacingError, ValueError):
    """Input a briefing cannot serve (empty topic, inverted dates, unknown fields): a readable message."""


@dataclass
class FieldSection:
    field: str
    sources: list[Source]


@dataclass
class Bridge:
    kind: str  # "paper" (cross-listed) or "method" (shared term)
    label: str
    numbers: list[int]
    fields: list[str]


@dataclass
class Briefing:
    topic: str
    fields: list[str]
    markdown: str
    sources: list[Source]
    mode: Mode
    notices: list[str] = field(default_factory=list)
    sections: list[FieldSection] = field(default_factory=list)
    bridges: list[Bridge] = field(default_factory=list)
    since: date | None = None
    until: date | None = None
    removed_citations: list[int] = field(default_factory=list)
    unsupported_sentences: list[str] = field(default_factory=list)  # flagged: uncited or unsupported
    uncited_sentences: list[str] = field(default_factory=list)
    incomplete: str | None = None  # why the model's prose was cut short (sections it missed are quoted)

    def to_bibtex(self) -> str:
        return bibtex_entries([s.paper for s in self.sources])

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "fields": list(self.fields),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "markdown": self.markdown,
            "text": self.markdown,
            "citations": {str(s.number): s.paper.id for s in self.sources},
            "sources": [s.to_dict() for s in self.sources],
            "sections": [
                {"field": sec.field, "numbers": [s.number for s in sec.sources]} for sec in self.sections
            ],
            "bridges": [
                {"kind": b.kind, "label": b.label, "numbers": b.numbers, "fields": b.fields}
                for b in self.bridges
            ],
            "mode": self.mode,
            "notices": list(self.notices),
            "removed_citations": list(self.removed_citations),
            "unsupported_sentences": list(self.unsupported_sentences),
            "uncited_sentences": list(self.uncited_sentences),
            "incomplete": self.incomplete,
        }


def in_field(paper: Paper, field_name: str) -> bool:
    """A field is a category (cs.LG) or an archive prefix (q-bio) matched against every listing."""
    return any(c == field_name or archive_of(c) == field_name for c in paper.categories)


class Briefer(IndexComposer):
    """Composes briefings over the index. One per process; shares the retriever and the LLM client."""

    def brief(
        self,
        topic: str,
        *,
        fields: Sequence[str] | None = None,
        since: date | None = None,
        until: date | None = None,
        per_field: int = 4,
        use_llm: bool | None = None,
        paper_filter: PaperFilter | None = None,
        on_token: Callable[[str], None] | None = None,
        on_sources: Callable[[list[Source]], None] | None = None,
    ) -> Briefing:
        """A cited cross-field briefing. `on_token` receives LLM tokens as they stream (LLM mode only);
        the returned `markdown` is authoritative. `on_sources` receives the numbered sources (possibly
        none) once retrieval is done, before any text is written. Raises RetrievalError/BriefingError for
        bad input."""
        topic = (topic or "").strip()
        if not topic:
            raise BriefingError("the topic is empty: say what the briefing should be about")
        per_field = max(1, min(per_field, 12))
        base = replace(
            paper_filter or PaperFilter(), since=since or (paper_filter.since if paper_filter else None)
        )
        base = replace(base, until=until or base.until)
        wanted = list(dict.fromkeys(f.strip() for f in (fields or ()) if f and f.strip()))
        notices: list[str] = []
        if wanted:
            self.retriever.check_categories(tuple(wanted))
        else:
            wanted = self.choose_fields(topic, base)
            if wanted:
                notices.append(f"Fields chosen from the retrieved papers: {', '.join(wanted)}.")
        sections, sources = self._retrieve(topic, wanted, base, per_field)
        if on_sources is not None:
            on_sources(sources)
        mode: Mode = "extractive"
        llm = self.llm if use_llm is not False else None
        if use_llm is False:
            notices.append(notes.LLM_SWITCHED_OFF)
        elif llm is None:
            notices.append(notes.NO_LLM)
        bridges = find_bridges(sections, wanted)
        briefing = Briefing(
            topic, wanted, "", sources, mode, notices, sections, bridges, base.since, base.until
        )
        if not sources:
            briefing.markdown = self._empty_markdown(topic, wanted, base)
            return briefing
        prose: dict[str, str] | None = None
        uncited: list[str] = []
        removed: list[int] = []
        if llm is not None:
            written = self._llm_prose(llm, topic, wanted, sections, sources, bridges, base, on_token, notices)
            if written is not None:
                briefing.mode = "llm"
                prose, uncited, removed = written.prose, written.uncited, written.removed
                briefing.incomplete = written.incomplete
        extractive = self._extractive_prose(topic, wanted, sections, sources, bridges)
        if prose is None:
            prose = extractive
        else:
            for key, value in extractive.items():
                prose.setdefault(key, value)  # a section the model left out is filled from the abstracts
        markdown = self._assemble(topic, wanted, sections, sources, prose, base)
        checked = check_citations(markdown, [s.number for s in sources])
        briefing.markdown = checked.text
        briefing.removed_citations = sorted(set(removed) | set(checked.removed))
        if briefing.removed_citations:
            notices.append(notes.removed_citations(briefing.removed_citations, len(sources)))
        if briefing.mode == "llm":
            unsupported = find_unsupported(
                briefing.markdown.split("## References")[0], sources, self.bank, self.settings.min_support
            )
            briefing.uncited_sentences = uncited
            briefing.unsupported_sentences = uncited + [s for s in unsupported if s not in uncited]
            if uncited:
                notices.append(notes.uncited_sentences(len(uncited)))
            if unsupported:
                notices.append(notes.unsupported_sentences(len(unsupported)))
        return briefing

    # --- retrieval ---------------------------------------------------------------------------------------

    def choose_fields(self, topic: str, base: PaperFilter) -> list[str]:
        """The top distinct fields among the relevant papers: archives (cs, q-bio, physics...) when the
        papers span at least two of them, otherwise categories (cs.LG, cs.CV...)."""
        hits = [
            h for h in self.retriever.search(topic, 30, base) if h.relevance >= self.settings.min_relevance
        ]
        archives: Counter[str] = Counter()
        categories: Counter[str] = Counter()
        for hit in hits:
            for category in hit.paper.categories:
                categories[category] += 1
            for archive in hit.paper.archives:
                archives[archive] += 1
        supported = [a for a, n in sorted(archives.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 2]
        if len(supported) >= 2:
            return supported[:MAX_AUTO_FIELDS]
        return [c for c, _ in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_AUTO_FIELDS]]

    def _retrieve(
        self, topic: str, fields: Sequence[str], base: PaperFilter, per_field: int
    ) -> tuple[list[FieldSection], list[Source]]:
        """Each field gets its own quota of diverse (MMR) relevant papers; numbering follows section order
        and a paper listed in several fields keeps one number."""
        numbers: dict[str, Source] = {}
        sections: list[FieldSection] = []
        for name in fields or [""]:
            flt = replace(base, categories=(name,)) if name else base
            hits = self.retriever.search(topic, per_field, flt, diversify=True)
            chosen: list[Source] = []
            for hit in hits:
                if hit.relevance < self.settings.min_relevance:
                    continue
                source = numbers.get(hit.paper.id)
                if source is None:
                    source = Source(len(numbers) + 1, hit)
                    numbers[hit.paper.id] = source
                chosen.append(source)
            sections.append(FieldSection(name or "all fields", chosen))
        return sections, list(numbers.values())

    # --- prose ---------------------------------------------------------------------------------------------

    def _extractive_prose(
        self,
        topic: str,
        fields: Sequence[str],
        sections: Sequence[FieldSection],
        sources: Sequence[Source],
        bridges: Sequence[Bridge],
    ) -> dict[str, str]:
        query = self.retriever.embedder.encode_query(topic)
        numbered = [(s.number, s.paper, s.hit.relevance) for s in sources]
        overview = rank_quotes(query, topic, numbered, self.bank, limit=4, per_paper=1)
        used = {q.sentence for q in overview}
        prose = {"overview": " ".join(cite(q.sentence, [q.number]) for q in overview)}
        findings: dict[int, str] = {}
        for source in sources:
            # A section quotes a finding the overview has not quoted already, when the abstract has one.
            ranked = rank_quotes(
                query, topic, [(source.number, source.paper, 1.0)], self.bank, limit=3, per_paper=3
            )
            fresh = [q for q in ranked if q.sentence not in used] or ranked
            if fresh:
                findings[source.number] = fresh[0].sentence
                used.add(fresh[0].sentence)
        for section in sections:
            lines = []
            for source in section.sources:
                finding = findings.get(source.number)
                body = cite(finding, [source.number]) if finding else f"[{source.number}]"
                lines.append(f"- **{escape_markdown(source.paper.title)}**: {body}")
            prose[section.field] = "\n".join(lines)
        prose["bridges"] = bridges_markdown(bridges, sources)
        prose["open"] = self._open_questions(query, sources, used)
        return prose

    def _open_questions(self, query: Any, sources: Sequence[Source], used: set[str]) -> str:
        cued: list[tuple[int, str]] = []
        for source in sources:
            for sentence in self.bank.sentences(source.paper):
                if sentence not in used and _OPEN_CUES.search(sentence) and 6 <= len(sentence.split()) <= 70:
                    cued.append((source.number, sentence))
        vectors = self.bank.vectors([sentence for _, sentence in cued]) if cued else np.zeros((0, 0))
        candidates = [
            (float(vector @ query), number, sentence)
            for (number, sentence), vector in zip(cued, vectors, strict=True)
        ]
        candidates.sort(key=lambda c: (-c[0], c[1]))
        lines: list[str] = []
        quoted: set[int] = set()
        for _, number, sentence in candidates:
            if number in quoted:
                continue
            quoted.add(number)
            lines.append(f"- {cite(sentence, [number])}")
            if len(lines) == 4:
                break
        return "\n".join(lines) or "- The abstracts state no open problems explicitly."

    def _llm_prose(
        self,
        llm: LLMClient,
        topic: str,
        fields: Sequence[str],
        sections: Sequence[FieldSection],
        sources: Sequence[Source],
        bridges: Sequence[Bridge],
        base: PaperFilter,
        on_token: Callable[[str], None] | None,
        notices: list[str],
    ) -> ModelProse | None:
        headings = [OVERVIEW_HEADING, *(f"## {s.field}" for s in sections), BRIDGES_HEADING, OPEN_HEADING]
        connections = "\n".join(f"- {b.kind}: {fence_safe(b.label)} {_marks(b.numbers)}" for b in bridges)

        def render(kept: Sequence[Source], abstract_chars: int) -> str:
            sent = {s.number for s in kept}
            grouped = [
                f"### Field: {section.field}\n"
                + format_sources([s for s in section.sources if s.number in sent], abstract_chars)
                for section in sections
            ]
            return render_prompt(
                "briefing",
                topic=fence_safe(topic),
                window=window_text(base),
                fields=", ".join(s.field for s in sections),
                sources="\n\n".join(grouped),
                bridges=connections or "- none found",
                sections="\n".join(headings),
                count=len(sources),
            )

        # When not all fit, the least relevant papers (across fields) are left out first.
        by_relevance = sorted(sources, key=lambda s: (-s.hit.relevance, s.number))
        result = generate_over_sources(
            llm,
            system=load_prompt("system"),
            render=render,
            sources=by_relevance,
            context_window=self.settings.llm_context_window,
            max_tokens=self.settings.llm_max_tokens_briefing,
            abstract_chars=BRIEFING_ABSTRACT_CHARS,
            on_token=on_token,
            notices=notices,
        )
        if result is None:
            return None
        generation = result.generation
        titles = {s.number: s.paper.title for s in sources}
        reply, echoed = strip_prompt_echo(neutralise_links(generation.text), result.prompt, titles)
        if echoed:
            notices.append(notes.prompt_echo(echoed))
        incomplete: str | None = None
        if not generation.complete or not ends_finished(reply):
            reply, _ = drop_unfinished(reply, strict=not generation.complete)
            why = incomplete = generation.cut or "it stopped in the middle of a sentence"
            notices.append(
                f"The model's briefing is incomplete: {why}. Its unfinished end was removed; sections it did "
                "not write are quoted from the abstracts."
            )
        checked = check_citations(reply, result.sent)
        if not checked.used:
            notices.append(notes.cites_nothing("briefing"))
            return None
        parts = split_sections(checked.text)
        prose: dict[str, str] = {}
        for heading, body in parts.items():
            key = heading.lower()
            if key == "overview":
                prose["overview"] = body
            elif key == "bridges":
                prose["bridges"] = body
            elif key.startswith("open"):
                prose["open"] = body
            else:
                match = next((s.field for s in sections if s.field.lower() == key), None)
                if match:
                    prose[match] = body
        if not prose:
            notices.append(
                "The language model's briefing had none of the expected sections: used extractive text."
            )
            return None
        uncited = [
            sentence
            for key, body in prose.items()
            if key != "bridges"  # built from the application's connections
            for sentence in find_uncited(body, result.sent)
        ]
        return ModelProse(prose, uncited, checked.removed, incomplete)

    # --- assembly ------------------------------------------------------------------------------------------

    def _assemble(
        self,
        topic: str,
        fields: Sequence[str],
        sections: Sequence[FieldSection],
        sources: Sequence[Source],
        prose: dict[str, str],
        base: PaperFilter,
    ) -> str:
        field_names = ", ".join(s.field for s in sections)
        out = [
            f"# Briefing: {escape_markdown(topic)}",
            "",
            f"*{window_text(base).capitalize()} · fields: {escape_markdown(field_names)} · "
            f"{len(sources)} papers*",
            "",
            OVERVIEW_HEADING,
            "",
            prose.get("overview", "").strip(),
            "",
        ]
        for section in sections:
            out += [f"## {escape_markdown(section.field)}", ""]
            if section.sources:
                out.append(prose.get(section.field, "").strip())
            else:
                out.append(
                    f"No relevant papers on this topic in {escape_markdown(section.field)} in this window."
                )
            out.append("")
        out += [
            BRIDGES_HEADING,
            "",
            prose.get("bridges", "").strip(),
            "",
            OPEN_HEADING,
            "",
            prose["open"].strip(),
            "",
        ]
        out += ["## References", "", references_markdown(sources)]
        return "\n".join(out).strip() + "\n"

    def _empty_markdown(self, topic: str, fields: Sequence[str], base: PaperFilter) -> str:
        where = f" in {', '.join(fields)}" if fields else ""
        return (
            f"# Briefing: {escape_markdown(topic)}\n\nI could not find this in the indexed papers{where} "
            f"({window_text(base)}).\n"
        )


# --- pieces shared with the app and the radar ---------------------------------------------------------------


def window_text(flt: PaperFilter) -> str:
    if flt.since and flt.until:
        return f"papers from {flt.since.isoformat()} to {flt.until.isoformat()}"
    if flt.since:
        return f"papers since {flt.since.isoformat()}"
    if flt.until:
        return f"papers until {flt.until.isoformat()}"
    return "all indexed papers"


def _marks(numbers: Sequence[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def find_bridges(sections: Sequence[FieldSection], fields: Sequence[str], limit: int = 6) -> list[Bridge]:
    """Papers cross-listed in two or more of the fields, then method terms (word pairs) used by papers of
    two or more fields."""
    bridges: list[Bridge] = []
    if len(fields) < 2:
        return bridges
    seen: set[str] = set()
    for section in sections:
        for source in section.sources:
            if source.paper.id in seen:
                continue
            seen.add(source.paper.id)
            shared = [f for f in fields if in_field(source.paper, f)]
            if len(shared) >= 2:
                bridges.append(Bridge("paper", source.paper.title, [source.number], shared))
    term_fields: dict[str, set[str]] = {}
    term_numbers: dict[str, set[int]] = {}
    for section in sections:
        for source in section.sources:
            for term in method_terms(source.paper.abstract):
                term_fields.setdefault(term, set()).add(section.field)
                term_numbers.setdefault(term, set()).add(source.number)
    shared_terms = [t for t, fs in term_fields.items() if len(fs) >= 2 and len(term_numbers[t]) >= 2]
    shared_terms.sort(key=lambda t: (-len(term_fields[t]), -len(term_numbers[t]), t))
    for term in shared_terms[:limit]:
        order = [s.field for s in sections if s.field in term_fields[term]]
        bridges.append(Bridge("method", term, sorted(term_numbers[term]), order))
    return bridges


def method_terms(text: str) -> set[str]:
    """Adjacent content-word pairs ("graph neural", "contrastive learning"): cheap method names."""
    terms: set[str] = set()
    for sentence in split_sentences(_URL.sub(" ", text)):
        words = _METHOD_WORDS.findall(sentence.lower())
        for first, second in pairwise(words):
            # Adverbs ("significantly") and generic prose words do not name methods.
            if any(w in GENERIC_WORDS or len(w) <= 3 or w.endswith("ly") for w in (first, second)):
                continue
            terms.add(f"{first} {second}")
    return terms


def bridges_markdown(bridges: Sequence[Bridge], sources: Sequence[Source]) -> str:
    if not bridges:
        return "- No paper is listed in two of these fields, and no method term is shared across them."
    lines = []
    for bridge in bridges:
        fields = " and ".join(escape_markdown(f) for f in bridge.fields)
        if bridge.kind == "paper":
            lines.append(
                f"- *{escape_markdown(bridge.label)}* is listed in {fields} {_marks(bridge.numbers)}."
            )
        else:
            lines.append(
                f"- Shared method: **{escape_markdown(bridge.label)}** in {fields} {_marks(bridge.numbers)}."
            )
    return "\n".join(lines)


def references_markdown(sources: Sequence[Source]) -> str:
    lines = []
    for source in sources:
        paper = source.paper
        when = paper.published.isoformat() if paper.published else "undated"
        lines.append(
            f"{source.number}. {escape_markdown(paper.short_authors().rstrip('.'))}. "
            f"*{escape_markdown(paper.title)}*. "
            f"{paper.reference_id} [{paper.primary_category}], {when}. "
            f"[abs]({paper.abs_url}) · [PDF]({paper.pdf_url})"
        )
    return "\n".join(lines)


def split_sections(markdown: str) -> dict[str, str]:
    """`## Heading` -> body, for the headings the model wrote."""
    parts: dict[str, str] = {}
    current: str | None = None
    buffer: list[str] = []
    for line in markdown.splitlines():
        match = re.match(r"^\s*#{1,3}\s+(.+?)\s*#*\s*$", line)
        if match:
            if current is not None:
                parts[current] = "\n".join(buffer).strip()
            current, buffer = match.group(1).strip().strip("*").strip(), []
        elif current is not None:
            buffer.append(line)
    if current is not None:
        parts[current] = "\n".join(buffer).strip()
    return {k: v for k, v in parts.items() if v}


# --- BibTeX ------------------------------------------------------------------------------------------------

_BIB_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def bibtex_escape(text: str) -> str:
    return "".join(_BIB_SPECIAL.get(ch, ch) for ch in re.sub(r"\s+", " ", text).strip())


def bibtex_key(paper: Paper, taken: set[str]) -> str:
    last = paper.authors[0].split()[-1] if paper.authors and paper.authors[0].split() else "anon"
    stem = re.sub(r"[^A-Za-z0-9]", "", _ascii(last)).lower() or "anon"
    word = next(
        (w for w in re.findall(r"[A-Za-z]{4,}", _ascii(paper.title)) if w.lower() not in GENERIC_WORDS),
        "paper",
    )
    base = f"{stem}{paper.year or ''}{word.lower()}"
    key, suffix = base, 0
    while key in taken:
        suffix += 1
        key = f"{base}{chr(ord('a') + suffix - 1) if suffix <= 26 else suffix}"
    taken.add(key)
    return key


def _ascii(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def bibtex_entries(papers: Sequence[Paper]) -> str:
    taken: set[str] = set()
    entries = []
    for paper in papers:
        if paper.source != "arxiv":
            entries.append(_bibtex_preprint(paper, taken))
            continue
        fields = [
            ("title", "{" + bibtex_escape(paper.title) + "}"),
            ("author", " and ".join(bibtex_escape(a) for a in paper.authors) or "Unknown"),
            ("year", str(paper.year or "")),
            ("eprint", paper.id),
            ("archivePrefix", "arXiv"),
            ("primaryClass", paper.primary_category),
            ("url", paper.abs_url),
        ]
        if paper.doi:
            fields.append(("doi", bibtex_escape(paper.doi)))
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
        entries.append(f"@misc{{{bibtex_key(paper, taken)},\n{body}\n}}\n")
    return "\n".join(entries)


def _bibtex_preprint(paper: Paper, taken: set[str]) -> str:
    """A bioRxiv/medRxiv preprint: `@article` with the server as journal, its DOI and its versioned page."""
    fields = [
        ("title", "{" + bibtex_escape(paper.title) + "}"),
        ("author", " and ".join(bibtex_escape(a) for a in paper.authors) or "Unknown"),
        ("journal", paper.source_label),
        ("year", str(paper.year or "")),
        ("doi", bibtex_escape(paper.id)),
        ("url", paper.abs_url),
    ]
    if paper.published_doi:
        fields.append(("note", "Published version: doi:" + bibtex_escape(paper.published_doi)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@article{{{bibtex_key(paper, taken)},\n{body}\n}}\n"
