"""Where the CPU study spends its time, and how close the model-bound work gets to the machine's peak.

    .venv/bin/python benchmarks/bench_study.py runs/cpu [--items 64]

1. Measures this machine's matrix-product peak (torch.mm, float32 and bfloat16, medians after a
   warm-up) in this process.
2. Prints each stage's wall time from the run's manifest (and the book build's, if recorded).
3. Prints each evaluation task's wall time (all systems together) from the run's metrics.
4. Times the model-bound kernels of the study on the run's base model, in float32 and, where the
   CPU computes it natively, bfloat16 (emulated bfloat16 is about 65x slower: it is not timed, and
   its measured cost is printed instead), on the same inputs: likelihood scoring (CrowS-Pairs
   sentences) and generation (rewrites at the run's batch size); takes the training steps' times
   from the run itself; and reports achieved GFLOP/s (2 x parameters per token forward; 4 x for a
   training step on a frozen base, 6 x for full fine-tuning; every position counted, as model-FLOP
   utilisation is, although training projects only the labelled positions through the LM head) as
   a share of the measured peak for that dtype. Beside each, a peer doing the same work in the same
   process: lm-evaluation-harness's ``HFLM.loglikelihood`` on the same sentences, and a plain
   ``model.generate`` loop (one prompt at a time, the whole token budget) for the same rewrites.
5. Times bare matrix products at the base model's own shapes (decoding rows, a training batch) in
   the run's evaluation dtype: how far below the square-matrix peak its layers must stay.
6. Profiles two QLoRA training steps (the trainer the run uses, on its data) and prints the share of
   CPU time per kind of operator, which says why a step stays below the matrix-product peak.

The first lines say which CPU class the figures were taken on (torch's CPU capability, native
bfloat16 or not) and which dtype each stage of the run used (from its manifest).
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

from srllm.config import STEPS  # noqa: E402
from srllm.core import precision  # noqa: E402
from srllm.report.book import seconds_by_task  # noqa: E402


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


def shape_ceilings(run_dir: Path, dtype: torch.dtype = torch.bfloat16) -> list[dict]:
    """GFLOP/s of a bare ``torch.mm`` at the base model's own matrix shapes: a ceiling for its layers.

    The square 2048 x 2048 product that sets the peak keeps the cores' vector units busy; the model's
    products are narrow (576 wide for SmolLM2), and a decoding step multiplies only one row per sequence.
    """
    from transformers import AutoConfig

    from srllm.config import load_config
    from srllm.lm.models import resolve_base_model

    config = load_config(run_dir / "params.yaml")
    model = AutoConfig.from_pretrained(resolve_base_model(config.model, config.seed))
    hidden, intermediate, vocab = model.hidden_size, model.intermediate_size, model.vocab_size
    batches = {f"decoding step ({config.generation.batch_size} rows)": config.generation.batch_size,
               f"{config.training.batch_size} x {config.training.max_length} tokens": config.training.batch_size * config.training.max_length}  # fmt: skip
    products = {"attention projection": (hidden, hidden), "MLP up/gate": (hidden, intermediate),
                "MLP down": (intermediate, hidden), "LM head": (hidden, vocab)}  # fmt: skip
    rows = []
    for batch, m in batches.items():
        for product, (k, n) in products.items():
            a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
            seconds = _median_seconds(lambda: a @ b, repeats=7)
            rows.append({"rows": batch, "product": f"{product} ({m} x {k} x {n})", "gflops": 2 * m * k * n / seconds / 1e9})
    return rows


def timed_dtypes() -> list[str]:
    """float32 always; bfloat16 only where it is native (emulated, a single pass would take minutes)."""
    return ["float32", "bfloat16"] if precision.native_bfloat16()[0] else ["float32"]


def model_bound(run_dir: Path, items: int) -> list[dict]:
    """Likelihood scoring and generation on the run's base model, ours and a peer's on the same inputs,
    and the run's own training steps (from its train metrics), as FLOP counts over seconds."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from srllm.config import load_config
    from srllm.data.datadir import DataDir
    from srllm.data.parsers import load_crows_pairs
    from srllm.lm.generation import generate_rewrites, rewrite_prompt
    from srllm.lm.models import load_causal_lm, load_tokenizer, resolve_base_model
    from srllm.lm.scoring import continuation_logprobs

    config = load_config(run_dir / "params.yaml")
    base = resolve_base_model(config.model, config.seed)
    tokenizer = load_tokenizer(base)
    data = DataDir.resolve(config.data_dir)
    pairs = load_crows_pairs(data)[: max(items // 2, 1)]
    sentences = [pair[key] for pair in pairs for key in ("sent_more", "sent_less")]
    prompts = sentences[: config.generation.batch_size]
    # One budget for every prompt, as the peer's loop has (no budget that follows the input).
    generation = config.generation.model_copy(update={"max_new_tokens": 32, "budget_multiple": None})
    batch = config.evaluation.score_batch_size
    rows = []
    for dtype in timed_dtypes():
        model = load_causal_lm(base, dtype=dtype)
        n_params = sum(p.numel() for p in model.parameters())
        tokens = sum(len(tokenizer(s, add_special_tokens=False).input_ids) + 1 for s in sentences)
        seconds = _median_seconds(lambda: continuation_logprobs(model, tokenizer, [""] * len(sentences), sentences, batch_size=batch, progress=False))
        rows.append({"stage": "evaluate: likelihood scoring", "dtype": dtype, "tokens": tokens, "seconds": seconds, "flops": 2 * n_params * tokens})
        # The peer: lm-evaluation-harness scoring the same sentences (empty context: its BOS/EOT token).
        harness = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch)
        requests = [Instance("loglikelihood", {}, ("", s), i) for i, s in enumerate(sentences)]
        seconds = _median_seconds(lambda: harness.loglikelihood(requests, disable_tqdm=True))
        rows.append({"stage": "  peer: lm-eval loglikelihood", "dtype": dtype, "tokens": tokens, "seconds": seconds, "flops": 2 * n_params * tokens})

        outputs: list[str] = []
        seconds = _median_seconds(lambda: outputs.__setitem__(slice(None), generate_rewrites(model, tokenizer, prompts, generation, progress=False)), repeats=2)
        # Every prompt token goes through the model once (prefill), then every new token.
        prompt_tokens = sum(len(tokenizer(rewrite_prompt(tokenizer, p), add_special_tokens=False).input_ids) for p in prompts)
        new_tokens = sum(len(tokenizer(o, add_special_tokens=False).input_ids) + 1 for o in outputs)
        useful = prompt_tokens + new_tokens
        rows.append({"stage": f"evaluate: generation (batch {len(prompts)})", "dtype": dtype, "tokens": useful,
                     "seconds": seconds, "flops": 2 * n_params * useful})  # fmt: skip
        # The peer: a plain loop of model.generate, one prompt at a time, on the same prompts. The same
        # useful tokens are counted, so the two rows compare time for the same work.
        def plain_loop() -> None:
            for text in prompts:
                ids = tokenizer(rewrite_prompt(tokenizer, text), return_tensors="pt", add_special_tokens=False)
                model.generate(**ids, max_new_tokens=generation.max_new_tokens, do_sample=False,
                               pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)  # fmt: skip

        seconds = _median_seconds(plain_loop, repeats=1)
        rows.append({"stage": "  peer: model.generate loop", "dtype": dtype, "tokens": useful, "seconds": seconds, "flops": 2 * n_params * useful})
        del model, harness

    # Training: the run's own optimizer steps. A frozen base (QLoRA, LoRA, prefix) needs the forward
    # pass (2 FLOP per parameter and token) and the backward pass to the activations (2 more); full
    # fine-tuning adds the weight gradients (6 in all).
    train_metrics = run_dir / "train" / "metrics.json"
    train = json.loads(train_metrics.read_text()) if train_metrics.is_file() else {}
    for name, m in train.items():
        if not isinstance(m, dict) or "median_step_seconds" not in m:
            continue
        per_token = 6 if m["method"] == "full" else 4
        # The positions the shared prompt start did not recompute (lm/shared_prefix.py) cost nothing.
        computed = m["tokens_per_step"] - ((m.get("shared_prefix") or {}).get("positions_saved_per_batch") or 0.0)
        rows.append({"stage": f"train: {name} step (from the run)", "dtype": precision.autocast_dtype(config.quantization.compute_dtype),
                     "tokens": int(computed), "seconds": m["median_step_seconds"], "flops": per_token * n_params * computed})  # fmt: skip
    return rows


# Where a QLoRA training step's CPU time goes, by operator (torch.profiler's self time).
OP_GROUPS = {
    "matrix products in the layers": ("aten::mm", "aten::bmm", "aten::addmm", "aten::matmul", "aten::linear"),
    "attention softmax": ("aten::_scaled_dot_product", "aten::_softmax", "aten::_safe_softmax"),
    "dropout random numbers": ("aten::bernoulli",),
    "dtype conversions": ("aten::copy_", "aten::_to_copy", "aten::to"),
    "4-bit dequantization": ("bitsandbytes::",),
}
LM_HEAD = "LM head and log-probabilities over the vocabulary (all ops)"


def training_profile(run_dir: Path, steps: int = 2) -> dict[str, float]:
    """Share of a QLoRA training step's CPU time per operator group: real trainer steps on the run's data.

    Runs ``srllm.lm.training.train_method`` (trl's SFTTrainer, as the train step does) with the run's
    parameters for ``WARMUP_STEPS`` + ``steps`` steps, profiling the last ``steps``. The fused LM head
    works on tiles of the vocabulary, so its operators are found by their shapes (a tile's width).
    """
    import tempfile

    from torch.profiler import ProfilerActivity, profile
    from transformers import AutoConfig, TrainerCallback
    from trl.trainer.utils import _CHUNKED_LOGPROB_CHUNK_SIZE as tile

    from srllm.config import load_config
    from srllm.core.rundir import load_split, sample
    from srllm.lm.models import resolve_base_model
    from srllm.lm.training import train_method
    from srllm.lm.training_log import WARMUP_STEPS

    config = load_config(run_dir / "params.yaml")
    total = WARMUP_STEPS + steps
    training = config.training.model_copy(update={"max_steps": total, "eval_steps": total + 1, "save_steps": total + 1,
                                                  "logging_steps": 1, "best_checkpoint": False})  # fmt: skip
    config = config.model_copy(update={"training": training})
    base = resolve_base_model(config.model, config.seed)
    rows = sample(load_split(run_dir, "train"), config.training.train_samples, config.seed, "train")

    class Profiler(TrainerCallback):
        def __init__(self) -> None:
            self.profiler = profile(activities=[ProfilerActivity.CPU], record_shapes=True)

        def on_step_begin(self, args, state, control, **kwargs) -> None:  # noqa: ANN001
            if state.global_step == WARMUP_STEPS:
                self.profiler.__enter__()

        def on_step_end(self, args, state, control, **kwargs) -> None:  # noqa: ANN001
            if state.global_step == total:
                self.profiler.__exit__(None, None, None)

    callback = Profiler()
    with tempfile.TemporaryDirectory() as tmp:
        train_method(config, "qlora", base, rows, rows[:8], Path(tmp), callbacks=[callback])
    events = callback.profiler.key_averages(group_by_input_shape=True)
    vocab = AutoConfig.from_pretrained(base).vocab_size
    tile_widths = {min(tile, vocab), vocab % tile} - {0}
    total_time = sum(e.self_cpu_time_total for e in events)
    shares = {LM_HEAD: 0.0, **{group: 0.0 for group in OP_GROUPS}}
    for event in events:
        if any(len(shape) == 2 and tile_widths & set(shape) for shape in event.input_shapes or []):
            group = LM_HEAD
        else:
            group = next((g for g, prefixes in OP_GROUPS.items() if event.key.startswith(prefixes)), None)
        if group is not None:
            shares[group] += event.self_cpu_time_total / total_time
    shares["everything else (elementwise ops, autograd, optimizer)"] = 1.0 - sum(shares.values())
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--no-profile", action="store_true", help="skip the training-step profile")
    args = parser.parse_args()
    native, evidence = precision.native_bfloat16()
    print(f"CPU class: torch CPU capability {precision.cpu_capability()}; native bfloat16: {native} ({evidence})")
    print(f"torch threads: {torch.get_num_threads()}")
    peaks = {dtype: matmul_peak(getattr(torch, dtype)) for dtype in timed_dtypes()}
    print("matrix-product peak (GFLOP/s): " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items()))
    if not native:
        cost = precision.measured_bfloat16_cost()
        print(f"bfloat16 is emulated here: {cost['bfloat16_gflops']} against {cost['float32_gflops']} GFLOP/s in float32 "
              f"({cost['shape']}, {cost['bfloat16_slowdown']:.0f}x slower); not timed further")  # fmt: skip

    manifest = json.loads((args.run_dir / "manifest.json").read_text())
    chosen = manifest.get("precision", {})
    if chosen:
        print(f"the run's dtypes: training {chosen['training']['dtype']}, evaluation {chosen['evaluation']['dtype']} "
              f"(on capability {chosen['cpu_capability']})")  # fmt: skip
    stage_dtype = {"train": manifest["determinism"]["training_dtype"], "merge": "float32",
                   "evaluate": manifest["determinism"]["evaluation_dtype"]}  # fmt: skip
    print("\nstage wall times (from the run's manifest, the steps that have completed):")
    total = 0.0
    for step, info in sorted(manifest["steps"].items(), key=lambda item: STEPS.index(item[0])):
        total += info["wall_seconds"]
        print(f"  {step:<14} {info['wall_seconds']:>8.1f} s   peak {info['peak_rss_mb']:>7.0f} MB   {stage_dtype.get(step, '')}")
    book = args.run_dir / "book_build.json"
    if book.is_file():
        seconds = json.loads(book.read_text())["wall_seconds"]
        total += seconds
        print(f"  {'book':<14} {seconds:>8.1f} s")
    print(f"  {'total':<14} {total:>8.1f} s")
    evaluated_path = args.run_dir / "evaluate" / "metrics.json"
    evaluated = json.loads(evaluated_path.read_text()) if evaluated_path.is_file() else {}
    if evaluated:
        print(f"\nevaluation tasks (all systems, models in {evaluated.get('dtype', 'float32')}):")
        for task, seconds in seconds_by_task(evaluated).items():
            print(f"  {task:<22} {seconds:>8.1f} s")
        if "dtype_check" in evaluated:
            print(f"  {'float32 check':<22} {evaluated['dtype_check']['float32_seconds']:>8.1f} s")

    shape_dtype = stage_dtype["evaluate"] if stage_dtype["evaluate"] in peaks else "float32"
    print(f"\nbare {shape_dtype} matrix products at the base model's shapes (the ceiling for its layers):")
    for row in shape_ceilings(args.run_dir, getattr(torch, shape_dtype)):
        print(f"  {row['rows']:<26} {row['product']:<36} {row['gflops']:>8.1f} GFLOP/s {row['gflops'] / peaks[shape_dtype]:>6.0%}")

    print("\nmodel-bound kernels on the run's base model (peers on the same inputs, same process):")
    print(f"  {'stage':<32} {'dtype':<9} {'tokens':>7} {'s':>7} {'GFLOP/s':>8} {'of peak':>8}")
    for row in model_bound(args.run_dir, args.items):
        gflops = row["flops"] / row["seconds"] / 1e9
        peak = peaks.get(row["dtype"])
        share = f"{gflops / peak:>8.0%}" if peak else f"{'(emul.)':>8}"
        print(f"  {row['stage']:<32} {row['dtype']:<9} {row['tokens']:>7} {row['seconds']:>7.2f} {gflops:>8.1f} {share}")
    if not args.no_profile:
        print("\nwhere a QLoRA training step's CPU time goes (torch.profiler self time, 2 steps after a warm-up):")
        for group, share in training_profile(args.run_dir).items():
            print(f"  {group:<58} {share:>6.1%}")


if __name__ == "__main__":
    main()
