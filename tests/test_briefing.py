"""Cross-field briefings on real papers (small index: real SQLite, Chroma and the packaged model); the LLM
variant against tests/openai_standin.py, a local HTTP server speaking the OpenAI chat-completions protocol
with SSE streaming (no real endpoint is reachable from the tests)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_standin import OpenAIStandin, Reply
from typer.testing import CliRunner

from assistant.compose.bibtex import bibtex_entries
from assistant.compose.briefing import Briefer
from assistant.compose.briefing_model import Briefing, BriefingError
from assistant.compose.citations import cited_numbers
from assistant.compose.llm import get_llm
from assistant.core.fields import label
from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.engine import build_retriever
from assistant.search.retrieval import RetrievalError
from assistant.store.embedding import Embedder
from assistant.ui.cli.common import app

TOPIC = "machine unlearning and safety of language and vision models"
FIELDS = ["cs.CL", "cs.CV", "cs.AI"]
LABELS = [label(f) for f in FIELDS]  # "Computation and Language (cs.CL)", ...


def parse_bibtex(text: str) -> list[dict[str, str]]:
    """A strict little BibTeX reader: @type{key, name = {brace-balanced value}, ...}. Raises on bad input."""
    entries: list[dict[str, str]] = []
    pos = 0
    while True:
        start = text.find("@", pos)
        if start < 0:
            break
        head = re.compile(r"@(\w+)\s*\{\s*([^,\s{}]+)\s*,").match(text, start)
        assert head, f"bad entry head at {start}: {text[start : start + 40]!r}"
        entry = {"ENTRYTYPE": head.group(1), "ID": head.group(2)}
        pos = head.end()
        while True:
            field = re.compile(r"\s*(\w+)\s*=\s*\{").match(text, pos)
            if not field:
                break
            depth, i = 1, field.end()
            while depth:
                assert i < len(text), "unbalanced braces"
                if text[i] == "\\":
                    i += 2
                    continue
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            entry[field.group(1).lower()] = text[field.end() : i - 1]
            pos = i
            comma = re.compile(r"\s*,").match(text, pos)
            if comma:
                pos = comma.end()
        close = re.compile(r"\s*\}").match(text, pos)
        assert close, f"entry {entry['ID']} is not closed"
        pos = close.end()
        entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def briefer(small_index: Settings, embedder: Embedder) -> Briefer:
    return Briefer(small_index, build_retriever(small_index, embedder=embedder))


@pytest.fixture(scope="module")
def three_fields(briefer: Briefer) -> Briefing:
    return briefer.brief(TOPIC, fields=FIELDS, per_field=3)


def sections_of(markdown: str) -> dict[str, str]:
    return dict(re.findall(r"^## (.+)\n([\s\S]*?)(?=^## |\Z)", markdown, flags=re.MULTILINE))


def test_a_three_field_briefing_has_a_section_per_field_and_bridges(three_fields: Briefing) -> None:
    briefing = three_fields
    assert briefing.mode == "extractive" and briefing.fields == FIELDS
    sections = sections_of(briefing.markdown)
    assert briefing.markdown.startswith(f"# Briefing: {TOPIC}")
    assert list(sections) == ["Overview", *LABELS, "Bridges", "Open questions", "References"]
    for name, heading in zip(FIELDS, LABELS, strict=True):
        numbers = cited_numbers(sections[heading])
        assert numbers, f"section {name} cites nothing"
        for n in numbers:  # every paper of a field section is listed in that field
            paper = briefing.sources[n - 1].paper
            assert any(c == name for c in paper.categories), (name, paper.categories)
    # The two unlearning papers listed in both cs.CV and cs.AI are bridges.
    bridge_ids = {briefing.sources[b.numbers[0] - 1].paper.id for b in briefing.bridges if b.kind == "paper"}
    assert {"2606.00105", "2606.00380"} & bridge_ids
    assert (
        "is listed in Computer Vision and Pattern Recognition (cs.CV) and Artificial Intelligence (cs.AI)"
        in sections["Bridges"]
    )
    assert cited_numbers(briefing.markdown) <= {s.number for s in briefing.sources}
    for source in briefing.sources:
        assert f"[abs](https://arxiv.org/abs/{source.paper.id})" in sections["References"]
        assert f"[PDF](https://arxiv.org/pdf/{source.paper.id})" in sections["References"]


def test_bibtex_of_the_briefing_parses(three_fields: Briefing) -> None:
    entries = parse_bibtex(three_fields.to_bibtex())
    assert len(entries) == len(three_fields.sources)
    assert len({e["ID"] for e in entries}) == len(entries)
    for entry, source in zip(entries, three_fields.sources, strict=True):
        assert entry["ENTRYTYPE"] == "misc"
        assert entry["eprint"] == source.paper.id and entry["archiveprefix"] == "arXiv"
        assert entry["primaryclass"] == source.paper.primary_category
        assert entry["url"] == f"https://arxiv.org/abs/{source.paper.id}"


def test_bibtex_escapes_special_characters_and_keeps_keys_unique() -> None:
    tricky = Paper(
        id="2606.00001",
        title="{Braces} & 100% of $x_1$ #tags ~ ^ \\ back",
        abstract="a",
        authors=["Zoë Müller", "A. O'Neil"],
        categories=["cs.LG"],
    )
    twin = tricky.model_copy(update={"id": "2606.00002"})
    entries = parse_bibtex(bibtex_entries([tricky, twin]))
    assert [e["eprint"] for e in entries] == ["2606.00001", "2606.00002"]
    assert entries[0]["ID"] != entries[1]["ID"]
    assert r"\{Braces\} \& 100\% of \$x\_1\$ \#tags" in entries[0]["title"]
    assert entries[0]["author"] == "Zoë Müller and A. O'Neil"


def test_fields_are_chosen_from_the_papers_when_none_are_given(briefer: Briefer) -> None:
    briefing = briefer.brief("machine unlearning", per_field=2)
    assert 1 <= len(briefing.fields) <= 3
    assert any("Fields chosen from the retrieved papers" in n for n in briefing.notices)
    assert list(sections_of(briefing.markdown))[1 : 1 + len(briefing.fields)] == [
        label(f) for f in briefing.fields
    ]


def test_bad_briefing_input_is_a_readable_error(briefer: Briefer) -> None:
    with pytest.raises(BriefingError, match="topic is empty"):
        briefer.brief("  ")
    with pytest.raises(RetrievalError, match="unknown category"):
        briefer.brief(TOPIC, fields=["cs.XX"])


# --- what a briefing lists and says (issue 18) -------------------------------------------------------


@pytest.fixture(scope="module")
def unlearning(briefer: Briefer) -> Briefing:
    """Three fields with unlearning papers in the small index, and one (cs.RO) without any. ("machine
    unlearning" would need "machine" too: in 60 papers it is as rare as "unlearning".)"""
    return briefer.brief("unlearning", fields=["cs.CL", "cs.CV", "cs.AI", "cs.RO"], per_field=3)


def test_every_listed_paper_is_on_topic_and_in_one_section_of_its_field(unlearning: Briefing) -> None:
    listed = [(sec.field, s.paper) for sec in unlearning.sections for s in sec.sources]
    assert len(listed) >= 3
    for name, paper in listed:
        assert name in paper.categories  # retrieved with the field's filter
        assert "unlearn" in f"{paper.title} {paper.abstract}".lower(), paper.title  # on topic
    ids = [paper.id for _, paper in listed]
    assert len(ids) == len(set(ids)) == len(unlearning.sources)  # each paper once
    # The small index holds no unlearning paper in Robotics: named as such, not filled.
    robotics = sections_of(unlearning.markdown)["Robotics (cs.RO)"]
    assert not cited_numbers(robotics)
    assert "No paper on this topic in Robotics (cs.RO) in this period." in robotics
    # A field with fewer papers on the topic than the quota says so.
    short = [sec for sec in unlearning.sections if 0 < sec.relevant < 3]
    for sec in short:
        assert f"on this in {sec.label} in this period" in sections_of(unlearning.markdown)[sec.label]


def test_each_paper_has_its_own_sentence_and_readable_field_names(unlearning: Briefing) -> None:
    sections = sections_of(unlearning.markdown)
    quoted = []
    for sec in unlearning.sections:
        for source in sec.sources:
            line = next(x for x in sections[sec.label].splitlines() if x.endswith(f"[{source.number}]."))
            sentence = line.split("**: ", 1)[1].rsplit(f" [{source.number}]", 1)[0]
            assert sentence in source.paper.abstract
            assert not source.paper.abstract.startswith(sentence)  # not the opening (background) sentence
            quoted.append(sentence)
    assert len(quoted) == len(set(quoted))
    # Readable names in the metadata line, the headings, the overview and the bridges; no bare code heading.
    head = unlearning.markdown.split("## Overview")[0]
    assert "Computation and Language (cs.CL), Computer Vision and Pattern Recognition (cs.CV)" in head
    assert not re.search(r"^## (?:cs|q-bio|math)\.\w+\s*$", unlearning.markdown, flags=re.MULTILINE)
    assert "Artificial Intelligence (cs.AI)" in sections["Overview"]
    assert cited_numbers(sections["Overview"]) == {s.number for s in unlearning.sources}


def test_bridges_are_on_topic_papers_or_specific_terms(unlearning: Briefing) -> None:
    for bridge in unlearning.bridges:
        assert len(bridge.fields) >= 2
        if bridge.kind == "paper":
            paper = unlearning.sources[bridge.numbers[0] - 1].paper
            assert "unlearn" in paper.abstract.lower()
        else:  # a term held by on-topic papers of two sections, never prose
            assert len(bridge.numbers) >= 2
            assert bridge.label.lower() not in {"remove targeted", "remarkable success", "have been"}


def test_generic_phrases_are_never_terms() -> None:
    from assistant.compose.terms import TermStats, candidate_terms, is_specific, is_topic_only

    text = (
        "Large language models (LLMs) have been a remarkable success. We remove targeted knowledge with "
        "gradient ascent and LoRA adapters, evaluated on the MUSE benchmark."
    )
    found = candidate_terms(text)
    assert {"gradient ascent", "LoRA", "MUSE", "MUSE benchmark"} <= found
    assert not {"have been", "remarkable success", "large language"} & found
    # June 2026 index figures (papers, total, cohesion, together), measured with Catalog.phrase_frequencies.
    assert is_specific("gradient ascent", TermStats(5, 6633, 0.71, 0.83))
    assert is_specific("LoRA", TermStats(124, 6633, 1.0, 1.0))
    assert not is_specific("remove targeted", TermStats(2, 6633, 0.01, 0.13))
    assert not is_specific("training data", TermStats(225, 6633, 0.12, 0.26))
    assert not is_specific("LLMs", TermStats(1797, 6633, 1.0, 1.0))
    assert not is_specific("LMs", TermStats(35, 6633, 1.0, 1.0))  # a model family: the field's vocabulary
    assert is_topic_only("MoE", ["mixture", "of", "experts"])
    assert is_topic_only("unlearning", ["machine", "unlearning"])


def test_open_questions_are_stated_limitations(unlearning: Briefing) -> None:
    from assistant.compose.extractive import states_open_problem

    assert states_open_problem("Whether unlearning transfers across languages remains unclear.")
    assert states_open_problem("We leave certified unlearning for LLMs to future work.")
    assert states_open_problem("Can a model forget a fact it has seen once?")
    assert not states_open_problem("To address this limitation, we propose ReRULE, an off-policy method.")
    assert not states_open_problem(
        "The prototype bank and prediction heads are used only during training; inference remains a "
        "standard forward pass."
    )
    body = sections_of(unlearning.markdown)["Open questions"]
    bullets = [line[2:] for line in body.splitlines() if line.startswith("- ")]
    assert bullets
    for bullet in bullets:
        if cited_numbers(bullet):
            assert states_open_problem(re.sub(r"\s*\[\d+\]", "", bullet)), bullet
        else:
            assert bullet.startswith("None stated")


# --- the LLM variant ---------------------------------------------------------------------------------


@pytest.fixture
def standin() -> Iterator[OpenAIStandin]:
    with OpenAIStandin() as server:
        yield server


def test_llm_briefing_keeps_the_structure_and_checks_citations(
    small_index: Settings, embedder: Embedder, standin: OpenAIStandin
) -> None:
    standin.default = Reply(
        "## Overview\nUnlearning is studied across fields [1] and in [42].\n\n"
        "## cs.CL\nDecoding-time unlearning uses auxiliary models [1].\n\n"
        "## Bridges\n- Vision and language unlearning meet [2].\n\n"
        "## Open questions\n- Whether unlearning is reversible [3]."
    )
    settings = small_index.replace(llm={"base_url": standin.base_url, "max_retries": 0})
    briefer = Briefer(settings, build_retriever(settings, embedder=embedder), get_llm(settings))
    tokens: list[str] = []
    reported: list[tuple[list[str], int]] = []  # the sources, and how many tokens had arrived by then
    briefing = briefer.brief(
        TOPIC,
        fields=FIELDS,
        per_field=3,
        on_token=tokens.append,
        on_sources=lambda found: reported.append(([s.paper.id for s in found], len(tokens))),
    )
    assert briefing.mode == "llm" and tokens
    assert reported == [([s.paper.id for s in briefing.sources], 0)]  # once, before any text
    sections = sections_of(briefing.markdown)
    assert list(sections) == ["Overview", *LABELS, "Bridges", "Open questions", "References"]
    assert "Decoding-time unlearning uses auxiliary models [1]." in sections[LABELS[0]]
    assert cited_numbers(sections[LABELS[1]])  # the model skipped cs.CV: filled from the abstracts
    assert briefing.removed_citations == [42] and "[42]" not in briefing.markdown
    # The model's open question states no limitation: that section is the extractive one, with a note.
    assert "Whether unlearning is reversible" not in sections["Open questions"]
    assert any("'Open questions' listed statements" in n for n in briefing.notices)
    assert any(f"'{LABELS[1]}' was left out" in n for n in briefing.notices)
    prompt = standin.requests[-1].messages[1]["content"]
    assert f"## {LABELS[1]}" in prompt and "## Bridges" in prompt and "<<<SOURCES" in prompt


def test_llm_sections_without_citations_fall_back_one_by_one(
    small_index: Settings, embedder: Embedder, standin: OpenAIStandin
) -> None:
    standin.default = Reply(
        "## Overview\nUnlearning is a hot topic everywhere. Many groups work on it.\n\n"
        f"## {LABELS[0]}\n- Decoding-time unlearning uses auxiliary models [1].\n\n"
        "## Open questions\n- It remains unclear whether unlearning is reversible [1]."
    )
    settings = small_index.replace(llm={"base_url": standin.base_url, "max_retries": 0})
    briefer = Briefer(settings, build_retriever(settings, embedder=embedder), get_llm(settings))
    briefing = briefer.brief(TOPIC, fields=FIELDS, per_field=3)
    sections = sections_of(briefing.markdown)
    assert briefing.mode == "llm"
    assert "hot topic" not in sections["Overview"] and cited_numbers(sections["Overview"])
    assert any("'Overview' had uncited text" in n for n in briefing.notices)
    assert "Decoding-time unlearning uses auxiliary models [1]." in sections[LABELS[0]]
    assert "It remains unclear whether unlearning is reversible [1]." in sections["Open questions"]


def test_brief_cli_writes_markdown_and_bibtex(small_index: Settings, use_home, tmp_path: Path) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    use_home(Path(small_index.storage.home))
    out, bib = tmp_path / "brief.md", tmp_path / "refs.bib"
    args = ["brief", TOPIC, "--per-field", "2", "--out", str(out), "--bibtex", str(bib), "--json"]
    for name in FIELDS:
        args += ["--field", name]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert out.read_text(encoding="utf-8") == payload["markdown"]
    assert len(parse_bibtex(bib.read_text(encoding="utf-8"))) == len(payload["sources"])
    assert payload["citations"] == {str(s["number"]): s["id"] for s in payload["sources"]}


def test_llm_briefing_has_a_token_limit_and_an_uncited_or_cut_one_is_said(
    small_index: Settings, embedder: Embedder, standin: OpenAIStandin
) -> None:
    settings = small_index.replace(
        llm={"base_url": standin.base_url, "max_retries": 0, "max_tokens_briefing": 40}
    )
    briefer = Briefer(settings, build_retriever(settings, embedder=embedder), get_llm(settings))
    # Fluent prose that cites nothing is not shown as the model's cited briefing.
    standin.default = Reply(
        "## Overview\nUnlearning is an active and important area of research in many fields."
    )
    briefing = briefer.brief(TOPIC, fields=FIELDS, per_field=2)
    assert standin.requests[-1].body["max_tokens"] == 40
    assert briefing.mode == "extractive"
    assert any("cites none of the sources" in n for n in briefing.notices)
    # Cut at the length limit: the unfinished end goes, the cut is said, missing sections are quoted.
    standin.default = Reply(
        "## Overview\nDecoding-time unlearning uses auxiliary models to remove knowledge [1]. "
        "Other papers study the forgetting of visual concepts in diffusion models across many settings and "
        "benchmarks with several metrics and find that the forgetting is often incomplete under attack in "
        "practice today."
    )
    briefing = briefer.brief(TOPIC, fields=FIELDS, per_field=2)
    assert briefing.mode == "llm"
    assert "Decoding-time unlearning uses auxiliary models to remove knowledge [1]." in briefing.markdown
    assert "and find" not in briefing.markdown
    assert any("incomplete" in n and "40-token length limit" in n for n in briefing.notices)
    assert "40-token length limit" in (briefing.to_dict()["incomplete"] or "")
    assert cited_numbers(sections_of(briefing.markdown)[LABELS[1]])


def test_a_category_can_never_add_a_bibtex_field_or_a_markdown_link() -> None:
    """Categories are checked at ingest, but an older index may hold anything: every output escapes them."""
    from markdown_it import MarkdownIt

    from assistant.compose.briefing_sections import references_markdown
    from assistant.compose.model import Source
    from assistant.search.hit import Hit

    injected = Paper(
        id="2606.00003",
        title="Title",
        abstract="a",
        authors=["A. Author"],
        categories=["cs.LG},howpublished={\\url{http://evil.example/x}"],
    )
    (entry,) = parse_bibtex(bibtex_entries([injected]))
    assert "howpublished" not in entry and "evil.example" in entry["primaryclass"]
    linked = injected.model_copy(update={"categories": ["x](//evil.example/y)"]})
    rendered = MarkdownIt().render(references_markdown([Source(1, Hit(linked, 1.0, 1.0))]))
    assert "evil.example" in rendered and 'href="//evil.example' not in rendered
