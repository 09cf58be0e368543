"""Questions in other languages: detected by script, searched against the multilingual (e5) index, and
fused with BM25 over the Latin-script words they carry (acronyms and method names inside Chinese text:
"RAG", "MoE", "CASSI"), which the English abstracts share.

The packaged MiniLM is English-only (a Chinese question lands near arbitrary papers: R@5 0.025 on Chinese
problem statements about June papers), so its list is left out of a non-English question's fusion.
"""

from __future__ import annotations

import re
import unicodedata

FOREIGN_SHARE = 0.3  # a question whose letters are at least 30% non-Latin takes the multilingual path
_LATIN_WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*")


def _is_latin_letter(char: str) -> bool:
    return char.isascii() or unicodedata.name(char, "").startswith("LATIN")


def non_latin_share(text: str) -> float:
    """The share of the text's letters (CJK, kana, Hangul, Cyrillic...) outside the Latin script."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(not _is_latin_letter(c) for c in letters) / len(letters)


def is_foreign(text: str) -> bool:
    """True for a question mostly written in a non-Latin script (Chinese, Japanese, Korean, Russian...)."""
    return non_latin_share(text) >= FOREIGN_SHARE


def latin_words(text: str) -> str:
    """The Latin-script words of a mixed-script question, space-joined: "基于RAG的问答" -> "RAG"."""
    return " ".join(_LATIN_WORD_RE.findall(text))
