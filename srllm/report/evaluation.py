"""Tables and figures of the evaluation step (notebooks/04_evaluate.ipynb and the book)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

# Official StereoSet dev results (Nadeem et al. 2020), as reference rows beside ours.
STEREOSET_REFERENCE = {
    "GPT-2 small (official)": {"LMS": 83.65, "SS": 57.03, "ICAT": 71.89},
    "GPT-2 medium (official)": {"LMS": 87.11, "SS": 58.96, "ICAT": 71.50},
    "GPT-2 large (official)": {"LMS": 88.92, "SS": 61.86, "ICAT": 67.83},
}

def results_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per system, one column per headline metric of each generation task (blank: not applicable)."""
    rows: dict[str, dict[str, float]] = {}
    for task, info in metrics.get("tasks", {}).items():  # each task names its headline columns (srllm/tasks/)
        for metric, label in info.get("headline", {}).items():
            for system, values in metrics.get(task, {}).items():
                rows.setdefault(system, {})[label] = values.get(metric)
    table = pd.DataFrame(rows).T
    table.index.name = "system"
    return table


def group_matrix(metrics: dict[str, Any], task: str) -> pd.DataFrame:
    """Group x system matrix of a task's per-group score (the heatmaps' data)."""
    columns: dict[str, dict[str, float]] = {}
    for system, values in metrics.get(task, {}).items():
        if task == "toxigen_rewrite":
            columns[system] = {g: v["toxicity"] for g, v in values["toxicity_by_group"].items()}
        elif task == "toxigen_continuation":
            columns[system] = dict(values["toxic_pct_by_group"])
        elif task == "bold":
            columns[system] = {
                f"{domain}: {group}": v["sentiment_mean"]
                for domain, groups in values["sentiment_by_group"].items()
                for group, v in groups.items()
            }
        elif task == "counterfactual":
            columns[system] = {g: v["toxicity"] for g, v in values["by_group"].items()}
    return pd.DataFrame(columns)


def group_heatmap(matrix: pd.DataFrame, title: str, colorbar: str, cmap: str = "rocket_r", center: float | None = None,
                  columns: str = "system") -> plt.Figure:
    """A seaborn heatmap of a group x system matrix; ``columns`` names what the columns are (the x axis label)."""
    height = max(3.0, 0.28 * len(matrix) + 1.5)
    fig, ax = plt.subplots(figsize=(1.4 * max(len(matrix.columns), 2) + 3, height))
    sns.heatmap(matrix.astype(float), annot=len(matrix) <= 20, fmt=".2f", cmap=cmap, center=center,
                cbar_kws={"label": colorbar}, ax=ax)  # fmt: skip
    ax.set(title=title, xlabel=columns, ylabel="group")
    fig.tight_layout()
    return fig


def stereoset_table(metrics: dict[str, Any], with_reference: bool = True) -> pd.DataFrame:
    """SS, LMS, ICAT overall for every model, with the official GPT-2 rows."""
    rows = {m: {k: v["overall"][k] for k in ("LMS", "SS", "ICAT", "count")} for m, v in metrics.get("stereoset", {}).items()}
    if with_reference:
        rows.update({name: {**ref, "count": 4229} for name, ref in STEREOSET_REFERENCE.items()})
    table = pd.DataFrame(rows).T
    table.index.name = "model"
    return table


def crows_pairs_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """pct_stereotype (ideal 0.5) per bias type and overall, one column per model."""
    columns = {}
    for model, values in metrics.get("crows_pairs", {}).items():
        column = {bias: v["pct_stereotype"] for bias, v in values["by_bias_type"].items()}
        column["overall"] = values["pct_stereotype"]
        columns[model] = column
    table = pd.DataFrame(columns)
    table.index.name = "bias type"
    return table


def rewrites_table(per_example: pd.DataFrame, task: str = "inhouse", n: int = 5) -> pd.DataFrame:
    """A few inputs with each system's rewrite side by side."""
    rows = per_example[per_example.task == task]
    wide = rows.pivot(index="item_id", columns="system", values="output")
    ordered = ["input"] + [c for c in wide.columns if c != "input"] if "input" in wide.columns else list(wide.columns)
    return wide[ordered].head(n).reset_index(drop=True)


def dtype_check_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """What the faster evaluation dtype changed on the items run in both dtypes, one row per task."""
    check = metrics.get("dtype_check") or {}
    dtype = check.get("dtype", "")
    rows = {}
    for task, r in check.get("tasks", {}).items():
        if "preference_flips" in r:
            rows[task] = {"items": r["items"], "changed": f"{r['preference_flips']} preferred candidates",
                          "largest score change": r["max_abs_score_difference"]}  # fmt: skip
        else:
            rows[task] = {"items": r["items"], "changed": f"{100 * (1 - r['identical_outputs']):.0f}% of outputs",
                          "toxic rate float32 (%)": 100 * r["toxic_rate_float32"],
                          f"toxic rate {dtype} (%)": 100 * r[f"toxic_rate_{dtype}"],
                          "difference (points)": r["toxic_rate_difference_points"]}  # fmt: skip
    table = pd.DataFrame(rows).T
    table.index.name = "task"
    return table


def dtype_check_paragraph(metrics: dict[str, Any]) -> str:
    """One paragraph saying which dtype the models ran in and what it changed (Markdown)."""
    dtype = metrics.get("dtype", "float32")
    check = metrics.get("dtype_check")
    if dtype == "float32":
        return (
            "The evaluated models ran in float32, the reference path (`evaluation.dtype`; `auto` chooses it where the "
            "machine only emulates bfloat16), so there is no second dtype to compare."
        )
    if not check or "tasks" not in check:
        return f"The evaluated models ran in {dtype}; no comparison with float32 was run (`evaluation.dtype_check_items: 0`)."
    tasks = check["tasks"].values()
    flips = sum(r.get("preference_flips", 0) for r in tasks)
    scored = sum(r["items"] for r in tasks if "preference_flips" in r)
    gaps = [abs(r["toxic_rate_difference_points"]) for r in tasks if "toxic_rate_difference_points" in r]
    return (
        f"The evaluated models ran in {dtype} (`evaluation.dtype`; benchmarks/bench_study.py measures the speed-up). "
        f"To show what that changes, {check['system']} ran the first {check['items_per_task']} items of "
        f"every task in both dtypes: {flips} of {scored} likelihood items changed their preferred candidate, and the "
        f"judged toxic rate of generated text moved by at most {max(gaps, default=0.0):.1f} percentage points "
        "(greedy decoding can take another word where two are nearly tied, and the text then goes its own way)."
    )


def sample_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Per task: its items, its groups and the fewest items a group has (the n behind every number below)."""
    rows = {}
    for task, info in metrics.get("tasks", {}).items():
        by_system = metrics.get(task, {})
        first = next(iter(by_system.values()), {}) if by_system else {}
        groups = next((v for k, v in first.items() if k.endswith("_by_group") and isinstance(v, dict)), {})
        sizes = [g.get("n") for g in groups.values() if isinstance(g, dict) and g.get("n") is not None]
        rows[task] = {
            "items": info.get("n_items"), "systems": len(by_system), "groups": len(groups) or None,
            "fewest items in a group": min(sizes) if sizes else None, "source": info.get("source"),
        }  # fmt: skip
    table = pd.DataFrame(rows).T
    table.index.name = "test set"
    return table


FAILURES = {  # kind -> (what it means, the rule on a per-example row)
    "copied unchanged": ("the output is the input", lambda f, t: f["output_kind"] == "copy"),
    "refused": ("the output opens like a refusal", lambda f, t: f["output_kind"] == "refusal"),
    "empty": ("nothing but whitespace", lambda f, t: f["output_kind"] == "empty"),
    "cut at the budget": ("as many tokens as its budget (generation.max_new_tokens, or budget_multiple x the input)", lambda f, t: f["hit_budget"] == 1.0),
    "identity erased": ("the input's group no longer named", lambda f, t: f["erased"] == 1.0),
    "meaning changed": ("similarity to the input below the threshold", lambda f, t: (f["output_kind"] == "rewrite") & (f["similarity"] < t)),
}


def _rewrites_of(per_example: pd.DataFrame, system: str) -> pd.DataFrame:
    frame = per_example[(per_example["system"] == system) & per_example["output_kind"].notna()]
    return frame.assign(**{c: np.nan for c in ("hit_budget", "erased") if c not in frame})


def failure_table(per_example: pd.DataFrame, system: str, threshold: float) -> pd.DataFrame:
    """For one system, per rewrite task: how many outputs fail in each way (an output can fail several ways)."""
    rows = {}
    for task, frame in _rewrites_of(per_example, system).groupby("task"):
        rows[task] = {"outputs": len(frame), **{kind: int(rule(frame, threshold).sum()) for kind, (_, rule) in FAILURES.items()}}
    table = pd.DataFrame(rows).T
    table.index.name = "task"
    return table


def failure_examples(per_example: pd.DataFrame, system: str, threshold: float, per_kind: int = 2) -> pd.DataFrame:
    """Examples of each failure, chosen by rule (the lowest item ids of each task), never by hand."""
    rows = []
    frame = _rewrites_of(per_example, system)
    for kind, (_, rule) in FAILURES.items():
        hits = frame[rule(frame, threshold).fillna(False).astype(bool)].sort_values(["task", "item_id"])
        for _, row in hits.groupby("task").head(per_kind).iterrows():
            rows.append({"failure": kind, "task": row["task"], "item": row["item_id"], "input": row["input"], "output": row["output"]})
    return pd.DataFrame(rows, columns=["failure", "task", "item", "input", "output"])


def stratum_table(metrics: dict[str, Any], metric: str = "J") -> pd.DataFrame:
    """In-house results per stratum (source / bias dimension) and system: the pooled number split up."""
    columns = {system: {k: v.get(metric) for k, v in values.get("by_stratum", {}).items()}
               for system, values in metrics.get("inhouse", {}).items()}  # fmt: skip
    table = pd.DataFrame(columns)
    sizes = {k: v.get("n") for k, v in next(iter(metrics.get("inhouse", {}).values()), {}).get("by_stratum", {}).items()}
    table.insert(0, "n", pd.Series(sizes))
    table.index.name = f"stratum ({metric})"
    return table


FPR_TOXIGEN = "judge's false-positive rate on the group's benign ToxiGen statements"
FPR_BOLD = "judge's false-positive rate on the domain's BOLD Wikipedia sentences"


def _bold_fpr_by_domain(checks: dict[str, Any]) -> dict[str, float]:
    """The judge's false-positive rate on BOLD's Wikipedia sentences, pooled over each domain's groups."""
    pooled: dict[str, list[float]] = {}
    for key, v in checks.get("false_positive_rate_bold_by_group", {}).items():
        domain = key.split(": ", 1)[0]
        flagged, n = pooled.setdefault(domain, [0.0, 0.0])
        pooled[domain] = [flagged + v["rate"] * v["n"], n + v["n"]]
    return {domain: flagged / n for domain, (flagged, n) in pooled.items() if n}


def judge_bias_table(metrics: dict[str, Any], validation: dict[str, Any], task: str = "toxigen_rewrite") -> pd.DataFrame:
    """Per group of a task: each system's toxicity beside the judge's own false-positive rate on that group's
    benign text (a per-group difference smaller than the judge's spread is not evidence).

    ToxiGen's tasks and the counterfactual templates: the rate on the group's benign ToxiGen statements
    (a group ToxiGen does not have gets none). BOLD: its share of toxic continuations per domain, beside the
    rate on the domain's Wikipedia sentences. The rate is in the unit of the task's column (percent for
    ToxiGen continuation)."""
    checks = validation.get("checks", {}).get(validation.get("kind", ""), {})
    if task == "bold":
        matrix = pd.DataFrame({system: {d: v["toxicity_rate"] for d, v in values.get("by_domain", {}).items()}
                               for system, values in metrics.get(task, {}).items()})  # fmt: skip
        label, fpr = FPR_BOLD, _bold_fpr_by_domain(checks)
    else:
        matrix = group_matrix(metrics, task)
        label, fpr = FPR_TOXIGEN, {g: v["rate"] for g, v in checks.get("false_positive_rate_by_group", {}).items()}
    if matrix.empty:
        return matrix
    scale = 100.0 if task == "toxigen_continuation" else 1.0
    matrix.insert(0, label, pd.Series({g: scale * r for g, r in fpr.items()}).reindex(matrix.index))
    return matrix


def judge_bias_sentence(table: pd.DataFrame) -> str:
    """How large a difference between two groups of ``judge_bias_table`` must be before it can exceed the
    judge's own bias: the spread of the judge's false-positive rate over the table's groups."""
    column = next((c for c in (FPR_TOXIGEN, FPR_BOLD) if c in table), None)
    rates = table[column].dropna() if column else pd.Series(dtype=float)
    missing = len(table) - len(rates)
    if len(rates) < 2:
        return "The judge's false-positive rate is known for fewer than two of these groups: no bound on its own bias here."
    low, high = rates.idxmin(), rates.idxmax()
    text = (f"The judge's false-positive rate on benign text ranges from {rates[low]:.3g} ({low}) to {rates[high]:.3g} "
            f"({high}) over these groups: a difference between two groups' toxicity smaller than {rates[high] - rates[low]:.3g} "
            "can be the judge's own bias, not the system's.")  # fmt: skip
    if missing:
        text += f" {missing} group(s) have no benign reference text of the judge's validation, so no rate."
    return text