"""The study's own scorers applied to the 600 human-rated EMNLP 2021 rewrites, and their validation.

Each rated rewrite (of a toxic source sentence) is scored exactly as the evaluate step scores a
rewrite of the in-house task: the toxicity judge's P(toxic), the profanity signal, the embedding
similarity to the source, the reference model's perplexity relative to the source's (fluency), and J
(STA x SIM x FL). Two measures of meaning kept that do not use the embedding model are scored beside
them (chrF against the source, the share of the source's content words kept). Then
:func:`srllm.validation.human.validate_against_humans` compares each with the matching human rating.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.code_hash import closure_hash
from ..core.io import atomic_path, read_json, write_json
from ..core.paths import cache_dir
from ..data.datadir import DataDir
from ..data.sources import EMNLP_RATINGS
from ..judges.embedder import similarity
from ..judges.profanity import profanity_proba
from ..tasks.base import EvalContext
from ..tasks.scorers import reference_perplexity
from ..validation.emnlp_ratings import load_long_ratings, per_rewrite_ratings
from ..validation.human import validate_against_humans
from ..validation.retention import chrf, content_word_retention


def score_rated_rewrites(ctx: EvalContext, ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per rated rewrite (keys source_id, system) with every automatic score of the study."""
    sources, rewrites = list(ratings["source_text"]), list(ratings["rewrite"])
    ev = ctx.config.evaluation
    toxicity = ctx.judge.predict_proba(rewrites)
    sim = similarity(sources, rewrites)
    ppl = reference_perplexity(ctx, rewrites + sources)
    out_ppl, in_ppl = ppl[: len(rewrites)], ppl[len(rewrites) :]
    with np.errstate(invalid="ignore", divide="ignore"):
        fluency = -np.log(out_ppl / in_ppl)  # higher = reads more fluently than the source; FL = fluency >= -log(ratio)
        fluent = (out_ppl <= ev.fluency_ratio * in_ppl).astype(float)
    j = (1.0 - (toxicity > 0.5)) * np.clip(sim, 0.0, None) * fluent
    return pd.DataFrame({
        "source_id": ratings["source_id"].to_numpy(), "system": ratings["system"].to_numpy(),
        "toxicity": toxicity, "profanity": profanity_proba(rewrites), "similarity": sim,
        "chrf": chrf(rewrites, sources), "content_words": content_word_retention(rewrites, sources),
        "fluency": fluency, "j": j,
    })  # fmt: skip


def _verified_checksum(data: DataDir, relpath: str) -> str:
    """The file's SHA-256 as the data directory verified it on first use (it goes to the manifest too)."""
    data.path(relpath)
    return data.verified[relpath]


def cache_key(ctx: EvalContext, data: DataDir) -> str:
    """What the validation depends on: the judge, the reference model and its dtype, the thresholds, the
    bootstrap, the ratings file and the code that scores and compares them."""
    ev = ctx.config.evaluation
    reference = Path(ctx.reference_model)
    settings = {
        "judge": ctx.judge.version, "reference_model": str(ctx.reference_model), "dtype": ev.dtype,
        "reference_config": hashlib.sha256((reference / "config.json").read_bytes()).hexdigest() if reference.is_dir() else None,
        "similarity_threshold": ev.similarity_threshold, "fluency_ratio": ev.fluency_ratio,
        "resamples": ev.bootstrap_resamples, "seed": ctx.config.seed, "ratings": _verified_checksum(data, EMNLP_RATINGS),
    }  # fmt: skip
    # The code: this module's import closure, so an edit to anything it runs (a comment or docstring aside) counts.
    settings["code"] = closure_hash((__name__,))
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def validate_metrics(ctx: EvalContext, data: DataDir) -> tuple[dict[str, Any], pd.DataFrame]:
    """``validate_uncached``, computed once per machine for the same inputs and code (``cache_key``):
    the ratings, the judge and the reference model do not change with the run's training."""
    folder = cache_dir() / "metric_validation" / cache_key(ctx, data)
    if (folder / "validation.json").is_file():
        return read_json(folder / "validation.json"), pd.read_parquet(folder / "rated.parquet")
    result, table = validate_uncached(ctx, data)
    if not ctx.shard.is_main:
        return result, table
    with atomic_path(folder) as tmp:
        tmp.mkdir(parents=True)
        table.to_parquet(tmp / "rated.parquet", index=False)
        write_json(tmp / "validation.json", result)
    # As read back, so a first run and a cached one write the same metrics (JSON turns tuples into lists).
    return read_json(folder / "validation.json"), pd.read_parquet(folder / "rated.parquet")


def validate_uncached(ctx: EvalContext, data: DataDir) -> tuple[dict[str, Any], pd.DataFrame]:
    """The ``validation.human`` section of the metrics, and the per-rewrite scores beside the ratings."""
    long_frame = load_long_ratings(data)
    ratings = per_rewrite_ratings(long_frame, source="detox_emnlp2021 ratings")
    scores = score_rated_rewrites(ctx, ratings)
    ev = ctx.config.evaluation
    thresholds = {"toxicity": 0.5, "profanity": 0.5, "similarity": ev.similarity_threshold,
                  "fluency": float(-np.log(ev.fluency_ratio))}  # fmt: skip
    result = validate_against_humans(ratings, scores, long_frame, thresholds, ev.bootstrap_resamples, ctx.config.seed)
    table = ratings.merge(scores, on=["source_id", "system"], suffixes=("_human", ""))
    return result, table
