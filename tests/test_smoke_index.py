"""The small shared index is built with real parts and answers a search."""

from assistant.engine import build_retriever


def test_small_index_search_finds_a_paper_by_its_title(small_index, embedder, small_corpus_file):
    import json

    first = json.loads(small_corpus_file.read_text().splitlines()[5])
    hits = build_retriever(small_index, embedder=embedder).search(first["title"], k=3)
    assert hits[0].paper.id == first["id"]
    assert hits[0].paper.abs_url == f"https://arxiv.org/abs/{first['id']}"
