"""Hybrid retrieval: dense (Chroma) + lexical BM25 (SQLite FTS5), fused by reciprocal rank fusion, with
exact filters (categories by prefix, date range, author) and optional MMR diversity.

`Retriever.search` is the one function the CLI, the answerer, the briefing composer, the radar and the
chat app all call.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np

from ingest.catalog import Catalog, PaperFilter
from ingest.embedding import Embedder, get_embedder
from ingest.paper import Paper
from ingest.settings import Settings
from ingest.vectors import VectorIndex

Mode = Literal["hybrid", "dense", "lexical"]
MAX_QUERY_CHARS = 2000
_TOKEN_RE = re.compile(r"[\w][\w\-']*", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from has have how i in into is it its of on or our so "
    "such than that the their them then there these they this to was we what when where which who why "
    "will with within without would you your about over under between across using use used via vs".split()
)


class RetrievalError(ValueError):
    """Input retrieval cannot serve (the message says what to change)."""


class EmptyIndexError(RetrievalError):
    """Nothing has been ingested yet."""


@dataclass(frozen=True)
class Hit:
    """A retrieved paper. `score` orders results (fused); `relevance` is the query-paper cosine (0..1),
    comparable across queries and used for "nothing relevant found" thresholds."""

    paper: Paper
    score: float
    relevance: float
    dense_rank: int | None = None
    lexical_rank: int | None = None


def fts_query(text: str) -> str:
    """A safe FTS5 expression: the query's content words, quoted, OR-ed (BM25 ranks by how many match)."""
    words = [w.strip("-'").lower() for w in _TOKEN_RE.findall(text)]
    terms = list(dict.fromkeys(w for w in words if w and w not in _STOPWORDS and len(w) > 1))[:64]
    return " OR ".join(f'"{t}"' for t in terms)


def rrf(rankings: list[list[str]], k: int) -> dict[str, float]:
    """Reciprocal rank fusion: sum of 1 / (k + rank) over the rankings a document appears in."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + 1.0 / (k + rank)
    return fused


def mmr(query: np.ndarray, candidates: list[str], vectors: dict[str, np.ndarray], k: int, lam: float = 0.7) -> list[str]:
    """Maximal marginal relevance over candidate ids (in relevance order)."""
    chosen: list[str] = []
    pool = [c for c in candidates if c in vectors]
    while pool and len(chosen) < k:
        def gain(cid: str) -> float:
            rel = float(vectors[cid] @ query)
            red = max((float(vectors[cid] @ vectors[s]) for s in chosen), default=0.0)
            return lam * rel - (1 - lam) * red

        best = max(pool, key=gain)
        chosen.append(best)
        pool.remove(best)
    return chosen


class Retriever:
    """Owns the read side of the index for one process: catalog connection, Chroma, embedding model."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._local = threading.local()
        self._vectors: VectorIndex | None = None

    # --- resources (lazy: a CLI error message should not wait for the model) --------------------------

    @property
    def catalog(self) -> Catalog:
        # SQLite connections stay on the thread that made them; Chainlit calls us from a thread pool.
        catalog = getattr(self._local, "catalog", None)
        if catalog is None:
            catalog = Catalog(self.settings.catalog_path)
            self._local.catalog = catalog
        return catalog

    @property
    def vectors(self) -> VectorIndex:
        if self._vectors is None:
            self._vectors = VectorIndex(self.settings)
        return self._vectors

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.settings)
        return self._embedder

    def warm_up(self) -> None:
        """Load the model and open the stores now (the app does this at start-up)."""
        self.embedder.encode_query("warm up")
        _ = self.vectors.count()

    # --- validation -----------------------------------------------------------------------------------

    def validate(self, query: str, paper_filter: PaperFilter) -> str:
        text = (query or "").strip()
        if not text:
            raise RetrievalError("the query is empty: type a few words about what you are looking for")
        if paper_filter.since and paper_filter.until and paper_filter.since > paper_filter.until:
            raise RetrievalError(
                f"the date range is inverted: since {paper_filter.since} is after until {paper_filter.until}"
            )
        if paper_filter.categories:
            self.check_categories(paper_filter.categories)
        if self.catalog.count() == 0:
            raise EmptyIndexError("the index is empty: run `academichub ingest` first")
        return text[:MAX_QUERY_CHARS]

    def check_categories(self, categories: tuple[str, ...]) -> None:
        known = set(self.catalog.known_categories()) | self.catalog.known_archives()
        unknown = [c for c in categories if c not in known]
        if unknown:
            import difflib

            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
                hints.append(f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
            raise RetrievalError(
                "unknown categor" + ("ies: " if len(unknown) > 1 else "y: ") + "; ".join(hints)
                + ". `academichub stats` lists the categories in the index"
            )

    # --- search ---------------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 10,
        paper_filter: PaperFilter | None = None,
        *,
        mode: Mode = "hybrid",
        diversify: bool = False,
        candidates: int | None = None,
    ) -> list[Hit]:
        flt = paper_filter or PaperFilter()
        text = self.validate(query, flt)
        k = max(1, min(k, 200))
        depth = candidates or max(50, 4 * k)
        allowed = self.catalog.filter_ids(flt) if flt.active else None
        if allowed is not None and not allowed:
            return []
        qvec = self.embedder.encode_query(text) if mode != "lexical" or diversify else None
        dense: list[tuple[str, float]] = []
        lexical: list[tuple[str, float]] = []
        if mode in ("hybrid", "dense") and qvec is not None:
            dense = self.vectors.query(qvec, depth, restrict_to=allowed)
        if mode in ("hybrid", "lexical"):
            match = fts_query(text)
            if match:
                lexical = self.catalog.lexical_search(match, depth, flt if flt.active else None)
        rankings = [r for r in ([d for d, _ in dense], [d for d, _ in lexical]) if r]
        fused = rrf(rankings, self.settings.rrf_k)
        order = sorted(fused, key=lambda d: -fused[d])
        vectors = self._vectors_for(order[: max(depth, k)]) if qvec is not None else {}
        if diversify and qvec is not None:
            order = mmr(qvec, order[: max(depth, 3 * k)], vectors, k)
        top = order[:k]
        papers = self.catalog.get_papers(top)
        dense_rank = {d: i for i, (d, _) in enumerate(dense, start=1)}
        lexical_rank = {d: i for i, (d, _) in enumerate(lexical, start=1)}
        hits = []
        for doc_id in top:
            if doc_id not in papers:
                continue  # vector without a catalog row: never shown
            relevance = float(vectors[doc_id] @ qvec) if qvec is not None and doc_id in vectors else 0.0
            hits.append(
                Hit(papers[doc_id], fused.get(doc_id, 0.0), relevance, dense_rank.get(doc_id), lexical_rank.get(doc_id))
            )
        return hits

    def _vectors_for(self, ids: list[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        got = self.vectors.collection.get(ids=ids, include=["embeddings"])
        return {pid: np.asarray(vec, dtype=np.float32) for pid, vec in zip(got["ids"], got["embeddings"], strict=True)}


def make_filter(
    categories: list[str] | tuple[str, ...] | None = None,
    since: date | None = None,
    until: date | None = None,
    author: str | None = None,
    exclude_ids: set[str] | frozenset[str] | None = None,
    only_ids: set[str] | frozenset[str] | None = None,
) -> PaperFilter:
    return PaperFilter(
        categories=tuple(c.strip() for c in (categories or ()) if c and c.strip()),
        since=since,
        until=until,
        author=author.strip() if author and author.strip() else None,
        exclude_ids=frozenset(exclude_ids or ()),
        only_ids=frozenset(only_ids) if only_ids is not None else None,
    )
