"""Search with the question and other texts written for it: its English translation (a model translated a
Chinese question), an abstract a model wrote for it (`assistant.compose.model_search`).

The question itself goes through retrieval as usual (its multilingual path, BM25 over its Latin-script
terms); the English translation reaches what only English can: BM25 over English abstracts and the English
encoder; a hypothetical abstract is written in the words and the shape of the indexed abstracts. Every
ranking is fused by reciprocal rank, through the retriever's public `search`, so whatever retrieval does
for the question is kept and the other texts can only add to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from assistant.search.hit import Hit
from assistant.search.retrieval import Retriever, rrf
from assistant.store.catalog import PaperFilter


@dataclass(frozen=True)
class ExtraQuery:
    """Another text searched for the same question. `relevance`: whether its cosine to a paper says how
    relevant the paper is to the question (a translation's does; a hypothetical abstract's, abstract to
    abstract, runs higher than any question's and would let unrelated papers pass the relevance threshold,
    so a paper it finds is given the question's own cosine). `weight`: its ranking's weight in the fusion
    (the question's is 1)."""

    text: str
    relevance: bool = True
    weight: float = 1.0


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
    return search_fused(retriever, question, [ExtraQuery(english)] if english else [], k, paper_filter)


def search_fused(
    retriever: Retriever,
    question: str,
    extras: Sequence[ExtraQuery],
    k: int,
    paper_filter: PaperFilter | None = None,
) -> list[Hit]:
    """The best `k` papers for `question` and the `extras` (none, or only texts equal to the question: the
    question's own search). Each text's ranking counts once in the fusion; a paper keeps the highest
    relevance among the texts whose cosine is a relevance (the question's and a translation's)."""
    extras = [e for e in extras if e.text.strip() and e.text.strip() != question.strip()]
    if not extras:
        return retriever.search(question, k, paper_filter)
    depth = max(k, 2 * k)
    searched = [(retriever.search(question, depth, paper_filter), ExtraQuery(question))]
    searched += [(retriever.search(e.text, depth, paper_filter), e) for e in extras]
    constant = retriever.settings.fusion.rrf_k
    fused: dict[str, float] = {}
    best: dict[str, Hit] = {}
    other: dict[str, Hit] = {}  # papers so far found only by texts whose cosine is no relevance
    for hits, query in searched:
        for doc_id, score in rrf([h.paper.id for h in hits], constant, query.weight).items():
            fused[doc_id] = fused.get(doc_id, 0.0) + score
        for hit in hits:
            if not query.relevance:
                other.setdefault(hit.paper.id, hit)
                continue
            kept = best.get(hit.paper.id)
            if kept is None or hit.relevance > kept.relevance:
                best[hit.paper.id] = hit
    if not fused:
        return []
    # The best k by fused score, and those tied with the k-th (the relevance breaks ties).
    ranked = sorted(fused, key=lambda doc_id: -fused[doc_id])
    last = fused[ranked[min(k, len(ranked)) - 1]]
    head = [doc_id for doc_id in ranked if fused[doc_id] >= last]
    unjudged = {doc_id: other[doc_id] for doc_id in head if doc_id not in best}
    if unjudged:
        best |= _judged(retriever, question, extras, unjudged)
    order = sorted(head, key=lambda doc_id: (-fused[doc_id], -best[doc_id].relevance))[:k]
    return [_rescored(best[doc_id], fused[doc_id]) for doc_id in order]


def _judged(
    retriever: Retriever, question: str, extras: Sequence[ExtraQuery], hits: dict[str, Hit]
) -> dict[str, Hit]:
    """The hits with the highest relevance the question (or a text whose cosine is one) gives each paper,
    from a search restricted to them (0 for a paper such a search does not return)."""
    only = PaperFilter(only_ids=frozenset(hits))
    relevance = dict.fromkeys(hits, 0.0)
    for text in [question, *(e.text for e in extras if e.relevance)]:
        for hit in retriever.search(text, len(hits), only):
            if hit.paper.id in relevance:
                relevance[hit.paper.id] = max(relevance[hit.paper.id], hit.relevance)
    return {doc_id: replace(hit, relevance=relevance[doc_id]) for doc_id, hit in hits.items()}


def _rescored(hit: Hit, score: float) -> Hit:
    """The hit with the fused score (its ranks and relevance as the search that found it best gave them)."""
    return replace(hit, score=score)
