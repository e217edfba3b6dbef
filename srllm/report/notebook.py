"""The one setup call every pipeline notebook makes: logging, display options, the parameters and the run folder."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..config import StudyConfig, load_config


def setup(params_path: str | Path, run_dir: str | Path) -> tuple[StudyConfig, Path]:
    """Configure the notebook's logging and tables; return the validated parameters and the run folder."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    pd.set_option("display.max_colwidth", 120)
    return load_config(params_path), Path(run_dir)
