"""Hybrid retrieval on a real index (60 papers of the bundled sample): real SQLite FTS5, real Chroma and the
real packaged embedding model (the session `embedder` fixture)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from conftest import make_settings
from helpers import middle_sentences, words

from assistant.core.paper import Paper
from assistant.core.text import fold
from assistant.engine import build_retriever
from assistant.search.retrieval import (
    NO_MATCH,
    Candidates,
    EmptyIndexError,
    FusionParams,
    RetrievalError,
    Retriever,
    add_coverage_vote,
    fts_terms,
    fuse,
    lexical_match,
    list_weights,
    make_filter,
    top_ids,
)
from assistant.store.catalog import Catalog
from assistant.store.terms import QueryTerms, TermMatch


@pytest.fixture(scope="module")
def retriever(small_index, embedder) -> Retriever:
    return build_retriever(small_index, embedder=embedder)


@pytest.fixture(scope="module")
def papers(retriever):
    return list(retriever.catalog.get_papers(retriever.catalog.all_ids()).values())


def test_a_sentence_from_the_middle_of_an_abstract_finds_its_paper_first(retriever, papers):
    paper = next(p for p in papers if middle_sentences(p.abstract))
    hits = retriever.search(middle_sentences(paper.abstract)[0], k=5)
    assert hits[0].paper.id == paper.id
    assert hits[0].dense_rank is not None and hits[0].lexical_rank is not None


def test_a_query_that_only_matches_a_comment_is_found_by_hybrid_through_bm25(retriever, papers):
    paper = next(p for p in papers if p.comment and "github.com/" in p.comment)
    repo = paper.comment.split("github.com/", 1)[1].split()[0].strip(".,;)")
    hits = retriever.search(f"github {repo}", k=5)
    assert paper.id in [h.paper.id for h in hits]


def test_two_letter_words_count_in_bm25(retriever, papers):
    """ "3D", "AI", "QA": short words are often the distinctive ones; BM25 must still search them."""
    held: dict[str, list[str]] = {}
    for paper in papers:
        text = f"{paper.title} {paper.abstract} {paper.comment or ''}"
        for word in {w.lower() for w in re.findall(r"\b[A-Za-z0-9]{2}\b", text) if not w.isdigit()}:
            held.setdefault(word, []).append(paper.id)
    word, (paper_id,) = next((w, ids) for w, ids in sorted(held.items()) if len(ids) == 1)
    hits = retriever.search(word, k=5, mode="lexical")
    assert [h.paper.id for h in hits][:1] == [paper_id], word


def test_a_papers_own_sentence_covers_the_query_and_is_too_rare_to_meet_by_chance(retriever, papers):
    paper = next(p for p in papers if middle_sentences(p.abstract))
    terms = fts_terms(middle_sentences(paper.abstract)[0])
    others = [p.id for p in papers if p.id != paper.id]
    matches = retriever.catalog.term_matches(retriever.catalog.query_terms(terms), [paper.id, *others])
    assert matches[paper.id].coverage == pytest.approx(1.0) and matches[paper.id].log_chance < -5
    assert max(matches[o].coverage for o in others) < 0.7


def test_words_from_one_passage_are_held_together_and_words_far_apart_are_not(retriever, papers):
    paper = next(p for p in papers if len(words(p.abstract)) > 120 and middle_sentences(p.abstract))
    pasted = fts_terms(max(middle_sentences(paper.abstract), key=len))
    trimmed = [term for i, term in enumerate(pasted) if i % 3 != 2]  # a third of its words skipped
    first_and_last = fts_terms(" ".join(words(paper.abstract)[:3] + words(paper.abstract)[-3:]))
    for terms, together in ((pasted, True), (trimmed, True), (first_and_last, False)):
        match = retriever.catalog.term_matches(retriever.catalog.query_terms(terms), [paper.id])[paper.id]
        assert match.coverage == pytest.approx(1.0) and match.together is together, terms


def test_common_words_held_by_many_papers_are_not_a_specific_match(retriever, papers):
    with_both = [p for p in papers if {"language", "models"} <= set(words(p.embedding_text))]
    assert len(with_both) >= 5
    catalog = retriever.catalog
    matches = catalog.term_matches(
        catalog.query_terms(fts_terms("language models")), [p.id for p in with_both]
    )
    for match in matches.values():  # every one holds both words, a combination met by chance in >1 paper
        assert match.coverage == pytest.approx(1.0) and match.log_chance > 0


def test_fusion_weights_follow_each_lists_confidence():
    params = FusionParams()
    dense = [("a", 0.62), ("b", 0.55)]
    lexical = [("a", 20.0), ("b", 19.0)]

    def weights(top_match: TermMatch, dense_list=dense, lexical_list=lexical) -> tuple[float, float]:
        found = Candidates(dense=dense_list, lexical=lexical_list, matches={"a": top_match})
        return list_weights(found, params)

    # pasted words: the top BM25 paper holds them all and they are rare together -> BM25 decides
    assert weights(TermMatch(1.0, -12.0))[0] == 0.0
    # "language models": fully covered but met by chance in thousands of papers -> dense keeps its say
    assert weights(TermMatch(1.0, 7.0))[0] == 1.0
    # a question in the user's own words covers little of any paper
    assert weights(TermMatch(0.4, -12.0))[0] == 1.0
    # one list only (a mode, or a query of stopwords): its order stands
    assert weights(NO_MATCH, dense_list=[("a", 0.3)], lexical_list=[]) == (1.0, params.lexical_weight)
    # BM25's weight grows with its top-1 margin
    assert weights(NO_MATCH, lexical_list=[("a", 20.0), ("b", 10.0)])[1] > weights(NO_MATCH)[1]


def test_the_coverage_vote_lifts_the_paper_holding_more_of_the_question_among_near_ties():
    params = FusionParams(coverage_depth=3)
    # "b" is dense's first and BM25's second, "a" the reverse: a near-tie that word coverage settles.
    found = Candidates(
        dense=[("b", 0.6), ("a", 0.59), ("c", 0.5), ("d", 0.4)],
        lexical=[("a", 10.0), ("b", 9.9), ("d", 5.0)],
        matches={"a": TermMatch(0.9, -9.0), "b": TermMatch(0.5, -4.0), "c": TermMatch(1.0, -12.0)},
    )
    fused = fuse(found, params)
    voted = add_coverage_vote(fused, found, params)
    assert set(voted) == set(fused)
    assert top_ids(voted, 2) == ["a", "b"]
    (outside,) = set(fused) - set(top_ids(fused, 3))
    assert voted[outside] == fused[outside]  # beyond the head of 3: no vote
    assert add_coverage_vote(fused, found, FusionParams(coverage_weight=0.0, coverage_depth=3)) == fused


def test_among_papers_holding_all_the_words_the_coverage_vote_prefers_one_passage():
    params = FusionParams(coverage_depth=4)
    # Four common words every paper holds: BM25 and dense disagree; "c" holds them in one sentence.
    found = Candidates(
        dense=[("a", 0.4), ("b", 0.39), ("c", 0.38), ("d", 0.37)],
        lexical=[("b", 8.0), ("c", 7.9), ("a", 7.8), ("d", 7.7)],
        matches={d: TermMatch(1.0, 2.0, together=d == "c") for d in "abcd"},
    )
    fused = fuse(found, params)
    assert top_ids(fused, 4).index("c") == 2
    assert top_ids(add_coverage_vote(fused, found, params), 4).index("c") == 1
    scattered = {d: TermMatch(1.0, 2.0) for d in "abcd"}  # no passage: the vote keeps the fused order
    no_passage = Candidates(dense=found.dense, lexical=found.lexical, matches=scattered)
    voted = add_coverage_vote(fused, no_passage, params)
    assert top_ids(voted, 4) == top_ids(fused, 4)


def test_ranking_looks_up_word_coverage_for_the_head_only(retriever, papers):
    paper = next(p for p in papers if middle_sentences(p.abstract))
    found = retriever.candidates(middle_sentences(paper.abstract)[0], 60, make_filter())
    assert found is not None and set(found.matches) == {found.lexical[0][0]}  # BM25's top, for the weights
    params = FusionParams(coverage_depth=5)
    fused = retriever.rank(found, params)
    assert top_ids(fused, 1) == [paper.id]
    assert set(top_ids(fuse(found, params), 5)) <= set(found.matches) and len(found.matches) <= 6


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


def test_combined_filters_and_a_filter_that_matches_nothing(retriever, papers):
    flt = make_filter(categories=["cs.CV"], since=date(2026, 6, 2), author="a")
    allowed = {  # every condition, checked here on the papers rather than by the SQL that applied it
        p.id
        for p in papers
        if "cs.CV" in p.categories
        and p.published is not None
        and p.published >= date(2026, 6, 2)
        and any("a" in fold(a) for a in p.authors)
    }
    hits = retriever.search("images", k=30, paper_filter=flt)
    assert hits and {h.paper.id for h in hits} <= allowed
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
        build_retriever(make_settings(tmp_path), embedder=embedder).search("anything")


def _terms(**frequencies: int) -> QueryTerms:
    return QueryTerms(tuple(f'"{w}"' for w in frequencies), tuple(frequencies.values()), 1000)


def test_bm25_scores_only_the_words_that_single_papers_out_when_the_query_has_some() -> None:
    """A word held by most papers costs BM25 a score per paper holding it and adds almost nothing to the
    ranking: with rare words in the query, only they are scored; with none, papers must hold every word."""
    assert lexical_match(_terms(unlearning=12, diffusion=150), 0.2) == ('"unlearning" OR "diffusion"', None)
    assert lexical_match(_terms(models=820, unlearning=12, language=440), 0.2) == ('"unlearning"', None)
    assert lexical_match(_terms(language=440, models=820, images=300), 0.2) == (
        '"language" AND "models" AND "images"',
        '"language" OR "models" OR "images"',
    )
    # A word no paper holds (a typo) neither empties the conjunction nor counts as a rare word.
    assert lexical_match(_terms(language=440, imagez=0), 0.2) == ('"language"', '"language" OR "imagez"')
    assert lexical_match(_terms(models=820, language=440), 1.0) == ('"models" OR "language"', None)


def test_a_query_of_common_words_ranks_papers_holding_all_of_them(tmp_path) -> None:
    """On a real catalog where every query word is common: BM25 ranks the papers that hold them all."""
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    try:
        papers = [
            Paper(id=f"2606.{n:05d}", title=title, abstract="We study models.", categories=["cs.LG"])
            for n, title in enumerate(
                [
                    "Language models for images",
                    "Language models",
                    "Models of images",
                    "Language models again",
                    "Images and models",
                    "Vision language models for images and video",
                ],
                start=1,
            )
        ]
        catalog.upsert(papers)
        query = catalog.query_terms(fts_terms("language models for images"))
        match, fallback = lexical_match(query, 0.2)
        assert (match, fallback) == (
            '"language" AND "models" AND "images"',
            '"language" OR "models" OR "images"',
        )
        ranked = [pid for pid, _ in catalog.lexical_search(match, 10)]
        assert sorted(ranked) == ["2606.00001", "2606.00006"]
    finally:
        catalog.close()
