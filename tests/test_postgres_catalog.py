"""The catalog on PostgreSQL answers every question as the SQLite catalog does: the same papers, filters,
term statistics and BM25 ranking (scores equal to FTS5's bm25()), on a real PostgreSQL server and the
bundled sample's papers. Also: the schema is checked, never migrated silently, and a SQLite catalog copies
across with its ingest times and embedding state. No embedding model: these take seconds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from conftest import make_settings, sample_records

from assistant.core.paper import Paper
from assistant.store.backend import open_catalog
from assistant.store.catalog import Catalog
from assistant.store.catalog_store import CatalogStore
from assistant.store.filter import PaperFilter
from assistant.store.postgres.catalog import CATALOG_STEPS, PostgresCatalog, copy_catalog_from_sqlite
from assistant.store.postgres.database import Database, DatabaseError, SchemaStep
from ingest.sources import paper_from_record

PAPERS = 120


@pytest.fixture(scope="module")
def papers() -> list[Paper]:
    return [paper_from_record(record) for record in sample_records(PAPERS)]


@pytest.fixture
def both(tmp_path: Path, pg_url: str, papers: list[Paper]) -> Iterator[tuple[Catalog, PostgresCatalog]]:
    """The same papers in a SQLite catalog and a PostgreSQL one (in two batches, the second updating some)."""
    lite = Catalog(tmp_path / "catalog.sqlite3")
    db = Database(pg_url, 4)
    db.migrate(CATALOG_STEPS)
    pg = PostgresCatalog(db)
    for catalog in (lite, pg):
        catalog.upsert(papers[:80])
        catalog.upsert(papers[60:])  # 20 papers stored again
    yield lite, pg
    lite.close()
    pg.close()
    db.close()


def _same(lite: CatalogStore, pg: CatalogStore, question: str, *args: object) -> object:
    answer = getattr(lite, question)(*args)
    assert getattr(pg, question)(*args) == answer, question
    return answer


def test_postgres_stores_the_same_papers_and_answers_the_same_questions(
    both: tuple[Catalog, PostgresCatalog], papers: list[Paper]
) -> None:
    lite, pg = both
    ids = [p.id for p in papers]
    assert _same(lite, pg, "count") == PAPERS
    assert _same(lite, pg, "get_papers", ids[:50]) == {p.id: p for p in papers[:50]}
    assert _same(lite, pg, "all_ids") == ids
    for question in (
        "known_categories", "known_archives", "archive_paper_counts", "date_range", "source_counts",
        "primary_category_counts", "count_pending", "is_empty",
    ):  # fmt: skip
        _same(lite, pg, question)
    _same(lite, pg, "recent_titles", 7)
    _same(lite, pg, "author_counts", 30)
    _same(lite, pg, "has_category", "cs")
    _same(lite, pg, "has_category", "no.such")
    assert _same(lite, pg, "pending_ids", 10) == ids[:10]
    papers_by_id = {p.id: p for p in papers}
    author = papers[5].authors[0]
    first_day = min(p.published for p in papers if p.published)
    for flt in (
        PaperFilter(categories=("cs.LG",)),
        PaperFilter(categories=("math",), since=date(first_day.year, first_day.month, first_day.day)),
        PaperFilter(author=author.upper()),
        PaperFilter(exclude_ids=frozenset(ids[:100])),
        PaperFilter(only_ids=frozenset(ids[3:9]), categories=("cs",)),
        PaperFilter(only_ids=frozenset()),
    ):
        assert sorted(pg.filter_ids(flt)) == sorted(lite.filter_ids(flt)), flt
        assert pg.count_admitted(flt, 5) == lite.count_admitted(flt, 5)
    assert papers_by_id[pg.filter_ids(PaperFilter(author=author))[0]].authors


def test_postgres_ranks_words_as_fts5_does(
    both: tuple[Catalog, PostgresCatalog], papers: list[Paper]
) -> None:
    """Same term counts and the same BM25 scores, so hybrid search ranks alike on both backends."""
    lite, pg = both
    expressions = [
        '"diffusion" OR "models" OR "image"',
        '"graph" OR "neural" OR "networks" OR "bounded-degree"',
        '"language" AND "models"',
        '{title abstract} : ("diffusion" AND "model")',
        '{title abstract} : ("large language models")',
        '"learning" OR "zzzunheardof"',
        '"""quoted"""',
    ]
    for expression in expressions:
        assert pg.count_matching(expression) == lite.count_matching(expression), expression
        expected = lite.lexical_search(expression, 15, weights=(3.0, 1.0, 1.0, 0.5))
        found = pg.lexical_search(expression, 15, weights=(3.0, 1.0, 1.0, 0.5))
        _assert_same_ranking(found, expected, expression)
    flt = PaperFilter(categories=("cs",))
    _assert_same_ranking(
        pg.lexical_search('"learning"', 5, flt), lite.lexical_search('"learning"', 5, flt), "cs"
    )
    terms = ['"diffusion"', '"models"', '"learning"', '"graph"']
    query = _same(lite, pg, "query_terms", terms)
    _same(lite, pg, "phrase_frequencies", ["language models", "neural network", "of the"])
    _same(lite, pg, "term_matches", query, [p.id for p in papers[:40]])
    _same(lite, pg, "term_holders_many", terms, [p.id for p in papers[:40]])


def _assert_same_ranking(
    found: list[tuple[str, float]], expected: list[tuple[str, float]], what: str
) -> None:
    """Same papers with the same scores, in the same order (papers with equal scores in either order)."""
    assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-9), what
    by_score: dict[float, set[str]] = {}
    for pid, score in expected:
        by_score.setdefault(round(score, 9), set()).add(pid)
    assert all(pid in by_score[round(score, 9)] for pid, score in found), what


def test_postgres_keeps_the_embedding_state_cursors_and_run_tally(
    both: tuple[Catalog, PostgresCatalog], papers: list[Paper]
) -> None:
    lite, pg = both
    ids = [p.id for p in papers]
    for catalog in (lite, pg):
        catalog.mark_embedded({p.id: p.content_hash for p in papers[:100]})
        catalog.reset_embedded(ids[:3])
        catalog.set_cursor("arxiv:x", 40)
        catalog.set_cursor("arxiv:x", 50)
        catalog.start_run_tally()
        catalog.set_run_tally({ids[0]: "new", ids[1]: "updated"})
        catalog.set_run_tally({ids[0]: "unchanged"})
    assert _same(lite, pg, "count_pending") == 23
    _same(lite, pg, "count_embedded")
    _same(lite, pg, "pending_ids")
    _same(lite, pg, "states", ids[:30])
    assert _same(lite, pg, "get_cursor", "arxiv:x") == 50
    assert _same(lite, pg, "run_tally", ids[:5]) == {ids[0]: "unchanged", ids[1]: "updated"}
    flt = PaperFilter(categories=("cs",))
    assert [sorted(x) for x in pg.filter_ids_and_vectors(flt)] == [
        sorted(x) for x in lite.filter_ids_and_vectors(flt)
    ]
    _same(lite, pg, "searchable_until")
    when = pg.newest_ingested()
    assert pg.ids_ingested_since(0.0) == set(ids)
    assert pg.ids_ingested_between(0.0, when, None) == set(ids)
    for catalog in (lite, pg):
        catalog.clear_cursor("arxiv:x")
    assert _same(lite, pg, "get_cursor", "arxiv:x") == 0


def test_a_sqlite_catalog_copies_to_postgres_exactly_and_a_second_copy_adds_nothing(
    both: tuple[Catalog, PostgresCatalog], pg_url: str, postgres: object, papers: list[Paper]
) -> None:
    lite, _ = both
    lite.mark_embedded({p.id: p.content_hash for p in papers[:70]})
    target = Database(postgres.create_database(), 2)  # type: ignore[attr-defined]
    try:
        target.migrate(CATALOG_STEPS)  # as `academichub migrate --to` does first
        assert copy_catalog_from_sqlite(lite.path, target) == {"papers": PAPERS, "cursors": 0}
        assert copy_catalog_from_sqlite(lite.path, target) == {"papers": 0, "cursors": 0}
        copied = PostgresCatalog(target)
        assert copied.all_ids() == lite.all_ids()
        assert copied.get_papers(lite.all_ids()) == lite.get_papers(lite.all_ids())
        assert copied.states(lite.all_ids()) == lite.states(lite.all_ids())
        assert copied.count_pending() == lite.count_pending() == PAPERS - 70
        with sqlite3.connect(lite.path) as conn:
            times = dict(conn.execute("SELECT id, ingested_at FROM papers").fetchall())
        assert copied.newest_ingested() == max(times.values())
        expression = '"diffusion" OR "graph"'
        _assert_same_ranking(
            copied.lexical_search(expression, 10), lite.lexical_search(expression, 10), "copy"
        )
    finally:
        target.close()


def test_a_reader_refuses_a_database_without_the_catalog_or_with_an_older_schema(
    tmp_path: Path, pg_url: str
) -> None:
    settings = make_settings(tmp_path, storage={"database_url": pg_url})
    with pytest.raises(DatabaseError, match=r"holds no catalog yet\. Run `academichub migrate`"):
        open_catalog(settings)
    Database(pg_url, 1).migrate([*CATALOG_STEPS[:1], SchemaStep("radar-unrelated", "SELECT 1")])
    newer = (*CATALOG_STEPS, SchemaStep("catalog-from-the-future", "SELECT 1"))
    db = Database(pg_url, 1)
    with pytest.raises(DatabaseError, match=r"older schema.*catalog-from-the-future.*academichub migrate"):
        db.require_schema(newer, "catalog")
    db.close()
    assert open_catalog(settings).count() == 0  # the current schema: opens


def test_an_unreachable_server_is_said_plainly(tmp_path: Path, free_port_number: int) -> None:
    url = f"postgresql://nobody:secret@127.0.0.1:{free_port_number}/nothing"
    settings = make_settings(tmp_path, storage={"database_url": url})
    with pytest.raises(DatabaseError) as caught:
        open_catalog(settings)
    message = str(caught.value)
    assert "cannot reach PostgreSQL at postgresql://nobody:***@127.0.0.1" in message
    assert "secret" not in message


@pytest.fixture
def free_port_number() -> int:
    from conftest import free_port

    return free_port()


@pytest.mark.slow
def test_migrate_to_copies_a_sqlite_deployment_with_ids_owners_and_tokens_and_can_run_again(
    tmp_path: Path, pg_url: str, papers: list[Paper]
) -> None:
    """`academichub migrate --to` as an operator runs it: the catalog, the radar state (topics of two
    owners, a feed token) and the chat history of a data directory land in PostgreSQL unchanged; a second
    run copies nothing; the data directory is then served from PostgreSQL (`stats`, `radar list`)."""
    import json
    import subprocess
    import sys

    from helpers import child_env
    from test_postgres_history import sqlite_history

    from assistant.radar.store import RadarStore, Topic

    home = tmp_path / "home"
    catalog = Catalog(home / "catalog.sqlite3")
    catalog.upsert(papers[:30])
    catalog.close()
    radar = RadarStore(home / "state.sqlite3")
    topic = Topic("diffusion models", "diffusion models", ["cs"], [], 1.0, None)
    alice = radar.add_topic(topic, "diffusion models", "alice")
    assert alice and radar.add_topic(topic, "diffusion models", "bob")
    alice_id = radar.topics("alice")[0].id
    token = radar.feed_token(alice_id, "alice-secret-token")
    radar.close()
    sqlite_history(home / "chat_history.sqlite3")

    cli = [str(Path(sys.executable).with_name("academichub")), "migrate", "--to", pg_url, "--json"]
    env = child_env(home)
    first = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["copied"]["catalog"] == {"papers": 30, "cursors": 0}
    assert report["copied"]["radar"]["radar_topics"] == 2
    assert report["copied"]["chat history"]["threads"] == 2
    again = json.loads(subprocess.run(cli, env=env, capture_output=True, text=True, timeout=300).stdout)
    assert again["steps_applied"] == []
    assert all(n == 0 for tables in again["copied"].values() for n in tables.values())

    served = child_env(tmp_path / "elsewhere", ACADEMICHUB_DATABASE_URL=pg_url)
    listed = subprocess.run(
        [*cli[:1], "radar", "list", "--owner", "alice", "--json"], env=served, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    assert [t["name"] for t in json.loads(listed.stdout)["topics"]] == ["diffusion models"]
    settings = make_settings(tmp_path / "elsewhere", storage={"database_url": pg_url})
    from assistant.radar.store import open_radar_store

    store = open_radar_store(settings)
    assert store.feed_token(alice_id, "another") == token  # the feed link readers have keeps working
    assert store.topics("alice")[0].id == alice_id
    assert open_catalog(settings).all_ids() == [p.id for p in papers[:30]]


def test_a_role_without_rights_is_told_what_to_grant(tmp_path: Path, pg_url: str, postgres: object) -> None:
    Database(pg_url, 1).migrate(CATALOG_STEPS)
    postgres.sql("CREATE ROLE reader_without_rights LOGIN")  # type: ignore[attr-defined]
    url = pg_url.replace("postgres@", "reader_without_rights@")
    settings = make_settings(tmp_path, storage={"database_url": url})
    with pytest.raises(DatabaseError, match=r"lacks a right it needs.*Grant it"):
        open_catalog(settings).count()
