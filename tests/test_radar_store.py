"""The radar's store and window rules on their own: a real SQLite state file, no catalog or model (fast).
The radar's behaviour end to end is in test_radar.py."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import numpy as np

from assistant.core.paper import Paper
from assistant.radar.service import FeedItem, where_the_user_left_off
from assistant.radar.store import (
    FeedEntry,
    LibraryPaper,
    RadarStore,
    Topic,
    saved_fields,
    saved_topic_names,
)
from assistant.radar.windows import BACKFILL_SLACK_DAYS, next_window, since_phrase
from assistant.search.hit import Hit


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


def test_store_keeps_topics_windows_and_the_feed_in_the_order_a_user_meets_it(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    assert saved_fields(path) == [] and saved_topic_names(path) == []
    store = RadarStore(path)
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
    assert saved_fields(path) == ["cs.AI", "cs"] and saved_topic_names(path) == ["LLM agents"]
    store.remove_topic(stored.id)
    assert store.topics("") == [] and store.seen_ids(stored.id) == set()
    store.close()


def test_reopening_the_feed_shows_the_latest_batch_until_everything_was_shown() -> None:
    def item(pid: str, batch: int | None) -> FeedItem:
        return FeedItem(Hit(Paper(id=pid, title=pid, abstract="."), 1.0, 0.5), None, batch)

    items = [item("a", 1), item("b", 2), item("c", 2), item("d", None)]
    shown, number = where_the_user_left_off(items)
    assert [i.hit.paper.id for i in shown] == ["b", "c"] and number == 2
    assert where_the_user_left_off(items[:3]) == ([], 0)  # nothing unseen left: no old papers again
    assert where_the_user_left_off([item("d", None)]) == ([], 0)  # nothing shown yet


def test_store_keeps_a_library_topics_papers_feed_token_and_deliveries(tmp_path: Path) -> None:
    store = RadarStore(tmp_path / "state.sqlite3")
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

    store.remove_topic(stored.id)  # its library, token and deliveries go with it
    assert store.library(stored.id) == [] and store.topic_for_token("first") is None
    assert store.delivered(stored.id, "mailto:a@example.org") == set()
    store.close()
