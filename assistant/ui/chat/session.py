"""Per-session state (results, preferences), the profiles' starters, the settings panel, the banner."""

import uuid
from dataclasses import dataclass, field
from typing import Any

import chainlit as cl
from chainlit.context import context
from chainlit.input_widget import MultiSelect, Slider, Switch, TextInput

from assistant.compose.lists import ListedPaper
from assistant.core.i18n import plural, t
from assistant.core.paper import Paper
from assistant.core.settings import Settings, get_settings
from assistant.engine import IndexStatus, engine
from assistant.ui import chat_view as view
from assistant.ui.chat.streaming import in_thread

ASK, BRIEFING, RADAR = "Ask", "Briefing", "Radar"
HISTORY_TURNS = 6


# --- per-session state -----------------------------------------------------------------------------


@dataclass
class Result:
    """An answer or briefing shown in the chat; actions under it refer to it by id."""

    kind: str  # "answer" | "briefing" | "radar_briefing"
    query: str
    title: str
    body: str
    numbered: list[tuple[int, Paper]]
    shown_ids: set[str] = field(default_factory=set)
    bibtex: str | None = None
    map_svg: str | None = None  # a briefing's field map, exported beside its Markdown
    # A list answer: every match, best first (as ListedPaper: rank, paper, citation number), and its topic.
    matches: list[ListedPaper] | None = None
    list_topic: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


def prefs() -> view.ChatPrefs:
    current = cl.user_session.get("prefs")
    return (
        current if isinstance(current, view.ChatPrefs) else view.ChatPrefs(k=get_settings().fusion.default_k)
    )


def remember(result: Result) -> None:
    results: dict[str, Result] = cl.user_session.get("results") or {}
    results[result.id] = result
    cl.user_session.set("results", results)


def recall(action: cl.Action) -> Result | None:
    results: dict[str, Result] = cl.user_session.get("results") or {}
    return results.get(str(action.payload.get("result", "")))


async def recalled(action: cl.Action) -> Result | None:
    """The answer or briefing an action refers to, or None after telling the user it is gone."""
    result = recall(action)
    if result is None:
        await cl.Message(content=t("app.result_gone")).send()
    return result


# --- profiles, starters, settings ------------------------------------------------------------------


def mode_banner(settings: Settings, status: IndexStatus | None) -> str:
    if status is not None and status.papers == 0:
        index = t("app.index_empty")
    elif status is not None:
        index = t(
            "app.index_status",
            papers=plural(status.papers, "count.paper"),
            first=status.first_day,
            last=status.last_day,
        )
    else:
        index = ""
    mode = t("app.mode_llm") if settings.llm.configured else t("app.mode_extractive")
    return f"{index} {mode}".strip()


def starters_for(profile: str, topics: list[str]) -> list[cl.Starter]:
    """Starters built from the index's most frequent title topics, so each one finds papers here."""
    if profile == RADAR:
        return [cl.Starter(label=t("starter.show_topics"), message="show my topics")] + [
            cl.Starter(label=t("starter.track", topic=topic), message=f"track: {topic}")
            for topic in topics[:2]
        ]
    if not topics:  # an empty index: the first question explains how to fill it
        return []
    if profile == BRIEFING:
        return [cl.Starter(label=t("starter.brief", topic=topic), message=topic) for topic in topics[:3]]
    return [
        cl.Starter(label=t("starter.ask", topic=topic), message=t("starter.ask", topic=topic))
        for topic in topics[:3]
    ]


COUNT_NOUNS = {ASK: "count.source", BRIEFING: "count.per_field", RADAR: "count.per_batch"}  # catalog keys


def settings_widgets(profile: str, status: IndexStatus, current: view.ChatPrefs) -> list[Any]:
    settings = get_settings()
    count_label = t(
        {ASK: "settings.k_ask", BRIEFING: "settings.k_briefing", RADAR: "settings.k_radar"}[profile]
    )
    first, last = status.first_day, status.last_day
    # The dates come first: the fields list, once opened, drops down over what follows it.
    widgets: list[Any] = [
        TextInput(
            id="since",
            label=t("settings.since"),
            placeholder=t("settings.date_placeholder"),
            initial=current.since.isoformat() if current.since else "",
            description=t("settings.since_help", first=first, last=last) if first else None,
        ),
        TextInput(
            id="until",
            label=t("settings.until"),
            placeholder=t("settings.date_placeholder"),
            initial=current.until.isoformat() if current.until else "",
        ),
        MultiSelect(
            id="fields",
            label=t("settings.fields"),
            items=view.field_choices(status.categories, status.archives) or {t("settings.index_empty"): ""},
            initial=list(current.fields),
            description=t("settings.fields_help"),
        ),
        Slider(id="k", label=count_label, initial=current.k, min=1, max=view.MAX_SOURCES, step=1),
    ]
    if settings.llm.configured:
        widgets.append(
            Switch(
                id="use_llm",
                label=t("settings.use_llm"),
                initial=current.use_llm is not False,
                description=t("settings.use_llm_help"),
            )
        )
    return widgets


async def send_settings(profile: str) -> IndexStatus:
    """The settings panel, and its filters as chips beside the input (a new chat clears the old ones)."""
    status = await in_thread(engine().status)
    known = view.field_choices(status.categories, status.archives).values()
    cl.user_session.set("known_fields", list(known))
    await cl.ChatSettings(settings_widgets(profile, status, prefs())).send()
    await show_filters()
    return status


async def show_filters() -> None:
    """The session's active filters as chips beside the input (public/academichub.js draws them)."""
    await cl.send_window_message(view.filters_window_message(prefs()))


async def tell(text: str, *, error: bool = False) -> None:
    """A short notice: a toast before the first message (a message would replace the welcome screen and
    its starters), a chat message after it."""
    if not cl.user_session.get("chatted"):
        await context.emitter.send_toast(text, "error" if error else "success")
        return
    await cl.Message(content=text, author="AcademicHub").send()


def plural_k(current: view.ChatPrefs) -> str:
    return plural(current.k, COUNT_NOUNS[profile()])


def profile() -> str:
    name = cl.user_session.get("chat_profile")
    return name if name in (ASK, BRIEFING, RADAR) else ASK
