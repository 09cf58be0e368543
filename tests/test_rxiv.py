"""bioRxiv/medRxiv records -> `Paper`: identity and links by the source's rules, the servers' text quirks,
'Surname, I.' names, subject codes, and per-line layout detection beside arXiv's layouts (real records from
tests/data/biorxiv, copied from the shared real-data captures)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from conftest import DATA_DIR, sample_records, write_jsonl

from assistant.core.fields import label
from assistant.core.paper import InvalidDoi, Paper, archive_of, parse_rxiv_doi
from assistant.core.subjects import RXIV_NAMES, api_subject, subject_category
from ingest.normalize import RecordError
from ingest.rxiv import clean_rxiv_text, display_name, from_api_record
from ingest.sources import Skipped, read_jsonl

RXIV_DATA = DATA_DIR / "biorxiv"


def api_records(name: str) -> list[dict]:
    return json.loads((RXIV_DATA / "api" / name).read_text())["body"]["collection"]


def test_a_biorxiv_paper_is_keyed_by_its_doi_and_links_are_built_from_doi_and_version() -> None:
    record = api_records("biorxiv_details_2026-08-01_2026-08-05_trimmed.json")[0]
    paper = from_api_record(record)
    assert (paper.source, paper.id, paper.version) == ("biorxiv", "10.64898/2026.07.31.741992", 1)
    assert paper.abs_url == "https://www.biorxiv.org/content/10.64898/2026.07.31.741992v1"
    assert paper.pdf_url == "https://www.biorxiv.org/content/10.64898/2026.07.31.741992v1.full.pdf"
    assert paper.categories == ["biorxiv:animal-behavior-and-cognition"]
    assert archive_of(paper.primary_category) == "biorxiv"
    assert paper.authors == ["M. Loconsole", "C. Xue", "E. Garcia-Pelegrin"]
    assert paper.published_doi is None  # the API says "NA"


def test_medrxiv_links_are_on_medrxiv_org() -> None:
    paper = from_api_record(api_records("medrxiv_details_2026-09-15_trimmed.json")[0])
    assert paper.source == "medrxiv" and paper.source_label == "medRxiv"
    assert paper.abs_url.startswith("https://www.medrxiv.org/content/10.64898/")
    assert paper.categories == ["medrxiv:nephrology"]


def test_links_never_come_from_the_record() -> None:
    record = dict(api_records("biorxiv_details_2026-08-01_2026-08-05_trimmed.json")[0])
    record["jatsxml"] = "https://evil.example/x.xml"
    record["published"] = "javascript:alert(1)"
    paper = from_api_record(record)
    assert "evil" not in paper.model_dump_json() and paper.published_doi is None
    record["published"] = "10.1038/s41586-026-01234-5"
    assert from_api_record(record).published_url == "https://doi.org/10.1038/s41586-026-01234-5"


def test_arxiv_links_are_unchanged_by_the_source_field() -> None:
    paper = Paper(id="2401.12345", version=2, title="T", abstract="A")
    assert paper.source == "arxiv"
    assert (paper.abs_url, paper.pdf_url, paper.html_url) == (
        "https://arxiv.org/abs/2401.12345",
        "https://arxiv.org/pdf/2401.12345",
        "https://arxiv.org/html/2401.12345",
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.1101/2026.05.27.728076", ("10.1101/2026.05.27.728076", None)),
        ("10.1101/2026.05.27.728076v3", ("10.1101/2026.05.27.728076", 3)),
        ("doi:10.64898/2026.07.31.741992", ("10.64898/2026.07.31.741992", None)),
        ("https://doi.org/10.1101/000109", ("10.1101/000109", None)),
        ("10.1101/19000109", ("10.1101/19000109", None)),
    ],
)
def test_rxiv_dois_in_their_spellings(raw: str, expected: tuple[str, int | None]) -> None:
    assert parse_rxiv_doi(raw) == expected


@pytest.mark.parametrize("raw", ["2401.12345", "hep-th/9901001", "10.1000/xyz", "", "2026.05.27.728076"])
def test_strings_that_are_not_rxiv_dois_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidDoi):
        parse_rxiv_doi(raw)


def test_the_servers_symbol_spellings_become_readable() -> None:
    text = (
        "the {beta}-sheet, Gly[-&gt;]Ser and Gly[-&gt;]Arg, AUC [&ge;] 0.819, 10 {micro}g/mL, "
        "R{superscript 2} of 0.9, 64{+/-}7 y,  \\textbf{bold}  words"
    )
    assert clean_rxiv_text(text) == (
        "the β-sheet, Gly→Ser and Gly→Arg, AUC ≥ 0.819, 10 µg/mL, R² of 0.9, 64±7 y, bold words"
    )


def test_names_show_like_arxiv_names_in_composed_unicode() -> None:
    decomposed = unicodedata.normalize("NFD", "Gökbuget, N.")
    shown = display_name(decomposed)
    assert shown == "N. Gökbuget" and unicodedata.is_normalized("NFC", shown)
    assert display_name("Duneau, J.-P.") == "J.-P. Duneau"
    assert display_name("Yaniv Brandvain") == "Yaniv Brandvain"  # older records: already "Given Surname"


def test_subject_codes_and_readable_names() -> None:
    assert subject_category("biorxiv", "Cancer Biology ") == "biorxiv:cancer-biology"
    assert subject_category("medrxiv", "HIV/AIDS") == "medrxiv:hiv-aids"
    assert label("biorxiv:neuroscience") == "bioRxiv Neuroscience (biorxiv:neuroscience)"
    assert label("medrxiv") == "medRxiv (medrxiv)"
    assert RXIV_NAMES["medrxiv:hiv-aids"] == "medRxiv HIV/AIDS"
    assert api_subject("biorxiv:cancer-biology") == "cancer_biology"


def test_daily_listings_api_answers_and_arxiv_lines_are_told_apart_per_line(tmp_path: Path) -> None:
    daily = [json.loads(line) for line in (RXIV_DATA / "daily" / "2026-06-12.jsonl").open()]
    api = api_records("medrxiv_details_2026-09-15_trimmed.json")
    saved_page = {"messages": [{"status": "ok"}], "collection": api[:2]}
    lines = [daily[0], sample_records(1)[0], api[2], saved_page, {"doi": "10.1101/1", "abstract": "x"}]
    items = list(read_jsonl(write_jsonl(tmp_path / "mixed-2026-06-12.jsonl", lines)))
    papers = [i for i in items if isinstance(i, Paper)]
    assert [p.source for p in papers] == ["biorxiv", "arxiv", "medrxiv", "medrxiv", "medrxiv"]
    assert papers[0].id == daily[0]["doi"] and papers[0].categories == ["biorxiv"]
    assert (
        papers[0].version is None
        and papers[0].abs_url == f"https://www.biorxiv.org/content/{daily[0]['doi']}"
    )
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert [s.where for s in skipped] == ["mixed-2026-06-12.jsonl:5"] and "DOI" in skipped[0].reason


def test_a_saved_api_answer_file_reads_as_its_records() -> None:
    items = list(read_jsonl(RXIV_DATA / "api" / "biorxiv_details_cancer-biology_2026-09-07_2026-09-09.json"))
    assert len(items) == 18 and all(isinstance(i, Paper) for i in items)
    assert {p.primary_category for p in items if isinstance(p, Paper)} == {"biorxiv:cancer-biology"}


def test_a_record_without_title_is_that_records_problem() -> None:
    record = dict(api_records("biorxiv_details_2026-08-01_2026-08-05_trimmed.json")[1], title=" ")
    with pytest.raises(RecordError, match="missing title"):
        from_api_record(record)


def test_every_real_daily_listing_reads_with_readable_text() -> None:
    papers = [p for f in sorted((RXIV_DATA / "daily").glob("*.jsonl")) for p in read_jsonl(f)]
    assert papers and all(isinstance(p, Paper) for p in papers)
    for paper in papers:
        assert isinstance(paper, Paper)
        assert "{beta}" not in paper.abstract and "&gt;" not in paper.abstract and "  " not in paper.abstract
        assert paper.abstract_original  # the original is kept, as for arXiv
        assert all(unicodedata.is_normalized("NFC", a) and "," not in a for a in paper.authors)


# --- hostile or odd API values (reviewer's findings H1, M2) ---------------------------------------------


def test_a_journal_doi_that_could_close_a_link_is_dropped_and_never_becomes_a_link() -> None:
    from markdown_it import MarkdownIt

    from assistant.ui.chat_view import paper_links

    record = dict(api_records("biorxiv_details_2026-08-01_2026-08-05_trimmed.json")[0])
    record["published"] = "10.1234/x)[here](//evil.example/a"
    paper = from_api_record(record)
    assert paper.published_doi is None and paper.published_url is None  # the paper is kept, without it
    assert "evil.example" not in MarkdownIt().render(paper_links(paper))
    # An index written before the check: the stored value still never makes a link.
    old = paper.model_copy(update={"published_doi": "10.1234/x)[here](//evil.example/a"})
    assert old.published_url is None and "evil.example" not in MarkdownIt().render(paper_links(old))
    # A real journal DOI keeps its link; the URL is built with the DOI percent-quoted.
    record["published"] = "10.1016/j.cell.2026.01.002;x:y"
    assert from_api_record(record).published_url == "https://doi.org/10.1016/j.cell.2026.01.002%3Bx%3Ay"


@pytest.mark.parametrize("version", ["9" * 5000, "²", "0"])
def test_an_absurd_version_number_is_ignored_not_a_crash(version: str) -> None:
    record = dict(api_records("biorxiv_details_2026-08-01_2026-08-05_trimmed.json")[0])
    record["version"] = version
    assert from_api_record(record).version is None


def test_a_bad_middle_line_of_an_api_layout_file_is_skipped_and_the_others_are_kept(tmp_path: Path) -> None:
    first, _, third = api_records("biorxiv_details_2026-08-01_2026-08-05_trimmed.json")[:3]
    bad = dict(first, doi="10.64898/2026.07.31.000001", version="9" * 5000, authors=None)
    path = tmp_path / "rxiv.jsonl"
    deep = "[" * 100_000 + "]" * 100_000  # deeper than the JSON parser goes
    path.write_text(json.dumps(first) + "\n" + deep + "\n" + json.dumps(third) + "\n", encoding="utf-8")
    items = list(read_jsonl(path))
    assert [type(i).__name__ for i in items] == ["Paper", "Skipped", "Paper"]
    assert isinstance(items[1], Skipped) and items[1].where == "rxiv.jsonl:2"
    write_jsonl(path, [first, bad, third])
    assert [type(i).__name__ for i in read_jsonl(path)] == ["Paper", "Paper", "Paper"]
