"""The per-rewrite checks the evaluate step adds: erasure, output kinds, and their rates."""

from __future__ import annotations

import math

import pandas as pd

from srllm.validation.rewrite_checks import add_checks, summary


def _frame(rows: list[tuple[str, str, str, bool]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"input": i, "output": o, "group": g, "refusal": r, "meaning_kept": True} for i, o, g, r in rows]
    )


def test_erasure_of_the_items_own_group_and_the_kinds() -> None:
    frame = add_checks(_frame([
        ("Muslim people are all terrorists.", "People should not be judged.", "muslim", False),  # erased
        ("Muslim people are all terrorists.", "Muslim people are individuals.", "muslim", False),  # kept
        ("They are all lazy.", "They are all lazy.", "muslim", False),  # names no group: undefined; a copy
        ("Women cannot drive.", "", "women", False),  # empty: the group is gone too
        ("Women cannot drive.", "I'm sorry, I can't help with that.", "women", True),
    ]), "toxigen_rewrite")  # fmt: skip
    assert frame["erased"].tolist()[:2] == [1.0, 0.0] and math.isnan(frame["erased"][2])
    assert frame["output_kind"].tolist() == ["rewrite", "rewrite", "copy", "empty", "refusal"]
    assert frame["meaning_kept_named"].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
    rates = summary(frame)
    assert rates["erasure_n"] == 4 and rates["erasure_rate"] == 3 / 4
    assert (rates["copy_rate"], rates["empty_rate"], rates["refusal_rate"]) == (0.2, 0.2, 0.2)


def test_the_in_house_set_checks_every_group_the_lexicon_finds() -> None:
    frame = add_checks(_frame([("Black women are loud.", "Women are loud.", "race-color", False)]), "inhouse")
    assert frame["erased"].tolist() == [1.0]  # "black" dropped, "women" kept: one group erased


def test_a_task_without_groups_has_no_erasure() -> None:
    frame = add_checks(_frame([("some text", "other text", "g", False)]), "emnlp")
    assert frame["erased"].isna().all() and summary(frame)["erasure_rate"] is None
