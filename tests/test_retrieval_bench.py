"""The retrieval benchmark on a tiny BEIR-layout dataset written from 30 real sample records: it indexes
the corpus into its own temporary directory (real SQLite, real Chroma, the session's already-loaded model)
and reports every metric for dense, BM25 and hybrid side by side."""

from __future__ import annotations

import json

import pytest
from conftest import sample_records

from assistant.engine import build_retriever
from bench import retrieval as bench_retrieval
from bench.datasets import DatasetError, KnownItemBuilder, load_beir, words


@pytest.fixture
def beir_dir(tmp_path):
    records = sample_records(30)
    folder = tmp_path / "tiny-beir"
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": f"d{i}", "title": r["title"], "text": r["summary"]} for i, r in enumerate(records)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(c) + "\n" for c in corpus), encoding="utf-8")
    # Queries: a middle sentence of every third abstract; its document is the one relevant answer.
    queries, qrels = [], ["query-id\tcorpus-id\tscore"]
    for i in range(0, 30, 3):
        sentences = records[i]["summary"].split(". ")
        queries.append({"_id": f"q{i}", "text": sentences[len(sentences) // 2]})
        qrels.append(f"q{i}\td{i}\t1")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return folder


def test_beir_dataset_is_indexed_and_scored_for_all_three_modes(
    beir_dir, tmp_path, embedder, monkeypatch, capsys
):
    monkeypatch.setattr(bench_retrieval, "get_embedder", lambda settings: embedder)
    monkeypatch.setenv("ACADEMICHUB_HOME", str(tmp_path / "unused-home"))
    out = tmp_path / "result.json"
    code = bench_retrieval.main(["--beir", str(beir_dir), "--no-known-item", "--output", str(out)])
    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    rows = {row["mode"]: row for row in report["results"]}
    assert set(rows) == {"dense", "lexical", "hybrid"}
    for row in rows.values():
        assert row["queries"] == 10 and row["errors"] == 0
        assert set(row) >= {"recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "latency_p50_ms"}
        assert 0.0 <= row["recall@1"] <= row["recall@5"] <= row["recall@10"] <= 1.0
    # Verbatim sentences among 30 documents: BM25 and hybrid find every one in the top 5.
    assert rows["lexical"]["recall@5"] == 1.0 and rows["hybrid"]["recall@5"] == 1.0
    assert "Retrieval benchmark" in capsys.readouterr().err


def test_a_folder_without_qrels_is_refused_with_a_readable_message(tmp_path):
    (tmp_path / "corpus.jsonl").write_text("{}\n", encoding="utf-8")
    (tmp_path / "queries.jsonl").write_text("{}\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"qrels/test.tsv is missing"):
        load_beir(tmp_path)


def test_the_benchmarks_rule_made_questions_share_no_title_word_and_find_their_paper_in_the_top_five(
    small_index, embedder
):
    """The known-item builder's paraphrases (distinctive abstract terms sharing no stem with the title), on
    the 60-paper index: the questions keep the rule and hybrid retrieval finds 19 of 20 in the top five."""
    retriever = build_retriever(small_index, embedder=embedder)
    papers = list(retriever.catalog.get_papers(retriever.catalog.all_ids()).values())
    builder = KnownItemBuilder(papers, seed=5)
    query_set = builder.paraphrase_terms(20)
    by_id = {p.id: p for p in papers}
    assert len(query_set) == 20
    found = 0
    for qid, text in query_set.queries.items():
        (wanted,) = query_set.qrels[qid]
        title_stems = {builder.stems.stem(w) for w in words(by_id[wanted].title)}
        assert not title_stems & {builder.stems.stem(w) for w in words(text)}, (text, by_id[wanted].title)
        found += wanted in [h.paper.id for h in retriever.search(text, k=5)]
    assert found >= 19
