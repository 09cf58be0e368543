"""The `Paper` record every source produces, and arXiv identifiers."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any

from pydantic import BaseModel, Field, computed_field

from ingest.errors import UserFacingError

ARXIV_ABS = "https://arxiv.org/abs/"
ARXIV_PDF = "https://arxiv.org/pdf/"
ARXIV_HTML = "https://arxiv.org/html/"

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


def archive_of(category: str) -> str:
    """`q-bio.NC` -> `q-bio`, `hep-th` -> `hep-th`."""
    return category.split(".", 1)[0]


class Paper(BaseModel):
    """One paper, keyed by its versionless arXiv id. Links are derived from the id, never stored."""

    id: str
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
    doi: str | None = None
    journal_ref: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def abs_url(self) -> str:
        return ARXIV_ABS + self.id

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pdf_url(self) -> str:
        return ARXIV_PDF + self.id

    @computed_field  # type: ignore[prop-decorator]
    @property
    def html_url(self) -> str:
        return ARXIV_HTML + self.id

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
        "published": paper.published.isoformat() if paper.published else None,
        "abs_url": paper.abs_url,
        "pdf_url": paper.pdf_url,
    }
