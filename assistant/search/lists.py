"""List questions ("which papers use diffusion models?"): every indexed paper on the topic, within the
active filters, best first. Not a top-k search with a cosine cutoff: a short question's embedding is vague
(papers titled "...Video Diffusion Models" have a cosine of 0.13 to it), so membership is decided by what
the paper is about:

1. candidates: every paper whose title or abstract holds all the words of one way of writing the topic
   (the phrase, an acronym, an acronym's expansion), found by the catalog's lexical index, not a top-k;
2. evidence: the topic named in the title, named in the abstract, or only its words scattered
   (`TopicTerms.evidence`; a longer compound, "reaction-diffusion model", does not name it);
3. meaning: each candidate's vector against the centroid of the papers that name the topic in their
   title (the topic as this index writes it: a far better probe than the question's own vector); the
   less direct the evidence, the closer it must be. "Thermal diffusion" holds the word, not the meaning.

When nothing holds the words, the closest papers in meaning are given instead, and said to be so.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from assistant.core.language import detect
from assistant.search.hit import Hit
from assistant.search.same_work import merge_same_work
from assistant.search.topic import (
    Sense,
    TopicTerms,
    fts_terms,
    head_of,
    key_words,
    phrase_regex,
    split_context,
    topic_words,
)
from assistant.store.filter import PaperFilter

if TYPE_CHECKING:
    from assistant.core.paper import Paper
    from assistant.search.retrieval import Retriever

_PLURAL_NOUNS = r"(?:papers|works|articles|studies|preprints|publications|pieces of work)"
# "What do papers say about ...": a question to the papers, not for them.
_ASKING = r"(?:do|does|did|can|could|should|would|say|says|tell|think|show|suggest|report)"
_LIST_RE = re.compile(
    r"^\s*(?:"
    rf"(?:which|what)\s+(?:(?!{_ASKING}\b)[\w\-]+\s+){{0,3}}?{_PLURAL_NOUNS}\b"
    rf"|(?:list|show|find|give|get|search|fetch|collect|gather|name)\b.{{0,40}}?\b{_PLURAL_NOUNS}\b"
    rf"|(?:are|is)\s+there\s+(?:any\s+)?(?:[\w\-]+\s+){{0,2}}?{_PLURAL_NOUNS}\b"
    rf"|any\s+(?:[\w\-]+\s+){{0,2}}?{_PLURAL_NOUNS}\b"
    rf"|how\s+many\s+(?:[\w\-]+\s+){{0,2}}?{_PLURAL_NOUNS}\b"
    rf"|(?:all\s+|the\s+|recent\s+|new\s+|latest\s+)*{_PLURAL_NOUNS}\s+(?:on|about|since|from|after|in|that|using|with|for)\b"
    r"|(?:what|which)\s+(?:work|research)\s+(?:is|has|exists)\b"
    r"|what(?:'s|’s|\s+is)\s+new\s+(?:on|in|about|for)\b"
    r"|what\s+(?:has\s+been\s+)?(?:published|posted)\s+(?:on|about)\b"
    r")",
    re.IGNORECASE,
)
# Glue right after the papers word: "papers that use", "papers on", "works which apply".
_VERBS = (
    r"use|uses|using|used|apply|applies|applying|employ|employs|leverage|leverages|study|studies|address|"
    r"addresses|tackle|tackles|propose|proposes|discuss|discusses|investigate|investigates|explore|explores|"
    r"mention|mentions|involve|involves|are|is|were|was|have|has|do|does|deal|deals|focus|focuses|exist|"
    r"concern|concerns|introduce|introduces|present|presents|been|published|posted|appeared|there|new|"
    r"related|relating|relevant|dedicated|devoted"
)
_GLUE_RE = re.compile(rf"\b(?:{_VERBS})\b", re.IGNORECASE)
_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
            ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
            ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}  # fmt: skip
_DAY = (
    r"(?:(?P<iso>\d{4}-\d{2}-\d{2})"
    r"|(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{4}))?"
    r"|(?P<day2>\d{1,2})(?:st|nd|rd|th)?\s+(?P<mon2>[A-Za-z]{3,9})(?:,?\s+(?P<year2>\d{4}))?)"
)
_SINCE_RE = re.compile(rf"\b(?:since|after|from|starting)\s+(?:the\s+)?{_DAY}", re.IGNORECASE)
_UNTIL_RE = re.compile(rf"\b(?:until|till|before|up\s+to|through|to)\s+(?:the\s+)?{_DAY}", re.IGNORECASE)
_CATEGORY_RE = re.compile(r"\b(?:in\s+)?((?:cs|math|stat|physics|q-bio|q-fin|eess|econ|astro-ph|cond-mat)"
                          r"\.[A-Za-z\-]{2,5})\b")  # fmt: skip
_WORDS = re.compile(r"[A-Za-z0-9]+")
_FOLLOW_UP_RE = re.compile(r"^\s*(?:which|what)\s+of\s+(?:these|those|them|the\s+above)\b", re.IGNORECASE)

# Chinese list questions: "哪些论文使用了扩散模型？", "列出关于检索增强生成的论文",
# "有没有关于脑电的研究", "关于知识蒸馏的论文有哪些？", "6月22日以来关于扩散模型的论文有哪些".
# Not "这篇论文有哪些局限？" (a question to one paper): "有哪些" counts only right after the papers word at
# the end, or before it; "列出", "有没有" only at the start (prose says "显示出…研究").
_ZH_PAPERS = r"(?:论文|文章|研究|工作|文献|预印本)"
_ZH_LIST_RE = re.compile(
    rf"哪些(?:新的?|最新的?)?{_ZH_PAPERS}"
    rf"|哪些(?:关于|有关|涉及|针对|围绕|用到|使用)[^？?。]{{0,40}}?{_ZH_PAPERS}"
    rf"|{_ZH_PAPERS}(?:都)?(?:有哪些|有什么)[？?。!！\s]*$"
    rf"|^(?:请|帮我|麻烦)?(?:列出|列举|找出|找一下|给我看看|给我看|展示|显示|推荐|搜索|查找).{{0,40}}?{_ZH_PAPERS}"
    rf"|^.{{0,4}}?(?:有没有|是否有|有无).{{0,40}}?{_ZH_PAPERS}"
    rf"|有什么[^？?。]{{0,30}}?{_ZH_PAPERS}"
)
_ZH_ASKING_RE = re.compile(  # what is left of the asking once the topic is taken out
    rf"(?:都)?(?:有哪些|有什么|哪些)(?:新的?|最新的?)?|(?:新的?|最新的?|近期的?|最近的?)?{_ZH_PAPERS}"
    r"|列出|列举|找出|找一下|给我看看|给我看|展示|显示|推荐|搜索|查找|有没有|是否有|有无|请|一下|所有|全部"
    r"|关于|有关|涉及到?|针对|围绕|是关于|主题是|方面的?|领域的?|相关的?|使用了?|采用了?|用了|用到了?|利用了?"
    r"|应用了?|基于|提出了?|研究了?|讨论了?|最近|最新|近期|以来|之后|的|了|吗|呢|[，。？！?!、：:；;“”\"'（）()\s]"
)
_ZH_DAY_RE = re.compile(
    r"(?:自|从)?(?:(?P<year>\d{4})年)?(?P<month>\d{1,2})月(?P<day>\d{1,2})[日号](?P<which>以来|之后|以后|起|后|之前|以前|前)"
)
_LATIN_CATEGORY_RE = re.compile(  # "在cs.RO中": the category with the words around it
    r"(?:在|于)?\s*(?<![A-Za-z])((?:cs|math|stat|physics|q-bio|q-fin|eess|econ|astro-ph|cond-mat)\.[A-Za-z\-]{2,5})"
    r"(?![A-Za-z])\s*(?:中|里|内)?"
)


@dataclass(frozen=True)
class ListQuestion:
    """A question that asks for papers: the topic and the exact filters it names."""

    topic: str
    since: date | None = None
    until: date | None = None
    categories: tuple[str, ...] = ()
    language: str = "en"  # "zh": asked in Chinese, the topic too ("扩散模型"); see assistant.search.pivot

    def applied_to(self, flt: PaperFilter) -> PaperFilter:
        """The active filter narrowed by what the question names (the narrower of two dates wins)."""
        since = max((d for d in (flt.since, self.since) if d), default=None)
        until = min((d for d in (flt.until, self.until) if d), default=None)
        categories = self.categories or flt.categories
        return PaperFilter(
            categories=categories,
            sources=flt.sources,
            since=since,
            until=until,
            author=flt.author,
            exclude_ids=flt.exclude_ids,
            only_ids=flt.only_ids,
        )


def _day(match: re.Match[str], newest: date | None) -> date | None:
    """The day a date phrase names; a day without a year is in the index's newest year."""
    if match.group("iso"):
        try:
            return date.fromisoformat(match.group("iso"))
        except ValueError:
            return None
    month = _MONTHS.get((match.group("mon") or match.group("mon2") or "").lower())
    day = int(match.group("day") or match.group("day2") or 0)
    year_text = match.group("year") or match.group("year2")
    year = int(year_text) if year_text else (newest or date.today()).year
    if not month:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def is_filter_follow_up(question: str) -> bool:
    """ "which of these use transformers?": a condition over the previous answer's papers."""
    return bool(_FOLLOW_UP_RE.match(question))


def list_question(question: str, newest: date | None = None) -> ListQuestion | None:
    """The list question this is, or None: "which/what papers ...", "list/show me papers on ...", "what
    work is there on ...", "papers since June 15 about ...", "what's new on ...". The topic is what is
    left once the asking, the dates and the categories are taken out ("diffusion models")."""
    text = (question or "").strip()
    if text and detect(text) == "zh":
        return chinese_list_question(text, newest)
    if not text or is_filter_follow_up(text) or not _LIST_RE.match(text):
        return None
    since = until = None
    for regex, which in ((_SINCE_RE, "since"), (_UNTIL_RE, "until")):
        found = regex.search(text)
        if found and (day := _day(found, newest)):
            since, until = (day, until) if which == "since" else (since, day)
            text = text[: found.start()] + " " + text[found.end() :]
    categories = tuple(dict.fromkeys(m.group(1) for m in _CATEGORY_RE.finditer(text)))
    text = _CATEGORY_RE.sub(" ", text)
    text = _LIST_RE.sub(" ", text, count=1)
    text = _GLUE_RE.sub(" ", text)
    topic = " ".join(topic_words(text))
    if not topic:
        return None
    return ListQuestion(topic, since, until, categories)


def chinese_list_question(question: str, newest: date | None = None) -> ListQuestion | None:
    """The list question a Chinese question is, or None: the topic is what is left once the asking, the
    dates ("6月22日以来") and the categories are taken out ("扩散模型"; "RAG" when that is all it names)."""
    if not _ZH_LIST_RE.search(question):
        return None
    text, since, until = question, None, None
    for found in _ZH_DAY_RE.finditer(question):
        year = int(found.group("year")) if found.group("year") else (newest or date.today()).year
        try:
            day = date(year, int(found.group("month")), int(found.group("day")))
        except ValueError:
            continue
        if found.group("which") in ("之前", "以前", "前"):
            until = day
        else:
            since = day
        text = text.replace(found.group(0), " ")
    categories = tuple(dict.fromkeys(m.group(1) for m in _LATIN_CATEGORY_RE.finditer(text)))
    text = _LATIN_CATEGORY_RE.sub(" ", text)
    pieces = _ZH_ASKING_RE.sub(" ", text).split()
    # "有没有用RAG的论文": a leading 用 ("using") is asking too, once the words before it are gone
    topic = " ".join(piece.removeprefix("用") for piece in pieces).strip(" -")
    if not topic:
        return None
    return ListQuestion(topic, since, until, categories, language=detect(topic))


# --- membership -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """How close to the topic's centroid a candidate must be, by how directly it names the topic."""

    title: float = 0.25  # names it in the title: only a clearly different sense is dropped
    abstract: float = 0.35  # names it in the abstract
    head_in_title: float = 0.58  # its head word in the title, next to no word its papers use it with
    head: float = 0.60  # the same in the abstract
    words: float = 0.80  # holds its words, scattered: only the very closest


@dataclass
class TopicList:
    """Every paper on a topic within a filter, best first, and what was held back."""

    topic: str
    terms: TopicTerms
    members: list[Hit] = field(default_factory=list)
    other_sense: list[Paper] = field(default_factory=list)  # held the words, about something else
    by_meaning_only: bool = False  # no paper holds the words: the closest in meaning instead
    # every candidate as judged: (id, evidence level, closeness to the topic), for benchmarks and notes
    judged: list[tuple[str, int, float]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.members)


MEANING_ONLY_MAX = 10
LEARNED_TOPICS = 32  # topics whose members one process keeps (a radar user's topics, repeated questions)


class ListFinder:
    """Finds every paper on a topic (see the module docstring). One per retriever."""

    def __init__(self, retriever: Retriever, thresholds: Thresholds | None = None) -> None:
        self.retriever = retriever
        self.thresholds = thresholds or Thresholds()
        # (topic, papers, newest ingest) -> the members learned over the whole index (bounded LRU)
        self._learned: OrderedDict[tuple[str, int, float], TopicList | None] = OrderedDict()
        self._lock = threading.Lock()

    def find(
        self, topic: str, flt: PaperFilter | None = None, condition: TopicTerms | None = None
    ) -> TopicList:
        """Every member of the topic within `flt`, best first; with `condition`, only those that also name
        it ("which of these use transformers?")."""
        flt = flt or PaperFilter()
        split = split_context(topic)
        if split is not None:
            within = self._within_context(topic, split, flt, condition)
            if within is not None:
                return within
        learned = self.learned(topic)
        if learned is None:
            result = TopicList(topic, TopicTerms.of(topic))
            result.members = self._by_meaning(topic, flt)
            result.by_meaning_only = bool(result.members)
            return result
        members, other_sense = learned.members, learned.other_sense
        if flt.active:
            holders = frozenset(h.paper.id for h in members) | frozenset(p.id for p in other_sense)
            narrowed = replace(flt, only_ids=holders & (flt.only_ids or holders))
            allowed = set(self.retriever.catalog.filter_ids(narrowed))
            members = [h for h in members if h.paper.id in allowed]
            other_sense = [p for p in other_sense if p.id in allowed]
        if condition is not None:
            members = [h for h in members if condition.names_topic(_text(h.paper))]
        return replace(learned, members=members, other_sense=other_sense)

    def learned(self, topic: str) -> TopicList | None:
        """The topic's members in the whole index (None: no paper holds its words), learned once per state
        of the catalog: a radar visit or a repeated list question filters them instead of learning again."""
        catalog = self.retriever.catalog
        key = (topic, catalog.count(), catalog.newest_ingested())
        with self._lock:
            if key in self._learned:
                self._learned.move_to_end(key)
                return self._learned[key]
        result = self._learn(topic)
        with self._lock:
            self._learned[key] = result
            while len(self._learned) > LEARNED_TOPICS:
                self._learned.popitem(last=False)
        return result

    def _learn(self, topic: str) -> TopicList | None:
        catalog = self.retriever.catalog
        terms = TopicTerms.of(topic)
        head = self._head(terms)
        # What the topic is (acronyms, the head word's sense, the centroid) is learned from every paper
        # holding its words; a filter then keeps its members: a date window never changes who is in.
        everyone = PaperFilter()
        ids = self._holders(terms.fts_variants + ([fts_terms(head)] if head else []), everyone)
        if not ids:
            return None
        result = TopicList(topic, terms)
        papers = catalog.get_papers(sorted(ids))
        if terms.phrases:  # the acronyms this index's papers define for the phrase ("3DGS")
            learned = TopicTerms.of(topic, (p.abstract for p in papers.values()))
            new = [[f'"{a.lower()}"'] for a in learned.acronyms if a not in terms.acronyms]
            extra = self._holders(new, everyone) - ids if new else set()
            papers.update(catalog.get_papers(sorted(extra)) if extra else {})
            terms = learned
        # Where each paper names the topic by phrase or acronym, worked out once.
        in_title = {pid: terms.names_topic(p.title) for pid, p in papers.items()}
        in_abstract = {pid: in_title[pid] or terms.names_topic(p.abstract) for pid, p in papers.items()}
        named = [f"{papers[pid].title}. {papers[pid].abstract}" for pid, yes in in_abstract.items() if yes]
        terms = terms.with_sense(Sense.learn(head, named)) if head else terms
        result.terms = terms
        evidence = {pid: _evidence(terms, p, in_title[pid], in_abstract[pid]) for pid, p in papers.items()}
        vectors = self.retriever.vectors.vectors_of(list(papers))
        query = self.retriever.embedder.encode_query(topic)
        centroid = _centroid(evidence, vectors, query)
        members: list[Hit] = []
        for pid, paper in papers.items():
            vector = vectors.get(pid)
            level = evidence[pid]
            if vector is None:  # waiting for its vector: its words alone
                if level >= 3:  # names the topic
                    members.append(Hit(paper, 0.1 * level, 0.0, has_vector=False))
                continue
            closeness = float(vector @ centroid)
            result.judged.append((pid, level, closeness))
            if closeness < self._needed(level):
                result.other_sense.append(paper)
                continue
            relevance = float(np.clip(vector @ query, 0.0, 1.0))
            members.append(Hit(paper, closeness + 0.5 * relevance + 0.05 * level, relevance))
        members.sort(key=lambda h: -h.score)
        result.members = merge_same_work(members)
        return result

    def _within_context(
        self, topic: str, split: tuple[str, str], flt: PaperFilter, condition: TopicTerms | None
    ) -> TopicList | None:
        """The members of "X in Y": the members of X that name Y ("machine unlearning" papers that name
        LLMs), or None when no paper on X names Y at all (the context is then no term papers write, "in
        recent work": the whole phrase is judged as one topic instead)."""
        core, context = split
        found = self.find(core, flt)
        if found.by_meaning_only:
            return None
        context_terms = TopicTerms.of(context)
        names = [h for h in found.members if context_terms.names_topic(_text(h.paper))]
        if not names:
            return None
        if condition is not None:
            names = [h for h in names if condition.names_topic(_text(h.paper))]
        return replace(found, topic=topic, members=names)

    def _head(self, terms: TopicTerms) -> str:
        """The phrase's head ("diffusion" of "diffusion models"): its span of rare words, when that is
        shorter than the phrase ("" otherwise). Papers holding it are candidates too ("Multimodal
        Diffusion Transformers" never writes "model"), judged by the sense it has there."""
        if not terms.phrases:
            return ""
        phrase = " ".join(_WORDS.findall(terms.phrases[0]))  # "retrieval-augmented" is two words here
        catalog = self.retriever.catalog
        counted = catalog.query_terms(fts_terms(phrase))
        frequencies = {t.strip('"'): n for t, n in zip(counted.terms, counted.frequencies, strict=True)}
        head = head_of(phrase, key_words(catalog, phrase), frequencies)
        return "" if head.lower() == phrase.lower() else head

    def _needed(self, level: int) -> float:
        t = self.thresholds
        return (t.words, t.head, t.head_in_title, t.abstract, t.title)[min(level, 4)]

    def _holders(self, variants: list[list[str]], flt: PaperFilter, limit: int = 1_000_000) -> set[str]:
        """Every paper (within `flt`) whose title or abstract holds all words of one variant."""
        found: set[str] = set()
        for words in variants:
            match = "{title abstract} : (" + " AND ".join(words) + ")"
            ranked = self.retriever.catalog.lexical_search(match, limit, flt if flt.active else None)
            found |= {pid for pid, _ in ranked}
        return found

    def _by_meaning(self, topic: str, flt: PaperFilter) -> list[Hit]:
        """The closest papers in meaning (over the usual relevance threshold), when none holds the words."""
        minimum = self.retriever.settings.fusion.min_relevance
        hits = self.retriever.search(topic, MEANING_ONLY_MAX, flt)
        return [h for h in hits if h.relevance >= minimum]


def _text(paper: Paper) -> str:
    return f"{paper.title}. {paper.abstract}"


def _evidence(terms: TopicTerms, paper: Paper, in_title: bool, in_abstract: bool) -> int:
    """`TopicTerms.evidence`, given where the phrase or acronym was already found."""
    sense = terms.sense
    if in_title or (sense is not None and sense.holds(paper.title)):
        return 4
    if in_abstract or (sense is not None and sense.holds(paper.abstract)):
        return 3
    if sense is not None:
        head = phrase_regex(sense.head)
        if head.search(paper.title):
            return 2 if sense.collocates else 3
        if head.search(paper.abstract):
            return 1
    return 0


def _centroid(evidence: dict[str, int], vectors: dict[str, np.ndarray], query: np.ndarray) -> np.ndarray:
    """The topic as this index writes it: the mean vector of the papers naming it most directly (the title
    when at least three do), its outlying fifth dropped; the question's vector when none names it."""
    for level in (4, 3, 0):
        chosen = [vectors[p] for p, lvl in evidence.items() if lvl >= level and p in vectors]
        if len(chosen) >= 3 or (level == 0 and chosen):
            break
    else:  # pragma: no cover - the loop always breaks at level 0 when any vector exists
        chosen = []
    if not chosen:
        return query / (np.linalg.norm(query) or 1.0)
    matrix = np.stack(chosen)
    mean = matrix.mean(axis=0)
    mean /= np.linalg.norm(mean) or 1.0
    if len(chosen) >= 5:
        closeness = matrix @ mean
        keep = matrix[closeness >= np.quantile(closeness, 0.2)]
        mean = keep.mean(axis=0)
        mean /= np.linalg.norm(mean) or 1.0
    return mean
