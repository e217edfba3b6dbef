"""A killed run loses nothing, the same parameters give the same numbers, and no secret leaks."""

from __future__ import annotations

import json
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
import psutil
import pytest
from conftest import PLANTED_SECRET, ROOT

from srllm.config import STEPS, pipeline_step
from srllm.core.io import read_json

# Keys whose values are measurements of time or memory (or say how a run got there), not results.
# Timings, and where a cache was found rather than filled (the uninterrupted run trained the judge the resumed one reuses).
VOLATILE = re.compile(r"seconds|per_s|rss|runtime|_at$|time|resumed_from|memory_mb|throughput|items_per|^cached$|^path$")


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


def _executed_share(notebook: Path) -> float:
    """The share of a (partial) notebook's code cells that have run; papermill saves after each cell."""
    try:
        cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    except (OSError, ValueError, KeyError):
        return 0.0  # not there yet, or caught while papermill rewrites it
    return sum(c.get("execution_count") is not None for c in cells) / max(len(cells), 1)


def _part_way(step: str, run_dir: Path, partial: Path) -> bool:
    """Observed progress inside a step: a training checkpoint on disk, else half the notebook's cells run."""
    if step == "train":
        return any(run_dir.glob("train/*/checkpoints/checkpoint-*"))
    return _executed_share(partial) >= 0.5


def _wait_for(condition: Any, process: subprocess.Popen, what: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.02)


# One stop per step, as a step starts or part-way through it. Every stop costs the suite a restart and
# the work the step redoes, so each step is stopped once: part-way where a step holds state a resume
# must get right (the corpus, a training checkpoint, the sharded evaluation), as it starts where it is short.
KILL_POINTS = {"dataset": ("part-way",), "train": ("part-way",), "merge": ("start",), "evaluate": ("part-way",),
               "significance": ("start",)}  # fmt: skip


@pytest.fixture(scope="session")
def killed_run(smoke_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], dict[str, Any]]:
    """The smoke run again, stopped once in every step (at ``KILL_POINTS``, found by observed progress,
    never by a timer), then completed. Every stop is a SIGKILL of the run's process group but the one
    part-way through training, which is a SIGTERM to ``srllm run`` alone: the clean stop."""
    runs = tmp_path_factory.mktemp("killed_runs")
    env = {**os.environ, "SRLLM_RUNS_DIR": str(runs), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "srllm", "run", str(ROOT / "params" / "smoke.yaml")]
    run_dir = runs / "smoke"
    killed: list[str] = []
    clean_stop: dict[str, Any] = {}
    for step in STEPS:
        partial = run_dir / "notebooks" / pipeline_step(step).notebook.replace(".ipynb", ".partial.ipynb")
        for point in KILL_POINTS[step]:
            partial.unlink(missing_ok=True)
            # A new session, so a group kill reaches the runner, its notebook kernel and any training worker.
            # Output to a file: a pipe would stay open while a killed run's kernel winds down.
            output = runs / f"{step}-{point}.out"
            with output.open("w") as sink:
                process = subprocess.Popen(command, env=env, start_new_session=True, stdout=sink, stderr=subprocess.STDOUT)
            _wait_for(partial.exists, process, f"step {step} started")
            if point == "part-way":
                _wait_for(lambda: _part_way(step, run_dir, partial), process, f"progress in step {step}")
            if step == "train" and point == "part-way":
                clean_stop = {**_terminate(process), "output": output.read_text()}
            else:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            killed.append(f"{step}@{point}")
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return run_dir, killed, clean_stop


def _terminate(process: subprocess.Popen) -> dict[str, Any]:
    """SIGTERM to the runner alone; what became of it and of every process it had started."""
    tree = psutil.Process(process.pid).children(recursive=True)
    workers = [p for p in tree if "srllm.lm.training" in " ".join(_cmdline(p))]
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    seconds = time.monotonic() - started
    _, survivors = psutil.wait_procs(tree, timeout=5)
    return {"returncode": process.returncode, "seconds": seconds, "tree": len(tree),
            "workers": len(workers), "survivors": [" ".join(_cmdline(p)) for p in survivors]}  # fmt: skip


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_metrics(smoke_run: Path, killed_run: tuple[Path, list[str]]) -> None:
    run_dir, killed, _ = killed_run
    assert killed == [f"{step}@{point}" for step in STEPS for point in KILL_POINTS[step]] and set(KILL_POINTS) == set(STEPS)
    changed = differences(without_timings(read_json(smoke_run / "metrics.json")), without_timings(read_json(run_dir / "metrics.json")))
    assert not changed, f"{len(changed)} results differ (uninterrupted, resumed): {dict(list(changed.items())[:20])}"
    assert not list(run_dir.rglob("*.partial.ipynb")) and not list(run_dir.rglob("*.tmp"))


@pytest.mark.slow
def test_same_parameters_give_identical_per_example_outputs(smoke_run: Path, killed_run: tuple[Path, list[str]]) -> None:
    run_dir, _, _ = killed_run
    first = pd.read_parquet(smoke_run / "evaluate" / "per_example.parquet")
    second = pd.read_parquet(run_dir / "evaluate" / "per_example.parquet")
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.slow
def test_sigterm_stops_every_process_of_the_run_and_says_how_to_resume(killed_run: tuple[Path, list[str], dict[str, Any]]) -> None:
    _, _, stop = killed_run
    assert stop["workers"] >= 1, "the SIGTERM was meant to land while a training worker ran"
    assert stop["returncode"] == 128 + signal.SIGTERM, stop["output"][-2000:]
    assert stop["seconds"] < 30 and not stop["survivors"], stop
    assert "run the same command again" in stop["output"]
    # Progress reached the terminal while training ran.
    assert re.search(r"\[srllm\] train \S+: step \d+/\d+, loss [0-9.]+", stop["output"]), stop["output"][-2000:]


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
