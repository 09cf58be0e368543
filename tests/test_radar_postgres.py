"""The radar with its state in PostgreSQL gives the same feeds as with SQLite: the same real catalog (two
listing days of the bundled sample, SQLite and Chroma), the same topic and visits, one radar on each state
store. The stores themselves, on both databases, are in test_radar_store.py."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import make_settings
from test_radar import DAYS, LLM_QUERY, daily_files, day1_home, ingest_day  # noqa: F401 (fixtures)

from assistant.compose.briefing import Briefer
from assistant.core.lazy import Lazy
from assistant.engine import build_retriever
from assistant.radar.pg_store import RADAR_STEPS, PostgresRadarStore
from assistant.radar.service import Radar
from assistant.radar.store import RadarStateStore, RadarStore
from assistant.store.embedding import Embedder
from assistant.store.postgres.database import database

TOPIC, OWNER = "LLM agents", "alice"


def _no_briefer() -> Briefer:
    raise AssertionError("these feeds need no briefing")


def _radar(home: Path, embedder: Embedder, store: RadarStateStore) -> Radar:
    settings = make_settings(home)
    return Radar(settings, build_retriever(settings, embedder=embedder), store, Lazy(_no_briefer))


def _whole_feed(radar: Radar) -> list[list[str]]:
    """The visit's batches, paged until the radar says everything new was shown."""
    result = radar.feed(TOPIC, batch=3, owner=OWNER)
    batches = [[hit.paper.id for hit in result.items]]
    while not result.exhausted:
        result = radar.feed(TOPIC, batch=3, next_batch=True, owner=OWNER)
        batches.append([hit.paper.id for hit in result.items])
    return batches


def test_feeds_are_the_same_with_the_radar_state_in_postgresql(
    tmp_path: Path,
    embedder: Embedder,
    daily_files: dict[str, Path],  # noqa: F811
    day1_home: Path,  # noqa: F811
    pg_url: str,
) -> None:
    db = database(pg_url)
    db.migrate(RADAR_STEPS)
    homes = [Path(shutil.copytree(day1_home, tmp_path / name)) for name in ("sqlite", "pg")]
    radars = [
        _radar(homes[0], embedder, RadarStore(homes[0] / "state.sqlite3")),
        _radar(homes[1], embedder, PostgresRadarStore(db)),
    ]
    try:
        for radar in radars:
            radar.add_topic(TOPIC, LLM_QUERY, owner=OWNER)
            radar.follow_author(TOPIC, "Jane Doe", owner=OWNER)
        for number, day in enumerate(DAYS[:2]):
            if number:
                for radar in radars:
                    ingest_day(radar.settings, embedder, daily_files[day])
            sqlite_feed, pg_feed = (_whole_feed(radar) for radar in radars)
            assert pg_feed == sqlite_feed and any(pg_feed), day
            assert radars[1].feed(TOPIC, owner=OWNER).exhausted  # nothing shown twice
        assert radars[1].list_topics(owner="bob") == [] and radars[1].store.saved_topic_names() == [TOPIC]
        assert not (homes[1] / "state.sqlite3").exists()  # the PostgreSQL radar wrote no state file
    finally:
        for radar in radars:
            radar.close()
        db.close()
