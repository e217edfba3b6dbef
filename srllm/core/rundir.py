"""What the steps share: the run folder's layout, splits, seeded samples."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pandas as pd

from .io import write_json


def step_dir(run_dir: Path, step: str) -> Path:
    path = Path(run_dir) / step
    path.mkdir(parents=True, exist_ok=True)
    return path


def finish(run_dir: Path, step: str, metrics: dict[str, Any], data_files: dict[str, str] | None = None) -> dict[str, Any]:
    """Write the step's metrics (and the data files it read with their checksums, for the manifest)."""
    out = step_dir(run_dir, step)
    if data_files is not None:
        write_json(out / "data_files.json", dict(sorted(data_files.items())))
    write_json(out / "metrics.json", metrics)
    return metrics


def load_split(run_dir: Path, split: str) -> list[dict[str, Any]]:
    path = Path(run_dir) / "dataset" / f"{split}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def sample(rows: list[Any], n: int | None, seed: int, salt: str) -> list[Any]:
    """A seeded sample of ``n`` rows (all rows when n is None or larger)."""
    if n is None or n >= len(rows):
        return list(rows)
    return random.Random(f"{seed}-{salt}").sample(rows, n)


def load_per_example(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(Path(run_dir) / "evaluate" / "per_example.parquet")
