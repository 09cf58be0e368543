"""Which language a text is written in, as far as the app needs to know: Chinese or not.

The answer's frame (notices, headings, counts) and a model's reply follow the question's language; the
interface follows the browser's (or the ACADEMICHUB_LANGUAGE setting). One rule for all of them lives here.
"""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["en", "zh"]
UiLanguage = Literal["en", "zh-CN"]
UI_LANGUAGES: tuple[UiLanguage, ...] = ("en", "zh-CN")

# CJK Unified Ideographs (and extension A, compatibility ideographs): what a Chinese question is made of.
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER_RE = re.compile(r"[^\W\d_]", re.UNICODE)
# A Chinese question names methods in English ("RAG", "MoE-LLaVA"): with this share of its letters
# ideographic it is still Chinese; an English question quoting one Chinese term stays English.
CJK_SHARE = 0.25


def cjk_share(text: str) -> float:
    """The share of the text's letters that are Chinese ideographs (0 for a text without letters)."""
    letters = _LETTER_RE.findall(text or "")
    if not letters:
        return 0.0
    return sum(1 for ch in letters if _CJK_RE.match(ch)) / len(letters)


def detect(text: str) -> Language:
    """ "zh" when enough of the text's letters are Chinese ideographs, else "en"."""
    return "zh" if cjk_share(text) >= CJK_SHARE else "en"


def ui_language(code: str | None) -> UiLanguage:
    """The catalog language for a browser or setting language code ("zh", "zh-CN", "zh-Hans-CN",
    "zh_TW", "en-US", ...): every Chinese variant reads the Simplified Chinese catalog, anything else
    English."""
    primary = re.split(r"[-_]", (code or "").strip().lower(), maxsplit=1)[0]
    return "zh-CN" if primary == "zh" else "en"


def reply_language(question: str, interface: UiLanguage | None = None) -> UiLanguage:
    """The language of an answer's frame: Chinese for a Chinese question, or in a Chinese interface;
    English otherwise."""
    if detect(question) == "zh":
        return "zh-CN"
    return interface or "en"
