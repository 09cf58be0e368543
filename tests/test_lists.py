"""List questions ("which papers use diffusion models?"): detection, the one notion of "about this topic"
(assistant/search/topic.py), and the answers on a real index of the bundled sample's papers that write
"diffusion" (in every sense) plus others, with the real model, SQLite and Chroma."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from conftest import index_records, make_settings, sample_records
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from assistant.compose.answer import Answerer
from assistant.compose.list_answer import Listing
from assistant.compose.lists import ListedPaper, count_sentence, list_csv, list_markdown, listed
from assistant.core.i18n import reply_in, t
from assistant.engine import build_retriever
from assistant.search.hit import Hit
from assistant.search.lists import TopicList, list_question
from assistant.search.retrieval import make_filter
from assistant.search.topic import Sense, TopicTerms, learn_acronyms, phrase_regex, split_context, topic_words
from assistant.store.embedding import Embedder
from assistant.ui import list_view
from assistant.ui.cli import app
from ingest.normalize import from_json_record

NEWEST = date(2026, 6, 30)
DIFFUSION = "Which papers use diffusion models?"
# The sample's papers that name diffusion models (or a kind of them) in their title, checked by reading
# each title and abstract: every one must be listed.
DIFFUSION_TITLES = {
    "2605.30431", "2605.30631", "2605.30747", "2605.31162", "2605.31596", "2606.02000", "2606.06497",
    "2606.06875", "2606.09816", "2606.12977", "2606.14072", "2606.16700", "2606.20112", "2606.24192",
    "2606.26778", "2606.27741", "2606.28785", "2606.29801", "2606.30417",
}  # fmt: skip
# "Diffusion" in another sense: must never be listed. Dipole diffusion in optical scattering (its title
# says "Diffusion"), reaction-diffusion corrosion, information diffusion in a protein graph, "global
# diffusion" of activations.
OTHER_SENSE = {"2606.29387", "2606.22640", "2606.01781", "2606.22361"}


# --- detection ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("which papers use diffusion models?", "diffusion models"),
        ("What papers study machine unlearning?", "machine unlearning"),
        ("list papers on retrieval-augmented generation", "retrieval-augmented generation"),
        ("Show me papers on EEG", "EEG"),
        ("what work is there on mixture of experts?", "mixture of experts"),
        ("what's new on diffusion models?", "diffusion models"),
        ("Are there any papers about VLA models?", "VLA models"),
        ("How many papers use 3D Gaussian splatting?", "3D Gaussian splatting"),
    ],
)
def test_list_questions_are_told_apart_and_their_topic_read(question: str, topic: str) -> None:
    asked = list_question(question, NEWEST)
    assert asked is not None and asked.topic == topic


@pytest.mark.parametrize(
    "question",
    [
        "How does retrieval-augmented generation reduce hallucination?",
        "Which paper proposes Hypnos?",  # one paper: a known-item question
        "which of these use transformers?",  # a filter follow-up: its own path
        "What do papers say about machine unlearning?",
    ],
)
def test_other_questions_are_not_list_questions(question: str) -> None:
    assert list_question(question, NEWEST) is None


def test_dates_and_categories_in_the_question_become_filters() -> None:
    asked = list_question("papers since June 15 about diffusion models", NEWEST)
    assert asked is not None and (asked.topic, asked.since) == ("diffusion models", date(2026, 6, 15))
    asked = list_question("Which papers in cs.RO use diffusion models before 2026-06-20?", NEWEST)
    assert asked is not None
    assert (asked.topic, asked.categories, asked.until) == ("diffusion models", ("cs.RO",), date(2026, 6, 20))
    # The narrower of the settings' date and the question's wins.
    narrowed = asked.applied_to(make_filter(since=date(2026, 6, 10), until=date(2026, 6, 25)))
    assert (narrowed.since, narrowed.until, narrowed.categories) == (
        date(2026, 6, 10),
        date(2026, 6, 20),
        ("cs.RO",),
    )


@pytest.mark.parametrize(
    ("question", "topic", "language"),
    [
        ("哪些论文使用了扩散模型？", "扩散模型", "zh"),
        ("有哪些关于机器遗忘的研究？", "机器遗忘", "zh"),
        ("请列出关于检索增强生成的论文", "检索增强生成", "zh"),
        ("关于知识蒸馏的论文有哪些？", "知识蒸馏", "zh"),
        ("最近有没有脑电的研究？", "脑电", "zh"),
        ("哪些论文是关于视觉-语言-动作模型的？", "视觉-语言-动作模型", "zh"),
        ("扩散模型有什么新论文？", "扩散模型", "zh"),
        ("有没有用RAG的论文？", "RAG", "en"),  # the topic is a Latin term: listed as it is written
    ],
)
def test_chinese_list_questions_are_told_apart_and_their_topic_read(
    question: str, topic: str, language: str
) -> None:
    asked = list_question(question, NEWEST)
    assert asked is not None and (asked.topic, asked.language) == (topic, language)


@pytest.mark.parametrize(
    "question",
    [
        "这篇论文有哪些局限？",  # a question to one paper
        "这篇论文有什么贡献？",
        "扩散模型如何减少采样步数？",
        # a problem statement (the zh-queries set's kind): "显示出…研究" is prose, not "show me papers"
        "过程验证在通用推理场景中显示出潜力，但其实际效果尚不明确，需要系统性研究来填补这一空白。",
    ],
)
def test_other_chinese_questions_are_not_list_questions(question: str) -> None:
    assert list_question(question, NEWEST) is None


def test_chinese_dates_and_categories_become_filters() -> None:
    asked = list_question("6月22日以来关于扩散模型的论文有哪些？", NEWEST)
    assert asked is not None and (asked.topic, asked.since) == ("扩散模型", date(2026, 6, 22))
    asked = list_question("在cs.RO中哪些论文使用了扩散模型？", NEWEST)
    assert asked is not None and (asked.topic, asked.categories) == ("扩散模型", ("cs.RO",))
    asked = list_question("2026年6月20日之前有哪些关于知识蒸馏的论文？", NEWEST)
    assert asked is not None and (asked.topic, asked.until) == ("知识蒸馏", date(2026, 6, 20))


# --- "about this topic" ---------------------------------------------------------------------------------


def test_a_topic_is_written_with_plural_hyphens_and_acronyms_both_ways() -> None:
    rag = TopicTerms.of("RAG")
    assert rag.acronyms == ("RAG",) and "retrieval augmented generation" in rag.phrases
    written = TopicTerms.of("retrieval-augmented generation")
    assert written.acronyms == ("RAG",)
    assert written.names_topic("A Retrieval Augmented Generation pipeline")
    assert written.names_topic("we improve RAG systems") and written.names_topic("RAG-based agents")
    assert not written.names_topic("a rag doll")  # the acronym as written, not a lower-case word
    moe = TopicTerms.of("mixture of experts")
    assert moe.acronyms == ("MoE",) and moe.names_topic("sparse Mixture-of-Experts layers")
    assert phrase_regex("diffusion models").search("a latent diffusion model")
    # A longer compound is another term: "reaction-diffusion model" does not name diffusion models.
    assert not phrase_regex("diffusion models").search("a reaction-diffusion model of corrosion")
    assert topic_words("what work is there on mixture of experts?") == ["mixture", "of", "experts"]


def test_an_acronym_of_part_of_the_topic_never_names_the_whole_topic() -> None:
    """Issue 26 item 2: "machine unlearning in large language models" once listed every LLM paper (its
    "large language models" part made LLM an acronym of the whole topic). Now LLM only writes that part,
    and the topic is machine unlearning within the context of LLMs; "VLA models" stays the VLA topic."""
    compound = TopicTerms.of("machine unlearning in large language models")
    assert compound.acronyms == () and "machine unlearning in LLM" in compound.phrases
    assert not compound.names_topic("Entity binding failures in speech LLM reasoning")
    assert compound.names_topic("Machine unlearning in LLMs is overused as a term")
    assert TopicTerms.of("vision-language-action models").acronyms == ("VLA",)
    assert TopicTerms.of("large language models").acronyms == ("LLM",)
    assert split_context("machine unlearning in large language models") == (
        "machine unlearning",
        "large language models",
    )
    assert split_context("diffusion models for robotics") == ("diffusion models", "robotics")
    for whole in ("mixture of experts", "papers in recent years", "3D Gaussian splatting"):
        assert split_context(whole) is None, whole


def test_a_topic_in_a_context_lists_the_papers_about_both(tmp_path: Path, embedder: Embedder) -> None:
    """On the bundled sample's unlearning and LLM papers: "which papers study machine unlearning in large
    language models?" lists unlearning papers that are about LLMs, not the LLM papers that unlearn nothing
    nor the unlearning papers on images."""
    records = [
        r
        for r in sample_records()
        if "unlearn" in f"{r['title']} {r['summary']}".lower() or re.search(r"\bLLMs?\b", r["title"])
    ]
    settings = index_records(tmp_path / "home", embedder, records, "unlearning")
    answerer = Answerer(settings, build_retriever(settings, embedder=embedder))
    answer = answerer.answer("which papers study machine unlearning in large language models?", use_llm=False)
    assert answer.matches is not None and answer.list_topic == "machine unlearning in large language models"
    llm = re.compile(r"\bLLMs?\b|large language models?", re.IGNORECASE)
    for hit in answer.matches:
        text = f"{hit.paper.title} {hit.paper.abstract}"
        assert "unlearn" in text.lower() and llm.search(text), hit.paper.title
    unrelated = [r for r in records if "unlearn" not in f"{r['title']} {r['summary']}".lower()]
    assert len(unrelated) >= 5 and len(answer.matches) >= 3
    # Every quoted paper says what was asked (issue 26 item 2: no off-topic quotes).
    quoted = {s.paper.id: s.paper for s in answer.sources if f"[{s.number}]" in answer.text}
    assert quoted and all("unlearn" in f"{p.title} {p.abstract}".lower() for p in quoted.values())


def test_acronyms_and_the_head_word_sense_are_learned_from_the_papers() -> None:
    texts = [
        "We render with 3D Gaussian Splatting (3DGS) in real time.",
        "Feed-forward 3D Gaussian splatting (3DGS) from sparse views.",
        "A survey of 3D Gaussian Splatting (GS) methods.",
    ]
    assert learn_acronyms("3D Gaussian splatting", texts) == ["3DGS"]
    named = [
        "Latent diffusion models generate images; a video diffusion model extends them.",
        "We train a latent diffusion model with a diffusion transformer backbone.",
        "Video diffusion models and a diffusion transformer for motion.",
    ]
    sense = Sense.learn("diffusion", named)
    assert sense is not None
    assert sense.holds("Scaling Diffusion Transformers to 8B parameters")
    assert sense.holds("streaming video diffusion at 30 fps")
    assert not sense.holds("information diffusion in protein graphs")
    assert not sense.holds("heat diffusion in thin plates")


# --- answers on a real index ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def answerer(diffusion_index: Path, embedder: Embedder) -> Answerer:
    settings = make_settings(diffusion_index)
    return Answerer(settings, build_retriever(settings, embedder=embedder))


@pytest.mark.slow
def test_the_diffusion_example_lists_every_diffusion_model_paper_and_no_other_sense(
    answerer: Answerer,
) -> None:
    answer = answerer.answer(DIFFUSION, use_llm=False)
    assert answer.matches is not None and answer.found
    ids = [h.paper.id for h in answer.matches]
    assert set(ids) >= DIFFUSION_TITLES, sorted(DIFFUSION_TITLES - set(ids))
    assert not OTHER_SENSE & set(ids)
    assert len(ids) == len(set(ids)) == answer.match_count >= 30  # the abstracts name ~20 more
    # The count comes first; the best k are summarised with citations; every source is a match.
    k = len(answer.sources)
    assert answer.text.startswith(f"**{len(ids)} papers match** “diffusion models”; the {k} most relevant")
    assert {s.paper.id for s in answer.sources} <= set(ids) and k == answerer.settings.fusion.default_k
    assert re.search(r"\[\d+\]", answer.text)
    # Best first: the papers naming the topic in their title lead the list.
    assert ids[0] in DIFFUSION_TITLES and len(set(ids[:10]) & DIFFUSION_TITLES) >= 6
    payload = answer.to_dict()
    assert payload["match_count"] == len(payload["matches"]) == len(ids)
    assert [m["id"] for m in payload["matches"]] == ids
    assert {"title", "authors", "abs_url", "published", "relevance"} <= set(payload["matches"][0])
    assert [s["id"] for s in payload["sources"]] == [s.paper.id for s in answer.sources]
    # The exports hold every match.
    items = listed(answer.matches, {s.paper.id: s.number for s in answer.sources})
    assert all(pid in list_markdown(items) for pid in ids)
    assert len(list_csv(items).strip().splitlines()) == len(ids) + 1


@pytest.mark.slow
def test_the_settings_date_filter_and_a_date_in_the_question_give_the_same_complete_list(
    answerer: Answerer,
) -> None:
    everything = answerer.answer(DIFFUSION, use_llm=False).matches or []
    since = date(2026, 6, 15)
    expected = {h.paper.id for h in everything if h.paper.published and h.paper.published >= since}
    assert len(expected) >= 8
    filtered = answerer.answer(DIFFUSION, use_llm=False, paper_filter=make_filter(since=since))
    assert filtered.found and "could not find" not in filtered.text
    assert {h.paper.id for h in filtered.matches or []} == expected
    assert "(since 2026-06-15)" in filtered.text.split("\n", 1)[0]
    asked = answerer.answer("papers since June 15 about diffusion models", use_llm=False)
    assert {h.paper.id for h in asked.matches or []} == expected


@pytest.mark.slow
def test_the_same_list_question_asked_again_after_a_filter_change_is_still_a_complete_list(
    answerer: Answerer,
) -> None:
    first = answerer.answer(DIFFUSION, use_llm=False)
    since = make_filter(since=date(2026, 6, 15))
    again = answerer.answer(DIFFUSION, history=[first.turn], use_llm=False, paper_filter=since)
    assert again.standalone_question == DIFFUSION and again.matches is not None
    expected = {
        h.paper.id for h in first.matches or [] if h.paper.published and h.paper.published >= since.since
    }
    assert {h.paper.id for h in again.matches} == expected
    assert "(since 2026-06-15)" in again.text.split("\n", 1)[0]


@pytest.mark.slow
def test_a_filter_follow_up_narrows_the_whole_list(answerer: Answerer) -> None:
    first = answerer.answer(DIFFUSION, use_llm=False)
    turn = first.turn
    follow = answerer.answer("which of these use transformers?", history=[turn], use_llm=False)
    assert follow.matches is not None and follow.match_count
    everything = {h.paper.id for h in first.matches or []}
    narrowed = {h.paper.id for h in follow.matches}
    assert narrowed < everything
    assert all(re.search(r"transformer", f"{h.paper.title} {h.paper.abstract}", re.I) for h in follow.matches)
    assert "mention “transformers”" in follow.text.split("\n", 1)[0]


@pytest.mark.slow
def test_a_filter_follow_up_that_no_listed_paper_holds_is_the_ordinary_follow_up(answerer: Answerer) -> None:
    """No paper of the diffusion list mentions "quantum" (one of the index's other papers does): not an
    empty list of 0 matches, but the ordinary follow-up, which says none of the previous papers does."""
    first = answerer.answer(DIFFUSION, use_llm=False)
    follow = answerer.answer("which of these use quantum computing?", history=[first.turn], use_llm=False)
    assert follow.matches is None and follow.match_count is None
    assert "None of the previous answer's papers mention “quantum”" in " ".join(follow.notices)
    assert not follow.text.startswith("**0 papers")


def test_words_that_match_only_in_another_sense_are_said_so_not_could_not_find() -> None:
    paper = from_json_record(sample_records()[0])
    found = TopicList("thermal diffusion", TopicTerms.of("thermal diffusion"), other_sense=[paper])
    text = Listing(found, make_filter()).empty_text()
    assert "could not find" not in text and "another sense" in text and paper.title[:30] in text
    nothing = Listing(TopicList("x", TopicTerms.of("x")), make_filter()).empty_text()
    assert nothing == "I could not find this in the indexed papers."


def test_a_grouped_list_shows_each_papers_own_rank_when_rendered() -> None:
    """Grouped by field, a group's ranks are not consecutive (1, 4, 9): the rendered list shows them as
    they are, not renumbered 1, 2, 3 as a Markdown ordered list would."""
    records = sample_records()
    papers = [
        from_json_record(r).model_copy(update={"categories": ["cs.CV" if i % 3 else "cs.CL"]})
        for i, r in enumerate(records[:14])
    ]
    items = [ListedPaper(rank, paper) for rank, paper in enumerate(papers, start=1)]
    html = MarkdownIt("commonmark").render(list_markdown(items))
    assert "<ol" not in html
    shown = [int(n) for n in re.findall(r"<li>(\d+)\. ", html)]
    assert sorted(shown) == list(range(1, 15)) and shown != sorted(shown)  # grouped: CV first, then CL
    assert "<li>4. " in html.split("Computation and Language")[1]


def test_the_full_list_pages_from_any_payload_and_speaks_the_answers_language() -> None:
    papers = [from_json_record(r) for r in sample_records()[:30]]
    items = [ListedPaper(rank, paper) for rank, paper in enumerate(papers, start=1)]
    second = list_view.page_markdown("diffusion models", items, 1)
    assert second.startswith("**All 30 papers on “diffusion models”, best first: 26–30 (page 2 of 2)**")
    assert list_view.next_label(30, 0) == "Next 5" and list_view.show_all_label(1200) == "Show all 1,200"
    # The page number comes from the client as sent: anything but a whole number is the first page.
    sent_pages = (("1", 1), (2, 2), (-4, 0), ("x", 0), (None, 0), (True, 0), ([1], 0), (float("inf"), 0))
    for sent, page in sent_pages:
        assert list_view.page_number(sent) == page, sent
    assert list_view.page_markdown("x", items, 99) == list_view.page_markdown("x", items, 1)
    found = TopicList("扩散模型", TopicTerms.of("diffusion models"), [Hit(p, 0.5, 0.5) for p in papers])
    since = make_filter(since=date(2026, 6, 15))
    lead = count_sentence(found, 8, since)
    assert lead.startswith("**30 papers match** “扩散模型” (since 2026-06-15); the 8 most relevant")
    with reply_in("zh-CN"):
        assert list_view.show_all_label(30) == "显示全部 30 篇" and list_view.next_label(30, 0) == "下 5 篇"
        assert list_view.page_markdown("扩散模型", items, 0).startswith("**关于“扩散模型”的全部 30 篇论文")
        assert count_sentence(found, 8, since) == (
            "**30 篇论文**符合“扩散模型”（2026-06-15 起）；下面概述其中最相关的 8 篇，随后是完整列表。"
        )
        labels = [t(list_view.EXPORT_LABELS[f.mime]) for f in list_view.list_export_files("x", items)]
    assert labels == ["导出列表（Markdown）", "导出列表（BibTeX）", "导出列表（CSV）"]


@pytest.mark.slow
def test_ask_json_has_matches_and_the_cli_prints_the_list(
    diffusion_index: Path, embedder: Embedder, use_home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("assistant.engine.get_embedder", lambda settings: embedder)
    use_home(diffusion_index)
    runner = CliRunner()
    result = runner.invoke(app, ["ask", DIFFUSION, "--extractive", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert payload["match_count"] == len(payload["matches"]) >= len(DIFFUSION_TITLES)
    assert {s["id"] for s in payload["sources"]} <= {m["id"] for m in payload["matches"]}
    printed = runner.invoke(app, ["ask", DIFFUSION, "--extractive"])
    assert printed.exit_code == 0, printed.output
    assert f"All {payload['match_count']} matching papers" in printed.stdout
    assert all(f"arxiv.org/abs/{pid}" in printed.stdout for pid in DIFFUSION_TITLES)
    # A question that is not a list question has no matches key.
    other = runner.invoke(app, ["ask", "How do diffusion models edit images?", "--extractive", "--json"])
    assert "match_count" not in json.loads(next(x for x in other.stdout.splitlines() if x.startswith("{")))
