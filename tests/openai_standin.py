"""A local stand-in for an OpenAI-compatible chat endpoint (no real endpoint is reachable from the tests).

It speaks the real protocol the `openai` client uses: `POST /v1/chat/completions` answered as one JSON
completion or, when the request has `"stream": true`, as Server-Sent Events (`data: {chunk}` lines ending
with `data: [DONE]`, sent with chunked transfer encoding like llama.cpp's server); errors come back as the
OpenAI error JSON with the HTTP status asked for; `GET /v1/models` lists `models`. It listens on 127.0.0.1
only, on a free port, and records every request.

Usage (also from other test modules, e.g. the chat-app browser test):

    from openai_standin import OpenAIStandin, Reply   # tests/ is on sys.path under pytest

    with OpenAIStandin(default=Reply("The answer [1].")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)   # http://127.0.0.1:PORT/v1
        ...                                                     # run the code under test
        server.requests[-1].messages                           # what the client sent
    server.queue(Reply(status=429), Reply("ok [1]"))          # one-off replies, in order, before `default`
    server.responder = lambda request: Reply(...)             # or decide per request

Replaying what a real small local server (llama.cpp `llama-server`, Ollama) does:

- `Reply(delay=...)`: nothing at all is sent for that long (not even headers);
  `first_token_delay`: headers and the role chunk go out at once, the first token after that long (prompt
  processing); `token_delay`: seconds between tokens (1 / tokens per second).
- `finish="length"` ends with `finish_reason: length`; the request's `max_tokens` is honoured the same way
  (the reply stops after that many tokens with `finish_reason: length`).
- `end="no_done"`: the stream stops after the text without a finish reason and without `[DONE]`;
  `end="drop"`: the connection is closed in the middle of the chunked body (the client sees an incomplete
  chunked read, httpx's RemoteProtocolError).
- `OpenAIStandin(context_size=2048)`: llama.cpp's context (`n_ctx`). A prompt longer than that gets HTTP 400
  with llama.cpp's real error body (`llama_context_error`); a reply that would overflow it stops with
  `finish_reason: length` where the context is full. Prompt tokens are counted as `prompt_tokens` does.
- `Reply(echo=True)`: the reply starts with the first lines of the prompt's fenced source list, as the real
  small models echoed it.
- Uncited prose is just a `Reply` whose text has no [n].
- `Reply(chunk_chars=3)`: deltas of 3 characters instead of words, so links, images and tags arrive cut in
  pieces (an adversarial model).

Translation requests (prompts/translate-question.md: a Chinese question to English) are answered before
the queue, deterministically: `translations[question]` when the test gave one, else `untranslated` (an
English stand-in sentence), so a test's queued replies still go to the answer itself.

The model-assisted search's requests (assistant/compose/model_search.py) are answered before the queue
too, the same way:

- hypothetical abstracts (prompts/hypothetical-abstract.md): `hypotheticals[question]` when the test gave
  one (a text, or a `Reply`: `Reply(status=500)` fails the call), else `unhypothetical`;
- reranks (prompts/rerank.md): `rerank(question, titles)` when the test gave a callable (`titles`: the
  candidates' titles as the prompt numbers them, [1] first; it returns the reply's text or a `Reply`), else
  the numbers in the prompt's order ("1 > 2 > ... > n": the search's order kept).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from local_server import LocalHTTPServer

_TOKEN_RE = re.compile(r"\s*\S+|\s+$")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_api_key",
    403: "permission_denied",
    404: "model_not_found",
    429: "rate_limit_exceeded",
}


End = Literal["done", "no_done", "drop"]


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay: float = 0.0
    first_token_delay: float = 0.0
    token_delay: float = 0.0
    finish: str = "stop"
    end: End = "done"
    error: dict[str, Any] | None = None  # the error object for a status other than 200
    echo: bool = False
    chunk_chars: int = 0  # > 0: stream deltas of this many characters, cutting links and tags mid-way
    raw_events: tuple[bytes, ...] = ()  # sent as they are after the text's events (a malformed stream)
    ignore_max_tokens: bool = False  # a server that streams the whole text whatever max_tokens says


def llama_context_error(n_prompt: int, n_ctx: int) -> Reply:
    """llama.cpp's answer to a prompt longer than its context (HTTP 400, its real error body)."""
    return Reply(
        status=400,
        error={
            "code": 400,
            "message": f"request ({n_prompt} tokens) exceeds the available context size ({n_ctx} tokens)",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": n_prompt,
            "n_ctx": n_ctx,
        },
    )


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """The stand-in's token count of a prompt: about 4 characters a token (what a BPE tokenizer gives on
    English abstracts) plus the chat template's few tokens per message."""
    return sum(4 + math.ceil(len(str(m.get("content", ""))) / 4) for m in messages)


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


TRANSLATE_MARK = "Translate this search question about research papers into English."
HYPOTHETICAL_MARK = "Write the abstract of a research paper that would answer the question below"
RERANK_MARK = "Rank the papers between the markers by how well each one answers the question, best first."
_QUESTION_RE = re.compile(r"^Question: (.*)$", re.MULTILINE)
_CANDIDATE_RE = re.compile(r"^\[(\d{1,3})\] (.*)$", re.MULTILINE)


def translation_request(request: RecordedRequest) -> str | None:
    """The question a translate-question request asks to translate, or None for any other request."""
    text = request.text()
    if TRANSLATE_MARK not in text:
        return None
    found = _QUESTION_RE.search(text)
    return found.group(1).strip() if found else ""


def hypothetical_request(request: RecordedRequest) -> str | None:
    """The question a hypothetical-abstract request writes an abstract for, or None for any other request."""
    text = request.text()
    if HYPOTHETICAL_MARK not in text:
        return None
    found = _QUESTION_RE.search(text)
    return found.group(1).strip() if found else ""


def rerank_request(request: RecordedRequest) -> tuple[str, list[str]] | None:
    """(question, the candidates' titles in the prompt's order) of a rerank request, or None for any other
    request."""
    text = request.text()
    if RERANK_MARK not in text:
        return None
    found = _QUESTION_RE.search(text)
    fence = text[text.find("<<<PAPERS") : text.find("PAPERS>>>")]
    return (found.group(1).strip() if found else ""), [title for _, title in _CANDIDATE_RE.findall(fence)]


def tokens_of(text: str, chunk_chars: int = 0) -> list[str]:
    """How the stand-in splits a reply into streamed deltas: one word (with its leading space) each, or
    pieces of `chunk_chars` characters (an adversarial model: a link or tag arrives cut in pieces)."""
    if chunk_chars > 0:
        return [text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars)] or [text]
    return _TOKEN_RE.findall(text) or [text]


@dataclass
class OpenAIStandin:
    default: Reply = field(default_factory=lambda: Reply("I could not find this in the indexed papers."))
    model: str = "standin-model"
    models: list[str] | None = None  # what /v1/models lists; None: just `model`
    context_size: int | None = None  # llama.cpp's n_ctx; None: unlimited
    responder: Callable[[RecordedRequest], Reply] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    translations: dict[str, str] = field(default_factory=dict)  # question -> its English translation
    untranslated: str = "Which papers are about this question?"
    # question -> the hypothetical abstract (or a Reply) the model writes for it
    hypotheticals: dict[str, str | Reply] = field(default_factory=dict)
    unhypothetical: str = (
        "We study the question with a new method and evaluate it on standard benchmarks, where it improves "
        "on strong baselines; we release code and data."
    )
    # (question, candidate titles in prompt order) -> the rerank reply; None: the prompt's order
    rerank: Callable[[str, list[str]], str | Reply] | None = None

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
            question = translation_request(request)
            if question is not None:
                return Reply(self.translations.get(question, self.untranslated))
            asked = hypothetical_request(request)
            if asked is not None:
                return _reply(self.hypotheticals.get(asked, self.unhypothetical))
            ranking = rerank_request(request)
            if ranking is not None:
                numbers = " > ".join(str(n) for n in range(1, len(ranking[1]) + 1))
                return _reply(self.rerank(*ranking) if self.rerank is not None else numbers)
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
            listed = self.owner.models if self.owner.models is not None else [self.owner.model]
            data = [{"id": name, "object": "model", "owned_by": "standin"} for name in listed]
            self._json(200, {"object": "list", "data": data})
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
        used = prompt_tokens(request.messages)
        n_ctx = self.owner.context_size
        if reply.status == 200 and n_ctx is not None and used > n_ctx:
            reply = llama_context_error(used, n_ctx)
        if reply.status != 200:
            if reply.error is not None:
                self._json(reply.status, {"error": reply.error})
            else:
                self._error(reply.status, f"stand-in error {reply.status}")
            return
        text = _echo(request) + reply.text if reply.echo else reply.text
        tokens, finish = tokens_of(text, reply.chunk_chars), reply.finish
        room = [int(body["max_tokens"])] if body.get("max_tokens") and not reply.ignore_max_tokens else []
        if n_ctx is not None:
            room.append(n_ctx - used)
        if room and len(tokens) > min(room):
            tokens, finish = tokens[: max(min(room), 0)], "length"
        model = body.get("model") or self.owner.model
        if body.get("stream"):
            self._stream(model, tokens, finish, reply)
        else:  # a non-streamed reply arrives when the last token is made
            time.sleep(reply.first_token_delay + reply.token_delay * max(len(tokens) - 1, 0))
            self._json(200, _completion(model, "".join(tokens), finish))

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

    def _stream(self, model: str, tokens: list[str], finish: str, reply: Reply) -> None:
        # Chunked transfer encoding, as llama.cpp's server sends it: a cut connection is then visible to
        # the client as an incomplete body instead of a normal end.
        self.protocol_version = "HTTP/1.1"
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        created = int(time.time())
        first = {"role": "assistant", "content": ""}
        self._event(_chunk(model, created, first, None))
        if reply.first_token_delay:
            time.sleep(reply.first_token_delay)
        for position, token in enumerate(tokens):
            if position and reply.token_delay:
                time.sleep(reply.token_delay)
            self._event(_chunk(model, created, {"content": token}, None))
        for raw in reply.raw_events:
            self._write_chunk(raw)
        if reply.end == "drop":
            self.wfile.flush()
            return  # no terminating chunk: the socket closes mid-body
        if reply.end == "done":
            self._event(_chunk(model, created, {}, finish))
            self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")  # the terminating zero-length chunk

    def _event(self, payload: dict[str, Any]) -> None:
        self._write_chunk(b"data: " + json.dumps(payload).encode("utf-8") + b"\n\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
        self.wfile.flush()


def _reply(answer: str | Reply) -> Reply:
    return answer if isinstance(answer, Reply) else Reply(answer)


def _chunk(model: str, created: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def _echo(request: RecordedRequest) -> str:
    """The first lines of the prompt's fenced source list (marker, first source's title and metadata)."""
    prompt = str(request.messages[-1].get("content", "")) if request.messages else ""
    start = prompt.find("<<<SOURCES")
    return "\n".join(prompt[start:].splitlines()[:5]) + "\n" if start >= 0 else ""


def _completion(model: str, text: str, finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(tokens_of(text)), "total_tokens": 0},
    }


# --- what real small models sent back (issue 25: llama.cpp, SmolLM2-135M / Gemma-3-270M, 2,048 tokens) --
#
# Each recorded reply is rebuilt from the prompt it answers (the sources of the probe's June index are not
# the ones a test retrieves), keeping what made it fail: the same shape, the same kind of error.

_SOURCE_RE = re.compile(r"^\[(\d{1,3})\] (.+)$", re.MULTILINE)
_ABSTRACT_RE = re.compile(r"^Abstract: (.+)$", re.MULTILINE)
# The facts the probe's model changed while copying the Cosm abstract ("three largest" -> "two large",
# "attains improved" -> "achieves optimal"), and the like for other abstracts.
_CHANGES = (
    ("three", "two"),
    ("largest", "large"),
    ("improved", "optimal"),
    ("two", "four"),
    ("first", "only"),
    ("outperforms", "matches"),
)


def prompt_sources(request: RecordedRequest) -> list[tuple[int, str, str]]:
    """(number, title, abstract) of each source in the request's fenced source list."""
    prompt = str(request.messages[-1].get("content", "")) if request.messages else ""
    titles = _SOURCE_RE.findall(prompt)
    abstracts = _ABSTRACT_RE.findall(prompt)
    return [(int(n), t, a) for (n, t), a in zip(titles, abstracts, strict=False)]


def _changed(text: str) -> str:
    for old, new in _CHANGES:
        replaced = re.sub(rf"\b{old}\b", new, text, count=1, flags=re.IGNORECASE)
        if replaced != text:
            return replaced
    return re.sub(r"\b(\d+)\b", lambda m: str(int(m.group(1)) + 1), text, count=1)


def copied_abstract_not_found(request: RecordedRequest) -> Reply:
    """Case 1: source 1's abstract copied with its facts changed, no citation, then the not-found line."""
    sources = prompt_sources(request)
    abstract = sources[0][2] if sources else "Nothing was given."
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", abstract)
    copied = " ".join(_changed(s) for s in sentences[:4])
    return Reply(f"{copied}\n\nI could not find this in the indexed papers.")


def citation_marks_only(request: RecordedRequest) -> Reply:
    """Case 2: an answer that is nothing but citation marks."""
    return Reply("[1] [2] [3]")


def repeated_title_fragment(request: RecordedRequest) -> Reply:
    """Case 2 in the app: a cut title of another paper, cited once and then repeated 29 times."""
    return Reply("[3] Multilingual Unl…\n" + "Multilingual Unl…\n" * 29)


def echoed_instruction(request: RecordedRequest) -> Reply:
    """Case 4 (Gemma): the prompt's citation instruction echoed, its example marks read as citations."""
    return Reply(
        "Every sentence that states a finding ends with the number of the source it comes from, in square "
        "brackets, e.g. [1] or [2] when several sources support it.\n"
        "Cite each claim with the source number in square brackets, e.g. [1] or [2] when several sources "
        "support it."
    )


def echoed_title(request: RecordedRequest) -> Reply:
    """Case 4: a source's title with one word changed, cut ("[1] Samudra 2: Scale Ocean…"), as the only
    citation; then the abstract re-broken onto new lines without citations."""
    sources = prompt_sources(request)
    number, title, abstract = sources[0] if sources else (1, "Samudra 2: Scaling Ocean Emulation", "")
    words = title.split()
    if len(words) > 2:
        words[2] = words[2][:-1] + "e" if not words[2].endswith("e") else words[2][:-1]
    cut = " ".join(words[:4]) + "…"
    lines = re.split(r"(?<=[.!?])\s+(?=[A-Z])", abstract)[:3]
    return Reply(f"[{number}] {cut}\n" + "\n".join(lines))


def sources_fence_start(request: RecordedRequest) -> Reply:
    """Case 5: the reply starts by echoing the fenced source list (`<<<SOURCES`, a title, its labels),
    then answers with three cited sentences copied from the first three abstracts."""
    sources = prompt_sources(request)
    prompt = str(request.messages[-1].get("content", "")) if request.messages else ""
    start = prompt.find("<<<SOURCES")
    echo = "\n".join(prompt[start:].splitlines()[:3]) if start >= 0 else "<<<SOURCES"
    cited = []
    for number, _title, abstract in sources[:3]:
        first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", abstract)[0].rstrip(".")
        cited.append(f"{first} [{number}].")
    return Reply(f"{echo}\n\n" + " ".join(cited))


def cited_quotes(request: RecordedRequest) -> Reply:
    """A good reply for comparison: the first sentence of each of the first three abstracts, cited."""
    sources = prompt_sources(request)
    cited = []
    for number, _title, abstract in sources[:3]:
        sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z])", abstract)[0].rstrip(".")
        cited.append(f"{sentence} [{number}].")
    return Reply(" ".join(cited))


RECORDED: dict[str, Callable[[RecordedRequest], Reply]] = {
    "copied abstract, changed facts, 'could not find'": copied_abstract_not_found,
    "citation marks only": citation_marks_only,
    "repeated title fragment": repeated_title_fragment,
    "echoed instruction": echoed_instruction,
    "echoed title, re-broken abstract": echoed_title,
    "<<<SOURCES start, then cited": sources_fence_start,
    "cited quotes (good)": cited_quotes,
}
