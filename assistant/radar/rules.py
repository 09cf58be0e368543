"""The radar's small matching rules: author names compared folded, a followed author's papers, and whether a
short topic's words name a paper's title."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.core.text import fold


def name_key(name: str) -> str:
    """Topic names are unique case-, accent- and whitespace-insensitively."""
    return fold(" ".join((name or "").split()))


def clean_authors(authors: Sequence[str]) -> list[str]:
    """Whitespace-normalised author names, once each (case/accent-insensitively), in the order given."""
    clean: dict[str, str] = {}
    for author in authors:
        name = " ".join((author or "").split())
        if name:
            clean.setdefault(fold(name), name)
    return list(clean.values())


def by_author(authors: Sequence[str], author_key: str) -> bool:
    """A folded author query matches as a substring of any folded author name ("zufle" finds Züfle)."""
    return any(author_key in fold(a) for a in authors)


_TITLE_WORD_RE = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
# Words that say nothing about what a short topic is about ("diffusion models" is about diffusion).
_GENERIC_TOPIC_WORDS = frozenset(
    {
        *("a", "an", "and", "for", "in", "of", "on", "the", "to", "with", "new", "recent", "using", "based"),
        *("model", "models", "method", "methods", "approach", "approaches", "system", "systems"),
        *("technique", "techniques", "paper", "papers", "work", "works"),
    }
)
SHORT_TOPIC_WORDS = 2


def short_topic_words(query: str) -> frozenset[str]:
    """The distinctive words of a short topic ("diffusion models" -> {"diffusion"}); empty for a longer
    topic, whose matches the cosine threshold decides alone (a short one's: the list answers' rule)."""
    words = [w.lower() for w in _TITLE_WORD_RE.findall(query)]
    distinctive = frozenset(w for w in words if w not in _GENERIC_TOPIC_WORDS)
    return distinctive if 0 < len(distinctive) <= SHORT_TOPIC_WORDS else frozenset()
