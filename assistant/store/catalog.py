"""The catalog: one SQLite row per paper (keyed by its source-local id: versionless arXiv id, or the DOI for
bioRxiv/medRxiv), an FTS5 lexical index, and the per-paper embedding state that makes ingestion idempotent
and resumable.

`content_hash` is the hash of the embedded text; `embedded_hash` is the hash of what is in the vector
store. They differ exactly when a paper still needs (re-)embedding, e.g. after a killed run.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path

from assistant.core.paper import Paper, archive_of
from assistant.store.catalog_store import CatalogStore, StoredState, TextRow, chunks
from assistant.store.faults import CatalogError, disk_full, file_identity, storage_problem, writable
from assistant.store.filter import PaperFilter
from assistant.store.migrations import migrate
from assistant.store.schema import (
    CATALOG_MIGRATIONS,
    PAPER_COLUMNS,
    PENDING,
    date_to_int,
    int_to_date,
    row_to_paper,
    stored_values,
)
from assistant.store.terms import FTS_COUNT


class Catalog(CatalogStore):
    """SQLite catalog of papers. One connection per object; open one per thread. Every question about papers
    is a method here: the connection is private, so no SQL on the catalog's tables lives anywhere else.

    In a data directory this process cannot write to (a shared, read-only index on a lab server), or on a
    full disk, the catalog opens read-only: every read works, a write raises CatalogError saying why not."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.read_only = not writable(path)
        self.full = False  # opened read-only because the disk is full
        try:
            self._conn = self._open_read_only() if self.read_only else self._open_writable()
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as err:
            raise CatalogError(
                storage_problem(err, path.parent) or f"cannot open the catalog {path}: {err}"
            ) from None
        self._file = file_identity(path)

    def replaced(self) -> bool:
        """True when another file now sits at the catalog's path: a fresh copy moved into place on an app
        machine after an ingest elsewhere, or an `ingest --rebuild`. This connection still reads the old
        file (SQLite follows the open file, not the name); readers open the catalog again."""
        current = file_identity(self.path)
        return current is not None and current != self._file

    def _open_writable(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            migrate(conn, CATALOG_MIGRATIONS)
        except sqlite3.OperationalError as err:
            conn.close()
            # Writable by permissions but not in fact ("readonly": a read-only mount seen through NFS, ...),
            # or a full disk (SQLite cannot make the WAL shared-memory file: "disk I/O error"): read the
            # catalog as it is; a write says why it cannot.
            read_only_mount = "readonly" in str(err).lower()
            if not read_only_mount:
                if not disk_full(self.path.parent):
                    raise
                if not self.path.is_file():
                    raise self._full_disk_error() from None
                self.full = True
            self.read_only = True
            return self._open_read_only()
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise CatalogError(
                f"there is no index in {self.path.parent}, and that directory is read-only: set "
                "ACADEMICHUB_HOME to the index's folder, or to a writable one and run `academichub ingest`"
            )
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=30.0, check_same_thread=False)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A WAL-mode file whose -shm cannot be made here: nothing can change it from this side either.
            conn.close()
            conn = sqlite3.connect(f"{uri}&immutable=1", uri=True, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    def require_writable(self) -> None:
        if self.full:
            raise self._full_disk_error()
        if self.read_only:
            raise CatalogError(storage_problem(OSError(30, "read-only"), self.path.parent) or "read-only")

    def _full_disk_error(self) -> CatalogError:
        return CatalogError(storage_problem(OSError(28, "no space left"), self.path.parent) or "disk full")

    def close(self) -> None:
        self._conn.close()
        super().close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._conn:
            yield self._conn

    # --- writes (ingestion) ---------------------------------------------------------------------------

    def states(self, ids: Sequence[str]) -> dict[str, StoredState]:
        found: dict[str, StoredState] = {}
        for chunk in chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                "SELECT id, version, record_hash, content_hash, embedded_hash, published, updated "
                f"FROM papers WHERE id IN ({marks})",
                chunk,
            )
            for row in rows:
                found[row["id"]] = StoredState(
                    row["version"],
                    row["record_hash"],
                    row["content_hash"],
                    row["embedded_hash"],
                    row["published"],
                    row["updated"],
                )
        return found

    def upsert(self, papers: Iterable[Paper]) -> None:
        """Insert or replace papers; their vectors become pending when the embedded text changed."""
        now = time.time()
        with self._transaction() as conn:
            for paper in papers:
                conn.execute(
                    f"""
                    INSERT INTO papers ({PAPER_COLUMNS})
                    VALUES ({",".join("?" * 19)},NULL,?,?)
                    ON CONFLICT(id) DO UPDATE SET
                        source=excluded.source, version=excluded.version, title=excluded.title,
                        abstract=excluded.abstract,
                        title_original=excluded.title_original, abstract_original=excluded.abstract_original,
                        authors=excluded.authors, authors_folded=excluded.authors_folded,
                        categories=excluded.categories, primary_category=excluded.primary_category,
                        published=excluded.published, updated=excluded.updated, comment=excluded.comment,
                        doi=excluded.doi, journal_ref=excluded.journal_ref,
                        published_doi=excluded.published_doi, record_hash=excluded.record_hash,
                        content_hash=excluded.content_hash, changed_at=excluded.changed_at
                    """,
                    (*stored_values(paper), now, now),
                )
                conn.execute("DELETE FROM paper_categories WHERE id = ?", (paper.id,))
                conn.executemany(
                    "INSERT OR IGNORE INTO paper_categories (id, category, archive) VALUES (?,?,?)",
                    [(paper.id, c, archive_of(c)) for c in paper.categories],
                )
                # The FTS row shares the paper's rowid (kept by the upsert): deleting it is a key lookup.
                rowid = conn.execute("SELECT rowid FROM papers WHERE id = ?", (paper.id,)).fetchone()[0]
                conn.execute("DELETE FROM papers_fts WHERE rowid = ?", (rowid,))
                conn.execute(
                    "INSERT INTO papers_fts (rowid, id, title, abstract, authors, comment) "
                    "VALUES (?,?,?,?,?,?)",
                    (
                        rowid,
                        paper.id,
                        paper.title,
                        paper.abstract,
                        " ".join(paper.authors),
                        paper.comment or "",
                    ),
                )

    def pending_ids(self, limit: int | None = None) -> list[str]:
        """Papers waiting for vectors, oldest first (the order of the `papers_pending` index: no sort)."""
        sql = f"SELECT id FROM papers WHERE {PENDING} ORDER BY ingested_at, rowid"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [row[0] for row in self._conn.execute(sql)]

    def count_pending(self) -> int:
        return int(self._conn.execute(f"SELECT count(*) FROM papers WHERE {PENDING}").fetchone()[0])

    def mark_embedded(self, hashes: dict[str, str]) -> None:
        with self._transaction() as conn:
            conn.executemany(
                "UPDATE papers SET embedded_hash = ? WHERE id = ?", [(h, pid) for pid, h in hashes.items()]
            )

    def reset_embedded(self, ids: Sequence[str]) -> None:
        """Mark these papers' vectors pending (the vector store lost them): the next ingest re-embeds them."""
        with self._transaction() as conn:
            conn.executemany("UPDATE papers SET embedded_hash = NULL WHERE id = ?", [(pid,) for pid in ids])

    # --- one ingest run's tally ------------------------------------------------------------------------

    def start_run_tally(self) -> None:
        """Forget which papers the previous run counted. The tally (paper id -> how this run counted it:
        new, unchanged, updated) is a TEMP table, kept in a temporary file beside SQLite's small page cache:
        a run over millions of records holds no per-paper state in memory (a dict of 500k ids was 45 MB)."""
        self._conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS run_tally "
            "(id TEXT PRIMARY KEY, status TEXT NOT NULL) WITHOUT ROWID"
        )
        with self._transaction() as conn:
            conn.execute("DELETE FROM run_tally")

    def run_tally(self, ids: Sequence[str]) -> dict[str, str]:
        """How this run already counted these papers (ids it has not seen are left out)."""
        found: dict[str, str] = {}
        for chunk in chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(f"SELECT id, status FROM run_tally WHERE id IN ({marks})", chunk):
                found[row[0]] = row[1]
        return found

    def set_run_tally(self, statuses: dict[str, str]) -> None:
        with self._transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO run_tally (id, status) VALUES (?,?)", statuses.items())

    # --- cursors (resumable API ingests) --------------------------------------------------------------

    def get_cursor(self, key: str) -> int:
        row = self._conn.execute("SELECT position FROM cursors WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def set_cursor(self, key: str, position: int) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO cursors (key, position, updated_at) VALUES (?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET position=excluded.position, updated_at=excluded.updated_at",
                (key, position, time.time()),
            )

    def clear_cursor(self, key: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM cursors WHERE key = ?", (key,))

    # --- reads ----------------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM papers").fetchone()[0])

    @staticmethod
    def progress(path: Path) -> tuple[int, int]:
        """(papers, papers embedded) of the catalog at `path` as another process sees it mid-ingest: a
        read-only look that never creates, migrates or blocks the writer (WAL); (0, 0) while the file or its
        schema does not exist yet, or the writer holds a lock past a second."""
        if not path.is_file():
            return 0, 0
        try:
            with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1)) as conn:
                papers = int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])
                pending = int(conn.execute(f"SELECT count(*) FROM papers WHERE {PENDING}").fetchone()[0])
        except sqlite3.Error:
            return 0, 0
        return papers, papers - pending

    def author_counts(self, first: int) -> dict[str, int]:
        """How many of the first `first` papers (in storage order) each author signs: a cheap way to find a
        prolific name without reading every row."""
        counts: dict[str, int] = {}
        for (authors,) in self._conn.execute("SELECT authors FROM papers ORDER BY rowid LIMIT ?", (first,)):
            for name in json.loads(authors):
                counts[name] = counts.get(name, 0) + 1
        return counts

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        found: dict[str, Paper] = {}
        for chunk in chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(f"SELECT * FROM papers WHERE id IN ({marks})", chunk):
                found[row["id"]] = row_to_paper(row)
        return found

    def filter_ids(self, paper_filter: PaperFilter) -> list[str]:
        where, params = paper_filter.where_sql()
        return [row[0] for row in self._conn.execute(f"SELECT p.id FROM papers p WHERE {where}", params)]

    def count_admitted(self, paper_filter: PaperFilter, up_to: int) -> int:
        """How many papers the filter admits, counting no further than `up_to` (cheap for a broad filter)."""
        where, params = paper_filter.where_sql()
        sql = f"SELECT count(*) FROM (SELECT 1 FROM papers p WHERE {where} LIMIT ?)"
        return int(self._conn.execute(sql, [*params, up_to]).fetchone()[0])

    def filter_ids_and_vectors(self, paper_filter: PaperFilter) -> tuple[list[str], list[str]]:
        """The papers the filter admits, and those of them with a vector in the store: papers of a
        catalog-only ingest (`ingest --no-embed`) have none yet, and a dense search naming ids the store
        lacks costs Chroma a failed query and a lookup of every admitted id (`VectorIndex.nearest`). Two
        reads: the first can use a narrow covering index (the author filter's), the second is by key."""
        admitted = self.filter_ids(paper_filter)
        with_vector: list[str] = []
        for chunk in chunks(admitted, 500):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id FROM papers WHERE id IN ({marks}) AND embedded_hash IS NOT NULL"
            with_vector += [row[0] for row in self._conn.execute(sql, chunk)]
        return admitted, with_vector

    def lexical_search(
        self,
        match: str,
        limit: int,
        paper_filter: PaperFilter | None = None,
        weights: tuple[float, float, float, float] = (3.0, 1.0, 1.0, 0.5),
    ) -> list[tuple[str, float]]:
        """BM25 over title, abstract, authors and comment (column `weights` in that order).

        `match` is an FTS5 expression."""
        marks = ", ".join(str(float(w)) for w in weights)
        if paper_filter is None or not paper_filter.active:
            # No join with `papers` when nothing is filtered: 2-3x faster on common query words.
            sql = (
                f"SELECT id, bm25(papers_fts, 0.0, {marks}) AS score FROM papers_fts "
                "WHERE papers_fts MATCH ? ORDER BY score LIMIT ?"
            )
            rows = self._conn.execute(sql, [match, limit])
        else:
            where, params = paper_filter.where_sql()
            rows = self._conn.execute(
                f"""
                SELECT f.id, bm25(papers_fts, 0.0, {marks}) AS score
                FROM papers_fts f JOIN papers p ON p.id = f.id
                WHERE papers_fts MATCH ? AND {where}
                ORDER BY score LIMIT ?
                """,
                [match, *params, limit],
            )
        # FTS5's bm25() is lower-is-better and negative; flip it so higher is better.
        return [(row[0], -float(row[1])) for row in rows]

    def count_matching(self, match: str) -> int:
        return int(self._conn.execute(FTS_COUNT, (match,)).fetchone()[0])

    def text_rows(self, ids: Sequence[str]) -> list[TextRow]:
        found = []
        for chunk in chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT id, title, abstract, authors, comment FROM papers WHERE id IN ({marks})", chunk
            )
            found += [
                (pid, title, abstract, " ".join(json.loads(authors)), comment or "")
                for pid, title, abstract, authors, comment in rows
            ]
        return found

    def has_category(self, name: str) -> bool:
        """Whether some paper lists this category, or a category of this archive (two index lookups)."""
        row = self._conn.execute(
            "SELECT EXISTS (SELECT 1 FROM paper_categories WHERE category = ?) "
            "OR EXISTS (SELECT 1 FROM paper_categories WHERE archive = ?)",
            (name, name),
        ).fetchone()
        return bool(row[0])

    def is_empty(self) -> bool:
        return self._conn.execute("SELECT 1 FROM papers LIMIT 1").fetchone() is None

    def known_categories(self) -> dict[str, int]:
        rows = self._conn.execute(
            "SELECT category, count(*) FROM paper_categories GROUP BY category ORDER BY count(*) DESC"
        )
        return {row[0]: int(row[1]) for row in rows}

    def known_archives(self) -> set[str]:
        return {row[0] for row in self._conn.execute("SELECT DISTINCT archive FROM paper_categories")}

    def recent_titles(self, limit: int) -> list[str]:
        """The titles of the `limit` most recently published papers (newest first)."""
        rows = self._conn.execute("SELECT title FROM papers ORDER BY published DESC, id LIMIT ?", (limit,))
        return [str(row[0]) for row in rows]

    def archive_paper_counts(self) -> dict[str, int]:
        """Papers per archive (`cs`, `q-bio`, ...), each paper counted once however many of the archive's
        categories it lists (summing category counts would count cross-listings twice)."""
        rows = self._conn.execute(
            "SELECT archive, count(DISTINCT id) FROM paper_categories GROUP BY archive ORDER BY 2 DESC"
        )
        return {row[0]: int(row[1]) for row in rows}

    def date_range(self) -> tuple[date | None, date | None]:
        row = self._conn.execute("SELECT min(published), max(published) FROM papers").fetchone()
        return int_to_date(row[0]), int_to_date(row[1])

    def source_counts(self) -> dict[str, int]:
        """Papers per source ('arxiv', 'biorxiv', 'medrxiv'), largest first."""
        rows = self._conn.execute(
            "SELECT source, count(*) FROM papers GROUP BY source ORDER BY count(*) DESC"
        )
        return {row[0]: int(row[1]) for row in rows}

    def primary_category_counts(self) -> dict[str, int]:
        rows = self._conn.execute(
            "SELECT primary_category, count(*) FROM papers GROUP BY primary_category ORDER BY count(*) DESC"
        )
        return {row[0]: int(row[1]) for row in rows}

    # --- when papers entered the catalog (the radar's windows) -----------------------------------------

    def newest_ingested(self) -> float:
        """When the newest paper first entered the catalog (unix seconds; 0.0 for an empty catalog)."""
        return float(self._conn.execute("SELECT max(ingested_at) FROM papers").fetchone()[0] or 0.0)

    def searchable_until(self) -> float:
        """`newest_ingested`, but stopping before the first paper still waiting for its first vector (an
        ingest in another process stores a batch's rows, then its vectors, then marks them embedded). A
        radar window or digest cursor that closed over such a paper would rank it without a vector, leave
        it out, and never look at it again; papers after it wait for the next visit. O(log n): a partial
        index holds the waiting papers only."""
        row = self._conn.execute("SELECT min(ingested_at) FROM papers WHERE embedded_hash IS NULL").fetchone()
        if row[0] is None:
            return self.newest_ingested()
        before = self._conn.execute(
            "SELECT max(ingested_at) FROM papers WHERE ingested_at < ?", (row[0],)
        ).fetchone()
        return float(before[0] or 0.0)

    def newest_day_ingested_by(self, when: float) -> date | None:
        """The newest listing day among papers in the catalog at `when` (its newest day as it was then)."""
        row = self._conn.execute(
            "SELECT max(published) FROM papers WHERE ingested_at <= ?", (when,)
        ).fetchone()
        return int_to_date(row[0])

    def ids_ingested_since(self, when: float) -> set[str]:
        """Papers that first entered the catalog at or after `when` (a re-listed paper keeps its first)."""
        rows = self._conn.execute("SELECT id FROM papers WHERE ingested_at >= ?", (when,))
        return {row[0] for row in rows}

    def ids_ingested_between(self, after: float, until: float, published_from: date | None) -> set[str]:
        """Papers first ingested in (`after`, `until`], except those published before `published_from`
        (a backfill of old papers); undated papers count."""
        rows = self._conn.execute(
            "SELECT id FROM papers WHERE ingested_at > ? AND ingested_at <= ? "
            "AND (published IS NULL OR published >= ?)",
            (after, until, date_to_int(published_from) or 0),
        )
        return {row[0] for row in rows}

    def ids_of_listing(self, first_day: date | None, until: float, or_ingested_after: float) -> set[str]:
        """Papers ingested by `until` that were published on or after `first_day` (the latest listing) or
        entered the catalog after `or_ingested_after`."""
        rows = self._conn.execute(
            "SELECT id FROM papers WHERE ingested_at <= ? AND (published >= ? OR ingested_at > ?)",
            (until, date_to_int(first_day) or 0, or_ingested_after),
        )
        return {row[0] for row in rows}

    def all_ids(self) -> list[str]:
        return [row[0] for row in self._conn.execute("SELECT id FROM papers ORDER BY rowid")]
