"""Questions in Chinese find English papers (the multilingual e5 index), the index is kept by the ingest and
by `embed` (resumable, only what changed), and English questions rank exactly as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_settings, multilingual_settings, sample_records, write_jsonl

from assistant.compose.answer import Answerer
from assistant.core.settings import Settings
from assistant.engine import build_retriever
from assistant.search.multilingual import is_foreign, latin_words
from assistant.store.embedding import Embedder
from assistant.store.multilingual_index import MultilingualIndex
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

pytestmark = pytest.mark.slow

CORPUS = 24
# The papers of that corpus with "Diffusion" in the title (four more name it in the abstract).
DIFFUSION_TITLES = {"2605.30431", "2605.30631", "2605.30747", "2605.31162"}
# Hand-written Chinese questions about three papers of the bundled sample (no English words in them).
CHINESE = {
    "本地差分隐私如何借助相关噪声达到中心化差分隐私的最优代价？": "2605.30476",
    "基于整流流的概率性短时降水预报方法": "2605.31204",
    "利用潜在扩散模型可控地合成肺结节图像": "2605.30631",
}


def test_script_detection_and_latin_words() -> None:
    assert is_foreign("基于RAG的检索增强问答系统")
    assert is_foreign("Как улучшить генерацию видео?")
    assert not is_foreign("retrieval-augmented generation with MoE for CASSI")
    assert not is_foreign("Schrödinger bridges for diffusion")
    assert latin_words("提出了一种基于总变分的双相机CASSI重建框架，结合MoE与RAG-2方法") == "CASSI MoE RAG-2"


def _ingest(settings: Settings, records: list[dict], embedder: Embedder, tmp_path: Path, name: str) -> None:
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        ingestor.run(file_runs([write_jsonl(tmp_path / name, records)]))
    finally:
        ingestor.close()


@pytest.fixture(scope="module")
def multilingual_home(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, multilingual_cache: Path
) -> Path:
    home = tmp_path_factory.mktemp("ml-index")
    settings = multilingual_settings(home, multilingual_cache)
    _ingest(settings, sample_records(CORPUS), embedder, tmp_path_factory.mktemp("src"), "c.jsonl")
    return home


def test_ingest_builds_the_multilingual_index_and_chinese_questions_find_their_papers(
    multilingual_home: Path, embedder: Embedder, multilingual_cache: Path
) -> None:
    settings = multilingual_settings(multilingual_home, multilingual_cache)
    assert MultilingualIndex(settings).count() == CORPUS
    retriever = build_retriever(settings, embedder=embedder)
    for question, paper_id in CHINESE.items():
        hits = retriever.search(question, k=3)
        assert paper_id in [h.paper.id for h in hits[:3]], (question, [h.paper.title for h in hits])


def test_english_questions_rank_as_without_the_multilingual_index(
    multilingual_home: Path, embedder: Embedder, multilingual_cache: Path
) -> None:
    with_it = build_retriever(multilingual_settings(multilingual_home, multilingual_cache), embedder=embedder)
    without = build_retriever(
        make_settings(multilingual_home, embedding={"multilingual_index": False}), embedder=embedder
    )
    questions = ("diffusion models for video super-resolution", "differential privacy with correlated noise")
    for question in questions:
        a = with_it.search(question, k=8)
        b = without.search(question, k=8)
        assert [(h.paper.id, round(h.score, 9), round(h.relevance, 6)) for h in a] == [
            (h.paper.id, round(h.score, 9), round(h.relevance, 6)) for h in b
        ]


def test_embed_adds_the_multilingual_side_to_an_existing_index_resumably_and_only_what_changed(
    tmp_path: Path, embedder: Embedder, multilingual_cache: Path
) -> None:
    records = sample_records(10)
    plain = make_settings(tmp_path / "home")  # an index from before: MiniLM only
    _ingest(plain, records, embedder, tmp_path, "a.jsonl")
    settings = multilingual_settings(tmp_path / "home", multilingual_cache)
    assert MultilingualIndex(settings).count() == 0

    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        first = ingestor.embed_pending(limit=4)  # stopped after a slice, like a killed run
    finally:
        ingestor.close()
    assert first.multilingual_embedded == 4
    assert MultilingualIndex(settings).count() == 4

    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        rest = ingestor.embed_pending()
        again = ingestor.embed_pending()
    finally:
        ingestor.close()
    assert rest.multilingual_embedded == 6  # continues where it stopped
    assert again.multilingual_embedded == 0  # nothing left: idempotent
    index = MultilingualIndex(settings)
    before = index.vectors_of([r["id"] for r in records])

    changed = [dict(records[0], summary=records[0]["summary"] + " We also release the code.")]
    _ingest(settings, changed, embedder, tmp_path, "b.jsonl")  # one abstract changed: only it re-embedded
    after = index.vectors_of([r["id"] for r in records])
    moved = [pid for pid in before if not (before[pid] == after[pid]).all()]
    assert moved == [records[0]["id"]]


def test_a_chinese_question_names_only_its_latin_words_as_unknown(
    multilingual_home: Path, embedder: Embedder, multilingual_cache: Path
) -> None:
    """The "no indexed paper mentions ..." notice must not list the question's Chinese phrases (no English
    abstract holds them), only Latin-script words the index lacks."""
    retriever = build_retriever(
        multilingual_settings(multilingual_home, multilingual_cache), embedder=embedder
    )
    assert retriever.unknown_terms("基于Zyxwvutron的视频超分辨率扩散模型研究") == ["zyxwvutron"]
    assert retriever.unknown_terms("视频超分辨率中的扩散模型如何保持时间一致性") == []


def test_a_chinese_list_question_lists_the_papers_under_their_english_name(
    multilingual_home: Path, embedder: Embedder, multilingual_cache: Path
) -> None:
    """No model: the English name comes from the papers nearest to the Chinese topic ("扩散模型" ->
    "diffusion"), and the list is the one the English question gets, said so in a notice."""
    settings = multilingual_settings(multilingual_home, multilingual_cache)
    answerer = Answerer(settings, build_retriever(settings, embedder=embedder))
    chinese = answerer.answer("哪些论文使用了扩散模型？", use_llm=False)
    english = answerer.answer("Which papers use diffusion models?", use_llm=False)
    assert chinese.list_topic is not None and "diffusion" in chinese.list_topic
    listed = [h.paper.id for h in chinese.matches]
    assert set(listed) >= DIFFUSION_TITLES
    assert set(listed) == {h.paper.id for h in english.matches}
    assert any("扩散模型" in n and chinese.list_topic in n for n in chinese.notices), chinese.notices
    assert chinese.text.startswith(f"**{len(listed)} 篇论文**符合")  # the answer in Chinese
