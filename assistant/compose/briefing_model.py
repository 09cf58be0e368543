"""A briefing's data model and limits: its sections (a field's papers, bridges, open questions), the model's
prose, and the error a user sees when a topic cannot be briefed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from assistant.compose.bibtex import bibtex_entries
from assistant.compose.model import Mode, Source
from assistant.compose.support import SupportReport
from assistant.core.errors import UserFacingError
from assistant.core.fields import label
from assistant.core.i18n import t
from assistant.core.paper import Paper, archive_of

MAX_AUTO_FIELDS = 3
BRIEFING_ABSTRACT_CHARS = 1500
FIELD_POOL = 40  # papers retrieved per field before the on-topic test (a field rarely holds more on topic)
OVERVIEW_HEADING = "## Overview"
BRIDGES_HEADING = "## Bridges"
OPEN_HEADING = "## Open questions"
MAX_OPEN_QUESTIONS = 4
OPEN_QUESTION_COSINE = 0.4  # an open question without the topic's words must be this close to it
MAX_BRIDGE_TERMS = 6


def no_bridges() -> str:
    """The Bridges section when the fields do not meet (in the reply language)."""
    return t("brief.no_bridges")


def no_open_questions() -> str:
    """The Open questions section when no abstract states one (in the reply language)."""
    return t("brief.no_open_questions")


@dataclass(frozen=True)
class ModelProse:
    """The model's sections by key (overview, a field, bridges, open): only its supported sentences."""

    prose: dict[str, str]
    report: SupportReport  # the verdict on every sentence it wrote
    incomplete: str | None = None  # why the model's text was cut short


class BriefingError(UserFacingError, ValueError):
    """Input a briefing cannot serve (empty topic, inverted dates, unknown fields): a readable message."""


@dataclass
class FieldSection:
    field: str  # the code (cs.LG, q-bio); `label` is what a reader sees
    sources: list[Source]
    relevant: int = 0  # papers on the topic in this field (some may be listed under another field)
    quota: int = 0  # how many papers the section could list

    @property
    def label(self) -> str:
        return label(self.field) if self.field else "All fields"


@dataclass
class Bridge:
    kind: str  # "paper" (cross-listed) or "method" (a specific term shared across fields)
    label: str
    numbers: list[int]
    fields: list[str]  # codes


@dataclass
class Briefing:
    topic: str
    fields: list[str]
    markdown: str
    sources: list[Source]
    mode: Mode
    notices: list[str] = field(default_factory=list)
    sections: list[FieldSection] = field(default_factory=list)
    bridges: list[Bridge] = field(default_factory=list)
    since: date | None = None
    until: date | None = None
    removed_citations: list[int] = field(default_factory=list)
    unsupported_sentences: list[str] = field(default_factory=list)  # flagged: uncited or unsupported
    uncited_sentences: list[str] = field(default_factory=list)
    incomplete: str | None = None  # why the model's prose was cut short (sections it missed are quoted)
    check: SupportReport | None = None  # the verdict on each sentence the model wrote (None: no model)

    def to_bibtex(self) -> str:
        return bibtex_entries([s.paper for s in self.sources])

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "fields": list(self.fields),
            "field_labels": {f: label(f) for f in self.fields},
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "markdown": self.markdown,
            "text": self.markdown,
            "citations": {str(s.number): s.paper.id for s in self.sources},
            "sources": [s.to_dict() for s in self.sources],
            "sections": [
                {
                    "field": sec.field,
                    "label": sec.label,
                    "numbers": [s.number for s in sec.sources],
                    "relevant": sec.relevant,
                }
                for sec in self.sections
            ],
            "bridges": [
                {"kind": b.kind, "label": b.label, "numbers": b.numbers, "fields": b.fields}
                for b in self.bridges
            ],
            "mode": self.mode,
            "notices": list(self.notices),
            "removed_citations": list(self.removed_citations),
            "unsupported_sentences": list(self.unsupported_sentences),
            "uncited_sentences": list(self.uncited_sentences),
            "incomplete": self.incomplete,
            "sentences": self.check.to_dict()["sentences"] if self.check else [],
            "support_share": round(self.check.share, 3) if self.check else None,
            "check": self.check.to_dict() if self.check else None,
        }


def in_field(paper: Paper, field_name: str) -> bool:
    """A field is a category (cs.LG) or an archive prefix (q-bio) matched against every listing."""
    return any(c == field_name or archive_of(c) == field_name for c in paper.categories)


def field_labels(codes: Sequence[str]) -> str:
    return ", ".join(label(c) for c in codes)
