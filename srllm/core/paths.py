"""Where things live: the cache for converted models and downloads, and the layout of a run."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$SRLLM_CACHE_DIR``, else ``~/.cache/srllm``."""
    root = Path(os.environ.get("SRLLM_CACHE_DIR") or Path.home() / ".cache" / "srllm")
    root.mkdir(parents=True, exist_ok=True)
    return root


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]  # srllm/core/paths.py -> the repository


def runs_dir() -> Path:
    return Path(os.environ.get("SRLLM_RUNS_DIR") or project_root() / "runs")
