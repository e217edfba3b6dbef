"""Evaluation throughput: generation and likelihood scoring, batched vs one at a time (not a test).

Same inputs for both modes, one warm-up call first, the median of a few timed repeats; prints a table
of items/s. Example (the CPU study model, 16 rewrites of 48 new tokens, 64 CrowS-Pairs sentences):

    HF_HUB_OFFLINE=1 SRLLM_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_eval.py \\
        --params params/cpu.yaml --items 16 --max-new-tokens 48 --batch-size 16 --repeats 3 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params/cpu.yaml")
    parser.add_argument("--items", type=int, default=16, help="texts generated / sentence pairs' sentences scored")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from srllm.config import load_config
    from srllm.data.datadir import DataDir
    from srllm.data.parsers import load_crows_pairs
    from srllm.lm.generation import generate_rewrites
    from srllm.lm.models import load_causal_lm, load_tokenizer, resolve_base_model
    from srllm.lm.scoring import continuation_logprobs

    config = load_config(args.params)
    path = resolve_base_model(config.model, config.seed)
    model, tokenizer = load_causal_lm(path), load_tokenizer(path)
    pairs = load_crows_pairs(DataDir.resolve(config.data_dir))
    texts = [p["sent_more"] for p in pairs[: args.items]]
    sentences = [p[k] for p in pairs[: args.items * 2] for k in ("sent_more", "sent_less")][: args.items * 4]

    rows = []
    for label, batch in (("batched", args.batch_size), ("one at a time", 1)):
        generation = config.generation.model_copy(update={"batch_size": batch, "max_new_tokens": args.max_new_tokens})
        seconds = timed(lambda: generate_rewrites(model, tokenizer, texts, generation, progress=False), args.repeats)
        rows.append(("generation", label, batch, len(texts), seconds))
        seconds = timed(
            lambda: continuation_logprobs(model, tokenizer, [""] * len(sentences), sentences, batch, progress=False),
            args.repeats,
        )
        rows.append(("likelihood", label, batch, len(sentences), seconds))

    print(f"model {path}, torch threads {torch.get_num_threads()}, {args.max_new_tokens} new tokens, "
          f"median of {args.repeats} after a warm-up")  # fmt: skip
    print(f"{'workload':<12}{'mode':<15}{'batch':>6}{'items':>7}{'seconds':>10}{'items/s':>10}")
    for workload, label, batch, n, seconds in sorted(rows):
        print(f"{workload:<12}{label:<15}{batch:>6}{n:>7}{seconds:>10.2f}{n / seconds:>10.2f}")


if __name__ == "__main__":
    main()
