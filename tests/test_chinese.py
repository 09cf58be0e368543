"""Asking in Chinese: the language rule, the message catalog (en, zh-CN), Chinese frames around quoted
English abstracts (no model), and, with a model (tests/openai_standin.py), the question translated to
English for the search and the answer asked for in Chinese. Real index (the small corpus), real model."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from llama_index.llms.openai_like import OpenAILike  # noqa: F401 (imported before the model tests: the
from openai_standin import (
    OpenAIStandin,
    Reply,
    cited_quotes,
)  # client imports it inside the model's first-token wait)
from typer.testing import CliRunner

from assistant.compose.answer import Answerer
from assistant.compose.briefing import Briefer
from assistant.compose.citations import cited_numbers
from assistant.compose.llm import get_llm
from assistant.core.i18n import CATALOG_DIR, catalog, plural, reply_in, t
from assistant.core.language import detect, reply_language, ui_language
from assistant.core.settings import Settings
from assistant.engine import build_retriever
from assistant.store.embedding import Embedder
from assistant.ui import chat_view as view
from assistant.ui.cli.common import app

UNLEARNING_IDS = {
    "2605.31293",
    "2606.00105",
    "2606.00380",
    "2605.31126",
}  # the small corpus's unlearning papers
# Chinese with the method's English names inside, as the readers of the Chinese daily write, about a paper
# of the small corpus. The packaged English encoder still finds it through those names (cosine 0.62); an
# all-Chinese question needs a translation or the multilingual index.
MIXED = "如何用 latent diffusion models 合成可控的肺结节（lung nodule）CT 图像？"
LUNG_NODULES = "2605.30631"  # Controllable Lung Nodule Synthesis via ... Latent Diffusion Models
# All Chinese: only a translation (or a multilingual index) reaches the English abstracts.
PURE = "机器遗忘如何从大语言模型中删除知识？"
PURE_EN = "How can machine unlearning remove knowledge from large language models?"


# --- the language rule and the catalog -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (PURE, "zh"),
        (MIXED, "zh"),
        ("哪些论文研究从大语言模型中删除知识的 machine unlearning 方法？", "zh"),
        ("提出MoE-LLaVA方法，将混合专家引入视觉语言模型", "zh"),
        ("扩散模型", "zh"),
        (PURE_EN, "en"),
        ("What does the term 扩散 mean in papers on diffusion models?", "en"),
        ("", "en"),
        ("2606.00105 [1]", "en"),
    ],
)
def test_a_question_is_chinese_when_most_of_its_letters_are(text: str, language: str) -> None:
    assert detect(text) == language


def test_browser_and_setting_codes_pick_a_catalog_language() -> None:
    for code in ("zh", "zh-CN", "zh-Hans-CN", "zh_TW", "ZH-cn"):
        assert ui_language(code) == "zh-CN"
    for code in ("en-US", "en", "de-DE", "", None):
        assert ui_language(code) == "en"
    assert reply_language(PURE) == "zh-CN" and reply_language(PURE_EN) == "en"
    assert reply_language(PURE_EN, "zh-CN") == "zh-CN"  # a Chinese interface frames English questions too


def test_both_catalogs_hold_the_same_texts_with_the_same_placeholders() -> None:
    en, zh = catalog("en"), catalog("zh-CN")
    assert set(en) == set(zh) and len(en) > 150
    for key, text in en.items():
        names = {field for _, field, _, _ in string.Formatter().parse(text) if field}
        assert names == {field for _, field, _, _ in string.Formatter().parse(zh[key]) if field}, key
        assert zh[key].strip() or not en[key].strip(), key  # only a separator may be empty
    # The Chinese catalog is Chinese: every text with words in it has Chinese in it.
    wordy = [key for key, text in en.items() if sum(c.isalpha() for c in text) > 12]
    assert all(detect(zh[key]) == "zh" or any("\u4e00" <= c <= "\u9fff" for c in zh[key]) for key in wordy)
    assert sorted(p.name for p in CATALOG_DIR.glob("*.json")) == ["en.json", "zh-CN.json"]


def test_lookup_follows_the_reply_language_and_an_explicit_one_wins() -> None:
    assert t("answer.not_found") == "I could not find this in the indexed papers."
    with reply_in("zh-CN"):
        assert t("answer.not_found") == "在已索引的论文中没有找到相关内容。"
        assert t("answer.not_found", "en-US") == "I could not find this in the indexed papers."
        assert plural(3, "count.paper") == "3 篇论文"
    assert plural(1, "count.paper") == "1 paper" and plural(1200, "count.paper") == "1,200 papers"
    with pytest.raises(KeyError):
        t("no.such.key")


def test_the_chat_views_speak_the_reply_language() -> None:
    with reply_in("zh-CN"):
        assert view.ChatPrefs(k=3).describe("count.per_batch") == "所有领域；不限日期；每批 3 篇论文"
        assert "**与您问题的匹配度：** 0.52" in view.source_markdown(1, _paper(), 0.52)
        assert view.flagged_markdown(["x"], ["x"]).startswith("**⚠️ 标出的句子**")
        assert (
            view.without_references("# 简报：x\n\ntext\n\n## 参考文献\n\n1. ref\n") == "# 简报：x\n\ntext\n"
        )


def _paper():  # type: ignore[no-untyped-def]
    from assistant.core.paper import Paper

    return Paper(id="2606.00105", title="A paper", abstract="An English abstract.", authors=["A. Author"])


def test_the_language_setting_accepts_only_its_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACADEMICHUB_LANGUAGE", "zh-CN")
    assert Settings().app.language == "zh-CN"
    monkeypatch.setenv("ACADEMICHUB_LANGUAGE", "fr")
    with pytest.raises(ValueError):
        Settings()


# --- without a model: English quotes in a Chinese frame ----------------------------------------------------


@pytest.fixture(scope="module")
def answerer(small_index: Settings, embedder: Embedder) -> Answerer:
    return Answerer(small_index, build_retriever(small_index, embedder=embedder))


def test_a_chinese_question_gets_english_quotes_in_a_chinese_frame(answerer: Answerer) -> None:
    answer = answerer.answer(MIXED)
    assert answer.found and answer.mode == "extractive"
    assert answer.text.startswith(t("answer.from_abstracts", "zh-CN"))
    assert answer.notices[0] == t("notice.no_llm", "zh-CN")
    assert not any("合成可控的肺结节" in n for n in answer.notices)  # a Chinese run is no "unknown word"
    cited = {answer.sources[n - 1].paper.id for n in cited_numbers(answer.text)}
    assert LUNG_NODULES in cited and answer.sources[0].paper.id == LUNG_NODULES
    # The quotes are the abstracts' English sentences, untranslated.
    for line in answer.text.splitlines()[2:]:
        assert line.startswith("- *") and detect(line) == "en"
    # The same question in an English interface still gets the Chinese frame; an English question in a
    # Chinese interface gets one too.
    assert answerer.answer(MIXED, language="en-US").text == answer.text
    english = answerer.answer(PURE_EN, language="zh-CN")
    assert english.text.startswith("摘自") and english.notices[0].startswith("未配置语言模型")
    assert answerer.answer(PURE_EN).text.startswith("From the retrieved abstracts:")


def test_a_chinese_question_nothing_matches_says_so_in_chinese(answerer: Answerer) -> None:
    answer = answerer.answer("那不勒斯披萨面团的最佳含水量是多少？")
    assert not answer.found and answer.text == "在已索引的论文中没有找到相关内容。"


def test_a_briefing_on_a_chinese_topic_has_chinese_headings(
    small_index: Settings, embedder: Embedder
) -> None:
    briefer = Briefer(small_index, build_retriever(small_index, embedder=embedder))
    briefing = briefer.brief(MIXED, per_field=2)
    markdown = briefing.markdown
    assert markdown.startswith(f"# 简报：{MIXED}")
    for heading in ("## 概览", "## 跨领域联系", "## 开放问题", "## 参考文献"):
        assert f"\n{heading}\n" in markdown, heading
    assert "篇论文" in markdown.split("\n", 3)[2]  # the subtitle's count
    assert t("notice.no_llm", "zh-CN") in briefing.notices
    assert LUNG_NODULES in {s.paper.id for s in briefing.sources}
    assert "篇论文" in markdown.split("## 概览", 1)[1][:200]  # the overview's count


def test_the_cli_frames_a_chinese_question_in_chinese(small_index: Settings, use_home) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    use_home(Path(small_index.storage.home))
    result = CliRunner().invoke(app, ["ask", MIXED, "--k", "5"])
    assert result.exit_code == 0, result.output
    assert "摘自检索到的论文摘要" in result.stdout
    assert "未配置语言模型" in result.stderr
    payload = json.loads(CliRunner().invoke(app, ["ask", MIXED, "--k", "5", "--json"]).stdout)
    assert payload["notices"][0].startswith("未配置语言模型")


# --- with a model: the question translated for the search, the answer asked for in Chinese ---------------


def llm_answerer(small_index: Settings, embedder: Embedder, server: OpenAIStandin) -> Answerer:
    settings = small_index.replace(llm={"base_url": server.base_url, "max_retries": 0, "model": "standin"})
    return Answerer(settings, build_retriever(settings, embedder=embedder), get_llm(settings))


@pytest.mark.slow
def test_a_model_translates_a_chinese_question_and_is_asked_to_answer_in_chinese(
    small_index: Settings, embedder: Embedder, answerer: Answerer
) -> None:
    # Two cited sentences: fewer is no answer (the support check's rule); Chinese ones are not judged.
    reply = "机器遗忘方法可以在推理时删除知识 [1]。另一种方法无需重新训练即可移除模型学到的数据 [2]。"
    with OpenAIStandin(default=Reply(reply), translations={PURE: PURE_EN}) as server:
        answer = llm_answerer(small_index, embedder, server).answer(PURE, k=5)
        translate, generate = server.requests
    assert PURE in translate.text() and "English question:" in translate.text()
    assert answer.mode == "llm" and answer.text == reply and answer.citations
    assert t("notice.translated", "zh-CN", english=PURE_EN) in answer.notices
    assert t("notice.support_unchecked", "zh-CN") in answer.notices
    found = {s.paper.id for s in answer.sources}
    assert found & UNLEARNING_IDS
    prompt = generate.messages[-1]["content"]
    assert f"Question: {PURE}" in prompt  # the model reads the reader's own question
    assert "Simplified Chinese" in prompt and "在已索引的论文中没有找到相关内容。" in prompt
    # The gain from the translation on this question: what the question alone finds (no model).
    alone = {s.paper.id for s in answerer.answer(PURE, k=5).sources}
    with_translation, without = len(found & UNLEARNING_IDS), len(alone & UNLEARNING_IDS)
    print(f"unlearning papers in the top 5: with the translation {with_translation}, alone {without}")
    assert with_translation >= without


def test_an_unusable_translation_is_said_and_the_question_searched_as_written(
    small_index: Settings, embedder: Embedder
) -> None:
    with OpenAIStandin(default=Reply("知识删除 [1]。"), translations={PURE: "机器遗忘"}) as server:
        answer = llm_answerer(small_index, embedder, server).answer(PURE, k=5)
    assert t("notice.translation_unusable", "zh-CN") in answer.notices


def test_a_chinese_list_question_lists_by_the_models_translation_and_without_one_is_answered(
    small_index: Settings, embedder: Embedder, answerer: Answerer
) -> None:
    """The translation's topic makes the list ("machine unlearning"); with neither a model nor the
    multilingual index, the question is answered as any other (no list from a guess)."""
    question = "有哪些关于机器遗忘的研究？"
    reply = "机器遗忘方法可以在推理时删除知识 [1]。另一种方法无需重新训练即可移除模型学到的数据 [2]。"
    english = "What work is there on machine unlearning?"
    with OpenAIStandin(default=Reply(reply), translations={question: english}) as server:
        listed = llm_answerer(small_index, embedder, server).answer(question)
    assert listed.list_topic == "machine unlearning" and listed.matches is not None
    same = answerer.answer(english).matches  # the English question's own list
    assert same is not None and [h.paper.id for h in listed.matches] == [h.paper.id for h in same]
    assert {h.paper.id for h in listed.matches} & UNLEARNING_IDS
    assert t("notice.list_pivot", "zh-CN", topic="机器遗忘", english="machine unlearning") in listed.notices
    plain = answerer.answer(question)
    assert plain.matches is None and plain.list_topic is None


def test_an_english_question_is_not_sent_for_translation(small_index: Settings, embedder: Embedder) -> None:
    with OpenAIStandin(responder=cited_quotes) as server:  # two or more supported sentences
        answer = llm_answerer(small_index, embedder, server).answer(PURE_EN, k=5)
        assert len(server.requests) == 1
        assert "Write the answer in English." in server.requests[0].messages[-1]["content"]
    assert answer.mode == "llm"


@pytest.mark.slow
def test_a_briefing_on_a_chinese_topic_is_searched_in_english_too_and_asked_for_in_chinese(
    small_index: Settings, embedder: Embedder
) -> None:
    topic = "大语言模型的机器遗忘"
    with OpenAIStandin(
        default=Reply("## Overview\n\n机器遗忘 [1]。"), translations={topic: UNLEARNING_TOPIC}
    ) as server:
        settings = small_index.replace(
            llm={"base_url": server.base_url, "max_retries": 0, "model": "standin"}
        )
        briefer = Briefer(settings, build_retriever(settings, embedder=embedder), get_llm(settings))
        briefing = briefer.brief(topic, per_field=2)
        prompts = [r.text() for r in server.requests]
    assert topic in prompts[0] and "English question:" in prompts[0]
    assert {s.paper.id for s in briefing.sources} & UNLEARNING_IDS
    assert "Simplified Chinese" in prompts[-1] and "## Overview" in prompts[-1]  # headings stay parseable
    assert briefing.markdown.startswith(f"# 简报：{topic}") and "\n## 概览\n" in briefing.markdown
    assert t("notice.translated", "zh-CN", english=UNLEARNING_TOPIC) in briefing.notices


UNLEARNING_TOPIC = "machine unlearning in large language models"
