"""The multilingual side of the index: one multilingual-e5 vector per paper (title and abstract, "passage: "),
in a second Chroma collection beside the MiniLM one, so a question in Chinese (or any language e5 knows)
can find English papers.

Each vector carries the content hash of the text it was made from: what changed since (or was never
embedded) is found by comparing with the catalog, which makes `academichub embed` resumable and idempotent
without a second set of flags in the catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.store.multilingual import MULTILINGUAL_LABEL
from assistant.store.vectors import VectorStoreError, _chroma_client, paper_metadata, replace_vectors

SUFFIX = "-e5"


def collection_name(settings: Settings) -> str:
    return f"{settings.storage.collection}{SUFFIX}"


class MultilingualIndex:
    """The e5 collection: written by the ingest and `embed`, read by searches in other languages."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.settings = settings
        self.client = client if client is not None else _chroma_client(settings, reading=False)
        name = collection_name(settings)
        try:
            self.collection = self.client.get_or_create_collection(
                name,
                metadata={
                    "hnsw:space": "cosine",
                    "embedding_model": MULTILINGUAL_LABEL,
                    "passage_tokens": settings.embedding.multilingual_passage_tokens,
                },
            )
        except Exception as err:  # chromadb raises many error types for a store it cannot open
            raise VectorStoreError(f"cannot open Chroma collection {name!r}: {err}") from err

    def count(self) -> int:
        return int(self.collection.count())

    def stored_hashes(self) -> dict[str, str]:
        """Paper id -> content hash of the text its vector was made from."""
        got = self.collection.get(include=["metadatas"])
        return {
            pid: str((meta or {}).get("content_hash", ""))
            for pid, meta in zip(got["ids"], got["metadatas"], strict=True)
        }

    def upsert(self, papers: Sequence[Paper], vectors: np.ndarray) -> None:
        """Replace the vectors of these papers (delete-then-add, as the MiniLM side does)."""
        if not papers:
            return
        replace_vectors(
            self.client,
            self.collection,
            papers,
            vectors,
            lambda p: {**paper_metadata(p), "content_hash": p.content_hash},
        )

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.collection.delete(ids=list(ids))

    def nearest(
        self, vector: np.ndarray, n: int, among: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """The `n` nearest papers as (id, cosine), best first; only among `among` ids when given."""
        n = min(n, len(among)) if among is not None else min(n, self.count())
        if n <= 0:
            return []
        extra: dict[str, Any] = {"ids": list(among)} if among is not None else {}
        try:
            result = self.collection.query(
                query_embeddings=[vector.tolist()], n_results=n, include=["distances"], **extra
            )
        except Exception:  # an id list naming papers without an e5 vector yet: rank the ones it holds
            if among is None:
                raise
            held = self.collection.get(ids=list(among), include=[])["ids"]
            if not held:
                return []
            result = self.collection.query(
                query_embeddings=[vector.tolist()],
                n_results=min(n, len(held)),
                include=["distances"],
                ids=held,
            )
        return [
            (pid, 1.0 - float(distance))
            for pid, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def vectors_of(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored e5 vectors of these papers (papers without one are left out)."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        return {
            pid: np.asarray(vec, dtype=np.float32)
            for pid, vec in zip(got["ids"], got["embeddings"], strict=True)
        }


def drop_multilingual(settings: Settings, client: Any) -> bool:
    """Delete the e5 collection if there is one (a rebuild on a Chroma server, beside the MiniLM one);
    True when one was dropped."""
    from chromadb.errors import NotFoundError

    try:
        client.delete_collection(collection_name(settings))
    except (NotFoundError, ValueError):  # none to drop (older chromadb raised ValueError)
        return False
    return True


def stale_ids(catalog_hashes: dict[str, str], stored: dict[str, str]) -> tuple[list[str], list[str]]:
    """(papers to embed: new or changed text, oldest first as the catalog lists them; vectors to delete:
    papers the catalog no longer holds)."""
    todo = [pid for pid, digest in catalog_hashes.items() if stored.get(pid) != digest]
    orphans = [pid for pid in stored if pid not in catalog_hashes]
    return todo, orphans
