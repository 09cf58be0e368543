"""The language model: any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp server, ...)
through llama-index `OpenAILike`, always streamed, with readable errors.

Every request streams, also when nobody watches the tokens (`--json`): a small local model may take 20 s
before its first token and then write 10 tokens a second, so the waits that matter are the time to the
first token (`llm_timeout_seconds`) and the gap between tokens (`llm_token_timeout_seconds`), never the
total. A timeout is not retried (that would double the wait before the fallback); quick failures (429, 5xx,
refused connection) are retried within the same first-token wait.

`generate` returns a `Generation` that says whether the text is complete: cut at the length limit, a stream
that ended without its finish reason, a connection that broke off or a stall mid-answer are all reported in
`Generation.cut`, in words a researcher can act on.

`get_llm(settings)` returns None when neither OPENAI_API_KEY nor OPENAI_BASE_URL is set: the caller then
runs in extractive mode.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from assistant.core.errors import UserFacingError
from assistant.core.retry import Backoff
from assistant.core.settings import Settings

if TYPE_CHECKING:
    from llama_index.llms.openai_like import OpenAILike

log = logging.getLogger("academichub.llm")

Role = Literal["system", "user", "assistant"]
# A base URL alone (a local server) needs no key, but the client library insists on one.
PLACEHOLDER_API_KEY = "not-needed"
OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"
# The HTTP client's own read timeout is only a backstop behind the watchdog below (which measures tokens,
# not bytes), so that an abandoned stream ends soon after the watchdog gave up on it.
_BACKSTOP_SECONDS = 5.0
_RETRY_PAUSE_SECONDS = 0.5
_MODEL_LIST_TIMEOUT_SECONDS = 5.0
# A server that ignores max_tokens could stream without end (a probe got 2.2 MB): reading stops at this many
# characters per asked token (a token is about 4 characters of English), or at the cap when none was asked.
_CHARS_PER_TOKEN_BUDGET = 8
_UNASKED_BUDGET_CHARS = 200_000

# llama.cpp: "request (2550 tokens) exceeds the available context size (2048 tokens)"; OpenAI/vLLM: "This
# model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens".
_LLAMA_CONTEXT_RE = re.compile(r"\((\d+) tokens\) exceeds the available context size \((\d+) tokens\)")
_OPENAI_CONTEXT_RE = re.compile(r"maximum context length is (\d+) tokens.*?resulted in (\d+) tokens", re.S)
_CONTEXT_WORDS_RE = re.compile(
    r"context (?:size|length|window)|exceeds? the|too (?:long|many tokens)|n_ctx", re.IGNORECASE
)


class LLMError(UserFacingError, RuntimeError):
    """The endpoint failed (timeout, refused connection, 401, 429, 5xx, ...); the message says what to do.

    `context_overflow` is set when the server refused the prompt as longer than its context window, with
    the token counts the server gave when it gave them."""

    def __init__(
        self,
        message: str,
        *,
        context_overflow: bool = False,
        prompt_tokens: int | None = None,
        context_size: int | None = None,
    ) -> None:
        super().__init__(message)
        self.context_overflow = context_overflow
        self.prompt_tokens = prompt_tokens
        self.context_size = context_size

    heading = "The language model failed"


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Generation:
    """What the model wrote. `cut` says, in a researcher's words, why the text is incomplete (None: the
    model finished normally)."""

    text: str
    finish_reason: str | None
    cut: str | None = None

    @property
    def complete(self) -> bool:
        return self.cut is None


class LLMClient:
    """One configured chat model. Thread-safe for concurrent calls (the openai client is)."""

    def __init__(self, settings: Settings) -> None:
        key = settings.llm.api_key.get_secret_value() if settings.llm.api_key else PLACEHOLDER_API_KEY
        self.settings = settings
        self.base_url = (settings.llm.base_url or OPENAI_DEFAULT_BASE).rstrip("/")
        self.model = settings.llm.model
        self.api_key = key
        self.timeout = settings.llm.timeout_seconds
        self.token_timeout = settings.llm.token_timeout_seconds
        self.max_retries = settings.llm.max_retries
        self._model_warning: tuple[str | None] | None = None
        self._client: OpenAILike | None = None
        self._client_lock = threading.Lock()

    @property
    def _llm(self) -> OpenAILike:
        """The llama-index wrapper, made on the first call: importing llama-index takes seconds, and a
        command that never calls the model (`radar list`, `ask --extractive`) should not pay for it."""
        with self._client_lock:
            if self._client is None:
                from llama_index.llms.openai_like import OpenAILike

                self._client = OpenAILike(
                    model=self.model,
                    api_base=self.base_url,
                    api_key=self.api_key,
                    is_chat_model=True,
                    is_function_calling_model=False,
                    context_window=self.settings.llm.context_window,
                    temperature=self.settings.llm.temperature,
                    timeout=max(self.timeout, self.token_timeout) + _BACKSTOP_SECONDS,
                    max_retries=0,  # retried here, within the first-token wait (see `generate`)
                )
            return self._client

    def prepare(self) -> None:
        """Build the client now (importing llama-index takes seconds in a fresh process), so that a call
        timed after this is timed for the model alone."""
        _ = self._llm

    def describe(self) -> str:
        return f"{self.model} at {self.base_url}"

    def chat(
        self,
        messages: Sequence[Message],
        on_token: Callable[[str], None] | None = None,
        max_tokens: int | None = None,
    ) -> str:
        """The reply text (possibly incomplete: use `generate` to know). Tokens go to `on_token` as they
        arrive when it is given."""
        return self.generate(messages, max_tokens=max_tokens, on_token=on_token).text

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Generation:
        """Stream a reply. Raises LLMError when nothing usable came (no first token in time, HTTP errors);
        a reply that started and then stopped early comes back with `cut` set."""
        deadline = time.monotonic() + self.timeout
        backoff = Backoff(
            f"the language model at {self.base_url}",
            retries=self.max_retries,
            first_pause=_RETRY_PAUSE_SECONDS,
            deadline=deadline,  # a retry must not wait past the first-token limit
            log_level=logging.INFO,
        )
        while True:
            try:
                return self._stream_once(messages, max_tokens, on_token, deadline)
            except _Retryable as failure:
                if not backoff.retry(type(failure.error).__name__):
                    raise LLMError(self.explain(failure.error)) from failure.error

    def _stream_once(
        self,
        messages: Sequence[Message],
        max_tokens: int | None,
        on_token: Callable[[str], None] | None,
        deadline: float,
    ) -> Generation:
        from llama_index.core.llms import ChatMessage

        chat_messages = [ChatMessage(role=m.role, content=m.content) for m in messages]
        kwargs: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens else {}
        events: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        stop = threading.Event()

        def pump() -> None:
            """Read the stream in a worker thread, so that the caller can time out on tokens."""
            stream: Iterator[Any] | None = None
            try:
                stream = iter(self._llm.stream_chat(chat_messages, **kwargs))
                for chunk in stream:
                    events.put(("delta", chunk.delta or "", _finish_reason(chunk.raw)))
                    if stop.is_set():
                        break
                events.put(("end", None, None))
            except BaseException as err:  # handed to the caller's thread, which explains it
                events.put(("error", err, None))
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()

        threading.Thread(target=pump, name="llm-stream", daemon=True).start()
        parts: list[str] = []
        finish: str | None = None
        budget = max_tokens * _CHARS_PER_TOKEN_BUDGET if max_tokens else _UNASKED_BUDGET_CHARS
        received = 0
        try:
            while True:
                try:
                    kind, payload, reason = events.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    if not parts:
                        raise LLMError(self._no_first_token()) from None
                    return Generation(
                        "".join(parts),
                        finish,
                        f"the language model stopped sending text for {self.token_timeout:g} s in the "
                        "middle of its answer",
                    )
                if kind == "delta":
                    finish = reason or finish
                    if payload:
                        over = received + len(payload) > budget
                        payload = payload[: budget - received] if over else payload
                        received += len(payload)
                        parts.append(payload)
                        if on_token is not None and payload:
                            on_token(payload)
                        if over:  # the server ignores max_tokens: stop reading, say the answer is cut
                            limit = f"its {max_tokens}-token limit" if max_tokens else "any answer needs"
                            return Generation(
                                "".join(parts),
                                "length",
                                f"the language model sent more text than {limit}; the rest was not read",
                            )
                        deadline = time.monotonic() + self.token_timeout
                elif kind == "end":
                    return Generation("".join(parts), finish, self._cut_reason(finish, max_tokens))
                else:
                    if parts:  # it broke off after writing something: keep it, say why it ended
                        # For the log of a server (the app); not a warning: the CLI would print it raw.
                        log.info("language model stream failed mid-answer: %r", payload)
                        why = (
                            "the language model server's reply could not be read in the middle of its answer"
                            if _unreadable(payload)
                            else "the connection to the language model broke off in the middle of its answer"
                        )
                        return Generation("".join(parts), finish, why)
                    raise self._failure(payload)
        finally:
            stop.set()

    def _no_first_token(self) -> str:
        return (
            f"the language model ({self.describe()}) did not answer within {self.timeout:g} s "
            "(a small local model may need a longer ACADEMICHUB_LLM_TIMEOUT_SECONDS)"
        )

    def _unreadable_reply(self) -> str:
        return (
            f"the language model server's reply could not be read ({self.describe()} did not send the OpenAI "
            "streaming format: is ACADEMICHUB_OPENAI_BASE_URL an OpenAI-compatible /v1 endpoint?)"
        )

    @staticmethod
    def _cut_reason(finish: str | None, max_tokens: int | None) -> str | None:
        if finish == "length":
            limit = f"{max_tokens}-token " if max_tokens else ""
            return f"the answer reached the model's {limit}length limit and was cut off"
        if finish is None:
            return "the model's stream ended before the answer was finished (no end-of-answer signal)"
        return None

    def _failure(self, err: BaseException) -> BaseException:
        """The exception to raise for a failure before the first token."""
        import openai

        if isinstance(err, LLMError):
            return err
        if _unreadable(err):
            return LLMError(self._unreadable_reply())
        if isinstance(err, openai.APITimeoutError):
            return LLMError(self._no_first_token())
        if isinstance(err, openai.RateLimitError | openai.InternalServerError | openai.APIConnectionError):
            return _Retryable(err)
        if isinstance(err, openai.BadRequestError):
            reason = server_reason(err)
            overflow = _context_numbers(reason)
            if overflow is not None or _CONTEXT_WORDS_RE.search(reason):
                prompt, context = overflow or (None, None)
                return LLMError(
                    self.explain(err), context_overflow=True, prompt_tokens=prompt, context_size=context
                )
        if not isinstance(err, Exception):
            return err  # KeyboardInterrupt and friends go up unchanged
        return LLMError(self.explain(err))

    def explain(self, err: BaseException) -> str:
        """A readable sentence for an endpoint failure, with the server's own reason when it gave one."""
        import openai

        where = self.describe()
        if isinstance(err, openai.APITimeoutError):
            return self._no_first_token()
        if isinstance(err, openai.APIConnectionError):
            return f"cannot reach the language model at {self.base_url} (is the server running?)"
        if isinstance(err, openai.AuthenticationError):
            return f"the endpoint {self.base_url} refused the API key (HTTP 401): check OPENAI_API_KEY"
        if isinstance(err, openai.PermissionDeniedError):
            return f"the API key may not use {self.model} at {self.base_url} (HTTP 403)"
        if isinstance(err, openai.NotFoundError):
            return f"model {self.model!r} not found at {self.base_url} (HTTP 404): check ACADEMICHUB_MODEL"
        if isinstance(err, openai.RateLimitError):
            return (
                f"the language model at {self.base_url} is rate-limiting requests (HTTP 429): try again later"
            )
        if isinstance(err, openai.APIStatusError):
            reason = server_reason(err)
            said = f": the server says “{reason}”" if reason else ""
            return f"the language model at {self.base_url} failed with HTTP {err.status_code}{said}"
        log.warning("unexpected language model failure (%s)", where, exc_info=err)
        return (
            f"the language model at {self.base_url} failed unexpectedly; the server's log may say why "
            "(the details are in this program's log)"
        )

    def model_warning(self) -> str | None:
        """A warning when the server does not list ACADEMICHUB_MODEL among its models (llama.cpp serves its
        one model whatever name is asked for). None when it does, or when the list cannot be had. Asked once
        per client."""
        if self._model_warning is None:
            self._model_warning = (self._check_model(),)
        return self._model_warning[0]

    def _check_model(self) -> str | None:
        import openai

        client = openai.OpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=_MODEL_LIST_TIMEOUT_SECONDS, max_retries=0
        )
        try:
            served = [m.id for m in client.models.list()]
        except Exception as err:  # a server without /models, or down: the first question says so
            log.info("cannot list the models at %s: %s", self.base_url, err)
            return None
        finally:
            client.close()
        if not served or self.model in served:
            return None
        names = ", ".join(repr(name) for name in served[:5]) + (" ..." if len(served) > 5 else "")
        return (
            f"the language model server at {self.base_url} does not list the model {self.model!r}; it serves "
            f"{names}. Set ACADEMICHUB_MODEL to one of these (a llama.cpp server answers with its own model "
            "whatever name is asked for)."
        )


class _Retryable(Exception):
    """A quick failure worth another try (429, 5xx, refused connection)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _unreadable(err: BaseException) -> bool:
    """A stream event that is not JSON (`data: {not json`): the server answered, in a form we cannot read."""
    return isinstance(err, json.JSONDecodeError | UnicodeDecodeError)


def _finish_reason(raw: Any) -> str | None:
    choices = getattr(raw, "choices", None) or []
    return getattr(choices[0], "finish_reason", None) if choices else None


def server_reason(err: BaseException) -> str:
    """The server's own error message (llama.cpp, OpenAI and vLLM put it at error.message)."""
    body = getattr(err, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        return ""
    return " ".join(message.split())[:300]


def _context_numbers(reason: str) -> tuple[int, int] | None:
    """(prompt tokens, context size) from a context-overflow message, when the server gave them."""
    llama = _LLAMA_CONTEXT_RE.search(reason)
    if llama:
        return int(llama.group(1)), int(llama.group(2))
    openai_style = _OPENAI_CONTEXT_RE.search(reason)
    if openai_style:
        return int(openai_style.group(2)), int(openai_style.group(1))
    return None


def get_llm(settings: Settings) -> LLMClient | None:
    """The configured model, or None (extractive mode) when no key and no base URL are set."""
    if not settings.llm.configured:
        return None
    return LLMClient(settings)
