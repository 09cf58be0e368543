"""What "about this topic" means, in one place: a topic's key words, the phrases and acronyms researchers
write for it, and how a paper's text holds them. List answers, briefings, the radar and filter follow-ups
all judge a paper against a topic through this module.

Three tests, from cheapest to strictest:

* `key_words` / `topic_coverage`: the topic's rarest words by the catalog's statistics and the share of
  their weight a paper holds (the briefing's test, and the filter follow-up's).
* `TopicTerms.evidence`: where the paper names the topic (the phrase or an acronym of it, in the title or
  the abstract, with plural, hyphenation and case variants), or only its key words; a phrase glued into a
  longer compound ("reaction-diffusion model", "drift-diffusion model") is a different term.
* the list finder (`assistant.search.lists`) adds meaning: a paper that names the topic's words is a
  member only when its vector is close to the papers that name the topic squarely.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.search.words import (
    CLAIM_STOPWORDS,
    FUNCTION_WORDS,
    GENERIC_WORDS,
    MORE_FUNCTION_WORDS,
    QUESTION_STOPWORDS,
)

if TYPE_CHECKING:
    from assistant.core.paper import Paper
    from assistant.store.catalog_store import CatalogStore

KEY_WORD_FACTOR = 4  # a query word held by at most 4x as many papers as its rarest word is a key word
_TOKEN_RE = re.compile(r"[\w][\w\-']*", re.UNICODE)
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z\-]+|\d+(?:\.\d+)?")
_PHRASE_WORD_RE = re.compile(r"[A-Za-z0-9]+")
_STEM = 6
_GLUE = FUNCTION_WORDS | MORE_FUNCTION_WORDS  # never a word that gives the head its sense

# Acronyms researchers write for common topics, both ways. The learned ones (`learn_acronyms`) add to them.
ACRONYMS: dict[str, str] = {
    "RAG": "retrieval augmented generation",
    "MoE": "mixture of experts",
    "3DGS": "3D Gaussian splatting",
    "VLA": "vision language action",
    "LLM": "large language model",
    "MLLM": "multimodal large language model",
    "VLM": "vision language model",
    "GNN": "graph neural network",
    "NeRF": "neural radiance field",
    "RLHF": "reinforcement learning from human feedback",
    "LoRA": "low rank adaptation",
    "ViT": "vision transformer",
    "SAE": "sparse autoencoder",
    "PINN": "physics informed neural network",
    "SNN": "spiking neural network",
    "CoT": "chain of thought",
    "GAN": "generative adversarial network",
    "VAE": "variational autoencoder",
    "DPO": "direct preference optimization",
    "EEG": "electroencephalography",
    "fMRI": "functional magnetic resonance imaging",
    "KD": "knowledge distillation",
}
_ACRONYM_SHAPE = re.compile(r"^(?=.*[A-Z].*[A-Z0-9])[A-Za-z0-9]{2,8}$")


def fts_terms(text: str) -> list[str]:
    """The text's content words as quoted FTS5 terms (safe whatever the user typed)."""
    words = [w.strip("-'").lower() for w in _TOKEN_RE.findall(text)]
    terms = list(dict.fromkeys(w for w in words if w and w not in FUNCTION_WORDS and len(w) > 1))[:64]
    return [f'"{t}"' for t in terms]


def content_stems(text: str) -> set[str]:
    """Lower-cased word prefixes without stop words: a cheap, inflection-tolerant bag of words."""
    words = (w.lower() for w in _WORD_RE.findall(text))
    return {w[:_STEM] for w in words if w not in CLAIM_STOPWORDS and len(w) > 2}


def topic_words(question: str) -> list[str]:
    """The words a question is about, in order: what it asks for ("tell me", "papers", "latest") dropped
    around them, the glue inside a term kept ("mixture of experts")."""
    words = [w.strip("-'") for w in _TOKEN_RE.findall(question)]
    words = [w for w in words if w and "'" not in w]
    keep = [i for i, w in enumerate(words) if w.lower() not in QUESTION_STOPWORDS]
    if not keep:
        return []
    inner = words[keep[0] : keep[-1] + 1]
    # glue inside a term is one function word between two content words ("mixture of experts")
    return [
        w
        for i, w in enumerate(inner)
        if w.lower() not in QUESTION_STOPWORDS
        or (
            0 < i < len(inner) - 1
            and w.lower() in FUNCTION_WORDS
            and inner[i - 1].lower() not in QUESTION_STOPWORDS
            and inner[i + 1].lower() not in QUESTION_STOPWORDS
        )
    ]


@dataclass(frozen=True)
class KeyWordMatch:
    """How a paper holds a query's key words: their IDF-weighted share (0..1), how many, out of how many."""

    share: float
    held: int
    keys: int


def key_words(catalog: CatalogStore, query: str) -> dict[str, float]:
    """The query's key words (FTS5 terms) with their BM25 IDF: the rarest word the index holds and those
    nearly as rare (held by at most KEY_WORD_FACTOR times as many papers). "unlearning" in "machine
    unlearning" (20 papers against 306 for "machine" in June); "medical" and "segmentation" but not
    "image" in "medical image segmentation"."""
    terms = fts_terms(query)
    if not terms:
        return {}
    query_terms = catalog.query_terms(terms)
    total = max(query_terms.total, 1)
    held = [(n, t) for n, t in zip(query_terms.frequencies, query_terms.terms, strict=True) if n > 0]
    if not held:
        return {}
    rarest = min(n for n, _ in held)
    return {
        t: math.log((total - n + 0.5) / (n + 0.5) + 1.0) for n, t in held if n <= KEY_WORD_FACTOR * rarest
    }


def topic_coverage(catalog: CatalogStore, query: str, ids: Sequence[str]) -> dict[str, KeyWordMatch]:
    """For each paper: how it holds the query's key words (`key_words`)."""
    weights = key_words(catalog, query) if ids else {}
    if not weights:
        return {pid: KeyWordMatch(0.0, 0, 0) for pid in ids}
    holders = catalog.term_holders_many(list(weights), list(ids))
    full = sum(weights.values())
    matches = {}
    for pid in ids:
        held = [t for t in weights if pid in holders[t]]
        matches[pid] = KeyWordMatch(sum(weights[t] for t in held) / full, len(held), len(weights))
    return matches


COMPOUND_KEYS = 4  # a topic of this many key words or more is compound: any two of them will do


def holds_key_words(match: KeyWordMatch | None, min_share: float) -> bool:
    """Most of the key words' weight (`min_share`); a compound topic (four or more key words, "machine
    unlearning and safety of language and vision models") asks for any two of them."""
    if match is None or match.held == 0:
        return False
    return match.share >= min_share or (match.keys >= COMPOUND_KEYS and match.held >= 2)


def holds_every_key_word(match: KeyWordMatch | None) -> bool:
    """Squarely on topic by its words: the paper holds every key word of the topic."""
    return match is not None and match.keys > 0 and match.share >= 0.999


# --- phrases, acronyms and where a paper names the topic ----------------------------------------------


def _word_pattern(word: str) -> str:
    """A word with the inflections researchers write: plural, "-based" compounds are separate words."""
    base = re.escape(word.lower())
    if word.lower().endswith("y") and len(word) > 3:
        return base[:-1] + "(?:y|ies)"
    if word.lower().endswith("s") and len(word) > 3:
        return base + "?(?:es)?"
    return base + "(?:s|es)?"


def phrase_regex(phrase: str) -> re.Pattern[str]:
    """The phrase with its words separated by spaces or hyphens, plural or not, any case; not when it is
    glued to a longer compound before it ("reaction-diffusion model" is not "diffusion model")."""
    words = _PHRASE_WORD_RE.findall(phrase)
    body = r"[\s\-]+".join(_word_pattern(w) for w in words)
    return re.compile(r"(?<![\w\-])" + body + r"(?![\w])", re.IGNORECASE)


def acronym_regex(acronym: str) -> re.Pattern[str]:
    """An acronym as written (case kept: "RAG", not "rag"), plural or hyphenated on ("RAG-based")."""
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(acronym) + r"s?(?![A-Za-z0-9])")


def is_acronym(word: str) -> bool:
    return bool(_ACRONYM_SHAPE.match(word)) and not word.islower() and not word.istitle()


def learn_acronyms(phrase: str, texts: Iterable[str], min_papers: int = 2) -> list[str]:
    """Acronyms the papers define for the phrase ("3D Gaussian Splatting (3DGS)"), written by at least
    `min_papers` of them."""
    pattern = re.compile(phrase_regex(phrase).pattern + r"\s*\(([A-Za-z0-9\-]{2,10})\)", re.IGNORECASE)
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({re.sub(r"(?<=[A-Z0-9])s$", "", m.group(1)) for m in pattern.finditer(text)})
    return [a for a, n in counts.most_common() if n >= min_papers and is_acronym(a)]


# Words that add nothing to a term an acronym stands for ("VLA models", "RAG systems", "LLM methods").
GENERIC_HEADS = frozenset(
    f"{word}{ending}"
    for word in ("model", "method", "system", "framework", "technique", "network", "pipeline", "agent")
    for ending in ("", "s")
) | {"approach", "approaches", "policy", "policies"}


_CONTEXT_RE = re.compile(
    r"^(?P<core>\S.*?)\s+(?:in|for|on|with|within|across|under)\s+(?P<context>\S.*)$", re.IGNORECASE
)


def split_context(topic: str) -> tuple[str, str] | None:
    """A topic of the form "X in/for/on/with Y" as (X, Y): "machine unlearning in large language models" is
    about machine unlearning, in the context of LLMs (a paper must be about both, not name them side by
    side). None when the topic has no such glue, or one side would hold no content word, or the whole is a
    term of its own ("mixture of experts" never splits: "of" is not a context glue)."""
    match = _CONTEXT_RE.match(topic.strip())
    if match is None:
        return None
    core, context = match.group("core").strip(), match.group("context").strip()
    if not topic_words(core) or not topic_words(context):
        return None
    if any(phrase_regex(expansion).fullmatch(topic) for expansion in ACRONYMS.values()):
        return None
    return core, context


def trim_to_content(words: Sequence[str]) -> list[str]:
    """The words from the first to the last content word ("mixture of experts" keeps its "of")."""
    content = [i for i, w in enumerate(words) if w.lower() not in FUNCTION_WORDS]
    return list(words[content[0] : content[-1] + 1]) if content else []


@dataclass(frozen=True)
class TopicTerms:
    """A topic as papers write it: the phrase, its acronyms (case-sensitive) and the expansions of the
    acronyms it is written in, each as a phrase."""

    topic: str
    phrases: tuple[str, ...]  # "diffusion models"; "retrieval augmented generation"
    acronyms: tuple[str, ...]  # "RAG"
    sense: Sense | None = None  # the head word and the neighbours that make it this topic

    @functools.cached_property
    def phrases_regex(self) -> re.Pattern[str]:
        """All the phrases in one pattern (one scan of a text instead of one per phrase)."""
        if not self.phrases:
            return re.compile(r"(?!x)x")
        return re.compile("|".join(f"(?:{phrase_regex(p).pattern})" for p in self.phrases), re.IGNORECASE)

    @classmethod
    def of(cls, topic: str, texts: Iterable[str] = ()) -> TopicTerms:
        """The topic's phrases and acronyms: a typed acronym expands ("RAG" -> retrieval augmented
        generation), a typed phrase gains its known acronym and those the papers define (`texts`)."""
        words = topic_words(topic) or topic.split()
        phrase = " ".join(words)
        phrases = [phrase] if phrase else []
        acronyms: list[str] = []
        by_lower = {a.lower(): a for a in ACRONYMS}
        for word in words:
            known = by_lower.get(word.lower())
            if known and (is_acronym(word) or len(words) == 1):
                acronyms.append(known)
                expansion = ACRONYMS[known]
                phrases.append(phrase.replace(word, expansion) if len(words) > 1 else expansion)
        if phrase and not acronyms:
            for acronym, expansion in ACRONYMS.items():
                pattern = phrase_regex(expansion)
                rest = pattern.sub(" ", phrase).split() if pattern.search(phrase) else None
                if rest is not None and all(w.lower() in GENERIC_HEADS for w in rest):
                    acronyms.append(acronym)  # "vision-language-action models": VLA is the topic
                elif rest is not None:
                    # Part of the topic ("large language models" of "machine unlearning in large language
                    # models"): the acronym names that part only, so it is a way of writing the phrase
                    # ("machine unlearning in LLMs"), never the topic on its own (every LLM paper).
                    phrases.append(pattern.sub(acronym, phrase, count=1))
            acronyms += learn_acronyms(phrase, texts)
        return cls(topic, tuple(dict.fromkeys(phrases)), tuple(dict.fromkeys(acronyms)))

    @property
    def fts_variants(self) -> list[list[str]]:
        """Each way of writing the topic as the FTS5 content words a paper must all hold."""
        variants = [fts_terms(p) for p in self.phrases]
        variants += [[f'"{a.lower()}"'] for a in self.acronyms]
        return [v for v in variants if v]

    def names_topic(self, text: str) -> bool:
        """Whether a text names the topic: one of its phrases or acronyms, as a term of its own, or its
        head word next to a word that makes it this topic ("video diffusion", "diffusion transformer")."""
        return (
            bool(self.phrases_regex.search(text))
            or any(
                acronym_regex(a).search(text) and not self.defined_otherwise(text, a) for a in self.acronyms
            )
            or (self.sense is not None and self.sense.holds(text))
        )

    def _writes_acronym(self, text: str, acronym: str) -> bool:
        return bool(acronym_regex(acronym).search(text)) and not self.defined_otherwise(text, acronym)

    def defined_otherwise(self, text: str, acronym: str) -> bool:
        """Whether the text spells the acronym out as something else ("Residual-based Adversarial
        Generation (RAG)"): then it is another term that happens to share the letters."""
        spelled = re.finditer(r"((?:[\w\-]+\s+){1,6})\(" + re.escape(acronym) + r"s?\)", text)
        words = [m.group(1) for m in spelled]
        return bool(words) and not any(phrase_regex(p).search(w) for w in words for p in self.phrases)

    def evidence(self, paper: Paper) -> int:
        """How directly the paper names the topic: 4 in its title, 3 in its abstract; its head word in the
        title (2) or the abstract (1) next to no word the topic's papers use it with; 0 only the words,
        scattered. A head word whose sense could not be learned (too few papers name the topic) in the
        title counts as 3."""
        if self.names_topic(paper.title):
            return 4
        if self.names_topic(paper.abstract):
            return 3
        if self.sense is not None:
            head = phrase_regex(self.sense.head)
            if head.search(paper.title):
                return 2 if self.sense.collocates else 3
            if head.search(paper.abstract):
                return 1
        return 0

    def with_sense(self, sense: Sense | None) -> TopicTerms:
        """These terms, also naming the topic by its head word in a sense the index's papers use it in."""
        return TopicTerms(self.topic, self.phrases, self.acronyms, sense)

    def contexts(self, paper: Paper, width: int = 40) -> list[str]:
        """Where the paper writes the topic's words (for notes and hand-checking)."""
        text = f"{paper.title}. {paper.abstract}"
        found = []
        for pattern in [phrase_regex(p) for p in self.phrases] + [acronym_regex(a) for a in self.acronyms]:
            for m in pattern.finditer(text):
                found.append(text[max(0, m.start() - width) : m.end() + width].replace("\n", " "))
        return found


# --- the sense a head word is used in ------------------------------------------------------------------


def _singular(word: str) -> str:
    """ "Transformers" and "transformer" are one neighbour (a plural "s" dropped, not "ss")."""
    word = word.lower()
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def neighbours(text: str, pattern: re.Pattern[str]) -> set[str]:
    """The word right before ("<image") and after (">transformer") each occurrence."""
    found: set[str] = set()
    for match in pattern.finditer(text):
        before = [w for w in _PHRASE_WORD_RE.findall(text[max(0, match.start() - 60) : match.start()])]
        after = [w for w in _PHRASE_WORD_RE.findall(text[match.end() : match.end() + 60])]
        # The words right next to it, unless a sentence or clause ends between them.
        if before and not re.search(r"[.;:!?]\s*$", text[max(0, match.start() - 3) : match.start()]):
            found.add("<" + _singular(before[-1]))
        if after and not re.match(r"\s*[.;:!?,]", text[match.end() :]):
            found.add(">" + _singular(after[0]))
    return found


@dataclass(frozen=True)
class Sense:
    """A topic's head word ("diffusion" of "diffusion models") and the words next to it in the papers that
    name the topic ("video", "latent", "transformer", "based"): the head word next to one of them is the
    topic; next to others ("reaction-", "information", "MRI") it is another sense of the word."""

    head: str
    collocates: frozenset[str] | None  # None: the head alone names the topic ("Gaussian splatting")

    def holds(self, text: str) -> bool:
        if self.collocates is None:
            return bool(phrase_regex(self.head).search(text))
        return bool(neighbours(text, phrase_regex(self.head)) & self.collocates)

    @classmethod
    def learn(cls, head: str, named: Sequence[str], min_share: float = 0.01) -> Sense | None:
        """The neighbours of `head` in at least 2 (and `min_share`) of the texts that name the topic. A head
        of two words or more is specific enough alone ("retrieval augmented", "Gaussian splatting")."""
        if len(head.split()) > 1:
            return cls(head, None)
        if len(named) < 3:
            return cls(head, frozenset())
        pattern = phrase_regex(head)
        counts: Counter[str] = Counter()
        for text in named:
            counts.update(neighbours(text, pattern))
        least = max(2, math.ceil(min_share * len(named)))
        kept = (w for w, n in counts.items() if n >= least and w[1:] not in _GLUE)
        return cls(head, frozenset(kept))


def head_of(phrase: str, keys: Iterable[str], frequencies: dict[str, int] | None = None) -> str:
    """The span of the phrase from its first to its last key word ("diffusion" of "diffusion models");
    a phrase of three words or more ending in a word far more common than the others drops it
    ("retrieval augmented" of "retrieval augmented generation": "retrieval-augmented framework")."""
    words = _PHRASE_WORD_RE.findall(phrase)
    wanted = {k.strip('"') for k in keys}
    marks = [i for i, w in enumerate(words) if w.lower() in wanted]
    head = words[marks[0] : marks[-1] + 1] if marks else words
    if frequencies and len(head) >= 3:
        last = frequencies.get(head[-1].lower(), 0)
        shorter = trim_to_content(head[:-1])
        content = [w for w in shorter if w.lower() not in FUNCTION_WORDS]
        if len(content) >= 2 and last >= 2 * max(frequencies.get(w.lower(), 0) for w in content):
            head = shorter
    while len(head) > 1 and head[-1].lower() in GENERIC_WORDS:  # "models" is no part of the head
        head = head[:-1]
    return " ".join(head)
