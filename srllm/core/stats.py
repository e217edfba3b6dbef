"""Paired significance tests of SR-LLM against the other systems (scipy.stats, not hand-written).

Continuous scores: Wilcoxon signed-rank test. Binary flags: McNemar's exact test, which is a
binomial test on the discordant pairs. Every difference gets a paired bootstrap 95% confidence
interval and an effect size; p-values are Holm-Bonferroni corrected across the family of all
comparisons of one task (every metric against every other system).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .group_gap import flag_small_groups, largest_gap

# The headline family of each test set (a likelihood task has only its per-item StereoSet / CrowS-Pairs scores).
CONTINUOUS = ("toxicity", "similarity", "profanity", "sentiment", "perplexity", "j", "lms_item")
BINARY = ("toxic", "flagged", "meaning_kept", "refusal", "fluent", "negative", "ss_item", "stereotyped")
# The alternative metric choices, tested as a family of their own so they do not dilute the headline one:
# the TextDetox reference-aware scores, erased identities counted as failures, the human-matched cut.
ALTERNATIVE_CONTINUOUS = ("j_ref", "sim_ref", "sta_ref", "j_named")
ALTERNATIVE_BINARY = ("erased", "copied", "meaning_kept_named", "meaning_kept_human")

SMALL_GROUP = 5  # a group mean over fewer items is flagged, not ranked


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (scipy's false_discovery_control has no Holm option)."""
    order = np.argsort(p_values)
    m = len(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def _bootstrap_ci(diff: np.ndarray, resamples: int, seed: int) -> tuple[float, float]:
    if np.all(diff == diff[0]):
        return float(diff[0]), float(diff[0])
    result = stats.bootstrap(
        (diff,), np.mean, n_resamples=resamples, confidence_level=0.95, method="percentile", rng=np.random.default_rng(seed)
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_test(a: np.ndarray, b: np.ndarray, binary: bool, resamples: int, seed: int) -> dict[str, Any]:
    """Compare paired scores ``a`` (reference system) and ``b`` (other system)."""
    diff = a.astype(float) - b.astype(float)
    low, high = _bootstrap_ci(diff, resamples, seed)
    if binary:
        only_a = int(np.sum(a.astype(bool) & ~b.astype(bool)))
        only_b = int(np.sum(~a.astype(bool) & b.astype(bool)))
        discordant = only_a + only_b
        p = stats.binomtest(only_a, discordant, 0.5).pvalue if discordant else 1.0
        # Effect size: the odds ratio of the discordant pairs (with a 0.5 continuity correction).
        effect = (only_a + 0.5) / (only_b + 0.5)
        test, effect_name = "mcnemar_exact", "discordant_odds_ratio"
    else:
        nonzero = diff[diff != 0]
        p = stats.wilcoxon(a, b).pvalue if len(nonzero) else 1.0
        # Effect size: the matched-pairs rank-biserial correlation.
        ranks = stats.rankdata(np.abs(nonzero))
        effect = float((ranks[nonzero > 0].sum() - ranks[nonzero < 0].sum()) / ranks.sum()) if len(nonzero) else 0.0
        test, effect_name = "wilcoxon", "rank_biserial"
    return {
        "test": test,
        "n": int(len(a)),
        "mean_reference": float(np.mean(a)),
        "mean_other": float(np.mean(b)),
        "mean_difference": float(np.mean(diff)),
        "ci_low": low,
        "ci_high": high,
        "p_value": float(p),
        "effect_size": float(effect),
        "effect_size_kind": effect_name,
    }


def compare_paired(
    frame: pd.DataFrame, reference: str, others: list[str], resamples: int, seed: int,
    continuous: tuple[str, ...] = CONTINUOUS, binary: tuple[str, ...] = BINARY,
) -> dict[str, Any]:  # fmt: skip
    """``{metric: {other system: result}}`` with Holm-corrected p-values across the whole family."""
    wide = {s: g.set_index("item_id").sort_index() for s, g in frame.groupby("system")}
    ref = wide[reference]
    results: dict[str, dict[str, Any]] = {}
    family: list[tuple[str, str]] = []
    for metric in (*continuous, *binary):
        # The per-example table is shared by all tasks: a task leaves other tasks' scores empty.
        if metric not in frame.columns or frame[metric].isna().all():
            continue
        for other in others:
            joined = ref[[metric]].join(wide[other][[metric]], rsuffix="_other", how="inner").dropna()
            if joined.empty:
                continue
            result = paired_test(
                joined[metric].to_numpy(), joined[f"{metric}_other"].to_numpy(), metric in binary, resamples, seed
            )
            results.setdefault(metric, {})[other] = result
            family.append((metric, other))
    adjusted = holm([results[m][o]["p_value"] for m, o in family])
    for (metric, other), p_holm in zip(family, adjusted):
        results[metric][other]["p_holm"] = p_holm
    results["family"] = {
        "size": len(family),
        "description": f"{reference} against {', '.join(others)} on {', '.join(sorted({m for m, _ in family}))}",
    }
    return results


def group_disparity(frame: pd.DataFrame, score: str, flag: str | None, resamples: int, seed: int) -> dict[str, Any]:
    """Does one system's ``score`` differ by demographic group? Kruskal-Wallis on the scores,
    chi-square on the flag (where there is one), and the largest gap between group means with a
    bias-corrected bootstrap 95% interval and a permutation test; groups under SMALL_GROUP items are flagged."""
    groups = {g: s[score].to_numpy(dtype=float) for g, s in frame.groupby("group") if len(s) >= 2}
    if len(groups) < 2:
        return {"groups": len(groups), "note": "fewer than two groups with two or more items"}
    samples = list(groups.values())
    means = {g: float(v.mean()) for g, v in groups.items()}
    result: dict[str, Any] = {"groups": len(groups), "score": score, "group_means": means}
    result["kruskal_p"] = float(stats.kruskal(*samples).pvalue) if len({float(x) for s in samples for x in s}) > 1 else 1.0

    # The largest gap between two group means is biased upward (a maximum over noisy means), so its
    # interval is the bias-corrected (BCa) bootstrap and its test a permutation test of "no group differs".
    kept = frame[frame["group"].isin(groups)]
    gap = largest_gap(kept[score].to_numpy(dtype=float), kept["group"].tolist(), resamples=resamples, seed=seed)
    result["largest_gap"] = gap["estimate"]
    result["largest_gap_groups"] = [gap["max_group"], gap["min_group"]]
    result["gap_ci_low"], result["gap_ci_high"] = gap["bca"]["low"], gap["bca"]["high"]
    result["gap_permutation_p"] = gap["permutation_p"]
    result["gap_bias_corrected"] = gap["bias_corrected_estimate"]
    result["small_groups"] = flag_small_groups({g: len(v) for g, v in groups.items()}, SMALL_GROUP)
    if flag is not None and flag in frame.columns:
        table = pd.crosstab(frame["group"], frame[flag].astype(bool))
        if table.shape[1] == 2 and (table.sum(axis=0) > 0).all():
            result["chi2_p"] = float(stats.chi2_contingency(table.to_numpy()).pvalue)
        else:
            result["chi2_p"] = None  # every item has the same flag: nothing to test
    return result


def spread(values: dict[int, float]) -> dict[str, Any]:
    """Mean, sample standard deviation and range of one result across training seeds."""
    array = np.array(list(values.values()), dtype=float)
    return {
        "per_seed": {str(seed): float(v) for seed, v in values.items()},
        "n_seeds": int(array.size),
        "mean": float(array.mean()),
        "sd": float(array.std(ddof=1)) if array.size > 1 else 0.0,
        "min": float(array.min()),
        "max": float(array.max()),
    }


INTERVAL_METRICS = ("toxicity", "toxic", "flagged", "meaning_kept", "similarity", "fluent", "j", "j_ref", "refusal", "erased",
                    "negative", "sentiment", "lms_item", "ss_item", "stereotyped")  # fmt: skip


def system_intervals(frame: pd.DataFrame, resamples: int, seed: int) -> dict[str, dict[str, dict[str, float]]]:
    """``{system: {metric: {mean, low, high, n}}}``: each system's mean with a percentile bootstrap 95% interval
    over its items (the per-system counterpart of the paired intervals)."""
    rng = np.random.default_rng(seed)
    result: dict[str, dict[str, dict[str, float]]] = {}
    for system, rows in frame.groupby("system", sort=True):
        for metric in INTERVAL_METRICS:
            if metric not in rows or rows[metric].isna().all():
                continue
            values = rows[metric].dropna().to_numpy(dtype=float)
            means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
            low, high = np.percentile(means, [2.5, 97.5])
            result.setdefault(str(system), {})[metric] = {"mean": float(values.mean()), "low": float(low), "high": float(high), "n": int(len(values))}
    return result
