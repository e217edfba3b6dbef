"""Tables and figures of the significance chapter (notebooks/05_significance.ipynb), from the step's metrics."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd


def significance_table(metrics: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for task, results in metrics.items():
        if task in ("group_disparity", "seed_spread"):
            continue
        reference = results.get("reference_system")
        for metric, by_system in results.items():
            if metric in ("family", "reference_system"):
                continue
            for other, r in by_system.items():
                rows.append(
                    {"task": task, "metric": metric, "reference": reference, "other": other,
                     "mean (reference)": r["mean_reference"], "mean (other)": r["mean_other"],
                     "difference": r["mean_difference"], "95% CI": f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
                     "test": r["test"], "p": r["p_value"], "p (Holm)": r["p_holm"],
                     "effect size": r["effect_size"], "effect kind": r["effect_size_kind"]}  # fmt: skip
                )
    return pd.DataFrame(rows)


def significance_figure(metrics: dict[str, Any], task: str, metric: str) -> plt.Figure:
    """The reference system minus each other system on one metric, with paired bootstrap 95% intervals."""
    results = metrics[task][metric]
    others = list(results)
    diffs = [results[o]["mean_difference"] for o in others]
    lows = [results[o]["mean_difference"] - results[o]["ci_low"] for o in others]
    highs = [results[o]["ci_high"] - results[o]["mean_difference"] for o in others]
    fig, ax = plt.subplots(figsize=(6, 0.6 * len(others) + 1.5))
    ax.errorbar(diffs, range(len(others)), xerr=[lows, highs], fmt="o", capsize=4)
    ax.axvline(0, color="grey", linestyle=":")
    ax.set_yticks(range(len(others)), [f"vs {o}" for o in others])
    reference = metrics[task].get("reference_system", "SR-LLM")
    ax.set(xlabel=f"difference in mean {metric} ({reference} minus other)", title=f"{task}: {metric}, paired 95% CI")
    fig.tight_layout()
    return fig


def seed_results_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Each task-level result of SR-LLM per training seed, with its mean, sd and range across seeds."""
    rows = []
    for task, spread in metrics.get("seed_spread", {}).items():
        for result, r in spread["results"].items():
            rows.append({"task": task, "result": result, "seeds": r["n_seeds"], "mean": r["mean"], "sd": r["sd"],
                         "min": r["min"], "max": r["max"],
                         **{f"seed {s}": v for s, v in r["per_seed"].items()}})  # fmt: skip
    return pd.DataFrame(rows)


def seed_tests_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Each paired test of SR-LLM against another system, repeated per training seed: how often it holds."""
    rows = []
    for task, spread in metrics.get("seed_spread", {}).items():
        for metric, by_other in spread["tests"].items():
            for other, r in by_other.items():
                d = r["mean_difference"]
                same = "n/a" if r["same_direction_in"] is None else f"{r['same_direction_in']} of {r['n_seeds']}"
                rows.append(
                    {"task": task, "metric": metric, "other": other, "difference (mean)": d["mean"],
                     "difference (sd)": d["sd"], "difference (min)": d["min"], "difference (max)": d["max"],
                     "significant (Holm p < 0.05)": f"{r['significant_in']} of {r['n_seeds']}",
                     "same direction as the study's seed": same,
                     "largest p (Holm)": max(r["p_holm"].values())}  # fmt: skip
                )
    return pd.DataFrame(rows)


def seed_figure(metrics: dict[str, Any], task: str, metric: str) -> plt.Figure:
    """SR-LLM minus each other system on one metric, one dot per training seed (the study's seed ringed)."""
    tests = metrics["seed_spread"][task]["tests"][metric]
    systems = metrics["seed_spread"][task]["systems"]
    study_seed = next(iter(systems))
    fig, ax = plt.subplots(figsize=(6, 0.6 * len(tests) + 1.5))
    for row, (other, r) in enumerate(tests.items()):
        per_seed = r["mean_difference"]["per_seed"]
        ax.scatter(list(per_seed.values()), [row] * len(per_seed), color="C0", alpha=0.7)
        ax.scatter([per_seed[study_seed]], [row], facecolors="none", edgecolors="C3", s=140, linewidths=1.5)
    ax.axvline(0, color="grey", linestyle=":")
    ax.set_yticks(range(len(tests)), [f"vs {o}" for o in tests])
    ax.set(xlabel=f"difference in mean {metric} (SR-LLM minus other)",
           title=f"{task}: {metric} across {len(systems)} training seeds (ringed: seed {study_seed})")  # fmt: skip
    fig.tight_layout()
    return fig


def disparity_table(metrics: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for task, by_system in metrics.get("group_disparity", {}).items():
        for system, by_score in by_system.items():
            for r in by_score.values():
                if "largest_gap" not in r:
                    continue
                rows.append(
                    {"task": task, "system": system, "score": r["score"], "groups": r["groups"],
                     "largest gap": r["largest_gap"], "between": " vs ".join(r["largest_gap_groups"]),
                     "95% CI": f"[{r['gap_ci_low']:.3f}, {r['gap_ci_high']:.3f}]", "Kruskal-Wallis p": r["kruskal_p"],
                     "chi-square p": r.get("chi2_p")}  # fmt: skip
                )
    return pd.DataFrame(rows)
