"""The data directory's side of one ingest: the lock that keeps a second ingest out, and setting the
index aside for `ingest --rebuild` (renamed, not deleted; a Chroma server's collections dropped)."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

from assistant.core.errors import UserFacingError
from assistant.core.settings import Settings
from assistant.store.faults import CatalogError, storage_problem
from assistant.store.multilingual_index import collection_name, drop_multilingual
from assistant.store.vectors import VectorIndex

__all__ = ["IngestBusy", "IngestLock", "set_index_aside"]


class IngestBusy(UserFacingError, RuntimeError):
    """Another ingest holds the lock on this data directory."""


class IngestLock:
    """An advisory file lock (released by the OS even when the holder is killed with -9)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def __enter__(self) -> IngestLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+")
        except OSError as err:  # a read-only data directory, a full disk: said plainly, before any work
            raise CatalogError(
                storage_problem(err, self.path.parent) or f"cannot write in {self.path.parent}: {err}"
            ) from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise IngestBusy(
                f"another ingest is running on {self.path.parent} (pid {holder}); "
                "wait for it to finish or stop it, then run this again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def set_index_aside(settings: Settings) -> list[str]:
    """Rename the catalog (and an embedded vector store) to `*.set-aside-<time>`, or drop a Chroma server's
    collection, so that an ingest builds the index afresh. Returns what was set aside."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved: list[str] = []
    targets = [
        settings.storage.catalog_path,
        *(Path(f"{settings.storage.catalog_path}{s}") for s in ("-wal", "-shm")),
    ]
    if not settings.storage.chroma_host:
        targets.append(settings.storage.chroma_path)
    for path in targets:
        if path.exists():
            aside = path.with_name(f"{path.name}.set-aside-{stamp}")
            path.rename(aside)
            moved.append(str(aside))
    if settings.storage.chroma_host:
        vectors = VectorIndex(settings)
        vectors.drop()
        where = f"{settings.storage.chroma_host}:{settings.storage.chroma_port}"
        moved.append(f"collection {settings.storage.collection!r} on {where}")
        if drop_multilingual(settings, vectors.client):
            moved.append(f"collection {collection_name(settings)!r} on {where}")
    return moved


# --- building source runs -----------------------------------------------------------------------------
