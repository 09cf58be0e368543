"""arXiv and bioRxiv papers in one index (real SQLite, Chroma and the packaged model): file ingest of bioRxiv
days beside arXiv sample papers, search filters by source and author, one result for one work on two
servers, a cross-field briefing over cs.LG + biorxiv, a follow-up and a radar topic over the mixed index."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import DATA_DIR, make_settings, sample_records, write_jsonl
from test_briefing import parse_bibtex, sections_of
from typer.testing import CliRunner

from assistant.compose.answer import Answerer
from assistant.compose.briefing import Briefer
from assistant.compose.citations import cited_numbers
from assistant.core.fields import label
from assistant.core.settings import Settings
from assistant.engine import build_radar, build_retriever
from assistant.search.retrieval import make_filter
from assistant.store.embedding import Embedder
from assistant.ui.cli import app
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

BIORXIV_DAYS = sorted((DATA_DIR / "biorxiv" / "daily").glob("*.jsonl"))
TWIN_ID = "2606.99901"


def twin_on_arxiv(folder: Path) -> tuple[Path, dict]:
    """An arXiv listing of a bioRxiv paper (same title, authors written the arXiv way): the same work."""
    record = json.loads((DATA_DIR / "biorxiv" / "daily" / "2026-06-12.jsonl").read_text().splitlines()[0])
    names = [f"{given} {surname}" for surname, given in (a.split(", ", 1) for a in record["authors"][:3])]
    arxiv = {
        "id": TWIN_ID,
        "title": record["title"],
        "summary": record["summary"],
        "authors": names,
        "categories": ["q-bio.BM", "cs.LG"],
        "date": "2026-06-12",
    }
    return write_jsonl(folder / "twin.jsonl", [arxiv]), record


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[Settings, dict]:
    folder = tmp_path_factory.mktemp("mixed")
    # The first 60 sample papers, and one cs.LG paper on biological foundation models (sample paper 301).
    records = sample_records()
    arxiv = write_jsonl(folder / "arxiv.jsonl", [*records[:60], records[301]])
    twin, record = twin_on_arxiv(folder)
    settings = make_settings(folder / "home")
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        summary = ingestor.run(file_runs([arxiv, *BIORXIV_DAYS[:-1], twin]))
    finally:
        ingestor.close()
    assert summary.skipped == 0 and summary.new == 61 + 18 + 1
    return settings, record


def test_sources_and_authors_filter_across_servers(mixed: tuple[Settings, dict], embedder: Embedder) -> None:
    settings, _ = mixed
    retriever = build_retriever(settings, embedder=embedder)
    assert retriever.catalog.source_counts() == {"arxiv": 62, "biorxiv": 18}
    biorxiv = retriever.search(
        "molecular dynamics of proteins", k=5, paper_filter=make_filter(sources=["biorxiv"])
    )
    assert biorxiv and all(h.paper.abs_url.startswith("https://www.biorxiv.org/content/10.") for h in biorxiv)
    # "Gökbuget, N." is shown as "N. Gökbuget" and found without the accent, in any case.
    by_author = retriever.search("leukemia", k=5, paper_filter=make_filter(author="gokbuget"))
    assert by_author and "N. Gökbuget" in by_author[0].paper.authors
    as_listed = retriever.search("leukemia", k=5, paper_filter=make_filter(author="GÖKBUGET, N."))
    assert [h.paper.id for h in as_listed] == [h.paper.id for h in by_author]


def test_one_work_on_two_servers_is_one_result_with_both_links(
    mixed: tuple[Settings, dict], embedder: Embedder
) -> None:
    settings, record = mixed
    retriever = build_retriever(settings, embedder=embedder)
    hits = retriever.search(record["title"], k=5)
    ids = [h.paper.id for h in hits]
    assert len(hits) == 5
    assert (TWIN_ID in ids) != (record["doi"] in ids)  # one of the two, never both
    top = hits[0]
    assert {top.paper.source, *(p.source for p in top.also)} == {"arxiv", "biorxiv"}
    links = {top.paper.abs_url, *(p.abs_url for p in top.also)}
    assert links == {f"https://arxiv.org/abs/{TWIN_ID}", f"https://www.biorxiv.org/content/{record['doi']}"}


def test_cross_field_briefing_over_cs_lg_and_biorxiv(
    mixed: tuple[Settings, dict], embedder: Embedder
) -> None:
    settings, _ = mixed
    briefer = Briefer(settings, build_retriever(settings, embedder=embedder))
    briefing = briefer.brief(
        "machine learning for protein structure", fields=["cs.LG", "biorxiv"], per_field=3
    )
    sections = sections_of(briefing.markdown)
    assert list(sections)[1:3] == [label("cs.LG"), label("biorxiv")]  # readable field names
    for name, host in (("cs.LG", "https://arxiv.org/abs/"), ("biorxiv", "https://www.biorxiv.org/content/")):
        numbers = cited_numbers(sections[label(name)])
        assert numbers, f"section {name} cites nothing"
        for n in numbers:
            paper = briefing.sources[n - 1].paper
            assert paper.abs_url.startswith(host)
            assert f"[abs]({paper.abs_url})" in sections["References"]
    biorxiv_refs = [s.paper for s in briefing.sources if s.paper.source == "biorxiv"]
    assert biorxiv_refs and f"bioRxiv doi:{biorxiv_refs[0].id}" in sections["References"]
    entries = {e["url"]: e for e in parse_bibtex(briefing.to_bibtex())}
    entry = entries[biorxiv_refs[0].abs_url]
    assert entry["ENTRYTYPE"] == "article" and entry["journal"] == "bioRxiv"
    assert entry["doi"] == biorxiv_refs[0].id


def test_a_follow_up_over_the_mixed_index_is_about_the_paper_shown(
    mixed: tuple[Settings, dict], embedder: Embedder
) -> None:
    settings, _ = mixed
    answerer = Answerer(settings, build_retriever(settings, embedder=embedder))
    question = "How are molecular dynamics simulations used to study proteins?"
    first = answerer.answer(question)
    assert first.found and any(s.paper.source == "biorxiv" for s in first.sources)
    second = first.sources[1].paper
    follow = answerer.answer("tell me more about the second one", history=[first.turn])
    assert [s.paper.id for s in follow.sources] == [second.id]
    payload = follow.to_dict()["sources"][0]
    assert payload["abs_url"] == second.abs_url
    if second.source == "biorxiv":
        assert payload["source"] == "biorxiv" and payload["doi"] == second.id


def test_a_radar_topic_on_biorxiv_shows_biorxiv_cards(
    mixed: tuple[Settings, dict], embedder: Embedder, tmp_path: Path
) -> None:
    home = Path(shutil.copytree(mixed[0].storage.home, tmp_path / "home"))
    settings = make_settings(home)
    radar = build_radar(settings, build_retriever(settings, embedder=embedder))
    radar.add_topic("simulations", "molecular dynamics simulation of proteins", fields=["biorxiv"])
    radar.feed("simulations", batch=5)
    ingestor = open_ingestor(settings, embedder=embedder)  # the next bioRxiv day arrives
    try:
        ingestor.run(file_runs(BIORXIV_DAYS[-1:]))
    finally:
        ingestor.close()
    new_ids = {json.loads(line)["doi"] for line in BIORXIV_DAYS[-1].read_text().splitlines()}
    feed = radar.feed("simulations", batch=5)
    assert {h.paper.id for h in feed.items} <= new_ids
    assert feed.items and all(h.paper.source == "biorxiv" for h in feed.items)
    items = feed.to_dict()["items"]
    assert all(re.match(r"https://www\.biorxiv\.org/content/10\.\d+/", i["abs_url"]) for i in items)
    assert all(i["source"] == "biorxiv" and i["fields"] == ["biorxiv"] for i in items)


def test_search_cli_shows_one_work_with_both_links_and_names_bad_sources(
    mixed: tuple[Settings, dict], use_home
) -> None:
    settings, record = mixed
    use_home(settings.storage.home)
    runner = CliRunner()
    shown = runner.invoke(app, ["search", record["title"], "--k", "3"])
    assert shown.exit_code == 0, shown.output
    assert "also on" in shown.output and record["doi"] in shown.output and TWIN_ID in shown.output
    as_json = runner.invoke(app, ["search", record["title"], "--k", "3", "--json"])
    top = json.loads(as_json.output)["results"][0]
    assert {top["id"], top["also"][0]["id"]} == {TWIN_ID, record["doi"]}
    bad = runner.invoke(app, ["search", "proteins", "--source", "chemrxiv"])
    assert bad.exit_code != 0 and "unknown source 'chemrxiv'" in bad.output


@pytest.mark.parametrize("titles", [("∑∑∑", "★"), ("Reply", "reply."), ("", "")])
def test_titles_folding_to_nothing_or_almost_nothing_never_make_two_works_one(
    titles: tuple[str, str],
) -> None:
    from assistant.core.paper import Paper
    from assistant.search.same_work import same_work

    on_arxiv = Paper(id="2606.00005", title=titles[0], abstract="a", authors=["Ada Smith"])
    on_biorxiv = Paper(
        id="10.1101/2026.05.27.728076", source="biorxiv", title=titles[1], abstract="b", authors=["Bo Smith"]
    )
    assert not same_work(on_arxiv, on_biorxiv)
    retitled = on_biorxiv.model_copy(update={"title": "Sparse attention, for long documents"})
    assert same_work(on_arxiv.model_copy(update={"title": "Sparse Attention for Long Documents"}), retitled)
