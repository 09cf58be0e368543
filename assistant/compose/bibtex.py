"""BibTeX export of a briefing's papers: escaped fields, unique keys, @article for published versions and
@misc for preprints."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.core.paper import Paper
from assistant.search.words import GENERIC_WORDS

# --- BibTeX ------------------------------------------------------------------------------------------------

_BIB_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def bibtex_escape(text: str) -> str:
    return "".join(_BIB_SPECIAL.get(ch, ch) for ch in re.sub(r"\s+", " ", text).strip())


def bibtex_key(paper: Paper, taken: set[str]) -> str:
    last = paper.authors[0].split()[-1] if paper.authors and paper.authors[0].split() else "anon"
    stem = re.sub(r"[^A-Za-z0-9]", "", _ascii(last)).lower() or "anon"
    title_words = re.findall(r"[A-Za-z]{4,}", _ascii(paper.title))
    word = next((w for w in title_words if w.lower() not in GENERIC_WORDS), "paper")
    base = f"{stem}{paper.year or ''}{word.lower()}"
    key, suffix = base, 0
    while key in taken:
        suffix += 1
        key = f"{base}{chr(ord('a') + suffix - 1) if suffix <= 26 else suffix}"
    taken.add(key)
    return key


def _ascii(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def bibtex_entries(papers: Sequence[Paper]) -> str:
    taken: set[str] = set()
    entries = []
    for paper in papers:
        if paper.source != "arxiv":
            entries.append(_bibtex_preprint(paper, taken))
            continue
        fields = [
            ("title", "{" + bibtex_escape(paper.title) + "}"),
            ("author", " and ".join(bibtex_escape(a) for a in paper.authors) or "Unknown"),
            ("year", str(paper.year or "")),
            ("eprint", paper.id),
            ("archivePrefix", "arXiv"),
            ("primaryClass", bibtex_escape(paper.primary_category)),
            ("url", paper.abs_url),
        ]
        if paper.doi:
            fields.append(("doi", bibtex_escape(paper.doi)))
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
        entries.append(f"@misc{{{bibtex_key(paper, taken)},\n{body}\n}}\n")
    return "\n".join(entries)


def _bibtex_preprint(paper: Paper, taken: set[str]) -> str:
    """A bioRxiv/medRxiv preprint: `@article` with the server as journal, its DOI and its versioned page."""
    fields = [
        ("title", "{" + bibtex_escape(paper.title) + "}"),
        ("author", " and ".join(bibtex_escape(a) for a in paper.authors) or "Unknown"),
        ("journal", paper.source_label),
        ("year", str(paper.year or "")),
        ("doi", bibtex_escape(paper.id)),
        ("url", paper.abs_url),
    ]
    if paper.published_doi:
        fields.append(("note", "Published version: doi:" + bibtex_escape(paper.published_doi)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@article{{{bibtex_key(paper, taken)},\n{body}\n}}\n"
