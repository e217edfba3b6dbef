"""Inter-rater agreement on one scale of a long ratings table (srllm.human.ratings), from libraries.

- Fleiss' kappa (statsmodels ``fleiss_kappa`` on ``aggregate_raters``' counts), the statistic the
  paper reports (0.78 for benign generation). It treats the levels as unordered and needs the same
  number of ratings per item, so it is computed on the items with the most common count; the
  number of items left out is reported.
- Krippendorff's alpha (the ``krippendorff`` package), ordinal for ordered scales and nominal for
  the yes/no flag. It accepts any pattern of missing ratings, so it uses every item rated twice
  or more.
- Each with a 95% percentile bootstrap interval over items (scipy.stats.bootstrap, resampling the
  item indices), since the items, not the raters, are the sample the team drew.
- Pairwise: for every pair of raters, the items both rated, their exact agreement and Cohen's
  kappa (scikit-learn; linearly weighted on ordinal scales).
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Callable

import krippendorff
import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from .ratings import complete_items, wide
from .scales import Scale


def fleiss(matrix: np.ndarray) -> float:
    """Fleiss' kappa of an items x k array of ratings (every item rated exactly k times)."""
    counts, _ = aggregate_raters(matrix)
    return float(fleiss_kappa(counts, method="fleiss"))


def alpha(matrix: np.ndarray, scale: Scale) -> float:
    """Krippendorff's alpha of an items x raters array (NaN where not rated)."""
    level = "ordinal" if scale.ordinal else "nominal"
    return float(krippendorff.alpha(reliability_data=matrix.T, level_of_measurement=level,
                                    value_domain=list(scale.values)))  # fmt: skip


def _compress(matrix: pd.DataFrame) -> np.ndarray:
    """Items x k: each row's k ratings without the raters' identities (Fleiss' kappa does not use them)."""
    values = matrix.to_numpy(dtype=float)
    return np.array([row[~np.isnan(row)] for row in values])


def _interval(statistic: Callable[[np.ndarray], float], n: int, resamples: int, seed: int) -> tuple[float | None, float | None]:
    """95% percentile bootstrap interval of ``statistic(item indices)`` over ``n`` items."""
    if n < 2 or resamples <= 0:
        return None, None
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        # A resample of items that all got one level has no defined kappa / alpha: those resamples
        # are NaN and scipy leaves them out of the percentiles only if none is NaN, so guard below.
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (np.arange(n),), lambda idx: statistic(idx.astype(int)), n_resamples=resamples, vectorized=False,
            confidence_level=0.95, method="percentile", rng=np.random.default_rng(seed),
        )  # fmt: skip
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return (None, None) if np.isnan(low) or np.isnan(high) else (low, high)


def pairwise(matrix: pd.DataFrame, scale: Scale) -> list[dict[str, Any]]:
    """Agreement of every pair of raters on the items both rated."""
    rows = []
    for a, b in itertools.combinations(matrix.columns, 2):
        both = matrix[[a, b]].dropna()
        entry: dict[str, Any] = {"rater_a": a, "rater_b": b, "n_items": int(len(both))}
        if len(both):
            x, y = both[a].astype(int).to_numpy(), both[b].astype(int).to_numpy()
            entry["exact_agreement"] = float(np.mean(x == y))
            with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
                warnings.simplefilter("ignore")  # one label only: kappa undefined (NaN, stored as None)
                kappa = cohen_kappa_score(x, y, labels=list(scale.values), weights="linear" if scale.ordinal else None)
            entry["cohen_kappa"] = None if np.isnan(kappa) else float(kappa)
        rows.append(entry)
    return rows


def agreement(frame: pd.DataFrame, scale: Scale, resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Fleiss' kappa, Krippendorff's alpha (each with its bootstrap interval) and pairwise agreement
    on ``scale`` of a long ratings table."""
    matrix = wide(frame, scale.name)
    rated = matrix[matrix.notna().sum(axis=1) >= 2]
    complete, left_out = complete_items(matrix)
    result: dict[str, Any] = {
        "scale": scale.name, "n_items": int(len(matrix)), "n_raters": int(matrix.shape[1]),
        "n_ratings": int(matrix.notna().to_numpy().sum()),
    }  # fmt: skip
    if len(complete) >= 2:
        ratings = _compress(complete)
        result["fleiss_kappa"] = fleiss(ratings)
        result["fleiss_items"] = int(len(complete))
        result["fleiss_raters_per_item"] = int(ratings.shape[1])
        result["fleiss_items_left_out"] = left_out
        low, high = _interval(lambda idx: fleiss(ratings[idx]), len(ratings), resamples, seed)
        result["fleiss_ci_low"], result["fleiss_ci_high"] = low, high
    if len(rated) >= 2:
        values = rated.to_numpy(dtype=float)
        result["alpha"] = alpha(values, scale)
        result["alpha_level"] = "ordinal" if scale.ordinal else "nominal"
        result["alpha_items"] = int(len(rated))
        low, high = _interval(lambda idx: alpha(values[idx], scale), len(values), resamples, seed)
        result["alpha_ci_low"], result["alpha_ci_high"] = low, high
    result["pairwise"] = pairwise(matrix, scale)
    return result
