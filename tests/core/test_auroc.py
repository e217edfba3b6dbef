"""The rank AUROC equals sklearn's, ties and bootstrap resamples included."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from srllm.core.auroc import auroc, auroc_rows
from srllm.validation.judge_checks import bootstrap_auroc


def test_equals_sklearn_with_ties_and_per_row() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, (50, 40))
    scores = rng.integers(0, 6, (50, 40)) / 5  # coarse scores: many ties between classes
    expected = [roc_auc_score(y, s) for y, s in zip(labels, scores)]
    np.testing.assert_allclose(auroc_rows(labels, scores), expected, rtol=0, atol=1e-12)
    assert abs(auroc(labels[0], scores[0]) - expected[0]) < 1e-12


def test_one_class_is_nan_and_left_out_of_the_interval() -> None:
    assert np.isnan(auroc(np.ones(5), np.arange(5.0)))
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.3, 0.9, 0.2])
    result = bootstrap_auroc(labels, scores, resamples=300, seed=0)
    assert result["value"] == roc_auc_score(labels, scores)
    assert result["low"] <= result["value"] <= result["high"] <= 1.0
