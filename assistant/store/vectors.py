"""The dense side of the index: one vector per paper in a Chroma collection, written and read here through
the chromadb client itself (llama-index's ChromaVectorStore, used for writes before, added a node JSON to
every record, and on reads fetched every document and metadata: 22 ms instead of 7 ms per query on the June
corpus, measured).

Embedded (PersistentClient under the data directory) by default; a Chroma server when
ACADEMICHUB_CHROMA_HOST is set (the scale-out path: several app workers, an ingest job beside the app).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from assistant.core.errors import UserFacingError
from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.store.embedding import EncoderMismatchError, check_index_encoder, encoder_identity
from assistant.store.faults import REBUILD_HINT, disk_full, storage_problem
from assistant.store.schema import date_to_int

T = TypeVar("T")


class VectorStoreError(UserFacingError, RuntimeError):
    """Chroma cannot be opened or reached."""

    heading = "The index cannot be used"


def consistency_problem(papers: int, embedded: int, vectors: int, home: object) -> str | None:
    """What is wrong when the catalog and the vector store disagree (and how to recover), else None.

    `embedded`: catalog papers whose vectors should be in the store. A running ingest may briefly hold a few
    vectors more than it has marked embedded, so only a store with vectors but an empty catalog (the catalog
    was lost or replaced: a 0-byte file is read as an empty database) or fewer vectors than embedded
    papers (vectors lost) count."""
    if papers == 0 and vectors > 0:
        return (
            f"the catalog in {home} holds no papers but the vector store holds {vectors} vectors: the "
            f"catalog was lost or replaced. {REBUILD_HINT[0].upper()}{REBUILD_HINT[1:]}."
        )
    if vectors < embedded:
        return (
            f"the vector store holds {vectors} vectors for {embedded} embedded papers in {home}: vectors "
            "were lost. Run `academichub ingest` (any source): it embeds the missing papers again."
        )
    return None


def _chroma_client(settings: Settings, *, reading: bool) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.storage.chroma_host:
            return chromadb.HttpClient(
                host=settings.storage.chroma_host, port=settings.storage.chroma_port, settings=chroma_settings
            )
        return _embedded_client(settings.storage.chroma_path, chroma_settings, reading=reading)
    except Exception as err:  # chromadb raises a variety of errors for an unreachable server
        where = (
            f"{settings.storage.chroma_host}:{settings.storage.chroma_port}"
            if settings.storage.chroma_host
            else settings.storage.chroma_path
        )
        problem = storage_problem(err, settings.storage.home)
        raise VectorStoreError(problem or f"cannot open the Chroma vector store at {where}: {err}") from err


def _embedded_client(path: Path, chroma_settings: Any, *, reading: bool) -> Any:
    """The embedded store at `path`. A reader on a full disk, where Chroma cannot open its store ("database
    or disk is full": it writes to its SQLite file on open), reads a private copy instead. A writer never
    does: what it wrote would vanish with the copy, so it gets the error (the disk is full)."""
    import chromadb

    if path.is_dir() and not os.access(path, os.W_OK):
        path = _private_copy(path)
    path.mkdir(parents=True, exist_ok=True)
    try:
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception:
        if not (reading and disk_full(path)):
            raise
        return chromadb.PersistentClient(path=str(_private_copy(path)), settings=chroma_settings)


def _private_copy(path: Path) -> Path:
    """A read-only data directory (a shared index on a lab server) or a full disk: embedded Chroma cannot
    open a store it cannot write to (it writes to its SQLite file on open), so this process reads a private
    copy of it (in the system's temporary folder), removed at exit. Writing (ingest) is refused earlier,
    with a message."""
    copy = Path(tempfile.mkdtemp(prefix="academichub-readonly-vectors-"))
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    shutil.copytree(path, copy / "chroma")
    for item in (copy / "chroma").rglob("*"):
        item.chmod(item.stat().st_mode | 0o200)
    return copy / "chroma"


def paper_metadata(paper: Paper) -> dict[str, Any]:
    """Flat metadata (Chroma allows str/int/float/bool): dates as YYYYMMDD ints for range filters."""
    return {
        "title": paper.title[:500],
        "primary_category": paper.primary_category,
        "archives": "|" + "|".join(paper.archives) + "|",
        "published": date_to_int(paper.published) or 0,
    }


def replace_vectors(
    client: Any,
    collection: Any,
    papers: Sequence[Paper],
    vectors: np.ndarray,
    metadata: Callable[[Paper], dict[str, Any]],
) -> None:
    """Delete-then-add in the client's batch size: ids stay unique even if a run is interrupted."""
    step = max(1, int(client.get_max_batch_size()))
    for start in range(0, len(papers), step):
        chunk = papers[start : start + step]
        ids = [p.id for p in chunk]
        collection.delete(ids=ids)
        collection.add(
            ids=ids, embeddings=vectors[start : start + step].tolist(), metadatas=[metadata(p) for p in chunk]
        )


class VectorIndex:
    def __init__(self, settings: Settings, *, reading: bool = False) -> None:
        """`reading`: this process only reads (search, ask, the app): on a full disk it may read a private
        copy of an embedded store that cannot be opened in place."""
        self.settings = settings
        self.client = _chroma_client(settings, reading=reading)
        # The encoder that makes the vectors is recorded with them (a new collection at creation, an older
        # one at its next write) and checked on every open: mixing encoders gives meaningless similarities.
        self.encoder = encoder_identity(settings)
        self.collection = self._open_collection()

    def _open_collection(self) -> Any:
        settings = self.settings
        try:
            collection = self.client.get_or_create_collection(
                settings.storage.collection, metadata={"hnsw:space": "cosine", **self.encoder}
            )
        except Exception as err:
            raise VectorStoreError(
                f"cannot open Chroma collection {settings.storage.collection!r}: {err}"
            ) from err
        where = (
            f"{settings.storage.chroma_host}:{settings.storage.chroma_port}"
            if settings.storage.chroma_host
            else settings.storage.home
        )
        try:
            check_index_encoder(
                collection.metadata, self.encoder, f"{where} (collection {settings.storage.collection!r})"
            )
        except EncoderMismatchError:
            # A collection without vectors (made by `ingest --no-embed`) has nothing to mismatch: the encoder
            # of its first write is recorded then (`_record_encoder`), so `embed` may still choose ONNX.
            if collection.count():
                raise
        return collection

    def _read(self, operation: Callable[[Any], T]) -> T:
        """Run a read on the collection; if the collection was dropped and made again since this process
        opened it (`ingest --rebuild` against a Chroma server while app workers run), open it again by
        name and retry once: a handle names a collection by its id, which the rebuild changed."""
        from chromadb.errors import NotFoundError

        try:
            return operation(self.collection)
        except NotFoundError:
            self.collection = self._open_collection()
            return operation(self.collection)

    def _record_encoder(self, dimension: int) -> None:
        metadata = dict(self.collection.metadata or {})
        if (
            all(metadata.get(key) == value for key, value in self.encoder.items())
            and "embedding_dimension" in metadata
        ):
            return
        # Chroma refuses any hnsw:* key in modify(), even unchanged; the distance stays in the configuration.
        kept = {key: value for key, value in metadata.items() if not key.startswith("hnsw:")}
        self.collection.modify(metadata={**kept, **self.encoder, "embedding_dimension": dimension})

    def count(self) -> int:
        return int(self._read(lambda collection: collection.count()))

    def upsert(self, papers: Sequence[Paper], vectors: np.ndarray) -> None:
        """Replace the vectors of these papers (delete-then-add keeps ids unique even if interrupted)."""
        if not papers:
            return
        self._record_encoder(int(vectors.shape[1]))
        # No text in Chroma: the catalog holds it and nothing reads it back from here.
        replace_vectors(self.client, self.collection, papers, vectors, paper_metadata)

    def update_metadata(self, papers: Sequence[Paper]) -> None:
        """Metadata-only changes (categories, dates) without re-embedding."""
        if papers:
            self.collection.update(ids=[p.id for p in papers], metadatas=[paper_metadata(p) for p in papers])

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.collection.delete(ids=list(ids))

    def drop(self) -> None:
        """Delete the whole collection (a rebuild on a Chroma server)."""
        self.client.delete_collection(self.collection.name)

    def all_ids(self) -> list[str]:
        return list(self._read(lambda collection: collection.get(include=[]))["ids"])

    def nearest(
        self, vector: np.ndarray, n: int, among: Sequence[str] | None = None
    ) -> list[tuple[str, float, np.ndarray | None]]:
        """The `n` nearest papers as (id, cosine similarity, its vector), best first; only among `among`
        ids when given (an exact filter, not a post-hoc one)."""
        from chromadb.errors import InternalError

        # Chroma returns fewer than `n` when it holds fewer: no count first (a round trip to a server).
        n = min(n, len(among)) if among is not None else n
        if n <= 0:
            return []

        def query(ids: Sequence[str] | None, n: int) -> Any:
            extra: dict[str, Any] = {"ids": list(ids)} if ids is not None else {}
            return self._read(
                lambda collection: collection.query(
                    query_embeddings=[vector.tolist()],
                    n_results=n,
                    include=["distances", "embeddings"],
                    **extra,
                )
            )

        try:
            result = query(among, n)
        except InternalError:
            if among is None:
                raise
            # Chroma fails a query whose id list names a paper it does not hold ("Error finding id"): a
            # paper an ingest has put in the catalog and not yet embedded, seen by a running app worker.
            # Rank among the ones it holds; the lexical side still finds the new paper.
            held = self._read(lambda collection: collection.get(ids=list(among), include=[]))["ids"]
            if not held:
                return []
            result = query(held, min(n, len(held)))
        ids = result["ids"][0]
        embeddings = result["embeddings"][0] if result.get("embeddings") is not None else [None] * len(ids)
        return [
            # Cosine space: distance = 1 - cosine similarity.
            (pid, 1.0 - float(distance), np.asarray(vec, dtype=np.float32) if vec is not None else None)
            for pid, distance, vec in zip(ids, result["distances"][0], embeddings, strict=True)
        ]

    def nearest_exact(
        self, vector: np.ndarray, n: int, among: Sequence[str]
    ) -> list[tuple[str, float, np.ndarray | None]]:
        """`nearest` among a few ids, compared here: their vectors are read by id (252 papers: 4 ms, where a
        Chroma query restricted to them takes 20-25 ms). Exact cosine, best first."""
        stored = self.vectors_of(among)
        if not stored:
            return []
        ids = list(stored)
        matrix = np.stack([stored[pid] for pid in ids])
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(vector) or 1.0)
        cosines = matrix @ vector / np.where(norms == 0, 1.0, norms)
        order = np.argsort(-cosines, kind="stable")[:n]
        return [(ids[i], float(cosines[i]), stored[ids[i]]) for i in order]

    def vectors_of(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these papers (papers without one are left out)."""
        if not ids:
            return {}
        got = self._read(lambda collection: collection.get(ids=list(ids), include=["embeddings"]))
        return {
            pid: np.asarray(vec, dtype=np.float32)
            for pid, vec in zip(got["ids"], got["embeddings"], strict=True)
        }
