"""The toxicity judge checked like an instrument, on data it never trained on.

- AUROC on the 940 human-labelled ToxiGen statements with a bootstrap 95% interval, for each judge
  compared and for the ToxiGen-HateBERT scores shipped with the rows;
- the false-positive rate (P(toxic) > the study's cut) on benign text, per target group: the benign
  rows of the 940 by ToxiGen target group, and BOLD's Wikipedia sentences by group (encyclopaedic
  sentences about people of each group, read as benign); the largest gap between groups, with a
  permutation test of "no group differs";
- the study's ``toxic`` cut justified on the 940: balanced accuracy across cuts, and the cut that
  best matches the human labels on one half of the statements, scored on the other half beside 0.5.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..core.arrays import json_safe, percentile_interval
from ..core.auroc import auroc, auroc_rows
from ..core.group_gap import largest_gap
from ..data.datadir import DataDir
from ..data.parsers import BOLD_DOMAINS, clean, load_bold_wikipedia, load_toxigen_annotated
from .erasure import wilson
from .thresholds import split_half_threshold

TOXIC_CUT = 0.5  # the study's flag: P(toxic) > 0.5
BOLD_SENTENCES_PER_GROUP = 40  # the first sentences of each group's pages, enough for a rate with a usable interval


class Scorer(Protocol):
    def predict_proba(self, texts: list[str]) -> np.ndarray: ...


def bootstrap_auroc(labels: np.ndarray, scores: np.ndarray, resamples: int, seed: int) -> dict[str, Any]:
    """AUROC with a percentile bootstrap 95% interval over statements (resamples of one class left out)."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    n = len(labels)
    index = np.random.default_rng(seed).integers(0, n, (resamples, n))
    values = auroc_rows(labels[index], scores[index]) if resamples else np.array([])
    low, high = percentile_interval(values)
    return {"value": auroc(labels, scores), "low": low, "high": high, "n": n}


def false_positive_rates(proba: np.ndarray, groups: list[str], cut: float = TOXIC_CUT) -> dict[str, dict[str, Any]]:
    """Per group: benign texts, the share the judge flags, its Wilson 95% interval."""
    flags = proba > cut
    result = {}
    for group in sorted(set(groups)):
        mask = np.array([g == group for g in groups])
        count, n = int(flags[mask].sum()), int(mask.sum())
        low, high = wilson(count, n)
        result[group] = {"n": n, "rate": count / n if n else None, "low": low, "high": high}
    return result


def bold_benign_sentences(data: DataDir, per_group: int = BOLD_SENTENCES_PER_GROUP) -> tuple[list[str], list[str]]:
    """(sentences, groups): the first ``per_group`` Wikipedia sentences of each BOLD group (professions left out)."""
    texts, groups = [], []
    for domain in BOLD_DOMAINS:
        if domain == "profession":
            continue
        for group, pages in sorted(load_bold_wikipedia(data, domain).items()):
            sentences = [clean(s) for page in sorted(pages) for s in pages[page] if clean(s)][:per_group]
            texts += sentences
            groups += [f"{domain}: {group}"] * len(sentences)
    return texts, groups


def check_judges(judges: dict[str, Scorer], data: DataDir, resamples: int, seed: int) -> dict[str, Any]:
    """Every check above, for each judge by name (the study's first), and the HateBERT reference."""
    annotated = load_toxigen_annotated(data)
    labels = annotated["label"].to_numpy(dtype=int)
    texts = annotated["biased_text"].tolist()
    benign = labels == 0
    benign_groups = annotated.loc[benign, "group"].tolist()
    bold_texts, bold_groups = bold_benign_sentences(data)
    result: dict[str, Any] = {
        "hatebert": {"auroc": bootstrap_auroc(labels, annotated["biased_hatebert_score"].to_numpy(float), resamples, seed)},
        "n_benign_toxigen": int(benign.sum()), "n_bold_sentences": len(bold_texts), "cut": TOXIC_CUT,
    }  # fmt: skip
    hatebert_fpr = false_positive_rates(annotated["biased_hatebert_score"].to_numpy(float)[benign], benign_groups)
    result["hatebert"]["false_positive_rate_by_group"] = hatebert_fpr
    cuts = np.round(np.arange(0.05, 0.96, 0.05), 2)
    for name, judge in judges.items():
        proba = judge.predict_proba(texts)
        fpr = false_positive_rates(proba[benign], benign_groups)
        bold_proba = judge.predict_proba(bold_texts)
        bold_fpr = false_positive_rates(bold_proba, bold_groups)
        gap = largest_gap(
            (proba[benign] > TOXIC_CUT).astype(float), benign_groups, resamples=resamples, seed=seed
        )  # fmt: skip
        curve = []
        for cut in cuts:
            flagged = proba > cut
            tpr = float(flagged[labels == 1].mean())
            tnr = float((~flagged[labels == 0]).mean())
            curve.append({"cut": float(cut), "tpr": tpr, "fpr": 1 - tnr, "balanced_accuracy": (tpr + tnr) / 2})
        result[name] = {
            "auroc": bootstrap_auroc(labels, proba, resamples, seed),
            "false_positive_rate_by_group": fpr,
            "false_positive_rate_bold_by_group": bold_fpr,
            "largest_fpr_gap": gap,
            "mean_bold_toxicity": float(np.mean(bold_proba)) if len(bold_proba) else None,
            "cut_curve": curve,
            "cut_split_half": split_half_threshold(proba, labels == 1, annotated.index.to_numpy(), TOXIC_CUT, seed=seed),
        }
    return json_safe(result)


def fpr_table(checks: dict[str, Any], judge: str) -> pd.DataFrame:
    """Group x (ToxiGen benign FPR, BOLD FPR) for one judge, for the book."""
    toxigen = checks[judge]["false_positive_rate_by_group"]
    return pd.DataFrame({group: {"n": v["n"], "false-positive rate": v["rate"]} for group, v in toxigen.items()}).T
