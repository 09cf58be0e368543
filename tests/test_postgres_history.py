"""The chat history and the ingest lock on PostgreSQL (ACADEMICHUB_DATABASE_URL): Chainlit's data layer over
the history tables, as two app workers on different machines would use it; a SQLite history copied over;
one ingest at a time across machines, also after the holder is killed with -9.

Each test gets an empty database on the session's throwaway server (conftest's `pg_url`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import make_settings, sample_records, write_jsonl

from assistant.core.settings import Settings
from assistant.store.postgres.database import DATABASES, Database, DatabaseError, database
from assistant.store.postgres.history import (
    HISTORY_STEPS,
    HISTORY_TABLES,
    HistoryCopyError,
    copy_history_from_sqlite,
)
from assistant.store.postgres.lock import PostgresIngestLock
from assistant.ui.chat_history import asyncpg_url, conninfo, ensure_tables, history_conninfo, prepare_history
from ingest.pipeline import IngestBusy, IngestLock, ingest_lock


@pytest.fixture(autouse=True)
def close_pools() -> Iterator[None]:
    """Each test's database gets its own pool: close them, or the session's server fills up."""
    yield
    DATABASES.close_all()


def pg_settings(home: Path, url: str) -> Settings:
    return make_settings(home).replace(storage={"database_url": url})


def migrated(url: str) -> Database:
    db = database(url)
    db.migrate(HISTORY_STEPS)
    return db


def counts(db: Database) -> dict[str, int]:
    with db.connection() as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in HISTORY_TABLES}  # type: ignore[index]


def column_types(db: Database, table: str) -> dict[str, str]:
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", (table,)
        ).fetchall()
    return dict(rows)


# --- the tables and the URL -------------------------------------------------------------------------


def test_history_steps_create_chainlits_postgres_tables(pg_url: str) -> None:
    db = database(pg_url)
    with pytest.raises(DatabaseError, match=r"holds no chat history yet.*academichub migrate"):
        db.require_schema(HISTORY_STEPS, "chat history")

    assert db.migrate(HISTORY_STEPS) == [step.name for step in HISTORY_STEPS]
    assert db.migrate(HISTORY_STEPS) == []  # once per database
    db.require_schema(HISTORY_STEPS, "chat history")
    assert all(step.name.startswith("history-") for step in HISTORY_STEPS)

    users, threads, steps = column_types(db, "users"), column_types(db, "threads"), column_types(db, "steps")
    assert users["id"] == "uuid" and users["metadata"] == "jsonb" and users["createdAt"] == "text"
    assert threads["tags"] == "ARRAY" and threads["metadata"] == "jsonb" and threads["userId"] == "uuid"
    assert steps["metadata"] == "jsonb" and steps["generation"] == "jsonb" and steps["streaming"] == "boolean"
    # every key Chainlit's StepDict and ElementDict may carry has its column (the layer inserts them all)
    assert {"command", "modes", "defaultOpen", "autoCollapse", "icon", "indent"} <= set(steps)
    assert {"props", "autoPlay", "playerConfig", "chainlitKey", "objectKey"} <= set(
        column_types(db, "elements")
    )
    assert set(column_types(db, "feedbacks")) == {"id", "forId", "threadId", "value", "comment"}


def test_the_data_layer_url_is_asyncpgs_with_the_same_credentials() -> None:
    assert asyncpg_url("postgresql://ah:s%40cret@db.example:5433/hub") == (
        "postgresql+asyncpg://ah:s%40cret@db.example:5433/hub"
    )
    assert asyncpg_url("postgres://ah:pw@db/hub") == "postgresql+asyncpg://ah:pw@db/hub"
    assert asyncpg_url("postgresql://ah@db/hub?sslmode=require&connect_timeout=5") == (
        "postgresql+asyncpg://ah@db/hub?ssl=require"
    )


def test_the_history_goes_where_the_settings_say(tmp_path: Path, pg_url: str) -> None:
    sqlite_settings = make_settings(tmp_path)
    assert history_conninfo(sqlite_settings) == conninfo(tmp_path / "chat_history.sqlite3")
    assert prepare_history(sqlite_settings) == history_conninfo(sqlite_settings)
    assert (tmp_path / "chat_history.sqlite3").is_file()  # SQLite: tables made on the spot, as before

    settings = pg_settings(tmp_path / "pg", pg_url)
    with pytest.raises(DatabaseError, match="academichub migrate"):  # never created silently by the app
        prepare_history(settings)
    migrated(pg_url)
    assert prepare_history(settings) == asyncpg_url(pg_url)
    assert not (tmp_path / "pg" / "chat_history.sqlite3").exists()


def test_the_app_refuses_to_start_on_a_database_without_the_history(tmp_path: Path, pg_url: str) -> None:
    """Said before anyone chats, rather than each conversation silently not saved."""
    from helpers import child_env, free_port

    result = subprocess.run(
        [str(Path(sys.executable).parent / "academichub"), "serve", "--port", str(free_port())],
        env=child_env(tmp_path, ACADEMICHUB_DATABASE_URL=pg_url, ACADEMICHUB_CHAT_HISTORY="true"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    error = " ".join(result.stderr.split())
    assert result.returncode == 2, error
    assert "holds no chat history yet" in error and "academichub migrate" in error
    assert "Traceback" not in error


# --- Chainlit's data layer, two workers ---------------------------------------------------------------


async def write_conversation(
    url: str, thread_id: str, step_ids: list[str], tags: list[str] | None = None
) -> str:
    """What one app worker stores for a chat: the user, the thread, a question, an answer with its turn
    and a thumbs-up. The user's id. (Tags only on PostgreSQL: SQLite cannot bind the layer's list.)"""
    from chainlit.context import init_http_context
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
    from chainlit.types import Feedback
    from chainlit.user import User

    init_http_context(thread_id=thread_id)  # the layer's writes run inside a Chainlit context
    layer = SQLAlchemyDataLayer(conninfo=url)
    try:
        user = await layer.create_user(User(identifier="alice", metadata={"provider": "password"}))
        assert user is not None
        await layer.update_thread(thread_id, name="Sparse attention", user_id=user.id, tags=tags)
        for step_id, kind, text, metadata in [
            (step_ids[0], "user_message", "what is sparse attention?", {}),
            (step_ids[1], "assistant_message", "It is sparse [1].", {"turn": {"sources": ["2606.00001"]}}),
        ]:
            await layer.create_step(
                {
                    "id": step_id,
                    "threadId": thread_id,
                    "name": "x",
                    "type": kind,  # type: ignore[typeddict-item]
                    "streaming": False,
                    "output": text,
                    "metadata": metadata,
                    "createdAt": f"2026-06-03T10:00:0{step_ids.index(step_id)}Z",
                }
            )
        await layer.upsert_feedback(Feedback(forId=step_ids[1], value=1, threadId=thread_id, comment="good"))
        return user.id
    finally:
        await layer.engine.dispose()


async def read_conversation(url: str, thread_id: str, user_id: str) -> dict[str, Any]:
    """What another worker reads back: the user, their thread list, the thread with steps and feedback."""
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
    from chainlit.types import Pagination, ThreadFilter

    layer = SQLAlchemyDataLayer(conninfo=url)
    try:
        user = await layer.get_user("alice")
        threads = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=user_id))
        thread = await layer.get_thread(thread_id)
        author = await layer.get_thread_author(thread_id)
        return {"user": user, "threads": threads.data, "thread": thread, "author": author}
    finally:
        await layer.engine.dispose()


def test_a_conversation_stored_by_one_worker_is_resumed_by_another(tmp_path: Path, pg_url: str) -> None:
    migrated(pg_url)
    url = history_conninfo(pg_settings(tmp_path, pg_url))
    thread_id, step_ids = str(uuid.uuid4()), [str(uuid.uuid4()), str(uuid.uuid4())]

    user_id = asyncio.run(write_conversation(url, thread_id, step_ids, tags=["ask"]))
    read = asyncio.run(read_conversation(url, thread_id, user_id))  # a second data layer: another worker

    assert read["user"].id == user_id and read["user"].metadata == {"provider": "password"}
    assert [t["id"] for t in read["threads"]] == [thread_id]
    assert read["author"] == "alice"
    thread = read["thread"]
    assert thread["name"] == "Sparse attention" and thread["tags"] == ["ask"]
    steps = thread["steps"]
    assert [s["id"] for s in steps] == step_ids
    assert [s["output"] for s in steps] == ["what is sparse attention?", "It is sparse [1]."]
    assert steps[1]["metadata"] == {"turn": {"sources": ["2606.00001"]}}  # JSONB: a dict, not text
    assert steps[1]["feedback"] is not None and steps[1]["feedback"]["value"] == 1


# --- copying a SQLite history -----------------------------------------------------------------------


def sqlite_history(path: Path) -> dict[str, list[str]]:
    """A SQLite chat history written by Chainlit's data layer (as the app on SQLite did), plus an element
    (the layer stores none without a file store) and a step whose thread is gone. The ids by table."""
    ensure_tables(path)
    threads = [str(uuid.uuid4()), str(uuid.uuid4())]
    steps = [[str(uuid.uuid4()), str(uuid.uuid4())], [str(uuid.uuid4()), str(uuid.uuid4())]]
    user_id = ""
    for thread_id, step_ids in zip(threads, steps, strict=True):
        user_id = asyncio.run(write_conversation(conninfo(path), thread_id, step_ids))
    with sqlite3.connect(path) as conn:
        conn.execute(
            'INSERT INTO elements (id, "threadId", type, name, display, "forId", props, "autoPlay") '
            "VALUES (?, ?, 'text', 'sources', 'side', ?, ?, 0)",
            (str(uuid.uuid4()), threads[0], steps[0][1], '{"k": 1}'),
        )
        conn.execute(  # SQLite keeps no foreign keys: a step left behind by a deleted thread
            'INSERT INTO steps ("id", "name", "type", "threadId", "streaming") VALUES (?, ?, ?, ?, 0)',
            (str(uuid.uuid4()), "x", "user_message", str(uuid.uuid4())),
        )
    return {"users": [user_id], "threads": threads, "steps": [s for pair in steps for s in pair]}


def test_a_sqlite_history_is_copied_unchanged_and_only_once(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "chat_history.sqlite3"
    ids = sqlite_history(path)
    db = migrated(pg_url)

    copied = copy_history_from_sqlite(path, db)
    assert copied == {"users": 1, "threads": 2, "steps": 4, "elements": 1, "feedbacks": 2}
    assert counts(db) == copied  # the orphan step stayed behind
    assert copy_history_from_sqlite(path, db) == dict.fromkeys(HISTORY_TABLES, 0)  # safe to run again
    assert counts(db) == copied

    with sqlite3.connect(path) as source, db.connection() as conn:
        source_created = dict(source.execute('SELECT id, "createdAt" FROM threads').fetchall())
        pg_created = dict(conn.execute('SELECT id::text, "createdAt" FROM threads').fetchall())
        step_row = conn.execute(
            "SELECT streaming, metadata FROM steps WHERE id = %s", (ids["steps"][1],)
        ).fetchone()
        element = conn.execute('SELECT props, "autoPlay" FROM elements').fetchone()
    assert pg_created == source_created  # same ids, same timestamps
    assert step_row == (False, {"turn": {"sources": ["2606.00001"]}})
    assert element == ({"k": 1}, False)

    # and the app reads the copied threads as its own
    url = asyncpg_url(pg_url)
    read = asyncio.run(read_conversation(url, ids["threads"][1], ids["users"][0]))
    assert read["user"].id == ids["users"][0]
    assert sorted(t["id"] for t in read["threads"]) == sorted(ids["threads"])
    assert [s["id"] for s in read["thread"]["steps"]] == ids["steps"][2:]


def test_a_user_who_logged_in_on_postgres_first_gets_their_sqlite_threads(
    tmp_path: Path, pg_url: str
) -> None:
    path = tmp_path / "chat_history.sqlite3"
    ids = sqlite_history(path)
    db = migrated(pg_url)
    pg_user = str(uuid.uuid4())
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO users (id, identifier, metadata, \"createdAt\") VALUES (%s, 'alice', '{}', 'now')",
            (pg_user,),
        )

    copied = copy_history_from_sqlite(path, db)

    assert copied["users"] == 0 and copied["threads"] == 2
    with db.connection() as conn:
        owners = {row[0] for row in conn.execute('SELECT "userId"::text FROM threads')}
    assert owners == {pg_user} != set(ids["users"])


def test_copying_a_missing_history_says_so(tmp_path: Path, pg_url: str) -> None:
    with pytest.raises(HistoryCopyError, match="no chat history at"):
        copy_history_from_sqlite(tmp_path / "none.sqlite3", migrated(pg_url))


# --- the ingest lock across machines ------------------------------------------------------------------

HOLDER = """
import sys, time
from assistant.core.settings import Settings
from assistant.store.postgres.database import Database
from assistant.store.postgres.lock import PostgresIngestLock
lock = PostgresIngestLock(Database(sys.argv[1])).__enter__()
print("locked", flush=True)
time.sleep(120)
"""


def test_one_ingest_at_a_time_on_a_database(pg_url: str) -> None:
    first = PostgresIngestLock(database(pg_url))
    with first:
        with pytest.raises(IngestBusy) as busy:
            PostgresIngestLock(database(pg_url)).__enter__()
        message = str(busy.value)
        assert "another ingest is running on the database" in message
        assert f"pid {os.getpid()}" in message and "wait for it to finish or stop it" in message
    with PostgresIngestLock(database(pg_url)):  # released on exit
        pass


def test_a_killed_ingest_frees_the_lock(pg_url: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, pg_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(IngestBusy, match=f"pid {holder.pid} on"):
            PostgresIngestLock(database(pg_url)).__enter__()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)

    deadline = time.monotonic() + 10  # the server sees the connection drop: at once, in practice
    while True:
        try:
            with PostgresIngestLock(database(pg_url)):
                return
        except IngestBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_a_second_ingest_command_is_refused_while_another_machine_ingests(
    tmp_path: Path, pg_url: str, use_home: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from assistant.ui.cli import app

    monkeypatch.setenv("ACADEMICHUB_DATABASE_URL", pg_url)
    use_home(tmp_path)
    corpus = write_jsonl(tmp_path / "in.jsonl", sample_records(3))
    with PostgresIngestLock(database(pg_url)):  # as an ingest on another machine holds it
        result = CliRunner().invoke(app, ["ingest", "--file", str(corpus)])
    output = " ".join(result.output.split())
    assert result.exit_code == 2, output
    assert "another ingest is running on the database" in output and "Traceback" not in output


def test_the_ingest_takes_the_lock_of_its_store(tmp_path: Path, pg_url: str) -> None:
    assert isinstance(ingest_lock(make_settings(tmp_path)), IngestLock)
    lock = ingest_lock(pg_settings(tmp_path, pg_url))
    assert isinstance(lock, PostgresIngestLock) and lock.db.url == pg_url


def test_an_unreachable_database_is_said_plainly(tmp_path: Path) -> None:
    from conftest import free_port

    url = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/none"
    with pytest.raises(DatabaseError, match="cannot reach PostgreSQL") as err:
        PostgresIngestLock(Database(url)).__enter__()
    assert "secret" not in str(err.value)  # the URL without its password
