"""A remembered judge scores each distinct text once and returns what the judge returns."""

from __future__ import annotations

import numpy as np

from srllm.judges.remembered import RememberedJudge


class CountingJudge:
    version = "counting-1"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        self.asked += texts
        return np.array([len(t) / 10 for t in texts])


def test_each_text_is_scored_once() -> None:
    judge = CountingJudge()
    remembered = RememberedJudge(judge)
    first = remembered.predict_proba(["a", "bb", "a"])
    second = remembered.predict_proba(["bb", "ccc"])
    np.testing.assert_array_equal(first, [0.1, 0.2, 0.1])
    np.testing.assert_array_equal(second, [0.2, 0.3])
    assert judge.asked == ["a", "bb", "ccc"] and remembered.version == "counting-1"
