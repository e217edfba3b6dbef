"""``srllm export``: a run's results as files a replication paper can take (CSV and LaTeX tables, PNG and SVG figures).

Everything is made from the run's artifacts only (``metrics.json``), the same numbers the book shows:

- ``results.csv`` / ``.tex``: per test set and system, each headline score with its bootstrap 95% interval and n
  (``significance.intervals``);
- ``comparisons.csv`` / ``.tex``: every paired comparison of SR-LLM with another system (difference, interval,
  test, p, Holm p, effect size), headline and alternative families;
- ``claims.csv`` / ``.tex``: the paper's claims with this run's verdicts and their robustness;
- ``metric_validation.csv`` / ``.tex``: each automatic metric against the human ratings;
- ``figures/``: the metric-validation figure and the in-house paired-difference figure, each as PNG and SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from ..core.io import read_json
from .claims import check_claims
from .significance import significance_figure, significance_tables
from .trust import correlation_figure


def results_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for task, by_system in metrics.get("significance", {}).get("intervals", {}).items():
        for system, values in by_system.items():
            for metric, v in values.items():
                rows.append({"test_set": task, "system": system, "metric": metric, "mean": v["mean"], "ci_low": v["low"],
                             "ci_high": v["high"], "n": v["n"]})  # fmt: skip
    return pd.DataFrame(rows, columns=["test_set", "system", "metric", "mean", "ci_low", "ci_high", "n"])


def comparisons_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    frames = [t.reset_index().assign(test_set=task) for task, t in significance_tables(metrics.get("significance", {})).items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def claims_frame(metrics: dict[str, Any], params: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([{"claim": c.claim, "paper": c.paper, "this_run": c.ours, "verdict": c.verdict, "rule": c.reason,
                          "robustness": c.robustness} for c in check_claims(metrics, params)])  # fmt: skip


def validation_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    human = ((metrics.get("evaluate") or {}).get("validation") or {}).get("human") or {}
    rows = []
    for metric, r in human.get("metrics", {}).items():
        rows.append({"metric": metric, "human_scale": r.get("human_scale"), "n": r.get("n_scored"),
                     **{f"{stat}_{part}": r.get(stat, {}).get(part) for stat in ("spearman", "kendall", "auroc")
                        for part in ("value", "low", "high")}})  # fmt: skip
    return pd.DataFrame(rows)


def _write(frame: pd.DataFrame, out: Path, name: str, caption: str) -> list[Path]:
    csv, tex = out / f"{name}.csv", out / f"{name}.tex"
    frame.to_csv(csv, index=False)
    tex.write_text(frame.to_latex(index=False, float_format="%.3f", caption=caption, label=f"tab:{name}", longtable=True, escape=True))
    return [csv, tex]


def export(run_dir: Path, out: Path) -> list[Path]:
    """Write the tables and figures of ``run_dir`` under ``out``; return the files written."""
    metrics = read_json(Path(run_dir) / "metrics.json")
    params = read_json(Path(run_dir) / "manifest.json")["params"]
    out.mkdir(parents=True, exist_ok=True)
    run = Path(run_dir).name
    written = _write(results_frame(metrics), out, "results", f"Run {run}: each system's mean score with a bootstrap 95% interval")
    written += _write(comparisons_frame(metrics), out, "comparisons", f"Run {run}: SR-LLM against each system, paired tests")
    written += _write(claims_frame(metrics, params), out, "claims", f"Run {run}: the paper's claims and this run's verdicts")
    validation = validation_frame(metrics)
    if not validation.empty:
        written += _write(validation, out, "metric_validation", f"Run {run}: automatic metrics against human ratings")
    figures = out / "figures"
    figures.mkdir(exist_ok=True)
    human = ((metrics.get("evaluate") or {}).get("validation") or {}).get("human")
    if human:
        for suffix in ("png", "svg"):
            correlation_figure(human, figures / f"metric_validation.{suffix}")
            written.append(figures / f"metric_validation.{suffix}")
    significance = metrics.get("significance", {})
    if "toxicity" in significance.get("inhouse", {}):
        fig = significance_figure(significance, "inhouse", "toxicity")
        for suffix in ("png", "svg"):
            fig.savefig(figures / f"inhouse_toxicity_differences.{suffix}", dpi=110)
            written.append(figures / f"inhouse_toxicity_differences.{suffix}")
        plt.close(fig)
    return written
