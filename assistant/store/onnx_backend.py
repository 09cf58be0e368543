"""The faster CPU encoder: the same model exported to ONNX with dynamic int8 quantisation.

Exported once into the data directory's cache (about 30 s on two cores), then loaded by
sentence-transformers' ONNX backend (ONNX Runtime). Needs `optimum[onnxruntime]`; works offline for a
local model folder such as the packaged one.
"""

from __future__ import annotations

import fcntl
import hashlib
import platform
import re
import shutil
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.core.errors import UserFacingError


class OnnxExportError(UserFacingError, RuntimeError):
    """The model cannot be exported or quantised on this machine."""


@lru_cache(maxsize=1)
def quantization_target() -> str:
    """The int8 kernel set of this CPU, as named by sentence-transformers / optimum."""
    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "arm64"
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        flags = ""
    if re.search(r"\bavx512_vnni\b", flags):
        return "avx512_vnni"
    if re.search(r"\bavx512f\b", flags):
        return "avx512"
    # Every x86-64 CPU of the last decade has AVX2; without /proc/cpuinfo (macOS) it is the safe choice.
    return "avx2"


def quantized_file(target: str | None = None) -> str:
    """Path of the quantised model inside the export folder, e.g. onnx/model_int8_avx2.onnx."""
    return f"onnx/model_int8_{target or quantization_target()}.onnx"


def _slug(name: str) -> str:
    tail = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(name).name or name)[-40:]
    return f"{tail}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def export_dir(name: str, cache_dir: Path) -> Path:
    return cache_dir / "onnx-int8" / _slug(name)


def _export(name: str, staging: Path, target: str) -> None:
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    with warnings.catch_warnings():
        # The one-time torch -> ONNX trace warns about constants; the export is checked below instead.
        warnings.simplefilter("ignore")
        model = SentenceTransformer(name, backend="onnx", device="cpu")
        model.save(str(staging))
        export_dynamic_quantized_onnx_model(model, target, str(staging), file_suffix=f"int8_{target}")


def ensure_quantized_export(name: str, cache_dir: Path) -> tuple[Path, str]:
    """Export `name` to ONNX and quantise it to int8 once; returns (model folder, file inside it).

    Safe against concurrent starts (a file lock) and interruptions (the export is built in a staging folder
    and moved into place only when complete).
    """
    target = quantization_target()
    folder = export_dir(name, cache_dir)
    file_name = quantized_file(target)
    if (folder / file_name).is_file():
        return folder, file_name
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / ".export.lock").open("a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if (folder / file_name).is_file():  # another process finished it while we waited
            return folder, file_name
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
        try:
            _export(name, staging, target)
            if not (staging / file_name).is_file():
                raise OnnxExportError(f"the int8 export of {name!r} did not produce {file_name}")
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        except OnnxExportError:
            raise
        except Exception as err:  # torch.onnx / optimum raise many error types
            raise OnnxExportError(f"cannot export {name!r} to int8 ONNX ({target}): {err}") from err
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return folder, file_name


def onnx_model_kwargs(name: str, cache_dir: Path) -> dict[str, Any]:
    """Arguments for `SentenceTransformer` that load the quantised ONNX export of `name`."""
    folder, file_name = ensure_quantized_export(name, cache_dir)
    return {"model_name": str(folder), "backend": "onnx", "model_kwargs": {"file_name": file_name}}
