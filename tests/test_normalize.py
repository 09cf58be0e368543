"""Normalisation of raw records into `Paper`s: arXiv ids, LaTeX and whitespace, authors, categories, dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from assistant.core.paper import InvalidArxivId, parse_arxiv_id
from ingest.normalize import (
    RecordError,
    arxiv_id_month,
    clean_text,
    detect_layout,
    from_arxiv_result,
    from_json_record,
    normalize_categories,
    parse_date,
    split_author_string,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2401.12345", ("2401.12345", None)),
        ("2401.12345v2", ("2401.12345", 2)),
        ("0704.0001", ("0704.0001", None)),
        ("1501.00001v10", ("1501.00001", 10)),
        ("arXiv:2401.12345v3", ("2401.12345", 3)),
        ("ARXIV:2401.12345", ("2401.12345", None)),
        ("  2401.12345 ", ("2401.12345", None)),
        ("https://arxiv.org/abs/2401.12345v1", ("2401.12345", 1)),
        ("http://arxiv.org/abs/2202.12139v1", ("2202.12139", 1)),
        ("https://arxiv.org/pdf/2401.12345v2.pdf", ("2401.12345", 2)),
        ("https://export.arxiv.org/abs/2401.12345", ("2401.12345", None)),
        ("https://arxiv.org/html/2401.12345v1/", ("2401.12345", 1)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("quant-ph/0201082v1", ("quant-ph/0201082", 1)),
        ("math.GT/0309136v2", ("math.GT/0309136", 2)),
        ("math.gt/0309136", ("math.GT/0309136", None)),
        ("http://arxiv.org/abs/cs/0503050v1", ("cs/0503050", 1)),
    ],
)
def test_arxiv_ids_in_every_spelling_become_versionless_id_and_version(raw, expected):
    assert parse_arxiv_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["abc", "", "2401.123", "2401.1234567", "12345.6789", "hep-th/99010", "doi:10.1000/xyz", "2401.12345vX"],
)
def test_strings_that_are_not_arxiv_ids_are_rejected(raw):
    with pytest.raises(InvalidArxivId, match="not an arXiv id"):
        parse_arxiv_id(raw)


def test_latex_in_titles_becomes_readable_text():
    assert clean_text(r"The \emph{Fast} $\alpha$-stable \textbf{\textit{Walk}}") == "The Fast α-stable Walk"
    assert (
        clean_text(r"Sch\"{o}dinger and Erd\H{o}s on Poincar\'e maps")
        == "Schödinger and Erdős on Poincaré maps"
    )
    assert clean_text("Bounds of $O(n \\log n)$ for $k \\leq n$") == "Bounds of O(n \\log n) for k ≤ n"
    assert clean_text("Display $$\\sum_i x_i$$ math") == "Display Σ_i x_i math"
    assert clean_text("pages 1--10 and a dash---here") == "pages 1–10 and a dash—here"


def test_whitespace_is_collapsed():
    assert clean_text("  A title\n  broken   over\tlines \n") == "A title broken over lines"
    assert clean_text(None) == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("raised $1M in funding", "raised $1M in funding"),
        ("costs between $5 and $10 per run", "costs between $5 and $10 per run"),
        ("a lone $ sign", "a lone $ sign"),
        ("an escaped \\$5 fee and $x$ math", "an escaped $5 fee and x math"),
        ("energy $E = mc^2$ holds", "energy E = mc^2 holds"),
        ("$x$$y$", "xy"),
        # From June 2026 abstracts:
        ("on-device scale ($\\leq$8B parameters)", "on-device scale (≤8B parameters)"),
        ("ImageNet 256$\\times$256", "ImageNet 256×256"),
        ("approximately $500-$780 USD", "approximately $500-$780 USD"),
        ("costs ~$1.5M to re-prefill but only ~$0.03M", "costs $1.5M to re-prefill but only $0.03M"),
        ("MAE from $17.7K to $569 and", "MAE from $17.7K to $569 and"),
        ("a bias called the $neglect-zero effect$", "a bias called the neglect-zero effect"),
        ("$ (H(X|W), H(Y|W)) $ obtained", "(H(X|W), H(Y|W)) obtained"),
        ("the $1M balance and a $k$-NN", "the $1M balance and a k-NN"),
    ],
)
def test_dollar_signs_are_stripped_only_as_math_delimiter_pairs(raw, expected):
    assert clean_text(raw) == expected


def test_daily_record_keeps_the_original_text_beside_the_cleaned_one():
    paper = from_json_record(
        {
            "id": "2606.00001v2",
            "title": "On  $\\beta$-VAEs\n  revisited",
            "summary": "We study \\emph{disentanglement}   at $1M scale.",
            "authors": ["Ana Müller", "Bo Li"],
            "categories": ["cs.LG", "stat.ML"],
        },
        listing_date=date(2026, 6, 3),
    )
    assert paper.id == "2606.00001" and paper.version == 2
    assert paper.title == "On β-VAEs revisited"
    assert paper.title_original == "On  $\\beta$-VAEs\n  revisited"
    assert paper.abstract == "We study disentanglement at $1M scale."
    assert paper.abstract_original.startswith("We study \\emph{")
    assert paper.published == paper.updated == date(2026, 6, 3)
    assert paper.abs_url == "https://arxiv.org/abs/2606.00001"
    assert paper.pdf_url == "https://arxiv.org/pdf/2606.00001"


def test_author_strings_split_into_names():
    assert split_author_string("A. One, B. Two (MIT), and C. Three") == ["A. One", "B. Two", "C. Three"]
    assert split_author_string('Ana M\\"uller and Bo Li') == ["Ana Müller", "Bo Li"]
    assert split_author_string("Solo Author") == ["Solo Author"]
    assert split_author_string("X. Ray, Y. Zed, et al.") == ["X. Ray", "Y. Zed"]
    assert split_author_string("") == []


def test_snapshot_record_prefers_parsed_authors_and_reads_versions_and_dates():
    paper = from_json_record(
        {
            "id": "0704.0001",
            "title": "Calculation of prompt diphoton production",
            "abstract": "  A fully differential calculation.\n",
            "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan",
            "authors_parsed": [["Balázs", "C.", ""], ["Berger", "E. L.", ""], ["Yuan", "C. -P.", "Jr"]],
            "categories": "hep-ph math.CO",
            "update_date": "2008-11-13",
            "versions": [
                {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
                {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
            ],
            "comments": "37 pages",
            "journal-ref": "Phys.Rev.D76:013009,2007",
            "doi": "10.1103/PhysRevD.76.013009",
        }
    )
    assert paper.authors == ["C. Balázs", "E. L. Berger", "C. -P. Yuan Jr"]
    assert paper.categories == ["hep-ph", "math.CO"]
    assert paper.version == 2
    assert paper.published == date(2007, 4, 2)
    assert paper.updated == date(2008, 11, 13)
    assert (paper.comment, paper.journal_ref, paper.doi) == (
        "37 pages",
        "Phys.Rev.D76:013009,2007",
        "10.1103/PhysRevD.76.013009",
    )
    assert paper.abstract == "A fully differential calculation."


def test_snapshot_record_without_parsed_authors_splits_the_string():
    paper = from_json_record(
        {
            "id": "hep-th/9901001",
            "title": "T",
            "abstract": "A",
            "authors": "A. One and B. Two",
            "categories": "hep-th",
            "update_date": "1999-01-05",
            "versions": [],
        }
    )
    assert paper.authors == ["A. One", "B. Two"]
    assert paper.published == paper.updated == date(1999, 1, 5)
    assert paper.version is None


def test_categories_keep_the_primary_first_without_duplicates():
    assert normalize_categories("cs.LG stat.ML cs.LG") == ["cs.LG", "stat.ML"]
    assert normalize_categories(["stat.ML", "cs.LG"], primary="cs.LG") == ["cs.LG", "stat.ML"]
    assert normalize_categories(["stat.ML"], primary="cs.LG") == ["cs.LG", "stat.ML"]
    assert normalize_categories(None) == []


def test_dates_in_the_formats_arxiv_uses():
    assert parse_date("2026-06-03") == date(2026, 6, 3)
    assert parse_date("2026-06-03T10:00:00Z") == date(2026, 6, 3)
    assert parse_date("Mon, 2 Apr 2007 19:18:42 GMT") == date(2007, 4, 2)
    assert parse_date(datetime(2026, 6, 3, 23, 0, tzinfo=UTC)) == date(2026, 6, 3)
    assert parse_date("not a date") is None
    assert parse_date("") is None


def test_layout_is_detected_per_record():
    assert detect_layout({"id": "1", "abstract": "x"}) == "snapshot"
    assert detect_layout({"id": "1", "summary": "x"}) == "daily"
    assert detect_layout({"id": "1", "text": "x"}) == "unknown"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"title": "T", "summary": "S"}, "missing id"),
        ({"id": "", "title": "T", "summary": "S"}, "missing id"),
        ({"id": "abc", "title": "T", "summary": "S"}, "not an arXiv id"),
        ({"id": "2606.00001", "title": "T", "summary": "  "}, "missing abstract"),
        ({"id": "2606.00001", "title": "T", "abstract": None}, "missing abstract"),
        ({"id": "2606.00001", "summary": "S"}, "missing title"),
        ({"id": "2606.00001", "title": "T", "body": "S"}, "unknown layout"),
        (["not", "an", "object"], "not an object"),
    ],
)
def test_records_that_cannot_become_papers_say_why(record, reason):
    with pytest.raises(RecordError, match=reason):
        from_json_record(record)


def test_api_result_uses_its_primary_category_and_dates():
    result = SimpleNamespace(
        entry_id="http://arxiv.org/abs/2202.12139v3",
        title="Testing  Deep Learning Models",
        summary="Deep Learning (DL) has revolutionized...",
        authors=["Mohit Kumar Ahuja", "Arnaud Gotlieb"],
        categories=["cs.LG", "cs.SE"],
        primary_category="cs.SE",
        published=datetime(2022, 2, 24, 15, 5, tzinfo=UTC),
        updated=datetime(2022, 3, 1, 9, 0, tzinfo=UTC),
        comment=None,
        doi=None,
        journal_ref=None,
    )
    paper = from_arxiv_result(result)
    assert (paper.id, paper.version) == ("2202.12139", 3)
    assert paper.categories == ["cs.SE", "cs.LG"]
    assert (paper.published, paper.updated) == (date(2022, 2, 24), date(2022, 3, 1))
    assert paper.title == "Testing Deep Learning Models"


def test_tokens_that_are_not_category_codes_are_dropped_and_the_paper_kept() -> None:
    """A category ends up in Markdown, BibTeX and Rich markup: only category codes get that far."""
    from ingest.normalize import from_json_record

    assert normalize_categories(
        "cs.LG x](//evil.example/y) cond-mat.stat-mech [link=http://evil.example/x]cs.LG[/link] hep-th "
        "biorxiv:cancer-biology cs.LG},howpublished={\\url{http://evil.example/x}",
        primary="<b>",
    ) == ["cs.LG", "cond-mat.stat-mech", "hep-th", "biorxiv:cancer-biology"]
    record = {
        "id": "2606.01234",
        "title": "A title",
        "abstract": "An abstract.",
        "authors": "A. Author",
        "categories": "x](//evil.example/y)",
    }
    paper = from_json_record(record)
    assert paper.id == "2606.01234" and paper.categories == []  # kept, with no category rather than a bad one


@pytest.mark.parametrize(
    ("paper_id", "month"),
    [
        ("2503.11731", date(2025, 3, 1)),
        ("0704.0001", date(2007, 4, 1)),
        ("hep-th/9901001", date(1999, 1, 1)),
        ("math.AG/0512345", date(2005, 12, 1)),
        ("2513.00001", None),
        ("10.1101/2026.06.01.123456", None),
    ],
)
def test_an_arxiv_id_gives_the_month_of_first_submission(paper_id: str, month: date | None) -> None:
    assert arxiv_id_month(paper_id) == month


def test_bidi_controls_and_zero_width_characters_are_removed_at_normalisation() -> None:
    """Issue 28 item 7: U+202E showed a stored "evil.example/lmth.exe" as "exe.html/elpmaxe.live"; zero-width
    characters hide inside words and host names. Neither survives normalisation (nor the catalog's reads)."""
    from assistant.core.text import strip_control_chars

    hidden = "".join(map(chr, [0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200B, 0x200E, 0x2060, 0xFEFF]))
    record = {
        "id": "2606.00001",
        "title": f"Attention{hidden} see \u202eevil.example/lmth.exe",
        "summary": "An ab\u200bstract about \u2067transformers\u2069.",
        "authors": "A. Author",
        "categories": "cs.LG",
    }
    paper = from_json_record(record)
    assert paper.title == "Attention see evil.example/lmth.exe"
    assert paper.abstract == "An abstract about transformers."
    assert not any(ch in hidden for ch in paper.title_original + paper.abstract_original)
    assert strip_control_chars(f"Müller{hidden} 数学 ①") == "Müller 数学 ①"  # other text stays
