"""The book's page "How far the scores can be trusted": every automatic metric against people and each other.

Made from the run's artifacts only: ``evaluate/metrics.json`` (``validation.human``: the study's
scorers on the 600 human-rated EMNLP 2021 rewrites; the erasure and reference-aware rates per task
and system), ``evaluate/per_example.parquet`` (the retention measures on the run's own rewrites) and
``dataset/judge_validation.json`` (the judge's false-positive rates per group). Verdicts follow a
stated rule on the interval of the rank correlation, never a hand-written judgement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from ..core.io import read_json
from ..core.markdown import figure, fmt, interval, table

FIGURES = "trust_files"
# What each automatic score stands in for, and the human rating it is checked against.
STANDS_FOR = {
    "toxicity": ("STA (non-toxic) of J, toxicity rates", "style: rated non-toxic"),
    "profanity": ("the independent toxicity signal (moderation score)", "style: rated non-toxic"),
    "similarity": ("knowledge retention (SIM of J)", "meaning kept"),
    "chrf": ("knowledge retention without the embedding model (chrF against the input)", "meaning kept"),
    "content_words": ("knowledge retention: share of the input's content words kept", "meaning kept"),
    "fluency": ("FL of J: reference perplexity relative to the input's", "fluency"),
    "j": ("J = STA x SIM x FL", "the raters' joint (style x meaning x fluency)"),
}
HUMAN_SCALE = {"toxicity": "style", "profanity": "style", "similarity": "meaning", "chrf": "meaning",
               "content_words": "meaning", "fluency": "fluency", "j": None}  # fmt: skip


def verdict(spearman: dict[str, Any]) -> str:
    """The rule: the 95% interval of Spearman's rho decides."""
    low = spearman.get("low")
    if low is None:
        return "not measured"
    if low >= 0.4:
        return "tracks human judgment"
    if low > 0.0:
        return "tracks it weakly: usable for large differences only"
    return "does not track human judgment here"


def _agreement_rows(human: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    alpha = human.get("alpha", {})
    for metric, result in human.get("metrics", {}).items():
        spearman, kendall, auroc = result.get("spearman", {}), result.get("kendall", {}), result.get("auroc", {})
        scale = HUMAN_SCALE.get(metric)
        ceiling = alpha.get(scale, {}) if scale else {}
        ranking = result.get("ranking", {})
        rows.append({
            "metric": f"`{metric}`", "stands in for": STANDS_FOR.get(metric, ("", ""))[0],
            "human rating": STANDS_FOR.get(metric, ("", ""))[1], "n": result.get("n_scored"),
            "Spearman [95% CI]": f"{fmt(spearman.get('value'))} {interval(spearman.get('low'), spearman.get('high'))}",
            "Kendall [95% CI]": f"{fmt(kendall.get('value'))} {interval(kendall.get('low'), kendall.get('high'))}",
            "AUROC for the majority [95% CI]": f"{fmt(auroc.get('value'))} {interval(auroc.get('low'), auroc.get('high'))}",
            "raters' alpha (ceiling)": fmt(ceiling.get("value")) if ceiling else "n/a",
            "same best system as the raters": "yes" if ranking.get("top_agrees") else "no",
            "verdict": verdict(spearman),
        })  # fmt: skip
    return rows


def _threshold_rows(human: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for metric, result in human.get("metrics", {}).items():
        t = result.get("threshold") or {}
        study, fitted = t.get("study", {}), t.get("fitted", {})
        if study.get("threshold") is None:
            continue
        rows.append({
            "metric": f"`{metric}`", "study's cut": fmt(study.get("threshold")), "human-matched cut (half A)": fmt(fitted.get("threshold")),
            "balanced accuracy on half B, study's cut": fmt(study.get("half_b", {}).get("balanced_accuracy")),
            "balanced accuracy on half B, human-matched cut": fmt(fitted.get("half_b", {}).get("balanced_accuracy")),
            "items in half B": t.get("n_b"),
        })  # fmt: skip
    return rows


def correlation_figure(human: dict[str, Any], path: Path) -> None:
    metrics = list(human.get("metrics", {}))
    values = [human["metrics"][m].get("spearman", {}) for m in metrics]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(metrics) + 1.2))
    for y, (metric, v) in enumerate(zip(metrics, values)):
        if v.get("value") is None:
            continue
        ax.errorbar(v["value"], y, xerr=[[v["value"] - v["low"]], [v["high"] - v["value"]]], fmt="o", color="C0", capsize=3)
        scale = HUMAN_SCALE.get(metric)
        ceiling = human.get("alpha", {}).get(scale, {}).get("value") if scale else None
        if ceiling is not None:
            ax.plot(ceiling, y, marker="|", markersize=14, color="C3")
    ax.set_yticks(range(len(metrics)), [f"{m}" for m in metrics])
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("Spearman's rho with the mean human rating")  # the caption explains the dots, bars and ticks
    ax.invert_yaxis()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _erasure_rows(evaluated: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for task, info in evaluated.get("tasks", {}).items():
        if info.get("kind") != "rewrite":
            continue
        for system, values in evaluated.get(task, {}).items():
            if "erasure_rate" not in values:
                continue
            rows.append({
                "task": task, "system": f"`{system}`", "items naming a group": values.get("erasure_n"),
                "group erased": fmt(values.get("erasure_rate")), "copied unchanged": fmt(values.get("copy_rate")),
                "refusal": fmt(values.get("refusal_rate")), "empty": fmt(values.get("empty_rate")),
                "meaning kept and group named": fmt(values.get("knowledge_retention_named")),
            })  # fmt: skip
    return rows


def _erasure_by_group(significance: dict[str, Any], others: tuple[str, ...] = ("base", "lexicon_delete")) -> list[dict[str, Any]]:
    """Per rewrite task and group: the erasure rate of SR-LLM (the reference system) and of ``others``."""
    rows = []
    for task, report in significance.get("erasure", {}).items():
        shown = (report.get("reference_system"), *others)
        rows += [{"task": task, "group": r["group"], "system": f"`{r['system']}`", "items naming it": r["n_defined"],
                  "erased": fmt(r["rate"]), "95% CI (Wilson)": interval(r["low"], r["high"])}
                 for r in report.get("by_group", []) if r["system"] in shown]  # fmt: skip
    return rows


def _erasure_tests(significance: dict[str, Any]) -> list[dict[str, Any]]:
    """Per rewrite task: SR-LLM against each other system on the same items (exact McNemar)."""
    rows = []
    for task, report in significance.get("erasure", {}).items():
        for other, test in report.get("paired", {}).items():
            rows.append({"task": task, "against": f"`{other}`", "item pairs": test["n_pairs"],
                         "only SR-LLM erases": test["a_only"], "only the other erases": test["b_only"],
                         "SR-LLM's rate": fmt(test["rate_a"]), "the other's rate": fmt(test["rate_b"]),
                         "p (exact McNemar)": fmt(test["p_value"])})  # fmt: skip
    return rows


def _refusal_sentence(evaluated: dict[str, Any]) -> str:
    r = evaluated.get("validation", {}).get("refusal_detector")
    if not r:
        return ""
    return (f"The refusal detector fired on {r['n_flagged']} of the {r['n']} human reference rewrites of the test split "
            f"(false-refusal rate {fmt(r['false_refusal_rate'])}, Wilson 95% interval {interval(r['low'], r['high'])})"
            + (f"; for example: \"{r['examples'][0][:120]}\"." if r.get("examples") else ".") + "\n")


def _retention_agreement(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "evaluate" / "per_example.parquet"
    if not path.is_file():
        return []
    frame = pd.read_parquet(path)
    columns = [c for c in ("similarity", "sim_ref", "chrf_input", "chrf_ref", "content_words") if c in frame]
    rows = frame[(frame["task"] == "inhouse") & (frame["system"] != "input")][columns].astype(float)
    if len(columns) < 2 or rows.empty:
        return []
    corr = rows.corr(method="spearman")
    return [{"measure": f"`{a}`", **{f"`{b}`": fmt(corr.loc[a, b], 2) for b in columns}} for a in columns]


def _fpr_rows(validation: dict[str, Any], key: str) -> list[dict[str, Any]]:
    checks = validation.get("checks", {}).get(validation.get("kind", ""), {})
    fpr = checks.get(key, {})
    return [{"group": group, "benign texts": v.get("n"), "called toxic": fmt(v.get("rate")),
             "95% CI": interval(v.get("low"), v.get("high"))} for group, v in sorted(fpr.items())]  # fmt: skip


def _gap_sentence(validation: dict[str, Any]) -> str:
    gap = validation.get("checks", {}).get(validation.get("kind", ""), {}).get("largest_fpr_gap")
    if not gap:
        return ""
    return (f"The largest gap between two groups' false-positive rates is {fmt(gap['estimate'])} ({gap['max_group']} vs "
            f"{gap['min_group']}; bias-corrected {fmt(gap.get('bias_corrected_estimate'))}, BCa 95% interval "
            f"{interval(gap['bca']['low'], gap['bca']['high'])}, permutation p = {fmt(gap['permutation_p'])}). A per-group toxicity "
            "difference smaller than this cannot be told apart from the judge's own bias.")


def trust_page(run_dir: Path, stage: Path) -> str:
    """The page's Markdown; its figure goes to ``stage/trust_files/``."""
    run_dir = Path(run_dir)
    evaluated = read_json(run_dir / "evaluate" / "metrics.json") if (run_dir / "evaluate" / "metrics.json").is_file() else {}
    human = evaluated.get("validation", {}).get("human")
    judge_path = run_dir / "dataset" / "judge_validation.json"
    judge = read_json(judge_path) if judge_path.is_file() else {}
    significance_path = run_dir / "significance" / "metrics.json"
    significance = read_json(significance_path) if significance_path.is_file() else {}
    text = f"""# How far the scores can be trusted

Every verdict of this study stands on automatic scores. This page checks each against people, against
the other measures of the same property, and for the two failures reviewers of detoxification look for
first: a judge that calls a sentence toxic because it names a group, and a rewrite that "detoxifies"
by deleting the group. Everything here comes from run `{run_dir.name}`; code: `srllm/validation/`.

## Against people

The study's own scorers, run on the 600 rewrites of the EMNLP 2021 detoxification evaluation (200 toxic
sentences, 3 systems, each rewrite rated by 3 of 5 annotators for style (non-toxic), meaning kept and
fluency on 0 / 0.5 / 1). Correlations with the mean rating per rewrite; AUROC for the raters' majority;
95% intervals by a bootstrap over source sentences (the three rewrites of a sentence move together).
The raters' own agreement (Krippendorff's ordinal alpha) is the ceiling a metric can reach. Verdict
rule: "tracks human judgment" when the lower end of Spearman's interval is at least 0.4, "weakly" when
it is above 0, else "does not track".
"""
    if not human:
        return text + "\nThis run did not validate its metrics (no `validation` section in its evaluate metrics).\n"
    text += "\n" + table(_agreement_rows(human))
    alpha = human.get("alpha", {})
    fleiss = human.get("fleiss", {})
    text += "\nThe raters: " + "; ".join(
        f"{scale}: alpha {fmt(v.get('value'))} {interval(v.get('low'), v.get('high'))}, Fleiss' kappa {fmt(fleiss.get(scale, {}).get('value'))}"
        for scale, v in alpha.items()
    ) + f" ({human.get('n_rewrites')} rewrites of {human.get('n_sources')} sentences).\n\n"
    figures = stage / FIGURES
    correlation_figure(human, figures / "correlations.png")
    text += figure(f"{FIGURES}/correlations.png", "Spearman correlation of each automatic metric with the human rating, with intervals",
                   f"Each metric's rank correlation with the mean human rating of the same {human.get('n_rewrites')} rewrites "
                   "(dot: estimate; bar: 95% bootstrap interval over source sentences; red tick: the raters' alpha on that scale).",
                   "fig-trust-correlations")  # fmt: skip
    text += f"""
## The study's cuts against the cut people would choose

Each cut of the study is fitted to the raters' majority on one half of the source sentences (best
balanced accuracy) and both cuts are scored on the other half. The study keeps its own values; this
shows what they cost.

{table(_threshold_rows(human))}
## Knowledge retention, measured three ways

The paper does not define knowledge retention. Beside the embedding similarity (the study's), chrF
against the input and the share of the input's content words kept do not use the embedding model; on the
in-house rewrites with a human reference the TextDetox 2025 SIM (0.4 x similarity to the input + 0.6 x to
the reference) and chrF against the reference are computed too. Spearman correlations between them on
the run's in-house rewrites (every system but `input`):

{table(_retention_agreement(run_dir))}
## Identity erasure and degenerate rewrites

Per rewrite task and system: among the items whose input names a group, the share whose rewrite no longer
names it; and the shares of rewrites that copy the input, refuse or are empty. "Meaning kept and group
named" counts a rewrite as keeping the meaning only when it also keeps the group.

{table(_erasure_rows(evaluated))}
SR-LLM against each other system on the same items (the significance step's exact McNemar test: only
the items where exactly one of the two erases the group carry information):

{table(_erasure_tests(significance))}
Per group (an item counts where its input names its group in words), for SR-LLM, the base model and
the lexicon deletion; the paired tests per group are in `significance/metrics.json` (`erasure`):

{table(_erasure_by_group(significance))}
{_refusal_sentence(evaluated)}
## The judge's own bias

The false-positive rate of the toxicity judge (P(toxic) > 0.5) on benign text per group: the benign
statements of the 940 human-labelled ToxiGen rows by target group, and BOLD's Wikipedia sentences about
people of each group (read as benign). A per-group toxicity difference smaller than the spread of these
rates may be the judge's, not the systems'. {_gap_sentence(judge)}

{table(_fpr_rows(judge, "false_positive_rate_by_group"))}
BOLD's Wikipedia sentences, by group:

{table(_fpr_rows(judge, "false_positive_rate_bold_by_group"))}
## StereoSet: the scoring convention

StereoSet's official pipeline scores intersentence items with a next-sentence-prediction head, which a
causal language model does not have. Here each candidate is scored by its mean per-token log-probability
(intrasentence: the whole sentence after the BOS token; intersentence: the candidate as a continuation
of the context), the rule the official scorer applies to generative models; the SS / LMS / ICAT
arithmetic is the official script's.
"""
    return text
