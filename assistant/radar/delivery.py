"""The radar comes to the reader: an Atom feed per topic, an e-mail digest, a webhook post.

Paper text is data here as everywhere: titles, authors and abstract sentences are escaped for the format at
hand (XML, HTML, Slack mrkdwn, Markdown) and written so no mail client, chat app or feed reader turns a URL
inside them into a link (`unlinkable`). The only links are the ones built from arXiv ids.

Delivery state (tables of `RadarStore` in state.sqlite3):
* `radar_feed_tokens`: the per-topic secret that makes a topic's feed URL (`/radar/feeds/TOKEN.atom`).
* `radar_deliveries`: which papers went to which channel (`mailto:` recipients, `webhook:` hash of the URL).
* `radar_delivery_cursors`: per channel, the ingest time by which every match has gone there.
  A digest carries the topic's matches ingested since the channel's cursor that it has not had
  (`digest_candidates`; chosen per channel, never from the radar's visit window, so a failed or capped send
  loses nothing when the next ingest lands). After a successful send they are recorded and count as seen
  (later radar windows leave them out). A failed send records nothing, so the next run sends the same papers
  (and the newer ones); a second run on the same day finds nothing new and sends nothing.

The Atom feed is a pull: it never opens a visit or marks anything seen. It lists the topic's matches among
the papers of the last `FEED_DAYS` listing days, newest first, each entry keyed by its arXiv abstract URL
or `urn:doi:` for bioRxiv/medRxiv (stable across versions and days, so a reader never shows a paper twice).
"""

from __future__ import annotations

import hashlib
import html
import re
import secrets
import smtplib
import ssl
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from markdown_it import MarkdownIt
from markdown_it.token import Token

from assistant.compose.extractive import is_quotable, split_sentences
from assistant.core.paper import Paper
from assistant.core.settings import Settings
from assistant.core.text import fold
from assistant.radar.service import NothingNewError, Radar, RadarError, Topic
from assistant.radar.store import Window
from assistant.radar.windows import BACKFILL_SLACK_DAYS, window_paper_ids
from assistant.radar.xmltext import xml_safe
from assistant.search.hit import Hit
from assistant.search.retrieval import make_filter

if TYPE_CHECKING:
    from assistant.compose.briefing_model import Briefing

FEED_DAYS = 7
FEED_MAX = 50
DIGEST_MAX = 25
DISCORD_LIMIT = 2000  # characters in one Discord message
ATOM_NS = "http://www.w3.org/2005/Atom"
Flavour = Literal["slack", "mattermost", "discord"]


class DeliveryError(RadarError):
    """A digest could not be delivered (server down, login refused, bad address): nothing was marked."""


# --- display-safe text ------------------------------------------------------------------------------------

# Schemes a client may turn into a link or a fetch, when something follows the colon ("data: we" is prose).
_SCHEME = re.compile(r"(?i)\b(https?|s?ftp|file|mailto|data|javascript|vbscript|tel|sms|ssh|git)(:/*)(?=\S)")
# Any `host.tld` shape: a dot between a letter/digit and a label that starts with a letter and ends the word
# (`evil.ru/x`, `evil.example/y`, `x.org`); clients link new TLDs too, so this is a shape, not a list.
_DOMAIN_DOT = re.compile(r"(?i)(?<=[a-z0-9])\.(?=[a-z][a-z0-9-]{1,62}\b)")
_WWW = re.compile(r"(?i)\bwww\.")
_AT = re.compile(r"(?<=\w)@(?=\w)")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def defang(text: str) -> str:
    """Text that no client auto-links: `https://x.org` -> `https[:]//x[.]org` (whitespace kept)."""
    text = _SCHEME.sub(lambda m: f"{m.group(1)}[:]{m.group(2)[1:]}", text)
    text = _WWW.sub("www[.]", text)
    text = _DOMAIN_DOT.sub("[.]", text)
    return _AT.sub(" [at] ", text)


def unlinkable(text: str) -> str:
    """Paper text as plain words on one line that no client auto-links (and that XML may carry)."""
    return defang(" ".join(xml_safe(text).split()))


def id_links(papers: Sequence[Paper]) -> set[str]:
    """The links built from these papers' ids (abstract, PDF, HTML and published-version pages)."""
    links: set[str] = set()
    for paper in papers:
        links |= {paper.abs_url, paper.pdf_url, paper.html_url}
        if paper.published_url:
            links.add(paper.published_url)
    return links


def defang_except(text: str, allowed: set[str]) -> str:
    """A briefing as plain text: the links built from its papers' ids stay, any other URL is defanged."""
    if not allowed:
        return defang(text)
    keep = "|".join(re.escape(link) for link in sorted(allowed, key=len, reverse=True))
    pieces = re.split(f"({keep})", text)
    return "".join(piece if i % 2 else defang(piece) for i, piece in enumerate(pieces))


def markdown_text(text: str) -> str:
    """Paper text for Markdown (Mattermost, Discord): unlinkable and every markup character escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", unlinkable(text))


def slack_text(text: str) -> str:
    """Paper text for Slack mrkdwn: unlinkable, with &, <, > escaped as Slack requires."""
    return unlinkable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_escaped(text: str) -> str:
    """Text for an HTML e-mail: links made unlinkable, then escaped (the opposite of safe_markdown's
    `html_text`, which takes the text out of HTML)."""
    return html.escape(unlinkable(text), quote=True)


def gist(paper: Paper) -> str:
    """One sentence that says what the paper does: the first that speaks of "we"/"this paper", else the
    first quotable sentence of the abstract."""
    sentences = split_sentences(paper.abstract)
    quotable = [s for s in sentences if is_quotable(s)] or sentences
    for sentence in quotable:
        if re.search(r"(?i)\b(we|this (paper|work|study|article)|here)\b", sentence):
            return sentence
    return quotable[0] if quotable else paper.title


def _published(paper: Paper) -> str:
    return paper.published.isoformat() if paper.published else "undated"


# --- state --------------------------------------------------------------------------------------------------


def feed_token(radar: Radar, name: str) -> str:
    """The topic's secret feed token (made on first use; kept until the topic is removed)."""
    return radar.store.feed_token(radar.topic_id(name), new_token=secrets.token_urlsafe(24))


def topic_for_token(radar: Radar, token: str) -> str | None:
    """The topic name a feed token belongs to, or None."""
    return radar.store.topic_for_token(token)


def feed_path(token: str) -> str:
    return f"/radar/feeds/{token}.atom"


DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def public_url(settings: Settings, path: str) -> str:
    """An address on the app as readers reach it: ACADEMICHUB_PUBLIC_URL (never a request's Host header,
    which any client sets, so a feed's self link cannot point elsewhere with the secret token in it)."""
    return (settings.public_url.strip() or DEFAULT_PUBLIC_URL).rstrip("/") + path


# --- Atom ---------------------------------------------------------------------------------------------------


def feed_entries(radar: Radar, name: str, days: int = FEED_DAYS, limit: int = FEED_MAX) -> list[Hit]:
    """The topic's matches among the papers of the last `days` listing days, newest first."""
    topic = radar.get_topic(name)
    _, newest = radar.retriever.catalog.date_range()
    if newest is None:
        return []
    recent = set(radar.retriever.catalog.filter_ids(make_filter(since=newest - timedelta(days=days - 1))))
    ranked = [hit for hit, _ in radar.rank_papers(radar.topic_id(name), topic, recent)]
    ranked.sort(key=lambda hit: hit.paper.published or date.min, reverse=True)  # stable: rank within a day
    return ranked[:limit]


def _atom_time(day: date | None) -> str:
    moment = datetime.combine(day or date(1970, 1, 1), datetime.min.time(), tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def atom_feed(topic: Topic, hits: Sequence[Hit], self_url: str | None = None) -> str:
    """A valid Atom 1.0 document for the topic's entries (ids: `entry_id`). Characters XML forbids are
    dropped from paper text, so one bad title cannot break the feed."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = text
        return element

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'academichub:radar:' + fold(topic.name))}")
    sub(feed, "title", xml_safe(f"AcademicHub radar: {topic.name}"))
    sub(feed, "subtitle", xml_safe(f"New papers on {topic.query}"[:300]))
    days = [hit.paper.updated or hit.paper.published for hit in hits]
    sub(feed, "updated", _atom_time(max((d for d in days if d), default=None)))
    author = sub(feed, "author")
    sub(author, "name", "AcademicHub radar")
    sub(feed, "generator", "AcademicHub")
    if self_url:
        sub(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    for hit in hits:
        paper = hit.paper
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(paper))
        sub(entry, "title", unlinkable(paper.title))
        sub(entry, "updated", _atom_time(paper.updated or paper.published))
        sub(entry, "published", _atom_time(paper.published))
        for name in paper.authors[:50] or ["unknown"]:
            sub(sub(entry, "author"), "name", unlinkable(name))
        sub(entry, "link", rel="alternate", href=paper.abs_url, type="text/html")
        sub(entry, "link", rel="related", href=paper.pdf_url, type="application/pdf", title="PDF")
        for category in paper.categories:
            sub(entry, "category", term=category)
        sub(entry, "summary", unlinkable(gist(paper)), type="text")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"


def entry_id(paper: Paper) -> str:
    """An entry id that stays the same across the paper's versions: the versionless abstract URL for arXiv,
    the DOI as a URN for bioRxiv/medRxiv (whose abstract URL carries `v{n}`)."""
    if paper.source == "arxiv":
        return paper.abs_url
    return f"urn:doi:{paper.doi or paper.id}"


def topic_path(name: str) -> str:
    return f"/radar/topics/{quote(name, safe='')}.atom"


def topic_feed(radar: Radar, name: str, self_url: str | None = None) -> str:
    return atom_feed(radar.get_topic(name), feed_entries(radar, name), self_url)


# --- digests ------------------------------------------------------------------------------------------------


@dataclass
class Digest:
    topic: Topic
    items: list[tuple[Hit, str | None]]  # (paper, followed author that put it on the feed)
    since: datetime | None
    briefing: Briefing | None = None

    @property
    def heading(self) -> str:
        since = self.since.strftime("%Y-%m-%d %H:%M").removesuffix(" 00:00") if self.since else "today"
        count = len(self.items)
        return f"{self.topic.name}: {count} new paper{'s' * (count != 1)} since {since}"


@dataclass
class DeliveryResult:
    channel: str
    paper_ids: list[str] = field(default_factory=list)
    sent: bool = False
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "sent": self.sent, "papers": self.paper_ids, "message": self.message}


def digest_text(digest: Digest) -> str:
    lines = [f"AcademicHub radar · {digest.heading}", ""]
    for number, (hit, followed) in enumerate(digest.items, start=1):
        paper = hit.paper
        lines.append(f"{number}. {unlinkable(paper.title)}")
        lines.append(f"   {unlinkable(paper.short_authors(6))}")
        lines.append(f"   {_published(paper)} · {unlinkable(', '.join(paper.categories))}")
        if followed:
            lines.append(f"   followed author: {unlinkable(followed)}")
        lines.append(f"   {unlinkable(gist(paper))}")
        lines.append(f"   {paper.abs_url} · PDF {paper.pdf_url}")
        lines.append("")
    if digest.briefing is not None:
        allowed = id_links([source.paper for source in digest.briefing.sources])
        lines += ["", "Briefing", "", defang_except(digest.briefing.markdown, allowed)]
    return "\n".join(lines).rstrip() + "\n"


def safe_markdown_html(markdown: str, allowed: set[str]) -> str:
    """A briefing's Markdown as HTML: raw HTML off, images off, and only the `allowed` links (built from
    its papers' ids) kept; any other link keeps its text, unlinked."""
    md = MarkdownIt("commonmark", {"html": False}).disable("image")
    tokens = md.parse(markdown)
    for block in tokens:
        if block.type in ("fence", "code_block"):
            block.content = defang(block.content)  # clients link bare URLs inside <pre> too
        open_links: list[bool] = []
        for token in block.children or []:
            if token.type in ("text", "code_inline"):
                token.content = defang(token.content)  # mail clients link bare URLs in text
            elif token.type == "link_open":
                keep = str(token.attrGet("href") or "") in allowed
                open_links.append(keep)
                if not keep:
                    _blank(token)
            elif token.type == "link_close" and open_links and not open_links.pop():
                _blank(token)
    return str(md.renderer.render(tokens, md.options, {}))


def _blank(token: Token) -> None:
    token.type, token.tag, token.content, token.attrs = "text", "", "", {}


def digest_html(digest: Digest) -> str:
    parts = [
        '<html><body style="font-family: sans-serif; max-width: 760px">',
        f"<h2>AcademicHub radar · {html_escaped(digest.heading)}</h2>",
    ]
    for number, (hit, followed) in enumerate(digest.items, start=1):
        paper = hit.paper
        followed_line = (
            f'<div style="color:#2e7d32">followed author: {html_escaped(followed)}</div>' if followed else ""
        )
        parts.append(
            '<div style="margin: 0 0 18px 0">'
            f'<div><b>{number}. <a href="{paper.abs_url}">{html_escaped(paper.title)}</a></b></div>'
            f'<div style="color:#555">{html_escaped(paper.short_authors(6))}</div>'
            f'<div style="color:#555">{_published(paper)} · {html_escaped(", ".join(paper.categories))}</div>'
            f"{followed_line}"
            f"<div>{html_escaped(gist(paper))}</div>"
            f'<div><a href="{paper.abs_url}">abstract</a> · <a href="{paper.pdf_url}">PDF</a></div>'
            "</div>"
        )
    if digest.briefing is not None:
        parts.append("<hr><h2>Briefing</h2>")
        allowed = id_links([source.paper for source in digest.briefing.sources])
        parts.append(safe_markdown_html(digest.briefing.markdown, allowed))
    parts.append("</body></html>")
    return "\n".join(parts)


def digest_email(digest: Digest, sender: str, recipients: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"AcademicHub radar · {digest.heading}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="academichub.local")
    message.set_content(digest_text(digest))
    message.add_alternative(digest_html(digest), subtype="html")
    return message


def webhook_flavour(settings: Settings, url: str) -> Flavour:
    if settings.webhook_format != "auto":
        return settings.webhook_format
    host = (urlsplit(url).hostname or "").lower()
    return "discord" if host.endswith(("discord.com", "discordapp.com")) else "slack"


def webhook_payload(digest: Digest, flavour: Flavour) -> dict[str, Any]:
    """Slack and Mattermost read {"text": ...} (Slack mrkdwn links <url|text>; Mattermost Markdown);
    Discord reads {"content": ...} in Markdown, at most 2,000 characters."""
    if flavour == "slack":
        lines = [f"*AcademicHub radar · {slack_text(digest.heading)}*"]
        for number, (hit, _) in enumerate(digest.items, start=1):
            paper = hit.paper
            lines.append(
                f"{number}. <{paper.abs_url}|{slack_text(paper.title).replace('|', '¦')}> · "
                f"{slack_text(paper.short_authors(3))} · {_published(paper)}\n    {slack_text(gist(paper))}"
            )
        if digest.briefing is not None:
            lines.append(f"Briefing: {len(digest.briefing.sources)} cited papers (in the e-mail digest)")
        return {"text": "\n".join(lines)}
    head = f"**AcademicHub radar · {markdown_text(digest.heading)}**"
    entries = [
        f"{number}. [{markdown_text(hit.paper.title)}]({hit.paper.abs_url}) · "
        f"{markdown_text(hit.paper.short_authors(3))} · {_published(hit.paper)}\n"
        f"    {markdown_text(gist(hit.paper))}"
        for number, (hit, _) in enumerate(digest.items, start=1)
    ]
    if flavour == "mattermost":
        return {"text": "\n".join([head, *entries])}
    text = head
    for shown, entry in enumerate(entries):
        rest = len(entries) - shown
        tail = f"\n… and {rest} more: `academichub radar feed`"
        if len(text) + 1 + len(entry) + len(tail) > DISCORD_LIMIT:
            text += tail
            break
        text += "\n" + entry
    return {"content": text}


def send_email(settings: Settings, message: EmailMessage) -> None:
    """Deliver through the configured SMTP server; any failure becomes a DeliveryError saying what to fix."""
    host, port = settings.smtp_host.strip(), settings.smtp_port
    if not host:
        raise DeliveryError(
            "e-mail is not set up: set ACADEMICHUB_SMTP_HOST "
            "(and _PORT, _SECURITY, _USER, _PASSWORD, _SENDER)"
        )
    where = f"the SMTP server {host}:{port}"
    try:
        smtp: smtplib.SMTP
        if settings.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(
                host, port, timeout=settings.smtp_timeout_seconds, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=settings.smtp_timeout_seconds)
        with smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_user, password)
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as err:
        raise DeliveryError(
            f"{where} refused the login for {settings.smtp_user!r} ({err.smtp_code}): "
            "check ACADEMICHUB_SMTP_USER and ACADEMICHUB_SMTP_PASSWORD"
        ) from None
    except smtplib.SMTPRecipientsRefused as err:
        raise DeliveryError(f"{where} refused the recipients {', '.join(err.recipients)}") from None
    except smtplib.SMTPNotSupportedError as err:
        raise DeliveryError(
            f"{where} does not support this ({err}): check ACADEMICHUB_SMTP_SECURITY"
        ) from None
    except (smtplib.SMTPException, ssl.SSLError) as err:
        raise DeliveryError(f"{where} did not take the digest: {err}") from None
    except OSError as err:
        raise DeliveryError(f"cannot reach {where}: {err.strerror or err}") from None


def post_webhook(settings: Settings, url: str, payload: dict[str, Any]) -> None:
    where = urlsplit(url).netloc or url
    try:
        response = httpx.post(url, json=payload, timeout=settings.webhook_timeout_seconds)
    except httpx.HTTPError as err:
        raise DeliveryError(f"cannot reach the webhook at {where}: {err}") from None
    if response.status_code >= 300:
        raise DeliveryError(
            f"the webhook at {where} answered HTTP {response.status_code}: {response.text[:200].strip()}"
        )


def mail_channel(recipients: Sequence[str]) -> str:
    return "mailto:" + ",".join(sorted({r.strip().lower() for r in recipients}))


def webhook_channel(url: str) -> str:
    return "webhook:" + hashlib.sha256(url.strip().encode("utf-8")).hexdigest()[:16]


_ADDRESS = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$")


def check_recipients(recipients: Sequence[str]) -> list[str]:
    clean = [r.strip() for r in recipients if r and r.strip()]
    bad = [r for r in clean if not _ADDRESS.match(r)]
    if bad:
        raise DeliveryError(f"not an e-mail address: {', '.join(repr(b) for b in bad)}")
    return clean


@dataclass
class Candidates:
    """What a channel's next digest chooses from: the topic's matches it has not had, in feed order."""

    items: list[tuple[Hit, str | None]]
    since: datetime | None
    cursor: tuple[float, date | None]  # where the channel's cursor goes once all `items` went there


def digest_candidates(radar: Radar, name: str, channel: str) -> Candidates:
    """The topic's matches among the papers ingested since the channel's cursor (all matches ingested by
    then went there), minus the papers it already had. Before the channel's first complete delivery that
    is the listing that was newest when the topic was saved plus everything ingested after. Opens no radar
    visit: what the interactive feed shows is not changed by choosing."""
    topic = radar.get_topic(name)
    topic_id = radar.topic_id(name)
    catalog = radar.retriever.catalog
    until, newest_day = catalog.searchable_until(), catalog.date_range()[1]
    cursor = radar.store.delivery_cursor(topic_id, channel)
    if cursor is None:
        first_day = catalog.newest_day_ingested_by(topic.created_at) or newest_day
        window = Window(0, None, None, until, first_day, None, newest_day, topic.created_at)
    else:
        after, day = cursor
        floor = day - timedelta(days=BACKFILL_SLACK_DAYS) if day else None
        window = Window(0, after, after, until, None, floor, newest_day, topic.created_at)
    candidates = window_paper_ids(catalog, window) - radar.store.delivered(topic_id, channel)
    items = radar.rank_papers(topic_id, topic, candidates) if candidates else []
    return Candidates(items, window.since, (until, newest_day))


def send_digest(
    radar: Radar,
    name: str,
    *,
    to: Sequence[str] = (),
    webhook: str | None = None,
    with_briefing: bool = False,
    limit: int = DIGEST_MAX,
) -> list[DeliveryResult]:
    """Send each channel the topic's matches it has not had (`digest_candidates`), at most `limit`; one
    result per channel. Nothing is lost: a failed send records nothing, and a capped digest leaves the
    channel's cursor in place, so the next run sends the rest (with whatever was ingested since).

    A channel whose send fails reports the error in its result (and the others are still tried); its
    papers are neither recorded nor marked seen."""
    recipients = check_recipients(to)
    if webhook is not None and urlsplit(webhook).scheme not in ("http", "https"):
        raise DeliveryError(f"the webhook {webhook!r} is not an http(s) URL")
    if not recipients and not webhook:
        raise DeliveryError("say where to send: --to ADDRESS and/or --webhook URL")
    topic = radar.get_topic(name)
    topic_id = radar.topic_id(name)
    if radar.retriever.catalog.count() == 0:
        radar.new_paper_ids(name)  # raises the radar's own "the index is empty" error
    channels: list[tuple[str, str]] = []
    if recipients:
        channels.append(("mail", mail_channel(recipients)))
    if webhook:
        channels.append(("webhook", webhook_channel(webhook)))
    results: list[DeliveryResult] = []
    for kind, channel in channels:
        chosen = digest_candidates(radar, name, channel)
        todo = chosen.items[:limit]
        complete = len(chosen.items) <= limit
        result = DeliveryResult(channel=channel)
        results.append(result)
        if not todo:
            radar.store.record_delivery(topic_id, channel, [], time.time(), chosen.cursor)
            result.message = f"nothing new for {topic.name!r} to send to {channel}"
            continue
        briefing: Briefing | None = None
        if with_briefing and kind == "mail":
            try:
                briefing = radar.brief(name, paper_ids=[hit.paper.id for hit, _ in todo])
            except NothingNewError:
                briefing = None
        digest = Digest(topic, todo, chosen.since, briefing)
        try:
            if kind == "mail":
                sender = radar.settings.smtp_sender or radar.settings.smtp_user
                if not sender:
                    raise DeliveryError("set ACADEMICHUB_SMTP_SENDER (the From address of digests)")
                send_email(radar.settings, digest_email(digest, sender, recipients))
            else:
                assert webhook is not None
                flavour = webhook_flavour(radar.settings, webhook)
                post_webhook(radar.settings, webhook, webhook_payload(digest, flavour))
        except DeliveryError as err:
            result.message = str(err)
            continue
        ids = [hit.paper.id for hit, _ in todo]
        radar.store.record_delivery(topic_id, channel, ids, time.time(), chosen.cursor if complete else None)
        radar.mark_seen(name, ids)  # in an open radar window; later windows leave delivered papers out
        result.sent, result.paper_ids = True, ids
        more = "" if complete else f" ({len(chosen.items) - len(ids)} more next time)"
        result.message = f"sent {len(ids)} paper{'s' * (len(ids) != 1)} for {topic.name!r} to {channel}{more}"
    return results
