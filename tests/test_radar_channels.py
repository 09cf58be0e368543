"""The radar's delivery channels share one interface: each renders a digest in its reader's format, and the
push channels name the key their deliveries are recorded under."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from conftest import make_settings

from assistant.core.paper import Paper
from assistant.radar.channels import (
    AtomFeed,
    DeliveryError,
    DiscordWebhook,
    EmailDigest,
    MattermostWebhook,
    SlackWebhook,
    webhook_for,
)
from assistant.radar.render import Digest
from assistant.radar.store import Topic
from assistant.search.hit import Hit

HOSTILE = "See https://evil.example/x and [click](//evil.example/y) <b>now</b>"


def _digest() -> Digest:
    paper = Paper(
        id="2606.04730",
        title=HOSTILE,
        abstract="We study sparse attention. " + HOSTILE,
        authors=["Ada Lovelace"],
        categories=["cs.LG"],
        published=date(2026, 6, 3),
    )
    return Digest(
        Topic("sparse attention", "sparse attention", [], [], 0.0, None), [(Hit(paper, 1.0, 0.8), None)], None
    )


def test_every_channel_renders_one_digest_with_only_id_links(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, delivery={"smtp": {"sender": "radar@lab.test"}})
    url = "https://hooks.lab.test/x"
    rendered = {
        "atom": AtomFeed("https://hub.lab.test/radar/feeds/t.atom").render(_digest()),
        "email": EmailDigest(settings, ["team@lab.test"]).render(_digest()),
        "slack": SlackWebhook(settings, url).render(_digest())["text"],
        "mattermost": MattermostWebhook(settings, url).render(_digest())["text"],
        "discord": DiscordWebhook(settings, url).render(_digest())["content"],
    }
    assert ET.fromstring(rendered["atom"].split("\n", 1)[1]).tag.endswith("feed")
    message = rendered["email"]
    assert isinstance(message, EmailMessage) and message["To"] == "team@lab.test"
    bodies = [part.get_content() for part in message.iter_parts()]
    for text in [rendered["atom"], *bodies, rendered["slack"], rendered["mattermost"], rendered["discord"]]:
        assert "https://arxiv.org/abs/2606.04730" in text  # the paper's own link
        assert "evil.example" not in text and "https://evil" not in text  # the paper's text links nothing


def test_a_webhook_channel_is_chosen_by_its_host_or_the_setting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert isinstance(webhook_for(settings, "https://discord.com/api/webhooks/1/x"), DiscordWebhook)
    assert isinstance(webhook_for(settings, "https://hooks.slack.com/services/x"), SlackWebhook)
    chosen = webhook_for(
        settings.replace(delivery={"webhook": {"format": "mattermost"}}), "https://mm.lab.test/h"
    )
    assert isinstance(chosen, MattermostWebhook)
    with pytest.raises(DeliveryError, match="not an http"):
        webhook_for(settings, "file:///etc/passwd")


def test_the_same_recipients_are_one_channel_whatever_their_order_or_case(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    one = EmailDigest(settings, ["Team@Lab.test", "ada@lab.test"])
    other = EmailDigest(settings, ["ada@lab.test", "team@lab.test"])
    assert one.key == other.key == "mailto:ada@lab.test,team@lab.test"
    with pytest.raises(DeliveryError, match="not an e-mail address"):
        EmailDigest(settings, ["team at lab"])


def test_an_email_digest_without_a_sender_says_which_setting_is_missing(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match="ACADEMICHUB_SMTP_SENDER"):
        EmailDigest(make_settings(tmp_path), ["team@lab.test"]).send(_digest())
