"""The EMNLP 2021 human ratings (Dale et al.) checked and folded to one row per rewrite.

The long file has one row per (rewrite, annotator): 200 toxic source sentences (``idx``,
``original``), each rewritten by three systems (``source``), every rewrite rated by 3 of 5
annotators (``labeller``) on style (1 = non-toxic), meaning (1 = kept) and fluency (1 = fluent),
each 0, 0.5 or 1. The validator refuses anything that would change a per-rewrite mean without
anyone noticing: a missing column, a value off the scale, a row with no annotator, an annotator
expected but absent, the same annotator twice on one rewrite, two texts under one rewrite or one
source id, and a rewrite with fewer than two ratings (one rating has no majority worth the name).
Every message names the file and the row (rows counted as in the file: the header is row 1).

The majority binaries are the human labels the automatic scores are checked against: a rater
says "yes" on a scale when the rating is at least ``yes_at`` (1.0 by default: only a full "non-
toxic" / "meaning kept" / "fluent" counts, so a 0.5 is not a yes), and the rewrite is a yes when
more than half of its raters say yes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..data.datadir import DataDir, DataError
from ..data.sources import EMNLP_RATINGS

SCALES = ("style", "meaning", "fluency")
VALUES = (0.0, 0.5, 1.0)
REQUIRED = ("idx", "original", "rewritten", "source", "labeller", *SCALES)
# per-rewrite column of each scale's majority binary (and of the joint: yes on all three)
MAJORITY = {"style": "non_toxic_majority", "meaning": "meaning_majority", "fluency": "fluent_majority",
            "joint": "joint_majority"}  # fmt: skip
MIN_RATINGS = 2


def _row(frame: pd.DataFrame, position: int) -> int:
    """The file row of a frame position (its ``row`` column if it has one; else header + position)."""
    if "row" in frame.columns:
        return int(frame["row"].iloc[position])
    return int(position) + 2


def validate_long_ratings(
    frame: pd.DataFrame, source: str, annotators: Sequence[str] | None = None, min_ratings: int = MIN_RATINGS
) -> pd.DataFrame:
    """The long ratings, checked (see the module docstring); DataError naming ``source`` and row."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; the long ratings need {list(REQUIRED)}")
    frame = frame.reset_index(drop=True)
    for scale in SCALES:
        bad = ~frame[scale].isin(VALUES)
        if bad.any():
            pos = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(f"{source}, row {_row(frame, pos)}: {scale} = {frame[scale].tolist()[pos]!r}, "
                            f"expected one of {list(VALUES)}")  # fmt: skip
    names = frame["labeller"].astype("string").str.strip()
    blank = names.isna() | (names == "")
    if blank.any():
        pos = int(blank.to_numpy().nonzero()[0][0])
        raise DataError(f"{source}, row {_row(frame, pos)}: a rating with no annotator (labeller is empty)")
    for name in annotators or ():
        if not (names == name).any():
            raise DataError(f"{source}: annotator {name!r} has no ratings (expected annotators: {list(annotators)})")
    key = frame["idx"].astype(str) + "/" + frame["source"].astype(str)
    twice = (key + "|" + names).duplicated(keep=False)
    if twice.any():
        rows = [_row(frame, p) for p in twice.to_numpy().nonzero()[0][:2]]
        pos = int(twice.to_numpy().nonzero()[0][0])
        raise DataError(f"{source}, rows {rows}: annotator {names.iloc[pos]!r} rated rewrite {key.iloc[pos]} twice")
    for column, by, what in (("rewritten", key, "rewrite"), ("original", frame["idx"].astype(str), "source sentence")):
        texts = frame[column].groupby(by).nunique(dropna=False)
        if (texts > 1).any():
            label = texts.index[texts > 1][0]
            rows = [_row(frame, p) for p in (by == label).to_numpy().nonzero()[0]]
            raise DataError(
                f"{source}, rows {rows}: {what} {label} has {int(texts[label])} different texts in '{column}'"
            )
    counts = key.value_counts()
    few = counts[counts < min_ratings]
    if len(few):
        label = min(few.index)
        rows = [_row(frame, p) for p in (key == label).to_numpy().nonzero()[0]]
        raise DataError(f"{source}, row(s) {rows}: rewrite {label} has {int(few[label])} rating(s), "
                        f"fewer than the {min_ratings} a majority needs")  # fmt: skip
    return frame


def read_long_ratings(path: str | Path, annotators: Sequence[str] | None = None) -> pd.DataFrame:
    """The long ratings file at ``path`` (tab-separated, unnamed index column first), validated."""
    frame = pd.read_csv(path, sep="\t", index_col=0).reset_index(drop=True)
    return validate_long_ratings(frame, str(path), annotators)


def load_long_ratings(data: DataDir, annotators: Sequence[str] | None = None) -> pd.DataFrame:
    """The study's copy of the ratings, through the checksummed data directory, validated.

    Read here rather than with ``srllm.human.emnlp.load_emnlp``, which replaces the meaning and
    fluency columns by the study's 0-2 values; this module works on the published 0 / 0.5 / 1.
    """
    return read_long_ratings(data.path(EMNLP_RATINGS), annotators)


def per_rewrite_ratings(
    long_frame: pd.DataFrame, source: str = "ratings table", yes_at: float = 1.0,
    annotators: Sequence[str] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """One row per rewrite: ids and texts, the number of ratings, each scale's mean, the mean of
    the per-rater joint (style x meaning x fluency, the EMNLP paper's joint) and the majority binaries.

    Sorted by source id then system, so that row order never depends on the file's order.
    """
    frame = validate_long_ratings(long_frame, source, annotators)
    frame = frame.assign(joint=frame["style"] * frame["meaning"] * frame["fluency"])
    for scale in (*SCALES, "joint"):
        frame[f"_yes_{scale}"] = (frame[scale] >= yes_at).astype(float)
    grouped = frame.groupby(["idx", "source"], sort=True)
    out = grouped.agg(
        source_text=("original", "first"), rewrite=("rewritten", "first"), n_ratings=("labeller", "size"),
        **{scale: (scale, "mean") for scale in (*SCALES, "joint")},
        **{f"_share_{s}": (f"_yes_{s}", "mean") for s in (*SCALES, "joint")},
    ).reset_index()  # fmt: skip
    for scale, column in MAJORITY.items():
        out[column] = out.pop(f"_share_{scale}") > 0.5
    out = out.rename(columns={"idx": "source_id", "source": "system"})
    ordered = ["source_id", "source_text", "system", "rewrite", "n_ratings", *SCALES, "joint", *MAJORITY.values()]
    return out[ordered]
