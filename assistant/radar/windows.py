"""What a radar visit covers: the rules that open a topic's next window over the catalog, and how a window
is described to the user ("in the latest listing (2026-06-04)", "since your last visit (...)").

The rules in full are in `assistant.radar.service`'s docstring. Windows are pure values (`Window`, stored by
`RadarStateStore`); the catalog answers which papers fall in one.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from assistant.core.i18n import t
from assistant.radar.store import Window
from assistant.store.catalog_store import CatalogStore

# Papers published this many days before the newest listing day a window saw are a backfill, not news.
BACKFILL_SLACK_DAYS = 7


def catalog_moved(catalog: CatalogStore, window: Window | None) -> bool:
    """True when a visit should open: never visited, or papers entered the catalog (with their vectors:
    `Catalog.searchable_until`) after the window."""
    return window is None or catalog.searchable_until() > window.until


def next_window(
    previous: Window | None,
    *,
    created_at: float,
    last_visit: float | None,
    newest_ingested: float,
    newest_day: date | None,
    backfill_days: int = 1,
    oldest_day: date | None = None,
) -> Window:
    """The window a new visit opens: what `previous` did not cover, up to the catalog's newest paper.

    `newest_ingested`/`newest_day` are the catalog's newest ingest time and listing day now; the first
    window covers the last `backfill_days` listing days up to the newest (not before `oldest_day`, the
    catalog's oldest), plus anything ingested after the topic was created."""
    if previous is None:
        first_day = newest_day
        if newest_day is not None and backfill_days > 1:
            first_day = newest_day - timedelta(days=backfill_days - 1)
            if oldest_day is not None:
                first_day = max(first_day, oldest_day)
        return Window(
            number=1,
            previous_visit=None,
            after=None,
            until=newest_ingested,
            first_day=first_day,
            floor=None,
            newest_day=newest_day,
            created_at=created_at,
        )
    floor = previous.newest_day - timedelta(days=BACKFILL_SLACK_DAYS) if previous.newest_day else None
    return Window(
        number=previous.number + 1,
        previous_visit=last_visit,
        after=previous.until,
        until=newest_ingested,
        first_day=None,
        floor=floor,
        newest_day=newest_day,
        created_at=created_at,
    )


def open_next_window(
    catalog: CatalogStore,
    previous: Window | None,
    created_at: float,
    last_visit: float | None,
    backfill_days: int = 1,
) -> Window:
    """`next_window` with the catalog's current high-water marks."""
    oldest_day, newest_day = catalog.date_range()
    return next_window(
        previous,
        created_at=created_at,
        last_visit=last_visit,
        newest_ingested=catalog.searchable_until(),
        newest_day=newest_day,
        backfill_days=backfill_days,
        oldest_day=oldest_day,
    )


def window_paper_ids(catalog: CatalogStore, window: Window) -> set[str]:
    """The catalog papers a window covers (before topic matching and before removing seen papers)."""
    if window.after is None:
        return catalog.ids_of_listing(window.first_day, window.until, or_ingested_after=window.created_at)
    return catalog.ids_ingested_between(window.after, window.until, published_from=window.floor)


def describe_since(since: datetime | None) -> str:
    if since is None:
        return t("radar.since.your_last_visit")
    if since.time() == datetime.min.time():
        return since.date().isoformat()
    return since.strftime("%Y-%m-%d %H:%M")


def since_phrase(window: Window) -> str:
    """'in the latest listing (2026-06-04)' (or 'in the listings since ...' over several days) for a first
    visit, 'since your last visit (...)' after."""
    if window.after is None:
        if window.first_day and window.newest_day and window.first_day < window.newest_day:
            return t("radar.since.listings", since=describe_since(window.since))  # a new topic's backfill
        return t("radar.since.latest", since=describe_since(window.since))
    return t("radar.since.last_visit", since=describe_since(window.since))
