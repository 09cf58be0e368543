"""The notes shown above an answer or a briefing, worded once (both composers and the model transport use
them)."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.core.i18n import plural, t

# Worded in the reply language of the current call (`assistant.core.i18n.reply_in`): a Chinese question
# reads its notices in Chinese. The English texts are the catalog's `notice.*` entries.


def no_llm() -> str:
    """No model is configured: the answer is quoted from the abstracts."""
    return t("notice.no_llm")


def llm_switched_off() -> str:
    """The user switched the model off in the settings panel."""
    return t("notice.llm_switched_off")


def _marks(numbers: Sequence[int]) -> str:
    return ", ".join(f"[{n}]" for n in numbers)


def llm_fallback(reason: object) -> str:
    """The model failed or gave nothing usable: the text below is extractive."""
    return t("notice.llm_fallback", reason=reason)


def removed_citations(removed: Sequence[int], source_count: int, given: str | None = None) -> str:
    """Citations to numbers that are not listed sources (or, with `given`, sources the model was not
    given: e.g. "[1]-[3]") were taken out of the text."""
    form = "other" if len(removed) > 1 else "one"
    if given is not None:
        return t(f"notice.removed_citations_given.{form}", marks=_marks(removed), given=given)
    return t(f"notice.removed_citations.{form}", marks=_marks(removed), count=source_count)


def prompt_echo(lines: int) -> str:
    """Lines in which the model repeated its prompt were taken out (their [n] do not count)."""
    return t("notice.prompt_echo", lines=plural(lines, "count.line"))


def cites_nothing(what: str) -> str:
    """The model's `what` ("answer", "briefing") cites no source, so the extractive text replaces it."""
    return t("notice.cites_nothing", what=t(f"word.{what}"))


def flag_reason(sentence: str, uncited: Sequence[str]) -> str:
    """Why a flagged sentence is flagged, as the CLI and the app list it under the text."""
    return t("flag.cites_nothing") if sentence in uncited else t("flag.unsupported")


def unsupported_sentences(count: int) -> str:
    """Cited sentences the cited abstracts do not support (listed and flagged)."""
    return t("notice.unsupported_sentences", sentences=plural(count, "count.sentence"))


def uncited_sentences(count: int) -> str:
    """Factual sentences of a model's text that cite no source (listed and flagged)."""
    return t("notice.uncited_sentences" + (".one" if count == 1 else ".other"), n=count)


def prompt_does_not_fit(context_window: int, max_tokens: int) -> str:
    """Not even the question and one shortened abstract fit the model's context window."""
    return t("notice.prompt_does_not_fit", window=context_window, max_tokens=max_tokens)


def context_refused(reason: object, retried_with: str | None) -> str:
    """The server refused the prompt as too long; `retried_with` names the sources of the retry, if any."""
    if retried_with is None:
        return t("notice.context_refused", reason=reason)
    return t("notice.context_refused_retried", reason=reason, given=retried_with)


def prompt_fitted(context_window: int, given: str | None, total: int, abstract_chars: int | None) -> str:
    """What was left out or cut so the prompt fits the context window (`given`: the sources sent, when
    some were left out; `abstract_chars`: the cut, when abstracts were shortened)."""
    parts = []
    if given is not None:
        parts.append(t("notice.fitted_sources", given=given, total=total))
    if abstract_chars is not None:
        parts.append(t("notice.fitted_abstracts", chars=abstract_chars))
    return t("notice.prompt_fitted", window=context_window, what=t("word.and").join(parts))


def llm_gave_nothing(said: str) -> str:
    """The model's reply held nothing usable (`said`: "returned an empty answer", "stopped before ...")."""
    return t("notice.llm_gave_nothing", said=said)
