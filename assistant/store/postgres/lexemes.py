"""The catalog's words on PostgreSQL, tokenised exactly as the SQLite catalog's FTS5 index does.

PostgreSQL's own parsers stem and drop stop words differently from FTS5's `porter unicode61
remove_diacritics 2`; a term would then hold other papers on the two backends, and hybrid ranking would
drift. So the text is tokenised by SQLite's FTS5 itself (an in-memory table and its `fts5vocab` instance
view: every token with its column and offset), and each paper's stems are stored as postings: one row per
stem and paper with its hits per column and its places (position * 4 + column, the columns apart by a gap,
so a phrase is its words at consecutive positions in one column). BM25, phrases and document frequencies
are read from them (`store/postgres/catalog.py`).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.store.catalog_store import TextRow
from assistant.store.schema import FTS_COLUMNS

COLUMNS = ("title", "abstract", "authors", "comment")
COLUMN_GAP = 8  # positions left between two columns: a phrase never spans a title and its abstract
MAX_PLACES = 256  # places kept per stem and paper (a posting's index entry stays small)

_TERM = re.compile(r'"((?:[^"]|"")*)"')
_COLUMNS = re.compile(r"^\{([a-z ]+)\}\s*:\s*\((.*)\)$", re.S)


@dataclass(frozen=True)
class Posting:
    """One stem in one paper: its hits per column (title, abstract, authors, comment) and its places."""

    hits: tuple[int, int, int, int]
    places: list[int]


@dataclass(frozen=True)
class Document:
    """One paper's postings and token count (BM25's document length)."""

    postings: dict[str, Posting]
    token_count: int


@dataclass(frozen=True)
class Phrase:
    """One quoted term of a match expression: its stems in order (several: a phrase)."""

    text: str
    stems: tuple[str, ...]


@dataclass(frozen=True)
class Match:
    """A parsed match expression: its phrases, how they combine, the columns it looks in."""

    phrases: tuple[Phrase, ...]
    conjunctive: bool
    columns: tuple[str, ...]

    @property
    def column_numbers(self) -> tuple[int, ...]:
        """The looked-in columns' numbers (a place's column is place % 4)."""
        return tuple(COLUMNS.index(c) for c in self.columns)

    @property
    def every_column(self) -> bool:
        return set(self.columns) == set(COLUMNS)

    @property
    def empty(self) -> bool:
        """True when it can hold no paper: a term without indexable words in a conjunction, or none."""
        stems = [bool(p.stems) for p in self.phrases]
        return not any(stems) or (self.conjunctive and not all(stems))

    @property
    def held_phrases(self) -> tuple[Phrase, ...]:
        """The phrases that can match (a term with no indexable word matches nothing)."""
        return tuple(p for p in self.phrases if p.stems)


class Tokenizer:
    """FTS5's tokenizer, one in-memory table per thread (a catalog is shared by the app's threads)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(":memory:")
            conn.execute(f"CREATE VIRTUAL TABLE docs USING fts5({FTS_COLUMNS})")
            conn.execute("CREATE VIRTUAL TABLE tokens USING fts5vocab(docs, 'instance')")
            self._local.conn = conn
        return conn

    def _instances(self, rows: Sequence[TextRow]) -> dict[int, list[tuple[str, str, int]]]:
        """Per row number: (stem, column, offset) of every token."""
        conn = self._conn()
        conn.execute("DELETE FROM docs")
        conn.executemany(
            "INSERT INTO docs (rowid, id, title, abstract, authors, comment) VALUES (?,?,?,?,?,?)",
            [(number, *row) for number, row in enumerate(rows)],
        )
        found: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
        for term, doc, col, offset in conn.execute("SELECT term, doc, col, offset FROM tokens"):
            found[int(doc)].append((str(term), str(col), int(offset)))
        conn.execute("DELETE FROM docs")
        return found

    def documents(self, rows: Sequence[TextRow]) -> list[Document]:
        """Each row's postings and token count."""
        instances = self._instances(rows)
        return [_document(instances.get(number, [])) for number in range(len(rows))]

    def stems(self, text: str) -> tuple[str, ...]:
        """A term's stems in order ("bounded-degree" -> bound, degre)."""
        tokens = self._instances([("", text, "", "", "")]).get(0, [])
        return tuple(stem for stem, _, _ in sorted(tokens, key=lambda t: t[2]))

    def parse(self, match: str) -> Match:
        """A match expression (`store/catalog_store.py`) parsed; ValueError for anything else."""
        text = match.strip()
        columns = COLUMNS
        framed = _COLUMNS.match(text)
        if framed:
            columns = tuple(framed.group(1).split())
            if not set(columns) <= set(COLUMNS):
                raise ValueError(f"unknown column in a match expression: {match!r}")
            text = framed.group(2).strip()
        terms = _TERM.findall(text)
        joins = set(_TERM.sub("", text).split())
        if not terms or not joins <= {"OR", "AND"} or len(joins) > 1:
            raise ValueError(f"not a match expression the catalog knows: {match!r}")
        phrases = tuple(Phrase(t.replace('""', '"'), self.stems(t.replace('""', '"'))) for t in terms)
        return Match(phrases, joins == {"AND"}, columns)


def _document(tokens: list[tuple[str, str, int]]) -> Document:
    lengths = {column: 0 for column in COLUMNS}
    for _, column, offset in tokens:
        lengths[column] = max(lengths[column], offset + 1)
    base, start = 0, {}
    for column in COLUMNS:
        start[column] = base
        base += lengths[column] + COLUMN_GAP
    places: dict[str, list[int]] = defaultdict(list)
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for stem, column, offset in sorted(tokens, key=lambda t: start[t[1]] + t[2]):
        number = COLUMNS.index(column)
        places[stem].append((start[column] + offset) * 4 + number)
        hits[stem][number] += 1
    postings = {
        stem: Posting((c[0], c[1], c[2], c[3]), places[stem][:MAX_PLACES]) for stem, c in hits.items()
    }
    return Document(postings, len(tokens))
