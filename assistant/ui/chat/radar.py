"""The Radar profile: topics owned per user, the text commands typed in Radar, feeds in batches, and the
confirmations before a topic is saved, removed or renamed."""

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import chainlit as cl

from assistant.compose.lists import ListedPaper
from assistant.core.i18n import plural, t
from assistant.core.settings import get_settings
from assistant.core.text import fold
from assistant.engine import engine
from assistant.radar import charts, delivery
from assistant.radar.service import FeedBatch, RadarError
from assistant.ui import chat_view as view
from assistant.ui import list_view
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
    # The button offers the question's topic ("diffusion models"), not its wording ("what's new on ...").
    track = track_action(view.track_topic(question))
    await ask(question, standalone=True, current=current, extra_actions=[track])


async def radar_feed(name: str, *, next_batch: bool, author: str | None = None) -> None:
    """A batch of the topic's new papers: a head (where in the visit, the chart once a visit, the Atom feed),
    then one message with the batch as a sortable list. With nothing left to show, the head offers the
    week's papers again (and nothing to brief on: the briefing is offered beside a list of papers)."""
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
    chart: list[Any] = []
    if not next_batch:  # how many matching papers each day brought, once per visit
        # The topic's Atom feed for a feed reader: the only link here, built from the topic's secret token.
        token = await in_thread(delivery.feed_token, engine().radar, name, owner=me())
        head += f" · [{t('radar.atom_feed')}]({delivery.feed_path(token)})"
        counts = await in_thread(charts.daily_counts, engine().radar, name, owner=me())
        if counts.days:
            figure = charts.radar_figure(counts)
            chart = [plotly_element(t("radar.chart"), figure)]
    if not shown:  # everything new was shown (or nothing came): the week again, never an empty message
        week = await week_papers(name) if batch.window_total else []
        again = [show_week_action(name, len(week))] if week else []
        await cl.Message(content=head, elements=chart, actions=again, author="AcademicHub").send()
        return
    await cl.Message(content=head, elements=chart, author="AcademicHub").send()
    week = await week_papers(name)
    ranks = {item.paper.id: item.rank for item in week}
    listed = RadarList(
        topic_id=int(payload["topic_id"]),
        heading=t(
            "radar.list_new", topic=view.escape_md(batch.topic.name), papers=plural(shown, "count.paper")
        ),
        items=list_view.radar_listed(batch.items, ranks, batch.followed),
    )
    actions = []
    if not batch.exhausted:
        actions.append(
            cl.Action(name="radar_next", payload=payload, label=t("action.another_batch"), icon="refresh-cw")
        )
    actions.append(
        cl.Action(name="radar_brief", payload=payload, label=t("action.brief_new"), icon="newspaper")
    )
    await send_radar_list(listed, batch.topic.name, week, actions)


# --- a radar list: one message, sortable, exported, saved to the library ------------------------------


@dataclass
class RadarList:
    """A radar list shown in this session (a batch, or the week's papers again): what its buttons act on."""

    topic_id: int
    heading: str  # our own Markdown (the topic name escaped)
    items: list[ListedPaper]  # every paper the list holds, numbered by their place in the week's feed
    sort: str = "match"
    page: int = 0
    message: cl.Message | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def shown(self) -> list[ListedPaper]:
        """The papers on the message: its page of the list in its order."""
        return list_view.page_of(list_view.sorted_papers(self.items, self.sort), self.page)[0]

    def markdown(self) -> str:
        return list_view.radar_list_markdown(self.heading, self.items, self.sort, self.page)


def remember_list(listed: RadarList) -> None:
    lists: dict[str, RadarList] = cl.user_session.get("radar_lists") or {}
    lists[listed.id] = listed
    cl.user_session.set("radar_lists", lists)


async def recalled_list(payload: dict[str, Any]) -> RadarList | None:
    """The radar list an action names (by its id in this session), or None after saying it is gone."""
    lists: dict[str, RadarList] = cl.user_session.get("radar_lists") or {}
    listed = lists.get(str(payload.get("list", "")))
    if listed is None:
        await cl.Message(content=t("app.result_gone")).send()
    return listed


async def week_papers(name: str) -> list[ListedPaper]:
    """The topic's week: every paper of its current visit's feed, seen or not, numbered in feed order."""
    _, entries, _ = await in_thread(engine().radar.window_items, name, owner=me())
    ranks = {hit.paper.id: rank for rank, (hit, _) in enumerate(entries, start=1)}
    followed = {hit.paper.id: author for hit, author in entries if author}
    return list_view.radar_listed([hit for hit, _ in entries], ranks, followed)


def show_week_action(name: str, total: int) -> cl.Action:
    return cl.Action(
        name="radar_week",
        payload=topic_payload(name),
        label=t("action.show_week_again", papers=plural(total, "count.paper")),
        icon="list",
    )


def week_export_element(topic: str, week: list[ListedPaper]) -> cl.CustomElement:
    """The "Export all" downloads: the week's papers as Markdown, BibTeX and CSV, one click each
    (public/elements/AcademicHubExport.jsx)."""
    files = [
        {
            "name": f.name,
            "mime": f.mime,
            "content": f.content,
            "label": t(list_view.WEEK_EXPORT_LABELS[f.mime]),
        }
        for f in list_view.week_export_files(topic, week)
    ]
    return cl.CustomElement(name="AcademicHubExport", display="inline", props={"files": files})


def list_actions(listed: RadarList) -> list[cl.Action]:
    """A radar list's own buttons: the three sorts, its papers to the topic's library, follow an author."""
    payload = {"list": listed.id}
    actions = [
        cl.Action(
            name="radar_sort",
            payload={**payload, "sort": sort},
            label=t(f"action.sort.{sort}"),
            icon="arrow-down-wide-narrow",
        )
        for sort in list_view.SORTS
    ]
    actions.append(
        cl.Action(
            name="radar_library",
            payload=payload,
            label=t("action.add_to_library", papers=plural(len(listed.shown()), "count.paper")),
            icon="library",
        )
    )
    actions.append(
        cl.Action(name="radar_authors", payload=payload, label=t("action.follow_authors"), icon="user-plus")
    )
    return actions


async def send_radar_list(
    listed: RadarList, topic: str, week: list[ListedPaper], extra: list[cl.Action]
) -> None:
    """Send a radar list as one message, with its buttons, `extra` ones (another batch, the briefing, the
    next page) and the week's downloads."""
    listed.message = cl.Message(
        content=listed.markdown(),
        actions=list_actions(listed) + extra,
        elements=[week_export_element(topic, week)],
        author="Radar",
    )
    remember_list(listed)
    await listed.message.send()


async def show_week(name: str, page: int = 0, sort: str = "match") -> None:
    """The topic's week again (what "Show this week again" lists): a page of every paper of the visit."""
    week = await week_papers(name)
    payload = topic_payload(name)
    page = min(page, list_view.page_count(len(week)) - 1)  # the page a client sent, kept within the week
    listed = RadarList(
        topic_id=int(payload["topic_id"]),
        heading=t("radar.list_week", topic=view.escape_md(name), papers=plural(len(week), "count.paper")),
        items=week,
        sort=sort,
        page=page,
    )
    extra = []
    if page + 1 < list_view.page_count(len(week)):
        extra.append(
            cl.Action(
                name="radar_week",
                payload={**payload, "page": page + 1, "sort": sort},
                label=list_view.next_label(len(week), page),
                icon="chevron-right",
            )
        )
    if week and page == 0:
        extra.append(
            cl.Action(name="radar_brief", payload=payload, label=t("action.brief_new"), icon="newspaper")
        )
    await send_radar_list(listed, name, week, extra)


async def sort_list(payload: dict[str, Any]) -> None:
    """Re-render a radar list in place in the order asked (its buttons stay)."""
    listed = await recalled_list(payload)
    if listed is None or listed.message is None:
        return
    listed.sort = list_view.sort_name(payload.get("sort"))
    listed.message.content = listed.markdown()
    await listed.message.update()


async def topic_of(listed: RadarList) -> str:
    """The name of the list's topic now (renamed since, still the same topic); RadarError once removed."""
    return await acting_topic({"topic_id": listed.topic_id})


async def save_to_library(payload: dict[str, Any]) -> bool:
    """Add the list's shown papers to its topic's library; False when the list is gone."""
    listed = await recalled_list(payload)
    if listed is None:
        return False
    name = await topic_of(listed)
    ids = [item.paper.id for item in listed.shown()]
    added = await in_thread(engine().radar.save_to_library, name, ids, owner=me())
    text = (
        t("radar.library_added", papers=plural(added, "count.paper"), name=view.escape_md(name))
        if added
        else t("radar.library_had", name=view.escape_md(name))
    )
    await cl.Message(content=text, author="AcademicHub").send()
    return True


MAX_FOLLOW_BUTTONS = 12


async def offer_follows(payload: dict[str, Any]) -> None:
    """Who to follow among the list's shown papers: the first two authors of each, once, not yet followed."""
    listed = await recalled_list(payload)
    if listed is None:
        return
    name = await topic_of(listed)
    topic = await in_thread(engine().radar.get_topic, name, owner=me())
    followed = {fold(author) for author in topic.authors}  # as the radar compares authors
    authors = list(
        dict.fromkeys(a for item in listed.shown() for a in item.paper.authors[:2] if fold(a) not in followed)
    )[:MAX_FOLLOW_BUTTONS]
    if not authors:
        await cl.Message(
            content=t("radar.follow_none", name=view.escape_md(name)), author="AcademicHub"
        ).send()
        return
    follow = topic_payload(name)
    await cl.Message(
        content=t("radar.follow_which", name=view.escape_md(name)),
        actions=[
            cl.Action(
                name="radar_follow",
                payload={**follow, "author": a},
                label=t("action.follow", author=a),
                icon="user-plus",
            )
            for a in authors
        ],
        author="AcademicHub",
    ).send()


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
