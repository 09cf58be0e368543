"""A Chinese question, translated to English by the configured model, so that BM25 and the English encoder
can search the English abstracts with it (`assistant.search.translated`); and the rule that tells the model
which language to answer in. Without a model nothing is translated: the question is searched as it is.
"""

from __future__ import annotations

import re

from assistant.compose.llm import LLMClient, LLMError, Message
from assistant.compose.prompts import render_prompt
from assistant.core.i18n import t
from assistant.core.language import cjk_share, detect

MAX_TRANSLATION_CHARS = 500


def english_question(llm: LLMClient | None, question: str, max_tokens: int, notices: list[str]) -> str | None:
    """The model's English translation of a Chinese `question`, or None: no model, an English question, or
    a reply that is not a usable translation (then a notice says the question was searched as written)."""
    if llm is None or detect(question) != "zh":
        return None
    prompt = render_prompt("translate-question", question=question)
    try:
        reply = llm.generate([Message("user", prompt)], max_tokens=max(max_tokens, 120))
    except LLMError as err:
        notices.append(t("notice.translation_failed", error=err))
        return None
    lines = [line.strip() for line in reply.text.splitlines() if line.strip()]
    line = re.sub(r"^(?:english(?: question)?\s*:\s*)", "", lines[0] if lines else "", flags=re.I)
    line = line.strip().strip("\"'“”")
    if not 0 < len(line) <= MAX_TRANSLATION_CHARS or cjk_share(line) > 0.1:
        notices.append(t("notice.translation_unusable"))
        return None
    notices.append(t("notice.translated", english=line))
    return line


def answer_language_rule(question: str) -> str:
    """The prompt's line on the reply language: the question's own."""
    if detect(question) == "zh":
        return (
            "Write the answer in Simplified Chinese (简体中文). Keep paper titles, method names, acronyms "
            "and the [n] citation numbers exactly as they are."
        )
    return "Write the answer in English."


def briefing_language_rule(topic: str) -> str:
    """The briefing prompt's line on the language: the topic's own (the headings stay as given: the
    application reads the sections by them)."""
    if detect(topic) == "zh":
        return (
            "Write the sections' text in Simplified Chinese (简体中文), keeping the heading lines exactly as "
            "given in English, and paper titles, method names, acronyms and [n] citation numbers as they are."
        )
    return "Write in English."
