"""The radar's store and window rules on their own: the store on both of its databases (a real SQLite state
file; a real PostgreSQL database), no catalog or model (fast). The radar's behaviour end to end is in
test_radar.py."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import numpy as np
import psycopg
import pytest
from conftest import make_settings

from assistant.core.paper import Paper
from assistant.radar.pg_store import RADAR_STEPS, PostgresRadarStore, copy_radar_from_sqlite
from assistant.radar.service import FeedItem, where_the_user_left_off
from assistant.radar.store import (
    FeedEntry,
    LibraryPaper,
    RadarStateStore,
    RadarStore,
    Topic,
    Window,
    open_radar_store,
)
from assistant.radar.windows import BACKFILL_SLACK_DAYS, next_window, since_phrase
from assistant.search.hit import Hit
from assistant.store.postgres.database import Database, DatabaseError, database

TABLES = (
    "radar_topics",
    "radar_items",
    "radar_feed_tokens",
    "radar_deliveries",
    "radar_library",
    "radar_delivery_cursors",
)


@pytest.fixture
def migrated_db(pg_url: str) -> Iterator[Database]:
    """A new PostgreSQL database with the radar schema, its pool closed afterwards."""
    db = database(pg_url)
    db.migrate(RADAR_STEPS)
    yield db
    db.close()


@pytest.fixture(params=["sqlite", "postgres"])
def radar_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RadarStateStore]:
    """An empty radar state store on each database."""
    if request.param == "sqlite":
        store: RadarStateStore = RadarStore(tmp_path / "state.sqlite3")
    else:
        store = PostgresRadarStore(request.getfixturevalue("migrated_db"))
    yield store
    store.close()


def _entry(pid: str, rank: int) -> FeedEntry:
    return FeedEntry(pid, rank, 1.0 / rank, 0.5, rank, None, None, None)


def test_first_window_covers_the_newest_listing_day_and_later_ones_what_came_after() -> None:
    first = next_window(
        None, created_at=100.0, last_visit=None, newest_ingested=50.0, newest_day=date(2026, 6, 4)
    )
    assert (first.number, first.after, first.until, first.first_day) == (1, None, 50.0, date(2026, 6, 4))
    assert first.since == datetime(2026, 6, 4)
    assert since_phrase(first) == "in the latest listing (2026-06-04)"

    visited = time.time()
    second = next_window(
        first, created_at=100.0, last_visit=visited, newest_ingested=80.0, newest_day=date(2026, 6, 5)
    )
    assert (second.number, second.after, second.until, second.first_day) == (2, 50.0, 80.0, None)
    # Papers published a week before the newest day the previous window saw are a backfill, not news.
    assert BACKFILL_SLACK_DAYS == 7 and second.floor == date(2026, 5, 28)
    assert second.since == datetime.fromtimestamp(visited)
    assert since_phrase(second).startswith("since your last visit (")


def test_store_keeps_topics_windows_and_the_feed_in_the_order_a_user_meets_it(
    radar_store: RadarStateStore,
) -> None:
    store = radar_store
    assert store.saved_fields() == [] and store.saved_topic_names() == []
    topic = Topic("LLM agents", "agents", ["cs.AI", "cs"], [], 100.0, None)
    assert store.add_topic(topic, "llm agents", "")
    assert not store.add_topic(Topic("llm AGENTS", "x", [], [], 101.0, None), "llm agents", "")  # name taken
    stored = store.find_topic("", "llm agents")
    assert stored is not None and stored.topic == topic and stored.window is None

    window = next_window(None, created_at=100.0, last_visit=None, newest_ingested=50.0, newest_day=None)
    with store.transaction():
        store.open_window(stored.id, window, visit_at=200.0)
        store.add_entries(stored.id, 1, [_entry("a", 1), _entry("b", 2), _entry("c", 3)])
        store.mark_shown(stored.id, 1, 1, ["b"], when=201.0)
    reread = store.get_topic(stored.id)
    assert reread.window == window and reread.topic.last_visit == 200.0
    assert [(e.paper_id, e.batch) for e in store.entries(stored.id, 1)] == [
        ("b", 1),
        ("a", None),
        ("c", None),
    ]
    assert store.next_batch_number(stored.id, 1) == 2 and store.last_rank(stored.id, 1) == 3

    # A new window drops the old window's unseen papers; what was shown stays seen for good.
    later = next_window(window, created_at=100.0, last_visit=200.0, newest_ingested=60.0, newest_day=None)
    with store.transaction():
        store.open_window(stored.id, later, visit_at=300.0)
    assert [(e.paper_id, e.batch) for e in store.entries(stored.id, 1)] == [("b", 1)]
    assert store.seen_ids(stored.id) == {"b"}
    assert store.window_paper_ids(stored.id, 2) == []

    store.set_authors(stored.id, ["Jane Doe"])
    assert store.get_topic(stored.id).topic.authors == ["Jane Doe"]
    assert store.saved_fields() == ["cs.AI", "cs"] and store.saved_topic_names() == ["LLM agents"]
    store.remove_topic(stored.id)
    assert store.topics("") == [] and store.seen_ids(stored.id) == set()


def test_reading_saved_topics_creates_no_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = RadarStore(path)
    assert store.saved_fields() == [] and store.saved_topic_names() == []
    assert not path.exists()


def test_reopening_the_feed_shows_the_latest_batch_until_everything_was_shown() -> None:
    def item(pid: str, batch: int | None) -> FeedItem:
        return FeedItem(Hit(Paper(id=pid, title=pid, abstract="."), 1.0, 0.5), None, batch)

    items = [item("a", 1), item("b", 2), item("c", 2), item("d", None)]
    shown, number = where_the_user_left_off(items)
    assert [i.hit.paper.id for i in shown] == ["b", "c"] and number == 2
    assert where_the_user_left_off(items[:3]) == ([], 0)  # nothing unseen left: no old papers again
    assert where_the_user_left_off([item("d", None)]) == ([], 0)  # nothing shown yet


def test_store_keeps_a_library_topics_papers_feed_token_and_deliveries(radar_store: RadarStateStore) -> None:
    store = radar_store
    assert store.add_topic(Topic("Agents", "agents", [], [], 100.0, None), "agents", "")
    stored = store.find_topic("", "agents")
    assert stored is not None
    vector = np.arange(4, dtype=np.float32) / 4
    store.add_library(
        stored.id,
        [
            LibraryPaper(0, "In the index", "2606.04730", "arXiv id", None),
            LibraryPaper(1, "Outside the index", None, None, vector),
        ],
    )
    library = store.library(stored.id)
    assert [(p.title, p.paper_id, p.matched_by) for p in library] == [
        ("In the index", "2606.04730", "arXiv id"),
        ("Outside the index", None, None),
    ]
    assert library[0].vector is None and library[1].vector is not None
    assert np.array_equal(library[1].vector, vector)

    token = store.feed_token(stored.id, new_token="first")
    assert token == "first" and store.feed_token(stored.id, new_token="second") == "first"  # kept
    assert store.topic_for_token("first") == ("", "Agents") and store.topic_for_token("second") is None

    store.record_delivery(stored.id, "mailto:a@example.org", ["2606.04730"], when=200.0)
    store.record_delivery(stored.id, "mailto:a@example.org", ["2606.04730", "2606.00001"], when=300.0)
    assert store.delivered(stored.id, "mailto:a@example.org") == {"2606.04730", "2606.00001"}
    assert store.delivered(stored.id, "webhook:abc") == set()
    assert store.delivered_ids(stored.id) == {"2606.04730", "2606.00001"}
    assert store.delivery_cursor(stored.id, "webhook:abc") is None
    store.record_delivery(stored.id, "webhook:abc", [], when=300.0, cursor=(250.0, date(2026, 6, 5)))
    store.record_delivery(stored.id, "webhook:abc", ["x"], when=400.0, cursor=(350.0, None))
    assert store.delivery_cursor(stored.id, "webhook:abc") == (350.0, None)

    store.remove_topic(stored.id)  # its library, token and deliveries go with it
    assert store.library(stored.id) == [] and store.topic_for_token("first") is None
    assert store.delivered(stored.id, "mailto:a@example.org") == set()
    assert store.delivery_cursor(stored.id, "webhook:abc") is None


def _topic(name: str, created_at: float, fields: list[str] | None = None) -> Topic:
    return Topic(name, name.lower(), fields or [], [], created_at, None)


def _first_window(until: float = 50.0) -> Window:
    return Window(1, None, None, until, date(2026, 6, 4), None, date(2026, 6, 4), 100.0)


def test_a_topic_is_its_owners_only(radar_store: RadarStateStore) -> None:
    store = radar_store
    assert store.add_topic(_topic("Agents", 100.0), "agents", "alice")
    assert store.add_topic(_topic("Agents", 101.0), "agents", "bob")  # the same name, another owner
    assert store.add_topic(_topic("Other", 102.0), "other", "bob")
    alice = store.find_topic("alice", "agents")
    bob = store.find_topic("bob", "agents")
    assert alice is not None and bob is not None and alice.id != bob.id
    assert [t.topic.name for t in store.topics("alice")] == ["Agents"]
    assert [(t.topic.name, t.owner) for t in store.topics("bob")] == [("Agents", "bob"), ("Other", "bob")]
    assert store.topics("carol") == [] and store.find_topic("carol", "agents") is None
    assert store.find_topic_by_id(alice.id, "bob") is None
    assert store.find_topic_by_id(alice.id, "alice") == alice

    other = store.find_topic("bob", "other")
    assert other is not None
    assert not store.rename_topic(other.id, "AGENTS", "agents")  # bob has one of that name
    assert store.rename_topic(other.id, "Alice's name", "agents 2")
    assert store.get_topic(other.id).topic.name == "Alice's name"
    store.feed_token(bob.id, new_token="bobs")
    assert store.topic_for_token("bobs") == ("bob", "Agents")
    assert store.saved_topic_names() == ["Agents", "Agents", "Alice's name"]


def test_two_sessions_cannot_both_open_the_same_visit(radar_store: RadarStateStore) -> None:
    """The second session waits for the first one's transaction and then finds the visit opened."""
    store = radar_store
    assert store.add_topic(_topic("Agents", 100.0), "agents", "")
    inside = threading.Event()
    opened: list[str] = []

    def visit(session: str, pause: float) -> None:
        with store.transaction():
            stored = store.find_topic("", "agents")
            inside.set()
            if stored is not None and stored.window is None:
                time.sleep(pause)  # the other session tries now
                store.open_window(stored.id, _first_window(), visit_at=time.time())
                store.add_entries(stored.id, 1, [_entry("a", 1)])
                opened.append(session)

    first = threading.Thread(target=visit, args=("first", 0.5))
    first.start()
    assert inside.wait(10)
    visit("second", 0.0)
    first.join(10)
    assert opened == ["first"]
    stored = store.find_topic("", "agents")
    assert stored is not None and [e.paper_id for e in store.entries(stored.id, 1)] == ["a"]


def test_a_failed_transaction_leaves_nothing_behind(radar_store: RadarStateStore) -> None:
    store = radar_store
    assert store.add_topic(_topic("Agents", 100.0), "agents", "")
    stored = store.find_topic("", "agents")
    assert stored is not None
    with pytest.raises(RuntimeError), store.transaction():
        store.open_window(stored.id, _first_window(), visit_at=200.0)
        store.add_entries(stored.id, 1, [_entry("a", 1)])
        raise RuntimeError("the ranking failed")
    assert store.get_topic(stored.id).window is None and store.entries(stored.id, 1) == []


# --- PostgreSQL only: the schema is required, and a SQLite state file moves in --------------------------


def test_the_radar_state_goes_where_the_settings_say(tmp_path: Path, pg_url: str) -> None:
    assert isinstance(open_radar_store(make_settings(tmp_path / "sqlite")), RadarStore)
    settings = make_settings(tmp_path / "pg").replace(storage={"database_url": pg_url})
    db = database(pg_url, settings.storage.database_pool_size)
    try:
        with pytest.raises(DatabaseError, match=r"holds no radar state yet\. Run `academichub migrate`"):
            open_radar_store(settings)
        db.migrate(RADAR_STEPS[:2])
        with pytest.raises(DatabaseError, match="missing: radar-library, radar-delivery-cursors"):
            open_radar_store(settings)
        assert db.migrate(RADAR_STEPS) == ["radar-library", "radar-delivery-cursors"]
        store = open_radar_store(settings)
        assert isinstance(store, PostgresRadarStore) and store.topics("") == []
        assert not (tmp_path / "pg" / "state.sqlite3").exists()
    finally:
        db.close()


def _sqlite_state(path: Path) -> RadarStore:
    """A state file with what a radar accumulates: owners, a removed topic (an id gap), a window with shown
    and unseen papers, feed tokens, deliveries with a cursor and a library with a vector."""
    store = RadarStore(path)
    for name, owner, created in [
        ("LLM agents", "", 100.0),
        ("Gone", "", 101.0),
        ("Agents", "alice", 1781234567.1234567),
    ]:
        assert store.add_topic(_topic(name, created, ["cs.AI"]), name.lower(), owner)
    assert store.add_topic(_topic("Library", 103.0, ["cs.LG"]), "library", "bob")
    gone = store.find_topic("", "gone")
    assert gone is not None
    store.remove_topic(gone.id)
    first, alice, bob = (
        store.find_topic(o, k) for o, k in [("", "llm agents"), ("alice", "agents"), ("bob", "library")]
    )
    assert first is not None and alice is not None and bob is not None
    with store.transaction():
        store.open_window(first.id, _first_window(), visit_at=1781234600.987654)
        store.add_entries(first.id, 1, [_entry("a", 1), _entry("b", 2), _entry("c", 3)])
        store.mark_shown(first.id, 1, 1, ["b"], when=201.25)
    store.feed_token(first.id, new_token="token-first")
    store.feed_token(alice.id, new_token="token-alice")
    store.record_delivery(alice.id, "mailto:a@example.org", ["x", "y"], 300.0, (299.5, date(2026, 6, 5)))
    vector = np.linspace(0, 1, 8, dtype=np.float32)
    store.add_library(
        bob.id,
        [LibraryPaper(0, "Known", "2606.1", "arXiv id", None), LibraryPaper(1, "Not", None, None, vector)],
    )
    return store


def _sqlite_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES}
    finally:
        conn.close()


def _pg_rows(db: Database) -> dict[str, list[str]]:
    """Every radar row in the database, comparable between two moments."""
    with db.connection() as conn:
        return {
            table: sorted(repr(row) for row in conn.execute(f"SELECT * FROM {table}")) for table in TABLES
        }


def test_a_sqlite_state_file_moves_into_postgresql_unchanged(tmp_path: Path, migrated_db: Database) -> None:
    path = tmp_path / "state.sqlite3"
    sqlite_store = _sqlite_state(path)
    counts = _sqlite_counts(path)
    assert counts == {
        "radar_topics": 3,
        "radar_items": 3,
        "radar_feed_tokens": 2,
        "radar_deliveries": 2,
        "radar_library": 2,
        "radar_delivery_cursors": 1,
    }
    assert copy_radar_from_sqlite(path, migrated_db) == counts

    pg = PostgresRadarStore(migrated_db)
    for owner in ("", "alice", "bob"):
        assert pg.topics(owner) == sqlite_store.topics(owner)  # ids, owners, windows, times
    assert [t.id for t in pg.topics("")] == [1] and [t.id for t in pg.topics("bob")] == [4]
    assert pg.saved_topic_names() == sqlite_store.saved_topic_names()
    assert pg.saved_fields() == ["cs.AI", "cs.LG"]
    assert pg.entries(1, 1) == sqlite_store.entries(1, 1) and pg.seen_ids(1) == {"b"}
    assert pg.feed_token(1, new_token="other") == "token-first" and pg.topic_for_token("token-alice") == (
        "alice",
        "Agents",
    )
    assert pg.delivered(3, "mailto:a@example.org") == {"x", "y"}
    assert pg.delivery_cursor(3, "mailto:a@example.org") == (299.5, date(2026, 6, 5))
    copied, original = pg.library(4), sqlite_store.library(4)
    assert [(p.position, p.title, p.paper_id, p.matched_by) for p in copied] == [
        (p.position, p.title, p.paper_id, p.matched_by) for p in original
    ]
    assert copied[0].vector is None and copied[1].vector is not None and original[1].vector is not None
    assert np.array_equal(copied[1].vector, original[1].vector)

    before = _pg_rows(migrated_db)
    assert copy_radar_from_sqlite(path, migrated_db) == dict.fromkeys(TABLES, 0)  # a re-run copies nothing
    assert _pg_rows(migrated_db) == before
    assert pg.add_topic(_topic("New", 500.0), "new", "")
    new = pg.find_topic("", "new")
    assert new is not None and new.id == 5  # past the copied ids
    sqlite_store.close()


def test_copying_refuses_a_database_holding_other_topics(tmp_path: Path, migrated_db: Database) -> None:
    path = tmp_path / "state.sqlite3"
    _sqlite_state(path).close()
    pg = PostgresRadarStore(migrated_db)
    assert pg.add_topic(_topic("Someone else's", 1.0), "someone else's", "")  # id 1, a different topic
    before = _pg_rows(migrated_db)
    with pytest.raises(DatabaseError, match="clashes with a different topic"):
        copy_radar_from_sqlite(path, migrated_db)
    assert _pg_rows(migrated_db) == before

    missing = tmp_path / "none" / "state.sqlite3"
    assert copy_radar_from_sqlite(missing, migrated_db) == dict.fromkeys(TABLES, 0)
    assert not missing.exists()


def test_constraint_errors_stay_the_callers_on_postgresql(migrated_db: Database) -> None:
    """A library position taken twice fails as with SQLite, and the failed call leaves nothing."""
    pg = PostgresRadarStore(migrated_db)
    assert pg.add_topic(_topic("Agents", 1.0), "agents", "")
    stored = pg.find_topic("", "agents")
    assert stored is not None
    pg.add_library(stored.id, [LibraryPaper(0, "A", None, None, None)])
    with pytest.raises(psycopg.IntegrityError):
        pg.add_library(stored.id, [LibraryPaper(0, "B", None, None, None)])
    assert [p.title for p in pg.library(stored.id)] == ["A"]
