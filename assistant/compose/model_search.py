"""Model-assisted search for an ordinary question, when a model is configured and the settings ask for it
(`ACADEMICHUB_LLM_HYPOTHETICAL_ABSTRACT`, `ACADEMICHUB_LLM_RERANK`; each costs one more model call):

- a hypothetical abstract: the model writes a short abstract of a paper that would answer the question,
  which is searched too and fused with the question's own ranking (`assistant.search.translated`): it
  holds the words and the shape of the indexed abstracts, which a question does not;
- a listwise rerank: the model reads the best search results (title and clipped abstract, fenced as data)
  and gives their numbers best first; its order decides which papers become the answer's sources.

A failed call or an unusable reply changes nothing but adds a notice: the search's own result stands.
`timed` measures each call, so the answer can report the extra latency (`Answer.timings`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from assistant.compose.budget import estimate_tokens, prompt_budget
from assistant.compose.citations import drop_reference_marks
from assistant.compose.llm import LLMClient, LLMError, Message
from assistant.compose.prompts import fence_safe, render_prompt
from assistant.core.i18n import t
from assistant.core.language import cjk_share
from assistant.search.hit import Hit

log = logging.getLogger("academichub.model_search")

HYPOTHETICAL_TOKENS = 220  # about 120 words of English, with room to finish the last sentence
MIN_HYPOTHETICAL_WORDS = 12
MAX_HYPOTHETICAL_CHARS = 1500
RERANK_ABSTRACT_WORDS = 80
RERANK_TOKENS_PER_PAPER = 6  # "12 > " is 3-4 tokens; room for a model that numbers its lines

# "Abstract:", "**Title**:", "## Hypothetical abstract:" starting a line (the colon required: "Abstraction")
_LABEL_RE = re.compile(
    r"^[ \t]*(?:[*_#]+[ \t]*)?(?:hypothetical[ \t]+)?(?:abstract|title)[ \t]*[*_]*[ \t]*:[ \t]*[*_]*",
    re.I | re.M,
)
_BRACKETED_RE = re.compile(r"\[(\d{1,3})\]")
_NUMBER_RE = re.compile(r"(?<![\w.])(\d{1,3})(?!\w|\.\d)")
# A list marker before a candidate's number ("1. [3] Title", "2) 7", "- 4"), dropped before reading.
_ENUMERATOR_RE = re.compile(r"^[ \t]*(?:\d{1,3}[.):]|[-*•])[ \t]+(?=[^\d\n]*\d)", re.M)


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Record the block's seconds as `timings[name]` (and log them: the extra latency of a model call)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        timings[name] = round(seconds, 3)
        log.info("model-assisted search: %s took %.2f s", name, seconds)


# --- the hypothetical abstract ----------------------------------------------------------------------------


def hypothetical_abstract(
    llm: LLMClient | None, question: str, max_tokens: int, notices: list[str]
) -> str | None:
    """The abstract the model writes for a paper that would answer `question`, or None: no model, the call
    failed, or the reply is no usable abstract (both said in a notice; the question is searched alone)."""
    if llm is None:
        return None
    prompt = render_prompt("hypothetical-abstract", question=question)
    try:
        reply = llm.generate([Message("user", prompt)], max_tokens=max(max_tokens, HYPOTHETICAL_TOKENS))
    except LLMError as err:
        notices.append(t("notice.hypothetical_failed", error=err))
        return None
    text = usable_abstract(reply.text)
    if text is None:
        notices.append(t("notice.hypothetical_unusable"))
    return text


def usable_abstract(reply: str) -> str | None:
    """The reply as one line of search text, without its labels ("Abstract:") and reference marks; None
    when it is too short to be an abstract or not in English (the indexed abstracts' language). A reply
    cut at the token limit is kept: its words search as well."""
    text = drop_reference_marks(_LABEL_RE.sub(" ", reply))
    text = " ".join(text.split()).strip("\"'“”")
    if cjk_share(text) > 0.1 or len(re.findall(r"[A-Za-z]{2,}", text)) < MIN_HYPOTHETICAL_WORDS:
        return None
    return text[:MAX_HYPOTHETICAL_CHARS]


# --- the listwise rerank ----------------------------------------------------------------------------------


def rerank_prompt(question: str, hits: Sequence[Hit]) -> str:
    """The question and the papers numbered [1]..[n], each on two lines (title; abstract clipped to about
    80 words) inside the fence: paper text is data, it can neither close the fence nor start a line."""
    papers = "\n".join(
        f"[{number}] {_data(hit.paper.title)}\nAbstract: {_data(_clip_words(hit.paper.abstract))}"
        for number, hit in enumerate(hits, start=1)
    )
    return render_prompt("rerank", question=question, count=len(hits), papers=papers)


def rerank(
    llm: LLMClient,
    question: str,
    hits: Sequence[Hit],
    max_tokens: int,
    notices: list[str],
    context_window: int | None = None,
) -> list[Hit]:
    """`hits` in the order the model gives (the papers its reply leaves out follow in their search order);
    in the search order, with a notice, when the call fails or the reply holds no usable number. With a
    `context_window`, the prompt offers only as many of the best papers as fit in it with the reply (20
    clipped abstracts count about 4,900 tokens at the budget's 3 characters a token: a 2,048-token context
    takes the best 6 or 7, 4,096 the best 15); the others follow the reranked ones in their search order."""
    offered = list(hits)
    budget = max(max_tokens, RERANK_TOKENS_PER_PAPER * len(offered) + 40)
    prompt = rerank_prompt(question, offered)
    if context_window is not None:
        room = prompt_budget(context_window, budget, "")
        while len(offered) > 2 and estimate_tokens(prompt) > room:
            offered.pop()
            prompt = rerank_prompt(question, offered)
    if len(offered) < 2:
        return list(hits)
    try:
        reply = llm.generate([Message("user", prompt)], max_tokens=budget)
    except LLMError as err:
        notices.append(t("notice.rerank_failed", error=err))
        return list(hits)
    order = ranked_numbers(reply.text, len(offered))
    if not order:
        notices.append(t("notice.rerank_unusable"))
        return list(hits)
    ranked = set(order)
    order += [number for number in range(1, len(offered) + 1) if number not in ranked]
    return [offered[number - 1] for number in order] + list(hits[len(offered) :])


def ranked_numbers(reply: str, count: int) -> list[int]:
    """The candidate numbers of a rerank reply, in its order: "3 > 1 > 7", one per line, "[3] [1]", a
    numbered list of "[3] Title" lines. Numbers outside 1..count and repeats are ignored; bracketed numbers,
    when the reply has any, are the only ones read (a title's "GPT-4" is no candidate then)."""
    text = _ENUMERATOR_RE.sub("", reply)
    found = _BRACKETED_RE.findall(text) or _NUMBER_RE.findall(text)
    order: list[int] = []
    for raw in found:
        number = int(raw)
        if 1 <= number <= count and number not in order:
            order.append(number)
    return order


def _data(text: str) -> str:
    """Paper text for the fence: one line, its own reference marks dropped, unable to close the fence."""
    return fence_safe(" ".join(drop_reference_marks(text or "").split()))


def _clip_words(text: str, words: int = RERANK_ABSTRACT_WORDS) -> str:
    parts = (text or "").split()
    return " ".join(parts) if len(parts) <= words else " ".join(parts[:words]) + " ..."
