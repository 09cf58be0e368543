"""The English words this index's papers use for a topic asked in another language ("知识蒸馏" ->
"knowledge distillation", "扩散模型" -> "diffusion"), found without a model: the list finder decides
membership by the words papers write, and the abstracts are English.

The multilingual (e5) index brings the papers closest to the foreign topic; the phrase they share far more
often than the rest of the index does is the topic's English name. A phrase is scored by how much more
common it is among those papers than in the index (p * log(p / q): p its share of the nearest papers, q
its share of all papers), so "diffusion" wins over "model" (everywhere) and over a word only two of the
nearest papers hold. It is only as good as e5's neighbours: on June, "机器遗忘" (machine unlearning) gets
"memory" and "脑电" (EEG) "brain" (bench lists --language zh); the answer's notice names the phrase used.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.search.words import CLAIM_STOPWORDS, GENERIC_WORDS
from assistant.store.multilingual import get_multilingual_encoder

if TYPE_CHECKING:
    from assistant.core.paper import Paper
    from assistant.search.retrieval import Retriever

PIVOT_DEPTH = 30  # nearest papers read for the phrase
MIN_DEPTH = 5  # on a small index: an eighth of it, at least this many (all of it would tell nothing)
MIN_SHARE = 0.2  # a phrase must be in at least this share of them (and in 3)
TITLES_PER = 15  # ... and in the titles of one in this many of them (at least one)
LONGER_SHARE = 0.5  # a longer phrase holding the best one wins when this share of its papers hold it
MAX_WORDS = 3
_WORD_RE = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")  # "3D", "MoE", "GPT-4o"
_SENTENCE_BREAK_RE = re.compile(r"[.;:!?()\[\]]")


@dataclass(frozen=True)
class Pivot:
    """A foreign topic's English name in this index, with its share of the nearest papers and its score."""

    english: str
    share: float  # of the nearest papers that hold it
    score: float


def phrases_of(text: str) -> set[str]:
    """The candidate phrases of a text: runs of 1-3 words within a clause that neither start nor end with
    a function word and hold at least one word that is not generic ("diffusion models", not "the model")."""
    found: set[str] = set()
    for clause in _SENTENCE_BREAK_RE.split(text):
        words = [w.lower() for w in _WORD_RE.findall(clause)]
        for size in range(1, MAX_WORDS + 1):
            for start in range(len(words) - size + 1):
                gram = words[start : start + size]
                if gram[0] in CLAIM_STOPWORDS or gram[-1] in CLAIM_STOPWORDS:
                    continue
                if all(w in GENERIC_WORDS or len(w) < 3 for w in gram):
                    continue
                found.add(" ".join(gram))
    return found


def english_topic(retriever: Retriever, topic: str) -> Pivot | None:
    """The English phrase the papers nearest to `topic` share (None without a multilingual index, or when
    no phrase is common enough among them to stand for the topic)."""
    index = retriever.multilingual
    if index is None:
        return None
    vector = get_multilingual_encoder(retriever.settings.storage.cache_dir / "models").query(topic)
    depth = min(PIVOT_DEPTH, max(MIN_DEPTH, retriever.catalog.count() // 8))
    nearest = [pid for pid, _ in index.nearest(vector, depth)]
    papers = retriever.catalog.get_papers(nearest)
    return best_phrase(list(papers.values()), retriever)


def best_phrase(papers: list[Paper], retriever: Retriever) -> Pivot | None:
    """The phrase of `papers` most over-represented against the whole index."""
    if not papers:
        return None
    counts: Counter[str] = Counter()
    in_titles: Counter[str] = Counter()
    for paper in papers:
        counts.update(phrases_of(f"{paper.title}. {paper.abstract}"))
        in_titles.update(phrases_of(paper.title))
    needed = max(3, math.ceil(MIN_SHARE * len(papers)))
    # A topic's name is in titles too: prose words ("yet", "while") common among a few papers are not.
    titled = max(1, math.ceil(len(papers) / TITLES_PER))
    common = [phrase for phrase, n in counts.items() if n >= needed and in_titles[phrase] >= titled]
    if not common:
        return None
    catalog = retriever.catalog
    total = max(catalog.count(), 1)
    frequencies = catalog.phrase_frequencies(common)
    scored: list[Pivot] = []
    for phrase in common:
        p = counts[phrase] / len(papers)
        q = max(frequencies.get(phrase, 0), counts[phrase]) / total
        if q < p:
            scored.append(Pivot(phrase, p, p * math.log(p / q)))
    if not scored:
        return None
    best = max(scored, key=lambda pivot: pivot.score)
    # "knowledge distillation" over "distillation": the field's name for it, when half as many hold it
    longer = [
        pivot
        for pivot in scored
        if f" {best.english} " in f" {pivot.english} "
        and pivot.english != best.english
        and pivot.share >= LONGER_SHARE * best.share
    ]
    return max(longer, key=lambda pivot: pivot.score) if longer else best
