"""A list question in the chat app, in Debian Chromium through Playwright: the count, "Show all N" paged,
the list exported as CSV and Markdown, its topic saved to the radar ("Track"), and the Settings date filter
applied to a list question (the issue's "since 2026-06-15" case). Real server, real model, the bundled
sample's papers that write "diffusion" plus others."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import action_calls, click_action
from test_app_browser import CHROMIUM, CHROMIUM_ARGS, serve_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]

QUESTION = "Which papers use diffusion models?"


@pytest.fixture(scope="module")
def server(diffusion_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The list tests' index (conftest.diffusion_index), served; the test saves a radar topic in its
    state, which no list test reads."""
    with serve_app(diffusion_index, tmp_path_factory) as url:
        yield url


def test_a_list_question_shows_all_pages_exports_and_filters_in_a_real_browser(
    server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
            page = context.new_page()
            actions = action_calls(page)
            page.goto(server)
            expect(page.locator("#chat-submit")).to_be_attached(timeout=60_000)

            def send(text: str) -> None:
                page.locator("#chat-input").fill(text)
                submit = page.locator("#chat-submit")
                expect(submit).to_be_enabled(timeout=30_000)
                submit.click()

            replies = page.locator('[data-step-type="assistant_message"]')
            send(QUESTION)
            answer = replies.filter(has_text="papers match").first
            expect(answer).to_contain_text("most relevant are summarised below", timeout=120_000)
            count = int(re.search(r"(\d+) papers match", answer.inner_text()).group(1))  # type: ignore[union-attr]
            assert count >= 30
            show_all = answer.get_by_role("button", name=f"Show all {count}")
            expect(show_all).to_be_visible(timeout=30_000)
            expect(answer.get_by_role("button", name=re.compile("Track “diffusion models”"))).to_be_visible()
            answer.screenshot(path=str(tmp_path / "academichub-list-answer.png"))  # the whole message

            # The whole list, 25 a page, best first; the next page one more click.
            click_action(show_all, actions)
            first_page = replies.filter(has_text=f"All {count} papers on “diffusion models”").first
            expect(first_page).to_contain_text("page 1 of", timeout=60_000)
            assert first_page.locator('a[href^="https://arxiv.org/abs/"]').count() == 25
            click_action(first_page.get_by_role("button", name=re.compile(r"^Next \d+")), actions)
            second = replies.filter(has_text="(page 2 of").first
            expect(second).to_contain_text(f"26–{min(50, count)}", timeout=60_000)
            first_page.screenshot(path=str(tmp_path / "academichub-list-page-1.png"))
            second.screenshot(path=str(tmp_path / "academichub-list-page-2.png"))
            # A title with a colon before a word is shown whole (Chainlit read ":Zero-shot" as a directive).
            assert "ZIPP:Zero-shot Image Personalization" in first_page.inner_text() + second.inner_text()

            # The list exports: CSV (a row per match) and Markdown (every match linked to arXiv).
            with page.expect_download(timeout=30_000) as csv_info:
                answer.get_by_role("button", name="Export list (CSV)").click()
            rows = Path(csv_info.value.path()).read_text(encoding="utf-8").strip().splitlines()
            assert rows[0].startswith("rank,id,title") and len(rows) == count + 1
            with page.expect_download(timeout=30_000) as md_info:
                answer.get_by_role("button", name="Export list (Markdown)").click()
            markdown = Path(md_info.value.path()).read_text(encoding="utf-8")
            assert markdown.count("https://arxiv.org/abs/") == count

            # The list's topic saved to the radar: an explicit confirmation, then the saved topic.
            click_action(answer.get_by_role("button", name=re.compile("Track “diffusion models”")), actions)
            confirm = replies.filter(has_text="as a radar topic?").last
            expect(confirm).to_contain_text("diffusion models", timeout=30_000)
            click_action(confirm.get_by_role("button", name="Save topic"), actions)
            saved = page.get_by_text("Saved the topic").first
            expect(saved).to_contain_text("diffusion models", timeout=60_000)

            # "Brief me on this" briefs the list's topic, not the question's wording.
            click_action(answer.get_by_role("button", name="Brief me on this"), actions)
            briefing = replies.filter(has_text="Briefing: diffusion models").first
            expect(briefing).to_contain_text("Sources", timeout=120_000)
            expect(replies.filter(has_text="Briefing: Which papers")).to_have_count(0)
            briefing.screenshot(path=str(tmp_path / "academichub-list-briefing.png"))

            # Settings -> published since 2026-06-15: the same question lists only those papers, and
            # never "could not find".
            page.locator("#chat-settings-open-modal").click()
            since = page.locator("#since")
            expect(since).to_be_visible(timeout=15_000)
            since.fill("2026-06-15")
            page.locator("#confirm").click()
            expect(page.get_by_text("Settings applied to the next search").first).to_contain_text(
                "since 2026-06-15", timeout=30_000
            )
            send(QUESTION)
            filtered = replies.filter(has_text="(since 2026-06-15)").first
            expect(filtered).to_contain_text("papers match", timeout=120_000)
            expect(filtered).not_to_contain_text("could not find")
            narrowed = int(re.search(r"(\d+) papers? match", filtered.inner_text()).group(1))  # type: ignore[union-attr]
            assert 8 <= narrowed < count
            expect(filtered.get_by_role("button", name=f"Show all {narrowed}")).to_be_visible(timeout=60_000)
            filtered.screenshot(path=str(tmp_path / "academichub-list-filtered.png"))
        finally:
            browser.close()
