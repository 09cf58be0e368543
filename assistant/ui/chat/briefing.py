"""The Briefing profile: a topic's cross-field briefing streamed into the chat, with its BibTeX export."""

import chainlit as cl

from assistant.compose.briefing_model import Briefing
from assistant.engine import engine
from assistant.radar import charts
from assistant.ui import chat_view as view
from assistant.ui.chat.ask import (
    close_step,
    message_elements,
    numbered,
    rendered,
    result_actions,
    run_with_retrieval_step,
    shown_sources,
)
from assistant.ui.chat.session import Result, prefs, remember
from assistant.ui.chat.streaming import in_thread

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
