"""Questions in other languages: detected by script, searched against the multilingual (e5) index, and
fused with BM25 over the Latin-script words they carry (acronyms and method names inside Chinese text:
"RAG", "MoE", "CASSI"), which the English abstracts share.

The packaged MiniLM is English-only (a Chinese question lands near arbitrary papers: R@5 0.025 on Chinese
problem statements about June papers), so its list is left out of a non-English question's fusion.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from assistant.store.filter import PaperFilter
from assistant.store.multilingual import get_multilingual_encoder

if TYPE_CHECKING:
    from assistant.search.retrieval import Candidates, Mode, Retriever

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


def multilingual_candidates(
    retriever: Retriever, text: str, depth: int, flt: PaperFilter, mode: Mode
) -> Candidates:
    """A non-English question's lists: e5 dense over the multilingual index ("query: ") and, in hybrid
    mode, BM25 over its Latin words (on the BM25 thread while the question is encoded). The query vector
    and the papers' vectors are e5's, so relevance and MMR compare within its space."""
    from assistant.search.retrieval import Candidates

    index = retriever.multilingual
    assert index is not None  # the caller checked
    words = latin_words(text)
    lexical_job = (
        retriever._lexical_pool().submit(retriever._lexical, words, depth, flt)
        if words and mode == "hybrid"
        else None
    )
    qvec = get_multilingual_encoder(retriever.settings.storage.cache_dir / "models").query(text)
    found = Candidates(query_vector=qvec, space="multilingual")
    among = retriever.catalog.filter_ids(flt) if flt.active else None
    found.dense = index.nearest(qvec, depth, among=among)
    if lexical_job is not None:
        found.lexical, found.terms, found.matches = lexical_job.result()
    return found
