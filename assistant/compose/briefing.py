"""Cross-field briefings: topic (+ fields, date window) -> per-field retrieval of on-topic papers with
quotas and MMR -> Markdown (title, overview, a section per field, Bridges, open questions, references) and
BibTeX.

Every listed paper is on the topic (close in meaning and holding the topic's key words), each appears in
one section with its own sentence; bridges are cross-listed on-topic papers and specific terms (by the
catalog's statistics) shared across fields; open questions are stated limitations or open problems. The
skeleton is built here from retrieved papers only; the prose comes from the LLM (briefing prompt, each
section checked and replaced by the extractive one when it fails) or from abstract sentences. Field names
are readable everywhere (`assistant.core.fields.label`). Links come only from paper ids.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from assistant.compose import notices as notes
from assistant.compose.answer import (
    IndexComposer,
    Mode,
    Source,
    fence_safe,
    find_unsupported,
    format_sources,
)
from assistant.compose.checks import drop_unfinished, ends_finished, find_uncited
from assistant.compose.citations import (
    check_citations,
    cited_numbers,
    escape_markdown,
    strip_citations,
)
from assistant.compose.extractive import cite, split_sentences, states_open_problem, topic_sentence
from assistant.compose.generation import checked_reply, generate_over_sources
from assistant.compose.llm import LLMClient
from assistant.compose.prompts import load_prompt, render_prompt
from assistant.compose.terms import (
    candidate_terms,
    is_specific,
    is_topic_only,
    stem_key,
    term_stats,
)
from assistant.core.errors import UserFacingError
from assistant.core.fields import field_name, label
from assistant.core.paper import Paper, archive_of
from assistant.search.hit import Hit
from assistant.search.topic import (
    content_stems,
    holds_every_key_word,
    holds_key_words,
    key_words,
    topic_coverage,
)
from assistant.search.words import GENERIC_WORDS
from assistant.store.catalog import PaperFilter

MAX_AUTO_FIELDS = 3
BRIEFING_ABSTRACT_CHARS = 1500
FIELD_POOL = 40  # papers retrieved per field before the on-topic test (a field rarely holds more on topic)
OVERVIEW_HEADING = "## Overview"
BRIDGES_HEADING = "## Bridges"
OPEN_HEADING = "## Open questions"
MAX_OPEN_QUESTIONS = 4
OPEN_QUESTION_COSINE = 0.4  # an open question without the topic's words must be this close to it
MAX_BRIDGE_TERMS = 6
NO_BRIDGES = (
    "- None found: no paper on this topic is listed in two of these fields, and no specific method, "
    "dataset, task or benchmark term occurs in on-topic papers of two of them (generic phrases are not "
    "shown)."
)
NO_OPEN_QUESTIONS = (
    "- None stated: no abstract of these papers states a limitation, an open question or future work "
    "explicitly."
)


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
    field: str  # the code (cs.LG, q-bio); `label` is what a reader sees
    sources: list[Source]
    relevant: int = 0  # papers on the topic in this field (some may be listed under another field)
    quota: int = 0  # how many papers the section could list

    @property
    def label(self) -> str:
        return label(self.field) if self.field else "All fields"


@dataclass
class Bridge:
    kind: str  # "paper" (cross-listed) or "method" (a specific term shared across fields)
    label: str
    numbers: list[int]
    fields: list[str]  # codes


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
            "field_labels": {f: label(f) for f in self.fields},
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "markdown": self.markdown,
            "text": self.markdown,
            "citations": {str(s.number): s.paper.id for s in self.sources},
            "sources": [s.to_dict() for s in self.sources],
            "sections": [
                {
                    "field": sec.field,
                    "label": sec.label,
                    "numbers": [s.number for s in sec.sources],
                    "relevant": sec.relevant,
                }
                for sec in self.sections
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


def field_labels(codes: Sequence[str]) -> str:
    return ", ".join(label(c) for c in codes)


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
                notices.append(f"Fields chosen from the retrieved papers: {field_labels(wanted)}.")
        sections, sources = self._retrieve(topic, wanted, base, per_field)
        if on_sources is not None:
            on_sources(sources)
        mode: Mode = "extractive"
        llm = self.llm if use_llm is not False else None
        if use_llm is False:
            notices.append(notes.LLM_SWITCHED_OFF)
        elif llm is None:
            notices.append(notes.NO_LLM)
        terms = self._specific_terms(topic, sources)
        bridges = find_bridges(sections, wanted, terms, self._squarely_on_topic(topic, sources))
        briefing = Briefing(
            topic, wanted, "", sources, mode, notices, sections, bridges, base.since, base.until
        )
        if not sources:
            briefing.markdown = self._empty_markdown(topic, wanted, base)
            return briefing
        extractive = self._extractive_prose(topic, sections, sources, bridges, terms)
        prose = extractive
        uncited: list[str] = []
        removed: list[int] = []
        if llm is not None:
            written = self._llm_prose(llm, topic, sections, sources, bridges, base, on_token, notices)
            if written is not None:
                briefing.mode = "llm"
                prose = merge_checked(written.prose, extractive, sections, notices)
                kept = "\n".join(prose.values())  # sentences of sections replaced by extractive ones are gone
                uncited = [sentence for sentence in written.uncited if sentence in kept]
                removed = written.removed
                briefing.incomplete = written.incomplete
        markdown = self._assemble(topic, sections, sources, prose, base)
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
        """The top distinct fields among the on-topic papers: archives (cs, q-bio, physics...) when the
        papers span at least two of them, otherwise categories (cs.LG, cs.CV...)."""
        hits = self.relevant_hits(topic, self.retriever.search(topic, 30, base))
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

    def relevant_hits(self, topic: str, hits: Sequence[Hit]) -> list[Hit]:
        """The hits on the topic: close in meaning (cosine >= min_relevance) and holding the topic's key
        words (`topic.key_words`: "unlearning" in "machine unlearning"), or very close in meaning alone
        (>= brief_strong_relevance: "concept erasure" is unlearning without the word)."""
        settings = self.settings
        coverage = topic_coverage(self.retriever.catalog, topic, [h.paper.id for h in hits])
        return [
            hit
            for hit in hits
            if hit.relevance >= settings.min_relevance
            and (
                holds_key_words(coverage.get(hit.paper.id), settings.brief_min_coverage)
                or hit.relevance >= settings.brief_strong_relevance
            )
        ]

    def _retrieve(
        self, topic: str, fields: Sequence[str], base: PaperFilter, per_field: int
    ) -> tuple[list[FieldSection], list[Source]]:
        """Each field is searched on its own (field filter), its papers tested for the topic, and its quota
        filled by MMR among the on-topic papers only (`share_out`: each paper in one section). Numbering
        follows section order."""
        pools: dict[str, list[Hit]] = {}
        for name in fields or [""]:
            flt = replace(base, categories=(name,)) if name else base
            pools[name] = self.relevant_hits(topic, self.retriever.search(topic, FIELD_POOL, flt))
        every = [h.paper.id for hits in pools.values() for h in hits]
        vectors = self.retriever.paper_vectors(every) if every else {}
        chosen = share_out(pools, vectors, per_field)
        sections: list[FieldSection] = []
        sources: list[Source] = []
        for name in pools:
            numbered = [Source(len(sources) + i + 1, hit) for i, hit in enumerate(chosen[name])]
            sources.extend(numbered)
            sections.append(FieldSection(name, numbered, relevant=len(pools[name]), quota=per_field))
        return sections, sources

    def _squarely_on_topic(self, topic: str, sources: Sequence[Source]) -> set[int]:
        """Numbers of the listed papers holding every key word of the topic (or very close in meaning): the
        only ones a briefing presents as a bridge between fields."""
        coverage = topic_coverage(self.retriever.catalog, topic, [s.paper.id for s in sources])
        strong = self.settings.brief_strong_relevance
        return {
            s.number
            for s in sources
            if s.hit.relevance >= strong or holds_every_key_word(coverage[s.paper.id])
        }

    def _specific_terms(self, topic: str, sources: Sequence[Source]) -> dict[str, set[int]]:
        """Specific terms (by the catalog's statistics) held by two or more listed papers -> their numbers:
        what bridges and the overview may name."""
        holders: dict[str, set[int]] = {}
        spelling: dict[str, str] = {}
        for source in sources:
            text = f"{source.paper.title}. {_URL.sub(' ', source.paper.abstract)}"
            for term in candidate_terms(text):
                key = stem_key(term)
                spelling.setdefault(key, term)
                holders.setdefault(key, set()).add(source.number)
        topic_words = _TOPIC_WORD.findall(topic)
        shared = {
            spelling[k]: numbers
            for k, numbers in holders.items()
            if len(numbers) >= 2 and not is_topic_only(spelling[k], topic_words)
        }
        if not shared:
            return {}
        catalog = self.retriever.catalog
        words = {w.lower() for term in shared for w in term.split()}
        counts = catalog.phrase_frequencies([*shared, *words])
        together = catalog.phrase_frequencies([t for t in shared if " " in t], adjacent=False)
        total = catalog.count()
        return {
            term: numbers
            for term, numbers in shared.items()
            if is_specific(term, term_stats(term, counts, counts, together, total))
        }

    # --- prose ---------------------------------------------------------------------------------------------

    def _extractive_prose(
        self,
        topic: str,
        sections: Sequence[FieldSection],
        sources: Sequence[Source],
        bridges: Sequence[Bridge],
        terms: dict[str, set[int]],
    ) -> dict[str, str]:
        query = self.retriever.embedder.encode_query(topic)
        used: set[str] = set()
        prose = {"overview": overview_text(topic, sections, sources, bridges, terms)}
        for section in sections:
            lines = []
            for source in section.sources:
                sentence = topic_sentence(query, topic, source.paper, self.bank, used)
                if sentence:
                    used.add(sentence)
                body = cite(sentence, [source.number]) if sentence else f"[{source.number}]"
                lines.append(f"- **{escape_markdown(source.paper.title)}**: {body}")
            prose[section.field] = "\n".join(lines)
        prose["bridges"] = bridges_markdown(bridges)
        prose["open"] = self._open_questions(topic, query, sources, used)
        return prose

    def _open_questions(self, topic: str, query: Any, sources: Sequence[Source], used: set[str]) -> str:
        """Stated limitations, open problems and future work of the listed (on-topic) papers, closest to
        the topic first, one per paper. Nothing rather than method descriptions."""
        cued: list[tuple[int, str]] = []
        for source in sources:
            for sentence in self.bank.sentences(source.paper):
                fits = 6 <= len(sentence.split()) <= 70
                if fits and sentence not in used and states_open_problem(sentence):
                    cued.append((source.number, sentence))
        # An open problem of the topic: it names one of the topic's key words, or is close to it in meaning.
        words = content_stems(" ".join(k.strip('"') for k in key_words(self.retriever.catalog, topic)))
        if not cued:
            return NO_OPEN_QUESTIONS
        vectors = self.bank.vectors([sentence for _, sentence in cued])
        candidates = [
            (float(vector @ query), number, sentence)
            for (number, sentence), vector in zip(cued, vectors, strict=True)
            if content_stems(sentence) & words or float(vector @ query) >= OPEN_QUESTION_COSINE
        ]
        if not candidates:
            return NO_OPEN_QUESTIONS
        candidates.sort(key=lambda c: (-c[0], c[1]))
        lines: list[str] = []
        quoted: set[int] = set()
        for _, number, sentence in candidates:
            if number in quoted:
                continue
            quoted.add(number)
            used.add(sentence)
            lines.append(f"- {cite(sentence, [number])}")
            if len(lines) == MAX_OPEN_QUESTIONS:
                break
        return "\n".join(lines)

    def _llm_prose(
        self,
        llm: LLMClient,
        topic: str,
        sections: Sequence[FieldSection],
        sources: Sequence[Source],
        bridges: Sequence[Bridge],
        base: PaperFilter,
        on_token: Callable[[str], None] | None,
        notices: list[str],
    ) -> ModelProse | None:
        headings = [OVERVIEW_HEADING, *(f"## {s.label}" for s in sections), BRIDGES_HEADING, OPEN_HEADING]
        connections = "\n".join(
            f"- {b.kind}: {fence_safe(b.label)} (fields: {field_labels(b.fields)}) {_marks(b.numbers)}"
            for b in bridges
        )

        def render(kept: Sequence[Source], abstract_chars: int) -> str:
            sent = {s.number for s in kept}
            grouped = []
            for section in sections:
                mine = [s for s in section.sources if s.number in sent]
                papers = format_sources(mine, abstract_chars) if section.sources else "(none)"
                grouped.append(f"### Field: {section.label}\n{papers}")
            return render_prompt(
                "briefing",
                topic=fence_safe(topic),
                window=window_text(base),
                fields=field_labels([s.field for s in sections]),
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
        reply = checked_reply(result, {s.number: s.paper.title for s in sources}, notices)
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
                match = next((s.field for s in sections if _names_field(heading, s)), None)
                if match is not None:
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
        sections: Sequence[FieldSection],
        sources: Sequence[Source],
        prose: dict[str, str],
        base: PaperFilter,
    ) -> str:
        out = [
            f"# Briefing: {escape_markdown(topic)}",
            "",
            f"*{window_text(base).capitalize()} · fields: "
            f"{escape_markdown(field_labels([s.field for s in sections]))} · {len(sources)} papers*",
            "",
            OVERVIEW_HEADING,
            "",
            prose.get("overview", "").strip(),
            "",
        ]
        for section in sections:
            out += [f"## {escape_markdown(section.label)}", ""]
            if section.sources:
                out.append(prose.get(section.field, "").strip())
            note = coverage_note(section)
            if note:
                out += ["", f"*{escape_markdown(note)}*"]
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
        where = f" in {field_labels(fields)}" if fields else ""
        return (
            f"# Briefing: {escape_markdown(topic)}\n\nI could not find this in the indexed papers{where} "
            f"({window_text(base)}).\n"
        )


# --- pieces shared with the app and the radar ---------------------------------------------------------------

_URL = re.compile(r"https?://\S+|www\.\S+|\S+\.(?:com|org|io|net)\S*", re.IGNORECASE)
_TOPIC_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]+")


def window_text(flt: PaperFilter) -> str:
    if flt.only_ids is not None:  # e.g. a radar topic's new papers: not "all indexed papers"
        count = len(flt.only_ids)
        return f"{count} selected paper{'s' if count != 1 else ''}"
    if flt.since and flt.until:
        return f"papers from {flt.since.isoformat()} to {flt.until.isoformat()}"
    if flt.since:
        return f"papers since {flt.since.isoformat()}"
    if flt.until:
        return f"papers until {flt.until.isoformat()}"
    return "all indexed papers"


def _marks(numbers: Iterable[int]) -> str:
    return "".join(f"[{n}]" for n in sorted(numbers))


def _names_field(heading: str, section: FieldSection) -> bool:
    """The model may write the heading as given ("Machine Learning (cs.LG)"), the code or the name."""
    text = heading.strip().lower()
    name = field_name(section.field) or ""
    return text in {section.label.lower(), section.field.lower(), name.lower()} or text.endswith(
        f"({section.field.lower()})"
    )


def share_out(
    pools: dict[str, list[Hit]], vectors: dict[str, Any], per_field: int, lam: float = 0.7
) -> dict[str, list[Hit]]:
    """Each field's quota from its on-topic papers, each paper in one section. Fields take turns, the one
    with the fewest on-topic papers first, each taking the paper with the best maximal marginal relevance
    (relevance against similarity to what that field already holds): a cross-listed paper goes where it
    is needed, and no field is emptied by its neighbours while it has a paper of its own."""
    chosen: dict[str, list[Hit]] = {name: [] for name in pools}
    taken: set[str] = set()
    order = sorted(pools, key=lambda f: (len(pools[f]), list(pools).index(f)))
    while True:
        progressed = False
        for name in order:
            if len(chosen[name]) >= per_field:
                continue
            free = [h for h in pools[name] if h.paper.id not in taken]
            if not free:
                continue

            def gain(hit: Hit, mine: list[Hit] = chosen[name]) -> float:
                vector = vectors.get(hit.paper.id)
                redundancy = max(
                    (
                        float(vector @ vectors[m.paper.id])
                        for m in mine
                        if vector is not None and m.paper.id in vectors
                    ),
                    default=0.0,
                )
                return lam * hit.relevance - (1 - lam) * redundancy

            best = max(free, key=gain)
            chosen[name].append(best)
            taken.add(best.paper.id)
            progressed = True
        if not progressed:
            return chosen


def coverage_note(section: FieldSection) -> str:
    """Says when a field has fewer papers on the topic than its quota, or none."""
    if not section.field:
        return ""
    if section.relevant == 0:
        return f"No paper on this topic in {section.label} in this period."
    if section.relevant >= section.quota:
        return ""
    elsewhere = section.relevant - len(section.sources)
    papers = "paper" if section.relevant == 1 else "papers"
    note = f"Only {section.relevant} {papers} on this in {section.label} in this period"
    if elsewhere > 0:
        note += f" ({elsewhere} of them listed under another field)"
    return note + "."


def overview_text(
    topic: str,
    sections: Sequence[FieldSection],
    sources: Sequence[Source],
    bridges: Sequence[Bridge],
    terms: dict[str, set[int]],
) -> str:
    """A synthesis across fields, every claim cited: which fields work on the topic and how many papers,
    what the papers of each field deal with (their shared specific terms), and where the fields meet."""
    filled = [s for s in sections if s.sources]
    empty = [s for s in sections if not s.sources and s.field]
    counts = [
        f"{len(s.sources)} in {escape_markdown(s.label)} {_marks(x.number for x in s.sources)}"
        for s in filled
    ]
    papers = "paper" if len(sources) == 1 else "papers"
    about = escape_markdown(topic)
    if len(filled) == 1 and not filled[0].field:
        opening = f"{len(sources)} {papers} here deal with {about} {_marks(x.number for x in sources)}."
    else:
        fields = "one field" if len(filled) == 1 else f"{len(filled)} fields"
        opening = f"{len(sources)} {papers} on {about} are listed from {fields}: {_join(counts)}."
    sentences = [opening]
    if empty:
        sentences.append(f"None on this topic in {escape_markdown(_join([s.label for s in empty]))}.")
    for section in filled:
        numbers = {x.number for x in section.sources}
        mine = sorted(
            ((t, sorted(held & numbers)) for t, held in terms.items() if held & numbers),
            key=lambda item: (-len(item[1]), item[0].lower()),
        )[:3]
        if mine:
            listed = _join([f"*{escape_markdown(t)}* {_marks(numbers)}" for t, numbers in mine])
            sentences.append(f"In {escape_markdown(section.label)}, the papers use or study {listed}.")
    shared = [b for b in bridges if b.kind == "method"]
    crossed = [b for b in bridges if b.kind == "paper"]
    if shared:
        listed = _join([f"*{escape_markdown(b.label)}* {_marks(b.numbers)}" for b in shared[:3]])
        sentences.append(f"Across fields they share {listed}.")
    if crossed:
        crossing = [n for b in crossed for n in b.numbers]
        count = len(crossing)
        sentences.append(
            f"{count} of them {'is' if count == 1 else 'are'} listed in more than one of these fields "
            f"{_marks(crossing)}."
        )
    return " ".join(sentences)


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def find_bridges(
    sections: Sequence[FieldSection],
    fields: Sequence[str],
    terms: dict[str, set[int]] | None = None,
    squarely: set[int] | None = None,
    limit: int = MAX_BRIDGE_TERMS,
) -> list[Bridge]:
    """Listed papers squarely on the topic (`squarely`: their numbers; None: all listed) cross-listed in
    two or more of the fields, then specific terms held by listed papers of two or more sections (`terms`:
    term -> numbers of the papers holding it)."""
    bridges: list[Bridge] = []
    if len(fields) < 2:
        return bridges
    for section in sections:
        for source in section.sources:
            if squarely is not None and source.number not in squarely:
                continue
            shared = [f for f in fields if in_field(source.paper, f)]
            if len(shared) >= 2:
                bridges.append(Bridge("paper", source.paper.title, [source.number], shared))
    section_of = {src.number: sec.field for sec in sections for src in sec.sources}
    ranked = []
    for term, numbers in (terms or {}).items():
        spanned = [s.field for s in sections if any(section_of.get(n) == s.field for n in numbers)]
        if len(spanned) >= 2:
            ranked.append((term, sorted(numbers), spanned))
    ranked.sort(key=lambda t: (-len(t[2]), -len(t[1]), t[0].lower()))
    bridges += [Bridge("method", term, numbers, spanned) for term, numbers, spanned in ranked[:limit]]
    return bridges


def bridges_markdown(bridges: Sequence[Bridge]) -> str:
    if not bridges:
        return NO_BRIDGES
    lines = []
    for bridge in bridges:
        fields = " and ".join(escape_markdown(label(f)) for f in bridge.fields)
        if bridge.kind == "paper":
            lines.append(
                f"- *{escape_markdown(bridge.label)}* is listed in {fields} {_marks(bridge.numbers)}."
            )
        else:
            lines.append(f"- **{escape_markdown(bridge.label)}** in {fields} {_marks(bridge.numbers)}.")
    return "\n".join(lines)


def merge_checked(
    written: dict[str, str],
    extractive: dict[str, str],
    sections: Sequence[FieldSection],
    notices: list[str],
) -> dict[str, str]:
    """The model's sections that pass the checks; each other section is the extractive one, with a note.

    Checks: the section is there; most of its sentences are cited; a field section cites a paper of its
    field; bridges exist to be written about; each open question states a limitation, open problem or
    future work (or asks a question) and is cited."""
    merged: dict[str, str] = {}
    names = {"overview": "Overview", "bridges": "Bridges", "open": "Open questions"}
    names.update({s.field: s.label for s in sections})
    own = {s.field: {x.number for x in s.sources} for s in sections}
    for key, fallback in extractive.items():
        body = written.get(key, "").strip()
        if key in own and not own[key]:
            merged[key] = fallback  # a field with no paper on the topic is said so, not written about
            continue
        problem = ""
        if not body:
            problem = "was left out"
        elif not mostly_cited(body):
            problem = "had uncited text"
        elif key in own and not (cited_numbers(body) & own[key]):
            problem = "cited none of its field's papers"
        elif key == "bridges" and fallback == NO_BRIDGES:
            problem = "named connections the papers do not support"
        elif key == "open" and not all(states_open_problem(_bullet(b)) for b in _bullets(body)):
            problem = "listed statements that are not limitations or open problems"
        if problem:
            notices.append(
                f"The language model's section '{names.get(key, key)}' {problem}: used the extractive one."
            )
            merged[key] = fallback
        else:
            merged[key] = body
    return merged


def _bullets(body: str) -> list[str]:
    lines = [line for line in body.splitlines() if line.strip()]
    bullets = [line for line in lines if re.match(r"^\s*(?:[-*+]|\d+[.)])\s+", line)]
    return bullets or split_sentences(body)


def _bullet(line: str) -> str:
    return strip_citations(re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line)).strip()


def mostly_cited(body: str) -> bool:
    """At least one valid-looking citation, and at most a third of the sentences without one."""
    lines = [re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line) for line in body.splitlines()]
    sentences = [s for line in lines for s in split_sentences(line) if len(s.split()) >= 4]
    if not sentences or not cited_numbers(body):
        return False
    uncited = sum(1 for s in sentences if not cited_numbers(s))
    return uncited * 3 <= len(sentences)


def references_markdown(sources: Sequence[Source]) -> str:
    lines = []
    for source in sources:
        paper = source.paper
        when = paper.published.isoformat() if paper.published else "undated"
        lines.append(
            f"{source.number}. {escape_markdown(paper.short_authors().rstrip('.'))}. "
            f"*{escape_markdown(paper.title)}*. "
            f"{paper.reference_id} [{escape_markdown(label(paper.primary_category))}], {when}. "
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
    title_words = re.findall(r"[A-Za-z]{4,}", _ascii(paper.title))
    word = next((w for w in title_words if w.lower() not in GENERIC_WORDS), "paper")
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
            ("primaryClass", bibtex_escape(paper.primary_category)),
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
