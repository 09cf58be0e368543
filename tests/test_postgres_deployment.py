"""The PostgreSQL deployment as operators run it (docs/deployment.md): one PostgreSQL server and one Chroma
server on 127.0.0.1, and processes that share no files: each `academichub` process (migrate, two `serve`
workers, ingests, `radar send`) has its own empty data directory and its own working directory.

One run, in order:

1. `academichub migrate` creates the schema; an initial index of 12 papers is ingested.
2. Two workers start together (login for alice and bob, chat history on) while an `academichub ingest
   --file` of 24 new papers starts too, in batches of 8. It is stopped (tests/stop_at.py) as the second
   batch's vectors are in Chroma and the catalog does not know yet: it holds the ingest lock
   (pg_stat_activity names it), a second `academichub ingest` exits 2 saying another ingest runs, and the
   first is killed with SIGKILL there.
3. In Chromium: neither worker can answer about the paper the ingest has not stored yet. Alice, on worker
   A, asks a question and saves a radar topic; on worker B she finds the topic in "Show my topics" and her
   conversation in the history sidebar, opens it (the question and its cited answer are there) and goes on
   with it; Bob, signed in on B, has no topic and no conversation of hers.
4. The killed ingest run again completes the index exactly (36 papers, none waiting, 36 vectors); both
   workers, never restarted, then answer with the new paper, and `academichub radar send` posts alice's
   topic's new papers to a local webhook.
5. PostgreSQL stops for 40 s: each question on each worker (twice: on the connections the server dropped,
   then waiting for one) gets "cannot reach PostgreSQL" in the page, no traceback; it starts again and the
   same pages answer the next question. A pool like the workers', in this process, is timed over the same
   outage: connected again at once, not after its reconnection backoff.

Screenshots of the key steps are saved in the test's tmp dir (`shots/`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import make_settings, sample_records, write_jsonl
from helpers import STOP_AT, child_env, free_port
from local_server import LocalHTTPServer
from postgres_server import PostgresServer, postgres_bindir
from test_app_browser import CHROMIUM, CHROMIUM_ARGS, serve_app
from test_app_login_browser import save_topic, send
from test_shared_index import start_together

from assistant.store.embedding import Embedder
from assistant.store.postgres.database import DATABASES, Database, DatabaseError
from assistant.store.vectors import VectorIndex
from assistant.ui.auth import hash_password
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(900)]

CLI = Path(sys.executable).with_name("academichub")
FIRST = 12  # the initial index: the bundled sample's first 12 papers (2026-06-01)
BATCH = 8  # papers the killed ingest stores together
# The new file: 23 more papers of 2026-06-01/02, then "Testing Decision Makers without Counterfactuals"
# (cs.GT, econ.TH), which the workers cannot answer with before; 3 batches, that paper in the last.
NEW_SLICE, KEY = slice(FIRST, FIRST + 23), 64
# Alice's topic: the key paper matches it (cosine ~0.55), none of the initial papers does.
TOPIC = "evaluating decision makers without counterfactual outcomes"
OLD_PAPER = 0  # what alice asks about first ("Cosm: Collective Switched Motion ...")
OUTAGE_SECONDS = 40  # how long PostgreSQL is down
ANSWER_AFTER_OUTAGE_MS = 30_000  # the first question after it is back is answered within this
STOP_BEFORE = "assistant.store.postgres.catalog:PostgresCatalog.mark_embedded"  # the killed ingest's (2nd)


# --- processes -------------------------------------------------------------------------------------------


class Place:
    """A process's own empty data directory and working directory (nothing shared between processes)."""

    def __init__(self, root: Path, name: str) -> None:
        self.home, self.cwd = root / name / "home", root / name / "work"
        self.home.mkdir(parents=True)
        self.cwd.mkdir(parents=True)


def run_cli(root: Path, name: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    place = Place(root, name)
    return subprocess.run(
        [str(CLI), *args],
        cwd=place.cwd,
        env=child_env(place.home, **env),
        capture_output=True,
        text=True,
        timeout=480,
    )


def start_cli(
    stack: contextlib.ExitStack, root: Path, name: str, argv: list[str], env: dict[str, str], **kwargs: Any
) -> subprocess.Popen[str]:
    """`argv` started in its own directories; killed by `stack` if it still runs then."""
    place = Place(root, name)
    proc = subprocess.Popen(argv, cwd=place.cwd, env=child_env(place.home, **env), text=True, **kwargs)
    stack.callback(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
    return proc


def probe_query(db: Database) -> Exception | None:
    """One query on `db`'s pool: None, or the error it raised."""
    try:
        with db.connection() as conn:
            conn.execute("SELECT 1")
    except Exception as err:
        return err
    return None


def flat(text: str) -> str:
    return " ".join(text.split())


def pg_rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def catalog_counts(url: str) -> tuple[int, int]:
    """(papers, papers waiting for their vectors), read by the test straight from PostgreSQL."""
    [(papers, pending)] = pg_rows(
        url,
        "SELECT count(*), count(*) FILTER (WHERE embedded_hash IS NULL OR embedded_hash <> content_hash) "
        "FROM papers",
    )
    return int(papers), int(pending)


def ingest_sessions(url: str) -> list[str]:
    """application_name of the sessions an ingest holding the lock opened (lock.py names them)."""
    return [
        row[0]
        for row in pg_rows(
            url,
            "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE %s",
            ("academichub ingest %",),
        )
    ]


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@contextlib.contextmanager
def own_postgres() -> Iterator[PostgresServer]:
    """A server of this test's own (it is stopped and started again), not the session's."""
    bindir = postgres_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs PostgreSQL for this test")
        pytest.skip("PostgreSQL is not installed (make postgres-deps installs Debian's package)")
    server = PostgresServer(port=free_port(), bindir=bindir).start()
    try:
        yield server
    finally:
        server.remove()


class Hook(BaseHTTPRequestHandler):
    """A chat webhook (Slack's incoming-webhook shape) on 127.0.0.1: keeps what is posted."""

    posts: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Hook.posts.append({"path": self.path, "json": json.loads(body)})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return


# --- in the browser --------------------------------------------------------------------------------------


class Shots:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def take(self, page: Any, name: str) -> None:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.wait_for_timeout(300)
        page.screenshot(path=str(path))


def sign_in(browser: Any, url: str, user: str) -> Any:
    """A new browser (context) of `user`, signed in on the worker at `url`; the page, in Ask."""
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.goto(url)
    page.locator("#email").fill(user)
    page.locator("#password").fill(f"{user}-password")
    page.locator("button[type=submit]").click()
    expect(page.locator("#chat-submit")).to_be_attached(timeout=90_000)
    return page


def new_chat(page: Any, url: str) -> Any:
    """Another tab of the same signed-in browser, on a new chat."""
    from playwright.sync_api import expect

    tab = page.context.new_page()
    tab.goto(url)
    tab.locator("#chat-input").fill("…")
    expect(tab.locator("#chat-submit")).to_be_enabled(timeout=90_000)  # the chat has started
    tab.locator("#chat-input").fill("")
    return tab


def to_radar(page: Any) -> None:
    from playwright.sync_api import expect

    page.locator("#academichub-tabs button", has_text="Radar").click()
    expect(page.locator("#starters")).to_contain_text("Show my topics", timeout=60_000)


def paper_link(page: Any, paper_id: str) -> Any:
    return page.locator(f'[data-step-type="assistant_message"] a[href="https://arxiv.org/abs/{paper_id}"]')


def ask(page: Any, question: str, paper_id: str, *, expect_found: bool) -> None:
    """`question` on a page with no answers yet: the cited answer links the paper (or does not)."""
    from playwright.sync_api import expect

    send(page, question)
    answer = page.locator('[data-step-type="assistant_message"]').last
    expect(answer).not_to_have_text("", timeout=90_000)
    expect(page.locator('[data-step-type="retrieval"]').first).to_contain_text(
        "Used Retrieval", timeout=90_000
    )
    if expect_found:
        expect(paper_link(page, paper_id).first).to_be_visible(timeout=90_000)
        expect(answer).to_contain_text("Sources")
    else:
        page.wait_for_timeout(1500)  # the final (non-streamed) content lands
        expect(paper_link(page, paper_id)).to_have_count(0)


_T0 = [time.monotonic()]


def phase(name: str) -> None:
    """Where the time goes (shown with -s)."""
    print(f"[{time.monotonic() - _T0[0]:6.1f} s] {name}", flush=True)


# --- the test --------------------------------------------------------------------------------------------


def test_postgres_deployment_workers_ingests_and_an_outage(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Embedder,
    chroma_server: int,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    _T0[0] = time.monotonic()
    records = sample_records(KEY + 1)
    initial, key = records[:FIRST], records[KEY]
    new = [*records[NEW_SLICE], key]
    assert len(new) == 3 * BATCH and key["id"] not in {r["id"] for r in initial + new[:-1]}
    new_file = write_jsonl(tmp_path / "new.jsonl", new)
    shots = Shots(tmp_path / "shots")
    old_question = f"What does the paper '{initial[OLD_PAPER]['title']}' propose?"
    key_question = f"What does the paper '{key['title']}' find?"

    with contextlib.ExitStack() as stack:
        postgres = stack.enter_context(own_postgres())
        url = postgres.create_database("deploy")
        stack.callback(DATABASES.close_all)  # the test process's own pool (the initial ingest's)
        shared = {
            "ACADEMICHUB_DATABASE_URL": url,
            "ACADEMICHUB_CHROMA_HOST": "127.0.0.1",
            "ACADEMICHUB_CHROMA_PORT": str(chroma_server),
        }

        phase("migrate")
        # 1. The schema, by the command operators run; then the initial index.
        migrated = run_cli(tmp_path, "migrate", ["migrate", "--json"], shared)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        steps = json.loads(migrated.stdout)["steps_applied"]
        assert {"catalog-tables"} <= set(steps) and any(s.startswith("history-") for s in steps), steps
        settings = make_settings(Place(tmp_path, "loader").home).replace(
            storage={"database_url": url, "chroma_host": "127.0.0.1", "chroma_port": chroma_server}
        )
        ingestor = open_ingestor(settings, embedder=embedder)
        try:
            assert ingestor.run(file_runs([write_jsonl(tmp_path / "first.jsonl", initial)])).new == FIRST
        finally:
            ingestor.close()
        assert catalog_counts(url) == (FIRST, 0)

        phase("start workers + ingest")
        # 2. The new papers' ingest starts beside the two workers (all three load the model at once) and
        # stops where a kill hurts most: the second batch's vectors in Chroma, its catalog rows pending.
        marker, killed_log = tmp_path / "ingest-stopped", tmp_path / "ingest-killed.log"
        stop_before = [sys.executable, str(STOP_AT), STOP_BEFORE]
        with killed_log.open("w") as log:
            first_ingest = start_cli(
                stack,
                tmp_path,
                "ingest-killed",
                [*stop_before, "2", str(marker), "ingest", "--json", "--file", str(new_file)],
                {**shared, "ACADEMICHUB_INGEST_BATCH_SIZE": str(BATCH)},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        users = ",".join(f"{u}:{hash_password(f'{u}-password')}" for u in ("alice", "bob"))
        worker_env = {
            **shared,
            "ACADEMICHUB_AUTH_USERS": users,
            "CHAINLIT_AUTH_SECRET": secrets.token_urlsafe(48),
            "ACADEMICHUB_CHAT_HISTORY": "true",
        }
        started = time.monotonic()
        worker_a, worker_b = start_together(
            [
                serve_app(Place(tmp_path, name).home, tmp_path_factory, extra_env=worker_env)
                for name in ("worker-a", "worker-b")
            ],
            stack,
        )
        print(f"workers up in {time.monotonic() - started:.0f} s")

        wait_for(lambda: marker.exists() or first_ingest.poll() is not None, "the ingest's stop", 480)
        assert first_ingest.poll() is None, killed_log.read_text()[-3000:]
        holder = f"academichub ingest pid {first_ingest.pid} on "
        assert any(name.startswith(holder) for name in ingest_sessions(url)), ingest_sessions(url)
        assert catalog_counts(url) == (FIRST + 2 * BATCH, BATCH)  # two batches in, the second pending
        phase("busy ingest")
        # A second ingest, meanwhile, is refused at once (before loading the model).
        busy = run_cli(tmp_path, "ingest-second", ["ingest", "--file", str(new_file)], shared)
        refusal = flat(busy.stdout + busy.stderr)
        assert busy.returncode == 2, refusal
        assert "another ingest is running on the database" in refusal, refusal
        assert f"pid {first_ingest.pid} on" in refusal and "wait for it to finish or stop it" in refusal
        assert "Traceback" not in refusal
        os.kill(first_ingest.pid, signal.SIGKILL)
        assert first_ingest.wait(timeout=30) == -signal.SIGKILL
        wait_for(lambda: not ingest_sessions(url), "the killed ingest's lock to be freed", 30)
        assert catalog_counts(url) == (FIRST + 2 * BATCH, BATCH)
        assert VectorIndex(settings).count() == FIRST + 2 * BATCH

        # The browser (stopped by `stack` before the workers).
        pw = stack.enter_context(sync_playwright())
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        stack.callback(browser.close)

        phase("before asks")
        # 3. Neither worker knows the paper yet.
        alice_a = sign_in(browser, worker_a, "alice")
        bob_b = sign_in(browser, worker_b, "bob")
        ask(alice_a, key_question, key["id"], expect_found=False)
        ask(bob_b, key_question, key["id"], expect_found=False)
        shots.take(bob_b, "worker-b-before-the-ingest")

        phase("rerun start")
        # The killed ingest is run again (its model loads while the browser goes on).
        second_ingest = start_cli(
            stack,
            tmp_path,
            "ingest-rerun",
            [str(CLI), "ingest", "--json", "--file", str(new_file)],
            {**shared, "ACADEMICHUB_INGEST_BATCH_SIZE": str(BATCH)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

        phase("alice on A")
        # Alice on worker A: a conversation, and a radar topic.
        alice_chat = new_chat(alice_a, worker_a)
        ask(alice_chat, old_question, initial[OLD_PAPER]["id"], expect_found=True)
        old_answer = alice_chat.locator('[data-step-type="assistant_message"]').last.inner_text()
        shots.take(alice_chat, "alice-asks-on-worker-a")
        alice_radar = new_chat(alice_a, worker_a)
        to_radar(alice_radar)
        save_topic(alice_radar, TOPIC)
        shots.take(alice_radar, "alice-saves-a-topic-on-worker-a")

        phase("alice on B")
        # Alice moves to worker B (another browser): her topic, her conversation. Her tabs on A close
        # first: Chainlit stores a conversation's mode (Ask) with it when its page disconnects.
        alice_chat.close()
        alice_radar.close()
        wait_for(
            lambda: (
                pg_rows(url, "SELECT metadata->>'chat_profile' FROM threads WHERE name = %s", (old_question,))
                == [("Ask",)]
            ),
            "worker A to store the conversation's mode",
            30,
        )
        alice_b = sign_in(browser, worker_b, "alice")
        to_radar(alice_b)
        alice_b.locator("#starters").get_by_text("Show my topics").click()
        listing = alice_b.locator('[data-step-type="assistant_message"]').filter(has_text="Your topics")
        expect(listing.first).to_contain_text("Your topics (1)", timeout=60_000)
        mine = alice_b.locator('[data-step-type="assistant_message"]').filter(has_text=TOPIC)
        expect(mine).to_have_count(1, timeout=30_000)
        expect(mine.get_by_role("button", name=re.compile("^Open “"))).to_have_count(1)
        shots.take(alice_b, "alice-topics-on-worker-b")
        history = alice_b.locator("#thread-history")
        thread = history.locator("a[href^='/thread/']", has_text=old_question)
        expect(thread).to_have_count(1, timeout=60_000)
        thread.click()
        expect(alice_b).to_have_url(re.compile(r"/thread/[0-9a-f-]{36}$"), timeout=30_000)
        expect(alice_b.locator("#academichub-mode-switch [aria-pressed=true]")).to_have_text("Ask")
        expect(alice_b.locator("#chat-input")).to_have_attribute("placeholder", re.compile("^Ask about"))
        expect(alice_b.locator('[data-step-type="user_message"]').first).to_contain_text(
            old_question, timeout=60_000
        )
        shown = alice_b.locator('[data-step-type="assistant_message"]')
        expect(shown.first).to_contain_text(old_answer[:60], timeout=60_000)
        expect(paper_link(alice_b, initial[OLD_PAPER]["id"]).first).to_be_visible()
        shots.take(alice_b, "alice-conversation-resumed-on-worker-b")
        phase("follow-up on B")
        # ... and goes on with it there: worker B answers in the conversation worker A began.
        answers = shown.count()
        send(alice_b, "Which other papers work on Ising optimization?")
        expect(shown).to_have_count(answers + 1, timeout=90_000)
        expect(shown.last).not_to_have_text("", timeout=90_000)

        phase("bob")
        # Bob on worker B: no topic of alice's, none of her conversations.
        bob_radar = new_chat(bob_b, worker_b)
        to_radar(bob_radar)
        bob_radar.locator("#starters").get_by_text("Show my topics").click()
        expect(
            bob_radar.locator('[data-step-type="assistant_message"]').filter(has_text="no saved topics")
        ).to_have_count(1, timeout=60_000)
        bob_text = bob_radar.locator("body").inner_text()
        assert TOPIC not in bob_text and old_question not in bob_text
        shots.take(bob_radar, "bob-on-worker-b")

        phase("rerun wait")
        # 4. The re-run ingest completes the index, exactly.
        out, err = second_ingest.communicate(timeout=480)
        assert second_ingest.returncode == 0, err[-3000:]
        summary = json.loads(out)
        assert summary["resumed_from_earlier_run"] == BATCH, summary
        assert (summary["new"], summary["unchanged"], summary["updated"]) == (BATCH, 2 * BATCH, 0), summary
        total = FIRST + len(new)
        assert (summary["papers_total"], summary["vectors_total"], summary["pending_embeddings"]) == (
            total,
            total,
            0,
        )
        assert catalog_counts(url) == (total, 0)
        assert VectorIndex(settings).count() == total
        assert sorted(VectorIndex(settings).all_ids()) == sorted(r["id"] for r in initial + new)

        phase("radar send start")
        # The digest of alice's topic goes out from another process meanwhile (it loads the model).
        Hook.posts = []
        hook = LocalHTTPServer(Hook, "webhook").start()
        stack.callback(hook.stop)
        webhook = hook.origin + "/hooks/lab"
        sending = start_cli(
            stack,
            tmp_path,
            "radar-send",
            [str(CLI), "radar", "send", TOPIC, "--owner", "alice", "--json", "--webhook", webhook],
            shared,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

        phase("after asks")
        # Both workers, never restarted, answer with the new paper.
        on_a, on_b = new_chat(alice_a, worker_a), new_chat(bob_b, worker_b)
        ask(on_a, key_question, key["id"], expect_found=True)
        ask(on_b, key_question, key["id"], expect_found=True)
        shots.take(on_a, "worker-a-after-the-ingest")
        shots.take(on_b, "worker-b-after-the-ingest")

        out, err = sending.communicate(timeout=480)
        assert sending.returncode == 0, err[-3000:]
        [delivery] = json.loads(out)["deliveries"]
        assert delivery["sent"] is True, delivery
        new_ids = {r["id"] for r in new}
        assert key["id"] in delivery["papers"] and set(delivery["papers"]) <= new_ids, delivery
        [post] = Hook.posts
        assert post["path"] == "/hooks/lab"
        assert f"<https://arxiv.org/abs/{key['id']}|" in post["json"]["text"]

        phase("outage")
        # 5. PostgreSQL stops: each worker says so in the page; then it is back, and they answer again.
        pages = [new_chat(alice_a, worker_a), new_chat(bob_b, worker_b)]
        errors = [
            page.locator('[data-step-type="assistant_message"]').filter(has_text="cannot reach PostgreSQL")
            for page in pages
        ]
        # A pool as each worker keeps, in this process: the same outage, timed exactly (below).
        probe = Database(url, 2)
        stack.callback(probe.close)
        with probe.connection() as conn:
            conn.execute("SELECT 1")
        postgres.stop()
        down = time.monotonic()
        waiting = stack.enter_context(ThreadPoolExecutor(1)).submit(probe_query, probe)  # fails
        # Asked twice: first on the connections the server dropped, then on none (the pool waits for one).
        for attempt in (1, 2):
            for page in pages:
                send(page, key_question)
            for page, error in zip(pages, errors, strict=True):
                expect(error).to_have_count(attempt, timeout=90_000)
                expect(error.last).to_contain_text("The database cannot be used")
                expect(error.last).to_contain_text("Start the server or correct ACADEMICHUB_DATABASE_URL")
                text = page.locator("body").inner_text()
                assert "Traceback" not in text and "Something went wrong" not in text, text[-2000:]
        shots.take(pages[0], "worker-a-postgres-down")
        shots.take(pages[1], "worker-b-postgres-down")
        # Down as long as a restart may take: longer than the pools' reconnection backoff (1, 2, 4, 8 s ...)
        # may wait before its next try without the first question after the restart timing out.
        time.sleep(max(0.0, down + OUTAGE_SECONDS - time.monotonic()))
        failed = waiting.result(timeout=60)
        assert isinstance(failed, DatabaseError) and "cannot reach PostgreSQL" in str(failed), failed
        postgres.start_again()
        for page in pages:
            send(page, key_question)
        # The pool connects again at once: it gave up its backoff (1, 2, 4 ... s) early instead of trying
        # again a minute or more after the restart, every request until then timing out.
        again = time.monotonic()
        assert probe_query(probe) is None
        assert time.monotonic() - again < 5
        for page in pages:  # the first question after the restart is answered
            expect(paper_link(page, key["id"]).first).to_be_visible(timeout=ANSWER_AFTER_OUTAGE_MS)
        shots.take(pages[0], "worker-a-postgres-back")
        shots.take(pages[1], "worker-b-postgres-back")
        phase("done")
