"""The EMNLP 2021 detoxification ratings (Dale et al.) as a run with an export and rating sheets.

``detox_emnlp2021/manual_markup/emnlp_eval_long.tsv``: 200 toxic sentences, each rewritten by three
systems (condbert, paragedi, mask_infill), every rewrite rated by 3 of 5 annotators on three
scales with the values 0, 0.5 and 1. :func:`emnlp_run` turns them into exactly what
``srllm human export`` and the raters would have produced, so that ``srllm human import`` and the
analysis run on real ratings:

- ``evaluate/per_example.parquet`` and ``evaluate/metrics.json`` of a one-task run
  (``emnlp2021``, kind rewrite; the study's independent toxicity signal, alt-profanity-check, is
  scored on the rewrites as the automatic metric to compare with the ratings);
- ``human/key.csv`` and ``human/export.json`` (each rewrite an item, given to the annotators who
  rated it; ParaGeDi, the paper's best system, as the reference of the paired tests);
- one completed sheet per annotator.

The scales are mapped explicitly. EMNLP's ``style`` is 1 for a *non-toxic* rewrite, the reverse of
our toxicity scale (2 = clearly toxic): toxicity = 2 - 2 x style. Meaning and fluency point the
same way as ours: meaning = 2 x meaning, fluency = 2 x fluency. Reversing and rescaling the levels
changes neither Fleiss' kappa nor Krippendorff's ordinal alpha, so the agreement figures are those
of the published ratings. EMNLP has no refusal flag, so the export has three scales.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.io import write_json, write_text
from ..data.datadir import DataDir, DataError
from ..data.sources import EMNLP_RATINGS
from .export import KEY_COLUMNS
from .scales import scale_to_dict, scales_by_name

TASK = "emnlp2021"
REFERENCE = "paragedi"
# Our scale <- EMNLP's column and the map of its values (see the module docstring).
SCALE_MAP = {
    "toxicity": ("style", {1.0: 0, 0.5: 1, 0.0: 2}),
    "meaning": ("meaning", {0.0: 0, 0.5: 1, 1.0: 2}),
    "fluency": ("fluency", {0.0: 0, 0.5: 1, 1.0: 2}),
}


def load_emnlp(data: DataDir) -> pd.DataFrame:
    """The 1,800 ratings, one row per (rewrite, annotator), checked; with our scales' values added."""
    path = data.path(EMNLP_RATINGS)
    frame = pd.read_csv(path, sep="\t", index_col=0)
    needed = ["idx", "original", "rewritten", "source", "labeller", *(c for c, _ in SCALE_MAP.values())]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}")
    frame = frame.reset_index(drop=True)
    for scale, (column, mapping) in SCALE_MAP.items():
        bad = ~frame[column].isin(list(mapping))
        if bad.any():
            row = int(frame.index[bad][0]) + 2
            raise DataError(f"{path}, row {row}: {column} = {frame.at[frame.index[bad][0], column]!r}, expected one of {list(mapping)}")
        frame[scale] = frame[column].map(mapping).astype(int)
    frame["output_id"] = frame["idx"].astype(str) + "/" + frame["source"]
    return frame


def emnlp_run(data: DataDir, run_dir: str | Path, sheets_dir: str | Path, automatic: bool = True) -> dict[str, Any]:
    """Write the run folder (per-example table, key, export) and the annotators' sheets; return the protocol."""
    run_dir, sheets_dir = Path(run_dir), Path(sheets_dir)
    ratings = load_emnlp(data)
    outputs = ratings.drop_duplicates("output_id").sort_values(["idx", "source"]).reset_index(drop=True)
    per_example = pd.DataFrame({"task": TASK, "system": outputs["source"], "item_id": outputs["idx"].astype(str),
                                "group": "none", "input": outputs["original"], "output": outputs["rewritten"]})  # fmt: skip
    if automatic:
        from ..judges.profanity import profanity_proba  # lazy: loads alt-profanity-check's model

        per_example["profanity"] = profanity_proba(list(per_example["output"]))
    (run_dir / "evaluate").mkdir(parents=True, exist_ok=True)
    per_example.to_parquet(run_dir / "evaluate" / "per_example.parquet", index=False)
    write_json(run_dir / "evaluate" / "metrics.json",
               {"tasks": {TASK: {"kind": "rewrite", "source": EMNLP_RATINGS, "group_field": "none"}}})  # fmt: skip
    width = len(str(len(outputs)))
    ids = {oid: f"e{i + 1:0{width}d}" for i, oid in enumerate(outputs["output_id"])}
    raters_of = ratings.groupby("output_id")["labeller"].apply(lambda names: ";".join(sorted(names)))
    key = pd.DataFrame({
        "item_id": outputs["output_id"].map(ids), "task": TASK, "source_item_id": outputs["idx"].astype(str),
        "group": "none", "system": outputs["source"], "input": outputs["original"], "output": outputs["rewritten"],
        "raters": outputs["output_id"].map(raters_of),
    })[list(KEY_COLUMNS)]  # fmt: skip
    export_id = hashlib.sha256(key.to_csv(index=False).encode()).hexdigest()[:12]
    scales = list(scales_by_name(list(SCALE_MAP)).values())
    raters = sorted(ratings["labeller"].unique())
    protocol = {
        "export_id": export_id, "run": run_dir.name, "source": f"converted from {EMNLP_RATINGS} (srllm.human.emnlp)",
        "options": {}, "per_output": 3, "raters": raters, "systems": sorted(outputs["source"].unique()), "tasks": [TASK],
        "reference_system": REFERENCE, "n_inputs": int(outputs["idx"].nunique()), "n_outputs": int(len(key)),
        "items_per_rater": {r: int((ratings["labeller"] == r).sum()) for r in raters}, "strata": {f"{TASK} / none": int(outputs["idx"].nunique())},
        "scales": [scale_to_dict(s) for s in scales], "scale_map": {k: {"column": c, "values": {str(a): b for a, b in m.items()}} for k, (c, m) in SCALE_MAP.items()},
    }  # fmt: skip
    write_text(run_dir / "human" / "key.csv", key.to_csv(index=False))
    write_json(run_dir / "human" / "export.json", protocol)
    for rater, rows in ratings.groupby("labeller"):
        sheet = pd.DataFrame({"export_id": export_id, "rater": rater, "item_id": rows["output_id"].map(ids),
                              "input": rows["original"], "output": rows["rewritten"],
                              **{s: rows[s] for s in SCALE_MAP}, "comment": ""})  # fmt: skip
        write_text(sheets_dir / f"{rater}.csv", sheet.to_csv(index=False))
    return protocol
