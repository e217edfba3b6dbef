"""What the human ratings say: agreement, per-system scores, paired tests, metric correlations, power.

- Agreement per scale: srllm.human.agreement (Fleiss' kappa, Krippendorff's alpha, pairwise).
- Per system and scale: the mean rating (each output weighted equally: the mean over outputs of
  the mean of its raters) with a 95% two-stage bootstrap interval, resampling outputs and then the
  ratings within each resampled output, so that both the sample of items and the sample of raters
  widen it. No library offers a two-stage bootstrap, so it is written here with numpy.
- Paired tests: the reference system (SR-LLM) against every other on the same inputs, on each
  output's mean rating: srllm.core.stats.paired_test (Wilcoxon signed-rank, paired bootstrap interval,
  rank-biserial effect), Holm-corrected across every scale and system, as in the significance step.
- Automatic metrics against the human ratings of the same outputs: Spearman's rho and Kendall's
  tau (scipy.stats) of each metric of evaluate/per_example.parquet with each scale.
- Power (statsmodels' TTestPower): how many inputs a paired comparison needs to detect the paper's
  effect at 80% power, for 1 to 5 raters per output (see :func:`power`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..config import SEED_SUFFIX
from ..core.stats import holm, paired_test
from .agreement import agreement
from .ratings import item_means
from .scales import Scale

# Automatic metrics of evaluate/per_example.parquet that may be compared with the ratings.
AUTOMATIC = ("toxicity", "profanity", "similarity", "perplexity", "sentiment", "j",
             "toxic", "flagged", "meaning_kept", "fluent", "refusal")  # fmt: skip
# For each scale, the automatic metrics meant to measure the same thing (first present is plotted).
MATCHED = {"toxicity": ("toxicity", "profanity"), "meaning": ("similarity",), "fluency": ("perplexity",),
           "not_rewrite": ("refusal",)}  # fmt: skip
# The paper's headline effect: content moderation flags 57% of the unsafe inputs and 5.9% of the
# SR-LLM rewrites; as a standardised effect, Cohen's h between the two rates.
PAPER_RATES = (0.57, 0.059)
AUTO = "auto_"  # prefix of the automatic metrics' columns in the table of rated outputs
POWER, ALPHA = 0.8, 0.05
WILCOXON_ARE = 3 / math.pi  # asymptotic relative efficiency of the signed-rank test to the t-test (normal data)


def system_means(ratings: pd.DataFrame, scale: str, resamples: int, seed: int) -> dict[str, dict[str, Any]]:
    """Per system: mean rating on ``scale`` with its two-stage (outputs, then raters) bootstrap interval."""
    result: dict[str, dict[str, Any]] = {}
    rng = np.random.default_rng(seed)
    for system, rows in ratings[ratings["scale"] == scale].groupby("system", sort=True):
        groups = [g.to_numpy(dtype=float) for _, g in rows.groupby("item_id")["value"]]
        counts = np.array([len(g) for g in groups])
        padded = np.full((len(groups), counts.max()), np.nan)
        for i, g in enumerate(groups):
            padded[i, : len(g)] = g
        mean = float(np.mean([g.mean() for g in groups]))
        entry: dict[str, Any] = {"mean": mean, "n_outputs": len(groups), "n_ratings": int(counts.sum())}
        if len(groups) >= 2 and resamples > 0:
            items = rng.integers(0, len(groups), size=(resamples, len(groups)))
            # Within each resampled output, draw as many ratings as it has, with replacement.
            draws = np.floor(rng.random((resamples, len(groups), counts.max())) * counts[items][..., None]).astype(int)
            values = padded[items[..., None], draws]
            used = np.arange(counts.max())[None, None, :] < counts[items][..., None]
            per_item = np.where(used, values, 0.0).sum(axis=2) / counts[items]
            boot = per_item.mean(axis=1)
            entry["ci_low"], entry["ci_high"] = (float(x) for x in np.percentile(boot, [2.5, 97.5]))
        result[str(system)] = entry
    return result


def output_scores(ratings: pd.DataFrame, key: pd.DataFrame, scales: list[Scale]) -> pd.DataFrame:
    """One row per rated output: its key columns and its mean rating on every scale."""
    table = key.set_index("item_id")[["task", "source_item_id", "group", "system"]].copy()
    for scale in scales:
        table[scale.name] = item_means(ratings, scale.name)
    return table.dropna(subset=[s.name for s in scales], how="all").reset_index()


def paired(scores: pd.DataFrame, scales: list[Scale], reference: str | None, resamples: int, seed: int) -> dict[str, Any]:
    """The reference against every other system on the same inputs, per scale; Holm across the family."""
    systems = sorted(scores["system"].unique())
    if reference is None or reference not in systems:
        return {"note": f"no reference system among the rated systems {systems}", "family": {"size": 0}}
    # As in the significance step: further training seeds are not in the family.
    others = [s for s in systems if s != reference and not SEED_SUFFIX.search(s)]
    results: dict[str, Any] = {}
    family: list[tuple[str, str]] = []
    inputs = scores.assign(input_id=scores["task"] + "/" + scores["source_item_id"])
    for scale in scales:
        wide = inputs.pivot_table(index="input_id", columns="system", values=scale.name, aggfunc="mean")
        if reference not in wide.columns:
            continue
        for other in others:
            if other not in wide.columns:
                continue
            both = wide[[reference, other]].dropna()
            if len(both) < 2:
                continue
            results.setdefault(scale.name, {})[other] = paired_test(both[reference].to_numpy(), both[other].to_numpy(),
                                                                    False, resamples, seed)  # fmt: skip
            family.append((scale.name, other))
    for (scale, other), p in zip(family, holm([results[s][o]["p_value"] for s, o in family])):
        results[scale][other]["p_holm"] = p
    results["family"] = {"size": len(family), "reference_system": reference,
                         "description": f"{reference} against {', '.join(others)} on each scale's mean rating"}  # fmt: skip
    return results


def correlations(scores: pd.DataFrame, automatic: pd.DataFrame | None, scales: list[Scale]) -> tuple[dict[str, Any], pd.DataFrame]:
    """Spearman and Kendall correlations of each automatic metric with each scale, on the same outputs."""
    if automatic is None:
        return {"note": "the run has no evaluate/per_example.parquet"}, scores
    metrics = [m for m in AUTOMATIC if m in automatic.columns]
    # Prefixed: the toxicity metric and the toxicity scale would share a name.
    auto = automatic[["task", "item_id", "system", *metrics]].rename(columns={"item_id": "source_item_id", **{m: AUTO + m for m in metrics}})
    auto = auto.assign(source_item_id=auto["source_item_id"].astype(str)).drop_duplicates(["task", "source_item_id", "system"])
    joined = scores.merge(auto, on=["task", "source_item_id", "system"], how="left")
    result: dict[str, Any] = {}
    for scale in scales:
        for metric in metrics:
            pair = joined[[scale.name, AUTO + metric]].astype(float).dropna()
            human, auto = pair[scale.name], pair[AUTO + metric]
            if len(pair) < 3 or auto.nunique() < 2 or human.nunique() < 2:
                continue
            rho, tau = stats.spearmanr(human, auto), stats.kendalltau(human, auto)
            result.setdefault(scale.name, {})[metric] = {
                "n": int(len(pair)), "spearman": float(rho.statistic), "spearman_p": float(rho.pvalue),
                "kendall_tau": float(tau.statistic), "kendall_p": float(tau.pvalue),
            }  # fmt: skip
    return result, joined


def power(reliability: float | None, observed_d: dict[str, float] | None, comparisons: int, n_inputs: int) -> dict[str, Any]:
    """Inputs needed per paired comparison at 80% power, for 1 to 5 raters per output.

    The effect is standardised (Cohen's d of the paired differences; the paper's is Cohen's h of its
    moderation rates, statsmodels' ``proportion_effectsize``). Rater noise attenuates it: with a
    single-rater reliability r (here Krippendorff's alpha of the toxicity scale), the mean of k
    raters has reliability r_k = k r / (1 + (k - 1) r) (Spearman-Brown) and the effect visible in
    the ratings is d sqrt(r_k). The t-test's sample size (statsmodels ``TTestPower``) at the
    Bonferroni level alpha / m, the strictest step of Holm's procedure over m comparisons, is
    divided by the signed-rank test's asymptotic efficiency 3/pi. ``observed``: each of this
    rating set's comparisons (``scale / other system``) with its Cohen's d and the power the
    present number of inputs gives it.
    """
    from statsmodels.stats.power import TTestPower  # lazy: statsmodels is a heavy import, needed only here
    from statsmodels.stats.proportion import (
        proportion_effectsize,  # lazy: statsmodels is a heavy import, needed only here
    )

    paper_h = float(abs(proportion_effectsize(*PAPER_RATES)))
    r = min(max(reliability, 0.01), 1.0) if reliability is not None and not math.isnan(reliability) else 1.0
    level = ALPHA / max(comparisons, 1)
    solver = TTestPower()
    # The paper's effect, and Cohen's conventional medium and small effects for smaller differences
    # (SR-LLM against a strong baseline differs far less than rewrites against their inputs).
    effects = {"paper (h = 1.22)": paper_h, "medium (d = 0.5)": 0.5, "small (d = 0.2)": 0.2}
    table = []
    for k in range(1, 6):
        r_k = k * r / (1 + (k - 1) * r)
        row: dict[str, Any] = {"raters_per_output": k, "reliability_of_mean": r_k}
        for name, d in effects.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                n = solver.solve_power(effect_size=d * math.sqrt(r_k), alpha=level, power=POWER, alternative="two-sided")
            row[name] = int(math.ceil(float(n) / WILCOXON_ARE))
        table.append(row)
    detectable = None
    if n_inputs >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            detectable = float(solver.solve_power(nobs=n_inputs * WILCOXON_ARE, alpha=level, power=POWER, alternative="two-sided"))
    observed = {}
    for name, d in (observed_d or {}).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            achieved = float(solver.power(effect_size=abs(d), nobs=n_inputs * WILCOXON_ARE, alpha=level, alternative="two-sided"))
        # The noncentral t's tail underflows to NaN far beyond any critical value: power is 1 there.
        if math.isnan(achieved) and abs(d) * math.sqrt(n_inputs) > 8:
            achieved = 1.0
        observed[name] = {"cohen_d": d, "power_now": achieved}
    return {
        "observed": observed,
        "power": POWER, "alpha": ALPHA, "comparisons": comparisons, "level": level,
        "single_rater_reliability": r, "reliability_source": "Krippendorff's alpha, toxicity scale" if reliability is not None else "none (taken as 1)",
        "effects": effects, "inputs_needed": table, "n_inputs": n_inputs,
        "smallest_detectable_effect_in_ratings": detectable,
    }  # fmt: skip


def analyse(
    ratings: pd.DataFrame, key: pd.DataFrame, scales: list[Scale], reference: str | None,
    automatic: pd.DataFrame | None, resamples: int = 1000, seed: int = 0,
) -> tuple[dict[str, Any], pd.DataFrame]:  # fmt: skip
    """Every analysis of one set of ratings (a long table with the key's system column), and the
    table of rated outputs (mean rating per scale beside the automatic metrics) it was made from."""
    agree = {s.name: agreement(ratings, s, resamples, seed) for s in scales}
    summary = {
        name: {k: a.get(k) for k in ("fleiss_kappa", "fleiss_ci_low", "fleiss_ci_high", "alpha", "alpha_ci_low",
                                     "alpha_ci_high", "alpha_level", "n_items", "n_ratings")}
        for name, a in agree.items()
    }  # fmt: skip
    scores = output_scores(ratings, key, scales)
    tests = paired(scores, scales, reference, resamples, seed)
    corr, joined = correlations(scores, automatic, scales)
    observed = _observed_effects(scores, scales, reference)
    reliability = agree.get("toxicity", {}).get("alpha")
    n_inputs = int(scores[["task", "source_item_id"]].drop_duplicates().shape[0])
    return {
        "agreement": agree,
        "agreement_summary": summary,
        "systems": {s.name: system_means(ratings, s.name, resamples, seed) for s in scales},
        "paired": tests,
        "correlations": corr,
        "power": power(reliability, observed, tests.get("family", {}).get("size", 0), n_inputs),
        "scales": {s.name: {"higher_is_better": s.higher_is_better, "question": s.question} for s in scales},
    }, joined


def _observed_effects(scores: pd.DataFrame, scales: list[Scale], reference: str | None) -> dict[str, float]:
    """Cohen's d (mean / sd of the paired differences) of each comparison of the reference: ``scale / other``."""
    if reference is None or reference not in set(scores["system"]):
        return {}
    inputs = scores.assign(input_id=scores["task"] + "/" + scores["source_item_id"])
    found = {}
    for scale in scales:
        wide = inputs.pivot_table(index="input_id", columns="system", values=scale.name, aggfunc="mean")
        for other in (c for c in wide.columns if c != reference):
            diff = (wide[reference] - wide[other]).dropna()
            if len(diff) >= 2 and diff.std(ddof=1) > 0:
                found[f"{scale.name} / {other}"] = float(diff.mean() / diff.std(ddof=1))
    return found
