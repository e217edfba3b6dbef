"""Broken parameter files: each fails before any work starts, with one message naming the key and the file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from srllm.config import ConfigError
from srllm.pipeline import runner

ROOT = Path(__file__).resolve().parents[2]
SMOKE = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())


def _set(params: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    params = copy.deepcopy(params)
    *parents, last = dotted.split(".")
    node = params
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return params


def _delete(params: dict[str, Any], dotted: str) -> dict[str, Any]:
    params = copy.deepcopy(params)
    *parents, last = dotted.split(".")
    node = params
    for part in parents:
        node = node[part]
    del node[last]
    return params


# (what is broken, the parameters, the key the message must name, a word of what would be valid)
BROKEN = [
    ("unknown top-level key", _set(SMOKE, "epochs", 3), "epochs", "valid keys"),
    ("unknown key in model", _set(SMOKE, "model.path", "x"), "model.path", "name_or_path"),
    ("unknown key in model.random_init", _set(SMOKE, "model.random_init.depth", 2), "model.random_init.depth", "num_hidden_layers"),
    ("unknown key in quantization", _set(SMOKE, "quantization.bits", 4), "quantization.bits", "load_in_4bit"),
    ("unknown key in lora", _set(SMOKE, "lora.rank", 8), "lora.rank", "valid keys"),
    ("unknown key in training", _set(SMOKE, "training.lr", 0.1), "training.lr", "learning_rate"),
    ("unknown key in generation", _set(SMOKE, "generation.beams", 4), "generation.beams", "max_new_tokens"),
    ("unknown key in dataset", _set(SMOKE, "dataset.shuffle", True), "dataset.shuffle", "valid keys"),
    ("unknown key in judge", _set(SMOKE, "judge.model", "x"), "judge.model", "max_per_class_per_source"),
    ("unknown key in evaluation", _set(SMOKE, "evaluation.metric", "x"), "evaluation.metric", "valid keys"),
    ("missing run name", _delete(SMOKE, "run_name"), "run_name", "missing"),
    ("run name with a space", _set(SMOKE, "run_name", "my run"), "run_name", "pattern"),
    ("seed as text", _set(SMOKE, "seed", "zero"), "seed", "integer"),
    ("further seed equal to the study's", _set(SMOKE, "training.seeds", [0, 1]), "(top level)", "training.seeds [0, 1] lists the study's seed"),
    ("further seed twice", _set(SMOKE, "training.seeds", [2, 2]), "training.seeds", "distinct"),
    ("further seeds as text", _set(SMOKE, "training.seeds", "1,2"), "training.seeds", "list"),
    ("batch size as text", _set(SMOKE, "training.batch_size", "8"), "training.batch_size", "integer"),
    ("zero batch size", _set(SMOKE, "training.batch_size", 0), "training.batch_size", "greater than 0"),
    ("negative max new tokens", _set(SMOKE, "generation.max_new_tokens", -5), "generation.max_new_tokens", "greater than 0"),
    ("learning rate above 1", _set(SMOKE, "training.learning_rate", 3.0), "training.learning_rate", "less than or equal to 1"),
    ("learning rate written 2e-4 (YAML reads a string)", _set(SMOKE, "training.learning_rate", "2e-4"), "training.learning_rate", "write 2.0e-4"),
    ("negative learning rate", _set(SMOKE, "training.learning_rate", -0.001), "training.learning_rate", "greater than 0"),
    ("dropout of 1.5", _set(SMOKE, "lora.dropout", 1.5), "lora.dropout", "less than 1"),
    ("zero LoRA rank", _set(SMOKE, "lora.r", 0), "lora.r", "greater than 0"),
    ("LoRA rank above the hidden size", _set(SMOKE, "lora.r", 128), "lora.r", "choose 1 to 64"),
    ("LoRA on a module the model lacks", _set(SMOKE, "lora.target_modules", ["qkv"]), "lora.target_modules", "q_proj"),
    ("a method that does not exist", _set(SMOKE, "training.methods", ["dpo"]), "training.methods.0", "'qlora'"),
    ("a method listed twice", _set(SMOKE, "training.methods", ["qlora", "qlora"]), "training", "twice"),
    ("qlora without 4-bit", _set(SMOKE, "quantization.load_in_4bit", False), "(top level)", "load_in_4bit"),
    ("unknown quantization type", _set(SMOKE, "quantization.quant_type", "int3"), "quantization.quant_type", "'nf4'"),
    ("unknown compute dtype", _set(SMOKE, "quantization.compute_dtype", "float8"), "quantization.compute_dtype", "'bfloat16'"),
    ("paged optimizer without a GPU", _set(SMOKE, "training.optimizer", "paged_adamw_32bit"), "training.optimizer", "'auto'"),
    ("validation fraction of 0.7", _set(SMOKE, "dataset.val_fraction", 0.7), "dataset.val_fraction", "less than 0.5"),
    ("a data directory that does not exist", _set(SMOKE, "data_dir", "/nonexistent/data"), "data_dir", "data mirror"),
    ("an unknown model id offline", _delete(_set(SMOKE, "model.name_or_path", "nobody/no-such-model"), "model.random_init"), "model.name_or_path", "packaged"),
    ("a local model folder without safetensors", None, "model.name_or_path", "safetensors"),
    ("more memory than the machine has", _set(_set(SMOKE, "training.batch_size", 4096), "training.max_length", 8192), "training.batch_size", "lower training.batch_size"),
    ("heads that do not divide the width", _set(SMOKE, "model.random_init.num_attention_heads", 5), "model.random_init", "multiple"),
    ("a list where a mapping belongs", _set(SMOKE, "training", [1, 2]), "training", "valid dictionary"),
    ("an unknown evaluation task", _set(SMOKE, "evaluation.tasks", ["squad"]), "evaluation.tasks.0", "registered tasks: bold"),
]


@pytest.mark.parametrize(("what", "params", "key", "valid"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_parameters_fail_before_any_work(
    what: str, params: dict[str, Any] | None, key: str, valid: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if params is None:  # a local folder with a config but .bin weights only
        folder = tmp_path / "model"
        folder.mkdir()
        (folder / "config.json").write_text('{"model_type": "llama"}')
        (folder / "pytorch_model.bin").write_bytes(b"\0")
        params = _delete(_set(SMOKE, "model.name_or_path", str(folder)), "model.random_init")
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(params))
    runs = tmp_path / "runs"
    monkeypatch.setenv("SRLLM_RUNS_DIR", str(runs))
    with pytest.raises(ConfigError) as error:
        runner.run(path)
    message = str(error.value)
    assert str(path) in message, message
    assert f"  {key}:" in message, message
    assert valid in message, message
    assert not runs.exists() or not any(runs.rglob("*")), "work started before the parameters were checked"


def test_there_are_at_least_25_broken_files() -> None:
    assert len(BROKEN) >= 25


def test_4bit_without_bitsandbytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bitsandbytes" else real(name, *a))
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(SMOKE))
    monkeypatch.setenv("SRLLM_RUNS_DIR", str(tmp_path / "runs"))
    with pytest.raises(ConfigError, match=r"quantization.load_in_4bit: 4-bit QLoRA needs bitsandbytes"):
        runner.run(path)


def test_packaged_architecture_matches_the_converted_model() -> None:
    from transformers import AutoConfig

    from srllm.config import ModelConfig
    from srllm.lm.models import resolve_base_model
    from srllm.pipeline.preflight import PACKAGED_ARCHITECTURE

    config = AutoConfig.from_pretrained(resolve_base_model(ModelConfig())).to_dict()
    assert {k: config[k] for k in PACKAGED_ARCHITECTURE} == PACKAGED_ARCHITECTURE


def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    from srllm.config import load_config

    path = tmp_path / "twice.yaml"
    path.write_text("run_name: x\nseed: 0\ntraining:\n  max_steps: 5\n  batch_size: 2\n  max_steps: 7\nseed: 5\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message and "  training.max_steps: given twice, on line 4 and on line 6" in message, message
    path.write_text("run_name: x\nseed: 0\nlora:\n  r: 4\nseed: 5\n")
    with pytest.raises(ConfigError, match=r"  seed: given twice, on line 2 and on line 5"):
        load_config(path)


def test_a_float_without_a_dot_explains_yaml_and_shows_the_fix(tmp_path: Path) -> None:
    from srllm.config import load_config

    path = tmp_path / "float.yaml"
    path.write_text("run_name: x\ntraining:\n  learning_rate: 2e-4\n  weight_decay: 1E-3\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "  training.learning_rate: Input should be a valid number (got '2e-4')" in message
    assert "YAML 1.1 reads a float only if it has a dot, so 2e-4 is read as a string: write 2.0e-4" in message
    assert "write 1.0E-3" in message
