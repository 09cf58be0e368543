"""What a catalog is, whatever holds it: `CatalogStore`, the interface every reader and the ingest use, with
the two backends behind it (`store/catalog.py`: SQLite with FTS5, the default; `store/postgres/catalog.py`:
PostgreSQL with a GIN full-text index, for several machines).

Match expressions are the catalog's own small query language, the same on both backends: quoted terms
(`"diffusion"`, `"bounded-degree"` is a phrase) joined by ` OR ` or ` AND `, optionally restricted to
columns (`{title abstract} : ("a" AND "b")`). Words are tokenised and stemmed as SQLite's FTS5 `porter
unicode61 remove_diacritics 2` tokenizer does, on both backends, so a term means the same papers.

The term statistics that need per-paper word positions (`term_matches`, `term_holders_many`) read the
candidate papers' text and tokenise it in a scratch in-memory FTS5 table, so they are shared here.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from assistant.core.paper import Paper
from assistant.store.filter import PaperFilter
from assistant.store.schema import FTS_COLUMNS
from assistant.store.terms import WORD_RE, QueryTerms, TermMatch, passage_gap

# One paper's indexed text: id, title, abstract, authors joined by spaces, comment ("" when none).
TextRow = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class StoredState:
    version: int | None
    record_hash: str
    content_hash: str
    embedded_hash: str | None
    published: int | None
    updated: int | None


class CatalogStore(ABC):
    """Every question about papers is a method here: no SQL on the catalog lives anywhere else."""

    read_only: bool = False

    def __init__(self) -> None:
        # In-memory FTS5 for term_matches, made on first use by each thread (a catalog may be shared).
        self._scratch_local = threading.local()

    # --- lifecycle ----------------------------------------------------------------------------------------

    def replaced(self) -> bool:
        """True when readers must open the catalog again (a SQLite file replaced under them)."""
        return False

    @abstractmethod
    def require_writable(self) -> None: ...

    def close(self) -> None:
        scratch = getattr(self._scratch_local, "conn", None)
        if scratch is not None:
            scratch.close()
            self._scratch_local.conn = None

    # --- writes (ingestion) -----------------------------------------------------------------------------

    @abstractmethod
    def states(self, ids: Sequence[str]) -> dict[str, StoredState]: ...

    @abstractmethod
    def upsert(self, papers: Iterable[Paper]) -> None:
        """Insert or replace papers; their vectors become pending when the embedded text changed."""

    @abstractmethod
    def pending_ids(self, limit: int | None = None) -> list[str]:
        """Papers waiting for vectors, oldest first."""

    @abstractmethod
    def count_pending(self) -> int: ...

    @abstractmethod
    def mark_embedded(self, hashes: dict[str, str]) -> None: ...

    @abstractmethod
    def reset_embedded(self, ids: Sequence[str]) -> None:
        """Mark these papers' vectors pending (the vector store lost them): the next ingest re-embeds them."""

    @abstractmethod
    def start_run_tally(self) -> None:
        """Forget which papers the previous run counted (paper id -> new, unchanged, updated)."""

    @abstractmethod
    def run_tally(self, ids: Sequence[str]) -> dict[str, str]: ...

    @abstractmethod
    def set_run_tally(self, statuses: dict[str, str]) -> None: ...

    @abstractmethod
    def get_cursor(self, key: str) -> int: ...

    @abstractmethod
    def set_cursor(self, key: str, position: int) -> None: ...

    @abstractmethod
    def clear_cursor(self, key: str) -> None: ...

    # --- reads ------------------------------------------------------------------------------------------

    @abstractmethod
    def count(self) -> int: ...

    def count_embedded(self) -> int:
        """Papers whose current text has its vector: every paper not pending."""
        return self.count() - self.count_pending()

    @abstractmethod
    def author_counts(self, first: int) -> dict[str, int]:
        """How many of the first `first` papers (in storage order) each author signs."""

    @abstractmethod
    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]: ...

    def get_paper(self, paper_id: str) -> Paper | None:
        return self.get_papers([paper_id]).get(paper_id)

    @abstractmethod
    def filter_ids(self, paper_filter: PaperFilter) -> list[str]: ...

    @abstractmethod
    def count_admitted(self, paper_filter: PaperFilter, up_to: int) -> int: ...

    @abstractmethod
    def filter_ids_and_vectors(self, paper_filter: PaperFilter) -> tuple[list[str], list[str]]:
        """The papers the filter admits, and those of them with a vector in the store."""

    @abstractmethod
    def lexical_search(
        self,
        match: str,
        limit: int,
        paper_filter: PaperFilter | None = None,
        weights: tuple[float, float, float, float] = (3.0, 1.0, 1.0, 0.5),
    ) -> list[tuple[str, float]]:
        """BM25 (k1 1.2, b 0.75, as FTS5's bm25()) over title, abstract, authors and comment, column
        `weights` in that order; higher is better. `match` is a match expression (module docstring)."""

    @abstractmethod
    def count_matching(self, match: str) -> int:
        """How many papers a match expression holds (a term's document frequency)."""

    @abstractmethod
    def text_rows(self, ids: Sequence[str]) -> list[TextRow]:
        """The indexed text of these papers (for the scratch tokenizer)."""

    @abstractmethod
    def has_category(self, name: str) -> bool: ...

    @abstractmethod
    def is_empty(self) -> bool: ...

    @abstractmethod
    def known_categories(self) -> dict[str, int]: ...

    @abstractmethod
    def known_archives(self) -> set[str]: ...

    @abstractmethod
    def recent_titles(self, limit: int) -> list[str]: ...

    @abstractmethod
    def archive_paper_counts(self) -> dict[str, int]: ...

    @abstractmethod
    def date_range(self) -> tuple[date | None, date | None]: ...

    @abstractmethod
    def source_counts(self) -> dict[str, int]: ...

    @abstractmethod
    def primary_category_counts(self) -> dict[str, int]: ...

    @abstractmethod
    def newest_ingested(self) -> float: ...

    @abstractmethod
    def searchable_until(self) -> float:
        """`newest_ingested`, stopping before the first paper still waiting for its first vector."""

    @abstractmethod
    def newest_day_ingested_by(self, when: float) -> date | None: ...

    @abstractmethod
    def ids_ingested_since(self, when: float) -> set[str]: ...

    @abstractmethod
    def ids_ingested_between(self, after: float, until: float, published_from: date | None) -> set[str]: ...

    @abstractmethod
    def ids_of_listing(self, first_day: date | None, until: float, or_ingested_after: float) -> set[str]: ...

    @abstractmethod
    def all_ids(self) -> list[str]: ...

    # --- term statistics (shared: the index's counts, the scratch tokenizer's positions) ----------------

    def query_terms(self, terms: list[str]) -> QueryTerms:
        """The query's `terms` (match expressions, one quoted word each) with their document frequencies."""
        unique = tuple(dict.fromkeys(terms))
        frequencies = tuple(self.count_matching(term) for term in unique)
        return QueryTerms(unique, frequencies, self.count())

    def phrase_frequencies(self, phrases: Sequence[str], *, adjacent: bool = True) -> dict[str, int]:
        """How many papers hold each phrase in their title or abstract, stemmed like the index: its words
        adjacent and in order, or (`adjacent=False`) anywhere. The term statistics that tell "gradient
        ascent" from "remarkable success". A phrase with no indexable word counts 0."""
        counts: dict[str, int] = {}
        for phrase in dict.fromkeys(phrases):
            words = WORD_RE.findall(phrase)
            if not words:
                counts[phrase] = 0
                continue
            inner = '"' + " ".join(words) + '"' if adjacent else " AND ".join(f'"{w}"' for w in words)
            counts[phrase] = self.count_matching("{title abstract} : (" + inner + ")")
        return counts

    def term_matches(self, query: QueryTerms, paper_ids: Sequence[str]) -> dict[str, TermMatch]:
        """How each of `paper_ids` holds the query's terms.

        Which paper holds which term is answered by a scratch in-memory FTS5 table of just these papers,
        tokenised exactly like the index (a per-term lookup on the index reads every row of a common word:
        25 ms for "model")."""
        terms, total = list(query.terms), query.total
        wanted = list(dict.fromkeys(paper_ids))
        if not terms or total == 0 or not wanted:
            return {pid: TermMatch(0.0, 0.0) for pid in wanted}
        holders = self._scratch_holders(terms, wanted)
        together = self._scratch_ids(f"NEAR({' '.join(terms)}, {passage_gap(terms)})")
        weights = [math.log((total - n + 0.5) / (n + 0.5) + 1.0) for n in query.frequencies]  # BM25's IDF
        weight_sum = sum(weights)
        found = {}
        for pid in wanted:
            held = [i for i, term in enumerate(terms) if pid in holders[term]]
            coverage = sum(weights[i] for i in held) / weight_sum if weight_sum else 0.0
            log_chance = math.log(total) + sum(math.log(max(query.frequencies[i], 1) / total) for i in held)
            found[pid] = TermMatch(coverage, log_chance, pid in together)
        return found

    def term_holders_many(self, terms: Sequence[str], paper_ids: Sequence[str]) -> dict[str, set[str]]:
        """For each term (a quoted word): which of `paper_ids` hold it, tokenised like the index."""
        wanted = list(dict.fromkeys(paper_ids))
        if not wanted or not terms:
            return {term: set() for term in terms}
        return self._scratch_holders(list(dict.fromkeys(terms)), wanted)

    def _scratch_holders(self, terms: list[str], paper_ids: list[str]) -> dict[str, set[str]]:
        scratch = self._scratch()
        scratch.execute("DELETE FROM scratch_fts")
        for chunk in chunks(paper_ids, 500):
            scratch.executemany(
                "INSERT INTO scratch_fts (id, title, abstract, authors, comment) VALUES (?,?,?,?,?)",
                self.text_rows(chunk),
            )
        return {term: self._scratch_ids(term) for term in terms}

    def _scratch(self) -> sqlite3.Connection:
        scratch: sqlite3.Connection | None = getattr(self._scratch_local, "conn", None)
        if scratch is None:
            scratch = sqlite3.connect(":memory:")
            scratch.execute(f"CREATE VIRTUAL TABLE scratch_fts USING fts5({FTS_COLUMNS})")
            self._scratch_local.conn = scratch
        return scratch

    def _scratch_ids(self, match: str) -> set[str]:
        """Ids of the scratch table's papers that match an FTS5 expression."""
        rows = self._scratch().execute("SELECT id FROM scratch_fts WHERE scratch_fts MATCH ?", (match,))
        return {row[0] for row in rows}


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
