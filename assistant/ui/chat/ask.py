"""The Ask profile: a cited answer streamed with its retrieval step, sources, actions and export."""

import functools
from collections.abc import Callable
from typing import Any

import chainlit as cl
from chainlit.context import context
from chainlit.utils import utc_now

from assistant.compose.lists import listed
from assistant.compose.model import Answer, Source, Turn
from assistant.core.i18n import reply_in, t
from assistant.core.language import reply_language
from assistant.core.paper import Paper
from assistant.engine import engine
from assistant.ui import chat_view as view
from assistant.ui import list_view
from assistant.ui.chat.session import COUNT_NOUNS, HISTORY_TURNS, Result, prefs, profile, remember
from assistant.ui.chat.streaming import T, streamed, ui_lang

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
            cl.Action(
                name="brief_on_this", payload=payload, label=t("action.brief_on_this"), icon="newspaper"
            )
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
            cl.Action(
                name="another_batch", payload=payload, label=t("action.another_batch"), icon="refresh-cw"
            )
        )
    return actions


def topic_name(query: str) -> str:
    words = query.split()
    name = " ".join(words[:6])
    return name[:60]


def track_action(query: str) -> cl.Action:
    return cl.Action(
        name="radar_track",
        payload={"query": query},
        label=t("action.track", name=topic_name(query)),
        icon="bookmark-plus",
    )


EXPORT_LABELS = {  # catalog keys
    "text/markdown": "action.export_markdown",
    "application/x-bibtex": "action.export_bibtex",
    "image/svg+xml": "action.export_map",
}


def export_element(result: Result) -> cl.CustomElement:
    """One-click Markdown/BibTeX downloads under the message (public/elements/AcademicHubExport.jsx)."""
    files = [
        {"name": f.name, "mime": f.mime, "content": f.content, "label": t(EXPORT_LABELS[f.mime])}
        for f in view.export_files(result.title, result.body, result.numbered, result.bibtex)
    ]
    if result.map_svg:  # a briefing's field map travels with its Markdown, which shows it
        picture = f"{view.slug(result.title)}-map.svg"
        for item in files:
            if item["mime"] == "text/markdown":
                reference = f"\n\n## {t('export.field_map')}\n\n![{t('export.field_map_alt')}]({picture})\n"
                item["content"] = item["content"].rstrip() + reference
        files.append(
            {
                "name": picture,
                "mime": "image/svg+xml",
                "content": result.map_svg,
                "label": t(EXPORT_LABELS["image/svg+xml"]),
            }
        )
    if result.matches:
        labels = list_view.EXPORT_LABELS
        files += [
            {"name": f.name, "mime": f.mime, "content": f.content, "label": t(labels[f.mime])}
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
    step.input = t(
        "step.input", query=view.escape_md(query), filters=current.describe(COUNT_NOUNS[profile()])
    )
    step.start = utc_now()  # started and not ended: the UI shows "Using <label>" while it runs
    await step.send()
    return step


async def close_step(
    step: cl.Step, sources: list[Source], query: str | None = None, final: bool = False
) -> None:
    """Show the papers found (numbered) in the retrieval step and close it. `final`: the answer's own
    numbering, which may differ from the one reported before the text was written (reading order)."""
    if step.end is not None and query is None and not final:
        return  # already closed when the engine reported its sources
    if query:
        step.input = f"{step.input}\n\n{t('step.searched_as', query=view.escape_md(query))}"
    step.output = view.retrieval_output_markdown(
        [(s.number, s.paper, s.hit.score, s.hit.relevance) for s in sources]
    )
    step.end = step.end or utc_now()
    await step.update()


async def fail_step(step: cl.Step) -> None:
    """Close a step whose engine call failed (the chat shows the readable error below it)."""
    step.is_error = True
    step.output = t("step.failed")
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
    with reply_in(reply_language(question, ui_lang())):  # a Chinese question: a Chinese frame
        await answer_shown(question, exclude, standalone, current or prefs(), extra_actions)


async def answer_shown(
    question: str,
    exclude: set[str] | None,
    standalone: bool,
    current: view.ChatPrefs,
    extra_actions: list[cl.Action] | None,
) -> None:
    history: list[Turn] = cl.user_session.get("history") or []
    answer: Answer
    language = ui_lang()
    answer, step, msg = await run_with_retrieval_step(
        question,
        current,
        t("step.retrieval"),
        lambda on_token, on_sources: engine().answerer.answer(
            question,
            history=() if standalone else history[-HISTORY_TURNS:],
            paper_filter=current.paper_filter(),
            k=current.k,
            use_llm=current.use_llm,
            exclude_ids=exclude or set(),
            on_token=on_token,
            on_sources=on_sources,
            language=language,
        ),
    )
    searched_as = answer.standalone_question if answer.standalone_question != question else None
    await close_step(step, answer.sources, searched_as, final=True)
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


async def show_list_page(result: Result, page: int) -> None:
    """A page of a list answer's full list (0 first), with the next page one click further."""
    matches = result.matches or []
    pages = list_view.page_count(len(matches))
    actions = []
    if page + 1 < pages:
        actions.append(
            cl.Action(
                name="show_all",
                payload={"result": result.id, "page": page + 1},
                label=list_view.next_label(len(matches), page),
                icon="chevron-right",
            )
        )
    await cl.Message(
        content=list_view.page_markdown(result.list_topic, matches, page),
        actions=actions,
        author="AcademicHub",
    ).send()
