"""The one base of every error a user can act on.

Each shell (the CLI, the chat app) catches `UserFacingError` once and shows `str(err)` (escaped: it can quote
user input or paper text) under the error's `heading`, plus its `hint` when there is one. Errors keep their
old built-in bases too (`ValueError`, `RuntimeError`, ...) so callers that catch those still do.
"""

from __future__ import annotations

from typing import ClassVar


class UserFacingError(Exception):
    """A problem the user can fix or must know about: `str(err)` is one readable sentence.

    `heading` says what kind of problem it is (the chat app shows it in bold); `hint` (our own text, never
    user input) says what to do next, when the message does not already."""

    heading: ClassVar[str] = "Cannot do that"
    default_hint: ClassVar[str | None] = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint if hint is not None else self.default_hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""
