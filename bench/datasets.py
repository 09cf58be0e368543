"""Retrieval benchmark datasets: BEIR-layout folders and known-item query sets built from arXiv listings.

Known-item sets (one relevant paper per query) come from the papers themselves, so no labelling is needed:

- `sentence`: a sentence from the middle of the abstract, verbatim (someone pasting a half-remembered line).
- `comment`: the paper's arXiv comment when it is unique in the corpus and says more than page counts
  (a project URL, a workshop name). The comment is indexed lexically but not embedded.
- `paraphrase-terms`: what a reader who remembers what a paper is about, but not its title, types: a short
  request made of 5 of the abstract's most distinctive terms (corpus IDF) wrapped in a plain phrase
  ("papers on ..."). No query word shares a Porter stem with any title word (checked with SQLite's own
  FTS5 tokenizer, the one the lexical index uses).
- `paraphrase-sentence`: a middle sentence of the abstract with every title word, every stopword and
  a third of the remaining words removed, at most 10 words: the gist of a finding, in fewer words and
  without the title's vocabulary.

The rule-made "paraphrases" above test retrieval when the query shares no words with the title, not true
rewording with synonyms. Every set is split deterministically into `dev` and `test` halves by a hash of the
paper id; tune on `dev`, report `test`.

Two hand-written sets (by a language-model helper reading each abstract, before any retrieval run; how:
bench/data/README.md), one question per paper, split into halves like the rest:

- `paraphrase-written`: 80 questions in other words than the paper's own (descriptions instead of its
  terms), bench/data/june_paraphrases.jsonl: the hardest case, vocabulary mismatch on purpose.
- `natural-written`: 100 questions in a researcher's own words, none of the title's distinctive words,
  field terms allowed, no 3-word run copied from the abstract, bench/data/june_natural.jsonl.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from assistant.core.errors import UserFacingError
from assistant.core.paper import Paper
from assistant.store.stems import StemCache

WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)  # FTS5 unicode61 token boundaries (letters and digits)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_STOPWORDS_TEXT = (
    "a an and are as at be been being but by can could do does done for from had has have how however i "
    "if in into is it its itself may might more most much must no not of on one only or other our ours "
    "over per same should since so some such than that the their them then there these they this those "
    "through thus to too two under up upon us very via was we well were what when where whether which "
    "while who whose why will with within without would yet you your also both each either here first "
    "new based using use used show shows shown propose proposed present presents introduce introduces "
    "paper work approach method methods results result further across among between toward towards about "
    "against while whereas e g i.e etc et al "
)
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_BOILERPLATE = re.compile(
    r"\b(\d+\s*(pages?|figures?|figs?|tables?|appendix|appendices)|pages?|figures?|tables?|preprint|"
    r"under review|submitted|accepted|to appear|camera[- ]ready|version|v\d+)\b",
    re.IGNORECASE,
)
DATA_DIR = Path(__file__).resolve().parent / "data"
WRITTEN_PARAPHRASES = DATA_DIR / "june_paraphrases.jsonl"
WRITTEN_SETS = {"paraphrase-written": WRITTEN_PARAPHRASES, "natural-written": DATA_DIR / "june_natural.jsonl"}
_TEMPLATES = ("papers on {}", "{}", "work about {}", "looking for {}", "research on {}")


@dataclass
class QuerySet:
    """Queries and graded relevance judgements (qid -> {doc id: grade})."""

    name: str
    description: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    split: str = "all"

    def __len__(self) -> int:
        return len(self.queries)


@dataclass
class BeirDataset:
    corpus: list[Paper]
    query_set: QuerySet
    skipped_docs: int = 0


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD_RE.findall(text)]


def split_of(paper_id: str) -> str:
    return "dev" if int(hashlib.sha1(paper_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def middle_sentences(abstract: str) -> list[str]:
    """Sentences that are neither the first nor the last, of a length a person would paste."""
    sentences = [s.strip() for s in _SENTENCE_SPLIT.split(abstract) if s.strip()]
    inner = sentences[1:-1]
    return [s for s in inner if 8 <= len(s.split()) <= 45]


def informative_comment(comment: str | None) -> str | None:
    if not comment:
        return None
    rest = _BOILERPLATE.sub(" ", comment)
    content = [w for w in words(rest) if w not in STOPWORDS and not w.isdigit() and len(w) > 1]
    return comment.strip() if len(content) >= 3 else None


class KnownItemBuilder:
    """Builds the known-item query sets from papers that are in the index."""

    def __init__(self, papers: list[Paper], seed: int = 13) -> None:
        self.papers = sorted(papers, key=lambda p: p.id)
        self.seed = seed
        self.stems = StemCache()
        vocab = set()
        for paper in self.papers:
            vocab.update(words(paper.title))
            vocab.update(words(paper.abstract))
        self.stems.fill(vocab)
        df: Counter[str] = Counter()
        for paper in self.papers:
            df.update({self.stems.stem(w) for w in words(paper.abstract)})
        n = max(1, len(self.papers))
        self.idf = {stem: math.log(n / count) for stem, count in df.items()}

    def _title_stems(self, paper: Paper) -> set[str]:
        return {self.stems.stem(w) for w in words(paper.title)}

    def _title_free(self, paper: Paper, text: str) -> list[str]:
        """Content words of `text` (in order, first occurrence) sharing no stem with the title."""
        banned = self._title_stems(paper)
        kept: list[str] = []
        seen: set[str] = set()
        for word in words(text):
            stem = self.stems.stem(word)
            if word in STOPWORDS or len(word) < 3 or word.isdigit() or stem in banned or stem in seen:
                continue
            seen.add(stem)
            kept.append(word)
        return kept

    def sentence(self, n: int) -> QuerySet:
        rng = random.Random(self.seed)
        queries: dict[str, str] = {}
        for paper in self._sample(rng, n, lambda p: bool(middle_sentences(p.abstract))):
            queries[paper.id] = rng.choice(middle_sentences(paper.abstract))
        return self._known("sentence", "a verbatim sentence from the middle of the abstract", queries)

    def comment(self, n: int) -> QuerySet:
        rng = random.Random(self.seed + 1)
        counts = Counter((p.comment or "").strip().lower() for p in self.papers)
        usable = [
            p
            for p in self.papers
            if informative_comment(p.comment) and counts[(p.comment or "").strip().lower()] == 1
        ]
        chosen = rng.sample(usable, min(n, len(usable)))
        queries = {p.id: (p.comment or "").strip() for p in chosen}
        return self._known("comment", "the paper's arXiv comment (unique, more than page counts)", queries)

    def paraphrase_terms(self, n: int, terms: int = 5, pool: int = 12) -> QuerySet:
        rng = random.Random(self.seed + 2)
        queries: dict[str, str] = {}
        for paper in self._sample(rng, n, lambda p: len(self._title_free(p, p.abstract)) >= terms + 3):
            candidates = self._title_free(paper, paper.abstract)
            ranked = sorted(candidates, key=lambda w: -self.idf.get(self.stems.stem(w), 0.0))[:pool]
            picked = set(rng.sample(ranked, terms))
            ordered = [w for w in candidates if w in picked]  # abstract order reads more naturally
            title = self._title_stems(paper)
            templates = [t for t in _TEMPLATES if not title & {self.stems.stem(w) for w in words(t)}]
            queries[paper.id] = rng.choice(templates).format(" ".join(ordered))
        return self._known(
            "paraphrase-terms",
            f"{terms} of the abstract's {pool} most distinctive terms, none sharing a stem with the title",
            queries,
        )

    def paraphrase_gist(self, n: int, terms: int = 5, low: float = 0.002, high: float = 0.05) -> QuerySet:
        """What people remember of a paper is its gist, not its rarest identifiers: common-enough topic words
        (in 0.2%-5% of the abstracts) from the abstract, none sharing a stem with the title."""
        rng = random.Random(self.seed + 4)
        n_docs = max(1, len(self.papers))
        lo, hi = math.log(1 / high), math.log(1 / max(low, 1 / n_docs))

        def gist_words(paper: Paper) -> list[str]:
            return [
                w
                for w in self._title_free(paper, paper.abstract)
                if lo <= self.idf.get(self.stems.stem(w), 0) <= hi
            ]

        queries: dict[str, str] = {}
        for paper in self._sample(rng, n, lambda p: len(gist_words(p)) >= terms + 2):
            candidates = gist_words(paper)
            picked = set(rng.sample(candidates, terms))
            queries[paper.id] = " ".join(w for w in candidates if w in picked)
        return self._known(
            "paraphrase-gist",
            f"{terms} title-free abstract words found in 0.2%-5% of abstracts (topic words, not identifiers)",
            queries,
        )

    def paraphrase_sentence(self, n: int, keep: float = 0.67, max_words: int = 10) -> QuerySet:
        rng = random.Random(self.seed + 3)
        queries: dict[str, str] = {}

        def usable(paper: Paper) -> bool:
            return any(len(self._title_free(paper, s)) >= 6 for s in middle_sentences(paper.abstract))

        for paper in self._sample(rng, n, usable):
            options = [s for s in middle_sentences(paper.abstract) if len(self._title_free(paper, s)) >= 6]
            kept = self._title_free(paper, rng.choice(options))
            thinned = [w for w in kept if rng.random() < keep] or kept[:4]
            queries[paper.id] = " ".join(thinned[:max_words])
        return self._known(
            "paraphrase-sentence",
            "a middle sentence without title words and stopwords, a third of the rest dropped, <= 10 words",
            queries,
        )

    def all_sets(self, n: int) -> list[QuerySet]:
        return [
            self.sentence(n),
            self.comment(n),
            self.paraphrase_terms(n),
            self.paraphrase_gist(n),
            self.paraphrase_sentence(n),
        ]

    def _sample(self, rng: random.Random, n: int, keep: object) -> list[Paper]:
        usable = [p for p in self.papers if keep(p)]  # type: ignore[operator]
        return rng.sample(usable, min(n, len(usable)))

    @staticmethod
    def _known(name: str, description: str, queries: dict[str, str]) -> QuerySet:
        return QuerySet(
            name=name,
            description=description,
            queries={f"{name}:{pid}": text for pid, text in queries.items()},
            qrels={f"{name}:{pid}": {pid: 1} for pid in queries},
        )


def restrict_split(query_set: QuerySet, split: str) -> QuerySet:
    """Keep the queries whose (first) relevant paper falls in `split` ('dev', 'test' or 'all')."""
    if split == "all":
        return query_set
    keep = {qid for qid, rel in query_set.qrels.items() if rel and split_of(sorted(rel)[0]) == split}
    return QuerySet(
        query_set.name,
        query_set.description,
        {q: t for q, t in query_set.queries.items() if q in keep},
        {q: r for q, r in query_set.qrels.items() if q in keep},
        split,
    )


# --- BEIR -----------------------------------------------------------------------------------------------


class DatasetError(UserFacingError, ValueError):
    """A dataset folder that is not in the expected layout (the message says what is missing)."""


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DatasetError(f"{path}:{lineno}: malformed JSON ({err.msg})") from None
    return rows


def load_written(
    path: Path, indexed: set[str], n: int | None = None, name: str = "paraphrase-written"
) -> QuerySet:
    """Hand-written known-item questions, one {"id": arXiv id, "query": text} per line.

    Questions whose paper is not in `indexed` are left out (the set is reused on smaller indexes)."""
    queries: dict[str, str] = {}
    for lineno, row in enumerate(_read_jsonl(path), start=1):
        paper_id, text = row.get("id"), row.get("query")
        if (
            not isinstance(paper_id, str)
            or not isinstance(text, str)
            or not paper_id.strip()
            or not text.strip()
        ):
            raise DatasetError(f'{path}: record {lineno} needs a non-empty string "id" and "query"')
        if paper_id in queries:
            raise DatasetError(f"{path}: record {lineno} repeats paper {paper_id}")
        queries[paper_id.strip()] = text.strip()
    kept = dict(list((pid, q) for pid, q in queries.items() if pid in indexed)[:n])
    return QuerySet(
        name=name,
        description=f"hand-written questions ({path.name}, {len(kept)} of {len(queries)} papers indexed)",
        queries={f"{name}:{pid}": text for pid, text in kept.items()},
        qrels={f"{name}:{pid}": {pid: 1} for pid in kept},
    )


def load_beir(folder: Path, split: str = "test") -> BeirDataset:
    """A BEIR dataset: corpus.jsonl ({_id, title, text}), queries.jsonl ({_id, text}), qrels/<split>.tsv."""
    corpus_path, queries_path, qrels_path = (
        folder / "corpus.jsonl",
        folder / "queries.jsonl",
        folder / "qrels" / f"{split}.tsv",
    )
    for path in (corpus_path, queries_path, qrels_path):
        if not path.is_file():
            raise DatasetError(f"{folder} is not a BEIR dataset: {path.relative_to(folder)} is missing")
    corpus: list[Paper] = []
    skipped = 0
    for row in _read_jsonl(corpus_path):
        doc_id, text = str(row.get("_id", "")).strip(), (row.get("text") or "").strip()
        title = (row.get("title") or "").strip()
        if not doc_id or not (text or title):
            skipped += 1
            continue
        corpus.append(Paper(id=doc_id, title=title or text[:80], abstract=text or title))
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split("\t")
            if lineno == 1 and parts and parts[0] in ("query-id", "query_id", "qid"):
                continue
            if len(parts) < 3 or not line.strip():
                continue
            try:
                grade = int(float(parts[2]))
            except ValueError:
                raise DatasetError(f"{qrels_path}:{lineno}: score {parts[2]!r} is not a number") from None
            if grade > 0:
                qrels.setdefault(parts[0], {})[parts[1]] = grade
    queries = {
        str(r["_id"]): str(r.get("text", "")) for r in _read_jsonl(queries_path) if str(r.get("_id")) in qrels
    }
    qrels = {q: rel for q, rel in qrels.items() if q in queries}
    if not queries:
        raise DatasetError(f"{folder}: no query in queries.jsonl has a judgement in {qrels_path.name}")
    name = folder.name
    return BeirDataset(
        corpus, QuerySet(name, f"BEIR dataset {name} ({split} qrels)", queries, qrels, split), skipped
    )
