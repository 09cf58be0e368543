"""The `Paper` record every source produces, its identity (source + source-local id), and arXiv identifiers.

A paper's links are built here from its source and id by that source's rules, never copied from input.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field, computed_field

from assistant.core.errors import UserFacingError

ARXIV_ABS = "https://arxiv.org/abs/"
ARXIV_PDF = "https://arxiv.org/pdf/"
ARXIV_HTML = "https://arxiv.org/html/"

SourceName = Literal["arxiv", "biorxiv", "medrxiv"]
# How each source is named to readers; bioRxiv and medRxiv share one site layout (Cold Spring Harbor).
SOURCE_LABELS: dict[str, str] = {"arxiv": "arXiv", "biorxiv": "bioRxiv", "medrxiv": "medRxiv"}
# A journal DOI as the bioRxiv/medRxiv API reports it: strictly the characters a DOI needs, so nothing in it
# can close a Markdown link, open Rich markup or start a new BibTeX field.
JOURNAL_DOI_RE = re.compile(r"^10\.\d{4,9}/[-._;/:A-Za-z0-9]+$")
_RXIV_CONTENT = {"biorxiv": "https://www.biorxiv.org/content/", "medrxiv": "https://www.medrxiv.org/content/"}
# A bioRxiv/medRxiv DOI: Cold Spring Harbor's prefixes (10.1101 until 2025, 10.64898 since) and a suffix that
# is either a date-stamped number (2026.05.27.728076) or, for the oldest papers, a plain number (000109).
_RXIV_DOI_RE = re.compile(
    r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?(?P<doi>10\.\d{4,9}/(?:\d{4}\.\d{2}\.\d{2}\.)?\d{6,})"
    r"(?:v(?P<version>\d+))?$",
    re.IGNORECASE,
)

# New-style ids (0704.0001 onwards: YYMM.NNNN, 5 digits since 1501) and old-style ids (hep-th/9901001,
# math.GT/0309136), optionally versioned, optionally written as a URL or with an "arXiv:" prefix.
_NEW_ID = r"(?P<new>\d{4}\.\d{4,5})"
_OLD_ID = r"(?P<old>[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})"
_ID_RE = re.compile(
    r"^(?:arxiv:|https?://(?:export\.)?arxiv\.org/(?:abs|pdf|html)/)?"
    rf"(?:{_NEW_ID}|{_OLD_ID})(?:v(?P<version>\d+))?(?:\.pdf)?/?$",
    re.IGNORECASE,
)


class InvalidArxivId(UserFacingError, ValueError):
    """Raised for a string that is not an arXiv identifier."""


def parse_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Split an arXiv id, URL or `arXiv:` reference into (versionless id, version or None)."""
    text = (raw or "").strip()
    match = _ID_RE.match(text)
    if not match:
        raise InvalidArxivId(f"not an arXiv id: {raw!r}")
    base = match.group("new") or match.group("old")
    if match.group("old"):
        archive, number = base.split("/")
        # The archive is lower-case except the subject class (math.GT); keep arXiv's spelling.
        head, _, subject = archive.partition(".")
        base = f"{head.lower()}{'.' + subject.upper() if subject else ''}/{number}"
    version = match.group("version")
    return base, int(version) if version else None


class InvalidDoi(UserFacingError, ValueError):
    """Raised for a string that is not a bioRxiv/medRxiv DOI."""


def parse_rxiv_doi(raw: str) -> tuple[str, int | None]:
    """Split a bioRxiv/medRxiv DOI (optionally `doi:`/doi.org-prefixed, optionally `v2`) into
    (lower-case DOI, version or None). The DOI is the paper's catalog key: it never looks like an arXiv id."""
    match = _RXIV_DOI_RE.match((raw or "").strip())
    if not match:
        raise InvalidDoi(f"not a bioRxiv/medRxiv DOI: {raw!r}")
    version = match.group("version")
    return match.group("doi").lower(), int(version) if version else None


def archive_of(category: str) -> str:
    """The field a category belongs to: `q-bio.NC` -> `q-bio`, `hep-th` -> `hep-th`,
    `biorxiv:neuroscience` -> `biorxiv`."""
    if ":" in category:
        return category.split(":", 1)[0]
    return category.split(".", 1)[0]


class Paper(BaseModel):
    """One paper, keyed by its source-local id: the versionless arXiv id for arXiv, the DOI for bioRxiv and
    medRxiv (a DOI never looks like an arXiv id, so keys of different sources cannot collide). Links are
    derived from source, id and version, never stored."""

    id: str
    source: SourceName = "arxiv"
    version: int | None = None
    title: str = Field(description="Display/search form: LaTeX and whitespace normalised.")
    abstract: str
    title_original: str = ""
    abstract_original: str = ""
    authors: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list, description="Primary category first.")
    published: date | None = None
    updated: date | None = None
    comment: str | None = None
    doi: str | None = Field(None, description="arXiv: the DOI authors gave; bioRxiv/medRxiv: the id itself.")
    journal_ref: str | None = None
    published_doi: str | None = Field(None, description="The journal version's DOI (bioRxiv/medRxiv API).")

    @property
    def source_label(self) -> str:
        """'arXiv', 'bioRxiv', 'medRxiv'."""
        return SOURCE_LABELS[self.source]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def abs_url(self) -> str:
        if self.source == "arxiv":
            return ARXIV_ABS + self.id
        # The versioned page when the version is known; the bare DOI page shows the latest version.
        version = f"v{self.version}" if self.version else ""
        return f"{_RXIV_CONTENT[self.source]}{self.id}{version}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pdf_url(self) -> str:
        if self.source == "arxiv":
            return ARXIV_PDF + self.id
        return self.abs_url + ".full.pdf"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def html_url(self) -> str:
        if self.source == "arxiv":
            return ARXIV_HTML + self.id
        return self.abs_url + ".full"

    @property
    def reference_id(self) -> str:
        """How a reference names the paper: 'arXiv:2401.12345', 'bioRxiv doi:10.1101/2026.05.27.728076'."""
        if self.source == "arxiv":
            return f"arXiv:{self.id}"
        return f"{self.source_label} doi:{self.id}"

    def source_fields(self) -> dict[str, str | int | None]:
        """The JSON keys a paper of another source adds to its JSON (source, DOI, version, journal DOI);
        none for arXiv, whose JSON stays as it always was."""
        if self.source == "arxiv":
            return {}
        return {
            "source": self.source,
            "doi": self.doi or self.id,
            "version": self.version,
            "published_doi": self.published_doi,
        }

    @property
    def published_url(self) -> str | None:
        """The journal version, as a doi.org link built from the reported DOI."""
        if not self.published_doi or not JOURNAL_DOI_RE.match(self.published_doi):
            return None  # an index written before the DOI was checked at read time: no link from it
        return "https://doi.org/" + quote(self.published_doi, safe="/")

    @property
    def primary_category(self) -> str:
        return self.categories[0] if self.categories else ""

    @property
    def archives(self) -> list[str]:
        """Distinct archives (fields) in category order: ['cs', 'q-bio']."""
        return list(dict.fromkeys(archive_of(c) for c in self.categories))

    @property
    def embedding_text(self) -> str:
        """What the dense index embeds: title and abstract."""
        return f"{self.title}. {self.abstract}"

    @property
    def content_hash(self) -> str:
        """Changes exactly when the embedded text changes (a re-embed is needed)."""
        return hashlib.sha1(self.embedding_text.encode("utf-8")).hexdigest()

    def short_authors(self, limit: int = 3) -> str:
        if len(self.authors) <= limit:
            return ", ".join(self.authors)
        return ", ".join(self.authors[:limit]) + " et al."

    @property
    def year(self) -> int | None:
        day = self.published or self.updated
        return day.year if day else None


def paper_json(paper: Paper) -> dict[str, Any]:
    """The one JSON shape of a paper in every `--json` output (search, ask, brief, radar feed). Links come
    from the id. Documented in the README ("JSON output"): add a key here and it appears everywhere."""
    return {
        "id": paper.id,
        "title": paper.title,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "fields": paper.archives,
        "published": paper.published.isoformat() if paper.published else None,
        "abs_url": paper.abs_url,
        "pdf_url": paper.pdf_url,
        **paper.source_fields(),
    }
