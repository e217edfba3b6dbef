"""Tables and figures of the data card (notebooks/01_dataset.ipynb), made from the dataset step's outputs."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..corpus.annotate import agreement_table  # noqa: F401  (re-exported for the notebook)
from ..data.lexicon import group_dimension

# What the data card states about each source (licences from the data mirror's SOURCE.md files).
SOURCES = {
    "srllm": ("SR-LLM authors' biased -> debiased pairs", "MIT", "github.com/shainarazavi/MBIAS mbias/eval/"),
    "paradetox": ("ParaDetox toxic -> neutral rewrites", "CC0 1.0", "github.com/s-nlp/paradetox"),
    "wnc": ("Wiki Neutrality Corpus sample, biased -> neutralized", "MIT", "github.com/rpryzant/neutralizing-bias"),
}
EVALUATION_SOURCES = {
    "toxigen_annotated": ("ToxiGen, 940 human-annotated statements", "MIT"),
    "toxigen_prompts": ("ToxiGen prompt and demonstration statements", "MIT + CDLA-Permissive-2.0"),
    "stereoset": ("StereoSet dev (contexts and candidates)", "CC BY-SA 4.0"),
    "crows_pairs": ("CrowS-Pairs (both sentences)", "CC BY-SA 4.0"),
    "bold": ("BOLD prompts", "CC BY-SA 4.0"),
}
SIDE_LABELS = {"input": "unsafe input", "output": "safe output"}


def sources_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Each training source: what it is, licence, upstream, rows read, records loaded and kept."""
    rows = {}
    for source, (what, licence, upstream) in SOURCES.items():
        if source not in metrics["rows_read"]:
            continue
        rows[source] = {
            "what": what, "licence": licence, "upstream": upstream,
            "rows read": metrics["rows_read"][source], "records loaded": metrics["loaded"][source],
            "in corpus (incl. identity)": metrics["by_source"].get(source, 0),
        }  # fmt: skip
    table = pd.DataFrame(rows).T
    table.index.name = "source"
    return table


def evaluation_sources_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """The evaluation sets checked for leakage: texts compared and corpus records removed."""
    removed = metrics["leakage"]["removed_by_evaluation_set"]
    rows = {
        name: {"what": what, "licence": licence, "texts": metrics["leakage"]["evaluation_texts"].get(name, 0),
               "corpus records removed": removed.get(name, 0)}  # fmt: skip
        for name, (what, licence) in EVALUATION_SOURCES.items()
    }
    table = pd.DataFrame(rows).T
    table.index.name = "evaluation set"
    return table


def removal_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Records removed at each cleaning step, in order."""
    removed = metrics["removed"]
    rows = [
        ("malformed rows skipped", sum(sum(v.values()) for v in metrics["skipped_rows"].values())),
        ("well-formed rows left out (e.g. WNC pre = post)", sum(sum(v.values()) for v in metrics["filtered_rows"].values())),
        ("capped by dataset.max_per_source", sum(removed["capped_by_max_per_source"].values())),
        ("exact duplicate pairs (normalised)", removed["exact_duplicates"]),
        (f"near-duplicate pairs (cosine >= {metrics['near_duplicate_threshold']})", removed["near_duplicates"]),
        ("near-duplicates of evaluation texts (leakage)", removed["evaluation_leakage"]),
        ("validation/test near-duplicates of training inputs", sum(removed["cross_split_near_duplicates"].values())),
    ]
    return pd.DataFrame(rows, columns=["step", "records removed"]).set_index("step")


def split_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Records per source / kind and split, with totals."""
    table = pd.DataFrame(metrics["by_source_kind_and_split"]).fillna(0).astype(int)
    table = table[[c for c in ("train", "validation", "test") if c in table.columns]]
    table.loc["total"] = table.sum()
    table["all"] = table.sum(axis=1)
    table.index.name = "source / kind"
    return table


def dimension_table(metrics: dict[str, Any]) -> pd.DataFrame:
    table = pd.Series(metrics["by_dimension"], name="records").sort_values(ascending=False).to_frame()
    table.index.name = "bias dimension"
    return table


def group_table(metrics: dict[str, Any], top: int = 25) -> pd.DataFrame:
    """The most mentioned groups (records mentioning the group on either side) and their dimension."""
    dimensions = group_dimension()
    rows = [(g, dimensions.get(g, ""), n) for g, n in list(metrics["by_group"].items())[:top]]
    return pd.DataFrame(rows, columns=["group", "dimension", "records"]).set_index("group")


def schema_table(schema: dict[str, str]) -> pd.DataFrame:
    rows = [(field, *meaning.split(": ", 1)) for field, meaning in schema.items()]
    return pd.DataFrame(rows, columns=["field", "type", "meaning"]).set_index("field")


def examples_by_source(rows: list[dict[str, Any]], per_source: int = 2) -> pd.DataFrame:
    """A few rewrite pairs per source, with the judge's toxicity of both sides."""
    frame = pd.DataFrame(rows)
    frame = frame[frame["kind"] == "rewrite"].sort_values("source_id")
    picked = frame.groupby("source", group_keys=False).head(per_source)
    columns = ["source", "dimension", "input", "output", "input_toxicity", "output_toxicity", "input_groups"]
    return picked[columns].round(2).reset_index(drop=True)


def _rewrites(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    return frame[frame["kind"] == "rewrite"]


def side_distribution_figure(rows: list[dict[str, Any]], field: str, title: str, xlabel: str,
                             bins: np.ndarray) -> plt.Figure:  # fmt: skip
    """Histograms of one annotation on the unsafe vs the safe side, one panel per source (rewrite pairs)."""
    frame = _rewrites(rows)
    sources = sorted(frame["source"].unique())
    fig, axes = plt.subplots(1, len(sources), figsize=(4 * len(sources), 3.4), sharey=False, squeeze=False)
    for ax, source in zip(axes[0], sources):
        part = frame[frame["source"] == source]
        for side, label in SIDE_LABELS.items():
            ax.hist(part[f"{side}_{field}"], bins=bins, alpha=0.55, label=label, density=True)
        ax.set(title=f"{source} (n={len(part):,})", xlabel=xlabel, ylabel="density")
    axes[0][0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def toxicity_figure(rows: list[dict[str, Any]]) -> plt.Figure:
    return side_distribution_figure(
        rows, "toxicity", "Judge toxicity of the unsafe vs the safe side", "judge P(toxic)", np.linspace(0, 1, 21)
    )


def sentiment_figure(rows: list[dict[str, Any]]) -> plt.Figure:
    return side_distribution_figure(
        rows, "sentiment", "VADER sentiment of the unsafe vs the safe side", "VADER compound", np.linspace(-1, 1, 21)
    )


def length_figure(rows: list[dict[str, Any]]) -> plt.Figure:
    """Words per text, unsafe vs safe side, per source (log-spaced bins)."""
    frame = _rewrites(rows).copy()
    for side in SIDE_LABELS:
        frame[f"{side}_words"] = frame[side].str.split().str.len()
    return side_distribution_figure(
        frame.to_dict("records"), "words", "Length of the unsafe vs the safe side", "words per text",
        np.geomspace(1, max(2, int(frame[["input_words", "output_words"]].max().max())) + 1, 25),
    )  # fmt: skip


def calibration_figure(validation: dict[str, Any]) -> plt.Figure:
    """Reliability diagram of the judge (and of ToxiGen-HateBERT) on the 940 human-labelled statements."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    curves = [(v.get("reliability_judge"), label) for label, v in _judges(validation)]
    curves.append((validation.get("reliability_hatebert"), "ToxiGen-HateBERT"))
    for curve, label in curves:
        if curve:
            ax.plot(curve["predicted"], curve["observed"], marker="o", label=f"{label} (Brier {curve['brier']:.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
    ax.set(xlabel="mean predicted P(toxic) in bin", ylabel="observed share toxic (human label)",
           title="Calibration on 940 human labels", xlim=(0, 1), ylim=(0, 1))  # fmt: skip
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def group_auroc_table(validation: dict[str, Any]) -> pd.DataFrame:
    """AUROC per ToxiGen target group: the study's judge, the one it replaced, and ToxiGen-HateBERT."""
    columns = {"n": validation["n_by_group"]}
    for label, v in _judges(validation):
        columns[label] = v.get("auroc_by_group", {})
    columns["ToxiGen-HateBERT"] = validation["auroc_by_group_hatebert"]
    table = pd.DataFrame(columns)
    table.index.name = "target group"
    return table.round(3)


JUDGE_NAMES = {"finetuned": "fine-tuned MiniLM + profanity (the study's)", "embedding": "MiniLM embeddings + logistic regression (the old judge)"}


def _judges(validation: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, its validation fields) of the study's judge and of the one it is compared with."""
    kind = validation.get("kind", "embedding")
    found = [(JUDGE_NAMES.get(kind, kind), validation)]
    compared = validation.get("compared")
    if compared:
        found.append((JUDGE_NAMES.get(compared["kind"], compared["kind"]), compared))
    return found


def judge_table(validation: dict[str, Any]) -> pd.DataFrame:
    """Each toxicity scorer: AUROC against the 940 human labels (with its bootstrap 95% interval), Brier
    score, rank correlation with Perspective on the 993 prompts, and the largest gap in false-positive rate
    between target groups on the benign statements."""
    checks = validation.get("checks", {})
    rows = {}
    for (label, v), kind in zip(_judges(validation), [validation.get("kind"), (validation.get("compared") or {}).get("kind")]):
        auroc = checks.get(kind, {}).get("auroc", {})
        gap = checks.get(kind, {}).get("largest_fpr_gap", {})
        rows[label] = {
            "AUROC, 940 human labels": v["auroc_toxigen_human"],
            "95% CI": f"[{auroc['low']:.3f}, {auroc['high']:.3f}]" if auroc.get("low") is not None else "n/a",
            "Brier": v.get("reliability_judge", {}).get("brier"), "Spearman, Perspective (993)": v.get("spearman_perspective"),
            "largest FPR gap between groups": gap.get("estimate"),
        }  # fmt: skip
    hatebert = checks.get("hatebert", {}).get("auroc", {})
    rows["ToxiGen-HateBERT (scores shipped with the data)"] = {
        "AUROC, 940 human labels": validation["auroc_hatebert_reference"],
        "95% CI": f"[{hatebert['low']:.3f}, {hatebert['high']:.3f}]" if hatebert.get("low") is not None else "n/a",
        "Brier": validation.get("reliability_hatebert", {}).get("brier"), "Spearman, Perspective (993)": None,
        "largest FPR gap between groups": None,
    }  # fmt: skip
    if validation.get("auroc_profanity_check") is not None:
        rows["alt-profanity-check"] = {"AUROC, 940 human labels": validation["auroc_profanity_check"], "95% CI": "n/a", "Brier": None,
                                       "Spearman, Perspective (993)": validation.get("spearman_perspective_profanity_check"),
                                       "largest FPR gap between groups": None}  # fmt: skip
    table = pd.DataFrame(rows).T
    table.index.name = "toxicity scorer"
    return table


def false_positive_table(validation: dict[str, Any]) -> pd.DataFrame:
    """Per target group: benign statements and the share each judge calls toxic (P > 0.5)."""
    checks = validation.get("checks", {})
    columns = {}
    for kind, name in (("hatebert", "ToxiGen-HateBERT"), *[(k, JUDGE_NAMES.get(k, k)) for k in checks if k != "hatebert" and isinstance(checks[k], dict)]):
        rates = checks.get(kind, {}).get("false_positive_rate_by_group", {})
        if rates:
            columns[name] = {g: v["rate"] for g, v in rates.items()}
            columns["benign statements"] = {g: v["n"] for g, v in rates.items()}
    table = pd.DataFrame(columns)
    table.index.name = "target group"
    return table


def roc_figure(validation: dict[str, Any]) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 4.5))
    curves = [(v.get("roc_judge"), f"{label}, AUROC {v['auroc_toxigen_human']:.3f}") for label, v in _judges(validation)]
    curves.append((validation.get("roc_hatebert"), f"ToxiGen-HateBERT, AUROC {validation['auroc_hatebert_reference']:.3f}"))
    for curve, label in curves:
        if curve:
            ax.plot(curve["fpr"], curve["tpr"], label=label)
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Toxicity judges on 940 human labels")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig
