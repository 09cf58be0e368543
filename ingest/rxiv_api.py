"""The official bioRxiv/medRxiv API: `{api}/details/{server}/{start}/{end}/{cursor}/json[?category=...]`.

A page holds up to 30 records; the cursor advances by the page's record count until the header's `total`.
An empty interval answers `{"messages": [{"status": "no posts found"}], "collection": []}`: an empty
result, not an error. Each version of a paper is its own record; the ingest keeps the newest.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests

from assistant.core.paper import SOURCE_LABELS, SourceName
from assistant.core.retry import Backoff
from assistant.core.subjects import api_subject
from ingest.rxiv import from_api_record
from ingest.sources import SourceError, SourceItem, record_items

log = logging.getLogger(__name__)

# Statuses worth another try: rate limiting and server trouble. 4xx other than 429 are final.
_RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class RxivRequest:
    """What to fetch: one server, a posting-date window, optionally one subject ('biorxiv:neuroscience' or
    'neuroscience')."""

    server: SourceName
    since: date
    until: date
    category: str | None = None

    def path(self, cursor: int) -> str:
        return f"details/{self.server}/{self.since.isoformat()}/{self.until.isoformat()}/{cursor}/json"

    def params(self) -> dict[str, str]:
        return {"category": api_subject(self.category)} if self.category else {}

    def describe(self) -> str:
        subject = f", {self.category}" if self.category else ""
        return f"{SOURCE_LABELS[self.server]} API ({self.since} to {self.until}{subject})"

    def cursor_key(self) -> str:
        """Identifies this request for resuming: same server, window and subject, same cursor."""
        text = f"{self.server}|{self.since}|{self.until}|{self.category or ''}"
        return f"{self.server}:" + hashlib.sha1(text.encode()).hexdigest()[:16]


class _RetryablePage(Exception):
    """A page worth asking for again (429/5xx, connection trouble, an empty page before the end)."""


@dataclass(frozen=True)
class _Page:
    records: list[Any]
    total: int


class RxivSource:
    """Pages through one `details` request with back-off on 429/5xx, connection errors and empty pages
    before the end, and a resumable cursor (`position`: records yielded so far; the ingest pipeline saves
    it only after the papers before it are stored, as for arXiv)."""

    def __init__(
        self,
        request: RxivRequest,
        *,
        api_url: str,
        delay_seconds: float,
        retries: int,
        backoff_seconds: float,
        timeout_seconds: float = 30.0,
        start_cursor: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.request = request
        self.position = start_cursor
        self.resumed_from = start_cursor
        self.api_url = api_url.rstrip("/")
        self._delay = delay_seconds
        self._backoff = Backoff(request.describe(), retries=retries, first_pause=backoff_seconds, sleep=sleep)
        self._timeout = timeout_seconds
        self._sleep = sleep
        self._session = requests.Session()

    def __iter__(self) -> Iterator[SourceItem]:
        first = True
        while True:
            if not first and self._delay:
                self._sleep(self._delay)  # politeness between pages
            first = False
            try:
                page = self._fetch(self.position)
            except _RetryablePage as err:
                self._retry_or_give_up(str(err))
                continue
            self._backoff.succeeded()
            for record in page.records:
                self.position += 1
                where = f"{self.request.describe()} record {self.position}"
                yield from record_items(where, from_api_record, record, self.request.server)
            if not page.records or self.position >= page.total:
                return

    def _fetch(self, cursor: int) -> _Page:
        url = f"{self.api_url}/{self.request.path(cursor)}"
        try:
            response = self._session.get(url, params=self.request.params(), timeout=self._timeout)
        except requests.RequestException as err:
            raise _RetryablePage(f"a connection error ({err.__class__.__name__})") from None
        if response.status_code in _RETRY_STATUSES:
            raise _RetryablePage(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise SourceError(
                f"{self.request.describe()} refused the request (HTTP {response.status_code}); check the "
                f"dates and the subject: {response.url}"
            )
        try:
            body = response.json()
        except ValueError:
            raise _RetryablePage("an answer that is not JSON") from None
        return self._page(body, cursor)

    def _page(self, body: Any, cursor: int) -> _Page:
        if not isinstance(body, Mapping):
            raise _RetryablePage("an answer without messages")
        messages = body.get("messages") or [{}]
        header = messages[0] if isinstance(messages, list) and isinstance(messages[0], Mapping) else {}
        status = str(header.get("status", "")).strip().lower()
        records = body.get("collection") or []
        if status == "no posts found":
            if cursor > 0:  # the interval had posts at the first page: an empty answer mid-way is a glitch
                raise _RetryablePage("'no posts found' in the middle of the results")
            return _Page([], 0)
        if status != "ok" or not isinstance(records, list):
            raise _RetryablePage(f"status {status or 'missing'!r}")
        total = _as_int(header.get("total"))
        if not records and cursor < total:
            raise _RetryablePage("an empty page")
        return _Page(records, total)

    def _retry_or_give_up(self, what: str) -> None:
        if not self._backoff.retry(what):
            raise SourceError(
                f"{self.request.describe()} at {self.api_url} gave {what} {self._backoff.failures} times "
                f"in a row at record {self.position}; stopped. Run the same command again later: it resumes "
                "where it stopped."
            )


def _as_int(value: Any) -> int:
    """The header's counts come as numbers or as strings ('873')."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
