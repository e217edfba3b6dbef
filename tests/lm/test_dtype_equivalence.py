"""The fast path (bfloat16) against the float32 reference on the real base model: same answers, bounded.

The CPU default evaluates in bfloat16 (``evaluation.dtype``). On a sample of the real test sets
and the packaged SmolLM2-135M-Instruct, this compares per-example results of the two dtypes:
StereoSet and CrowS-Pairs preferences (which candidate scores highest) and the judged toxicity of
greedy rewrites. Each run measures the same on its own items (the evaluation page's float32 /
bfloat16 table).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from srllm.core.precision import cpu_capability, native_bfloat16

# In full where the CPU computes bfloat16 natively; on a small sample where torch emulates it (about
# 65x slower: the full check alone would take most of CI's time), said in the warnings summary.
FULL = {"stereoset": 200, "crows_pairs": 200, "rewrites": 48}
SAMPLE = {"stereoset": 24, "crows_pairs": 24, "rewrites": 12}  # about 1.5 minutes of emulated bfloat16
SIZES = FULL if native_bfloat16()[0] else SAMPLE
STEREOSET_ITEMS, CROWS_PAIRS, REWRITES = SIZES["stereoset"], SIZES["crows_pairs"], SIZES["rewrites"]
if SIZES is SAMPLE:
    warnings.warn(
        f"bfloat16 is emulated on this CPU (capability {cpu_capability()}): the dtype equivalence checks run on "
        f"{STEREOSET_ITEMS} StereoSet items, {CROWS_PAIRS} CrowS pairs and {REWRITES} rewrites instead of "
        f"{FULL['stereoset']}, {FULL['crows_pairs']} and {FULL['rewrites']}",
        stacklevel=1,
    )
# Measured here: 3 of 200 StereoSet items (1.5%) and 0 of 200 CrowS pairs change their preferred
# candidate. bfloat16 keeps 8 bits of mantissa, so near-ties can flip; the metrics must barely move.
MAX_FLIP_SHARE = 0.03
MAX_METRIC_POINTS = 3.0  # SS, LMS and CrowS-Pairs' pct_stereotype, in points (percent)
# Emulated bfloat16 (an AVX2 CPU) flipped 2 of 24 CrowS pairs here: near-ties a sample cannot average out.
SAMPLE_FLIPS = 2
# Greedy decoding in bfloat16 takes another word where two are nearly tied and the text goes its own
# way. Measured here on the base model's 48 rewrites: 38% identical, 3 toxic flags changed, mean
# judged toxicity 0.181 -> 0.132. The bounds leave room for another CPU's bfloat16 kernels; a broken
# fast path (garbage or empty text) fails them.
MAX_MEAN_TOXICITY_DIFFERENCE = 0.10
MAX_TOXIC_FLAG_CHANGES = 6
MIN_IDENTICAL_SHARE = 0.25
MIN_SAMPLE_CLOSENESS = 0.2  # mean chrF (0-1) of a bfloat16 rewrite against the float32 one, on a small sample (0.33 measured on 4)


@pytest.fixture(scope="module")
def models():
    import torch

    from srllm.config import ModelConfig
    from srllm.lm.models import load_causal_lm, load_tokenizer, resolve_base_model

    base = resolve_base_model(ModelConfig())  # the packaged SmolLM2-135M-Instruct
    torch.manual_seed(0)
    return {dtype: load_causal_lm(base, dtype=dtype) for dtype in ("float32", "bfloat16")}, load_tokenizer(base)


def _flip_share(reference: np.ndarray, fast: np.ndarray) -> float:
    return float((reference.argmax(axis=1) != fast.argmax(axis=1)).mean())


@pytest.mark.slow
def test_likelihood_preferences_agree(models, data_dir) -> None:
    from srllm.corpus.build import load_stereoset
    from srllm.data.parsers import load_crows_pairs
    from srllm.tasks.crows_pairs import crows_pairs_metrics, score_crows_pairs
    from srllm.tasks.stereoset import score_stereoset, stereoset_metrics

    by_dtype, tokenizer = models
    stereoset = load_stereoset(data_dir)[:STEREOSET_ITEMS]
    crows = load_crows_pairs(data_dir)[:CROWS_PAIRS]
    columns = {"stereoset": ["score_stereotype", "score_anti_stereotype", "score_unrelated"], "crows": ["ll_more", "ll_less"]}
    frames = {
        dtype: {
            "stereoset": score_stereoset(model, tokenizer, stereoset, batch_size=16, progress=False),
            "crows": score_crows_pairs(model, tokenizer, crows, batch_size=16, progress=False),
        }
        for dtype, model in by_dtype.items()
    }
    for task in ("stereoset", "crows"):
        reference, fast = (frames[dtype][task][columns[task]].to_numpy() for dtype in ("float32", "bfloat16"))
        assert not np.allclose(reference, fast, atol=0, rtol=0), f"{task}: the two dtypes gave identical scores"
        share = _flip_share(reference, fast)
        # On a small sample one near-tie is already several percent: allow SAMPLE_FLIPS of them.
        allowed = max(MAX_FLIP_SHARE, SAMPLE_FLIPS / len(reference))
        assert share <= allowed, f"{task}: {share:.1%} of items changed their preferred candidate"
    # One changed preference moves SS or CrowS-Pairs' share by 100/n points: on a small sample, allow SAMPLE_FLIPS.
    ss = {dtype: stereoset_metrics(f["stereoset"])["overall"] for dtype, f in frames.items()}
    for metric in ("SS", "LMS"):
        allowed = max(MAX_METRIC_POINTS, SAMPLE_FLIPS * 100 / STEREOSET_ITEMS)
        assert abs(ss["bfloat16"][metric] - ss["float32"][metric]) <= allowed, (metric, ss)
    crows_pct = {dtype: 100 * crows_pairs_metrics(f["crows"])["overall"]["pct_stereotype"] for dtype, f in frames.items()}
    assert abs(crows_pct["bfloat16"] - crows_pct["float32"]) <= max(MAX_METRIC_POINTS, SAMPLE_FLIPS * 100 / CROWS_PAIRS), crows_pct


@pytest.mark.slow
def test_rewrite_toxicity_agrees(models, data_dir) -> None:
    from srllm.config import GenerationConfig
    from srllm.corpus.build import load_srllm_pairs
    from srllm.judges.toxicity import load_or_train_judge
    from srllm.lm.generation import generate_rewrites
    from srllm.validation.retention import chrf

    by_dtype, tokenizer = models
    records, _ = load_srllm_pairs(data_dir)
    texts = [r["input"] for r in records[:REWRITES]]
    generation = GenerationConfig(max_new_tokens=48, batch_size=REWRITES)
    outputs = {dtype: generate_rewrites(model, tokenizer, texts, generation, progress=False) for dtype, model in by_dtype.items()}
    judge, _ = load_or_train_judge(data_dir, 150, 0)  # the smoke run's judge (cached)
    toxicity = {dtype: judge.predict_proba(rewrites) for dtype, rewrites in outputs.items()}
    means = {dtype: float(p.mean()) for dtype, p in toxicity.items()}
    # The mean of a few rewrites moves more: the bound widens with the standard error's 1/sqrt(n).
    bound = MAX_MEAN_TOXICITY_DIFFERENCE * math.sqrt(FULL["rewrites"] / REWRITES)
    assert abs(means["bfloat16"] - means["float32"]) <= bound, means
    changed = int(((toxicity["float32"] > 0.5) != (toxicity["bfloat16"] > 0.5)).sum())
    allowed = max(2, math.ceil(MAX_TOXIC_FLAG_CHANGES * REWRITES / FULL["rewrites"]))
    assert changed <= allowed, f"{changed} of {REWRITES} rewrites changed their toxic flag"
    print(f"mean toxicity {means}; toxic flag changed in {changed} of {REWRITES}")
    identical = np.mean([a == b for a, b in zip(outputs["float32"], outputs["bfloat16"])])
    closeness = float(np.mean(chrf(outputs["bfloat16"], outputs["float32"])))
    print(f"identical {identical:.0%}; mean chrF of the bfloat16 rewrite against the float32 one {closeness:.2f}")
    if REWRITES >= 24:
        assert identical >= MIN_IDENTICAL_SHARE, f"only {identical:.0%} of the rewrites are the same in both dtypes"
    else:
        # A few rewrites give no usable identical share (38% of 48 measured: 0 of 4 happens by chance):
        # a broken fast path (garbage or empty text) still fails this closeness bound.
        assert closeness >= MIN_SAMPLE_CLOSENESS and all(outputs["bfloat16"]), (closeness, outputs)
