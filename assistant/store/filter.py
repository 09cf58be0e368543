"""`PaperFilter`: the exact filters (categories, sources, dates, author, ids) every retrieval path shares,
as a SQL WHERE clause over the catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from assistant.core.text import fold
from assistant.store.schema import date_to_int


def author_as_stored(name: str) -> str:
    """An author filter in the order names are stored: 'Gökbuget, N.' (bioRxiv's way) -> 'N. Gökbuget'."""
    surname, comma, given = name.strip().partition(",")
    return f"{given.strip()} {surname.strip()}" if comma and given.strip() else surname.strip()


@dataclass(frozen=True)
class PaperFilter:
    """Exact filters shared by every retrieval path. Categories match exactly or by archive prefix."""

    categories: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # 'arxiv', 'biorxiv', 'medrxiv'; empty = every source
    since: date | None = None
    until: date | None = None
    author: str | None = None
    exclude_ids: frozenset[str] = field(default_factory=frozenset)
    only_ids: frozenset[str] | None = None  # restrict to these papers (e.g. today's new papers of a topic)

    @property
    def active(self) -> bool:
        return bool(
            self.categories
            or self.sources
            or self.since
            or self.until
            or self.author
            or self.exclude_ids
            or self.only_ids is not None
        )

    def where_sql(self, alias: str = "p", *, postgres: bool = False) -> tuple[str, list[object]]:
        """The filter as a WHERE clause over the `papers` table (as `alias`) and its parameters, in SQLite's
        dialect or (`postgres`) PostgreSQL's: placeholders, the substring test and TRUE differ."""
        mark, contains, true = ("%s", "strpos", "TRUE") if postgres else ("?", "instr", "1")

        def marks(count: int) -> str:
            return ",".join([mark] * count)

        clauses: list[str] = []
        params: list[object] = []
        if self.categories:
            held = marks(len(self.categories))
            if self.only_ids is not None:
                # A few candidate papers: look each one's categories up, rather than list every paper of a
                # large field first (cs.CV: 38k of 74k papers, ~20 ms).
                clauses.append(
                    f"EXISTS (SELECT 1 FROM paper_categories c WHERE c.id = {alias}.id "
                    f"AND (c.category IN ({held}) OR c.archive IN ({held})))"
                )
            else:
                clauses.append(
                    f"{alias}.id IN (SELECT id FROM paper_categories WHERE category IN ({held}) "
                    f"OR archive IN ({held}))"
                )
            params += list(self.categories) * 2
        if self.sources:
            clauses.append(f"{alias}.source IN ({marks(len(self.sources))})")
            params += list(self.sources)
        if self.since:
            clauses.append(f"{alias}.published >= {mark}")
            params.append(date_to_int(self.since))
        if self.until:
            clauses.append(f"{alias}.published <= {mark}")
            params.append(date_to_int(self.until))
        if self.author and self.author.strip():
            clauses.append(f"{contains}({alias}.authors_folded, {mark}) > 0")
            params.append(fold(author_as_stored(self.author)))
        if self.exclude_ids:
            clauses.append(f"{alias}.id NOT IN ({marks(len(self.exclude_ids))})")
            params += sorted(self.exclude_ids)
        if self.only_ids is not None:
            clauses.append(f"{alias}.id IN ({marks(len(self.only_ids))})" if self.only_ids else "1 = 0")
            params += sorted(self.only_ids)
        return (" AND ".join(clauses) or true), params
