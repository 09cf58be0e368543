"""PostgreSQL for several machines (ACADEMICHUB_DATABASE_URL): one connection pool per process and database,
the named, ordered schema steps of each store, and what went wrong in plain words.

A process keeps no state of its own: every store on PostgreSQL (the catalog, the radar state, the chat
history) reads and writes through `Database.connection()`. Schema steps are applied only by the commands
that are asked to (`academichub migrate`, and an ingest into an empty database); a reader that finds the
schema older than its code refuses to start and says to migrate, never migrating silently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from assistant.core.errors import UserFacingError
from assistant.core.settings import redacted_url

MIGRATIONS_TABLE = "schema_migrations"
# pg_advisory_xact_lock key held while schema steps run (two processes migrating at once: one waits).
MIGRATION_LOCK = 0x4143_4844_4D49  # "ACHDMI"
CONNECT_TIMEOUT_SECONDS = 5
POOL_WAIT_SECONDS = 5.0  # how long a request waits for a connection (the server down: then an error)
# How long the pool keeps retrying a failed connection in the background (psycopg_pool doubles the delay
# between tries, 1 s, 2 s, 4 s ...). Its default, 5 minutes, let the next try after an outage come a minute or
# more after the server was back, every request meanwhile timing out; given up this early, the next request
# starts a new try at once.
RECONNECT_SECONDS = 5.0


class DatabaseError(UserFacingError, RuntimeError):
    """PostgreSQL cannot be used: unreachable, refused, missing rights, or an older schema."""

    heading: ClassVar[str] = "The database cannot be used"


@dataclass(frozen=True)
class SchemaStep:
    """One named schema step of a store; a store's steps run in order, each once per database."""

    name: str
    sql: str


redacted = redacted_url  # the one way a database URL is shown


def explain(err: BaseException, url: str) -> DatabaseError:
    """A psycopg/pool failure as a DatabaseError saying what to do."""
    where = redacted(url)
    if isinstance(err, DatabaseError):
        return err
    if isinstance(err, pg_errors.InsufficientPrivilege):
        return DatabaseError(
            f"the database role in {where} lacks a right it needs ({_first_line(err)}). Grant it CONNECT, "
            "CREATE on the database and USAGE, CREATE on its schema (docs/deployment.md), or use the role "
            "that owns the database"
        )
    if isinstance(err, pg_errors.InvalidCatalogName | pg_errors.InvalidAuthorizationSpecification):
        return DatabaseError(
            f"PostgreSQL refused {where}: {_first_line(err)}. Check ACADEMICHUB_DATABASE_URL"
        )
    if isinstance(err, psycopg.OperationalError | PoolTimeout):
        return DatabaseError(
            f"cannot reach PostgreSQL at {where} ({_first_line(err) or 'no connection'}). Start the "
            "server or correct ACADEMICHUB_DATABASE_URL; requests work again as soon as it answers"
        )
    return DatabaseError(f"PostgreSQL at {where} failed: {_first_line(err)}")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else ""


class Database:
    """The connection pool of this process on one PostgreSQL database. A restarted server is picked up
    again without restarting the process: a transaction checks its connection first, and a read that finds
    its connection dropped is tried once more on a fresh one. Reads run outside transactions (autocommit):
    a search then costs one round trip per statement, not three (BEGIN, the query, COMMIT)."""

    def __init__(self, url: str, pool_size: int = 8) -> None:
        self.url = url
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            open=False,
            timeout=POOL_WAIT_SECONDS,
            reconnect_timeout=RECONNECT_SECONDS,
            kwargs={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "autocommit": True},
            name="academichub",
        )
        self._opened = False
        self._lock = threading.Lock()

    def _open(self) -> None:
        with self._lock:
            if not self._opened:
                self.pool.open(wait=False)
                self._opened = True

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection inside a transaction (committed on success, rolled back on error); psycopg
        errors leave as DatabaseError (except constraint and data errors, which are the caller's)."""
        self._open()
        try:
            with self._live_connection() as conn, conn.transaction():
                yield conn
        except _UNAVAILABLE as err:
            raise explain(err, self.url) from None

    @contextmanager
    def _live_connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection that answered a ping (a dropped one is discarded and replaced once)."""
        for attempt in (1, 2):
            with self.pool.connection() as conn:
                try:
                    ConnectionPool.check_connection(conn)
                except psycopg.OperationalError:
                    if attempt == 2:
                        raise
                    continue  # closed now: the pool discards it
                yield conn
                return

    def fetch(self, sql: Any, params: Sequence[Any] = (), *, row_factory: Any = None) -> list[Any]:
        """The rows of one read, outside a transaction. A connection the server dropped (it restarted)
        fails the first try; the read is then made once more on a fresh connection."""
        self._open()
        for attempt in (1, 2):
            try:
                with self.pool.connection() as conn, conn.cursor(row_factory=row_factory) as cur:
                    return cur.execute(sql, params).fetchall()
            except psycopg.OperationalError as err:
                if attempt == 2:
                    raise explain(err, self.url) from None
            except (PoolTimeout, pg_errors.InsufficientPrivilege) as err:
                raise explain(err, self.url) from None
        raise AssertionError("unreachable")

    def connect_direct(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A connection outside the pool (held for a process's life: the ingest's advisory lock)."""
        try:
            return psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_SECONDS, **kwargs)
        except psycopg.Error as err:
            raise explain(err, self.url) from None

    def close(self) -> None:
        with self._lock:
            if self._opened:
                self.pool.close()
                self._opened = False

    # --- schema -----------------------------------------------------------------------------------------

    def applied_steps(self) -> list[str]:
        """The steps this database has had. A connection of its own, not the pool's: at start-up an
        unreachable server is said at once, not after the pool's wait."""
        with self.connect_direct() as conn:
            try:
                return _applied(conn)
            except psycopg.Error as err:
                raise explain(err, self.url) from None

    def missing_steps(self, steps: Sequence[SchemaStep]) -> list[str]:
        done = set(self.applied_steps())
        return [step.name for step in steps if step.name not in done]

    def migrate(self, steps: Sequence[SchemaStep]) -> list[str]:
        """Apply the missing steps in order, in one transaction, one migrating process at a time; the names
        of those that ran."""
        with self.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
                "(name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
            )
            done = set(_applied(conn))
            ran = []
            for step in steps:
                if step.name in done:
                    continue
                conn.execute(step.sql)
                conn.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (%s, %s)",
                    (step.name, time.time()),
                )
                ran.append(step.name)
            return ran

    def require_schema(self, steps: Sequence[SchemaStep], store: str) -> None:
        """Refuse (clearly) to use a database whose schema lacks some of `steps`."""
        missing = self.missing_steps(steps)
        if not missing:
            return
        if len(missing) == len(steps):
            raise DatabaseError(
                f"the database {redacted(self.url)} holds no {store} yet. Run `academichub migrate` once to "
                "create it"
            )
        raise DatabaseError(
            f"the {store} in {redacted(self.url)} has an older schema than this version of AcademicHub "
            f"(missing: {', '.join(missing)}). Run `academichub migrate` to upgrade it"
        )


def _applied(conn: psycopg.Connection[Any]) -> list[str]:
    exists = conn.execute("SELECT to_regclass(%s)", (MIGRATIONS_TABLE,)).fetchone()
    if not exists or exists[0] is None:
        return []
    return [row[0] for row in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY applied_at, name")]


_UNAVAILABLE = (psycopg.OperationalError, PoolTimeout, pg_errors.InsufficientPrivilege)


class _Databases:
    """The process's pools, one per (URL, size): every store of a process shares it."""

    def __init__(self) -> None:
        self._pools: dict[tuple[str, int], Database] = {}
        self._lock = threading.Lock()

    def get(self, url: str, pool_size: int) -> Database:
        with self._lock:
            key = (url, pool_size)
            if key not in self._pools:
                self._pools[key] = Database(url, pool_size)
            return self._pools[key]

    def close_all(self) -> None:
        with self._lock:
            for database in self._pools.values():
                database.close()
            self._pools.clear()


DATABASES = _Databases()


def database(url: str, pool_size: int = 8) -> Database:
    """The shared pool of this process on `url`."""
    return DATABASES.get(url, pool_size)
