"""Step 2: instruction fine-tuning, each method in its own worker process."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..config import StudyConfig, TrainedModel
from ..core.io import read_json
from ..core.monitor import PeakMemory
from ..core.processes import end_with_parent
from ..core.rundir import finish, load_split, sample
from ..hub.cards import write_model_card
from ..lm.models import load_tokenizer, resolve_base_model
from ..lm.prompts import training_example

log = logging.getLogger(__name__)


def worker_command(params_path: Path, run_dir: Path, trained: TrainedModel, num_processes: int) -> list[str]:
    """The command that trains one method: plain Python, or ``accelerate launch`` for several processes.

    Several processes are data-parallel (DDP): each holds a copy of the model and takes its own batch of
    ``training.batch_size`` examples per step, so the effective batch is ``batch_size * num_processes``. ``--multi_gpu`` is accelerate's name for its torch.distributed launcher (torchrun);
    it starts ``num_processes`` processes on CPUs too, where the trainer joins them with the gloo
    backend (``--cpu`` instead would start one process and leave the rest to MPI). On a machine with
    8 GPUs, ``training.num_processes: 8`` gives ``accelerate launch --multi_gpu --num_processes 8``.
    """
    worker = ["-m", "srllm.lm.training", "--params", str(params_path), "--run-dir", str(run_dir),
              "--method", trained.method, "--name", trained.name, "--seed", str(trained.seed)]  # fmt: skip
    if num_processes == 1:
        return [sys.executable, *worker]
    return [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(num_processes),
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", *worker,
    ]  # fmt: skip


def _run_forwarding_output(command: list[str]) -> int:
    """Run ``command``, copying its output to ours line by line (a notebook kernel has no real stdout)."""
    # Progress bars redraw with carriage returns, which become lines here: draw one every 10 s.
    env = {**os.environ, "TQDM_MININTERVAL": "10", "PYTHONUNBUFFERED": "1"}
    # The worker ends with the kernel, however the kernel ends (a killed run leaves no orphan training).
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, preexec_fn=end_with_parent
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip():
                print(line, end="", flush=True)
    return process.returncode


def truncated_share(records: list[dict[str, Any]], tokenizer: Any, max_length: int) -> dict[str, dict[str, float]]:
    """Per source: training examples (system prompt + instruction + input + rewrite, in the chat template)
    longer than ``training.max_length`` tokens, whose rewrite the model never sees end."""
    by_source: dict[str, list[int]] = {}
    for record in records:
        example = training_example(record)
        text = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False)
        by_source.setdefault(record["source"], []).append(len(tokenizer(text, add_special_tokens=False).input_ids))
    return {
        source: {"examples": len(lengths), "truncated": sum(n > max_length for n in lengths),
                 "share": sum(n > max_length for n in lengths) / len(lengths), "median_tokens": float(sorted(lengths)[len(lengths) // 2])}
        for source, lengths in sorted(by_source.items())
    }  # fmt: skip


def train(config: StudyConfig, run_dir: Path, params_path: str | Path) -> dict[str, Any]:
    """Train every configured method (with every seed) on the training split; return metrics per model."""

    run_dir = Path(run_dir)
    base = resolve_base_model(config.model, config.seed)  # convert/create once, before the workers start
    records = sample(load_split(run_dir, "train"), config.training.train_samples, config.seed, "train")
    n_train = len(records)
    n_val = len(sample(load_split(run_dir, "validation"), config.training.val_samples, config.seed, "val"))
    metrics: dict[str, Any] = {"base_model": str(base), "train_records": n_train, "val_records": n_val,
                               "truncated_by_source": truncated_share(records, load_tokenizer(base), config.training.max_length)}  # fmt: skip
    for trained in config.trained_models():
        log.info("training %s (seed %d) on %d records (%d process(es))", trained.name, trained.seed, n_train,
                 config.training.num_processes)  # fmt: skip
        command = worker_command(Path(params_path).resolve(), run_dir.resolve(), trained, config.training.num_processes)
        with PeakMemory() as memory:
            returncode = _run_forwarding_output(command)
        if returncode != 0:
            raise RuntimeError(f"training {trained.name} failed (exit code {returncode}): {' '.join(command)}")
        result = read_json(run_dir / "train" / trained.name / "train_metrics.json")
        result["peak_rss_mb"] = memory.peak_mb
        # Replaces peft's template README (all "[More Information Needed]") with the run's own card.
        write_model_card(run_dir / "train" / trained.name / "model", config, trained, {**result, "train_records": n_train},
                         merged=False)  # fmt: skip
        metrics[trained.name] = result
    return finish(run_dir, "train", metrics)
