"""A training worker killed mid-run resumes from its last checkpoint and ends with the same adapter."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]


def _prepare(tmp: Path, name: str, data_dir) -> tuple[Path, Path]:
    from srllm.corpus.build import load_srllm_pairs

    params = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    params["run_name"] = name
    # One epoch of 6 steps (24 records, batch 4, nothing truncated away); the kill lands mid-epoch.
    # Losses are logged every 3 steps, so a checkpoint holds losses not yet logged.
    params["training"].update({"max_steps": 6, "save_steps": 2, "eval_steps": 3, "logging_steps": 3, "train_samples": 24,
                               "max_length": 512})  # fmt: skip
    params_path = tmp / f"{name}.yaml"
    params_path.write_text(yaml.safe_dump(params))
    run_dir = tmp / name
    (run_dir / "dataset").mkdir(parents=True)
    records, _ = load_srllm_pairs(data_dir)
    for split, rows in (("train", records[:24]), ("validation", records[24:28])):
        (run_dir / "dataset" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return params_path, run_dir


def _command(params_path: Path, run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "srllm.lm.training", "--params", str(params_path), "--run-dir", str(run_dir), "--method", "qlora"]


def _adapter(run_dir: Path) -> dict:
    return load_file(run_dir / "train" / "qlora" / "model" / "adapter_model.safetensors")


@pytest.mark.slow
def test_killed_training_resumes_to_the_same_adapter(tmp_path: Path, data_dir) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    params, reference_dir = _prepare(tmp_path, "reference", data_dir)
    subprocess.run(_command(params, reference_dir), check=True, env=env, capture_output=True)

    params, run_dir = _prepare(tmp_path, "killed", data_dir)
    process = subprocess.Popen(_command(params, run_dir), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = run_dir / "train" / "qlora" / "checkpoints" / "checkpoint-4" / "loss_state.json"  # written last
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "training finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run_dir / "train" / "qlora" / "model").exists()
    # A kill while the trainer writes a checkpoint leaves a folder without trainer_state.json (written
    # last): plant one beyond the real ones; resuming from it would restart the optimizer.
    checkpoints = run_dir / "train" / "qlora" / "checkpoints"
    cut_short = checkpoints / "checkpoint-5"
    cut_short.mkdir()
    shutil.copy(checkpoints / "checkpoint-4" / "adapter_model.safetensors", cut_short)
    # A kill during the final evaluation or save leaves a checkpoint at the last step: plant one (step 4's
    # files, labelled step 6). Resumed from it, the trainer would take a seventh step.
    finished = checkpoints / "checkpoint-6"
    shutil.copytree(checkpoints / "checkpoint-4", finished)
    state = json.loads((finished / "trainer_state.json").read_text())
    (finished / "trainer_state.json").write_text(json.dumps({**state, "global_step": 6}))

    resumed = subprocess.run(_command(params, run_dir), check=True, env=env, capture_output=True, text=True)
    assert "resuming qlora from" in resumed.stdout + resumed.stderr
    metrics = json.loads((run_dir / "train" / "qlora" / "train_metrics.json").read_text())
    assert metrics["resumed_from"] == "checkpoint-4"
    assert "removing incomplete checkpoint" in resumed.stdout + resumed.stderr
    assert "it ends the training" in resumed.stdout + resumed.stderr
    assert metrics["steps"] == 6
    # The mean training loss and the loss log cover every step, not only those after the checkpoint.
    reference_metrics = json.loads((reference_dir / "train" / "qlora" / "train_metrics.json").read_text())
    assert metrics["train_loss"] == reference_metrics["train_loss"]
    losses = [[(e["step"], e.get("loss"), e.get("eval_loss")) for e in json.loads((d / "train" / "qlora" / "log_history.json").read_text())]
              for d in (reference_dir, run_dir)]  # fmt: skip
    assert losses[0] == losses[1]
    reference, result = _adapter(reference_dir), _adapter(run_dir)
    assert reference.keys() == result.keys()
    for key in reference:
        assert (reference[key] - result[key]).abs().max() <= 1e-6, key
