"""The radar's state: saved topics with their owner (names are unique per owner), followed authors and current
window, the papers each window put on a topic's feed with the batch that showed them, library topics'
reference papers, feed tokens and what each delivery channel was sent.

`RadarStateStore` is what the radar sees of it; two stores hold it: `RadarStore` here, SQLite tables in
`state.sqlite3` in the data directory (the default), and `PostgresRadarStore` (`assistant.radar.pg_store`)
when ACADEMICHUB_DATABASE_URL is set; `open_radar_store` picks one. All of the radar's SQL is in these two
modules; the rules (what a window covers, what ranks where, what is delivered) are in the radar's
`windows`, `service`, `library` and `delivery` modules.

One SQLite connection per thread (Chainlit calls from a thread pool). Several steps that must not
interleave with another session's (opening a visit, showing a batch) run inside
`RadarStateStore.transaction()`: every method called on the same thread inside it is part of that one
transaction.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from assistant.radar.rules import name_key
from assistant.store.migrations import Migration, columns, migrate, run_script, script_step
from assistant.store.schema import date_to_int, int_to_date

if TYPE_CHECKING:
    from assistant.core.settings import Settings

# The radar state's schema steps, oldest first (the releases that added them); a new one goes at the end under
# a new name, never edited.
TOPICS_AND_FEEDS = """
CREATE TABLE IF NOT EXISTS radar_topics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,   -- folded name: names are unique case- and accent-insensitively
    query TEXT NOT NULL,
    fields TEXT NOT NULL,            -- JSON list of categories/archives
    authors TEXT NOT NULL,           -- JSON list of followed authors
    created_at REAL NOT NULL,
    last_visit REAL,                 -- wall clock when the current window was opened
    window_number INTEGER NOT NULL DEFAULT 0,
    window_since REAL,               -- previous visit (NULL for the first window)
    window_after REAL,               -- window = ingested_at in (window_after, window_until]
    window_until REAL,
    window_first_day INTEGER,        -- first window: papers published on/after this day (YYYYMMDD)
    window_floor INTEGER,            -- later windows: papers published before this are backfill
    window_newest_day INTEGER        -- newest published day in the catalog when the window opened
);
CREATE TABLE IF NOT EXISTS radar_items (
    topic_id INTEGER NOT NULL REFERENCES radar_topics(id) ON DELETE CASCADE,
    window INTEGER NOT NULL,
    paper_id TEXT NOT NULL,
    rank INTEGER NOT NULL,
    score REAL NOT NULL,
    relevance REAL NOT NULL,
    dense_rank INTEGER,
    lexical_rank INTEGER,
    followed_author TEXT,            -- the followed author this paper is on the feed for, if any
    batch INTEGER,                   -- NULL until shown
    shown_at REAL,
    PRIMARY KEY (topic_id, window, paper_id)
);
CREATE INDEX IF NOT EXISTS radar_items_seen ON radar_items(topic_id, paper_id) WHERE batch IS NOT NULL;
"""
FEED_TOKENS_AND_DELIVERIES = """
CREATE TABLE IF NOT EXISTS radar_feed_tokens (
    topic_id INTEGER PRIMARY KEY REFERENCES radar_topics(id) ON DELETE CASCADE,
    token TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS radar_deliveries (
    topic_id INTEGER NOT NULL REFERENCES radar_topics(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,           -- mailto:a@b,c@d | webhook:<sha256 of the URL, 16 hex>
    paper_id TEXT NOT NULL,
    sent_at REAL NOT NULL,
    PRIMARY KEY (topic_id, channel, paper_id)
);
"""
LIBRARY = """
CREATE TABLE IF NOT EXISTS radar_library (
    topic_id INTEGER NOT NULL REFERENCES radar_topics(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,       -- order in the library file
    title TEXT NOT NULL,
    paper_id TEXT,                   -- the indexed paper it is, if found
    matched_by TEXT,                 -- 'arXiv id' | 'title' | NULL (not in the index)
    vector BLOB,                     -- float32 embedding of title + abstract when not in the index
    PRIMARY KEY (topic_id, position)
);
"""
DELIVERY_CURSORS = """
CREATE TABLE IF NOT EXISTS radar_delivery_cursors (
    topic_id INTEGER NOT NULL REFERENCES radar_topics(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    until REAL NOT NULL,             -- every match ingested by this time has gone to the channel
    newest_day INTEGER,              -- the catalog's newest listing day then (YYYYMMDD): backfill floor
    PRIMARY KEY (topic_id, channel)
);
"""

# Topics belong to an owner: the signed-in user's identifier with login, "" for the one user without (the
# command line, a single-user app). Names are unique per owner. Rebuilt table (SQLite cannot drop the old
# UNIQUE on name_key alone): same ids, so the feed, library, token and delivery rows keep their topic.
TOPICS_WITH_OWNERS = """
CREATE TABLE radar_topics_owned (
    id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL DEFAULT '',  -- the user the topic belongs to; '' without login
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,          -- folded name: unique per owner case- and accent-insensitively
    query TEXT NOT NULL,
    fields TEXT NOT NULL,
    authors TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_visit REAL,
    window_number INTEGER NOT NULL DEFAULT 0,
    window_since REAL,
    window_after REAL,
    window_until REAL,
    window_first_day INTEGER,
    window_floor INTEGER,
    window_newest_day INTEGER,
    UNIQUE (owner, name_key)
);
"""
_COPIED = (
    "query, fields, authors, created_at, last_visit, window_number, window_since, window_after, "
    "window_until, window_first_day, window_floor, window_newest_day"
)
# How the app stored a signed-in user's topic before owners were a column: "@alice/name".
_PREFIXED = re.compile(r"@([^/]+)/(.+)", re.DOTALL)


def owner_and_name(stored_name: str) -> tuple[str, str]:
    """(owner, name) of a topic name as stored before owners were a column: "@alice/x" -> ("alice", "x");
    any other name was the no-login user's: ("", name)."""
    match = _PREFIXED.fullmatch(stored_name)
    return (match.group(1), match.group(2)) if match else ("", stored_name)


def _add_topic_owners(conn: sqlite3.Connection) -> None:
    """Move every topic into the owned table, its "@user/" prefix (if any) becoming its owner. Runs with
    foreign keys off (`open_state` turns them on after migrating): dropping the old table must not delete
    the rows that refer to it."""
    if conn.execute("PRAGMA foreign_keys").fetchone()[0]:
        raise RuntimeError("radar-topic-owners must run with foreign keys off (it rebuilds radar_topics)")
    run_script(conn, TOPICS_WITH_OWNERS)
    for topic_id, stored_name in conn.execute("SELECT id, name FROM radar_topics ORDER BY id").fetchall():
        owner, name = owner_and_name(stored_name)
        conn.execute(
            f"INSERT INTO radar_topics_owned (id, owner, name, name_key, {_COPIED}) "
            f"SELECT id, ?, ?, ?, {_COPIED} FROM radar_topics WHERE id = ?",
            (owner, name, name_key(name), topic_id),
        )
    conn.execute("DROP TABLE radar_topics")
    conn.execute("ALTER TABLE radar_topics_owned RENAME TO radar_topics")


RADAR_MIGRATIONS = (
    script_step("radar-topics-and-feeds", TOPICS_AND_FEEDS),
    script_step("radar-feed-tokens-and-deliveries", FEED_TOKENS_AND_DELIVERIES),
    script_step("radar-library", LIBRARY),
    script_step("radar-delivery-cursors", DELIVERY_CURSORS),
    Migration("radar-topic-owners", _add_topic_owners, lambda conn: "owner" in columns(conn, "radar_topics")),
)


@dataclass
class Topic:
    name: str
    query: str
    fields: list[str]
    authors: list[str]
    created_at: float
    last_visit: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "query": self.query,
            "fields": self.fields,
            "authors": self.authors,
            "created_at": _iso(self.created_at),
            "last_visit": _iso(self.last_visit) if self.last_visit else None,
        }


@dataclass(frozen=True)
class Window:
    """The catalog papers one visit of a topic covers (rules in `assistant.radar.windows`).

    First window (`after` None): papers ingested by `until` and published on/after `first_day`, or ingested
    after the topic was created (`created_at`). Later windows: papers first ingested in (`after`, `until`],
    except those published before `floor` (a backfill of old papers)."""

    number: int  # 1.. per topic
    previous_visit: float | None  # when the previous window was opened (None for the first window)
    after: float | None
    until: float
    first_day: date | None
    floor: date | None
    newest_day: date | None  # the catalog's newest listing day when the window opened
    created_at: float

    def stored(self, visit_at: float) -> tuple[Any, ...]:
        """The topic row's visit columns as `open_window` writes them on either backend: last_visit,
        window_number, window_since, window_after, window_until, window_first_day, window_floor,
        window_newest_day."""
        return (
            visit_at,
            self.number,
            self.previous_visit,
            self.after,
            self.until,
            date_to_int(self.first_day),
            date_to_int(self.floor),
            date_to_int(self.newest_day),
        )

    @property
    def since(self) -> datetime | None:
        """What "new since ..." refers to: the previous visit, or the latest listing day on a first visit."""
        if self.previous_visit is not None:
            return datetime.fromtimestamp(self.previous_visit)
        if self.first_day:
            return datetime.combine(self.first_day, datetime.min.time())
        return None


@dataclass(frozen=True)
class StoredTopic:
    """A saved topic as stored: its row id, the topic, its current window (None before a first visit) and
    its owner (the user it belongs to; "" without login)."""

    id: int
    topic: Topic
    window: Window | None
    owner: str = ""


@dataclass(frozen=True)
class FeedEntry:
    """A paper a window put on a topic's feed, with the retrieval figures it was ranked by."""

    paper_id: str
    rank: int
    score: float
    relevance: float
    dense_rank: int | None
    lexical_rank: int | None
    followed_author: str | None  # the followed author it is on the feed for, if any
    batch: int | None  # the batch that showed it; None while unseen

    def stored(self, topic_id: int, window: int) -> tuple[Any, ...]:
        """Its row in `radar_items`, as `add_entries` writes it on either backend (batch: not yet)."""
        return (
            topic_id,
            window,
            self.paper_id,
            self.rank,
            self.score,
            self.relevance,
            self.dense_rank,
            self.lexical_rank,
            self.followed_author,
        )


@dataclass(frozen=True)
class LibraryPaper:
    """One paper of a library topic's reference file (`assistant.radar.library`)."""

    position: int  # order in the library file
    title: str
    paper_id: str | None  # the indexed paper it is, if found
    matched_by: str | None  # 'arXiv id' | 'title' | None (not in the index)
    vector: np.ndarray | None  # its title + abstract embedded, when it is not in the index


class RadarStateStore(ABC):
    """What the radar keeps between visits, whichever database holds it (`open_radar_store`): callers see
    topics, windows and feed rows, never SQL. Safe to share between threads.

    Steps that must not interleave with another session's (opening a visit, showing a batch) run inside
    `transaction()`: every method called on the same thread inside it is part of that one transaction, and
    a topic read there holds the topic until the transaction ends, so two sessions opening the same visit
    cannot both open it."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """One transaction for the methods this thread calls inside it (committed on success)."""

    @abstractmethod
    def close(self) -> None:
        """Let go of this thread's connection (the store opens another when used again)."""

    # --- topics ---------------------------------------------------------------------------------------

    @abstractmethod
    def add_topic(self, topic: Topic, name_key: str, owner: str) -> bool:
        """Save a new topic of `owner`; False when the owner has one of that (folded) name."""

    @abstractmethod
    def topics(self, owner: str) -> list[StoredTopic]:
        """The owner's topics, oldest first."""

    @abstractmethod
    def find_topic(self, owner: str, name_key: str) -> StoredTopic | None:
        """The owner's topic of that (folded) name; None when the owner has none (whoever else does)."""

    @abstractmethod
    def find_topic_by_id(self, topic_id: int, owner: str) -> StoredTopic | None:
        """The topic with this id when it is the owner's; None otherwise (missing or someone else's)."""

    @abstractmethod
    def get_topic(self, topic_id: int) -> StoredTopic:
        """The topic with this id (which exists: the caller found it first)."""

    @abstractmethod
    def remove_topic(self, topic_id: int) -> None:
        """Delete the topic with its feed, library, feed token and deliveries."""

    @abstractmethod
    def rename_topic(self, topic_id: int, name: str, name_key: str) -> bool:
        """Give a topic another name; False when its owner has a topic of that (folded) name."""

    @abstractmethod
    def set_authors(self, topic_id: int, authors: Sequence[str]) -> None:
        """Replace the topic's followed authors."""

    @abstractmethod
    def open_window(self, topic_id: int, window: Window, visit_at: float) -> None:
        """Make `window` the topic's current one. Unshown papers of the old window are not carried over:
        the new visit shows only what is new now."""

    @abstractmethod
    def saved_fields(self) -> list[str]:
        """Fields (categories/archives) of every owner's topics, in the order they were saved; [] if none
        (what `academichub ingest --daily` fetches)."""

    @abstractmethod
    def saved_topic_names(self) -> list[str]:
        """Every owner's topic names, in the order they were saved (what `ingest --daily` reports)."""

    # --- the feed's papers ----------------------------------------------------------------------------

    @abstractmethod
    def seen_ids(self, topic_id: int) -> set[str]:
        """Papers shown for the topic in any window."""

    @abstractmethod
    def clear_unseen(self, topic_id: int, window: int) -> None:
        """Drop the window's unshown papers (before ranking them again)."""

    @abstractmethod
    def last_rank(self, topic_id: int, window: int) -> int:
        """The highest rank on the window's feed; 0 when it is empty."""

    @abstractmethod
    def add_entries(self, topic_id: int, window: int, entries: Sequence[FeedEntry]) -> None:
        """Put papers on the window's feed (a paper already on it keeps its place)."""

    @abstractmethod
    def entries(self, topic_id: int, window: int) -> list[FeedEntry]:
        """The window's feed in the order a user meets it: shown batches in order, then unseen by rank."""

    @abstractmethod
    def window_paper_ids(self, topic_id: int, window: int) -> list[str]:
        """The window's feed papers (seen or not) by rank."""

    @abstractmethod
    def next_batch_number(self, topic_id: int, window: int) -> int:
        """The number the window's next shown batch gets (1 for the first)."""

    @abstractmethod
    def mark_shown(
        self, topic_id: int, window: int, batch: int, paper_ids: Sequence[str], when: float
    ) -> int:
        """Record unseen papers of the window as shown in `batch`; returns how many were unseen."""

    # --- library topics (assistant.radar.library) -----------------------------------------------------

    @abstractmethod
    def add_library(self, topic_id: int, papers: Sequence[LibraryPaper]) -> None:
        """Add papers to the topic's library (positions not taken yet)."""

    @abstractmethod
    def library(self, topic_id: int) -> list[LibraryPaper]:
        """The topic's library in file order; [] for a topic not made from a library."""

    # --- delivery (assistant.radar.delivery) -------------------------------------------------------------

    @abstractmethod
    def feed_token(self, topic_id: int, new_token: str) -> str:
        """The topic's feed token; `new_token` becomes it when the topic has none yet."""

    @abstractmethod
    def topic_for_token(self, token: str) -> tuple[str, str] | None:
        """(owner, name) of the topic a feed token belongs to, or None."""

    @abstractmethod
    def delivered(self, topic_id: int, channel: str) -> set[str]:
        """Papers of the topic already sent on this channel."""

    @abstractmethod
    def delivered_ids(self, topic_id: int) -> set[str]:
        """Papers of the topic sent on any channel (a delivered digest counts as shown)."""

    @abstractmethod
    def delivery_cursor(self, topic_id: int, channel: str) -> tuple[float, date | None] | None:
        """(until, newest listing day) of the channel: all matches ingested by `until` went there; None
        before its first complete delivery."""

    @abstractmethod
    def record_delivery(
        self,
        topic_id: int,
        channel: str,
        paper_ids: Sequence[str],
        when: float,
        cursor: tuple[float, date | None] | None = None,
    ) -> None:
        """Record papers sent on a channel; `cursor` (until, newest day) when the channel now has every
        match ingested by `until` (a capped digest leaves the cursor where it was, so the rest go next)."""


def open_radar_store(settings: Settings) -> RadarStateStore:
    """The radar state of these settings: in PostgreSQL when a database URL is set (its radar schema must
    exist: `academichub migrate` creates it, a reader never does), else in the data directory's SQLite
    file."""
    url = settings.storage.database_url
    if url is None:
        return RadarStore(settings.storage.state_path)
    from assistant.radar.pg_store import RADAR_STEPS, PostgresRadarStore  # psycopg only when used
    from assistant.store.postgres.database import database

    db = database(url, settings.storage.database_pool_size)
    db.require_schema(RADAR_STEPS, "radar state")
    return PostgresRadarStore(db)


def open_state(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    migrate(conn, RADAR_MIGRATIONS)  # foreign keys off: a step may rebuild a table others refer to
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class RadarStore(RadarStateStore):
    """The radar's tables in a SQLite file. Each thread gets its own connection; `transaction()` is an
    immediate one (the whole file is held until it ends)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_state(self.path)
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """An immediate transaction: two sessions opening the same visit cannot both open it."""
        conn = self.db
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _exists(self) -> bool:
        """Whether there is any state yet (reading saved topics must not create the file)."""
        return self.path.exists()

    # --- topics ---------------------------------------------------------------------------------------

    def add_topic(self, topic: Topic, name_key: str, owner: str) -> bool:
        try:
            with self.transaction():
                self.db.execute(
                    "INSERT INTO radar_topics (owner, name, name_key, query, fields, authors, created_at) "
                    "VALUES (?,?,?,?,?,?,?)",
                    (
                        owner,
                        topic.name,
                        name_key,
                        topic.query,
                        json.dumps(topic.fields),
                        json.dumps(topic.authors),
                        topic.created_at,
                    ),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def topics(self, owner: str) -> list[StoredTopic]:
        rows = self.db.execute(
            "SELECT * FROM radar_topics WHERE owner = ? ORDER BY created_at, id", (owner,)
        ).fetchall()
        return [stored_topic_from_row(row) for row in rows]

    def find_topic(self, owner: str, name_key: str) -> StoredTopic | None:
        row = self.db.execute(
            "SELECT * FROM radar_topics WHERE owner = ? AND name_key = ?", (owner, name_key)
        ).fetchone()
        return stored_topic_from_row(row) if row is not None else None

    def find_topic_by_id(self, topic_id: int, owner: str) -> StoredTopic | None:
        row = self.db.execute(
            "SELECT * FROM radar_topics WHERE id = ? AND owner = ?", (topic_id, owner)
        ).fetchone()
        return stored_topic_from_row(row) if row is not None else None

    def get_topic(self, topic_id: int) -> StoredTopic:
        return stored_topic_from_row(
            self.db.execute("SELECT * FROM radar_topics WHERE id = ?", (topic_id,)).fetchone()
        )

    def remove_topic(self, topic_id: int) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM radar_items WHERE topic_id = ?", (topic_id,))
            self.db.execute("DELETE FROM radar_topics WHERE id = ?", (topic_id,))

    def rename_topic(self, topic_id: int, name: str, name_key: str) -> bool:
        try:
            with self.transaction():
                self.db.execute(
                    "UPDATE radar_topics SET name = ?, name_key = ? WHERE id = ?", (name, name_key, topic_id)
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def set_authors(self, topic_id: int, authors: Sequence[str]) -> None:
        self.db.execute(
            "UPDATE radar_topics SET authors = ? WHERE id = ?", (json.dumps(list(authors)), topic_id)
        )

    def open_window(self, topic_id: int, window: Window, visit_at: float) -> None:
        self.db.execute("DELETE FROM radar_items WHERE topic_id = ? AND batch IS NULL", (topic_id,))
        self.db.execute(
            """UPDATE radar_topics SET last_visit = ?, window_number = ?, window_since = ?,
               window_after = ?, window_until = ?, window_first_day = ?, window_floor = ?,
               window_newest_day = ? WHERE id = ?""",
            (*window.stored(visit_at), topic_id),
        )

    def saved_fields(self) -> list[str]:
        if not self._exists():
            return []
        rows = self.db.execute("SELECT fields FROM radar_topics ORDER BY id").fetchall()
        return unique_fields(json.loads(row[0]) for row in rows)

    def saved_topic_names(self) -> list[str]:
        if not self._exists():
            return []
        return [row[0] for row in self.db.execute("SELECT name FROM radar_topics ORDER BY id")]

    # --- the feed's papers ----------------------------------------------------------------------------

    def seen_ids(self, topic_id: int) -> set[str]:
        rows = self.db.execute(
            "SELECT paper_id FROM radar_items WHERE topic_id = ? AND batch IS NOT NULL", (topic_id,)
        )
        return {row[0] for row in rows}

    def clear_unseen(self, topic_id: int, window: int) -> None:
        self.db.execute(
            "DELETE FROM radar_items WHERE topic_id = ? AND window = ? AND batch IS NULL", (topic_id, window)
        )

    def last_rank(self, topic_id: int, window: int) -> int:
        value = self.db.execute(
            "SELECT coalesce(max(rank), 0) FROM radar_items WHERE topic_id = ? AND window = ?",
            (topic_id, window),
        ).fetchone()[0]
        return int(value)

    def add_entries(self, topic_id: int, window: int, entries: Sequence[FeedEntry]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO radar_items (topic_id, window, paper_id, rank, score, relevance, "
            "dense_rank, lexical_rank, followed_author) VALUES (?,?,?,?,?,?,?,?,?)",
            [e.stored(topic_id, window) for e in entries],
        )

    def entries(self, topic_id: int, window: int) -> list[FeedEntry]:
        rows = self.db.execute(
            "SELECT * FROM radar_items WHERE topic_id = ? AND window = ? ORDER BY batch IS NULL, batch, rank",
            (topic_id, window),
        ).fetchall()
        return [feed_entry_from_row(row) for row in rows]

    def window_paper_ids(self, topic_id: int, window: int) -> list[str]:
        rows = self.db.execute(
            "SELECT paper_id FROM radar_items WHERE topic_id = ? AND window = ? ORDER BY rank",
            (topic_id, window),
        )
        return [row[0] for row in rows]

    def next_batch_number(self, topic_id: int, window: int) -> int:
        value = self.db.execute(
            "SELECT coalesce(max(batch), 0) FROM radar_items WHERE topic_id = ? AND window = ?",
            (topic_id, window),
        ).fetchone()[0]
        return int(value) + 1

    def mark_shown(
        self, topic_id: int, window: int, batch: int, paper_ids: Sequence[str], when: float
    ) -> int:
        return self.db.executemany(
            "UPDATE radar_items SET batch = ?, shown_at = ? "
            "WHERE topic_id = ? AND window = ? AND paper_id = ? AND batch IS NULL",
            [(batch, when, topic_id, window, pid) for pid in paper_ids],
        ).rowcount

    # --- library topics (assistant.radar.library) -----------------------------------------------------

    def add_library(self, topic_id: int, papers: Sequence[LibraryPaper]) -> None:
        with self.transaction():
            self.db.executemany(
                "INSERT INTO radar_library (topic_id, position, title, paper_id, matched_by, vector) "
                "VALUES (?,?,?,?,?,?)",
                [
                    (
                        topic_id,
                        p.position,
                        p.title,
                        p.paper_id,
                        p.matched_by,
                        vector_bytes(p.vector),
                    )
                    for p in papers
                ],
            )

    def library(self, topic_id: int) -> list[LibraryPaper]:
        rows = self.db.execute(
            "SELECT position, title, paper_id, matched_by, vector FROM radar_library WHERE topic_id = ? "
            "ORDER BY position",
            (topic_id,),
        )
        return [library_paper_from_row(row) for row in rows]

    # --- delivery (assistant.radar.delivery) -------------------------------------------------------------

    def feed_token(self, topic_id: int, new_token: str) -> str:
        row = self.db.execute(
            "SELECT token FROM radar_feed_tokens WHERE topic_id = ?", (topic_id,)
        ).fetchone()
        if row:
            return str(row[0])
        self.db.execute(
            "INSERT OR IGNORE INTO radar_feed_tokens (topic_id, token) VALUES (?, ?)", (topic_id, new_token)
        )
        row = self.db.execute(
            "SELECT token FROM radar_feed_tokens WHERE topic_id = ?", (topic_id,)
        ).fetchone()
        return str(row[0])

    def topic_for_token(self, token: str) -> tuple[str, str] | None:
        row = self.db.execute(
            "SELECT t.owner, t.name FROM radar_feed_tokens f JOIN radar_topics t ON t.id = f.topic_id "
            "WHERE f.token = ?",
            (token,),
        ).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def delivered(self, topic_id: int, channel: str) -> set[str]:
        rows = self.db.execute(
            "SELECT paper_id FROM radar_deliveries WHERE topic_id = ? AND channel = ?", (topic_id, channel)
        )
        return {r[0] for r in rows}

    def delivered_ids(self, topic_id: int) -> set[str]:
        rows = self.db.execute(
            "SELECT DISTINCT paper_id FROM radar_deliveries WHERE topic_id = ?", (topic_id,)
        )
        return {r[0] for r in rows}

    def delivery_cursor(self, topic_id: int, channel: str) -> tuple[float, date | None] | None:
        row = self.db.execute(
            "SELECT until, newest_day FROM radar_delivery_cursors WHERE topic_id = ? AND channel = ?",
            (topic_id, channel),
        ).fetchone()
        return (float(row[0]), int_to_date(row[1])) if row else None

    def record_delivery(
        self,
        topic_id: int,
        channel: str,
        paper_ids: Sequence[str],
        when: float,
        cursor: tuple[float, date | None] | None = None,
    ) -> None:
        with self.transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO radar_deliveries (topic_id, channel, paper_id, sent_at) "
                "VALUES (?,?,?,?)",
                [(topic_id, channel, pid, when) for pid in paper_ids],
            )
            if cursor is not None:
                self.db.execute(
                    "INSERT INTO radar_delivery_cursors (topic_id, channel, until, newest_day) "
                    "VALUES (?,?,?,?) ON CONFLICT (topic_id, channel) "
                    "DO UPDATE SET until = excluded.until, newest_day = excluded.newest_day",
                    (topic_id, channel, cursor[0], date_to_int(cursor[1])),
                )


# --- rows (both stores': read by column name, from sqlite3.Row or psycopg's dict_row) -------------------


class Row(Protocol):
    def __getitem__(self, key: str) -> Any: ...


def stored_topic_from_row(row: Row) -> StoredTopic:
    topic = Topic(
        name=row["name"],
        query=row["query"],
        fields=_json_list(row["fields"]),
        authors=_json_list(row["authors"]),
        created_at=float(row["created_at"]),
        last_visit=float(row["last_visit"]) if row["last_visit"] is not None else None,
    )
    return StoredTopic(id=int(row["id"]), topic=topic, window=_window(row), owner=str(row["owner"]))


def feed_entry_from_row(row: Row) -> FeedEntry:
    return FeedEntry(
        paper_id=row["paper_id"],
        rank=int(row["rank"]),
        score=float(row["score"]),
        relevance=float(row["relevance"]),
        dense_rank=row["dense_rank"],
        lexical_rank=row["lexical_rank"],
        followed_author=row["followed_author"],
        batch=row["batch"],
    )


def library_paper_from_row(row: Row) -> LibraryPaper:
    vector = row["vector"]
    return LibraryPaper(
        position=int(row["position"]),
        title=row["title"],
        paper_id=row["paper_id"],
        matched_by=row["matched_by"],
        vector=np.frombuffer(vector, dtype=np.float32) if vector is not None else None,
    )


def vector_bytes(vector: np.ndarray | None) -> bytes | None:
    """A library paper's vector as stored: float32 bytes."""
    return np.asarray(vector, dtype=np.float32).tobytes() if vector is not None else None


def unique_fields(per_topic: Iterable[list[str]]) -> list[str]:
    """Each field once, in the order topics name them."""
    return list(dict.fromkeys(field for fields in per_topic for field in fields))


def _json_list(value: str | list[str]) -> list[str]:
    """A JSON list column: text in SQLite, already decoded from PostgreSQL's jsonb."""
    return value if isinstance(value, list) else list(json.loads(value))


def _window(row: Row) -> Window | None:
    if row["window_until"] is None:
        return None
    return Window(
        number=int(row["window_number"]),
        previous_visit=float(row["window_since"]) if row["window_since"] is not None else None,
        after=float(row["window_after"]) if row["window_after"] is not None else None,
        until=float(row["window_until"]),
        first_day=int_to_date(row["window_first_day"]),
        floor=int_to_date(row["window_floor"]),
        newest_day=int_to_date(row["window_newest_day"]),
        created_at=float(row["created_at"]),
    )


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).isoformat(timespec="seconds")
