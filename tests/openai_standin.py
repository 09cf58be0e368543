"""A local stand-in for an OpenAI-compatible chat endpoint (no real endpoint is reachable from the tests).

It speaks the real protocol the `openai` client uses: `POST /v1/chat/completions` answered as one JSON
completion or, when the request has `"stream": true`, as Server-Sent Events (`data: {chunk}` lines ending
with `data: [DONE]`); errors come back as the OpenAI error JSON with the HTTP status asked for. It listens
on 127.0.0.1 only, on a free port, and records every request.

Usage (also from other test modules, e.g. the chat-app browser test):

    from openai_standin import OpenAIStandin, Reply   # tests/ is on sys.path under pytest

    with OpenAIStandin(default=Reply("The answer [1].")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)   # http://127.0.0.1:PORT/v1
        ...                                                     # run the code under test
        server.requests[-1].messages                           # what the client sent
    server.queue(Reply(status=429), Reply("ok [1]"))          # one-off replies, in order, before `default`
    server.responder = lambda request: Reply(...)             # or decide per request

`Reply(text, status=200, delay=0.0, chunk_chars=0)`: `delay` seconds pass before anything is sent (make it
longer than the client's timeout to exercise timeouts); `chunk_chars` streams fixed-size deltas instead of
words, so a link or tag arrives cut in pieces (an adversarial model).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from local_server import LocalHTTPServer

_TOKEN_RE = re.compile(r"\s*\S+|\s+$")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_api_key",
    403: "permission_denied",
    404: "model_not_found",
    429: "rate_limit_exceeded",
}


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay: float = 0.0
    chunk_chars: int = 0  # > 0: stream deltas of this many characters, cutting links and tags mid-way


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def text(self) -> str:
        """All message contents joined (handy for `in` checks)."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


def tokens_of(text: str) -> list[str]:
    """How the stand-in splits a reply into streamed deltas: one word (with its leading space) each."""
    return _TOKEN_RE.findall(text) or [text]


@dataclass
class OpenAIStandin:
    default: Reply = field(default_factory=lambda: Reply("I could not find this in the indexed papers."))
    model: str = "standin-model"
    responder: Callable[[RecordedRequest], Reply] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._http: LocalHTTPServer | None = None

    # --- control ---------------------------------------------------------------------------------------

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return self.responder(request)
        return self.default

    @property
    def base_url(self) -> str:
        assert self._http is not None, "start the stand-in first"
        return f"{self._http.origin}/v1"

    def start(self) -> OpenAIStandin:
        standin = self

        class Handler(_Handler):
            owner = standin

        self._http = LocalHTTPServer(Handler, "openai-standin").start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            self._http = None

    def __enter__(self) -> OpenAIStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIStandin
    protocol_version = "HTTP/1.0"  # one request per connection; a streamed body ends when the socket closes

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": self.owner.model, "object": "model"}]})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._error(400, "body is not JSON")
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, f"no route {self.path}")
            return
        request = RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        reply = self.owner.next_reply(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            self._error(reply.status, f"stand-in error {reply.status}")
            return
        model = body.get("model") or self.owner.model
        if body.get("stream"):
            self._stream(model, reply.text, reply.chunk_chars)
        else:
            self._json(200, _completion(model, reply.text))

    # --- responses -------------------------------------------------------------------------------------

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        kind = _ERROR_TYPES.get(status, "server_error")
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": kind}})

    def _stream(self, model: str, text: str, chunk_chars: int = 0) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        created = int(time.time())
        first = {"role": "assistant", "content": ""}
        self._event(_chunk(model, created, first, None))
        deltas = tokens_of(text)
        if chunk_chars:
            deltas = [text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars)]
        for token in deltas:
            self._event(_chunk(model, created, {"content": token}, None))
        self._event(_chunk(model, created, {}, "stop"))
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, payload: dict[str, Any]) -> None:
        self.wfile.write(b"data: " + json.dumps(payload).encode("utf-8") + b"\n\n")
        self.wfile.flush()


def _chunk(model: str, created: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(tokens_of(text)), "total_tokens": 0},
    }
