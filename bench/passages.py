"""Passage-level vectors and pseudo-relevance feedback, measured before either is built into search
(issue 29, part 2: the right paper among many).

A paraphrased question usually targets one claim of an abstract, and MiniLM reads only an abstract's first
256 tokens: scoring a paper by its best sentence might find it where its whole-abstract vector does not.
This bench embeds every indexed abstract's sentences once (cached beside the index), then ranks the
known-item questions (rule-made sets and the hand-written ones, `--split` half) eight ways:

- `dense`: the whole-abstract vectors alone, as search has them;
- `hybrid`: search as it is (dense + BM25, fused);
- `passage`: dense by the best sentence alone;
- `dense max`: dense by max(whole-abstract cosine, best-sentence cosine);
- `hybrid+passage`: the hybrid fusion with the dense list replaced by the `dense max` one;
- `hybrid rrf+passage`: the hybrid ranking and the `passage` ranking fused by reciprocal rank (weight w);
- `dense prf`, `hybrid prf`: pseudo-relevance feedback, the query vector moved halfway toward the mean of
  the hybrid ranking's top 3 papers (Rocchio), alone and as the dense list of the hybrid fusion;
- with `--e5` (an index with multilingual vectors): a second, different encoder, multilingual-e5-small over
  title + abstract (`e5`), fused with search three ways: its ranking and the hybrid one by reciprocal rank
  (`hybrid rrf+e5`), the mean of its cosine and MiniLM's as the fusion's dense list (`hybrid+e5 mix`), and
  as a third list beside dense and BM25 (`hybrid 3-way`);
- with `--tuned-model DIR` (a folder from `academichub tune-encoder`): every paper embedded again with the
  tuned encoder (cached), ranked by it alone (`tuned`), as the fusion's dense list (`hybrid tuned`: what an
  index built with the tuned encoder would serve) and as the mean of its cosine and the index's
  (`hybrid+tuned mix`).

    python -m bench.passages --home /tmp/june-copy --split dev

Tune on `dev`, report `test`. Exhaustive numpy scoring: the figures say whether passages help, not how
fast a built index would serve them.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from assistant.compose.extractive import split_sentences
from assistant.core.settings import get_settings
from assistant.engine import build_retriever
from assistant.search.retrieval import Candidates, FusionParams, Retriever, top_ids
from assistant.store.embedding import Embedder, get_embedder
from assistant.store.filter import PaperFilter
from assistant.store.multilingual import MultilingualEncoder, get_multilingual_encoder
from assistant.store.multilingual_index import MultilingualIndex
from bench.report import emit_json
from bench.retrieval import DEFAULT_DAILY_DIR, ModeResult, known_item_sets

MIN_PASSAGE_WORDS = 8  # a shorter sentence joins the next one ("We propose X." says little alone)
RRF_K = 10
PRF_TOP = 3  # the hybrid ranking's top papers the query moves toward
PRF_WEIGHT = 0.5
MODES = (
    "dense",
    "hybrid",
    "passage",
    "dense max",
    "hybrid+passage",
    "hybrid rrf+passage",
    "dense prf",
    "hybrid prf",
)
NO_PASSAGE_MODES = ("dense", "hybrid", "dense prf", "hybrid prf")
E5_MODES = ("e5", "hybrid rrf+e5", "hybrid+e5 mix", "hybrid 3-way")
TUNED_MODES = ("tuned", "hybrid tuned", "hybrid+tuned mix")


@dataclass(frozen=True)
class Passages:
    """Every passage vector of an index by paper: rows `starts[i]:starts[i+1]` are paper `ids[i]`'s."""

    ids: list[str]
    starts: np.ndarray  # int64, len(ids) + 1
    vectors: np.ndarray  # float32, unit rows

    def best(self, query: np.ndarray) -> np.ndarray:
        """Each paper's best passage cosine to `query`, in `ids` order."""
        scores = self.vectors @ query
        return np.maximum.reduceat(scores, self.starts[:-1])


def passages_of(abstract: str) -> list[str]:
    """An abstract's sentences, a short one joined to the next."""
    out: list[str] = []
    pending = ""
    for sentence in split_sentences(abstract):
        pending = f"{pending} {sentence}".strip()
        if len(pending.split()) >= MIN_PASSAGE_WORDS:
            out.append(pending)
            pending = ""
    if pending:
        if out:
            out[-1] = f"{out[-1]} {pending}"
        else:
            out.append(pending)
    return out


def build_passages(
    retriever: Retriever, ids: list[str], embedder: Embedder, cache: Path, console: Console
) -> Passages:
    """Embed the passages of these papers' abstracts (or read them from `cache`, keyed by the ids and texts);
    a paper without one is its title."""
    papers = retriever.catalog.get_papers(ids)
    texts: list[str] = []
    starts = [0]
    kept = list(ids)
    for pid in kept:
        paper = papers[pid]
        texts.extend(passages_of(paper.abstract) or [paper.title])
        starts.append(len(texts))
    key = hashlib.sha256("\x1f".join(kept + texts).encode("utf-8")).hexdigest()[:16]
    path = cache / f"passages-{key}.npy"
    if path.is_file():
        vectors = np.load(path)
        console.print(f"{len(texts):,} passages of {len(kept):,} papers read from {path}")
    else:
        console.print(f"embedding {len(texts):,} passages of {len(kept):,} papers ...")
        vectors = embedder.encode(texts, batch_size=128).astype(np.float32)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return Passages(kept, np.asarray(starts, dtype=np.int64), vectors)


def feedback_dense(
    query: np.ndarray, whole: np.ndarray, ids: list[str], feedback: list[int], depth: int
) -> list[tuple[str, float]]:
    """Dense pseudo-relevance feedback (Rocchio): the query moved toward the mean vector of the `feedback`
    rows (the hybrid ranking's top papers), then every paper ranked by cosine to it."""
    expanded = query + PRF_WEIGHT * whole[feedback].mean(axis=0) if feedback else query
    expanded = expanded / (np.linalg.norm(expanded) or 1.0)
    cosines = whole @ expanded
    return [(ids[i], float(cosines[i])) for i in np.argsort(-cosines)[:depth]]


@dataclass(frozen=True)
class Corpus:
    """Every indexed paper's whole-abstract vector, row by row."""

    ids: list[str]
    whole: np.ndarray  # float32, unit rows

    @functools.cached_property
    def row_of(self) -> dict[str, int]:
        return {pid: row for row, pid in enumerate(self.ids)}


def load_corpus(retriever: Retriever, chunk: int = 5_000) -> Corpus:
    """The stored vectors of every paper that has one (read in chunks: a 74k id list is one query)."""
    ids = sorted(retriever.catalog.all_ids())
    stored: dict[str, np.ndarray] = {}
    for start in range(0, len(ids), chunk):
        stored.update(retriever.vectors.vectors_of(ids[start : start + chunk]))
    kept = [pid for pid in ids if pid in stored]
    return Corpus(kept, np.stack([stored[pid] for pid in kept]).astype(np.float32))


@dataclass(frozen=True)
class SecondEncoder:
    """The multilingual-e5 vectors of the corpus (rows as `Corpus.ids`; zero rows where a paper has none)
    and the encoder for the questions."""

    whole: np.ndarray
    encoder: MultilingualEncoder

    def ranking(self, text: str, ids: list[str], depth: int) -> tuple[list[tuple[str, float]], np.ndarray]:
        cosines = self.whole @ self.encoder.query(text).astype(np.float32)
        return [(ids[i], float(cosines[i])) for i in np.argsort(-cosines)[:depth]], cosines


def load_second_encoder(retriever: Retriever, corpus: Corpus, chunk: int = 5_000) -> SecondEncoder:
    index = MultilingualIndex(retriever.settings)
    stored: dict[str, np.ndarray] = {}
    for start in range(0, len(corpus.ids), chunk):
        stored.update(index.vectors_of(corpus.ids[start : start + chunk]))
    if not stored:
        raise SystemExit("--e5: this index has no multilingual vectors (ingest with them on)")
    dim = len(next(iter(stored.values())))
    whole = np.zeros((len(corpus.ids), dim), dtype=np.float32)
    for pid, vector in stored.items():
        whole[corpus.row_of[pid]] = vector
    return SecondEncoder(whole, get_multilingual_encoder(retriever.settings.storage.cache_dir))


@dataclass(frozen=True)
class TunedEncoder:
    """The corpus embedded by a tuned encoder (rows as `Corpus.ids`) and that encoder for the questions."""

    whole: np.ndarray
    embedder: Embedder

    def cosines(self, text: str) -> np.ndarray:
        return self.whole @ self.embedder.encode_query(text).astype(np.float32)


def load_tuned_encoder(
    retriever: Retriever, corpus: Corpus, folder: Path, cache: Path, console: Console
) -> TunedEncoder:
    """Embed every corpus paper's title and abstract with the tuned encoder in `folder` (its int8 ONNX export,
    as a 74k index would be built), or read the vectors from `cache`."""
    settings = retriever.settings.replace(embedding={"model": str(folder.resolve()), "backend": "onnx"})
    embedder = get_embedder(settings)
    papers = retriever.catalog.get_papers(corpus.ids)
    texts = [papers[pid].embedding_text for pid in corpus.ids]
    stamp = (folder / "academichub-tuning.json").read_text(encoding="utf-8")
    key = hashlib.sha256("\x1f".join([stamp, *corpus.ids, *texts]).encode("utf-8")).hexdigest()[:16]
    path = cache / f"tuned-{key}.npy"
    if path.is_file():
        console.print(f"{len(texts):,} tuned vectors read from {path}")
        return TunedEncoder(np.load(path), embedder)
    console.print(f"embedding {len(texts):,} papers with the tuned encoder ...")
    whole = embedder.encode(texts, batch_size=64).astype(np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, whole)
    return TunedEncoder(whole, embedder)


def tuned_rankings(
    retriever: Retriever, corpus: Corpus, tuned: TunedEncoder, text: str, found: Candidates
) -> dict[str, list[str]]:
    """The tuned encoder alone, in place of the index's dense list, and mixed with it."""
    params = FusionParams.from_settings(retriever.settings)
    depth = len(found.dense) or 10
    assert found.query_vector is not None
    cosines = tuned.cosines(text)
    alone = [(corpus.ids[i], float(cosines[i])) for i in np.argsort(-cosines)[:depth]]
    mixed = 0.5 * (corpus.whole @ found.query_vector.astype(np.float32) + cosines)
    mix = [(corpus.ids[i], float(mixed[i])) for i in np.argsort(-mixed)[:depth]]
    return {
        "tuned": [pid for pid, _ in alone[:10]],
        "hybrid tuned": top_ids(retriever.rank(replace(found, dense=alone), params), 10),
        "hybrid+tuned mix": top_ids(retriever.rank(replace(found, dense=mix), params), 10),
    }


def rrf(rankings: list[tuple[list[str], float]], depth: int) -> list[str]:
    """Reciprocal-rank fusion of (ranking, weight) pairs, best first."""
    fused: dict[str, float] = {}
    for ranking, weight in rankings:
        for rank, pid in enumerate(ranking[:depth], start=1):
            fused[pid] = fused.get(pid, 0.0) + weight / (RRF_K + rank)
    return top_ids(fused, depth)


def e5_rankings(
    retriever: Retriever, corpus: Corpus, second: SecondEncoder, text: str, found: Candidates, weight: float
) -> dict[str, list[str]]:
    """The second encoder alone and fused with search (see the module docstring)."""
    params = FusionParams.from_settings(retriever.settings)
    depth = len(found.dense) or 10
    assert found.query_vector is not None
    e5, e5_cosines = second.ranking(text, corpus.ids, depth)
    hybrid = top_ids(retriever.rank(found, params), depth)
    mixed = 0.5 * (corpus.whole @ found.query_vector.astype(np.float32) + e5_cosines)
    mix = [(corpus.ids[i], float(mixed[i])) for i in np.argsort(-mixed)[:depth]]
    dense = [pid for pid, _ in found.dense]
    lexical = [pid for pid, _ in found.lexical]
    e5_ids = [pid for pid, _ in e5]
    return {
        "e5": e5_ids[:10],
        "hybrid rrf+e5": rrf([(hybrid, 1.0), (e5_ids, weight)], depth)[:10],
        "hybrid+e5 mix": top_ids(retriever.rank(replace(found, dense=mix), params), 10),
        "hybrid 3-way": rrf([(dense, 1.0), (lexical, 1.0), (e5_ids, weight)], depth)[:10],
    }


def rankings(
    retriever: Retriever,
    corpus: Corpus,
    passages: Passages | None,
    found: Candidates,
    depth: int,
    weight: float,
) -> dict[str, list[str]]:
    """One question's top-10 under each mode (the passage modes only with `passages`)."""
    params = FusionParams.from_settings(retriever.settings)
    assert found.query_vector is not None
    query = found.query_vector.astype(np.float32)
    hybrid = retriever.rank(found, params)
    feedback = [corpus.row_of[pid] for pid in top_ids(hybrid, PRF_TOP) if pid in corpus.row_of]
    dense_prf = feedback_dense(query, corpus.whole, corpus.ids, feedback, depth)
    hybrid_prf = retriever.rank(replace(found, dense=dense_prf), params)
    ranks = {
        "dense": [pid for pid, _ in found.dense[:10]],
        "hybrid": top_ids(hybrid, 10),
        "dense prf": [pid for pid, _ in dense_prf[:10]],
        "hybrid prf": top_ids(hybrid_prf, 10),
    }
    if passages is None:
        return ranks
    best = passages.best(query)
    combined = np.maximum(best, corpus.whole @ query)  # the same papers, row by row
    by_passage = [passages.ids[i] for i in np.argsort(-best)[:depth]]
    dense_max = [(passages.ids[i], float(combined[i])) for i in np.argsort(-combined)[:depth]]
    with_max = retriever.rank(replace(found, dense=dense_max), params)
    return {
        **ranks,
        "passage": by_passage[:10],
        "dense max": [pid for pid, _ in dense_max[:10]],
        "hybrid+passage": top_ids(with_max, 10),
        "hybrid rrf+passage": rrf([(top_ids(hybrid, depth), 1.0), (by_passage, weight)], depth)[:10],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.passages", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="the index (default: ACADEMICHUB_HOME)")
    parser.add_argument("--daily-dir", type=Path, default=DEFAULT_DAILY_DIR)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    parser.add_argument("--n", type=int, default=200, help="questions per rule-made set (before the split)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--weight", type=float, default=0.5, help="the passage ranking's weight in rrf")
    parser.add_argument(
        "--no-passages",
        action="store_true",
        help="skip the passage modes (no sentence embedding: a 74k index)",
    )
    parser.add_argument(
        "--cache-dir", type=Path, help="where passage vectors are kept (default: the index's cache)"
    )
    parser.add_argument("--e5", action="store_true", help="also fuse the multilingual-e5 vectors (see above)")
    parser.add_argument("--e5-weight", type=float, default=1.0, help="the e5 ranking's weight in rrf")
    parser.add_argument(
        "--tuned-model", type=Path, help="a tuned encoder's folder (academichub tune-encoder): see above"
    )
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    console = Console(stderr=True, width=max(Console(stderr=True).width, 140))
    settings = get_settings()
    if args.home:
        settings = settings.replace(storage={"home": args.home})
    retriever = build_retriever(settings)
    corpus = load_corpus(retriever)
    cache = args.cache_dir or settings.storage.cache_dir / "bench-passages"
    passages = (
        None
        if args.no_passages
        else build_passages(retriever, corpus.ids, retriever.embedder, cache, console)
    )
    second = load_second_encoder(retriever, corpus) if args.e5 else None
    tuned = (
        load_tuned_encoder(retriever, corpus, args.tuned_model, cache, console) if args.tuned_model else None
    )
    indexed = set(corpus.ids)
    rule_made, written = known_item_sets(retriever, args.daily_dir, args.n, args.seed, args.split)
    sets = rule_made + written
    depth = settings.fusion.retrieval_depth
    rows = []
    for query_set in sets:
        modes = [m for m in MODES if passages is not None or m in NO_PASSAGE_MODES]
        extra = (list(E5_MODES) if second else []) + (list(TUNED_MODES) if tuned else [])
        results = {mode: ModeResult() for mode in modes + extra}
        for qid, text in query_set.queries.items():
            found = retriever.candidates(text, depth, PaperFilter())
            if found is None:
                continue
            ranks = rankings(retriever, corpus, passages, found, depth, args.weight)
            if second is not None:
                ranks |= e5_rankings(retriever, corpus, second, text, found, args.e5_weight)
            if tuned is not None:
                ranks |= tuned_rankings(retriever, corpus, tuned, text, found)
            for mode, top in ranks.items():
                results[mode].add(top, query_set.qrels[qid], 0.0)
        for mode, result in results.items():
            rows.append({"set": query_set.name, "mode": mode, "queries": len(query_set), **result.summary()})
    table = Table(
        "set", "mode", "n", "R@5", "MRR@10", title=f"passages, {args.split} half, {len(indexed):,} papers"
    )
    for row in rows:
        table.add_row(
            str(row["set"]),
            str(row["mode"]),
            str(row["queries"]),
            f"{row['recall@5']:.3f}",
            f"{row['mrr@10']:.3f}",
        )
    console.print(table)
    emit_json(
        {
            "papers": len(indexed),
            "passages": len(passages.vectors) if passages is not None else 0,
            "split": args.split,
            "results": rows,
        },
        args.output,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
