"""The answer's data model: numbered sources, an `Answer` with its citations and notices, a chat `Turn` as
history stores it, and text after the citation check."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.compose.citations import citation_order, cited_numbers, renumber_citations
from assistant.compose.support import SupportReport
from assistant.core.paper import Paper
from assistant.search.hit import Hit
from assistant.search.retrieval import hit_json

Mode = Literal["llm", "extractive"]
NOT_FOUND_TEXT = "I could not find this in the indexed papers."  # the English catalog's answer.not_found


@dataclass
class Source:
    """A numbered source shown to the user; `number` is the [n] used in the text."""

    number: int
    hit: Hit

    @property
    def paper(self) -> Paper:
        return self.hit.paper

    def to_dict(self) -> dict[str, Any]:
        return hit_json(self.hit, self.number)


def number_sources(hits: Sequence[Hit]) -> list[Source]:
    return [Source(number, hit) for number, hit in enumerate(hits, start=1)]


def reading_order(text: str, sources: Sequence[Source]) -> dict[int, int]:
    """Old number -> new number, so that the sources the text cites are numbered 1, 2, ... in the order a
    reader meets them, and the uncited ones follow in their old order ({} when nothing changes)."""
    numbers = [s.number for s in sources]
    known = set(numbers)
    cited = [n for n in citation_order(text) if n in known]
    order = cited + [n for n in numbers if n not in set(cited)]
    mapping = {old: new for new, old in enumerate(order, start=1)}
    return {} if all(old == new for old, new in mapping.items()) else mapping


def renumber_sources(sources: Sequence[Source], mapping: Mapping[int, int]) -> list[Source]:
    """The sources under their new numbers, in number order."""
    renumbered = [Source(mapping.get(s.number, s.number), s.hit) for s in sources]
    return sorted(renumbered, key=lambda s: s.number)


@dataclass
class Answer:
    question: str
    standalone_question: str  # after condensing with chat history
    text: str  # Markdown with [n] citations
    sources: list[Source]  # numbered 1..n in order; every [n] in text maps to one of them
    mode: Mode
    found: bool  # False => text says "I could not find this in the indexed papers"
    notices: list[str] = field(default_factory=list)
    removed_citations: list[int] = field(default_factory=list)
    # Flagged sentences: those citing no source (also in `uncited_sentences`) and those the cited abstract
    # does not support.
    unsupported_sentences: list[str] = field(default_factory=list)
    uncited_sentences: list[str] = field(default_factory=list)
    incomplete: str | None = None  # why the model's answer was cut short (its unfinished end removed)
    check: SupportReport | None = None  # the verdict on each sentence the model wrote (None: no model)
    # A list question ("which papers use diffusion models?"): every matching paper, best first (None: not
    # a list question). `sources` are the best of them, which the text summarises and cites.
    matches: list[Hit] | None = None
    list_topic: str | None = None
    thread: str = ""  # the question that set the conversation's topic, when this answer is a follow-up
    # Seconds each model-assisted search step took ("hypothetical_abstract", "rerank"; empty: none ran),
    # the latency they add before the answer starts.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def match_count(self) -> int | None:
        return None if self.matches is None else len(self.matches)

    @property
    def turn(self) -> Turn:
        """What this answer showed, for the follow-ups that refer to it (every numbered source: the CLI and
        JSON list them all; the chat app lists fewer and uses `shown_turn`)."""
        return self.shown_turn(None)

    def shown_turn(self, shown_numbers: Collection[int] | None) -> Turn:
        """The turn as the user saw it when only the sources numbered `shown_numbers` were listed (None: all).
        The numbers stay as shown, so "the last one" and "these" mean the listed papers, never hidden ones."""
        return Turn(
            self.question,
            self.standalone_question,
            self.text,
            tuple(
                (s.number, s.paper.id)
                for s in self.sources
                if shown_numbers is None or s.number in shown_numbers
            ),
            self.thread if self.thread != self.standalone_question else "",
        )

    @property
    def citations(self) -> dict[int, str]:
        """Citation number -> arXiv id, for the numbers the text actually uses."""
        by_number = {s.number: s.paper.id for s in self.sources}
        return {n: by_number[n] for n in sorted(cited_numbers(self.text)) if n in by_number}

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
            "citations": {str(n): pid for n, pid in self.citations.items()},
            "sources": [s.to_dict() for s in self.sources],
            "mode": self.mode,
            "found": self.found,
            "notices": list(self.notices),
            "removed_citations": list(self.removed_citations),
            "unsupported_sentences": list(self.unsupported_sentences),
            "uncited_sentences": list(self.uncited_sentences),
            "incomplete": self.incomplete,
            # The sentence-level support check of the model's text (also when it was not used).
            "sentences": self.check.to_dict()["sentences"] if self.check else [],
            "support_share": round(self.check.share, 3) if self.check else None,
            "check": self.check.to_dict() if self.check else None,
            **(
                {
                    "list_topic": self.list_topic,
                    "match_count": self.match_count,
                    "matches": [hit_json(h) for h in self.matches],
                }
                if self.matches is not None
                else {}
            ),
            **({"timings": dict(self.timings)} if self.timings else {}),
        }


@dataclass(frozen=True)
class Turn:
    """One answered question as the user saw it: follow-ups read it instead of re-running retrieval, so
    "[2]" or "the second one" always means the paper that was shown as [2], whatever was ingested since."""

    question: str
    standalone: str  # the question as it was searched (after its own follow-up rewrite)
    answer: str  # the answer text with its [n] citations
    sources: tuple[tuple[int, str], ...] = ()  # (number shown, paper id) of every numbered source
    # The question that set the conversation's topic ("" : this turn's own): follow-ups inherit it, so a
    # chain of "which of these ...?" keeps to EEG foundation models instead of adding each condition on.
    thread: str = ""

    @property
    def topic_question(self) -> str:
        return self.thread or self.standalone

    def to_dict(self) -> dict[str, Any]:
        """JSON for storage (the chat app keeps it in the answer message's metadata)."""
        return {
            "question": self.question,
            "standalone": self.standalone,
            "answer": self.answer,
            "sources": [[n, pid] for n, pid in self.sources],
            "thread": self.thread,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Turn | None:
        """A stored turn, or None when the data is not one (an old or damaged record)."""
        try:
            question, answer = str(data["question"]), str(data["answer"])
            standalone = str(data.get("standalone") or question)
            sources = tuple((int(n), str(pid)) for n, pid in data.get("sources") or ())
            thread = str(data.get("thread") or "")
        except (KeyError, TypeError, ValueError):
            return None
        return cls(question, standalone, answer, sources, thread)


@dataclass
class CheckedText:
    """Text after the citation check: invalid numbers removed, the valid ones used, flagged sentences."""

    text: str
    removed: list[int]
    used: list[int]
    uncited: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    incomplete: str | None = None

    def renumbered(self, mapping: Mapping[int, int]) -> CheckedText:
        def numbers(values: Sequence[int]) -> list[int]:
            return sorted(mapping.get(n, n) for n in values)

        return CheckedText(
            renumber_citations(self.text, mapping),
            self.removed,  # numbers no source had: nothing to rewrite
            numbers(self.used),
            [renumber_citations(x, mapping) for x in self.uncited],
            [renumber_citations(x, mapping) for x in self.unsupported],
            self.incomplete,
        )
