"""The Chainlit chat app: a thin shell over `Answerer`, `Briefer` and `Radar`.

Start it with `academichub serve`. Profiles: Ask (cited Q&A with follow-ups), Briefing (topic -> cited
cross-field briefing) and Radar (saved topics, new papers in batches, daily briefing). What is shown is
built by `assistant.ui.chat_view` (pure, unit-tested); this module only wires engine calls to Chainlit.

Engine calls block (model, SQLite, Chroma, LLM), so they run in worker threads; tokens streamed by the
engine hop back to the event loop through an asyncio queue.
"""

# No `from __future__ import annotations`: Chainlit executes this file without registering it in
# sys.modules, and dataclasses cannot resolve string annotations of such a module.
import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, ParamSpec, TypeVar

import chainlit as cl
from chainlit.context import context
from chainlit.input_widget import MultiSelect, Slider, Switch, TextInput
from chainlit.types import ThreadDict
from chainlit.utils import utc_now

from assistant.compose.answer import Answer, Source, Turn
from assistant.compose.briefing import Briefing
from assistant.compose.lists import ListedPaper, listed
from assistant.compose.safe_markdown import SafeStream
from assistant.core.paper import Paper
from assistant.core.settings import Settings, get_settings
from assistant.engine import IndexStatus, engine
from assistant.radar import charts, delivery
from assistant.radar.service import FeedBatch
from assistant.ui import chat_view as view
from assistant.ui import list_view
from assistant.ui.auth import check_password, parse_auth_users
from assistant.ui.chat_history import conninfo, ensure_tables, history_path
from assistant.ui.feed_routes import add_feed_routes
from assistant.ui.offline_page import serve_offline_page

log = logging.getLogger("academichub.app")
serve_offline_page()  # no Google Fonts / KaTeX CDN requests from the page
T = TypeVar("T")
P = ParamSpec("P")

ASK, BRIEFING, RADAR = "Ask", "Briefing", "Radar"
HISTORY_TURNS = 6
STREAM_LINE_PAUSE = 0.12  # seconds between lines of a text that arrives all at once (extractive answers)
RADAR_LIST_COMMANDS = {"topics", "my topics", "show my topics", "list", "list topics"}


async def in_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(func, *args, **kwargs)


async def streamed(
    msg: cl.Message,
    call: Callable[[Callable[[str], None], Callable[[list[Source]], None]], T],
    on_sources: Callable[[list[Source]], Awaitable[None]] | None = None,
) -> T:
    """Run `call(on_token, on_sources)` in a worker thread, streaming each token into `msg` as it arrives.
    Sources reported by the engine (after retrieval, before any text) are handed to `on_sources` on the
    event loop first: the retrieval step is closed before the answer message exists, so it shows above."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[str | list[Source] | None] = asyncio.Queue()

    def on_token(token: str) -> None:
        loop.call_soon_threadsafe(events.put_nowait, token)

    def sources_found(sources: list[Source]) -> None:
        loop.call_soon_threadsafe(events.put_nowait, list(sources))

    task = asyncio.ensure_future(asyncio.to_thread(call, on_token, sources_found))
    task.add_done_callback(lambda _: events.put_nowait(None))
    safe = SafeStream()  # raw model text never reaches the browser: an image would be fetched as it streams
    while (event := await events.get()) is not None:
        if isinstance(event, str):
            if shown := safe.feed(event):
                await msg.stream_token(shown)
            if event.endswith(("\n", ". ")) and not events.empty():
                await asyncio.sleep(STREAM_LINE_PAUSE)  # a composed answer arrives at once: let it show
        elif on_sources is not None:
            await on_sources(event)
    if rest := safe.flush():
        await msg.stream_token(rest)
    return await task


async def send_error(err: BaseException) -> None:
    message, expected = view.readable_error(err)
    if not expected:
        log.exception("unexpected error in a chat handler", exc_info=err)
    await cl.Message(content=message, author="AcademicHub").send()


def reports_errors(handler: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
    """A chat handler whose failures reach the user as a readable message instead of a dead spinner."""

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await handler(*args, **kwargs)
        except Exception as err:
            await send_error(err)

    return wrapper


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
    return current if isinstance(current, view.ChatPrefs) else view.ChatPrefs(k=get_settings().default_k)


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
    if settings.llm_configured:
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


@cl.set_chat_profiles
async def chat_profiles(current_user: cl.User | None = None) -> list[cl.ChatProfile]:
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
            icon="/public/ask.svg",
            default=True,
            markdown_description=f"Ask questions about the indexed papers; answers cite them. {banner}",
            starters=starters_for(ASK, topics),
        ),
        cl.ChatProfile(
            name=BRIEFING,
            icon="/public/briefing.svg",
            markdown_description=f"Type a topic: get a cited briefing across fields. {banner}",
            starters=starters_for(BRIEFING, topics),
        ),
        cl.ChatProfile(
            name=RADAR,
            icon="/public/radar.svg",
            markdown_description=(
                "Your daily radar: saved topics, new papers in batches, followed authors and a daily "
                "briefing. Type a question to search the recent papers, or `track: <topic>` to save one. "
                f"{radar_scope_note(logged_in=current_user is not None)} {banner}"
            ),
            starters=starters_for(RADAR, topics),
        ),
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
    if settings.llm_configured:
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


@cl.on_chat_start
@reports_errors
async def on_chat_start() -> None:
    cl.user_session.set("prefs", view.ChatPrefs(k=get_settings().default_k))
    cl.user_session.set("history", [])
    cl.user_session.set("results", {})
    await send_settings(profile())
    warning = await in_thread(engine().model_warning)
    if warning:
        await cl.Message(content=view.model_warning_markdown(warning), author="AcademicHub").send()


@cl.on_settings_update
async def on_settings_update(values: dict[str, Any]) -> None:
    settings = get_settings()
    known = cl.user_session.get("known_fields") or []
    current = prefs()
    try:
        new = view.prefs_from_settings(values, known, settings.default_k, settings.llm_configured)
    except view.SettingsError as err:
        # Nothing of the change is applied; say so, and what is still in force.
        kept = view.filter_chips(current) or "no filters"
        await tell(f"Settings not applied: {err}. Still in force: {kept}; {plural_k(current)}.", error=True)
        return
    cl.user_session.set("prefs", new)
    chips = view.filter_chips(new) or "no filters (all fields, any date)"
    await tell(f"Settings applied to the next search: {chips}; {plural_k(new)}.")


def plural_k(current: view.ChatPrefs) -> str:
    return view.plural(current.k, *COUNT_NOUNS[profile()])


def profile() -> str:
    name = cl.user_session.get("chat_profile")
    return name if name in (ASK, BRIEFING, RADAR) else ASK


# --- Ask ---------------------------------------------------------------------------------------------


def numbered(sources: list[Source]) -> list[tuple[int, Paper]]:
    return [(s.number, s.paper) for s in sources]


def source_elements(sources: list[Source]) -> list[cl.Text]:
    return [
        cl.Text(
            name=view.marker(s.number),
            content=view.source_markdown(s.number, s.paper, s.hit.relevance, s.hit.also),
            display="side",
        )
        for s in sources
    ]


def result_actions(result: Result) -> list[cl.Action]:
    payload = {"result": result.id}
    actions = []
    if result.kind == "answer":
        actions.append(
            cl.Action(name="brief_on_this", payload=payload, label="Brief me on this", icon="newspaper")
        )
    if result.matches:  # a list answer: the whole list one click away, and the topic to the radar
        actions.append(
            cl.Action(
                name="show_all",
                payload={**payload, "page": 0},
                label=list_view.show_all_label(len(result.matches)),
                icon="list",
            )
        )
        actions.append(track_action(result.list_topic))  # save the topic to the radar
    elif result.kind in ("answer", "briefing"):  # a radar briefing covers today's papers: no other batch
        actions.append(
            cl.Action(name="another_batch", payload=payload, label="Show another batch", icon="refresh-cw")
        )
    return actions


EXPORT_LABELS = {
    "text/markdown": "Export Markdown",
    "application/x-bibtex": "Export BibTeX",
    "image/svg+xml": "Export field map (SVG)",
}
LIST_EXPORT_LABELS = {
    "text/markdown": "Export list (Markdown)",
    "application/x-bibtex": "Export list (BibTeX)",
    "text/csv": "Export list (CSV)",
}


def export_element(result: Result) -> cl.CustomElement:
    """One-click Markdown/BibTeX downloads under the message (public/elements/AcademicHubExport.jsx)."""
    files = [
        {"name": f.name, "mime": f.mime, "content": f.content, "label": EXPORT_LABELS[f.mime]}
        for f in view.export_files(result.title, result.body, result.numbered, result.bibtex)
    ]
    if result.map_svg:  # a briefing's field map travels with its Markdown, which shows it
        picture = f"{view.slug(result.title)}-map.svg"
        for item in files:
            if item["mime"] == "text/markdown":
                reference = f"\n\n## Field map\n\n![The briefing's papers by field]({picture})\n"
                item["content"] = item["content"].rstrip() + reference
        files.append(
            {
                "name": picture,
                "mime": "image/svg+xml",
                "content": result.map_svg,
                "label": EXPORT_LABELS["image/svg+xml"],
            }
        )
    if result.matches:
        files += [
            {"name": f.name, "mime": f.mime, "content": f.content, "label": LIST_EXPORT_LABELS[f.mime]}
            for f in list_view.list_export_files(result.list_topic, result.matches)
        ]
    return cl.CustomElement(name="AcademicHubExport", display="inline", props={"files": files})


def message_elements(result: Result, sources: list[Source]) -> list[Any]:
    elements: list[Any] = source_elements(sources)
    if sources:
        elements.append(export_element(result))
    return elements


def shown_sources(
    text: str, sources: list[Source], drop_weak: bool = True
) -> tuple[list[Source], list[Source]]:
    """(cited, also relevant): the sources listed under a text, cited ones first (see view.listed_sources)."""
    by_number = {s.number: s for s in sources}
    cited, also = view.listed_sources(
        text, [view.ListedSource(s.number, s.paper, s.hit.relevance) for s in sources], drop_weak
    )
    return [by_number[s.number] for s in cited], [by_number[s.number] for s in also]


def listed_turn(answer: Answer) -> Turn:
    """The turn as the user saw it: only the sources listed under the answer, numbered as listed."""
    cited, also = shown_sources(answer.text, answer.sources)
    return answer.shown_turn({s.number for s in cited + also})


def rendered(
    notices: list[str],
    text: str,
    cited: list[Source],
    also: list[Source],
    current: view.ChatPrefs,
    flagged: list[str] | None = None,
    uncited: list[str] | None = None,
) -> str:
    """The message: active-filter chips (if any), notices, the text, flagged sentences, the sources."""
    chips = view.filter_chips(current)
    parts = ([chips] if chips else []) + [view.notices_markdown(notices) + text.strip()]
    if flagged:  # the model's sentences that failed the citation check, right under the text
        parts.append(view.flagged_markdown(flagged, uncited or []))
    listing = view.sources_list_markdown(numbered(cited), numbered(also))
    if listing:
        parts.append(listing)
    return "\n\n".join(parts)


async def retrieval_step(query: str, current: view.ChatPrefs, label: str) -> cl.Step:
    """Open the step that shows the query, filters and papers found. Its parent is the current run (the
    user's message), like the answer message's: Chainlit nests a step by `parent_id` and shows a parentless
    one after the whole run, i.e. under the answer."""
    parent = context.current_step
    step = cl.Step(name=label, type="retrieval", show_input=True, parent_id=parent.id if parent else None)
    step.input = f"query: {view.escape_md(query)}\n\nfilters: {current.describe(COUNT_NOUNS[profile()])}"
    step.start = utc_now()  # started and not ended: the UI shows "Using <label>" while it runs
    await step.send()
    return step


async def close_step(step: cl.Step, sources: list[Source], query: str | None = None) -> None:
    if step.end is not None and query is None:
        return  # already closed when the engine reported its sources
    if query:
        step.input = f"{step.input}\n\nsearched as: {view.escape_md(query)}"
    step.output = view.retrieval_output_markdown(
        [(s.number, s.paper, s.hit.score, s.hit.relevance) for s in sources]
    )
    step.end = step.end or utc_now()
    await step.update()


async def fail_step(step: cl.Step) -> None:
    """Close a step whose engine call failed (the chat shows the readable error below it)."""
    step.is_error = True
    step.output = "failed: see the message below"
    step.end = utc_now()
    await step.update()


async def run_with_retrieval_step(
    query: str,
    current: view.ChatPrefs,
    label: str,
    call: Callable[[Callable[[str], None], Callable[[list[Source]], None]], T],
) -> tuple[T, cl.Step, cl.Message]:
    """Open the retrieval step, then stream `call` into a new answer message; the step closes when the
    engine reports its sources, or is marked failed if the call raises."""
    step = await retrieval_step(query, current, label)
    msg = cl.Message(content="", author="AcademicHub")
    try:
        result = await streamed(msg, call, functools.partial(close_step, step))
    except Exception:
        await fail_step(step)
        raise
    return result, step, msg


async def ask(
    question: str,
    *,
    exclude: set[str] | None = None,
    standalone: bool = False,
    current: view.ChatPrefs | None = None,
    extra_actions: list[cl.Action] | None = None,
) -> None:
    current = current or prefs()
    history: list[Turn] = cl.user_session.get("history") or []
    answer: Answer
    answer, step, msg = await run_with_retrieval_step(
        question,
        current,
        "Retrieval",
        lambda on_token, on_sources: engine().answerer.answer(
            question,
            history=() if standalone else history[-HISTORY_TURNS:],
            paper_filter=current.paper_filter(),
            k=current.k,
            use_llm=current.use_llm,
            exclude_ids=exclude or set(),
            on_token=on_token,
            on_sources=on_sources,
        ),
    )
    await close_step(
        step, answer.sources, answer.standalone_question if answer.standalone_question != question else None
    )
    cited, also = shown_sources(answer.text, answer.sources)
    result = Result(
        kind="answer",
        query=answer.standalone_question or question,
        title=answer.standalone_question or question,
        # exports carry the text without the app's notices, but with the flagged sentences
        body=answer.text + view.flagged_suffix(answer.unsupported_sentences, answer.uncited_sentences),
        numbered=numbered(cited + also),
        shown_ids=set(exclude or ()) | {s.paper.id for s in answer.sources},
        matches=listed(answer.matches, {s.paper.id: s.number for s in answer.sources})
        if answer.matches
        else None,
        list_topic=answer.list_topic or "",
    )
    remember(result)
    if not standalone:  # "another batch" is not a turn: a follow-up still refers to the answer before it
        # The turn keeps only the listed sources: "the last one" / "these" mean what the user saw.
        turn = listed_turn(answer)
        cl.user_session.set("history", [*history, turn][-HISTORY_TURNS:])
        # Saved with the chat history (when on): a resumed chat reads the turns back from it.
        msg.metadata = {view.TURN_KEY: turn.to_dict()}
    msg.content = rendered(
        answer.notices,
        answer.text,
        cited,
        also,
        current,
        answer.unsupported_sentences,
        answer.uncited_sentences,
    )
    msg.elements = message_elements(result, cited + also)
    if result.matches:  # the list offers its own "save as a radar topic"
        extra_actions = [a for a in extra_actions or [] if a.name != "radar_track"]
    msg.actions = (result_actions(result) if answer.sources else []) + (extra_actions or [])
    await msg.send()  # ends the stream (if any) and attaches elements and actions


# --- Briefing ----------------------------------------------------------------------------------------


async def brief(topic: str, *, exclude: set[str] | None = None) -> None:
    current = prefs()
    briefing: Briefing
    briefing, step, msg = await run_with_retrieval_step(
        topic,
        current,
        "Briefing retrieval",
        lambda on_token, on_sources: engine().briefer.brief(
            topic,
            fields=list(current.fields) or None,
            since=current.since,
            until=current.until,
            per_field=current.k,
            use_llm=current.use_llm,
            paper_filter=view.ChatPrefs(exclude_ids=frozenset(exclude or ())).paper_filter(),
            on_token=on_token,
            on_sources=on_sources,
        ),
    )
    await show_briefing(msg, step, briefing, topic, exclude)


async def show_briefing(
    msg: cl.Message,
    step: cl.Step | None,
    briefing: Briefing,
    topic: str,
    exclude: set[str] | None,
    kind: str = "briefing",
) -> None:
    if step is not None:
        await close_step(step, briefing.sources)
    text = view.without_references(briefing.markdown)  # the Sources list below replaces it
    # A briefing's sources were picked per field (quotas, diversity): all stay listed, cited ones first.
    cited, also = shown_sources(text, briefing.sources, drop_weak=False)
    points = await in_thread(charts.field_map, briefing, engine().retriever) if briefing.sources else None
    result = Result(
        kind=kind,
        query=topic,
        title=f"Briefing: {topic}",
        # exports carry the text without the app's notices, but with the flagged sentences
        body=text + view.flagged_suffix(briefing.unsupported_sentences, briefing.uncited_sentences),
        numbered=numbered(cited + also),
        shown_ids=set(exclude or ()) | {s.paper.id for s in briefing.sources},
        bibtex=briefing.to_bibtex(),
        map_svg=charts.field_map_svg(points) if points and points.points else None,
    )
    remember(result)
    msg.content = rendered(
        briefing.notices,
        text,
        cited,
        also,
        prefs() if kind == "briefing" else view.ChatPrefs(),
        briefing.unsupported_sentences,
        briefing.uncited_sentences,
    )
    elements = message_elements(result, cited + also)
    if points and points.points:  # the field map, next to the briefing
        figure = charts.field_map_figure(points)
        elements.append(cl.Plotly(name="Field map", figure=figure, display="inline", size="large"))
    msg.elements = elements
    msg.actions = result_actions(result) if briefing.sources else []
    await msg.send()  # ends the stream (if any) and attaches elements and actions


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


def topic_name(query: str) -> str:
    words = query.split()
    name = " ".join(words[:6])
    return name[:60]


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


def track_action(query: str, label: str | None = None) -> cl.Action:
    return cl.Action(
        name="radar_track",
        payload={"query": query},
        label=label or f"Track “{topic_name(query)}” as a topic",
        icon="bookmark-plus",
    )


async def confirm_track(query: str) -> None:
    """Saving a topic takes an explicit click: the message says what will happen and offers the button."""
    if not query:
        await cl.Message(content="Say what to track, e.g. `track: diffusion models`.").send()
        return
    days = get_settings().radar_backfill_days
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
        days = get_settings().radar_backfill_days
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
    page = int(action.payload.get("page", 0) or 0)
    pages = list_view.page_count(len(result.matches))
    actions = []
    if page + 1 < pages:
        actions.append(
            cl.Action(
                name="show_all",
                payload={"result": result.id, "page": page + 1},
                label=list_view.next_label(len(result.matches), page),
                icon="chevron-right",
            )
        )
    await cl.Message(
        content=list_view.page_markdown(result.list_topic, result.matches, page),
        actions=actions,
        author="AcademicHub",
    ).send()


@cl.action_callback("brief_on_this")
@reports_errors
async def on_brief_on_this(action: cl.Action) -> None:
    result = await recalled(action)
    if result is not None:
        await brief(result.query)


@cl.action_callback("radar_open")
@reports_errors
async def on_radar_open(action: cl.Action) -> None:
    await radar_feed(str(action.payload["topic"]), next_batch=False)


@cl.action_callback("radar_track")
@reports_errors
async def on_radar_track(action: cl.Action) -> None:
    await confirm_track(str(action.payload["query"]))


@cl.action_callback("radar_save")
@reports_errors
async def on_radar_save(action: cl.Action) -> None:
    query = str(action.payload["query"])
    await action.remove()  # one save per confirmation
    topic = await in_thread(engine().radar.add_topic, owned(topic_name(query)), query, list(prefs().fields))
    days = get_settings().radar_backfill_days
    await cl.Message(
        content=f"Saved the topic **{view.escape_md(shown_name(topic.name))}**. Here are its papers from the "
        f"last {days} listing days.",
        author="AcademicHub",
    ).send()
    await radar_feed(topic.name, next_batch=False)


@cl.action_callback("radar_cancel")
async def on_radar_cancel(action: cl.Action) -> None:
    await action.remove()
    kept = action.payload.get("kept")
    text = f"Kept the topic **{view.escape_md(shown_name(str(kept)))}**." if kept else "Not saved."
    await cl.Message(content=text, author="AcademicHub").send()


@cl.action_callback("radar_remove")
@reports_errors
async def on_radar_remove(action: cl.Action) -> None:
    await confirm_remove(str(action.payload["topic"]))


@cl.action_callback("radar_remove_confirmed")
@reports_errors
async def on_radar_remove_confirmed(action: cl.Action) -> None:
    stored = str(action.payload["topic"])
    await action.remove()
    await in_thread(engine().radar.remove_topic, stored)
    await cl.Message(
        content=f"Removed the topic **{view.escape_md(shown_name(stored))}**.", author="AcademicHub"
    ).send()


@cl.action_callback("radar_rename")
@reports_errors
async def on_radar_rename(action: cl.Action) -> None:
    stored = str(action.payload["topic"])
    cl.user_session.set("renaming", stored)
    await cl.Message(
        content=f"New name for **{view.escape_md(shown_name(stored))}**? Type it below (`cancel` keeps "
        "the name).",
        author="AcademicHub",
    ).send()


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


@cl.action_callback("radar_unfollow")
@reports_errors
async def on_radar_unfollow(action: cl.Action) -> None:
    stored, author = str(action.payload["topic"]), str(action.payload["author"])
    topic = await in_thread(engine().radar.unfollow_author, stored, author)
    await action.remove()
    await cl.Message(
        content=f"No longer following **{view.escape_md(author)}** in "
        f"**{view.escape_md(shown_name(topic.name))}**.",
        author="AcademicHub",
    ).send()


@cl.action_callback("radar_next")
@reports_errors
async def on_radar_next(action: cl.Action) -> None:
    topic, author = str(action.payload["topic"]), action.payload.get("author") or None
    await radar_feed(topic, next_batch=True, author=author)


@cl.action_callback("radar_follow")
@reports_errors
async def on_radar_follow(action: cl.Action) -> None:
    name, author = str(action.payload["topic"]), str(action.payload["author"])
    topic = await in_thread(engine().radar.follow_author, name, author)
    await cl.Message(
        content=f"Following **{view.escape_md(author)}** in **{view.escape_md(shown_name(topic.name))}**: "
        "their new papers will appear in this topic's feed.",
        author="AcademicHub",
    ).send()


@cl.action_callback("radar_brief")
@reports_errors
async def on_radar_brief(action: cl.Action) -> None:
    name = str(action.payload["topic"])
    msg = cl.Message(content="", author="AcademicHub")
    use_llm = prefs().use_llm
    briefing: Briefing = await streamed(
        msg,
        lambda on_token, _sources: engine().radar.brief(name, use_llm=use_llm, on_token=on_token),
    )
    await show_briefing(msg, None, briefing, f"{shown_name(name)}: new papers", None, kind="radar_briefing")


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
_users = parse_auth_users(_settings.auth_users)
if _users:

    @cl.password_auth_callback
    async def password_login(username: str, password: str) -> cl.User | None:
        if await in_thread(check_password, _users, username, password):  # bcrypt is slow on purpose
            return cl.User(identifier=username, metadata={"provider": "password"})
        return None


if _settings.chat_history:
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

    _history_file = ensure_tables(history_path(_settings))

    @cl.data_layer
    def chat_history_layer() -> SQLAlchemyDataLayer:
        return SQLAlchemyDataLayer(conninfo=conninfo(_history_file))

    @cl.on_chat_resume
    async def on_chat_resume(thread: ThreadDict) -> None:
        """Restore the follow-up context (the turns as they were shown) and the settings panel."""
        cl.user_session.set("history", view.turns_of(thread.get("steps") or [])[-HISTORY_TURNS:])
        cl.user_session.set("results", {})
        cl.user_session.set("prefs", view.ChatPrefs(k=_settings.default_k))
        try:
            await send_settings(profile())
        except Exception as err:
            await send_error(err)
