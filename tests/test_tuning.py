"""`bench.tune_encoder` (issue 29's fine-tuning try) on a real index (60 papers of the bundled sample) with
the real packaged model: it writes a changed model that embeds as the index's encoder does."""

from __future__ import annotations

import json

import numpy as np
from conftest import make_settings

from assistant.store.backend import open_catalog
from assistant.store.embedding import packaged_model_path
from bench.tune_encoder import TrainingPair, category_batches, main, training_pairs

TUNE_ARGS = ["--batch-size", "16", "--max-seq-length", "64", "--epochs", "2"]


def test_tunes_the_packaged_encoder_into_a_new_folder(small_index, tmp_path, capsys):
    from sentence_transformers import SentenceTransformer

    folder = tmp_path / "encoder"
    home = str(small_index.storage.home)
    assert main([str(folder), "--home", home, *TUNE_ARGS]) == 0
    report = json.loads(capsys.readouterr().out)
    pairs = training_pairs(open_catalog(small_index), 1000, 13)
    assert report["pairs"] == len(pairs) >= 50  # every paper with a real abstract
    assert report["steps"] >= 6 and report["base_model"] == str(packaged_model_path())
    assert json.loads((folder / "academichub-tuning.json").read_text(encoding="utf-8"))["plan"]["epochs"] == 2
    base = SentenceTransformer(str(packaged_model_path()), device="cpu")
    model = SentenceTransformer(str(folder), device="cpu")
    # Trained on 64 tokens, served as the index's encoder reads: 256.
    assert model.max_seq_length == base.max_seq_length == 256
    text = [pairs[0].abstract]
    agreement = float(
        np.dot(
            model.encode(text, normalize_embeddings=True)[0], base.encode(text, normalize_embeddings=True)[0]
        )
    )
    assert 0.8 < agreement < 0.99999  # moved, not destroyed
    assert not list(tmp_path.glob(".*partial"))
    # A second run never overwrites a model, and too few papers for a batch size is said.
    assert main([str(folder), "--home", home, *TUNE_ARGS]) == 2
    assert "already exists" in capsys.readouterr().err
    empty = make_settings(tmp_path / "empty")
    open_catalog(empty, creating=True)
    assert main([str(tmp_path / "other"), "--home", str(empty.storage.home), *TUNE_ARGS]) == 2
    assert "0 papers with an abstract are too few" in capsys.readouterr().err


def test_batches_keep_to_one_field_and_use_every_pair_once():
    pairs = [TrainingPair(f"t{i}", "a", "cs.CV" if i < 70 else "cs.CL") for i in range(100)]
    pairs.append(TrainingPair("T0", "duplicate title", "cs.CV"))
    batches = category_batches(pairs, 16, seed=1)
    used = [p for batch in batches for p in batch]
    assert len(used) == len(set(used)) and len(used) >= 99
    single = [b for b in batches if len({p.category for p in b}) == 1 and len(b) == 16]
    assert len(single) >= 5  # 71 cs.CV -> 4 whole batches, 30 cs.CL -> 1
    for batch in batches:
        titles = [p.title.casefold() for p in batch]
        assert len(titles) == len(set(titles))
