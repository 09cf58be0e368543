"""Citation hygiene for generated text: [n] markers that map to no source are removed and reported,
links that did not come from us are neutralised, and cited sentences are checked against the abstracts
they cite.

Links in the output come only from the ids of retrieved papers (the sources list the application renders);
any link or URL inside model output or abstract text is turned into plain text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistant.search.words import CLAIM_STOPWORDS

# [3], [2, 5], [2;5], [1-3], [1–3]; not a Markdown link "[3](...)" (handled by neutralise_links first).
_CITATION_RE = re.compile(r"\[\s*(\d{1,3}(?:\s*(?:[,;]|[-–])\s*\d{1,3})*)\s*\](?!\()")
_SPACE_BEFORE_RE = re.compile(r"[ \t]+$")
_MAX_RANGE = 20

_IMAGE_RE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
_LINK_RE = re.compile(r"\[([^\]\n]*)\]\(\s*[^)\s]*(?:\s+\"[^\"\n]*\")?\s*\)")
_REF_DEF_RE = re.compile(r"^[ \t]*\[[^\]\n]+\]:[ \t]*\S+.*$", re.MULTILINE)
_AUTOLINK_RE = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>", re.IGNORECASE)
_TAG_RE = re.compile(r"</?\s*[a-zA-Z][a-zA-Z0-9\-]*(?:\s[^<>]*)?/?>")
_URL_RE = re.compile(
    r"(?<![`\w/])((?:https?://|ftp://|www\.)[^\s<>`\"')\]]+[^\s<>`\"')\].,;:!?])", re.IGNORECASE
)
_CODE_SPAN_RE = re.compile(r"`[^`\n]*`")

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z\-]+|\d+(?:\.\d+)?")
_STEM = 6


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
    """Plain text for every link, image, HTML tag and URL: the text keeps its words, loses its targets.

    Citation markers written as links ("[3](https://...)") keep their number. Bare URLs become code spans
    so that no renderer turns them into links."""
    text = _IMAGE_RE.sub(lambda m: m.group(1), text)
    text = _LINK_RE.sub(
        lambda m: m.group(0)[: len(m.group(1)) + 2] if m.group(1).strip().isdigit() else m.group(1), text
    )
    text = _REF_DEF_RE.sub("", text)
    text = _AUTOLINK_RE.sub(lambda m: f"`{m.group(1)}`", text)
    text = _TAG_RE.sub("", text)
    return _protect_urls(text)


def _protect_urls(text: str) -> str:
    out: list[str] = []
    last = 0
    for span in _CODE_SPAN_RE.finditer(text):  # URLs already in code spans stay as they are
        out.append(_URL_RE.sub(lambda m: f"`{m.group(1)}`", text[last : span.start()]))
        out.append(span.group(0))
        last = span.end()
    out.append(_URL_RE.sub(lambda m: f"`{m.group(1)}`", text[last:]))
    return "".join(out)


_MD_SPECIAL_RE = re.compile(r"([\\`*_\[\]<>#|~])")


def escape_markdown(text: str) -> str:
    """Literal text inside Markdown we generate (titles, author names): no emphasis, links or HTML."""
    return _MD_SPECIAL_RE.sub(r"\\\1", text)


def strip_citations(text: str) -> str:
    return _CITATION_RE.sub("", text)


_OWN_REFERENCE_RE = re.compile(r"[ \t]*" + _CITATION_RE.pattern)


def drop_reference_marks(text: str) -> str:
    """Paper text without its own bracketed reference numbers ("the MRBrainS18 dataset [2]" -> "the
    MRBrainS18 dataset"): they point into the paper's bibliography, and left in a quote or a prompt they
    would read as our citations of other sources. Only the numbers we add are citations."""
    return _OWN_REFERENCE_RE.sub("", text)


def content_stems(text: str) -> set[str]:
    """Lower-cased word prefixes without stop words: a cheap, inflection-tolerant bag of words."""
    words = (w.lower() for w in _WORD_RE.findall(text))
    return {w[:_STEM] for w in words if w not in CLAIM_STOPWORDS and len(w) > 2}


def lexical_support(sentence: str, evidence: Sequence[str]) -> float:
    """Share of the sentence's content words that occur in the evidence (0..1)."""
    words = content_stems(strip_citations(sentence))
    if not words:
        return 1.0
    pool: set[str] = set()
    for text in evidence:
        pool |= content_stems(text)
    return len(words & pool) / len(words)
