"""The faster CPU encoder: the same model exported to ONNX with dynamic int8 quantisation.

Exported once into the data directory's cache, then loaded by sentence-transformers' ONNX backend.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

QUANTIZED_FILE = "onnx/model_qint8_avx2.onnx"


def _slug(name: str) -> str:
    tail = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).name or name)[-40:]
    return f"{tail}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def export_dir(name: str, cache_dir: Path) -> Path:
    return cache_dir / "onnx-int8" / _slug(name)


def ensure_quantized_export(name: str, cache_dir: Path) -> Path:
    """Export `name` to ONNX and quantise it to int8 (about a minute, once); returns the model folder."""
    target = export_dir(name, cache_dir)
    if (target / QUANTIZED_FILE).exists():
        return target
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    target.mkdir(parents=True, exist_ok=True)
    model = SentenceTransformer(name, backend="onnx", device="cpu")
    model.save(str(target))
    export_dynamic_quantized_onnx_model(model, "avx2", str(target))
    return target


def onnx_model_kwargs(name: str, cache_dir: Path) -> dict[str, Any]:
    """Arguments for `HuggingFaceEmbedding` that load the quantised ONNX export of `name`."""
    folder = ensure_quantized_export(name, cache_dir)
    return {"model_name": str(folder), "backend": "onnx", "model_kwargs": {"file_name": QUANTIZED_FILE}}
