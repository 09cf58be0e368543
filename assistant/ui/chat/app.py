"""The Chainlit chat app: a thin shell over `Answerer`, `Briefer` and `Radar`.

Start it with `academichub serve`. Profiles: Ask (cited Q&A with follow-ups), Briefing (topic -> cited
cross-field briefing) and Radar (saved topics, new papers in batches, daily briefing). What is shown is
built by `assistant.ui.chat_view` (pure, unit-tested). This file is the entry Chainlit runs: it holds only
the decorated callbacks; the handlers live in the sibling modules (streaming, session, ask, briefing, radar).

Engine calls block (model, SQLite, Chroma, LLM), so they run in worker threads; tokens streamed by the
engine hop back to the event loop through an asyncio queue.
"""

# No `from __future__ import annotations`: Chainlit executes this file without registering it in
# sys.modules, and dataclasses cannot resolve string annotations of such a module.
from typing import Any

import chainlit as cl
from chainlit.types import ThreadDict

from assistant.compose.briefing_model import Briefing
from assistant.core.i18n import reply_in, t
from assistant.core.language import reply_language
from assistant.core.settings import get_settings
from assistant.engine import IndexStatus, engine
from assistant.ui import chat_view as view
from assistant.ui import list_view
from assistant.ui.auth import check_password, parse_auth_users
from assistant.ui.chat.ask import ask, show_list_page, topic_name
from assistant.ui.chat.briefing import brief, show_briefing
from assistant.ui.chat.radar import (
    acting_topic,
    confirm_remove,
    confirm_track,
    me,
    offer_follows,
    radar_feed,
    radar_message,
    radar_scope_note,
    save_to_library,
    show_week,
    sort_list,
)
from assistant.ui.chat.session import (
    ASK,
    BRIEFING,
    HISTORY_TURNS,
    RADAR,
    mode_banner,
    plural_k,
    prefs,
    profile,
    recalled,
    send_settings,
    show_filters,
    starters_for,
    tell,
)
from assistant.ui.chat.streaming import in_thread, log, reports_errors, send_error, streamed, ui_lang
from assistant.ui.chat_history import prepare_history
from assistant.ui.feed_routes import add_feed_routes
from assistant.ui.offline_page import serve_offline_page

serve_offline_page()  # no Google Fonts / KaTeX CDN requests from the page


@cl.set_chat_profiles
async def chat_profiles(
    current_user: cl.User | None = None, language: str | None = None
) -> list[cl.ChatProfile]:
    """The three profiles, described in the page's language (Chainlit passes the browser's)."""
    with reply_in(ui_lang(language or "en")):
        return await described_profiles(current_user)


async def described_profiles(current_user: cl.User | None) -> list[cl.ChatProfile]:
    settings = get_settings()
    try:
        status: IndexStatus | None = await in_thread(engine().status)
    except Exception:  # the banner must not break the page; the first question reports the problem
        status = None
    banner = mode_banner(settings, status)
    try:
        topics = await in_thread(engine().starter_topics)
    except Exception:
        topics = []
    return [
        cl.ChatProfile(
            name=ASK,
            display_name=t("profile.name.ask"),
            icon="/public/ask.svg",
            default=True,
            markdown_description=f"{t('profile.ask')} {banner}",
            starters=starters_for(ASK, topics),
        ),
        cl.ChatProfile(
            name=BRIEFING,
            display_name=t("profile.name.briefing"),
            icon="/public/briefing.svg",
            markdown_description=f"{t('profile.briefing')} {banner}",
            starters=starters_for(BRIEFING, topics),
        ),
        cl.ChatProfile(
            name=RADAR,
            display_name=t("profile.name.radar"),
            icon="/public/radar.svg",
            markdown_description=(
                f"{t('profile.radar')} {radar_scope_note(logged_in=current_user is not None)} {banner}"
            ),
            starters=starters_for(RADAR, topics),
        ),
    ]


@cl.on_chat_start
@reports_errors
async def on_chat_start() -> None:
    cl.user_session.set("prefs", view.ChatPrefs(k=get_settings().fusion.default_k))
    cl.user_session.set("history", [])
    cl.user_session.set("results", {})
    await send_settings(profile())
    warning = await in_thread(engine().model_warning)
    if warning:
        await cl.Message(content=view.model_warning_markdown(warning), author="AcademicHub").send()


@cl.on_settings_update
@reports_errors
async def on_settings_update(values: dict[str, Any]) -> None:
    settings = get_settings()
    known = cl.user_session.get("known_fields") or []
    current = prefs()
    try:
        new = view.prefs_from_settings(values, known, settings.fusion.default_k, settings.llm.configured)
    except view.SettingsError as err:
        # Nothing of the change is applied; say so, and what is still in force. The page's form keeps
        # what was typed ("June 1st") as if it applied: sent again, it shows the values in force.
        kept = view.settings_in_force(current)
        await tell(t("settings.not_applied", error=err, kept=kept, k=plural_k(current)), error=True)
        await send_settings(profile())
        return
    cl.user_session.set("prefs", new)
    await show_filters()
    chips = view.filter_chips(new) or t("settings.no_filters_all")
    await tell(t("settings.applied", chips=chips, k=plural_k(new)))


# --- message entry point and actions ---------------------------------------------------------------


@cl.on_message
@reports_errors
async def on_message(message: cl.Message) -> None:
    cl.user_session.set("chatted", True)
    text = (message.content or "").strip()
    if profile() == BRIEFING:
        await brief(text)
    elif profile() == RADAR:
        await radar_message(text)
    else:
        await ask(text)


@cl.action_callback("another_batch")
@reports_errors
async def on_another_batch(action: cl.Action) -> None:
    result = await recalled(action)
    if result is None:
        return
    if result.kind == "briefing":
        await brief(result.query, exclude=result.shown_ids)
    else:
        await ask(result.query, exclude=result.shown_ids, standalone=True)


@cl.action_callback("show_all")
@reports_errors
async def on_show_all(action: cl.Action) -> None:
    """A page of a list answer's full list, with the next page one click further."""
    result = await recalled(action)
    if result is None or not result.matches:
        return
    with reply_in(reply_language(result.query, ui_lang())):  # the list in its answer's language
        await show_list_page(result, list_view.page_number(action.payload.get("page")))


@cl.action_callback("brief_on_this")
@reports_errors
async def on_brief_on_this(action: cl.Action) -> None:
    result = await recalled(action)
    if result is not None:  # a list answer's topic ("diffusion models"), not the question's wording
        await brief(result.list_topic or result.query)


@cl.action_callback("radar_open")
@reports_errors
async def on_radar_open(action: cl.Action) -> None:
    await radar_feed(await acting_topic(action.payload), next_batch=False)


@cl.action_callback("radar_track")
@reports_errors
async def on_radar_track(action: cl.Action) -> None:
    await confirm_track(str(action.payload["query"]))


@cl.action_callback("radar_save")
@reports_errors
async def on_radar_save(action: cl.Action) -> None:
    query = str(action.payload["query"])
    await action.remove()  # one save per confirmation
    topic = await in_thread(
        engine().radar.add_topic, topic_name(query), query, list(prefs().fields), owner=me()
    )
    days = get_settings().radar.backfill_days
    await cl.Message(
        content=t("radar.saved", name=view.escape_md(topic.name), days=days),
        author="AcademicHub",
    ).send()
    await radar_feed(topic.name, next_batch=False)


@cl.action_callback("radar_cancel")
@reports_errors
async def on_radar_cancel(action: cl.Action) -> None:
    await action.remove()
    kept = await acting_topic(action.payload) if action.payload.get("kept") else None
    text = t("radar.kept", name=view.escape_md(kept)) if kept else t("radar.not_saved")
    await cl.Message(content=text, author="AcademicHub").send()


@cl.action_callback("radar_remove")
@reports_errors
async def on_radar_remove(action: cl.Action) -> None:
    await confirm_remove(await acting_topic(action.payload))


@cl.action_callback("radar_remove_confirmed")
@reports_errors
async def on_radar_remove_confirmed(action: cl.Action) -> None:
    stored = await acting_topic(action.payload)
    await action.remove()
    await in_thread(engine().radar.remove_topic, stored, owner=me())
    await cl.Message(content=t("radar.removed", name=view.escape_md(stored)), author="AcademicHub").send()


@cl.action_callback("radar_rename")
@reports_errors
async def on_radar_rename(action: cl.Action) -> None:
    stored = await acting_topic(action.payload)
    cl.user_session.set("renaming", stored)
    await cl.Message(
        content=t("radar.new_name", name=view.escape_md(stored)),
        author="AcademicHub",
    ).send()


@cl.action_callback("radar_unfollow")
@reports_errors
async def on_radar_unfollow(action: cl.Action) -> None:
    stored, author = await acting_topic(action.payload), str(action.payload["author"])
    topic = await in_thread(engine().radar.unfollow_author, stored, author, owner=me())
    await action.remove()
    await cl.Message(
        content=t("radar.unfollowed", author=view.escape_md(author), name=view.escape_md(topic.name)),
        author="AcademicHub",
    ).send()


@cl.action_callback("radar_next")
@reports_errors
async def on_radar_next(action: cl.Action) -> None:
    topic, author = await acting_topic(action.payload), action.payload.get("author") or None
    await radar_feed(topic, next_batch=True, author=author)


@cl.action_callback("radar_follow")
@reports_errors
async def on_radar_follow(action: cl.Action) -> None:
    name, author = await acting_topic(action.payload), str(action.payload["author"])
    topic = await in_thread(engine().radar.follow_author, name, author, owner=me())
    await cl.Message(
        content=t("radar.followed", author=view.escape_md(author), name=view.escape_md(topic.name)),
        author="AcademicHub",
    ).send()


@cl.action_callback("radar_brief")
@reports_errors
async def on_radar_brief(action: cl.Action) -> None:
    name = await acting_topic(action.payload)
    msg = cl.Message(content="", author="AcademicHub")
    use_llm, owner = prefs().use_llm, me()
    briefing: Briefing = await streamed(
        msg,
        lambda on_token, _sources: engine().radar.brief(
            name, use_llm=use_llm, on_token=on_token, owner=owner
        ),
    )
    await show_briefing(
        msg, None, briefing, t("radar.new_papers_topic", name=name), None, kind="radar_briefing"
    )


@cl.action_callback("radar_week")
@reports_errors
async def on_radar_week(action: cl.Action) -> None:
    """The topic's week again (every paper of the visit, seen or not), or its next page."""
    name = await acting_topic(action.payload)
    page, sort = (
        list_view.page_number(action.payload.get("page")),
        list_view.sort_name(action.payload.get("sort")),
    )
    await show_week(name, page, sort)


@cl.action_callback("radar_sort")
@reports_errors
async def on_radar_sort(action: cl.Action) -> None:
    await sort_list(action.payload)


@cl.action_callback("radar_library")
@reports_errors
async def on_radar_library(action: cl.Action) -> None:
    if await save_to_library(action.payload):
        await action.remove()  # saved once: the button has done its work


@cl.action_callback("radar_authors")
@reports_errors
async def on_radar_authors(action: cl.Action) -> None:
    await offer_follows(action.payload)


# --- start-up, login, history ----------------------------------------------------------------------


@cl.on_app_startup
async def warm_up() -> None:
    """Load the model and open the stores before the first question (one engine per process)."""
    try:
        await in_thread(engine().retriever.warm_up)
        await in_thread(engine().starter_topics)
    except Exception as err:  # an empty or missing index is reported in the chat, not at start-up
        log.warning("warm-up incomplete: %s", err)
    try:
        warning = await in_thread(engine().model_warning)  # lists the server's /v1/models once
    except Exception as err:
        log.warning("could not check the language model's name: %s", err)
    else:
        if warning:
            log.warning("%s", warning)


add_feed_routes(lambda: engine().radar)  # the topics' Atom feeds, on the app's own server

_settings = get_settings()
_users = parse_auth_users(_settings.app.auth_users)
if _users:

    @cl.password_auth_callback
    async def password_login(username: str, password: str) -> cl.User | None:
        if await in_thread(check_password, _users, username, password):  # bcrypt is slow on purpose
            return cl.User(identifier=username, metadata={"provider": "password"})
        return None


if _settings.app.chat_history:
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

    # SQLite in the data directory, or PostgreSQL (ACADEMICHUB_DATABASE_URL) shared by every app worker;
    # a PostgreSQL database without the history tables stops the start-up here, saying to migrate.
    _history_conninfo = prepare_history(_settings)

    @cl.data_layer
    def chat_history_layer() -> SQLAlchemyDataLayer:
        return SQLAlchemyDataLayer(conninfo=_history_conninfo)

    @cl.on_chat_resume
    async def on_chat_resume(thread: ThreadDict) -> None:
        """Restore the follow-up context (the turns as they were shown) and the settings panel."""
        cl.user_session.set("history", view.turns_of(thread.get("steps") or [])[-HISTORY_TURNS:])
        cl.user_session.set("results", {})
        cl.user_session.set("prefs", view.ChatPrefs(k=_settings.fusion.default_k))
        try:
            await send_settings(profile())
        except Exception as err:
            await send_error(err)
