"""The app's own texts in English and Simplified Chinese, from one catalog per language
(`assistant/core/messages/en.json`, `zh-CN.json`), through one lookup: `t(key, **values)`.

Which language: an explicit `lang`, else the reply language set for the current call (`reply_in`, a
context variable: the answerer sets it from the question, so the notices written deep inside the composers
follow the question without every function taking a language), else English. Context variables travel
into `asyncio.to_thread` workers, and each thread or task sees its own value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from assistant.core.language import UI_LANGUAGES, UiLanguage, ui_language

CATALOG_DIR = Path(__file__).resolve().parent / "messages"
_reply: ContextVar[UiLanguage] = ContextVar("academichub_reply_language", default="en")


@cache
def catalog(lang: UiLanguage) -> dict[str, str]:
    """One language's texts by key (read once per process)."""
    data = json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return {str(key): str(value) for key, value in data.items()}


def current() -> UiLanguage:
    """The reply language of the current call (English unless `reply_in` set another)."""
    return _reply.get()


@contextmanager
def reply_in(lang: UiLanguage) -> Iterator[UiLanguage]:
    """Within the block, `t` without a `lang` answers in `lang` (and restores the outer one after)."""
    token = _reply.set(lang)
    try:
        yield lang
    finally:
        _reply.reset(token)


def t(key: str, lang: str | None = None, /, **values: Any) -> str:
    """The text `key` in `lang` (a code such as "zh-CN" or "en-US"; default: the current reply language),
    with `{name}` placeholders filled from `values`. A key missing in a language falls back to English; a
    key missing everywhere is a programming error (KeyError), caught by the catalog tests."""
    chosen = ui_language(lang) if lang is not None else current()
    texts = catalog(chosen)
    template = texts[key] if key in texts else catalog("en")[key]
    return template.format(**values) if values else template


def plural(count: int, key: str, lang: str | None = None) -> str:
    """ "3 papers" / "1 paper" / "3 篇论文": the catalog holds `key.one` and `key.other`, each with
    `{n}`."""
    form = "one" if count == 1 else "other"
    return t(f"{key}.{form}", lang, n=f"{count:,}")


def languages() -> tuple[UiLanguage, ...]:
    """The languages the catalog is written in."""
    return UI_LANGUAGES
