"""The metric validation is computed once per machine for the same inputs and code, and read back the same."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
from conftest import ROOT

from srllm.config import load_config
from srllm.steps import metric_validation


def _ctx(tmp_path: Path, judge_version: str = "judge-a") -> SimpleNamespace:
    config = load_config(ROOT / "params" / "smoke.yaml")
    return SimpleNamespace(config=config, judge=SimpleNamespace(version=judge_version), reference_model=tmp_path / "model",
                           shard=SimpleNamespace(is_main=True))  # fmt: skip


def test_a_second_call_reads_the_cache_and_a_new_judge_recomputes(tmp_path: Path, data_dir, monkeypatch) -> None:
    monkeypatch.setenv("SRLLM_CACHE_DIR", str(tmp_path / "cache"))
    calls = []

    def fake(ctx, data):
        calls.append(ctx.judge.version)
        return {"spearman": 0.5, "pair": (1, 2)}, pd.DataFrame({"source_id": ["a"], "toxicity": [0.25]})

    monkeypatch.setattr(metric_validation, "validate_uncached", fake)
    first = metric_validation.validate_metrics(_ctx(tmp_path), data_dir)
    second = metric_validation.validate_metrics(_ctx(tmp_path), data_dir)
    assert calls == ["judge-a"]
    assert first[0] == second[0] == {"spearman": 0.5, "pair": [1, 2]}  # as JSON reads it back, both times
    pd.testing.assert_frame_equal(first[1], second[1])
    metric_validation.validate_metrics(_ctx(tmp_path, "judge-b"), data_dir)
    assert calls == ["judge-a", "judge-b"]
