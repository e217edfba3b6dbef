"""Per-step fingerprints that follow the code: a step re-runs only when something it computes with changed.

A step's fingerprint covers

* its parameter sections (``Step.sections`` of :data:`srllm.config.PIPELINE`);
* the fingerprints of the steps it reads (``Step.reads``);
* the code cells of its notebook tagged ``step`` (the call that computes; prose, tables and figures
  are other cells and cannot change a number);
* the code (syntax tree, docstrings and comments left out) of the import closure of ``Step.modules``
  (srllm.core.code_hash): every module they import, followed through the whole package, and the
  package data files those modules name.
"""

from __future__ import annotations

import hashlib

import nbformat

from ..config import PIPELINE, Step, StudyConfig
from ..core.code_hash import add_closure
from ..core.paths import project_root

STEP_TAG = "step"  # the notebook cells that compute the step's results


def step_cells(step: Step) -> str:
    """The source of the notebook cells tagged ``step``: the computation, without prose or presentation."""
    notebook = nbformat.read(project_root() / "notebooks" / step.notebook, as_version=4)
    cells = [c.source for c in notebook.cells if c.cell_type == "code" and STEP_TAG in c.metadata.get("tags", [])]
    if not cells:
        raise RuntimeError(f"notebooks/{step.notebook} has no code cell tagged {STEP_TAG!r}: the step's call must be tagged")
    return "\n\x00".join(cells)


def code_hash(step: Step) -> str:
    """Hash of the step's computing cells and of every file of its import closure."""
    digest = hashlib.sha256(step_cells(step).encode())
    add_closure(digest, step.modules)
    return digest.hexdigest()[:16]


def fingerprints(config: StudyConfig) -> dict[str, str]:
    """Each step's fingerprint, in pipeline order (a step's reads come before it)."""
    result: dict[str, str] = {}
    for step in PIPELINE:
        reads = "|".join(result[name] for name in step.reads)
        blob = f"{step.name}|{reads}|{config.section_hash(*step.sections)}|{code_hash(step)}"
        result[step.name] = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return result
