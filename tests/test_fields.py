"""The one field-name table: every code in the data a user can see has its readable arXiv name."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import sample_records

from assistant.core.fields import FIELD_NAMES, field_name, label, labels
from assistant.core.paper import archive_of

# The June listings sit beside the project (../shared/data/arxiv-daily) or beside its worktree folder.
JUNE_DIR = next(
    (
        p / "shared" / "data" / "arxiv-daily"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "data" / "arxiv-daily").is_dir()
    ),
    Path("missing"),
)


def _codes(categories: list[str]) -> set[str]:
    return set(categories) | {archive_of(c) for c in categories}


def test_labels_read_as_name_and_code() -> None:
    assert label("cs.LG") == "Machine Learning (cs.LG)"
    assert label("cs.CL") == "Computation and Language (cs.CL)"
    assert label("cs") == "Computer Science (cs)"
    assert label("cond-mat") == "Condensed Matter (cond-mat)"
    assert label("q-bio.NC") == "Neurons and Cognition (q-bio.NC)"
    assert label("quant-ph") == "Quantum Physics (quant-ph)"
    assert labels(["cs.CV", "eess"]) == [
        "Computer Vision and Pattern Recognition (cs.CV)",
        "Electrical Engineering and Systems Science (eess)",
    ]
    # An unknown code is shown as given, never with an invented name.
    assert label("xx.YY") == "xx.YY"
    assert field_name("xx.YY") is None


def test_every_code_in_the_sample_has_a_name() -> None:
    codes: set[str] = set()
    for record in sample_records():
        codes |= _codes(record["categories"])
    assert codes, "the sample lists categories"
    assert sorted(c for c in codes if c not in FIELD_NAMES) == []


@pytest.mark.skipif(not JUNE_DIR.is_dir(), reason="June listings not present")
def test_every_code_in_the_june_listings_has_a_name() -> None:
    codes: set[str] = set()
    for path in sorted(JUNE_DIR.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                codes |= _codes(json.loads(line).get("categories") or [])
    assert len(codes) > 50
    assert sorted(c for c in codes if c not in FIELD_NAMES) == []
