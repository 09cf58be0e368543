"""The Radar profile: topics owned per user, the text commands typed in Radar, feeds in batches, and the
confirmations before a topic is saved, removed or renamed."""

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import chainlit as cl

from assistant.core.i18n import plural, t
from assistant.core.settings import get_settings
from assistant.engine import engine
from assistant.radar import charts, delivery
from assistant.radar.service import FeedBatch, RadarError
from assistant.ui import chat_view as view
from assistant.ui.auth import owner_of
from assistant.ui.chat.ask import ask, topic_name, track_action
from assistant.ui.chat.session import prefs
from assistant.ui.chat.streaming import in_thread
from assistant.ui.plots import plotly_element

RADAR_LIST_COMMANDS = {
    "topics",
    "my topics",
    "show my topics",
    "list",
    "list topics",
    "我的主题",
    "显示我的主题",
}


# --- Radar -------------------------------------------------------------------------------------------
#
# Topics are per user when login is on (the radar keeps each topic's owner and acts for the session's user,
# see `me`); without login the app is single-user and says so. Text typed in Radar is a search over recent
# papers; a topic is saved only with the explicit "Save topic" button, after a confirmation.

TRACK_PREFIXES = (
    "track:",
    "track ",
    "save topic:",
    "save topic ",
    "follow topic:",
    "add topic:",
    "跟踪：",
    "跟踪:",
)
UNTRACK_PREFIXES = (
    "untrack:",
    "untrack ",
    "remove topic:",
    "remove topic ",
    "delete topic:",
    "unfollow topic:",
)


def me() -> str:
    """The radar owner this session acts for: the signed-in user's identifier, "" (the one shared user)
    without login. Every radar call of the app passes it."""
    return owner_of(cl.user_session.get("user"))


async def my_topics() -> list[Any]:
    """This user's topics (with login), or the topics saved without login (single-user mode)."""
    return await in_thread(engine().radar.list_topics, owner=me())


# A forged or stale action (another user's topic id, a removed topic) gets the answer a topic that does not
# exist gets: nothing tells whether the id is someone else's.
NO_SUCH_TOPIC = "There is no such topic among yours (type `show my topics` to list them)."


def topic_payload(name: str, **extra: str) -> dict[str, Any]:
    """An action's payload: the topic's opaque id only (never its name), checked again by `acting_topic`."""
    return {"topic_id": engine().radar.topic_id(name, owner=me()), **extra}


async def acting_topic(payload: dict[str, Any]) -> str:
    """The name of the topic an action names by id, when it is the session user's own topic.

    Chainlit hands the client-sent payload to the callbacks as it came (POST /project/action), so the radar
    looks the id up among the session user's topics only, whatever the page sent."""
    try:
        topic_id = int(payload.get("topic_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RadarError(NO_SUCH_TOPIC) from None
    name = await in_thread(engine().radar.topic_name, topic_id, owner=me())
    if name is None:
        raise RadarError(NO_SUCH_TOPIC)
    return name


def radar_scope_note(logged_in: bool | None = None) -> str:
    """Whose topics these are. `logged_in` None: ask the session (inside a chat)."""
    if logged_in if logged_in is not None else bool(me()):
        return t("radar.scope_own")
    return t("radar.scope_shared")


def topic_actions(name: str, authors: list[str]) -> list[cl.Action]:
    payload = topic_payload(name)
    actions = [
        cl.Action(name="radar_open", payload=payload, label=t("action.open_topic", name=name), icon="radar"),
        cl.Action(name="radar_rename", payload=payload, label=t("action.rename"), icon="pencil"),
        cl.Action(name="radar_remove", payload=payload, label=t("action.remove"), icon="trash-2"),
    ]
    actions += [
        cl.Action(
            name="radar_unfollow",
            payload={**payload, "author": a},
            label=t("action.unfollow", author=a),
            icon="user-minus",
        )
        for a in authors
    ]
    return actions


async def radar_topics() -> None:
    topics = await my_topics()
    if not topics:
        await cl.Message(
            content=f"{t('radar.no_topics')} {radar_scope_note()}",
            author="AcademicHub",
        ).send()
        return
    await cl.Message(
        content=f"{t('radar.your_topics', n=len(topics))} {radar_scope_note()}", author="AcademicHub"
    ).send()
    for topic in topics:
        extra = []
        if topic.fields:
            extra.append(t("radar.topic_fields", fields=", ".join(topic.fields)))
        if topic.authors:
            extra.append(t("radar.topic_following", authors=", ".join(topic.authors)))
        line = f"**{view.escape_md(topic.name)}**: {view.escape_md(topic.query)}" + (
            f" ({view.escape_md('; '.join(extra))})" if extra else ""
        )
        await cl.Message(
            content=line, actions=topic_actions(topic.name, topic.authors), author="Radar"
        ).send()


def strip_prefix(text: str, prefixes: tuple[str, ...]) -> str | None:
    lowered = text.lower()
    for prefix in prefixes:
        if lowered.startswith(prefix):
            return text[len(prefix) :].strip()
    return None


async def radar_message(text: str) -> None:
    command = text.strip()
    if command.lower() in RADAR_LIST_COMMANDS:
        await radar_topics()
        return
    renaming = cl.user_session.get("renaming")
    if renaming:  # the reply to "Type the new name for ..."
        cl.user_session.set("renaming", None)
        await rename(str(renaming), command)
        return
    tracked = strip_prefix(command, TRACK_PREFIXES)
    if tracked is not None:
        await confirm_track(tracked)
        return
    untracked = strip_prefix(command, UNTRACK_PREFIXES)
    if untracked is not None:
        await confirm_remove_by_name(untracked)
        return
    await recent_search(command)


async def confirm_track(query: str) -> None:
    """Saving a topic takes an explicit click: the message says what will happen and offers the button."""
    if not query:
        await cl.Message(content=t("radar.say_what")).send()
        return
    days = get_settings().radar.backfill_days
    existing = {t.name.lower(): t.name for t in await my_topics()}.get(topic_name(query).lower())
    if existing is not None:
        await cl.Message(
            content=t("radar.already", name=view.escape_md(existing)),
            author="AcademicHub",
        ).send()
        await radar_feed(existing, next_batch=False)
        return
    await cl.Message(
        content=f"{t('radar.confirm_save', name=view.escape_md(topic_name(query)), days=days)} "
        f"{radar_scope_note()}",
        actions=[
            cl.Action(
                name="radar_save", payload={"query": query}, label=t("action.save"), icon="bookmark-plus"
            ),
            cl.Action(name="radar_cancel", payload={}, label=t("action.cancel"), icon="x"),
        ],
        author="AcademicHub",
    ).send()


async def confirm_remove_by_name(name: str) -> None:
    topics = {t.name.lower(): t.name for t in await my_topics()}
    stored = topics.get(" ".join(name.split()).lower())
    if stored is None:
        await cl.Message(
            content=t("radar.no_such_topic", name=view.escape_md(name)),
            author="AcademicHub",
        ).send()
        return
    await confirm_remove(stored)


async def confirm_remove(stored: str) -> None:
    """Removing a topic takes a second, explicit click."""
    await cl.Message(
        content=t("radar.confirm_remove", name=view.escape_md(stored)),
        actions=[
            cl.Action(
                name="radar_remove_confirmed",
                payload=topic_payload(stored),
                label=t("action.remove"),
                icon="trash-2",
            ),
            cl.Action(
                name="radar_cancel",
                payload=topic_payload(stored, kept="yes"),
                label=t("action.keep"),
                icon="x",
            ),
        ],
        author="AcademicHub",
    ).send()


async def recent_search(question: str) -> None:
    """A question typed in Radar: answered over the recent papers (the last backfill days up to the newest
    listing day), never saved; a button offers to track it."""
    status = await in_thread(engine().status)
    current = prefs()
    if status.last_day:
        days = get_settings().radar.backfill_days
        recent = date.fromisoformat(status.last_day) - timedelta(days=days - 1)
        since = max(recent, current.since) if current.since else recent
        current = replace(current, since=since)
        await cl.Message(
            content=t("radar.searching_since", day=view.day_text(since)),
            author="AcademicHub",
        ).send()
    await ask(question, standalone=True, current=current, extra_actions=[track_action(question)])


async def radar_feed(name: str, *, next_batch: bool, author: str | None = None) -> None:
    batch: FeedBatch = await in_thread(
        engine().radar.feed, name, batch=prefs().k, next_batch=next_batch, author=author, owner=me()
    )
    status = await in_thread(engine().status)
    latest = date.fromisoformat(status.last_day) if status.last_day else None
    shown = len(batch.items)
    first = batch.window_total - batch.remaining - shown + 1  # numbering continues across batches
    head = view.radar_head_markdown(
        batch.topic.name, latest, first, shown, batch.window_total, batch.remaining, batch.author
    )
    if batch.message:
        head += f"\n\n{view.escape_md(batch.message)}"
    payload = topic_payload(name, author=author or "")
    actions = []
    if not batch.exhausted:
        actions.append(
            cl.Action(name="radar_next", payload=payload, label=t("action.another_batch"), icon="refresh-cw")
        )
    if batch.window_total:
        actions.append(
            cl.Action(name="radar_brief", payload=payload, label=t("action.brief_new"), icon="newspaper")
        )
    chart: list[Any] = []
    if not next_batch:  # how many matching papers each day brought, once per visit
        # The topic's Atom feed for a feed reader: the only link here, built from the topic's secret token.
        token = await in_thread(delivery.feed_token, engine().radar, name, owner=me())
        head += f" · [{t('radar.atom_feed')}]({delivery.feed_path(token)})"
        counts = await in_thread(charts.daily_counts, engine().radar, name, owner=me())
        if counts.days:
            figure = charts.radar_figure(counts)
            chart = [plotly_element(t("radar.chart"), figure)]
    await cl.Message(content=head, elements=chart, author="AcademicHub").send()
    # Within a batch: papers by followed authors first (asked for by name), then by match.
    ordered = sorted(batch.items, key=lambda hit: (hit.paper.id not in batch.followed, -hit.relevance))
    for position, hit in enumerate(ordered, start=first):
        card = view.paper_card_markdown(hit.paper, position, hit.relevance, hit.also)
        followed = batch.followed.get(hit.paper.id)
        if followed:
            card += f"\n\n*{t('radar.by_followed', author=view.escape_md(followed))}*"
        card_actions = [
            cl.Action(
                name="radar_follow",
                payload={**payload, "author": a},
                label=t("action.follow", author=a),
                icon="user-plus",
            )
            for a in hit.paper.authors[:2]
            if a not in batch.topic.authors
        ]
        await cl.Message(content=card, actions=card_actions, author="Radar").send()
    if shown:
        await cl.Message(
            content=t("radar.shown", papers=plural(shown, "count.paper")),
            actions=actions,
            author="AcademicHub",
        ).send()
    elif actions:
        await cl.Message(content=t("radar.nothing_more"), actions=actions, author="AcademicHub").send()


async def rename(stored: str, new_name: str) -> None:
    new_name = " ".join(new_name.split())
    if not new_name or new_name.lower() in ("cancel", "取消"):
        await cl.Message(content=t("radar.not_renamed"), author="AcademicHub").send()
        return
    topic = await in_thread(engine().radar.rename_topic, stored, new_name, owner=me())
    await cl.Message(
        content=t("radar.renamed", name=view.escape_md(topic.name)),
        actions=topic_actions(topic.name, topic.authors),
        author="AcademicHub",
    ).send()
