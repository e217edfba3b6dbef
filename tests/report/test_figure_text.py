"""Every figure's caption and alt text agree with the figure drawn: colour-map ends, rows and columns."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import pytest
from conftest import ROOT

from srllm.config import PIPELINE
from srllm.core.io import read_json
from srllm.report.evaluation import group_heatmap
from srllm.report.figure_text import colour_name, disagreements, figure_encoding


def _heatmap(cmap: str) -> plt.Figure:
    matrix = pd.DataFrame({"base": [0.1, -0.4], "srllm-qlora": [0.3, 0.2]}, index=["women", "men"])
    return group_heatmap(matrix, "t", "mean compound", cmap=cmap, center=0.0, columns="language model")


def test_a_caption_that_names_the_wrong_colour_or_axis_is_caught() -> None:
    assert (
        colour_name((0.8, 0.1, 0.1)) == "red"
        and colour_name((0.1, 0.3, 0.8)) == "blue"
        and colour_name((0.5, 0.5, 0.5)) == "grey"
    )
    wrong, right = _heatmap("vlag"), _heatmap("vlag_r")  # vlag runs blue -> red; vlag_r red -> blue
    caption = "Mean sentiment by group (negative is red); rows are groups and columns are language models."
    assert disagreements(caption, figure_encoding(right)) == []
    problems = disagreements(caption, figure_encoding(wrong))
    assert len(problems) == 1 and "low end is blue" in problems[0]
    assert disagreements("Red is positive.", figure_encoding(wrong)) == []
    assert len(disagreements("Rows are systems, columns are target groups.", figure_encoding(right))) == 2
    plt.close("all")


def _figure_cells(notebook: nbformat.NotebookNode) -> list[int]:
    return [
        i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "figure" in c.metadata.get("mystnb", {})
    ]


@pytest.mark.slow
def test_every_figure_of_the_book_agrees_with_its_caption_and_alt_text(smoke_run: Path) -> None:
    """Each notebook's presentation cells run again on the smoke run's results (the step cell's result read
    from the step's metrics.json) and each figure is checked against its cell's caption and alt text."""
    checked, problems = 0, []
    for step in PIPELINE:
        notebook = nbformat.read(ROOT / "notebooks" / step.notebook, as_version=4)
        if not _figure_cells(notebook):
            continue
        namespace = {"params_path": str(smoke_run / "params.yaml"), "run_dir": str(smoke_run)}
        for index, cell in enumerate(notebook.cells):
            tags = cell.metadata.get("tags", [])
            if cell.cell_type != "code" or "parameters" in tags:
                continue
            if "step" in tags:  # the step's result, as the step wrote it
                namespace["metrics"] = read_json(smoke_run / step.name / "metrics.json")
                continue
            namespace.pop("fig", None)
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, f"{step.notebook}[{index}]", "exec"), namespace)  # noqa: S102
            presentation = cell.metadata.get("mystnb", {})
            if "figure" not in presentation or "fig" not in namespace:
                continue  # a figure the smoke run has no data for (its cell draws nothing)
            encoding = figure_encoding(namespace["fig"])
            for what, text in (("caption", presentation["figure"].get("caption", "")),
                               ("alt", presentation.get("image", {}).get("alt", ""))):  # fmt: skip
                problems += [
                    f"{step.notebook} {presentation['figure'].get('name')} {what}: {p}"
                    for p in disagreements(text, encoding)
                ]
            checked += 1
            plt.close("all")
    assert checked >= 8, f"only {checked} figures were drawn and checked"
    assert not problems, "\n".join(problems)
