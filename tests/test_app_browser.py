"""End to end: `academichub serve` on a free 127.0.0.1 port over a small real index, driven by headless
Debian Chromium through Playwright. A user asks a question, reads the streamed cited answer, opens a
source, finds its arXiv link, exports the answer, and a paper whose title carries a <script> tag shows
as text. A screenshot is saved in the test's temp folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_settings, sample_records, write_jsonl

from ingest.embedding import Embedder
from ingest.pipeline import Ingestor, file_runs

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
HOSTILE_PREFIX = "<script>window.__pwned = 1</script> "
SERVER_START_SECONDS = 240


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def app_home(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[Path, dict]:
    """Ten sample papers indexed with the real model; the one the test asks about has a <script> title."""
    records = sample_records(10)
    clean = records[0]
    records[0] = {**clean, "title": HOSTILE_PREFIX + clean["title"]}
    home = tmp_path_factory.mktemp("app-home")
    corpus = write_jsonl(home.parent / "app-corpus.jsonl", records)
    ingestor = Ingestor(make_settings(home), embedder=embedder)
    try:
        assert ingestor.run(file_runs([corpus])).new == 10
    finally:
        ingestor.close()
    return home, clean


@pytest.fixture(scope="module")
def server(app_home: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home, _ = app_home
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHAINLIT_", "ACADEMICHUB_"))}
    env.update({"ACADEMICHUB_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    cli = Path(sys.executable).with_name("academichub")
    with log_path.open("wb") as log:
        # Started from an unrelated folder: serve must find its config and welcome screen by itself.
        proc = subprocess.Popen(
            [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=log_path.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_SECONDS
            while True:
                if proc.poll() is not None:
                    output = log_path.read_text(errors="replace")
                    pytest.fail(f"server exited with {proc.returncode}:\n{output}")
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"server did not answer in {SERVER_START_SECONDS} s:\n{log_path.read_text()}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_ask_read_sources_and_export_in_a_real_browser(
    server: str, app_home: tuple[Path, dict], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    _, first_record = app_home
    question = f"What does the paper '{first_record['title']}' propose?"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server)
            # Welcome screen: profile description (extractive-mode banner) and starters.
            expect(page.get_by_text("Extractive mode").first).to_be_visible(timeout=60_000)
            expect(page.locator("#starters")).to_be_visible()

            page.locator("#chat-input").fill(question)
            submit = page.locator("#chat-submit")
            expect(submit).to_be_enabled(timeout=30_000)  # enabled once the websocket session is up
            submit.click()

            answers = page.locator('[data-step-type="assistant_message"]').filter(has_text="Sources")
            answer = answers.first
            first_marker = answer.locator("a.element-link", has_text="[1]").first
            expect(first_marker).to_be_visible(timeout=90_000)
            expect(answer).to_contain_text("Sources")
            assert answer.locator("a.element-link").count() >= 2  # markers in text and sources list

            # The retrieval step names the query and how many papers were found.
            expect(page.get_by_text("Retrieval").first).to_be_visible()

            # A hostile title is shown as text and never runs.
            expect(answer.get_by_text(HOSTILE_PREFIX.strip(), exact=False).first).to_be_visible()
            assert page.evaluate("() => window.__pwned") is None

            # Open source [1]: its panel shows the paper with its arXiv abstract link.
            first_marker.click()
            panel = page.locator("#side-view-content")
            expect(panel).to_be_visible(timeout=15_000)
            abs_link = panel.locator('a[href^="https://arxiv.org/abs/"]').first
            expect(abs_link).to_be_visible(timeout=15_000)
            href = abs_link.get_attribute("href") or ""
            assert href.rsplit("/", 1)[-1][:4].isdigit()

            # An action: export the answer as Markdown -> a downloadable .md file appears.
            page.keyboard.press("Escape")
            answer.get_by_role("button", name="Export Markdown").click()
            download_link = page.locator("a[download$='.md']").last
            expect(download_link).to_be_visible(timeout=30_000)

            # Another batch: new papers for the same question, none repeated.
            first_ids = set(
                answer.locator('a[href^="https://arxiv.org/abs/"]').evaluate_all(
                    "links => links.map(a => a.href.split('/').pop())"
                )
            )
            replies = page.locator('[data-step-type="assistant_message"]')
            before = replies.count()
            answer.get_by_role("button", name="Show another batch").click()
            expect(replies).to_have_count(before + 1, timeout=90_000)
            second = replies.last
            expect(second).not_to_have_text("", timeout=90_000)
            page.wait_for_timeout(1000)  # let the final (non-streamed) content land
            second_ids = set(
                second.locator('a[href^="https://arxiv.org/abs/"]').evaluate_all(
                    "links => links.map(a => a.href.split('/').pop())"
                )
            )
            # Ten papers only: the next batch may be short or empty, but it never repeats a paper.
            assert not (second_ids & first_ids)

            page.screenshot(path=str(tmp_path / "academichub-ask.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "academichub-ask.png").stat().st_size > 10_000
