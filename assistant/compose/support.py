"""The sentence-level support check: what "checked" means for a model's answer or briefing.

A probe against llama.cpp with SmolLM2-135M and Gemma-3-270M (issue 25) showed small models copying an
abstract with its numbers changed, answering "[1] [2] [3]", repeating a cut title 29 times and echoing the
prompt's instruction "square brackets, e.g. [1] or [2]" (whose marks then counted as citations). So each
sentence of the model's text is judged on its own, against what it cites:

- `echo`: it repeats a line of the prompt (instructions, question, source titles, labels; character
  5-gram containment), so its citation marks do not count;
- `uncited`: it cites no source the model was given;
- `unsupported`: the cited abstracts do not hold its content words, names or numbers ("two" where the
  abstract says "three"), or no cited sentence is close to it in meaning (the packaged encoder);
- `supported`: everything above holds.

Fragments (fewer than five words, a cut "Multilingual Unl…", lone citation marks), repeated lines and the
"could not find" reply are not sentences that count. Only supported sentences stay in the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from assistant.compose.citations import check_citations, content_stems, renumber_citations, strip_citations
from assistant.compose.extractive import SentenceBank, split_sentences
from assistant.compose.safe_markdown import neutralise_markdown, without_tags
from assistant.core.i18n import catalog, languages
from assistant.core.language import detect
from assistant.core.paper import Paper

Verdict = Literal["supported", "unjudged", "unsupported", "uncited", "echo"]

NOT_FOUND_MARK = "could not find this in the indexed papers"


def _not_found_marks() -> tuple[str, ...]:
    """The not-found reply in every catalog language, without its final stop (a model may drop it)."""
    marks = {catalog(lang)["answer.not_found"].lower().rstrip(".。") for lang in languages()}
    return (NOT_FOUND_MARK, *sorted(marks))


def says_not_found(text: str) -> bool:
    """Whether a text is (or holds) the not-found reply, in English or Chinese."""
    lowered = (text or "").lower()
    return any(mark in lowered for mark in _not_found_marks())


MIN_WORDS = 5  # fewer words state no finding of their own ("See [2].", "In short:")
ECHO_CONTAINMENT = 0.6  # share of a sentence's character 5-grams found in one prompt line
CONTENT_COVERAGE = 0.6  # share of a sentence's content words found in the cited abstracts and titles
SHINGLE = 5

_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]*")
_ENTITY_RE = re.compile(r"\b[A-Za-z][A-Za-z0-9\-]*\b")
_NUMBER_RE = re.compile(r"(?<![\w.])(?<![A-Za-z]-)\d+(?:\.\d+)?(?!\w)")  # not the 4 of a name "GPT-4"
_NUMBER_WORDS = {
    "two": 2.0,
    "three": 3.0,
    "four": 4.0,
    "five": 5.0,
    "six": 6.0,
    "seven": 7.0,
    "eight": 8.0,
    "nine": 9.0,
    "ten": 10.0,
    "eleven": 11.0,
    "twelve": 12.0,
    "twenty": 20.0,
    "thirty": 30.0,
    "forty": 40.0,
    "fifty": 50.0,
    "hundred": 100.0,
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
}
_MARKUP_RE = re.compile(r"\\(?=[^\w\s]|_)|[*_`#>|~]")  # "\_" is an escaped "_" too
_BULLET_RE = re.compile(r"^(\s*(?:[-*+]|\d{1,3}[.)])\s+)")
_HEADING_RE = re.compile(r"^\s*#")
_FENCE_RE = re.compile(r"<\s*<\s*<\s*SOURCES|SOURCES\s*>\s*>\s*>", re.IGNORECASE)
_LABEL_RE = re.compile(
    r"^\s*(?:[-*]\s*)?\**(?:Authors?|Published|Categories|Abstract|Answering sentence|Question|Sources?|"
    r"References|"
    r"#+\s*Field)\**\s*:",
    re.IGNORECASE,
)
_TRUNCATED_RE = re.compile(r"(?:…|\.\.\.)\s*[\]\)\"'”*_]*$")
# A sentence ends with . ! ? or, written in Chinese, 。！？ (before or after its citations: "知识 [1]。").
_FINISHED_RE = re.compile(r"[.!?。！？][\"'”’)）\]*_]*(?:\s*\[\d{1,3}\])*[.*_。]*\s*$")
_CITATION_END_RE = re.compile(r"\[\d{1,3}\][.*_。]*\s*$")
_CJK_RE = re.compile(r"[\u3400-\u9fff]")


def plain(text: str) -> str:
    """A sentence as words only: citations, Markdown marks and escapes removed, spaces collapsed."""
    return " ".join(_MARKUP_RE.sub("", strip_citations(text)).split())


def shingles(text: str) -> set[str]:
    """Character 5-grams of a lower-cased text of letters and digits (a near-copy shares most of them)."""
    normal = " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())
    if len(normal) < SHINGLE:
        return {normal} if normal else set()
    return {normal[i : i + SHINGLE] for i in range(len(normal) - SHINGLE + 1)}


def numbers_in(text: str) -> set[float]:
    """The numbers and named quantities of a text ("three" and "3" are the same number)."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    found = {float(m) for m in _NUMBER_RE.findall(text)}
    found |= {_NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _NUMBER_WORDS}
    return found


def entities_in(sentence: str) -> set[str]:
    """Names a claim depends on: acronyms and mixed-case or digit-bearing names anywhere ("GPT-4", "Gset",
    "MRBrainS18"), and capitalised words past the sentence's first word."""
    found: set[str] = set()
    for position, match in enumerate(_ENTITY_RE.finditer(sentence)):
        word = match.group(0)
        inner = any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word)
        if (inner or (position > 0 and word[0].isupper())) and len(word) > 1 and word.lower() != "i":
            found.add(word.lower())
    return found


def _has_word(word: str, pool: set[str]) -> bool:
    """Whether `word` (or its singular) is among the evidence's words."""
    return word in pool or word.rstrip("s") in pool or f"{word}s" in pool


@dataclass(frozen=True)
class SentenceCheck:
    """One counted sentence of the model's text and its verdict; `reason` says why in plain words."""

    text: str  # as shown: neutralised Markdown with its valid citations
    verdict: Verdict
    cited: tuple[int, ...] = ()
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "verdict": self.verdict, "cited": list(self.cited), "reason": self.reason}


@dataclass
class SupportReport:
    """Every sentence judged, what was left out as no sentence, and the text of the supported ones."""

    checks: list[SentenceCheck] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (text, why it does not count)
    text: str = ""  # the supported sentences, in the model's layout
    not_found: bool = False  # the model said it could not find the answer
    unfinished: str = ""  # the cut-off last sentence, dropped
    removed_citations: list[int] = field(default_factory=list)  # numbers the model was not given
    echo_lines: int = 0  # whole lines that repeated the prompt (fence, labels, source list)

    def count(self, verdict: Verdict) -> int:
        return sum(1 for c in self.checks if c.verdict == verdict)

    @property
    def supported(self) -> int:
        """Sentences that passed: supported ones, and Chinese ones that cannot be judged (see `unjudged`)."""
        return self.count("supported") + self.count("unjudged")

    @property
    def unjudged(self) -> int:
        """Cited Chinese sentences: they cannot be compared with English abstracts by words or by the
        English encoder, so they are kept unchecked (their citations are checked) and a notice says so."""
        return self.count("unjudged")

    @property
    def share(self) -> float:
        """Supported sentences over all counted sentences (0 when there are none)."""
        return self.supported / len(self.checks) if self.checks else 0.0

    @property
    def passes(self) -> bool:
        """The decision rule: at least two sentences, and at least half of them, are supported."""
        return self.supported >= 2 and 2 * self.supported >= len(self.checks)

    def failed(self) -> list[SentenceCheck]:
        return [c for c in self.checks if c.verdict not in ("supported", "unjudged")]

    def summary(self) -> str:
        """ "2 of 5 sentences supported (1 unsupported, 1 uncited, 1 echo)"."""
        parts = [f"{self.count(v)} {v}" for v in ("unsupported", "uncited", "echo") if self.count(v)]
        tail = f" ({', '.join(parts)})" if parts else ""
        total = len(self.checks)
        return f"{self.supported} of {total} sentence{'s' if total != 1 else ''} supported{tail}"

    def renumbered(self, mapping: Mapping[int, int]) -> SupportReport:
        """The report with its citation numbers rewritten through `mapping` (sources renumbered in reading
        order after the check): the sentences' marks, their cited numbers and the kept text."""

        def check(c: SentenceCheck) -> SentenceCheck:
            cited = tuple(mapping.get(n, n) for n in c.cited)
            return replace(c, text=renumber_citations(c.text, mapping), cited=cited)

        return replace(
            self,
            checks=[check(c) for c in self.checks],
            ignored=[(renumber_citations(text, mapping), why) for text, why in self.ignored],
            text=renumber_citations(self.text, mapping),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentences": [c.to_dict() for c in self.checks],
            "support_share": round(self.share, 3),
            "supported": self.supported,
            "counted": len(self.checks),
            "passed": self.passes,
            "not_counted": [{"text": t, "why": why} for t, why in self.ignored],
        }


class SupportJudge:
    """Judges sentences against the numbered sources a model was given and the prompt it was sent. The
    sentence vectors come from the engine's `SentenceBank` (the retriever's encoder, its cache): no second
    model is loaded."""

    def __init__(
        self,
        papers: Mapping[int, Paper],
        bank: SentenceBank,
        min_support: float,
        prompt: str = "",
        valid: Sequence[int] | None = None,
    ) -> None:
        self.papers = dict(papers)
        self.bank = bank
        self.min_support = min_support
        self.set_prompt(prompt, list(self.papers) if valid is None else valid)

    def set_prompt(self, prompt: str, valid: Sequence[int]) -> None:
        """The prompt as sent (its lines are what an echo repeats) and the numbers the model was given."""
        self.valid = set(valid)
        units = [s for s in _prompt_units(prompt) if len(s) >= 3 * SHINGLE]
        self._echo_units = [shingles(unit) for unit in units]
        self._listed = {n: plain(p.title).lower()[:40] for n, p in self.papers.items()}

    def line_echoes(self, line: str) -> bool:
        """A whole line that repeats the prompt's frame: the fence, a source label ("Authors: ..."), or an
        entry of the source list ("[2] <the title of source 2>")."""
        if _FENCE_RE.search(line) or _LABEL_RE.match(line):
            return True
        match = re.match(r"^\s*(?:[-*]\s*)?\[(\d{1,3})\]\s*[:.-]?\s*(.+)$", line)
        if not match:
            return False
        title = self._listed.get(int(match.group(1)), "")
        return bool(title) and plain(match.group(2)).lower().startswith(title[:40].rstrip(" .…"))

    def echo_of(self, sentence: str) -> bool:
        """Whether most of the sentence's character 5-grams come from one line of the prompt."""
        mine = shingles(plain(sentence))
        if not mine:
            return False
        return any(len(mine & unit) >= ECHO_CONTAINMENT * len(mine) for unit in self._echo_units)

    def judge(self, sentence: str) -> tuple[SentenceCheck, list[int]]:
        """The verdict on one sentence (neutralised Markdown), and the citation numbers it used that the
        model was not given (removed from the text)."""
        checked = check_citations(sentence, self.valid)
        text = checked.text.strip()
        cited = tuple(checked.used)
        if self.echo_of(text):
            return SentenceCheck(text, "echo", cited, "repeats a line of the prompt"), checked.removed
        if not cited:
            return SentenceCheck(text, "uncited", (), "cites no source"), checked.removed
        if detect(plain(text)) == "zh":
            return SentenceCheck(text, "unjudged", cited, "written in Chinese: not checked"), checked.removed
        reason = self.unsupported_reason(text, cited)
        if reason:
            return SentenceCheck(text, "unsupported", cited, reason), checked.removed
        return SentenceCheck(text, "supported", cited, ""), checked.removed

    def unsupported_reason(self, sentence: str, cited: Sequence[int]) -> str:
        """Why the cited abstracts do not support the sentence ("" when they do)."""
        papers = [self.papers[n] for n in cited if n in self.papers]
        entries = self.bank.get_many(papers)
        # Evidence read as quotes show it: tags dropped ("H<sub>2</sub>" -> "H2"), Markdown marks removed.
        titles = [plain(without_tags(p.title)) for p in papers]
        sentences = [plain(without_tags(s)) for p in papers for s in entries[p.id].sentences]
        words = plain(sentence)
        mine = content_stems(words)
        pool: set[str] = set()
        tokens: set[str] = set()
        for text in titles + sentences:
            pool |= content_stems(text)
            tokens |= {t.lower() for t in _WORD_RE.findall(text)}
        marks = "".join(f"[{n}]" for n in cited)
        missing = sorted(e for e in entities_in(words) if not _has_word(e, tokens))
        if missing:
            return f"{', '.join(missing)} not in {marks}"
        # Numbers are read where the claim comes from: the cited sentence sharing most of its words (the
        # Cosm abstract says "three largest" in one sentence and "two large" in another; a copy saying
        # "two largest" is wrong although "two" is in the abstract). Titles count too ("Samudra 2").
        overlaps = [len(content_stems(text) & mine) for text in sentences]
        best = max(overlaps, default=0)
        closest = [text for text, overlap in zip(sentences, overlaps, strict=True) if overlap >= 0.8 * best]
        numbers = set().union(*(numbers_in(t) for t in [*closest, *titles]))
        missing_numbers = sorted(numbers_in(words) - numbers)
        if missing_numbers:
            shown = ", ".join(f"{n:g}" for n in missing_numbers)
            return f"{marks} says other numbers where it says {shown}"
        if mine and len(mine & pool) < CONTENT_COVERAGE * len(mine):
            return f"most of its words are not in {marks}"
        rows = [entries[p.id].vectors for p in papers if len(entries[p.id].sentences)]
        if not rows:
            return f"{marks} has no abstract to check it against"
        vector = self.bank.vectors([words])[0]
        cosine = float((np.vstack(rows) @ vector).max())
        if cosine < self.min_support:
            return f"no sentence of {marks} says this (closest {cosine:.2f})"
        return ""


def _prompt_units(prompt: str) -> list[str]:
    """The prompt's lines and sentences that a model might repeat: instructions (wrapped lines joined),
    the question, titles and labels; not the abstracts (copying a cited abstract is judged as a claim)."""
    units: list[str] = []
    paragraph: list[str] = []

    def close() -> None:
        if paragraph:
            units.extend(plain(s) for s in split_sentences(" ".join(paragraph)))
            paragraph.clear()

    for raw in prompt.splitlines():
        line = raw.strip()
        if not line or line.startswith(("<!--", "-->")):
            close()
            continue
        if re.match(r"^(?:abstract|answering sentence)\s*:", line, re.IGNORECASE):  # abstract text
            close()
            continue
        units.append(plain(line))
        paragraph.append(line)
    close()
    return [u for u in dict.fromkeys(units) if u]


class SentenceFilter:
    """The model's text -> its supported sentences, as they complete. Tokens go in (`feed`); each sentence
    is judged once it is complete and, when supported, handed to `emit` as neutralised Markdown, so a
    stream shows only checked text and the final text is exactly what was streamed. Headings and lead-in
    lines ("Key points:") are shown only before a kept sentence."""

    def __init__(self, judge: SupportJudge, emit: Callable[[str], None] | None = None) -> None:
        self.judge = judge
        self.emit = emit
        self.reset()

    def reset(self) -> None:
        """Forget everything (a second request with fewer sources starts again)."""
        self.report = SupportReport()
        self._raw = ""  # text of the current, unfinished line
        self._done = 0  # sentences of the current line already judged
        self._line_kept = False
        self._line_echo: bool | None = None
        self._pending: list[str] = []  # headings / lead-ins waiting for a kept sentence
        self._blank = False  # a blank line since the last kept sentence
        self._seen: set[str] = set()
        self._out: list[str] = []
        self._held: list[str] = []  # kept sentences not yet handed on (the rule is not met yet)
        self._released = False

    def start(self, prompt: str, valid: Sequence[int]) -> None:
        self.judge.set_prompt(prompt, valid)
        self.reset()

    @property
    def text(self) -> str:
        return "".join(self._out)

    def feed(self, token: str) -> None:
        self._raw += token
        while "\n" in self._raw:
            line, self._raw = self._raw.split("\n", 1)
            self._line(line, complete=True)
            self._end_line(line)
        if self._raw.strip():
            self._line(self._raw, complete=False)

    def finish(self, *, cut: bool) -> SupportReport:
        """Judge what is left. The last sentence is dropped as unfinished when the stream was `cut`
        and it does not end with . ! ? (or, when the model finished, with a citation)."""
        line, self._raw = self._raw, ""
        if line.strip():
            self._line(line, complete=True, last=True, cut=cut)
            self._end_line(line)
        self.report.text = self.text.strip()
        return self.report

    # --- internals ---------------------------------------------------------------------------------------

    def _line(self, line: str, *, complete: bool, last: bool = False, cut: bool = False) -> None:
        bullet = _BULLET_RE.match(line)
        body = line[bullet.end() :] if bullet else line
        if not body.strip():
            return
        if _HEADING_RE.match(line):
            if complete:
                self._pending = [p for p in self._pending if not _HEADING_RE.match(p)]
                self._pending.append(neutralise_markdown(line.strip()))
            return
        sentences = _sentences(body)
        ready = sentences if complete else sentences[:-1]
        if self._line_echo is None and (ready or complete):
            self._line_echo = self.judge.line_echoes(line)
        for index in range(self._done, len(ready)):
            sentence = ready[index]
            self._done = index + 1
            if self._line_echo:
                continue
            if last and index == len(ready) - 1 and not _finished(sentence, strict=cut):
                self.report.unfinished = sentence.strip()
                continue
            self._sentence(sentence, bullet.group(1) if bullet else "")

    def _end_line(self, line: str) -> None:
        if self._line_echo and line.strip():
            self.report.echo_lines += 1
        if not line.strip():
            self._blank = True
        if self._line_kept:
            self._blank = False
        self._raw_reset()

    def _raw_reset(self) -> None:
        self._done = 0
        self._line_kept = False
        self._line_echo = None

    def _sentence(self, raw: str, bullet: str) -> None:
        shown = neutralise_markdown(raw).strip()
        words = plain(shown)
        key = words.lower()
        if says_not_found(key):
            self.report.not_found = True
            self.report.ignored.append((shown, "says it could not find the answer"))
            return
        count = len(re.findall(r"\w+", _CJK_RE.sub(" ", words))) + len(_CJK_RE.findall(words)) // 2
        if count < MIN_WORDS or _TRUNCATED_RE.search(shown):
            self.report.ignored.append((shown, "a fragment, not a sentence"))
            return
        if words.rstrip().endswith((":", "：")):
            self._pending = [p for p in self._pending if _HEADING_RE.match(p)] + [shown]
            return
        if key in self._seen:
            self.report.ignored.append((shown, "repeats an earlier sentence"))
            return
        self._seen.add(key)
        check, removed = self.judge.judge(shown)
        self.report.checks.append(check)
        self.report.removed_citations = sorted(set(self.report.removed_citations) | set(removed))
        if check.verdict in ("supported", "unjudged"):
            self._keep(check.text, bullet)

    def _keep(self, text: str, bullet: str) -> None:
        pieces: list[str] = []
        started = bool(self._out)
        if not self._line_kept:
            for pending in self._pending:
                pieces.append(("\n\n" if started else "") + pending)
                started = True
            self._pending = []
            gap = "\n\n" if (self._blank or not bullet) else "\n"
            pieces.append((gap if started else "") + (bullet.strip() + " " if bullet else "") + text)
        else:  # the next sentence of the same line; Chinese sentences follow one another without a space
            chinese = bool(_CJK_RE.match(text)) and self._out[-1].rstrip().endswith(("。", "！", "？"))
            pieces.append(("" if chinese else " ") + text)
        self._line_kept = True
        self._blank = False
        chunk = "".join(pieces)
        self._out.append(chunk)
        self._release(chunk)

    def _release(self, chunk: str) -> None:
        """Hand a kept sentence on, once the answer so far meets the decision rule (two supported, at
        least half): a reply whose first sentences already fail is never shown at all, since it will most
        likely be replaced by the quoted answer."""
        if self.emit is None:
            return
        self._held.append(chunk)
        if not self._released and not self.report.passes:
            return
        self._released = True
        for held in self._held:
            self.emit(held)
        self._held.clear()


def _sentences(body: str) -> list[str]:
    """The sentences of a line; citation marks after a "?" or "!" ("... verifier? [1]") stay with it, and
    Chinese sentences (ended by 。！？, no space after) are split too."""
    merged: list[str] = []
    for sentence in (piece for english in split_sentences(body) for piece in _split_chinese(english)):
        lead = _LEADING_MARKS_RE.match(sentence)
        if merged and lead and merged[-1].rstrip().endswith(("?", "!")):
            merged[-1] = f"{merged[-1]} {lead.group(0).strip()}"
            sentence = sentence[lead.end() :]
        if sentence.strip():
            merged.append(sentence)
    return merged


# A Chinese sentence's end: 。！？, closing quotes, then the citations that belong to it ("知识。[1]").
_CHINESE_END_RE = re.compile(r"[。！？][”’」』）]*(?:(?:\s*\[\d{1,3}(?:\s*[,;\-–]\s*\d{1,3})*\])+[。.]?)?")


def _split_chinese(text: str) -> list[str]:
    """A run of Chinese sentences, one per item (an English text comes back whole)."""
    pieces: list[str] = []
    start = 0
    for match in _CHINESE_END_RE.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


_LEADING_MARKS_RE = re.compile(r"^(?:\[\s*\d{1,3}(?:\s*[,;\-–]\s*\d{1,3})*\s*\][.,;]?\s*)+")


def _finished(sentence: str, *, strict: bool) -> bool:
    if _FINISHED_RE.search(sentence):
        return True
    return not strict and bool(_CITATION_END_RE.search(sentence))


def check_text(judge: SupportJudge, text: str) -> SupportReport:
    """The report on a finished text (what a stream would have given, in one go)."""
    sentence_filter = SentenceFilter(judge)
    sentence_filter.feed(text)
    return sentence_filter.finish(cut=False)
