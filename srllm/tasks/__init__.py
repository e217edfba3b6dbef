"""Evaluation tasks, one module each, and their registry (in the spirit of lm-evaluation-harness)."""

from __future__ import annotations

from . import bold, counterfactual, crows_pairs, inhouse, stereoset, toxigen_continuation, toxigen_rewrite
from .base import EvalContext, Item, Task

TASKS: dict[str, Task] = {
    module.TASK.name: module.TASK
    for module in (inhouse, toxigen_rewrite, toxigen_continuation, bold, stereoset, crows_pairs, counterfactual)
}


def get_task(name: str) -> Task:
    """The registered task called ``name``; KeyError naming the valid ones otherwise."""
    if name not in TASKS:
        raise KeyError(f"unknown evaluation task {name!r}; registered: {sorted(TASKS)}")
    return TASKS[name]


__all__ = ["TASKS", "EvalContext", "Item", "Task", "get_task"]
