"""The answerer's list path: a question that asks for papers ("which papers use diffusion models?", "what's
new on EEG?", a filter follow-up over a list: "which of these use transformers?") gets every match
(`assistant.search.lists`), the count first, and a summary of the best of them."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.compose.lists import count_sentence, other_sense_text
from assistant.core.i18n import t
from assistant.search.lists import ListFinder, ListQuestion, TopicList, list_question
from assistant.search.pivot import english_topic
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
    asked_as: str | None = None  # the topic as asked when the index names it otherwise ("扩散模型")

    def notices(self) -> list[str]:
        """What the answer says about how the list was made: a foreign topic's English name in the index."""
        if self.asked_as is None:
            return []
        return [t("notice.list_pivot", topic=self.asked_as, english=self.found.topic)]

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
        self,
        standalone: str,
        flt: PaperFilter,
        narrowing: _Narrowing | Any | None,
        english: str | None = None,
    ) -> Listing | None:
        """The matches of a list question (None: not one). A filter follow-up is one when the question it
        follows was: its condition narrows that list. `english`: a model's translation of a Chinese
        question, whose topic is then the list's."""
        if narrowing is not None:
            earlier = list_question(narrowing.topic, self.newest_day())
            topic = self.index_topic(earlier) if earlier is not None else None
            if earlier is None or topic is None:
                return None
            narrowed = earlier.applied_to(flt)
            condition = TopicTerms.of(" ".join(narrowing.condition))
            found = self.finder.find(topic, narrowed, condition)
            if not found.members:  # none of the list holds the condition: the ordinary follow-up says so
                return None  # and looks beyond it ("which of these use transformers?" after EEG papers)
            return Listing(found, narrowed, tuple(narrowing.condition), _asked_as(earlier, topic))
        asked = list_question(standalone, self.newest_day())
        topic = self.index_topic(asked, english) if asked is not None else None
        if asked is None or topic is None:
            return None
        narrowed = asked.applied_to(flt)
        return Listing(self.finder.find(topic, narrowed), narrowed, asked_as=_asked_as(asked, topic))

    def index_topic(self, asked: ListQuestion, english: str | None = None) -> str | None:
        """The topic as the index's papers write it: a Chinese topic's English name, from the model's
        translation of the question when there is one, else from the papers nearest to it (None: not
        found, or no multilingual index; the question is then answered as any other)."""
        if asked.language == "en":
            return asked.topic
        translated = list_question(english, self.newest_day()) if english else None
        if translated is not None and translated.language == "en":
            return translated.topic
        pivot = english_topic(self.retriever, asked.topic)
        return pivot.english if pivot is not None else None


def _asked_as(asked: ListQuestion, topic: str) -> str | None:
    return asked.topic if topic != asked.topic else None
