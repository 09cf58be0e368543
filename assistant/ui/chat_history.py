"""Chat history for the app: Chainlit's SQLAlchemy data layer over a SQLite file in the data directory, or
over PostgreSQL when ACADEMICHUB_DATABASE_URL is set (app workers on several machines share it).

Chainlit does not create its tables; `ensure_tables` does for SQLite, with the schema of Chainlit's
SQLAlchemy data layer documentation (types adapted to SQLite: UUID/JSONB/TEXT[] stored as TEXT). On
PostgreSQL the tables are schema steps (`HISTORY_STEPS`, applied by `academichub migrate`); the app only
checks they are there.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from assistant.core.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    "id" TEXT PRIMARY KEY,
    "identifier" TEXT NOT NULL UNIQUE,
    "metadata" TEXT NOT NULL,
    "createdAt" TEXT
);
CREATE TABLE IF NOT EXISTS threads (
    "id" TEXT PRIMARY KEY,
    "createdAt" TEXT,
    "name" TEXT,
    "userId" TEXT,
    "userIdentifier" TEXT,
    "tags" TEXT,
    "metadata" TEXT,
    FOREIGN KEY ("userId") REFERENCES users("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS steps (
    "id" TEXT PRIMARY KEY,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "threadId" TEXT NOT NULL,
    "parentId" TEXT,
    "streaming" BOOLEAN NOT NULL,
    "waitForAnswer" BOOLEAN,
    "isError" BOOLEAN,
    "metadata" TEXT,
    "tags" TEXT,
    "input" TEXT,
    "output" TEXT,
    "createdAt" TEXT,
    "command" TEXT,
    "modes" TEXT,
    "start" TEXT,
    "end" TEXT,
    "generation" TEXT,
    "showInput" TEXT,
    "language" TEXT,
    "indent" INT,
    "defaultOpen" BOOLEAN,
    "autoCollapse" BOOLEAN,
    "icon" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS elements (
    "id" TEXT PRIMARY KEY,
    "threadId" TEXT,
    "type" TEXT,
    "url" TEXT,
    "chainlitKey" TEXT,
    "name" TEXT NOT NULL,
    "display" TEXT,
    "objectKey" TEXT,
    "size" TEXT,
    "page" INT,
    "language" TEXT,
    "forId" TEXT,
    "mime" TEXT,
    "props" TEXT,
    "autoPlay" BOOLEAN,
    "playerConfig" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS feedbacks (
    "id" TEXT PRIMARY KEY,
    "forId" TEXT NOT NULL,
    "threadId" TEXT NOT NULL,
    "value" INT NOT NULL,
    "comment" TEXT,
    FOREIGN KEY ("threadId") REFERENCES threads("id") ON DELETE CASCADE
);
"""


def history_path(settings: Settings) -> Path:
    return settings.storage.home / "chat_history.sqlite3"


def ensure_tables(path: Path) -> Path:
    """Create the data layer's tables if missing (idempotent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    return path


def conninfo(path: Path) -> str:
    """SQLAlchemy async URL for the history file (a dedicated URL: never DATABASE_URL, which Chainlit
    would pick up for its own Postgres data layer)."""
    return f"sqlite+aiosqlite:///{path.resolve()}"


# libpq URL parameters asyncpg takes under another name; connect_timeout is left out (asyncpg's `timeout`
# wants a number, and a URL query gives text): asyncpg's own connect timeout applies.
_ASYNCPG_PARAMS = {"sslmode": "ssl"}
_LIBPQ_ONLY = {"connect_timeout"}


def asyncpg_url(url: str) -> str:
    """A postgresql:// (or postgres://) URL as SQLAlchemy's asyncpg URL: same user, password, host and
    database; libpq's `sslmode` becomes asyncpg's `ssl`."""
    parts = urlsplit(url)
    query = [
        (_ASYNCPG_PARAMS.get(key, key), value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key not in _LIBPQ_ONLY
    ]
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", query=urlencode(query)))


def history_conninfo(settings: Settings) -> str:
    """The data layer's SQLAlchemy URL: PostgreSQL when ACADEMICHUB_DATABASE_URL is set, else the SQLite file
    in the data directory."""
    if settings.storage.database_url:
        return asyncpg_url(settings.storage.database_url)
    return conninfo(history_path(settings))


def prepare_history(settings: Settings) -> str:
    """Make the history usable before the app serves anyone; its `history_conninfo`. SQLite: create the
    tables. PostgreSQL: refuse clearly (DatabaseError) when its tables were never created or are older,
    rather than losing every conversation to the data layer's logged-and-ignored SQL errors."""
    url = settings.storage.database_url
    if not url:
        ensure_tables(history_path(settings))
    else:
        from assistant.store.postgres.database import database
        from assistant.store.postgres.history import HISTORY_STEPS

        database(url, settings.storage.database_pool_size).require_schema(HISTORY_STEPS, "chat history")
    return history_conninfo(settings)
