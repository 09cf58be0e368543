"""A reference library as a radar topic's interests: `academichub radar add NAME --from-library FILE`.

The file is a BibTeX, RIS or CSL-JSON export (what Zotero, Mendeley and JabRef write), read with a
maintained parser per format (bibtexparser, rispy, json). Each library paper is looked up in the index: by
its arXiv id (an `eprint`, a DOI 10.48550/arXiv.*, an arxiv.org URL, a "arXiv:2606.01234" note), or its
bioRxiv/medRxiv DOI (the paper's id in the index), else by its exact title. Papers found there anchor the
topic with their stored vectors; papers not in the index contribute their title and abstract (embedded once,
kept with the topic). The topic's query is the
library's distinctive terms (words several library papers share and the index holds rarely), which drives
the lexical side and the briefing.

A library topic's feed ranks each new paper by its closeness to the library: the highest cosine between
the paper and any library paper (its `relevance`, held to `radar_library_min_relevance`: abstract-to-abstract
cosines run higher than the query-to-abstract ones `radar_min_relevance` is set for), fused with the lexical
rank of the distinctive terms. The library's own papers never show as new.

Papers saved to a topic's library from its feed (`Radar.save_to_library`, the app's "Add to library") join
it: a library topic's library grows; a written topic keeps its own matches, and new papers close to its
saved ones (held to the same `radar_library_min_relevance`) join its feed after them.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import bibtexparser
import numpy as np
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware

from assistant.core.errors import UserFacingError
from assistant.core.paper import InvalidDoi, parse_rxiv_doi
from assistant.core.text import fold, strip_control_chars
from assistant.radar.store import LibraryPaper, RadarStateStore, Topic
from assistant.search.hit import Hit
from assistant.search.retrieval import Retriever, fts_terms, make_filter

Format = Literal["bibtex", "ris", "csl-json"]
MAX_ENTRIES = 2000
MAX_ABSTRACT_CHARS = 10_000  # the ingest cap (ingest/normalize.py): a longer library abstract is cut
MAX_ENTRY_CHARS = 100_000  # one entry as written (abstract, title, a long author list, LaTeX markup)
MAX_FILE_BYTES = 64_000_000  # MAX_ENTRIES typical entries many times over
_ENTRY_START = {
    "bibtex": re.compile(r"(?im)^[ \t]*@(?!comment\b|string\b|preamble\b)\w+[ \t]*[{(]"),
    "ris": re.compile(r"(?m)^TY  - "),
}
TERMS = 12
LEXICAL_WEIGHT = 0.5  # the distinctive terms' vote beside closeness (dense = 1), as in search fusion
_ARXIV_ID = re.compile(
    r"(?i)(?:arxiv[.:/\s]*|arxiv\.org/(?:abs|pdf)/)(\d{4}\.\d{4,5})(?:v\d+)?|^(\d{4}\.\d{4,5})(?:v\d+)?$"
)


class LibraryError(UserFacingError, ValueError):
    """A library file that cannot be read (the message says which file and why)."""


@dataclass
class LibraryEntry:
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    arxiv_id: str | None = None
    doi: str | None = None


@dataclass
class LibraryMatch:
    entry: LibraryEntry
    paper_id: str | None  # the indexed paper, if found
    matched_by: str | None  # 'arXiv id' | 'DOI' | 'title'

    @property
    def status(self) -> str:
        if self.paper_id:
            return f"in the index ({self.paper_id}, by {self.matched_by})"
        return (
            "not in the index: title and abstract used"
            if self.entry.abstract
            else "not in the index: title used"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.entry.title,
            "arxiv_id": self.entry.arxiv_id,
            "doi": self.entry.doi,
            "paper_id": self.paper_id,
            "matched_by": self.matched_by,
            "in_index": self.paper_id is not None,
        }


@dataclass
class LibraryTopic:
    topic: Topic
    format: Format
    matches: list[LibraryMatch]
    skipped: list[str]  # entries without a title, and blocks the parser could not read
    terms: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic.to_dict(),
            "format": self.format,
            "terms": self.terms,
            "in_index": sum(1 for m in self.matches if m.paper_id),
            "not_in_index": sum(1 for m in self.matches if not m.paper_id),
            "library": [m.to_dict() for m in self.matches],
            "skipped": self.skipped,
        }


# --- reading the export ----------------------------------------------------------------------------------


def detect_format(path: Path, text: str) -> Format:
    suffix = path.suffix.lower()
    if suffix in (".bib", ".bibtex"):
        return "bibtex"
    if suffix in (".ris", ".txt") and re.search(r"(?m)^TY  - ", text):
        return "ris"
    if suffix in (".json", ".csljson") or text.lstrip().startswith(("[", "{")):
        return "csl-json"
    if re.search(r"(?m)^TY  - ", text):
        return "ris"
    if re.search(r"(?m)^\s*@\w+\s*[{(]", text):
        return "bibtex"
    raise LibraryError(f"{path}: not a BibTeX (.bib), RIS (.ris) or CSL-JSON (.json) export")


def arxiv_id_in(*values: object) -> str | None:
    """The first arXiv id found in these fields (ids, DOIs, URLs, notes), versionless."""
    for value in values:
        for text in value if isinstance(value, list | tuple) else [value]:
            if not text:
                continue
            match = _ARXIV_ID.search(str(text).strip())
            if match:
                return match.group(1) or match.group(2)
    return None


def _clean(text: object) -> str:
    """Library text on one line, without BibTeX braces and without control, bidi or zero-width characters:
    a title's terminal escape (a hidden hyperlink, a cleared screen) must not reach the `radar add` table."""
    return " ".join(strip_control_chars(str(text or "")).replace("{", "").replace("}", "").split())


def check_size(path: Path, kind: Format, text: str) -> None:
    """Refuse an export with too many entries or an over-long entry before its parser sees it: the parsers
    slow down badly on huge fields (a 2 MB BibTeX abstract took 79 s, a 50 MB one over 15 minutes) and a
    100,000-entry file took 100 s and 330 MB only to be refused afterwards. Entry starts are found with one
    linear scan; CSL-JSON is checked after `json` (fast on any size) reads it."""
    pattern = _ENTRY_START.get(kind)
    if pattern is None:
        return
    starts = [m.start() for m in pattern.finditer(text)]
    if len(starts) > MAX_ENTRIES:
        raise LibraryError(f"{path}: {len(starts)} entries; a topic takes at most {MAX_ENTRIES}")
    bounds = [*starts, len(text)]
    for start, end in itertools.pairwise(bounds):
        if end - start > MAX_ENTRY_CHARS:
            line = text.count("\n", 0, start) + 1
            raise LibraryError(
                f"{path}: the entry at line {line} is {end - start:,} characters long; a library entry takes "
                f"at most {MAX_ENTRY_CHARS:,} (an abstract at most {MAX_ABSTRACT_CHARS:,})"
            )


def _read_bibtex(text: str) -> tuple[list[LibraryEntry], list[str]]:
    library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    entries: list[LibraryEntry] = []
    for item in library.entries:
        fields = {key.lower(): _clean(field.value) for key, field in item.fields_dict.items()}
        prefix = fields.get("archiveprefix", "") or fields.get("eprinttype", "")
        eprint = fields.get("eprint") if "arxiv" in prefix.lower() or not prefix else None
        entries.append(
            LibraryEntry(
                title=fields.get("title", ""),
                abstract=fields.get("abstract", ""),
                authors=tuple(
                    a.strip() for a in fields.get("author", "").split(" and ") if a.strip()
                ),  # cleaned
                arxiv_id=arxiv_id_in(eprint, fields.get("doi"), fields.get("url"), fields.get("journal"))
                or arxiv_id_in(fields.get("note"), fields.get("howpublished")),
                doi=fields.get("doi") or None,
            )
        )
    failed = [
        f"unreadable BibTeX block at line {(block.start_line or 0) + 1}" for block in library.failed_blocks
    ]
    return entries, failed


def _read_ris(text: str) -> tuple[list[LibraryEntry], list[str]]:
    try:
        records = rispy.loads(text)
    except (OSError, ValueError) as err:
        raise LibraryError(f"not a readable RIS file: {err}") from None
    entries = []
    for record in records:
        title = record.get("title") or record.get("primary_title") or record.get("translated_title") or ""
        entries.append(
            LibraryEntry(
                title=_clean(title),
                abstract=_clean(record.get("abstract", "")),
                authors=tuple(_clean(a) for a in record.get("authors") or record.get("first_authors") or ()),
                arxiv_id=arxiv_id_in(
                    record.get("doi"), record.get("urls"), record.get("journal_name"), record.get("notes")
                ),
                doi=_clean(record.get("doi")) or None,
            )
        )
    return entries, []


def _read_csl(text: str) -> tuple[list[LibraryEntry], list[str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise LibraryError(f"not valid CSL-JSON: {err.msg} at line {err.lineno}") from None
    except RecursionError:  # `[[[[...` 100,000 deep: no library export nests like that
        raise LibraryError("not valid CSL-JSON: nested too deeply") from None
    items = data if isinstance(data, list) else data.get("items", []) if isinstance(data, dict) else []
    if len(items) > MAX_ENTRIES:
        raise LibraryError(f"{len(items)} entries; a topic takes at most {MAX_ENTRIES}")
    for number, item in enumerate(items, start=1):
        fields = (item.get(key) for key in ("abstract", "title")) if isinstance(item, dict) else ()
        longest = max((len(str(value or "")) for value in fields), default=0)
        if longest > MAX_ENTRY_CHARS:
            raise LibraryError(
                f"item {number} has a field {longest:,} characters long; a library entry takes at most "
                f"{MAX_ENTRY_CHARS:,} (an abstract at most {MAX_ABSTRACT_CHARS:,})"
            )
    entries, skipped = [], []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            skipped.append(f"item {number} is not a CSL object")
            continue
        authors = tuple(
            _clean(" ".join(str(p) for p in (a.get("given"), a.get("family")) if p) or a.get("literal", ""))
            for a in item.get("author") or []
            if isinstance(a, dict)
        )
        entries.append(
            LibraryEntry(
                title=_clean(item.get("title")),
                abstract=_clean(item.get("abstract")),
                authors=authors,
                arxiv_id=arxiv_id_in(
                    item.get("DOI"),
                    item.get("URL"),
                    item.get("number"),
                    item.get("container-title"),
                    item.get("id"),
                ),
                doi=_clean(item.get("DOI")) or None,
            )
        )
    return entries, skipped


def read_library(path: Path) -> tuple[Format, list[LibraryEntry], list[str]]:
    """The export's papers (with a title) and what was skipped, with reasons."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise LibraryError(
                f"{path}: {size / 1e6:.0f} MB; a library file takes at most {MAX_FILE_BYTES // 1_000_000} MB"
            )
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LibraryError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise LibraryError(f"{path}: not a UTF-8 text file (export the library as UTF-8)") from None
    except OSError as err:
        raise LibraryError(f"{path}: {err.strerror}") from None
    kind = detect_format(path, text)
    check_size(path, kind, text)
    reader = {"bibtex": _read_bibtex, "ris": _read_ris, "csl-json": _read_csl}[kind]
    entries, skipped = reader(text)
    kept = []
    for number, entry in enumerate(entries, start=1):
        entry.abstract = entry.abstract[:MAX_ABSTRACT_CHARS]
        if entry.title:
            kept.append(entry)
        else:
            skipped.append(f"entry {number} has no title")
    if not kept:
        raise LibraryError(f"{path}: no papers with a title in this {kind} file")
    if len(kept) > MAX_ENTRIES:
        raise LibraryError(f"{path}: {len(kept)} papers; a topic takes at most {MAX_ENTRIES}")
    return kind, kept, skipped


# --- building the topic ----------------------------------------------------------------------------------


def match_entries(retriever: Retriever, entries: list[LibraryEntry]) -> list[LibraryMatch]:
    """Each entry's paper in the index: by arXiv id, by bioRxiv/medRxiv DOI (lower case, version dropped),
    else by the same title (case, accents, punctuation and spacing ignored)."""
    catalog = retriever.catalog
    rxiv_ids = [rxiv_id_of(e.doi) for e in entries]
    found = catalog.get_papers([e.arxiv_id for e in entries if e.arxiv_id] + [d for d in rxiv_ids if d])
    matches = []
    for entry, rxiv_id in zip(entries, rxiv_ids, strict=True):
        if entry.arxiv_id and entry.arxiv_id in found:
            matches.append(LibraryMatch(entry, entry.arxiv_id, "arXiv id"))
            continue
        if rxiv_id and rxiv_id in found:
            matches.append(LibraryMatch(entry, rxiv_id, "DOI"))
            continue
        key = _title_key(entry.title)
        hits = retriever.search(entry.title, k=3, mode="lexical") if fts_terms(entry.title) else []
        same = next((h.paper.id for h in hits if _title_key(h.paper.title) == key), None)
        matches.append(LibraryMatch(entry, same, "title" if same else None))
    return matches


def rxiv_id_of(doi: str | None) -> str | None:
    """A bioRxiv/medRxiv DOI as the index keys it ('10.1101/2026.05.27.728076'), or None."""
    try:
        return parse_rxiv_doi(doi)[0] if doi else None
    except InvalidDoi:
        return None


def _title_key(title: str) -> str:
    return " ".join(re.findall(r"\w+", fold(title)))


def distinctive_terms(retriever: Retriever, texts: list[str], limit: int = TERMS) -> list[str]:
    """Words that several library papers use and the index holds rarely (library frequency x IDF)."""
    per_doc = [set(t.strip('"') for t in fts_terms(text)) for text in texts]
    counts = Counter(word for words in per_doc for word in words if not word.isdigit() and len(word) > 2)
    floor = 2 if len(texts) > 3 else 1
    words = [w for w, n in counts.most_common(400) if n >= floor]
    if not words:
        return []
    stats = retriever.catalog.query_terms([f'"{w}"' for w in words])
    total = max(stats.total, 1)

    def weight(word: str, df: int) -> float:
        return counts[word] * math.log((total + 1) / (df + 1))

    scored = sorted(
        (
            (weight(t.strip('"'), df), t.strip('"'))
            for t, df in zip(stats.terms, stats.frequencies, strict=True)
        ),
        reverse=True,
    )
    return [word for score, word in scored[:limit] if score > 0]


@dataclass
class PreparedLibrary:
    """A library file read and matched against the index: everything a topic needs, found before the topic
    is stored (so a failure never leaves a half-made topic)."""

    format: Format
    matches: list[LibraryMatch]
    skipped: list[str]
    terms: list[str]
    query: str
    papers: list[LibraryPaper]


def prepare_library(retriever: Retriever, path: Path, query: str | None = None) -> PreparedLibrary:
    """Read a library export, find its papers in the index, embed those outside it, and derive the topic's
    query (the given one, else the library's distinctive terms, else its first titles)."""
    kind, entries, skipped = read_library(path)
    retriever.catalog  # noqa: B018 (fail early on a missing index, before any work)
    matches = match_entries(retriever, entries)
    in_index = retriever.catalog.get_papers([m.paper_id for m in matches if m.paper_id])
    texts = [
        in_index[m.paper_id].embedding_text if m.paper_id else f"{m.entry.title}. {m.entry.abstract}"
        for m in matches
    ]
    terms = distinctive_terms(retriever, texts)
    topic_query = query or " ".join(terms) or " ".join(m.entry.title for m in matches[:5])
    outside = [i for i, m in enumerate(matches) if not m.paper_id]
    vectors = (
        retriever.embedder.encode([texts[i] for i in outside]) if outside else np.zeros((0, 0), np.float32)
    )
    vector_of = dict(zip(outside, vectors, strict=True))
    papers = [
        LibraryPaper(position, match.entry.title, match.paper_id, match.matched_by, vector_of.get(position))
        for position, match in enumerate(matches)
    ]
    return PreparedLibrary(kind, matches, skipped, terms, topic_query[:2000], papers)


# --- ranking new papers by closeness to the library ------------------------------------------------------


SAVED_FROM_FEED = "saved from the radar"  # `matched_by` of a paper added to a topic's library from its feed


def is_library_topic(rows: list[LibraryPaper]) -> bool:
    """A topic made from a library file (its papers are what it is about). A written topic whose library
    holds only papers saved from its feed is still about its query: `saved_matches` adds to its matches."""
    return any(row.matched_by != SAVED_FROM_FEED for row in rows)


def library_matches(
    retriever: Retriever,
    store: RadarStateStore,
    rrf_k: int,
    topic_id: int,
    topic: Topic,
    candidates: set[str],
) -> list[Hit] | None:
    """New papers ranked by closeness to the topic's library (None: not a library topic)."""
    rows = store.library(topic_id)
    if not is_library_topic(rows):
        return None
    return by_closeness(retriever, rows, rrf_k, topic, candidates)


def saved_matches(
    retriever: Retriever,
    store: RadarStateStore,
    rrf_k: int,
    topic_id: int,
    topic: Topic,
    candidates: set[str],
) -> list[Hit]:
    """A written topic's new papers ranked by closeness to the papers saved to its library from its feed
    ([] when none was saved; a library topic's saved papers are part of its library)."""
    rows = store.library(topic_id)
    if not rows or is_library_topic(rows):
        return []
    return by_closeness(retriever, rows, rrf_k, topic, candidates)


def by_closeness(
    retriever: Retriever, rows: list[LibraryPaper], rrf_k: int, topic: Topic, candidates: set[str]
) -> list[Hit]:
    """`candidates` (within the topic's fields, never a library paper) by closeness to the library `rows`:
    the highest cosine to any of them, fused with the lexical rank of the topic's query."""
    own = {r.paper_id for r in rows if r.paper_id}
    pool = set(candidates) - own
    if topic.fields:
        pool = set(retriever.catalog.filter_ids(make_filter(categories=topic.fields, only_ids=pool)))
    if not pool:
        return []
    anchors = [r.vector for r in rows if r.vector is not None]
    stored = retriever.vectors.vectors_of(sorted(own))
    library = np.vstack([*stored.values(), *anchors]) if (stored or anchors) else None
    if library is None:
        return []
    library = library / np.maximum(np.linalg.norm(library, axis=1, keepdims=True), 1e-12)
    found = retriever.vectors.vectors_of(sorted(pool))
    ids = list(found)
    if not ids:
        return []
    matrix = np.vstack([found[i] for i in ids])
    matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    closeness = (matrix @ library.T).max(axis=1)
    dense_order = [ids[i] for i in np.argsort(-closeness, kind="stable")]
    dense_rank = {pid: rank for rank, pid in enumerate(dense_order, start=1)}
    relevance = {pid: float(c) for pid, c in zip(ids, closeness, strict=True)}
    lexical_rank: dict[str, int] = {}
    if fts_terms(topic.query):
        lexical = retriever.search(
            topic.query, k=min(len(ids), 200), paper_filter=make_filter(only_ids=set(ids)), mode="lexical"
        )
        lexical_rank = {hit.paper.id: rank for rank, hit in enumerate(lexical, start=1)}
    k = rrf_k
    score = {
        pid: 1.0 / (k + dense_rank[pid])
        + (LEXICAL_WEIGHT / (k + lexical_rank[pid]) if pid in lexical_rank else 0)
        for pid in ids
    }
    order = sorted(ids, key=lambda pid: -score[pid])[:200]
    papers = retriever.catalog.get_papers(order)
    return [
        Hit(papers[pid], score[pid], relevance[pid], dense_rank[pid], lexical_rank.get(pid))
        for pid in order
        if pid in papers
    ]


def library_of(store: RadarStateStore, topic_id: int) -> list[dict[str, Any]]:
    """The topic's library papers (title, indexed paper id and how it was matched), in file order."""
    rows = store.library(topic_id)
    return [{"title": r.title, "paper_id": r.paper_id, "matched_by": r.matched_by} for r in rows]
