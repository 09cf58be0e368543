"""The notes shown above an answer or a briefing, worded once (both composers and the model transport use
them)."""

from __future__ import annotations

from collections.abc import Sequence

NO_LLM = "No language model is configured: extractive mode (sentences quoted from the retrieved abstracts)."
LLM_SWITCHED_OFF = "Extractive mode (language model switched off): sentences quoted from the abstracts."


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _marks(numbers: Sequence[int]) -> str:
    return ", ".join(f"[{n}]" for n in numbers)


def llm_fallback(reason: object) -> str:
    """The model failed or gave nothing usable: the text below is extractive."""
    return f"Language model unavailable: {reason}. Fell back to extractive mode."


def removed_citations(removed: Sequence[int], source_count: int, given: str | None = None) -> str:
    """Citations to numbers that are not listed sources (or, with `given`, sources the model was not
    given: e.g. "[1]-[3]") were taken out of the text."""
    word = "citations" if len(removed) > 1 else "citation"
    if given is not None:
        return f"Removed {word} {_marks(removed)}: the model was given sources {given} only."
    return f"Removed {word} {_marks(removed)}: only sources [1] to [{source_count}] exist."


def prompt_echo(lines: int) -> str:
    """Lines in which the model repeated its prompt were taken out (their [n] do not count)."""
    return (
        f"Removed {_plural(lines, 'line')} in which the model repeated its prompt or the source list "
        "(citations there do not count)."
    )


def cites_nothing(what: str) -> str:
    """The model's `what` ("answer", "briefing") cites no source, so the extractive text replaces it."""
    return (
        f"The language model's {what} cites none of the sources, so it is not used: fell back to extractive "
        "mode (sentences quoted from the abstracts)."
    )


def flag_reason(sentence: str, uncited: Sequence[str]) -> str:
    """Why a flagged sentence is flagged, as the CLI and the app list it under the text."""
    return "cites no source" if sentence in uncited else "not supported by the cited abstract"


def not_checked(what: str, summary: str) -> str:
    """The model's `what` failed the decision rule (fewer than two, or fewer than half, of its sentences
    supported by the sources they cite): the extractive text replaces it."""
    return (
        f"The language model's {what} did not pass the check: {summary} by the sources they cite; at least "
        "two and at least half must be. Fell back to extractive mode (sentences quoted from the abstracts)."
    )


def sentences_removed(removed: int, total: int) -> str:
    """Sentences of an accepted model text that failed the check (listed under it, not part of it)."""
    return (
        f"Removed {removed} of the model's {total} sentences: not supported by the sources they cite "
        "(listed below as unverified)."
    )


def prompt_does_not_fit(context_window: int, max_tokens: int, setting: str) -> str:
    """Not even the question and one shortened abstract fit the model's context window. The advice is one
    the user can follow: the server's context is fixed, the room kept for the model's text is not."""
    return (
        f"The question and even one shortened abstract do not fit the language model's context window "
        f"({context_window} tokens, of which {max_tokens} are kept for the model's text): fell back to "
        f"extractive mode. Lower {setting} (or leave it unset: it is then derived from the context window), "
        "or serve the model with a larger context (llama-server -c, Ollama num_ctx) and set "
        "ACADEMICHUB_LLM_CONTEXT_WINDOW to it."
    )


def context_refused(reason: object, retried_with: str | None) -> str:
    """The server refused the prompt as too long; `retried_with` names the sources of the retry, if any."""
    head = f"The language model refused the prompt as too long for its context: {reason}."
    if retried_with is None:
        return (
            f"{head} Fell back to extractive mode. Set ACADEMICHUB_LLM_CONTEXT_WINDOW to the server's "
            "context size."
        )
    return (
        f"{head} Asked again with sources {retried_with} only; set ACADEMICHUB_LLM_CONTEXT_WINDOW to the "
        "server's context size to avoid this."
    )


def prompt_fitted(context_window: int, given: str | None, total: int, abstract_chars: int | None) -> str:
    """What was left out or cut so the prompt fits the context window (`given`: the sources sent, when
    some were left out; `abstract_chars`: the cut, when abstracts were shortened)."""
    parts = []
    if given is not None:
        parts.append(f"only sources {given} of {total} were given to the language model")
    if abstract_chars is not None:
        parts.append(f"abstracts were cut to {abstract_chars} characters")
    return (
        f"To fit the model's context window ({context_window} tokens), {' and '.join(parts)}. A server "
        "with a larger context (llama-server -c, Ollama num_ctx) sees more: set "
        "ACADEMICHUB_LLM_CONTEXT_WINDOW to its size."
    )


def llm_gave_nothing(said: str) -> str:
    """The model's reply held nothing usable (`said`: "returned an empty answer", "stopped before ...")."""
    return f"The language model {said}. Fell back to extractive mode."
