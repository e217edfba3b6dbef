"""Reading a training run's log: loss curves and step times (no torch, so reports can use it)."""

from __future__ import annotations

import math
import statistics
from typing import Any

WARMUP_STEPS = 2


def median_after_warmup(step_seconds: list[float], warmup: int = WARMUP_STEPS) -> float:
    """Median step time, leaving out the first ``warmup`` steps when there are more."""
    timed = step_seconds[warmup:] if len(step_seconds) > warmup else step_seconds
    return statistics.median(timed) if timed else math.nan


def loss_curves(log_history: list[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Training and validation loss against step, from a trainer's log history."""
    return {
        "train": [(e["step"], e["loss"]) for e in log_history if "loss" in e],
        "validation": [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e],
    }
