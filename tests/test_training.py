"""QLoRA on the tiny model: the adapter really trains, and merging it changes no logit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srllm.config import StudyConfig, load_config
from srllm.data import load_srllm_pairs
from srllm.merge import merge_adapter
from srllm.models import resolve_base_model
from srllm.training import optimizer_name, train_method

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, data_dir) -> tuple[StudyConfig, Path, Path, list[dict]]:
    config = load_config(ROOT / "params" / "smoke.yaml")
    records, _ = load_srllm_pairs(data_dir)
    base = resolve_base_model(config.model, config.seed)
    out = tmp_path_factory.mktemp("train") / "qlora"
    train_method(config, "qlora", base, records[:16], records[16:20], out)
    return config, Path(base), out, records


def test_lora_weights_changed_and_base_frozen(trained) -> None:
    config, base, out, _ = trained
    adapter = load_file(out / "model" / "adapter_model.safetensors")
    lora_b = [v for k, v in adapter.items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b)  # lora_B starts at zero: non-zero means it trained
    metrics = (out / "train_metrics.json").read_text()
    assert '"trainable_params"' in metrics and '"optimizer": "adamw_torch"' in metrics
    assert (out / "log_history.json").is_file()
    assert not (out / "checkpoints").exists()


def test_merge_reproduces_base_plus_adapter_logits(trained, tmp_path: Path) -> None:
    config, base, out, records = trained
    probes = [f"{r['input']}\n{r['output']}" for r in records[20:24]]
    result = merge_adapter(base, out / "model", tmp_path / "merged", probes, config.quantization)
    assert result["max_abs_logit_diff"] < 1e-4
    assert "max_abs_logit_diff_4bit_vs_merged" in result
    assert (tmp_path / "merged" / "model.safetensors").is_file()
    assert not (tmp_path / "merged" / "adapter_config.json").exists()


def test_optimizer_follows_the_device() -> None:
    expected = "paged_adamw_32bit" if torch.cuda.is_available() else "adamw_torch"
    assert optimizer_name("auto") == expected
    assert optimizer_name("sgd") == "sgd"
