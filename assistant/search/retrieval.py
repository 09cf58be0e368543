"""Hybrid retrieval: dense (Chroma) + lexical BM25 (SQLite FTS5), fused by reciprocal rank fusion, with
exact filters (categories by prefix, date range, author) and optional MMR diversity.

`Retriever.search` is the one function the CLI, the answerer, the briefing composer, the radar and the
chat app all call.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

import numpy as np

from assistant.core.errors import UserFacingError
from assistant.core.lazy import Lazy
from assistant.core.paper import SOURCE_LABELS, paper_json
from assistant.core.settings import Settings
from assistant.search.hit import Hit
from assistant.search.multilingual import is_foreign, latin_words, multilingual_candidates
from assistant.search.same_work import also_fields, merge_same_work
from assistant.search.topic import fts_terms
from assistant.store.catalog_store import CatalogStore
from assistant.store.embedding import Embedder
from assistant.store.faults import CatalogError
from assistant.store.filter import PaperFilter
from assistant.store.multilingual import get_multilingual_encoder
from assistant.store.multilingual_index import MultilingualIndex
from assistant.store.pool import CatalogSource
from assistant.store.terms import QueryTerms, TermMatch
from assistant.store.vectors import VectorIndex, consistency_problem

Mode = Literal["hybrid", "dense", "lexical"]
MAX_QUERY_CHARS = 2000
# BM25 column weights: title, abstract, authors, comment.
LEXICAL_COLUMN_WEIGHTS = (3.0, 1.0, 1.0, 0.5)

NO_MATCH = TermMatch(coverage=0.0, log_chance=0.0)


class RetrievalError(UserFacingError, ValueError):
    """Input retrieval cannot serve (the message says what to change)."""


class EmptyIndexError(RetrievalError):
    """Nothing has been ingested yet."""

    heading = "The index is empty"
    default_hint = (
        "ingest the bundled sample (`academichub ingest`), a file (`academichub ingest --file papers.jsonl`) "
        "or arXiv (`academichub ingest --arxiv --category cs.LG`), then ask again."
    )


def hit_json(hit: Hit, number: int | None = None) -> dict[str, Any]:
    """A retrieved paper in JSON: `paper_json`, its scores, and its citation number [n] when it has one."""
    head: dict[str, Any] = {"number": number} if number is not None else {}
    return {
        **head,
        **paper_json(hit.paper),
        "score": round(hit.score, 6),
        "relevance": round(hit.relevance, 4),
        **({} if hit.has_vector else {"has_vector": False}),
        **also_fields(hit),
    }


WIDE_DENSE_FACTOR = 4  # a filtered dense search first looks at the unfiltered nearest 4 x depth
EXACT_DENSE_MAX = 1000  # up to this many admitted papers, dense compares their vectors itself
MIN_CONJUNCTIVE_HITS = 10  # fewer papers hold all of a query's common words: BM25 falls back to any of them


def lexical_match(query: QueryTerms, common_share: float) -> tuple[str, str | None]:
    """The FTS5 expression BM25 ranks by, and the one to use instead if that finds under
    MIN_CONJUNCTIVE_HITS papers.

    BM25 computes a score for every paper holding any scored word, so a word held by most of the corpus
    ("models": 61k of 74k papers) costs a score per paper while adding little to the ranking (its IDF is
    near 0). Like Lucene's common-terms query: words held by at most `common_share` of the papers are scored
    (any of them); a query made only of common words ("language models for images") ranks the papers
    holding all of them. The coverage vote and the dense list still see every word."""
    held = [(term, n) for term, n in zip(query.terms, query.frequencies, strict=True) if n > 0]
    every = " OR ".join(query.terms)
    if not held:
        return every, None
    limit = common_share * query.total
    rare = [term for term, n in held if n <= limit]
    if len(rare) == len(held):
        return every, None
    if rare:
        return " OR ".join(rare), None
    return " AND ".join(term for term, _ in held), every


def rrf(ranking: list[str], k: int, weight: float = 1.0) -> dict[str, float]:
    """Reciprocal rank fusion terms of one ranking: weight / (k + rank)."""
    return {doc_id: weight / (k + rank) for rank, doc_id in enumerate(ranking, start=1)}


def mmr(
    query: np.ndarray,
    candidates: list[str],
    vectors: dict[str, np.ndarray],
    k: int,
    relevance: dict[str, float] | None = None,
    lam: float = 0.7,
    seed: list[str] | None = None,
) -> list[str]:
    """Maximal marginal relevance over candidate ids: `k` picks trading relevance (default: the cosine with
    the query) against similarity to what is already picked (`seed`: papers picked before these)."""
    picked = [s for s in (seed or []) if s in vectors]
    chosen: list[str] = []
    pool = [c for c in candidates if c in vectors and c not in picked]
    rel = relevance or {c: float(vectors[c] @ query) for c in pool}
    while pool and len(chosen) < k:

        def gain(cid: str) -> float:
            redundancy = max((float(vectors[cid] @ vectors[s]) for s in picked + chosen), default=0.0)
            return lam * rel.get(cid, 0.0) - (1 - lam) * redundancy

        best = max(pool, key=gain)
        chosen.append(best)
        pool.remove(best)
    return chosen


class Retriever:
    """Owns the read side of the index for one process: catalog connections, Chroma, embedding model.

    It is given its parts (`assistant.engine.build_retriever` makes them for the common case): a catalog per
    thread, and the vectors and model made on first use, so a CLI error message never waits for the model.
    """

    def __init__(
        self,
        settings: Settings,
        catalogs: CatalogSource,
        vectors: Lazy[VectorIndex],
        embedder: Lazy[Embedder],
    ) -> None:
        self.settings = settings
        self._catalogs = catalogs
        self._vectors = vectors
        self._embedder = embedder
        self._multilingual: MultilingualIndex | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # --- resources (lazy: a CLI error message should not wait for the model) --------------------------

    @property
    def catalog(self) -> CatalogStore:
        """This thread's catalog (Chainlit calls us from a thread pool), the new file once one replaced it."""
        return self._catalogs.get()

    @property
    def vectors(self) -> VectorIndex:
        return self._vectors.get()

    @property
    def multilingual(self) -> MultilingualIndex | None:
        """The e5 collection, when the setting is on and it holds vectors (else None: English path only)."""
        if self.settings.embedding.multilingual_index and self._multilingual is None:
            self._multilingual = MultilingualIndex(self.settings, self.vectors.client)
        return self._multilingual if self._multilingual is not None and self._multilingual.count() else None

    @property
    def embedder(self) -> Embedder:
        return self._embedder.get()

    def warm_up(self) -> None:
        """Load the model(s) and open the stores now (the app does this at start-up)."""
        self.embedder.encode_query("warm up")
        _ = self.vectors.count()
        if self.multilingual is not None:  # e5 vectors exist: load their encoder now, not at a first question
            get_multilingual_encoder(self.settings.storage.cache_dir / "models").query("warm up")

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
        unknown_sources = [s for s in paper_filter.sources if s not in SOURCE_LABELS]
        if unknown_sources:
            raise RetrievalError(
                f"unknown source {', '.join(map(repr, unknown_sources))}: choose {', '.join(SOURCE_LABELS)}"
            )
        if self.catalog.is_empty():
            # An empty catalog beside a filled vector store is a lost catalog, not an empty index.
            lost = consistency_problem(0, 0, self.vectors.count(), self.settings.storage.home)
            if lost:
                raise CatalogError(lost)
            raise EmptyIndexError("the index is empty: run `academichub ingest` first")
        return text[:MAX_QUERY_CHARS]

    def check_categories(self, categories: tuple[str, ...]) -> None:
        # One index lookup per asked category; the full list (a scan of every paper's categories) only to
        # suggest names for an unknown one.
        unknown = [c for c in categories if not self.catalog.has_category(c)]
        if unknown:
            known = set(self.catalog.known_categories()) | self.catalog.known_archives()
            import difflib

            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
                hints.append(f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
            raise RetrievalError(
                "unknown categor"
                + ("ies: " if len(unknown) > 1 else "y: ")
                + "; ".join(hints)
                + ". `academichub stats` lists the categories in the index"
            )

    def unknown_terms(self, text: str) -> list[str]:
        """The content words of `text` that no indexed paper contains (title, abstract, authors, comment),
        in the order asked: the part of a question the index cannot speak to ("federated" in "federated
        learning and privacy" over an index without federated-learning papers)."""
        # Contractions ("what's") and short words tell nothing; a Chinese question's own words are never in
        # English abstracts, only its Latin-script ones are asked about.
        words = latin_words(text) if is_foreign(text) else text
        terms = [t for t in fts_terms(words) if "'" not in t and len(t) > 4]
        if not terms:
            return []
        found = self.catalog.query_terms(terms)
        return [
            term.strip('"') for term, count in zip(found.terms, found.frequencies, strict=True) if not count
        ]

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
        depth = candidates or max(self.settings.fusion.retrieval_depth, 4 * k)
        found = self.candidates(text, depth, flt, mode=mode, need_vector=diversify)
        if found is None:
            return []
        fused = self.rank(found, FusionParams.from_settings(self.settings))
        order = sorted(fused, key=lambda d: -fused[d])
        if diversify and found.query_vector is not None:
            pool = order[: max(depth, 3 * k)]
            self._add_vectors(found, pool)
            # Classic MMR (query cosine vs redundancy, on one scale) after the best fused paper: fused RRF
            # scores fall off too steeply for a redundancy penalty to ever change the picks.
            order = [*pool[:1], *mmr(found.query_vector, pool[1:], found.vectors, k - 1, seed=pool[:1])]
        return self._hits(order, k, found, fused)

    def _hits(self, order: list[str], k: int, found: Candidates, fused: dict[str, float]) -> list[Hit]:
        """The top k results; the same work on two servers is one result, and the next papers fill in."""
        dense_rank = {d: i for i, (d, _) in enumerate(found.dense, start=1)}
        lexical_rank = {d: i for i, (d, _) in enumerate(found.lexical, start=1)}
        hits: list[Hit] = []
        start = 0
        while len(hits) < k and start < len(order):
            top = order[start : start + k - len(hits)]
            start += len(top)
            if found.query_vector is not None:
                self._add_vectors(found, top)
            papers = self.catalog.get_papers(top)
            for doc_id in top:
                if doc_id not in papers:
                    continue  # vector without a catalog row: never shown
                vector = found.vectors.get(doc_id)
                qvec = found.query_vector
                relevance = (
                    float(np.clip(vector @ qvec, 0.0, 1.0))
                    if vector is not None and qvec is not None
                    else 0.0
                )
                hits.append(
                    Hit(
                        papers[doc_id],
                        fused[doc_id],
                        relevance,
                        dense_rank.get(doc_id),
                        lexical_rank.get(doc_id),
                        has_vector=vector is not None or qvec is None,
                    )
                )
            hits = merge_same_work(hits)
        return hits

    def paper_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The stored (unit) vectors of these papers, for diversity among papers already judged relevant."""
        found = Candidates()
        self._add_vectors(found, list(dict.fromkeys(ids)))
        return found.vectors

    def candidates(
        self, text: str, depth: int, flt: PaperFilter, *, mode: Mode = "hybrid", need_vector: bool = False
    ) -> Candidates | None:
        """The ranked lists fusion works on (None when the filter admits no paper at all)."""
        # How many papers the filter admits, counted no further than dense needs to know (and 0: none).
        admitted = self.catalog.count_admitted(flt, up_to=EXACT_DENSE_MAX + 1) if flt.active else None
        if admitted == 0:
            return None
        if mode != "lexical" and is_foreign(text) and self.multilingual is not None:
            return multilingual_candidates(self, text, depth, flt, mode)
        lexical_job = None
        if mode in ("hybrid", "lexical"):
            # BM25 runs on its own thread (and SQLite connection) while the query is encoded: SQLite and torch
            # both release the GIL, so the two waits overlap instead of adding up.
            lexical_job = self._lexical_pool().submit(self._lexical, text, depth, flt)
        qvec = self.embedder.encode_query(text) if mode != "lexical" or need_vector else None
        found = Candidates(query_vector=qvec)
        if mode in ("hybrid", "dense") and qvec is not None:
            found.dense = self._dense(qvec, depth, flt, admitted, found.vectors)
        if lexical_job is not None:
            found.lexical, found.terms, found.matches = lexical_job.result()
        return found

    def _lexical(
        self, text: str, depth: int, flt: PaperFilter
    ) -> tuple[list[tuple[str, float]], QueryTerms | None, dict[str, TermMatch]]:
        """BM25's ranked list, the query's terms with their document frequencies, and how the top paper
        holds them."""
        # Every content word counts here, short ones too ("3D", "AI", "22 pages"): only the unknown-word
        # notice ignores them.
        terms = fts_terms(text)
        if not terms:
            return [], None, {}
        query = self.catalog.query_terms(terms)
        match, fallback = lexical_match(query, self.settings.fusion.lexical_common_share)
        ranked = self.catalog.lexical_search(
            match, depth, flt if flt.active else None, weights=LEXICAL_COLUMN_WEIGHTS
        )
        if fallback and len(ranked) < MIN_CONJUNCTIVE_HITS:
            ranked = self.catalog.lexical_search(
                fallback, depth, flt if flt.active else None, weights=LEXICAL_COLUMN_WEIGHTS
            )
        return ranked, query, self.catalog.term_matches(query, [ranked[0][0]] if ranked else [])

    def rank(self, found: Candidates, params: FusionParams) -> dict[str, float]:
        """Fused scores: weighted RRF of the two lists, then the word-coverage vote on the head."""
        fused = fuse(found, params)
        if params.coverage_weight and found.dense and found.lexical and found.terms is not None:
            head = top_ids(fused, params.coverage_depth)
            missing = [d for d in head if d not in found.matches]
            if missing:
                found.matches.update(self.catalog.term_matches(found.terms, missing))
            fused = add_coverage_vote(fused, found, params)
        return fused

    def _lexical_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bm25")
            return self._pool

    def _dense(
        self,
        qvec: np.ndarray,
        depth: int,
        flt: PaperFilter,
        admitted: int | None,
        vectors: dict[str, np.ndarray],
    ) -> list[tuple[str, float]]:
        """Top `depth` (id, cosine) among the papers the filter admits (`admitted` of them, counted up to
        EXACT_DENSE_MAX + 1; None: no filter), exact, not post-hoc; the papers' vectors go to `vectors`
        (relevance and MMR use them). How depends on how many the filter admits:

        - a few (one author, one day): their vectors are read and compared here, a few ms where Chroma's
          id-list query takes 20-25 ms;
        - more: the unfiltered nearest WIDE_DENSE_FACTOR x depth are filtered, and when `depth` of them pass
          they are its top `depth` (a large field, cs.CV is half of a 74k index: no list of every admitted
          id, 93 ms for cs.CV's 38k, handed to Chroma);
        - when too few pass, Chroma searches among the admitted papers that have a vector."""
        nearest = None
        if admitted is not None:
            if admitted <= EXACT_DENSE_MAX:
                nearest = self.vectors.nearest_exact(qvec, depth, self.catalog.filter_ids_and_vectors(flt)[1])
            elif flt.only_ids is None:
                wide = self.vectors.nearest(qvec, WIDE_DENSE_FACTOR * depth)
                kept = replace(flt, only_ids=frozenset(pid for pid, _, _ in wide))
                passing = set(self.catalog.filter_ids(kept))
                if len(passing) >= depth:
                    nearest = [hit for hit in wide if hit[0] in passing][:depth]
            if nearest is None:
                embedded = self.catalog.filter_ids_and_vectors(flt)[1]
                nearest = self.vectors.nearest(qvec, depth, among=embedded)  # papers with a vector only
        else:
            nearest = self.vectors.nearest(qvec, depth)
        ranked = []
        for pid, cosine, vector in nearest:
            ranked.append((pid, cosine))
            if vector is not None:
                vectors[pid] = vector
        return ranked

    def _add_vectors(self, found: Candidates, ids: list[str]) -> None:
        missing = [d for d in ids if d not in found.vectors]
        if missing:
            store = self.multilingual if found.space == "multilingual" else self.vectors
            assert store is not None
            found.vectors.update(store.vectors_of(missing))


@dataclass
class Candidates:
    """Ranked candidate lists of one query, best first, before fusion."""

    query_vector: np.ndarray | None = None
    dense: list[tuple[str, float]] = field(default_factory=list)  # (id, cosine)
    lexical: list[tuple[str, float]] = field(default_factory=list)  # (id, BM25, higher is better)
    terms: QueryTerms | None = None  # the query's words BM25 used, with their document frequencies
    matches: dict[str, TermMatch] = field(default_factory=dict)  # how papers hold the query's words
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # paper vectors fetched so far
    space: Literal["english", "multilingual"] = "english"  # the encoder of query_vector and vectors

    @property
    def top_match(self) -> TermMatch:
        """How BM25's top paper holds the query's words."""
        return self.matches.get(self.lexical[0][0], NO_MATCH) if self.lexical else NO_MATCH


@dataclass(frozen=True)
class FusionParams:
    """How the dense and BM25 lists are weighed (Settings documents each; bench/tune_fusion.py chose them)."""

    rrf_k: int = 10
    lexical_weight: float = 0.5
    confidence_boost: float = 5.0
    coverage_threshold: float = 0.6
    coverage_weight: float = 0.5
    coverage_depth: int = 50
    # The words' combination must be rare for coverage to count: from 1 paper expected by chance (no
    # effect) to e^-5 = 1 in 150 (full effect). Fixed, not tuned.
    specific_log_chance: float = -5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> FusionParams:
        return cls(
            rrf_k=settings.fusion.rrf_k,
            lexical_weight=settings.fusion.lexical_weight,
            confidence_boost=settings.fusion.lexical_confidence_boost,
            coverage_threshold=settings.fusion.lexical_coverage_threshold,
            coverage_weight=settings.fusion.coverage_weight,
            coverage_depth=settings.fusion.coverage_depth,
        )


def list_weights(found: Candidates, params: FusionParams) -> tuple[float, float]:
    """(dense weight, BM25 weight) for this query: each list's say grows with its own confidence.

    - BM25's margin: a pasted sentence or a project URL matches one paper far better than any other.
    - BM25's coverage: when its top paper holds (nearly) all of the query's term weight, and those words
      together are too rare to meet by chance, the user typed the paper's own words, and dense (which
      reads them as a vague topic) only reshuffles a right answer. "language models" is covered by
      thousands of papers: there dense keeps its say."""
    lexical, weight = found.lexical, params.lexical_weight
    if params.confidence_boost and len(lexical) > 1 and lexical[0][1] > 0:
        margin = max(0.0, (lexical[0][1] - lexical[1][1]) / lexical[0][1])
        weight *= 1.0 + params.confidence_boost * margin
    if not (lexical and found.dense):
        return 1.0, weight  # one list (a mode, or no query word BM25 can use): its own order stands
    dense_weight = 1.0
    if params.coverage_threshold < 1.0:
        match = found.top_match
        typed_its_words = _ramp(match.coverage, params.coverage_threshold, 1.0)
        dense_weight -= typed_its_words * _ramp(match.log_chance, 0.0, params.specific_log_chance)
    return dense_weight, weight


def _ramp(value: float, zero_at: float, one_at: float) -> float:
    """0 at `zero_at`, 1 at `one_at`, linear between, clipped (either direction)."""
    return float(np.clip((value - zero_at) / (one_at - zero_at), 0.0, 1.0))


def fuse(found: Candidates, params: FusionParams) -> dict[str, float]:
    """Weighted reciprocal rank fusion of the dense and BM25 lists (weights from `list_weights`)."""
    dense_weight, lexical_weight = list_weights(found, params)
    fused = rrf([d for d, _ in found.dense], params.rrf_k, dense_weight)
    for doc_id, score in rrf([d for d, _ in found.lexical], params.rrf_k, lexical_weight).items():
        fused[doc_id] = fused.get(doc_id, 0.0) + score
    return fused


def add_coverage_vote(fused: dict[str, float], found: Candidates, params: FusionParams) -> dict[str, float]:
    """A third RRF vote among the fused head: first the papers holding all the query's words within one
    passage, then by the share of the query's word weight each holds (`found.matches`; ties keep the fused
    order).

    BM25 saturates repeated words and favours short texts; dense blurs a question into a topic. Which
    paper holds the most of the question's rare words settles many near-ties between them (measured on the
    June known-item sets: bench/tune_fusion.py), and when many papers hold all of a few common words, the
    one holding them in a single passage is the one whose sentence the user trimmed. Its weight is a share
    of the other two lists' together."""
    head = top_ids(fused, params.coverage_depth)

    def passage_then_coverage(doc_id: str) -> tuple[bool, float]:
        match = found.matches.get(doc_id, NO_MATCH)
        return match.together, match.coverage

    by_coverage = sorted(head, key=passage_then_coverage, reverse=True)  # stable: ties keep fused order
    dense_weight, lexical_weight = list_weights(found, params)
    vote = rrf(by_coverage, params.rrf_k, params.coverage_weight * (dense_weight + lexical_weight))
    return {d: score + vote.get(d, 0.0) for d, score in fused.items()}


def top_ids(scores: dict[str, float], n: int) -> list[str]:
    return sorted(scores, key=lambda d: -scores[d])[:n]


def make_filter(
    categories: list[str] | tuple[str, ...] | None = None,
    since: date | None = None,
    until: date | None = None,
    author: str | None = None,
    exclude_ids: set[str] | frozenset[str] | None = None,
    only_ids: set[str] | frozenset[str] | None = None,
    sources: list[str] | tuple[str, ...] | None = None,
) -> PaperFilter:
    return PaperFilter(
        categories=tuple(c.strip() for c in (categories or ()) if c and c.strip()),
        sources=tuple(s.strip().lower() for s in (sources or ()) if s and s.strip()),
        since=since,
        until=until,
        author=author.strip() if author and author.strip() else None,
        exclude_ids=frozenset(exclude_ids or ()),
        only_ids=frozenset(only_ids) if only_ids is not None else None,
    )
