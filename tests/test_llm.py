"""The LLM client against tests/openai_standin.py, a local HTTP server speaking the OpenAI chat-completions
protocol with SSE streaming (no real endpoint is reachable from the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_settings
from openai_standin import OpenAIStandin, Reply, llama_context_error, tokens_of

from assistant.compose.llm import PLACEHOLDER_API_KEY, LLMClient, LLMError, Message, get_llm


@pytest.fixture
def standin() -> Iterator[OpenAIStandin]:
    with OpenAIStandin(default=Reply("Sparse attention cuts memory [1] and keeps accuracy [2].")) as server:
        yield server


def client_for(server: OpenAIStandin, tmp_path: Path, **llm: object) -> LLMClient:
    """A client of the stand-in; `llm` changes settings of the llm group (`timeout_seconds=1.0`)."""
    settings = make_settings(
        tmp_path, llm={"base_url": server.base_url, "model": "my-model", "max_retries": 0, **llm}
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


def test_chat_without_a_token_callback_and_the_configured_key(standin: OpenAIStandin, tmp_path: Path) -> None:
    llm = client_for(standin, tmp_path, api_key="sk-test-123")
    assert llm.chat([Message("user", "hi")]) == "Sparse attention cuts memory [1] and keeps accuracy [2]."
    # Streamed internally even when nobody watches the tokens (--json): timeouts are per token (issue 16).
    assert standin.requests[-1].stream
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
        client_for(standin, tmp_path, timeout_seconds=1.0).chat([Message("user", "hi")])


def test_unreachable_server_is_a_readable_error(tmp_path: Path) -> None:
    server = OpenAIStandin().start()
    url = server.base_url
    server.stop()  # nothing listens on that port any more
    llm = LLMClient(make_settings(tmp_path).replace(llm={"base_url": url, "max_retries": 0}))
    with pytest.raises(LLMError, match="cannot reach the language model"):
        llm.chat([Message("user", "hi")])


def test_no_key_and_no_base_url_means_no_llm(tmp_path: Path) -> None:
    assert get_llm(make_settings(tmp_path)) is None


# --- a slow small local model (issue 16: what llama.cpp's server did) -----------------------------------

TWELVE_WORDS = "Unlearning removes the forget set while the retained set keeps its accuracy [1]."


def test_a_slow_start_and_slow_tokens_pass_when_each_wait_is_short_enough(
    standin: OpenAIStandin, tmp_path: Path
) -> None:
    # First token after 1.2 s, then one token every 0.25 s: 4 s in all, longer than either timeout. The
    # --json path (no token callback) must not need the whole answer inside one timeout.
    standin.queue(Reply(TWELVE_WORDS, first_token_delay=1.2, token_delay=0.25))
    llm = client_for(standin, tmp_path, timeout_seconds=2.0, token_timeout_seconds=1.0)
    assert llm.chat([Message("user", "hi")]) == TWELVE_WORDS
    assert standin.requests[-1].stream


def test_a_stall_between_tokens_is_cut_at_the_gap_timeout_and_said(
    standin: OpenAIStandin, tmp_path: Path
) -> None:
    standin.queue(Reply(TWELVE_WORDS, token_delay=3.0))
    llm = client_for(standin, tmp_path, timeout_seconds=5.0, token_timeout_seconds=1.0)
    generation = llm.generate([Message("user", "hi")])
    assert generation.text == tokens_of(TWELVE_WORDS)[0]
    assert not generation.complete and "stopped sending text for 1 s" in (generation.cut or "")


def test_a_timeout_is_not_retried_so_the_fallback_comes_after_one_wait(
    standin: OpenAIStandin, tmp_path: Path
) -> None:
    standin.default = Reply("late", delay=3.0)
    llm = client_for(standin, tmp_path, timeout_seconds=1.0, max_retries=1)
    with pytest.raises(LLMError, match=r"did not answer within 1 s"):
        llm.chat([Message("user", "hi")])
    assert len(standin.requests) == 1  # the retry would have doubled the wait before the fallback


def test_a_quick_server_error_is_retried_within_the_same_wait(standin: OpenAIStandin, tmp_path: Path) -> None:
    standin.queue(Reply(status=503))
    llm = client_for(standin, tmp_path, max_retries=1)
    assert llm.chat([Message("user", "hi")]).startswith("Sparse attention")
    assert len(standin.requests) == 2


def test_max_tokens_is_sent(standin: OpenAIStandin, tmp_path: Path) -> None:
    llm = client_for(standin, tmp_path)
    generation = llm.generate([Message("user", "hi")], max_tokens=4)
    assert standin.requests[-1].body["max_tokens"] == 4
    # The server stopped at the limit: the reply says so instead of passing for a whole answer.
    assert generation.finish_reason == "length" and generation.text == "Sparse attention cuts memory"
    assert not generation.complete and "4-token length limit" in (generation.cut or "")


def test_a_stream_without_its_end_is_not_complete(standin: OpenAIStandin, tmp_path: Path) -> None:
    standin.queue(Reply("Partial answer [1]", end="no_done"))
    generation = client_for(standin, tmp_path).generate([Message("user", "hi")])
    assert generation.text == "Partial answer [1]"
    assert not generation.complete and "ended before the answer was finished" in (generation.cut or "")


def test_a_connection_dropped_mid_answer_is_said_in_plain_words(
    standin: OpenAIStandin, tmp_path: Path
) -> None:
    standin.queue(Reply("Partial answer [1] and then", end="drop"))
    generation = client_for(standin, tmp_path).generate([Message("user", "hi")])
    assert generation.text == "Partial answer [1] and then"
    assert "connection to the language model broke off" in (generation.cut or "")
    assert "RemoteProtocolError" not in (generation.cut or "") and "chunked" not in (generation.cut or "")


def test_a_context_error_keeps_the_servers_reason(standin: OpenAIStandin, tmp_path: Path) -> None:
    standin.queue(llama_context_error(2550, 2048))
    with pytest.raises(LLMError) as caught:
        client_for(standin, tmp_path).chat([Message("user", "hi")])
    assert "request (2550 tokens) exceeds the available context size (2048 tokens)" in str(caught.value)
    assert caught.value.context_overflow
    assert (caught.value.prompt_tokens, caught.value.context_size) == (2550, 2048)


def test_a_model_name_the_server_does_not_list_is_warned_about(
    standin: OpenAIStandin, tmp_path: Path
) -> None:
    standin.models = ["SmolLM2-135M-Instruct-Q8_0.gguf"]
    warning = client_for(standin, tmp_path).model_warning()
    assert warning is not None
    assert "'my-model'" in warning and "SmolLM2-135M-Instruct-Q8_0.gguf" in warning
    assert "ACADEMICHUB_MODEL" in warning
    standin.models = ["other", "my-model"]
    assert client_for(standin, tmp_path).model_warning() is None


def test_a_malformed_stream_is_said_to_be_unreadable_not_late(standin: OpenAIStandin, tmp_path: Path) -> None:
    """Issue 28 item 13: `data: {not json` was reported as 'did not answer within 10 s'."""
    llm = client_for(standin, tmp_path, timeout_seconds=120.0)
    llm.chat([Message("user", "hi")])  # a first normal reply: the client is built (a slow import) and warm
    standin.queue(Reply("", raw_events=(b"data: {not json\n\n",), end="no_done"))
    with pytest.raises(LLMError, match="reply could not be read") as caught:
        llm.chat([Message("user", "hi")])
    assert "did not answer" not in str(caught.value)
    # After some text: the text is kept, and the answer is marked incomplete for that reason.
    standin.queue(Reply("Sparse attention helps [1].", raw_events=(b"data: {not json\n\n",), end="no_done"))
    generation = llm.generate([Message("user", "hi")])
    assert generation.text == "Sparse attention helps [1]."
    assert generation.cut is not None and "could not be read" in generation.cut


def test_a_server_ignoring_max_tokens_is_cut_client_side(standin: OpenAIStandin, tmp_path: Path) -> None:
    """Issue 28 item 5: a server that ignores max_tokens streamed 2.2 MB, accepted as a complete answer. The
    client stops reading past a budget derived from max_tokens and marks the answer incomplete."""
    llm = client_for(standin, tmp_path, timeout_seconds=120.0)
    flood = "Sparse attention cuts memory [1]. " * 2000  # 68,000 characters
    standin.queue(Reply(flood, ignore_max_tokens=True, chunk_chars=500))
    streamed: list[str] = []
    generation = llm.generate([Message("user", "hi")], max_tokens=100, on_token=streamed.append)
    assert 0 < len(generation.text) <= 800 and "".join(streamed) == generation.text
    assert not generation.complete and "100-token limit" in (generation.cut or "")
    assert flood.startswith(generation.text)
