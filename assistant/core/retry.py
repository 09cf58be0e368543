"""One back-off rule for every remote call that may fail for a moment: the arXiv API, the bioRxiv API and
the language model. After the nth failure in a row the caller pauses `first_pause x 2^(n-1)` seconds and
tries again, until `retries` retries are spent (or the next pause would end past a deadline)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Backoff:
    """Counts failures in a row and sleeps between them; a success resets the count.

    Callers keep their own loop (a paged source resumes where it was, the model client re-sends the
    prompt): they call `retry(what)` after a failure and give up, with their own message, when it says no.
    """

    def __init__(
        self,
        name: str,
        *,
        retries: int,
        first_pause: float,
        deadline: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        log_level: int = logging.WARNING,
    ) -> None:
        self.name = name
        self.retries = retries
        self.first_pause = first_pause
        self.deadline = deadline
        self.failures = 0
        self._sleep = sleep
        self._clock = clock
        self._log_level = log_level

    def next_pause(self) -> float:
        """The pause before the next try, were the current failure counted."""
        return self.first_pause * 2**self.failures

    def retry(self, what: str) -> bool:
        """Count a failure (`what` went wrong); pause and return True when another try is due, False when the
        retries are spent or the pause would end at or past the deadline (nothing is slept then)."""
        pause = self.next_pause()
        self.failures += 1
        if self.failures > self.retries:
            return False
        if self.deadline is not None and self._clock() + pause >= self.deadline:
            return False
        log.log(
            self._log_level,
            "%s gave %s; retrying in %.1f s (try %d of %d)",
            self.name,
            what,
            pause,
            self.failures,
            self.retries,
        )
        self._sleep(pause)
        return True

    def succeeded(self) -> None:
        """A call worked: the next failure is the first in a row again."""
        self.failures = 0
