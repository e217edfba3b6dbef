"""Where the CPU study spends its time, and how close the model-bound work gets to the machine's peak.

    .venv/bin/python benchmarks/bench_study.py runs/cpu [--items 64]

1. Measures this machine's matrix-product peak (torch.mm, float32 and bfloat16, medians after a
   warm-up) in this process.
2. Prints each stage's wall time from the run's manifest (and the book build's, if recorded).
3. Times the model-bound kernels of the study on the run's base model, on the same inputs:
   likelihood scoring (StereoSet sentences), generation (rewrites), and a training step, and
   reports achieved GFLOP/s (2 x parameters per token forward, 6 x for forward+backward) as a
   share of the measured peak for the dtype used.

Numbers are medians of a few repeats; the machine is shared, so read ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 7) -> float:
    """Median GFLOP/s of a square matrix product (the best case for the model-bound stages)."""
    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def _median_seconds(fn, repeats: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def model_bound(run_dir: Path, items: int) -> list[dict]:
    from srllm.config import load_config
    from srllm.data import load_stereoset
    from srllm.datadir import DataDir
    from srllm.generation import generate_rewrites
    from srllm.models import load_causal_lm, load_tokenizer, resolve_base_model
    from srllm.scoring import continuation_logprobs

    config = load_config(run_dir / "params.yaml")
    base = resolve_base_model(config.model, config.seed)
    model, tokenizer = load_causal_lm(base), load_tokenizer(base)
    n_params = sum(p.numel() for p in model.parameters())
    data = DataDir.resolve(config.data_dir)
    sentences = [i["stereotype"] for i in load_stereoset(data)[:items]]
    rows = []

    tokens = sum(len(tokenizer(s, add_special_tokens=False).input_ids) + 1 for s in sentences)
    seconds = _median_seconds(lambda: continuation_logprobs(model, tokenizer, [""] * len(sentences), sentences, batch_size=config.evaluation.score_batch_size, progress=False))
    rows.append({"stage": "evaluate: likelihood scoring", "dtype": "float32", "tokens": tokens, "seconds": seconds, "flops": 2 * n_params * tokens})

    prompts = sentences[: min(items, 32)]
    generation = config.generation.model_copy(update={"max_new_tokens": 32})
    outputs: list[str] = []
    seconds = _median_seconds(lambda: outputs.__setitem__(slice(None), generate_rewrites(model, tokenizer, prompts, generation)), repeats=2)
    new_tokens = sum(len(tokenizer(o, add_special_tokens=False).input_ids) + 1 for o in outputs)
    rows.append({"stage": "evaluate: generation", "dtype": "float32", "tokens": new_tokens, "seconds": seconds, "flops": 2 * n_params * new_tokens})

    batch = tokenizer(sentences[: config.training.batch_size], return_tensors="pt", padding=True)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def step() -> None:
        loss = model(**batch, labels=batch["input_ids"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    seconds = _median_seconds(step)
    tokens = int(batch["attention_mask"].sum())
    rows.append({"stage": "train: full-precision step", "dtype": "float32", "tokens": tokens, "seconds": seconds, "flops": 6 * n_params * tokens})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--items", type=int, default=64)
    args = parser.parse_args()
    peaks = {"float32": matmul_peak(torch.float32), "bfloat16": matmul_peak(torch.bfloat16)}
    print(f"torch threads: {torch.get_num_threads()}")
    print("matrix-product peak (GFLOP/s): " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items()))

    manifest = json.loads((args.run_dir / "manifest.json").read_text())
    print("\nstage wall times (from the run's manifest):")
    total = 0.0
    for step, info in manifest["steps"].items():
        total += info["wall_seconds"]
        print(f"  {step:<14} {info['wall_seconds']:>8.1f} s   peak {info['peak_rss_mb']:>7.0f} MB")
    book = args.run_dir / "book_build.json"
    if book.is_file():
        seconds = json.loads(book.read_text())["wall_seconds"]
        total += seconds
        print(f"  {'book':<14} {seconds:>8.1f} s")
    print(f"  {'total':<14} {total:>8.1f} s")

    print("\nmodel-bound kernels on the run's base model:")
    print(f"  {'stage':<32} {'dtype':<9} {'tokens':>7} {'s':>7} {'GFLOP/s':>8} {'of peak':>8}")
    for row in model_bound(args.run_dir, args.items):
        gflops = row["flops"] / row["seconds"] / 1e9
        share = gflops / peaks[row["dtype"]]
        print(f"  {row['stage']:<32} {row['dtype']:<9} {row['tokens']:>7} {row['seconds']:>7.2f} {gflops:>8.1f} {share:>8.0%}")


if __name__ == "__main__":
    main()
