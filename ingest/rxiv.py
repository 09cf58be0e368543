"""bioRxiv and medRxiv records -> `Paper`: the daily-listing layout and the official API's record layout.

Both servers are run by Cold Spring Harbor with one API and one site layout, so one module reads both.
A paper is keyed by its DOI (`10.1101/2026.05.27.728076`); its links are built from the DOI and version by
`Paper`, never copied from the record's `abs`/`pdf_url`/`jatsxml` fields.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from assistant.core.paper import (
    JOURNAL_DOI_RE,
    InvalidArxivId,
    InvalidDoi,
    Paper,
    SourceName,
    parse_arxiv_id,
    parse_rxiv_doi,
)
from assistant.core.subjects import subject_category
from ingest.normalize import GREEK_LETTERS, RecordError, clean_text, make_paper, parse_date

log = logging.getLogger(__name__)

# --- text quirks --------------------------------------------------------------------------------------

# The servers' abstracts spell symbols as `{beta}`, `{micro}g/mL`, `{degrees}C`; titles keep Unicode.
_BRACED_SYMBOLS = {
    **GREEK_LETTERS,
    "micro": "µ",
    "Alpha": "Α",
    "Beta": "Β",
    "ell": "ℓ",
    "degrees": "°",
    "degree": "°",
    "approx": "≈",
    "plusmn": "±",
    "times": "×",
    "infin": "∞",
    "middot": "·",
    "+/-": "±",
}
_BRACED_RE = re.compile(
    r"\{(" + "|".join(sorted(map(re.escape, _BRACED_SYMBOLS), key=len, reverse=True)) + r")\}"
)
# `R{superscript 2}`, `H{subscript 2}O`: digits and signs as Unicode super-/subscripts, else left as ^x / _x.
_SCRIPT_RE = re.compile(r"\{(superscript|subscript) ?([^{}]{1,12})\}")
_SCRIPT_CHARS = "0123456789+-=()"
_SUPERSCRIPTS = str.maketrans(_SCRIPT_CHARS, "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾")
_SUBSCRIPTS = str.maketrans(_SCRIPT_CHARS, "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")


def _script(match: re.Match[str]) -> str:
    kind, text = match.group(1), match.group(2).strip()
    if all(ch in _SCRIPT_CHARS for ch in text):
        return text.translate(_SUPERSCRIPTS if kind == "superscript" else _SUBSCRIPTS)
    return ("^" if kind == "superscript" else "_") + text


# Bracketed HTML entities: `[&ge;]`, `Gly[-&gt;]Ser`, `[&le;]`; an ASCII arrow inside becomes an arrow.
_BRACKETED_ENTITY_RE = re.compile(r"\[([^\[\]\s]{0,3}&#?\w+;[^\[\]\s]{0,3})\]")
_ARROWS = {"->": "→", "<-": "←", "<->": "↔", "=>": "⇒"}


def _bracketed_entity(match: re.Match[str]) -> str:
    text = html.unescape(match.group(1))
    return _ARROWS.get(text, text)


def clean_rxiv_text(raw: str | None) -> str:
    """The servers' symbol spellings made readable, then the shared LaTeX/whitespace normalisation."""
    if not raw:
        return ""
    text = unicodedata.normalize("NFC", raw)
    if "{" in text:
        text = _BRACED_RE.sub(lambda m: _BRACED_SYMBOLS[m.group(1)], text)
        text = _SCRIPT_RE.sub(_script, text)
    if "[" in text and "&" in text:
        text = _BRACKETED_ENTITY_RE.sub(_bracketed_entity, text)
    if "&" in text:
        text = html.unescape(text)
    return clean_text(text)


# --- authors ------------------------------------------------------------------------------------------


def display_name(raw: str) -> str:
    """'Surname, I.' -> 'I. Surname', as arXiv writes names; NFC (some names come decomposed)."""
    name = clean_text(raw)
    surname, comma, given = name.partition(",")
    if not comma:
        return name
    if not given.strip():  # a group name the listing ends with a comma: "Dog Aging Project Consortium,"
        return surname.strip()
    return f"{given.strip()} {surname.strip()}"


def rxiv_authors(raw: Any) -> list[str]:
    """A list of names, or the API's 'Surname, I.; Surname, I.' string (older records: 'A Name;B Name;')."""
    if isinstance(raw, list):
        names = [str(a) for a in raw]
    elif isinstance(raw, str):
        names = raw.split(";")
    else:
        names = []
    return [shown for name in names if (shown := display_name(name))]


# --- records ------------------------------------------------------------------------------------------

_SERVERS: dict[str, SourceName] = {"biorxiv": "biorxiv", "medrxiv": "medrxiv"}


def server_of(record: Mapping[str, Any], default: SourceName = "biorxiv") -> SourceName:
    """Which server a record is from: its `server` field, else the host its links name, else `default`."""
    named = str(record.get("server") or "").strip().lower()
    if named in _SERVERS:
        return _SERVERS[named]
    for key in ("abs", "pdf_url", "jatsxml"):
        value = str(record.get(key) or "").lower()
        if "medrxiv.org" in value:
            return "medrxiv"
        if "biorxiv.org" in value:
            return "biorxiv"
    return default


def published_doi(value: Any, where: str = "a record") -> str | None:
    """The journal version's DOI from the API's `published` field ('NA' when unpublished). A value that is not
    strictly a DOI is dropped with a note: the paper is kept, without a journal link."""
    text = str(value or "").strip()
    if text.lower().startswith("https://doi.org/"):
        text = text[len("https://doi.org/") :]
    if JOURNAL_DOI_RE.match(text):
        return text
    if text and text.upper() != "NA":
        log.warning("%s: dropped its journal DOI %r (not a DOI)", where, text[:120])
    return None


def _doi_of(record: Mapping[str, Any]) -> tuple[str, int | None]:
    raw = record.get("doi")
    if not isinstance(raw, str) or not raw.strip():
        raise RecordError("missing doi")
    try:
        return parse_rxiv_doi(raw)
    except InvalidDoi as err:
        raise RecordError(str(err)) from None


def _version(value: Any) -> int | None:
    text = str(value or "").strip()
    # ASCII digits, bounded: int() refuses '²' and over 4300 digits; no preprint has ten thousand versions.
    return int(text) if re.fullmatch(r"[0-9]{1,4}", text) and int(text) > 0 else None


def _text(record: Mapping[str, Any], key: str, what: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"missing {what}")
    return value


def _make(
    source: SourceName, doi: str, version: int | None, title: str, abstract: str, **fields: Any
) -> Paper:
    """A bioRxiv/medRxiv paper: keyed (and DOI-ed) by its DOI, its own text quirks cleaned."""
    return make_paper(doi, version, title, abstract, clean_rxiv_text, source=source, doi=doi, **fields)


def from_api_record(record: Mapping[str, Any], server: SourceName | None = None) -> Paper:
    """One record of the API's `collection` (`details` endpoint): doi, version, date, category, published."""
    doi, doi_version = _doi_of(record)
    source = server or server_of(record)
    posted = parse_date(record.get("date"))
    return _make(
        source,
        doi,
        _version(record.get("version")) or doi_version,
        _text(record, "title", "title"),
        _text(record, "abstract", "abstract"),
        authors=rxiv_authors(record.get("authors")),
        categories=[subject_category(source, str(record.get("category") or ""))],
        published=posted,
        updated=posted,
        published_doi=published_doi(record.get("published"), doi),
    )


def from_daily_listing(record: Mapping[str, Any], listing_date: date | None) -> Paper:
    """A daily-listing line (`id` = DOI suffix, `doi`, `summary`, list of 'Surname, I.' authors). Its
    `category` is a crawler's topic label, not the server's subject: the paper is filed under the server."""
    doi, version = _doi_of(record)
    source = server_of(record)
    posted = parse_date(record.get("published") or record.get("date")) or listing_date
    return _make(
        source,
        doi,
        version,
        _text(record, "title", "title"),
        _text(record, "summary", "abstract"),
        authors=rxiv_authors(record.get("authors")),
        categories=[subject_category(source, "")],
        published=posted,
        updated=posted,
    )


def is_api_record(record: Mapping[str, Any]) -> bool:
    """The API's record layout: a DOI and an abstract, no `id`."""
    return "doi" in record and "abstract" in record and "id" not in record


def is_daily_listing(record: Mapping[str, Any]) -> bool:
    """The bioRxiv daily-listing layout: a `summary`, an `id` that is the DOI's suffix, not an arXiv id."""
    pid, doi = record.get("id"), record.get("doi")
    if "summary" not in record or not isinstance(pid, str) or not isinstance(doi, str):
        return False
    try:
        parse_arxiv_id(pid)
        return False
    except InvalidArxivId:
        pass
    try:
        parse_rxiv_doi(doi)
    except InvalidDoi:
        return False
    return doi.strip().lower().endswith(pid.strip().lower())
