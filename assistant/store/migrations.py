"""Named, ordered schema migrations for the app's SQLite files (the catalog, the radar state).

Each file records the migrations it has had in `schema_migrations (name, applied_at)`; opening it applies
the missing ones, in order, in one immediate transaction (a second process opening the same file waits,
then finds them recorded). A file made before migrations were recorded has no such table: each step is
then recognised by its shape (`Migration.present`: its tables, columns, indexes are there) and recorded
without running, and only the missing steps run, so an installed index is upgraded in place.

Every step's `apply` is also safe on a file that already has its result (IF NOT EXISTS, columns added
only when missing): a half-recognised shape can never fail the upgrade.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

TABLE = "schema_migrations"
_CREATED = re.compile(r"CREATE (?:VIRTUAL )?(?:TABLE|INDEX) IF NOT EXISTS (\w+)")


@dataclass(frozen=True)
class Migration:
    """One schema step: `apply` makes it, `present` tells whether a file already has its shape."""

    name: str
    apply: Callable[[sqlite3.Connection], None]
    present: Callable[[sqlite3.Connection], bool]


def script_step(name: str, script: str) -> Migration:
    """A step that runs a script of `CREATE ... IF NOT EXISTS` statements; a file has it when everything
    the script creates is there."""
    made = set(_CREATED.findall(script))
    return Migration(
        name,
        lambda conn: run_script(conn, script),
        lambda conn: made <= tables(conn) | indexes(conn),
    )


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Bring a file to the newest schema; returns the names of the steps that ran now (not those only
    recognised). Works on connections in either transaction mode (statements are run one by one: a
    script would commit the transaction half way)."""
    if conn.in_transaction:
        conn.commit()
    conn.execute("BEGIN IMMEDIATE")
    try:
        recorded = _recorded(conn)
        recognised: set[str] = set()
        if recorded is None:  # a file from before migrations were recorded, or a new one
            recognised = {step.name for step in migrations if step.present(conn)}  # what it had then
            conn.execute(f"CREATE TABLE {TABLE} (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
            recorded = set()
        ran = []
        for step in migrations:  # in order, each recorded as it is had
            if step.name in recorded:
                continue
            if step.name not in recognised:
                step.apply(conn)
                ran.append(step.name)
            _record(conn, step.name)
    except BaseException:
        if conn.in_transaction:  # SQLite ends it itself on some errors (disk full, I/O)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return ran


def applied(conn: sqlite3.Connection) -> list[str]:
    """The recorded migrations, oldest first."""
    return [row[0] for row in conn.execute(f"SELECT name FROM {TABLE} ORDER BY applied_at, rowid")]


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Each statement of a schema script, inside the caller's transaction (`executescript` would commit)."""
    for statement in _statements(script):
        conn.execute(statement)


def tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def indexes(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _recorded(conn: sqlite3.Connection) -> set[str] | None:
    if TABLE not in tables(conn):
        return None
    return {row[0] for row in conn.execute(f"SELECT name FROM {TABLE}")}


def _record(conn: sqlite3.Connection, name: str) -> None:
    conn.execute(f"INSERT INTO {TABLE} (name, applied_at) VALUES (?, ?)", (name, time.time()))


def _statements(script: str) -> Iterator[str]:
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            if statement.strip():
                yield statement.strip()
            statement = ""
    if statement.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in statement.splitlines()
    ):
        raise ValueError(f"an unfinished statement in a schema script: {statement.strip()[:80]!r}")
