"""params/gpu.yaml (and its timing probe) on a machine without a GPU: `srllm check --dry-run` passes and
names what needs the target device; a plain `srllm check` refuses it, naming the key; the full run
evaluates every set whole."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srllm import cli
from srllm.config import load_config
from srllm.pipeline.preflight import NEEDS_TARGET, check
from srllm.tasks import TASKS

ROOT = Path(__file__).resolve().parents[2]
GPU = ROOT / "params" / "gpu.yaml"
PROBE = ROOT / "params" / "gpu-probe.yaml"
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="these check what a machine without CUDA reports")


@no_cuda
def test_gpu_params_pass_dry_run_check(data_root, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SRLLM_DATA_DIR", str(data_root))
    monkeypatch.setenv("SRLLM_RUNS_DIR", str(tmp_path))
    assert cli.main(["check", str(GPU), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"dry run: training.optimizer: 'paged_adamw_32bit' {NEEDS_TARGET}" in out
    assert "would need CUDA; not checked here" in out and "training memory" in out
    assert f"{GPU}: valid" in out


@no_cuda
def test_gpu_params_fail_plain_check_naming_the_key(data_root, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SRLLM_DATA_DIR", str(data_root))
    monkeypatch.setenv("SRLLM_RUNS_DIR", str(tmp_path))
    assert cli.main(["check", str(GPU)]) == 2
    err = capsys.readouterr().err
    assert "training.optimizer" in err and "needs CUDA" in err and str(GPU) in err


@no_cuda
def test_probe_passes_dry_run_check(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("SRLLM_DATA_DIR", str(data_root))
    found = check(load_config(PROBE), PROBE, tmp_path / "gpu-probe", dry_run=True)
    assert any("training.optimizer" in note and NEEDS_TARGET in note for note in found["not_checked"])


def test_dry_run_still_fails_machine_independent_checks(data_root, tmp_path, monkeypatch):
    """--dry-run reports only what needs the target device; a bad value elsewhere still fails."""
    from srllm.config import ConfigError

    monkeypatch.setenv("SRLLM_DATA_DIR", str(data_root))
    bad = tmp_path / "bad.yaml"
    bad.write_text(GPU.read_text().replace("  r: 16\n", "  r: 1000\n"))
    with pytest.raises(ConfigError, match="lora.r"):
        check(load_config(bad), bad, tmp_path / "gpu", dry_run=True)
    monkeypatch.setenv("SRLLM_DATA_DIR", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="data_dir"):
        check(load_config(GPU), GPU, tmp_path / "gpu", dry_run=True)


def test_gpu_run_is_the_whole_study():
    config = load_config(GPU)
    samples = config.evaluation.samples
    assert set(samples) == set(TASKS)
    assert all(n is None for n in samples.values()), samples
    t = config.training
    assert t.train_samples is None and t.val_samples is None and t.max_steps == -1 and t.epochs >= 1.0
    assert "qlora" in t.methods and t.optimizer == "paged_adamw_32bit"
    assert config.quantization.load_in_4bit and config.quantization.quant_type == "nf4"
    assert config.quantization.precision.requested == "auto" and config.evaluation.precision.requested == "auto"
    assert config.model.name_or_path == "packaged:smollm2-135m-instruct"
    assert set(config.evaluation.tasks) == set(samples)
    # the probe is the same recipe, shorter
    probe = load_config(PROBE)
    assert probe.training.max_steps > 0 and probe.run_name == "gpu-probe"
    for section in ("model", "quantization", "lora", "generation", "dataset"):
        assert getattr(probe, section) == getattr(config, section), section
