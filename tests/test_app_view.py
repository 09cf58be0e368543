"""The chat app's logic without a browser: what a paper looks like on screen (escaped), chat settings ->
filters, export files, login users, the chat-history tables and `academichub serve`/`hash-password`.

Chat history is exercised through Chainlit's real SQLAlchemy data layer over a real SQLite file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from datetime import date
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from assistant.compose.lists import ListedPaper
from assistant.compose.model import Turn
from assistant.core.i18n import reply_in, t
from assistant.core.paper import Paper
from assistant.search.hit import Hit
from assistant.ui import chat_view as view
from assistant.ui import list_view
from assistant.ui.auth import AuthConfigError, check_password, hash_password, parse_auth_users
from assistant.ui.chat_history import conninfo, ensure_tables
from assistant.ui.cli import app
from assistant.ui.cli.serve_cmd import app_root, use_private_files_dir

EVIL_TITLE = "<script>window.__pwned = 1</script> Attacks on [1](javascript:alert(1)) *bold* models"


def make_paper(**overrides: object) -> Paper:
    fields: dict[str, object] = {
        "id": "2606.01234",
        "title": "Sparse Attention for Long Documents",
        "abstract": "We study sparse attention.\n\n# Not a heading\nIt scales to long documents.",
        "authors": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"],
        "categories": ["cs.CL", "cs.LG", "stat.ML"],
        "published": date(2026, 6, 3),
        "updated": date(2026, 6, 5),
    }
    fields.update(overrides)
    return Paper(**fields)  # type: ignore[arg-type]


# --- escaping -------------------------------------------------------------------------------------


def test_paper_text_with_html_and_markdown_renders_as_literal_text() -> None:
    shown = view.escape_md(EVIL_TITLE)
    assert "<script>" not in shown and r"\<script\>" in shown
    assert "[1](" not in shown  # no link can be formed from a title
    assert r"\*bold\*" in shown


def test_escape_collapses_newlines_so_abstracts_cannot_inject_headings() -> None:
    assert view.escape_md("line one\n# heading\n- item") == r"line one \# heading - item"


def test_source_panel_has_title_authors_date_categories_and_arxiv_links() -> None:
    text = view.source_markdown(2, make_paper(), relevance=0.61)
    assert text.startswith(r"### [2] Sparse Attention for Long Documents")
    assert "Ada Lovelace, Alan Turing, Grace Hopper, Edsger Dijkstra" in text
    assert "2026-06-03 (updated 2026-06-05)" in text
    assert "cs.CL, cs.LG, stat.ML" in text
    assert "(https://arxiv.org/abs/2606.01234)" in text and "(https://arxiv.org/pdf/2606.01234)" in text
    assert "0.61" in text
    assert r"\# Not a heading" in text  # abstract flattened and escaped


def test_source_panel_escapes_a_hostile_title() -> None:
    text = view.source_markdown(1, make_paper(title=EVIL_TITLE))
    assert "<script>" not in text
    # The only links are the two we build from the arXiv id.
    assert re.findall(r"(?<!\\)\]\((\S+?)\)", text) == [
        "https://arxiv.org/abs/2606.01234",
        "https://arxiv.org/pdf/2606.01234",
    ]


def test_sources_list_starts_each_line_with_its_clickable_marker() -> None:
    listing = view.sources_list_markdown([(1, make_paper()), (2, make_paper(id="2606.09999", title="Other"))])
    lines = [line for line in listing.splitlines() if line.startswith("- ")]
    assert [line.split()[1] for line in lines] == ["[1]", "[2]"]
    assert "Ada Lovelace, Alan Turing, Grace Hopper et al." in lines[0]
    assert view.sources_list_markdown([]) == ""


def test_radar_card_shows_fields_and_links() -> None:
    card = view.paper_card_markdown(make_paper(categories=["cs.LG", "q-bio.NC"]), position=3, relevance=0.5)
    assert card.startswith("**3. Sparse Attention for Long Documents**")
    assert "fields: cs, q-bio" in card and "match 0.50" in card
    assert "https://arxiv.org/abs/2606.01234" in card
    assert card.split("\n\n")[1].startswith("We study sparse attention.")  # the gist under the title


def test_radar_head_says_the_listing_day_and_continues_the_numbering() -> None:
    head = view.radar_head_markdown("diffusion", date(2026, 6, 30), first=4, shown=2, total=6, remaining=1)
    assert head == (
        "**Radar: diffusion** · latest listing day: 30 June 2026 · papers 4–5 of 6 · 1 more unseen"
    )
    nothing = view.radar_head_markdown("diffusion", date(2026, 6, 30), first=1, shown=0, total=0, remaining=0)
    assert nothing == "**Radar: diffusion** · latest listing day: 30 June 2026"
    assert "batch 0" not in nothing and "0 papers" not in nothing
    long = make_paper(abstract="word " * 200 + ". Second sentence.")
    assert len(view.paper_gist(long)) <= view.GIST_CHARS + 2 and view.paper_gist(long).endswith(" …")


def radar_week() -> list[ListedPaper]:
    """Four papers of a radar week, numbered in feed order: matches, days and fields all differ in order."""
    gist = "We study sparse attention. It scales to long documents."
    papers = [
        make_paper(id="2606.00001", title="Beta", published=date(2026, 6, 2), categories=["cs.LG"]),
        make_paper(id="2606.00002", title=EVIL_TITLE, published=date(2026, 6, 5), categories=["cs.CV"]),
        make_paper(id="2606.00003", title="Gamma", published=date(2026, 6, 1), categories=["cs.LG"]),
        make_paper(id="2606.00004", title="Delta", published=date(2026, 6, 3), categories=["cs.CL"]),
    ]
    papers = [paper.model_copy(update={"abstract": gist}) for paper in papers]
    hits = [Hit(paper, 0.0, match) for paper, match in zip(papers, (0.41, 0.77, 0.58, 0.35), strict=True)]
    ranks = {paper.id: rank for rank, paper in enumerate(papers, start=1)}
    return list_view.radar_listed(hits, ranks, {"2606.00004": "Ada Lovelace"})


def shown_ranks(markdown: str) -> list[int]:
    return [int(n) for n in re.findall(r"^- (\d+)\\\. ", markdown, re.MULTILINE)]


def test_a_radar_list_is_one_message_sorted_by_match_date_or_field() -> None:
    week = radar_week()
    by_match = list_view.radar_list_markdown("New on “x”: 4 papers", week, "match")
    assert by_match.startswith("**New on “x”: 4 papers** · best match first\n\n")
    assert shown_ranks(by_match) == [2, 3, 1, 4]  # 0.77, 0.58, 0.41, 0.35: each keeps its feed number
    by_date = list_view.radar_list_markdown("h", week, "date")
    assert shown_ranks(by_date) == [2, 4, 1, 3] and by_date.startswith("**h** · newest first")
    by_field = list_view.radar_list_markdown("h", week, "field")
    # The largest field first (cs.LG: two papers, best first), then the others by name (cs.CL, cs.CV).
    assert shown_ranks(by_field) == [3, 1, 4, 2]
    # Anything else a client sends is by match.
    assert list_view.radar_list_markdown("h", week, "title; drop") == list_view.radar_list_markdown(
        "h", week, "match"
    )
    assert [list_view.sort_name(v) for v in ("date", "field", "x", None, 3)] == [
        "date",
        "field",
        "match",
        "match",
        "match",
    ]


def test_a_radar_list_line_has_title_gist_match_date_field_and_only_our_own_link() -> None:
    week = radar_week()
    lines = list_view.radar_list_markdown("h", week, "match").split("\n")
    evil = next(i for i, line in enumerate(lines) if line.startswith("- 2\\. "))
    line, gist = lines[evil], lines[evil + 1]
    assert "<script>" not in line and "[1](" not in line  # the title is literal text, never a link
    assert "2026-06-05, cs.CV · match 0.77 · [arXiv 2606.00002](https://arxiv.org/abs/2606.00002)" in line
    assert line.endswith("  ") and gist == "  We study sparse attention."  # the gist: a line of its own
    assert re.findall(r"https?://[^>)\s]+", "\n".join(lines)) == [
        f"https://arxiv.org/abs/2606.0000{n}" for n in (2, 3, 1, 4)
    ]
    followed = next(line for line in lines if line.startswith("- 4\\. "))
    assert "*by followed author Ada Lovelace*" in followed
    html = MarkdownIt("commonmark").render(list_view.radar_list_markdown("h", week, "match"))
    assert html.count("<li>") == 4 and "<br />\nWe study sparse attention." in html and "<script>" not in html


def test_a_long_radar_week_pages_and_groups_by_field_only_when_sorted_by_field() -> None:
    papers = [
        make_paper(id=f"2606.{n:05d}", title=f"Paper {n}", categories=["cs.LG" if n % 2 else "cs.CV"])
        for n in range(30)
    ]
    hits = [Hit(paper, 0.0, 0.9 - n / 100) for n, paper in enumerate(papers)]
    week = list_view.radar_listed(hits, {p.id: n for n, p in enumerate(papers, start=1)})
    second = list_view.radar_list_markdown("h", week, "match", page=1)
    assert second.startswith("**h: 26–30 (page 2 of 2)** · best match first")
    assert shown_ranks(second) == [26, 27, 28, 29, 30] and "###" not in second
    assert "###" not in list_view.radar_list_markdown("h", week, "date")
    grouped = list_view.radar_list_markdown("h", week, "field")
    assert "### Computer Vision and Pattern Recognition (cs.CV) (15)" in grouped


def test_export_all_holds_every_paper_of_the_week_with_match_and_gist() -> None:
    week = radar_week()
    files = {f.mime: f for f in list_view.week_export_files("image diffusion", week)}
    assert [f.name for f in files.values()] == [
        "radar-image-diffusion.md",
        "radar-image-diffusion.bib",
        "radar-image-diffusion.csv",
    ]
    markdown = files["text/markdown"].content
    assert markdown.startswith("# Radar: image diffusion: 4 papers\n")
    assert all(f"(https://arxiv.org/abs/2606.0000{n})" in markdown for n in range(1, 5))
    assert files["application/x-bibtex"].content.count("@misc{") == 4
    rows = list(csv.reader(io.StringIO(files["text/csv"].content)))
    assert rows[0][-2:] == ["match", "gist"] and len(rows) == 5
    assert [row[0] for row in rows[1:]] == ["2", "3", "1", "4"] and rows[1][-2] == "0.7700"
    assert rows[1][-1] == "We study sparse attention."
    with reply_in("zh-CN"):
        labels = [t(list_view.WEEK_EXPORT_LABELS[mime]) for mime in files]
    assert labels == ["全部导出（Markdown）", "全部导出（BibTeX）", "全部导出（CSV）"]


def test_track_under_a_radar_question_proposes_its_topic_not_its_wording() -> None:
    assert view.track_topic("what's new on diffusion models?") == "diffusion models"
    assert view.track_topic("Which papers since June 3 use diffusion models?") == "diffusion models"
    assert view.track_topic("tell me about graph neural networks for molecules") == (
        "graph neural networks for molecules"
    )
    assert view.track_topic("diffusion models") == "diffusion models"


def test_notices_become_a_quote_above_the_text() -> None:
    assert view.notices_markdown(["LLM unreachable: fell back to extractive mode."]).startswith("> ")
    assert view.notices_markdown(["", "  "]) == ""


# --- settings -> filters ---------------------------------------------------------------------------


def test_settings_become_a_paper_filter() -> None:
    prefs = view.prefs_from_settings(
        {
            "fields": ["cs.LG", "q-bio"],
            "since": "2026-06-01",
            "until": " 2026-06-10 ",
            "k": 5.0,
            "use_llm": False,
        },
        known_fields=["cs", "cs.LG", "q-bio"],
        default_k=8,
        llm_configured=True,
    )
    assert prefs == view.ChatPrefs(("cs.LG", "q-bio"), date(2026, 6, 1), date(2026, 6, 10), 5, False)
    flt = prefs.paper_filter(exclude_ids=["2606.00001"])
    assert flt.categories == ("cs.LG", "q-bio") and flt.since == date(2026, 6, 1)
    assert flt.exclude_ids == frozenset({"2606.00001"})
    assert "fields: cs.LG, q-bio" in prefs.describe() and "5 sources" in prefs.describe()


def test_model_switch_is_ignored_without_a_configured_model() -> None:
    prefs = view.prefs_from_settings({"use_llm": True, "k": 50}, [], 8, llm_configured=False)
    assert prefs.use_llm is None and prefs.k == view.MAX_SOURCES and prefs.fields == ()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"since": "June 1st"}, "is not a date"),
        ({"since": "2026-06-10", "until": "2026-06-01"}, "inverted"),
        ({"fields": ["cs.XX"]}, "unknown field"),
        ({"k": "many"}, "not a number"),
    ],
)
def test_bad_settings_say_what_to_type(values: dict[str, object], message: str) -> None:
    with pytest.raises(view.SettingsError, match=message):
        view.prefs_from_settings(values, ["cs", "cs.LG"], 8, llm_configured=False)


def test_field_choices_list_whole_fields_then_categories_by_size() -> None:
    # 35 cs papers: 5 of them are listed in both cs.LG and cs.CL (40 memberships).
    items = view.field_choices({"cs.LG": 30, "cs.CL": 10, "q-bio.NC": 5}, {"cs": 35, "q-bio": 5})
    assert list(items.values()) == ["cs", "q-bio", "cs.LG", "cs.CL", "q-bio.NC"]
    # Readable names with the code, and papers counted once per field (not category memberships).
    assert "Computer Science (cs): all, 35 papers" in items
    assert "Machine Learning (cs.LG): 30 papers" in items
    assert "Neurons and Cognition (q-bio.NC): 5 papers" in items
    assert not any("40" in label for label in items)


def test_active_filters_show_as_chips_with_readable_names() -> None:
    assert view.filter_chips(view.ChatPrefs()) == ""
    chips = view.filter_chips(view.ChatPrefs(fields=("cs.LG",), since=date(2026, 6, 1)))
    assert chips == "Filters: `Machine Learning (cs.LG)` `since 2026-06-01`"
    radar = view.ChatPrefs(k=3).describe("count.per_batch")
    assert radar.endswith("3 papers per batch") and "sources" not in radar
    assert view.ChatPrefs(k=1).describe().endswith("1 source")


def test_a_refused_settings_change_names_the_fields_and_dates_still_in_force() -> None:
    assert view.settings_in_force(view.ChatPrefs()) == "all fields; any date"
    kept = view.settings_in_force(view.ChatPrefs(fields=("cs.LG",), since=date(2026, 6, 1)))
    assert kept == "fields: Machine Learning (cs.LG); dates: 2026-06-01 to …"
    with reply_in("zh-CN"):
        assert "；" in view.settings_in_force(view.ChatPrefs(until=date(2026, 6, 30)))


def test_active_filters_go_to_the_page_as_a_window_message_for_the_chips_beside_the_input() -> None:
    assert view.filters_window_message(view.ChatPrefs(k=5)) == {
        "type": "academichub:filters",
        "label": "Filters:",
        "chips": [],  # no filters: the page shows no chip row
    }
    both = view.ChatPrefs(fields=("cs.LG", "math"), since=date(2026, 6, 1), until=date(2026, 6, 30))
    message = view.filters_window_message(both)
    assert message["chips"] == [
        "Machine Learning (cs.LG)",
        "Mathematics (math)",
        "since 2026-06-01",
        "until 2026-06-30",
    ]
    assert json.loads(json.dumps(message)) == message  # Chainlit sends it over the websocket as JSON
    with reply_in("zh-CN"):
        chinese = view.filters_window_message(view.ChatPrefs(since=date(2026, 6, 1)))
    assert chinese["label"] == "筛选：" and chinese["chips"] == ["2026-06-01 起"]


# --- exports ---------------------------------------------------------------------------------------


def test_markdown_export_has_text_and_linked_references() -> None:
    doc = view.export_markdown("What is sparse attention?", "It is sparse [1].", [(1, make_paper())])
    assert doc.startswith("# What is sparse attention?\n")
    assert "It is sparse [1]." in doc
    assert "[1] Ada Lovelace, Alan Turing, Grace Hopper, Edsger Dijkstra. *Sparse Attention" in doc
    assert "<https://arxiv.org/abs/2606.01234>" in doc


def test_markdown_export_has_one_full_stop_after_et_al_and_marks_uncited_references() -> None:
    many = make_paper(authors=["Jie Tan", *(f"Author {i}" for i in range(7))], title="MLUBench")
    other = make_paper(id="2606.04321", title="Not Quoted")
    doc = view.export_markdown("q", "MLUBench measures it [1].", [(1, many), (2, other)])
    assert "Author 4 et al. *MLUBench*" in doc and "et al.." not in doc
    first, second = (line for line in doc.splitlines() if line.startswith(("[1]", "[2]")))
    assert "not cited" not in first and second.endswith("*(listed, not cited in the text)*")
    # A text that cites nothing (a list page) marks none.
    assert "not cited" not in view.export_markdown("q", "A list.", [(1, many), (2, other)])


def test_briefing_references_show_once_in_the_chat_and_in_the_export() -> None:
    briefing = (
        "# Briefing: x\n\n## Overview\n\nSparse [1].\n\n## References\n\n1. Ada. *Sparse*. arXiv:2606.01234\n"
    )
    text = view.without_references(briefing)
    assert text == "# Briefing: x\n\n## Overview\n\nSparse [1].\n"
    assert view.export_markdown("x", text, [(1, make_paper())]).count("## References") == 1
    assert view.without_references("No references here [1].") == "No references here [1]."


def test_bibtex_export_is_one_entry_per_paper_with_escaped_fields() -> None:
    papers = [make_paper(title="Costs & 50% gains_v2"), make_paper(), make_paper(id="2606.00002", authors=[])]
    bib = view.export_bibtex(papers)
    assert bib.count("@misc{") == 2
    assert "@misc{lovelace2026costs," in bib  # keys as in a briefing's BibTeX: surname, year, title word
    assert r"title = {{Costs \& 50\% gains\_v2}}" in bib
    assert "author = {Ada Lovelace and Alan Turing and Grace Hopper and Edsger Dijkstra}" in bib
    assert (
        "eprint = {2606.01234}" in bib
        and "archivePrefix = {arXiv}" in bib
        and "primaryClass = {cs.CL}" in bib
    )
    assert bib.count("{") == bib.count("}")


def test_export_file_names_are_safe_slugs() -> None:
    assert view.slug("What's new in <LLM> agents?!") == "what-s-new-in-llm-agents"
    assert view.slug("???") == "academichub"


def test_export_file_names_are_cut_at_a_word_boundary() -> None:
    name = view.slug("Briefing: graph neural networks for materials discovery and beyond")
    assert name == "briefing-graph-neural-networks-for-materials"  # not "...-materials-discover"
    assert len(name) <= 48
    assert view.slug("x" * 60) == "x" * 48  # one overlong word: its start, not nothing


def test_markdown_export_has_the_title_once_and_no_app_notices() -> None:
    briefing = "# Briefing: diffusion models\n\n## Overview\n\nDiffusion [1].\n"
    files = view.export_files("Briefing: diffusion models", briefing, [(1, make_paper())], None)
    markdown, bibtex = files
    assert (markdown.name, bibtex.name) == ("briefing-diffusion-models.md", "briefing-diffusion-models.bib")
    assert markdown.content.count("# Briefing: diffusion models") == 1
    assert "ℹ" not in markdown.content and "> " not in markdown.content
    assert "## Overview" in markdown.content and "@misc{" in bibtex.content


# --- sources under an answer, the retrieval step ---------------------------------------------------


def listed(number: int, match: float) -> view.ListedSource:
    return view.ListedSource(number, make_paper(id=f"2606.0000{number}", title=f"Paper {number}"), match)


def test_cited_sources_are_listed_first_and_unused_weak_ones_are_dropped() -> None:
    sources = [listed(1, 0.62), listed(2, 0.55), listed(3, 0.50), listed(4, 0.47), listed(5, 0.36)]
    cited, also = view.listed_sources("A [1]. B [4]. C [2].", sources)
    assert [s.number for s in cited] == [1, 2, 4]
    # [3] matches better than the weakest cited (0.47); [5] (0.36) is far below it: dropped.
    assert [s.number for s in also] == [3]
    listing = view.sources_list_markdown(
        [(s.number, s.paper) for s in cited], [(s.number, s.paper) for s in also]
    )
    assert listing.index("[4]") < listing.index("Also relevant (not quoted)") < listing.index("[3]")
    assert "Paper 5" not in listing
    # Nothing cited (nothing found): every source stays listed.
    assert view.listed_sources("I could not find this.", sources) == (sources, [])


def test_retrieval_step_lists_papers_in_rank_order_and_says_what_match_means() -> None:
    hits = [
        (1, make_paper(id="2606.00001", title="First"), 0.031, 0.42),
        (2, make_paper(id="2606.00002", title="Second"), 0.020, 0.41),
        (3, make_paper(id="2606.00003", title="Third"), 0.029, 0.31),
    ]
    text = view.retrieval_output_markdown(hits)
    assert text.startswith("3 papers found, best ranked first")
    assert "match = meaning similarity" in text
    assert text.index("First") < text.index("Third") < text.index("Second")
    assert "1. [1] First" in text and "2. [3] Third" in text
    assert view.retrieval_output_markdown(hits[:1]).startswith("1 paper found")
    assert view.retrieval_output_markdown([]) == "no matching papers"


def test_the_page_loads_no_third_party_fonts_or_stylesheets() -> None:
    from assistant.ui.offline_page import without_third_party_links

    chainlit_page = (
        '<head><link rel="preconnect" href="https://fonts.googleapis.com" />\n'
        '<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin />\n'
        '<link\n  href="https://fonts.googleapis.com/css2?family=Inter&display=swap"\n'
        '  rel="stylesheet"\n/>\n'
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/katex@0.16.22/dist/katex.min.css" />\n'
        '<link rel="stylesheet" crossorigin href="/assets/index.css"></head>'
    )
    page = without_third_party_links(chainlit_page)
    assert "googleapis" not in page and "gstatic" not in page and "jsdelivr" not in page
    assert 'href="/assets/index.css"' in page


# --- login users -----------------------------------------------------------------------------------


def test_hashed_users_log_in_and_wrong_passwords_do_not() -> None:
    line = f"alice:{hash_password('correct horse')}, bob:{hash_password('battery')}"
    users = parse_auth_users(line)
    assert set(users) == {"alice", "bob"}
    assert check_password(users, "alice", "correct horse")
    assert not check_password(users, "alice", "battery")
    assert not check_password(users, "mallory", "battery")
    assert parse_auth_users("") == {}


@pytest.mark.parametrize("spec", ["alice", "alice:plaintext", ":$2b$12$" + "x" * 53])
def test_malformed_user_lists_are_explained(spec: str) -> None:
    with pytest.raises(AuthConfigError, match="ACADEMICHUB_AUTH_USERS"):
        parse_auth_users(spec)


def test_hash_password_command_prints_a_usable_line() -> None:
    result = CliRunner().invoke(app, ["hash-password", "alice", "--password-stdin"], input="s3cret\n")
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().splitlines()[0]
    assert check_password(parse_auth_users(line), "alice", "s3cret")


def test_serve_refuses_login_without_a_secret(
    monkeypatch: pytest.MonkeyPatch, use_home, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ACADEMICHUB_AUTH_USERS", f"alice:{hash_password('pw')}")
    monkeypatch.delenv("CHAINLIT_AUTH_SECRET", raising=False)
    use_home(tmp_path)
    result = CliRunner().invoke(app, ["serve", "--port", "8123"])
    assert result.exit_code == 2
    assert "CHAINLIT_AUTH_SECRET" in result.output


def test_each_server_keeps_its_files_apart_from_other_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chainlit deletes its files folder when a server stops: two servers must not share one."""
    import chainlit.config
    import chainlit.server

    for module in (chainlit.config, chainlit.server):  # restored after the test
        monkeypatch.setattr(module, "FILES_DIRECTORY", module.FILES_DIRECTORY)
    first = use_private_files_dir()
    second = use_private_files_dir()
    try:
        assert first != second and first.is_dir() and second.is_dir()
        assert chainlit.config.FILES_DIRECTORY == chainlit.server.FILES_DIRECTORY == second
        assert app_root() not in second.parents
    finally:
        first.rmdir()
        second.rmdir()


def test_app_root_holds_the_welcome_screen_and_config() -> None:
    root = app_root()
    assert "AcademicHub" in (root / "chainlit.md").read_text(encoding="utf-8")
    assert 'name = "AcademicHub"' in (root / ".chainlit" / "config.toml").read_text(encoding="utf-8")


# --- chat history ----------------------------------------------------------------------------------


def test_chat_history_tables_work_with_chainlits_sqlalchemy_data_layer(tmp_path: Path) -> None:
    from chainlit.context import init_http_context
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
    from chainlit.types import Pagination, ThreadFilter
    from chainlit.user import User

    path = ensure_tables(tmp_path / "chat.sqlite3")
    ensure_tables(path)  # idempotent

    async def roundtrip() -> dict:
        init_http_context(thread_id="t-1")  # the data layer's writes run inside a Chainlit context
        layer = SQLAlchemyDataLayer(conninfo=conninfo(path))
        user = await layer.create_user(User(identifier="alice"))
        assert user is not None
        await layer.update_thread("t-1", name="Sparse attention", user_id=user.id)
        for step_id, kind, text, metadata in [
            ("s-1", "user_message", "what is sparse attention?", {}),
            ("s-2", "assistant_message", "It is sparse [1].", {view.TURN_KEY: turn.to_dict()}),
            ("s-3", "user_message", "and dense?", {}),
            ("s-4", "assistant_message", "Dense is not [1].", {}),  # saved before turns were stored
        ]:
            await layer.create_step(
                {
                    "id": step_id,
                    "threadId": "t-1",
                    "name": "x",
                    "type": kind,  # type: ignore[typeddict-item]
                    "streaming": False,
                    "output": text,
                    "metadata": metadata,
                    "createdAt": "2026-06-03T10:00:00Z",
                    "start": "2026-06-03T10:00:00Z",
                    "end": "2026-06-03T10:00:01Z",
                }
            )
        thread = await layer.get_thread("t-1")
        threads = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=user.id))
        await layer.engine.dispose()
        assert [t["id"] for t in threads.data] == ["t-1"]
        return dict(thread or {})

    turn = Turn(
        "what is sparse attention?", "What is sparse attention?", "It is sparse [1].", ((1, "2606.00001"),)
    )
    thread = asyncio.run(roundtrip())
    assert thread["name"] == "Sparse attention"
    assert [s["output"] for s in thread["steps"]][:2] == ["what is sparse attention?", "It is sparse [1]."]
    # A resumed chat gets its turns back as they were shown: the numbered sources are ids, not a new search.
    assert view.turns_of(thread["steps"]) == [turn, Turn("and dense?", "and dense?", "Dense is not [1].")]


def test_errors_read_as_sentences_not_tracebacks() -> None:
    from assistant.compose.llm import LLMError
    from assistant.search.retrieval import EmptyIndexError, RetrievalError
    from assistant.store.embedding import EncoderMismatchError

    empty, expected = view.readable_error(EmptyIndexError("the index is empty"))
    assert expected and "academichub ingest" in empty
    unknown, expected = view.readable_error(RetrievalError("unknown category: 'q-bio.XX' *bold*"))
    assert expected and unknown.startswith("**Cannot do that:**") and r"\*bold\*" in unknown
    llm, expected = view.readable_error(LLMError("the endpoint answered 401"))
    assert expected and "language model failed" in llm
    mismatch, expected = view.readable_error(EncoderMismatchError("index built with another encoder"))
    assert expected and "index cannot be used" in mismatch
    surprise, expected = view.readable_error(KeyError("x"))
    assert not expected and "Something went wrong" in surprise and "KeyError" in surprise


def test_a_failing_chat_handler_reports_the_error_and_keeps_its_signature(monkeypatch):
    """Chainlit passes arguments by the handler's parameter names: the wrapper must keep them."""
    import inspect

    import assistant.ui.chat.streaming as chat_app
    from assistant.search.retrieval import RetrievalError

    reported: list[BaseException] = []

    async def record(err: BaseException) -> None:
        reported.append(err)

    monkeypatch.setattr(chat_app, "send_error", record)

    @chat_app.reports_errors
    async def handler(action: object) -> None:
        raise RetrievalError(f"no papers for {action}")

    assert list(inspect.signature(handler).parameters) == ["action"]
    asyncio.run(handler(action="x"))
    assert [str(e) for e in reported] == ["no papers for x"]


def test_the_fields_list_counts_papers_not_category_memberships(tmp_path: Path) -> None:
    """A real catalog: a paper listed in cs.LG and cs.CL counts once for cs."""
    from assistant.store.catalog import Catalog

    catalog = Catalog(tmp_path / "catalog.sqlite3")
    try:
        catalog.upsert(
            [
                make_paper(id="2606.00001", categories=["cs.LG", "cs.CL"]),
                make_paper(id="2606.00002", categories=["cs.LG", "stat.ML"]),
                make_paper(id="2606.00003", categories=["q-bio.NC"]),
            ]
        )
        archives, categories = catalog.archive_paper_counts(), catalog.known_categories()
    finally:
        catalog.close()
    assert archives == {"cs": 2, "stat": 1, "q-bio": 1}
    assert categories["cs.LG"] == 2
    items = view.field_choices(categories, archives)
    assert "Computer Science (cs): all, 2 papers" in items
    assert "Statistics (stat): all, 1 paper" in items


def test_flagged_model_sentences_are_listed_under_the_answer_without_links() -> None:
    uncited = "Unlearning is solved [see](http://evil.example) <b>forever</b>."
    unsupported = "Volcanoes on Mars follow an eleven-year cycle [1]."
    shown = view.flagged_markdown([uncited, unsupported], [uncited])
    assert "Flagged sentences" in shown
    lines = shown.splitlines()
    assert any("cites no source" in line and "Unlearning is solved" in line for line in lines)
    assert any("not supported by the cited abstract" in line and "Volcanoes" in line for line in lines)
    assert "](http" not in shown and "<b>" not in shown  # no link, no tag from model text
    assert "evil.example" not in shown  # a link's target goes, its words stay
    assert view.flagged_suffix([], []) == "" and view.flagged_suffix([unsupported], []).startswith("\n\n")


def test_the_model_name_warning_is_a_quoted_note() -> None:
    shown = view.model_warning_markdown("the server does not list the model 'x' [1](javascript:alert(1))")
    assert shown.startswith("> ⚠️ **Language model:**") and "\\[1\\](javascript" in shown  # literal


def test_a_briefing_keeps_every_source_listed_cited_ones_first() -> None:
    sources = [listed(1, 0.62), listed(2, 0.55), listed(3, 0.30)]
    cited, also = view.listed_sources("B [2].", sources, drop_weak=False)
    assert [s.number for s in cited] == [2] and [s.number for s in also] == [1, 3]


def test_starters_come_from_the_most_frequent_title_topics() -> None:
    from assistant.search.topics import frequent_topics

    titles = [
        "Diffusion Models for Images",
        "Faster diffusion models",
        "Diffusion models in physics",
        "Graph neural networks for molecules",
        "Graph neural networks at scale",
        "Federated averaging once",
    ]
    assert frequent_topics(titles, min_papers=2) == ["diffusion models", "graph neural"]
    assert frequent_topics(titles, min_papers=3) == ["diffusion models"]  # never a topic the index lacks


def test_the_markdown_export_names_a_biorxiv_paper_by_its_doi_not_as_arxiv() -> None:
    preprint = make_paper(id="10.1101/2026.05.27.728076", source="biorxiv", version=2, categories=[])
    exported = view.export_markdown("Question", "Answer [1].", [(1, preprint), (2, make_paper())])
    assert "bioRxiv doi:10.1101/2026.05.27.728076" in exported
    assert "arXiv:10.1101" not in exported and "arXiv:2606.01234" in exported


def test_a_follow_up_refers_only_to_the_sources_the_app_listed() -> None:
    """Reviewer M6: the app lists the cited sources and the "also relevant" ones; the turn it stores for
    follow-ups holds exactly those, numbered as shown, so "the last one" is the last listed paper (not a
    weak source the list dropped) and "these" never reaches a paper the user did not see."""
    from assistant.compose.follow_up import rewrite_follow_up
    from assistant.compose.model import Answer, Source
    from assistant.search.hit import Hit
    from assistant.ui.chat.ask import listed_turn

    papers = [make_paper(id=f"2606.0000{n}", title=f"Paper {n}") for n in range(1, 6)]
    matches = [0.62, 0.55, 0.50, 0.47, 0.36]  # [5] is far below the weakest cited one: not listed
    pairs = enumerate(zip(papers, matches, strict=True), start=1)
    sources = [Source(n, Hit(p, 1.0 / n, m)) for n, (p, m) in pairs]
    answer = Answer("q?", "q?", "A [1]. B [4]. C [2].", sources, "extractive", True)
    turn = listed_turn(answer)
    assert turn.sources == (
        (1, "2606.00001"),
        (2, "2606.00002"),
        (3, "2606.00003"),
        (4, "2606.00004"),
    )
    assert Turn.from_dict(turn.to_dict()) == turn  # what a resumed chat reads back
    shown = [(n, p) for n, p in enumerate(papers, start=1) if n in dict(turn.sources)]
    last = rewrite_follow_up("tell me more about the last one", "q?", answer.text, shown)
    assert "Paper 4" in last.question and last.only_ids == {"2606.00004"}
    these = rewrite_follow_up("which of these use attention?", "q?", answer.text, shown)
    assert these.only_ids == {p.id for p in papers[:4]}
    # The CLI and JSON list every source: their turn keeps them all.
    assert [n for n, _ in answer.turn.sources] == [1, 2, 3, 4, 5]
