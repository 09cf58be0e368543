"""One paper, two servers: the same work posted on arXiv and on bioRxiv/medRxiv is one search result.

Two papers of different sources are the same work when they share a DOI (an arXiv record may carry the
bioRxiv DOI, or both the same journal DOI), or when their titles are equal once case, accents, punctuation
and spacing are ignored (and long enough to name one work) and at least one author surname is on both.
"""

from __future__ import annotations

import re
from dataclasses import replace

from assistant.core.paper import Paper
from assistant.core.text import fold
from assistant.search.hit import Hit

_NON_WORD = re.compile(r"[^0-9a-z]+")
# A folded title shorter than this ("", "notes", "reply") names no one work: two such titles never match.
MIN_TITLE_KEY = 12


def title_key(title: str) -> str:
    return _NON_WORD.sub(" ", fold(title)).strip()


def surnames(paper: Paper) -> set[str]:
    return {words[-1] for name in paper.authors if (words := _NON_WORD.sub(" ", fold(name)).split())}


def dois(paper: Paper) -> set[str]:
    found = {paper.doi, paper.published_doi} | ({paper.id} if paper.source != "arxiv" else set())
    return {d.strip().lower() for d in found if d}


def same_work(a: Paper, b: Paper) -> bool:
    if a.source == b.source:
        return False  # within one source the id already is the identity
    if dois(a) & dois(b):
        return True
    key = title_key(a.title)
    return len(key) >= MIN_TITLE_KEY and key == title_key(b.title) and bool(surnames(a) & surnames(b))


def merge_same_work(hits: list[Hit]) -> list[Hit]:
    """Hits in rank order with later copies of a work folded into the first one's `also` (its other
    sources' papers, whose links are shown beside its own). Only kept hits sharing a DOI or a title key with
    a hit are compared with it (a list's thousands of members: linear, not quadratic)."""
    kept: list[Hit] = []
    by_doi: dict[str, list[int]] = {}
    by_title: dict[str, list[int]] = {}
    for hit in hits:
        paper = hit.paper
        own_dois, key = dois(paper), title_key(paper.title)
        near = {i for doi in own_dois for i in by_doi.get(doi, ())} | set(by_title.get(key, ()))
        twin = next((i for i in sorted(near) if same_work(kept[i].paper, paper)), None)
        if twin is None:
            for doi in own_dois:
                by_doi.setdefault(doi, []).append(len(kept))
            by_title.setdefault(key, []).append(len(kept))
            kept.append(hit)
        else:
            first = kept[twin]
            kept[twin] = replace(first, also=(*first.also, paper, *hit.also))
    return kept


def also_fields(hit: Hit) -> dict[str, list[dict[str, str]]]:
    """The JSON key a merged result adds: its other sources' ids and links (absent when there are none)."""
    if not hit.also:
        return {}
    return {
        "also": [
            {"source": p.source, "id": p.id, "abs_url": p.abs_url, "pdf_url": p.pdf_url} for p in hit.also
        ]
    }
