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

CONTINUOUS = ("toxicity", "similarity", "profanity")
BINARY = ("toxic", "flagged", "meaning_kept", "refusal")


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
    frame: pd.DataFrame, reference: str, others: list[str], resamples: int, seed: int
) -> dict[str, Any]:
    """``{metric: {other system: result}}`` with Holm-corrected p-values across the whole family."""
    wide = {s: g.set_index("item_id").sort_index() for s, g in frame.groupby("system")}
    ref = wide[reference]
    results: dict[str, dict[str, Any]] = {}
    family: list[tuple[str, str]] = []
    for metric in (*CONTINUOUS, *BINARY):
        if metric not in frame.columns:
            continue
        for other in others:
            joined = ref[[metric]].join(wide[other][[metric]], rsuffix="_other", how="inner")
            result = paired_test(
                joined[metric].to_numpy(), joined[f"{metric}_other"].to_numpy(), metric in BINARY, resamples, seed
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
