"""The radar comes to the reader: an Atom feed per topic, an e-mail digest, a webhook post. This module
chooses the papers and drives the channels (`channels.py`, one interface; formats in `render.py`); it reads
and records through the radar's public methods and its `DeliveryLedger` (`radar.deliveries`).

Delivery state (tables of the radar state store, `assistant.radar.store`):
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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from assistant.core.settings import Settings
from assistant.radar.channels import (
    AtomFeed,
    DeliveryError,
    EmailDigest,
    PushChannel,
    check_recipients,
    mail_channel,
    post_webhook,
    send_email,
    webhook_channel,
    webhook_flavour,
    webhook_for,
)
from assistant.radar.ledger import Cursor
from assistant.radar.render import (
    DISCORD_LIMIT,
    Digest,
    atom_feed,
    defang,
    defang_except,
    digest_email,
    digest_html,
    digest_text,
    entry_id,
    gist,
    html_escaped,
    markdown_text,
    safe_markdown_html,
    slack_text,
    unlinkable,
    webhook_payload,
)
from assistant.radar.service import NO_LOGIN, NothingNewError, Radar
from assistant.search.hit import Hit

if TYPE_CHECKING:
    from assistant.compose.briefing import Briefing

# The channels' and formats' names, as callers (the CLI, the app's feed routes, tests) know them from here.
__all__ = [
    "DIGEST_MAX",
    "DISCORD_LIMIT",
    "FEED_DAYS",
    "FEED_MAX",
    "Candidates",
    "DeliveryError",
    "DeliveryResult",
    "Digest",
    "atom_feed",
    "check_recipients",
    "defang",
    "defang_except",
    "digest_candidates",
    "digest_email",
    "digest_html",
    "digest_text",
    "entry_id",
    "feed_entries",
    "feed_path",
    "feed_token",
    "gist",
    "html_escaped",
    "mail_channel",
    "markdown_text",
    "post_webhook",
    "public_url",
    "safe_markdown_html",
    "send_digest",
    "send_email",
    "slack_text",
    "topic_feed",
    "topic_for_token",
    "topic_path",
    "unlinkable",
    "webhook_channel",
    "webhook_flavour",
    "webhook_payload",
]

FEED_DAYS = 7
FEED_MAX = 50
DIGEST_MAX = 25


# --- feeds --------------------------------------------------------------------------------------------------


def feed_token(radar: Radar, name: str, *, owner: str = NO_LOGIN) -> str:
    """The owner's topic's secret feed token (made on first use; kept until the topic is removed)."""
    return radar.deliveries.feed_token(radar.topic_id(name, owner=owner))


def topic_for_token(radar: Radar, token: str) -> tuple[str, str] | None:
    """(owner, name) of the topic a feed token belongs to, or None."""
    return radar.deliveries.topic_for_token(token)


def feed_path(token: str) -> str:
    return f"/radar/feeds/{token}.atom"


DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def public_url(settings: Settings, path: str) -> str:
    """An address on the app as readers reach it: ACADEMICHUB_PUBLIC_URL (never a request's Host header,
    which any client sets, so a feed's self link cannot point elsewhere with the secret token in it)."""
    return (settings.delivery.public_url.strip() or DEFAULT_PUBLIC_URL).rstrip("/") + path


def feed_entries(
    radar: Radar, name: str, days: int = FEED_DAYS, limit: int = FEED_MAX, *, owner: str = NO_LOGIN
) -> list[Hit]:
    """The owner's topic's matches among the papers of the last `days` listing days, newest first."""
    topic = radar.get_topic(name, owner=owner)
    recent = radar.deliveries.recent_paper_ids(days)
    if not recent:
        return []
    ranked = [hit for hit, _ in radar.rank_papers(radar.topic_id(name, owner=owner), topic, recent)]
    ranked.sort(key=lambda hit: hit.paper.published or date.min, reverse=True)  # stable: rank within a day
    return ranked[:limit]


def topic_path(name: str) -> str:
    return f"/radar/topics/{quote(name, safe='')}.atom"


def topic_feed(radar: Radar, name: str, self_url: str | None = None, *, owner: str = NO_LOGIN) -> str:
    """The owner's topic's Atom feed (`AtomFeed` over its recent matches)."""
    hits = feed_entries(radar, name, owner=owner)
    topic = radar.get_topic(name, owner=owner)
    return AtomFeed(self_url).render(Digest(topic, [(hit, None) for hit in hits], None))


# --- digests ------------------------------------------------------------------------------------------------


@dataclass
class DeliveryResult:
    channel: str
    paper_ids: list[str] = field(default_factory=list)
    sent: bool = False
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "sent": self.sent, "papers": self.paper_ids, "message": self.message}


@dataclass
class Candidates:
    """What a channel's next digest chooses from: the topic's matches it has not had, in feed order."""

    items: list[tuple[Hit, str | None]]
    since: datetime | None
    cursor: Cursor  # where the channel's cursor goes once all `items` went there


def digest_candidates(radar: Radar, name: str, channel: str, *, owner: str = NO_LOGIN) -> Candidates:
    """The owner's topic's matches among the papers ingested since the channel's cursor (all matches
    ingested by then went there), minus the papers it already had (`DeliveryLedger.undelivered`). Opens no
    radar visit: what the interactive feed shows is not changed by choosing."""
    topic = radar.get_topic(name, owner=owner)
    topic_id = radar.topic_id(name, owner=owner)
    fresh = radar.deliveries.undelivered(topic_id, topic.created_at, channel)
    items = radar.rank_papers(topic_id, topic, fresh.paper_ids) if fresh.paper_ids else []
    return Candidates(items, fresh.since, fresh.cursor)


def send_digest(
    radar: Radar,
    name: str,
    *,
    to: Sequence[str] = (),
    webhook: str | None = None,
    with_briefing: bool = False,
    limit: int = DIGEST_MAX,
    owner: str = NO_LOGIN,
) -> list[DeliveryResult]:
    """Send each channel the topic's matches it has not had (`digest_candidates`), at most `limit`; one
    result per channel. Nothing is lost: a failed send records nothing, and a capped digest leaves the
    channel's cursor in place, so the next run sends the rest (with whatever was ingested since).

    A channel whose send fails reports the error in its result (and the others are still tried); its
    papers are neither recorded nor marked seen."""
    recipients = check_recipients(to)
    channels: list[PushChannel] = []
    if recipients:
        channels.append(EmailDigest(radar.settings, recipients))
    if webhook is not None:
        channels.append(webhook_for(radar.settings, webhook))
    if not recipients and not webhook:
        raise DeliveryError("say where to send: --to ADDRESS and/or --webhook URL")
    topic = radar.get_topic(name, owner=owner)
    topic_id = radar.topic_id(name, owner=owner)
    radar.require_index()
    results: list[DeliveryResult] = []
    for channel in channels:
        chosen = digest_candidates(radar, name, channel.key, owner=owner)
        todo = chosen.items[:limit]
        complete = len(chosen.items) <= limit
        result = DeliveryResult(channel=channel.key)
        results.append(result)
        if not todo:
            radar.deliveries.record(topic_id, channel.key, [], chosen.cursor)
            result.message = f"nothing new for {topic.name!r} to send to {channel.key}"
            continue
        briefing: Briefing | None = None
        if with_briefing and isinstance(channel, EmailDigest):
            try:
                briefing = radar.brief(name, paper_ids=[hit.paper.id for hit, _ in todo], owner=owner)
            except NothingNewError:
                briefing = None
        try:
            channel.send(Digest(topic, todo, chosen.since, briefing))
        except DeliveryError as err:
            result.message = str(err)
            continue
        ids = [hit.paper.id for hit, _ in todo]
        radar.deliveries.record(topic_id, channel.key, ids, chosen.cursor if complete else None)
        radar.mark_seen(
            name, ids, owner=owner
        )  # in an open radar window; later windows leave delivered papers out
        result.sent, result.paper_ids = True, ids
        more = "" if complete else f" ({len(chosen.items) - len(ids)} more next time)"
        result.message = (
            f"sent {len(ids)} paper{'s' * (len(ids) != 1)} for {topic.name!r} to {channel.key}{more}"
        )
    return results
