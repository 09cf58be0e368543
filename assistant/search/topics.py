"""The index's most frequent title topics ("diffusion models", "language models"): what the chat app's
starters are made of, so that each starter finds papers in this index."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

_TOPIC_WORD_RE = re.compile(r"[a-z][a-z\-]+")
# Words that never make a topic: function words and the generic vocabulary of titles.
_NOT_TOPIC_WORDS = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "its"),
        *("of", "on", "or", "over", "the", "their", "this", "to", "under", "using", "via", "vs", "with"),
        *("without", "towards", "toward", "through", "beyond", "can", "does", "do", "how", "what"),
        *("when", "why", "which", "we", "our", "based", "novel", "new", "approach", "approaches"),
        *("framework", "study", "studies", "analysis", "case", "large", "scale", "efficient", "paper"),
        *("improving", "improved", "learning-based", "data-driven", "end-to-end"),
    }
)


def frequent_topics(titles: Iterable[str], count: int = 6, min_papers: int = 3) -> list[str]:
    """The index's most frequent two-word topics ("diffusion models", "language models"): word pairs that
    appear in the titles of at least `min_papers` papers, most frequent first, no two sharing a word. The
    starters are made from them, so a starter always finds papers in this index."""
    pairs: dict[str, int] = {}
    for title in titles:
        words = _TOPIC_WORD_RE.findall(title.lower())
        seen = {
            f"{a} {b}"
            for a, b in itertools.pairwise(words)
            if len(a) > 2 and len(b) > 2 and a not in _NOT_TOPIC_WORDS and b not in _NOT_TOPIC_WORDS
        }
        for pair in seen:
            pairs[pair] = pairs.get(pair, 0) + 1
    chosen: list[str] = []
    used: set[str] = set()
    for pair, papers in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
        if papers < min_papers or len(chosen) == count:
            break
        pair_words = set(pair.split())
        if pair_words & used:
            continue
        chosen.append(pair)
        used |= pair_words
    return chosen
