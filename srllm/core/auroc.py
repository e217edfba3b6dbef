"""AUROC as the Mann-Whitney U statistic over average ranks, vectorised over bootstrap resamples.

Equal to sklearn's ``roc_auc_score`` for a binary label (a tie between a positive and a negative
counts one half in both), but without its per-call input validation, which made 2,000 bootstrap
resamples of 940 statements cost about 8 s each time an interval was drawn.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def auroc_rows(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The AUROC of each row of ``scores`` (2-D) for the binary ``labels`` of the same shape; NaN for
    a row holding one class only."""
    labels = np.asarray(labels).astype(bool)
    ranks = rankdata(np.asarray(scores, dtype=np.float64), axis=-1)
    positives = labels.sum(axis=-1)
    negatives = labels.shape[-1] - positives
    u = np.where(labels, ranks, 0.0).sum(axis=-1) - positives * (positives + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((positives > 0) & (negatives > 0), u / (positives * negatives), np.nan)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The AUROC of ``scores`` for the binary ``labels`` (NaN when only one class is present)."""
    return float(auroc_rows(np.asarray(labels)[None, :], np.asarray(scores)[None, :])[0])
