"""Issue 15 end to end: a real `academichub serve` over a small real index holding a hostile paper (links,
an e-mail, HTML, an image and a reference link in its abstract; a link in its title), answering through an
adversarial model (the local OpenAI stand-in streams images, links, `<script>` and reference links in
3-character pieces). In headless Chromium the page makes no request to any host but the app's own and
shows no link outside arXiv; cross-origin requests with the user's cookie are refused (CORS, socket.io).
Screenshots are saved in the test's temp folder."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import make_settings, sample_records, write_jsonl
from openai_standin import OpenAIStandin, RecordedRequest, Reply, prompt_sources
from test_app_browser import CHROMIUM, CHROMIUM_ARGS, serve_app

from assistant.store.embedding import Embedder
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

pytestmark = [pytest.mark.slow, pytest.mark.browser]

EVIL = "evil.example"
HOSTILE_TITLE_PREFIX = "[Click me](http://evil.example/title) "
HOSTILE_ABSTRACT = (
    " Results at http://evil.example/results and [the results page](http://evil.example/results); "
    'mail attacker@evil.example or <a href="http://evil.example/a">click</a>. '
    "![pixel](http://evil.example/pixel.png) <img src=http://evil.example/i.png> "
    "See [click me][ref] or www.evil.example. [ref]: //evil.example/refdef"
)
ADVERSARIAL_MODEL = (
    "The hostile paper [1] is here ![img](http://evil.example/pixel.png) and "
    "![again](http://evil.example/pixel2.png) [2].\n\n"
    "See [click me][ref] <script>window.__pwned = 1</script> <img src=x onerror='window.__pwned=2'> "
    "[the code](http://evil.example/x) <http://evil.example/auto> attacker@evil.example [99].\n\n"
    "[ref]:\n//evil.example/refdef\n"
)


def adversarial_but_supported(request: RecordedRequest) -> Reply:
    """Sentences of the prompt's abstracts (so they pass the support check and are shown; the question
    may retrieve the hostile paper alone) carrying the model's images and links, then the adversarial
    reply cut in 3-character pieces."""
    sentences = []
    for number, _title, abstract in prompt_sources(request)[:3]:
        clean = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", abstract) if "evil" not in s and "[" not in s]
        for sentence in clean[:2]:  # the hostile paper's own sentences after the planted ones count too
            words = sentence.rstrip(".").split()
            words[1] = f"![{words[1]}](http://evil.example/pixel.png)"
            sentences.append(" ".join(words) + f" with [the code](http://evil.example/x) [{number}].")
    return Reply(" ".join(sentences) + "\n\n" + ADVERSARIAL_MODEL, chunk_chars=3)


OWN_LINK_HOSTS = {"arxiv.org", "biorxiv.org", "www.biorxiv.org", "medrxiv.org", "www.medrxiv.org"}


@pytest.fixture(scope="module")
def hostile_home(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[Path, dict]:
    records = sample_records(12)
    target = records[0]
    records[0] = {
        **target,
        "title": HOSTILE_TITLE_PREFIX + target["title"],
        "summary": HOSTILE_ABSTRACT.strip() + " " + target["summary"],  # first: the panel shows 1,200 chars
    }
    home = tmp_path_factory.mktemp("hostile-app-home")
    ingestor = open_ingestor(make_settings(home), embedder=embedder)
    try:
        assert ingestor.run(file_runs([write_jsonl(home.parent / "hostile.jsonl", records)])).new == 12
    finally:
        ingestor.close()
    return home, target


@pytest.fixture(scope="module")
def model() -> Iterator[OpenAIStandin]:
    with OpenAIStandin(responder=adversarial_but_supported) as server:
        yield server


@pytest.fixture(scope="module")
def hostile_server(
    hostile_home: tuple[Path, dict], model: OpenAIStandin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    home, _ = hostile_home
    extra = {
        "OPENAI_BASE_URL": model.base_url,
        "OPENAI_API_KEY": "test",
        "ACADEMICHUB_ALLOW_ORIGINS": "https://portal.example.org",
    }
    with serve_app(home, tmp_path_factory, extra_env=extra) as url:
        yield url


def request(url: str, *, method: str = "GET", headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}


def test_cookie_carrying_requests_from_another_origin_are_refused(hostile_server: str) -> None:
    evil = {"Origin": "http://evil.example", "Cookie": "access_token=stolen"}
    status, headers = request(f"{hostile_server}/user", headers=evil)
    assert headers.get("access-control-allow-origin") is None, (status, headers)
    status, headers = request(
        f"{hostile_server}/project/threads",
        method="OPTIONS",
        headers={
            **evil,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert headers.get("access-control-allow-origin") is None and status >= 400, (status, headers)
    handshake = f"{hostile_server}/ws/socket.io/?EIO=4&transport=polling"
    status, _ = request(handshake, headers=evil)
    assert status == 400  # engine.io: "http://evil.example is not an accepted origin"

    # The app's own origin and a configured one still work.
    status, _ = request(handshake, headers={"Origin": hostile_server})
    assert status == 200
    portal = {"Origin": "https://portal.example.org"}
    status, headers = request(
        f"{hostile_server}/project/threads",
        method="OPTIONS",
        headers={**portal, "Access-Control-Request-Method": "POST"},
    )
    assert headers.get("access-control-allow-origin") == "https://portal.example.org", (status, headers)


def test_a_hostile_paper_and_model_make_no_foreign_request_or_link_in_a_real_browser(
    hostile_server: str, hostile_home: tuple[Path, dict], model: OpenAIStandin, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    _, target = hostile_home
    own_host = urlsplit(hostile_server).netloc
    requested: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: requested.append(r.url))
            page.goto(hostile_server)
            expect(page.locator("#chat-input")).to_be_visible(timeout=60_000)
            # The chat start warns that the stand-in does not list the configured model name; typing before
            # that message arrives is lost.
            expect(page.get_by_text("does not list the model").first).to_be_visible(timeout=60_000)
            page.locator("#chat-input").fill(f"What does '{target['title']}' report about the results page?")
            submit = page.locator("#chat-submit")
            expect(submit).to_be_enabled(timeout=30_000)
            submit.click()

            answer = page.locator('[data-step-type="assistant_message"]').filter(has_text="Sources").first
            expect(answer.locator("a.element-link", has_text="[1]").first).to_be_visible(timeout=120_000)
            expect(answer).to_contain_text("the code")  # the model's words are shown, its links are not
            assert model.requests and model.requests[-1].stream
            page.screenshot(path=str(tmp_path / "hostile-answer.png"), full_page=True)

            # Open the hostile paper's side panel: its abstract and title are text.
            panel = page.locator("#side-view-content")
            for marker in answer.locator("a.element-link").all():
                marker.click()
                page.wait_for_timeout(700)
                if panel.count() and "Click me" in panel.inner_text():
                    break
            else:
                pytest.fail("no source panel shows the hostile paper")
            expect(panel).to_contain_text("attacker@evil.example", timeout=15_000)
            expect(panel).to_contain_text("[Click me](http://evil.example/title )")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(tmp_path / "hostile-panel.png"), full_page=True)

            hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
            images = page.eval_on_selector_all("img[src]", "imgs => imgs.map(i => i.src)")
            assert page.evaluate("() => window.__pwned") is None
        finally:
            browser.close()

    foreign = [
        u for u in requested if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != own_host
    ]
    assert foreign == [], foreign
    assert not [u for u in requested if EVIL in u]
    outside = [
        h
        for h in hrefs
        if urlsplit(h).scheme in ("http", "https", "mailto", "javascript")
        and urlsplit(h).netloc != own_host
        and urlsplit(h).hostname not in OWN_LINK_HOSTS
    ]
    assert outside == [], outside
    assert any(h.startswith("https://arxiv.org/abs/") for h in hrefs)
    assert not [i for i in images if urlsplit(i).netloc not in (own_host, "")], images
