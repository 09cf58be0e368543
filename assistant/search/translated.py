"""Search with the question and its English translation together (a model translated a Chinese question).

The question itself goes through retrieval as usual (its multilingual path, BM25 over its Latin-script
terms); the English translation reaches what only English can: BM25 over English abstracts and the English
encoder. Both rankings are fused by reciprocal rank, through the retriever's public `search`, so whatever
retrieval does for the question is kept and the translation can only add to it.
"""

from __future__ import annotations

from dataclasses import replace

from assistant.search.hit import Hit
from assistant.search.retrieval import Retriever, rrf
from assistant.store.catalog import PaperFilter


def search_with_translation(
    retriever: Retriever,
    question: str,
    english: str | None,
    k: int,
    paper_filter: PaperFilter | None = None,
) -> list[Hit]:
    """The best `k` papers for `question` and its English form `english` (None or the same text: the
    question alone). A paper found by both keeps its higher relevance (the cosine the English encoder gives
    the translation is the one that means something for an English abstract)."""
    if not english or english.strip() == question.strip():
        return retriever.search(question, k, paper_filter)
    depth = max(k, 2 * k)
    asked = retriever.search(question, depth, paper_filter)
    translated = retriever.search(english, depth, paper_filter)
    constant = retriever.settings.fusion.rrf_k
    fused: dict[str, float] = {}
    best: dict[str, Hit] = {}
    for hits in (asked, translated):
        for doc_id, score in rrf([h.paper.id for h in hits], constant).items():
            fused[doc_id] = fused.get(doc_id, 0.0) + score
        for hit in hits:
            kept = best.get(hit.paper.id)
            if kept is None or hit.relevance > kept.relevance:
                best[hit.paper.id] = hit
    order = sorted(fused, key=lambda doc_id: (-fused[doc_id], -best[doc_id].relevance))[:k]
    return [_rescored(best[doc_id], fused[doc_id]) for doc_id in order]


def _rescored(hit: Hit, score: float) -> Hit:
    """The hit with the fused score (its ranks and relevance as the search that found it best gave them)."""
    return replace(hit, score=score)
