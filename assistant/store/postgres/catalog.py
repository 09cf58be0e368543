"""The catalog on PostgreSQL (ACADEMICHUB_DATABASE_URL): the same papers, categories, cursors and embedding
state as the SQLite catalog (`store/catalog.py`), shared by every process on every machine.

The lexical index is an inverted index in a B-tree: postings (stem, paper: hits per column, places),
holding the stems FTS5 would store (`store/postgres/lexemes.py`), and each stem's document frequency.
Lexical search ranks by FTS5's own BM25 (k1 1.2, b 0.75, column weights, the document's token count
against the average), so hybrid search ranks as on SQLite: a word is one index range of its postings, a
phrase joins its words' postings by paper and checks their places. (A `tsvector` column with a GIN index
was the first design: it finds papers fast, but BM25 needs each word's hits, and unnesting every matching
paper's vector cost 0.1 ms per paper, 100-240 ms per search on June.) The paper count and token total are
kept in one row; all of these are updated in each write's transaction.

Each write is one transaction: a reader sees a paper with its categories and words, or not at all.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from psycopg.rows import dict_row

from assistant.core.paper import Paper, archive_of
from assistant.store.catalog_store import CatalogStore, StoredState, TextRow, chunks
from assistant.store.faults import CatalogError
from assistant.store.filter import PaperFilter
from assistant.store.postgres.database import Database, SchemaStep
from assistant.store.postgres.lexemes import COLUMNS, Document, Match, Tokenizer
from assistant.store.schema import PAPER_COLUMNS, date_to_int, int_to_date, row_to_paper, stored_values
from assistant.store.terms import QueryTerms

K1, B = 1.2, 0.75  # FTS5's bm25() constants
PENDING = "(embedded_hash IS NULL OR embedded_hash <> content_hash)"

CATALOG_STEPS = (
    SchemaStep(
        "catalog-tables",
        """
        CREATE TABLE papers (
            id TEXT PRIMARY KEY,
            seq BIGSERIAL UNIQUE,            -- storage order (SQLite's rowid)
            source TEXT NOT NULL DEFAULT 'arxiv',
            version INTEGER,
            title TEXT NOT NULL,
            abstract TEXT NOT NULL,
            title_original TEXT NOT NULL,
            abstract_original TEXT NOT NULL,
            authors TEXT NOT NULL,           -- JSON list
            authors_folded TEXT NOT NULL,
            categories TEXT NOT NULL,        -- JSON list, primary first
            primary_category TEXT NOT NULL,
            published INTEGER,               -- YYYYMMDD
            updated INTEGER,
            comment TEXT,
            doi TEXT,
            journal_ref TEXT,
            published_doi TEXT,
            record_hash TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            embedded_hash TEXT,
            ingested_at DOUBLE PRECISION NOT NULL,
            changed_at DOUBLE PRECISION NOT NULL,
            stems TEXT[] NOT NULL,           -- its distinct stems (its postings' keys)
            token_count INTEGER NOT NULL     -- tokens in all four columns (BM25's document length)
        );
        CREATE INDEX papers_published ON papers(published);
        CREATE INDEX papers_ingested ON papers(ingested_at);
        CREATE INDEX papers_source ON papers(source);
        CREATE INDEX papers_pending ON papers(ingested_at, seq)
            WHERE embedded_hash IS NULL OR embedded_hash <> content_hash;
        CREATE INDEX papers_unembedded ON papers(ingested_at) WHERE embedded_hash IS NULL;
        CREATE TABLE paper_categories (
            id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            category TEXT NOT NULL,
            archive TEXT NOT NULL,
            PRIMARY KEY (id, category)
        );
        CREATE INDEX paper_categories_category ON paper_categories(category);
        CREATE INDEX paper_categories_archive ON paper_categories(archive);
        CREATE TABLE cursors (
            key TEXT PRIMARY KEY,
            position BIGINT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE lexical_totals (
            one INTEGER PRIMARY KEY CHECK (one = 1),
            papers BIGINT NOT NULL,
            tokens BIGINT NOT NULL
        );
        INSERT INTO lexical_totals VALUES (1, 0, 0);
        -- BM25's inputs per stem: its hits per column in each paper (postings, read in key order for one
        -- stem), and how many papers hold it (document frequency)
        CREATE TABLE postings (
            lexeme TEXT NOT NULL,
            seq BIGINT NOT NULL,
            title SMALLINT NOT NULL,
            abstract SMALLINT NOT NULL,
            authors SMALLINT NOT NULL,
            comment SMALLINT NOT NULL,
            token_count INTEGER NOT NULL,
            places INTEGER[] NOT NULL,       -- position * 4 + column, in order
            -- covering: a word's postings are read from the index alone
            PRIMARY KEY (lexeme, seq) INCLUDE (title, abstract, authors, comment, token_count, places)
        );
        CREATE TABLE lexicon (lexeme TEXT PRIMARY KEY, papers INTEGER NOT NULL);
        -- one ingest runs at a time (the ingest lock): its tally of this run's papers
        CREATE UNLOGGED TABLE ingest_run_tally (id TEXT PRIMARY KEY, status TEXT NOT NULL);
        """,
    ),
)


class PostgresCatalog(CatalogStore):
    """The catalog in a PostgreSQL database. Thread-safe: every call takes a pooled connection."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.tokenizer = Tokenizer()

    def require_writable(self) -> None:
        """Writing needs INSERT/UPDATE rights on the tables, checked now rather than mid-ingest."""
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT has_table_privilege('papers', 'INSERT') AND has_table_privilege('papers', 'UPDATE')"
            ).fetchone()
        if not row or not row[0]:
            raise CatalogError(
                "the database role may read the catalog but not write it; ingest with a role that may"
            )

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.fetch(sql, params)

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._rows(sql, params)
        return rows[0][0] if rows else None

    # --- writes (ingestion) -----------------------------------------------------------------------------

    def states(self, ids: Sequence[str]) -> dict[str, StoredState]:
        found: dict[str, StoredState] = {}
        for chunk in chunks(list(ids), 1000):
            for row in self._rows(
                "SELECT id, version, record_hash, content_hash, embedded_hash, published, updated "
                "FROM papers WHERE id = ANY(%s)",
                (chunk,),
            ):
                found[row[0]] = StoredState(*row[1:])
        return found

    def upsert(self, papers: Iterable[Paper]) -> None:
        batch = list(papers)
        if not batch:
            return
        now = time.time()
        documents = self._documents(batch)
        ids = [p.id for p in batch]
        with self.db.connection() as conn:
            old = _stored_words(conn, ids)
            with conn.cursor() as cur:
                cur.executemany(
                    f"""
                    INSERT INTO papers ({PAPER_COLUMNS}, stems, token_count)
                    VALUES ({", ".join(["%s"] * 19)}, NULL, %s, %s, %s, %s)
                    ON CONFLICT (id) DO UPDATE SET
                        source=excluded.source, version=excluded.version, title=excluded.title,
                        abstract=excluded.abstract, title_original=excluded.title_original,
                        abstract_original=excluded.abstract_original, authors=excluded.authors,
                        authors_folded=excluded.authors_folded, categories=excluded.categories,
                        primary_category=excluded.primary_category, published=excluded.published,
                        updated=excluded.updated, comment=excluded.comment, doi=excluded.doi,
                        journal_ref=excluded.journal_ref, published_doi=excluded.published_doi,
                        record_hash=excluded.record_hash, content_hash=excluded.content_hash,
                        changed_at=excluded.changed_at, stems=excluded.stems,
                        token_count=excluded.token_count
                    """,
                    [(*stored_values(p), now, now, *_words(documents[p.id])) for p in batch],
                )
                cur.execute("DELETE FROM paper_categories WHERE id = ANY(%s)", (ids,))
                cur.executemany(
                    "INSERT INTO paper_categories (id, category, archive) VALUES (%s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    [(p.id, c, archive_of(c)) for p in batch for c in p.categories],
                )
            _replace_words(conn, old, documents)

    def _documents(self, papers: Sequence[Paper]) -> dict[str, Document]:
        rows = [(p.id, p.title, p.abstract, " ".join(p.authors), p.comment or "") for p in papers]
        return {p.id: d for p, d in zip(papers, self.tokenizer.documents(rows), strict=True)}

    def pending_ids(self, limit: int | None = None) -> list[str]:
        sql = f"SELECT id FROM papers WHERE {PENDING} ORDER BY ingested_at, seq"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [row[0] for row in self._rows(sql)]

    def count_pending(self) -> int:
        return int(self._one(f"SELECT count(*) FROM papers WHERE {PENDING}"))

    def mark_embedded(self, hashes: dict[str, str]) -> None:
        with self.db.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "UPDATE papers SET embedded_hash = %s WHERE id = %s", [(h, pid) for pid, h in hashes.items()]
            )

    def reset_embedded(self, ids: Sequence[str]) -> None:
        with self.db.connection() as conn:
            conn.execute("UPDATE papers SET embedded_hash = NULL WHERE id = ANY(%s)", (list(ids),))

    def start_run_tally(self) -> None:
        with self.db.connection() as conn:
            conn.execute("TRUNCATE ingest_run_tally")

    def run_tally(self, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in chunks(list(ids), 1000):
            found.update(self._rows("SELECT id, status FROM ingest_run_tally WHERE id = ANY(%s)", (chunk,)))
        return found

    def set_run_tally(self, statuses: dict[str, str]) -> None:
        with self.db.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ingest_run_tally (id, status) VALUES (%s, %s) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status",
                list(statuses.items()),
            )

    def get_cursor(self, key: str) -> int:
        return int(self._one("SELECT position FROM cursors WHERE key = %s", (key,)) or 0)

    def set_cursor(self, key: str, position: int) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO cursors (key, position, updated_at) VALUES (%s, %s, %s) ON CONFLICT (key) "
                "DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
                (key, position, time.time()),
            )

    def clear_cursor(self, key: str) -> None:
        with self.db.connection() as conn:
            conn.execute("DELETE FROM cursors WHERE key = %s", (key,))

    # --- reads ------------------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._one("SELECT papers FROM lexical_totals") or 0)

    def author_counts(self, first: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (authors,) in self._rows("SELECT authors FROM papers ORDER BY seq LIMIT %s", (first,)):
            for name in json.loads(authors):
                counts[name] = counts.get(name, 0) + 1
        return counts

    def get_papers(self, ids: Sequence[str]) -> dict[str, Paper]:
        found: dict[str, Paper] = {}
        for chunk in chunks(list(ids), 1000):
            sql = f"SELECT {PAPER_COLUMNS} FROM papers WHERE id = ANY(%s)"
            for row in self.db.fetch(sql, (chunk,), row_factory=dict_row):
                found[row["id"]] = row_to_paper(row)
        return found

    def filter_ids(self, paper_filter: PaperFilter) -> list[str]:
        where, params = paper_filter.where_sql(postgres=True)
        return [row[0] for row in self._rows(f"SELECT p.id FROM papers p WHERE {where}", params)]

    def count_admitted(self, paper_filter: PaperFilter, up_to: int) -> int:
        where, params = paper_filter.where_sql(postgres=True)
        sql = f"SELECT count(*) FROM (SELECT 1 FROM papers p WHERE {where} LIMIT %s) AS admitted"
        return int(self._one(sql, [*params, up_to]))

    def filter_ids_and_vectors(self, paper_filter: PaperFilter) -> tuple[list[str], list[str]]:
        where, params = paper_filter.where_sql(postgres=True)
        rows = self._rows(f"SELECT p.id, p.embedded_hash IS NOT NULL FROM papers p WHERE {where}", params)
        return [row[0] for row in rows], [row[0] for row in rows if row[1]]

    def count_matching(self, match: str) -> int:
        return _count(self.db, self.tokenizer.parse(match))

    def query_terms(self, terms: list[str]) -> QueryTerms:
        """As the base class, in one round trip for single words (their stored frequencies)."""
        unique = tuple(dict.fromkeys(terms))
        parsed = [self.tokenizer.parse(term) for term in unique]
        papers, _, frequency = self._statistics(parsed)
        counts = tuple(frequency.get(m, 0) if m in frequency else _count(self.db, m) for m in parsed)
        return QueryTerms(unique, counts, papers)

    def _statistics(self, expressions: Sequence[Match]) -> tuple[int, int, dict[Match, int]]:
        """Papers, tokens, and the document frequency of each expression that is one word in every column
        (others are counted by `_count`), in one read."""
        words = {m: m.held_phrases[0].stems[0] for m in expressions if _one_word(m)}
        row = self.db.fetch(
            "SELECT t.papers, t.tokens, coalesce((SELECT array_agg(l.lexeme || ' ' || l.papers) "
            "FROM lexicon l WHERE l.lexeme = ANY(%s)), '{}') FROM lexical_totals t",
            (sorted(set(words.values())),),
        )[0]
        stored = dict(entry.rsplit(" ", 1) for entry in row[2])
        return int(row[0]), int(row[1]), {m: int(stored.get(stem, 0)) for m, stem in words.items()}

    def lexical_search(
        self,
        match: str,
        limit: int,
        paper_filter: PaperFilter | None = None,
        weights: tuple[float, float, float, float] = (3.0, 1.0, 1.0, 0.5),
    ) -> list[tuple[str, float]]:
        parsed = self.tokenizer.parse(match)
        if parsed.empty:
            return []
        where, params = "TRUE", list[object]()
        if paper_filter is not None and paper_filter.active:
            where, params = paper_filter.where_sql(postgres=True)
        single = [Match((phrase,), False, parsed.columns) for phrase in parsed.held_phrases]
        papers, tokens, frequency = self._statistics(single)
        idf = [_idf(papers, frequency[m] if m in frequency else _count(self.db, m)) for m in single]
        hits, args = _hits_sql(parsed, weights)
        sql = _bm25_sql(hits, parsed, idf, tokens / max(papers, 1), where)
        rows = self.db.fetch(sql, [*args, *params, limit])
        return [(row[0], float(row[1])) for row in rows]

    def text_rows(self, ids: Sequence[str]) -> list[TextRow]:
        found: list[TextRow] = []
        for chunk in chunks(list(ids), 1000):
            for pid, title, abstract, authors, comment in self._rows(
                "SELECT id, title, abstract, authors, comment FROM papers WHERE id = ANY(%s)", (chunk,)
            ):
                found.append((pid, title, abstract, " ".join(json.loads(authors)), comment or ""))
        return found

    def has_category(self, name: str) -> bool:
        return bool(
            self._one(
                "SELECT EXISTS (SELECT 1 FROM paper_categories WHERE category = %s) "
                "OR EXISTS (SELECT 1 FROM paper_categories WHERE archive = %s)",
                (name, name),
            )
        )

    def is_empty(self) -> bool:
        return not self._rows("SELECT 1 FROM papers LIMIT 1")

    def known_categories(self) -> dict[str, int]:
        rows = self._rows(
            "SELECT category, count(*) FROM paper_categories GROUP BY category "
            "ORDER BY count(*) DESC, category"
        )
        return {row[0]: int(row[1]) for row in rows}

    def known_archives(self) -> set[str]:
        return {row[0] for row in self._rows("SELECT DISTINCT archive FROM paper_categories")}

    def recent_titles(self, limit: int) -> list[str]:
        rows = self._rows(
            "SELECT title FROM papers ORDER BY published DESC NULLS LAST, id LIMIT %s", (limit,)
        )
        return [str(row[0]) for row in rows]

    def archive_paper_counts(self) -> dict[str, int]:
        rows = self._rows(
            "SELECT archive, count(DISTINCT id) FROM paper_categories GROUP BY archive ORDER BY 2 DESC, 1"
        )
        return {row[0]: int(row[1]) for row in rows}

    def date_range(self) -> tuple[date | None, date | None]:
        row = self._rows("SELECT min(published), max(published) FROM papers")[0]
        return int_to_date(row[0]), int_to_date(row[1])

    def source_counts(self) -> dict[str, int]:
        rows = self._rows(
            "SELECT source, count(*) FROM papers GROUP BY source ORDER BY count(*) DESC, source"
        )
        return {row[0]: int(row[1]) for row in rows}

    def primary_category_counts(self) -> dict[str, int]:
        rows = self._rows(
            "SELECT primary_category, count(*) FROM papers GROUP BY primary_category "
            "ORDER BY count(*) DESC, primary_category"
        )
        return {row[0]: int(row[1]) for row in rows}

    def newest_ingested(self) -> float:
        return float(self._one("SELECT max(ingested_at) FROM papers") or 0.0)

    def searchable_until(self) -> float:
        waiting = self._one("SELECT min(ingested_at) FROM papers WHERE embedded_hash IS NULL")
        if waiting is None:
            return self.newest_ingested()
        return float(
            self._one("SELECT max(ingested_at) FROM papers WHERE ingested_at < %s", (waiting,)) or 0.0
        )

    def newest_day_ingested_by(self, when: float) -> date | None:
        return int_to_date(self._one("SELECT max(published) FROM papers WHERE ingested_at <= %s", (when,)))

    def ids_ingested_since(self, when: float) -> set[str]:
        return {row[0] for row in self._rows("SELECT id FROM papers WHERE ingested_at >= %s", (when,))}

    def ids_ingested_between(self, after: float, until: float, published_from: date | None) -> set[str]:
        rows = self._rows(
            "SELECT id FROM papers WHERE ingested_at > %s AND ingested_at <= %s "
            "AND (published IS NULL OR published >= %s)",
            (after, until, date_to_int(published_from) or 0),
        )
        return {row[0] for row in rows}

    def ids_of_listing(self, first_day: date | None, until: float, or_ingested_after: float) -> set[str]:
        rows = self._rows(
            "SELECT id FROM papers WHERE ingested_at <= %s AND (published >= %s OR ingested_at > %s)",
            (until, date_to_int(first_day) or 0, or_ingested_after),
        )
        return {row[0] for row in rows}

    def all_ids(self) -> list[str]:
        return [row[0] for row in self._rows("SELECT id FROM papers ORDER BY seq")]

    # --- copying a SQLite catalog in (`academichub migrate --to`) ---------------------------------------

    def copy_rows(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store catalog rows as they are (ingest times, hashes, embedding state kept), papers new to this
        database only; returns how many were new. Safe to repeat."""
        if not rows:
            return 0
        names = PAPER_COLUMNS.split(", ")
        with self.db.connection() as conn:
            have = {
                row[0]
                for row in conn.execute(
                    "SELECT id FROM papers WHERE id = ANY(%s)", ([row["id"] for row in rows],)
                ).fetchall()
            }
            fresh = [row for row in rows if row["id"] not in have]
            papers = [row_to_paper(row) for row in fresh]
            documents = self._documents(papers)
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO papers ({PAPER_COLUMNS}, stems, token_count) "
                    f"VALUES ({', '.join(['%s'] * len(names))}, %s, %s)",
                    [(*(row[n] for n in names), *_words(documents[row["id"]])) for row in fresh],
                )
                cur.executemany(
                    "INSERT INTO paper_categories (id, category, archive) VALUES (%s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    [(p.id, c, archive_of(c)) for p in papers for c in p.categories],
                )
            _replace_words(conn, {}, documents)
        return len(fresh)


def copy_catalog_from_sqlite(path: Path, db: Database, batch: int = 1000) -> dict[str, int]:
    """Copy a SQLite catalog's papers (ingest times, hashes and embedding state unchanged: its vectors stay
    where they are) and ingest cursors into PostgreSQL; what was new per table. Safe to re-run: papers and
    cursors already there are left as they are."""
    catalog = PostgresCatalog(db)
    copied = {"papers": 0, "cursors": 0}
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as source:
        source.row_factory = sqlite3.Row
        rows = source.execute(f"SELECT {PAPER_COLUMNS} FROM papers ORDER BY rowid")
        while chunk := rows.fetchmany(batch):
            copied["papers"] += catalog.copy_rows([dict(row) for row in chunk])
        cursors = source.execute("SELECT key, position, updated_at FROM cursors").fetchall()
    with db.connection() as conn:
        for key, position, updated_at in cursors:
            done = conn.execute(
                "INSERT INTO cursors (key, position, updated_at) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (key, position, updated_at),
            )
            copied["cursors"] += done.rowcount
    return copied


@dataclass(frozen=True)
class _StoredWords:
    seq: int
    token_count: int
    stems: list[str]


def _stored_words(conn: Any, ids: list[str]) -> dict[str, _StoredWords]:
    rows = conn.execute(
        "SELECT id, seq, token_count, stems FROM papers WHERE id = ANY(%s)", (ids,)
    ).fetchall()
    return {row[0]: _StoredWords(int(row[1]), int(row[2]), list(row[3])) for row in rows}


def _replace_words(conn: Any, old: dict[str, _StoredWords], documents: dict[str, Document]) -> None:
    """The papers' postings, document frequencies and the totals, from their words before (`old`) and
    now (`documents`), inside the write's transaction."""
    pairs = [(lexeme, words.seq) for words in old.values() for lexeme in words.stems]
    if pairs:
        conn.execute(
            "DELETE FROM postings p USING unnest(%s::text[], %s::bigint[]) AS o(lexeme, seq) "
            "WHERE p.lexeme = o.lexeme AND p.seq = o.seq",
            ([lexeme for lexeme, _ in pairs], [seq for _, seq in pairs]),
        )
    seqs = dict(conn.execute("SELECT id, seq FROM papers WHERE id = ANY(%s)", (list(documents),)).fetchall())
    frequency: Counter[str] = Counter()
    for words in old.values():
        frequency.subtract(words.stems)
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY postings (lexeme, seq, title, abstract, authors, comment, token_count, places) FROM STDIN"
        ) as copy,
    ):
        for pid, document in documents.items():
            frequency.update(list(document.postings))
            for stem, posting in document.postings.items():
                copy.write_row((stem, seqs[pid], *posting.hits, document.token_count, posting.places))
    changed = {lexeme: n for lexeme, n in frequency.items() if n}
    if changed:
        conn.execute(
            "INSERT INTO lexicon (lexeme, papers) SELECT * FROM unnest(%s::text[], %s::int[]) "
            "ON CONFLICT (lexeme) DO UPDATE SET papers = lexicon.papers + excluded.papers",
            (list(changed), list(changed.values())),
        )
    added = len(set(documents) - set(old))
    tokens = sum(d.token_count for d in documents.values()) - sum(w.token_count for w in old.values())
    conn.execute("UPDATE lexical_totals SET papers = papers + %s, tokens = tokens + %s", (added, tokens))


def _words(document: Document) -> tuple[list[str], int]:
    """A paper's stems and token count as stored in its row."""
    return list(document.postings), document.token_count


def _idf(papers: int, holding: int) -> float:
    """FTS5's IDF: log((N - n + 0.5) / (n + 0.5)), floored at 1e-6 (a word most papers hold)."""
    value = math.log((papers - holding + 0.5) / (holding + 0.5)) if papers else 0.0
    return value if value > 0 else 1e-6


def _one_word(parsed: Match) -> bool:
    """An expression whose document frequency is stored: one word, looked for in every column."""
    phrases = parsed.held_phrases
    return len(phrases) == 1 and len(phrases[0].stems) == 1 and parsed.every_column


def _count(db: Database, parsed: Match) -> int:
    """Papers an expression holds (a word in every column: its stored document frequency)."""
    if parsed.empty:
        return 0
    phrases = parsed.held_phrases
    if _one_word(parsed):
        rows = db.fetch("SELECT papers FROM lexicon WHERE lexeme = %s", (phrases[0].stems[0],))
        return int(rows[0][0]) if rows else 0
    hits, args = _hits_sql(parsed, (1.0, 1.0, 1.0, 1.0))
    needed = len(phrases) if parsed.conjunctive else 1
    sql = f"""
        WITH hits AS ({hits})
        SELECT count(*) FROM (
            SELECT seq FROM hits WHERE tf > 0 GROUP BY seq HAVING count(DISTINCT phrase) >= {needed}
        ) AS held
    """
    return int(db.fetch(sql, args)[0][0])


def _hits_sql(parsed: Match, weights: tuple[float, float, float, float]) -> tuple[str, list[Any]]:
    """One row per paper and phrase holding it: (seq, token_count, phrase, tf), tf being the phrase's
    weighted hits in the looked-in columns (FTS5 counts a phrase where its words stand in a row). A word is
    read from its postings; a phrase joins its words' postings by paper and counts the places of its first
    word followed by the others."""
    looked = parsed.column_numbers
    parts, args = [], []
    for number, phrase in enumerate(parsed.held_phrases):
        if len(phrase.stems) == 1:
            tf = " + ".join(f"{weights[c]!r}::float8 * po.{COLUMNS[c]}" for c in looked)
            parts.append(
                f"SELECT po.seq, po.token_count, {number} AS phrase, ({tf}) AS tf "
                "FROM postings po WHERE po.lexeme = %s"
            )
            args.append(phrase.stems[0])
            continue
        weight = " ".join(f"WHEN {c} THEN {weights[c]!r}::float8" for c in looked)
        rest = range(1, len(phrase.stems))
        follows = " ".join(f"AND (x + {4 * k}) = ANY(w{k}.places)" for k in rest)
        joins = " ".join(f"JOIN postings w{k} ON w{k}.lexeme = %s AND w{k}.seq = w0.seq" for k in rest)
        parts.append(
            f"SELECT w0.seq, w0.token_count, {number} AS phrase, "
            f"(SELECT coalesce(sum(CASE x %% 4 {weight} ELSE 0 END), 0) FROM unnest(w0.places) AS x "
            f"WHERE TRUE {follows}) AS tf "
            f"FROM postings w0 {joins} WHERE w0.lexeme = %s"
        )
        args += [*phrase.stems[1:], phrase.stems[0]]
    return " UNION ALL ".join(parts), args


def _bm25_sql(hits: str, parsed: Match, idf: list[float], average: float, where: str) -> str:
    """FTS5's bm25() over the hits: per phrase, IDF * tf (k1 + 1) / (tf + k1 (1 - b + b len / avglen)),
    summed per paper; a conjunction keeps the papers holding every phrase; the filter's papers only. The
    best `limit` by score first, their ids after (a join per scored paper would cost more than scoring).
    Parameters: the hits', the filter's, then the limit."""
    idf_of = " ".join(f"WHEN {number} THEN {value!r}::float8" for number, value in enumerate(idf))
    length = f"(1 - {B!r}::float8 + {B!r}::float8 * h.token_count / {max(average, 1e-9)!r}::float8)"
    having = f"HAVING count(DISTINCT h.phrase) = {len(idf)}" if parsed.conjunctive else ""
    join = "JOIN papers p ON p.seq = h.seq" if where != "TRUE" else ""
    return f"""
        WITH hits AS ({hits}),
        scored AS MATERIALIZED (
            SELECT h.seq,
                   sum((CASE h.phrase {idf_of} END) * (h.tf * {K1 + 1!r}::float8)
                       / (h.tf + {K1!r}::float8 * {length})) AS score
            FROM hits h {join}
            WHERE h.tf > 0 AND {where}
            GROUP BY h.seq {having}
            ORDER BY score DESC, h.seq
            LIMIT %s
        )
        SELECT p.id, s.score FROM scored s JOIN papers p ON p.seq = s.seq
        ORDER BY s.score DESC, s.seq
    """
