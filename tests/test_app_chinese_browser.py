"""A reader of the Chinese daily opens the app in a zh-CN Chromium (Playwright `locale="zh-CN"`, so the
page's language and its Accept-Language are Chinese) and asks a Chinese question about a paper of the
bundled sample. Real `academichub serve` over a real index (the sample's first day, the packaged model), no
language model: the interface (Chainlit's own texts, our tabs, placeholder, banner, Readme), the notices
and the answer's frame are Chinese; the quotes and the side panel's abstract are the paper's English.
Screenshots are saved in the test's temp folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import test_app_browser
from conftest import make_settings, sample_records, write_jsonl
from test_app_browser import CHROMIUM, CHROMIUM_ARGS, serve_app

from assistant.store.embedding import Embedder
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LUNG_NODULES = (
    "2605.30631"  # Controllable Lung Nodule Synthesis via Histogram-Regularized Latent Diffusion ...
)
# How the Chinese daily's readers ask: Chinese, with the method's English name in it.
QUESTION = "如何用 latent diffusion models 合成可控的肺结节（lung nodule）CT 图像？"


@pytest.fixture(scope="module")
def zh_server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder):  # type: ignore[no-untyped-def]
    records = sample_records(27)  # the sample's first listing day
    assert any(r["id"] == LUNG_NODULES for r in records)
    home = tmp_path_factory.mktemp("zh-home")
    corpus = write_jsonl(home.parent / "zh-corpus.jsonl", records)
    ingestor = open_ingestor(make_settings(home), embedder=embedder)
    try:
        ingestor.run(file_runs([corpus]))
    finally:
        ingestor.close()
    lung = next(r for r in records if r["id"] == LUNG_NODULES)
    with pytest.MonkeyPatch.context() as patch:
        # A busy test machine (several suites at once) can take longer than the usual start-up wait.
        patch.setattr(test_app_browser, "SERVER_START_SECONDS", 600)
        with serve_app(home, tmp_path_factory) as url:
            logs = sorted(
                tmp_path_factory.getbasetemp().glob("server*/server.log"), key=lambda p: p.stat().st_mtime
            )
            yield url, lung, logs[-1]


def test_a_chinese_question_in_a_chinese_browser(zh_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    server, lung, log = zh_server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.goto(server)
            # The welcome screen: our tabs, banner and placeholder, Chainlit's own buttons, in Chinese.
            tabs = page.locator("#academichub-tabs button")
            expect(tabs).to_have_count(3, timeout=60_000)
            expect(tabs).to_have_text([re.compile("^提问"), re.compile("^简报"), re.compile("^雷达")])
            expect(page.get_by_text("摘录模式").first).to_be_visible(timeout=30_000)
            expect(page.locator("#chat-input")).to_have_attribute(
                "placeholder", re.compile("^就已索引的论文提问")
            )
            expect(page.locator("#readme-button")).to_have_text("说明")
            expect(page.locator("#starters")).to_contain_text("哪些论文研究")
            page.wait_for_timeout(600)
            page.screenshot(path=str(tmp_path / "zh-first-page.png"))

            page.locator("#readme-button").click()
            readme = page.get_by_role("dialog")
            expect(readme).to_contain_text("用中文提问", timeout=10_000)
            page.wait_for_timeout(400)
            page.screenshot(path=str(tmp_path / "zh-readme.png"))
            page.keyboard.press("Escape")
            expect(readme).to_have_count(0, timeout=10_000)

            page.locator("#chat-input").fill(QUESTION)
            submit = page.locator("#chat-submit")
            expect(submit).to_be_enabled(timeout=30_000)
            submit.click()

            answer = page.locator('[data-step-type="assistant_message"]').filter(has_text="来源").first
            expect(answer.locator("a.element-link", has_text="[1]").first).to_be_visible(timeout=120_000)
            page.wait_for_timeout(1000)  # the final (non-streamed) content lands
            # The frame is Chinese: the notice, the heading over the quotes, the sources list, the buttons.
            expect(answer).to_contain_text("未配置语言模型：摘录模式")
            expect(answer).to_contain_text("摘自检索到的论文摘要")
            expect(answer.get_by_role("button", name="就此生成简报")).to_be_visible()
            expect(answer.get_by_role("button", name="换一批")).to_be_visible()
            expect(answer.get_by_role("button", name="导出 Markdown")).to_be_visible()
            # The paper asked about is cited, and quoted in its own English words.
            # Its line in the sources list (the last item naming it: its quote bullet comes first).
            cited = answer.locator("li", has_text=lung["title"][:40]).last
            expect(cited).to_contain_text(" — ")
            assert "Lung Nodule" in answer.inner_text() and "摘自" in answer.inner_text()
            # The retrieval step is labelled in Chinese.
            expect(page.locator('[data-step-type="retrieval"]').first).to_contain_text("检索")
            page.screenshot(path=str(tmp_path / "zh-answer.png"))

            # Its citation opens the side panel: Chinese labels, the English abstract.
            marker = cited.locator("a.element-link").first
            label = marker.inner_text().strip()
            marker.click()
            panel = page.locator("#side-view-content")
            expect(panel).to_be_visible(timeout=15_000)
            expect(page.locator("#side-view-title")).to_have_text(label)
            expect(panel).to_contain_text("作者")
            expect(panel).to_contain_text("与您问题的匹配度")
            expect(panel).to_contain_text(" ".join(lung["summary"].split())[:60])
            page.wait_for_timeout(600)  # the panel slides in
            page.screenshot(path=str(tmp_path / "zh-panel.png"))
        finally:
            browser.close()
    assert (tmp_path / "zh-panel.png").stat().st_size > 10_000
    # Chainlit found the Readme in the page's language (it used to log this on every page load).
    assert "Translated markdown file" not in log.read_text(errors="replace")
    print(f"screenshots: {tmp_path}")
