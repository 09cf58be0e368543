"""The hand-written known-item set (`paraphrase-written`): the shipped file loads as one question per paper,
bad files get a clear message, and the retrieval benchmark reports the set on its own row, on the split
asked for (real SQLite, real Chroma, the session's already-loaded model, the bundled sample papers)."""

from __future__ import annotations

import json

import pytest
from conftest import sample_records

from bench import retrieval as bench_retrieval
from bench.datasets import WRITTEN_PARAPHRASES, DatasetError, load_written


def shipped_rows() -> list[dict]:
    return [json.loads(line) for line in WRITTEN_PARAPHRASES.read_text(encoding="utf-8").splitlines()]


def test_shipped_set_is_80_distinct_papers_with_questions_of_6_to_20_words():
    rows = shipped_rows()
    ids = [r["id"] for r in rows]
    assert len(rows) == 80 and len(set(ids)) == 80
    assert all(6 <= len(r["query"].split()) <= 20 for r in rows)
    query_set = load_written(WRITTEN_PARAPHRASES, set(ids))
    assert query_set.name == "paraphrase-written"
    assert len(query_set) == 80
    for qid, relevant in query_set.qrels.items():
        assert relevant == {qid.split(":", 1)[1]: 1}


def test_questions_whose_paper_is_not_indexed_are_left_out_and_n_caps_the_rest():
    ids = [r["id"] for r in shipped_rows()]
    query_set = load_written(WRITTEN_PARAPHRASES, set(ids[:10]), n=4)
    assert len(query_set) == 4
    assert {pid for rel in query_set.qrels.values() for pid in rel} <= set(ids[:10])
    assert "4 of 80 papers" in query_set.description


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": "2606.00001", "query": "a question"}', '{"id": "2606.00002"}'], "record 2 needs"),
        (['{"id": "2606.00001", "query": "a"}', '{"id": "2606.00001", "query": "b"}'], "repeats paper"),
        (['{"id": "2606.00001", "query": "a"', ""], "malformed JSON"),
    ],
)
def test_a_bad_file_gets_a_message_naming_the_problem(tmp_path, lines, message):
    path = tmp_path / "written.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        load_written(path, {"2606.00001", "2606.00002"})


@pytest.mark.slow
def test_benchmark_reports_the_written_set_on_its_own_row_on_the_split_asked_for(
    small_index, small_corpus_file, embedder, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(bench_retrieval, "get_embedder", lambda settings: embedder)
    papers = sample_records(60)[:3]
    written = tmp_path / "written.jsonl"
    questions = [{"id": p["id"], "query": " ".join(p["summary"].split()[:12])} for p in papers]
    questions.append({"id": "2601.99999", "query": "a paper that is not in this index at all"})
    written.write_text("".join(json.dumps(q) + "\n" for q in questions), encoding="utf-8")
    out = tmp_path / "result.json"
    code = bench_retrieval.main(
        [
            "--home",
            str(small_index.home),
            "--daily-dir",
            str(small_corpus_file.parent),
            "--sets",
            "sentence,paraphrase-written",
            "--written-file",
            str(written),
            "--written-split",
            "all",
            "--no-filter-check",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    rows = json.loads(out.read_text(encoding="utf-8"))["results"]
    mine = [r for r in rows if r["set"] == "paraphrase-written"]
    assert {r["mode"] for r in mine} == {"dense", "lexical", "hybrid"}
    assert all(r["queries"] == 3 and r["split"] == "all" for r in mine)
    # the aggregate covers the rule-made sets only (their own split), not the hand-written one
    sentence = next(r for r in rows if r["set"] == "sentence" and r["mode"] == "hybrid")
    aggregate = next(r for r in rows if r["set"] == "known-item (all)" and r["mode"] == "hybrid")
    assert aggregate["queries"] == sentence["queries"] and aggregate["split"] == "test"
    assert "paraphrase-written" in capsys.readouterr().err
