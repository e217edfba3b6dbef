"""The fine-tuned judge on a tiny budget: it trains (its weights move), scores in [0, 1], and is cached."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from srllm.data.datadir import DataDir
from srllm.judges import finetuned
from srllm.judges.toxicity import Example

TINY = finetuned.Settings(
    max_steps=3, batch_size=8, eval_every=3, eval_paradetox=20, max_examples=40, score_batch_size=16
)


def test_stacker_weights_are_checked() -> None:
    with pytest.raises(ValueError, match="stacker_weights must be one of"):
        finetuned.Settings(stacker_weights="balanced")


def test_the_unrewritable_comments_join_paradetox_toxic_cell(data_dir: DataDir) -> None:
    with_them, report = finetuned.load_examples(data_dir, 0)
    without, report_without = finetuned.load_examples(data_dir, 0, unrewritable=False)
    added = [e for e in with_them if e.unit.startswith("paradetox_unrewritable:")]
    assert added and all(e.label == 1 and e.source == "paradetox" for e in added)
    assert report["raw_texts"] - report_without["raw_texts"] == 7_030  # every wholly toxic comment was read
    # About 3,000 repeat ParaDetox's own toxic sentences (the first copy is kept); the rest are new toxic texts.
    assert report["counts"]["paradetox"]["toxic"] - report_without["counts"]["paradetox"]["toxic"] > 3_000
    assert report["counts"]["paradetox"]["benign"] == report_without["counts"]["paradetox"]["benign"]
    assert report["counts"]["toxigen"] == report_without["counts"]["toxigen"]


def test_near_duplicates_of_validation_texts_are_dropped() -> None:
    examples = [Example("Muslims are all terrorists and should leave", 1, "toxigen", "muslim", "a"),
                Example("the weather is nice today", 0, "paradetox", "", "b")]  # fmt: skip
    kept, removed = finetuned.remove_near_duplicates(examples, ["muslims are all terrorists and should leave!"])
    assert removed == 1 and [e.text for e in kept] == ["the weather is nice today"]


@pytest.mark.slow
def test_a_tiny_judge_trains_scores_and_is_cached(
    data_dir: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SRLLM_CACHE_DIR", str(tmp_path / "cache"))
    judge, report = finetuned.load_or_train(data_dir, TINY, seed=0)
    assert not report["cached"] and report["near_duplicates_removed"] >= 0
    start = {k: v for k, v in load_file(str(finetuned._encoder_path() / "model.safetensors")).items()}
    trained = load_file(str(Path(report["path"]) / "model.safetensors"))
    layer = next(k for k in trained if k.endswith("encoder.layer.0.attention.self.query.weight"))
    original = next(v for k, v in start.items() if k.endswith("encoder.layer.0.attention.self.query.weight"))
    assert not np.allclose(trained[layer].numpy(), original.numpy())  # fine-tuning moved the encoder
    p = judge.predict_proba(["you are a stupid idiot", "the weather is nice today"])
    assert p.shape == (2,) and ((p >= 0) & (p <= 1)).all()
    again, report = finetuned.load_or_train(data_dir, TINY, seed=0)
    assert report["cached"] and again.version == judge.version
    assert np.allclose(again.predict_proba(["you are a stupid idiot"]), p[:1])


def test_the_training_set_is_named_once_per_machine(
    data_dir: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SRLLM_CACHE_DIR", str(tmp_path / "cache"))
    read = finetuned.load_examples
    calls = []

    def counting(data, seed=0, unrewritable=True):
        calls.append(seed)
        return read(data, seed, unrewritable)

    monkeypatch.setattr(finetuned, "load_examples", counting)
    first_data, second_data = DataDir(data_dir.root), DataDir(data_dir.root)
    first = finetuned.training_set_version(first_data, TINY, seed=0)
    second = finetuned.training_set_version(second_data, TINY, seed=0)
    assert calls == [0] and first == second  # the second call read the examples' name back
    assert first_data.verified and set(first_data.verified) == set(second_data.verified)  # the same files verified
    examples, report = read(DataDir(data_dir.root), 0)
    capped = finetuned.cap_per_class(examples, TINY.max_examples, 0)
    assert first["version"] == "finetuned-" + finetuned.judge_version(capped, TINY, 0)
    assert first["data_report"] == json.loads(json.dumps(report))
