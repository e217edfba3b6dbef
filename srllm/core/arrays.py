"""Helpers shared by the validation modules: JSON-safe values and resampling of clusters.

Kept apart so that each statistics module stays about its own question. Resampling is by cluster
because the study's items are not independent: three rewrites of one source sentence share its
difficulty, so resampling rewrites one by one would understate the uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python ones and NaN / inf into None.

    Results go into JSON files that other tools read; NaN is not valid JSON, and numpy types are
    not serialisable by the standard library.
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def as_float_array(values: Sequence[Any] | np.ndarray, name: str) -> np.ndarray:
    """A 1-D float array (None -> NaN); ValueError naming the argument if it is not 1-D."""
    array = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def cluster_members(clusters: Sequence[Any] | np.ndarray) -> list[np.ndarray]:
    """Row positions of each cluster, clusters in sorted order (so a seed gives the same resamples
    whatever the row order of clusters)."""
    labels = np.asarray(clusters)
    order = sorted(set(labels.tolist()), key=str)
    return [np.flatnonzero(labels == label) for label in order]


def cluster_resamples(members: list[np.ndarray], resamples: int, seed: int) -> list[np.ndarray]:
    """``resamples`` sets of row positions, each made by drawing whole clusters with replacement."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(members), size=(resamples, len(members)))
    return [np.concatenate([members[c] for c in row]) for row in draws]


def percentile_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
    """The central ``level`` percentile interval of the finite values; (None, None) if fewer than 2.

    A resample can leave a statistic undefined (a constant column has no rank correlation); those
    resamples are left out rather than poisoning the interval.
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if len(finite) < 2:
        return None, None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)
