"""Citation hygiene for generated text: [n] markers that map to no source are removed and reported,
links that did not come from us are neutralised, and cited sentences are checked against the abstracts
they cite.

Links in the output come only from the ids of retrieved papers (the sources list the application renders);
any link or URL inside model output or abstract text is turned into plain text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from assistant.compose.safe_markdown import CITATION_PATTERN, literal_markdown, neutralise_markdown
from assistant.search.topic import content_stems

# [3], [2, 5], [2;5], [1-3], [1–3]; not a Markdown link "[3](...)" (handled by neutralise_links first).
_CITATION_RE = re.compile(r"(?<!\\)" + CITATION_PATTERN)  # "\\[3]" is escaped text
_SPACE_BEFORE_RE = re.compile(r"[ \t]+$")
_MAX_RANGE = 20


@dataclass(frozen=True)
class CitationCheck:
    text: str
    removed: list[int]  # numbers that mapped to no source (each reported once, ascending)
    used: list[int]  # valid numbers the text cites, ascending


def _expand(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group.strip()):
        bounds = re.split(r"\s*[-–]\s*", part)
        if len(bounds) == 2 and bounds[0] and bounds[1]:
            low, high = int(bounds[0]), int(bounds[1])
            if low <= high and high - low < _MAX_RANGE:
                numbers.extend(range(low, high + 1))
            else:
                numbers.extend([low, high])
        elif part:
            numbers.append(int(part))
    return numbers


def cited_numbers(text: str) -> set[int]:
    """Every number cited in `text` (valid or not)."""
    found: set[int] = set()
    for match in _CITATION_RE.finditer(text):
        found.update(_expand(match.group(1)))
    return found


def citation_order(text: str) -> list[int]:
    """The numbers `text` cites, in the order a reader meets them (each once)."""
    order: dict[int, None] = {}
    for match in _CITATION_RE.finditer(text):
        order.update(dict.fromkeys(_expand(match.group(1))))
    return list(order)


def renumber_citations(text: str, mapping: Mapping[int, int]) -> str:
    """Every citation mark rewritten through `mapping` ([a][b] form; numbers not in it stay as they are)."""
    if not mapping:
        return text

    def rewrite(match: re.Match[str]) -> str:
        return "".join(f"[{mapping.get(n, n)}]" for n in _expand(match.group(1)))

    return _CITATION_RE.sub(rewrite, text)


def check_citations(text: str, valid: Iterable[int]) -> CitationCheck:
    """Keep citations whose number is a source; rewrite groups as [a][b]; drop the rest and report them."""
    allowed = set(valid)
    removed: set[int] = set()
    used: set[int] = set()
    pieces: list[str] = []
    last = 0
    for match in _CITATION_RE.finditer(text):
        numbers = _expand(match.group(1))
        keep = list(dict.fromkeys(n for n in numbers if n in allowed))
        removed.update(n for n in numbers if n not in allowed)
        used.update(keep)
        before = text[last : match.start()]
        if keep:
            pieces.append(before + "".join(f"[{n}]" for n in keep))
        else:
            pieces.append(_SPACE_BEFORE_RE.sub("", before))  # no dangling space before the punctuation
        last = match.end()
    pieces.append(text[last:])
    return CitationCheck("".join(pieces), sorted(removed), sorted(used))


def neutralise_links(text: str) -> str:
    """Model output (or text we composed) rebuilt by a Markdown parser from the constructs we allow: every
    link form, image and HTML tag keeps only its text; citation markers "[3]" (also written as links) stay."""
    return neutralise_markdown(text)


def escape_markdown(text: str) -> str:
    """Literal text inside Markdown we generate (titles, author names): no emphasis, link, image, HTML or
    autolink can come of it."""
    return literal_markdown(text)


def strip_citations(text: str) -> str:
    return _CITATION_RE.sub("", text)


_OWN_REFERENCE_RE = re.compile(r"[ \t]*" + _CITATION_RE.pattern)


def drop_reference_marks(text: str) -> str:
    """Paper text without its own bracketed reference numbers ("the MRBrainS18 dataset [2]" -> "the
    MRBrainS18 dataset"): they point into the paper's bibliography, and left in a quote or a prompt they
    would read as our citations of other sources. Only the numbers we add are citations."""
    return _OWN_REFERENCE_RE.sub("", text)


def lexical_support(sentence: str, evidence: Sequence[str]) -> float:
    """Share of the sentence's content words that occur in the evidence (0..1)."""
    words = content_stems(strip_citations(sentence))
    if not words:
        return 1.0
    pool: set[str] = set()
    for text in evidence:
        pool |= content_stems(text)
    return len(words & pool) / len(words)
