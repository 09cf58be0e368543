"""End to end: `academichub serve` on a free 127.0.0.1 port over a small real index, driven by headless
Debian Chromium through Playwright (one server for the module). In Ask, a user asks a question, sees the
retrieval step above the streamed cited answer, opens a source, finds its arXiv link, exports the answer,
and a paper whose title carries a <script> tag shows as text. In Radar, a user tracks a topic, pages
through its new papers as one sortable list, exports them, follows an author, gets the day's cited
briefing and sees the week again. Screenshots are saved in each test's temp folder."""

from __future__ import annotations

import contextlib
import html
import io
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, make_settings, sample_records, write_jsonl
from helpers import action_calls, child_env, click_action

from assistant.compose.lists import group_of
from assistant.store.embedding import Embedder
from ingest.normalize import from_json_record
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

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
INDEXED_PAPERS = 27  # the bundled sample's first listing day (2026-06-01): all "today's papers" for the radar
# Five of those papers match this topic above the radar's relevance threshold: two batches of 3.
RADAR_TOPIC = "diffusion models for image generation"
RADAR_BATCH = 3
SERVER_START_SECONDS = 240


@pytest.fixture(scope="module")
def app_home(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[Path, dict]:
    """The sample's first day indexed with the real model; the paper Ask asks about has a <script> title."""
    records = sample_records(INDEXED_PAPERS)
    assert {r["date"] for r in records} == {"2026-06-01"}
    clean = records[0]
    records[0] = {**clean, "title": HOSTILE_PREFIX + clean["title"]}
    home = tmp_path_factory.mktemp("app-home")
    corpus = write_jsonl(home.parent / "app-corpus.jsonl", records)
    ingestor = open_ingestor(make_settings(home), embedder=embedder)
    try:
        assert ingestor.run(file_runs([corpus])).new == INDEXED_PAPERS
    finally:
        ingestor.close()
    return home, clean


@pytest.fixture(scope="module")
def server(app_home: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home, _ = app_home
    with serve_app(home, tmp_path_factory) as url:
        yield url


@contextlib.contextmanager
def serve_app(
    home: Path, tmp_path_factory: pytest.TempPathFactory, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """`academichub serve` over `home` on a free port; yields its URL, stops it on exit."""
    port = free_port()
    env = child_env(home)
    env.update(extra_env or {})
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


def third_party_requests(page: object, server: str) -> list[str]:
    """Collect every request the page makes to a host other than the app's (fonts, CDNs, ...)."""
    seen: list[str] = []
    page.on(  # type: ignore[attr-defined]
        "request",
        lambda request: (
            seen.append(request.url) if not request.url.startswith((server, "data:", "blob:")) else None
        ),
    )
    return seen


def mode_switch_shows(page: object, mode: str) -> None:
    """The header's mode switch is on screen with its three modes, `mode` the pressed one, in place of
    Chainlit's profile dropdown and clear of the header's buttons on the right."""
    from playwright.sync_api import expect

    switch = page.locator("#academichub-mode-switch")  # type: ignore[attr-defined]
    expect(switch.get_by_role("button")).to_have_text(["Ask", "Briefing", "Radar"])
    expect(switch).to_be_in_viewport(ratio=1)
    expect(switch.locator("[aria-pressed=true]")).to_have_text(mode)
    dropdown = page.locator("#header div:has(> #chat-profiles)").bounding_box()  # type: ignore[attr-defined]
    assert dropdown is not None and dropdown["width"] <= 1 and dropdown["height"] <= 1, dropdown
    box, readme = switch.bounding_box(), page.locator("#readme-button").bounding_box()  # type: ignore[attr-defined]
    assert box is not None and readme is not None and box["x"] + box["width"] < readme["x"], (box, readme)


def side_panel_closes(page: object) -> None:
    from playwright.sync_api import expect

    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    expect(page.locator("#side-view-content")).to_have_count(0, timeout=10_000)  # type: ignore[attr-defined]


def test_ask_read_sources_and_export_in_a_real_browser(
    server: str, app_home: tuple[Path, dict], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    _, first_record = app_home
    question = f"What does the paper '{first_record['title']}' propose?"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
            page = context.new_page()
            actions = action_calls(page)
            outside = third_party_requests(page, server)
            page.goto(server)
            # Welcome screen: the three modes as tabs, the extractive-mode banner (what it is, where the
            # Readme explains a model) and starters; our own logo, favicon and footer line.
            expect(page.get_by_text("Extractive mode").first).to_be_visible(timeout=60_000)
            expect(page.locator("#starters")).to_be_visible()
            tabs = page.locator("#academichub-tabs button")
            expect(tabs).to_have_count(3, timeout=15_000)
            expect(tabs).to_have_text([re.compile("^Ask"), re.compile("^Briefing"), re.compile("^Radar")])
            expect(page.locator("#academichub-tabs [aria-pressed=true]")).to_contain_text("Ask")
            expect(page.get_by_text("ACADEMICHUB_MODEL").first).to_be_visible()
            expect(page.locator("#chat-input")).to_have_attribute("placeholder", re.compile("^Ask about"))
            expect(page.get_by_text("LLMs can make mistakes")).to_have_count(0)
            # The name in the header, beside the mode picker.
            expect(page.locator("#header #academichub-brand")).to_have_text("AcademicHub")
            expect(page.locator("#header #academichub-brand")).to_be_visible()
            expect(page.locator("#academichub-welcome-brand")).to_be_hidden()
            for path in ("/favicon", "/logo?theme=light", "/logo?theme=dark", "/avatars/AcademicHub"):
                with urllib.request.urlopen(server + path, timeout=10) as response:
                    assert b"AcademicHub" in response.read() or path.startswith(("/favicon", "/avatars"))
            with urllib.request.urlopen(server + "/favicon", timeout=10) as response:
                assert b"#1f4e79" in response.read()  # ours, not Chainlit's
            expect(page.locator("#starters")).to_be_visible()
            page.wait_for_timeout(500)
            page.screenshot(path=str(tmp_path / "academichub-first-page.png"))

            # The Readme dialog closes on Escape.
            page.locator("#readme-button").click()
            readme = page.get_by_role("dialog")
            expect(readme).to_contain_text("Plug in a language model", timeout=10_000)
            page.keyboard.press("Escape")
            expect(readme).to_have_count(0, timeout=10_000)

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
            expect(answer).to_contain_text("From the retrieved abstracts")
            # The first page's mode tabs are gone with its starters; the header's mode switch stays.
            expect(page.locator("#academichub-tabs")).to_have_count(0)
            mode_switch_shows(page, "Ask")
            # Nothing opens by itself: the side panel waits for a click on a citation.
            page.wait_for_timeout(1500)
            expect(page.locator("#side-view-content")).to_have_count(0)
            # Sources are numbered in reading order: the first citation met is [1], then [2], ... (issue 26
            # item 3; the sources list under the text runs on in the same order).
            markers = answer.locator("a.element-link").evaluate_all("links => links.map(a => a.textContent)")
            met = list(dict.fromkeys(int(m.strip("[]")) for m in markers if re.fullmatch(r"\[\d+\]", m)))
            assert met == list(range(1, len(met) + 1)), markers
            # Citation chips are tap targets of at least 24x24 CSS px.
            box = first_marker.bounding_box()
            assert box is not None and box["width"] >= 24 and box["height"] >= 24, box

            # The retrieval step names the query and how many papers were found, above the answer.
            step = page.locator('[data-step-type="retrieval"]').first
            expect(step).to_contain_text("Used Retrieval")
            assert step.evaluate(
                "(step, answer) => "
                "Boolean(step.compareDocumentPosition(answer) & Node.DOCUMENT_POSITION_FOLLOWING)",
                answer.element_handle(),
            ), "the retrieval step is shown below the answer it belongs to"
            step.get_by_text("Used Retrieval").click()
            expect(step).to_contain_text(re.compile(r"\d+ papers? found, best ranked first"))
            matches = [float(m) for m in re.findall(r"match (\d\.\d\d)", step.inner_text())]
            assert matches, step.inner_text()
            step.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "academichub-ask-step.png"))

            # A hostile title is shown as text and never runs.
            expect(answer.get_by_text(HOSTILE_PREFIX.strip(), exact=False).first).to_be_visible()
            assert page.evaluate("() => window.__pwned") is None

            # Click the LAST marker of the sources list: the panel shows exactly that paper, header = marker.
            listed = answer.locator("li a.element-link")
            last = listed.last
            label = last.inner_text().strip()
            assert re.fullmatch(r"\[\d+\]", label), label
            line = last.locator("xpath=ancestor::li[1]").inner_text()
            listed_title = line.split("]", 1)[1].split(" — ")[0].strip()
            last.click()
            panel = page.locator("#side-view-content")
            expect(panel).to_be_visible(timeout=15_000)
            expect(page.locator("#side-view-title")).to_have_text(label)
            expect(panel.locator("h3")).to_have_count(1)
            expect(panel.locator("h3")).to_contain_text(f"{label} {listed_title[:30]}")
            abs_link = panel.locator('a[href^="https://arxiv.org/abs/"]').first
            expect(abs_link).to_be_visible(timeout=15_000)
            href = abs_link.get_attribute("href") or ""
            assert href.rsplit("/", 1)[-1][:4].isdigit()
            page.wait_for_timeout(600)  # the panel slides in
            page.screenshot(path=str(tmp_path / "academichub-ask-panel.png"))
            side_panel_closes(page)

            # Export Markdown: one click downloads a clean .md named at a word boundary.
            with page.expect_download(timeout=30_000) as download_info:
                answer.get_by_role("button", name="Export Markdown").click()
            download = download_info.value
            assert download.suggested_filename.endswith(".md")
            assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*\.md", download.suggested_filename)
            exported = Path(download.path()).read_text(encoding="utf-8")
            assert exported.count("\n# ") + exported.startswith("# ") == 1  # the title once
            assert "ℹ" not in exported and "## References" in exported
            with page.expect_download(timeout=30_000) as bib_info:
                answer.get_by_role("button", name="Export BibTeX").click()
            assert bib_info.value.suggested_filename.endswith(".bib")
            assert "@misc{" in Path(bib_info.value.path()).read_text(encoding="utf-8")

            # Another batch: new papers for the same question, none repeated.
            first_ids = set(
                answer.locator('a[href^="https://arxiv.org/abs/"]').evaluate_all(
                    "links => links.map(a => a.href.split('/').pop())"
                )
            )
            replies = page.locator('[data-step-type="assistant_message"]')
            before = replies.count()
            click_action(answer.get_by_role("button", name="Show another batch"), actions)
            expect(replies).to_have_count(before + 1, timeout=90_000)
            second = replies.last
            expect(second).not_to_have_text("", timeout=90_000)
            page.wait_for_timeout(1000)  # let the final (non-streamed) content land
            second_ids = set(
                second.locator('a[href^="https://arxiv.org/abs/"]').evaluate_all(
                    "links => links.map(a => a.href.split('/').pop())"
                )
            )
            # A small index: the next batch may be short or empty, but it never repeats a paper.
            assert not (second_ids & first_ids)
            # The new answer's side elements did not open the panel either.
            page.wait_for_timeout(1500)
            expect(page.locator("#side-view-content")).to_have_count(0)

            # A filter follow-up none of the previous papers meets says so plainly.
            page.locator("#chat-input").fill("which of these use quokkas?")
            expect(page.locator("#chat-submit")).to_be_enabled(timeout=30_000)
            page.locator("#chat-submit").click()
            expect(
                page.get_by_text("None of the previous answer's papers mention “quokkas”").first
            ).to_be_visible(timeout=90_000)
            # A second follow-up keeps to the conversation's topic (the first question's), never to the
            # last one's condition (issue 26 item 4: chained follow-ups drifted).
            steps = page.locator('[data-step-type="retrieval"]')
            searched = steps.count()
            page.locator("#chat-input").fill("and what about benchmarks?")
            expect(page.locator("#chat-submit")).to_be_enabled(timeout=30_000)
            page.locator("#chat-submit").click()
            expect(steps).to_have_count(searched + 1, timeout=90_000)
            last_step = steps.last
            expect(last_step.get_by_text("Used Retrieval")).to_be_visible(timeout=90_000)
            last_step.get_by_text("Used Retrieval").click()
            expect(last_step).to_contain_text("benchmarks", timeout=30_000)
            expect(last_step).not_to_contain_text("quokkas")

            page.screenshot(path=str(tmp_path / "academichub-ask.png"), full_page=True)

            # Another mode from the header's switch: Chainlit confirms (a mode holds for a whole chat),
            # then a new chat in that mode starts.
            page.locator("#academichub-mode-switch").get_by_role("button", name="Briefing").click()
            new_chat = page.locator("#new-chat-dialog")
            expect(new_chat).to_be_visible(timeout=10_000)
            new_chat.locator("#confirm").click()
            expect(page.locator("#chat-profiles")).to_contain_text("Briefing", timeout=15_000)
            expect(page.locator("#starters")).to_contain_text("Brief me", timeout=30_000)
            mode_switch_shows(page, "Briefing")
            expect(page.locator("#chat-input")).to_have_attribute("placeholder", re.compile("^Type a topic"))
            page.wait_for_timeout(500)
            page.screenshot(path=str(tmp_path / "academichub-mode-switched.png"))
            assert not outside, f"requests to third parties: {outside}"
        finally:
            browser.close()
    assert (tmp_path / "academichub-ask.png").stat().st_size > 10_000


# The placeholder's width on one line (a hidden span in the input's font) and the input's room for it.
PLACEHOLDER_WIDTH = """input => {
    const style = getComputedStyle(input);
    const probe = document.createElement("span");
    probe.style.cssText = "position: absolute; visibility: hidden; white-space: pre";
    for (const name of ["fontFamily", "fontSize", "fontWeight", "fontStyle", "letterSpacing"]) {
        probe.style[name] = style[name];
    }
    probe.textContent = input.placeholder;
    document.body.appendChild(probe);
    const width = probe.getBoundingClientRect().width;
    probe.remove();
    const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return { placeholder: input.placeholder, width, room };
}"""

# Every citation chip followed by punctuation ("... images [1]."), at each width of the message's text
# from 200 px to its own: the chips whose punctuation lands on a later line than the chip itself.
PUNCTUATION_LEFT_ALONE = """answer => {
    const text = answer.querySelector(".message-content");
    const chips = [...text.querySelectorAll("a.element-link")].filter(chip => {
        const next = chip.nextSibling;
        return next && next.nodeType === Node.TEXT_NODE && /^[.,;:]/.test(next.textContent);
    });
    const full = text.getBoundingClientRect().width;
    const alone = [];
    for (let width = 200; width <= full; width += 2) {
        text.style.width = `${width}px`;
        for (const chip of chips) {
            const stop = document.createRange();
            stop.setStart(chip.nextSibling, 0);
            stop.setEnd(chip.nextSibling, 1);
            if (stop.getBoundingClientRect().top >= chip.getBoundingClientRect().bottom - 2) {
                alone.push(`${chip.textContent} at ${width} px`);
            }
        }
    }
    text.style.width = "";
    return { chips: chips.length, alone };
}"""


# How many rows of a list a person sees: those whose middle is not covered or cut off (by the list's or
# the dialog's scroll box, or the screen's edge).
ROWS_IN_SIGHT = """list => [...list.querySelectorAll("[cmdk-item]")].filter(row => {
    const box = row.getBoundingClientRect();
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return box.height > 0 && hit !== null && row.contains(hit);
}).length"""


def placeholder_fits(page: object) -> None:
    measured = page.locator("#chat-input").evaluate(PLACEHOLDER_WIDTH)  # type: ignore[attr-defined]
    assert measured["placeholder"] and measured["width"] <= measured["room"], measured


def test_phone_viewport_citation_panel_is_under_control(server: str, tmp_path: Path) -> None:
    """On a 390x844 phone: the name on the first page, placeholders that fit the input, the active filters
    as chips in the input's box, a refused date replaced in the form by the one in force; after an answer
    its action buttons in view, the mode switch in the header, no lone full stop after a citation chip;
    the source panel opens only on a tap, leaves the answer visible above it, has a close button of at
    least 24x24 px and closes with Escape."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            page.goto(server)
            expect(page.locator("#academichub-tabs button")).to_have_count(3, timeout=60_000)
            page.wait_for_timeout(800)  # the welcome screen fades in
            # The header has no room for the name beside the mode picker: it heads the mode tabs instead.
            expect(page.locator("#academichub-welcome-brand")).to_have_text("AcademicHub")
            expect(page.locator("#academichub-welcome-brand")).to_be_in_viewport(ratio=1)
            expect(page.locator("#academichub-brand")).to_be_hidden()
            expect(page.locator("#chat-input")).to_have_attribute("placeholder", re.compile("^Ask about"))
            placeholder_fits(page)
            page.screenshot(path=str(tmp_path / "academichub-phone-first-page.png"))
            page.locator("#academichub-tabs button", has_text="Radar").click()
            expect(page.locator("#chat-profiles")).to_contain_text("Radar")
            expect(page.locator("#chat-input")).to_have_attribute("placeholder", re.compile("track: <topic>"))
            placeholder_fits(page)
            expect(page.locator("#academichub-welcome-brand")).to_be_in_viewport(ratio=1)
            page.screenshot(path=str(tmp_path / "academichub-phone-radar-first-page.png"))
            page.locator("#academichub-tabs button", has_text="Ask").click()
            expect(page.locator("#chat-profiles")).to_contain_text("Ask")
            expect(page.locator("#chat-input")).to_have_attribute("placeholder", re.compile("^Ask about"))

            # A date filter shows as a chip in the input's box, beside the settings button.
            chips = page.locator("#academichub-filters")
            expect(chips).to_have_count(0)
            page.locator("#chat-settings-open-modal").click()
            expect(page.locator("#since")).to_be_visible(timeout=15_000)
            page.locator("#since").fill("2026-06-01")  # the index's one day: the answer still finds papers
            page.locator("#confirm").click()
            expect(chips).to_have_text(re.compile(r"^Filters:\s*since 2026-06-01$"), timeout=30_000)
            expect(chips).to_be_in_viewport(ratio=1)
            chips_box, composer = chips.bounding_box(), page.locator("#message-composer").bounding_box()
            assert chips_box is not None and composer is not None
            assert (
                composer["x"] <= chips_box["x"]
                and chips_box["x"] + chips_box["width"] <= composer["x"] + composer["width"]
            )
            assert (
                composer["y"] <= chips_box["y"]
                and chips_box["y"] + chips_box["height"] <= composer["y"] + composer["height"]
            )
            # A date the app refuses: the message names the date still used, and the form shows it again
            # in place of the refused text.
            page.locator("#chat-settings-open-modal").click()
            page.locator("#since").fill("June 1st")
            page.locator("#confirm").click()
            refusal = page.get_by_text("Settings not applied").first
            expect(refusal).to_contain_text("'June 1st' is not a date", timeout=30_000)
            expect(refusal).to_contain_text("Still in force: all fields; dates: 2026-06-01 to …")
            page.locator("#chat-settings-open-modal").click()
            expect(page.locator("#since")).to_have_value("2026-06-01", timeout=15_000)
            page.screenshot(path=str(tmp_path / "academichub-phone-refused-date.png"))
            page.keyboard.press("Escape")
            expect(page.locator("#chat-settings")).to_have_count(0, timeout=10_000)
            expect(chips).to_have_text(re.compile(r"^Filters:\s*since 2026-06-01$"))

            page.locator("#chat-input").fill("Which papers use diffusion models?")
            submit = page.locator("#chat-submit")
            expect(submit).to_be_enabled(timeout=30_000)
            submit.click()
            answer = page.locator('[data-step-type="assistant_message"]').filter(has_text="Sources").first
            marker = answer.locator("a.element-link", has_text="[1]").first
            expect(marker).to_be_visible(timeout=90_000)
            # The chat scrolls on to the answer's action buttons, added below it once it is written.
            last_action = answer.get_by_role("button").last
            expect(last_action).to_have_text(re.compile("Track .* as a topic"), timeout=30_000)
            expect(last_action).to_be_in_viewport(ratio=1, timeout=15_000)
            expect(page.get_by_text("AcademicHub cites the indexed papers in every answer")).to_be_visible()
            expect(chips).to_contain_text("since 2026-06-01")  # still in force, still shown
            mode_switch_shows(page, "Ask")
            page.screenshot(path=str(tmp_path / "academichub-phone-answer-end.png"))
            page.wait_for_timeout(1500)
            expect(page.locator("#side-view-content")).to_have_count(0)
            box = marker.bounding_box()
            assert box is not None and box["width"] >= 24 and box["height"] >= 24, box
            # A chip never leaves the sentence's full stop alone at the start of the next line.
            punctuation = answer.evaluate(PUNCTUATION_LEFT_ALONE)
            assert punctuation["chips"] >= 2 and punctuation["alone"] == [], punctuation
            marker.tap()
            panel = page.locator("#side-view-content")
            expect(panel).to_be_visible(timeout=15_000)
            expect(page.locator("#side-view-title")).to_have_text("[1]")
            page.wait_for_timeout(600)  # the sheet slides in
            sheet = page.get_by_role("dialog").filter(has=panel)
            sheet_box = sheet.bounding_box()
            assert sheet_box is not None and sheet_box["y"] > 844 * 0.25, sheet_box  # the chat stays above
            close = sheet.get_by_role("button", name="Close")
            close_box = close.bounding_box()
            assert close_box is not None and close_box["width"] >= 24 and close_box["height"] >= 24, close_box
            page.screenshot(path=str(tmp_path / "academichub-phone-panel.png"))
            side_panel_closes(page)
            page.screenshot(path=str(tmp_path / "academichub-phone-answer.png"))
        finally:
            browser.close()


def listed_matches(locator: object) -> list[tuple[int, float]]:
    """(number, match) of each paper of a radar list inside a Playwright locator, in the order shown."""
    text = locator.inner_text()  # type: ignore[attr-defined]
    found = re.findall(r"^(\d+)\. .*? · match (\d\.\d\d) · ", text, re.MULTILINE)
    return [(int(number), float(match)) for number, match in found]


def arxiv_ids(locator: object) -> list[str]:
    """The arXiv ids of the abstract links inside a Playwright locator, in page order."""
    return list(
        dict.fromkeys(
            locator.locator('a[href^="https://arxiv.org/abs/"]').evaluate_all(  # type: ignore[attr-defined]
                "links => links.map(a => a.href.split('/').pop())"
            )
        )
    )


PLOT_TRACES = """plots => plots.map(p => p.data.map(t => ({
    type: t.type,
    x: Array.from(t.x || []),
    y: Array.from(t.y || []),
    hovertext: t.hovertext ? Array.from(t.hovertext) : [],
    symbols: t.marker && t.marker.symbol ? [].concat(t.marker.symbol) : [],
})))"""


def plot_traces(page: object) -> list[list[dict]]:
    """The data of every Plotly chart on the page, as plotly.js holds it (one list of traces per chart)."""
    return page.locator(".js-plotly-plot").evaluate_all(PLOT_TRACES)  # type: ignore[attr-defined,no-any-return]


def use_theme(page: object, theme: str) -> None:
    """Switch Chainlit to its "light" or "dark" theme as a person does, with the header's theme menu."""
    from playwright.sync_api import expect

    page.locator("#theme-toggle").click()  # type: ignore[attr-defined]
    page.get_by_role("menuitem", name=f"{theme.title()} Theme").click()  # type: ignore[attr-defined]
    expect(page.locator("html")).to_have_class(re.compile(rf"\b{theme}\b"))  # type: ignore[attr-defined]
    # The page's colours fade over.
    page.wait_for_timeout(500)  # type: ignore[attr-defined]


def dominant_colour(png: bytes) -> tuple[int, int, int]:
    """The colour covering most pixels of a screenshot: what a person sees as its background."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    _, colour = max(image.getcolors(maxcolors=image.width * image.height) or [])
    return colour


def lightness(rgb: tuple[int, int, int]) -> float:
    """0 for black, 1 for white (Rec. 709 luma of the 0-255 channels)."""
    red, green, blue = rgb
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def assert_chart_follows_theme(page: object, chart: object, theme: str, screenshot: Path) -> None:
    """The chart shows the page's own background (no white card in the dark theme) and readable text."""
    use_theme(page, theme)
    page.screenshot(path=str(screenshot))  # type: ignore[attr-defined]
    background = dominant_colour(chart.screenshot())  # type: ignore[attr-defined]
    page_background = dominant_colour(page.screenshot())  # type: ignore[attr-defined]
    assert max(abs(a - b) for a, b in zip(background, page_background, strict=True)) <= 8, (
        background,
        page_background,
    )
    title = chart.locator(".annotation-text").first  # type: ignore[attr-defined]
    fill = title.evaluate("text => getComputedStyle(text).fill")
    red, green, blue = (int(n) for n in re.findall(r"\d+", fill)[:3])
    text = lightness((red, green, blue))
    if theme == "dark":
        assert lightness(background) < 0.3 and text > 0.7, (background, fill)
    else:
        assert lightness(background) > 0.8 and text < 0.3, (background, fill)


def test_radar_track_page_follow_and_brief_in_a_real_browser(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    by_id = {p.id: p for p in map(from_json_record, sample_records(INDEXED_PAPERS))}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            off_machine: list[str] = []  # the page, plotly.js included, must fetch nothing from elsewhere
            page.on(
                "request",
                lambda r: None if r.url.startswith((server, "data:", "blob:")) else off_machine.append(r.url),
            )
            actions = action_calls(page)
            page.goto(server)
            expect(page.locator("#chat-submit")).to_be_attached(timeout=60_000)

            # Switch to Radar with its tab on the first page: its starters and placeholder appear.
            page.locator("#academichub-tabs button", has_text="Radar").click()
            expect(page.locator("#chat-profiles")).to_contain_text("Radar")
            expect(page.locator("#starters")).to_contain_text("Show my topics", timeout=30_000)
            expect(page.locator("#starters")).to_contain_text("Track: diffusion models")  # from the index
            expect(page.locator("#chat-input")).to_have_attribute("placeholder", re.compile("track: <topic>"))
            expect(page.get_by_text("single-user").first).to_be_visible()

            # Settings: readable field names with paper counts; an invalid date is refused and says what
            # stays in force; batch size 3; confirming before the first message keeps the welcome screen.
            page.locator("#chat-settings-open-modal").click()
            since = page.locator("#since")
            expect(since).to_be_visible(timeout=15_000)
            expect(since).to_have_attribute("placeholder", re.compile("YYYY-MM-DD"))
            expect(since).to_have_value("")
            refused = page.get_by_text("Settings not applied").first
            # The profile switch starts a new chat session; a settings form confirmed while the old one is
            # still being replaced reaches the old session, so the refusal may need a second confirmation.
            for attempt in range(3):
                if attempt:
                    page.locator("#chat-settings-open-modal").click()
                    expect(since).to_be_visible(timeout=15_000)
                since.fill("June 1st")
                page.locator("#confirm").click()
                try:
                    expect(refused).to_be_visible(timeout=10_000)
                    break
                except AssertionError:
                    if attempt == 2:
                        raise
            expect(page.get_by_text("Still in force: all fields; any date").first).to_be_visible()
            expect(page.locator("#starters")).to_be_visible()
            # The form shows what is in force again, not the refused text.
            page.locator("#chat-settings-open-modal").click()
            expect(since).to_have_value("", timeout=15_000)
            settings_form = page.locator("#chat-settings")
            settings_form.get_by_role("combobox").click()
            expect(
                page.get_by_text(re.compile(r"Computer Science \(cs\): all, \d+ papers")).first
            ).to_be_visible(timeout=15_000)
            # The Fields list shows many rows at once (Chainlit's cut it to about three), and is searchable.
            fields_list = settings_form.locator("[cmdk-list]")
            every_field = settings_form.get_by_role("option").count()
            assert every_field >= 12, every_field
            page.wait_for_timeout(300)  # the list scrolls into view
            assert fields_list.evaluate(ROWS_IN_SIGHT) >= 10
            page.screenshot(path=str(tmp_path / "academichub-settings-fields.png"))
            page.keyboard.type("Statistics")
            statistics = settings_form.get_by_role("option").first
            expect(statistics).to_have_text(re.compile(r"^Statistics \(stat\): all, \d+ papers?$"))
            assert settings_form.get_by_role("option").count() < every_field
            statistics.click()
            picked = settings_form.get_by_text(re.compile(r"^Statistics \(stat\): all"))
            expect(picked).to_be_visible()
            # Escape closes the open list only: the dialog stays, with the field just picked.
            page.keyboard.press("Escape")
            expect(fields_list).to_have_count(0)
            expect(settings_form).to_be_visible()
            expect(picked).to_be_visible()
            page.screenshot(path=str(tmp_path / "academichub-settings-escape.png"))
            # A second Escape closes the dialog as Cancel does: the pick was not confirmed.
            page.keyboard.press("Escape")
            expect(settings_form).to_have_count(0, timeout=10_000)
            page.locator("#chat-settings-open-modal").click()
            expect(since).to_be_visible(timeout=15_000)
            expect(picked).to_have_count(0)
            slider = page.get_by_role("slider").first
            expect(slider).to_be_visible(timeout=15_000)
            slider.focus()
            page.keyboard.press("Home")
            for _ in range(RADAR_BATCH - 1):
                page.keyboard.press("ArrowRight")
            expect(slider).to_have_attribute("aria-valuenow", str(RADAR_BATCH))
            page.locator("#confirm").click()
            expect(page.get_by_text(f"{RADAR_BATCH} papers per batch").first).to_be_visible(timeout=30_000)
            expect(page.locator("#starters")).to_be_visible()
            expect(page.get_by_text("Your daily radar").first).to_be_visible()

            def send(text: str) -> None:
                page.locator("#chat-input").fill(text)
                submit = page.locator("#chat-submit")
                expect(submit).to_be_enabled(timeout=30_000)
                submit.click()

            replies = page.locator('[data-step-type="assistant_message"]')
            # A question typed in Radar is answered over the recent papers, and not saved as a topic.
            send("what's new on diffusion models?")
            expect(replies.filter(has_text="Searching the papers listed since").first).to_be_visible(
                timeout=90_000
            )
            answer = replies.filter(has_text="Sources").first
            expect(answer).to_be_visible(timeout=90_000)
            # Track proposes the question's topic, not its wording (issue 26 item 10).
            expect(answer.get_by_role("button", name="Track “diffusion models” as a topic")).to_be_visible()
            expect(answer.get_by_role("button", name=re.compile("Track “what"))).to_have_count(0)
            send("show my topics")
            expect(replies.filter(has_text="no saved topics yet").first).to_be_visible(timeout=60_000)

            # Tracking takes an explicit Save after a confirmation.
            send(f"track: {RADAR_TOPIC}")
            confirm = replies.filter(has_text="as a radar topic?").first
            expect(confirm).to_contain_text(RADAR_TOPIC, timeout=60_000)
            expect(replies.filter(has_text="Saved the topic")).to_have_count(0)
            click_action(confirm.get_by_role("button", name="Save topic"), actions)
            expect(replies.filter(has_text="Saved the topic").first).to_contain_text(
                RADAR_TOPIC, timeout=90_000
            )
            lists = replies.filter(has_text=f"New on “{RADAR_TOPIC}”")
            expect(lists).to_have_count(1, timeout=90_000)
            head = replies.filter(has_text="latest listing day: 1 June 2026").first
            expect(head).to_contain_text(f"papers 1–{RADAR_BATCH} of ")
            # The radar chart above the cards: one bar per day of the last four weeks.
            plots = page.locator(".js-plotly-plot")
            expect(plots).to_have_count(1, timeout=60_000)
            [[bars]] = plot_traces(page)
            assert bars["type"] == "bar" and len(bars["x"]) == len(bars["y"]) == 28
            assert bars["x"][-1] == "2026-06-01"  # the newest listing day closes the chart
            plots.first.scroll_into_view_if_needed()
            # Hovering the chart brings up no mode bar over the newest bars, and no Plotly logo link.
            plots.first.hover()
            page.wait_for_timeout(500)
            expect(plots.first.locator(".modebar")).to_have_count(0)
            expect(page.locator('a[href*="plotly"]')).to_have_count(0)
            # The chart sits on the page's background with the page's text colour, in both themes (dark,
            # Chainlit's default here, last).
            for theme in ("light", "dark"):
                shot = tmp_path / f"academichub-radar-chart-{theme}.png"
                assert_chart_follows_theme(page, plots.first, theme, shot)
            # The topic's Atom feed link (a per-topic secret path on this server) serves valid Atom.
            feed_link = head.get_by_role("link", name="Atom feed")
            href = feed_link.get_attribute("href") or ""
            assert re.fullmatch(r"/radar/feeds/[A-Za-z0-9_-]+\.atom", href), href
            with urllib.request.urlopen(server + href, timeout=30) as response:
                atom = response.read().decode("utf-8")
            assert response.headers["Content-Type"].startswith("application/atom+xml")
            import feedparser

            feed = feedparser.parse(atom)
            assert not feed.bozo and len(feed.entries) == 5  # the topic's five matches of the listing day

            week_ids = {entry.link.rsplit("/", 1)[-1] for entry in feed.entries}

            # The batch in one message, a compact list: number, title, authors, date, fields, match, arXiv
            # link, and a one-line gist under each; best match first; our avatar. No message per card.
            batch_list = lists.first
            expect(batch_list).to_contain_text("best match first")
            first_batch = arxiv_ids(batch_list)
            assert len(first_batch) == RADAR_BATCH and set(first_batch) <= week_ids
            for paper_id in first_batch:
                paper = by_id[paper_id]
                expect(batch_list).to_contain_text(paper.title)
                expect(batch_list).to_contain_text(paper.abstract[:40])
                expect(batch_list).to_contain_text(paper.authors[0])
                expect(batch_list).to_contain_text(f"2026-06-01, {paper.categories[0]}")
            assert [m for _, m in listed_matches(batch_list)] == sorted(
                (m for _, m in listed_matches(batch_list)), reverse=True
            )
            expect(replies.filter(has_text="fields:")).to_have_count(0)
            avatar = batch_list.locator("img").first
            assert "avatars" in (avatar.get_attribute("src") or "")
            assert avatar.evaluate("img => img.naturalWidth") > 0
            # "Export all": every paper of the week (five), not only the three shown, as Markdown and BibTeX.
            with page.expect_download(timeout=30_000) as md_download:
                batch_list.get_by_role("button", name="Export all (Markdown)").click()
            exported = Path(md_download.value.path()).read_text(encoding="utf-8")
            assert md_download.value.suggested_filename == "radar-diffusion-models-for-image-generation.md"
            assert exported.count("https://arxiv.org/abs/") == len(week_ids) == 5
            assert all(f"https://arxiv.org/abs/{pid})" in exported for pid in week_ids)
            with page.expect_download(timeout=30_000) as bib_download:
                batch_list.get_by_role("button", name="Export all (BibTeX)").click()
            bibtex = Path(bib_download.value.path()).read_text(encoding="utf-8")
            assert bibtex.count("@misc{") == 5 and all(f"eprint = {{{pid}}}" in bibtex for pid in week_ids)
            batch_list.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "academichub-radar-list.png"))

            # Another batch: the remaining matches, none repeated, numbered on from the first batch.
            next_button = batch_list.get_by_role("button", name="Show another batch")
            click_action(next_button, actions)
            second_head = replies.filter(has_text=f"papers {RADAR_BATCH + 1}–").first
            try:
                expect(second_head).to_be_visible(timeout=90_000)
            except AssertionError as err:
                raise AssertionError(f"no second batch; the page's action calls: {actions}") from err
            expect(lists).to_have_count(2, timeout=30_000)
            last_list = lists.last
            second_batch = arxiv_ids(last_list)
            assert second_batch and not set(second_batch) & set(first_batch)
            assert set(first_batch + second_batch) == week_ids  # each paper of the week shown once
            numbers = [n for n, _ in listed_matches(batch_list)] + [n for n, _ in listed_matches(last_list)]
            assert sorted(numbers) == list(range(1, 6))  # numbered on across batches
            expect(replies.filter(has_text="that is everything new").first).to_be_visible()
            expect(last_list.get_by_role("button", name="Show another batch")).to_have_count(0)

            # Follow the first paper's first author: the list offers its authors, a confirmation names the
            # author and the topic.
            author = by_id[first_batch[0]].authors[0]
            click_action(batch_list.get_by_role("button", name="Follow an author…"), actions)
            offered = replies.filter(has_text="Follow which author in").last
            expect(offered).to_be_visible(timeout=30_000)
            click_action(offered.get_by_role("button", name=f"Follow {author}"), actions)
            confirmation = replies.filter(has_text=f"Following {author}")
            expect(confirmation).to_contain_text(RADAR_TOPIC, timeout=30_000)

            # The briefing over the topic's new papers, with citation markers and a sources list.
            click_action(last_list.get_by_role("button", name="Brief me on these new papers"), actions)
            briefing = replies.filter(has_text="Sources").filter(has_text="Briefing: ").last
            expect(briefing.locator("a.element-link", has_text="[1]").first).to_be_visible(timeout=90_000)
            cited = set(arxiv_ids(briefing))
            assert cited and cited <= set(first_batch + second_batch)
            # Field names are readable ("Computer Vision and Pattern Recognition (cs.CV)"), never a bare code.
            readable = re.compile(r"^[A-Z][\w ,\-]+ \([a-z\-]+(?:\.[A-Za-z\-]+)?\)$")
            expect(briefing.get_by_role("heading", name=readable).first).to_be_visible()
            expect(briefing.get_by_role("heading", name=re.compile(r"^[a-z\-]+\.[A-Z]{2}$"))).to_have_count(0)
            # One list of sources (not the briefing's own References too), and no "another batch" for a
            # briefing on today's papers: it has no next batch.
            expect(briefing.get_by_role("heading", name="References")).to_have_count(0)
            expect(briefing.get_by_role("button", name="Show another batch")).to_have_count(0)
            expect(briefing.get_by_role("button", name="Export Markdown")).to_be_visible()
            expect(briefing).not_to_contain_text("all indexed papers")
            # The day's matches are the chart's last bar; the field map beside the briefing has one point
            # per cited paper, its hover text the citation number and the title.
            assert sum(bars["y"]) == bars["y"][-1] == len(first_batch + second_batch)
            expect(plots).to_have_count(2, timeout=60_000)
            field_map = plot_traces(page)[1]
            points = [(text, trace["type"]) for trace in field_map for text in trace["hovertext"]]
            assert len(points) == len(cited) and all(kind == "scatter" for _, kind in points)
            for paper_id in cited:
                title = html.escape(by_id[paper_id].title)  # plotly shows entities as the characters
                assert any(text.endswith(title) or f"{title} · bridge" in text for text, _ in points), title
            assert sorted(int(text.split("]")[0][1:]) for text, _ in points) == list(range(1, len(cited) + 1))
            expect(plots.last.locator(".scatterlayer .point")).to_have_count(len(cited))
            plots.last.scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            for theme in ("light", "dark"):
                shot = tmp_path / f"academichub-field-map-{theme}.png"
                assert_chart_follows_theme(page, plots.last, theme, shot)
            assert off_machine == []
            page.wait_for_timeout(500)  # the side panel of sources slides in

            page.screenshot(path=str(tmp_path / "academichub-radar.png"))

            # Re-opening the topic with nothing new (issue 26 item 9): the week's papers again on offer, and
            # no briefing offered beside nothing to show.
            send(f"track: {RADAR_TOPIC}")
            expect(replies.filter(has_text="You already track").last).to_be_visible(timeout=60_000)
            reopened = replies.filter(has_text="you have seen everything new").last
            again = reopened.get_by_role("button", name="Show this week again (5 papers)")
            expect(again).to_be_visible(timeout=60_000)
            expect(reopened.get_by_role("button", name="Brief me on these new papers")).to_have_count(0)
            expect(page.get_by_text("Nothing more to show now")).to_have_count(0)
            reopened.screenshot(path=str(tmp_path / "academichub-radar-reopened.png"))
            click_action(again, actions)
            week = replies.filter(has_text=f"This week on “{RADAR_TOPIC}” again: 5 papers").last
            expect(week).to_contain_text("best match first", timeout=60_000)
            assert set(arxiv_ids(week)) == week_ids
            expect(week.get_by_role("button", name="Brief me on these new papers")).to_be_visible()
            shown = listed_matches(week)
            assert [m for _, m in shown] == sorted((m for _, m in shown), reverse=True)
            assert sorted(n for n, _ in shown) == sorted(numbers)  # the numbers the batches showed
            # The week's papers to the topic's library: its future matching uses them.
            click_action(week.get_by_role("button", name="Add 5 papers to the library"), actions)
            added = replies.filter(has_text="Added 5 papers to the library of").last
            expect(added).to_contain_text(RADAR_TOPIC, timeout=60_000)
            expect(week.get_by_role("button", name="Add 5 papers to the library")).to_have_count(0)
            week.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "academichub-radar-week.png"))

            # Sorting re-renders the list's message in the order asked, each paper keeping its number: a
            # topic whose batch spans two fields (cs.CV, then two cs.CL papers by match), then untracked.
            send("track: benchmarks")
            click_action(
                replies.filter(has_text="as a radar topic?").last.get_by_role("button", name="Save topic"),
                actions,
            )
            spans = replies.filter(has_text="New on “benchmarks”").last
            expect(spans).to_contain_text("best match first", timeout=90_000)
            by_match, shown = arxiv_ids(spans), listed_matches(spans)
            assert [m for _, m in shown] == sorted((m for _, m in shown), reverse=True)
            place = dict(zip(by_match, shown, strict=True))
            fields = Counter(group_of(by_id[pid]) for pid in by_match)
            by_field = sorted(
                by_match,
                key=lambda pid: (-fields[group_of(by_id[pid])], group_of(by_id[pid]), -place[pid][1]),
            )
            assert len(fields) == 2 and by_field != by_match, (by_match, fields)
            click_action(spans.get_by_role("button", name="Sort by field"), actions)
            expect(spans).to_contain_text("by field", timeout=30_000)
            assert arxiv_ids(spans) == by_field
            assert listed_matches(spans) == [place[pid] for pid in by_field]
            expect(replies.filter(has_text="New on “benchmarks”")).to_have_count(1)  # the same message
            spans.screenshot(path=str(tmp_path / "academichub-radar-list-by-field.png"))
            click_action(spans.get_by_role("button", name="Sort by date"), actions)
            expect(spans).to_contain_text("newest first", timeout=30_000)
            assert arxiv_ids(spans) == by_match  # one listing day: best match first among equals
            click_action(spans.get_by_role("button", name="Sort by match"), actions)
            expect(spans).to_contain_text("best match first", timeout=30_000)
            assert listed_matches(spans) == shown
            send("untrack: benchmarks")
            ask_remove = replies.filter(has_text="Remove the topic benchmarks").last
            click_action(ask_remove.get_by_role("button", name="Remove"), actions)
            removed = replies.filter(has_text="Removed the topic benchmarks").first
            expect(removed).to_be_visible(timeout=30_000)

            # The topics list: rename, unfollow, remove (confirmed) in the app.
            send("show my topics")
            listed = (
                replies.filter(has_text=RADAR_TOPIC)
                .filter(has=page.get_by_role("button", name="Rename"))
                .last
            )
            expect(listed).to_be_visible(timeout=60_000)
            click_action(listed.get_by_role("button", name=f"Unfollow {author}"), actions)
            expect(replies.filter(has_text=f"No longer following {author}").first).to_be_visible(
                timeout=30_000
            )
            click_action(listed.get_by_role("button", name="Rename"), actions)
            expect(replies.filter(has_text="New name for").last).to_be_visible(timeout=30_000)
            send("image diffusion")
            expect(replies.filter(has_text="Renamed to image diffusion").last).to_be_visible(timeout=30_000)
            send("show my topics")
            renamed = replies.filter(has_text="image diffusion").filter(
                has=page.get_by_role("button", name="Rename")
            )
            expect(renamed.last).to_be_visible(timeout=60_000)
            click_action(renamed.last.get_by_role("button", name="Remove"), actions)
            ask_remove = replies.filter(has_text="Remove the topic image diffusion").last
            expect(ask_remove).to_be_visible(timeout=30_000)
            click_action(ask_remove.get_by_role("button", name="Remove"), actions)
            expect(replies.filter(has_text="Removed the topic image diffusion").first).to_be_visible(
                timeout=30_000
            )
            send("show my topics")
            expect(replies.filter(has_text="no saved topics yet")).to_have_count(2, timeout=60_000)
            page.screenshot(path=str(tmp_path / "academichub-radar-topics.png"))
        finally:
            browser.close()
    assert (tmp_path / "academichub-radar.png").stat().st_size > 10_000


# --- a small local model behind the app (issue 16) -------------------------------------------------------

UNCITED_PROSE = "Diffusion models are the best image generators ever made and everyone uses them now."


def test_a_wrong_model_name_is_warned_and_an_uncited_answer_is_not_shown_in_a_real_browser(
    app_home: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from openai_standin import OpenAIStandin, Reply
    from playwright.sync_api import expect, sync_playwright

    home, _ = app_home
    with OpenAIStandin(default=Reply(UNCITED_PROSE), models=["SmolLM2-135M-Instruct-Q8_0.gguf"]) as model:
        env = {"OPENAI_BASE_URL": model.base_url, "ACADEMICHUB_MODEL": "gpt-4o-mini"}
        with serve_app(home, tmp_path_factory, env) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(url)
                # At the start of a chat: the server does not list the configured model.
                warning = page.get_by_text("does not list the model", exact=False).first
                expect(warning).to_be_visible(timeout=90_000)
                expect(page.get_by_text("SmolLM2-135M-Instruct-Q8_0.gguf", exact=False).first).to_be_visible()
                page.locator("#chat-input").fill("Which papers use diffusion models?")
                submit = page.locator("#chat-submit")
                expect(submit).to_be_enabled(timeout=30_000)
                submit.click()
                answer = page.locator('[data-step-type="assistant_message"]').filter(has_text="Sources").first
                expect(answer).to_contain_text("cites none of the sources", timeout=90_000)
                # The model's uncited prose was streamed, then replaced by the cited quotes.
                expect(answer).to_contain_text("From the retrieved abstracts")
                expect(answer).not_to_contain_text("everyone uses them now")
                page.screenshot(path=str(tmp_path / "academichub-uncited-model-answer.png"))
            finally:
                browser.close()
    assert any(request.stream for request in model.requests)
