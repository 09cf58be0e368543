"""The answerer's list path: a question that asks for papers ("which papers use diffusion models?", "what's
new on EEG?", a filter follow-up over a list: "which of these use transformers?") gets every match
(`assistant.search.lists`), the count first, and a summary of the best of them."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.compose.lists import count_sentence, other_sense_text
from assistant.core.i18n import t
from assistant.search.lists import ListFinder, TopicList, list_question
from assistant.search.topic import TopicTerms
from assistant.store.filter import PaperFilter

if TYPE_CHECKING:
    from datetime import date

    from assistant.search.retrieval import Retriever


class _Narrowing:  # the part of compose.answer.FilterFollowUp used here (no import cycle)
    condition: tuple[str, ...]
    topic: str


@dataclass
class Listing:
    """A list question's matches within its filter (the settings' filter narrowed by the question's own
    dates and categories)."""

    found: TopicList
    filter: PaperFilter
    condition: tuple[str, ...] = ()

    def lead(self, summarised: int) -> str:
        """The answer's first line: the count, and how many are summarised."""
        return count_sentence(self.found, summarised, self.filter, self.condition)

    def empty_text(self) -> str:
        """Nothing matches: "could not find" only when no paper even holds the words."""
        if self.found.other_sense and not self.condition:
            return other_sense_text(self.found, self.filter)
        return t("answer.not_found")

    def fields(self) -> dict[str, Any]:
        """The Answer fields of a list answer."""
        return {"matches": list(self.found.members), "list_topic": self.found.topic}


class ListAnswers:
    """Tells list questions apart and finds their matches; one per answerer."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever
        self.finder = ListFinder(retriever)
        self._newest: tuple[int, date | None] | None = None
        self._lock = threading.Lock()

    def newest_day(self) -> date | None:
        """The index's newest listing day: the year of "since June 15"."""
        catalog = self.retriever.catalog
        count = catalog.count()
        with self._lock:
            if self._newest is None or self._newest[0] != count:
                self._newest = (count, catalog.date_range()[1])
            return self._newest[1]

    def listing(
        self, standalone: str, flt: PaperFilter, narrowing: _Narrowing | Any | None
    ) -> Listing | None:
        """The matches of a list question (None: not one). A filter follow-up is one when the question it
        follows was: its condition narrows that list."""
        if narrowing is not None:
            earlier = list_question(narrowing.topic, self.newest_day())
            if earlier is None:
                return None
            narrowed = earlier.applied_to(flt)
            condition = TopicTerms.of(" ".join(narrowing.condition))
            found = self.finder.find(earlier.topic, narrowed, condition)
            if not found.members:  # none of the list holds the condition: the ordinary follow-up says so
                return None  # and looks beyond it ("which of these use transformers?" after EEG papers)
            return Listing(found, narrowed, tuple(narrowing.condition))
        asked = list_question(standalone, self.newest_day())
        if asked is None:
            return None
        narrowed = asked.applied_to(flt)
        return Listing(self.finder.find(asked.topic, narrowed), narrowed)
