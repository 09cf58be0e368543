"""The Radar profile: topics owned per user, the text commands typed in Radar, feeds in batches, and the
confirmations before a topic is saved, removed or renamed."""

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import chainlit as cl

from assistant.core.settings import get_settings
from assistant.engine import engine
from assistant.radar import charts, delivery
from assistant.radar.service import FeedBatch
from assistant.ui import chat_view as view
from assistant.ui.chat.ask import ask, topic_name, track_action
from assistant.ui.chat.session import prefs
from assistant.ui.chat.streaming import in_thread

RADAR_LIST_COMMANDS = {"topics", "my topics", "show my topics", "list", "list topics"}


# --- Radar -------------------------------------------------------------------------------------------
#
# Topics are per user when login is on (stored under the user's name, see `owned`); without login the app
# is single-user and says so. Text typed in Radar is a search over recent papers; a topic is saved only
# with the explicit "Save topic" button, after a confirmation.

TRACK_PREFIXES = ("track:", "track ", "save topic:", "save topic ", "follow topic:", "add topic:")
UNTRACK_PREFIXES = (
    "untrack:",
    "untrack ",
    "remove topic:",
    "remove topic ",
    "delete topic:",
    "unfollow topic:",
)


def owner_prefix() -> str:
    """Where this user's topics live in the radar: "@alice/" with login, "" (the one shared user) without."""
    user = cl.user_session.get("user")
    identifier = getattr(user, "identifier", None) if user is not None else None
    return f"@{identifier}/" if identifier else ""


def owned(name: str) -> str:
    """The stored name of this user's topic `name`."""
    return owner_prefix() + name


def shown_name(stored: str) -> str:
    prefix = owner_prefix()
    return stored[len(prefix) :] if prefix and stored.startswith(prefix) else stored


async def my_topics() -> list[Any]:
    """This user's topics (with login), or the topics saved without login (single-user mode)."""
    prefix = owner_prefix()
    topics = await in_thread(engine().radar.list_topics)
    if prefix:
        return [t for t in topics if t.name.startswith(prefix)]
    return [t for t in topics if not t.name.startswith("@")]


def radar_scope_note(logged_in: bool | None = None) -> str:
    """Whose topics these are. `logged_in` None: ask the session (inside a chat)."""
    if logged_in if logged_in is not None else bool(owner_prefix()):
        return "Your topics are yours: other users of this app do not see them."
    return (
        "No login: this app is single-user, so everyone who opens it shares these topics "
        "(turn on login for per-user topics, see the Readme)."
    )


def topic_actions(stored: str, authors: list[str]) -> list[cl.Action]:
    name = shown_name(stored)
    payload = {"topic": stored}
    actions = [
        cl.Action(name="radar_open", payload=payload, label=f"Open “{name}”", icon="radar"),
        cl.Action(name="radar_rename", payload=payload, label="Rename", icon="pencil"),
        cl.Action(name="radar_remove", payload=payload, label="Remove", icon="trash-2"),
    ]
    actions += [
        cl.Action(
            name="radar_unfollow",
            payload={"topic": stored, "author": a},
            label=f"Unfollow {a}",
            icon="user-minus",
        )
        for a in authors
    ]
    return actions


async def radar_topics() -> None:
    topics = await my_topics()
    if not topics:
        await cl.Message(
            content="You have no saved topics yet. Type what you follow, e.g. `track: graph neural networks "
            f"for molecules`, and confirm with *Save topic*. {radar_scope_note()}",
            author="AcademicHub",
        ).send()
        return
    await cl.Message(
        content=f"**Your topics** ({len(topics)}). {radar_scope_note()}", author="AcademicHub"
    ).send()
    for t in topics:
        extra = []
        if t.fields:
            extra.append("fields " + ", ".join(t.fields))
        if t.authors:
            extra.append("following " + ", ".join(t.authors))
        line = f"**{view.escape_md(shown_name(t.name))}**: {view.escape_md(t.query)}" + (
            f" ({view.escape_md('; '.join(extra))})" if extra else ""
        )
        await cl.Message(content=line, actions=topic_actions(t.name, t.authors), author="Radar").send()


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
        await cl.Message(content="Say what to track, e.g. `track: diffusion models`.").send()
        return
    days = get_settings().radar.backfill_days
    existing = {t.name.lower(): t.name for t in await my_topics()}.get(owned(topic_name(query)).lower())
    if existing is not None:
        await cl.Message(
            content=f"You already track **{view.escape_md(shown_name(existing))}**: here are its papers.",
            author="AcademicHub",
        ).send()
        await radar_feed(existing, next_batch=False)
        return
    await cl.Message(
        content=f"Save **{view.escape_md(topic_name(query))}** as a radar topic? It starts with the matching "
        f"papers of the last {days} listing days, then shows what each ingest adds. {radar_scope_note()}",
        actions=[
            cl.Action(name="radar_save", payload={"query": query}, label="Save topic", icon="bookmark-plus"),
            cl.Action(name="radar_cancel", payload={}, label="Cancel", icon="x"),
        ],
        author="AcademicHub",
    ).send()


async def confirm_remove_by_name(name: str) -> None:
    topics = {shown_name(t.name).lower(): t.name for t in await my_topics()}
    stored = topics.get(" ".join(name.split()).lower())
    if stored is None:
        await cl.Message(
            content=f"You have no topic named **{view.escape_md(name)}**: type `show my topics`.",
            author="AcademicHub",
        ).send()
        return
    await confirm_remove(stored)


async def confirm_remove(stored: str) -> None:
    """Removing a topic takes a second, explicit click."""
    name = view.escape_md(shown_name(stored))
    await cl.Message(
        content=f"Remove the topic **{name}** and what it has shown you?",
        actions=[
            cl.Action(
                name="radar_remove_confirmed", payload={"topic": stored}, label="Remove", icon="trash-2"
            ),
            cl.Action(name="radar_cancel", payload={"kept": stored}, label="Keep it", icon="x"),
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
            content=f"Searching the papers listed since {view.day_text(since)} (recent papers; not saved as "
            "a topic).",
            author="AcademicHub",
        ).send()
    await ask(question, standalone=True, current=current, extra_actions=[track_action(question)])


async def radar_feed(name: str, *, next_batch: bool, author: str | None = None) -> None:
    batch: FeedBatch = await in_thread(
        engine().radar.feed, name, batch=prefs().k, next_batch=next_batch, author=author
    )
    status = await in_thread(engine().status)
    latest = date.fromisoformat(status.last_day) if status.last_day else None
    shown = len(batch.items)
    first = batch.window_total - batch.remaining - shown + 1  # numbering continues across batches
    head = view.radar_head_markdown(
        shown_name(batch.topic.name), latest, first, shown, batch.window_total, batch.remaining, batch.author
    )
    if batch.message:
        head += f"\n\n{view.escape_md(shown_name_in(batch.message, batch.topic.name))}"
    payload = {"topic": name, "author": author or ""}
    actions = []
    if not batch.exhausted:
        actions.append(
            cl.Action(name="radar_next", payload=payload, label="Show another batch", icon="refresh-cw")
        )
    if batch.window_total:
        actions.append(
            cl.Action(
                name="radar_brief", payload=payload, label="Brief me on these new papers", icon="newspaper"
            )
        )
    chart: list[Any] = []
    if not next_batch:  # how many matching papers each day brought, once per visit
        # The topic's Atom feed for a feed reader: the only link here, built from the topic's secret token.
        token = await in_thread(delivery.feed_token, engine().radar, name)
        head += f" · [Atom feed]({delivery.feed_path(token)})"
        counts = await in_thread(charts.daily_counts, engine().radar, name)
        if counts.days:
            figure = charts.radar_figure(counts)
            chart = [cl.Plotly(name="Radar chart", figure=figure, display="inline", size="large")]
    await cl.Message(content=head, elements=chart, author="AcademicHub").send()
    # Within a batch: papers by followed authors first (asked for by name), then by match.
    ordered = sorted(batch.items, key=lambda hit: (hit.paper.id not in batch.followed, -hit.relevance))
    for position, hit in enumerate(ordered, start=first):
        card = view.paper_card_markdown(hit.paper, position, hit.relevance, hit.also)
        followed = batch.followed.get(hit.paper.id)
        if followed:
            card += f"\n\n*by followed author {view.escape_md(followed)}*"
        card_actions = [
            cl.Action(
                name="radar_follow",
                payload={"topic": name, "author": a},
                label=f"Follow {a}",
                icon="user-plus",
            )
            for a in hit.paper.authors[:2]
            if a not in batch.topic.authors
        ]
        await cl.Message(content=card, actions=card_actions, author="Radar").send()
    if shown:
        await cl.Message(
            content=f"{view.plural(shown, 'paper')} shown.", actions=actions, author="AcademicHub"
        ).send()
    elif actions:
        await cl.Message(content="Nothing more to show now.", actions=actions, author="AcademicHub").send()


def shown_name_in(message: str, stored: str) -> str:
    """A radar message names the topic by its stored name: show the user's name for it."""
    return message.replace(repr(stored), repr(shown_name(stored)))


async def rename(stored: str, new_name: str) -> None:
    new_name = " ".join(new_name.split())
    if not new_name or new_name.lower() == "cancel":
        await cl.Message(content="Not renamed.", author="AcademicHub").send()
        return
    topic = await in_thread(engine().radar.rename_topic, stored, owned(new_name))
    await cl.Message(
        content=f"Renamed to **{view.escape_md(shown_name(topic.name))}**.",
        actions=topic_actions(topic.name, topic.authors),
        author="AcademicHub",
    ).send()
