"""Checks on what a model wrote, before it is shown: echoes of the prompt are removed (a citation inside an
echoed source list is not a citation), an unfinished last sentence is cut off, and factual sentences
without a valid citation are found so they can be flagged.

Small local models echo their prompt (`<<<SOURCES`, "Authors: ...", "[1] <title>"), stop mid-sentence,
and write fluent prose with no citation at all; none of that may pass as a checked, cited answer.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from assistant.compose.citations import cited_numbers, strip_citations
from assistant.compose.extractive import split_sentences
from assistant.core.i18n import catalog, languages

NOT_FOUND_MARK = "could not find this in the indexed papers"


def _not_found_marks() -> tuple[str, ...]:
    """The not-found reply in every catalog language, without its final stop (a model may drop it)."""
    marks = {catalog(lang)["answer.not_found"].lower().rstrip(".。") for lang in languages()}
    return (NOT_FOUND_MARK, *sorted(marks))


def says_not_found(text: str) -> bool:
    """Whether a text is (or holds) the not-found reply, in English or Chinese."""
    lowered = (text or "").lower()
    return any(mark in lowered for mark in _not_found_marks())


MIN_FACT_WORDS = 5  # shorter sentences ("See [2].", "In short:") state no finding of their own

_FENCE_RE = re.compile(r"<\s*<\s*<\s*SOURCES|SOURCES\s*>\s*>\s*>", re.IGNORECASE)
# The labels the prompts give each source, and the prompt's own parts.
_LABEL_RE = re.compile(
    r"^\s*(?:[-*]\s*)?\**(?:Authors?|Published|Categories|Abstract|Question|Sources?|References|"
    r"#+\s*Field)\**\s*:",
    re.IGNORECASE,
)
_LISTED_RE = re.compile(r"^\s*(?:[-*]\s*)?\[(\d{1,3})\]\s*[:.-]?\s*(.+)$")
_BULLET_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_HEADING_RE = re.compile(r"^\s*#")
# A finished sentence ends with . ! ? (maybe inside quotes, brackets or emphasis, maybe before citations).
# A model that finished normally may also end a line on a citation ("- Paper A does X [2]"); after a cut
# stream that is no proof ("... does X [2] and"), so `strict` asks for the full stop.
# A sentence ends with . ! ? … or, written in Chinese, 。！？ (before or after its citations: "知识 [1]。").
_FINISHED_RE = re.compile(r"[.!?…。！？][\"'”’)）\]*_]*(?:\s*\[\d{1,3}\])*[.*_。]*\s*$")
_CITATION_END_RE = re.compile(r"\[\d{1,3}\][.*_。]*\s*$")


def _normal(line: str) -> str:
    return " ".join(line.split()).lower()


def strip_prompt_echo(text: str, prompt: str, titles: Mapping[int, str]) -> tuple[str, int]:
    """`text` without the lines that repeat the prompt: fence markers, source labels ("Authors: ..."), an
    echoed source list ("[1] <its title>") and any line copied whole from the prompt. Returns the text and
    how many lines were removed."""
    prompt_lines = {_normal(line) for line in prompt.splitlines() if len(_normal(line)) >= 12}
    listed = {number: _normal(strip_citations(title))[:40] for number, title in titles.items()}
    kept: list[str] = []
    removed = 0
    for line in text.splitlines():
        normal = _normal(line)
        if not normal or says_not_found(normal) or _HEADING_RE.match(line):
            kept.append(line)  # a heading repeats the prompt on purpose ("## Machine Learning (cs.LG)")
            continue
        if _FENCE_RE.search(line) or _LABEL_RE.match(line) or normal in prompt_lines or _lists(line, listed):
            removed += 1
            continue
        kept.append(line)
    return "\n".join(kept).strip(), removed


def _lists(line: str, listed: Mapping[int, str]) -> bool:
    """Whether the line is an entry of the source list: "[2] <the title of source 2>"."""
    match = _LISTED_RE.match(line)
    if not match:
        return False
    title = listed.get(int(match.group(1)), "")
    rest = _normal(match.group(2)).strip("*_\"' ")
    return bool(title) and rest.startswith(title)


def ends_finished(text: str, *, strict: bool = False) -> bool:
    """Whether the last line of `text` ends a sentence (or is a heading)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return True
    last = lines[-1]
    if _HEADING_RE.match(last) or _FINISHED_RE.search(last):
        return True
    return not strict and bool(_CITATION_END_RE.search(last))


def drop_unfinished(text: str, *, strict: bool = False) -> tuple[str, str]:
    """`text` without its unfinished last sentence, and that fragment ("" when the text ends well).
    `strict` (the stream was cut): only . ! ? end a sentence."""
    if ends_finished(text, strict=strict):
        return text, ""
    lines = text.rstrip().splitlines()
    last = lines[-1]
    bullet = _BULLET_RE.match(last)
    body = last[bullet.end() :] if bullet else last
    sentences = split_sentences(body)
    if bullet or len(sentences) <= 1:  # a list item, or a line of one sentence, goes whole
        return "\n".join(lines[:-1]).rstrip(), last.strip()
    fragment = sentences[-1]
    head = last[: last.rfind(fragment)].rstrip() if fragment in last else " ".join(sentences[:-1])
    return "\n".join([*lines[:-1], head]).rstrip(), fragment.strip()


def factual_sentences(text: str) -> list[str]:
    """The sentences of an answer that state something: not headings, lead-ins ending with ":", the
    not-found reply, or sentences of fewer than MIN_FACT_WORDS words."""
    found: list[str] = []
    for line in text.splitlines():
        if not line.strip() or _HEADING_RE.match(line):
            continue
        body = _BULLET_RE.sub("", line).strip()
        for sentence in split_sentences(body):
            bare = strip_citations(sentence).strip()
            if bare.endswith((":", "：")) or says_not_found(bare):
                continue
            if len(re.findall(r"\w+", bare)) >= MIN_FACT_WORDS:
                found.append(sentence.strip())
    return found


def find_uncited(text: str, valid: Collection[int]) -> list[str]:
    """Factual sentences that cite no valid source."""
    allowed = set(valid)
    return [s for s in factual_sentences(text) if not cited_numbers(s) & allowed]
