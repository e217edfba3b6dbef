"""srllm.core.group_gap: the largest group gap, its test and intervals, and paired differences."""

from __future__ import annotations

import json

import numpy as np
import pytest

from srllm.core.group_gap import bca_interval, flag_small_groups, largest_gap, paired_bootstrap_difference


def test_largest_gap_by_hand() -> None:
    result = largest_gap([1, 2, 4, 6, 3, None], ["a", "a", "b", "b", "c", "c"], resamples=200, seed=0)
    assert result["estimate"] == pytest.approx(3.5)  # b: 5, a: 1.5
    assert (result["max_group"], result["min_group"]) == ("b", "a")
    assert result["groups"]["c"] == {"n": 1, "mean": 3.0} and result["n_left_out"] == 1
    assert result == largest_gap([1, 2, 4, 6, 3, None], ["a", "a", "b", "b", "c", "c"], resamples=200, seed=0)
    json.dumps(result, allow_nan=False)


def test_permutation_p_separates_real_from_no_difference() -> None:
    groups = np.repeat(["x", "y", "z"], 6)
    real = largest_gap(
        np.r_[np.zeros(6), np.zeros(6), np.full(6, 5.0)] + np.tile(np.arange(6) / 10, 3), groups, resamples=300
    )
    assert real["permutation_p"] == pytest.approx(1 / 301)
    none = largest_gap(np.tile(np.arange(6.0), 3), groups, resamples=300)
    assert none["estimate"] == 0 and none["permutation_p"] == 1.0


def test_many_groups_of_two_without_a_difference() -> None:
    # 20 groups of 2 items, all drawn from one normal: the percentile interval lies entirely above
    # its own estimate (the bootstrap range of noisy means exceeds the observed range). BCa moves
    # the interval down; it cannot cover the estimate here, since under 2.5% of resamples fall below
    # it (see the module docstring), and the permutation test finds no difference.
    values = np.random.default_rng(4).normal(size=40)
    result = largest_gap(values, np.repeat(np.arange(20), 2), resamples=1000, seed=0)
    estimate, percentile, bca = result["estimate"], result["percentile"], result["bca"]
    assert percentile["low"] > estimate
    assert result["share_below"] < 0.025 and result["bootstrap_bias"] > 0
    assert bca["low"] < percentile["low"] and bca["high"] < percentile["high"]
    assert result["bias_corrected_estimate"] < estimate
    assert result["permutation_p"] > 0.5


def test_bca_without_acceleration_is_the_bias_corrected_percentile() -> None:
    boot = np.arange(1000) / 1000  # quantile q of boot is q (np.quantile, linear)
    flat = np.zeros(10)  # equal jackknife values: no acceleration
    low, high = bca_interval(boot, 0.5 - 0.0005, flat, 0.95)  # share below 0.5 -> z0 = 0: the percentile interval
    assert (low, high) == pytest.approx((0.025 * 0.999, 0.975 * 0.999), abs=1e-9)
    # z0 = Phi^-1(0.03) > -1.96: the upper bound Phi(2 z0 + 1.96) stays above the estimate ...
    assert bca_interval(boot, 0.0295, flat)[1] > 0.0295
    # ... and at 0.02 (< 0.025 below) it cannot reach it
    assert bca_interval(boot, 0.0195, flat)[1] < 0.0195
    assert bca_interval(boot, -1.0, flat) == (None, None)


def test_flag_small_groups() -> None:
    assert flag_small_groups({"b": 3, "a": 12, "c": 9}, min_n=10) == ["b", "c"]


def test_paired_bootstrap_difference() -> None:
    same = paired_bootstrap_difference([1, 0, 1, 1], [1, 0, 1, 1], resamples=200, seed=0)
    assert same["estimate"] == 0 and same["p_value"] == 1.0 and (same["low"], same["high"]) == (0.0, 0.0)
    shifted = paired_bootstrap_difference([2, 3, 4, 5, None], [1, 2, 3, 4, 0], resamples=200, seed=0)
    assert shifted["estimate"] == 1 and (shifted["low"], shifted["high"]) == (1.0, 1.0)
    assert shifted["p_value"] == pytest.approx(1 / 201) and shifted["n_left_out"] == 1
    noisy = paired_bootstrap_difference([1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 1, 0], resamples=500, seed=2)
    assert noisy["estimate"] == 0 and noisy["low"] < 0 < noisy["high"] and noisy["p_value"] == 1.0
    assert noisy == paired_bootstrap_difference([1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 1, 0], resamples=500, seed=2)
