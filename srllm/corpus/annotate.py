"""Annotation of both sides of every pair, and the agreement between annotators.

Each distinct text is annotated once with:

* ``toxicity``: P(toxic) from the study's offline judge (:mod:`srllm.judges.toxicity`);
* ``profanity``: P(offensive) from alt-profanity-check, an independent second signal;
* ``sentiment``: VADER compound sentiment in [-1, 1];
* ``groups``: the demographic (and political / profession) groups mentioned (:mod:`srllm.data.lexicon`);
* ``harm``: toxic (judge P >= 0.5) AND mentions a demographic group.

Agreement is Cohen's kappa between pairs of raters with flags at 0.5 (judge, profanity-check, and the
sources' own labels: the unsafe side of ParaDetox / SR-LLM = 1, the safe side = 0) and Fleiss' kappa
across the three.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from ..core.io import atomic_path
from ..core.paths import cache_dir
from ..data.lexicon import groups_mentioned, is_demographic
from ..judges.toxicity import profanity_proba

FLAG_THRESHOLD = 0.5
SIDES = {"input": "unsafe input", "output": "safe output"}
LABELLED_SOURCES = ("srllm", "paradetox")  # sources whose two sides are labelled unsafe / safe for toxicity

# Field -> type and meaning, written to the run folder (dataset/schema.json) and shown in the data card.
SCHEMA: dict[str, str] = {
    "instruction": "str: the debiasing instruction (the SR-LLM authors' wording)",
    "input": "str: the unsafe (biased or toxic) text; for kind 'identity', an already-safe text",
    "output": "str: the safe rewrite; for kind 'identity', the input itself",
    "source": "str: srllm | paradetox | wnc (where the texts come from)",
    "source_id": "str: stable id of the row in its source ('-identity' appended for copies)",
    "dimension": "str: bias dimension (SR-LLM's own labels; 'toxicity' for ParaDetox; 'subjectivity' for WNC; "
    "'none' for identity)",
    "severity": "str: SR-LLM label (Slightly / Highly Biased); 'toxic' (ParaDetox), 'biased' (WNC), 'safe' (identity)",
    "aspect": "str: SR-LLM's aspect column ('' elsewhere)",
    "kind": "str: 'rewrite' (unsafe -> safe pair) or 'identity' (safe text copied through)",
    "parent_id": "str: for identity records, the source_id of the pair the text was taken from ('' otherwise)",
    **{
        f"{side}_{name}": f"{kind}: {meaning} of the {label}"
        for side, label in SIDES.items()
        for name, kind, meaning in (
            ("toxicity", "float", "judge P(toxic), 0-1"),
            ("profanity", "float", "alt-profanity-check P(offensive), 0-1"),
            ("sentiment", "float", "VADER compound sentiment, -1..1"),
            ("harm", "bool", "toxic (judge >= 0.5) and mentions a demographic group"),
            ("groups", "list[str]", "groups mentioned (srllm.data.lexicon), sorted"),
        )
    },
}

ANNOTATIONS = ("toxicity", "profanity", "sentiment", "harm", "groups")


def cached_toxicity(texts: list[str], judge: Any) -> np.ndarray:
    """The judge's P(toxic) of each distinct text, cached on disk per judge version.

    Embedding is the slow part of the dataset step (~30k texts: 2-6 minutes on the 2 shared cores,
    depending on the other load); the scores of a given judge version never change, so a rerun (new
    split fractions, another seed) reads them from ``cache_dir()/annotations/<version>.parquet``.
    """

    version = getattr(judge, "version", None)
    path = cache_dir() / "annotations" / f"toxicity-{version}.parquet"
    known: dict[str, float] = {}
    if version and path.is_file():
        stored = pd.read_parquet(path)
        known = dict(zip(stored["text"], stored["toxicity"]))
    missing = [t for t in texts if t not in known]
    if missing:
        known.update(zip(missing, (float(p) for p in judge.predict_proba(missing))))
        if version:
            with atomic_path(path) as tmp:
                pd.DataFrame({"text": list(known), "toxicity": list(known.values())}).to_parquet(tmp)
    return np.array([known[t] for t in texts], dtype=np.float64)


def annotate_texts(texts: list[str], judge: Any) -> pd.DataFrame:
    """One row per distinct text (the index): toxicity, profanity, sentiment, groups, harm."""
    from vaderSentiment.vaderSentiment import (
        SentimentIntensityAnalyzer,  # lazy: vaderSentiment is a heavy import, needed only here
    )


    distinct = list(dict.fromkeys(texts))
    vader = SentimentIntensityAnalyzer()
    table = pd.DataFrame(
        {
            "toxicity": cached_toxicity(distinct, judge) if distinct else np.zeros(0),
            "profanity": profanity_proba(distinct),
            "sentiment": [vader.polarity_scores(t)["compound"] for t in distinct],
            "groups": [groups_mentioned(t) for t in distinct],
        },
        index=pd.Index(distinct, name="text"),
    )
    table["harm"] = [
        bool(p >= FLAG_THRESHOLD and any(is_demographic(g) for g in groups))
        for p, groups in zip(table["toxicity"], table["groups"])
    ]
    return table


def attach_annotations(records: list[dict[str, Any]], table: pd.DataFrame) -> list[dict[str, Any]]:
    """Copies of the records with every annotation of both sides as plain Python values."""
    columns = {name: table[name].to_dict() for name in ANNOTATIONS}
    annotated = []
    for record in records:
        row = dict(record)
        for side in SIDES:
            text = record[side]
            row[f"{side}_toxicity"] = float(columns["toxicity"][text])
            row[f"{side}_profanity"] = float(columns["profanity"][text])
            row[f"{side}_sentiment"] = float(columns["sentiment"][text])
            row[f"{side}_harm"] = bool(columns["harm"][text])
            row[f"{side}_groups"] = list(columns["groups"][text])
        annotated.append(row)
    return annotated


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from a (subjects x categories) table of how many raters chose each category.

    Every subject must have the same number of raters. Fleiss (1971); the formula as in e.g.
    statsmodels.stats.inter_rater.fleiss_kappa (not installed here).
    """
    counts = np.asarray(counts, dtype=np.float64)
    n_subjects = counts.shape[0]
    raters = counts.sum(axis=1)
    if n_subjects == 0 or not np.all(raters == raters[0]) or raters[0] < 2:
        raise ValueError("fleiss_kappa needs the same number (>= 2) of raters for every subject")
    n = raters[0]
    p_category = counts.sum(axis=0) / (n_subjects * n)
    p_subject = (np.square(counts).sum(axis=1) - n) / (n * (n - 1))
    p_bar, p_expected = p_subject.mean(), np.square(p_category).sum()
    if p_expected == 1.0:
        return float("nan")  # every rating in one category: agreement is undefined
    return float((p_bar - p_expected) / (1.0 - p_expected))


def _kappa(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) == 0 or (len(set(a)) < 2 and len(set(b)) < 2):
        return None  # undefined when both raters give a single label
    return float(cohen_kappa_score(a, b))


def _raters_table(judge: np.ndarray, profanity: np.ndarray, label: np.ndarray) -> dict[str, Any]:
    ratings = np.stack([judge, profanity, label], axis=1)
    counts = np.stack([(ratings == 0).sum(axis=1), (ratings == 1).sum(axis=1)], axis=1)
    fleiss = fleiss_kappa(counts) if len(ratings) else None
    return {
        "n_texts": int(len(label)),
        "kappa_judge_profanity": _kappa(judge, profanity),
        "kappa_judge_source": _kappa(judge, label),
        "kappa_profanity_source": _kappa(profanity, label),
        "fleiss_judge_profanity_source": None if fleiss is None or np.isnan(fleiss) else fleiss,
        "flag_rate_judge": float(judge.mean()) if len(judge) else None,
        "flag_rate_profanity": float(profanity.mean()) if len(profanity) else None,
        "flag_rate_source": float(label.mean()) if len(label) else None,
    }


def agreement(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Cohen's kappa and Fleiss' kappa of judge, profanity-check and source labels (flags at 0.5).

    ``automatic``: judge vs profanity-check over every distinct text of the corpus. Per labelled
    source and ``all_labelled``: each distinct (text, side) of the rewrite pairs once, unsafe side
    labelled 1 and safe side 0, rated by the three raters.
    """
    rows = []
    for record in records:
        for side, label in (("input", 1), ("output", 0)):
            rows.append(
                {
                    "text": record[side],
                    "source": record["source"],
                    "kind": record["kind"],
                    "label": label,
                    "judge": int(record[f"{side}_toxicity"] >= FLAG_THRESHOLD),
                    "profanity": int(record[f"{side}_profanity"] >= FLAG_THRESHOLD),
                }
            )
    frame = pd.DataFrame(rows, columns=["text", "source", "kind", "label", "judge", "profanity"])
    every_text = frame.drop_duplicates("text")
    result: dict[str, Any] = {
        "threshold": FLAG_THRESHOLD,
        "automatic": {
            "n_texts": int(len(every_text)),
            "kappa_judge_profanity": _kappa(every_text["judge"].to_numpy(), every_text["profanity"].to_numpy()),
        },
    }
    labelled = frame[(frame["kind"] == "rewrite") & frame["source"].isin(LABELLED_SOURCES)]
    labelled = labelled.drop_duplicates(["text", "label"])
    groups = {source: labelled[labelled["source"] == source] for source in LABELLED_SOURCES}
    groups["all_labelled"] = labelled
    for name, part in groups.items():
        result[name] = _raters_table(
            part["judge"].to_numpy(), part["profanity"].to_numpy(), part["label"].to_numpy()
        )
    return result


def agreement_table(agreement_metrics: dict[str, Any]) -> pd.DataFrame:
    """The agreement numbers as a table (rows: source; columns: rater pairs and Fleiss' kappa)."""
    rows = {}
    for name in (*LABELLED_SOURCES, "all_labelled"):
        if name in agreement_metrics:
            rows[name] = {k: v for k, v in agreement_metrics[name].items()}
    rows["all texts (no source label)"] = {
        "n_texts": agreement_metrics["automatic"]["n_texts"],
        "kappa_judge_profanity": agreement_metrics["automatic"]["kappa_judge_profanity"],
    }
    table = pd.DataFrame(rows).T
    table.index.name = "texts"
    return table
