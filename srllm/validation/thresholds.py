"""Is the study's cut on a score where the human raters would put it? A split-half check.

The study turns scores into yes/no with fixed cuts (toxic when the judge's probability is at least
0.5; meaning kept when the similarity is at least the configured threshold). A cut chosen on the
same ratings it is judged on would look better than it is, so the sources are split in two halves
(seeded): the cut that maximises balanced accuracy with the human majority is picked on half A,
and on half B that fitted cut and the study's cut are both scored. The study's value is reported
as it is and never replaced: the comparison says whether it is far from the raters' cut, nothing more.

Balanced accuracy (mean of the true-positive and true-negative rates) rather than accuracy, because
the classes are unbalanced (most EMNLP rewrites are non-toxic, most lose some meaning); it has the
same maximiser as Youden's J = TPR + TNR - 1, which is reported too. A cut ``t`` predicts "yes"
when ``score >= t`` (``higher_is_positive``) or ``score <= t`` (scores such as toxicity, where
less is more of the property). Only observed scores are candidate cuts (any cut between two
neighbours gives the same predictions); among equally good cuts the smallest is taken, a rule
fixed in advance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.arrays import as_float_array, json_safe


def _rates(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float | None]:
    """Accuracy, balanced accuracy and Youden's J of boolean predictions (None where a class is absent)."""
    if len(truth) == 0:
        return {"accuracy": None, "balanced_accuracy": None, "youden_j": None}
    accuracy = float(np.mean(predicted == truth))
    if truth.all() or not truth.any():
        return {"accuracy": accuracy, "balanced_accuracy": None, "youden_j": None}
    tpr = float(np.mean(predicted[truth]))
    tnr = float(np.mean(~predicted[~truth]))
    return {"accuracy": accuracy, "balanced_accuracy": (tpr + tnr) / 2, "youden_j": tpr + tnr - 1}


def predict(score: np.ndarray, threshold: float, higher_is_positive: bool = True) -> np.ndarray:
    """The yes/no a cut gives: ``score >= threshold`` (or ``<=`` when lower scores are the yes)."""
    return score >= threshold if higher_is_positive else score <= threshold


def best_threshold(score: np.ndarray, truth: np.ndarray, higher_is_positive: bool = True) -> float | None:
    """The observed score value that, used as the cut, maximises balanced accuracy (ties: see the
    module docstring). None when ``truth`` has one class only."""
    if truth.all() or not truth.any():
        return None
    candidates = np.unique(score)
    balanced = np.array([_rates(predict(score, t, higher_is_positive), truth)["balanced_accuracy"] for t in candidates])
    return float(candidates[np.isclose(balanced, balanced.max(), rtol=0, atol=1e-12)].min())


def split_half_threshold(
    score: Any, binary: Any, clusters: Any, study_value: float | None, seed: int = 0, higher_is_positive: bool = True
) -> dict[str, Any]:
    """The cut fitted on half A of the clusters and the study's cut, both scored on half B.

    Items with a missing score are left out (``n`` counts the rest). Half A gets the first
    ceil(k / 2) of the k clusters in a seeded random order.
    """
    x = as_float_array(score, "score")
    truth = np.asarray(binary, dtype=bool)
    labels = np.asarray(clusters)
    if not len(x) == len(truth) == len(labels):
        raise ValueError(f"lengths differ: {len(x)} scores, {len(truth)} binaries, {len(labels)} clusters")
    keep = np.isfinite(x)
    x, truth, labels = x[keep], truth[keep], labels[keep]
    names = sorted(set(labels.tolist()), key=str)
    order = np.random.default_rng(seed).permutation(len(names))
    half_a = {names[i] for i in order[: (len(names) + 1) // 2]}
    in_a = np.array([label in half_a for label in labels.tolist()], dtype=bool)
    fitted = best_threshold(x[in_a], truth[in_a], higher_is_positive)
    result: dict[str, Any] = {
        "rule": f"yes when score {'>=' if higher_is_positive else '<='} threshold (fit: balanced accuracy, half A)",
        "seed": seed, "n": len(x), "n_clusters_a": len(half_a), "n_clusters_b": len(names) - len(half_a),
        "n_a": int(in_a.sum()), "n_b": int((~in_a).sum()),
        "positive_share_b": float(truth[~in_a].mean()) if (~in_a).any() else None,
        "fitted": {"threshold": fitted}, "study": {"threshold": study_value},
    }  # fmt: skip
    for name, cut in (("fitted", fitted), ("study", study_value)):
        if cut is None:
            continue
        result[name]["half_a"] = _rates(predict(x[in_a], cut, higher_is_positive), truth[in_a])
        result[name]["half_b"] = _rates(predict(x[~in_a], cut, higher_is_positive), truth[~in_a])
    return json_safe(result)
