"""Data-parallel training: the train step's worker under ``accelerate launch`` with two CPU processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from srllm.config import TrainedModel, load_config
from srllm.steps.train import train, worker_command

ROOT = Path(__file__).resolve().parents[2]


def test_worker_command_launches_processes() -> None:
    seeded = TrainedModel("qlora-seed3", "qlora", 3)
    single = worker_command(Path("p.yaml"), Path("r"), seeded, 1)
    assert "accelerate.commands.launch" not in single
    assert single[single.index("--name") + 1] == "qlora-seed3" and single[single.index("--seed") + 1] == "3"
    command = worker_command(Path("p.yaml"), Path("r"), seeded, 8)
    assert command[command.index("--num_processes") + 1] == "8"
    assert "--multi_gpu" in command and "--cpu" not in command  # --cpu would start a single process


@pytest.mark.slow
def test_two_processes_train_one_adapter(tmp_path: Path, data_dir) -> None:
    from srllm.corpus.build import load_srllm_pairs

    params = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    params["run_name"] = "two"
    # 16 records (none truncated away), batch 4 per process, 2 processes: 2 steps make one epoch.
    params["training"].update({"methods": ["qlora"], "num_processes": 2, "max_steps": 2, "train_samples": 16,
                               "max_length": 512, "eval_steps": 2, "save_steps": 2, "seeds": []})  # fmt: skip
    params_path = tmp_path / "two.yaml"
    params_path.write_text(yaml.safe_dump(params))
    run_dir = tmp_path / "two"
    (run_dir / "dataset").mkdir(parents=True)
    records, _ = load_srllm_pairs(data_dir)
    for split, rows in (("train", records[:16]), ("validation", records[16:20])):
        (run_dir / "dataset" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    metrics = train(load_config(params_path), run_dir, params_path)

    result = metrics["qlora"]
    assert result["processes"] == 2 and result["steps"] == 2
    assert result["peak_rss_mb"] > 0 and result["tokens_per_s"] > 0
    history = json.loads((run_dir / "train" / "qlora" / "log_history.json").read_text())
    assert history[-1]["epoch"] == pytest.approx(1.0)  # each step took a batch from each process
    # One adapter, saved once (by the first process), with trained weights: lora_B starts at zero.
    assert sorted(p.name for p in (run_dir / "train").iterdir()) == ["metrics.json", "qlora"]
    adapter = load_file(run_dir / "train" / "qlora" / "model" / "adapter_model.safetensors")
    lora_b = [v for k, v in adapter.items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b)
