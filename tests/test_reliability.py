"""A killed run loses nothing, the same parameters give the same numbers, and no secret leaks."""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from srllm.config import STEPS
from srllm.io import read_json
from srllm.runner import NOTEBOOKS

from conftest import PLANTED_SECRET, ROOT

# Keys whose values are measurements of time or memory (or say how a run got there), not results.
VOLATILE = re.compile(r"seconds|per_s|rss|runtime|_at$|time|resumed_from|memory_mb|throughput|items_per")


def without_timings(value: Any, path: str = "") -> dict[str, Any]:
    """The results in ``value`` as {dotted path: value}, measurements of time and memory left out."""
    if isinstance(value, dict):
        items = [(f"{path}.{k}", v) for k, v in value.items() if not VOLATILE.search(k)]
    elif isinstance(value, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        return {path: value}
    return {key: leaf for sub_path, sub in items for key, leaf in without_timings(sub, sub_path).items()}


def _same(a: Any, b: Any) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def differences(first: dict[str, Any], second: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{path: (first, second)} where the values differ (NaN equals NaN: an empty output's perplexity)."""
    keys = sorted(first.keys() | second.keys())
    return {k: (first.get(k), second.get(k)) for k in keys if not _same(first.get(k), second.get(k))}


@pytest.fixture(scope="session")
def killed_run(smoke_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The smoke run again, SIGKILLed at 10 points (two in each step), then completed."""
    runs = tmp_path_factory.mktemp("killed_runs")
    env = {**os.environ, "SRLLM_RUNS_DIR": str(runs), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "srllm", "run", str(ROOT / "params" / "smoke.yaml")]
    run_dir = runs / "smoke"
    durations = {step: info["wall_seconds"] for step, info in read_json(smoke_run / "steps.json").items()}
    killed: list[str] = []
    for step in STEPS:
        for fraction in (0.0, 0.5):  # as the step starts, and half-way through it
            partial = run_dir / "notebooks" / NOTEBOOKS[step].replace(".ipynb", ".partial.ipynb")
            partial.unlink(missing_ok=True)
            # A new session, so the kill reaches the runner, its notebook kernel and any training worker.
            process = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 600
            while not partial.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert process.poll() is None, f"the run ended before step {step} started"
            time.sleep(fraction * durations[step])
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            killed.append(f"{step}@{fraction}")
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return run_dir, killed


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_metrics(smoke_run: Path, killed_run: tuple[Path, list[str]]) -> None:
    run_dir, killed = killed_run
    assert len(killed) == 10 and {k.split("@")[0] for k in killed} == set(STEPS)
    changed = differences(without_timings(read_json(smoke_run / "metrics.json")), without_timings(read_json(run_dir / "metrics.json")))
    assert not changed, f"{len(changed)} results differ (uninterrupted, resumed): {dict(list(changed.items())[:20])}"
    assert not list(run_dir.rglob("*.partial.ipynb")) and not list(run_dir.rglob("*.tmp"))


@pytest.mark.slow
def test_same_parameters_give_identical_per_example_outputs(smoke_run: Path, killed_run: tuple[Path, list[str]]) -> None:
    run_dir, _ = killed_run
    first = pd.read_parquet(smoke_run / "evaluate" / "per_example.parquet")
    second = pd.read_parquet(run_dir / "evaluate" / "per_example.parquet")
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.slow
def test_manifest_records_what_can_change_a_number(smoke_run: Path) -> None:
    manifest = read_json(smoke_run / "manifest.json")
    determinism = manifest["determinism"]
    for key in ("torch_threads", "training_dtype", "generation", "train_batch_size", "score_batch_size"):
        assert key in determinism
    assert manifest["seeds"]["seed"] == 0
    assert {"torch", "transformers", "peft", "trl", "bitsandbytes"} <= set(manifest["packages"])


@pytest.mark.slow
def test_no_artifact_contains_a_planted_secret(smoke_run: Path, smoke_book: Path) -> None:
    needle = PLANTED_SECRET.encode()
    scanned = 0
    for root in (smoke_run, smoke_book):
        for path in root.rglob("*"):
            if path.is_file():
                scanned += 1
                assert needle not in path.read_bytes(), f"secret found in {path}"
    assert scanned > 20
