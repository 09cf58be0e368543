"""Follow-up questions: "the second one", "compare them", "which of these use X?" resolved against the papers
shown in the previous turn (a rewrite into a standalone question, or a filter over those papers)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.compose.citations import (
    cited_numbers,
)
from assistant.core.paper import Paper
from assistant.search.words import QUESTION_STOPWORDS

# --- follow-up questions --------------------------------------------------------------------------------

_ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "last": -1,
}
_NOUNS = r"(?:one|paper|article|source|result|work|study|preprint)s?"
_ORDINAL_RE = re.compile(
    r"\bthe\s+(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last|\d{1,2}(?:st|nd|rd|th))"
    rf"(?:\s+{_NOUNS})?\b",
    re.IGNORECASE,
)
_NUMBERED_RE = re.compile(
    r"\b(?:paper|source|reference|result|number|no\.?)\s*(?:#\s*)?\[?(\d{1,2})\]?(?!\w)|#(\d{1,2})\b|\[(\d{1,2})\]",
    re.IGNORECASE,
)
_THIS_PAPER_RE = re.compile(rf"\b(?:this|that)\s+{_NOUNS}\b", re.IGNORECASE)
_PLURAL_RE = re.compile(
    r"\b(these|those)(\s+(?:papers|ones|works|studies|articles|preprints))?\b", re.IGNORECASE
)
_THEM_RE = re.compile(r"\b(them|they|both|either|all of them)\b", re.IGNORECASE)
_IT_RE = re.compile(r"\b(it|its|this|that|there)\b", re.IGNORECASE)
_CONTINUATION_RE = re.compile(
    r"^\s*(?:and|also|what about|how about|and what about|and how about|or)\b[\s,]*", re.I
)
_TERM_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-]+")


@dataclass(frozen=True)
class Rewrite:
    """A follow-up made to stand alone; `only_ids` restricts retrieval to papers it points at."""

    question: str
    only_ids: frozenset[str] | None = None
    # A filter over the previous papers ("which of these use transformers?"): the words they must hold.
    condition: tuple[str, ...] = ()


@dataclass(frozen=True)
class FilterFollowUp:
    """A filter follow-up over the previous answer: the words asked for, the previous papers that hold them
    (in the order shown) and every paper the previous answer showed."""

    condition: tuple[str, ...]
    matching_ids: tuple[str, ...]
    shown_ids: frozenset[str]
    topic: str = ""  # the previous question as it was searched: what the other papers must be about


def key_terms(question: str, limit: int = 8) -> str:
    words = [w for w in _TERM_RE.findall(question) if w.lower() not in QUESTION_STOPWORDS]
    return " ".join(list(dict.fromkeys(words))[:limit])


def _ordinal_number(token: str) -> int:
    token = token.lower()
    if token in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[token]
    return int(re.sub(r"\D", "", token))


Numbered = Sequence[tuple[int, Paper]]  # papers as they were shown: (number [n], paper)


def rewrite_follow_up(
    question: str, previous_question: str, previous_answer: str, previous: Numbered
) -> Rewrite:
    """Deterministic rewrite of a follow-up against the previous turn (extractive mode, and the fallback
    when the model cannot condense): "the second one" / "paper 2" / "[2]" -> that source's title;
    "this paper" -> the first paper the previous answer cited; "these"/"them" -> the previous sources;
    "it", "and ...?" or a very short question -> the previous question's key terms added."""
    terms = key_terms(previous_question)
    by_number = dict(previous)
    pointed: list[Paper] = []

    def title_of(number: int) -> str | None:
        if number == -1 and previous:
            number = previous[-1][0]
        paper = by_number.get(number)
        if paper is None:
            return None
        pointed.append(paper)
        return f'"{paper.title}"'

    text = _ORDINAL_RE.sub(lambda m: title_of(_ordinal_number(m.group(1))) or m.group(0), question)
    text = _NUMBERED_RE.sub(lambda m: title_of(int(next(g for g in m.groups() if g))) or m.group(0), text)
    if not pointed and _THIS_PAPER_RE.search(text):
        cited = sorted(cited_numbers(previous_answer)) or ([previous[0][0]] if previous else [])
        text = (
            _THIS_PAPER_RE.sub(lambda m: title_of(cited[0]) or m.group(0), text, count=1) if cited else text
        )
    if pointed:
        return Rewrite(_tidy(text), frozenset(p.id for p in pointed))
    about = f" on {terms}" if terms else ""
    if _PLURAL_RE.search(text) and previous:
        condition = condition_words(_PLURAL_RE.sub(" ", text))
        text = _PLURAL_RE.sub(lambda m: f"{m.group(1)} papers{about}", text, count=1)
        return Rewrite(_tidy(text), frozenset(p.id for _, p in previous), condition)
    if _THEM_RE.search(text) and previous:
        condition = condition_words(_THEM_RE.sub(" ", text))
        text = _THEM_RE.sub(lambda m: f"the papers{about}", text, count=1)
        return Rewrite(_tidy(text), frozenset(p.id for _, p in previous), condition)
    short = len(key_terms(text).split()) <= 2
    if terms and (_CONTINUATION_RE.search(text) or _IT_RE.search(text) or short):
        body = _CONTINUATION_RE.sub("", text).strip() or text.strip()
        return Rewrite(_tidy(f"{terms}: {body}"))
    return Rewrite(question.strip())


_CONDITION_VERBS = frozenset(
    [
        "use",
        "uses",
        "used",
        "using",
        "apply",
        "applies",
        "applied",
        "mention",
        "mentions",
        "mentioned",
        "study",
        "studies",
        "involve",
        "involves",
        "rely",
        "relies",
        "include",
        "includes",
        "contain",
        "contains",
        "have",
        "has",
        "do",
        "does",
        "focus",
        "focuses",
        "address",
        "addresses",
    ]
)


def condition_words(text: str) -> tuple[str, ...]:
    """The words a filter follow-up asks the previous papers to hold ("use transformers" -> transformers)."""
    words = [w.lower() for w in _TERM_RE.findall(text)]
    kept = [w for w in words if w not in QUESTION_STOPWORDS and w not in _CONDITION_VERBS]
    return tuple(dict.fromkeys(kept))[:4]


def holds_words(paper: Paper, words: Sequence[str]) -> bool:
    """Whether a paper's title or abstract holds every word (a plural "s" ignored)."""
    return text_holds_words(f"{paper.title} {paper.abstract}", words)


def text_holds_words(text: str, words: Sequence[str]) -> bool:
    """Whether a text holds every word (a plural "s" ignored; "RQ-Transformer" holds "transformers")."""
    text = text.lower()
    return all(w in text or (w.endswith("s") and w[:-1] in text) for w in words)


def _tidy(text: str) -> str:
    text = _CONTINUATION_RE.sub("", text).strip()
    text = re.sub(r"\s+", " ", text)
    return text[:1].upper() + text[1:] if text else text
