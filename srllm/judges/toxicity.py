"""The study's offline toxicity judge: sentence embeddings + a calibrated logistic regression.

No neural toxicity classifier can be downloaded where the study runs, so it trains its own judge on
public labelled text and validates it against references it did not train on:

* training data: ToxiGen's implicitly hateful / benign statements (the few-shot prompts and their seed
  demonstrations, 16 target groups) and ParaDetox (toxic sentences vs. their human neutral rewrites);
* validation: the 940 human-annotated ToxiGen statements (AUROC, compared with the ToxiGen-HateBERT
  scores shipped with them) and 993 Perspective-scored prompts (rank correlation).

Anything that appears in a validation set is removed from training first. The trained judge is
stored as JSON (coefficients, intercept, calibration parameters): nothing here unpickles files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit
from scipy.stats import spearmanr
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedGroupKFold

from ..core.io import atomic_path, read_json, write_json
from ..core.paths import cache_dir
from ..data.datadir import DataDir
from ..data.parsers import (
    clean,
    exact_key,
    load_perspective_prompts,
    load_toxigen_annotated,
    paradetox_rows,
    paradetox_unrewritable_rows,
    toxigen_statements,
)
from ..data.sources import PARADETOX, PARADETOX_UNREWRITABLE
from .embedder import embedder_name, get_embedder
from .profanity import profanity_proba

log = logging.getLogger(__name__)


JUDGE_FORMAT = 1  # bump when the training recipe or the JSON layout changes: it is part of the version
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)  # inverse regularisation strengths tried on the calibration split
N_FOLDS = 20  # the data are cut into 20 grouped, stratified folds: 14 fit, 3 calibration, 3 test
FIT_FOLDS, CALIBRATION_FOLDS = range(0, 14), range(14, 17)


# ---------------------------------------------------------------------------------------------------
# Training data


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 1 toxic, 0 benign
    source: str  # "toxigen" or "paradetox"
    group: str  # ToxiGen target group ("" for ParaDetox)
    unit: str  # texts that must stay in the same split (a ParaDetox toxic sentence and its rewrites)


def load_toxigen_statements(data: DataDir, max_lines: int | None = None) -> list[Example]:
    """ToxiGen's distinct prompt and demonstration statements as training examples."""
    return [Example(s.text, s.label, "toxigen", s.group, f"toxigen:{exact_key(s.text)}") for s in toxigen_statements(data, max_lines)]


def parse_paradetox(path: Path, max_rows: int | None = None) -> list[Example]:
    """ParaDetox: each toxic sentence (label 1) and each non-empty neutral rewrite of it (label 0)."""
    examples = []
    for number, (_, row) in enumerate(paradetox_rows(path)):
        if max_rows is not None and number >= max_rows:
            break
        unit = f"paradetox:{number}"
        toxic = clean(row["toxic"])
        if toxic:
            examples.append(Example(toxic, 1, "paradetox", "", unit))
        for key in ("neutral1", "neutral2", "neutral3"):
            neutral = clean(row[key])
            if neutral:
                examples.append(Example(neutral, 0, "paradetox", "", unit))
    return examples


def parse_paradetox_unrewritable(path: Path) -> list[Example]:
    """ParaDetox's comments its annotators could not detoxify because the whole content is toxic (label 1).

    Each comment carries the annotators' reason. Only ``toxic_content`` alone is a person's judgement that the
    comment is toxic (7,030 of 12,059 rows); rows also or instead marked ``not_toxic``, ``unclear`` or
    ``other_tick`` are left out rather than guessed. They are ParaDetox's own kind of text (comments with
    explicit toxicity), so they join its toxic cell.
    """
    return [
        Example(text, 1, "paradetox", "", f"paradetox_unrewritable:{line}")
        for line, text, reasons in paradetox_unrewritable_rows(path)
        if text and {k for k, v in reasons.items() if v} == {"toxic_content"}
    ]


def deduplicate(examples: list[Example]) -> tuple[list[Example], int]:
    """Keep the first copy of each normalised text; drop texts that carry both labels.

    Returns the kept examples and the number of distinct texts dropped for conflicting labels.
    """
    keys = [exact_key(e.text) for e in examples]
    labels: dict[str, set[int]] = {}
    for key, example in zip(keys, examples):
        labels.setdefault(key, set()).add(example.label)
    conflicting = {key for key, seen in labels.items() if len(seen) > 1}
    kept, seen_keys = [], set()
    for key, example in zip(keys, examples):
        if key in conflicting or key in seen_keys:
            continue
        seen_keys.add(key)
        kept.append(example)
    return kept, len(conflicting)


def validation_keys(data: DataDir) -> set[str]:
    """Normalised texts of both validation sets: none of them may be trained on."""
    texts = list(load_toxigen_annotated(data)["biased_text"]) + list(load_perspective_prompts(data)["text"])
    return {exact_key(t) for t in texts}


def remove_overlap(examples: list[Example], forbidden: set[str]) -> tuple[list[Example], int]:
    """Drop examples whose normalised text is in ``forbidden``; returns (kept, number removed)."""
    kept = [e for e in examples if exact_key(e.text) not in forbidden]
    return kept, len(examples) - len(kept)


def cap_per_class(examples: list[Example], cap: int | None, seed: int) -> list[Example]:
    """At most ``cap`` examples of each (source, label), sampled with a fixed seed, original order kept."""
    if cap is None:
        return examples
    rng = np.random.default_rng(seed)
    cells: dict[tuple[str, int], list[int]] = {}
    for index, example in enumerate(examples):
        cells.setdefault((example.source, example.label), []).append(index)
    chosen: list[int] = []
    for key in sorted(cells):
        indices = cells[key]
        chosen += indices if len(indices) <= cap else list(rng.choice(indices, size=cap, replace=False))
    return [examples[i] for i in sorted(chosen)]


def load_training_examples(
    data: DataDir, max_per_class_per_source: int | None = None, seed: int = 0, unrewritable: bool = False
) -> tuple[list[Example], dict[str, Any]]:
    """The judge's training examples (deduplicated, validation overlap removed, capped) and counts;
    ``unrewritable`` adds ParaDetox's toxic comments its annotators could not rewrite."""
    raw = load_toxigen_statements(data) + parse_paradetox(data.path(PARADETOX))
    if unrewritable:
        raw += parse_paradetox_unrewritable(data.path(PARADETOX_UNREWRITABLE))
    unique, conflicts = deduplicate(raw)
    forbidden = validation_keys(data)
    kept, removed = remove_overlap(unique, forbidden)
    if any(exact_key(e.text) in forbidden for e in kept):  # a check that survives python -O
        raise AssertionError("a validation text is still in the judge's training data")
    kept = cap_per_class(kept, max_per_class_per_source, seed)
    report = {
        "raw_texts": len(raw),
        "duplicates_removed": len(raw) - len(unique),
        "conflicting_label_texts_removed": conflicts,
        "validation_overlap_removed": removed,
        "max_per_class_per_source": max_per_class_per_source,
        "counts": _counts(kept),
    }
    return kept, report


def _counts(examples: list[Example]) -> dict[str, dict[str, int]]:
    counts = Counter((e.source, "toxic" if e.label else "benign") for e in examples)
    result: dict[str, dict[str, int]] = {}
    for (source, label), n in sorted(counts.items()):
        result.setdefault(source, {})[label] = n
    return result


# ---------------------------------------------------------------------------------------------------
# The judge


@dataclass
class ToxicityJudge:
    """P(toxic) = sigmoid(platt_slope * (coef . embedding + intercept) + platt_intercept).

    Calibration is Platt scaling (a one-feature logistic regression on the decision score) fitted on a
    held-out calibration split, rather than isotonic regression: it has two parameters (stable with
    the ~115 ToxiGen statements in that split), stays strictly monotone (so AUROC and rank
    correlations of the judge are unchanged and there are no ties), and stores trivially as JSON.
    Its effect is checked by the Brier score on a separate held-out test split.
    """

    coef: np.ndarray  # (dim,) float64
    intercept: float
    platt_slope: float
    platt_intercept: float
    version: str
    settings: dict[str, Any]

    def decision_function(self, embeddings: np.ndarray) -> np.ndarray:
        return embeddings.astype(np.float64) @ self.coef + self.intercept

    def proba_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        return expit(self.platt_slope * self.decision_function(embeddings) + self.platt_intercept)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """P(toxic) for each text, shape (len(texts),)."""
        return self.proba_from_embeddings(get_embedder().encode(list(texts)))

    def to_json(self) -> dict[str, Any]:
        # Python floats written by json are their shortest exact repr, so the round trip is lossless.
        return {
            "format": JUDGE_FORMAT,
            "version": self.version,
            "coef": [float(x) for x in self.coef],
            "intercept": float(self.intercept),
            "platt_slope": float(self.platt_slope),
            "platt_intercept": float(self.platt_intercept),
            "settings": self.settings,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> "ToxicityJudge":
        if payload.get("format") != JUDGE_FORMAT:
            raise ValueError(f"judge file format {payload.get('format')!r}, expected {JUDGE_FORMAT}")
        return cls(
            coef=np.asarray(payload["coef"], dtype=np.float64),
            intercept=float(payload["intercept"]),
            platt_slope=float(payload["platt_slope"]),
            platt_intercept=float(payload["platt_intercept"]),
            version=str(payload["version"]),
            settings=dict(payload["settings"]),
        )

    def save(self, path: Path) -> None:
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> "ToxicityJudge":
        return cls.from_json(read_json(path))


def balanced_weights(sources: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Sample weights giving each (source, label) cell the same total weight.

    ParaDetox has ~40x more texts than ToxiGen; unweighted, the judge learns mostly "profanity" and
    misses the implicit hate that ToxiGen is about (in a trial, held-out ToxiGen AUROC fell from
    0.93 to 0.82).
    """
    cells = [f"{s}|{y}" for s, y in zip(sources, labels)]
    counts = Counter(cells)
    return np.array([len(cells) / (len(counts) * counts[c]) for c in cells])


def macro_source_auroc(scores: np.ndarray, labels: np.ndarray, sources: np.ndarray) -> dict[str, float]:
    """AUROC within each source (and their mean): the model-selection criterion."""
    result = {str(s): float(roc_auc_score(labels[sources == s], scores[sources == s])) for s in sorted(set(sources))}
    result["mean"] = float(np.mean(list(result.values())))
    return result


def split_folds(examples: list[Example], seed: int) -> np.ndarray:
    """Fold number (0..N_FOLDS-1) of each example: stratified by source and label, grouped by unit.

    Grouping keeps a ParaDetox toxic sentence and its rewrites together, so held-out scores are not
    inflated by near-copies in the fitting split.
    """
    strata = [f"{e.source}|{e.label}" for e in examples]
    groups = [e.unit for e in examples]
    folds = np.empty(len(examples), dtype=int)
    splitter = StratifiedGroupKFold(n_splits=N_FOLDS, shuffle=True, random_state=seed)
    for fold, (_, test_index) in enumerate(splitter.split(np.zeros(len(examples)), strata, groups)):
        folds[test_index] = fold
    return folds


def train_judge(
    examples: list[Example], embeddings: np.ndarray, settings: dict[str, Any], version: str, seed: int
) -> tuple[ToxicityJudge, dict[str, Any]]:
    """Fit on 70%, choose C and fit Platt scaling on 15%, report held-out metrics on the last 15%."""
    labels = np.array([e.label for e in examples])
    sources = np.array([e.source for e in examples])
    weights = balanced_weights(sources, labels)
    folds = split_folds(examples, seed)
    fit = np.isin(folds, list(FIT_FOLDS))
    cal = np.isin(folds, list(CALIBRATION_FOLDS))
    test = ~(fit | cal)

    selection: dict[str, dict[str, float]] = {}
    best: tuple[float, float, LogisticRegression] | None = None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=5000, random_state=seed)
        model.fit(embeddings[fit], labels[fit], sample_weight=weights[fit])
        selection[str(c)] = macro_source_auroc(model.decision_function(embeddings[cal]), labels[cal], sources[cal])
        if best is None or selection[str(c)]["mean"] > best[0]:
            best = (selection[str(c)]["mean"], c, model)
    assert best is not None
    _, chosen_c, model = best

    # Platt scaling on the calibration split, with the same cell weights: P(toxic) is calibrated for
    # a balanced mix of sources and classes, not for ParaDetox's base rate.
    scores = model.decision_function(embeddings)
    platt = LogisticRegression(C=1e6, max_iter=1000)  # effectively unregularised, as in Platt (1999)
    platt.fit(scores[cal, None], labels[cal], sample_weight=weights[cal])

    judge = ToxicityJudge(
        coef=model.coef_[0].astype(np.float64),
        intercept=float(model.intercept_[0]),
        platt_slope=float(platt.coef_[0, 0]),
        platt_intercept=float(platt.intercept_[0]),
        version=version,
        settings={**settings, "C": chosen_c},
    )
    proba = judge.proba_from_embeddings(embeddings)
    raw = expit(scores)  # the uncalibrated logistic output, for comparison

    def brier(mask: np.ndarray, p: np.ndarray) -> float:
        return float(brier_score_loss(labels[mask], p[mask], sample_weight=weights[mask]))

    report = {
        "C": chosen_c,
        "selection_auroc_by_C": selection,
        "split_sizes": {"fit": int(fit.sum()), "calibration": int(cal.sum()), "test": int(test.sum())},
        "brier_calibration": brier(cal, proba),
        "brier_calibration_uncalibrated": brier(cal, raw),
        "brier_test": brier(test, proba),
        "brier_test_uncalibrated": brier(test, raw),
        "auroc_test": macro_source_auroc(scores[test], labels[test], sources[test]),
        "platt": {"slope": judge.platt_slope, "intercept": judge.platt_intercept},
    }
    return judge, report


def judge_version(examples: list[Example], settings: dict[str, Any]) -> str:
    """A short hash of the training examples and every setting that changes the trained judge."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for example in examples:
        digest.update(f"{example.source}\t{example.label}\t{example.text}\n".encode())
    return digest.hexdigest()[:12]


def load_or_train_judge(
    data: DataDir, max_per_class_per_source: int | None = None, seed: int = 0
) -> tuple[ToxicityJudge, dict[str, Any]]:
    """The judge for these data and settings: from ``cache_dir()/judge/<version>/`` or trained now.

    The full training set (~770 ToxiGen statements, ~30,600 ParaDetox sentences) took 3.6 minutes on
    the 2-core study machine with the other core busy (embedding at ~170 texts/s was 86% of it), so
    no cap is applied by default; ``max_per_class_per_source`` caps each (source, label) cell for
    quick runs and tests. A cached judge loads in about two seconds (reading and hashing the data to
    find its version included).
    """
    start = time.perf_counter()
    examples, data_report = load_training_examples(data, max_per_class_per_source, seed)
    settings = {
        "format": JUDGE_FORMAT,
        "embedder": embedder_name(),
        "seed": seed,
        "max_per_class_per_source": max_per_class_per_source,
        "C_grid": list(C_GRID),
        "folds": {"n": N_FOLDS, "fit": len(FIT_FOLDS), "calibration": len(CALIBRATION_FOLDS)},
        "weights": "balanced per (source, label)",
        "calibration": "platt",
    }
    version = judge_version(examples, settings)
    folder = cache_dir() / "judge" / version
    if (folder / "judge.json").is_file() and (folder / "report.json").is_file():
        judge = ToxicityJudge.load(folder / "judge.json")
        report = read_json(folder / "report.json")
        report.update(cached=True, load_seconds=time.perf_counter() - start, path=str(folder))
        return judge, report

    log.info("training toxicity judge %s on %d texts", version, len(examples))
    embed_start = time.perf_counter()
    embeddings = get_embedder().encode([e.text for e in examples])
    embed_seconds = time.perf_counter() - embed_start
    judge, train_report = train_judge(examples, embeddings, settings, version, seed)
    report = {
        "version": version,
        **data_report,
        **train_report,
        "embed_seconds": embed_seconds,
        "embed_texts_per_second": len(examples) / embed_seconds if embed_seconds > 0 else None,
        "train_seconds": time.perf_counter() - start,
    }
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        judge.save(tmp / "judge.json")
        write_json(tmp / "report.json", report)
    report.update(cached=False, path=str(folder))
    return judge, report


# ---------------------------------------------------------------------------------------------------
# Validation


def reliability(labels: np.ndarray, proba: np.ndarray, n_bins: int = 10) -> dict[str, Any]:
    """Binned predicted vs. observed frequency (equal-width bins; empty bins left out) and the Brier score."""
    observed, predicted = calibration_curve(labels, proba, n_bins=n_bins, strategy="uniform")
    # The same bin assignment calibration_curve uses, to report how many texts each point rests on.
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], proba, side="right"), minlength=n_bins)
    return {
        "predicted": predicted.tolist(),
        "observed": observed.tolist(),
        "count": counts[counts > 0].tolist(),
        "brier": float(brier_score_loss(labels, proba)),
    }


def roc_points(labels: np.ndarray, scores: np.ndarray) -> dict[str, list[float]]:
    fpr, tpr, _ = roc_curve(labels, scores)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist()}


def _auroc_or_none(labels: np.ndarray, scores: np.ndarray) -> float | None:
    return float(roc_auc_score(labels, scores)) if len(set(labels)) == 2 else None


def validate_judge(judge: ToxicityJudge, data: DataDir) -> dict[str, Any]:
    """The judge against human ToxiGen labels (next to ToxiGen-HateBERT) and Perspective scores."""
    annotated = load_toxigen_annotated(data)
    labels = annotated["label"].to_numpy(dtype=int)
    texts = annotated["biased_text"].tolist()
    judge_p = judge.predict_proba(texts)
    hatebert = annotated["biased_hatebert_score"].to_numpy(dtype=np.float64)
    profanity = profanity_proba(texts)

    by_group, by_group_hatebert, n_by_group = {}, {}, {}
    for group, rows in annotated.groupby("group").indices.items():
        by_group[group] = _auroc_or_none(labels[rows], judge_p[rows])
        by_group_hatebert[group] = _auroc_or_none(labels[rows], hatebert[rows])
        n_by_group[group] = len(rows)

    prompts = load_perspective_prompts(data)
    prompt_texts = prompts["text"].tolist()
    prompt_p = judge.predict_proba(prompt_texts)
    rho = spearmanr(prompt_p, prompts["toxicity"])
    rho_profanity = spearmanr(profanity_proba(prompt_texts), prompts["toxicity"])

    return {
        "judge_version": judge.version,
        "n_rows": len(annotated),
        "n_toxic": int(labels.sum()),
        "auroc_toxigen_human": float(roc_auc_score(labels, judge_p)),
        "auroc_hatebert_reference": float(roc_auc_score(labels, hatebert)),
        "auroc_profanity_check": float(roc_auc_score(labels, profanity)),
        "auroc_by_group": by_group,
        "auroc_by_group_hatebert": by_group_hatebert,
        "n_by_group": n_by_group,
        "reliability_judge": reliability(labels, judge_p),
        "reliability_hatebert": reliability(labels, hatebert),
        "roc_judge": roc_points(labels, judge_p),
        "roc_hatebert": roc_points(labels, hatebert),
        "roc_profanity_check": roc_points(labels, profanity),
        "n_perspective": len(prompts),
        "spearman_perspective": float(rho.statistic),
        "spearman_perspective_pvalue": float(rho.pvalue),
        "spearman_perspective_profanity_check": float(rho_profanity.statistic),
    }
