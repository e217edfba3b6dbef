"""Instruction fine-tuning: QLoRA (the paper's method), LoRA, prefix tuning and full fine-tuning.

All four go through trl's SFTTrainer on conversational prompt-completion examples, so the loss is
on the completion only and the model's chat template closes each completion with its real
end-of-sequence token. Checkpoints are saved every ``training.save_steps`` so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import StudyConfig
from ..core import precision
from ..core.io import atomic_path, read_json, write_json
from ..core.progress import duration, report
from .models import device, load_causal_lm, load_tokenizer
from .patches import (
    LOSS_STATE,
    cheaper_lora_dropout,
    keep_4bit_weights_fixed,
    loss_keeper,
    score_completion_positions_only,
)
from .prompts import training_example
from .shared_prefix import share_prompt_prefix
from .training_log import median_after_warmup

log = logging.getLogger(__name__)


def training_dtype(config: StudyConfig) -> str:
    """The dtype the forward and backward passes compute in (weights being trained stay float32)."""
    return precision.autocast_dtype(config.quantization.compute_dtype)


def optimizer_name(configured: str) -> str:
    """The paper's paged AdamW on CUDA; plain torch AdamW on the CPU (paged optimizers need CUDA)."""
    if configured != "auto":
        return configured
    return "paged_adamw_32bit" if torch.cuda.is_available() else "adamw_torch"


def peft_config(config: StudyConfig, method: str) -> Any:
    from peft import LoraConfig, PrefixTuningConfig, TaskType  # lazy: peft is a heavy import, needed only here

    if method in ("qlora", "lora"):
        return LoraConfig(
            r=config.lora.r,
            lora_alpha=config.lora.alpha,
            lora_dropout=config.lora.dropout,
            target_modules=list(config.lora.target_modules),
            bias="none",
            task_type=TaskType.CAUSAL_LM,
        )
    if method == "prefix":
        return PrefixTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=config.lora.num_virtual_tokens)
    return None  # full fine-tuning trains every weight


def _dataset(records: list[dict[str, Any]]) -> Any:
    from datasets import Dataset  # lazy: datasets is a heavy import, needed only here

    return Dataset.from_list([training_example(r) for r in records])


# Steps left out of the median step time: the first steps allocate buffers and warm caches.


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameters. A bitsandbytes 4-bit weight is stored packed, two values per
    byte, so its element count is half the weight's: it is counted by its real shape instead."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = 0
    for parameter in model.parameters():
        shape = getattr(getattr(parameter, "quant_state", None), "shape", None)  # Params4bit: the unpacked shape
        total += int(math.prod(shape)) if shape is not None else parameter.numel()
    return trainable, total


def weight_memory_mb(model: Any) -> float:
    """Memory the model's weights take, in MiB, as stored: 4-bit packed where bitsandbytes quantized them.

    A bitsandbytes ``Params4bit`` is a uint8 tensor holding two 4-bit values per byte, so its
    ``nelement() * element_size()`` is already the packed size; its quantization state (one float32
    scale per block of 64 weights, plus the 16-value NF4 code book) lives outside the parameter and is
    added here. Shared (tied) parameters count once, as ``model.parameters()`` yields them once.
    """
    total = 0
    for param in model.parameters():
        total += param.nelement() * param.element_size()
        state = getattr(param, "quant_state", None)
        if state is not None:
            total += sum(v.nelement() * v.element_size() for v in state.as_dict().values() if isinstance(v, torch.Tensor))
    return total / 2**20


def step_timer() -> Any:
    """A trainer callback whose ``seconds`` list gets the wall time of every optimizer step (``cpu_seconds``: CPU time).

    Evaluation and checkpointing run after ``on_step_end``, so they are not counted.
    """
    from transformers import TrainerCallback  # imported here: the report helpers import this module

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: list[float] = []
            # CPU time of the whole process (all threads): on a shared machine it moves far less than the
            # wall time when other jobs take the cores, so it compares methods more fairly there.
            self.cpu_seconds: list[float] = []
            self._started = (0.0, 0.0)

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._started = (time.perf_counter(), time.process_time())

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.seconds.append(time.perf_counter() - self._started[0])
            self.cpu_seconds.append(time.process_time() - self._started[1])

    return StepTimer()


def progress_reporter(name: str) -> Any:
    """A trainer callback that puts step / total, loss and time left on the terminal of ``srllm run``."""
    from transformers import TrainerCallback  # lazy: transformers is a heavy import, needed only here

    class ProgressReporter(TrainerCallback):
        started, first_step = time.monotonic(), 0  # until on_train_begin (the validation before step 1 logs first)

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started, self.first_step = time.monotonic(), state.global_step  # a resumed run starts later
            report(f"train {name}: {state.max_steps} steps" + (f", resuming at step {state.global_step}" if state.global_step else ""))

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
            logs = logs or {}
            done = state.global_step - self.first_step
            per_step = (time.monotonic() - self.started) / done if done > 0 else math.nan
            left = f", {duration(per_step * (state.max_steps - state.global_step))} left" if done > 0 else ""
            if "loss" in logs:
                report(f"train {name}: step {state.global_step}/{state.max_steps}, loss {logs['loss']:.3f}{left}")
            if "eval_loss" in logs:
                when = f"step {state.global_step}/{state.max_steps}" if state.global_step else "before training"
                report(f"train {name}: {when}, validation loss {logs['eval_loss']:.3f}")

    return ProgressReporter()


def mean_training_loss(trainer: Any) -> float:
    """The mean training loss over all optimizer steps (resumed or not; see ``loss_keeper``)."""
    return trainer._total_loss_scalar / max(trainer.state.global_step, 1)


def train_method(
    config: StudyConfig,
    method: str,
    base_path: Path | str,
    train_records: list[dict[str, Any]],
    val_records: list[dict[str, Any]],
    out_dir: Path,
    callbacks: list[Any] | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Train one method; save the adapter (or full model) to ``out_dir/model``; return its metrics.

    ``seed`` (default: the study's) seeds the adapter's initialisation, the data order and dropout.
    ``callbacks`` are extra ``transformers.TrainerCallback`` objects (tests use one to watch the weights).
    """
    from trl import SFTConfig, SFTTrainer  # lazy: trl is a heavy import, needed only here

    t = config.training
    seed = config.seed if seed is None else seed
    out_dir.mkdir(parents=True, exist_ok=True)
    final_dir = out_dir / "model"
    checkpoints = out_dir / "checkpoints"
    tokenizer = load_tokenizer(base_path, config.model.trust_remote_code)
    quantization = config.quantization if method == "qlora" else None
    model = load_causal_lm(
        base_path, quantization=quantization, trust_remote_code=config.model.trust_remote_code,
        attn_implementation=t.attn_implementation,
    )  # fmt: skip
    model.config.use_cache = False
    if method == "qlora":
        from peft import prepare_model_for_kbit_training  # lazy: peft is a heavy import, needed only here

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    # The frozen base (4-bit for QLoRA) before any adapter is added; for full fine-tuning, the trained weights.
    base_weight_mb = weight_memory_mb(model)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()

    on_cuda = torch.cuda.is_available()
    args = SFTConfig(
        output_dir=str(checkpoints),
        seed=seed,
        data_seed=seed,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,  # a float below 1 is read as a ratio of the total steps
        max_grad_norm=t.max_grad_norm,
        weight_decay=t.weight_decay,
        optim=optimizer_name(t.optimizer),
        max_length=t.max_length,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        completion_only_loss=True,
        packing=False,
        eval_strategy="steps",
        eval_steps=t.eval_steps,
        logging_steps=t.logging_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=2,
        load_best_model_at_end=t.best_checkpoint,
        metric_for_best_model="eval_loss" if t.best_checkpoint else None,
        report_to=[],
        gradient_checkpointing=False,
        # quantization.compute_dtype picks the mixed precision: bfloat16 autocast on a CPU or a GPU,
        # fp16 on CUDA as in the paper; float32 (and float16 on a CPU) trains in float32.
        bf16=training_dtype(config) == "bfloat16",
        fp16=training_dtype(config) == "float16",
        dataloader_num_workers=0,
        disable_tqdm=True,  # progress_reporter writes the lines a terminal and a log can both show
        use_cpu=not on_cuda,
        # Several processes (accelerate launch): accelerate joins them with gloo on CPUs, NCCL on CUDA.
        # Every trainable parameter is used in each forward pass, so DDP need not search for unused ones.
        ddp_find_unused_parameters=False,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=_dataset(train_records),
        # Validation batches in order of length (the trainer evaluates in dataset order): a batch pads to its
        # longest row, and sorted, the CPU default's 64 validation examples run a third fewer token positions.
        eval_dataset=_dataset(sorted(val_records, key=lambda r: (len(r["input"]) + len(r["output"]), r["input"]))),
        processing_class=tokenizer,
        peft_config=peft_config(config, method),
    )
    resume = _last_checkpoint(checkpoints)
    timer = step_timer()
    reporters = [progress_reporter(out_dir.name)] if trainer.is_world_process_zero() else []
    for callback in [timer, loss_keeper(trainer, resume), *reporters, *(callbacks or [])]:
        trainer.add_callback(callback)
    # trl casts QLoRA adapters to bfloat16; keep trainable weights in float32 as the authors' code did
    # (fp16 mixed precision needs float32 master weights, and a resumed run must match bit for bit).
    for param in trainer.model.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
    keep_4bit_weights_fixed(trainer.model)
    bit_mask_dropouts = cheaper_lora_dropout(trainer.model)
    # On a CPU the tokens every example starts with (system prompt, instruction) run once per batch;
    # not yet measured on CUDA, where the plain forward pass stays.
    shared_prefix = None if on_cuda else share_prompt_prefix(trainer.model)
    trainable, total = count_parameters(trainer.model)
    # Memory all weights take (base + adapter; 4-bit packed for QLoRA), before optimizer state and activations.
    weight_mb = weight_memory_mb(trainer.model)
    if resume:
        log.info("resuming %s from %s", method, resume)
    with score_completion_positions_only():
        # The validation loss before any step: the base model's, the point the loss curve starts from. The
        # random state is put back afterwards, so training draws what it would have drawn without it (and a
        # resumed run, which skips this, ends bit for bit where an uninterrupted one does).
        val_before = None
        if not resume:
            states = (random.getstate(), np.random.get_state(), torch.random.get_rng_state())
            val_before = float(trainer.evaluate()["eval_loss"])
            random.setstate(states[0]), np.random.set_state(states[1]), torch.random.set_rng_state(states[2])
        started = time.perf_counter()
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        seconds = time.perf_counter() - started
        # The trainer evaluated at the last step already, unless the best checkpoint was loaded back since.
        evaluations = [entry for entry in trainer.state.log_history if "eval_loss" in entry]
        at_end = bool(evaluations) and evaluations[-1].get("step") == trainer.state.global_step
        val = evaluations[-1] if at_end and not t.best_checkpoint else trainer.evaluate()
    if not trainer.is_world_process_zero():
        return {}  # with several processes, the first one saves and reports

    with atomic_path(final_dir) as tmp:
        trainer.model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    history = trainer.state.log_history
    write_json(out_dir / "log_history.json", history)
    steps = trainer.state.global_step
    # The epoch count covers the whole dataset, shared among the processes: no factor for their number.
    tokens = _count_tokens(trainer)
    step_seconds = median_after_warmup(timer.seconds)
    metrics = {
        "method": method,
        "seed": seed,
        "optimizer": str(getattr(args.optim, "value", args.optim)),
        # LoRA dropout masks drawn from int16 random bits instead of bernoulli_ (a CPU; see patches.cheaper_lora_dropout).
        "bit_mask_dropouts": bit_mask_dropouts,
        # Batches whose shared prompt start ran once, and the share of token positions that saved (lm/shared_prefix.py).
        "shared_prefix": shared_prefix.summary() if shared_prefix else None,
        "device": device(),
        "processes": trainer.args.world_size,
        "weight_memory_mb": weight_mb,
        "base_weight_memory_mb": base_weight_mb,
        "optimizer_state_mb": _optimizer_state_mb(trainer),
        "steps": steps,
        "train_loss": mean_training_loss(trainer),
        "val_loss": float(val["eval_loss"]),
        "val_loss_before": val_before,
        "train_examples": len(trainer.train_dataset),
        "train_seconds": seconds,
        "resumed_from": str(resume.name) if resume else None,
        # Wall time of train() per step, evaluation and checkpointing included; the optimizer steps alone are
        # step_seconds (their median after the warm-up: median_step_seconds) and the rest is other_seconds.
        "seconds_per_step": seconds / max(steps, 1),
        "mean_step_seconds": float(sum(timer.seconds) / len(timer.seconds)) if timer.seconds else None,
        "other_seconds": seconds - sum(timer.seconds),
        # Steps of this session only (a resumed run times the steps after the checkpoint).
        "step_seconds": timer.seconds,
        "median_step_seconds": step_seconds,
        "step_cpu_seconds": timer.cpu_seconds,
        "median_step_cpu_seconds": median_after_warmup(timer.cpu_seconds),
        "tokens_per_step": tokens / max(steps, 1),
        "tokens_per_s": tokens / seconds if seconds > 0 else math.nan,
        "trainable_params": trainable,
        "total_params": total,
        # Weights only (the adapter, or the whole model for full fine-tuning), not the tokenizer files.
        "saved_size_mb": sum(f.stat().st_size for f in final_dir.glob("*.safetensors")) / 2**20,
        "best_checkpoint": _best_checkpoint(trainer, t.best_checkpoint),
        "peak_gpu_memory_mb": torch.cuda.max_memory_allocated() / 2**20 if on_cuda else None,
    }
    write_json(out_dir / "train_metrics.json", metrics)
    for folder in checkpoints.glob("checkpoint-*"):
        _remove_checkpoint(folder)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return metrics


def _best_checkpoint(trainer: Any, enabled: bool) -> dict[str, Any] | None:
    """Which checkpoint ``load_best_model_at_end`` restored, and its validation loss (None when off)."""
    if not enabled or trainer.state.best_model_checkpoint is None:
        return None
    return {"checkpoint": Path(trainer.state.best_model_checkpoint).name, "eval_loss": trainer.state.best_metric}


def _optimizer_state_mb(trainer: Any) -> float:
    optimizer = getattr(trainer, "optimizer", None)
    if optimizer is None:
        return 0.0
    total = 0
    for state in optimizer.state.values():
        total += sum(v.nelement() * v.element_size() for v in state.values() if isinstance(v, torch.Tensor))
    return total / 2**20


def _count_tokens(trainer: Any) -> int:
    """Tokens the trainer processed: non-padding tokens per epoch times the epochs it ran."""
    per_epoch = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    return int(per_epoch * trainer.state.epoch) if trainer.state.epoch else per_epoch


def _last_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete checkpoint before the last step; others found on the way are removed.

    Incomplete: the trainer writes a checkpoint's files one by one, then ``loss_keeper`` adds
    ``loss_state.json``, so a folder where that file (or the optimizer's) is missing or unreadable was
    cut short by a kill: resuming from it would restart the optimizer, the random state or the loss sum.
    Finished: a checkpoint at the last step (the worker was killed during the final evaluation or save).
    Resumed from it, transformers (5.24) takes one more optimizer step when training stops mid-epoch
    (``max_steps`` below an epoch): it skips the trained batches and steps before checking for the end.
    So that one is removed too and training repeats the steps after the checkpoint before it.
    """
    if not checkpoints.is_dir():
        return None
    found = sorted(
        (p for p in checkpoints.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    while found:
        newest = found.pop()
        try:
            state = read_json(newest / "trainer_state.json")
            read_json(newest / LOSS_STATE)
            complete = all((newest / name).is_file() for name in ("optimizer.pt", "scheduler.pt"))
        except (OSError, ValueError):
            complete = False
        if not complete:
            log.warning("removing incomplete checkpoint %s", newest)
        elif state["global_step"] >= state["max_steps"]:
            log.warning("removing %s: it ends the training, and resuming from it would take a step too many", newest)
        else:
            return newest
        _remove_checkpoint(newest)
    return None


def _remove_checkpoint(folder: Path) -> None:
    """Remove a checkpoint, first the file that marks it complete, so a kill part-way leaves it incomplete."""
    (folder / LOSS_STATE).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """Training worker: ``python -m srllm.lm.training --params P --run-dir R --method M [--name N --seed S]``.

    The train step runs each method in its own process (or several, under ``accelerate launch``),
    so that each method's peak memory is its own and data-parallel training needs no other code.
    """

    from ..config import load_config  # the worker's entry point: imported when run as python -m srllm.lm.training
    from ..core.rundir import (  # the worker's entry point: imported when run as python -m srllm.lm.training
        load_split,
        sample,
    )
    from .models import resolve_base_model  # the worker's entry point: imported when run as python -m srllm.lm.training

    parser = argparse.ArgumentParser()
    parser.add_argument("--params", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--method", required=True)
    parser.add_argument("--name", help="output folder under train/ (default: the method)")
    parser.add_argument("--seed", type=int, help="training seed (default: the study's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(args.params)
    run_dir = Path(args.run_dir)
    base = resolve_base_model(config.model, config.seed)
    train_rows = sample(load_split(run_dir, "train"), config.training.train_samples, config.seed, "train")
    val_rows = sample(load_split(run_dir, "validation"), config.training.val_samples, config.seed, "val")
    # The data sample is the study's whatever the training seed: seeds differ in training only.
    out_dir = run_dir / "train" / (args.name or args.method)
    train_method(config, args.method, base, train_rows, val_rows, out_dir, seed=args.seed)


if __name__ == "__main__":
    main()
