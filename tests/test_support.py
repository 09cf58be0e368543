"""The sentence-level support check (issue 25) on real abstracts of the bundled sample, with the packaged
encoder: what a small model really wrote is judged sentence by sentence, and only supported sentences
stay (and stream)."""

from __future__ import annotations

import pytest

from assistant.compose.answer import Answerer, answer_prompt
from assistant.compose.extractive import SentenceBank
from assistant.compose.prompts import load_prompt
from assistant.compose.support import SentenceFilter, SupportJudge, check_text, numbers_in
from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.engine import build_retriever
from assistant.store.embedding import Embedder

COSM = "2605.30355"  # Cosm: Collective Switched Motion for ... Sparse Ising Optimization
DIVERGENCE = "2605.31293"  # Divergence Decoding: Inference-Time Unlearning via Auxiliary Models
COPIED = (
    "On the three largest Gset instances, which have 10,000-20,000 variables and represent 2D spin glasses, "
    "Cosm attains improved solutions that are verified as optimal using an exact solver"
)


@pytest.fixture(scope="module")
def papers(small_index: Settings, embedder: Embedder) -> dict[int, Paper]:
    catalog = build_retriever(small_index, embedder=embedder).catalog
    found = catalog.get_papers([COSM, DIVERGENCE])
    return {1: found[COSM], 2: found[DIVERGENCE]}


@pytest.fixture(scope="module")
def bank(embedder: Embedder) -> SentenceBank:
    return SentenceBank(embedder)


def prompt_for(papers: dict[int, Paper], question: str) -> str:
    from assistant.compose.answer import Source
    from assistant.search.hit import Hit

    sources = [Source(n, Hit(paper=p, score=0.5, relevance=0.5)) for n, p in papers.items()]
    return load_prompt("system") + "\n" + answer_prompt(question, sources)


def test_a_copy_of_the_abstract_with_its_numbers_changed_is_unsupported(
    papers: dict[int, Paper], bank: SentenceBank
) -> None:
    """Case 1 of issue 25: "On two large Gset instances ... achieves optimal" where the abstract says
    "three largest ... attains improved". "two" is elsewhere in the abstract ("two large bounded-degree
    Gset instances"): the number must be in the sentence the claim comes from."""
    judge = SupportJudge(papers, bank, 0.45)
    right, _ = judge.judge(f"{COPIED} [1].")
    assert right.verdict == "supported", right.reason
    changed = COPIED.replace("three largest", "two large").replace("attains improved", "achieves optimal")
    wrong, _ = judge.judge(f"{changed} [1].")
    assert wrong.verdict == "unsupported" and "2" in wrong.reason
    # Cited to the wrong paper it is not supported either; without a citation it does not count as cited.
    assert judge.judge(f"{COPIED} [2].")[0].verdict == "unsupported"
    assert judge.judge(f"{COPIED}.")[0].verdict == "uncited"
    assert numbers_in("three largest, 10,000-20,000 variables, 2D") == {3.0, 10000.0, 20000.0}


def test_names_the_cited_abstract_does_not_hold_are_unsupported(
    papers: dict[int, Paper], bank: SentenceBank
) -> None:
    judge = SupportJudge(papers, bank, 0.45)
    check, _ = judge.judge("Cosm solves sparse Ising optimization problems with GPT-4 agents [1].")
    assert check.verdict == "unsupported" and "gpt-4" in check.reason
    mars = judge.judge("Volcanic eruptions on Mars follow a strict eleven-year cycle driven by tides [1].")[0]
    assert mars.verdict == "unsupported"


def test_fragments_lone_marks_and_repeats_do_not_count(papers: dict[int, Paper], bank: SentenceBank) -> None:
    """Case 2: "[1] [2] [3]" and a cut title repeated 29 times are no sentences, so no citations."""
    judge = SupportJudge(papers, bank, 0.45)
    assert check_text(judge, "[1] [2] [3]").checks == []
    repeated = check_text(judge, "[3] Multilingual Unl…\n" + "Multilingual Unl…\n" * 29)
    assert repeated.checks == [] and repeated.text == "" and not repeated.passes
    twice = check_text(judge, f"{COPIED} [1].\n{COPIED} [1].")
    assert len(twice.checks) == 1 and any("repeats" in why for _, why in twice.ignored)


def test_chinese_sentences_without_spaces_are_judged_one_by_one(
    papers: dict[int, Paper], bank: SentenceBank
) -> None:
    """A Chinese answer is a run of sentences with no space after 。: each is a sentence (cited ones are
    kept unjudged, an uncited one is not), so two cited ones make an answer and the text stays unspaced."""
    judge = SupportJudge(papers, bank, 0.45)
    first, second = "伊辛优化可以通过集体切换运动加速 [1]。", "推理时的机器遗忘使用辅助模型。[2]"
    report = check_text(judge, first + second + "这句话没有引用任何来源的编号。")
    assert [c.verdict for c in report.checks] == ["unjudged", "unjudged", "uncited"]
    assert report.passes and report.text == first + second


def test_echoes_of_the_prompt_are_found_by_similarity_and_their_marks_do_not_count(
    papers: dict[int, Paper], bank: SentenceBank
) -> None:
    """Case 4: Gemma's "square brackets, e.g. [1] or [2] when several sources support it" (a paraphrase
    of the system prompt, not a copy of one line) and a title with one word changed."""
    prompt = prompt_for(papers, "How does collective switched motion speed up sparse Ising optimization?")
    judge = SupportJudge(papers, bank, 0.45, prompt=prompt, valid=[1, 2])
    echo, _ = judge.judge(
        "Every sentence that states a finding ends with the number of the source it comes from, in square "
        "brackets, e.g. [1] or [2] when several sources support it."
    )
    assert echo.verdict == "echo"
    title = papers[1].title.replace("Switched", "Switching")
    assert judge.judge(f"[1] {title}.")[0].verdict == "echo"
    report = check_text(judge, f"{echo.text}\n{COPIED} [1].")
    assert report.supported == 1 and report.count("echo") == 1 and not report.passes
    assert "e.g." not in report.text and "Gset" in report.text


def test_only_checked_sentences_stream_and_a_sources_fence_does_not_hold_them_back(
    papers: dict[int, Paper], bank: SentenceBank
) -> None:
    """Case 5: the reply starts with "<<<SOURCES". Kept sentences are shown once two are supported (the
    least an answer needs), as soon as the second is complete, long before the reply ends; the echoed
    lines and the unfinished end never are."""
    prompt = prompt_for(papers, "How does Cosm work?")
    judge = SupportJudge(papers, bank, 0.45, prompt=prompt, valid=[1, 2])
    shown: list[str] = []
    stream = SentenceFilter(judge, emit=shown.append)
    reply = (
        f"<<<SOURCES\n[1] {papers[1].title}\nAuthors: Kenneth M. Zick\n\n{COPIED} [1]. We introduce "
        "Divergence Decoding (DD), a mechanism that uses small auxiliary models to steer the logits of the "
        "LLM away from specific data during inference [2]. And then the model goes on writing for a while"
    )
    tokens = reply.split(" ")
    position = tokens.index("And") + 1
    for token in tokens[: position - 1]:
        stream.feed(token + " ")
    assert shown == []  # one supported sentence is not an answer yet: nothing shown
    stream.feed(tokens[position - 1] + " ")
    assert len(shown) == 2 and "Gset" in shown[0] and "SOURCES" not in "".join(shown)
    for token in tokens[position:]:
        stream.feed(token + " ")
    report = stream.finish(cut=True)
    assert report.echo_lines == 3 and report.unfinished.startswith("And then")
    assert report.passes and report.text == "".join(shown).strip()


@pytest.mark.slow
def test_the_check_keeps_every_sentence_of_extractive_answers(
    small_index: Settings, embedder: Embedder
) -> None:
    """No false rejections on quoted text: extractive answers on the sample, every quoted sentence
    supported by the abstract it cites (10 here; `bench.answers --extractive 24` measured 102 of 102)."""
    from bench.answers import EXTRACTIVE_QUESTIONS, extractive_report

    answerer = Answerer(small_index, build_retriever(small_index, embedder=embedder))
    total = kept = 0
    for question in EXTRACTIVE_QUESTIONS[:10]:
        report = extractive_report(answerer, question)
        if report is None:
            continue
        total += len(report.checks)
        kept += report.supported
        assert report.supported == len(report.checks), [c.to_dict() for c in report.failed()]
    assert total >= 20 and kept == total
