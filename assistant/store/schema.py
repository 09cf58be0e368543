"""The catalog's SQLite schema, its named migrations (`CATALOG_MIGRATIONS`, run by `store/migrations.py`),
and how a paper is stored in a row (dates as YYYYMMDD integers, the record hash that tells an unchanged
re-read from an update)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import date
from typing import Any

from assistant.core.paper import Paper
from assistant.core.text import fold, strip_control_chars
from assistant.store.migrations import Migration, columns, script_step

# The lexical index's columns and tokenizer (also used for scratch tables that must tokenise the same way).
FTS_COLUMNS = (
    "id UNINDEXED, title, abstract, authors, comment, tokenize = 'porter unicode61 remove_diacritics 2'"
)

SCHEMA_TEMPLATE = """
CREATE TABLE IF NOT EXISTS papers (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL DEFAULT 'arxiv',  -- arxiv | biorxiv | medrxiv
    version INTEGER,
    title TEXT NOT NULL,
    abstract TEXT NOT NULL,
    title_original TEXT NOT NULL,
    abstract_original TEXT NOT NULL,
    authors TEXT NOT NULL,            -- JSON list
    authors_folded TEXT NOT NULL,     -- lower-case, accents stripped, one name per line (author filter)
    categories TEXT NOT NULL,         -- JSON list, primary first
    primary_category TEXT NOT NULL,
    published INTEGER,                -- YYYYMMDD
    updated INTEGER,                  -- YYYYMMDD
    comment TEXT,
    doi TEXT,
    journal_ref TEXT,
    published_doi TEXT,               -- the journal version's DOI, when the source reports one
    record_hash TEXT NOT NULL,        -- everything we store: detects metadata-only changes
    content_hash TEXT NOT NULL,       -- the embedded text
    embedded_hash TEXT,               -- what the vector store holds; NULL or different = pending
    ingested_at REAL NOT NULL,        -- first time this paper entered the catalog (unix seconds)
    changed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS papers_published ON papers(published);
CREATE INDEX IF NOT EXISTS papers_ingested ON papers(ingested_at);
-- The author filter's substring test reads this narrow index, not every row (74k papers: 77 -> 10 ms).
CREATE INDEX IF NOT EXISTS papers_authors ON papers(authors_folded, id);
-- Only the papers waiting for vectors: finding and counting them reads this small index, not the table
-- (a 500k-paper catalog after `ingest --no-embed` would otherwise be scanned once per embedded batch).
CREATE INDEX IF NOT EXISTS papers_pending ON papers(ingested_at)
    WHERE embedded_hash IS NULL OR embedded_hash != content_hash;
CREATE TABLE IF NOT EXISTS paper_categories (
    id TEXT NOT NULL,
    category TEXT NOT NULL,
    archive TEXT NOT NULL,
    PRIMARY KEY (id, category)
);
CREATE INDEX IF NOT EXISTS paper_categories_category ON paper_categories(category);
CREATE INDEX IF NOT EXISTS paper_categories_archive ON paper_categories(archive);
CREATE VIRTUAL TABLE IF NOT EXISTS papers_fts USING fts5({fts_columns});
CREATE TABLE IF NOT EXISTS cursors (
    key TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
"""
# A paper waits for its vector when none was stored or the embedded text changed since (as `papers_pending`).
PENDING = "(embedded_hash IS NULL OR embedded_hash != content_hash)"
SCHEMA = SCHEMA_TEMPLATE.replace("{fts_columns}", FTS_COLUMNS)

# Columns added after the first release, with their definitions: an older catalog gets them in place when
# opened (every existing row was an arXiv paper, hence the default), so an upgraded install keeps its index
# (`CATALOG_MIGRATIONS`).
ADDED_COLUMNS = {
    "source": "TEXT NOT NULL DEFAULT 'arxiv'",
    "published_doi": "TEXT",
}
# Indexes on added columns are made after the migration (an old table has no such column before it).
LATE_INDEXES = """
CREATE INDEX IF NOT EXISTS papers_source ON papers(source);
CREATE INDEX IF NOT EXISTS papers_unembedded ON papers(ingested_at) WHERE embedded_hash IS NULL;
"""


# `PRAGMA user_version` of a catalog whose FTS rows share their paper's rowid (so an update deletes the old
# row by rowid; `id` is UNINDEXED in FTS5, and deleting by it read the whole table once per paper: quadratic).
FTS_KEYED_BY_ROWID = 1

# The FTS row of a paper, from its catalog row (authors: the JSON list joined by spaces, as `upsert` writes).
FTS_ROWS_FROM_PAPERS = """
INSERT INTO papers_fts (rowid, id, title, abstract, authors, comment)
SELECT p.rowid, p.id, p.title, p.abstract,
       coalesce((SELECT group_concat(a.value, ' ') FROM json_each(p.authors) a), ''), coalesce(p.comment, '')
FROM papers p
"""


def _add_source_columns(conn: sqlite3.Connection) -> None:
    present = columns(conn, "papers")
    for name, definition in ADDED_COLUMNS.items():
        if name not in present:
            conn.execute(f"ALTER TABLE papers ADD COLUMN {name} {definition}")


def _key_fts_rows_by_rowid(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM papers_fts")
    conn.execute(FTS_ROWS_FROM_PAPERS)
    conn.execute(f"PRAGMA user_version = {FTS_KEYED_BY_ROWID}")


# The catalog's schema steps, oldest first; a new one goes at the end under a new name, never edited.
CATALOG_MIGRATIONS = (
    script_step("catalog-tables", SCHEMA),  # papers, categories, the lexical index, ingest cursors
    Migration(
        "papers-source-and-published-doi",  # bioRxiv/medRxiv papers beside arXiv ones (all old rows: arXiv)
        _add_source_columns,
        lambda conn: set(ADDED_COLUMNS) <= columns(conn, "papers"),
    ),
    script_step("papers-by-source-and-unembedded", LATE_INDEXES),
    Migration(
        "fts-rows-keyed-by-rowid",  # rebuilt once from the papers: an update then deletes by rowid
        _key_fts_rows_by_rowid,
        lambda conn: int(conn.execute("PRAGMA user_version").fetchone()[0]) >= FTS_KEYED_BY_ROWID,
    ),
)


# A paper's stored columns, in the order `stored_values` gives them (then the embedding state and times).
STORED_COLUMNS = (
    "id, source, version, title, abstract, title_original, abstract_original, authors, authors_folded, "
    "categories, primary_category, published, updated, comment, doi, journal_ref, published_doi, "
    "record_hash, content_hash"
)
PAPER_COLUMNS = f"{STORED_COLUMNS}, embedded_hash, ingested_at, changed_at"  # every column of a paper row


def stored_values(paper: Paper) -> tuple[Any, ...]:
    """A paper as its row stores it, column by column as `STORED_COLUMNS` (both catalog backends)."""
    return (
        paper.id,
        paper.source,
        paper.version,
        paper.title,
        paper.abstract,
        paper.title_original,
        paper.abstract_original,
        json.dumps(paper.authors, ensure_ascii=False),
        "\n".join(fold(a) for a in paper.authors),
        json.dumps(paper.categories),
        paper.primary_category,
        date_to_int(paper.published),
        date_to_int(paper.updated),
        paper.comment,
        paper.doi,
        paper.journal_ref,
        paper.published_doi,
        record_hash(paper),
        paper.content_hash,
    )


def date_to_int(day: date | None) -> int | None:
    return day.year * 10000 + day.month * 100 + day.day if day else None


def int_to_date(value: int | None) -> date | None:
    if not value:
        return None
    return date(value // 10000, value // 100 % 100, value % 100)


def record_hash(paper: Paper) -> str:
    import hashlib

    payload = paper.model_dump(mode="json", exclude={"abs_url", "pdf_url", "html_url"})
    # Fields added with other sources leave an arXiv record's hash as it was: no spurious "updated" papers
    # when an upgraded install re-reads what it already holds.
    if payload.get("source") == "arxiv":
        del payload["source"]
    if payload.get("published_doi") is None:
        del payload["published_doi"]
    return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def row_to_paper(row: Mapping[str, Any]) -> Paper:
    # Ingest keeps control characters out; an index built before that still holds them, and a terminal
    # escape sequence in a title must not reach the screen.
    return Paper(
        id=row["id"],
        source=row["source"],
        version=row["version"],
        title=strip_control_chars(row["title"]),
        abstract=strip_control_chars(row["abstract"]),
        title_original=row["title_original"],
        abstract_original=row["abstract_original"],
        authors=[strip_control_chars(a) for a in json.loads(row["authors"])],
        categories=json.loads(row["categories"]),
        published=int_to_date(row["published"]),
        updated=int_to_date(row["updated"]),
        comment=row["comment"],
        doi=row["doi"],
        journal_ref=row["journal_ref"],
        published_doi=row["published_doi"],
    )
