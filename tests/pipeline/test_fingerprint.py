"""Per-step fingerprints follow the code: a change re-runs exactly the steps whose computation it touches."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from srllm.config import PIPELINE, STEPS, load_config
from srllm.core import code_hash
from srllm.core.code_hash import import_closure
from srllm.core.paths import project_root
from srllm.pipeline import fingerprint
from srllm.pipeline.fingerprint import fingerprints

SMOKE = project_root() / "params" / "smoke.yaml"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the package and the notebooks that the fingerprints are computed from."""
    for folder in ("srllm", "notebooks"):
        shutil.copytree(project_root() / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fingerprint, "project_root", lambda: tmp_path)  # the notebooks
    monkeypatch.setattr(code_hash, "project_root", lambda: tmp_path)  # the package's import closure
    return tmp_path


def _rerun(tree: Path, edit) -> set[str]:
    config = load_config(SMOKE)
    before = fingerprints(config)
    edit(tree)
    after = fingerprints(config)
    return {step for step in STEPS if before[step] != after[step]}


def _append(relpath: str, text: str):
    def edit(tree: Path) -> None:
        path = tree / relpath
        path.write_text(path.read_text() + text)

    return edit


def _edit_cell(notebook: str, chosen) -> object:
    """An edit that appends a line to the first cell of ``notebook`` for which ``chosen(cell)`` is true."""

    def edit(tree: Path) -> None:
        path = tree / "notebooks" / notebook
        book = nbformat.read(path, as_version=4)
        cell = next(c for c in book.cells if chosen(c))
        cell.source += "\n# edited" if cell.cell_type == "code" else "\n\nOne more sentence."
        nbformat.write(book, path)

    return edit


def test_editing_a_markdown_cell_reruns_no_step(tree: Path) -> None:
    assert _rerun(tree, _edit_cell("02_train.ipynb", lambda c: c.cell_type == "markdown")) == set()


def test_editing_a_presentation_cell_reruns_no_step(tree: Path) -> None:
    edit = _edit_cell("05_significance.ipynb", lambda c: c.cell_type == "code" and "significance_table" in c.source)
    assert _rerun(tree, edit) == set()


def test_editing_a_report_module_reruns_no_step(tree: Path) -> None:
    assert _rerun(tree, _append("srllm/report/evaluation.py", "\n_EDITED = 1\n")) == set()
    assert _rerun(tree, _append("srllm/report/book.py", "\n_EDITED = 1\n")) == set()


def test_editing_the_significance_code_reruns_only_significance(tree: Path) -> None:
    assert _rerun(tree, _append("srllm/steps/significance.py", "\n_EDITED = 1\n")) == {"significance"}
    assert _rerun(tree, _append("srllm/core/stats.py", "\n_EDITED = 1\n")) == {"significance"}


def test_editing_the_significance_step_cell_reruns_only_significance(tree: Path) -> None:
    edit = _edit_cell("05_significance.ipynb", lambda c: "step" in c.metadata.get("tags", []))
    assert _rerun(tree, edit) == {"significance"}


def test_editing_training_code_reruns_train_and_everything_after_it(tree: Path) -> None:
    assert _rerun(tree, _append("srllm/lm/training.py", "\n_EDITED = 1\n")) == {"train", "merge", "evaluate", "significance"}


def test_editing_the_judge_reruns_the_steps_that_use_it(tree: Path) -> None:
    # dataset validates the judge and evaluate scores with it; train reads dataset, so all re-run.
    assert _rerun(tree, _append("srllm/judges/toxicity.py", "\n_EDITED = 1\n")) == set(STEPS)


def test_a_parameter_section_reruns_its_step_and_those_after_it(tree: Path) -> None:
    config = load_config(SMOKE)
    changed = config.model_copy(update={"evaluation": config.evaluation.model_copy(update={"bootstrap_resamples": 123})})
    before, after = fingerprints(config), fingerprints(changed)
    assert {s for s in STEPS if before[s] != after[s]} == {"evaluate", "significance"}


def test_the_closure_follows_function_level_imports_and_package_files() -> None:
    files = {str(p.relative_to(project_root())) for p in import_closure(("srllm.steps.evaluate",))}
    assert "srllm/lm/generation.py" in files and "srllm/resources/data_files.tsv" in files
    assert not any(f.startswith(("srllm/report/", "srllm/pipeline/", "srllm/steps/significance")) for f in files)


def test_every_notebook_has_a_step_cell() -> None:
    for step in PIPELINE:
        assert fingerprint.step_cells(step)


def test_editing_a_comment_or_docstring_reruns_no_step(tree: Path) -> None:
    def edit(tree: Path) -> None:
        path = tree / "srllm" / "lm" / "training.py"
        text = path.read_text()
        path.write_text(text.replace('"""', '"""Edited. ', 1) + "\n# a new comment\n")

    assert _rerun(tree, edit) == set()
