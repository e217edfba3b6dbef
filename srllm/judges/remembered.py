"""A judge that scores each distinct text once: the validations of one step ask for the same texts again."""

from __future__ import annotations

from typing import Any

import numpy as np


class RememberedJudge:
    """Wraps a judge; ``predict_proba`` scores only the texts it has not seen and remembers the rest.

    The dataset step validates each judge twice on the 940 annotated ToxiGen statements (the headline
    validation and the instrument checks); remembering halves that work. A text's score does not depend
    on the batch it comes in (each is scored alone, padding masked), so nothing else changes.
    """

    def __init__(self, judge: Any) -> None:
        self.judge = judge
        self.version: str = judge.version
        self._scores: dict[str, float] = {}

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._scores]
        if missing:
            self._scores.update(zip(missing, np.asarray(self.judge.predict_proba(missing), dtype=np.float64).tolist()))
        return np.array([self._scores[t] for t in texts], dtype=np.float64)
