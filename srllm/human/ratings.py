"""Human ratings as one long table (item, rater, scale, value), its loader and its checks.

Generic on purpose: the agreement statistics (srllm.human.agreement) and any later comparison of
automatic metrics with human judgements read this table, whatever produced it: the rating sheets
of ``srllm human import``, the converted EMNLP 2021 ratings (srllm.human.emnlp), or a CSV of
ratings made elsewhere. Extra columns (system, task, ...) are kept; only the four named here are
required.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..data.datadir import DataError
from .scales import Scale

COLUMNS = ("item_id", "rater", "scale", "value")


class RatingError(DataError):
    """A rating file is malformed: the message names the file, the row (1-based, as a spreadsheet
    shows it, the header being row 1) and the offending value."""


def validate_long(frame: pd.DataFrame, scales: dict[str, Scale], source: str) -> pd.DataFrame:
    """Check a long ratings table and return it with ``value`` as integers.

    Refuses missing columns, unknown scales, values off their scale and a rater rating the same
    item twice on one scale. ``source`` names the file in the messages; a ``row`` column (the row
    of the file each rating came from), when present, is used in them.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise RatingError(f"{source}: missing column(s) {missing}; a ratings table has columns {list(COLUMNS)}")
    frame = frame.copy()
    rows = frame["row"] if "row" in frame.columns else pd.Series(frame.index + 2, index=frame.index)
    for name in ("item_id", "rater", "scale"):
        empty = frame[name].isna() | (frame[name].astype(str).str.strip() == "")
        if empty.any():
            raise RatingError(f"{source}, row {rows[empty].iloc[0]}: empty {name}")
        frame[name] = frame[name].astype(str).str.strip()
    unknown = ~frame["scale"].isin(list(scales))
    if unknown.any():
        first = frame.index[unknown][0]
        raise RatingError(f"{source}, row {rows[first]}: unknown scale {frame.at[first, 'scale']!r}; known: {sorted(scales)}")
    values = pd.to_numeric(frame["value"], errors="coerce")
    for name, scale in scales.items():
        on_scale = frame["scale"] == name
        bad = on_scale & ~values.isin([float(v) for v in scale.values])
        if bad.any():
            first = frame.index[bad][0]
            raise RatingError(
                f"{source}, row {rows[first]}: value {frame.at[first, 'value']!r} is not on the {name} scale "
                f"(allowed: {', '.join(map(str, scale.values))}; {scale.describe()})"
            )
    frame["value"] = values.astype(int)
    duplicated = frame.duplicated(["item_id", "rater", "scale"], keep="first")
    if duplicated.any():
        first = frame.index[duplicated][0]
        earlier = frame.index[
            (frame["item_id"] == frame.at[first, "item_id"]) & (frame["rater"] == frame.at[first, "rater"])
            & (frame["scale"] == frame.at[first, "scale"])
        ][0]  # fmt: skip
        raise RatingError(
            f"{source}, row {rows[first]}: duplicate rating of item {frame.at[first, 'item_id']!r} by rater "
            f"{frame.at[first, 'rater']!r} on {frame.at[first, 'scale']} (already rated in row {rows[earlier]})"
        )
    return frame


def read_ratings(path: str | Path, scales: dict[str, Scale]) -> pd.DataFrame:
    """A long ratings table from a CSV (or TSV) file, checked by :func:`validate_long`."""
    path = Path(path)
    if not path.is_file():
        raise RatingError(f"{path}: no such ratings file")
    sep = "\t" if path.suffix == ".tsv" else ","
    frame = pd.read_csv(path, sep=sep, dtype={"item_id": str, "rater": str, "scale": str}, keep_default_na=False,
                        na_values=[""])  # fmt: skip
    return validate_long(frame, scales, str(path))


def wide(frame: pd.DataFrame, scale: str) -> pd.DataFrame:
    """One scale as an items x raters matrix of values (NaN where a rater did not rate an item)."""
    sub = frame[frame["scale"] == scale]
    return sub.pivot(index="item_id", columns="rater", values="value").astype(float).sort_index()


def item_means(frame: pd.DataFrame, scale: str) -> pd.Series:
    """Each item's mean rating on one scale, over the raters who rated it."""
    return frame[frame["scale"] == scale].groupby("item_id")["value"].mean().astype(float)


def complete_items(matrix: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The items rated by the most common number of raters (Fleiss' kappa needs the same count per
    item), and how many items were left out for having another count."""
    counts = matrix.notna().sum(axis=1)
    counts = counts[counts >= 2]
    if counts.empty:
        return matrix.iloc[0:0], int(len(matrix))
    modal = int(counts.value_counts().idxmax())
    kept = matrix.loc[counts.index[counts == modal]]
    return kept, int(len(matrix) - len(kept))
