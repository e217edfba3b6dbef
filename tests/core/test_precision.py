"""Precision chosen for the machine: auto picks bfloat16 only where it is native, an emulated bfloat16
is refused with its measured cost, and the dtype enters the fingerprints of the steps it affects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from srllm.config import load_config
from srllm.core import precision
from srllm.pipeline.fingerprint import fingerprints

# torch and oneDNN honour these, so a CPU with native bfloat16 can play an AVX2-only one.
AVX2_ONLY = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def _params(tmp_path: Path, **dtypes: str) -> Path:
    raw = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    raw["quantization"]["compute_dtype"] = dtypes.get("training", "auto")
    raw["evaluation"]["dtype"] = dtypes.get("evaluation", "auto")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _check(path: Path, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "srllm", "check", str(path), *flags]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_auto_follows_native_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "native_bfloat16", lambda: (True, "native here"))
    assert precision.resolve("auto", "training").dtype == "bfloat16"
    monkeypatch.setattr(precision, "native_bfloat16", lambda: (False, "emulated here"))
    chosen = precision.resolve("auto", "evaluation")
    assert (chosen.requested, chosen.dtype) == ("auto", "float32") and "emulated here" in chosen.reason
    assert precision.resolve("bfloat16", "evaluation").dtype == "bfloat16"  # explicit stays explicit
    assert precision.slow_bfloat16_keys(precision.resolve("bfloat16", "training"), chosen) == ["quantization.compute_dtype"]


def test_the_dtype_enters_the_fingerprints_of_the_steps_it_affects(tmp_path: Path) -> None:
    base = fingerprints(load_config(_params(tmp_path, training="float32", evaluation="float32")))
    evaluation = fingerprints(load_config(_params(tmp_path, training="float32", evaluation="bfloat16")))
    training = fingerprints(load_config(_params(tmp_path, training="bfloat16", evaluation="float32")))
    assert base["train"] == evaluation["train"] and base["evaluate"] != evaluation["evaluate"]
    assert base["dataset"] == training["dataset"] and base["train"] != training["train"] != base["train"]


@pytest.mark.parametrize("key", ["training", "evaluation"])
def test_check_refuses_emulated_bfloat16_naming_key_capability_and_cost(tmp_path: Path, key: str) -> None:
    result = _check(_params(tmp_path, **{key: "bfloat16"}), env=AVX2_ONLY)
    assert result.returncode == 2, result.stdout + result.stderr
    named = {"training": "quantization.compute_dtype", "evaluation": "evaluation.dtype"}[key]
    assert named in result.stderr and "AVX2" in result.stderr and "GFLOP/s" in result.stderr, result.stderr
    assert "--allow-slow-bfloat16" in result.stderr
    forced = _check(_params(tmp_path, **{key: "bfloat16"}), "--allow-slow-bfloat16", env=AVX2_ONLY)
    assert forced.returncode == 0, forced.stderr


def test_auto_is_float32_on_an_avx2_only_cpu(tmp_path: Path) -> None:
    result = _check(_params(tmp_path), env=AVX2_ONLY)
    assert result.returncode == 0, result.stderr
    assert "training dtype: float32 (auto: the CPU emulates bfloat16: torch CPU capability AVX2" in result.stdout
    assert "evaluation dtype: float32" in result.stdout


def test_every_shipped_cpu_parameter_set_says_auto() -> None:
    for name in ("smoke.yaml", "cpu.yaml"):
        raw = yaml.safe_load((ROOT / "params" / name).read_text())
        assert raw["quantization"]["compute_dtype"] == raw["evaluation"]["dtype"] == "auto", name
