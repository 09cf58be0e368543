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

from collections import Counter
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import replace
from datetime import date
from typing import Any

from assistant.compose import notices as notes
from assistant.compose.answer import IndexComposer, fence_safe, format_sources
from assistant.compose.briefing_model import (
    BRIDGES_HEADING,
    BRIEFING_ABSTRACT_CHARS,
    FIELD_POOL,
    MAX_AUTO_FIELDS,
    MAX_OPEN_QUESTIONS,
    OPEN_HEADING,
    OPEN_QUESTION_COSINE,
    OVERVIEW_HEADING,
    Bridge,
    Briefing,
    BriefingError,
    FieldSection,
    ModelProse,
    field_labels,
    no_open_questions,
)
from assistant.compose.briefing_sections import (
    _TOPIC_WORD,
    _URL,
    _marks,
    _names_field,
    bridges_markdown,
    coverage_note,
    covering_fields,
    find_bridges,
    merge_checked,
    overview_text,
    references_markdown,
    share_out,
    split_sections,
    window_text,
)
from assistant.compose.budget import briefing_tokens
from assistant.compose.citations import (
    check_citations,
    escape_markdown,
)
from assistant.compose.extractive import cite, states_open_problem, topic_sentence
from assistant.compose.generation import generate_checked
from assistant.compose.llm import LLMClient
from assistant.compose.model import Mode, Source
from assistant.compose.prompts import load_prompt, render_prompt
from assistant.compose.support import SupportJudge, SupportReport
from assistant.compose.terms import (
    candidate_terms,
    is_specific,
    is_topic_only,
    stem_key,
    term_stats,
)
from assistant.compose.translation import briefing_language_rule, english_question
from assistant.core.i18n import plural, reply_in, t
from assistant.core.language import reply_language, ui_language
from assistant.core.paper import Paper
from assistant.search.hit import Hit
from assistant.search.topic import (
    content_stems,
    holds_every_key_word,
    holds_key_words,
    key_words,
    topic_coverage,
)
from assistant.search.translated import search_with_translation
from assistant.store.filter import PaperFilter

# A Chinese topic's English translation (a model made it) for this call: searched beside the topic, and what
# the key-word tests read (they read Latin-script words). Set in `Briefer.brief` around one briefing.
_ENGLISH_TOPIC: ContextVar[str | None] = ContextVar("academichub_english_topic", default=None)


# Sections a briefing over given papers may use to hold them all (more fields than a topic search picks).
COVER_FIELDS = MAX_AUTO_FIELDS + 2


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
        language: str | None = None,
        cover_all: bool = False,
    ) -> Briefing:
        """A cited cross-field briefing, framed (headings, counts, notices) and, with a model, written in
        Chinese for a Chinese topic or a Chinese interface (`language`, e.g. "zh-CN"), else in English.
        `cover_all`: every paper `paper_filter` admits is in it (the radar's new papers, already judged
        on the topic), grouped by the fields that hold them, instead of the on-topic best per field.
        `on_token` receives LLM tokens as they stream (LLM mode only);
        the returned `markdown` is authoritative. `on_sources` receives the numbered sources (possibly
        none) once retrieval is done, before any text is written. Raises RetrievalError/BriefingError for
        bad input."""
        topic = (topic or "").strip()
        if not topic:
            raise BriefingError("the topic is empty: say what the briefing should be about")
        interface = ui_language(language) if language else None
        with reply_in(reply_language(topic, interface)):
            notices: list[str] = []
            llm = self.llm if use_llm is not False else None
            english = english_question(llm, topic, self.settings.llm.max_tokens_rewrite, notices)
            token = _ENGLISH_TOPIC.set(english)
            try:
                return self._brief(
                    topic,
                    fields,
                    since,
                    until,
                    per_field,
                    use_llm,
                    paper_filter,
                    on_token,
                    on_sources,
                    notices,
                    cover_all,
                )
            finally:
                _ENGLISH_TOPIC.reset(token)

    def _brief(
        self,
        topic: str,
        fields: Sequence[str] | None,
        since: date | None,
        until: date | None,
        per_field: int,
        use_llm: bool | None,
        paper_filter: PaperFilter | None,
        on_token: Callable[[str], None] | None,
        on_sources: Callable[[list[Source]], None] | None,
        notices: list[str],
        cover_all: bool = False,
    ) -> Briefing:
        per_field = max(1, min(per_field, 12))
        base = replace(
            paper_filter or PaperFilter(), since=since or (paper_filter.since if paper_filter else None)
        )
        base = replace(base, until=until or base.until)
        wanted = list(dict.fromkeys(f.strip() for f in (fields or ()) if f and f.strip()))
        covered = self._covered(base) if cover_all else None
        if wanted:
            self.retriever.check_categories(tuple(wanted))
        else:
            wanted = covering_fields(covered, COVER_FIELDS) if covered else self.choose_fields(topic, base)
            if wanted:
                notices.append(t("notice.fields_chosen", fields=field_labels(wanted)))
        if covered is not None:
            sections, sources = self._retrieve_all(topic, wanted, base, covered, notices)
        else:
            sections, sources = self._retrieve(topic, wanted, base, per_field)
        if on_sources is not None:
            on_sources(sources)
        mode: Mode = "extractive"
        llm = self.llm if use_llm is not False else None
        if use_llm is False:
            notices.append(notes.llm_switched_off())
        elif llm is None:
            notices.append(notes.no_llm())
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
        report: SupportReport | None = None
        if llm is not None:
            written = self._llm_prose(llm, topic, sections, sources, bridges, base, on_token, notices)
            if written is not None:
                briefing.mode = "llm"
                report = written.report
                prose = merge_checked(written.prose, extractive, sections, notices)
                briefing.incomplete = written.incomplete
        markdown = self._assemble(topic, sections, sources, prose, base)
        checked = check_citations(markdown, [s.number for s in sources])
        briefing.markdown = checked.text
        briefing.removed_citations = sorted(
            set(report.removed_citations if report else []) | set(checked.removed)
        )
        if checked.removed:
            notices.append(notes.removed_citations(checked.removed, len(sources)))
        if report is not None:
            briefing.check = report
            failed = report.failed()
            briefing.uncited_sentences = [c.text for c in failed if c.verdict == "uncited"]
            briefing.unsupported_sentences = [c.text for c in failed]
            if failed:
                notices.append(notes.sentences_removed(len(failed), len(report.checks)))
            if report.unjudged:
                notices.append(t("notice.support_unchecked_briefing"))
        return briefing

    def choose_fields(self, topic: str, base: PaperFilter) -> list[str]:
        """The top distinct fields among the on-topic papers: archives (cs, q-bio, physics...) when the
        papers span at least two of them, otherwise categories (cs.LG, cs.CV...)."""
        hits = self.relevant_hits(topic, self._search(topic, 30, base))
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
        coverage = topic_coverage(
            self.retriever.catalog, _ENGLISH_TOPIC.get() or topic, [h.paper.id for h in hits]
        )
        return [
            hit
            for hit in hits
            if hit.relevance >= settings.fusion.min_relevance
            and (
                holds_key_words(coverage.get(hit.paper.id), settings.compose.brief_min_coverage)
                or hit.relevance >= settings.compose.brief_strong_relevance
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
            pools[name] = self.relevant_hits(topic, self._search(topic, FIELD_POOL, flt))
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

    def _covered(self, base: PaperFilter) -> list[Paper]:
        """The papers a `cover_all` briefing covers: all that the filter admits (a radar visit's new
        papers, by id), in id order."""
        ids = self.retriever.catalog.filter_ids(base)
        papers = self.retriever.catalog.get_papers(sorted(ids))
        return [papers[pid] for pid in sorted(papers)]

    def _retrieve_all(
        self,
        topic: str,
        fields: Sequence[str],
        base: PaperFilter,
        covered: Sequence[Paper],
        notices: list[str],
    ) -> tuple[list[FieldSection], list[Source]]:
        """Every covered paper in the section of one field that holds it (the fields' turns as in
        `share_out`), ranked in each by the topic's search; a paper in none of `fields` is said to be left
        out, by title and with its fields."""
        pools: dict[str, list[Hit]] = {}
        everyone = frozenset(p.id for p in covered)
        for name in fields or [""]:
            flt = replace(base, only_ids=everyone, categories=(name,) if name else ())
            pools[name] = self._search(topic, len(everyone), flt)
        every = [h.paper.id for hits in pools.values() for h in hits]
        vectors = self.retriever.paper_vectors(every) if every else {}
        chosen = share_out(pools, vectors, len(everyone))
        sections: list[FieldSection] = []
        sources: list[Source] = []
        for name in pools:
            numbered = [Source(len(sources) + i + 1, hit) for i, hit in enumerate(chosen[name])]
            sources.extend(numbered)
            sections.append(FieldSection(name, numbered, relevant=len(pools[name]), quota=len(numbered)))
        placed = {s.paper.id for s in sources}
        left = [p for p in covered if p.id not in placed]
        if left:
            listed = "; ".join(f"“{p.title}” ({', '.join(p.categories)})" for p in left)
            notices.append(t("notice.brief_left_out", count=len(left), papers=listed))
        return sections, sources

    def _search(self, topic: str, k: int, flt: PaperFilter) -> list[Hit]:
        """The topic's search, with its English translation fused in when a model translated it."""
        return search_with_translation(self.retriever, topic, _ENGLISH_TOPIC.get(), k, flt)

    def _squarely_on_topic(self, topic: str, sources: Sequence[Source]) -> set[int]:
        """Numbers of the listed papers holding every key word of the topic (or very close in meaning): the
        only ones a briefing presents as a bridge between fields."""
        coverage = topic_coverage(
            self.retriever.catalog, _ENGLISH_TOPIC.get() or topic, [s.paper.id for s in sources]
        )
        strong = self.settings.compose.brief_strong_relevance
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
        topic_words = _TOPIC_WORD.findall(_ENGLISH_TOPIC.get() or topic)
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
        query = self.retriever.embedder.encode_query(_ENGLISH_TOPIC.get() or topic)
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
        keys = key_words(self.retriever.catalog, _ENGLISH_TOPIC.get() or topic)
        words = content_stems(" ".join(k.strip('"') for k in keys))
        if not cued:
            return no_open_questions()
        vectors = self.bank.vectors([sentence for _, sentence in cued])
        candidates = [
            (float(vector @ query), number, sentence)
            for (number, sentence), vector in zip(cued, vectors, strict=True)
            if content_stems(sentence) & words or float(vector @ query) >= OPEN_QUESTION_COSINE
        ]
        if not candidates:
            return no_open_questions()
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
                language=briefing_language_rule(topic),
            )

        # When not all fit, the least relevant papers (across fields) are left out first.
        by_relevance = sorted(sources, key=lambda s: (-s.hit.relevance, s.number))
        judge = SupportJudge(
            {s.number: s.paper for s in sources}, self.bank, self.settings.compose.min_support
        )
        result = generate_checked(
            llm,
            judge,
            system=load_prompt("system"),
            render=render,
            sources=by_relevance,
            context_window=self.settings.llm.context_window,
            max_tokens=briefing_tokens(self.settings),
            abstract_chars=BRIEFING_ABSTRACT_CHARS,
            on_token=on_token,
            notices=notices,
            setting="ACADEMICHUB_LLM_MAX_TOKENS_BRIEFING",
        )
        if result is None:
            return None
        report = result.report
        incomplete = result.incomplete
        if incomplete:
            notices.append(
                f"The model's briefing is incomplete: {incomplete}. Its unfinished end was removed; sections "
                "it did not write are quoted from the abstracts."
            )
        if report.removed_citations:
            notices.append(notes.removed_citations(report.removed_citations, len(sources)))
        if not any(c.cited for c in report.checks if c.verdict != "echo"):
            notices.append(notes.cites_nothing("briefing"))
            return None
        if not report.passes:
            notices.append(notes.not_checked("briefing", report.summary()))
            return None
        parts = split_sections(report.text)
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
            notices.append(t("notice.briefing_no_sections"))
            return None
        return ModelProse(prose, report, incomplete)

    def _assemble(
        self,
        topic: str,
        sections: Sequence[FieldSection],
        sources: Sequence[Source],
        prose: dict[str, str],
        base: PaperFilter,
    ) -> str:
        window = window_text(base)
        out = [
            f"# {t('brief.title', topic=escape_markdown(topic))}",
            "",
            "*"
            + t(
                "brief.subtitle",
                window=window[:1].upper() + window[1:],
                fields=escape_markdown(field_labels([s.field for s in sections])),
                papers=plural(len(sources), "count.paper"),
            )
            + "*",
            "",
            f"## {t('brief.overview')}",
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
            f"## {t('brief.bridges')}",
            "",
            prose.get("bridges", "").strip(),
            "",
            f"## {t('brief.open')}",
            "",
            prose["open"].strip(),
            "",
        ]
        out += [f"## {t('brief.references')}", "", references_markdown(sources)]
        return "\n".join(out).strip() + "\n"

    def _empty_markdown(self, topic: str, fields: Sequence[str], base: PaperFilter) -> str:
        title = t("brief.title", topic=escape_markdown(topic))
        window = window_text(base)
        if fields:
            empty = t("brief.not_found_in", fields=field_labels(fields), window=window)
        else:
            empty = t("brief.not_found", window=window)
        return f"# {title}\n\n{empty}\n"
