"""Issue 28 item 1, in the browser: with login on, two users' radars are apart. Alice and Bob sign in to the
same `academichub serve` in two browser contexts, each saves a topic, and Bob saves one of the same name
as Alice's (names are unique per owner, not per server). The radar state keeps each topic's owner in a
column. Bob's action posts (POST /project/action, sent by his page with his cookie and session) are
rewritten to name Alice's topic, as an attacker would forge them: open, remove, follow and brief all get
the answer a missing topic gets, and Alice's topic, its authors and its feed token are untouched and never
shown to Bob."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import test_app_browser
from test_app_browser import CHROMIUM, CHROMIUM_ARGS, RADAR_TOPIC, app_home, serve_app  # noqa: F401

from assistant.ui.auth import hash_password

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(2400)]

ALICE_TOPIC = RADAR_TOPIC
BOB_TOPIC = "image generation with diffusion"
NO_SUCH_TOPIC = "There is no such topic among yours"


def sign_in(browser: Any, server: str, user: str) -> Any:
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.goto(server)
    page.locator("#email").fill(user)
    page.locator("#password").fill(f"{user}-password")
    page.locator("button[type=submit]").click()
    expect(page.locator("#chat-submit")).to_be_attached(timeout=90_000)
    page.locator("#academichub-tabs button", has_text="Radar").click()
    expect(page.locator("#starters")).to_contain_text("Show my topics", timeout=60_000)
    return page


def send(page: Any, text: str) -> None:
    from playwright.sync_api import expect

    page.locator("#chat-input").fill(text)
    submit = page.locator("#chat-submit")
    expect(submit).to_be_enabled(timeout=60_000)
    submit.click()


def save_topic(page: Any, topic: str) -> None:
    from playwright.sync_api import expect

    replies = page.locator('[data-step-type="assistant_message"]')
    send(page, f"track: {topic}")
    confirm = replies.filter(has_text="as a radar topic?").last  # the newest: a page may save two
    expect(confirm).to_contain_text(topic, timeout=90_000)
    confirm.get_by_role("button", name="Save topic").click()
    expect(replies.filter(has_text="Saved the topic").last).to_contain_text(topic, timeout=120_000)


def stored_topics(home: Path) -> dict[tuple[str, str], tuple[int, list[str], str | None]]:
    """(owner, name) -> (id, followed authors, feed token) of every topic in the radar state."""
    conn = sqlite3.connect(home / "state.sqlite3")
    try:
        rows = conn.execute(
            "SELECT t.owner, t.name, t.id, t.authors, f.token FROM radar_topics t "
            "LEFT JOIN radar_feed_tokens f ON f.topic_id = t.id"
        ).fetchall()
    finally:
        conn.close()
    return {(owner, name): (tid, json.loads(authors), token) for owner, name, tid, authors, token in rows}


def test_two_signed_in_users_cannot_reach_each_others_radar_even_with_forged_actions(
    app_home: tuple[Path, dict],  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    home, _ = app_home
    monkeypatch.setattr(
        test_app_browser, "SERVER_START_SECONDS", 900
    )  # a loaded machine loads the model slowly
    env = {
        "ACADEMICHUB_AUTH_USERS": ",".join(f"{u}:{hash_password(f'{u}-password')}" for u in ("alice", "bob")),
        "CHAINLIT_AUTH_SECRET": secrets.token_urlsafe(48),
    }
    with serve_app(home, tmp_path_factory, env) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            alice = sign_in(browser, server, "alice")
            save_topic(alice, ALICE_TOPIC)
            bob = sign_in(browser, server, "bob")
            save_topic(bob, ALICE_TOPIC)  # the name Alice's topic has: his own topic
            save_topic(bob, BOB_TOPIC)

            topics = stored_topics(home)
            assert set(topics) == {("alice", ALICE_TOPIC), ("bob", ALICE_TOPIC), ("bob", BOB_TOPIC)}
            alice_id, alice_authors, alice_token = topics[("alice", ALICE_TOPIC)]
            assert alice_token  # her feed was shown to her once, with its secret link
            assert topics[("bob", ALICE_TOPIC)][2] not in (None, alice_token)  # his own feed link

            # Every action Bob's page posts from now on names Alice's topic (by id, and by its stored name in
            # the payload shape the app used before).
            forged: list[str] = []

            def forge(route: Any) -> None:
                body = json.loads(route.request.post_data or "{}")
                action = body.get("action", {})
                payload = action.get("payload") or {}
                payload.update({"topic_id": alice_id, "topic": ALICE_TOPIC})
                action["payload"] = payload
                forged.append(action.get("name", ""))
                route.continue_(post_data=json.dumps(body))

            bob.route("**/project/action", forge)
            replies = bob.locator('[data-step-type="assistant_message"]')
            refusals = replies.filter(has_text=NO_SUCH_TOPIC)

            # Follow (the list's "Follow an author…", then "Follow <author>"), then next batch / brief on the
            # feed he was shown. The list's own buttons act on the list the server keeps for his session.
            bob.get_by_role("button", name="Follow an author…").first.click()
            follow = bob.get_by_role("button", name=re.compile("^Follow (?!an author)")).first
            expect(follow).to_be_visible(timeout=60_000)
            follow.click()
            expect(refusals).to_have_count(1, timeout=60_000)
            brief = bob.get_by_role("button", name="Brief me on these new papers").first
            if brief.count():
                brief.click()
                expect(refusals).to_have_count(2, timeout=60_000)
            # Open, remove (and its confirmation) from "show my topics".
            send(bob, "show my topics")
            mine = replies.filter(has_text=BOB_TOPIC).last
            expect(bob.get_by_role("button", name=re.compile("^Open “")).last).to_be_visible(timeout=60_000)
            before = refusals.count()
            bob.get_by_role("button", name=re.compile("^Open “")).last.click()
            expect(refusals).to_have_count(before + 1, timeout=60_000)
            bob.get_by_role("button", name="Remove").last.click()
            expect(refusals).to_have_count(before + 2, timeout=60_000)
            assert {"radar_follow", "radar_open", "radar_remove"} <= set(forged), forged
            assert mine.count()

            # Nothing of Alice's reached Bob's page; her topic is whole.
            page_text = bob.locator("body").inner_text()
            assert alice_token not in bob.content()
            assert "alice" not in page_text.lower()
            after = stored_topics(home)
            assert after[("alice", ALICE_TOPIC)] == (alice_id, alice_authors, alice_token)
            assert set(after) == set(topics)
            bob.screenshot(path=str(tmp_path / "forged-actions-refused.png"))

            # Alice's list holds her topic only.
            send(alice, "show my topics")
            listing = alice.locator('[data-step-type="assistant_message"]').filter(
                has_text=re.compile(r"Your topics \(\d+\)")
            )
            expect(listing.first).to_contain_text("Your topics (1)", timeout=60_000)
            alice_text = alice.locator("body").inner_text()
            assert BOB_TOPIC not in alice_text and "bob" not in alice_text.lower()
            alice.screenshot(path=str(tmp_path / "alice-own-topics.png"))
        finally:
            browser.close()
