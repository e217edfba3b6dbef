"""What each fine-tuning method costs: time per step, throughput, memory, trainable parameters, size.

    .venv/bin/python benchmarks/bench_training.py [--params params/cpu.yaml] [--steps 4] [--methods qlora lora prefix full]

Trains QLoRA, LoRA, prefix tuning and full fine-tuning on the parameter file's base model (the real
SmolLM2-135M-Instruct for params/cpu.yaml) for the same steps on the same data: batch 8 x at most
128 tokens, ``WARMUP_STEPS`` (2) warm-up steps, then ``--steps`` timed ones. It goes through the
train step itself (``srllm.steps.train.train``), so each method runs in its own worker process and
its peak resident memory is its own. Per method it records the median seconds per timed step,
tokens per second, peak resident memory, trainable parameters, adapter size on disk, the memory of
the base weights (4-bit for QLoRA), the optimizer state (and peak GPU memory on a GPU); writes
``<out>/bench_training.json`` and prints a table, and checks that QLoRA's base weights take at most
40% of LoRA's.

The machine is shared: read the ratios between methods, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from srllm.config import TRAINING_METHODS, load_config  # noqa: E402
from srllm.lm.training_log import WARMUP_STEPS  # noqa: E402


def bench_params(params: Path, methods: list[str], steps: int, batch_size: int, max_length: int) -> dict:
    """The parameter file with a training section for the benchmark: fixed steps, no mid-run evaluation."""
    raw = yaml.safe_load(params.read_text())
    total = WARMUP_STEPS + steps
    raw["run_name"] = "bench_training"
    raw["training"].update({
        "methods": methods, "max_steps": total, "batch_size": batch_size, "max_length": max_length,
        "gradient_accumulation_steps": 1, "num_processes": 1, "train_samples": None, "val_samples": None,
        "logging_steps": 1, "eval_steps": total + 1, "save_steps": total + 1, "best_checkpoint": False,
    })  # fmt: skip
    return raw


def write_splits(run_dir: Path, data_dir: str | None, batch_size: int, steps: int) -> int:
    """The released SR-LLM pairs as the run's splits: enough training records for every step, 8 for validation."""
    from srllm.corpus.build import load_srllm_pairs
    from srllm.data.datadir import DataDir

    records, _ = load_srllm_pairs(DataDir.resolve(data_dir))
    n_train = min(len(records) - 8, 2 * batch_size * (WARMUP_STEPS + steps))  # spare: trl drops over-long prompts
    (run_dir / "dataset").mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", records[:n_train]), ("validation", records[-8:])):
        (run_dir / "dataset" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return n_train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=ROOT / "params" / "cpu.yaml")
    parser.add_argument("--methods", nargs="+", default=list(TRAINING_METHODS), choices=TRAINING_METHODS)
    parser.add_argument("--steps", type=int, default=4, help=f"timed steps after {WARMUP_STEPS} warm-up steps")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_training")
    args = parser.parse_args()

    from srllm.report import training as report_train
    from srllm.steps.train import train

    args.out.mkdir(parents=True, exist_ok=True)
    params_path = args.out / "params.yaml"
    params_path.write_text(yaml.safe_dump(bench_params(args.params, args.methods, args.steps, args.batch_size,
                                                       args.max_length), sort_keys=False))  # fmt: skip
    n_train = write_splits(args.out, load_config(params_path).data_dir, args.batch_size, args.steps)
    started = time.perf_counter()
    metrics = train(load_config(params_path), args.out, params_path)
    metrics["bench"] = {
        "params": str(args.params), "warmup_steps": WARMUP_STEPS, "timed_steps": args.steps,
        "batch_size": args.batch_size, "max_length": args.max_length, "train_records": n_train,
        "wall_seconds": time.perf_counter() - started, "qlora_weight_share": report_train.qlora_weight_share(metrics),
    }  # fmt: skip
    (args.out / "bench_training.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))

    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(report_train.efficiency_table(metrics).to_string())
    share = metrics["bench"]["qlora_weight_share"]
    if share is not None:
        verdict = "ok" if share <= report_train.QLORA_WEIGHT_SHARE_LIMIT else "NOT MET"
        print(f"\nQLoRA base weights / LoRA base weights = {share:.1%} "
              f"(limit {report_train.QLORA_WEIGHT_SHARE_LIMIT:.0%}: {verdict})")  # fmt: skip
    print(f"wall time {metrics['bench']['wall_seconds']:.0f} s; results in {args.out / 'bench_training.json'}")


if __name__ == "__main__":
    main()
