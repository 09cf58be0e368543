"""Raw records (arXiv API results, snapshot lines, daily-listing lines) -> `Paper`.

Each function either returns a Paper or raises `RecordError` with a reason a user can act on.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from assistant.core.errors import UserFacingError
from assistant.core.paper import InvalidArxivId, Paper, parse_arxiv_id
from assistant.core.text import strip_control_chars

log = logging.getLogger(__name__)


class RecordError(UserFacingError, ValueError):
    """A record that cannot become a Paper; the message is the reason shown in the ingest summary."""


# Field sizes beyond any real paper (arXiv caps abstracts at 1,920 characters; titles stay under 500). A
# record over them is skipped at read time: one 50 MB "abstract" cost 7.4 GB of memory and 134 s.
MAX_TITLE_CHARS = 1_000
MAX_ABSTRACT_CHARS = 10_000
MAX_AUTHORS = 5_000  # large collaborations list about 3,000
MAX_AUTHOR_CHARS = 300  # longer names are cut (and reported), the paper kept: see `check_authors`
MAX_FIELD_CHARS = 5_000  # comment, journal reference, DOI, one category


# --- text ---------------------------------------------------------------------------------------------

_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "c": "\u0327",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
}
_ACCENT_RE = re.compile(r"""\\(['`^"~=.]|[cuvH](?=[\s{]))\s*\{?\s*\\?([A-Za-z])\}?""")
# Greek letters by name: LaTeX writes them `\beta`, bioRxiv/medRxiv abstracts `{beta}`.
GREEK_LETTERS = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "iota": "ι",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "upsilon": "υ",
    "phi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Sigma": "Σ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
}

_SYMBOLS = {
    **GREEK_LETTERS,
    "varepsilon": "ε",
    "varphi": "φ",
    "ell": "ℓ",
    "infty": "∞",
    "times": "×",
    "cdot": "·",
    "pm": "±",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "neq": "≠",
    "approx": "≈",
    "sim": "~",
    "to": "→",
    "rightarrow": "→",
    "leftarrow": "←",
    "in": "∈",
    "sqrt": "√",
    "sum": "Σ",
    "partial": "∂",
    "nabla": "∇",
    "prime": "′",
    "ldots": "…",
    "dots": "…",
    "cdots": "…",
    "%": "%",
    "&": "&",
    "_": "_",
    "#": "#",
    "$": "$",
    "AA": "Å",
    "aa": "å",
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "l": "ł",
    "L": "Ł",
}
_SYMBOL_RE = re.compile(
    r"\\(" + "|".join(sorted(map(re.escape, _SYMBOLS), key=len, reverse=True)) + r")(?![A-Za-z])"
)
# Formatting commands whose argument is the visible text.
_WRAPPER_RE = re.compile(
    r"\\(?:emph|textbf|textit|texttt|textrm|textsc|textsf|mathrm|mathbf|mathit|mathcal|mathbb|mathsf|"
    r"boldsymbol|text|mbox|operatorname|underline|url)\s*\{([^{}]*)\}"
)

# Math delimiters come in pairs; a dollar without a partner is money ("$1M", "$5 and $10"). Escaped `\$` never
# delimits. A pair is math unless it looks like two amounts: spacing on one side only ("$5 and $"), a range
# of amounts ("$500-$780") or words after a number ("$1.5M to re-prefill, only ~$0.03M"). Authors do put
# words in math ("$neglect-zero effect$"), so words alone do not make a pair money.
_DISPLAY_MATH_RE = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$", re.DOTALL)
_DOLLAR_RE = re.compile(r"(?<!\\)\$")
_PLAIN_WORD_RE = re.compile(r"(?<![\\\w])[A-Za-z]{2,}")


_TILDE_RE = re.compile(r"(?<![\\\w])~")  # LaTeX's non-breaking space, not "~5 s"


def _is_inline_math(content: str, after: str) -> bool:
    if not content.strip() or content[0].isspace() != content[-1].isspace():
        return False
    if content[0].isdigit():  # an amount: "$500-$780", "$1.5M to re-prefill, only ~$0.03M"
        return not after.isdigit() and len(_PLAIN_WORD_RE.findall(content)) < 3
    return True


def _strip_inline_math(text: str) -> str:
    spots = [m.start() for m in _DOLLAR_RE.finditer(text)]
    parts: list[str] = []
    done, k = 0, 0
    while k < len(spots) - 1:
        opening, closing = spots[k], spots[k + 1]
        if _is_inline_math(text[opening + 1 : closing], text[closing + 1 : closing + 2]):
            parts += [text[done:opening], text[opening + 1 : closing]]
            done, k = closing + 1, k + 2
        else:
            k += 1  # a lone dollar; the next one may still open a pair
    parts.append(text[done:])
    return "".join(parts)


def _accent(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFC", match.group(2) + _ACCENTS[match.group(1)])


def clean_text(raw: str | None) -> str:
    """LaTeX-light and whitespace normalisation for display and search; the original is kept elsewhere."""
    if not raw:
        return ""
    text = unicodedata.normalize("NFC", strip_control_chars(raw))
    # Each step runs only when its trigger character is present: most names and many titles have none,
    # and this runs for every author of every record (the cost of re-reading an unchanged corpus).
    if "\\" in text:
        text = _ACCENT_RE.sub(_accent, text)
        for _ in range(3):  # nested wrappers: \textbf{\emph{x}}
            text = _WRAPPER_RE.sub(r"\1", text)
    if "$" in text:
        # Math delimiters first, while an escaped `\$` is still told apart from a delimiter.
        text = _DISPLAY_MATH_RE.sub(r"\1", text)
        text = _strip_inline_math(text)
    if "\\" in text:
        text = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group(1)], text)
        text = text.replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "")
        text = text.replace("\\\\", " ")
    if "--" in text or "``" in text or "''" in text:
        text = text.replace("---", "—").replace("--", "–").replace("``", "“").replace("''", "”")
    if "~" in text:
        text = _TILDE_RE.sub(" ", text)
    return " ".join(text.split())


def _clean_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = clean_text(_capped(str(value), MAX_FIELD_CHARS, "field"))
    return text or None


# --- authors and categories ---------------------------------------------------------------------------

_PAREN_RE = re.compile(r"\([^()]*\)")


def split_author_string(authors: str) -> list[str]:
    """'A. One, B. Two (MIT) and C. Three' -> ['A. One', 'B. Two', 'C. Three']."""
    text = clean_text(_PAREN_RE.sub("", authors or ""))
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+|;\s*", text)
    return [p.strip() for p in parts if p.strip() and p.strip().lower() not in {"et al.", "et al"}]


def _authors_from_parsed(parsed: Any) -> list[str] | None:
    """The snapshot's `authors_parsed`: [[last, first, suffix], ...]."""
    if not isinstance(parsed, list) or not parsed:
        return None
    names = []
    for entry in parsed:
        if not isinstance(entry, list) or not entry:
            return None
        last, first, suffix = [*entry, "", "", ""][:3]
        name = " ".join(part for part in (clean_text(first), clean_text(last), clean_text(suffix)) if part)
        if name:
            names.append(name)
    return names or None


# A category code: arXiv's `archive(.SUB)?` (cs.LG, hep-th, cond-mat.stat-mech) or a bioRxiv/medRxiv subject
# (biorxiv:cancer-biology). Nothing else can reach an output where it could become a link or a field.
_CATEGORY_RE = re.compile(
    r"^(?:[a-z][a-z-]*(?:\.[A-Za-z][A-Za-z-]*)?|(?:biorxiv|medrxiv):[a-z0-9][a-z0-9-]*)$"
)


def is_category_code(code: str) -> bool:
    return len(code) <= 80 and bool(_CATEGORY_RE.match(code))


def normalize_categories(categories: Any, primary: str | None = None, where: str = "a record") -> list[str]:
    """Category codes, primary first, without repeats. Tokens that are not category codes are dropped with a
    note (the paper is kept, with the categories that are valid, possibly none)."""
    if isinstance(categories, str):
        items = categories.split()
    elif isinstance(categories, list | tuple):
        items = [str(c).strip() for c in categories]
    else:
        items = []
    if primary is not None:
        primary = primary.strip()
    dropped = [c for c in [*items, primary or ""] if c and not is_category_code(c)]
    if dropped:
        log.warning(
            "%s: dropped %d invalid categor%s: %s",
            where,
            len(dropped),
            "y" if len(dropped) == 1 else "ies",
            ", ".join(repr(c[:60]) for c in dropped),
        )
    items = [c for c in items if c and is_category_code(c)]
    if primary and not is_category_code(primary):
        primary = None
    if primary and primary in items:
        items.remove(primary)
        items.insert(0, primary)
    elif primary:
        items.insert(0, primary)
    return list(dict.fromkeys(items))


# --- dates --------------------------------------------------------------------------------------------


def parse_date(value: Any) -> date | None:
    """ISO dates/datetimes and the snapshot's RFC 2822 version stamps; None when absent or unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        return None


# --- builders -----------------------------------------------------------------------------------------


def _require_text(record: Mapping[str, Any], key: str, what: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"missing {what}")
    return value


def _parse_id(raw: Any) -> tuple[str, int | None]:
    if not isinstance(raw, str) or not raw.strip():
        raise RecordError("missing id")
    try:
        return parse_arxiv_id(raw)
    except InvalidArxivId as err:
        raise RecordError(str(err)) from None


def _capped(text: str, limit: int, what: str) -> str:
    if len(text) > limit:
        raise RecordError(f"{what} too long ({len(text):,} characters; at most {limit:,})")
    return text


def guarded_text(text: str, limit: int, what: str) -> str:
    """Raw record text within its size cap (else RecordError), without control characters."""
    return strip_control_chars(_capped(text, limit, what))


# What was cut from the record being built (set by `collecting_cuts`): a field over its cap is cut and
# reported, not a reason to lose the paper (the caps protect memory, not the paper's right to exist).
_CUTS: ContextVar[list[str] | None] = ContextVar("record_cuts", default=None)


@contextmanager
def collecting_cuts() -> Iterator[list[str]]:
    """Collects what the builders cut from a record while the block runs (one list per record)."""
    cuts: list[str] = []
    token = _CUTS.set(cuts)
    try:
        yield cuts
    finally:
        _CUTS.reset(token)


def _cut(what: str) -> None:
    cuts = _CUTS.get()
    if cuts is not None:
        cuts.append(what)


def _cut_name(name: str) -> str:
    """A name over MAX_AUTHOR_CHARS cut at the last space before the cap (in arXiv's 2025-06 listing, 40
    names glued by 'and' without spaces made one 512-character 'name')."""
    head = name[:MAX_AUTHOR_CHARS]
    space = head.rfind(" ")
    return (head[:space] if space > MAX_AUTHOR_CHARS // 2 else head).rstrip() + " …"


def check_authors(authors: list[str]) -> list[str]:
    """The author list within its caps: more than MAX_AUTHORS names is refused (a list that long is no
    paper's), an over-long name is cut and reported."""
    if len(authors) > MAX_AUTHORS:
        raise RecordError(f"too many authors ({len(authors):,}; at most {MAX_AUTHORS:,})")
    kept = []
    for name in authors:
        if len(name) > MAX_AUTHOR_CHARS:
            _cut(f"author name cut ({len(name):,} characters; at most {MAX_AUTHOR_CHARS:,})")
            name = _cut_name(name)
        kept.append(name)
    return kept


def make_paper(
    pid: str,
    version: int | None,
    title: str,
    abstract: str,
    clean: Callable[[str], str] = clean_text,
    **fields: Any,
) -> Paper:
    """A paper from one record of any source: title, abstract, authors and categories within their caps and
    without control characters, the title and abstract cleaned (`clean` is the source's own normalisation)
    beside the originals; a title or abstract that cleans to nothing is refused."""
    title = guarded_text(title, MAX_TITLE_CHARS, "title")
    abstract = guarded_text(abstract, MAX_ABSTRACT_CHARS, "abstract")
    fields["authors"] = check_authors(fields.get("authors") or [])
    fields["categories"] = [
        strip_control_chars(_capped(c, MAX_FIELD_CHARS, "category")) for c in fields.get("categories") or []
    ]
    clean_title, clean_abstract = clean(title), clean(abstract)
    if not clean_title:
        raise RecordError("missing title")
    if not clean_abstract:
        raise RecordError("missing abstract")
    paper = Paper(
        id=pid,
        version=version,
        title=clean_title,
        abstract=clean_abstract,
        title_original=title,
        abstract_original=abstract,
        **fields,
    )
    return check_unicode(paper)


def check_unicode(paper: Paper) -> Paper:
    """Every stored string must be encodable: a lone surrogate (`"\\ud800"` in JSON) decodes to a str that
    cannot be hashed, stored or shown, and aborted whole ingests before it became this record's problem."""
    try:
        json.dumps(paper.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise RecordError("text is not valid Unicode (a lone surrogate such as \\ud800)") from None
    return paper


def from_snapshot(record: Mapping[str, Any]) -> Paper:
    """arXiv metadata snapshot layout (Kaggle/`arxiv-metadata-oai-snapshot.json`)."""
    pid, version = _parse_id(record.get("id"))
    versions = record.get("versions") or []
    created = [parse_date(v.get("created")) for v in versions if isinstance(v, Mapping)]
    if version is None and versions and isinstance(versions[-1], Mapping):
        last = re.fullmatch(r"v(\d+)", str(versions[-1].get("version", "")))
        version = int(last.group(1)) if last else None
    authors = _authors_from_parsed(record.get("authors_parsed"))
    if authors is None:
        raw_authors = record.get("authors")
        authors = split_author_string(raw_authors) if isinstance(raw_authors, str) else []
    dates = [d for d in created if d]
    return make_paper(
        pid,
        version,
        _require_text(record, "title", "title"),
        _require_text(record, "abstract", "abstract"),
        authors=authors,
        categories=normalize_categories(record.get("categories"), where=pid),
        published=dates[0] if dates else parse_date(record.get("update_date")),
        updated=parse_date(record.get("update_date")) or (dates[-1] if dates else None),
        comment=_clean_or_none(record.get("comments")),
        doi=_clean_or_none(record.get("doi")),
        journal_ref=_clean_or_none(record.get("journal-ref")),
    )


def from_daily_listing(record: Mapping[str, Any], listing_date: date | None) -> Paper:
    """Daily-listing layout (`summary`, list-valued `authors`/`categories`); dated by the listing day."""
    pid, version = _parse_id(record.get("id"))
    raw_authors = record.get("authors")
    if isinstance(raw_authors, list):
        authors = [clean_text(str(a)) for a in raw_authors if str(a).strip()]
    elif isinstance(raw_authors, str):
        authors = split_author_string(raw_authors)
    else:
        authors = []
    listed = parse_date(record.get("date") or record.get("published")) or listing_date
    return make_paper(
        pid,
        version,
        _require_text(record, "title", "title"),
        _require_text(record, "summary", "abstract"),
        authors=authors,
        categories=normalize_categories(record.get("categories"), where=pid),
        published=listed,
        updated=listed,
        comment=_clean_or_none(record.get("comment")),
        doi=_clean_or_none(record.get("doi")),
        journal_ref=_clean_or_none(record.get("journal_ref")),
    )


_NEW_STYLE_MONTH = re.compile(r"(\d{2})(\d{2})\.\d{4,5}")
_OLD_STYLE_MONTH = re.compile(r"[a-z-]+(?:\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}")


def arxiv_id_month(paper_id: str) -> date | None:
    """The month an arXiv id was assigned, i.e. the paper's first submission: 2503.11731 -> 2025-03-01,
    hep-th/9901001 -> 1999-01-01; None for anything else."""
    new = _NEW_STYLE_MONTH.fullmatch(paper_id)
    old = None if new else _OLD_STYLE_MONTH.fullmatch(paper_id)
    found = new or old
    if not found:
        return None
    yy, month = int(found.group(1)), int(found.group(2))
    year = 2000 + yy if new or yy < 91 else 1900 + yy  # old-style ids ran from 1991 to 2007
    return date(year, month, 1) if 1 <= month <= 12 else None


def dated_by_month(paper: Paper, listing_month: date) -> Paper:
    """An undated arXiv record from a monthly listing (`2026-05.jsonl.gz`: each paper's latest listing that
    month, no day): first listed in its id's month (the day unknown, shown as the 1st), and updated in the
    listing's month. A day-dated listing of the same paper later counts as newer; its first date is kept."""
    if paper.source != "arxiv" or paper.published is not None:
        return paper
    first = arxiv_id_month(paper.id)
    published = first if first and first <= listing_month else listing_month
    return paper.model_copy(update={"published": published, "updated": paper.updated or listing_month})


def detect_layout(record: Mapping[str, Any]) -> str:
    """'snapshot', 'daily' or 'unknown' (per line: one file may mix layouts)."""
    if "abstract" in record and "id" in record:
        return "snapshot"
    if "summary" in record and "id" in record:
        return "daily"
    return "unknown"


def from_json_record(record: Any, listing_date: date | None = None) -> Paper:
    if not isinstance(record, Mapping):
        raise RecordError("line is JSON but not an object")
    layout = detect_layout(record)
    if layout == "snapshot":
        return from_snapshot(record)
    if layout == "daily":
        return from_daily_listing(record, listing_date)
    if "id" not in record:
        raise RecordError("missing id")
    raise RecordError("unknown layout (no 'abstract' or 'summary' field)")


class ArxivResultLike(Protocol):
    """The fields of `arxiv.Result` we read (a Protocol keeps tests free to pass plain objects)."""

    entry_id: str
    title: str
    summary: str
    authors: list[Any]
    categories: list[str]
    primary_category: str
    published: datetime
    updated: datetime
    comment: str | None
    doi: str | None
    journal_ref: str | None


def from_arxiv_result(result: ArxivResultLike) -> Paper:
    """An `arxiv.Result` from the live API."""
    pid, version = _parse_id(result.entry_id)
    if not result.summary or not result.summary.strip():
        raise RecordError("missing abstract")
    return make_paper(
        pid,
        version,
        result.title or "",
        result.summary,
        authors=[clean_text(str(a)) for a in result.authors],
        categories=normalize_categories(list(result.categories), result.primary_category, where=pid),
        published=parse_date(result.published),
        updated=parse_date(result.updated),
        comment=_clean_or_none(result.comment),
        doi=_clean_or_none(result.doi),
        journal_ref=_clean_or_none(result.journal_ref),
    )
