"""A part made on first use, once, by the function the wiring place gives.

The engine decides how each part is built (one place); the parts that hold another part only say when they
need it. A command that fails on its arguments never waits for the embedding model (~25 s cold) or Chroma.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    """`make()` on the first `get()`, then that same object (thread-safe: made once even when the chat app's
    worker threads ask together)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, value: T) -> Lazy[T]:
        """A part that already exists (a test's or a benchmark's shared model)."""
        made: Lazy[T] = cls(lambda: value)
        made._value = value
        return made

    @property
    def made(self) -> bool:
        return self._value is not None

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._make()
        return self._value
