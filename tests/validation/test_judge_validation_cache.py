"""The dataset step's judge validation is computed once per machine, read back the same, and a cached
result verifies the same data files (the run's manifest lists them either way)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from conftest import ROOT

from srllm.config import load_config
from srllm.data.datadir import DataDir
from srllm.data.sources import PERSPECTIVE_PROMPTS, TOXIGEN_ANNOTATED
from srllm.steps import judge_validation


def test_a_second_call_reads_the_cache_verifies_the_same_files_and_a_new_judge_recomputes(
    tmp_path: Path, data_dir, monkeypatch
) -> None:
    monkeypatch.setenv("SRLLM_CACHE_DIR", str(tmp_path / "cache"))
    config = load_config(ROOT / "params" / "smoke.yaml")
    other = SimpleNamespace(version="embedding-1")
    calls = []

    def fake(config, data, judge, other, other_kind):
        calls.append(judge.version)
        data.path(TOXIGEN_ANNOTATED)
        data.path(PERSPECTIVE_PROMPTS)
        return {"auroc_toxigen_human": 0.75, "interval": (0.7, 0.8)}

    monkeypatch.setattr(judge_validation, "validate_uncached", fake)
    first_data = DataDir(data_dir.root)
    first_data.path(PERSPECTIVE_PROMPTS)  # verified before: still recorded as a file the validation reads
    first = judge_validation.validate_judges(config, first_data, SimpleNamespace(version="a"), other, "embedding")
    second_data = DataDir(data_dir.root)
    second = judge_validation.validate_judges(config, second_data, SimpleNamespace(version="a"), other, "embedding")
    assert calls == ["a"]
    assert first == second == {"auroc_toxigen_human": 0.75, "interval": [0.7, 0.8]}  # as JSON reads it back
    assert set(first_data.verified) == set(second_data.verified) == {TOXIGEN_ANNOTATED, PERSPECTIVE_PROMPTS}
    judge_validation.validate_judges(config, DataDir(data_dir.root), SimpleNamespace(version="b"), other, "embedding")
    assert calls == ["a", "b"]
