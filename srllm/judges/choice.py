"""Which toxicity judge a run uses (``judge.kind``), loaded from the cache or trained once per machine."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ..config import JudgeConfig
from ..data.datadir import DataDir
from . import finetuned
from .toxicity import load_or_train_judge


class Judge(Protocol):
    version: str

    def predict_proba(self, texts: list[str]) -> np.ndarray: ...


def load_judge(config: JudgeConfig, data: DataDir, seed: int, kind: str | None = None) -> tuple[Judge, dict[str, Any]]:
    """The run's judge (or the one of ``kind``): the fine-tuned MiniLM classifier, or the embedding +
    logistic-regression judge it replaced (kept for comparison)."""
    kind = kind or config.kind
    if kind == "embedding":
        judge, report = load_or_train_judge(data, config.max_per_class_per_source, seed)
        return judge, {"kind": "embedding", **report}
    settings = finetuned.Settings(max_steps=config.finetune_steps, max_examples=config.max_per_class_per_source)
    return finetuned.load_or_train(data, settings, seed)
