"""A retrieved paper: the one type retrieval, same-work merging and every consumer share."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.core.paper import Paper


@dataclass(frozen=True)
class Hit:
    """A retrieved paper. `score` orders results (fused); `relevance` is the query-paper cosine (0..1),
    comparable across queries and used for "nothing relevant found" thresholds."""

    paper: Paper
    score: float
    relevance: float
    dense_rank: int | None = None
    lexical_rank: int | None = None
    also: tuple[Paper, ...] = ()  # the same work on another server (arXiv and bioRxiv, say): one result
    # False for a paper waiting for its vector (`ingest --no-embed`): found by its words, relevance 0
    has_vector: bool = True
