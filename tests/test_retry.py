"""One back-off rule for the arXiv API, the bioRxiv API and the language model: pauses double after each
failure in a row, a success starts over, and the caller is told to give up when the retries are spent or
the next pause would end past its deadline."""

from __future__ import annotations

import logging

import pytest

from assistant.core.retry import Backoff


def test_pauses_double_until_the_retries_are_spent() -> None:
    slept: list[float] = []
    backoff = Backoff("arXiv API", retries=3, first_pause=5.0, sleep=slept.append)
    assert [backoff.retry("HTTP 503") for _ in range(4)] == [True, True, True, False]
    assert slept == [5.0, 10.0, 20.0]  # nothing slept before giving up
    assert backoff.failures == 4  # what the give-up message reports ("4 times in a row")


def test_a_success_starts_the_doubling_over() -> None:
    slept: list[float] = []
    backoff = Backoff("bioRxiv API", retries=2, first_pause=1.0, sleep=slept.append)
    assert backoff.retry("HTTP 429") and backoff.retry("HTTP 429")
    backoff.succeeded()
    assert backoff.retry("an empty page") and backoff.retry("an empty page")
    assert not backoff.retry("an empty page")
    assert slept == [1.0, 2.0, 1.0, 2.0]


def test_no_retry_waits_past_the_deadline() -> None:
    slept: list[float] = []
    now = [100.0]
    backoff = Backoff(
        "the language model",
        retries=5,
        first_pause=1.0,
        deadline=103.5,
        sleep=slept.append,
        clock=lambda: now[0],
    )
    assert backoff.retry("RateLimitError")  # 100 + 1 < 103.5
    now[0] = 101.0
    assert backoff.retry("RateLimitError")  # 101 + 2 < 103.5
    now[0] = 103.0
    assert not backoff.retry("RateLimitError")  # 103 + 4 would end past the deadline
    assert slept == [1.0, 2.0]


def test_no_retries_means_the_first_failure_is_final() -> None:
    slept: list[float] = []
    assert not Backoff("arXiv API", retries=0, first_pause=5.0, sleep=slept.append).retry("HTTP 500")
    assert slept == []


def test_each_retry_is_logged_with_its_pause_and_count(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="assistant.core.retry"):
        Backoff("arXiv API", retries=5, first_pause=0.0, sleep=lambda _: None).retry("HTTP 503")
    assert "arXiv API gave HTTP 503; retrying in 0.0 s (try 1 of 5)" in caplog.text
