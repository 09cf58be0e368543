"""One model call over numbered sources, shared by answers and briefings: fit the prompt to the context
window, stream it, and when the server still refuses it as too long, ask once more with fewer sources.
Every step that changes what the model sees, or why it saw nothing, becomes a notice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from assistant.compose import notices as notes
from assistant.compose.budget import FittedPrompt, estimate_tokens, fit_prompt, prompt_budget
from assistant.compose.llm import Generation, LLMClient, LLMError, Message
from assistant.compose.support import SentenceFilter, SupportJudge, SupportReport


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
    on_prompt: Callable[[str, list[int]], None] | None = None,
    setting: str = "ACADEMICHUB_LLM_MAX_TOKENS_ANSWER",
) -> SourcedGeneration | None:
    """The model's reply over the sources that fit, or None (with a notice saying why) when the caller must
    fall back to extractive text. `on_prompt(prompt, numbers)` hears each prompt before it is sent (the
    support check needs the prompt's lines and the numbers the model was given)."""
    budget = prompt_budget(context_window, max_tokens, system)
    fitted = fit_prompt(render, sources, budget, abstract_chars)
    if fitted is None:
        notices.append(notes.prompt_does_not_fit(context_window, max_tokens, setting))
        return None
    _say_what_was_fitted(fitted, len(sources), context_window, notices)
    try:
        return _call(llm, system, fitted, max_tokens, on_token, on_prompt)
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
        return _call(llm, system, retry, answer_room, on_token, on_prompt)
    except LLMError as again:
        notices.append(notes.llm_fallback(again))
        return None


def _call(
    llm: LLMClient,
    system: str,
    fitted: FittedPrompt[N],
    max_tokens: int,
    on_token: Callable[[str], None] | None,
    on_prompt: Callable[[str, list[int]], None] | None = None,
) -> SourcedGeneration:
    if on_prompt is not None:
        on_prompt(fitted.text, [s.number for s in fitted.sources])
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


@dataclass(frozen=True)
class CheckedGeneration:
    """A model reply after the sentence-level support check: `report.text` holds only its supported
    sentences (what was streamed), `report.checks` every verdict."""

    generation: Generation
    report: SupportReport
    sent: list[int]  # the numbers of the sources the model was given

    @property
    def incomplete(self) -> str | None:
        """Why the reply was cut short, when it was (its unfinished end is dropped)."""
        if not self.generation.complete:
            return self.generation.cut
        return "it stopped in the middle of a sentence" if self.report.unfinished else None


def generate_checked(
    llm: LLMClient,
    judge: SupportJudge,
    *,
    system: str,
    render: Callable[[Sequence[N], int], str],
    sources: Sequence[N],
    context_window: int,
    max_tokens: int,
    abstract_chars: int,
    on_token: Callable[[str], None] | None,
    notices: list[str],
    setting: str = "ACADEMICHUB_LLM_MAX_TOKENS_ANSWER",
) -> CheckedGeneration | None:
    """generate -> check -> trim, for answers and briefings alike. The reply is judged sentence by
    sentence as it streams (`judge`: against the sources it cites and the prompt it was sent); only the
    supported sentences reach `on_token` (neutralised Markdown), so nothing later withdrawn is shown and
    the raw stream never is. None (with a notice) when the model failed."""
    checker = SentenceFilter(judge, emit=on_token)

    def heard(prompt: str, numbers: list[int]) -> None:
        checker.start(system + "\n" + prompt, numbers)

    result = generate_over_sources(
        llm,
        system=system,
        render=render,
        sources=sources,
        context_window=context_window,
        max_tokens=max_tokens,
        abstract_chars=abstract_chars,
        on_token=checker.feed,
        notices=notices,
        on_prompt=heard,
        setting=setting,
    )
    if result is None:
        return None
    report = checker.finish(cut=not result.generation.complete)
    if report.echo_lines:
        notices.append(notes.prompt_echo(report.echo_lines))
    return CheckedGeneration(result.generation, report, result.sent)
