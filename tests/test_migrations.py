"""Both SQLite files (the catalog, the radar state) record their named migrations and apply the missing
ones, in order, when opened. A file written by any earlier release has no record: its shape says which
steps it already has, only the others run, and nothing in it is lost.

The shapes are those each release left on disk, rebuilt from the schema text of the commit that shipped it
(tests/data/schemas, copied from the history) plus the steps that release's own migration ran."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from conftest import DATA_DIR

from assistant.radar.store import RADAR_MIGRATIONS, RadarStore, Topic
from assistant.store.catalog import Catalog
from assistant.store.migrations import applied, migrate
from assistant.store.schema import CATALOG_MIGRATIONS, LATE_INDEXES, SCHEMA

SCHEMAS = DATA_DIR / "schemas"
CATALOG_STEPS = [step.name for step in CATALOG_MIGRATIONS]
RADAR_STEPS = [step.name for step in RADAR_MIGRATIONS]


def _script(*names: str) -> str:
    return "\n".join((SCHEMAS / name).read_text(encoding="utf-8") for name in names)


# What each release left in a catalog: the first schema (97d7a08); papers get a source (6f2cc23, with its
# index); lexical rows keyed by rowid (4bc87e3, user_version 1); the unembedded index (fec5219); the
# author and pending indexes (54e27f1, 14f3588: what main wrote until named migrations).
CATALOG_RELEASES: dict[str, tuple[str, list[str]]] = {
    "97d7a08": (_script("catalog-97d7a08.sql"), CATALOG_STEPS),
    "6f2cc23": (
        _script("catalog-6f2cc23.sql") + "CREATE INDEX papers_source ON papers(source);",
        ["catalog-tables", "papers-by-source-and-unembedded", "fts-rows-keyed-by-rowid"],
    ),
    "4bc87e3": (
        _script("catalog-6f2cc23.sql")
        + "CREATE INDEX papers_source ON papers(source); PRAGMA user_version = 1;",
        ["catalog-tables", "papers-by-source-and-unembedded"],
    ),
    "fec5219": (
        _script("catalog-6f2cc23.sql") + LATE_INDEXES + "PRAGMA user_version = 1;",
        ["catalog-tables"],
    ),
    "e9f5b6f": (SCHEMA + LATE_INDEXES + "PRAGMA user_version = 1;", []),
}


def _old_catalog(path: Path, script: str) -> None:
    """A catalog of that release with two papers. Releases before lexical rows were keyed by rowid wrote
    them at other rowids than their papers (after an update); later ones at the paper's own."""
    paper_sql = (
        "INSERT INTO papers (id, version, title, abstract, title_original, abstract_original, authors, "
        "authors_folded, categories, primary_category, published, record_hash, content_hash, embedded_hash, "
        "ingested_at, changed_at) VALUES (?, 1, ?, 'An abstract.', ?, 'An abstract.', ?, 'ada lovelace', ?, "
        "'cs.LG', 20260603, 'r', 'c', 'c', 1.0, 1.0)"
    )
    papers = [("2606.00001", "Sparse attention for long documents"), ("2606.00002", "Unlearning")]
    with sqlite3.connect(path) as conn:
        conn.executescript(script)
        keyed_by_rowid = conn.execute("PRAGMA user_version").fetchone()[0] >= 1
        for pid, title in papers:
            conn.execute(paper_sql, (pid, title, title, json.dumps(["Ada Lovelace"]), json.dumps(["cs.LG"])))
            conn.execute("INSERT INTO paper_categories VALUES (?, 'cs.LG', 'cs')", (pid,))
        for pid, title in papers if keyed_by_rowid else reversed(papers):
            conn.execute(
                "INSERT INTO papers_fts (rowid, id, title, abstract, authors, comment) VALUES "
                "((SELECT rowid FROM papers WHERE id = ?) + ?, ?, ?, 'An abstract.', 'Ada Lovelace', '')",
                (pid, 0 if keyed_by_rowid else 10, pid, title),
            )
    conn.close()


@pytest.mark.parametrize("release", list(CATALOG_RELEASES))
def test_a_catalog_of_each_release_gets_only_the_steps_it_lacks(tmp_path: Path, release: str) -> None:
    script, missing = CATALOG_RELEASES[release]
    path = tmp_path / "catalog.sqlite3"
    _old_catalog(path, script)
    with sqlite3.connect(path) as conn:
        assert migrate(conn, CATALOG_MIGRATIONS) == missing
        assert applied(conn) == CATALOG_STEPS  # recognised steps are recorded too, in order
        assert migrate(conn, CATALOG_MIGRATIONS) == []  # opening again changes nothing
    conn.close()


@pytest.mark.parametrize("release", list(CATALOG_RELEASES))
def test_an_upgraded_catalog_keeps_its_papers_and_finds_them_by_their_words(
    tmp_path: Path, release: str
) -> None:
    path = tmp_path / "catalog.sqlite3"
    _old_catalog(path, CATALOG_RELEASES[release][0])
    catalog = Catalog(path)
    try:
        assert catalog.count() == 2 and catalog.source_counts() == {"arxiv": 2}
        paper = catalog.get_paper("2606.00001")
        assert paper is not None and paper.published == date(2026, 6, 3) and paper.authors == ["Ada Lovelace"]
        assert [pid for pid, _ in catalog.lexical_search("sparse attention", 5)] == ["2606.00001"]
    finally:
        catalog.close()
    with sqlite3.connect(path) as conn:
        mismatched = "SELECT count(*) FROM papers p JOIN papers_fts f ON f.id = p.id WHERE f.rowid != p.rowid"
        assert conn.execute(mismatched).fetchone()[0] == 0
        assert applied(conn) == CATALOG_STEPS
    conn.close()


def test_the_committed_old_index_is_upgraded_with_every_step(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    path.write_bytes((DATA_DIR / "index-cfa0666" / "catalog.sqlite3").read_bytes())
    with sqlite3.connect(path) as conn:
        assert migrate(conn, CATALOG_MIGRATIONS) == CATALOG_STEPS
    conn.close()
    catalog = Catalog(path)
    try:
        assert catalog.count() == 15
    finally:
        catalog.close()


def test_a_new_catalog_records_every_step(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    catalog.close()
    with sqlite3.connect(tmp_path / "catalog.sqlite3") as conn:
        assert applied(conn) == CATALOG_STEPS
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


# What each release left in the radar state: topics and feeds (42dccc0); feed tokens and deliveries
# (acdecc0); library topics (b2469a5); per-channel delivery cursors (b383972: until named migrations). All
# of them kept a signed-in user's topic as "@user/name"; owners became a column in radar-topic-owners.
PREFIXED_STEPS = RADAR_MIGRATIONS[:4]  # the steps of every release before topic owners
RADAR_RELEASES: dict[str, tuple[Callable[[], str], list[str]]] = {
    "42dccc0": (lambda: _script("radar-42dccc0.sql"), RADAR_STEPS[1:]),
    "acdecc0": (lambda: _script("radar-acdecc0.sql"), RADAR_STEPS[2:]),
    "b2469a5": (lambda: _script("radar-b2469a5.sql"), RADAR_STEPS[3:]),
    "b383972": (lambda: "\n".join(_script_of(step) for step in PREFIXED_STEPS), RADAR_STEPS[4:]),
}


def _script_of(step: object) -> str:
    from assistant.radar import store

    scripts = {
        "radar-topics-and-feeds": store.TOPICS_AND_FEEDS,
        "radar-feed-tokens-and-deliveries": store.FEED_TOKENS_AND_DELIVERIES,
        "radar-library": store.LIBRARY,
        "radar-delivery-cursors": store.DELIVERY_CURSORS,
    }
    return scripts[step.name]  # type: ignore[attr-defined]


@pytest.mark.parametrize("release", list(RADAR_RELEASES))
def test_the_radar_state_of_each_release_keeps_its_topics_and_gains_the_new_tables(
    tmp_path: Path, release: str
) -> None:
    script, missing = RADAR_RELEASES[release]
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(script())
        conn.execute(
            "INSERT INTO radar_topics (name, name_key, query, fields, authors, created_at) "
            "VALUES ('Unlearning', 'unlearning', 'machine unlearning', '[]', '[\"Ada Lovelace\"]', 1.0)"
        )
        conn.execute(
            "INSERT INTO radar_topics (name, name_key, query, fields, authors, created_at) "
            "VALUES ('@alice/Unlearning', '@alice/unlearning', 'unlearning', '[]', '[]', 2.0)"
        )
        conn.execute(
            "INSERT INTO radar_items (topic_id, window, paper_id, rank, score, relevance, batch, shown_at) "
            "VALUES (1, 1, '2606.00001', 1, 0.5, 0.6, 1, 2.0)"
        )
        assert migrate(conn, RADAR_MIGRATIONS) == missing
        assert applied(conn) == RADAR_STEPS
    conn.close()

    store = RadarStore(path)
    try:
        [topic] = store.topics("")
        assert topic.topic.name == "Unlearning" and topic.topic.authors == ["Ada Lovelace"]
        [hers] = store.topics("alice")
        assert (hers.id, hers.topic.name, hers.owner) == (2, "Unlearning", "alice")
        assert store.seen_ids(topic.id) == {"2606.00001"}
        token = store.feed_token(topic.id, new_token="t0ken")  # the delivery tables work
        assert store.topic_for_token(token) == ("", "Unlearning")
        store.record_delivery(topic.id, "mailto:a@lab.test", ["2606.00001"], 3.0, (3.0, date(2026, 6, 3)))
        assert store.delivery_cursor(topic.id, "mailto:a@lab.test") == (3.0, date(2026, 6, 3))
    finally:
        store.close()


def _prefixed_state(path: Path) -> None:
    """A radar state as the release before topic owners left it (its migrations recorded): alice's "x" as
    "@alice/x" with a window's papers, a library, a feed token and a delivery; the no-login user's "x"."""
    conn = sqlite3.connect(path)
    migrate(conn, PREFIXED_STEPS)
    topic_sql = (
        "INSERT INTO radar_topics (id, name, name_key, query, fields, authors, created_at, window_number, "
        "window_until) VALUES (?, ?, ?, ?, '[\"cs.LG\"]', '[\"Ada Lovelace\"]', ?, 1, 5.0)"
    )
    with conn:
        conn.execute(topic_sql, (7, "@alice/x", "@alice/x", "alice's query", 1.0))
        conn.execute(topic_sql, (9, "x", "x", "the shared query", 2.0))
        conn.execute(
            "INSERT INTO radar_items (topic_id, window, paper_id, rank, score, relevance, batch, shown_at) "
            "VALUES (7, 1, '2606.00001', 1, 0.5, 0.6, 1, 2.0)"
        )
        conn.execute("INSERT INTO radar_library (topic_id, position, title) VALUES (7, 0, 'A paper')")
        conn.execute("INSERT INTO radar_feed_tokens (topic_id, token) VALUES (7, 'alices-token')")
        conn.execute("INSERT INTO radar_feed_tokens (topic_id, token) VALUES (9, 'shared-token')")
        conn.execute(
            "INSERT INTO radar_deliveries (topic_id, channel, paper_id, sent_at) "
            "VALUES (7, 'mailto:a@lab.test', '2606.00001', 3.0)"
        )
        conn.execute(
            "INSERT INTO radar_delivery_cursors (topic_id, channel, until, newest_day) "
            "VALUES (7, 'mailto:a@lab.test', 3.0, 20260603)"
        )
    conn.close()


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_prefixed_topics_get_their_owner_in_place_and_a_second_open_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    _prefixed_state(path)

    store = RadarStore(path)
    try:
        [hers], [shared] = store.topics("alice"), store.topics("")
        assert (hers.id, hers.owner, hers.topic.name, hers.topic.query) == (7, "alice", "x", "alice's query")
        assert (shared.id, shared.owner, shared.topic.name) == (9, "", "x")
        assert hers.topic.authors == ["Ada Lovelace"] and hers.window is not None
        assert store.find_topic("alice", "x") == hers and store.find_topic("bob", "x") is None
        assert store.find_topic_by_id(7, "alice") == hers and store.find_topic_by_id(7, "") is None
        # Its window, library, token and delivery rows are still its own; tokens are unchanged.
        assert store.seen_ids(7) == {"2606.00001"} and [p.title for p in store.library(7)] == ["A paper"]
        assert store.topic_for_token("alices-token") == ("alice", "x")
        assert store.topic_for_token("shared-token") == ("", "x")
        assert store.delivered(7, "mailto:a@lab.test") == {"2606.00001"}
        assert store.delivery_cursor(7, "mailto:a@lab.test") == (3.0, date(2026, 6, 3))
        # Names are unique per owner: bob may have an "x", alice no second one; foreign keys are back on.
        assert store.add_topic(Topic("X", "q", [], [], 4.0, None), "x", "bob")
        assert not store.add_topic(Topic("X", "q", [], [], 4.0, None), "x", "alice")
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert applied(store.db) == RADAR_STEPS
    finally:
        store.close()

    before = _dump(path)
    conn = sqlite3.connect(path)
    assert migrate(conn, RADAR_MIGRATIONS) == []  # opened again: nothing runs
    conn.close()
    again = RadarStore(path)
    again.topics("alice")
    again.close()
    assert _dump(path) == before


def test_the_owner_step_refuses_to_run_with_foreign_keys_on(tmp_path: Path) -> None:
    """Dropping the old topics table with foreign keys on would delete every topic's papers and tokens."""
    path = tmp_path / "state.sqlite3"
    _prefixed_state(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=ON")
    with pytest.raises(RuntimeError, match="foreign keys off"):
        migrate(conn, RADAR_MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM radar_items").fetchone()[0] == 1  # rolled back, nothing lost
    conn.close()
