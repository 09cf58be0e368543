"""A radar digest or feed in each reader's format: an Atom document, plain-text and HTML e-mail, Slack
mrkdwn, Mattermost and Discord Markdown. Pure functions of the papers: no state, no network.

Paper text is data here as everywhere: titles, authors and abstract sentences are escaped for the format at
hand (XML, HTML, Slack mrkdwn, Markdown) and written so no mail client, chat app or feed reader turns a URL
inside them into a link (`unlinkable`). The only links are the ones built from arXiv ids.
"""

from __future__ import annotations

import html
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any, Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

from assistant.compose.extractive import is_quotable, split_sentences
from assistant.core.links import ADDRESS_AT_RE, HOST_DOT_RE, SCHEME_RE, WWW_RE
from assistant.core.paper import Paper
from assistant.core.text import fold
from assistant.radar.store import Topic
from assistant.radar.xmltext import xml_safe
from assistant.search.hit import Hit

if TYPE_CHECKING:
    from assistant.compose.briefing import Briefing

DISCORD_LIMIT = 2000  # characters in one Discord message
ATOM_NS = "http://www.w3.org/2005/Atom"
Flavour = Literal["slack", "mattermost", "discord"]


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def defang(text: str) -> str:
    """Text that no client auto-links (`assistant.core.links`): `https://x.org` -> `https[:]//x[.]org`,
    `evil.рф` -> `evil[.]рф` (whitespace kept)."""
    text = SCHEME_RE.sub(lambda m: f"{m.group(1)}[:]{m.group(2)[1:]}", text)
    text = WWW_RE.sub("www[.]", text)
    text = HOST_DOT_RE.sub("[.]", text)
    return ADDRESS_AT_RE.sub(" [at] ", text)


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


def without_mentions(text: str) -> str:
    """Chat text that mentions no one: every @ becomes a full-width ＠, so `@everyone`, `@here`,
    `@channel`, `@all` and `<@id>` (Discord, Mattermost, Slack) notify nobody and still read as written."""
    return text.replace("@", "\uff20")


def markdown_text(text: str) -> str:
    """Paper text for Markdown (Mattermost, Discord): unlinkable, mentioning no one, and every markup
    character escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", without_mentions(unlinkable(text)))


def slack_text(text: str) -> str:
    """Paper text for Slack mrkdwn: unlinkable, mentioning no one, with &, <, > escaped as Slack requires."""
    return without_mentions(unlinkable(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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


# --- Atom ---------------------------------------------------------------------------------------------------


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
    # Discord parses no mention from the text, whatever slipped through: no @everyone, role or user ping.
    return {"content": text, "allowed_mentions": {"parse": []}}
