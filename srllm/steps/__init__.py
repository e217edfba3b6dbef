"""The five steps of the study. Each notebook is a narrative around one of these functions.

Every step reads the parameters and the run folder, writes its artifacts under ``<run>/<step>/``
atomically, and returns (and writes) its metrics. Steps only communicate through files, so a step
can be re-run alone. One module per step.
"""

from ..io import read_json
from .common import load_per_example, load_split, sample, step_dir
from .dataset import build_dataset
from .evaluate import evaluate, load_system, system_models
from .merge import merge
from .significance import significance
from .train import train

__all__ = [
    "build_dataset", "train", "merge", "evaluate", "significance", "load_split", "load_per_example",
    "load_system", "system_models", "read_json", "sample", "step_dir",
]  # fmt: skip
