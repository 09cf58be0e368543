"""The notes shown above an answer or a briefing, worded once (both composers use them)."""

from __future__ import annotations

from collections.abc import Sequence

NO_LLM = "No language model is configured: extractive mode (sentences quoted from the retrieved abstracts)."
LLM_SWITCHED_OFF = "Extractive mode (language model switched off): sentences quoted from the abstracts."


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def llm_fallback(reason: object) -> str:
    """The model failed or said nothing: the text below is extractive."""
    return f"Language model unavailable: {reason}. Fell back to extractive mode."


def removed_citations(removed: Sequence[int], source_count: int) -> str:
    """Citations to numbers that are not listed sources were taken out of the text."""
    word = "citations" if len(removed) > 1 else "citation"
    return (
        f"Removed {word} {', '.join(f'[{n}]' for n in removed)}: only sources [1] to [{source_count}] exist."
    )


def unsupported_sentences(count: int) -> str:
    """Cited sentences the cited abstracts do not support (listed and flagged)."""
    return f"{_plural(count, 'sentence')} not supported by the cited abstract (flagged)."
