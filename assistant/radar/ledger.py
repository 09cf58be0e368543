"""What the radar's delivery channels may read and write: feed tokens, what each channel was sent, and the
papers a channel may get next. Channels (`radar/channels.py`, driven by `radar/delivery.py`) use this
interface, never the radar's store or retriever: the radar service builds one over its own store and the
catalog (`Radar.deliveries`).

A channel is a string key: `mailto:` + its recipients, `webhook:` + a hash of its URL.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from assistant.radar.store import RadarStateStore, Window
from assistant.radar.windows import BACKFILL_SLACK_DAYS, window_paper_ids
from assistant.search.retrieval import make_filter
from assistant.store.catalog_store import CatalogStore

Cursor = tuple[float, date | None]  # (ingest time by which every match went to the channel, newest day then)


@dataclass(frozen=True)
class Undelivered:
    """The papers a channel's next digest chooses from (before topic matching) and where they start."""

    paper_ids: set[str]
    since: datetime | None
    cursor: Cursor  # where the channel's cursor goes once every match among `paper_ids` went there


class DeliveryLedger:
    """The radar store's delivery tables and the catalog reads that choose the papers of a digest, a feed
    or a topic's daily chart."""

    def __init__(self, store: RadarStateStore, catalog: CatalogStore) -> None:
        self._store = store
        self._catalog = catalog

    def feed_token(self, topic_id: int) -> str:
        """The topic's secret feed token (made on first use; kept until the topic is removed)."""
        return self._store.feed_token(topic_id, new_token=secrets.token_urlsafe(24))

    def topic_for_token(self, token: str) -> tuple[str, str] | None:
        """(owner, name) of the topic a feed token belongs to, or None (the token is the key: whoever
        holds it reads that feed)."""
        return self._store.topic_for_token(token)

    def has_papers(self) -> bool:
        return self._catalog.count() > 0

    def recent_paper_ids(self, days: int) -> set[str]:
        """The papers of the last `days` listing days up to the newest in the index (an Atom feed's span)."""
        _, newest = self._catalog.date_range()
        if newest is None:
            return set()
        return set(self._catalog.filter_ids(make_filter(since=newest - timedelta(days=days - 1))))

    def recent_papers_by_day(self, days: int) -> tuple[date | None, dict[date, set[str]]]:
        """The first of the last `days` listing days up to the newest in the index (None: no dated paper)
        and the papers published on each (a topic's chart counts its matches per day)."""
        _, newest = self._catalog.date_range()
        if newest is None:
            return None, {}
        start = newest - timedelta(days=days - 1)
        by_day: dict[date, set[str]] = {}
        ids = self._catalog.filter_ids(make_filter(since=start, until=newest))
        for paper in self._catalog.get_papers(ids).values():
            if paper.published:
                by_day.setdefault(paper.published, set()).add(paper.id)
        return start, by_day

    def undelivered(self, topic_id: int, created_at: float, channel: str) -> Undelivered:
        """The papers ingested since the channel's cursor (all matches ingested by then went there), minus
        those it already had. Before the channel's first complete delivery that is the listing that was
        newest when the topic was saved plus everything ingested after. Opens no radar visit."""
        until, newest_day = self._catalog.searchable_until(), self._catalog.date_range()[1]
        cursor = self._store.delivery_cursor(topic_id, channel)
        if cursor is None:
            first_day = self._catalog.newest_day_ingested_by(created_at) or newest_day
            window = Window(0, None, None, until, first_day, None, newest_day, created_at)
        else:
            after, day = cursor
            floor = day - timedelta(days=BACKFILL_SLACK_DAYS) if day else None
            window = Window(0, after, after, until, None, floor, newest_day, created_at)
        fresh = window_paper_ids(self._catalog, window) - self._store.delivered(topic_id, channel)
        return Undelivered(fresh, window.since, (until, newest_day))

    def record(self, topic_id: int, channel: str, paper_ids: Sequence[str], cursor: Cursor | None) -> None:
        """Papers sent on a channel; `cursor` when the channel now has every match up to it (a capped digest
        passes None, so the rest go next time)."""
        self._store.record_delivery(topic_id, channel, paper_ids, time.time(), cursor)
