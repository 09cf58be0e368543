"""The daily research radar: saved topics, followed authors, a feed of what is new since the last visit,
paged in batches that never repeat a paper, and a daily cross-field briefing over the new papers.

What "new since the last visit" means, precisely
-------------------------------------------------
A topic's feed is built over a *window* of catalog papers, opened by a *visit*:

* A **visit** opens when `feed()` (without `next_batch`) or `brief()` is called and either the topic has
  never been visited, or papers entered the catalog after the current window was opened (an ingest ran).
  Calling `feed()` again with no ingest in between stays in the same window: it shows the latest batch
  again (where you left off) and does not mark anything new as seen; once the window is exhausted it says
  so ("you have seen everything new ...") and shows no old papers. `next_batch=True` never opens a
  visit: it pages on through the current window.
* The **first visit** of a topic covers the latest listing day in the catalog (papers whose `published`
  date is the newest one in the index), plus anything ingested after the topic was created. That is "today's
  papers" for someone who just built an index and saved a topic.
* **Later visits** cover the papers whose `ingested_at` (the first time the paper entered the catalog) is
  after the previous visit's high-water mark (the newest `ingested_at` the previous window covered). A
  re-listed or updated paper keeps its first `ingested_at`, so it is not new again. Older papers loaded by a
  backfill (published more than `BACKFILL_SLACK_DAYS` before the newest listing day the previous window
  saw) are not news and stay out of the radar (search still finds them). The high-water mark is a catalog
  value, not the wall clock, so a paper ingested while a visit is open belongs to the next visit.
* Within a window, a paper is on the feed if it matches the topic (hybrid retrieval of the topic's query,
  restricted to its fields, with query-paper cosine `relevance >= Settings.radar_min_relevance`) or has a
  followed author (case/accent-insensitive substring, like the author filter everywhere else). Papers by
  followed authors come first (they were asked for by name), then topic matches in retrieval order.
* Papers shown in a batch are **seen** (recorded with batch number and time) and never shown again for the
  topic, in this window or any later one. When the window has no unseen papers left the feed says so
  (`exhausted`); more come with the next ingest.

With the June corpus ingested one daily file at a time and a visit after each, each visit's window is
exactly that day's newly ingested papers, so the feed shows only that day's new matching papers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.search.retrieval import Hit, RetrievalError, Retriever, hit_json, make_filter
from ingest.catalog import Catalog, date_to_int, fold, int_to_date
from ingest.errors import UserFacingError
from ingest.settings import Settings
from ingest.sources import ArxivRequest

if TYPE_CHECKING:
    from assistant.compose.briefing import Briefer, Briefing

BACKFILL_SLACK_DAYS = 7
MAX_FEED = 200  # matches kept per window (the retriever's own cap on k)
MAX_NAME_CHARS = 80
MAX_QUERY_CHARS = 2000
MAX_BATCH = 100

SCHEMA = """
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


class RadarError(UserFacingError, ValueError):
    """Input the radar cannot serve: the message says what to change."""


class NothingNewError(RadarError):
    """A briefing was asked for but the topic has no new papers (not a failure: nothing to brief on)."""


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


@dataclass
class FeedBatch:
    topic: Topic
    items: list[Hit]
    since: (
        datetime | None
    )  # start of the window: the previous visit, or the latest listing day on a first visit
    batch_number: int  # 1.. within the current window; 0 when nothing was shown
    remaining: int  # unseen feed papers left in the window (with the author filter, if any)
    exhausted: bool  # nothing unseen left in the window
    message: str | None  # e.g. "nothing new since 2026-06-12" (not an error)
    followed: dict[str, str] = field(default_factory=dict)  # paper id -> followed author that put it here
    window_total: int = 0  # feed papers in the window (seen or not)
    author: str | None = None  # the author filter applied, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic.to_dict(),
            "since": self.since.isoformat(timespec="seconds") if self.since else None,
            "batch_number": self.batch_number,
            "remaining": self.remaining,
            "exhausted": self.exhausted,
            "window_total": self.window_total,
            "author": self.author,
            "message": self.message,
            "items": [
                {**hit_json(hit), "followed_author": self.followed.get(hit.paper.id)} for hit in self.items
            ],
        }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).isoformat(timespec="seconds")


def _describe_since(since: datetime | None) -> str:
    if since is None:
        return "your last visit"
    if since.time() == datetime.min.time():
        return since.date().isoformat()
    return since.strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class _Window:
    number: int
    since: datetime | None
    after: float | None
    until: float
    first_day: int | None
    floor: int | None
    created_at: float


class Radar:
    """Saved topics and their feeds. One object per process; safe to call from a thread pool (one SQLite
    connection per thread, writes in immediate transactions)."""

    def __init__(self, settings: Settings, retriever: Retriever, briefer: Briefer | None = None) -> None:
        self.settings = settings
        self.retriever = retriever
        self._local = threading.local()
        self._briefer = briefer  # the engine passes its own; else made on first use (tests, bench)

    # --- state database -------------------------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_state(self.settings.state_path)
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """An immediate transaction: two sessions opening the same visit cannot both open it."""
        conn = self.db
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- topics ---------------------------------------------------------------------------------------

    def add_topic(
        self, name: str, query: str, fields: Sequence[str] = (), authors: Sequence[str] = ()
    ) -> Topic:
        clean_name = " ".join((name or "").split())
        if not clean_name:
            raise RadarError('a topic needs a name, e.g. `radar add unlearning --query "machine unlearning"`')
        if len(clean_name) > MAX_NAME_CHARS:
            raise RadarError(
                f"the topic name is {len(clean_name)} characters long; keep it under {MAX_NAME_CHARS}"
            )
        clean_query = " ".join((query or "").split())
        if not clean_query:
            raise RadarError(f"the query for topic {clean_name!r} is empty: describe what the topic is about")
        if len(clean_query) > MAX_QUERY_CHARS:
            raise RadarError(
                f"the query is {len(clean_query)} characters long; keep it under {MAX_QUERY_CHARS}"
            )
        self._require_index()
        clean_fields = self._check_fields(fields)
        clean_authors = _clean_authors(authors)
        existing = self._find(clean_name)
        if existing is not None:
            raise RadarError(f"a topic named {existing['name']!r} already exists; pick another name")
        now = time.time()
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO radar_topics (name, name_key, query, fields, authors, created_at) "
                    "VALUES (?,?,?,?,?,?)",
                    (
                        clean_name,
                        fold(clean_name),
                        clean_query,
                        json.dumps(clean_fields),
                        json.dumps(clean_authors),
                        now,
                    ),
                )
        except sqlite3.IntegrityError:
            raise RadarError(f"a topic named {clean_name!r} already exists; pick another name") from None
        return Topic(clean_name, clean_query, clean_fields, clean_authors, now, None)

    def list_topics(self) -> list[Topic]:
        rows = self.db.execute("SELECT * FROM radar_topics ORDER BY created_at, id").fetchall()
        return [_row_to_topic(row) for row in rows]

    def get_topic(self, name: str) -> Topic:
        return _row_to_topic(self._topic_row(name))

    def remove_topic(self, name: str) -> None:
        row = self._topic_row(name)
        with self._write() as conn:
            conn.execute("DELETE FROM radar_items WHERE topic_id = ?", (row["id"],))
            conn.execute("DELETE FROM radar_topics WHERE id = ?", (row["id"],))

    def follow_author(self, name: str, author: str) -> Topic:
        """Follow an author in a topic; their papers in the current window join the unseen feed."""
        row = self._topic_row(name)
        new = _clean_authors([author])
        if not new:
            raise RadarError("the author name is empty")
        authors = json.loads(row["authors"])
        if any(fold(a) == fold(new[0]) for a in authors):
            return _row_to_topic(row)
        authors.append(new[0])
        with self._write() as conn:
            conn.execute("UPDATE radar_topics SET authors = ? WHERE id = ?", (json.dumps(authors), row["id"]))
            row = conn.execute("SELECT * FROM radar_topics WHERE id = ?", (row["id"],)).fetchone()
            if row["window_until"] is not None:
                self._rank_window(conn, row, _window_of(row))
        return _row_to_topic(row)

    # --- the feed -------------------------------------------------------------------------------------

    def feed(
        self, name: str, *, batch: int = 10, next_batch: bool = False, author: str | None = None
    ) -> FeedBatch:
        if batch < 1 or batch > MAX_BATCH:
            raise RadarError(f"the batch size must be between 1 and {MAX_BATCH} (got {batch})")
        self._topic_row(name)  # unknown topic: say so before anything else
        self._require_index()
        author_key = fold(author.strip()) if author and author.strip() else None
        with self._write() as conn:
            row = self._topic_row(name, conn)
            if row["window_until"] is None or (not next_batch and self._catalog_moved(row)):
                row = self._open_visit(conn, row)
            window = _window_of(row)
            items = self._items(conn, row["id"], window.number)
            if author_key:
                items = [item for item in items if _by_author(item["paper"].authors, author_key)]
            shown: list[dict[str, Any]] = []
            number = 0
            has_unseen = any(item["batch"] is None for item in items)
            if not next_batch and has_unseen:
                # Reopening the feed mid-window shows where the user left off; once everything new has
                # been shown it says so instead of showing old papers again.
                latest = max((item["batch"] for item in items if item["batch"]), default=0)
                shown = [item for item in items if latest and item["batch"] == latest]
                number = latest
            if not shown:
                unseen = [item for item in items if item["batch"] is None]
                shown = unseen[:batch]
                if shown:
                    number = self._next_batch_number(conn, row["id"], window.number)
                    now = time.time()
                    conn.executemany(
                        "UPDATE radar_items SET batch = ?, shown_at = ? "
                        "WHERE topic_id = ? AND window = ? AND paper_id = ?",
                        [(number, now, row["id"], window.number, item["paper"].id) for item in shown],
                    )
                    for item in shown:
                        item["batch"] = number
            remaining = sum(1 for item in items if item["batch"] is None)
        topic = _row_to_topic(row)
        message = _feed_message(topic, window, items, shown, remaining, author)
        return FeedBatch(
            topic=topic,
            items=[item["hit"] for item in shown],
            since=window.since,
            batch_number=number if shown else 0,
            remaining=remaining,
            exhausted=remaining == 0,
            message=message,
            followed={item["paper"].id: item["followed"] for item in shown if item["followed"]},
            window_total=len(items),
            author=author.strip() if author_key and author else None,
        )

    def new_paper_ids(self, name: str) -> list[str]:
        """The current window's feed papers (seen or not), opening a visit if an ingest ran since."""
        self._topic_row(name)
        self._require_index()
        with self._write() as conn:
            row = self._topic_row(name, conn)
            if row["window_until"] is None or self._catalog_moved(row):
                row = self._open_visit(conn, row)
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT paper_id FROM radar_items WHERE topic_id = ? AND window = ? ORDER BY rank",
                    (row["id"], row["window_number"]),
                )
            ]
        return ids

    def window_items(self, name: str) -> tuple[Topic, list[tuple[Hit, str | None]], datetime | None]:
        """The current window's feed (seen or not, feed order) with the followed author of each paper,
        opening a visit if an ingest ran since: what a delivery (e-mail, webhook) sends from."""
        self._topic_row(name)
        self._require_index()
        with self._write() as conn:
            row = self._topic_row(name, conn)
            if row["window_until"] is None or self._catalog_moved(row):
                row = self._open_visit(conn, row)
            items = self._items(conn, row["id"], row["window_number"])
        items.sort(key=lambda item: int(item["rank"]))
        ranked = [(item["hit"], item["followed"]) for item in items]
        return _row_to_topic(row), ranked, _window_of(row).since

    def mark_seen(self, name: str, paper_ids: Sequence[str]) -> int:
        """Mark papers of the current window as seen, as one batch (a delivered digest counts as shown);
        returns the batch number, 0 when nothing was unseen."""
        with self._write() as conn:
            row = self._topic_row(name, conn)
            number = self._next_batch_number(conn, row["id"], row["window_number"])
            changed = conn.executemany(
                "UPDATE radar_items SET batch = ?, shown_at = ? "
                "WHERE topic_id = ? AND window = ? AND paper_id = ? AND batch IS NULL",
                [(number, time.time(), row["id"], row["window_number"], pid) for pid in paper_ids],
            ).rowcount
        return number if changed else 0

    def topic_id(self, name: str) -> int:
        return int(self._topic_row(name)["id"])

    def brief(
        self, name: str, *, use_llm: bool | None = None, on_token: Callable[[str], None] | None = None
    ) -> Briefing:
        """The cross-field briefing over this visit's new papers for the topic (raises NothingNewError,
        a RadarError, when there are none)."""
        from assistant.compose.briefing import Briefer, BriefingError
        from assistant.compose.llm import get_llm

        topic = self.get_topic(name)
        ids = self.new_paper_ids(name)
        if not ids:
            window = _window_of(self._topic_row(name))
            raise NothingNewError(
                f"nothing new for {topic.name!r} {_since_phrase(window)}: no briefing today"
            )
        if self._briefer is None:
            self._briefer = Briefer(self.settings, self.retriever, llm=get_llm(self.settings))
        try:
            return self._briefer.brief(
                topic.query,
                fields=topic.fields or None,
                per_field=min(12, max(4, len(ids))),
                paper_filter=make_filter(only_ids=set(ids)),
                use_llm=use_llm,
                on_token=on_token,
            )
        except (BriefingError, RetrievalError) as err:
            raise RadarError(str(err)) from None

    # --- internals ------------------------------------------------------------------------------------

    def _require_index(self) -> None:
        if self.retriever.catalog.count() == 0:
            raise RadarError(
                "the index is empty: run `academichub ingest` first (no options: the bundled sample; "
                "`--file` for JSONL files; `--arxiv --category cs.LG --since YYYY-MM-DD` for the live API)"
            )

    def _check_fields(self, fields: Sequence[str]) -> list[str]:
        clean = list(dict.fromkeys(f.strip() for f in fields if f and f.strip()))
        if clean:
            try:
                self.retriever.check_categories(tuple(clean))
            except RetrievalError as err:
                raise RadarError(str(err)) from None
        return clean

    def _find(self, name: str, conn: sqlite3.Connection | None = None) -> sqlite3.Row | None:
        key = fold(" ".join((name or "").split()))
        row: sqlite3.Row | None = (
            (conn or self.db).execute("SELECT * FROM radar_topics WHERE name_key = ?", (key,)).fetchone()
        )
        return row

    def _topic_row(self, name: str, conn: sqlite3.Connection | None = None) -> sqlite3.Row:
        row = self._find(name, conn)
        if row is None:
            names = [t.name for t in self.list_topics()]
            hint = (
                f" Saved topics: {', '.join(names)}."
                if names
                else " No topics saved yet: add one with `academichub radar add`."
            )
            raise RadarError(f"no topic named {name!r}.{hint}")
        return row

    def _newest_ingested(self) -> float:
        value = self.retriever.catalog.conn.execute("SELECT max(ingested_at) FROM papers").fetchone()[0]
        return float(value or 0.0)

    def _catalog_moved(self, row: sqlite3.Row) -> bool:
        return self._newest_ingested() > float(row["window_until"])

    def _open_visit(self, conn: sqlite3.Connection, row: sqlite3.Row) -> sqlite3.Row:
        """Open the next window: what the previous one did not cover, up to the catalog's newest paper."""
        catalog = self.retriever.catalog.conn
        until = self._newest_ingested()
        newest_day = catalog.execute("SELECT max(published) FROM papers").fetchone()[0]
        now = time.time()
        if row["window_until"] is None:
            after, since_ts, floor = None, None, None
            first_day = newest_day
        else:
            after = float(row["window_until"])
            since_ts = row["last_visit"]
            first_day = None
            previous_newest = int_to_date(row["window_newest_day"])
            floor = (
                date_to_int(previous_newest - timedelta(days=BACKFILL_SLACK_DAYS))
                if previous_newest
                else None
            )
        number = int(row["window_number"]) + 1
        conn.execute(
            "DELETE FROM radar_items WHERE topic_id = ? AND batch IS NULL", (row["id"],)
        )  # unshown papers of the old window are not carried over: the new visit shows only what is new now
        conn.execute(
            """UPDATE radar_topics SET last_visit = ?, window_number = ?, window_since = ?,
               window_after = ?, window_until = ?, window_first_day = ?, window_floor = ?,
               window_newest_day = ? WHERE id = ?""",
            (now, number, since_ts, after, until, first_day, floor, newest_day, row["id"]),
        )
        row = conn.execute("SELECT * FROM radar_topics WHERE id = ?", (row["id"],)).fetchone()
        self._rank_window(conn, row, _window_of(row))
        return row

    def _window_ids(self, window: _Window) -> set[str]:
        catalog = self.retriever.catalog.conn
        if window.after is None:
            rows = catalog.execute(
                "SELECT id FROM papers WHERE ingested_at <= ? AND (published >= ? OR ingested_at > ?)",
                (window.until, window.first_day or 0, window.created_at),
            )
        else:
            rows = catalog.execute(
                "SELECT id FROM papers WHERE ingested_at > ? AND ingested_at <= ? "
                "AND (published IS NULL OR published >= ?)",
                (window.after, window.until, window.floor or 0),
            )
        return {r[0] for r in rows}

    def _rank_window(self, conn: sqlite3.Connection, row: sqlite3.Row, window: _Window) -> None:
        """(Re)build the unseen part of the window's feed: followed authors first, then topic matches."""
        topic = _row_to_topic(row)
        seen = {
            r[0]
            for r in conn.execute(
                "SELECT paper_id FROM radar_items WHERE topic_id = ? AND batch IS NOT NULL", (row["id"],)
            )
        }
        candidates = self._window_ids(window) - seen
        conn.execute(
            "DELETE FROM radar_items WHERE topic_id = ? AND window = ? AND batch IS NULL",
            (row["id"], window.number),
        )
        if not candidates:
            return
        ranked = self.rank_papers(row["id"], topic, candidates)
        start = int(
            conn.execute(
                "SELECT coalesce(max(rank), 0) FROM radar_items WHERE topic_id = ? AND window = ?",
                (row["id"], window.number),
            ).fetchone()[0]
        )
        conn.executemany(
            "INSERT OR IGNORE INTO radar_items (topic_id, window, paper_id, rank, score, relevance, "
            "dense_rank, lexical_rank, followed_author) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (
                    row["id"],
                    window.number,
                    hit.paper.id,
                    start + i,
                    hit.score,
                    hit.relevance,
                    hit.dense_rank,
                    hit.lexical_rank,
                    author,
                )
                for i, (hit, author) in enumerate(ranked[:MAX_FEED], start=1)
            ],
        )

    def rank_papers(self, topic_id: int, topic: Topic, candidates: set[str]) -> list[tuple[Hit, str | None]]:
        """The topic's feed order over `candidates`: papers by followed authors first, then topic matches
        at or above `radar_min_relevance` (a library topic ranks by closeness to its library)."""
        ranked: list[tuple[Hit, str | None]] = []
        followed: dict[str, str] = {}
        for author in topic.authors:
            for pid in self.retriever.catalog.filter_ids(make_filter(author=author, only_ids=candidates)):
                followed.setdefault(pid, author)
        if followed:
            author_hits = self.retriever.search(
                topic.query,
                k=min(len(followed), MAX_FEED),
                paper_filter=make_filter(only_ids=set(followed)),
                mode="dense",
            )
            ranked += [(hit, followed[hit.paper.id]) for hit in author_hits]
        try:
            matches = self.retriever.search(
                topic.query,
                k=MAX_FEED,
                paper_filter=make_filter(categories=topic.fields, only_ids=candidates),
            )
        except RetrievalError as err:
            raise RadarError(str(err)) from None
        threshold = self.settings.radar_min_relevance
        ranked += [
            (hit, None) for hit in matches if hit.relevance >= threshold and hit.paper.id not in followed
        ]
        return ranked

    def _items(self, conn: sqlite3.Connection, topic_id: int, window: int) -> list[dict[str, Any]]:
        rows = conn.execute(
            "SELECT * FROM radar_items WHERE topic_id = ? AND window = ? ORDER BY batch IS NULL, batch, rank",
            (topic_id, window),
        ).fetchall()
        papers = self.retriever.catalog.get_papers([r["paper_id"] for r in rows])
        items = []
        for r in rows:
            paper = papers.get(r["paper_id"])
            if paper is None:
                continue  # removed from the catalog since: never shown
            hit = Hit(paper, r["score"], r["relevance"], r["dense_rank"], r["lexical_rank"])
            items.append(
                {
                    "paper": paper,
                    "hit": hit,
                    "batch": r["batch"],
                    "followed": r["followed_author"],
                    "rank": r["rank"],
                }
            )
        return items

    @staticmethod
    def _next_batch_number(conn: sqlite3.Connection, topic_id: int, window: int) -> int:
        value = conn.execute(
            "SELECT coalesce(max(batch), 0) FROM radar_items WHERE topic_id = ? AND window = ?",
            (topic_id, window),
        ).fetchone()[0]
        return int(value) + 1


# --- helpers ------------------------------------------------------------------------------------------


def open_state(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(SCHEMA)
    return conn


def saved_fields(settings: Settings) -> list[str]:
    """Fields (categories/archives) of all saved topics, for `academichub ingest --daily`; [] if none."""
    if not settings.state_path.exists():
        return []
    conn = open_state(settings.state_path)
    try:
        rows = conn.execute("SELECT fields FROM radar_topics ORDER BY id").fetchall()
    finally:
        conn.close()
    return list(dict.fromkeys(f for row in rows for f in json.loads(row[0])))


def saved_topic_names(settings: Settings) -> list[str]:
    if not settings.state_path.exists():
        return []
    conn = open_state(settings.state_path)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM radar_topics ORDER BY id")]
    finally:
        conn.close()


def _clean_authors(authors: Sequence[str]) -> list[str]:
    clean: dict[str, str] = {}
    for author in authors:
        name = " ".join((author or "").split())
        if name:
            clean.setdefault(fold(name), name)
    return list(clean.values())


def _by_author(authors: Sequence[str], author_key: str) -> bool:
    return any(author_key in fold(a) for a in authors)


def _row_to_topic(row: sqlite3.Row) -> Topic:
    return Topic(
        name=row["name"],
        query=row["query"],
        fields=json.loads(row["fields"]),
        authors=json.loads(row["authors"]),
        created_at=float(row["created_at"]),
        last_visit=float(row["last_visit"]) if row["last_visit"] is not None else None,
    )


def _window_of(row: sqlite3.Row) -> _Window:
    if row["window_since"] is not None:
        since: datetime | None = datetime.fromtimestamp(float(row["window_since"]))
    elif row["window_first_day"]:
        first = int_to_date(row["window_first_day"])
        since = datetime.combine(first, datetime.min.time()) if first else None
    else:
        since = None
    return _Window(
        number=int(row["window_number"]),
        since=since,
        after=float(row["window_after"]) if row["window_after"] is not None else None,
        until=float(row["window_until"] or 0.0),
        first_day=row["window_first_day"],
        floor=row["window_floor"],
        created_at=float(row["created_at"]),
    )


def _since_phrase(window: _Window) -> str:
    if window.after is None:
        return f"in the latest listing ({_describe_since(window.since)})"
    return f"since your last visit ({_describe_since(window.since)})"


def _feed_message(
    topic: Topic,
    window: _Window,
    items: list[dict[str, Any]],
    shown: list[dict[str, Any]],
    remaining: int,
    author: str | None,
) -> str | None:
    since = _since_phrase(window)
    who = f" by {author.strip()!r}" if author and author.strip() else ""
    if not items:
        return f"nothing new for {topic.name!r}{who} {since}"
    if not shown:
        return (
            f"you have seen everything new for {topic.name!r}{who} {since} ({len(items)} papers); "
            "more after the next ingest"
        )
    if remaining == 0:
        return f"that is everything new for {topic.name!r}{who} {since} ({len(items)} papers)"
    return None


def daily_request(
    settings: Settings,
    catalog: Catalog,
    extra_categories: Sequence[str] = (),
    max_results: int | None = None,
    today: date | None = None,
) -> ArxivRequest:
    """What `academichub ingest --daily` fetches: yesterday's and today's submissions (UTC, arXiv's clock)
    in the fields of all saved topics. An archive field (`cs`) becomes its categories known to the index,
    because the arXiv API matches `cat:` exactly."""
    fields = list(
        dict.fromkeys([*saved_fields(settings), *(c.strip() for c in extra_categories if c.strip())])
    )
    if not fields:
        names = saved_topic_names(settings)
        if not names:
            raise RadarError(
                "--daily fetches the fields of your saved radar topics, and there are none yet: add one with "
                '`academichub radar add NAME --query "..." --field cs.LG`, or give --category'
            )
        raise RadarError(
            f"--daily fetches the fields of your saved radar topics, but {', '.join(names)} "
            "name no fields: add --field when saving a topic, or give --category"
        )
    known = list(catalog.known_categories())
    categories: list[str] = []
    for name in fields:
        members = [c for c in known if "." not in name and c.startswith(name + ".")]
        categories += members or [name]
    day = today or datetime.now(UTC).date()
    return ArxivRequest(
        categories=tuple(dict.fromkeys(categories)),
        since=day - timedelta(days=1),
        until=day,
        max_results=max_results,
    )
