"""Per-group results with few items: is the largest gap between groups more than noise?

The study reports a score per demographic group and, often, the gap between the best and the
worst group. With many groups of a few items each, the largest gap is large even when no group
differs: it is the range of many noisy means. Three things keep that honest:

- a permutation test of "no group differs": group labels are shuffled over the items and the gap
  recomputed; the p-value is the share of shuffles with a gap at least as large (plus one, so it
  is never 0);
- a bootstrap that resamples items within each group (group sizes are the design, not chance),
  with the plain percentile interval and the BCa interval (bias-corrected and accelerated,
  acceleration from the jackknife over items). The bootstrap range of noisy means is wider still
  than the observed one, so the percentile interval can lie entirely above its own estimate. BCa
  moves it down by the estimated median bias, but no bias-corrected percentile interval can cover
  the estimate when fewer than (1 - level) / 2 of the resamples fall below it (with zero
  acceleration, exactly: the upper quantile Phi(2 z0 + z) falls below the estimate's own quantile
  Phi(z0) when z0 < -z). So both intervals are reported with ``share_below``, the bootstrap
  estimate of the bias, and the permutation p-value, which is the test to read;
- :func:`flag_small_groups` names the groups too small to report on their own.

:func:`paired_bootstrap_difference` is the paired counterpart for one score on the same items
under two models (e.g. StereoSet or CrowS-Pairs items, base vs SR-LLM).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

from .arrays import as_float_array, json_safe, percentile_interval


def _gap(means: np.ndarray) -> np.ndarray:
    return means.max(axis=-1) - means.min(axis=-1)


def _group_means(values: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(codes, weights=values, minlength=k) / np.bincount(codes, minlength=k)


def _share_below(boot: np.ndarray, estimate: float) -> float:
    """The share of resamples below the estimate, ties counted half (the BCa bias correction's input)."""
    return float((np.sum(boot < estimate) + 0.5 * np.sum(boot == estimate)) / len(boot)) if len(boot) else float("nan")


def bca_interval(
    boot: np.ndarray, estimate: float, jackknife: np.ndarray, level: float = 0.95
) -> tuple[float | None, float | None]:
    """The BCa interval of bootstrap values ``boot`` around ``estimate``, with the acceleration from
    the leave-one-out values ``jackknife``. (None, None) when every resample lies on one side of
    the estimate (the bias correction z0 is infinite)."""
    boot = np.asarray(boot, dtype=float)
    share = _share_below(boot, estimate)
    if share <= 0.0 or share >= 1.0:
        return None, None
    z0 = norm.ppf(share)
    spread = jackknife.mean() - jackknife
    denominator = 6.0 * np.sum(spread**2) ** 1.5
    accel = float(np.sum(spread**3) / denominator) if denominator > 0 else 0.0
    z = norm.ppf([(1 - level) / 2, (1 + level) / 2])
    quantiles = norm.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z)))
    low, high = np.quantile(boot, quantiles)
    return float(low), float(high)


def largest_gap(
    values: Any, groups: Sequence[Any], resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> dict[str, Any]:
    """The largest minus the smallest group mean, its permutation p-value, and its percentile and
    BCa bootstrap intervals (items resampled within groups). Items with a missing value are left out."""
    x = as_float_array(values, "values")
    labels = np.asarray([str(g) for g in groups])
    if len(x) != len(labels):
        raise ValueError(f"{len(x)} values for {len(labels)} group labels")
    keep = np.isfinite(x)
    x, labels = x[keep], labels[keep]
    names, codes = np.unique(labels, return_inverse=True)
    if len(names) < 2:
        raise ValueError("the largest gap needs at least two groups")
    means = _group_means(x, codes, len(names))
    estimate = float(_gap(means))
    rng_perm, rng_boot = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    perm = np.array([_gap(_group_means(x, rng_perm.permutation(codes), len(names))) for _ in range(resamples)])
    p_value = (1 + int(np.sum(perm >= estimate - 1e-12))) / (1 + resamples)
    members = [np.flatnonzero(codes == g) for g in range(len(names))]
    boot_means = np.column_stack(
        [x[m][rng_boot.integers(0, len(m), size=(resamples, len(m)))].mean(axis=1) for m in members]
    )
    boot = _gap(boot_means)
    jack = np.array([_leave_one_out_gap(x, codes, len(names), i) for i in range(len(x))])
    low, high = percentile_interval(boot, level)
    bca_low, bca_high = bca_interval(boot, estimate, jack, level)
    bias = float(boot.mean() - estimate)
    return json_safe({
        "estimate": estimate, "max_group": str(names[means.argmax()]), "min_group": str(names[means.argmin()]),
        "groups": {str(n): {"n": len(m), "mean": float(means[g])} for g, (n, m) in enumerate(zip(names, members))},
        "n": len(x), "n_left_out": int((~keep).sum()), "resamples": resamples, "seed": seed, "level": level,
        "permutation_p": p_value, "percentile": {"low": low, "high": high}, "bca": {"low": bca_low, "high": bca_high},
        "share_below": _share_below(boot, estimate),
        "bootstrap_bias": bias, "bias_corrected_estimate": estimate - bias,
    })  # fmt: skip


def _leave_one_out_gap(x: np.ndarray, codes: np.ndarray, k: int, i: int) -> float:
    """The gap without item i (a group left empty drops out)."""
    rest, rest_codes = np.delete(x, i), np.delete(codes, i)
    counts = np.bincount(rest_codes, minlength=k)
    sums = np.bincount(rest_codes, weights=rest, minlength=k)
    means = sums[counts > 0] / counts[counts > 0]
    return float(means.max() - means.min())


def flag_small_groups(counts: Mapping[str, int], min_n: int) -> list[str]:
    """The groups with fewer than ``min_n`` items, sorted: report them pooled or marked, not ranked."""
    return sorted(str(g) for g, n in counts.items() if n < min_n)


def paired_bootstrap_difference(
    a: Any, b: Any, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> dict[str, Any]:
    """Mean of the per-item difference a - b, its percentile bootstrap interval (items resampled in
    pairs) and a two-sided bootstrap p-value of "no difference": the share of resamples of the
    centred differences (d - mean d, so the null holds) whose mean is at least as far from 0 as the
    observed one, plus one. Pairs with a missing side are left out and counted."""
    x, y = as_float_array(a, "a"), as_float_array(b, "b")
    if len(x) != len(y):
        raise ValueError(f"{len(x)} values for a, {len(y)} for b: they must be the same items")
    keep = np.isfinite(x) & np.isfinite(y)
    d = x[keep] - y[keep]
    if len(d) == 0:
        raise ValueError("no item has both values")
    estimate = float(d.mean())
    rows = np.random.default_rng(seed).integers(0, len(d), size=(resamples, len(d)))
    boot = d[rows].mean(axis=1)
    centred = (d - estimate)[rows].mean(axis=1)
    low, high = percentile_interval(boot, level)
    p_value = (1 + int(np.sum(np.abs(centred) >= abs(estimate) - 1e-12))) / (1 + resamples)
    return json_safe({
        "estimate": estimate, "low": low, "high": high, "p_value": p_value, "n": len(d),
        "n_left_out": int((~keep).sum()), "resamples": resamples, "seed": seed, "level": level,
    })  # fmt: skip
