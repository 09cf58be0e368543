"""The language model: any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp server, ...)
through llama-index `OpenAILike`, with streamed tokens and readable errors.

`get_llm(settings)` returns None when neither OPENAI_API_KEY nor OPENAI_BASE_URL is set: the caller then
runs in extractive mode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ingest.errors import UserFacingError
from ingest.settings import Settings

if TYPE_CHECKING:
    from llama_index.llms.openai_like import OpenAILike

Role = Literal["system", "user", "assistant"]
# A base URL alone (a local server) needs no key, but the client library insists on one.
PLACEHOLDER_API_KEY = "not-needed"
OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"


class LLMError(UserFacingError, RuntimeError):
    """The endpoint failed (timeout, refused connection, 401, 429, 5xx, ...); the message says what to do."""

    heading = "The language model failed"


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


class LLMClient:
    """One configured chat model. Thread-safe for concurrent calls (the openai client is)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = (settings.openai_base_url or OPENAI_DEFAULT_BASE).rstrip("/")
        self.model = settings.model
        self.timeout = settings.llm_timeout_seconds
        self._client: OpenAILike | None = None
        self._client_lock = threading.Lock()

    @property
    def _llm(self) -> OpenAILike:
        """The llama-index wrapper, made on the first call: importing llama-index takes seconds, and a
        command that never calls the model (`radar list`, `ask --extractive`) should not pay for it."""
        with self._client_lock:
            if self._client is None:
                from llama_index.llms.openai_like import OpenAILike

                settings = self.settings
                key = (
                    settings.openai_api_key.get_secret_value()
                    if settings.openai_api_key
                    else PLACEHOLDER_API_KEY
                )
                self._client = OpenAILike(
                    model=settings.model,
                    api_base=self.base_url,
                    api_key=key,
                    is_chat_model=True,
                    is_function_calling_model=False,
                    context_window=settings.llm_context_window,
                    temperature=settings.llm_temperature,
                    timeout=settings.llm_timeout_seconds,
                    max_retries=settings.llm_max_retries,
                )
            return self._client

    def describe(self) -> str:
        return f"{self.model} at {self.base_url}"

    def chat(self, messages: Sequence[Message], on_token: Callable[[str], None] | None = None) -> str:
        """The full reply. Tokens are streamed to `on_token` as they arrive when it is given."""
        from llama_index.core.llms import ChatMessage

        chat_messages = [ChatMessage(role=m.role, content=m.content) for m in messages]
        try:
            if on_token is None:
                response = self._llm.chat(chat_messages)
                return response.message.content or ""
            parts: list[str] = []
            for chunk in self._llm.stream_chat(chat_messages):
                delta = chunk.delta or ""
                if delta:
                    parts.append(delta)
                    on_token(delta)
            return "".join(parts)
        except LLMError:
            raise
        except Exception as err:  # the openai and httpx exception trees; anything else is a bug upstream
            raise LLMError(self.explain(err)) from err

    def explain(self, err: BaseException) -> str:
        """A readable sentence for an endpoint failure."""
        import openai

        where = self.describe()
        if isinstance(err, openai.APITimeoutError):
            return f"the language model ({where}) did not answer within {self.timeout:g} s"
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
            return f"the language model at {self.base_url} failed with HTTP {err.status_code}"
        return f"the language model at {self.base_url} failed: {type(err).__name__}: {err}"


def get_llm(settings: Settings) -> LLMClient | None:
    """The configured model, or None (extractive mode) when no key and no base URL are set."""
    if not settings.llm_configured:
        return None
    return LLMClient(settings)
