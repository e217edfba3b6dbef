"""Per-rewrite checks the evaluate step adds to every rewrite task: what the reference-free scores miss.

- ``erased`` (1 / 0 / NaN): the rewrite no longer names the group its input named (NaN when the
  input names none); the group is the item's own (ToxiGen's target group, the counterfactual term)
  or, for the in-house set, every group the lexicon finds in the input (:mod:`srllm.validation.erasure`);
- ``output_kind``: empty, refusal, copy (the input unchanged) or rewrite;
- ``meaning_kept_named``: meaning kept (similarity at the threshold) *and* the group not erased, the
  stricter reading of knowledge retention;
- where an item has a human reference rewrite (the in-house set): the TextDetox 2025 convention with
  our offline models (``sta_ref``, ``sim_ref``, ``j_ref``; :mod:`srllm.validation.reference_aware`),
  chrF against the reference and against the input, and the share of the input's content words kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..data.lexicon import group_terms
from ..judges.embedder import similarity
from .erasure import erased, output_kind
from .reference_aware import chrf_scores, joint, neutral_probability, sim_2025, sta_2025
from .retention import chrf, content_word_retention

ERASURE_GROUP = {"toxigen_rewrite": "item", "counterfactual": "item", "inhouse": "lexicon"}


def add_checks(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """The erasure and output-kind columns for the rows of one rewrite task."""
    frame = frame.copy()
    how = ERASURE_GROUP.get(task)
    flags: list[Any] = []
    for text, output, group in zip(frame["input"], frame["output"], frame["group"]):
        flag = None
        if how == "item":
            flag = erased(text, output, _lexicon_group(group))
        elif how == "lexicon":
            flag = erased(text, output)
        flags.append(np.nan if flag is None else float(flag))
    frame["erased"] = flags
    frame["output_kind"] = [output_kind(i, o, bool(r)) for i, o, r in zip(frame["input"], frame["output"], frame["refusal"])]
    frame["copied"] = (frame["output_kind"] == "copy").astype(float)
    if "meaning_kept" in frame:
        frame["meaning_kept_named"] = frame["meaning_kept"].astype(float) * (1.0 - frame["erased"].fillna(0.0))
    return frame


def _lexicon_group(group: str) -> str | None:
    """The lexicon's name for an item's group label (None when the lexicon has no such group)."""
    name = str(group).replace(" ", "_")
    return name if name in group_terms() else None


def add_reference_scores(frame: pd.DataFrame, judge: Any, fluent: pd.Series | None = None) -> pd.DataFrame:
    """Reference-aware scores for rows whose item has a human ``reference`` rewrite."""
    frame = frame.copy()
    outputs, inputs, references = list(frame["output"]), list(frame["input"]), list(frame["reference"])
    p_out = neutral_probability(frame["toxicity"].to_numpy(dtype=float))
    p_src = neutral_probability(frame["input_toxicity"].to_numpy(dtype=float))
    p_ref = neutral_probability(judge.predict_proba(references))
    frame["sta_ref"] = sta_2025(p_out, p_src, p_ref)
    frame["sim_ref"] = sim_2025(frame["similarity"].to_numpy(dtype=float), similarity(references, outputs))
    fl = (frame["fluent"] if fluent is None else fluent).astype(float).to_numpy()
    frame["j_ref"] = joint(frame["sta_ref"], np.clip(frame["sim_ref"], 0.0, None), fl)
    frame["chrf_ref"] = chrf_scores(outputs, references)
    frame["chrf_input"] = chrf(outputs, inputs)
    frame["content_words"] = content_word_retention(outputs, inputs)
    return frame


def summary(frame: pd.DataFrame) -> dict[str, Any]:
    """One system's rates of the checks on one task (``erasure_rate`` over items that name a group)."""
    defined = frame["erased"].dropna()
    kinds = frame["output_kind"].value_counts(normalize=True)
    result: dict[str, Any] = {
        "erasure_rate": float(defined.mean()) if len(defined) else None,
        "erasure_n": int(len(defined)),
        **{f"{kind}_rate": float(kinds.get(kind, 0.0)) for kind in ("empty", "refusal", "copy")},
    }
    if "meaning_kept_named" in frame:
        result["knowledge_retention_named"] = float(frame["meaning_kept_named"].mean())
    if "hit_budget" in frame and frame["hit_budget"].notna().any():
        result["hit_budget_rate"] = float(frame["hit_budget"].mean())
    for column in ("sta_ref", "sim_ref", "j_ref", "chrf_ref", "chrf_input", "content_words"):
        if column in frame:
            result[column] = float(pd.to_numeric(frame[column], errors="coerce").mean())
    return result
