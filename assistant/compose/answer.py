"""Cited answers: question (+ chat history) -> standalone question -> retrieval -> LLM or extractive
composer -> citation check -> `Answer`.

The chat app and `academichub ask` both call `Answerer.answer`; nothing here prints or renders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from assistant.compose import notices as notes
from assistant.compose.budget import answer_tokens
from assistant.compose.citations import (
    check_citations,
    drop_reference_marks,
    escape_markdown,
    neutralise_links,
    renumber_citations,
)
from assistant.compose.extractive import (
    Focus,
    Quote,
    SentenceBank,
    compose_answer,
    rank_quotes,
)
from assistant.compose.follow_up import (
    FilterFollowUp,
    Numbered,
    holds_words,
    key_terms,
    rewrite_follow_up,
    text_holds_words,
)
from assistant.compose.generation import generate_checked, numbers_text
from assistant.compose.list_answer import ListAnswers, Listing
from assistant.compose.llm import LLMClient, LLMError, Message
from assistant.compose.model import (
    Answer,
    CheckedText,
    Mode,
    Source,
    Turn,
    number_sources,
    reading_order,
    renumber_sources,
)
from assistant.compose.model_search import hypothetical_abstract, rerank, timed
from assistant.compose.prompts import fence_safe, load_prompt, render_prompt
from assistant.compose.support import NOT_FOUND_MARK, SupportJudge, SupportReport, says_not_found
from assistant.compose.translation import answer_language_rule, english_question
from assistant.core.i18n import reply_in, t
from assistant.core.language import detect, reply_language, ui_language
from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.search.hit import Hit
from assistant.search.lists import list_question
from assistant.search.retrieval import Retriever
from assistant.search.topic import topic_coverage
from assistant.search.translated import ExtraQuery, search_fused
from assistant.store.filter import PaperFilter


def format_sources(
    sources: Sequence[Source], abstract_chars: int = 2500, answering: Mapping[int, str] | None = None
) -> str:
    """Numbered sources for a prompt. Abstract text is data: it cannot close the fence that marks it, and
    its own reference marks ([1]-[4] of its bibliography) are dropped so only our numbers look like
    citations. `answering`: per source number, the abstract's sentence that answers the question, put
    before the abstract so the model starts from it."""
    blocks = []
    for source in sources:
        paper = source.paper
        abstract = fence_safe(drop_reference_marks(paper.abstract))
        if len(abstract) > abstract_chars:
            abstract = abstract[:abstract_chars].rsplit(" ", 1)[0] + " ..."
        sentence = (answering or {}).get(source.number)
        key = f"Answering sentence: {fence_safe(drop_reference_marks(sentence))}\n" if sentence else ""
        blocks.append(
            f"[{source.number}] {fence_safe(drop_reference_marks(paper.title))}\n"
            f"Authors: {fence_safe(paper.short_authors(6))}\n"
            f"Published: {paper.published.isoformat() if paper.published else 'unknown'}\n"
            f"Categories: {', '.join(paper.categories)}\n"
            f"{key}"
            f"Abstract: {abstract}"
        )
    return "\n\n".join(blocks)


ANSWER_ABSTRACT_CHARS = 2500


def answer_prompt(
    question: str,
    sources: Sequence[Source],
    abstract_chars: int = ANSWER_ABSTRACT_CHARS,
    answering: Mapping[int, str] | None = None,
) -> str:
    """The user prompt of an answer: the question, the fenced numbered sources (each with its answering
    sentence, when known) and the rules, in the language the answer is asked for (the support check
    compares the reply with it)."""
    return render_prompt(
        "answer",
        question=question,
        sources=format_sources(sources, abstract_chars, answering),
        count=len(sources),
        language=answer_language_rule(question),
        not_found=t("answer.not_found"),
    )


_NOT_FOUND_MARK = NOT_FOUND_MARK


# --- the answerer ---------------------------------------------------------------------------------------


class IndexComposer:
    """What the answerer and the briefing composer both hold: settings, the retriever, the LLM client (None:
    extractive) and the sentence-vector cache, which one process's answerer and composer share."""

    def __init__(
        self,
        settings: Settings,
        retriever: Retriever,
        llm: LLMClient | None = None,
        bank: SentenceBank | None = None,
    ) -> None:
        self.settings = settings
        self.retriever = retriever
        self.llm = llm
        self._bank = bank  # pass the answerer's bank to share one sentence-vector cache
        self._lists: ListAnswers | None = None

    @property
    def bank(self) -> SentenceBank:
        if self._bank is None:
            self._bank = SentenceBank(lambda: self.retriever.embedder)
        return self._bank


class Answerer(IndexComposer):
    """Answers questions over the index. One per process (it holds the retriever, the LLM client and the
    sentence-vector cache); safe to call from several threads."""

    def answer(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        paper_filter: PaperFilter | None = None,
        k: int | None = None,
        use_llm: bool | None = None,
        exclude_ids: Collection[str] = (),
        on_token: Callable[[str], None] | None = None,
        on_sources: Callable[[list[Source]], None] | None = None,
        language: str | None = None,
    ) -> Answer:
        """Answer `question`; its frame (notices, headings) is in Chinese for a Chinese question or when
        `language` (the interface's, e.g. "zh-CN") is Chinese, else in English.
        `on_token` receives the model's tokens as they stream (extractive mode: the
        quoted answer, line by line, once composed); the
        returned `Answer.text` is authoritative (after the citation check). `on_sources` receives the
        numbered sources (possibly none) once retrieval is done, before any text is written, so a caller
        can show what was found first. Raises RetrievalError for input retrieval cannot serve (empty
        question, unknown category, empty index)."""
        interface = ui_language(language) if language else None
        with reply_in(reply_language(question or "", interface)):
            return self._answer(
                question, history, paper_filter, k, use_llm, exclude_ids, on_token, on_sources
            )

    def _answer(
        self,
        question: str,
        history: Sequence[Turn],
        paper_filter: PaperFilter | None,
        k: int | None,
        use_llm: bool | None,
        exclude_ids: Collection[str],
        on_token: Callable[[str], None] | None,
        on_sources: Callable[[list[Source]], None] | None,
    ) -> Answer:
        notices: list[str] = []
        timings: dict[str, float] = {}  # the model-assisted search's calls, in seconds
        llm = self._llm_for(use_llm, notices)
        flt = merge_exclusions(paper_filter, exclude_ids)
        standalone, flt, narrowing, thread = self.condense(question, history, flt, llm, notices)
        # A Chinese question's English translation (with a model): its search, and a list question's topic.
        english = (
            english_question(llm, standalone, self.settings.llm.max_tokens_rewrite, notices)
            if narrowing is None
            else None
        )
        listing = self.lists.listing(standalone, flt, narrowing, english)
        if listing is not None:
            flt = listing.filter
            notices.extend(listing.notices())
            relevant = listing.found.members[: k or self.settings.fusion.default_k]
        elif narrowing is not None:
            relevant = self._filter_follow_up(
                standalone, k or self.settings.fusion.default_k, flt, narrowing, notices
            )
        else:
            relevant = self._search(
                llm, standalone, english, k or self.settings.fusion.default_k, flt, notices, timings
            )
        # Chinese runs are not words of the index (a sentence without spaces): only Latin-script terms count.
        unknown = [w for w in self.retriever.unknown_terms(standalone) if detect(w) == "en"]
        if unknown:  # say which part of the question the index has nothing on
            words = t("word.list_separator").join(f"“{word}”" for word in unknown)
            key = "notice.unknown_terms_rest" if relevant else "notice.unknown_terms"
            notices.append(t(key, words=words))
        mode: Mode = "llm" if llm else "extractive"
        sources = number_sources(relevant)
        if on_sources is not None:
            on_sources(sources)
        if not relevant:
            text = t("answer.not_found") if listing is None else listing.empty_text()
            if on_token is not None and listing is not None:
                on_token(text)
            return Answer(
                question,
                standalone,
                text,
                [],
                mode,
                False,
                notices,
                thread=thread,
                timings=timings,
                **(listing.fields() if listing else {}),
            )
        if listing is not None:  # the count first: it streams before the summary
            lead = listing.lead(len(relevant))
            if on_token is not None:
                on_token(lead + "\n\n")
        checked: CheckedText | None = None
        streamed = False  # whether the model's tokens reached `on_token` (then a fallback is not streamed)

        def model_token(token: str) -> None:
            nonlocal streamed
            streamed = True
            if on_token is not None:
                on_token(token)

        report: SupportReport | None = None
        focus = answer_focus(listing, narrowing)
        if llm is not None:
            answering = self.answering_sentences(standalone, sources, focus)
            checked, report = self._model_answer(
                llm, standalone, sources, answering, model_token if on_token is not None else None, notices
            )
        if checked is None:
            mode = "extractive"
            valid = [s.number for s in sources]
            text = self.extractive_text(standalone, sources, focus=focus)
            checked = checked_citations(text, valid, valid, notices)
        # Sources numbered in the order the text cites them ([1] is the first a reader meets); a model's
        # text already streamed keeps the numbers the reader saw it with.
        mapping = reading_order(checked.text, sources) if not (streamed and mode == "llm") else {}
        if mapping:
            checked = checked.renumbered(mapping)
            sources = renumber_sources(sources, mapping)
            notices[:] = [renumber_citations(notice, mapping) for notice in notices]
            report = report.renumbered(mapping) if report is not None else None
        if mode == "extractive" and on_token is not None and not streamed:
            stream_lines(checked.text, on_token)  # a quoted answer streams line by line, like a model's
        found = not (says_not_found(checked.text) and not checked.used)
        flagged = checked.uncited + [s for s in checked.unsupported if s not in checked.uncited]
        if listing is not None:
            found = True  # the papers match whatever the summary could quote
            checked.text = f"{lead}\n\n{checked.text}"
        return Answer(
            question,
            standalone,
            checked.text,
            sources,
            mode,
            found,
            notices,
            checked.removed,
            flagged,
            checked.uncited,
            checked.incomplete,
            report,
            thread=thread,
            timings=timings,
            **(listing.fields() if listing else {}),
        )

    @property
    def lists(self) -> ListAnswers:
        if self._lists is None:
            self._lists = ListAnswers(self.retriever)
        return self._lists

    # --- steps ------------------------------------------------------------------------------------------

    def _search(
        self,
        llm: LLMClient | None,
        question: str,
        english: str | None,
        k: int,
        flt: PaperFilter,
        notices: list[str],
        timings: dict[str, float],
    ) -> list[Hit]:
        """An ordinary question's relevant papers, best first: its search (fused with its English
        translation's) and, with a model and the settings on, the search of an abstract the model writes
        for it fused in (`ACADEMICHUB_LLM_HYPOTHETICAL_ABSTRACT`) and the best `rerank_depth` papers in the
        model's order (`ACADEMICHUB_LLM_RERANK`): that order picks the `k` sources. `timings` gets the
        seconds of each model call."""
        options = self.settings.llm
        extras = [ExtraQuery(english)] if english else []
        if llm is not None and (options.hypothetical_abstract or options.rerank):
            llm.prepare()  # the client library's import is no extra cost of these calls: not timed
        if llm is not None and options.hypothetical_abstract:
            with timed(timings, "hypothetical_abstract"):
                abstract = hypothetical_abstract(llm, question, options.max_tokens_rewrite, notices)
            if abstract:
                extras.append(ExtraQuery(abstract, relevance=False))
        reranking = llm is not None and options.rerank
        depth = max(k, options.rerank_depth) if reranking else k
        hits = search_fused(self.retriever, question, extras, depth, flt)
        relevant = [h for h in hits if h.relevance >= self.settings.fusion.min_relevance]
        if llm is not None and reranking and len(relevant) > 1:
            candidates = relevant[: options.rerank_depth]
            with timed(timings, "rerank"):
                relevant = rerank(
                    llm, question, candidates, options.max_tokens_rewrite, notices, options.context_window
                )
        return relevant[:k]

    def _llm_for(self, use_llm: bool | None, notices: list[str]) -> LLMClient | None:
        if use_llm is False:
            notices.append(notes.llm_switched_off())
            return None
        if self.llm is None:
            notices.append(notes.no_llm())
            return None
        return self.llm

    def condense(
        self,
        question: str,
        history: Sequence[Turn],
        flt: PaperFilter,
        llm: LLMClient | None,
        notices: list[str],
    ) -> tuple[str, PaperFilter, FilterFollowUp | None, str]:
        """The question made to stand alone (and retrieval restricted to the papers it points at), read
        from the turns as they were shown: no earlier question is searched again. A filter follow-up
        ("which of these use transformers?") comes back as a FilterFollowUp and keeps the filter as is:
        its one search also looks beyond the previous papers (see `_filter_follow_up`). Last: the question
        that sets the conversation's topic (a follow-up keeps the one before it; a new question is its
        own), so chained follow-ups stay on the topic instead of adding each condition to it."""
        text = (question or "").strip()
        if not history or not text:
            return text, flt, None, text
        last = history[-1]
        thread = last.topic_question
        previous = self.shown_papers(last)
        rewrite = rewrite_follow_up(text, thread, last.answer, previous)
        if rewrite.only_ids is None and list_question(text, self.lists.newest_day()) is not None:
            # A list question of its own ("which papers use diffusion models?", asked again after a filter
            # change) stands alone: the short-question rewrite would prefix the last topic and hide it.
            return text, flt, None, text
        standalone = rewrite.question
        follows = rewrite.only_ids is not None or standalone != text
        if llm is not None:
            condensed = self._condense_with_llm(llm, text, history, previous, notices, standalone)
            if condensed:
                standalone = condensed
        if not follows:
            thread = standalone  # a question of its own: a new topic
        if rewrite.only_ids and rewrite.condition:
            pointed = rewrite.only_ids if flt.only_ids is None else rewrite.only_ids & flt.only_ids
            matching = tuple(
                p.id for _, p in previous if p.id in pointed and holds_words(p, rewrite.condition)
            )
            shown = frozenset(p.id for _, p in previous)
            return standalone, flt, FilterFollowUp(rewrite.condition, matching, shown, thread), thread
        if rewrite.only_ids:
            only = rewrite.only_ids if flt.only_ids is None else rewrite.only_ids & flt.only_ids
            flt = replace(flt, only_ids=only)
        return standalone, flt, None, thread

    def _filter_follow_up(
        self, standalone: str, k: int, flt: PaperFilter, narrowing: FilterFollowUp, notices: list[str]
    ) -> list[Hit]:
        """The papers a filter follow-up is about, from ONE search for the standalone question (topic and
        condition): first the previous answer's papers that hold the condition words (the ones whose title
        or abstract mentions "transformers"), then other relevant indexed papers that hold them, which the
        previous answer did not list ("Also in the index"). Says plainly when none of the previous papers
        matches, and which other papers do."""
        minimum = self.settings.fusion.min_relevance
        # Deep enough that the previous papers (relevant to the same topic) are among the results.
        hits = self.retriever.search(standalone, max(3 * k, k + len(narrowing.shown_ids)), flt)
        # The previous papers that hold the condition answer it whatever their cosine to the reworded
        # question (Hypnos, shown for "transformers", stays when asked about them again).
        found = {h.paper.id for h in hits}
        missing = frozenset(pid for pid in narrowing.matching_ids if pid not in found)
        if missing:
            only = missing if flt.only_ids is None else missing & flt.only_ids
            hits += self.retriever.search(standalone, len(only), replace(flt, only_ids=only)) if only else []
        by_id = {h.paper.id: h for h in hits}
        earlier = [by_id[pid] for pid in narrowing.matching_ids if pid in by_id][:k]
        candidates = [
            h
            for h in hits
            if h.paper.id not in narrowing.shown_ids and holds_words(h.paper, narrowing.condition)
        ]
        # The search's match mixes topic and condition: a paper that only matches the condition ("images"
        # in a plankton dataset) is not about the topic. It must also hold one of the topic's key words (a
        # word count in the catalog, not a search of the earlier question). A paper that holds all of them
        # counts even below the usual cosine threshold: the sleep-EEG foundation model Hypnos (2606.09605,
        # cosine 0.23 to "Which of these papers on EEG foundation models use transformers?") is the one
        # the issue asks for, and the condition words plus every topic word are stronger evidence.
        # The topic's content words only: "papers" or "use" of the question's wording are no topic.
        topic = key_terms(narrowing.topic) or narrowing.topic
        coverage = topic_coverage(self.retriever.catalog, topic, [h.paper.id for h in candidates])
        others = [
            h
            for h in candidates
            if (h.relevance >= minimum and (coverage[h.paper.id].held or not coverage[h.paper.id].keys))
            or (coverage[h.paper.id].keys and coverage[h.paper.id].share >= 1.0)
        ]
        others = others[: max(k - len(earlier), 2)]
        words = t("word.list_separator").join(f"“{w}”" for w in narrowing.condition)
        first_other = len(earlier) + 1
        listed = ", ".join(f"[{n}]" for n in range(first_other, first_other + len(others)))
        if not earlier and others:
            notices.append(t("notice.follow_up_others", words=words, listed=listed))
        elif not earlier:
            notices.append(t("notice.follow_up_none", words=words))
        elif others:
            notices.append(t("notice.follow_up_also", words=words, listed=listed))
        return earlier + others

    def shown_papers(self, turn: Turn) -> list[tuple[int, Paper]]:
        """The numbered sources of a turn, fetched from the catalog by id (a paper since removed from the
        index is left out: its number then points at nothing)."""
        papers = self.retriever.catalog.get_papers([pid for _, pid in turn.sources])
        return [(number, papers[pid]) for number, pid in turn.sources if pid in papers]

    def _condense_with_llm(
        self,
        llm: LLMClient,
        question: str,
        history: Sequence[Turn],
        previous: Numbered,
        notices: list[str],
        simple: str,
    ) -> str | None:
        """The model's standalone rewrite of a follow-up, or None after saying why `simple` (the
        deterministic rewrite) is searched for instead."""
        turns = []
        for turn in history[-3:]:
            turns.append(f"User: {turn.question.strip()}")
            turns.append(f"Assistant: {_clip(turn.answer, 600)}")
        listed = "\n".join(f"[{n}] {fence_safe(paper.title)}" for n, paper in previous) or "(none)"
        prompt = render_prompt(
            "condense-question", history="\n".join(turns), previous_sources=listed, question=question
        )
        instead = t("notice.searched_instead", query=_clip(simple, 160))
        try:
            reply = llm.generate([Message("user", prompt)], max_tokens=self.settings.llm.max_tokens_rewrite)
        except LLMError as err:
            notices.append(t("notice.rewrite_failed", error=err, instead=instead))
            return None
        lines = [ln.strip() for ln in reply.text.splitlines() if ln.strip()]
        line = lines[0] if lines else ""
        line = re.sub(r"^(?:standalone question:\s*)", "", line, flags=re.IGNORECASE).strip().strip("\"'")
        if not reply.complete and len(lines) <= 1:
            notices.append(t("notice.rewrite_cut", cut=reply.cut, instead=instead))
            return None
        if not 0 < len(line) <= 500:
            notices.append(t("notice.rewrite_unusable", instead=instead))
            return None
        return line

    def _model_answer(
        self,
        llm: LLMClient,
        question: str,
        sources: Sequence[Source],
        answering: Mapping[int, str],
        on_token: Callable[[str], None] | None,
        notices: list[str],
    ) -> tuple[CheckedText | None, SupportReport | None]:
        """The model's answer, checked sentence by sentence (see `assistant.compose.support`): only the
        sentences the cited abstracts support are kept (and streamed). (None, report) with a notice saying
        why when the caller must fall back to extractive mode: the model failed, or fewer than two (or
        fewer than half) of its sentences are supported."""

        def render(kept: Sequence[Source], abstract_chars: int) -> str:
            return answer_prompt(question, kept, abstract_chars, answering)

        judge = SupportJudge(
            {s.number: s.paper for s in sources}, self.bank, self.settings.compose.min_support
        )
        result = generate_checked(
            llm,
            judge,
            system=load_prompt("system"),
            render=render,
            sources=sources,
            context_window=self.settings.llm.context_window,
            max_tokens=answer_tokens(self.settings),
            abstract_chars=ANSWER_ABSTRACT_CHARS,
            on_token=on_token,
            notices=notices,
        )
        if result is None:
            return None, None
        report = result.report
        if report.removed_citations:
            all_listed = result.sent == list(range(1, len(sources) + 1))
            given = None if all_listed else numbers_text(result.sent)
            notices.append(notes.removed_citations(report.removed_citations, len(sources), given))
        incomplete = result.incomplete
        if incomplete:
            notices.append(
                f"The model's answer is incomplete: {incomplete}."
                + (" Its unfinished last sentence was removed." if report.unfinished else "")
            )
        if not report.checks and not report.ignored and not report.unfinished:
            said = (
                "returned an empty answer"
                if result.generation.complete
                else f"stopped before writing an answer ({result.generation.cut})"
            )
            notices.append(notes.llm_gave_nothing(said))
            return None, report
        if report.not_found and not report.checks:
            return CheckedText(t("answer.not_found"), [], [], incomplete=incomplete), report
        if not any(c.cited for c in report.checks if c.verdict != "echo"):
            notices.append(notes.cites_nothing("answer"))
            return None, report
        if not report.passes:
            notices.append(notes.not_checked("answer", report.summary()))
            return None, report
        uncited = [c.text for c in report.checks if c.verdict == "uncited"]
        failed = [c.text for c in report.failed()]
        if failed:
            notices.append(notes.sentences_removed(len(failed), len(report.checks)))
        if report.unjudged:
            notices.append(t("notice.support_unchecked"))
        used = sorted({n for c in report.checks if c.verdict in ("supported", "unjudged") for n in c.cited})
        return CheckedText(report.text, report.removed_citations, used, uncited, failed, incomplete), report

    def answering_sentences(
        self, question: str, sources: Sequence[Source], focus: Focus | None
    ) -> dict[int, str]:
        """Per source number, the sentence of its abstract that best says what the question asks (the
        one an extractive answer would quote first): what the model's prompt puts first."""
        quotes = self.quotes(question, sources, focus, limit=len(sources), per_paper=1, min_score=-1.0)
        return {q.number: q.sentence for q in quotes}

    def extractive_text(
        self, question: str, sources: Sequence[Source], limit: int = 6, focus: Focus | None = None
    ) -> str:
        """Quoted sentences, cited; with `focus`, the sentences that say what was asked come first."""
        quotes = self.quotes(question, sources, focus, limit=limit, per_paper=2)
        if not quotes:
            return t("answer.not_found")
        titles = {s.number: escape_markdown(s.paper.title) for s in sources}
        return compose_answer(quotes, titles)

    def quotes(
        self, question: str, sources: Sequence[Source], focus: Focus | None, **ranking: Any
    ) -> list[Quote]:
        """The sources' best sentences for the question (`rank_quotes`; `ranking`: its limits)."""
        query = self.retriever.embedder.encode_query(question)
        numbered = [(s.number, s.paper, s.hit.relevance) for s in sources]
        return rank_quotes(query, question, numbered, self.bank, focus=focus, **ranking)


def answer_focus(listing: Listing | None, narrowing: FilterFollowUp | None) -> Focus | None:
    """What a quoted sentence should say: a filter follow-up's condition words, or the list's topic as
    papers write it (None: an ordinary question, ranked by meaning alone)."""
    condition = listing.condition if listing is not None else narrowing.condition if narrowing else ()
    if condition:
        return lambda sentence: text_holds_words(sentence, condition)
    if listing is not None:
        return listing.found.terms.names_topic
    return None


def checked_citations(
    text: str, valid: Sequence[int], listed: Sequence[int], notices: list[str]
) -> CheckedText:
    """Links neutralised, citations of numbers outside `valid` removed and reported. `listed` are all the
    numbered sources shown; `valid` those the text could draw on (the model saw only those)."""
    checked = check_citations(neutralise_links(text), valid)
    if checked.removed:
        all_listed = list(valid) == list(range(1, len(listed) + 1))
        given = None if all_listed else numbers_text(valid)
        notices.append(notes.removed_citations(checked.removed, len(listed), given))
    return CheckedText(checked.text.strip(), checked.removed, checked.used)


def stream_lines(text: str, on_token: Callable[[str], None]) -> None:
    """Hand a finished text to a token callback one line (an extractive quote bullet) at a time, so a
    caller that shows tokens as they come shows the answer growing as it would from a model."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        on_token(line + ("\n" if index < len(lines) - 1 else ""))


def _clip(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def merge_exclusions(paper_filter: PaperFilter | None, exclude_ids: Collection[str]) -> PaperFilter:
    flt = paper_filter or PaperFilter()
    if not exclude_ids:
        return flt
    return replace(flt, exclude_ids=frozenset(flt.exclude_ids) | frozenset(exclude_ids))
