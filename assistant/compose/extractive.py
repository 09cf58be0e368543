"""Extractive mode: answers and briefings composed of sentences quoted from the retrieved abstracts, ranked
by query-sentence similarity with the same embedding model the index uses. Deterministic and free.

`SentenceBank` owns the one cache of abstract-sentence vectors (per paper id and content hash, bounded),
shared by the answerer, the briefing composer and the citation support check.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.compose.citations import (
    drop_reference_marks,
    escape_markdown,
    lexical_support,
)
from assistant.compose.safe_markdown import without_tags
from assistant.core.i18n import t
from assistant.core.paper import Paper
from assistant.search.topic import content_stems
from assistant.store.embedding import Embedder

_ABBREVIATIONS = frozenset(
    str.split("e.g i.e et al etc vs cf fig figs eq eqs ref refs sec approx resp no dr prof mr ms st ca viz")
)
_BOUNDARY_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_WORDS_RE = re.compile(r"\S+")
MIN_WORDS = 5
MAX_WORDS = 90
DUPLICATE_COSINE = 0.92
CANDIDATES_PER_PAPER = 3


def split_sentences(text: str) -> list[str]:
    """Sentences of an abstract; abbreviations (e.g., et al., Fig.) and decimals do not end a sentence."""
    text = re.sub(r"\s+", " ", text or "").strip()
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        candidate = text[start : match.start()].strip()
        last_word = candidate.rsplit(" ", 1)[-1].rstrip(".!?").lower() if candidate else ""
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue  # "et al. Smith", "J. Doe": not a boundary
        sentences.append(candidate)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def is_quotable(sentence: str) -> bool:
    """Long enough to say something, short enough to read, and not just a pointer to code or data."""
    words = len(_WORDS_RE.findall(sentence))
    if words < MIN_WORDS or words > MAX_WORDS:
        return False
    lowered = sentence.lower()
    return not (("http" in lowered or "github" in lowered or "www." in lowered) and words < 25)


@dataclass(frozen=True)
class PaperSentences:
    paper_id: str
    sentences: list[str]
    vectors: np.ndarray  # one unit row per sentence


class SentenceBank:
    """Sentence vectors cached per sentence text (bounded LRU), so a paper seen before costs nothing and
    only the sentences a ranking actually needs are encoded. Thread-safe."""

    def __init__(self, embedder: Embedder | Callable[[], Embedder], max_sentences: int = 100_000) -> None:
        # A callable defers loading the model until a sentence is first encoded.
        self._embedder = embedder
        self.max_sentences = max_sentences
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._split: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if not isinstance(self._embedder, Embedder):
            self._embedder = self._embedder()
        return self._embedder

    def sentences(self, paper: Paper) -> list[str]:
        key = (paper.id, paper.content_hash)
        with self._lock:
            cached = self._split.get(key)
            if cached is not None:
                return cached
        sentences = split_sentences(paper.abstract)
        with self._lock:
            self._split[key] = sentences
            while len(self._split) > self.max_sentences // 8:
                self._split.popitem(last=False)
        return sentences

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """One unit row per text; the texts not seen before are encoded in one batch."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            encoded = self.embedder.encode(missing)
            with self._lock:
                for text, vector in zip(missing, encoded, strict=True):
                    self._vectors[text] = vector
                while len(self._vectors) > self.max_sentences:
                    self._vectors.popitem(last=False)
        with self._lock:
            rows = []
            for text in texts:
                vector = self._vectors.get(text)
                if vector is None:  # evicted between the two locks by a very large concurrent batch
                    vector = self.embedder.encode([text])[0]
                else:
                    self._vectors.move_to_end(text)
                rows.append(vector)
        return np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def get_many(self, papers: Sequence[Paper]) -> dict[str, PaperSentences]:
        """Every sentence of each paper with its vector (one encode batch for all that are missing)."""
        split = {paper.id: self.sentences(paper) for paper in papers}
        flat = [s for sentences in split.values() for s in sentences]
        matrix = self.vectors(flat) if flat else np.zeros((0, 0), dtype=np.float32)
        result: dict[str, PaperSentences] = {}
        offset = 0
        for paper_id, sentences in split.items():
            result[paper_id] = PaperSentences(paper_id, sentences, matrix[offset : offset + len(sentences)])
            offset += len(sentences)
        return result


# Whether a sentence says what the question asks for: names the list's topic, or holds a filter
# follow-up's condition words ("which of these use transformers?" -> a sentence with "Transformer").
Focus = Callable[[str], bool]
OFF_FOCUS_PENALTY = 0.2  # a paper none of whose sentences says it ranks under those that do


def lexical_candidates(
    query_text: str, sentences: Sequence[str], keep: int, focus: Focus | None = None
) -> list[int]:
    """Positions of the quotable sentences sharing most content words with the query (earlier first on
    ties): the cheap first stage before the embedding ranks them. With `focus`, only the sentences it
    accepts, when the paper has any: the sentence that answers, not the background opening it."""
    quotable = [position for position, sentence in enumerate(sentences) if is_quotable(sentence)]
    if focus is not None:
        focused = [position for position in quotable if focus(sentences[position])]
        quotable = focused or quotable
    query_words = content_stems(query_text)
    scored = [(len(content_stems(sentences[position]) & query_words), position) for position in quotable]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return sorted(position for _, position in scored[:keep])


@dataclass(frozen=True)
class Quote:
    number: int  # source number ([n])
    paper_id: str
    sentence: str
    score: float
    position: int  # sentence index in the abstract


def rank_quotes(
    query: np.ndarray,
    query_text: str,
    numbered: Sequence[tuple[int, Paper, float]],
    bank: SentenceBank,
    *,
    limit: int,
    per_paper: int = 2,
    candidates_per_paper: int = CANDIDATES_PER_PAPER,
    min_score: float = 0.15,
    focus: Focus | None = None,
) -> list[Quote]:
    """The best quotable sentences for a query across papers: (number, paper, paper relevance) triples.

    Two stages: each paper's sentences sharing most words with the query (`candidates_per_paper`; with
    `focus`, among the sentences it accepts), then score = query-sentence cosine + a small bonus for the
    paper's relevance (ties go to the better paper); with `focus`, a sentence it does not accept loses
    OFF_FOCUS_PENALTY, so papers that say what was asked are quoted first.
    Near-duplicate sentences (cosine > 0.92, or the same text) are kept once."""
    if focus is not None:  # quote only the papers that say what was asked, when any does
        saying = [n for n in numbered if says_focus(n[1], bank, focus)]
        numbered = saying or numbered
    picked: list[tuple[int, Paper, float, int, str]] = []
    for number, paper, relevance in numbered:
        sentences = bank.sentences(paper)
        for position in lexical_candidates(query_text, sentences, candidates_per_paper, focus):
            picked.append((number, paper, relevance, position, sentences[position]))
    matrix = bank.vectors([p[4] for p in picked]) if picked else np.zeros((0, 0), dtype=np.float32)
    candidates: list[tuple[float, int, int, str, np.ndarray, str]] = []
    for (number, paper, relevance, position, sentence), vector in zip(picked, matrix, strict=True):
        score = float(vector @ query) + 0.15 * relevance
        if focus is not None and not focus(sentence):
            score -= OFF_FOCUS_PENALTY
        candidates.append((score, number, position, sentence, vector, paper.id))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    chosen: list[Quote] = []
    chosen_vectors: list[np.ndarray] = []
    seen_text: set[str] = set()
    taken: dict[int, int] = {}
    for score, number, position, sentence, vector, paper_id in candidates:
        if len(chosen) >= limit:
            break
        if score < min_score and chosen:
            break
        norm = re.sub(r"\W+", " ", sentence.lower()).strip()
        if norm in seen_text or taken.get(number, 0) >= per_paper:
            continue
        if any(float(vector @ other) > DUPLICATE_COSINE for other in chosen_vectors):
            continue
        chosen.append(Quote(number, paper_id, sentence, score, position))
        chosen_vectors.append(vector)
        seen_text.add(norm)
        taken[number] = taken.get(number, 0) + 1
    return chosen


def says_focus(paper: Paper, bank: SentenceBank, focus: Focus) -> bool:
    """Whether the paper's title or one of its quotable sentences says what was asked."""
    return focus(paper.title) or any(focus(s) for s in bank.sentences(paper) if is_quotable(s))


def cite(sentence: str, numbers: Sequence[int]) -> str:
    """`sentence` shown literally (paper text is data; HTML tags and the paper's own reference marks
    dropped) with its citation before the final full stop: "... result [2]."."""
    marks = "".join(f"[{n}]" for n in numbers)
    text = escape_markdown(drop_reference_marks(without_tags(sentence))).strip()
    if text.endswith("."):
        return f"{text[:-1]} {marks}."
    return f"{text} {marks}"


def compose_answer(quotes: Sequence[Quote], titles: dict[int, str]) -> str:
    """Bullets, one per paper in the order of the sources (the most relevant first; a filter follow-up's
    earlier papers before the others), each sentence cited."""
    by_number: dict[int, list[Quote]] = {}
    for quote in quotes:
        by_number.setdefault(quote.number, []).append(quote)
    lines = [t("answer.from_abstracts"), ""]
    for number, group in sorted(by_number.items()):
        body = " ".join(cite(q.sentence, [number]) for q in sorted(group, key=lambda q: q.position))
        lines.append(f"- *{titles[number]}*: {body}")
    return "\n".join(lines)


def sentence_support(
    sentences: Sequence[str], evidence: Sequence[PaperSentences], sentence_vectors: np.ndarray
) -> list[float]:
    """For each sentence: its best cosine against the evidence sentences (0 when there is none)."""
    rows = [e.vectors for e in evidence if len(e.sentences)]
    if not rows or not len(sentences):
        return [0.0] * len(sentences)
    matrix = np.vstack(rows)
    return [float(v) for v in (sentence_vectors @ matrix.T).max(axis=1)]


def lexical_score(sentence: str, evidence: Sequence[PaperSentences], titles: Sequence[str]) -> float:
    return lexical_support(sentence, [*titles, *(" ".join(e.sentences) for e in evidence)])


# --- briefing sentences: what a paper does for a topic, and what it leaves open -----------------------------

# A stated limitation, open problem or future work (the only sentences a briefing lists as open questions).
LIMITATION_CUES = re.compile(
    r"\b(?:remains?|remained)\s+(?:largely\s+|still\s+|an?\s+|poorly\s+|highly\s+)?"
    r"(?:open|unclear|unknown|unexplored|under-?explored|elusive|unresolved|unsolved|understudied|"
    r"understood|uncertain|unaddressed|challenging|difficult|limited|an?\s+open)\b"
    r"|\bremains?\s+to\s+be\s+(?:seen|explored|determined|investigated|understood|established)\b"
    r"|\bopen\s+(?:research\s+)?(?:questions?|problems?|challenges?|issues?)\b"
    r"|\bfuture\s+(?:work|research|directions?|studies|investigations?)\b"
    r"|\blimitations?\b"
    r"|\b(?:it\s+is|it's)\s+(?:still\s+|not\s+yet\s+|currently\s+|also\s+)?(?:unknown|unclear|"
    r"not\s+(?:known|clear|understood|well\s+understood))\b"
    r"|\blittle\s+is\s+known\b|\bpoorly\s+understood\b|\bnot\s+(?:yet\s+|well\s+|fully\s+)understood\b"
    r"|\b(?:has|have)\s+(?:not\s+(?:yet\s+)?been|yet\s+to\s+be)\s+(?:systematically\s+|thoroughly\s+)?"
    r"(?:studied|explored|addressed|investigated|examined|established|evaluated|understood)\b"
    r"|\b(?:under-?explored|unexplored|understudied)\b"
    r"|\bwhether\b[^.]*\b(?:unclear|unknown|open)\b",
    re.IGNORECASE,
)
# "To address this limitation, we propose ..." states the paper's method, not an open problem.
_METHOD_FRAME = re.compile(
    r"\b(?:to|we|this\s+paper|this\s+work)\s+(?:address|addresses|overcome|overcomes|mitigate|mitigates|"
    r"tackle|tackles|alleviate|resolve|solve|bridge|fill|fills|propose|proposes|introduce|introduces|"
    r"present|presents|develop|design)\b",
    re.IGNORECASE,
)
_STRONG_OPEN = re.compile(
    r"\bfuture\s+(?:work|research|directions?)\b|\bopen\s+(?:questions?|problems?)\b|\bremains?\s+unclear\b"
    r"|\bremains?\s+an?\s+open\b|\bit\s+is\s+(?:still\s+)?(?:unknown|unclear)\b",
    re.IGNORECASE,
)
_CONTRIBUTION = re.compile(
    r"\b(?:we|this\s+(?:paper|work|study)|our\s+(?:method|approach|framework|work|results?|analysis))\s+"
    r"(?:\w+\s+)?(?:propose|present|introduce|develop|design|show|find|demonstrate|study|investigate|"
    r"analy[sz]e|evaluate|benchmark|formulate|derive|provide|report|build|release)",
    re.IGNORECASE,
)


def states_open_problem(sentence: str) -> bool:
    """A question, or a sentence stating a limitation, an open problem or future work; not a method
    description that merely mentions one ("To address this limitation, we propose ...")."""
    text = sentence.strip()
    if text.endswith("?"):
        return True
    if not LIMITATION_CUES.search(text):
        return False
    return not _METHOD_FRAME.search(text) or bool(_STRONG_OPEN.search(text))


def topic_sentence(
    query: np.ndarray, query_text: str, paper: Paper, bank: SentenceBank, avoid: set[str]
) -> str | None:
    """The sentence of the abstract that best says what the paper does for the topic: close in meaning to
    the topic, preferably a contribution ("we propose ...", "this paper shows ..."), never the opening
    (background) sentence when there is another, never a sentence in `avoid` (already quoted)."""
    sentences = bank.sentences(paper)
    usable = [(i, s) for i, s in enumerate(sentences) if is_quotable(s) and s not in avoid]
    later = [(i, s) for i, s in usable if i > 0]
    usable = later or usable
    if not usable:
        return None
    vectors = bank.vectors([s for _, s in usable])
    topic_words = content_stems(query_text)
    best: tuple[float, str] | None = None
    for (_, sentence), vector in zip(usable, vectors, strict=True):
        score = float(vector @ query)
        score += 0.15 if _CONTRIBUTION.search(sentence) else 0.0
        score += 0.05 if content_stems(sentence) & topic_words else 0.0
        score -= 0.1 if states_open_problem(sentence) else 0.0  # those go to the open questions
        if best is None or score > best[0]:
            best = (score, sentence)
    return best[1] if best else None
