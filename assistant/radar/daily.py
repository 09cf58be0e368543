"""What `academichub ingest --daily` fetches: the arXiv request for the fields of all saved radar topics.

The radar decides the fields (its saved topics, read from its store); ingest decides what a daily arXiv
request is (`ingest.sources.daily_arxiv_request`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from assistant.radar.service import RadarError
from assistant.radar.store import saved_fields, saved_topic_names
from ingest.catalog import Catalog
from ingest.settings import Settings
from ingest.sources import ArxivRequest, daily_arxiv_request


def daily_request(
    settings: Settings,
    catalog: Catalog,
    extra_categories: Sequence[str] = (),
    max_results: int | None = None,
    today: date | None = None,
) -> ArxivRequest:
    """Yesterday's and today's submissions (UTC, arXiv's clock) in the fields of all saved topics plus
    `extra_categories`; a RadarError saying what to add when there are none."""
    fields = list(
        dict.fromkeys(
            [*saved_fields(settings.state_path), *(c.strip() for c in extra_categories if c.strip())]
        )
    )
    if not fields:
        names = saved_topic_names(settings.state_path)
        if not names:
            raise RadarError(
                "--daily fetches the fields of your saved radar topics, and there are none yet: add one with "
                '`academichub radar add NAME --query "..." --field cs.LG`, or give --category'
            )
        raise RadarError(
            f"--daily fetches the fields of your saved radar topics, but {', '.join(names)} "
            "name no fields: add --field when saving a topic, or give --category"
        )
    day = today or datetime.now(UTC).date()
    return daily_arxiv_request(fields, catalog.known_categories(), day, max_results)
