"""Issue 28 item 10 end to end: a real `academichub serve` answers only to its own host names. A request
naming another host (a page on evil.example whose DNS now points at this machine: DNS rebinding) gets 400
for the page, socket.io polling, the websocket upgrade and the Atom feeds; the app's own names still work."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import make_settings, sample_records, write_jsonl
from test_app_browser import CHROMIUM, CHROMIUM_ARGS, serve_app

from assistant.store.embedding import Embedder
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

pytestmark = [pytest.mark.slow]

EVIL = "evil.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    home = tmp_path_factory.mktemp("hosts-home")
    ingestor = open_ingestor(make_settings(home), embedder=embedder)
    try:
        ingestor.run(file_runs([write_jsonl(home.parent / "papers.jsonl", sample_records(3))]))
    finally:
        ingestor.close()
    extra = {"ACADEMICHUB_ALLOWED_HOSTS": "hub.example.org"}
    with serve_app(Path(home), tmp_path_factory, extra_env=extra) as url:
        yield url


def status_with_host(url: str, host: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers={"Host": host, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def websocket_upgrade_status(url: str, host: str) -> str:
    """The status line a websocket handshake for socket.io gets, sent by hand on a raw socket."""
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    handshake = (
        "GET /ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: {host}\r\nOrigin: http://{host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        conn.sendall(handshake.encode())
        return conn.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


def test_a_foreign_host_name_is_refused_everywhere(server: str) -> None:
    port = urlsplit(server).port
    evil = f"{EVIL}:{port}"
    polling = f"{server}/ws/socket.io/?EIO=4&transport=polling"
    assert status_with_host(server, evil) == 400
    assert status_with_host(polling, evil, {"Origin": f"http://{evil}"}) == 400
    assert status_with_host(f"{server}/radar/topics/anything.atom", evil) == 400
    assert status_with_host(f"{server}/radar/feeds/sometoken.atom", evil) == 400
    assert " 400 " in websocket_upgrade_status(server, evil) + " "


def test_the_apps_own_names_are_served(server: str) -> None:
    port = urlsplit(server).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"hub.example.org:{port}"):
        assert status_with_host(server, host) == 200, host
        polling = f"{server}/ws/socket.io/?EIO=4&transport=polling"
        assert status_with_host(polling, host, {"Origin": f"http://{host}"}) == 200, host
    # The feed route answers (no such topic: 404), not the host check.
    assert status_with_host(f"{server}/radar/topics/anything.atom", f"127.0.0.1:{port}") == 404
    assert websocket_upgrade_status(server, f"127.0.0.1:{port}").startswith("HTTP/1.1 101")


@pytest.mark.browser
def test_a_browser_sent_to_the_app_under_a_rebound_name_gets_no_page(server: str, tmp_path: Path) -> None:
    """DNS rebinding as a browser lives it: evil.example resolves to this machine (Chromium's host
    resolver rule), the page at http://evil.example:PORT/ is refused and runs nothing; the app's own
    address serves the chat."""
    from playwright.sync_api import expect, sync_playwright

    port = urlsplit(server).port
    rebound = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {EVIL} 127.0.0.1"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=rebound)
        try:
            page = browser.new_page()
            response = page.goto(f"http://{EVIL}:{port}/")
            assert response is not None and response.status == 400
            expect(page.locator("#chat-input")).to_have_count(0)
            page.screenshot(path=str(tmp_path / "rebound-name-refused.png"))
            assert page.goto(server) is not None
            expect(page.locator("#chat-input")).to_be_visible(timeout=60_000)
        finally:
            browser.close()
