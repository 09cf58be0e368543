"""Storage faults in plain words: which failure (disk full, read-only, damaged index) a user is facing and
how to recover, plus the file checks the catalog opens with."""

from __future__ import annotations

import os
from pathlib import Path

from assistant.core.errors import UserFacingError


class CatalogError(UserFacingError, RuntimeError):
    """The catalog cannot be used: damaged, unreadable, or read-only for a command that writes. The message
    says what is wrong and how to recover."""

    heading = "The index cannot be used"


REBUILD_HINT = (
    "rebuild it from your sources with `academichub ingest --rebuild` plus the same --file/--arxiv options "
    "you ingested with (no options: the bundled sample)"
)


def storage_problem(err: BaseException, home: Path) -> str | None:
    """A plain-words explanation of a storage failure (disk full, read-only, damaged files), or None."""
    text = str(err).lower()
    errno = getattr(err, "errno", None)
    if errno == 28 or "disk is full" in text or "no space left" in text:
        return (
            f"the disk holding {home} is full. Free some space and run the same command again: what was "
            "already stored is kept, and an ingest resumes where it stopped."
        )
    if errno in (13, 30) or "readonly" in text or "read-only" in text:
        return (
            f"the data directory {home} is read-only: this command needs to write there. Reading commands "
            "(search, ask, brief, stats) still work; to ingest, make it writable or set ACADEMICHUB_HOME to "
            "a writable folder."
        )
    if "malformed" in text or "not a database" in text or "disk image" in text or "corrupt" in text:
        return f"the index in {home} is damaged ({err}); {REBUILD_HINT}."
    return None


def writable(path: Path) -> bool:
    folder = path.parent
    if not folder.exists():
        return os.access(existing_parent(folder), os.W_OK)
    return os.access(folder, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when there is none."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
