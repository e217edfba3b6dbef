"""The training chapter's efficiency table, memory figure and per-method memory paragraphs.

Everything here is computed from the train step's metrics (``runs/<run>/train/metrics.json``, or the
training benchmark's JSON, which has the same per-method entries): no number is typed by hand.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from ..core.io import read_json
from ..lm.training_log import loss_curves, median_after_warmup

METHOD_NAMES = {
    "qlora": "QLoRA (4-bit base + LoRA)",
    "lora": "LoRA (float32 base)",
    "prefix": "prefix tuning",
    "full": "full fine-tuning",
}
# The done-when condition of the efficiency study: QLoRA's frozen weights take at most this share of LoRA's.
QLORA_WEIGHT_SHARE_LIMIT = 0.40


def method_metrics(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-method entries of a train step's metrics (the study's seed), in the order of ``METHOD_NAMES``."""
    order = list(METHOD_NAMES)
    # Models trained with further seeds (<method>-seed<N>) cost the same as their method: left out.
    found = [k for k, v in metrics.items() if isinstance(v, dict) and v.get("method") == k]
    return {k: metrics[k] for k in sorted(found, key=lambda k: order.index(k) if k in order else len(order))}


def memory_split(m: dict[str, Any]) -> dict[str, float]:
    """A method's peak resident memory (MiB) split into weights, optimizer state and the rest.

    The rest is everything else the process held at its peak: activations and their gradients, the
    trainable weights' gradients, and the runtime itself (Python, torch and its libraries, the tokenizer).
    """
    weights = m["weight_memory_mb"]
    optimizer = m["optimizer_state_mb"]
    peak = m.get("peak_rss_mb") or math.nan
    return {
        "frozen/base weights": m["base_weight_memory_mb"],
        "adapter weights": weights - m["base_weight_memory_mb"],
        "optimizer state": optimizer,
        "activations, gradients, runtime": peak - weights - optimizer,
    }


def seconds_per_step(m: dict[str, Any]) -> float:
    """Median optimizer-step time after the warm-up steps (evaluation and saving excluded)."""
    if m.get("step_seconds"):
        return median_after_warmup(m["step_seconds"])
    return m["seconds_per_step"]


def efficiency_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Per method: speed, memory and size, as the train step (or the benchmark) measured them."""
    rows = {}
    for method, m in method_metrics(metrics).items():
        step = seconds_per_step(m)
        row = {
            "s/step (median)": step,
            # CPU seconds (all threads) per step: steadier than wall time while other jobs share the cores.
            "CPU s/step (median)": m.get("median_step_cpu_seconds", math.nan),
            "tokens/s": m["tokens_per_step"] / step if "tokens_per_step" in m else m["tokens_per_s"],
            "peak RSS (MiB)": m.get("peak_rss_mb"),
            "trainable params": m["trainable_params"],
            "trainable share": m["trainable_params"] / m["total_params"],
            "saved size (MiB)": m["saved_size_mb"],
            "base weights (MiB)": m["base_weight_memory_mb"],
            "optimizer state (MiB)": m["optimizer_state_mb"],
        }
        if m.get("peak_gpu_memory_mb") is not None:
            row["peak GPU memory (MiB)"] = m["peak_gpu_memory_mb"]
        rows[METHOD_NAMES.get(method, method)] = row
    table = pd.DataFrame(rows).T
    table.index.name = "method"
    return table.astype({"trainable params": int}).round(
        {"s/step (median)": 2, "CPU s/step (median)": 2, "tokens/s": 0, "peak RSS (MiB)": 0, "trainable share": 4, "saved size (MiB)": 2,
         "base weights (MiB)": 1, "optimizer state (MiB)": 1}  # fmt: skip
    )


def qlora_weight_share(metrics: dict[str, Any]) -> float | None:
    """QLoRA's base-weight memory as a share of LoRA's (None unless both were trained)."""
    methods = method_metrics(metrics)
    if "qlora" not in methods or "lora" not in methods:
        return None
    return methods["qlora"]["base_weight_memory_mb"] / methods["lora"]["base_weight_memory_mb"]


def memory_figure(metrics: dict[str, Any]) -> plt.Figure:
    """Stacked bars: each method's peak resident memory split into weights, optimizer state and the rest."""
    split = pd.DataFrame(
        {METHOD_NAMES.get(k, k): memory_split(v) for k, v in method_metrics(metrics).items()}
    ).T.clip(lower=0)
    fig, ax = plt.subplots(figsize=(8, 0.8 + 0.7 * len(split)))
    split.plot.barh(stacked=True, ax=ax, color=["C0", "C2", "C1", "C7"], width=0.6)
    ax.invert_yaxis()
    ax.set(xlabel="memory at the peak (MiB)", ylabel="", title="Where each method's peak memory goes")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncol=2, frameon=False)
    fig.tight_layout()
    return fig


def memory_paragraphs(metrics: dict[str, Any]) -> str:
    """One Markdown paragraph per method on where its peak memory goes, with the run's numbers."""
    why = {
        "qlora": "The frozen base is stored in 4-bit NF4 (two weights per byte plus one float32 scale per "
        "block of 64), except the embedding, norms and output layer, which bitsandbytes leaves in full "
        "precision. Only the LoRA matrices train, so the optimizer state is tiny; each forward and backward "
        "pass dequantizes the 4-bit weights layer by layer, which costs time, not lasting memory.",
        "lora": "The same LoRA matrices as QLoRA, on a float32 base: the optimizer state is just as small, "
        "but the frozen weights take their full size.",
        "prefix": "The base stays frozen in float32; only the prefix (learned key/value vectors for every "
        "layer) trains, so the optimizer state is the smallest. The prefix lengthens every sequence the "
        "attention sees, which adds a little to the activations.",
        "full": "Every weight trains: AdamW keeps two float32 moments per weight (twice the weights), the "
        "backward pass holds a gradient for every weight (once more), and the whole model is saved.",
    }
    paragraphs = []
    for method, m in method_metrics(metrics).items():
        parts = memory_split(m)
        peak = m.get("peak_rss_mb")
        if method == "full":
            numbers = f"weights {parts['frozen/base weights']:.0f} MiB (all trained)"
        else:
            numbers = f"base weights {parts['frozen/base weights']:.0f} MiB, adapter {parts['adapter weights']:.2f} MiB"
        numbers += f", optimizer state {parts['optimizer state']:.2f} MiB"
        if peak:
            numbers += (
                f", and {parts['activations, gradients, runtime']:.0f} MiB of activations, gradients and runtime, "
                f"of a {peak:.0f} MiB peak"
            )
        paragraphs.append(f"**{METHOD_NAMES.get(method, method)}**: {numbers}. {why.get(method, '')}")
    return "\n\n".join(paragraphs)


def training_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """Per trained model: examples, steps, the validation loss before and after, and where the time went
    (the median and mean optimizer step; evaluation, checkpoints and start-up as the rest of train())."""
    methods = {k: v for k, v in metrics.items() if isinstance(v, dict) and "method" in v}
    rows = {}
    for name, m in methods.items():
        rows[name] = {
            "seed": m.get("seed"), "examples": m.get("train_examples"), "steps": m.get("steps"),
            "train loss": m.get("train_loss"), "validation loss before": m.get("val_loss_before"),
            "validation loss after": m.get("val_loss"),
            "median step (s)": m.get("median_step_seconds"), "mean step (s)": m.get("mean_step_seconds"),
            "evaluation, checkpoints, start (s)": m.get("other_seconds"), "train() wall (s)": m.get("train_seconds"),
            "trainable params": m.get("trainable_params"), "total params": m.get("total_params"),
            "trainable share": (m["trainable_params"] / m["total_params"]) if m.get("total_params") else None,
        }  # fmt: skip
    table = pd.DataFrame(rows).T
    table.index.name = "model"
    return table


def hyperparameter_table(config: Any) -> pd.DataFrame:
    """The run's training recipe as the parameters set it (one row per setting, with its value)."""
    t, lora, q = config.training, config.lora, config.quantization
    rows = {
        "methods": ", ".join(t.methods), "training examples (train_samples)": t.train_samples or "all",
        "epochs": t.epochs, "max_steps": t.max_steps, "batch size": t.batch_size, "learning rate": t.learning_rate,
        "scheduler": t.lr_scheduler, "warm-up ratio": t.warmup_ratio, "weight decay": t.weight_decay,
        "max grad norm": t.max_grad_norm, "max length (tokens)": t.max_length, "optimizer": t.optimizer,
        "LoRA r": lora.r, "LoRA alpha": lora.alpha, "LoRA dropout": lora.dropout,
        "LoRA target modules": ", ".join(lora.target_modules), "4-bit quantization": q.quant_type if q.load_in_4bit else "off",
        "compute dtype": q.precision.dtype, "further seeds": ", ".join(map(str, t.seeds)) or "none",
    }  # fmt: skip
    return pd.DataFrame({"value": {k: str(v) for k, v in rows.items()}})


def loss_figure(run_dir: Path, methods: list[str]) -> plt.Figure:
    """Training and validation loss of every method in one figure."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, method in enumerate(methods):
        path = Path(run_dir) / "train" / method / "log_history.json"
        if not path.is_file():
            continue
        curves = loss_curves(read_json(path))
        color = f"C{i}"
        if curves["train"]:
            ax.plot(*zip(*curves["train"]), color=color, label=f"{method} train")
        if curves["validation"]:
            ax.plot(*zip(*curves["validation"]), color=color, linestyle="--", marker="o", label=f"{method} validation")
    ax.set(xlabel="optimizer step", ylabel="loss (completion tokens)", title="Training and validation loss")
    ax.legend()
    fig.tight_layout()
    return fig


def truncation_table(metrics: dict[str, Any], max_length: int) -> pd.DataFrame:
    """Per source: training examples longer than training.max_length (their rewrite is cut in training)."""
    rows = metrics.get("truncated_by_source", {})
    table = pd.DataFrame(rows).T.rename(columns={"examples": "examples", "truncated": f"longer than {max_length} tokens",
                                                 "share": "share cut", "median_tokens": "median tokens"})  # fmt: skip
    table.index.name = "source"
    return table


def truncation_sentence(metrics: dict[str, Any], max_length: int) -> str:
    """What the length limit cut in this run, per source, in words (the table below has the counts)."""
    rows = metrics.get("truncated_by_source", {})
    if not rows:
        return f"No training example of this run is longer than its {max_length} tokens."
    parts = [f"{v['share']:.0%} of the {source} examples (median {v['median_tokens']:.0f} tokens)" for source, v in sorted(rows.items())]
    most = [source for source, v in rows.items() if v["share"] > 0.5]
    verdict = (
        f" Most {' and '.join(sorted(most))} examples lose the end of their rewrite: a cost of this length limit, stated here rather than hidden."
        if most
        else ""
    )
    return f"At this run's `training.max_length` of {max_length} tokens, the limit cuts {', '.join(parts)}.{verdict}"


def memory_context(config: Any, run_dir: Path | str) -> str:
    """The batch shape behind the memory figure, from this run's parameters and its tokenizer."""
    from transformers import AutoTokenizer  # lazy: transformers is a heavy import, needed only here

    saved = sorted(Path(run_dir).glob("train/*/model/tokenizer_config.json"))
    words = f"the {len(AutoTokenizer.from_pretrained(saved[0].parent)):,}-token vocabulary" if saved else "the vocabulary"
    return (
        f"At a batch of {config.training.batch_size} sequences of up to {config.training.max_length} tokens, the rest "
        f"is large for a model this size: among other things the LM head's scores over {words} are computed for every "
        "labelled position, then again for their gradients."
    )
