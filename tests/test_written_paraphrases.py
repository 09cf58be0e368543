"""The hand-written known-item sets (`paraphrase-written`, `natural-written`): the shipped files load as one
question per paper and keep their writing rules, bad files get a clear message, and the retrieval benchmark
reports each set on its own row, on the split asked for (real SQLite, real Chroma, the session's
already-loaded model, the bundled sample papers)."""

from __future__ import annotations

import json

import pytest
from conftest import sample_records

from assistant.store.stems import StemCache
from bench import retrieval as bench_retrieval
from bench.datasets import (
    STOPWORDS,
    WRITTEN_PARAPHRASES,
    WRITTEN_SETS,
    DatasetError,
    load_written,
    words,
)

# Words the natural set's writer was allowed to share with a title (bench/data/README.md).
_GENERIC_TEXT = (
    "model models learning data method network language large training image images analysis system "
    "approach using based via towards"
)
GENERIC = frozenset(_GENERIC_TEXT.split())


def shipped_rows(path=WRITTEN_PARAPHRASES) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


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


def test_natural_set_is_100_other_papers_with_no_distinctive_title_word():
    rows = shipped_rows(WRITTEN_SETS["natural-written"])
    ids = [r["id"] for r in rows]
    assert len(rows) == 100 and len(set(ids)) == 100
    assert not set(ids) & {r["id"] for r in shipped_rows()}  # no paper of the other set
    assert all(10 <= len(r["query"].split()) <= 25 for r in rows)
    query_set = load_written(WRITTEN_SETS["natural-written"], set(ids), name="natural-written")
    assert len(query_set) == 100 and all(q.startswith("natural-written:") for q in query_set.queries)


def test_natural_questions_share_no_stem_with_their_papers_title_but_generic_words():
    """Each line carries its paper's title as listed in June, so the rule is checked from the file alone."""
    stems = StemCache()

    def distinctive(text: str) -> set[str]:
        return {stems.stem(w) for w in words(text) if w not in STOPWORDS and w not in GENERIC}

    for row in shipped_rows(WRITTEN_SETS["natural-written"]):
        assert not distinctive(row["title"]) & distinctive(row["query"]), (row["title"], row["query"])


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
            str(small_index.storage.home),
            "--daily-dir",
            str(small_corpus_file.parent),
            "--sets",
            "sentence,paraphrase-written",
            "--written",
            f"paraphrase-written={written}",
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
