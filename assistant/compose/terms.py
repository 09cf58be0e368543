"""Specific terms of a set of abstracts: the methods, datasets, tasks and benchmarks a briefing can name as
shared across fields ("gradient ascent", "LoRA", "MUSE benchmark"), never generic prose ("remarkable
success", "have been", "remove targeted").

Candidates are cheap to find (runs of content words, acronym-like names); whether one is a *term* is
decided by the catalog's statistics over the whole index: papers holding all its words mostly hold them as
this phrase, and many papers using its rarest word use it in this phrase (cohesion); and it must not be
everywhere (a phrase in 3% of all papers names no particular method). Acronyms of model families and
fields ("LLMs", "VLAs", "RL") are a field's vocabulary, not terms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assistant.compose.extractive import split_sentences
from assistant.search.words import GENERIC_WORDS as SHARED_GENERIC_WORDS

# Heads of method names the shared list counts as generic prose: "contrastive learning", "adversarial
# training", "synthetic data" are terms.
_METHOD_HEADS = frozenset({"learning", "training", "data"})
# Words that never start or end a term: the project's generic words (assistant.search.words) and more
# reporting verbs, evaluative adjectives and generic nouns.
GENERIC_WORDS = (SHARED_GENERIC_WORDS - _METHOD_HEADS) | frozenset(
    str.split(
        "during before after against around beyond despite cost costs overhead accuracy efficiency quality "
        "a an and are as at be been being but by can could do does did for from has have had how i in into "
        "is it its of on or our so such than that the their them then there these they this those to was "
        "were we what when where which who why will with within without would you your about over under "
        "between across using use used uses via vs not no nor also both each more most other some any all "
        "many much few several same given prior previous current recent recently new novel existing further "
        "more less approach approaches method methods model models result results paper papers work works "
        "study studies propose proposes proposed present presents presented introduce introduces introduced "
        "show shows shown showed demonstrate demonstrates demonstrated performance framework frameworks "
        "task tasks problem problems analysis based experiments experimental evaluation evaluate evaluated "
        "however different various large significant significantly improve improves improved improvement "
        "improvements first well high higher low lower key main extensive remarkable impressive promising "
        "strong stronger effective efficiently efficient robust state-of-the-art art sota real-world real "
        "world wide widely highly particularly especially often still while whereas although because since "
        "thus hence therefore able enable enables enabling achieve achieves achieving achieved provide "
        "provides providing provided allow allows allowing lead leads leading make makes made remain "
        "remains remained remaining limited limitation limitations challenge challenges challenging "
        "available publicly code github https http www com org release released success successes way ways "
        "terms term set sets number numbers type types kind kinds level levels range part parts case cases "
        "example examples aspect aspects fact factor factors need needs find finds found consider considers "
        "considered outperform outperforms outperforming baseline baselines important importance critical "
        "crucial common commonly typically usually generally various specific specifically particular "
        "overall multiple single one two three four five six seven eight nine ten even only just very up "
        "down out here through toward towards upon among whether if"
    )
)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
_BREAK = re.compile(r"[,;:()\[\]{}\"'`=+*/<>|]|\s-\s|\s–\s|\s—\s")
_NAMED_SUFFIX = frozenset({"benchmark", "benchmarks", "dataset", "datasets", "suite", "corpus"})
MAX_SHARE = 0.03  # a phrase in more papers than this names nothing in particular ("language models")
MAX_NAME_SHARE = 0.02  # an acronym-like name in more papers than this is a field's vocabulary
MIN_COHESION = 0.1  # share of the papers holding the phrase's rarest word that hold the phrase
MIN_TOGETHER = 0.4  # share of the papers holding all its words that hold them as the phrase
# Acronyms every paper of a field uses: language/vision model families, field names, hardware.
_FIELD_ACRONYM = re.compile(
    r"^(?:[A-Z]{0,3}LMs?|VLAs?|VLMs?|LRMs?|MLLMs?|AI|AGI|ML|DL|RL|NLP|CV|GPUs?|CPUs?|CNNs?|RNNs?|DNNs?|"
    r"GNNs?|SOTA|API|APIs)$"
)


def _is_name(token: str) -> bool:
    """An acronym-like name: LoRA, MUSE, TOFU, GPT-4o, CIFAR-10 (two capitals, or a capital after a lower)."""
    core = token.split("-")[0]
    return len(core) >= 3 and (sum(ch.isupper() for ch in core) >= 2 or bool(re.search(r"[a-z][A-Z]", core)))


def _content(token: str) -> bool:
    low = token.lower()
    if _is_name(token):
        return True
    return (
        len(low) > 3
        and low not in GENERIC_WORDS
        and not low.endswith("ly")
        and not any(ch.isdigit() for ch in low)
    )


def candidate_terms(text: str, max_words: int = 3) -> set[str]:
    """Runs of content words cut into 2..max_words-grams, plus acronym-like names ("LoRA") and a name with
    its kind ("MUSE benchmark"). Lower-cased except names; stop- and generic words cut runs."""
    found: set[str] = set()
    for sentence in split_sentences(text):
        for chunk in _BREAK.split(sentence):
            tokens = [re.sub(r"-based$", "", t) for t in _TOKEN.findall(chunk)]
            run: list[str] = []
            for position, token in enumerate([*tokens, ""]):
                if token and _content(token):
                    run.append(token)
                    if _is_name(token):
                        found.add(token)
                        following = tokens[position + 1].lower() if position + 1 < len(tokens) else ""
                        if following in _NAMED_SUFFIX:
                            found.add(f"{token} {following}")
                    continue
                for size in range(2, max_words + 1):
                    for start in range(0, len(run) - size + 1):
                        words = run[start : start + size]
                        if any(_is_name(w) for w in words):
                            continue  # names stand alone ("LoRA"), not "LoRA adapters fine"
                        found.add(" ".join(w.lower() for w in words))
                run = []
    return found


def stem_key(term: str) -> str:
    """A crude key so "membership inference attacks" and "membership inference attack", "medical images"
    and "medical imaging" count once."""
    return " ".join(re.sub(r"(?:ing|ions?|ed|es|s|e)$", "", w.lower())[:6] for w in term.split())


@dataclass(frozen=True)
class TermStats:
    papers: int  # papers of the index holding the phrase (title or abstract)
    total: int  # papers in the index
    cohesion: float  # papers / papers holding its rarest word
    together: float  # papers / papers holding all its words anywhere

    @property
    def share(self) -> float:
        return self.papers / self.total if self.total else 1.0


def term_stats(
    term: str,
    phrase_counts: Mapping[str, int],
    word_counts: Mapping[str, int],
    cooccurrence: Mapping[str, int],
    total: int,
) -> TermStats:
    """`phrase_counts[term]`: papers holding the phrase; `word_counts[word]`: papers holding each word;
    `cooccurrence[term]`: papers holding all its words anywhere (`Catalog.phrase_frequencies`)."""
    words = [w.lower() for w in term.split()]
    papers = phrase_counts.get(term, 0)
    if len(words) == 1:
        return TermStats(papers, total, 1.0, 1.0)
    rarest = min(max(word_counts.get(w, 0), 1) for w in words)
    return TermStats(papers, total, papers / rarest, papers / max(cooccurrence.get(term, 0), 1))


def is_specific(term: str, stats: TermStats) -> bool:
    """A method/dataset/benchmark name by the index's statistics (see the module docstring)."""
    if stats.papers < 1 or stats.total == 0:
        return False
    words = term.split()
    if len(words) == 1:
        return _is_name(term) and not _FIELD_ACRONYM.match(term) and stats.share <= MAX_NAME_SHARE
    if words[-1].lower() in _NAMED_SUFFIX and _is_name(words[0]):
        return not _FIELD_ACRONYM.match(words[0])  # "MUSE benchmark"
    return stats.share <= MAX_SHARE and stats.cohesion >= MIN_COHESION and stats.together >= MIN_TOGETHER


def is_topic_only(term: str, topic_words: Sequence[str]) -> bool:
    """The topic's own words ("machine unlearning") or its acronym ("MoE" for "mixture of experts") are
    not a finding about the topic."""
    stems = {stem_key(w) for w in topic_words}
    if all(stem_key(w) in stems for w in term.split()):
        return True
    parts = [p for w in topic_words for p in w.split("-") if p]
    initials = {
        "".join(p[0] for p in parts).lower(),
        "".join(p[0] for p in parts if p.lower() not in GENERIC_WORDS).lower(),
    }
    return " " not in term and re.sub(r"s$", "", term).lower() in initials
