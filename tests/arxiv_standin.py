"""A local stand-in for the arXiv API: real HTTP on 127.0.0.1, replaying Atom responses recorded from
export.arxiv.org (tests/data/arxiv-api/, copied from ../shared/data/arxiv-api/).

The `arxiv` client asks for `?search_query=...&start=S&max_results=M`; the stand-in answers with the recorded
body for the same (start, max_results), whatever the query (the recordings are of one query; the query sent
is kept in `requests` so tests can check it). Faults queued per start offset are served first, the way the
real API misbehaves: an HTTP status (503, 429 with arXiv's text body), an "empty" page (a valid feed with
the header but no entries, arXiv's sporadic glitch) or a "drop" (the connection closes without a response,
as when the server dies).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from local_server import LocalHTTPServer

RECORDINGS = Path(__file__).parent / "data" / "arxiv-api"
_ENTRY_RE = re.compile(r"\s*<entry>.*?</entry>", re.DOTALL)

Fault = int | str  # an HTTP status, "empty" or "drop"


def load_recordings(prefix: str) -> dict[tuple[int, int], tuple[int, str]]:
    """(start, max_results) -> (status, Atom body) for the recordings whose file name starts with prefix."""
    found: dict[tuple[int, int], tuple[int, str]] = {}
    for path in sorted(RECORDINGS.glob(f"{prefix}*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        query = parse_qs(urlsplit(record["url"]).query)
        key = (int(query["start"][0]), int(query["max_results"][0]))
        found[key] = (int(record["status_code"]), record["body"])
    if not found:
        raise FileNotFoundError(f"no recorded arXiv responses {prefix}* in {RECORDINGS}")
    return found


def recorded_ids(body: str) -> list[str]:
    """Versioned ids of the entries of a recorded Atom page, in order."""
    return re.findall(r"<id>https?://arxiv\.org/abs/([^<]+)</id>", body)


class ArxivStandIn:
    """Serve recorded arXiv API pages on 127.0.0.1 (use as a context manager; stopped on exit)."""

    def __init__(self, prefix: str = "q_testing", *, answer_everything_with: str | None = None) -> None:
        self.recordings = load_recordings(prefix)
        # One recording served for every request (e.g. arXiv's invalid-id error feed).
        self.fixed = load_recordings(answer_everything_with)[(0, 100)] if answer_everything_with else None
        self.faults: dict[int, deque[Fault]] = defaultdict(deque)
        self.requests: list[dict[str, str]] = []
        self._http: LocalHTTPServer | None = None

    # --- control --------------------------------------------------------------------------------------

    def fail(self, start: int, *faults: Fault) -> None:
        """Serve these faults, in order, to the next requests for `start`, then the recording again."""
        self.faults[start].extend(faults)

    @property
    def url(self) -> str:
        assert self._http is not None, "stand-in not started"
        return f"{self._http.origin}/api/query"

    @property
    def starts(self) -> list[int]:
        """The `start` offset of every request received, in order."""
        return [int(r["start"]) for r in self.requests]

    def page_ids(self, start: int, max_results: int = 10) -> list[str]:
        return recorded_ids(self.recordings[(start, max_results)][1])

    def start(self) -> ArxivStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                standin.requests.append(params)
                status, body = standin.respond(params)
                if status == 0:  # "drop": close the connection without a response
                    self.close_connection = True
                    return
                payload = body.encode("utf-8")
                self.send_response(status)
                kind = "application/atom+xml" if body.startswith("<?xml") else "text/plain"
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._http = LocalHTTPServer(Handler, "arxiv-standin").start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> ArxivStandIn:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- responses ------------------------------------------------------------------------------------

    def respond(self, params: dict[str, str]) -> tuple[int, str]:
        if self.fixed is not None:
            return self.fixed
        try:
            key = (int(params["start"]), int(params["max_results"]))
        except (KeyError, ValueError):
            return 400, "start and max_results are required"
        if key not in self.recordings:
            return 404, f"no recorded response for start={key[0]} max_results={key[1]}"
        status, body = self.recordings[key]
        queue = self.faults.get(key[0])
        if queue:
            fault = queue.popleft()
            if fault == "drop":
                return 0, ""
            if fault == "empty":
                return 200, _ENTRY_RE.sub("", body)
            if isinstance(fault, int):
                text = "Rate exceeded." if fault == 429 else "Service Unavailable"
                return fault, text
            raise ValueError(f"unknown fault {fault!r}")
        return status, body
