"""The LLM client against tests/openai_standin.py, a local HTTP server speaking the OpenAI chat-completions
protocol with SSE streaming (no real endpoint is reachable from the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_settings
from openai_standin import OpenAIStandin, Reply, tokens_of

from assistant.compose.llm import PLACEHOLDER_API_KEY, LLMClient, LLMError, Message, get_llm


@pytest.fixture
def standin() -> Iterator[OpenAIStandin]:
    with OpenAIStandin(default=Reply("Sparse attention cuts memory [1] and keeps accuracy [2].")) as server:
        yield server


def client_for(server: OpenAIStandin, tmp_path: Path, **overrides: object) -> LLMClient:
    settings = make_settings(
        tmp_path, openai_base_url=server.base_url, model="my-model", llm_max_retries=0, **overrides
    )
    llm = get_llm(settings)
    assert llm is not None
    return llm


def test_streamed_tokens_arrive_in_order_and_make_the_reply(standin: OpenAIStandin, tmp_path: Path) -> None:
    llm = client_for(standin, tmp_path)
    tokens: list[str] = []
    text = llm.chat([Message("system", "be brief"), Message("user", "what is new?")], on_token=tokens.append)
    assert text == "Sparse attention cuts memory [1] and keeps accuracy [2]."
    assert tokens == tokens_of(text) and len(tokens) > 5
    request = standin.requests[-1]
    assert request.stream and request.body["model"] == "my-model"
    assert [m["role"] for m in request.messages] == ["system", "user"]
    assert request.messages[1]["content"] == "what is new?"
    # Only a base URL configured (a local server): a placeholder key is sent, never nothing.
    assert request.headers["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"


def test_non_streaming_chat_and_the_configured_key(standin: OpenAIStandin, tmp_path: Path) -> None:
    llm = client_for(standin, tmp_path, openai_api_key="sk-test-123")
    assert llm.chat([Message("user", "hi")]) == "Sparse attention cuts memory [1] and keeps accuracy [2]."
    assert not standin.requests[-1].stream
    assert standin.requests[-1].headers["authorization"] == "Bearer sk-test-123"


@pytest.mark.parametrize(
    ("status", "words"),
    [(401, "HTTP 401"), (429, "HTTP 429"), (500, "HTTP 500"), (503, "HTTP 503"), (404, "not found")],
)
def test_http_errors_become_readable_llm_errors(
    standin: OpenAIStandin, tmp_path: Path, status: int, words: str
) -> None:
    standin.queue(Reply(status=status))
    with pytest.raises(LLMError) as caught:
        client_for(standin, tmp_path).chat([Message("user", "hi")], on_token=lambda _: None)
    assert words in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_timeout_becomes_a_readable_error(standin: OpenAIStandin, tmp_path: Path) -> None:
    standin.queue(Reply("late", delay=3.0))
    with pytest.raises(LLMError, match=r"did not answer within 1 s"):
        client_for(standin, tmp_path, llm_timeout_seconds=1.0).chat([Message("user", "hi")])


def test_unreachable_server_is_a_readable_error(tmp_path: Path) -> None:
    server = OpenAIStandin().start()
    url = server.base_url
    server.stop()  # nothing listens on that port any more
    llm = LLMClient(make_settings(tmp_path, openai_base_url=url, llm_max_retries=0))
    with pytest.raises(LLMError, match="cannot reach the language model"):
        llm.chat([Message("user", "hi")])


def test_no_key_and_no_base_url_means_no_llm(tmp_path: Path) -> None:
    assert get_llm(make_settings(tmp_path)) is None
