"""`bench retrieval`'s Chinese sets: tldr and motivation apart, targets outside the index left out, and the
held-out half fixed by paper id (the rule every known-item set uses), so tuning never sees it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bench.datasets import DatasetError, load_chinese, restrict_split, split_of


def _write(path: Path, rows: list[dict]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def test_chinese_sets_split_by_paper_and_skip_papers_outside_the_index(tmp_path: Path) -> None:
    ids = [f"2509.{10000 + i}" for i in range(40)]
    rows = [
        row
        for pid in ids
        for row in (
            {"q": f"动机 {pid}", "kind": "motivation", "ids": [pid], "title": "t"},
            {"q": f"提出了 RAG 方法 {pid}", "kind": "tldr", "ids": [pid], "title": "t"},
        )
    ]
    path = _write(tmp_path / "dev.jsonl.gz", rows)
    indexed = set(ids[:30])
    tldr = load_chinese(path, indexed, "tldr")
    motivation = load_chinese(path, indexed, "motivation")
    assert len(tldr) == len(motivation) == 30
    assert all(q.startswith("提出了") for q in tldr.queries.values())
    held_out = restrict_split(tldr, "test")
    tuning = restrict_split(tldr, "dev")
    held_ids = {next(iter(rel)) for rel in held_out.qrels.values()}
    assert held_ids == {pid for pid in ids[:30] if split_of(pid) == "test"}
    assert not held_ids & {next(iter(rel)) for rel in tuning.qrels.values()}
    assert len(held_out) + len(tuning) == 30
    # Same paper, same half, for both kinds: a paper's two questions never straddle the split.
    assert {next(iter(r)) for r in restrict_split(motivation, "test").qrels.values()} == held_ids


def test_a_malformed_chinese_file_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.jsonl.gz", [{"q": "", "kind": "tldr", "ids": []}])
    with pytest.raises(DatasetError, match="record 1"):
        load_chinese(path, set(), "tldr")
