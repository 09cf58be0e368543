"""The radar delivered: the Atom feed (read back with feedparser), the e-mail digest through a real SMTP
server on 127.0.0.1 (aiosmtpd), the webhook against a local HTTP server, and the app's feed routes on
Chainlit's own FastAPI app.

Index: the bundled sample's 2026-06-04 listing (15 real papers, one given a hostile title carrying a URL and
markup), then 2026-06-05 (19) for "the next day".
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date
from email.message import Message
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import feedparser
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from conftest import free_port, make_settings, sample_records, write_jsonl
from local_server import LocalHTTPServer
from typer.testing import CliRunner

from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.engine import build_radar, build_retriever
from assistant.radar import delivery
from assistant.radar.service import Topic
from assistant.search.hit import Hit
from assistant.store.embedding import Embedder
from assistant.ui.cli import app
from ingest.pipeline import open_ingestor
from ingest.runs import file_runs

DAY1, DAY2 = "2026-06-04", "2026-06-05"
TOPIC = "LLM agents"
QUERY = "large language model agents and reasoning"
HOSTILE = (
    '<img src="https://evil.example.com/x.png"> see https://evil.example.com/steal '
    "and [click](https://evil.example.com) "
)


def ingest(settings: Settings, embedder: Embedder, path: Path) -> None:
    ingestor = open_ingestor(settings, embedder=embedder)
    try:
        ingestor.run(file_runs([path]))
    finally:
        ingestor.close()


@pytest.fixture(scope="module")
def day_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("days")
    records = sample_records()
    day1 = [r for r in records if r["date"] == DAY1]
    # The paper that matches the topic best gets a title with markup and URLs: it must stay inert text.
    day1 = [{**r, "title": HOSTILE + r["title"]} if r["id"] == "2606.04730" else r for r in day1]
    return {
        DAY1: write_jsonl(folder / f"{DAY1}.jsonl", day1),
        DAY2: write_jsonl(folder / f"{DAY2}.jsonl", [r for r in records if r["date"] == DAY2]),
    }


@pytest.fixture(scope="module")
def base_home(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder, day_files: dict[str, Path]
) -> Path:
    home = tmp_path_factory.mktemp("delivery") / "home"
    ingest(make_settings(home), embedder, day_files[DAY1])
    return home


@pytest.fixture
def home(tmp_path: Path, base_home: Path, embedder: Embedder) -> Path:
    home = Path(shutil.copytree(base_home, tmp_path / "home"))
    settings = make_settings(home)
    build_radar(settings, build_retriever(settings, embedder=embedder)).add_topic(TOPIC, QUERY)
    return home


@pytest.fixture
def shared_model(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Embedder:
    monkeypatch.setattr("assistant.engine.get_embedder", lambda settings: embedder)
    monkeypatch.setattr("ingest.pipeline.get_embedder", lambda settings: embedder)
    return embedder


def run_cli(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stdout, result.stderr


def expected_matches(home: Path, embedder: Embedder) -> list[str]:
    settings = make_settings(home)
    radar = build_radar(settings, build_retriever(settings, embedder=embedder))
    ids = set(radar.retriever.catalog.all_ids())
    return [hit.paper.id for hit, _ in radar.rank_papers(radar.topic_id(TOPIC), radar.get_topic(TOPIC), ids)]


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value or "" for key, value in attrs if key == "href"]
        self.images += tag == "img"


def only_id_links(hrefs: list[str]) -> bool:
    return all(re.fullmatch(r"https://arxiv\.org/(abs|pdf)/\d{4}\.\d{4,5}", h) for h in hrefs)


# --- Atom -------------------------------------------------------------------------------------------------


def test_atom_feed_is_valid_stable_and_inert(home: Path, use_home, shared_model: Embedder) -> None:  # type: ignore[no-untyped-def]
    use_home(home)
    code, out, err = run_cli(["radar", "feed", TOPIC, "--format", "atom"])
    assert code == 0, err
    parsed = feedparser.parse(out)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    matches = expected_matches(home, shared_model)
    assert matches and "2606.04730" in matches
    assert sorted(e.id for e in parsed.entries) == sorted(f"https://arxiv.org/abs/{pid}" for pid in matches)
    for entry in parsed.entries:
        assert entry.title and entry.summary and entry.authors and entry.published.startswith(DAY1)
        assert entry.link == entry.id  # the abstract page, built from the id
    hostile = next(e for e in parsed.entries if e.id.endswith("2606.04730"))
    assert "<img" in hostile.title  # shown as the text it is, never as markup
    assert "https://evil" not in out and "evil.example.com" not in out
    hrefs = re.findall(r'href="([^"]+)"', out)
    assert only_id_links(hrefs)
    # A feed reader polling again gets the same document: same ids, nothing marked seen.
    again = run_cli(["radar", "feed", TOPIC, "--format", "atom"])[1]
    assert again == out
    code, out, _ = run_cli(["radar", "feed", TOPIC, "--batch", "50", "--json"])
    assert sorted(i["id"] for i in json.loads(out)["items"]) == sorted(matches)


# --- e-mail -----------------------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (
                envelope.mail_from,
                list(envelope.rcpt_tos),
                email.message_from_bytes(envelope.content, policy=email.policy.default),
            )
        )
        return "250 Message accepted for delivery"


def login_check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"alice"
    ok = ok and auth_data.password == b"right"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1 that wants a login (alice / right)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=login_check, auth_require_tls=False
    )
    controller.start()
    yield inbox, port
    controller.stop()


def smtp_env(monkeypatch: pytest.MonkeyPatch, port: int, password: str = "right") -> None:
    for key, value in {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": "none",
        "SMTP_USER": "alice",
        "SMTP_PASSWORD": password,
        "SMTP_SENDER": "radar@academichub.test",
    }.items():
        monkeypatch.setenv(f"ACADEMICHUB_{key}", value)


def parts(message: Message) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found


@pytest.mark.slow
def test_email_digest_arrives_once_and_a_failed_send_marks_nothing(
    home: Path,
    use_home,  # type: ignore[no-untyped-def]
    shared_model: Embedder,
    smtp_server: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
    day_files: dict[str, Path],
) -> None:
    inbox, port = smtp_server
    matches = expected_matches(home, shared_model)
    # Login refused: a clear error, exit 2, nothing sent and nothing seen.
    smtp_env(monkeypatch, port, password="wrong")
    use_home(home)
    code, _, err = run_cli(["radar", "send", TOPIC, "--to", "reader@lab.test"])
    assert code == 2 and "refused the login for 'alice'" in " ".join(err.split())
    assert inbox.messages == []

    smtp_env(monkeypatch, port)
    settings = use_home(home)
    code, out, err = run_cli(["radar", "send", TOPIC, "--to", "reader@lab.test", "--brief", "--json"])
    assert code == 0, err
    [result] = json.loads(out)["deliveries"]
    assert result["sent"] and sorted(result["papers"]) == sorted(matches)
    [(sender, rcpts, message)] = inbox.messages
    assert sender == "radar@academichub.test" and rcpts == ["reader@lab.test"]
    assert message["Subject"].startswith(f"AcademicHub radar · {TOPIC}: {len(matches)} new papers")
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    for pid in matches:
        assert f"https://arxiv.org/abs/{pid}" in body["text/plain"]
        assert f'href="https://arxiv.org/abs/{pid}"' in body["text/html"]
    assert "Briefing" in body["text/html"] and "References" in body["text/plain"]
    links = Links()
    links.feed(body["text/html"])
    assert links.images == 0 and only_id_links(links.hrefs)
    assert "&lt;img" in body["text/html"] and "evil.example.com" not in body["text/html"]
    # The papers sent count as seen in the radar.
    radar = build_radar(settings, build_retriever(settings, embedder=shared_model))
    assert radar.feed(TOPIC).items == []

    # The same day again (the cron line re-run): nothing new, no second message.
    code, out, _ = run_cli(["radar", "send", TOPIC, "--to", "reader@lab.test"])
    assert code == 0 and "nothing new" in out and len(inbox.messages) == 1

    # The next day's papers, with the server down: a clear error and the papers stay unseen and unsent.
    ingest(settings, shared_model, day_files[DAY2])
    smtp_env(monkeypatch, free_port())
    use_home(home)
    code, _, err = run_cli(["radar", "send", TOPIC, "--to", "reader@lab.test"])
    assert code == 2 and "cannot reach the SMTP server 127.0.0.1" in " ".join(err.split())
    smtp_env(monkeypatch, port)
    use_home(home)
    code, out, err = run_cli(["radar", "send", TOPIC, "--to", "reader@lab.test", "--json"])
    assert code == 0, err
    [result] = json.loads(out)["deliveries"]
    assert result["sent"] and result["papers"] and not set(result["papers"]) & set(matches)
    assert len(inbox.messages) == 2


# --- webhook ----------------------------------------------------------------------------------------------


class Hook:
    posts: ClassVar[list[dict[str, Any]]] = []
    status = 200


class HookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if Hook.status == 200:
            content_type = self.headers["Content-Type"]
            Hook.posts.append({"path": self.path, "type": content_type, "json": json.loads(body)})
        self.send_response(Hook.status)
        self.end_headers()
        self.wfile.write(b"ok" if Hook.status == 200 else b"invalid_token")

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def hook_server() -> Iterator[LocalHTTPServer]:
    Hook.posts, Hook.status = [], 200
    server = LocalHTTPServer(HookHandler, "webhook").start()
    yield server
    server.stop()


def test_webhook_posts_slack_compatible_json_once(
    home: Path,
    use_home,
    shared_model: Embedder,
    hook_server: LocalHTTPServer,  # type: ignore[no-untyped-def]
) -> None:
    use_home(home)
    url = hook_server.origin + "/hooks/T000/B000/XXXX"
    matches = expected_matches(home, shared_model)
    Hook.status = 403
    code, _, err = run_cli(["radar", "send", TOPIC, "--webhook", url])
    assert code == 2 and "answered HTTP 403: invalid_token" in err
    Hook.status = 200
    code, out, err = run_cli(["radar", "send", TOPIC, "--webhook", url])
    assert code == 0, err
    [post] = Hook.posts
    assert post["path"] == "/hooks/T000/B000/XXXX" and post["type"] == "application/json"
    text = post["json"]["text"]
    for pid in matches:
        assert f"<https://arxiv.org/abs/{pid}|" in text
    assert "&lt;img" in text and "evil.example.com" not in text
    assert set(re.findall(r"<(https?://[^|>]+)\|", text)) == {f"https://arxiv.org/abs/{p}" for p in matches}
    code, out, _ = run_cli(["radar", "send", TOPIC, "--webhook", url])
    assert code == 0 and "nothing new" in out and len(Hook.posts) == 1


def test_discord_and_mattermost_payloads_escape_markdown(home: Path, embedder: Embedder) -> None:
    settings = make_settings(home)
    radar = build_radar(settings, build_retriever(settings, embedder=embedder))
    topic, items, since = radar.window_items(TOPIC)
    # The hostile paper is one of the topic's matches; it leads the digest here so that it is among the
    # papers a Discord message has room for (its rank among the 8 matches is not what this test is about).
    hostile = [item for item in items if item[0].paper.id == "2606.04730"]
    assert hostile
    digest = delivery.Digest(topic, hostile + [item for item in items if item not in hostile], since)
    assert delivery.webhook_flavour(settings, "https://discord.com/api/webhooks/1/x") == "discord"
    discord = delivery.webhook_payload(digest, "discord")["content"]
    mattermost = delivery.webhook_payload(digest, "mattermost")["text"]
    for text in (discord, mattermost):
        assert len(discord) <= delivery.DISCORD_LIMIT
        targets = re.findall(r"\]\(([^)]+)\)", text)
        assert targets and all(t.startswith("https://arxiv.org/abs/") for t in targets)
        assert "\\[click\\]" in text and "evil.example.com" not in text


# --- the app's feed routes --------------------------------------------------------------------------------


def test_app_serves_the_feed_by_token_and_by_name_behind_login(
    home: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routes on Chainlit's own FastAPI app (in process), ahead of its catch-all chat page."""
    import chainlit.config
    from chainlit.auth import get_current_user
    from chainlit.server import app as server
    from chainlit.user import User
    from fastapi.testclient import TestClient

    from assistant.ui.feed_routes import _holds_catch_all, add_feed_routes

    settings = make_settings(home).replace(delivery={"public_url": "https://hub.lab.test/"})
    radar = build_radar(settings, build_retriever(settings, embedder=embedder))
    add_feed_routes(lambda: radar)
    routes = server.router.routes
    paths = [getattr(r, "path", "") for r in routes]
    catch_all = next(i for i, r in enumerate(routes) if _holds_catch_all(r))
    assert paths.index("/radar/feeds/{token}.atom") < catch_all
    token = delivery.feed_token(radar, TOPIC)
    assert delivery.feed_token(radar, TOPIC) == token  # stable
    client = TestClient(server)
    response = client.get(delivery.feed_path(token))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.text)
    assert not parsed.bozo and len(parsed.entries) == len(expected_matches(home, embedder))
    # The self link is on the configured public address, whatever Host header the request carries.
    for host in ("evil.example", "127.0.0.1:8000"):
        body = client.get(delivery.feed_path(token), headers={"Host": host}).text
        assert "evil.example" not in body
        assert [link.href for link in feedparser.parse(body).feed.links if link.rel == "self"] == [
            f"https://hub.lab.test/radar/feeds/{token}.atom"
        ]
    named = feedparser.parse(
        client.get("/radar/topics/LLM agents.atom", headers={"Host": "evil.example"}).text
    )
    assert [link.href for link in named.feed.links if link.rel == "self"] == [
        "https://hub.lab.test/radar/topics/LLM%20agents.atom"
    ]
    assert delivery.public_url(make_settings(home), "/x") == "http://127.0.0.1:8000/x"  # the default
    assert client.get("/radar/feeds/not-a-token.atom").status_code == 404
    assert client.get("/radar/topics/LLM agents.atom").status_code == 200  # no login configured
    # With login on, the by-name feed wants a session; the token URL still works for feed readers.
    monkeypatch.setattr(chainlit.config.config.code, "password_auth_callback", lambda u, p: None)
    assert client.get("/radar/topics/LLM agents.atom").status_code == 401
    assert client.get(delivery.feed_path(token)).status_code == 200
    # Signed in, the by-name feed is the signed-in user's topic of that name: bob has none (404, as for a
    # name nobody has), then his own; the token still names the topic it was made for.
    monkeypatch.setitem(server.dependency_overrides, get_current_user, lambda: User(identifier="bob"))
    assert client.get("/radar/topics/LLM agents.atom").status_code == 404
    assert client.get("/radar/topics/nobody's.atom").status_code == 404
    radar.add_topic(TOPIC, "protein structure prediction", owner="bob")
    response = client.get("/radar/topics/LLM agents.atom")
    assert response.status_code == 200 and parsed.entries  # his topic's matches, not the other's
    assert [e.id for e in feedparser.parse(response.text).entries] != [e.id for e in parsed.entries]
    assert delivery.feed_token(radar, TOPIC, owner="bob") != token
    assert delivery.topic_for_token(radar, token) == ("", TOPIC)
    radar.remove_topic(TOPIC)
    assert client.get(delivery.feed_path(token)).status_code == 404  # the token went with the topic


# --- SMTP over TLS ----------------------------------------------------------------------------------------


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key; the client trusts it through SSL_CERT_FILE."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_over_tls_with_login(security: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """STARTTLS (port 587 style) and implicit TLS (465 style) against a real TLS SMTP server; the client
    verifies the server's certificate (trusted here through SSL_CERT_FILE)."""
    import ssl
    from email.message import EmailMessage

    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    options: dict[str, Any] = (
        {"tls_context": server_tls, "require_starttls": True}
        if security == "starttls"
        # aiosmtpd does not count implicit TLS as TLS for AUTH: the connection is encrypted all the same.
        else {"ssl_context": server_tls, "auth_require_tls": False}
    )
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=login_check, **options)
    controller.start()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        settings = make_settings(tmp_path / "home").replace(
            delivery={
                "smtp": {
                    "host": "127.0.0.1",
                    "port": port,
                    "security": security,
                    "user": "alice",
                    "password": "right",
                }
            }
        )
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = "digest", "radar@lab.test", "reader@lab.test"
        message.set_content("papers")
        delivery.send_email(settings, message)
        assert [m[2]["Subject"] for m in inbox.messages] == ["digest"]
        # Not trusting the certificate is a clear error, not a silent plain-text send.
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
        with pytest.raises(delivery.DeliveryError, match=r"SMTP server 127\.0\.0\.1"):
            delivery.send_email(settings, message)
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


# --- review fixes: hostile characters and text, stable ids, the self link, where `send` goes -------------


def _paper(pid: str, title: str, **extra: Any) -> Paper:
    return Paper(
        id=pid,
        title=title,
        abstract="We study agents. See evil.ru/x and file:///etc/passwd for nothing.",
        authors=["Ada \x1bLovelace"],
        categories=["cs.AI"],
        published=date(2026, 6, 4),
        **extra,
    )


def _topic() -> Topic:
    return Topic(TOPIC, QUERY, [], [], 0.0, None)


def test_control_characters_in_paper_text_do_not_break_the_feed() -> None:
    """One \\x1b or \\x00 in a title used to make the whole document not well-formed."""
    papers = [_paper("2606.00001", "Agents \x1b[31mred\x00 and \x0bmore"), _paper("2606.00002", "Plain")]
    text = delivery.atom_feed(_topic(), [Hit(p, 1.0, 1.0) for p in papers])
    ET.fromstring(text)  # well-formed
    parsed = feedparser.parse(text)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [e.title for e in parsed.entries] == ["Agents [31mred and more", "Plain"]
    assert parsed.entries[0].authors[0]["name"] == "Ada Lovelace"


def test_rxiv_entry_ids_stay_the_same_across_versions() -> None:
    doi = "10.1101/2026.05.27.728076"
    ids = [
        delivery.entry_id(Paper(id=doi, source="biorxiv", version=v, title="T", abstract="A")) for v in (1, 2)
    ]
    assert ids == [f"urn:doi:{doi}"] * 2
    arxiv = Paper(id="2606.04730", version=3, title="T", abstract="A")
    assert delivery.entry_id(arxiv) == "https://arxiv.org/abs/2606.04730"  # unchanged for arXiv
    feed = feedparser.parse(
        delivery.atom_feed(
            _topic(), [Hit(Paper(id=doi, source="medrxiv", version=4, title="T", abstract="A"), 1, 1)]
        )
    )
    assert feed.entries[0].id == f"urn:doi:{doi}" and feed.entries[0].link.endswith("v4")


def test_every_url_shape_in_paper_and_model_text_is_defanged() -> None:
    hostile = [
        "http://evil.example/fence",
        "evil.ru/x",
        "evil.example/y",
        "file:///etc/passwd",
        "ftp://files.evil.ru/a",
        "javascript:alert(1)",
        "data:text/html,boom",
        "mailto:someone@evil.ru",
    ]
    for text in hostile:
        for shown in (delivery.unlinkable(text), delivery.slack_text(text), delivery.html_escaped(text)):
            assert not re.search(r"[a-z0-9]\.(ru|example)\b", shown), shown
            assert not re.search(r"(?i)\b(https?|file|ftp|javascript|data|mailto):", shown), shown
    assert delivery.unlinkable("data: we collect e.g. 3.5 samples") == "data: we collect e.g. 3.5 samples"
    own = "https://arxiv.org/abs/2606.04730"
    markdown = (
        f"Agents [1]({own}).\n\n```\nhttp://evil.example/fence\nevil.ru/x\n```\n\n"
        "    http://evil.example/indent file:///etc/passwd\n\n"
        "Inline `evil.ru/y` and [x](file:///etc/passwd) and evil.example/z.\n"
    )
    rendered = delivery.safe_markdown_html(markdown, {own})
    links = Links()
    links.feed(rendered)
    assert links.hrefs == [own]  # our id-built link intact, nothing else
    assert "evil.example/" not in rendered and "evil.ru/" not in rendered and "file:/" not in rendered
    assert "http[:]//evil[.]example/fence" in rendered  # the code is still shown, defanged
    text = delivery.defang_except(markdown, {own})
    assert own in text and "evil.ru/" not in text and "evil.example/" not in text and "file:/" not in text


def test_send_uses_the_configured_channels_only_when_no_option_is_given(
    home: Path,
    use_home,  # type: ignore[no-untyped-def]
    shared_model: Embedder,
    smtp_server: tuple[Inbox, int],
    hook_server: LocalHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, port = smtp_server
    url = hook_server.origin + "/hooks/default"
    smtp_env(monkeypatch, port)
    monkeypatch.setenv("ACADEMICHUB_RADAR_MAIL_TO", "team@lab.test")
    monkeypatch.setenv("ACADEMICHUB_RADAR_WEBHOOK_URL", url)
    use_home(home)
    code, out, err = run_cli(["radar", "send", TOPIC, "--to", "me@lab.test", "--json"])
    assert code == 0, err
    assert [d["channel"] for d in json.loads(out)["deliveries"]] == ["mailto:me@lab.test"]
    assert [rcpts for _, rcpts, _ in inbox.messages] == [["me@lab.test"]] and Hook.posts == []
    code, out, err = run_cli(
        ["radar", "send", TOPIC, "--webhook", hook_server.origin + "/hooks/mine", "--json"]
    )
    assert code == 0, err
    assert [p["path"] for p in Hook.posts] == ["/hooks/mine"] and len(inbox.messages) == 1
    # Neither option: both configured defaults.
    code, out, err = run_cli(["radar", "send", TOPIC, "--json"])
    assert code == 0, err
    channels = [d["channel"] for d in json.loads(out)["deliveries"]]
    assert channels == ["mailto:team@lab.test", delivery.webhook_channel(url)]
    assert [p["path"] for p in Hook.posts] == ["/hooks/mine", "/hooks/default"]
    assert [rcpts for _, rcpts, _ in inbox.messages] == [["me@lab.test"], ["team@lab.test"]]


@pytest.mark.slow
def test_failed_and_capped_digests_lose_no_papers_when_the_next_ingest_lands(
    home: Path,
    use_home,  # type: ignore[no-untyped-def]
    shared_model: Embedder,
    smtp_server: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
    day_files: dict[str, Path],
) -> None:
    """The cron line `ingest --daily && radar send`: day 1's digest fails (server down), day 2 lands; and a
    digest capped by --max leaves the rest for the next run, across an ingest."""
    _, port = smtp_server
    day1 = expected_matches(home, shared_model)
    assert len(day1) > 3
    smtp_env(monkeypatch, free_port())  # nobody listening
    settings = use_home(home)
    code, _, err = run_cli(["radar", "send", TOPIC, "--to", "a@lab.test"])
    assert code == 2 and "cannot reach" in err
    # The cron's other channel: a capped digest on day 1 (3 of the matches).
    smtp_env(monkeypatch, port)
    use_home(home)
    code, out, err = run_cli(["radar", "send", TOPIC, "--to", "b@lab.test", "--max", "3", "--json"])
    assert code == 0, err
    [capped] = json.loads(out)["deliveries"]
    sent_b = list(capped["papers"])
    assert len(sent_b) == 3
    radar = build_radar(settings, build_retriever(settings, embedder=shared_model))
    assert radar.store.get_topic(radar.topic_id(TOPIC)).window is None  # a cron send opens no radar visit

    ingest(settings, shared_model, day_files[DAY2])
    both_days = expected_matches(home, shared_model)
    assert set(day1) < set(both_days)
    use_home(home)
    code, out, err = run_cli(["radar", "send", TOPIC, "--to", "a@lab.test", "--max", "100", "--json"])
    assert code == 0, err
    [first] = json.loads(out)["deliveries"]
    assert sorted(first["papers"]) == sorted(both_days)  # day 1's papers were not lost
    for _ in range(len(both_days)):
        code, out, err = run_cli(["radar", "send", TOPIC, "--to", "b@lab.test", "--max", "3", "--json"])
        assert code == 0, err
        [result] = json.loads(out)["deliveries"]
        if not result["sent"]:
            break
        assert len(result["papers"]) <= 3
        sent_b += result["papers"]
    assert "nothing new" in result["message"]
    assert sorted(sent_b) == sorted(both_days)  # every match once, none lost past --max
    code, out, _ = run_cli(["radar", "send", TOPIC, "--to", "a@lab.test", "--json"])
    assert json.loads(out)["deliveries"][0]["papers"] == []
    # What was sent counts as seen: the interactive feed does not show it again.
    assert build_radar(settings, build_retriever(settings, embedder=shared_model)).feed(TOPIC).items == []


# --- issue 28: mentions in chat formats, non-ASCII host endings -------------------------------------------

MENTIONS = ("@everyone", "@here", "@channel", "@all", "<@123456>", "<@&42>", "<!channel>")
NON_ASCII_HOSTS = ("evil.рф/cyr", "evil.xn--p1ai/puny", "злой.испытание/x", "evil.みんな/jp")


def _hostile_digest() -> delivery.Digest:
    title = "Agents for " + " ".join(MENTIONS) + " see " + " ".join(NON_ASCII_HOSTS)
    paper = _paper("2606.00001", title).model_copy(
        update={
            "authors": ["@everyone Smith", "Bob @here"],
            "abstract": "We study agents @channel at evil.рф/cyr and evil.みんな/jp.",
        }
    )
    return delivery.Digest(_topic(), [(Hit(paper, 1.0, 1.0), None)], None)


def test_chat_webhooks_mention_no_one_and_discord_parses_no_mentions(
    hook_server: LocalHTTPServer, tmp_path: Path
) -> None:
    """Issue 28 item 3: @everyone/@here/@channel from titles, authors and summaries reached Discord and
    Mattermost unescaped (a ping to the whole server), and Discord's payload had no `allowed_mentions`."""
    settings = make_settings(tmp_path)
    digest = _hostile_digest()
    url = hook_server.origin + "/hooks/x"
    for flavour in ("discord", "mattermost", "slack"):
        delivery.post_webhook(settings, url, delivery.webhook_payload(digest, flavour))
    discord, mattermost, slack = (post["json"] for post in Hook.posts)
    assert discord["allowed_mentions"] == {"parse": []}
    for text in (discord["content"], mattermost["text"], slack["text"]):
        assert "@" not in text and "<!" not in text, text  # no mention syntax at all
        assert "＠everyone" in text and "＠here" in text and "＠channel" in text  # still readable
        assert "Smith" in text


def test_non_ascii_host_endings_are_defanged_in_every_delivery(
    hook_server: LocalHTTPServer,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 28 item 8: `evil.рф/cyr` stayed whole in e-mail, Atom, Slack, Mattermost and Discord (clients
    such as linkify-it link it). One rule (`assistant.core.links`) now decides for every output."""
    inbox, port = smtp_server
    smtp_env(monkeypatch, port)
    settings = Settings()
    digest = _hostile_digest()
    url = hook_server.origin + "/hooks/x"
    for flavour in ("discord", "mattermost", "slack"):
        delivery.post_webhook(settings, url, delivery.webhook_payload(digest, flavour))
    delivery.send_email(
        settings, delivery.digest_email(digest, settings.delivery.smtp.sender, ["bob@example.org"])
    )
    [(_, _, message)] = inbox.messages
    shown = [json.dumps(post["json"], ensure_ascii=False) for post in Hook.posts]
    shown += list(parts(message).values())
    shown.append(delivery.atom_feed(digest.topic, [hit for hit, _ in digest.items]))
    for text in shown:
        for host in ("evil.рф", "evil.xn--p1ai", "злой.испытание", "evil.みんな"):
            assert host not in text, (host, text[:300])
        assert "рф" in text  # still shown, only unlinkable


def test_one_linkable_rule_for_markdown_and_deliveries() -> None:
    """The app/export Markdown shows a non-ASCII host as code (no renderer links code); the deliveries defang
    it; prose with dots (e.g., 3.5, U.S.) is left alone by both."""
    from assistant.compose.safe_markdown import literal_markdown
    from assistant.core.links import is_linkable

    for host in NON_ASCII_HOSTS:
        assert is_linkable(host)
        assert f"`{host}`" in literal_markdown(f"see {host} now")
        assert host.split("/")[0] not in delivery.unlinkable(host)
    prose = "we collect e.g. 3.5 samples in the U.S. and i.e. more"
    assert not is_linkable(prose) and delivery.unlinkable(prose) == prose
    assert "`" not in literal_markdown(prose)
