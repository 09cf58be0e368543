"""The encoder is recorded with the index and checked on every open; the int8 ONNX option works offline.

Real SQLite, real Chroma, the packaged model (the session `embedder`); the ONNX test exports and loads the
quantised model once (it is a different encoder, so it cannot share the session one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_settings, sample_records, write_jsonl
from typer.testing import CliRunner

from assistant.engine import build_retriever
from assistant.store.embedding import (
    PACKAGED_MODEL_LABEL,
    EncoderMismatchError,
    check_index_encoder,
    get_embedder,
    packaged_model_path,
)
from assistant.store.onnx_backend import export_dir, quantized_file
from assistant.store.vectors import VectorIndex
from assistant.ui.cli import app
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs


def _ingest(home: Path, embedder, records: list[dict], **embedding: object):
    settings = make_settings(home, embedding=embedding)
    corpus = write_jsonl(home.parent / f"{home.name}-corpus.jsonl", records)
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        summary = ingestor.run(file_runs([corpus]))
    finally:
        ingestor.close()
    return settings, summary


def test_index_records_the_encoder_that_built_it(tmp_path: Path, embedder) -> None:
    settings, summary = _ingest(tmp_path / "home", embedder, sample_records(4))
    assert summary.embedded == 4
    metadata = VectorIndex(settings).collection.metadata
    assert metadata["embedding_model"] == PACKAGED_MODEL_LABEL
    assert metadata["embedding_backend"] == "torch"
    assert metadata["embedding_dimension"] == embedder.dimension == 384


def test_switching_encoder_on_an_existing_index_is_refused_with_a_way_out(
    tmp_path: Path,
    embedder,
    use_home,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, _ = _ingest(tmp_path / "home", embedder, sample_records(3))
    onnx_settings = settings.replace(embedding={"backend": "onnx"})
    with pytest.raises(EncoderMismatchError) as refused:
        build_retriever(onnx_settings, embedder=embedder).search("graph neural networks")
    message = str(refused.value)
    assert "ACADEMICHUB_EMBEDDING_BACKEND=torch" in message
    assert "fresh data directory" in message

    # The same through the CLI: one readable line, no traceback, nothing written.
    monkeypatch.setenv("ACADEMICHUB_EMBEDDING_BACKEND", "onnx")
    use_home(settings.storage.home)
    corpus = write_jsonl(tmp_path / "more.jsonl", sample_records(6)[3:])
    result = CliRunner().invoke(app, ["ingest", "--file", str(corpus)])
    assert result.exit_code == 2, result.output
    assert "built with the encoder" in result.output
    assert "Traceback" not in result.output
    assert VectorIndex(settings).count() == 3


def test_index_from_before_encoders_were_recorded_is_adopted_by_its_next_ingest(
    tmp_path: Path,
    embedder,
) -> None:
    settings = make_settings(tmp_path / "home")
    legacy = VectorIndex(settings)
    legacy.client.delete_collection(settings.storage.collection)
    legacy.client.create_collection(settings.storage.collection, metadata={"hnsw:space": "cosine"})
    VectorIndex(settings.replace(embedding={"backend": "onnx"}))  # nothing recorded: no refusal

    _ingest(settings.storage.home, embedder, sample_records(2))
    reopened = VectorIndex(settings)
    assert reopened.collection.metadata["embedding_backend"] == "torch"
    assert reopened.collection.configuration["hnsw"]["space"] == "cosine"
    with pytest.raises(EncoderMismatchError):
        VectorIndex(settings.replace(embedding={"backend": "onnx"}))


def test_check_names_a_custom_model_in_its_advice() -> None:
    recorded = {"embedding_model": "BAAI/bge-small-en-v1.5", "embedding_backend": "torch"}
    configured = {"embedding_model": PACKAGED_MODEL_LABEL, "embedding_backend": "torch"}
    check_index_encoder(recorded, dict(recorded), "here")
    with pytest.raises(EncoderMismatchError, match=r"ACADEMICHUB_EMBEDDING_MODEL=BAAI/bge-small-en-v1\.5"):
        check_index_encoder(recorded, configured, "here")


@pytest.mark.slow
def test_onnx_int8_encoder_is_exported_once_and_agrees_with_the_default(
    tmp_path: Path,
    embedder,
) -> None:
    settings = make_settings(tmp_path / "home").replace(embedding={"backend": "onnx"})
    onnx = get_embedder(settings)
    exported = (
        export_dir(str(packaged_model_path()), settings.storage.cache_dir / "models") / quantized_file()
    )
    assert exported.is_file()
    made_at = exported.stat().st_mtime_ns

    texts = [r["summary"] for r in sample_records(12)]
    agreement = np.sum(onnx.encode(texts) * embedder.encode(texts), axis=1)
    assert agreement.mean() >= 0.97
    assert np.allclose(np.linalg.norm(onnx.encode(texts[:2]), axis=1), 1.0, atol=1e-4)

    # An index built with it is searchable with it, and the export is reused, not made again.
    _ingest(settings.storage.home, onnx, sample_records(12), backend="onnx")
    hits = build_retriever(settings, embedder=onnx).search(sample_records(12)[5]["title"], k=3)
    assert hits and hits[0].paper.id == sample_records(12)[5]["id"]
    from assistant.store.onnx_backend import ensure_quantized_export

    ensure_quantized_export(str(packaged_model_path()), settings.storage.cache_dir / "models")
    assert exported.stat().st_mtime_ns == made_at


def test_query_encodes_use_one_thread_without_changing_a_concurrent_batch_encode(
    embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch's thread count is process-wide: a query encode (one thread) on one Chainlit worker thread must
    never make an ingest's batch encode on another thread run single-threaded, and is restored after."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import torch

    model = embedder.model
    real_encode = model.encode
    threads_seen: list[tuple[int, int]] = []  # (texts in the call, torch threads while it ran)
    record = threading.Lock()

    def encode_and_record(texts, **kwargs):  # type: ignore[no-untyped-def]
        with record:
            threads_seen.append((len(texts), torch.get_num_threads()))
        return real_encode(texts, **kwargs)

    monkeypatch.setattr(model, "encode", encode_and_record)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        texts = [r["title"] for r in sample_records(2)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            jobs = [pool.submit(embedder.encode, texts) for _ in range(8)]
            jobs += [pool.submit(embedder.encode_query, "graph neural networks") for _ in range(8)]
            vectors = [job.result() for job in jobs]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert sorted(threads_seen) == [(1, 1)] * 8 + [(2, 2)] * 8
    assert all(v.shape == (2, 384) for v in vectors[:8]) and all(v.shape == (384,) for v in vectors[8:])
