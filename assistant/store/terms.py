"""How a paper matches a query's words (BM25 term weights, passage proximity): the value types the catalog's
lexical statistics return to retrieval."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TermMatch:
    """How a paper matches a query's words.

    `coverage`: the share of the query's term weight (BM25 IDF) the paper holds, 0..1; 1.0 when it has
    every term, as when a user pastes its words. `log_chance`: log of how many papers would hold those same
    terms if words fell independently (log N + sum of log(df/N)); below 0, the combination is specific
    enough to single out one paper, while "language models" is held by thousands. `together`: the paper holds
    every term within one passage (`passage_gap`), as when a user pastes or trims one of its sentences.
    """

    coverage: float
    log_chance: float
    together: bool = False


@dataclass(frozen=True)
class QueryTerms:
    """A query's FTS5 terms (one quoted word each) with how many of the index's `total` papers hold each."""

    terms: tuple[str, ...]
    frequencies: tuple[int, ...]
    total: int


FTS_COUNT = "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH ?"
WORD_RE = re.compile(r"[^\W_]+")  # the unicode61 tokenizer's tokens: letters and digits


def passage_gap(terms: list[str]) -> int:
    """Tokens allowed between a query's first and last term for them to count as one passage (FTS5 NEAR):
    three per token of the terms ("bounded-degree" is two), room for the stopwords and the words a user
    skipped in one sentence. On the June known-item sets this holds together all 200 pasted sentences and
    193 of 200 sentences thinned by a third (a fixed gap of 15 tokens: 35 and 67), and no hand-written
    question."""
    return 3 * sum(len(WORD_RE.findall(term)) for term in terms) + 5
