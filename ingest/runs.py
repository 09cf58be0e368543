"""Source runs: each input of an ingest (a file, the bundled sample, a paged API query) as items plus what
to do once a prefix of them is safely stored (a resumable API source saves its position then)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from assistant.core.settings import Settings
from assistant.store.catalog_store import CatalogStore
from ingest.rxiv_api import RxivRequest, RxivSource
from ingest.sources import (
    ArxivRequest,
    ArxivSource,
    Skipped,
    SourceError,
    SourceItem,
    read_jsonl,
    read_sample,
)


@dataclass
class SourceRun:
    """One input of an ingest run: its items, and what to do once a prefix of them is safely stored."""

    label: str
    items: Iterable[SourceItem]
    checkpoint: Callable[[], None] | None = None
    finish: Callable[[], None] | None = None
    expected: int | None = None  # records, when cheap to know (for the progress bar)
    describe_resume: Callable[[], str | None] | None = None  # a notice when it resumed an earlier run


def _count_lines(path: Path) -> int | None:
    """Lines in the file, for the progress bar's total: one extra read of the file in 1 MB blocks (1.0 s for
    the 1.1 GB of 500k snapshot lines from the page cache, 1.5 s line by line; ingesting them takes 4 min),
    so an exact count is kept rather than a byte-based estimate."""
    try:
        lines, last = 0, b"\n"
        for block in read_blocks(path):
            lines += block.count(b"\n")
            last = block[-1:]
        return lines + (last != b"\n")  # a last line without its newline counts too
    except Exception:
        return None


def read_blocks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    """The file's bytes in blocks, gunzipped when the content (not the name) says gzip."""
    import gzip

    with path.open("rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    with gzip.open(path, "rb") if gz else path.open("rb") as handle:
        while block := handle.read(size):
            yield block


INPUT_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")  # what read_jsonl reads


def input_files(paths: Iterable[Path]) -> list[Path]:
    """The files to read for the given paths: a folder stands for every .jsonl/.jsonl.gz (and .json API
    answer) file directly in it (sorted by name, so daily files load in date order); files are kept as
    given, each once. A folder with no such file and a missing file stay as given: each is reported as a
    skipped source by its own run, so the other paths still load (one bad path is that path's problem)."""
    files: list[Path] = []
    for path in paths:
        found = (
            sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(INPUT_SUFFIXES))
            if path.is_dir()
            else []
        )
        if found:
            files += found
        else:
            files.append(path)
    return list(dict.fromkeys(files))


def file_runs(paths: Iterable[Path]) -> list[SourceRun]:
    """One source run per file; folders expand to their JSONL files (see `input_files`)."""
    runs = []
    for path in input_files(paths):

        def items(p: Path = path) -> Iterator[SourceItem]:
            try:
                yield from read_jsonl(p)
            except SourceError as err:
                yield Skipped(p.name, str(err), record=False)

        runs.append(
            SourceRun(label=str(path), items=items(), expected=_count_lines(path) if path.is_file() else None)
        )
    return runs


def sample_run() -> SourceRun:
    from ingest.sources import SAMPLE_PATH

    return SourceRun(label="bundled sample", items=read_sample(), expected=_count_lines(SAMPLE_PATH))


class ResumableSource(Protocol):
    """A paged API source that counts what it has yielded (`position`) and can start from a saved count."""

    position: int
    resumed_from: int

    def __iter__(self) -> Iterator[SourceItem]: ...


def resumable_run(
    source: ResumableSource,
    key: str,
    label: str,
    unit: str,
    catalog: CatalogStore,
    expected: int | None = None,
) -> SourceRun:
    """A resumable API source: its position is saved under `key` after each stored batch, cleared when done.

    The saved position is read when iteration starts, i.e. inside the ingest lock, so it is never stale.
    """

    def items() -> Iterator[SourceItem]:
        source.position = source.resumed_from = catalog.get_cursor(key)
        yield from source

    def describe_resume() -> str | None:
        if not source.resumed_from:
            return None
        return f"{label}: resumed at {unit} {source.resumed_from}, where an earlier run stopped"

    return SourceRun(
        label=label,
        items=items(),
        checkpoint=lambda: catalog.set_cursor(key, source.position),
        finish=lambda: catalog.clear_cursor(key),
        expected=expected,
        describe_resume=describe_resume,
    )


def arxiv_run(request: ArxivRequest, settings: Settings, catalog: CatalogStore) -> SourceRun:
    """A resumable arXiv API source (its offset saved after each stored batch, cleared when done)."""
    source = ArxivSource(
        request,
        api_url=settings.sources.arxiv.api_url,
        delay_seconds=settings.sources.arxiv.delay_seconds,
        retries=settings.sources.arxiv.retries,
        backoff_seconds=settings.sources.arxiv.backoff_seconds,
        page_size=settings.sources.arxiv.page_size,
        timeout_seconds=settings.sources.arxiv.timeout_seconds,
    )
    label = f"arXiv API ({request.search_query()})"
    return resumable_run(source, request.cursor_key(), label, "result", catalog, expected=request.max_results)


def rxiv_run(request: RxivRequest, settings: Settings, catalog: CatalogStore) -> SourceRun:
    """A resumable bioRxiv/medRxiv API source (cursor saved after each stored batch, cleared when done)."""
    source = RxivSource(
        request,
        api_url=settings.sources.rxiv.api_url,
        delay_seconds=settings.sources.rxiv.delay_seconds,
        retries=settings.sources.rxiv.retries,
        backoff_seconds=settings.sources.rxiv.backoff_seconds,
        timeout_seconds=settings.sources.rxiv.timeout_seconds,
    )
    return resumable_run(source, request.cursor_key(), request.describe(), "record", catalog)
