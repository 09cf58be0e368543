"""The ingest lock across machines (ACADEMICHUB_DATABASE_URL): a PostgreSQL session advisory lock, the
counterpart of the data directory's file lock when ingests on several machines write one database.

The lock lives as long as its own connection (outside the pool, autocommit): released by `__exit__`, and by
the server when the holder's connection drops, so a holder killed with -9 frees it at once. Server-side TCP
keepalives on that connection free it too, within minutes, when the holder's machine vanishes. The holder
names itself in `application_name`, which a refused ingest reads back from pg_stat_activity.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any

import psycopg

from assistant.store.postgres.database import Database, explain, redacted

# pg_try_advisory_lock key of the ingest (one per database: the database is the index).
INGEST_LOCK = 0x4143_4844_494E  # "ACHDIN"
HOLDER_PREFIX = "academichub ingest"
# Server-side keepalives (seconds) for the holder's connection: a vanished machine's lock is freed after
# about IDLE + INTERVAL * COUNT.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 60, 10, 6


def holder_name() -> str:
    """This process as other ingests will see it (application_name keeps 63 bytes)."""
    return f"{HOLDER_PREFIX} pid {os.getpid()} on {socket.gethostname()}"[:63]


class PostgresIngestLock:
    """The ingest lock of one PostgreSQL database; the same interface as `ingest.pipeline.IngestLock`:
    `__enter__` takes it or raises `IngestBusy` at once, `__exit__` releases it."""

    def __init__(self, db: Database, key: int = INGEST_LOCK) -> None:
        self.db = db
        self.key = key
        self._conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> PostgresIngestLock:
        conn = self.db.connect_direct(autocommit=True, application_name=holder_name())
        try:
            _keep_alive(conn)
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            if not (row and row[0]):
                raise self._busy(conn)
        except BaseException as err:
            conn.close()
            if isinstance(err, psycopg.Error):
                raise explain(err, self.db.url) from None
            raise
        self._conn = conn
        return self

    def __exit__(self, *exc: object) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        # An error here means the connection is gone, and the lock went with it.
        with contextlib.closing(conn), contextlib.suppress(psycopg.Error):
            conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))

    def holder(self, conn: psycopg.Connection[Any]) -> str | None:
        """The application_name of the session holding the lock (None: not visible, or just released)."""
        try:
            row = conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND l.classid::bigint = %s AND l.objid::bigint = %s",  # a bigint key: its two halves
                (self.key >> 32 & 0xFFFF_FFFF, self.key & 0xFFFF_FFFF),
            ).fetchone()
        except psycopg.Error:
            return None
        return row[0] if row and row[0] else None

    def _busy(self, conn: psycopg.Connection[Any]) -> Exception:
        from ingest.pipeline import IngestBusy  # the ingest's own error (ingest imports this module lazily)

        who = self.holder(conn) or "another process"
        return IngestBusy(
            f"another ingest is running on the database {redacted(self.db.url)} ({who}); "
            "wait for it to finish or stop it, then run this again"
        )


def _keep_alive(conn: psycopg.Connection[Any]) -> None:
    """Have the server probe this connection, so that a holder whose machine vanished loses the lock."""
    for name, seconds in (
        ("tcp_keepalives_idle", KEEPALIVE_IDLE),
        ("tcp_keepalives_interval", KEEPALIVE_INTERVAL),
        ("tcp_keepalives_count", KEEPALIVE_COUNT),
    ):
        conn.execute("SELECT set_config(%s, %s, false)", (name, str(seconds)))
