"""A local stand-in for the bioRxiv/medRxiv API (`/details/{server}/{start}/{end}/{cursor}/json`): real HTTP
on 127.0.0.1, speaking with real records (tests/data/biorxiv/api, copied from ../shared/data/biorxiv/api).

A request whose URL was captured in full (every record of its interval) is answered with the captured body,
byte for byte. Any other request is answered the way the API pages: the records of the pool (all captured
records, plus any a test adds) on that server, posted in the window and of the `category`, `page_size` at a
time from `cursor`, with the API's header (`count`, `total` as strings like the API sends them), or
`{"messages": [{"status": "no posts found"}], "collection": []}` for an empty interval. Faults queued per
cursor are served first: an HTTP status (429, 503), "empty" (an ok header with no records) or "drop"
(the connection closes without an answer).
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_server import LocalHTTPServer

CAPTURES = Path(__file__).parent / "data" / "biorxiv" / "api"
Fault = int | str


def load_captures() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(complete captures by request path+query, every captured record)."""
    complete: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    for path in sorted(CAPTURES.glob("*.json")):
        capture = json.loads(path.read_text(encoding="utf-8"))
        body = capture["body"]
        records += body["collection"]
        header = body["messages"][0]
        url = capture.get("url") or capture.get("url_inferred")
        if url and int(header["total"]) == len(body["collection"]):
            parts = urlsplit(url)
            complete[parts.path + ("?" + parts.query if parts.query else "")] = body
    return complete, records


class RxivStandIn:
    """Serve bioRxiv/medRxiv API answers on 127.0.0.1 (use as a context manager; stopped on exit)."""

    def __init__(self, page_size: int = 30) -> None:
        self.complete, self.records = load_captures()
        self.page_size = page_size
        self.faults: dict[int, deque[Fault]] = defaultdict(deque)
        self.requests: list[str] = []
        self._http: LocalHTTPServer | None = None

    def fail(self, cursor: int, *faults: Fault) -> None:
        self.faults[cursor].extend(faults)

    @property
    def url(self) -> str:
        assert self._http is not None
        return self._http.origin

    def answer(self, path: str, query: str) -> tuple[int, Any]:
        key = path + ("?" + query if query else "")
        parts = path.strip("/").split("/")
        if len(parts) < 5 or parts[0] != "details":
            return 404, {"messages": [{"status": "unknown endpoint"}]}
        server, start, end, cursor = parts[1], parts[2], parts[3], int(parts[4])
        if self.faults[cursor]:
            fault = self.faults[cursor].popleft()
            if fault == "empty":
                return 200, {"messages": [{"status": "ok", "count": 0, "total": "999"}], "collection": []}
            return (599 if fault == "drop" else int(fault)), None
        if key in self.complete:
            return 200, self.complete[key]
        category = parse_qs(query).get("category", [""])[0].replace("_", " ")
        matching = [
            r
            for r in self.records
            if str(r.get("server", "")).lower() == server
            and start <= r["date"] <= end
            and (not category or r["category"].strip().lower() == category)
        ]
        if not matching:
            return 200, {"messages": [{"status": "no posts found"}], "collection": []}
        page = matching[cursor : cursor + self.page_size]
        header = {
            "status": "ok",
            "interval": f"{start}:{end}",
            "cursor": cursor,
            "count": len(page),
            "total": str(len(matching)),
        }
        return 200, {"messages": [header], "collection": page}

    def __enter__(self) -> RxivStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                standin.requests.append(self.path)
                status, body = standin.answer(parts.path, parts.query)
                if status == 200 or body is not None:
                    payload = json.dumps(body).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                elif status == 599:  # "drop": hang up without an answer
                    self.close_connection = True
                else:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._http = LocalHTTPServer(Handler, "rxiv-standin").start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._http is not None:
            self._http.stop()
