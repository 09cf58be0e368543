"""A radar topic from a reference library (tests/data/library: 32 real June-2026 papers on LLM agents, in
BibTeX, RIS and CSL-JSON; see build.py there). The index holds 24 of them (listed 06-01 .. 06-24) and the
bundled sample's last listing day, 2026-06-30 (32 papers): the topic's first visit is that day.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import DATA_DIR, make_settings, sample_records, write_jsonl
from typer.testing import CliRunner

from assistant.engine import build_radar, build_retriever
from assistant.radar.library import LibraryError, read_library
from assistant.radar.service import Radar
from assistant.store.embedding import Embedder
from assistant.ui.cli import app
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

LIBRARY = DATA_DIR / "library"
FORMATS = {"bibtex": "agents.bib", "ris": "agents.ris", "csl-json": "agents.json"}
OUTSIDE = set((LIBRARY / "outside_ids.txt").read_text().split())
HAND_TYPED = {"2606.03030", "2606.11543", "2606.19911"}  # entries without an arXiv id: found by title
NEWEST_DAY = "2026-06-30"


def library_ids() -> list[str]:
    return [e.arxiv_id or "" for e in read_library(LIBRARY / "agents.ris")[1]]


@pytest.fixture(scope="module")
def base_home(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    records = sample_records()
    in_sample = {r["id"] for r in records}
    wanted = (set(library_ids()) | HAND_TYPED) & in_sample
    chosen = [r for r in records if r["id"] in wanted or r["date"] == NEWEST_DAY]
    home = tmp_path_factory.mktemp("library") / "home"
    corpus = write_jsonl(home.parent / "corpus.jsonl", chosen)
    ingestor = open_ingestor(make_settings(home), embedder=embedder)
    try:
        ingestor.run(file_runs([corpus]))
    finally:
        ingestor.close()
    return home


@pytest.fixture
def home(tmp_path: Path, base_home: Path) -> Path:
    return Path(shutil.copytree(base_home, tmp_path / "home"))


@pytest.fixture
def shared_model(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Embedder:
    monkeypatch.setattr("assistant.engine.get_embedder", lambda settings: embedder)
    return embedder


def run_cli(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout, result.stderr


def test_the_three_exports_read_the_same_papers() -> None:
    read = {kind: read_library(LIBRARY / file) for kind, file in FORMATS.items()}
    titles = {kind: [e.title for e in entries] for kind, (_, entries, _) in read.items()}
    assert len(titles["bibtex"]) == 32 and titles["bibtex"] == titles["ris"] == titles["csl-json"]
    for kind, (detected, entries, skipped) in read.items():
        assert detected == kind and skipped == []
        ids = {e.arxiv_id for e in entries if e.arxiv_id}
        assert len(ids) == 32 - len(HAND_TYPED) and not ids & HAND_TYPED, kind
        assert all(e.abstract and e.authors for e in entries)
    # LaTeX escapes in BibTeX are decoded ("16-18\\%" reads "16-18%"), the abstract is whole.
    first = read["bibtex"][1][0]
    assert "16-18% of LLM calls" in first.abstract and first.abstract == read["ris"][1][0].abstract


def test_unreadable_libraries_are_clear_errors(tmp_path: Path) -> None:
    bad_json = tmp_path / "lib.json"
    bad_json.write_text("[{", encoding="utf-8")
    with pytest.raises(LibraryError, match="not valid CSL-JSON"):
        read_library(bad_json)
    no_titles = tmp_path / "lib.ris"
    no_titles.write_text("TY  - JOUR\nAU  - Doe, Jane\nER  - \n", encoding="utf-8")
    with pytest.raises(LibraryError, match="no papers with a title"):
        read_library(no_titles)
    with pytest.raises(LibraryError, match="no such file"):
        read_library(tmp_path / "missing.bib")
    other = tmp_path / "notes.txt"
    other.write_text("just some notes", encoding="utf-8")
    with pytest.raises(LibraryError, match="not a BibTeX"):
        read_library(other)
    # One broken BibTeX entry is that entry's problem only.
    mixed = tmp_path / "mixed.bib"
    mixed.write_text(
        "@article{ok, title={A Working Entry}, eprint={2606.03030}}\n@article{broken, title={Unclosed\n",
        encoding="utf-8",
    )
    _, entries, skipped = read_library(mixed)
    assert [e.title for e in entries] == ["A Working Entry"] and skipped and "line" in skipped[0]


@pytest.mark.slow
def test_a_library_topic_feeds_papers_close_to_the_library(
    home: Path,
    use_home,  # type: ignore[no-untyped-def]
    shared_model: Embedder,
) -> None:
    use_home(home)
    code, out, err = run_cli(
        ["radar", "add", "agents", "--from-library", str(LIBRARY / "agents.bib"), "--json"]
    )
    assert code == 0, err
    made = json.loads(out)
    assert made["format"] == "bibtex" and made["in_index"] == 24 and made["not_in_index"] == 8
    by_title = {e["paper_id"] for e in made["library"] if e["matched_by"] == "title"}
    assert by_title == HAND_TYPED
    assert {e["arxiv_id"] for e in made["library"] if not e["in_index"]} == OUTSIDE
    assert "agents" in made["terms"] or "agent" in made["terms"] or "agentic" in made["terms"]
    # Human output names each library paper and whether the index has it.
    code, out, _ = run_cli(["radar", "add", "agents-ris", "--from-library", str(LIBRARY / "agents.ris")])
    assert code == 0 and "24 in the index anchor it, 8 contribute their title/abstract" in " ".join(
        out.split()
    )
    assert out.count("not in the index") == 8 and out.count("in the index (") == 24
    code, out, _ = run_cli(["radar", "add", "agents-csl", "--from-library", str(LIBRARY / "agents.json")])
    assert code == 0

    settings = make_settings(home)
    radar = build_radar(settings, build_retriever(settings, embedder=shared_model))
    anchors = {e["paper_id"] for e in radar.library("agents") if e["paper_id"]}
    assert anchors == {e["paper_id"] for e in radar.library("agents-csl") if e["paper_id"]}
    # The first visit: the latest listing day, ranked by closeness to the library.
    code, out, err = run_cli(["radar", "feed", "agents", "--batch", "5", "--json"])
    assert code == 0, err
    first = json.loads(out)
    batch = first["items"]
    assert batch and all(item["published"] == NEWEST_DAY for item in batch)
    assert not {item["id"] for item in batch} & anchors  # your own papers are not news
    threshold = settings.radar.library_min_relevance
    assert all(item["relevance"] >= threshold for item in batch)
    # Closer to the library than the day's papers left out of the feed.
    day = {r["id"] for r in sample_records() if r["date"] == NEWEST_DAY}
    closeness = _closeness(radar, day)
    left_out = [c for pid, c in closeness.items() if c < threshold]
    assert left_out and min(item["relevance"] for item in batch) > max(left_out)
    agentic = [i for i in batch if "agent" in (i["title"]).lower() or "llm" in i["title"].lower()]
    assert len(agentic) >= 3, [i["title"] for i in batch]
    # Another batch: never a repeat, same threshold.
    code, out, _ = run_cli(["radar", "feed", "agents", "--batch", "5", "--next", "--json"])
    second = json.loads(out)["items"]
    assert not {i["id"] for i in second} & {i["id"] for i in batch}
    assert all(i["relevance"] >= threshold for i in second)


def _closeness(radar: Radar, ids: set[str]) -> dict[str, float]:
    from assistant.radar.library import library_matches

    hits = library_matches(
        radar.retriever,
        radar.store,
        radar.settings.fusion.rrf_k,
        radar.topic_id("agents"),
        radar.get_topic("agents"),
        ids,
    )
    assert hits is not None
    return {hit.paper.id: hit.relevance for hit in hits}


def test_a_bad_author_leaves_no_half_made_library_topic(home: Path, use_home, shared_model: Embedder) -> None:  # type: ignore[no-untyped-def]
    use_home(home)
    library = str(LIBRARY / "agents.ris")
    code, _, err = run_cli(
        ["radar", "add", "mine", "--from-library", library, "--author", "Ada Lovelace", "-a", " "]
    )
    assert code == 2 and "author name is empty" in err
    code, out, _ = run_cli(["radar", "list", "--json"])
    assert (
        code == 0 and json.loads(out)["topics"] == []
    )  # nothing stored: the same command can simply be rerun
    code, out, err = run_cli(
        ["radar", "add", "mine", "--from-library", library, "--author", "Ada Lovelace", "--json"]
    )
    assert code == 0, err
    code, out, _ = run_cli(["radar", "list", "--json"])
    [topic] = json.loads(out)["topics"]
    assert topic["name"] == "mine" and topic["authors"] == ["Ada Lovelace"]


def test_a_library_entry_with_a_biorxiv_doi_is_found_by_it(
    tmp_path: Path, home: Path, embedder: Embedder
) -> None:
    """The index keys bioRxiv/medRxiv papers by DOI: a library entry carrying one (any case, with a version
    or a doi.org prefix) anchors the topic even when its title was retyped."""
    from assistant.radar.library import match_entries

    record = json.loads(
        (DATA_DIR / "biorxiv" / "api" / "biorxiv_details_2026-08-01_2026-08-05_trimmed.json").read_text()
    )["body"]["collection"][0]
    settings = make_settings(home)
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        ingestor.run(file_runs([write_jsonl(tmp_path / "rxiv.jsonl", [record])]))
    finally:
        ingestor.close()
    library = [
        {
            "id": "a",
            "type": "article",
            "title": "A retyped title",
            "DOI": f"https://doi.org/{record['doi']}v1",
        },
        {"id": "b", "type": "article", "title": "Another paper", "DOI": "10.1101/2026.01.01.999999"},
    ]
    path = tmp_path / "library.json"
    path.write_text(json.dumps(library), encoding="utf-8")
    radar = build_radar(settings, build_retriever(settings, embedder=embedder))
    matches = match_entries(radar.retriever, read_library(path)[1])
    assert [(m.paper_id, m.matched_by) for m in matches] == [(record["doi"].lower(), "DOI"), (None, None)]


def test_a_deeply_nested_csl_json_is_a_clear_error(tmp_path: Path) -> None:
    """Issue 28 item 6: 100,000-deep CSL-JSON gave a raw RecursionError traceback from `radar add`."""
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(LibraryError, match="nested too deeply"):
        read_library(nested)


ESCAPES = "\x1b]8;;http://evil.example/lib\x07Hidden\x1b]8;;\x07\x1b[2J\u202e"


def test_library_text_is_cleaned_of_terminal_escapes_in_every_format(tmp_path: Path) -> None:
    """Issue 28 item 2: a title with an OSC 8 hyperlink and a screen clear reached the terminal through the
    'library paper' table of `radar add --from-library`. Every text from a library file is cleaned."""
    bib = tmp_path / "lib.bib"
    bib.write_text(
        "@article{a,\n  title = {Sparse attention "
        + ESCAPES
        + "},\n  author = {Ada "
        + ESCAPES
        + " Lovelace},\n}\n",
        encoding="utf-8",
    )
    ris = tmp_path / "lib.ris"
    ris.write_text(
        f"TY  - JOUR\nTI  - Sparse attention {ESCAPES}\nAU  - Ada {ESCAPES}\nER  - \n", encoding="utf-8"
    )
    csl = tmp_path / "lib.json"
    csl.write_text(
        json.dumps([{"title": f"Sparse attention {ESCAPES}", "author": [{"family": f"Lovelace{ESCAPES}"}]}]),
        encoding="utf-8",
    )
    for path in (bib, ris, csl):
        _, [entry], _ = read_library(path)
        shown = entry.title + " ".join(entry.authors)
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 or ch == "\u202e" for ch in shown), repr(shown)
        assert entry.title.startswith("Sparse attention")


def test_huge_library_fields_and_entry_counts_are_refused_before_parsing(tmp_path: Path) -> None:
    """Issue 28 item 14: a 2 MB BibTeX abstract took 79 s to parse (50 MB: over 15 minutes) and a
    100,000-entry BibTeX took 100 s and 330 MB only to be refused. Both are refused at once, in every
    format, with the reason; a merely long abstract is cut to the ingest cap and the paper kept."""
    import time

    huge = "word " * 600_000  # 3 MB
    files = {
        "abstract.bib": f"@article{{a,\n  title = {{Sparse attention}},\n  abstract = {{{huge}}},\n}}\n",
        "abstract.ris": f"TY  - JOUR\nTI  - Sparse attention\nAB  - {huge}\nER  - \n",
        "abstract.json": json.dumps([{"title": "Sparse attention", "abstract": huge}]),
        "many.bib": "".join(f"@article{{k{i},\n  title = {{Paper {i}}},\n}}\n" for i in range(20_000)),
        "many.ris": "".join(f"TY  - JOUR\nTI  - Paper {i}\nER  - \n" for i in range(20_000)),
        "many.json": json.dumps([{"title": f"Paper {i}"} for i in range(20_000)]),
    }
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        started = time.monotonic()
        with pytest.raises(LibraryError) as refused:
            read_library(path)
        seconds = time.monotonic() - started
        reason = "entries; a topic takes at most 2000" if name.startswith("many") else "takes at most 100,000"
        assert reason in str(refused.value), (name, str(refused.value))
        assert seconds < 1.0, (name, seconds)

    long = tmp_path / "long.bib"
    long.write_text("@article{a,\n  title = {Sparse attention},\n  abstract = {" + "word " * 4_000 + "}\n}\n")
    _, [entry], _ = read_library(long)
    assert len(entry.abstract) == 10_000 and entry.title == "Sparse attention"


def test_papers_saved_from_a_written_topics_feed_bring_the_papers_close_to_them_to_its_feed(
    home: Path, embedder: Embedder
) -> None:
    """Issue 26 item 9, "add to library": the papers a written topic's feed showed, saved to its library,
    keep the topic's own matches and add the window's papers close to them (as a library topic's are)."""
    import numpy as np

    settings = make_settings(home)
    radar = build_radar(settings, build_retriever(settings, embedder=embedder))
    radar.add_topic("agents", "LLM agents that plan and use tools")
    saved = [hit.paper.id for hit in radar.feed("agents", batch=2).items]
    assert len(saved) == 2
    before = {hit.paper.id for hit, _ in radar.window_items("agents")[1]}
    assert radar.save_to_library("agents", [*saved, saved[0], "2606.99999"]) == 2  # each once, indexed only
    assert radar.save_to_library("agents", saved) == 0
    assert [(e["paper_id"], e["matched_by"]) for e in radar.library("agents")] == [
        (pid, "saved from the radar") for pid in saved
    ]
    after = {hit.paper.id for hit, _ in radar.window_items("agents")[1]}
    # Independently: the window's papers whose cosine to a saved paper reaches the library threshold.
    from assistant.radar.windows import window_paper_ids

    window = radar.store.get_topic(radar.topic_id("agents")).window
    assert window is not None
    papers = sorted(window_paper_ids(radar.retriever.catalog, window))
    vectors = radar.retriever.vectors.vectors_of(papers)
    unit = {pid: v / np.linalg.norm(v) for pid, v in vectors.items()}
    anchors = np.vstack([unit[pid] for pid in saved])
    threshold = settings.radar.library_min_relevance
    close = {pid for pid in papers if pid not in saved and float((anchors @ unit[pid]).max()) >= threshold}
    assert before <= after and after - before == close - before
    assert after - before, "no paper of the day is close to the saved ones: the test shows nothing"
    # Saved papers are not news, and the newly joined ones wait unseen for the next batch.
    following = radar.feed("agents", batch=100, next_batch=True)
    assert (after - before) <= {hit.paper.id for hit in following.items}
    assert not set(saved) & {hit.paper.id for hit in following.items}
