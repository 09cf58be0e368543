"""Delivery channels behind one interface: each takes a `Digest` (a topic's papers) and renders it in its
format (`render.py`); the push channels also send it and name the channel key under which the radar's
`DeliveryLedger` records what went there.

* `AtomFeed`: pulled by a feed reader (the app serves it; `radar feed`), never sent.
* `EmailDigest`: plain text + HTML through the configured SMTP server.
* `SlackWebhook`, `MattermostWebhook`, `DiscordWebhook`: one post to an incoming webhook.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from abc import ABC, abstractmethod
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from assistant.core.settings import Settings
from assistant.radar.render import Digest, Flavour, atom_feed, digest_email, webhook_payload
from assistant.radar.service import RadarError


class Channel(ABC):
    """One way a topic's papers reach a reader."""

    kind: ClassVar[str]

    @abstractmethod
    def render(self, digest: Digest) -> Any:
        """The digest in this channel's format."""


class PushChannel(Channel):
    """A channel the radar sends digests to (`radar send`); what it was sent is recorded under `key`."""

    key: str

    @abstractmethod
    def send(self, digest: Digest) -> None:
        """Deliver the digest; a DeliveryError when it did not arrive (then nothing is recorded)."""


class AtomFeed(Channel):
    """A topic's Atom feed: the reader pulls it, so it is rendered on request and never sent."""

    kind = "atom"

    def __init__(self, self_url: str | None = None) -> None:
        self.self_url = self_url

    def render(self, digest: Digest) -> str:
        return atom_feed(digest.topic, [hit for hit, _ in digest.items], self.self_url)


class EmailDigest(PushChannel):
    """An e-mail digest (text + HTML, with the briefing when asked) to some recipients."""

    kind = "email"

    def __init__(self, settings: Settings, recipients: Sequence[str]) -> None:
        self.settings = settings
        self.recipients = check_recipients(recipients)
        self.key = mail_channel(self.recipients)

    def render(self, digest: Digest) -> EmailMessage:
        smtp = self.settings.delivery.smtp
        sender = smtp.sender or smtp.user
        if not sender:
            raise DeliveryError("set ACADEMICHUB_SMTP_SENDER (the From address of digests)")
        return digest_email(digest, sender, self.recipients)

    def send(self, digest: Digest) -> None:
        send_email(self.settings, self.render(digest))


class Webhook(PushChannel):
    """A post to a chat app's incoming webhook; the subclasses differ in the payload they write."""

    kind: ClassVar[Flavour]

    def __init__(self, settings: Settings, url: str) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise DeliveryError(f"the webhook {url!r} is not an http(s) URL")
        self.settings = settings
        self.url = url
        self.key = webhook_channel(url)

    def render(self, digest: Digest) -> dict[str, Any]:
        return webhook_payload(digest, self.kind)

    def send(self, digest: Digest) -> None:
        post_webhook(self.settings, self.url, self.render(digest))


class SlackWebhook(Webhook):
    kind = "slack"


class MattermostWebhook(Webhook):
    kind = "mattermost"


class DiscordWebhook(Webhook):
    kind = "discord"


WEBHOOKS: dict[Flavour, type[Webhook]] = {
    "slack": SlackWebhook,
    "mattermost": MattermostWebhook,
    "discord": DiscordWebhook,
}


def webhook_for(settings: Settings, url: str) -> Webhook:
    """The webhook channel for a URL, in the configured flavour (or the one its host speaks)."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError(f"the webhook {url!r} is not an http(s) URL")
    return WEBHOOKS[webhook_flavour(settings, url)](settings, url)


class DeliveryError(RadarError):
    """A digest could not be delivered (server down, login refused, bad address): nothing was marked."""


def webhook_flavour(settings: Settings, url: str) -> Flavour:
    if settings.delivery.webhook.format != "auto":
        return settings.delivery.webhook.format
    host = (urlsplit(url).hostname or "").lower()
    return "discord" if host.endswith(("discord.com", "discordapp.com")) else "slack"


def send_email(settings: Settings, message: EmailMessage) -> None:
    """Deliver through the configured SMTP server; any failure becomes a DeliveryError saying what to fix."""
    host, port = settings.delivery.smtp.host.strip(), settings.delivery.smtp.port
    if not host:
        raise DeliveryError(
            "e-mail is not set up: set ACADEMICHUB_SMTP_HOST "
            "(and _PORT, _SECURITY, _USER, _PASSWORD, _SENDER)"
        )
    where = f"the SMTP server {host}:{port}"
    try:
        smtp: smtplib.SMTP
        if settings.delivery.smtp.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                host,
                port,
                timeout=settings.delivery.smtp.timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=settings.delivery.smtp.timeout_seconds)
        with smtp:
            if settings.delivery.smtp.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.delivery.smtp.user:
                password = (
                    settings.delivery.smtp.password.get_secret_value()
                    if settings.delivery.smtp.password
                    else ""
                )
                smtp.login(settings.delivery.smtp.user, password)
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as err:
        raise DeliveryError(
            f"{where} refused the login for {settings.delivery.smtp.user!r} ({err.smtp_code}): "
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
        response = httpx.post(url, json=payload, timeout=settings.delivery.webhook.timeout_seconds)
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
