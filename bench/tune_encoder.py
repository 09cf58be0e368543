"""Adapting the encoder to the indexed papers, measured before it is built into the product (issue 29, part
2: it was not: docs/benchmarks.md, "The right paper among many").

Contrastive fine-tuning on the index's own (title, abstract) pairs: each title should find its abstract
among the others of its batch (sentence-transformers' MultipleNegativesRankingLoss). Batches are drawn
from one primary category at a time, so the other abstracts of a batch are on neighbouring topics: the
model learns to tell apart papers that share the field's vocabulary, which is where a known paper is lost
among many. The result is a sentence-transformers folder, measured with
`python -m bench.passages --tuned-model FOLDER`:

    python -m bench.tune_encoder --home DIR FOLDER [--max-pairs 6000 --batch-size 64 --max-seq-length 128]

The training loop is a plain torch one over the library's model and loss: sentence-transformers' own
trainer needs `datasets` and `accelerate`, two more heavy dependencies for a measurement.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.core.paper import Paper
from assistant.core.settings import get_settings
from assistant.store.backend import open_catalog
from assistant.store.catalog_store import CatalogStore
from assistant.store.embedding import hub_access, resolve_model_name

ID_CHUNK = 2_000  # papers read from the catalog at a time
MIN_ABSTRACT_WORDS = 30  # a stub abstract teaches nothing about the field


class TuningError(RuntimeError):
    """The encoder cannot be tuned (too few papers, an output folder in the way, an unwritable disk)."""


@dataclass(frozen=True)
class TrainingPair:
    title: str
    abstract: str
    category: str


@dataclass(frozen=True)
class TuningPlan:
    """How to tune: the pairs taken (at most `max_pairs`, `seed` picks them), passes over them, batch size
    (in-batch negatives: larger is harder), learning rate, and the longest abstract in tokens."""

    max_pairs: int = 20_000
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    max_seq_length: int = 256
    seed: int = 13


@dataclass(frozen=True)
class TuningReport:
    base_model: str
    output: str
    pairs: int
    steps: int
    seconds: float
    first_loss: float
    last_loss: float
    plan: TuningPlan


def training_pairs(catalog: CatalogStore, limit: int, seed: int) -> list[TrainingPair]:
    """Up to `limit` (title, abstract) pairs of the indexed papers, sampled with `seed` (stub abstracts left
    out)."""
    ids = sorted(catalog.all_ids())
    random.Random(seed).shuffle(ids)
    pairs: list[TrainingPair] = []
    for start in range(0, len(ids), ID_CHUNK):
        papers = catalog.get_papers(ids[start : start + ID_CHUNK])
        pairs.extend(pair for pair in map(_pair, papers.values()) if pair is not None)
        if len(pairs) >= limit:
            break
    return pairs[:limit]


def _pair(paper: Paper) -> TrainingPair | None:
    if len(paper.abstract.split()) < MIN_ABSTRACT_WORDS or not paper.title.strip():
        return None
    return TrainingPair(paper.title, paper.abstract, paper.primary_category)


def category_batches(pairs: Sequence[TrainingPair], batch_size: int, seed: int) -> list[list[TrainingPair]]:
    """The pairs cut into batches of one primary category each where the category is big enough (the
    leftovers of every category pooled into mixed batches), in a shuffled order. A batch never holds two
    pairs of the same title: the loss would call one of them a wrong answer."""
    rng = random.Random(seed)
    by_category: dict[str, list[TrainingPair]] = {}
    for pair in pairs:
        by_category.setdefault(pair.category, []).append(pair)
    batches: list[list[TrainingPair]] = []
    leftovers: list[TrainingPair] = []
    for members in by_category.values():
        rng.shuffle(members)
        whole = len(members) - len(members) % batch_size
        batches.extend(members[i : i + batch_size] for i in range(0, whole, batch_size))
        leftovers.extend(members[whole:])
    rng.shuffle(leftovers)
    batches.extend(leftovers[i : i + batch_size] for i in range(0, len(leftovers), batch_size))
    batches = [_unique_titles(batch) for batch in batches]
    rng.shuffle(batches)
    return [batch for batch in batches if len(batch) > 1]


def _unique_titles(batch: list[TrainingPair]) -> list[TrainingPair]:
    seen: set[str] = set()
    kept = []
    for pair in batch:
        key = pair.title.casefold()
        if key not in seen:
            seen.add(key)
            kept.append(pair)
    return kept


def tune_encoder(
    base_model: str,
    pairs: Sequence[TrainingPair],
    output: Path,
    plan: TuningPlan,
    on_step: Callable[[int, int, float], None] | None = None,
) -> TuningReport:
    """Fine-tune `base_model` (a sentence-transformers name or folder) on `pairs` and save it to `output`
    (written beside it first, moved into place when complete: a killed run leaves no half model).
    `on_step(step, steps, loss)` reports progress."""
    if len(pairs) < 2 * plan.batch_size:
        raise TuningError(
            f"{len(pairs)} papers with an abstract are too few to tune on (at least {2 * plan.batch_size}): "
            "ingest more papers first"
        )
    if output.exists():
        raise TuningError(f"{output} already exists: choose a new folder")
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    torch.manual_seed(plan.seed)
    try:
        model = SentenceTransformer(base_model, device="cpu")
    except (OSError, ValueError) as err:
        raise TuningError(f"cannot load the encoder {base_model!r} to tune: {err}") from err
    served_length = model.max_seq_length  # what the index embeds with; training may read less, faster
    model.max_seq_length = plan.max_seq_length
    loss = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=plan.learning_rate)
    batches = [
        batch
        for epoch in range(plan.epochs)
        for batch in category_batches(pairs, plan.batch_size, plan.seed + epoch)
    ]
    warmup = max(1, len(batches) // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / len(batches))
    )
    started = time.perf_counter()
    losses: list[float] = []
    model.train()
    for step, batch in enumerate(batches, start=1):
        features = [model.preprocess([p.title for p in batch]), model.preprocess([p.abstract for p in batch])]
        value = loss(features, torch.empty(0))
        optimizer.zero_grad()
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(float(value.detach()))
        if on_step is not None:
            on_step(step, len(batches), losses[-1])
    model.eval()
    model.max_seq_length = served_length
    report = TuningReport(
        base_model,
        str(output),
        len(pairs),
        len(batches),
        round(time.perf_counter() - started, 1),
        _mean(losses[: max(1, len(losses) // 10)]),
        _mean(losses[-max(1, len(losses) // 10) :]),
        plan,
    )
    _save(model, output, report)
    return report


def _mean(values: Iterable[float]) -> float:
    kept = list(values)
    return round(sum(kept) / len(kept), 4) if kept else 0.0


def _save(model: object, output: Path, report: TuningReport) -> None:
    staging = output.with_name(f".{output.name}.partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if staging.exists():
            import shutil

            shutil.rmtree(staging)
        model.save(str(staging))  # type: ignore[attr-defined]
        (staging / "academichub-tuning.json").write_text(
            json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8"
        )
        staging.rename(output)
    except OSError as err:
        raise TuningError(f"cannot write the tuned encoder to {output}: {err}") from err


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tune_encoder", description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path, help="a new folder for the tuned encoder")
    parser.add_argument(
        "--home", type=Path, help="the index whose papers it learns (default: ACADEMICHUB_HOME)"
    )
    parser.add_argument("--max-pairs", type=int, default=TuningPlan.max_pairs)
    parser.add_argument("--epochs", type=int, default=TuningPlan.epochs)
    parser.add_argument("--batch-size", type=int, default=TuningPlan.batch_size)
    parser.add_argument("--max-seq-length", type=int, default=TuningPlan.max_seq_length)
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.home:
        settings = settings.replace(storage={"home": args.home})
    plan = TuningPlan(args.max_pairs, args.epochs, args.batch_size, max_seq_length=args.max_seq_length)
    hub_access(settings.embedding.allow_model_download)
    started = time.perf_counter()

    def progress(step: int, steps: int, loss: float) -> None:
        if step % 10 == 0 or step == steps:
            print(
                f"step {step}/{steps} loss {loss:.3f} {time.perf_counter() - started:.0f} s", file=sys.stderr
            )

    try:
        pairs = training_pairs(open_catalog(settings), plan.max_pairs, plan.seed)
        report = tune_encoder(resolve_model_name(settings), pairs, args.output, plan, progress)
    except TuningError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(report), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
