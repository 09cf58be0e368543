"""Hybrid retrieval on a real index (60 papers of the bundled sample): real SQLite FTS5, real Chroma and the
real packaged embedding model (the session `embedder` fixture)."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import make_settings

from assistant.retrieval import EmptyIndexError, RetrievalError, Retriever, make_filter
from bench.datasets import KnownItemBuilder, middle_sentences, words
from bench.retrieval import violation
from ingest.catalog import fold


@pytest.fixture(scope="module")
def retriever(small_index, embedder) -> Retriever:
    return Retriever(small_index, embedder=embedder)


@pytest.fixture(scope="module")
def papers(retriever):
    return list(retriever.catalog.get_papers(retriever.catalog.all_ids()).values())


def test_a_sentence_from_the_middle_of_an_abstract_finds_its_paper_first(retriever, papers):
    paper = next(p for p in papers if middle_sentences(p.abstract))
    hits = retriever.search(middle_sentences(paper.abstract)[0], k=5)
    assert hits[0].paper.id == paper.id
    assert hits[0].dense_rank is not None and hits[0].lexical_rank is not None


def test_questions_without_any_title_word_find_their_paper_in_the_top_five(retriever, papers):
    """Rule-made paraphrases (distinctive abstract terms sharing no stem with the title), as in the bench."""
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


def test_a_query_that_only_matches_a_comment_is_found_by_hybrid_through_bm25(retriever, papers):
    paper = next(p for p in papers if p.comment and "github.com/" in p.comment)
    repo = paper.comment.split("github.com/", 1)[1].split()[0].strip(".,;)")
    hits = retriever.search(f"github {repo}", k=5)
    assert paper.id in [h.paper.id for h in hits]


def test_every_mode_returns_ranked_papers_with_relevance_between_0_and_1(retriever):
    for mode in ("hybrid", "dense", "lexical"):
        hits = retriever.search("speech and audio generation", k=7, mode=mode)
        assert 0 < len(hits) <= 7
        assert len({h.paper.id for h in hits}) == len(hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert all(0.0 <= h.relevance <= 1.0 for h in hits)


def test_category_filter_by_archive_prefix_keeps_exactly_that_field(retriever, papers):
    in_eess = {p.id for p in papers if any(c.startswith("eess.") for c in p.categories)}
    assert in_eess  # the sample has eess.AS / eess.SP cross-lists
    hits = retriever.search("neural networks", k=20, paper_filter=make_filter(categories=["eess"]))
    assert {h.paper.id for h in hits} == in_eess  # all of them, and nothing else
    for hit in hits:
        assert violation(hit.paper, ("eess",), None, None, None) is None


def test_category_filter_matches_any_of_several_exact_categories(retriever, papers):
    wanted = ("q-bio.QM", "econ.TH", "math.OC")
    expected = {p.id for p in papers if set(p.categories) & set(wanted)}
    hits = retriever.search("optimisation of a model", k=50, paper_filter=make_filter(categories=wanted))
    assert {h.paper.id for h in hits} == expected
    assert retriever.search("anything", k=10, paper_filter=make_filter(categories=["q-bio"]))
    for hit in retriever.search("anything", k=10, paper_filter=make_filter(categories=["q-bio"])):
        assert any(c.startswith("q-bio.") for c in hit.paper.categories)


def test_date_filter_is_exact_and_inclusive(retriever, papers):
    day = date(2026, 6, 2)
    on_day = {p.id for p in papers if p.published == day}
    assert 0 < len(on_day) < len(papers)
    hits = retriever.search("learning", k=60, paper_filter=make_filter(since=day, until=day))
    assert {h.paper.id for h in hits} == on_day
    before = retriever.search("learning", k=60, paper_filter=make_filter(until=date(2026, 6, 1)))
    assert before and all(h.paper.published and h.paper.published <= date(2026, 6, 1) for h in before)


def test_author_filter_ignores_case_and_accents(retriever, papers):
    paper = next(p for p in papers if any("Dröge" in a for a in p.authors))
    for spelling in ("droge", "DRÖGE", "Finn Droge"):
        hits = retriever.search("generative models", k=10, paper_filter=make_filter(author=spelling))
        assert [h.paper.id for h in hits] == [paper.id]
    hits = retriever.search("learning", k=30, paper_filter=make_filter(author="mart"))
    assert hits and all(any("mart" in fold(a) for a in h.paper.authors) for h in hits)


def test_combined_filters_and_a_filter_that_matches_nothing(retriever):
    flt = make_filter(categories=["cs.CV"], since=date(2026, 6, 2), author="a")
    for hit in retriever.search("images", k=30, paper_filter=flt):
        assert violation(hit.paper, flt.categories, flt.since, flt.until, flt.author) is None
    assert retriever.search("images", paper_filter=make_filter(author="no such author zzz")) == []


def test_exclude_and_only_ids_restrict_results(retriever, papers):
    first = retriever.search("robot manipulation", k=3)
    excluded = {h.paper.id for h in first}
    again = retriever.search("robot manipulation", k=3, paper_filter=make_filter(exclude_ids=excluded))
    assert not excluded & {h.paper.id for h in again}
    only = {papers[0].id, papers[1].id}
    assert {
        h.paper.id for h in retriever.search("robot", k=10, paper_filter=make_filter(only_ids=only))
    } == only
    assert retriever.search("robot", paper_filter=make_filter(only_ids=set())) == []


def test_diversified_results_keep_the_best_paper_first_and_are_less_redundant(retriever):
    plain = retriever.search("language models", k=8)
    diverse = retriever.search("language models", k=8, diversify=True)
    assert len(diverse) == 8 and len({h.paper.id for h in diverse}) == 8
    assert diverse[0].paper.id == plain[0].paper.id  # MMR starts from the best fused result

    def redundancy(hits) -> float:
        vecs = retriever.embedder.encode([h.paper.embedding_text for h in hits])
        sims = vecs @ vecs.T
        return float((sims.sum() - len(hits)) / (len(hits) * (len(hits) - 1)))

    assert redundancy(diverse) < redundancy(plain)


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_an_empty_query_is_refused_with_a_readable_message(retriever, query):
    with pytest.raises(RetrievalError, match="query is empty"):
        retriever.search(query)


def test_an_inverted_date_range_is_refused(retriever):
    with pytest.raises(RetrievalError, match="inverted"):
        retriever.search("x", paper_filter=make_filter(since=date(2026, 6, 5), until=date(2026, 6, 1)))


def test_unknown_categories_are_refused_with_suggestions(retriever):
    with pytest.raises(RetrievalError, match=r"unknown categor.*cs\.CV") as err:
        retriever.search("vision", paper_filter=make_filter(categories=["cs.CVV"]))
    assert "did you mean" in str(err.value)


def test_a_ten_thousand_character_query_still_answers(retriever, papers):
    query = (papers[3].abstract + " ") * (10_000 // len(papers[3].abstract) + 1)
    hits = retriever.search(query[:10_000], k=5)
    assert hits[0].paper.id == papers[3].id


def test_an_empty_index_says_to_ingest_first(tmp_path, embedder):
    with pytest.raises(EmptyIndexError, match="academichub ingest"):
        Retriever(make_settings(tmp_path), embedder=embedder).search("anything")
