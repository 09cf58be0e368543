"""Porter stems exactly as the catalog's lexical index computes them.

The benchmark's known-item builder must know which words the index treats as one (a question sharing no
stem with the title): asking SQLite's FTS5 tokenizer, the one the catalog is declared with, is the only way
to agree with it on every word. The scratch database is in memory and holds nothing of the catalog.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from assistant.store.schema import FTS_COLUMNS


@dataclass
class StemCache:
    """Word -> the term the lexical index stores for it, asked of the index's own tokenizer and kept."""

    conn: sqlite3.Connection = field(default_factory=lambda: sqlite3.connect(":memory:"))
    cache: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.conn.execute(f"CREATE VIRTUAL TABLE w USING fts5({FTS_COLUMNS})")
        self.conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, 'instance')")

    def fill(self, words: Iterable[str]) -> None:
        """Stem many words in one pass (a statement per batch, not per word)."""
        todo = sorted({w for w in words if w not in self.cache})
        if not todo:
            return
        self.conn.execute("DELETE FROM w")
        self.conn.executemany("INSERT INTO w(rowid, title) VALUES (?, ?)", list(enumerate(todo)))
        for term, doc in self.conn.execute("SELECT term, doc FROM v"):
            self.cache.setdefault(todo[doc], term)
        for word in todo:
            self.cache.setdefault(word, word)  # a word the tokenizer drops entirely stands for itself

    def stem(self, word: str) -> str:
        if word not in self.cache:
            self.fill([word])
        return self.cache.get(word, word)
