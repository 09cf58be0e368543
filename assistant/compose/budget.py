"""Fitting a prompt into the model's context window (ACADEMICHUB_LLM_CONTEXT_WINDOW).

The prompt and the longest answer must fit together: a small local model (llama.cpp `-c 2048`) refuses a
longer prompt with HTTP 400, or, when the prompt just fits, fills its context after a few tokens and stops
mid-sentence. Tokens are counted approximately but on the safe side, 3 characters a token (the packaged
MiniLM tokenizer counts 5.0 characters a token over the 379 sample abstracts, 3.5 on the densest one; BPE
tokenizers of small chat models give about 4), then the least relevant sources are left out, then
abstracts are shortened, until the prompt fits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from assistant.core.settings import Settings

S = TypeVar("S")

CHARS_PER_TOKEN = 3.0
MESSAGE_OVERHEAD_TOKENS = 8  # the chat template's role markers around each message
SAFETY_TOKENS = 64
MIN_ABSTRACT_CHARS = 300
KEEP_BEFORE_SHORTENING = 3  # sources kept whole before abstracts are shortened
SHORTEN_STEP = 0.7


ANSWER_SHARE = 0.2  # of the context window, for an answer (2,048 -> 409 tokens; 16,384 -> 600, the cap)
BRIEFING_SHARE = 0.3  # a briefing's prose (2,048 -> 614 tokens, room left for three shortened abstracts)
ANSWER_CAP, BRIEFING_CAP = 600, 1500


def answer_tokens(settings: Settings) -> int:
    """The answer's token limit: ACADEMICHUB_LLM_MAX_TOKENS_ANSWER, or when unset a fifth of the context
    window (at most 600), so a 2,048-token model keeps room for its sources."""
    if settings.llm.max_tokens_answer is not None:
        return settings.llm.max_tokens_answer
    return min(ANSWER_CAP, int(settings.llm.context_window * ANSWER_SHARE))


def briefing_tokens(settings: Settings) -> int:
    """The briefing prose's token limit: ACADEMICHUB_LLM_MAX_TOKENS_BRIEFING, or when unset 30 % of the
    context window (at most 1,500). A fixed 1,500 left a 2,048-token model no room for any source."""
    if settings.llm.max_tokens_briefing is not None:
        return settings.llm.max_tokens_briefing
    return min(BRIEFING_CAP, int(settings.llm.context_window * BRIEFING_SHARE))


def estimate_tokens(text: str) -> int:
    """A safe (high) estimate of a text's tokens for any common tokenizer."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def prompt_budget(context_window: int, max_tokens: int, system_prompt: str) -> int:
    """Tokens left for the user prompt once the answer and the system prompt have their room."""
    fixed = estimate_tokens(system_prompt) + 2 * MESSAGE_OVERHEAD_TOKENS + SAFETY_TOKENS
    return context_window - max_tokens - fixed


@dataclass(frozen=True)
class FittedPrompt(Generic[S]):
    text: str
    sources: list[S]  # the sources in the prompt, most relevant first
    left_out: list[S] = field(default_factory=list)
    abstract_chars: int = 0
    shortened: bool = False

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text)


def fit_prompt(
    render: Callable[[Sequence[S], int], str],
    sources: Sequence[S],
    budget: int,
    abstract_chars: int,
    *,
    max_sources: int | None = None,
) -> FittedPrompt[S] | None:
    """The prompt `render(sources, abstract_chars)` made to fit `budget` tokens: the least relevant sources
    (the last ones) are left out down to KEEP_BEFORE_SHORTENING, then abstracts are shortened down to
    MIN_ABSTRACT_CHARS, then sources left out down to one. None when even that does not fit."""
    kept = list(sources[:max_sources] if max_sources is not None else sources)
    chars = abstract_chars
    while kept:
        text = render(kept, chars)
        if estimate_tokens(text) <= budget:
            return FittedPrompt(text, kept, list(sources[len(kept) :]), chars, chars < abstract_chars)
        if len(kept) > KEEP_BEFORE_SHORTENING:
            kept.pop()
        elif chars > MIN_ABSTRACT_CHARS:
            chars = max(MIN_ABSTRACT_CHARS, int(chars * SHORTEN_STEP))
        else:
            kept.pop()
    return None
