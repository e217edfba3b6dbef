"""The fast path (bfloat16) against the float32 reference on the real base model: same answers, bounded.

The CPU default evaluates in bfloat16 (``evaluation.dtype``). On a sample of the real test sets
and the packaged SmolLM2-135M-Instruct, this compares per-example results of the two dtypes:
StereoSet and CrowS-Pairs preferences (which candidate scores highest) and the judged toxicity of
greedy rewrites. The bounds are those the study reports against (see the evaluation page's
float32/bfloat16 table, measured again in every run).
"""

from __future__ import annotations

import numpy as np
import pytest

STEREOSET_ITEMS = 200
CROWS_PAIRS = 200
REWRITES = 48
MAX_FLIP_SHARE = 0.01  # at most 1% of likelihood items may change their preferred candidate
MAX_TOXIC_RATE_POINTS = 3.0  # judged toxic rate of the rewrites, in percentage points


@pytest.fixture(scope="module")
def models():
    import torch

    from srllm.config import ModelConfig
    from srllm.models import load_causal_lm, load_tokenizer, resolve_base_model

    base = resolve_base_model(ModelConfig())  # the packaged SmolLM2-135M-Instruct
    torch.manual_seed(0)
    return {dtype: load_causal_lm(base, dtype=dtype) for dtype in ("float32", "bfloat16")}, load_tokenizer(base)


def _flip_share(reference: np.ndarray, fast: np.ndarray) -> float:
    return float((reference.argmax(axis=1) != fast.argmax(axis=1)).mean())


@pytest.mark.slow
def test_likelihood_preferences_agree(models, data_dir) -> None:
    from srllm.data import load_stereoset
    from srllm.metrics.crows_pairs import load_crows_pairs, score_crows_pairs
    from srllm.metrics.stereoset import score_stereoset

    by_dtype, tokenizer = models
    stereoset = load_stereoset(data_dir)[:STEREOSET_ITEMS]
    crows = load_crows_pairs(data_dir)[:CROWS_PAIRS]
    columns = {"stereoset": ["score_stereotype", "score_anti_stereotype", "score_unrelated"], "crows": ["ll_more", "ll_less"]}
    scores = {
        dtype: {
            "stereoset": score_stereoset(model, tokenizer, stereoset, batch_size=16, progress=False)[columns["stereoset"]].to_numpy(),
            "crows": score_crows_pairs(model, tokenizer, crows, batch_size=16, progress=False)[columns["crows"]].to_numpy(),
        }
        for dtype, model in by_dtype.items()
    }
    for task in ("stereoset", "crows"):
        reference, fast = scores["float32"][task], scores["bfloat16"][task]
        assert not np.allclose(reference, fast, atol=0, rtol=0), f"{task}: the two dtypes gave identical scores"
        share = _flip_share(reference, fast)
        assert share <= MAX_FLIP_SHARE, f"{task}: {share:.1%} of items changed their preferred candidate"


@pytest.mark.slow
def test_rewrite_toxicity_agrees(models, data_dir) -> None:
    from srllm.config import GenerationConfig
    from srllm.data import load_srllm_pairs
    from srllm.generation import generate_rewrites
    from srllm.judge import load_or_train_judge

    by_dtype, tokenizer = models
    records, _ = load_srllm_pairs(data_dir)
    texts = [r["input"] for r in records[:REWRITES]]
    generation = GenerationConfig(max_new_tokens=48, batch_size=REWRITES)
    outputs = {dtype: generate_rewrites(model, tokenizer, texts, generation, progress=False) for dtype, model in by_dtype.items()}
    judge, _ = load_or_train_judge(data_dir, 150, 0)  # the smoke run's judge (cached)
    rates = {dtype: 100 * float((judge.predict_proba(rewrites) > 0.5).mean()) for dtype, rewrites in outputs.items()}
    assert abs(rates["bfloat16"] - rates["float32"]) <= MAX_TOXIC_RATE_POINTS, rates
    identical = np.mean([a == b for a, b in zip(outputs["float32"], outputs["bfloat16"])])
    assert identical >= 0.5, f"only {identical:.0%} of the rewrites are the same in both dtypes"
