"""The book's human-evaluation page in a test build: the real EMNLP 2021 ratings as imported (agreement,
figures, tests, power) and a run without ratings (protocol only), built by Jupyter Book with warnings
as errors and checked in headless Chromium like the study's book."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from human_fixtures import synthetic_run

from srllm.human.emnlp import emnlp_run
from srllm.human.importer import import_ratings
from srllm.human.report import human_page
from srllm.report.book import _stage_mathjax
from srllm.report.book_check import check_book

ROOT = Path(__file__).resolve().parents[2]


def test_human_page_builds_and_shows_the_ratings(tmp_path: Path, data_dir) -> None:
    rated, unrated = tmp_path / "runs" / "emnlp", synthetic_run(tmp_path / "runs", "unrated")
    emnlp_run(data_dir, rated, tmp_path / "sheets")
    import_ratings(rated, tmp_path / "sheets", resamples=200)
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "_config.yml", project / "_config.yml")
    shutil.copy(ROOT / "references.bib", project / "references.bib")  # _config.yml's bibtex_bibfiles
    (project / "book").mkdir()
    shutil.copy(ROOT / "book" / "favicon.svg", project / "book" / "favicon.svg")
    shutil.copy(ROOT / "book" / "tables.css", project / "book" / "tables.css")  # _config.yml's html_static_path
    (project / "_toc.yml").write_text("format: jb-book\nroot: book/run/human\nchapters:\n  - file: book/unrated/human\n")
    for run, folder in ((rated, "run"), (unrated, "unrated")):
        stage = project / "book" / folder
        stage.mkdir(parents=True)
        (stage / "human.md").write_text(human_page(run, stage))
    _stage_mathjax(project / "_mathjax_static" / "mathjax")
    jb = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jb), "build", str(project), "--path-output", str(tmp_path / "out"), "--warningiserror", "--nitpick"],
                            capture_output=True, text=True, cwd=project)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html_root = tmp_path / "out" / "_build" / "html"
    page = (html_root / "book" / "run" / "human.html").read_text()
    summary = json.loads((rated / "human" / "metrics.json").read_text())["agreement_summary"]
    for scale, figures in summary.items():
        assert f"{figures['fleiss_kappa']:.3f}" in page and f"{figures['alpha']:.3f}" in page, scale
    assert "0.415" in page and "0.537" in page  # toxicity (EMNLP's style): Fleiss' kappa, ordinal alpha
    assert "paragedi" in page and "How many items and raters" in page and "Protocol and scales" in page
    assert page.count("<figure") == 2
    empty = re.sub(r"<[^>]+>", "", (html_root / "book" / "unrated" / "human.html").read_text())  # code is highlighted in spans
    assert "has no human ratings yet" in empty and "srllm human export" in empty and "not_rewrite" in empty
    assert check_book(html_root, tmp_path / "shots") == {}
