"""The chat history in PostgreSQL (ACADEMICHUB_DATABASE_URL): Chainlit's SQLAlchemy data layer tables, so
that app workers on several machines resume each other's conversations, and a one-off copy of a SQLite
history (the data directory's chat_history.sqlite3) into them.

The tables follow Chainlit's PostgreSQL schema for `SQLAlchemyDataLayer`: ids are UUIDs (Chainlit makes
every id with uuid4), metadata, generation and props are JSONB (the layer writes JSON text, asyncpg hands
back dicts), tags are TEXT[] (the layer binds Python lists), timestamps stay ISO text (the layer writes and
compares them as strings). Chainlit creates no tables itself.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from assistant.core.errors import UserFacingError
from assistant.store.postgres.database import Database, SchemaStep

_TABLES = """
CREATE TABLE IF NOT EXISTS users (
    "id" UUID PRIMARY KEY,
    "identifier" TEXT NOT NULL UNIQUE,
    "metadata" JSONB NOT NULL,
    "createdAt" TEXT
);
CREATE TABLE IF NOT EXISTS threads (
    "id" UUID PRIMARY KEY,
    "createdAt" TEXT,
    "name" TEXT,
    "userId" UUID,
    "userIdentifier" TEXT,
    "tags" TEXT[],
    "metadata" JSONB,
    FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS steps (
    "id" UUID PRIMARY KEY,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "threadId" UUID NOT NULL,
    "parentId" UUID,
    "streaming" BOOLEAN NOT NULL,
    "waitForAnswer" BOOLEAN,
    "isError" BOOLEAN,
    "metadata" JSONB,
    "tags" TEXT[],
    "input" TEXT,
    "output" TEXT,
    "createdAt" TEXT,
    "command" TEXT,
    "start" TEXT,
    "end" TEXT,
    "generation" JSONB,
    "showInput" TEXT,
    "language" TEXT,
    "indent" INT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS elements (
    "id" UUID PRIMARY KEY,
    "threadId" UUID,
    "type" TEXT,
    "url" TEXT,
    "chainlitKey" TEXT,
    "name" TEXT NOT NULL,
    "display" TEXT,
    "objectKey" TEXT,
    "size" TEXT,
    "page" INT,
    "language" TEXT,
    "forId" UUID,
    "mime" TEXT,
    "props" JSONB,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS feedbacks (
    "id" UUID PRIMARY KEY,
    "forId" UUID NOT NULL,
    "threadId" UUID NOT NULL,
    "value" INT NOT NULL,
    "comment" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
-- Columns newer Chainlit versions write (StepDict, ElementDict), added where the tables were made by hand
-- from an older copy of Chainlit's documented schema.
ALTER TABLE steps ADD COLUMN IF NOT EXISTS "defaultOpen" BOOLEAN;
ALTER TABLE steps ADD COLUMN IF NOT EXISTS "autoCollapse" BOOLEAN;
ALTER TABLE steps ADD COLUMN IF NOT EXISTS "modes" JSONB;
ALTER TABLE steps ADD COLUMN IF NOT EXISTS "icon" TEXT;
ALTER TABLE elements ADD COLUMN IF NOT EXISTS "autoPlay" BOOLEAN;
ALTER TABLE elements ADD COLUMN IF NOT EXISTS "playerConfig" JSONB;
-- The layer reads a user's threads, then their steps, elements and feedbacks by thread (and step).
CREATE INDEX IF NOT EXISTS threads_user_idx ON threads ("userId");
CREATE INDEX IF NOT EXISTS steps_thread_idx ON steps ("threadId");
CREATE INDEX IF NOT EXISTS elements_thread_idx ON elements ("threadId");
CREATE INDEX IF NOT EXISTS feedbacks_for_idx ON feedbacks ("forId");
"""

HISTORY_STEPS: tuple[SchemaStep, ...] = (SchemaStep("history-1-chainlit-tables", _TABLES),)

# Parents first (foreign keys); each child with the column naming its parent row.
HISTORY_TABLES = ("users", "threads", "steps", "elements", "feedbacks")
_PARENT: dict[str, tuple[str, str]] = {
    "threads": ("userId", "users"),
    "steps": ("threadId", "threads"),
    "elements": ("threadId", "threads"),
    "feedbacks": ("threadId", "threads"),
}
_BATCH = 500


class HistoryCopyError(UserFacingError, ValueError):
    """A SQLite chat history that cannot be copied as it is (missing, or holding rows PostgreSQL refuses)."""

    heading = "The chat history cannot be copied"


def copy_history_from_sqlite(path: Path, db: Database) -> dict[str, int]:
    """Copy a SQLite chat history into PostgreSQL unchanged (ids, identifiers, timestamps), in one
    transaction; the rows copied per table. Rows already there are kept (ON CONFLICT DO NOTHING), so running
    it again copies nothing. A user who already logged in on PostgreSQL keeps their id there and gets their
    SQLite threads; rows whose parent row is missing (SQLite does not enforce foreign keys) are left out."""
    if not path.is_file():
        raise HistoryCopyError(f"no chat history at {path}")
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    source.row_factory = sqlite3.Row
    try:
        with db.connection() as conn:
            return _copy_all(source, conn, path)
    finally:
        source.close()


def _copy_all(source: sqlite3.Connection, conn: psycopg.Connection[Any], path: Path) -> dict[str, int]:
    copied: dict[str, int] = {}
    user_ids: dict[str, str] = {}  # SQLite user id -> PostgreSQL's (the same, unless it logged in there)
    present = _sqlite_tables(source)
    for table in HISTORY_TABLES:
        copied[table] = _copy_table(source, conn, table, user_ids, path) if table in present else 0
    return copied


def _copy_table(
    source: sqlite3.Connection,
    conn: psycopg.Connection[Any],
    table: str,
    user_ids: dict[str, str],
    path: Path,
) -> int:
    """Copy one table's rows (those whose parent row is in PostgreSQL); how many were new there."""
    types = _column_types(conn, table)
    columns = [name for name in _sqlite_columns(source, table) if name in types]
    insert = _insert_sql(table, columns)
    parent = _PARENT.get(table)
    known = _ids(conn, parent[1]) if parent else set()
    copied = 0
    for batch in _batches(source, table, columns):
        rows = []
        for row in batch:
            if table == "threads" and row.get("userId") is not None:
                row["userId"] = user_ids.get(str(row["userId"]), row["userId"])
            if parent and row.get(parent[0]) is not None and _canonical(row[parent[0]]) not in known:
                continue
            rows.append([_pg_value(row[name], types[name], table, name, path) for name in columns])
        copied += _insert(conn, insert, rows)
        if table == "users":
            user_ids.update(_user_ids(conn, batch))
    return copied


def _canonical(value: Any) -> str:
    """An id as PostgreSQL prints a UUID (lower case, hyphens), to compare with ids read back from it."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def _sqlite_tables(source: sqlite3.Connection) -> set[str]:
    return {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _sqlite_columns(source: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in source.execute(f'PRAGMA table_info("{table}")')]


def _column_types(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    """The PostgreSQL columns of `table` and their types (information_schema's data_type)."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    ).fetchall()
    if not rows:
        raise HistoryCopyError(f"the database has no {table} table: run `academichub migrate` first")
    return {name: data_type for name, data_type in rows}


def _ids(conn: psycopg.Connection[Any], table: str) -> set[str]:
    return {row[0] for row in conn.execute(sql.SQL("SELECT id::text FROM {}").format(sql.Identifier(table)))}


def _user_ids(conn: psycopg.Connection[Any], users: list[dict[str, Any]]) -> dict[str, str]:
    """SQLite id -> PostgreSQL id of the same identifier (they differ for a user made on PostgreSQL first)."""
    by_identifier = {str(user["identifier"]): str(user["id"]) for user in users}
    found = conn.execute(
        "SELECT identifier, id::text FROM users WHERE identifier = ANY(%s)", (list(by_identifier),)
    ).fetchall()
    return {by_identifier[identifier]: pg_id for identifier, pg_id in found}


def _batches(source: sqlite3.Connection, table: str, columns: list[str]) -> Iterator[list[dict[str, Any]]]:
    listed = ", ".join(f'"{name}"' for name in columns)
    cursor = source.execute(f'SELECT {listed} FROM "{table}" ORDER BY rowid')
    while batch := cursor.fetchmany(_BATCH):
        yield [dict(row) for row in batch]


def _insert_sql(table: str, columns: list[str]) -> sql.Composed:
    return sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING").format(
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(name) for name in columns),
        sql.SQL(", ").join(sql.Placeholder() for _ in columns),
    )


def _insert(conn: psycopg.Connection[Any], insert: sql.Composed, rows: list[list[Any]]) -> int:
    """Rows actually inserted (not those already there)."""
    if not rows:
        return 0
    with conn.cursor() as cursor:
        cursor.executemany(insert, rows)
        return max(cursor.rowcount, 0)


def _pg_value(value: Any, data_type: str, table: str, column: str, path: Path) -> Any:
    """A SQLite value as its PostgreSQL column takes it: SQLite keeps booleans as 0/1, JSON and lists as
    text, UUIDs as text."""
    if value is None:
        return None
    if data_type == "uuid":
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise HistoryCopyError(
                f'{path}: {table}."{column}" holds {value!r}, not a UUID (Chainlit makes UUIDs); '
                "this history was not written by Chainlit's data layer"
            ) from None
    if data_type == "boolean":
        return value.strip().lower() in ("1", "true", "t", "yes") if isinstance(value, str) else bool(value)
    if data_type == "jsonb":
        return Jsonb(_json(value))
    if data_type == "ARRAY":
        return _text_list(value)
    if data_type == "integer":
        return int(value)
    return value if isinstance(value, str) else str(value)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value  # plain text kept as a JSON string
    return value


def _text_list(value: Any) -> list[str]:
    parsed = _json(value)
    if isinstance(parsed, list):
        return [str(item) for item in parsed]
    return [str(parsed)]
