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
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import chainlit as cl
from chainlit.context import context
from chainlit.input_widget import MultiSelect, Slider, Switch, TextInput
from chainlit.types import ThreadDict
from chainlit.utils import utc_now

from assistant.compose.answer import Answer, Source, Turn
from assistant.compose.briefing import Briefing
from assistant.compose.safe_markdown import SafeStream
from assistant.engine import IndexStatus, engine
from assistant.radar import charts, delivery
from assistant.radar.service import FeedBatch
from assistant.ui import chat_view as view
from assistant.ui.auth import check_password, parse_auth_users
from assistant.ui.chat_history import conninfo, ensure_tables, history_path
from assistant.ui.feed_routes import add_feed_routes
from assistant.ui.offline_page import serve_offline_page
from ingest.paper import Paper
from ingest.settings import Settings, get_settings

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


def starters_for(profile: str) -> list[cl.Starter]:
    if profile == BRIEFING:
        return [
            cl.Starter(label="Brief me: graph neural networks", message="graph neural networks"),
            cl.Starter(label="Brief me: diffusion models across fields", message="diffusion models"),
            cl.Starter(
                label="Brief me: reinforcement learning for robotics",
                message="reinforcement learning for robot control",
            ),
        ]
    if profile == RADAR:
        return [
            cl.Starter(label="Show my topics", message="show my topics"),
            cl.Starter(
                label="Track: large language model agents", message="track: large language model agents"
            ),
            cl.Starter(
                label="Track: EEG and brain-computer interfaces",
                message="track: EEG brain-computer interfaces",
            ),
        ]
    return [
        cl.Starter(label="Which papers use diffusion models?", message="Which papers use diffusion models?"),
        cl.Starter(
            label="How do LLM agents plan?", message="How do large language model agents plan and use tools?"
        ),
        cl.Starter(
            label="Federated learning and privacy", message="What is new in federated learning and privacy?"
        ),
    ]


@cl.set_chat_profiles
async def chat_profiles(current_user: cl.User | None = None) -> list[cl.ChatProfile]:
    settings = get_settings()
    try:
        status: IndexStatus | None = await in_thread(engine().status)
    except Exception:  # the banner must not break the page; the first question reports the problem
        status = None
    banner = mode_banner(settings, status)
    return [
        cl.ChatProfile(
            name=ASK,
            icon="/public/ask.svg",
            default=True,
            markdown_description=f"Ask questions about the indexed papers; answers cite them. {banner}",
            starters=starters_for(ASK),
        ),
        cl.ChatProfile(
            name=BRIEFING,
            icon="/public/briefing.svg",
            markdown_description=f"Type a topic: get a cited briefing across fields. {banner}",
            starters=starters_for(BRIEFING),
        ),
        cl.ChatProfile(
            name=RADAR,
            icon="/public/radar.svg",
            markdown_description=(
                "Your daily radar: saved topics, new papers in batches, followed authors and a daily "
                f"briefing. Type `track: <topic>` to add one. {banner}"
            ),
            starters=starters_for(RADAR),
        ),
    ]


def settings_widgets(profile: str, status: IndexStatus, current: view.ChatPrefs) -> list[Any]:
    settings = get_settings()
    count_label = {ASK: "Number of sources", BRIEFING: "Papers per field", RADAR: "Batch size"}[profile]
    widgets: list[Any] = [
        MultiSelect(
            id="fields",
            label="Fields",
            items=view.field_choices(status.categories) or {"(index is empty)": ""},
            initial=list(current.fields),
            description="Only papers in these fields/categories (none selected: all).",
        ),
        TextInput(
            id="since",
            label="Published since",
            placeholder=status.first_day or "YYYY-MM-DD",
            initial=current.since.isoformat() if current.since else "",
        ),
        TextInput(
            id="until",
            label="Published until",
            placeholder=status.last_day or "YYYY-MM-DD",
            initial=current.until.isoformat() if current.until else "",
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
    cl.user_session.set("known_fields", view.field_choices(status.categories).values())
    await cl.ChatSettings(settings_widgets(profile, status, prefs())).send()
    return status


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
    try:
        new = view.prefs_from_settings(values, known, settings.default_k, settings.llm_configured)
    except view.SettingsError as err:
        await send_error(err)
        return
    cl.user_session.set("prefs", new)
    await cl.Message(
        content=f"Settings applied to the next search: {new.describe()}.", author="AcademicHub"
    ).send()


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
    if result.kind in ("answer", "briefing"):  # a radar briefing covers today's papers: no other batch
        actions.append(
            cl.Action(name="another_batch", payload=payload, label="Show another batch", icon="refresh-cw")
        )
    return actions


EXPORT_LABELS = {
    "text/markdown": "Export Markdown",
    "application/x-bibtex": "Export BibTeX",
    "image/svg+xml": "Export field map (SVG)",
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
    return cl.CustomElement(name="AcademicHubExport", display="inline", props={"files": files})


def message_elements(result: Result, sources: list[Source]) -> list[Any]:
    elements: list[Any] = source_elements(sources)
    if sources:
        elements.append(export_element(result))
    return elements


def shown_sources(text: str, sources: list[Source]) -> tuple[list[Source], list[Source]]:
    """(cited, also relevant): the sources listed under a text, cited ones first (see view.listed_sources)."""
    by_number = {s.number: s for s in sources}
    cited, also = view.listed_sources(
        text, [view.ListedSource(s.number, s.paper, s.hit.relevance) for s in sources]
    )
    return [by_number[s.number] for s in cited], [by_number[s.number] for s in also]


def rendered(
    notices: list[str],
    text: str,
    cited: list[Source],
    also: list[Source],
    flagged: list[str] | None = None,
    uncited: list[str] | None = None,
) -> str:
    parts = [view.notices_markdown(notices) + text.strip()]
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
    step.input = f"query: {view.escape_md(query)}\n\nfilters: {current.describe()}"
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


async def ask(question: str, *, exclude: set[str] | None = None, standalone: bool = False) -> None:
    current = prefs()
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
    )
    remember(result)
    if not standalone:  # "another batch" is not a turn: a follow-up still refers to the answer before it
        cl.user_session.set("history", [*history, answer.turn][-HISTORY_TURNS:])
        # Saved with the chat history (when on): a resumed chat reads the turns back from it.
        msg.metadata = {view.TURN_KEY: answer.turn.to_dict()}
    msg.content = rendered(
        answer.notices, answer.text, cited, also, answer.unsupported_sentences, answer.uncited_sentences
    )
    msg.elements = message_elements(result, cited + also)
    msg.actions = result_actions(result) if answer.sources else []
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
    cited, also = shown_sources(text, briefing.sources)
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
        briefing.notices, text, cited, also, briefing.unsupported_sentences, briefing.uncited_sentences
    )
    elements = message_elements(result, cited + also)
    if points and points.points:  # the field map, next to the briefing
        figure = charts.field_map_figure(points)
        elements.append(cl.Plotly(name="Field map", figure=figure, display="inline", size="large"))
    msg.elements = elements
    msg.actions = result_actions(result) if briefing.sources else []
    await msg.send()  # ends the stream (if any) and attaches elements and actions


# --- Radar -------------------------------------------------------------------------------------------


def topic_actions(names: list[str]) -> list[cl.Action]:
    return [
        cl.Action(name="radar_open", payload={"topic": n}, label=f"Open “{n}”", icon="radar") for n in names
    ]


async def radar_topics() -> None:
    topics = await in_thread(engine().radar.list_topics)
    if not topics:
        await cl.Message(
            content="You have no saved topics yet. Type `track: <what you follow>`, e.g. "
            "`track: graph neural networks for molecules`.",
            author="AcademicHub",
        ).send()
        return
    lines = ["**Your topics**", ""]
    for t in topics:
        extra = []
        if t.fields:
            extra.append("fields " + ", ".join(t.fields))
        if t.authors:
            extra.append("following " + ", ".join(t.authors))
        lines.append(
            f"- **{view.escape_md(t.name)}**: {view.escape_md(t.query)}"
            + (f" ({view.escape_md('; '.join(extra))})" if extra else "")
        )
    await cl.Message(
        content="\n".join(lines), actions=topic_actions([t.name for t in topics]), author="AcademicHub"
    ).send()


def topic_name(query: str) -> str:
    words = query.split()
    name = " ".join(words[:6])
    return name[:60]


async def radar_message(text: str) -> None:
    command = text.strip()
    if command.lower() in RADAR_LIST_COMMANDS:
        await radar_topics()
        return
    radar = engine().radar
    names = {t.name.lower(): t.name for t in await in_thread(radar.list_topics)}
    if command.lower().startswith("track:"):
        command = command.split(":", 1)[1].strip()
    existing = names.get(command.lower()) or names.get(topic_name(command).lower())
    if existing is None:
        current = prefs()
        topic = await in_thread(radar.add_topic, topic_name(command), command, list(current.fields))
        await cl.Message(
            content=f"Saved topic **{view.escape_md(topic.name)}**. Here are its newest papers.",
            author="AcademicHub",
        ).send()
        existing = topic.name
    await radar_feed(existing, next_batch=False)


async def radar_feed(name: str, *, next_batch: bool, author: str | None = None) -> None:
    batch: FeedBatch = await in_thread(
        engine().radar.feed, name, batch=prefs().k, next_batch=next_batch, author=author
    )
    since = batch.since.date().isoformat() if batch.since else "the start"
    head = (
        f"**Radar: {view.escape_md(batch.topic.name)}** · batch {batch.batch_number} · new since {since} · "
        f"{batch.remaining} more unseen" + (f" · only {view.escape_md(batch.author)}" if batch.author else "")
    )
    if batch.message:
        head += f"\n\n{view.escape_md(batch.message)}"
    payload = {"topic": name, "author": author or ""}
    actions = [
        cl.Action(name="radar_brief", payload=payload, label="Brief me on today's papers", icon="newspaper")
    ]
    if not batch.exhausted:
        actions.insert(
            0, cl.Action(name="radar_next", payload=payload, label="Show another batch", icon="refresh-cw")
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
    for position, hit in enumerate(batch.items, start=1):
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
    await cl.Message(
        content=f"{len(batch.items)} papers shown.", actions=actions, author="AcademicHub"
    ).send()


# --- message entry point and actions ---------------------------------------------------------------


@cl.on_message
@reports_errors
async def on_message(message: cl.Message) -> None:
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
        content=f"Following **{view.escape_md(author)}** in **{view.escape_md(topic.name)}**: "
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
    await show_briefing(msg, None, briefing, f"{name} (today)", None, kind="radar_briefing")


# --- start-up, login, history ----------------------------------------------------------------------


@cl.on_app_startup
async def warm_up() -> None:
    """Load the model and open the stores before the first question (one engine per process)."""
    try:
        await in_thread(engine().retriever.warm_up)
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
