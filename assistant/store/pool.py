"""Where a process's readers get their catalog: one SQLite connection per thread on one catalog file (opened
again when a new file replaces it), or the one PostgreSQL catalog every thread shares (its pool hands each
call a connection).

SQLite connections stay on the thread that made them, and Chainlit calls the search from a thread pool;
a copy of the catalog shipped after an ingest on another machine (or an `ingest --rebuild`) moves a new
file into place, which a running reader must pick up at its next search.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from assistant.store.catalog import Catalog
from assistant.store.catalog_store import CatalogStore


class CatalogSource(Protocol):
    def get(self) -> CatalogStore: ...


class CatalogPool:
    """The catalog of the calling thread: `get()` opens it on first use and again once the file at the
    path was replaced. The old connection closes when nothing holds it any more."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def get(self) -> CatalogStore:
        catalog: Catalog | None = getattr(self._local, "catalog", None)
        if catalog is None or catalog.replaced():
            catalog = Catalog(self.path)
            self._local.catalog = catalog
        return catalog


class SharedCatalog:
    """One catalog for every thread (PostgreSQL's: thread-safe through its connection pool)."""

    def __init__(self, catalog: CatalogStore) -> None:
        self.catalog = catalog

    def get(self) -> CatalogStore:
        return self.catalog
