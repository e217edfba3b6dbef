"""Instruction fine-tuning: QLoRA (the paper's method), LoRA, prefix tuning and full fine-tuning.

All four go through trl's SFTTrainer on conversational prompt-completion examples, so the loss is
on the completion only and the model's chat template closes each completion with its real
end-of-sequence token. Checkpoints are saved every ``training.save_steps`` so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from .config import StudyConfig
from .io import atomic_path, write_json
from .models import device, load_causal_lm, load_tokenizer
from .prompts import training_example

log = logging.getLogger(__name__)


def optimizer_name(configured: str) -> str:
    """The paper's paged AdamW on CUDA; plain torch AdamW on the CPU (paged optimizers need CUDA)."""
    if configured != "auto":
        return configured
    return "paged_adamw_32bit" if torch.cuda.is_available() else "adamw_torch"


def peft_config(config: StudyConfig, method: str) -> Any:
    from peft import LoraConfig, PrefixTuningConfig, TaskType

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
    from datasets import Dataset

    return Dataset.from_list([training_example(r) for r in records])


def count_parameters(model: Any) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def train_method(
    config: StudyConfig,
    method: str,
    base_path: Path | str,
    train_records: list[dict[str, Any]],
    val_records: list[dict[str, Any]],
    out_dir: Path,
) -> dict[str, Any]:
    """Train one method; save the adapter (or full model) to ``out_dir/model``; return its metrics."""
    from trl import SFTConfig, SFTTrainer

    t = config.training
    out_dir.mkdir(parents=True, exist_ok=True)
    final_dir = out_dir / "model"
    checkpoints = out_dir / "checkpoints"
    tokenizer = load_tokenizer(base_path, config.model.trust_remote_code)
    quantization = config.quantization if method == "qlora" else None
    model = load_causal_lm(base_path, quantization=quantization, trust_remote_code=config.model.trust_remote_code)
    model.config.use_cache = False
    if method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)

    on_cuda = torch.cuda.is_available()
    args = SFTConfig(
        output_dir=str(checkpoints),
        seed=config.seed,
        data_seed=config.seed,
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
        completion_only_loss=True,
        packing=False,
        eval_strategy="steps",
        eval_steps=t.eval_steps,
        logging_steps=t.logging_steps,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=2,
        report_to=[],
        gradient_checkpointing=False,
        # float32 on the CPU (the reference path); fp16 mixed precision on CUDA as in the paper.
        bf16=False,
        fp16=on_cuda and config.quantization.compute_dtype == "float16",
        dataloader_num_workers=0,
        disable_tqdm=False,
        use_cpu=not on_cuda,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=_dataset(train_records),
        eval_dataset=_dataset(val_records),
        processing_class=tokenizer,
        peft_config=peft_config(config, method),
    )
    trainable, total = count_parameters(trainer.model)
    resume = _last_checkpoint(checkpoints)
    if resume:
        log.info("resuming %s from %s", method, resume)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.perf_counter() - started
    val = trainer.evaluate()

    with atomic_path(final_dir) as tmp:
        trainer.model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    history = trainer.state.log_history
    write_json(out_dir / "log_history.json", history)
    steps = trainer.state.global_step
    tokens = _count_tokens(trainer)
    metrics = {
        "method": method,
        "optimizer": str(getattr(args.optim, "value", args.optim)),
        "device": device(),
        "steps": steps,
        "train_loss": float(result.training_loss),
        "val_loss": float(val["eval_loss"]),
        "train_seconds": seconds,
        "resumed_from": str(resume.name) if resume else None,
        "seconds_per_step": seconds / max(steps, 1),
        "tokens_per_s": tokens / seconds if seconds > 0 else math.nan,
        "trainable_params": trainable,
        "total_params": total,
        "saved_size_mb": sum(f.stat().st_size for f in final_dir.rglob("*") if f.is_file()) / 2**20,
    }
    write_json(out_dir / "train_metrics.json", metrics)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return metrics


def _count_tokens(trainer: Any) -> int:
    """Tokens the trainer processed: non-padding tokens per epoch times the epochs it ran."""
    per_epoch = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    return int(per_epoch * trainer.state.epoch) if trainer.state.epoch else per_epoch


def _last_checkpoint(checkpoints: Path) -> Path | None:
    from transformers.trainer_utils import get_last_checkpoint

    if not checkpoints.is_dir():
        return None
    last = get_last_checkpoint(str(checkpoints))
    return Path(last) if last else None


def loss_curves(log_history: list[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Training and validation loss against step, from a trainer's log history."""
    return {
        "train": [(e["step"], e["loss"]) for e in log_history if "loss" in e],
        "validation": [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e],
    }


def load_log_history(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())
