"""Validating the automatic rewrite metrics against human ratings (EMNLP 2021, Dale et al.).

The study scores rewrites with automatic signals (toxicity, similarity to the input, fluency and
their joint J). Whether those signals mean what the tables say is an empirical question, and the
600 human-rated rewrites answer it four ways:

- rank correlation (Spearman, Kendall) of each metric with the mean human rating;
- AUROC of each metric against the majority human binary (does a higher score pick the rewrites
  the raters called non-toxic / meaning-kept / fluent?);
- system ranking: do the metric and the raters put the three systems in the same order?
- split-half threshold: on one half of the sources, the cut that best matches the raters; on the
  other half, how that cut and the study's own cut do. The study's value is reported, never replaced.

Orientation: every statistic here reads "higher score = more of the property the human scale
measures". Toxicity points the other way, so its correlation and AUROC use -toxicity, and its
threshold predicts "non-toxic" below the cut (``higher_is_positive=False``).

Intervals are 95% percentile bootstraps that resample source sentences, not rewrites: the three
rewrites of a sentence share its difficulty. The human ceiling (Krippendorff's ordinal alpha and
Fleiss' kappa, from ``srllm.human.agreement``) says how well any metric could agree at best.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..core.arrays import as_float_array, cluster_members, cluster_resamples, json_safe, percentile_interval
from ..core.auroc import auroc as _rank_auroc
from ..human.agreement import agreement
from ..human.emnlp import SCALE_MAP
from ..human.scales import scales_by_name
from .emnlp_ratings import MAJORITY, per_rewrite_ratings, validate_long_ratings
from .thresholds import split_half_threshold

# metric column -> (human mean column, human majority column, does a higher metric mean more of it?)
METRICS: dict[str, tuple[str, str, bool]] = {
    "toxicity": ("style", MAJORITY["style"], False),
    "profanity": ("style", MAJORITY["style"], False),  # the independent toxicity signal
    "similarity": ("meaning", MAJORITY["meaning"], True),
    "chrf": ("meaning", MAJORITY["meaning"], True),  # meaning kept without the embedding model
    "content_words": ("meaning", MAJORITY["meaning"], True),
    "fluency": ("fluency", MAJORITY["fluency"], True),
    "j": ("joint", MAJORITY["joint"], True),
}
# The study's cuts when this module was written (judge P >= 0.5 is toxic; evaluation.similarity_threshold
# defaults to 0.7). Callers should pass the run's own parameters.
STUDY_THRESHOLDS: dict[str, float] = {"toxicity": 0.5, "similarity": 0.7}


def _pairs(a: Any, b: Any, clusters: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = as_float_array(a, "score"), as_float_array(b, "human")
    c = np.asarray(clusters)
    if not len(x) == len(y) == len(c):
        raise ValueError(f"lengths differ: {len(x)} scores, {len(y)} human values, {len(c)} clusters")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep], c[keep]


def _bootstrapped(statistic, x, y, c, resamples: int, seed: int) -> dict[str, Any]:
    """``statistic(x, y)`` with its cluster-bootstrap percentile interval."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")  # a constant resample: the statistic is undefined (NaN), left out
        value = statistic(x, y) if len(x) >= 2 else float("nan")
        draws = (
            [statistic(x[i], y[i]) for i in cluster_resamples(cluster_members(c), resamples, seed)] if resamples else []
        )
    low, high = percentile_interval(draws)
    return {"value": value, "low": low, "high": high}


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    return float(stats.spearmanr(x, y).statistic)


def _kendall(x: np.ndarray, y: np.ndarray) -> float:
    return float(stats.kendalltau(x, y).statistic)


def _auc(x: np.ndarray, y: np.ndarray) -> float:
    return _rank_auroc(y, x)


def correlation(auto: Any, human: Any, clusters: Any, resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Spearman's rho and Kendall's tau-b of ``auto`` with ``human``, each with a 95% interval over
    resampled clusters (source sentences). Pairs with a missing value on either side are left out
    and counted in ``n``."""
    x, y, c = _pairs(auto, human, clusters)
    return json_safe({
        "n": len(x), "n_clusters": len(set(c.tolist())),
        "spearman": _bootstrapped(_spearman, x, y, c, resamples, seed),
        "kendall": _bootstrapped(_kendall, x, y, c, resamples, seed),
    })  # fmt: skip


def auroc(score: Any, binary: Any, clusters: Any, resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """AUROC of ``score`` for the human binary (higher score = more of the property: pass
    -toxicity for "non-toxic"), with a 95% interval over resampled clusters. 0.5 is chance."""
    x, y, c = _pairs(score, np.asarray(binary, dtype=float), clusters)
    result = _bootstrapped(_auc, x, y.astype(int), c, resamples, seed)
    result.update(n=len(x), n_positive=int(y.sum()), orientation="higher score = more of the property")
    return json_safe(result)


def system_ranking(frame: pd.DataFrame, auto_col: str, human_col: str, system_col: str = "system") -> dict[str, Any]:
    """Systems ordered by their mean automatic score and by their mean human rating (best first,
    both read as "higher = better"), Kendall's tau between the two orders, and whether the top
    system is the same."""
    means = frame.groupby(system_col)[[auto_col, human_col]].mean()
    auto_order = sorted(means.index, key=lambda s: (-means.at[s, auto_col], str(s)))
    human_order = sorted(means.index, key=lambda s: (-means.at[s, human_col], str(s)))
    tau = None
    if len(means) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tau = float(stats.kendalltau(means[auto_col], means[human_col]).statistic)
    auto_top = sorted(str(s) for s in means.index if means.at[s, auto_col] == means[auto_col].max())
    human_top = sorted(str(s) for s in means.index if means.at[s, human_col] == means[human_col].max())
    return json_safe({
        "auto_means": {str(s): means.at[s, auto_col] for s in auto_order},
        "human_means": {str(s): means.at[s, human_col] for s in human_order},
        "auto_order": [str(s) for s in auto_order], "human_order": [str(s) for s in human_order],
        "kendall_tau": tau, "auto_top": auto_top, "human_top": human_top, "top_agrees": auto_top == human_top,
    })  # fmt: skip


def human_ceiling(
    long_frame: pd.DataFrame, resamples: int = 1000, seed: int = 0, source: str = "ratings table"
) -> dict[str, Any]:
    """Krippendorff's ordinal alpha and Fleiss' kappa per EMNLP scale, each with srllm.human.agreement's
    95% bootstrap interval over rewrites.

    The 0 / 0.5 / 1 ratings are mapped onto the study's 0-2 scales exactly as ``srllm.human.emnlp``
    does (style reversed onto toxicity); neither statistic changes under that relabelling.
    """
    frame = validate_long_ratings(long_frame, source)
    item = frame["idx"].astype(str) + "/" + frame["source"].astype(str)
    rows = []
    for ours, (column, mapping) in SCALE_MAP.items():
        rows.append(pd.DataFrame({"item_id": item, "rater": frame["labeller"].astype(str), "scale": ours,
                                  "value": frame[column].map(mapping).astype(int)}))  # fmt: skip
    long = pd.concat(rows, ignore_index=True)
    alphas, kappas = {}, {}
    for ours, (column, _) in SCALE_MAP.items():
        result = agreement(long, scales_by_name([ours])[ours], resamples=resamples, seed=seed)
        alphas[column] = {"value": result.get("alpha"), "low": result.get("alpha_ci_low"),
                          "high": result.get("alpha_ci_high"), "n_items": result.get("alpha_items"),
                          "level": result.get("alpha_level")}  # fmt: skip
        kappas[column] = {"value": result.get("fleiss_kappa"), "low": result.get("fleiss_ci_low"),
                          "high": result.get("fleiss_ci_high"), "n_items": result.get("fleiss_items"),
                          "items_left_out": result.get("fleiss_items_left_out")}  # fmt: skip
    return json_safe({"alpha": alphas, "fleiss": kappas})


def _aligned(ratings: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Ratings with the score columns beside them as ``auto_<metric>`` (the ratings have their own
    ``fluency``), matched on (source_id, system) when the scores carry those keys, else by row
    position (then the lengths must agree)."""
    keys = ["source_id", "system"]
    metric_cols = [m for m in METRICS if m in scores.columns]
    if not metric_cols:
        raise ValueError(f"scores have none of the metric columns {list(METRICS)}")
    renamed = scores.rename(columns={m: f"auto_{m}" for m in metric_cols})
    auto_cols = [f"auto_{m}" for m in metric_cols]
    if all(k in scores.columns for k in keys):
        if scores.duplicated(keys).any():
            raise ValueError("scores hold more than one row for some (source_id, system)")
        merged = ratings.merge(renamed[keys + auto_cols], on=keys, how="left", validate="one_to_one")
        unscored = merged[auto_cols].isna().all(axis=1)
        if unscored.any():
            first = merged.loc[unscored, keys].iloc[0].tolist()
            raise ValueError(
                f"{int(unscored.sum())} rated rewrite(s) have no scores, e.g. (source_id, system) = {first}"
            )
        return merged
    if len(scores) != len(ratings):
        raise ValueError(f"{len(scores)} score rows for {len(ratings)} rated rewrites and no source_id/system keys")
    return pd.concat([ratings.reset_index(drop=True), renamed[auto_cols].reset_index(drop=True)], axis=1)


def validate_against_humans(
    ratings: pd.DataFrame, scores: pd.DataFrame, long_frame: pd.DataFrame | None = None,
    study_thresholds: Mapping[str, float] | None = None, resamples: int = 1000, seed: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """Everything above for each metric column in ``scores`` (toxicity, similarity, fluency, j),
    as one JSON-serialisable dict. ``ratings`` is :func:`per_rewrite_ratings`' table; with the long
    table the human ceiling (alpha, Fleiss' kappa) is added."""
    thresholds = dict(STUDY_THRESHOLDS if study_thresholds is None else study_thresholds)
    frame = _aligned(ratings, scores)
    result: dict[str, Any] = {"n_rewrites": len(frame), "n_sources": int(frame["source_id"].nunique()),
                              "n_systems": int(frame["system"].nunique()),
                              "orientation": "higher = more of the human scale's property; toxicity as -toxicity",
                              "metrics": {}}  # fmt: skip
    if long_frame is not None:
        result.update(human_ceiling(long_frame, resamples=resamples, seed=seed))
    for metric, (human_col, binary_col, higher) in METRICS.items():
        if f"auto_{metric}" not in frame.columns:
            continue
        raw = frame[f"auto_{metric}"].to_numpy(dtype=float)
        oriented = raw if higher else -raw
        ranked = frame.assign(_oriented=oriented)
        result["metrics"][metric] = {
            "human_scale": human_col, "human_binary": binary_col, "n_scored": int(np.isfinite(raw).sum()),
            **correlation(oriented, frame[human_col], frame["source_id"], resamples, seed),
            "auroc": auroc(oriented, frame[binary_col], frame["source_id"], resamples, seed),
            "ranking": system_ranking(ranked.dropna(subset=["_oriented"]), "_oriented", human_col),
            "threshold": split_half_threshold(raw, frame[binary_col], frame["source_id"], thresholds.get(metric),
                                              seed=seed, higher_is_positive=higher),
        }  # fmt: skip
    return json_safe(result)


__all__ = [
    "METRICS",
    "STUDY_THRESHOLDS",
    "auroc",
    "correlation",
    "human_ceiling",
    "per_rewrite_ratings",
    "split_half_threshold",
    "system_ranking",
    "validate_against_humans",
]  # fmt: skip
