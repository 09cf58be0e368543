"""Ingestion: sources -> catalog (SQLite) -> vectors (Chroma), idempotent, incremental and resumable.

Order of writes per batch: catalog rows (vectors marked pending) -> embed -> Chroma -> mark embedded ->
source checkpoint. A process killed anywhere leaves pending rows that the next run embeds first; Chroma
writes are delete-then-add by arXiv id, so nothing is ever duplicated.

A catalog-only run (`embed=False`, `academichub ingest --no-embed`) stops after the catalog rows: its papers
stay pending (searchable by their words) until `embed_pending` (`academichub embed`) gives them vectors.
Nothing held per run grows with the input: files are streamed, and which papers a run has counted is kept
in the catalog (`CatalogStore.run_tally`: a TEMP table on SQLite), not in memory.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assistant.core.errors import UserFacingError
from assistant.core.lazy import Lazy
from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.store.backend import open_catalog
from assistant.store.catalog_store import CatalogStore, StoredState
from assistant.store.embedding import Embedder, get_embedder
from assistant.store.faults import CatalogError, storage_problem
from assistant.store.multilingual_index import collection_name, drop_multilingual
from assistant.store.schema import date_to_int, int_to_date, record_hash
from assistant.store.vectors import VectorIndex
from ingest.multilingual import MultilingualSide
from ingest.runs import SourceRun
from ingest.sources import Skipped, SourceError, Trimmed

if TYPE_CHECKING:
    from assistant.store.postgres.lock import PostgresIngestLock

MAX_SKIP_EXAMPLES = 8  # listed in the printed summary; the JSON summary lists up to MAX_SKIPS_KEPT
MAX_SKIPS_KEPT = 10_000


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


class HeldLock(Protocol):
    """An ingest lock once taken (the file lock, or PostgreSQL's advisory lock): released by `__exit__`."""

    def __exit__(self, *exc: object) -> None: ...


def ingest_lock(settings: Settings) -> IngestLock | PostgresIngestLock:
    """The lock one ingest at a time holds: PostgreSQL's advisory lock when the index lives there
    (ACADEMICHUB_DATABASE_URL: ingests on every machine see it), else the data directory's file lock."""
    url = settings.storage.database_url
    if url:
        from assistant.store.postgres.database import database
        from assistant.store.postgres.lock import PostgresIngestLock

        return PostgresIngestLock(database(url, settings.storage.database_pool_size))
    return IngestLock(settings.storage.lock_path)


@dataclass
class IngestSummary:
    records_read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0
    skipped: int = 0
    skip_reasons: Counter[str] = field(default_factory=Counter)
    skip_examples: list[Skipped] = field(default_factory=list)
    skipped_records: list[Skipped] = field(default_factory=list)  # every skip, up to MAX_SKIPS_KEPT
    embedded: int = 0
    resumed: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    multilingual_embedded: int = 0  # e5 vectors made (ingested papers and catch-up)
    multilingual_seconds: float = 0.0
    papers_total: int = 0
    vectors_total: int = 0
    pending_total: int = 0  # papers still waiting for vectors when the run ended
    failures: list[Skipped] = field(default_factory=list)  # sources that stopped early (also in skipped)
    notices: list[str] = field(default_factory=list)
    trimmed: int = 0  # fields cut to their cap in papers that were kept
    trimmed_records: list[Trimmed] = field(default_factory=list)  # up to MAX_SKIPS_KEPT

    def trim(self, item: Trimmed) -> None:
        self.trimmed += 1
        if len(self.trimmed_records) < MAX_SKIPS_KEPT:
            self.trimmed_records.append(item)

    def fail(self, item: Skipped) -> None:
        self.failures.append(item)
        self.skip(item)

    def skip(self, item: Skipped) -> None:
        self.skipped += 1
        reason = item.reason.split(":", 1)[0] if item.reason.startswith("not an arXiv id") else item.reason
        self.skip_reasons[reason] += 1
        if len(self.skip_examples) < MAX_SKIP_EXAMPLES:
            self.skip_examples.append(item)
        if len(self.skipped_records) < MAX_SKIPS_KEPT:
            self.skipped_records.append(item)

    @property
    def papers(self) -> int:
        return self.new + self.updated + self.unchanged

    def to_dict(self) -> dict[str, Any]:
        return {
            "records_read": self.records_read,
            "papers": self.papers,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "superseded_records": self.superseded,
            "skipped": self.skipped,
            "skip_reasons": dict(self.skip_reasons),
            "skip_examples": [{"where": s.where, "reason": s.reason} for s in self.skip_examples],
            "skipped_records": [{"where": s.where, "reason": s.reason} for s in self.skipped_records],
            "embedded": self.embedded,
            "resumed_from_earlier_run": self.resumed,
            "seconds": round(self.seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
            "multilingual_embedded": self.multilingual_embedded,
            "multilingual_seconds": round(self.multilingual_seconds, 3),
            "papers_total": self.papers_total,
            "vectors_total": self.vectors_total,
            "pending_embeddings": self.pending_total,
            "failures": [{"source": s.where, "error": s.reason} for s in self.failures],
            "notices": self.notices,
            "trimmed": self.trimmed,
            "trimmed_fields": [{"where": t.where, "reason": t.reason} for t in self.trimmed_records],
        }


ProgressCallback = Callable[[str, int, int | None], None]
"""(phase, advance, total): phase is 'read' or 'embed'; total is set when it becomes known."""


def _is_older(paper: Paper, stored: StoredState) -> bool:
    """True if the stored record is newer than `paper` (newest version wins; then the later date)."""
    if paper.version is not None and stored.version is not None and paper.version != stored.version:
        return paper.version < stored.version
    incoming = date_to_int(paper.updated)
    return bool(incoming and stored.updated and incoming < stored.updated)


def _newer_of(a: Paper, b: Paper) -> Paper:
    """The newer of two records of one paper, keeping the earlier first-listing date of the two."""
    if a.version is not None and b.version is not None and a.version != b.version:
        newer = a if a.version > b.version else b
    elif a.updated and b.updated and a.updated != b.updated:
        newer = a if a.updated > b.updated else b
    else:
        newer = b  # the later record in input order
    older = a if newer is b else b
    return _keep_first_published(newer, date_to_int(older.published))


def _keep_first_published(paper: Paper, earliest: int | None) -> Paper:
    """A paper keeps the first date it was seen (re-listings and replacements don't make it new)."""
    current = date_to_int(paper.published)
    if earliest and (current is None or earliest < current):
        return paper.model_copy(update={"published": int_to_date(earliest)})
    return paper


class Ingestor:
    """Runs sources into the index. Holds the ingest lock it is given until `close()`; loads the embedding
    model only if something needs embedding. `open_ingestor` makes one with its parts, in the order that
    matters (the lock first)."""

    def __init__(
        self,
        settings: Settings,
        lock: HeldLock,
        catalog: CatalogStore,
        vectors: VectorIndex,
        embedder: Lazy[Embedder],
        *,
        on_progress: ProgressCallback | None = None,
        set_aside: list[str] | None = None,
        multilingual: MultilingualSide | None = None,
    ) -> None:
        self.settings = settings
        self._lock = lock
        self.catalog = catalog
        self.vectors = vectors
        self.multilingual = multilingual  # the e5 side; None = English-only index
        self._embedder = embedder
        self.set_aside = set_aside or []  # what `rebuild` renamed
        self.on_progress: ProgressCallback = on_progress or (lambda phase, advance, total: None)
        self.on_notice: Callable[[str], None] = lambda message: None  # said while the run goes on
        self._embedding = True  # False during a catalog-only run

    @property
    def embedder(self) -> Embedder:
        return self._embedder.get()

    def close(self) -> None:
        self.catalog.close()
        self._lock.__exit__()

    # --- the run --------------------------------------------------------------------------------------

    def run(self, sources: Iterable[SourceRun], *, embed: bool = True) -> IngestSummary:
        """Ingest the sources. `embed=False`: catalog only (FTS5 included); new and changed papers are left
        waiting for vectors, and so are those earlier runs left, and the model is never loaded."""
        summary = IngestSummary()
        self.catalog.start_run_tally()  # per run: each paper counts once as new, updated or unchanged
        self._embedding = embed
        started = time.perf_counter()
        self._repair_vectors()
        if embed and (waiting := self.catalog.count_pending()):
            # Said before it starts: after a large `--no-embed` import this is hours of encoding.
            self.on_notice(
                f"{waiting} papers are waiting for vectors (left by `ingest --no-embed` or an interrupted "
                "run): embedding them first. Stopping is safe (nothing is lost; the next run continues); "
                "`ingest --no-embed` updates the catalog alone, `academichub embed --limit N` embeds a slice"
            )
            self.on_progress("embed", 0, waiting)
            summary.resumed = self._embed_pending(summary, announced=True)
        if summary.resumed:
            summary.notices.append(
                f"embedded {summary.resumed} papers that were waiting for vectors "
                "(left by an interrupted run or by `ingest --no-embed`)"
            )
        for source in sources:
            self._run_source(source, summary)
        if embed:
            self._multilingual_catch_up()
        self._finish(summary, started)
        if not embed and summary.pending_total:
            summary.notices.append(pending_notice(summary.pending_total))
        return summary

    def embed_pending(self, limit: int | None = None) -> IngestSummary:
        """Give vectors to papers waiting for them (after `ingest --no-embed`), oldest first: all, or at
        most `limit`. Stored batch by batch, so a killed run loses at most the batch in hand."""
        summary = IngestSummary()
        started = time.perf_counter()
        self._repair_vectors()
        waiting = self.catalog.count_pending()
        if waiting:
            self.on_progress("embed", 0, min(waiting, limit) if limit else waiting)
        self._embed_pending(summary, limit, announced=True)  # counts summary.embedded
        self._multilingual_catch_up(limit)
        self._finish(summary, started)
        return summary

    def _multilingual_catch_up(self, limit: int | None = None) -> None:
        """e5 vectors for papers that have none or an outdated one (an index from before the multilingual
        side, a run killed between the encoders, `ingest --no-embed` followed by `embed`)."""
        if self.multilingual is not None:
            self.multilingual.catch_up(self.catalog, self.on_progress, limit, self.on_notice)

    def _finish(self, summary: IngestSummary, started: float) -> None:
        if self.multilingual is not None:  # per run: the counters start again for the next one
            summary.multilingual_embedded, self.multilingual.embedded = self.multilingual.embedded, 0
            summary.multilingual_seconds, self.multilingual.seconds = self.multilingual.seconds, 0.0
        summary.seconds = time.perf_counter() - started
        summary.papers_total = self.catalog.count()
        summary.vectors_total = self.vectors.count()
        summary.pending_total = self.catalog.count_pending()

    def _run_source(self, source: SourceRun, summary: IngestSummary) -> None:
        if source.expected:
            self.on_progress("read", 0, source.expected)
        batch: list[Paper] = []
        try:
            for item in source.items:
                if isinstance(item, Trimmed):
                    summary.trim(item)
                    continue
                if not isinstance(item, Skipped) or item.record:
                    summary.records_read += 1
                    self.on_progress("read", 1, None)
                if isinstance(item, Skipped):
                    summary.skip(item)
                    continue
                batch.append(item)
                if len(batch) >= self.settings.sources.ingest_batch_size:
                    self._store_batch(batch, summary)
                    batch = []
                    if source.checkpoint:
                        source.checkpoint()
        except SourceError as err:
            self._store_batch(batch, summary)
            if source.checkpoint:
                source.checkpoint()
            summary.fail(Skipped(source.label, str(err)))
            return
        finally:
            if source.describe_resume and (note := source.describe_resume()):
                summary.notices.append(note)
        self._store_batch(batch, summary)
        if source.checkpoint:
            source.checkpoint()
        if source.finish:
            source.finish()

    def _store_batch(self, batch: list[Paper], summary: IngestSummary) -> None:
        if not batch:
            return
        newest: dict[str, Paper] = {}
        for paper in batch:
            if paper.id in newest:
                summary.superseded += 1
                paper = _newer_of(newest[paper.id], paper)
            newest[paper.id] = paper
        states = self.catalog.states(list(newest))
        counted = self.catalog.run_tally(list(newest))  # how this run already counted these papers
        tally: dict[str, str] = {}  # this batch's changes to that tally
        # Records older than what is stored change nothing but, possibly, the first-listing date.
        older = [pid for pid, paper in newest.items() if (st := states.get(pid)) and _is_older(paper, st)]
        stored_older = self.catalog.get_papers(older) if older else {}
        to_write: list[Paper] = []
        for pid, paper in newest.items():
            stored = states.get(pid)
            if pid in counted:
                summary.superseded += 1  # a paper counts once per run; its further records are superseded
            else:
                counted[pid] = tally[pid] = "unchanged" if stored else "new"
                if stored:
                    summary.unchanged += 1
                else:
                    summary.new += 1
            if pid in stored_older:
                candidate = _keep_first_published(stored_older[pid], date_to_int(paper.published))
            else:
                candidate = _keep_first_published(paper, stored.published if stored else None)
            if stored and record_hash(candidate) == stored.record_hash:
                continue
            to_write.append(candidate)
            if stored and counted[pid] == "unchanged":
                counted[pid] = tally[pid] = "updated"
                summary.unchanged -= 1
                summary.updated += 1
        self.catalog.set_run_tally(tally)
        if not to_write:
            return
        self.catalog.upsert(to_write)
        metadata_only = [p for p in to_write if (s := states.get(p.id)) and s.embedded_hash == p.content_hash]
        self.vectors.update_metadata(metadata_only)
        if self._embedding:
            metadata_only_ids = {p.id for p in metadata_only}
            self._embed([p for p in to_write if p.id not in metadata_only_ids], summary)

    def _embed(self, papers: list[Paper], summary: IngestSummary, *, announced: bool = False) -> None:
        """Encode, store in Chroma, mark embedded. `announced`: the progress total already counts them."""
        if not papers:
            return
        if not announced:
            self.on_progress("embed", 0, len(papers))
        embedder = self.embedder  # loaded (once) before the clock starts: embed_seconds is encoding time
        started = time.perf_counter()
        vectors = embedder.encode([p.embedding_text for p in papers])
        summary.embed_seconds += time.perf_counter() - started
        self.vectors.upsert(papers, vectors)
        if self.multilingual is not None:
            self.multilingual.embed(papers)
        self.catalog.mark_embedded({p.id: p.content_hash for p in papers})
        summary.embedded += len(papers)
        self.on_progress("embed", len(papers), None)

    # --- recovery -------------------------------------------------------------------------------------

    def _embed_pending(
        self, summary: IngestSummary, limit: int | None = None, announced: bool = False
    ) -> int:
        """Embed papers waiting for vectors (a killed run's, or a catalog-only run's): all, or `limit`."""
        total = 0
        batch = self.settings.sources.ingest_batch_size
        while (room := batch if limit is None else min(batch, limit - total)) > 0 and (
            pending := self.catalog.pending_ids(limit=room)
        ):
            papers = list(self.catalog.get_papers(pending).values())
            self._embed(papers, summary, announced=announced)
            total += len(papers)
        return total

    def _repair_vectors(self) -> None:
        """If the vector store lost vectors (deleted folder, different server), mark them pending; vectors of
        papers the catalog does not hold (a catalog lost or replaced) are removed."""
        embedded = self.catalog.count() - self.catalog.count_pending()
        stored = self.vectors.count()
        if stored > embedded:
            known = set(self.catalog.all_ids())
            orphans = [pid for pid in self.vectors.all_ids() if pid not in known]
            if orphans:
                self.vectors.delete(orphans)
            return
        if stored == embedded:
            return
        present = set(self.vectors.all_ids())
        missing = [pid for pid in self.catalog.all_ids() if pid not in present]
        self.catalog.reset_embedded(missing)


def open_ingestor(
    settings: Settings,
    *,
    on_progress: ProgressCallback | None = None,
    embedder: Embedder | None = None,
    rebuild: bool = False,
) -> Ingestor:
    """The ingest job's wiring: take the ingest lock first (a second ingest is refused at once, before
    Chroma and the model load), then with `rebuild` set the current catalog and vectors aside (renamed, not
    deleted) for a damaged or inconsistent index, then open the catalog (writable) and the vectors. The
    model: `embedder` if given (a benchmark's, the tests'), else the process-wide one on first need."""
    lock = ingest_lock(settings).__enter__()
    try:
        set_aside = set_index_aside(settings) if rebuild else []
        catalog = open_catalog(settings, creating=True)
        try:
            catalog.require_writable()
            vectors = VectorIndex(settings)
            multilingual = (
                MultilingualSide(settings, vectors.client) if settings.embedding.multilingual_index else None
            )
        except BaseException:
            catalog.close()
            raise
    except BaseException:
        lock.__exit__()
        raise
    model = Lazy.of(embedder) if embedder is not None else Lazy(lambda: get_embedder(settings))
    return Ingestor(
        settings,
        lock,
        catalog,
        vectors,
        model,
        on_progress=on_progress,
        set_aside=set_aside,
        multilingual=multilingual,
    )


def pending_notice(pending: int) -> str:
    """What to tell a user whose catalog holds papers without vectors."""
    return (
        f"{pending} papers are waiting for vectors: search finds them by their words (BM25) but not by "
        "meaning until they are embedded. Run `academichub embed` to embed them all (resumable: stop it "
        "any time and run it again), or `academichub embed --limit N` for a slice, oldest first"
    )


def set_index_aside(settings: Settings) -> list[str]:
    """Rename the catalog (and an embedded vector store) to `*.set-aside-<time>`, or drop a Chroma server's
    collection, so that an ingest builds the index afresh. Returns what was set aside."""
    if settings.storage.database_url:
        # Setting aside is renaming files; a database is rebuilt by its operator, never dropped by us.
        raise CatalogError(
            "`ingest --rebuild` sets a SQLite catalog aside; the catalog is in PostgreSQL "
            "(ACADEMICHUB_DATABASE_URL). Restore it from a backup, or create an empty database, run "
            "`academichub migrate` and ingest into it (docs/deployment.md)"
        )
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
