"""Evaluation tasks, one module each, and their registry (in the spirit of lm-evaluation-harness).

A task registers itself by being a module of this package with a module-level ``TASK``: adding a
task is one new file here (and its tests). Its name, default sample size, metrics and the columns it
adds to the book's results table all live in that ``TASK``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from .base import EvalContext, Item, Task

if TYPE_CHECKING:
    from ..config import StudyConfig

NOT_TASKS = {"base", "scorers", "sharding", "systems"}  # the package's shared modules


def _discover() -> dict[str, Task]:
    tasks: dict[str, Task] = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name in NOT_TASKS:
            continue
        task = getattr(importlib.import_module(f"{__name__}.{module.name}"), "TASK", None)
        if not isinstance(task, Task):
            raise RuntimeError(f"srllm/tasks/{module.name}.py defines no TASK: every module here but {sorted(NOT_TASKS)} is a task")
        if task.name in tasks:
            raise RuntimeError(f"two tasks are called {task.name!r}")
        tasks[task.name] = task
    return tasks


TASKS: dict[str, Task] = _discover()


def get_task(name: str) -> Task:
    """The registered task called ``name``; KeyError naming the valid ones otherwise."""
    if name not in TASKS:
        raise KeyError(f"unknown evaluation task {name!r}; registered: {sorted(TASKS)}")
    return TASKS[name]


def unknown_task_keys(config: StudyConfig) -> list[tuple[str, str]]:
    """(dotted key, task name) of every task the parameters name that no module registers."""
    ev = config.evaluation
    found = [(f"evaluation.tasks.{i}", name) for i, name in enumerate(ev.tasks or []) if name not in TASKS]
    return found + [(f"evaluation.samples.{name}", name) for name in ev.samples if name not in TASKS]


def selected_tasks(config: StudyConfig) -> list[Task]:
    """The run's tasks, in the order the parameters list them (every registered task by default)."""
    return [get_task(name) for name in (config.evaluation.tasks or TASKS)]


def sample_size(config: StudyConfig, task: Task) -> int | None:
    """How many items ``task`` draws in this run: the parameters' value, else the task's default."""
    return config.evaluation.samples.get(task.name, task.default_samples)


__all__ = ["TASKS", "EvalContext", "Item", "Task", "get_task", "sample_size", "selected_tasks", "unknown_task_keys"]
