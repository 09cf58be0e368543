"""What `academichub ingest --daily` fetches: the requests for a list of fields (the shell passes the fields
of all saved radar topics).

The radar decides the fields (its saved topics, read from its store by the shell); ingest decides what a
daily request is: one arXiv request for the arXiv fields (`ingest.sources.daily_arxiv_request`) and one
bioRxiv/medRxiv API request per server field (`biorxiv`) or subject (`biorxiv:neuroscience`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from assistant.core.errors import UserFacingError
from assistant.core.subjects import rxiv_server
from assistant.store.catalog_store import CatalogStore
from ingest.rxiv_api import RxivRequest
from ingest.sources import ArxivRequest, daily_arxiv_request


class NoDailyFields(UserFacingError, ValueError):
    """`--daily` with no field to fetch: no saved topic names one and no --category was given."""


def daily_requests(
    catalog: CatalogStore,
    topic_fields: Sequence[str],
    topic_names: Sequence[str],
    extra_categories: Sequence[str] = (),
    max_results: int | None = None,
    today: date | None = None,
) -> tuple[ArxivRequest | None, list[RxivRequest]]:
    """Yesterday's and today's postings (UTC, arXiv's clock) in `topic_fields` (those of the saved radar
    topics, named `topic_names`) plus `extra_categories`: the arXiv request (None when no field is arXiv's)
    and the bioRxiv/medRxiv requests; NoDailyFields saying what to add when there are no fields."""
    fields = list(dict.fromkeys([*topic_fields, *(c.strip() for c in extra_categories if c.strip())]))
    if not fields:
        names = list(topic_names)
        if not names:
            raise NoDailyFields(
                "--daily fetches the fields of your saved radar topics, and there are none yet: add one with "
                '`academichub radar add NAME --query "..." --field cs.LG`, or give --category'
            )
        raise NoDailyFields(
            f"--daily fetches the fields of your saved radar topics, but {', '.join(names)} "
            "name no fields: add --field when saving a topic, or give --category"
        )
    day = today or datetime.now(UTC).date()
    rxiv = [
        RxivRequest(
            server=server, since=day - timedelta(days=1), until=day, category=name if ":" in name else None
        )
        for name in fields
        if (server := rxiv_server(name))
    ]
    arxiv_fields = [name for name in fields if not rxiv_server(name)]
    arxiv = (
        daily_arxiv_request(arxiv_fields, catalog.known_categories(), day, max_results)
        if arxiv_fields
        else None
    )
    return arxiv, rxiv
