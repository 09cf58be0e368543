"""Several app workers, one index (docs/deployment.md): two `academichub serve`
processes on one Chroma server and one catalog keep serving while a separate `academichub ingest` process
adds a paper, and both answer with it in a real browser (Debian Chromium) without a restart; a third
process, `academichub search`, finds it too. Everything listens on 127.0.0.1 and is stopped by the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import make_settings, sample_records, write_jsonl
from test_app_browser import CHROMIUM, CHROMIUM_ARGS, serve_app

from assistant.store.embedding import Embedder
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CLI = Path(sys.executable).with_name("academichub")
FIRST = 12  # papers the servers start with (cs.*, stat.ML, math.OC, physics.comp-ph)
NEW = 64  # "Testing Decision Makers without Counterfactuals" (cs.GT, econ.TH): what the ingest adds


def cli_env(home: Path, chroma_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHAINLIT_", "ACADEMICHUB_"))}
    env.update(
        {
            "ACADEMICHUB_HOME": str(home),
            "ACADEMICHUB_CHROMA_HOST": "127.0.0.1",
            "ACADEMICHUB_CHROMA_PORT": str(chroma_port),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }
    )
    return env


def start_together(
    managers: list[contextlib.AbstractContextManager[str]], stack: contextlib.ExitStack
) -> list[str]:
    """Enter the servers' context managers at once (each loads the model: ~30 s); each one that started is
    stopped by `stack`, also when another failed."""
    with ThreadPoolExecutor(len(managers)) as pool:
        futures = [pool.submit(manager.__enter__) for manager in managers]
    urls, failures = [], []
    for manager, future in zip(managers, futures, strict=True):
        try:
            urls.append(future.result())
        except BaseException as err:  # pytest.fail raises a BaseException
            failures.append(err)
        else:
            stack.push(manager)
    if failures:
        raise failures[0]
    return urls


def ask_in_browser(browser: object, url: str, question: str, paper_id: str, *, expect_found: bool) -> None:
    """A new chat on `url` asks `question`; the answer lists the paper `paper_id` (or does not)."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    try:
        page.goto(url)
        page.locator("#chat-input").fill(question)
        submit = page.locator("#chat-submit")
        expect(submit).to_be_enabled(timeout=60_000)  # the websocket session is up
        submit.click()
        answer = page.locator('[data-step-type="assistant_message"]').last
        expect(answer).not_to_have_text("", timeout=90_000)
        expect(page.locator('[data-step-type="retrieval"]').first).to_contain_text(
            "Used Retrieval", timeout=90_000
        )
        link = page.locator(
            f'[data-step-type="assistant_message"] a[href="https://arxiv.org/abs/{paper_id}"]'
        )
        if expect_found:
            expect(link.first).to_be_visible(timeout=90_000)
            expect(answer).to_contain_text("Sources")
        else:
            page.wait_for_timeout(1500)  # the final (non-streamed) content lands
            expect(link).to_have_count(0)
    finally:
        page.close()


def test_two_servers_see_a_paper_a_concurrent_ingest_adds_without_restart(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Embedder,
    chroma_server: int,
) -> None:
    from playwright.sync_api import sync_playwright

    records = sample_records(NEW + 1)
    new = records[NEW]
    home = tmp_path / "home"
    settings = make_settings(home).replace(storage={"chroma_host": "127.0.0.1", "chroma_port": chroma_server})
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        assert ingestor.run(file_runs([write_jsonl(tmp_path / "first.jsonl", records[:FIRST])])).new == FIRST
    finally:
        ingestor.close()

    env = cli_env(home, chroma_server)
    shared = {k: env[k] for k in ("ACADEMICHUB_CHROMA_HOST", "ACADEMICHUB_CHROMA_PORT")}
    question = f"What does the paper '{new['title']}' find?"
    with contextlib.ExitStack() as servers, sync_playwright() as pw:
        urls = start_together(
            [serve_app(home, tmp_path_factory, extra_env=shared) for _ in range(2)], servers
        )
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for url in urls:
                ask_in_browser(browser, url, question, new["id"], expect_found=False)

            # A separate ingest process adds the paper while both servers run.
            added = subprocess.run(
                [str(CLI), "ingest", "--file", str(write_jsonl(tmp_path / "new.jsonl", [new]))],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert added.returncode == 0, added.stdout + added.stderr
            # A third process, the CLI, searches by meaning meanwhile (it loads the model on its own).
            searching = servers.enter_context(
                subprocess.Popen(
                    [str(CLI), "search", new["title"], "--k", "3", "--json", "--mode", "dense"],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            servers.callback(searching.kill)  # only if the test fails before it ends (runs first)

            for url in urls:  # the same server processes, never restarted
                ask_in_browser(browser, url, question, new["id"], expect_found=True)
        finally:
            browser.close()

        # The CLI finds it too, first, by meaning.
        out, err = searching.communicate(timeout=300)
        assert searching.returncode == 0, err
        assert json.loads(out)["results"][0]["id"] == new["id"]
