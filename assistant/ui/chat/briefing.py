"""The Briefing profile: a topic's cross-field briefing streamed into the chat, with its BibTeX export."""

import chainlit as cl

from assistant.compose.briefing_model import Briefing
from assistant.core.i18n import reply_in, t
from assistant.core.language import reply_language
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
from assistant.ui.chat.streaming import in_thread, ui_lang
from assistant.ui.plots import plotly_element

# --- Briefing ----------------------------------------------------------------------------------------


async def brief(topic: str, *, exclude: set[str] | None = None) -> None:
    with reply_in(reply_language(topic, ui_lang())):  # a Chinese topic: a Chinese frame
        await briefing_shown(topic, exclude)


async def briefing_shown(topic: str, exclude: set[str] | None) -> None:
    current = prefs()
    briefing: Briefing
    language = ui_lang()
    briefing, step, msg = await run_with_retrieval_step(
        topic,
        current,
        t("step.briefing_retrieval"),
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
            language=language,
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
    # No field map, in the app or the export, under charts.MIN_MAP_PAPERS papers: it would say nothing.
    points = await in_thread(charts.field_map, briefing, engine().retriever) if briefing.sources else None
    result = Result(
        kind=kind,
        query=topic,
        title=t("brief.title", topic=topic),
        # exports carry the text without the app's notices, but with the flagged sentences
        body=text + view.flagged_suffix(briefing.unsupported_sentences, briefing.uncited_sentences),
        numbered=numbered(cited + also),
        shown_ids=set(exclude or ()) | {s.paper.id for s in briefing.sources},
        bibtex=briefing.to_bibtex(),
        map_svg=charts.field_map_svg(points) if points is not None else None,
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
    if points is not None:  # the field map, next to the briefing
        figure = charts.field_map_figure(points)
        elements.append(plotly_element(t("export.field_map"), figure))
    msg.elements = elements
    msg.actions = result_actions(result) if briefing.sources else []
    await msg.send()  # ends the stream (if any) and attaches elements and actions
