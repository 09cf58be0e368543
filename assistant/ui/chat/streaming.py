"""Engine calls in worker threads, tokens streamed back to the event loop, and errors reported in the chat."""

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import chainlit as cl
from chainlit.context import context

from assistant.compose.model import Source
from assistant.compose.safe_markdown import SafeStream
from assistant.core.i18n import reply_in
from assistant.core.language import UiLanguage, ui_language
from assistant.core.settings import get_settings
from assistant.ui import chat_view as view

log = logging.getLogger("academichub.app")


T = TypeVar("T")
P = ParamSpec("P")


STREAM_LINE_PAUSE = 0.12  # seconds between lines of a text that arrives all at once (extractive answers)


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


def ui_lang(browser: str | None = None) -> UiLanguage:
    """The interface language: ACADEMICHUB_LANGUAGE when set to one, else the browser's (Chainlit reads
    it from the page's Accept-Language; `browser` when a caller has it, e.g. the profiles request)."""
    chosen = get_settings().app.language
    if chosen != "auto":
        return ui_language(chosen)
    if browser is None:
        try:
            browser = getattr(context.session, "language", None)
        except Exception:  # no chat session here (start-up): English
            browser = None
    return ui_language(browser)


async def send_error(err: BaseException) -> None:
    message, expected = view.readable_error(err)
    if not expected:
        log.exception("unexpected error in a chat handler", exc_info=err)
    await cl.Message(content=message, author="AcademicHub").send()


def reports_errors(handler: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
    """A chat handler whose failures reach the user as a readable message instead of a dead spinner."""

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        with reply_in(ui_lang()):  # the app's own texts in the interface language
            try:
                await handler(*args, **kwargs)
            except Exception as err:
                await send_error(err)

    return wrapper
