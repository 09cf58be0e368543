"""Text rules every layer shares: control characters never stored, case- and accent-folding, typed days."""

from __future__ import annotations

import unicodedata
from datetime import date

from assistant.core.errors import UserFacingError

# C0 and C1 control characters except tab and newline: an escape sequence in a title (ESC]8;; hides a
# hyperlink, ESC[2J clears the screen) must never reach a terminal, so none is kept in the catalog.
_CONTROL_CHARS = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)])


def strip_control_chars(text: str) -> str:
    """`text` without C0/C1 control characters (tab and newline stay)."""
    return text.translate(_CONTROL_CHARS)


def fold(text: str) -> str:
    """Case- and accent-insensitive form: 'Müller' -> 'muller'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


class DayError(UserFacingError, ValueError):
    """A day the user typed that is not YYYY-MM-DD."""


def parse_day(value: object, label: str) -> date | None:
    """A day typed by the user (`--since`, the app's 'Published since'): strictly YYYY-MM-DD, or None when
    blank. Unlike `parse_date` (lenient, for records), a typo is an error: a filter must not vanish."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DayError(f"{label} {text!r} is not a date: type it as YYYY-MM-DD, e.g. 2026-06-01") from None
