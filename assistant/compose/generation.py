"""One model call over numbered sources, shared by answers and briefings: fit the prompt to the context
window, stream it, and when the server still refuses it as too long, ask once more with fewer sources.
Every step that changes what the model sees, or why it saw nothing, becomes a notice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from assistant.compose import notices as notes
from assistant.compose.budget import FittedPrompt, estimate_tokens, fit_prompt, prompt_budget
from assistant.compose.checks import drop_unfinished, ends_finished, strip_prompt_echo
from assistant.compose.citations import neutralise_links
from assistant.compose.llm import Generation, LLMClient, LLMError, Message
from assistant.core.i18n import t


class Numbered(Protocol):
    @property
    def number(self) -> int: ...


N = TypeVar("N", bound=Numbered)


@dataclass(frozen=True)
class SourcedGeneration:
    generation: Generation
    prompt: str  # the user prompt as sent (echo checks compare the reply with it)
    sent: list[int]  # numbers of the sources in the prompt: the only valid citations


def numbers_text(numbers: Sequence[int]) -> str:
    """[1]-[4], or [1], [3] and [6]."""
    ordered = sorted(numbers)
    if not ordered:
        return "none"
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 2:
        return f"[{ordered[0]}]–[{ordered[-1]}]"
    marks = [f"[{n}]" for n in ordered]
    return marks[0] if len(marks) == 1 else ", ".join(marks[:-1]) + f" and {marks[-1]}"


def generate_over_sources(
    llm: LLMClient,
    *,
    system: str,
    render: Callable[[Sequence[N], int], str],
    sources: Sequence[N],
    context_window: int,
    max_tokens: int,
    abstract_chars: int,
    on_token: Callable[[str], None] | None,
    notices: list[str],
) -> SourcedGeneration | None:
    """The model's reply over the sources that fit, or None (with a notice saying why) when the caller must
    fall back to extractive text."""
    budget = prompt_budget(context_window, max_tokens, system)
    fitted = fit_prompt(render, sources, budget, abstract_chars)
    if fitted is None:
        notices.append(notes.prompt_does_not_fit(context_window, max_tokens))
        return None
    _say_what_was_fitted(fitted, len(sources), context_window, notices)
    try:
        return _call(llm, system, fitted, max_tokens, on_token)
    except LLMError as err:
        if not err.context_overflow:
            notices.append(notes.llm_fallback(err))
            return None
        retry = _smaller(render, fitted, err, max_tokens, system, abstract_chars)
        if retry is None:
            notices.append(notes.context_refused(err, retried_with=None))
            return None
        notices.append(
            notes.context_refused(err, retried_with=numbers_text([s.number for s in retry.sources]))
        )
        answer_room = _room_for_answer(err, max_tokens)
    try:
        return _call(llm, system, retry, answer_room, on_token)
    except LLMError as again:
        notices.append(notes.llm_fallback(again))
        return None


def _call(
    llm: LLMClient,
    system: str,
    fitted: FittedPrompt[N],
    max_tokens: int,
    on_token: Callable[[str], None] | None,
) -> SourcedGeneration:
    generation = llm.generate(
        [Message("system", system), Message("user", fitted.text)], max_tokens=max_tokens, on_token=on_token
    )
    return SourcedGeneration(generation, fitted.text, [s.number for s in fitted.sources])


def _room_for_answer(err: LLMError, max_tokens: int) -> int:
    """The answer's token limit for the retry: at most a third of the server's context when it said it."""
    if err.context_size:
        return max(16, min(max_tokens, err.context_size // 3))
    return max_tokens


def _smaller(
    render: Callable[[Sequence[N], int], str],
    sent: FittedPrompt[N],
    err: LLMError,
    max_tokens: int,
    system: str,
    abstract_chars: int,
) -> FittedPrompt[N] | None:
    """A prompt for the retry. With the server's counts, scale our budget by how far off our estimate was
    (plus 10 %); without them, keep half the sources."""
    if err.prompt_tokens and err.context_size:
        ours = estimate_tokens(sent.text)
        room = err.context_size - _room_for_answer(err, max_tokens) - estimate_tokens(system)
        budget = int(room * ours / err.prompt_tokens * 0.9)
        fitted = fit_prompt(render, sent.sources, budget, sent.abstract_chars or abstract_chars)
    else:
        fitted = fit_prompt(
            render, sent.sources, sent.tokens, abstract_chars, max_sources=max(1, len(sent.sources) // 2)
        )
    if fitted is None or fitted.text == sent.text:
        return None
    return fitted


def _say_what_was_fitted(
    fitted: FittedPrompt[N], total: int, context_window: int, notices: list[str]
) -> None:
    if not fitted.left_out and not fitted.shortened:
        return
    notices.append(
        notes.prompt_fitted(
            context_window,
            given=numbers_text([s.number for s in fitted.sources]) if fitted.left_out else None,
            total=total,
            abstract_chars=fitted.abstract_chars if fitted.shortened else None,
        )
    )


def checked_reply(result: SourcedGeneration, titles: dict[int, str], notices: list[str]) -> str:
    """The model's reply without the lines that echo its prompt, then neutralised. Echoes are found in the
    model's own words: escaping first would hide a copied "<<<SOURCES" line from the echo check."""
    text, echoed = strip_prompt_echo(result.generation.text, result.prompt, titles)
    if echoed:
        notices.append(notes.prompt_echo(echoed))
    return neutralise_links(text)


def trim_unfinished(text: str, generation: Generation) -> tuple[str, str | None, str]:
    """The reply without an unfinished end, why it was unfinished (None when whole) and the fragment
    removed: answers and briefings trim the same way, only their notices differ. A cut stream (token
    limit, dropped connection) is trimmed strictly: only . ! ? end its last sentence."""
    if generation.complete and ends_finished(text):
        return text, None, ""
    text, fragment = drop_unfinished(text, strict=not generation.complete)
    return text, generation.cut or t("said.mid_sentence"), fragment
