"""Per-session state (results, preferences), the profiles' starters, the settings panel, the banner."""

import uuid
from dataclasses import dataclass, field
from typing import Any

import chainlit as cl
from chainlit.context import context
from chainlit.input_widget import MultiSelect, Slider, Switch, TextInput

from assistant.compose.lists import ListedPaper
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
        await cl.Message(content="That answer is no longer in this session: ask again.").send()
    return result


# --- profiles, starters, settings ------------------------------------------------------------------


def mode_banner(settings: Settings, status: IndexStatus | None) -> str:
    if status is not None and status.papers == 0:
        index = "**The index is empty:** run `academichub ingest` first."
    elif status is not None:
        index = f"{status.papers:,} papers indexed ({status.first_day} to {status.last_day})."
    else:
        index = ""
    if settings.llm.configured:
        mode = "A language model writes the answers; every claim cites a paper."
    else:
        mode = (
            "**Extractive mode:** answers and briefings quote sentences of the retrieved abstracts, with "
            "citations; no language model writes them. To have one write answers, see *Plug in a language "
            "model* in the **Readme** (top right): the server is started with `OPENAI_BASE_URL`, "
            "`ACADEMICHUB_MODEL` and, for hosted endpoints, `OPENAI_API_KEY`."
        )
    return f"{index} {mode}".strip()


def starters_for(profile: str, topics: list[str]) -> list[cl.Starter]:
    """Starters built from the index's most frequent title topics, so each one finds papers here."""
    if profile == RADAR:
        return [cl.Starter(label="Show my topics", message="show my topics")] + [
            cl.Starter(label=f"Track: {t}", message=f"track: {t}") for t in topics[:2]
        ]
    if not topics:  # an empty index: the first question explains how to fill it
        return []
    if profile == BRIEFING:
        return [cl.Starter(label=f"Brief me: {t}", message=t) for t in topics[:3]]
    return [
        cl.Starter(label=f"Which papers work on {t}?", message=f"Which papers work on {t}?")
        for t in topics[:3]
    ]


COUNT_NOUNS = {
    ASK: ("source", "sources"),
    BRIEFING: ("paper per field", "papers per field"),
    RADAR: ("paper per batch", "papers per batch"),
}


def settings_widgets(profile: str, status: IndexStatus, current: view.ChatPrefs) -> list[Any]:
    settings = get_settings()
    count_label = {ASK: "Number of sources", BRIEFING: "Papers per field", RADAR: "Papers per batch"}[profile]
    first, last = status.first_day, status.last_day
    # The dates come first: the fields list, once opened, drops down over what follows it.
    widgets: list[Any] = [
        TextInput(
            id="since",
            label="Published since (YYYY-MM-DD)",
            placeholder="YYYY-MM-DD · empty: no limit",
            initial=current.since.isoformat() if current.since else "",
            description=f"Papers in the index were published {first} to {last}." if first else None,
        ),
        TextInput(
            id="until",
            label="Published until (YYYY-MM-DD)",
            placeholder="YYYY-MM-DD · empty: no limit",
            initial=current.until.isoformat() if current.until else "",
        ),
        MultiSelect(
            id="fields",
            label="Fields",
            items=view.field_choices(status.categories, status.archives) or {"(index is empty)": ""},
            initial=list(current.fields),
            description="Only papers in these fields (none selected: all fields).",
        ),
        Slider(id="k", label=count_label, initial=current.k, min=1, max=view.MAX_SOURCES, step=1),
    ]
    if settings.llm.configured:
        widgets.append(
            Switch(
                id="use_llm",
                label="Use language model",
                initial=current.use_llm is not False,
                description="Off: extractive answers quoted from the abstracts.",
            )
        )
    return widgets


async def send_settings(profile: str) -> IndexStatus:
    status = await in_thread(engine().status)
    known = view.field_choices(status.categories, status.archives).values()
    cl.user_session.set("known_fields", list(known))
    await cl.ChatSettings(settings_widgets(profile, status, prefs())).send()
    return status


async def tell(text: str, *, error: bool = False) -> None:
    """A short notice: a toast before the first message (a message would replace the welcome screen and
    its starters), a chat message after it."""
    if not cl.user_session.get("chatted"):
        await context.emitter.send_toast(text, "error" if error else "success")
        return
    await cl.Message(content=text, author="AcademicHub").send()


def plural_k(current: view.ChatPrefs) -> str:
    return view.plural(current.k, *COUNT_NOUNS[profile()])


def profile() -> str:
    name = cl.user_session.get("chat_profile")
    return name if name in (ASK, BRIEFING, RADAR) else ASK
