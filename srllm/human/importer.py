"""``srllm human import``: completed rating sheets checked against the export's key and merged.

Every problem is an error naming the file, the row (spreadsheet numbering: the header is row 1)
and the value: a file that is not a sheet, missing columns, a sheet of another export, an unknown
or second rater in one file, one rater in two files, an unknown item id, an item that was not
given to that rater, an item rated twice, a value off its scale, an input or output text that
differs from the exported one (a sheet edited or sorted with its rows broken apart), and rows
removed from a sheet. Blank ratings are not errors: an unfinished sheet is accepted and reported as
partial (per rater: items fully rated, partly rated, not rated), and a rater who returned no sheet
is reported too, so nothing is dropped silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..core.io import read_json, write_json, write_text
from ..data.datadir import sha256_file
from .export import load_export
from .ratings import RatingError, validate_long
from .scales import Scale, scale_from_dict


def _normalise(text: str) -> str:
    # Spreadsheets may turn line ends into \r\n or trim trailing spaces: compare the words only.
    return " ".join(str(text).split())


def read_sheet(path: Path, protocol: dict[str, Any], key: pd.DataFrame, scales: list[Scale]) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """One completed sheet: (rater, long ratings, comments); RatingError on anything wrong."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise RatingError(f"{path}: not a readable CSV rating sheet ({exc})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    required = ["export_id", "rater", "item_id", "input", "output", *(s.name for s in scales)]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise RatingError(f"{path}: missing column(s) {missing}; a rating sheet has columns {required} (and comment)")
    if frame.empty:
        raise RatingError(f"{path}: the sheet has a header but no rows")
    frame["row"] = frame.index + 2
    for column in ("export_id", "rater", "item_id"):
        frame[column] = frame[column].str.strip()
    wrong_export = frame["export_id"] != protocol["export_id"]
    if wrong_export.any():
        first = frame[wrong_export].iloc[0]
        raise RatingError(
            f"{path}, row {first.row}: export_id {first.export_id!r} is not this run's export "
            f"({protocol['export_id']!r}): the sheet belongs to another export"
        )
    raters = list(dict.fromkeys(frame["rater"]))
    unknown = [r for r in raters if r not in protocol["raters"]]
    if unknown:
        first = frame[frame["rater"] == unknown[0]].iloc[0]
        raise RatingError(f"{path}, row {first.row}: unknown rater {first.rater!r}; the export's raters are {protocol['raters']}")
    if len(raters) > 1:
        first = frame[frame["rater"] == raters[1]].iloc[0]
        raise RatingError(f"{path}, row {first.row}: rater {first.rater!r} in a sheet of {raters[0]!r}: one sheet per rater")
    rater = raters[0]
    by_id = key.set_index("item_id")
    unknown_items = ~frame["item_id"].isin(by_id.index)
    if unknown_items.any():
        first = frame[unknown_items].iloc[0]
        raise RatingError(f"{path}, row {first.row}: unknown item id {first.item_id!r} (not in the export's key)")
    assigned = set(key.loc[key["raters"].str.split(";").map(lambda names: rater in names), "item_id"])
    foreign = ~frame["item_id"].isin(assigned)
    if foreign.any():
        first = frame[foreign].iloc[0]
        raise RatingError(f"{path}, row {first.row}: item {first.item_id!r} was not given to {rater}")
    repeated = frame.duplicated("item_id", keep="first")
    if repeated.any():
        first = frame[repeated].iloc[0]
        earlier = frame[frame["item_id"] == first.item_id].iloc[0]
        raise RatingError(f"{path}, row {first.row}: item {first.item_id!r} appears twice (first in row {earlier.row})")
    for column in ("input", "output"):
        exported = frame["item_id"].map(by_id[column]).map(_normalise)
        changed = frame[column].map(_normalise) != exported
        if changed.any():
            first = frame[changed].iloc[0]
            raise RatingError(
                f"{path}, row {first.row}: the {column} text of item {first.item_id!r} differs from the exported one "
                f"({first[column][:60]!r}); were rows edited, or sorted apart from their ids?"
            )
    absent = sorted(assigned - set(frame["item_id"]))
    if absent:
        raise RatingError(
            f"{path}: {len(absent)} of {rater}'s items are missing from the sheet ({', '.join(absent[:5])}"
            f"{', ...' if len(absent) > 5 else ''}); leave an unrated item's row blank instead of removing it"
        )
    long = frame.melt(id_vars=["item_id", "rater", "row"], value_vars=[s.name for s in scales], var_name="scale")
    long["value"] = long["value"].str.strip()
    long = long[long["value"] != ""].reset_index(drop=True)
    long = validate_long(long, {s.name: s for s in scales}, str(path))
    if "comment" in frame.columns:
        comments = frame.loc[frame["comment"].str.strip() != "", ["item_id", "rater", "comment"]]
    else:
        comments = pd.DataFrame(columns=["item_id", "rater", "comment"])
    return rater, long[["item_id", "rater", "scale", "value"]], comments


def completeness(ratings: pd.DataFrame, key: pd.DataFrame, raters: list[str], scales: list[Scale]) -> dict[str, Any]:
    """Per rater: items assigned, fully rated, partly rated, not rated, and whether a sheet came back."""
    counts = ratings.groupby(["rater", "item_id"]).size()
    result = {}
    for rater in raters:
        assigned = int(key["raters"].str.split(";").map(lambda names, r=rater: r in names).sum())
        mine = counts[rater] if rater in counts.index.get_level_values(0) else pd.Series(dtype=int)
        full = int((mine == len(scales)).sum())
        partly = int(((mine > 0) & (mine < len(scales))).sum())
        result[rater] = {"assigned": assigned, "fully_rated": full, "partly_rated": partly,
                         "not_rated": assigned - full - partly, "complete": full == assigned}  # fmt: skip
    return result


def import_ratings(run_dir: str | Path, sheets_dir: str | Path, resamples: int = 1000) -> dict[str, Any]:
    """Check and merge the sheets in ``sheets_dir``; write ``run_dir/human/`` and ``human`` in metrics.json."""
    from .analysis import analyse  # lazy: statsmodels is needed only once ratings are analysed

    if resamples < 1:
        raise ValueError(f"resamples must be at least 1 (got {resamples}): the intervals are bootstrap intervals")
    run_dir, sheets_dir = Path(run_dir), Path(sheets_dir)
    protocol, key = load_export(run_dir)
    scales = [scale_from_dict(s) for s in protocol["scales"]]
    paths = sorted(p for p in sheets_dir.rglob("*.csv") if p.is_file()) if sheets_dir.is_dir() else []
    if not paths:
        raise RatingError(f"{sheets_dir}: no CSV rating sheets found (expected one <rater>.csv per rater)")
    frames, comments, seen, sheets = [], [], {}, {}
    for path in paths:
        rater, long, notes = read_sheet(path, protocol, key, scales)
        if rater in seen:
            raise RatingError(f"{path}: a second sheet of {rater} (the first is {seen[rater]}); keep one sheet per rater")
        seen[rater] = path
        sheets[rater] = {"file": path.name, "sha256": sha256_file(path)}
        frames.append(long)
        comments.append(notes)
    ratings = pd.concat(frames, ignore_index=True)
    if ratings.empty:
        raise RatingError(f"{sheets_dir}: the sheets hold no ratings yet (every rating cell is blank)")
    ratings = ratings.merge(key[["item_id", "task", "source_item_id", "group", "system"]], on="item_id", how="left")
    ratings = ratings.sort_values(["item_id", "rater", "scale"]).reset_index(drop=True)
    done = completeness(ratings, key, protocol["raters"], scales)
    for rater, entry in done.items():
        entry["sheet"] = sheets.get(rater)
    per_example = run_dir / "evaluate" / "per_example.parquet"
    automatic = pd.read_parquet(per_example) if per_example.is_file() else None
    analysis, outputs = analyse(ratings, key, scales, protocol.get("reference_system"), automatic, resamples, seed=0)
    summary = {
        "export_id": protocol["export_id"],
        "n_ratings": int(len(ratings)),
        "n_items_rated": int(ratings["item_id"].nunique()),
        "n_outputs": int(len(key)),
        "raters": done,
        "partial": sorted(r for r, e in done.items() if not e["complete"]),
        "reference_system": protocol.get("reference_system"),
        **{k: analysis[k] for k in ("agreement_summary", "systems", "paired", "power")},
    }
    human = run_dir / "human"
    write_text(human / "ratings.csv", ratings.to_csv(index=False))
    write_text(human / "comments.csv", pd.concat(comments, ignore_index=True).to_csv(index=False))
    write_text(human / "outputs.csv", outputs.to_csv(index=False))
    write_json(human / "analysis.json", analysis)
    write_json(human / "metrics.json", summary)
    metrics_path = run_dir / "metrics.json"
    metrics = read_json(metrics_path) if metrics_path.is_file() else {}
    metrics["human"] = summary
    write_json(metrics_path, metrics)
    return summary
