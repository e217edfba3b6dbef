"""Tables and figures of the significance chapter (notebooks/05_significance.ipynb), from the step's metrics."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from ..core.markdown import interval

HEADLINE = ("j", "toxicity", "meaning_kept", "toxic", "flagged", "lms_item", "ss_item", "stereotyped")  # shown first


def _rows(results: dict[str, Any], family: str) -> list[dict[str, Any]]:
    rows = []
    for metric, by_system in results.items():
        if metric in ("family", "reference_system", "alternatives") or not isinstance(by_system, dict):
            continue
        for other, r in by_system.items():
            rows.append({
                "metric": metric, "vs": other, "n": r["n"],
                "means (ref / other)": f"{r['mean_reference']:.3f} / {r['mean_other']:.3f}",
                "difference [95% CI]": f"{r['mean_difference']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]",
                "test": "McNemar" if r["test"] == "mcnemar_exact" else "Wilcoxon",
                "p": f"{r['p_value']:.3g}", "p (Holm)": f"{r['p_holm']:.3g}", "effect": f"{r['effect_size']:.2f}", "family": family,
            })  # fmt: skip
    order = {m: i for i, m in enumerate(HEADLINE)}
    return sorted(rows, key=lambda row: (order.get(row["metric"], len(order)), row["metric"], row["vs"]))


def significance_tables(metrics: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """One compact table per test set, the headline metrics first, every column narrow enough to show."""
    tables = {}
    for task, results in metrics.items():
        if task in ("group_disparity", "seed_spread") or not isinstance(results, dict) or "family" not in results:
            continue
        rows = _rows(results, "headline") + _rows(results.get("alternatives", {}), "alternative")
        if rows:
            tables[task] = pd.DataFrame(rows).set_index(["metric", "vs"])
    return tables


def significance_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Every comparison of every test set in one long table (the compact per-set tables are for reading)."""
    frames = [table.reset_index().assign(task=task) for task, table in significance_tables(metrics).items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


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
                     "largest gap": round(r["largest_gap"], 3), "between": " vs ".join(r["largest_gap_groups"]),
                     "bias-corrected gap": round(r["gap_bias_corrected"], 3) if r.get("gap_bias_corrected") is not None else None,
                     # n/a where every resample's gap lies above the estimate (core.group_gap.bca_interval).
                     "BCa 95% CI": interval(r.get("gap_ci_low"), r.get("gap_ci_high")),
                     "permutation p": round(r["gap_permutation_p"], 4) if r.get("gap_permutation_p") is not None else None,
                     "Kruskal-Wallis p": round(r["kruskal_p"], 4), "groups under 5 items": len(r.get("small_groups", []))}  # fmt: skip
                )
    return pd.DataFrame(rows)


def interval_tables(metrics: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Per test set: each system's mean of each score with its bootstrap 95% interval and n."""
    tables = {}
    for task, by_system in metrics.get("intervals", {}).items():
        rows = {
            system: {metric: f"{v['mean']:.3f} [{v['low']:.3f}, {v['high']:.3f}]" for metric, v in values.items() if metric in SHOWN_INTERVALS}
            | {"n": max(v["n"] for v in values.values())}
            for system, values in by_system.items() if values
        }  # fmt: skip
        if rows:
            table = pd.DataFrame(rows).T
            table.index.name = "system"
            tables[task] = table
    return tables


# The scores shown per system (the rest are in metrics.json): few enough columns to fit the page.
SHOWN_INTERVALS = ("toxic", "flagged", "meaning_kept", "j", "j_ref", "erased", "negative", "lms_item", "ss_item", "stereotyped")
