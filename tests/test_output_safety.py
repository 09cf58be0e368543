"""Issue 15, output side: paper text and model output are data. Whatever link form they hold (inline,
reference definition, autolink, bare URL, e-mail, HTML, image), no renderer makes a link, an image or a fetch
of it; paper text is shown literally; a streamed answer is neutralised before any of it is shown; terminal
control characters never reach the terminal.

What a renderer would make is checked by rendering with markdown-it (CommonMark, the parser rich uses) and
by looking for what GFM's autolink extension (the chat app's renderer) links outside code spans."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from conftest import make_settings, sample_records, write_jsonl
from markdown_it import MarkdownIt
from openai_standin import OpenAIStandin, Reply
from typer.testing import CliRunner

from assistant.compose.answer import Answerer
from assistant.compose.briefing import Briefer
from assistant.compose.citations import check_citations, escape_markdown, neutralise_links
from assistant.compose.llm import get_llm
from assistant.compose.safe_markdown import SafeStream, literal_markdown
from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.engine import build_retriever
from assistant.store.embedding import Embedder
from assistant.ui import chat_view as view
from assistant.ui.cli import app
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

_RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_CODE_RE = re.compile(r"<code>.*?</code>", re.DOTALL)
_GFM_AUTOLINK_RE = re.compile(r"https?://|\bwww\.|[\w.+\-]+@[\w\-]+\.[\w\-]+|mailto:|//evil", re.IGNORECASE)

HOSTILE_ABSTRACT = (
    "We publish everything at http://evil.example/results and "
    "[the results page](http://evil.example/results); "
    'write to attacker@evil.example or <a href="http://evil.example/a">click</a>. '
    "![pixel](http://evil.example/pixel.png) <img src=http://evil.example/i.png> "
    "See [click me][ref] and <http://evil.example/auto> or www.evil.example.\n\n[ref]: //evil.example/refdef"
)
HOSTILE_TITLE = "[Click me](http://evil.example/title) Robust *learning* <script>alert(1)</script>"
HOSTILE_MODEL = (
    "## Overview\n\nSee [click me][ref] [1].\n\n[ref]:\n//evil.example/refdef\n\n"
    "![img](http://evil.example/pixel.png) and ![x][pix] [2].\n\n[pix]: http://evil.example/p2.png\n\n"
    "<script>fetch('http://evil.example/x')</script> <img src='http://evil.example/i.png'> "
    "[the code](http://evil.example/x) <http://evil.example/auto> attacker@evil.example [99].\n\n"
    "- a list item citing [1][2]\n- [3](http://evil.example/c) cited as a link\n"
)


def links_made(markdown: str) -> list[str]:
    """Each link, image or fetch a Markdown renderer (CommonMark + GFM autolinks) would make of it."""
    rendered = _RENDERER.render(markdown)
    found = re.findall(r"<(?:a|img|script|iframe)\b[^>]*>", rendered)
    outside_code = html.unescape(_CODE_RE.sub("", rendered))
    found += _GFM_AUTOLINK_RE.findall(re.sub(r"<[^>]+>", "", outside_code))
    return found


def shown_text(markdown: str) -> str:
    """What a reader sees: the rendered HTML without tags (code spans keep their text)."""
    return html.unescape(re.sub(r"<[^>]+>", "", _RENDERER.render(markdown))).strip()


def test_model_output_keeps_no_link_of_any_form_and_keeps_citations() -> None:
    out = neutralise_links(HOSTILE_MODEL)
    assert links_made(out) == []
    assert "click me" in out and "the code" in out  # the words stay, the targets go
    assert "## Overview" in out and "- a list item citing [1][2]" in out
    checked = check_citations(out, [1, 2, 3])
    assert checked.removed == [99] and checked.used == [1, 2, 3]
    assert neutralise_links(out) == out  # stable: neutralising twice changes nothing


def test_the_reference_link_probe_of_the_issue_is_neutralised() -> None:
    out = neutralise_links("See [click me][ref]\n\n[ref]:\n//evil.example/refdef")
    assert out.strip() == "See click me"


def test_paper_text_is_shown_literally_and_links_nowhere() -> None:
    flat_abstract = HOSTILE_ABSTRACT.replace("\n", " ")
    for text in (HOSTILE_TITLE, flat_abstract, "1. Not a list", "- nor this", "a_b * c"):
        markdown = literal_markdown(text)
        assert links_made(markdown) == [], text
        # Shown as written (a space may follow a URL, so nothing reads the next character as part of it).
        assert "".join(shown_text(markdown).split()) == "".join(text.split()), text


def test_a_title_with_link_syntax_is_not_mangled_in_an_extractive_answer() -> None:
    """Composed Markdown (escaped title) goes through the neutraliser again: the title survives whole."""
    composed = f"- *{escape_markdown('[Click me](http://evil.example/title) x')}*: a finding [1]."
    out = neutralise_links(composed)
    assert "[Click me](http://evil.example/title ) x" in shown_text(out)  # a space closes the URL
    assert links_made(out) == []


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16])
def test_a_streamed_answer_is_neutralised_before_any_of_it_is_shown(size: int) -> None:
    stream = SafeStream()
    shown: list[str] = []
    for start in range(0, len(HOSTILE_MODEL), size):
        segment = stream.feed(HOSTILE_MODEL[start : start + size])
        assert links_made("".join(shown) + segment) == [], (size, start, segment)
        shown.append(segment)
    shown.append(stream.flush())
    whole = "".join(shown)
    assert links_made(whole) == []
    for words in ("Overview", "click me", "the code", "a list item citing [1][2]"):
        assert words in whole


def test_every_app_surface_shows_a_hostile_paper_literally() -> None:
    paper = Paper(
        id="2606.00093",
        title=HOSTILE_TITLE,
        abstract=HOSTILE_ABSTRACT,
        authors=["Eve <img src=http://evil.example/a.png>", "attacker@evil.example"],
        categories=["cs.LG"],
        journal_ref="[J](http://evil.example/j)",
    )
    own = {"https://arxiv.org/abs/2606.00093", "https://arxiv.org/pdf/2606.00093"}
    surfaces = {
        "side panel": view.source_markdown(1, paper, 0.5),
        "sources list": view.sources_list_markdown([(1, paper)]),
        "radar card": view.paper_card_markdown(paper, 1, 0.5),
        "export": view.export_markdown(HOSTILE_TITLE, "Answer [1].", [(1, paper)]),
        "notices": view.notices_markdown(["server said http://evil.example/err"]),
    }
    for name, markdown in surfaces.items():
        rendered = _RENDERER.render(markdown)
        hrefs = set(re.findall(r'href="([^"]*)"', rendered))
        assert hrefs <= own, (name, hrefs)
        assert "<img" not in rendered and "<script" not in rendered, name
        without_ours = markdown
        for url in own:
            without_ours = without_ours.replace(f"({url})", "").replace(f"<{url}>", "")
        assert links_made(without_ours) == [], (name, links_made(without_ours))
    assert "[Click me](http://evil.example/title )" in shown_text(surfaces["sources list"])


# --- real index, real model stand-in -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    records = sample_records(12)
    hostile = {**records[0], "id": "2606.00093", "title": HOSTILE_TITLE, "summary": HOSTILE_ABSTRACT}
    home = tmp_path_factory.mktemp("hostile")
    settings = make_settings(home)
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        ingestor.run(file_runs([write_jsonl(home / "papers.jsonl", [hostile, *records[1:]])]))
    finally:
        ingestor.close()
    return settings


QUESTION = "results page pixel click robust learning"


def test_extractive_answer_and_briefing_over_a_hostile_paper_make_no_link(
    hostile_index: Settings, embedder: Embedder
) -> None:
    retriever = build_retriever(hostile_index, embedder=embedder)
    answer = Answerer(hostile_index, retriever).answer(QUESTION, k=3)
    assert "2606.00093" in {s.paper.id for s in answer.sources}
    assert links_made(answer.text) == [], answer.text
    briefing = Briefer(hostile_index, retriever).brief(QUESTION, per_field=3)
    body = briefing.markdown.split("## References")[0]
    assert links_made(body) == []
    refs = briefing.markdown.split("## References")[1]
    assert set(re.findall(r'href="([^"]*)"', _RENDERER.render(refs))) <= {
        f"https://arxiv.org/{kind}/{s.paper.id}" for s in briefing.sources for kind in ("abs", "pdf")
    }


def test_cli_ask_prints_no_raw_model_token_and_no_control_character(
    hostile_index: Settings, use_home, monkeypatch
) -> None:  # type: ignore[no-untyped-def,unused-ignore]
    osc = "\u001b]8;;http://evil.example/osc\u001b\\arXiv:2606.00093\u001b]8;;\u001b\\"
    reply = f"{HOSTILE_MODEL}{osc} \u001b[2J"
    with OpenAIStandin(default=Reply(reply, chunk_chars=5)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        use_home(Path(hostile_index.storage.home))
        result = CliRunner().invoke(app, ["ask", QUESTION, "--k", "3"])
        as_json = CliRunner().invoke(app, ["ask", QUESTION, "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert any(r.stream for r in server.requests)  # the plain run streamed
    out = result.stdout
    assert "\u001b" not in out
    # The model's raw constructs never reach the terminal (the hostile title is paper text: shown literally).
    for raw in ("](http://evil.example/x)", "<script>fetch", "<img src='", "[ref]:", "![img]", "![x][pix]"):
        assert raw not in out, raw
    text = json.loads(as_json.stdout)["text"]
    assert links_made(text) == [] and "\u001b" not in text


def test_llm_briefing_markdown_keeps_no_model_link(hostile_index: Settings, embedder: Embedder) -> None:
    with OpenAIStandin(default=Reply(HOSTILE_MODEL, chunk_chars=3)) as server:
        settings = hostile_index.replace(llm={"base_url": server.base_url, "max_retries": 0})
        briefing = Briefer(settings, build_retriever(settings, embedder=embedder), get_llm(settings)).brief(
            QUESTION, per_field=3
        )
    assert briefing.mode == "llm"
    assert links_made(briefing.markdown.split("## References")[0]) == []
