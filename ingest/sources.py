"""Where papers come from: JSONL files (arXiv and bioRxiv/medRxiv layouts), the bundled sample, and the
live arXiv API (the bioRxiv/medRxiv API is `ingest.rxiv_api`).

Every source yields `Paper`s and `Skipped` notes, in order; nothing here touches the index.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import stat
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

import arxiv
import requests
from requests.adapters import HTTPAdapter

from assistant.core.errors import UserFacingError
from assistant.core.paper import Paper
from assistant.core.retry import Backoff
from ingest import rxiv
from ingest.normalize import RecordError, collecting_cuts, dated_by_month, from_arxiv_result, from_json_record

log = logging.getLogger(__name__)

SAMPLE_PATH = Path(__file__).parent / "sample" / "arxiv_sample.jsonl.gz"
_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
_MONTH_IN_NAME = re.compile(r"(?<!\d)(\d{4})-(\d{2})(?![-\d])")  # a monthly listing: 2026-05.jsonl.gz


@dataclass(frozen=True)
class Skipped:
    """A record (or a whole input) that could not be ingested, with where and why. `record` is False for a
    whole input (a missing or empty file): it is reported, but it is not a record read."""

    where: str
    reason: str
    record: bool = True


# A line longer than this is no paper (the largest real records, collaborations with thousands of authors,
# are a few hundred kB): skipped unparsed, so one 50 MB line costs a read, not gigabytes of memory.
MAX_LINE_CHARS = 2_000_000
# A `.json` file read as one document (a saved API answer, a list of records) is parsed whole, so it is
# capped: 50 MB is some 20,000 papers; more go in JSON lines, which are streamed.
MAX_DOCUMENT_CHARS = 50_000_000


@dataclass(frozen=True)
class Trimmed:
    """A field of a kept paper that was cut to its cap (an author name over 300 characters), with where and
    what: reported beside the paper it follows."""

    where: str
    reason: str


SourceItem = Paper | Skipped | Trimmed


class SourceError(UserFacingError, RuntimeError):
    """A source that cannot be read at all (missing file, arXiv unreachable after retries)."""


# --- files --------------------------------------------------------------------------------------------


def listing_date_from_name(path: Path) -> date | None:
    match = _DATE_IN_NAME.search(path.name)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def listing_month_from_name(path: Path) -> date | None:
    """The month of a monthly listing file (`2026-05.jsonl.gz` -> 2026-05-01); None for any other name."""
    if _DATE_IN_NAME.search(path.name):
        return None
    match = _MONTH_IN_NAME.search(path.name)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        return None


def _open_text(path: Path) -> TextIO:
    """A text reader over the file, gunzipping when the content (not the name) says gzip. A leading UTF-8
    byte order mark (Windows editors write one) is dropped, not read as part of the first record."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace")
    return path.open(encoding="utf-8-sig", errors="replace")


# An over-long line is read past in pieces of this many characters, never held whole.
_SKIP_CHUNK_CHARS = 1 << 20


def bounded_lines(handle: TextIO, limit: int = MAX_LINE_CHARS) -> Iterator[tuple[str | None, int]]:
    """(line, length) for each line of `handle`; a line over `limit` characters comes as (None, its length),
    read past in 1 MB pieces: memory stays bounded by `limit` whatever the line (a 1 GB line, a small gzip
    that inflates to one 1.5 GB line), where iterating the file would hold the whole line first."""
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit:
            yield line, len(line)
            continue
        length = len(line)
        del line
        while True:
            piece = handle.readline(_SKIP_CHUNK_CHARS)
            length += len(piece)
            if not piece or piece.endswith("\n"):
                break
        yield None, length


def _refuse_devices(path: Path) -> None:
    """A character device (`/dev/zero`, `/dev/urandom`) never ends: it is no file of records."""
    if stat.S_ISCHR(path.stat().st_mode):
        raise SourceError(f"{path}: is a device, not a file of papers")


def paper_from_record(record: Any, listing_date: date | None = None) -> Paper:
    """One JSON record in any layout we know, detected per record: bioRxiv/medRxiv API records and daily
    listings, then arXiv's snapshot and daily-listing layouts."""
    if isinstance(record, Mapping):
        if rxiv.is_api_record(record):
            return rxiv.from_api_record(record)
        if rxiv.is_daily_listing(record):
            return rxiv.from_daily_listing(record, listing_date)
    return from_json_record(record, listing_date)


def records_of(value: Any) -> list[Any]:
    """The records a JSON value holds: a saved API answer's `collection` (also inside a capture's `body`), or
    the value itself."""
    if isinstance(value, Mapping) and isinstance(value.get("body"), Mapping) and "url" in value:
        value = value["body"]
    if isinstance(value, Mapping) and isinstance(value.get("collection"), list):
        return list(value["collection"])
    return [value]


def read_jsonl(path: Path) -> Iterator[SourceItem]:
    """Papers from a JSONL or JSONL.gz file in any layout, detected per line (a line may also hold a saved
    bioRxiv/medRxiv API answer); a `.json` file is read as one document (an API answer or a list of records)
    unless its first line is a whole JSON object: then it is JSON lines, like arXiv's metadata snapshot
    (`arxiv-metadata-oai-snapshot.json`, 4.5 GB), and streamed line by line like any JSONL file.

    Bad lines become `Skipped` with their line number; a gzip cut short yields what was readable, then a
    `Skipped` saying where it broke off.
    """
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_dir():
        raise SourceError(f"{path}: is a directory with no .jsonl, .jsonl.gz or .json files in this folder")
    _refuse_devices(path)
    listing_date = listing_date_from_name(path)
    if path.name.endswith((".json", ".json.gz")) and not _holds_json_lines(path):
        yield from _read_json_document(path, listing_date)
        return
    month = listing_month_from_name(path)
    if month:
        yield from (
            dated_by_month(item, month) if isinstance(item, Paper) else item
            for item in _read_lines(path, None)
        )
    else:
        yield from _read_lines(path, listing_date)


def _read_lines(path: Path, listing_date: date | None) -> Iterator[SourceItem]:
    lines = 0
    try:
        with _open_text(path) as handle:
            for lineno, (line, length) in enumerate(bounded_lines(handle), start=1):
                lines = lineno
                where = f"{path.name}:{lineno}"
                if line is None:
                    too_long = f"line too long ({length:,} characters; at most {MAX_LINE_CHARS:,})"
                    yield Skipped(where, too_long)
                    continue
                if not line.strip():
                    continue
                yield from _records_from_line(line, where, listing_date)
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as err:
        yield Skipped(
            f"{path.name}:{lines + 1}",
            f"file cut short or corrupt ({err.__class__.__name__}: {err})",
            record=False,
        )
        return
    if lines == 0:
        yield Skipped(path.name, "empty file", record=False)


def _records_from_line(line: str, where: str, listing_date: date | None) -> Iterator[SourceItem]:
    """One line -> its Paper(s), or Skipped naming what is wrong (never an exception: one bad line must not
    stop the file)."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as err:
        yield Skipped(where, f"malformed JSON ({err.msg})")
        return
    except RecursionError:
        yield Skipped(where, "malformed JSON (nested too deeply)")
        return
    except ValueError as err:  # Python refuses integers over 4,300 digits
        reason = "number too large" if "digits" in str(err) else f"unreadable value ({err})"
        yield Skipped(where, f"malformed JSON ({reason})")
        return
    records = records_of(value)
    for index, item in enumerate(records, start=1):
        yield from _paper_or_skip(item, f"{where}#{index}" if len(records) > 1 else where, listing_date)


def _paper_or_skip(record: Any, where: str, listing_date: date | None) -> Iterator[SourceItem]:
    return record_items(where, paper_from_record, record, listing_date)


def record_items(where: str, build: Callable[..., Paper], *args: Any) -> Iterator[SourceItem]:
    """`record_item`, then a `Trimmed` for each field the builder cut from the paper it kept."""
    with collecting_cuts() as cuts:
        item = record_item(where, build, *args)
    yield item
    if isinstance(item, Paper):
        yield from (Trimmed(where, cut) for cut in cuts)


def record_item(where: str, build: Callable[..., Paper], *args: Any) -> SourceItem:
    """The paper `build(*args)` makes of one record, or a `Skipped` saying why not. Any failure inside one
    record (a record that is not an object, a number too long to read...) is that record's problem only."""
    try:
        return build(*args)
    except RecordError as err:
        return Skipped(where, str(err))
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as err:
        log.warning("record %s: %r", where, err)
        return Skipped(where, f"unreadable record ({err.__class__.__name__}: {str(err)[:200]})")


def _holds_json_lines(path: Path) -> bool:
    """True when the first non-empty line of the file is a whole JSON object (one record per line); a
    pretty-printed document starts with a bare `{` or `[`. Reads at most one line (bounded)."""
    try:
        with _open_text(path) as handle:
            for _ in range(100):
                line = handle.readline(MAX_LINE_CHARS)
                if not line:
                    return False
                if line.strip():
                    return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError, EOFError, zlib.error, gzip.BadGzipFile, OSError):
        return False  # the document reader says what is wrong with it
    return False


def _read_json_document(path: Path, listing_date: date | None) -> Iterator[SourceItem]:
    """A whole-file JSON document (a saved API answer or a list of records), not one record per line."""
    try:
        with _open_text(path) as handle:
            text = handle.read(MAX_DOCUMENT_CHARS + 1)
        if len(text) > MAX_DOCUMENT_CHARS:
            too_big = f"JSON document too large (over {MAX_DOCUMENT_CHARS:,} characters): use JSON lines"
            yield Skipped(path.name, too_big, record=False)
            return
        document = json.loads(text)
        del text
    except json.JSONDecodeError as err:
        yield Skipped(path.name, f"malformed JSON (line {err.lineno}: {err.msg})")
        return
    except (RecursionError, ValueError) as err:
        yield Skipped(path.name, f"malformed JSON ({err.__class__.__name__})")
        return
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as err:
        yield Skipped(path.name, f"file cut short or corrupt ({err.__class__.__name__}: {err})", record=False)
        return
    records = document if isinstance(document, list) else records_of(document)
    if not records:
        yield Skipped(path.name, "no records")
    for index, record in enumerate(records, start=1):
        yield from _paper_or_skip(record, f"{path.name}#{index}", listing_date)


def read_sample() -> Iterator[SourceItem]:
    """The bundled sample of real arXiv records (ships inside the package)."""
    return read_jsonl(SAMPLE_PATH)


# --- arXiv API ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArxivRequest:
    """What to fetch from the arXiv API."""

    categories: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    query: str | None = None
    max_results: int | None = None

    def search_query(self) -> str:
        parts: list[str] = []
        if self.categories:
            cats = " OR ".join(f"cat:{c}" for c in self.categories)
            parts.append(f"({cats})" if len(self.categories) > 1 else cats)
        if self.query:
            parts.append(f"({self.query})" if parts else self.query)
        if self.since or self.until:
            start = (self.since or date(1991, 1, 1)).strftime("%Y%m%d0000")
            end = (self.until or date.today() + timedelta(days=1)).strftime("%Y%m%d2359")
            parts.append(f"submittedDate:[{start} TO {end}]")
        if not parts:
            raise SourceError("an arXiv ingest needs at least a category, a query or a date window")
        return " AND ".join(parts)

    def cursor_key(self) -> str:
        """Identifies this request for resuming: same query and limit, same cursor."""
        text = f"{self.search_query()}|{self.max_results}"
        return "arxiv:" + hashlib.sha1(text.encode()).hexdigest()[:16]


def daily_arxiv_request(
    fields: Sequence[str], known_categories: Iterable[str], day: date, max_results: int | None = None
) -> ArxivRequest:
    """The submissions of `day` and the day before (UTC, arXiv's clock) in these fields. An archive field
    (`cs`) becomes its categories known to the index, because the arXiv API matches `cat:` exactly."""
    known = list(known_categories)
    categories: list[str] = []
    for name in fields:
        members = [c for c in known if "." not in name and c.startswith(name + ".")]
        categories += members or [name]
    return ArxivRequest(
        categories=tuple(dict.fromkeys(categories)),
        since=day - timedelta(days=1),
        until=day,
        max_results=max_results,
    )


# Statuses worth another try: rate limiting and server trouble. 4xx other than 429 are final.
_RETRY_STATUSES = {429, 500, 502, 503, 504}


class _TimeoutAdapter(HTTPAdapter):
    """The `arxiv` client sends requests without a timeout; a stalled server must not hang an ingest."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class _ResumableClient(arxiv.Client):
    """`arxiv.Client` that tells a glitch from the end of the results when a search starts mid-way.

    The stock client treats an empty *first* page as "no results". A resumed run or a retry starts at an
    offset, and arXiv's sporadic empty pages happen there too: while the header (or an earlier page)
    says more results exist, an empty page is an error to retry, not the end.
    """

    known_total = 0

    def _results(self, search: arxiv.Search, offset: int = 0) -> Iterator[arxiv.Result]:
        while True:
            url = self._format_url(search, offset, self.page_size)
            feed = self._parse_feed(url, first_page=True)
            self.known_total = max(self.known_total, feed.header.total_results)
            if not feed.results:
                if offset < self.known_total:
                    raise arxiv.UnexpectedEmptyPageError(url, 0, feed)
                return
            yield from feed.results
            offset += len(feed.results)
            if offset >= self.known_total:
                return


class ArxivSource:
    """Pages through an arXiv API search with the `arxiv` client: its 3 s spacing between requests, our
    exponential back-off on 429/5xx, connection errors and empty pages, and a resumable offset.

    The offset of the last yielded result is exposed as `position`; the ingest pipeline persists it only
    after the papers before it are safely in the catalog, so a killed run resumes without loss.
    """

    def __init__(
        self,
        request: ArxivRequest,
        *,
        api_url: str,
        delay_seconds: float,
        retries: int,
        backoff_seconds: float,
        page_size: int,
        timeout_seconds: float = 30.0,
        start_offset: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.request = request
        self.position = start_offset
        self.resumed_from = start_offset
        self._backoff = Backoff("arXiv API", retries=retries, first_pause=backoff_seconds, sleep=sleep)
        self._client = _ResumableClient(page_size=page_size, delay_seconds=delay_seconds, num_retries=0)
        adapter = _TimeoutAdapter(timeout_seconds)
        self._client._session.mount("http://", adapter)
        self._client._session.mount("https://", adapter)
        # The client formats its URLs from this attribute; point it at a mirror or a local stand-in.
        self._client.query_url_format = api_url.rstrip("?") + "?{}"
        self._search = arxiv.Search(
            query=request.search_query(),
            max_results=request.max_results,
            sort_by=arxiv.SortCriterion.SubmittedDate,
            sort_order=arxiv.SortOrder.Descending,
        )

    def __iter__(self) -> Iterator[SourceItem]:
        while True:
            try:
                for result in self._client.results(self._search, offset=self.position):
                    self._backoff.succeeded()
                    self.position += 1
                    try:
                        yield from_arxiv_result(result)
                    except RecordError as err:
                        yield Skipped(f"arXiv result {self.position}", str(err))
                    except Exception as err:  # one bad result is that result's problem only
                        yield Skipped(
                            f"arXiv result {self.position}",
                            f"unreadable record ({err.__class__.__name__}: {str(err)[:200]})",
                        )
                return
            except arxiv.HTTPError as err:
                if err.status not in _RETRY_STATUSES:
                    raise SourceError(
                        f"arXiv API refused the request (HTTP {err.status}); check the categories and the "
                        f"query syntax: {err.url}"
                    ) from None
                self._retry_or_give_up(f"HTTP {err.status}")
            except arxiv.UnexpectedEmptyPageError:
                self._retry_or_give_up("an empty page")
            except requests.RequestException as err:
                self._retry_or_give_up(f"a connection error ({err.__class__.__name__})")

    def _retry_or_give_up(self, what: str) -> None:
        if not self._backoff.retry(what):
            raise SourceError(
                f"arXiv API at {self._client.query_url_format.split('?')[0]} gave {what} "
                f"{self._backoff.failures} times in a row at result {self.position}; stopped. "
                "Run the same command again later: it resumes where it stopped."
            )
