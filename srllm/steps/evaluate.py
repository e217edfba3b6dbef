"""Step 4: every system on every task; per-example results in one table.

Systems (``evaluation.systems``) and tasks (``evaluation.tasks``) are defined in srllm.tasks. Each
language model is loaded once and runs every task it applies to: rewrite tasks (every system),
continuation and likelihood tasks (the language models: base and the trained ones). All outputs
are then scored with the shared scorers and each task's own. Per-example rows of every task and
system go to ``evaluate/per_example.parquet`` (columns task, system, item_id, group, input,
output and every score; likelihood tasks use the model's name as system), which step 5 pairs on.

Under ``accelerate launch --num_processes k`` each process runs the models on every k-th item and
the main process writes the results (srllm.tasks.sharding).
"""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..config import StudyConfig, reference_system
from ..core.io import atomic_path
from ..core.progress import report
from ..core.rundir import finish, load_split, step_dir
from ..data.datadir import DataDir
from ..hub.cards import trained_metrics, write_model_card
from ..judges.choice import load_judge
from ..judges.embedder import get_embedder
from ..judges.online import enabled_online_judges
from ..judges.profanity import toxic_lexicon
from ..lm.generation import generate_continuations, generate_rewrites, is_refusal
from ..lm.models import resolve_base_model
from ..tasks import EvalContext, Item, Task, sample_size, selected_tasks
from ..tasks.scorers import score_outputs
from ..tasks.sharding import current_shard, map_sharded
from ..tasks.systems import System, delete_lexicon_words, demonstrations, load_system, resolve_systems
from ..validation import rewrite_checks
from ..validation.erasure import refusal_against_references
from .metric_validation import validate_metrics

log = logging.getLogger(__name__)


def _bool_columns_to_float(frame: pd.DataFrame) -> pd.DataFrame:
    """Flags of one task are NaN in another task's rows after the concat (an object column of bools and
    NaN, which parquet cannot store): store them as 1.0 / 0.0 / NaN."""
    for column in frame.columns:
        if frame[column].dtype == object:
            values = frame[column].dropna()
            if len(values) and values.map(lambda v: isinstance(v, bool)).all():
                frame[column] = frame[column].map(lambda v: float(v) if isinstance(v, bool) else float("nan"))
    return frame


Demonstrations = list[tuple[str, str]]


def _run_system(
    ctx: EvalContext, system: System, tasks: list[Task], items: dict[str, list[Item]], demos: Demonstrations
) -> tuple[dict[str, list[str]], dict[str, pd.DataFrame], dict[str, float]]:
    """One system over every task it applies to: outputs of generation tasks, rows of likelihood tasks, seconds."""
    config = ctx.config
    outputs: dict[str, list[str]] = {}
    scored: dict[str, pd.DataFrame] = {}
    seconds: dict[str, float] = {}
    model = tokenizer = None
    report(f"evaluate: system {system.name} on {len(tasks)} task(s)")
    if system.kind == "lm":
        model, tokenizer = load_system(system, ctx.reference_model, config.evaluation.dtype)
    for task in tasks:
        inputs = [item["input"] for item in items[task.name]]
        start = time.perf_counter()
        if task.kind == "rewrite":
            if system.kind == "identity":
                outputs[task.name] = list(inputs)
            elif system.kind == "reference":
                if not all("reference" in item for item in items[task.name]):
                    continue  # the task's items have no human rewrite
                outputs[task.name] = [item["reference"] for item in items[task.name]]
            elif system.kind == "lexicon":
                lexicon = toxic_lexicon(config.evaluation.lexicon_min_weight)
                outputs[task.name] = [delete_lexicon_words(text, lexicon) for text in inputs]
            else:
                fewshot = demos if system.fewshot else None
                outputs[task.name] = map_sharded(
                    ctx.shard,
                    lambda chunk: generate_rewrites(
                        model, tokenizer, chunk, config.generation, config.seed, f"evaluate {task.name} / {system.name}", fewshot
                    ),
                    inputs,
                )
        elif not system.is_language_model:
            continue  # continuation and likelihood need a language model of the system's own
        elif task.kind == "continuation":
            outputs[task.name] = map_sharded(
                ctx.shard,
                lambda chunk: generate_continuations(
                    model, tokenizer, chunk, config.generation, config.evaluation.continuation_max_new_tokens,
                    config.seed, f"evaluate {task.name} / {system.name}", task.first_line,
                ),
                inputs,
            )  # fmt: skip
        else:
            assert task.score is not None
            frame = task.score(ctx, items[task.name], model, tokenizer)
            frame.insert(0, "task", task.name)
            frame.insert(1, "system", system.name)
            scored[task.name] = frame
        seconds[task.name] = round(time.perf_counter() - start, 2)
    model = tokenizer = None  # free the weights before the next system loads its own
    gc.collect()
    return outputs, scored, seconds


def evaluate(config: StudyConfig, run_dir: Path) -> dict[str, Any]:
    """Every system on every task; per-example table and metrics (written by the main process)."""
    run_dir = Path(run_dir)
    ev = config.evaluation
    if ev.torch_threads is not None:
        # On 2 shared cores one thread decodes several times faster than two that fight another job.
        torch.set_num_threads(ev.torch_threads)
    shard = current_shard()
    data = DataDir.resolve(config.data_dir)
    out = step_dir(run_dir, "evaluate")
    judge, _ = load_judge(config.judge, data, config.seed)
    get_embedder()
    systems, skipped = resolve_systems(config, run_dir)
    online, online_notes = enabled_online_judges(list(ev.online_judges))
    # The base model in float32: the perplexity reference, and the base a prefix adapter is loaded on.
    reference = resolve_base_model(config.model, config.seed)
    ctx = EvalContext(config, run_dir, data, judge, shard, reference, online, online_notes)
    tasks = selected_tasks(config)
    items = {task.name: task.load(ctx, sample_size(config, task)) for task in tasks}
    demos = demonstrations(run_dir, ev.fewshot_k, config.seed) if any(s.fewshot for s in systems) else []

    outputs: dict[str, dict[str, list[str]]] = {task.name: {} for task in tasks}
    likelihood: dict[str, dict[str, pd.DataFrame]] = {task.name: {} for task in tasks}
    timings: dict[str, dict[str, float]] = {}
    for system in systems:
        produced, scored, seconds = _run_system(ctx, system, tasks, items, demos)
        for name, texts in produced.items():
            outputs[name][system.name] = texts
        for name, frame in scored.items():
            likelihood[name][system.name] = frame
        timings[system.name] = seconds

    metrics: dict[str, Any] = {"judge_version": judge.version, "dtype": ev.dtype}
    if ev.dtype != "float32" and ev.dtype_check_items > 0:
        metrics["dtype_check"] = dtype_check(ctx, systems, tasks, items, demos, outputs, likelihood)
    frames: list[pd.DataFrame] = []
    for task in tasks:
        if task.kind == "likelihood":
            by_system = likelihood[task.name]
        else:
            frame = score_outputs(ctx, task, items[task.name], outputs[task.name])
            by_system = {name: rows for name, rows in frame.groupby("system", sort=False)}
        metrics[task.name] = {name: task.summarise(rows) for name, rows in by_system.items()}
        if task.kind == "rewrite":
            for name, rows in by_system.items():
                metrics[task.name][name].update(rewrite_checks.summary(rows))
        frames.extend(by_system.values())

    if ev.validate_metrics:
        # Every process takes part (the reference perplexity is sharded, a collective); the main one writes.
        report("evaluate: the study's scorers on the 600 human-rated EMNLP 2021 rewrites")
        human, rated = validate_metrics(ctx, data)
        metrics["validation"] = {"human": human}
        # The refusal detector on the human rewrites of the whole test split (none is a refusal).
        references = [r["output"] for r in load_split(run_dir, "test")]
        metrics["validation"]["refusal_detector"] = refusal_against_references(is_refusal, references)
        if shard.is_main:
            with atomic_path(out / "human_rated_scores.parquet") as tmp:
                rated.to_parquet(tmp, index=False)
    metrics["skipped_systems"] = skipped
    metrics["systems_by_task"] = {task.name: list(metrics[task.name]) for task in tasks}
    metrics["tasks"] = {
        task.name: {"kind": task.kind, "source": task.source, "group_field": task.group_field,
                    "metrics": list(task.metrics), "n_items": len(items[task.name]), "description": task.description,
                    "headline": task.headline}
        for task in tasks
    }  # fmt: skip
    metrics["online_judges"] = {"enabled": [j.name for j in online], "skipped": online_notes}
    metrics["timings_seconds"] = timings
    metrics["processes"] = shard.world
    if not shard.is_main:
        shard.barrier()
        return metrics
    if frames:
        table = _bool_columns_to_float(pd.concat(frames, ignore_index=True))
        with atomic_path(out / "per_example.parquet") as tmp:
            table.to_parquet(tmp, index=False)
    result = finish(run_dir, "evaluate", metrics, data.verified)
    write_cards_with_results(config, run_dir, metrics)
    shard.barrier()
    return result


def write_cards_with_results(config: StudyConfig, run_dir: Path, metrics: dict[str, Any]) -> None:
    """Each trained model's cards (its adapter, and the merged model where there is one), written again
    with this step's results."""
    for trained in config.trained_models():
        for folder, merged in ((Path(run_dir) / "train" / trained.name / "model", False), (Path(run_dir) / "merge" / trained.name, True)):
            if folder.is_dir():
                write_model_card(folder, config, trained, trained_metrics(run_dir, trained.name), merged=merged, evaluated=metrics)


def dtype_check(
    ctx: EvalContext, systems: list[System], tasks: list[Task], items: dict[str, list[Item]], demos: Demonstrations,
    outputs: dict[str, dict[str, list[str]]], likelihood: dict[str, dict[str, pd.DataFrame]],
) -> dict[str, Any]:  # fmt: skip
    """What the faster ``evaluation.dtype`` changes: SR-LLM (the reference system of step 5; the base
    model without one) runs the first ``dtype_check_items`` items of every task again in float32, and
    its results are compared with those of the run itself on the same items.

    Rewrite and continuation tasks: the share of identical outputs and the judged toxic rate in both
    dtypes. Likelihood tasks: how many items change their preferred candidate (a StereoSet item its
    highest-scoring of stereotype / anti-stereotype / unrelated, a CrowS-Pairs pair its more likely
    sentence) and the largest change of a score.
    """
    ev = ctx.config.evaluation
    n = ev.dtype_check_items
    names = [s.name for s in systems if s.is_language_model]
    chosen = reference_system(names) or ("base" if "base" in names else None)
    if chosen is None:
        return {"note": "no language model among the evaluated systems"}
    system = next(s for s in systems if s.name == chosen)
    subset = {task.name: items[task.name][:n] for task in tasks}
    config = ctx.config.model_copy(update={"evaluation": ev.model_copy(update={"dtype": "float32"})})
    start = time.perf_counter()
    reference_outputs, reference_scores, _ = _run_system(replace(ctx, config=config), system, tasks, subset, demos)
    seconds = round(time.perf_counter() - start, 2)
    by_task: dict[str, Any] = {}
    for task in tasks:
        if task.name in reference_outputs:
            pair = {"float32": reference_outputs[task.name], ev.dtype: outputs[task.name][chosen][:n]}
            frame = score_outputs(ctx, task, subset[task.name], pair)
            toxic = {name: float(rows["toxic"].mean()) for name, rows in frame.groupby("system")}
            by_task[task.name] = {
                "items": len(pair["float32"]),
                "identical_outputs": float(sum(a == b for a, b in zip(*pair.values())) / max(len(pair["float32"]), 1)),
                "toxic_rate_float32": toxic["float32"],
                f"toxic_rate_{ev.dtype}": toxic[ev.dtype],
                "toxic_rate_difference_points": 100 * (toxic[ev.dtype] - toxic["float32"]),
            }
        elif task.name in reference_scores:
            fast = likelihood[task.name][chosen].iloc[:n]
            by_task[task.name] = _likelihood_changes(reference_scores[task.name], fast)
    return {"system": chosen, "dtype": ev.dtype, "items_per_task": n, "tasks": by_task, "float32_seconds": seconds}


def _likelihood_changes(reference: pd.DataFrame, fast: pd.DataFrame) -> dict[str, Any]:
    """Items whose preferred candidate differs between two scorings of the same likelihood task."""
    if list(reference["item_id"]) != list(fast["item_id"]):
        raise RuntimeError("dtype check: the float32 and the fast scores are not of the same items")
    scores = [c for c in ("score_stereotype", "score_anti_stereotype", "score_unrelated", "ll_more", "ll_less") if c in reference]
    a, b = reference[scores].to_numpy(dtype=float), fast[scores].to_numpy(dtype=float)
    flips = int((a.argmax(axis=1) != b.argmax(axis=1)).sum())
    return {"items": len(a), "preference_flips": flips, "max_abs_score_difference": float(abs(a - b).max()) if len(a) else 0.0}
