"""Text rules every layer shares: control characters never stored, case- and accent-folding, typed days."""

from __future__ import annotations

import unicodedata
from datetime import date

from assistant.core.errors import UserFacingError

# C0 and C1 control characters except tab and newline: an escape sequence in a title (ESC]8;; hides a
# hyperlink, ESC[2J clears the screen) must never reach a terminal, so none is kept in the catalog.
# Bidirectional controls (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates, U+200E/U+200F and
# U+061C marks) reorder what a reader sees: a stored "evil.example/lmth.exe" behind U+202E shows as
# "exe.html/elpmaxe.live". Zero-width characters (U+200B-U+200D, U+2060-U+2064 joiners and invisible
# operators, U+FEFF, U+180E) hide inside words and host names. Neither carries meaning in paper metadata, so
# both go with the control characters.
_INVISIBLE_CHARS = [0x061C, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F), *range(0x2060, 0x2065)]
_INVISIBLE_CHARS += [*range(0x2066, 0x206A), 0xFEFF]
_CONTROL_CHARS = dict.fromkeys(
    [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0), *_INVISIBLE_CHARS]
)


def strip_control_chars(text: str) -> str:
    """`text` without C0/C1 control characters (tab and newline stay), bidirectional controls and
    zero-width characters."""
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
