"""Build the Jupyter Book from one run: stage its executed notebooks and generated pages, then build.

Nothing is executed during the build; every number in the run pages comes from the run's
notebooks and ``manifest.json``. Warnings are errors (``-W -n``), so a broken reference fails.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import yaml

from ..config import PIPELINE, STEPS
from ..core.io import read_json, write_json, write_text
from ..core.markdown import table
from ..core.paths import project_root
from ..human.report import human_page
from .claims import check_claims
from .trust import trust_page

STAGE = Path("book") / "run"


def _stage_notebook(source: Path, target: Path, current: Path | None = None) -> None:
    """Copy an executed notebook into the book, folding parameters and taking figure captions and
    alt text (``mystnb`` cell metadata) from the current notebook in ``notebooks/``, matched by code."""
    notebook = nbformat.read(source, as_version=4)
    presentation = {}
    if current is not None and current.is_file():
        presentation = {
            c.source: c.metadata["mystnb"] for c in nbformat.read(current, as_version=4).cells if "mystnb" in c.metadata
        }
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source in presentation:
            cell.metadata["mystnb"] = presentation[cell.source]
        if cell.cell_type == "code":
            # The book shows results (tables, figures, Markdown); logs and progress bars stay in the
            # executed notebook in runs/<name>/notebooks/.
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "stream"]
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            # Folded, not removed: the reader can see which parameters produced the page.
            cell.metadata["tags"] = [*tags, "hide-cell"]
        elif cell.cell_type == "code" and "remove-cell" not in tags:
            # The book shows results; the one-line calls into srllm stay one click away.
            cell.metadata["tags"] = [*tags, "hide-input"]
    nbformat.write(notebook, target)


def _evaluation_task_seconds(run_dir: Path) -> list[dict[str, str]]:
    """Seconds per evaluation task, all systems together, from the evaluate step's metrics."""
    path = run_dir / "evaluate" / "metrics.json"
    if not path.is_file():
        return []

    evaluated = read_json(path)
    rows = [{"task": f"`{task}`", "wall time (s)": f"{value:.0f}"} for task, value in seconds_by_task(evaluated).items()]
    if "dtype_check" in evaluated:
        rows.append({"task": "float32 check", "wall time (s)": f"{evaluated['dtype_check']['float32_seconds']:.0f}"})
    return rows


def _float32_check_note(run_dir: Path) -> str:
    path = run_dir / "evaluate" / "metrics.json"
    if path.is_file() and "dtype_check" in read_json(path):
        return " (the float32 check re-runs the first items of each task in float32 to bound what bfloat16 changes)"
    return ""


def _book_build_note(run_dir: Path) -> str:
    """The previous book build's time (this build's is written after the page): none for a first build."""
    path = run_dir / "book_build.json"
    if not path.is_file():
        return ""
    return f"The last book build from this run took {read_json(path)['wall_seconds']:.0f} s.\n"


def _precision_section(manifest: dict[str, Any]) -> str:
    """Which dtype each use ran in on this run's machine, what the parameters asked for, and why."""
    chosen = manifest.get("precision")
    if not chosen:
        return ""
    rows = [
        {"use": use, "parameter": f"`{key}: {chosen[use]['requested']}`", "dtype": chosen[use]["dtype"],
         "why": chosen[use]["reason"]}  # fmt: skip
        for use, key in (("training", "quantization.compute_dtype"), ("evaluation", "evaluation.dtype"))
    ]
    native = "computes bfloat16 natively" if chosen["native_bfloat16"] else "only emulates bfloat16 (about 65x slower than float32)"
    return f"""## Precision

The machine of this run (torch CPU capability `{chosen['cpu_capability']}`, device `{chosen['device']}`)
{native}. With `auto`, the study takes bfloat16 only where it is native and float32 elsewhere; the
dtype is part of the fingerprint of every step it affects, so a run moved to another class of CPU
recomputes those steps.

{table(rows)}"""


def reproducibility_page(run_dir: Path) -> str:
    manifest = read_json(run_dir / "manifest.json")
    steps = [
        {"step": step, "wall time (s)": f"{info['wall_seconds']:.0f}", "peak memory (MB)": f"{info['peak_rss_mb']:.0f}",
         "finished (UTC)": info["finished_at"]}  # fmt: skip
        for step, info in sorted(manifest["steps"].items(), key=lambda item: STEPS.index(item[0]))
    ]
    total = sum(info["wall_seconds"] for info in manifest["steps"].values())
    steps.append({"step": "**all steps**", "wall time (s)": f"**{total:.0f}**", "peak memory (MB)": "", "finished (UTC)": ""})
    tasks = _evaluation_task_seconds(run_dir)
    packages = [{"package": k, "version": v} for k, v in manifest["packages"].items()]
    data = [{"file": f"`{k}`", "sha256": f"`{v}`"} for k, v in manifest["data_files_sha256"].items()]
    git = manifest["git"]
    commit = f"`{git['commit']}`" + (" (with uncommitted changes)" if git["dirty"] else "") if git["commit"] else "unknown"
    determinism = [{"setting": k, "value": f"`{v}`"} for k, v in manifest["determinism"].items()]
    precision_section = _precision_section(manifest)
    return f"""# Reproducibility

This page is generated from `runs/{manifest['run_name']}/manifest.json`.

Run `{manifest['run_name']}` from parameter file `{Path(manifest['params_file']).name}`
(parameter hash `{manifest['params_hash']}`), code at commit {commit}.

## Re-running it

```bash
make study                                   # the CPU default: params/cpu.yaml, then this book
.venv/bin/srllm run params/{Path(manifest['params_file']).name}    # this run's steps (up-to-date steps are skipped)
.venv/bin/srllm book runs/{manifest['run_name']}                   # this book
```

Each step is a notebook executed by papermill; to try other parameters, copy a file in `params/`,
change it (the schema rejects unknown keys), and run it under a new `run_name`. A single notebook
can also be run by hand:
`papermill notebooks/01_dataset.ipynb out.ipynb -p params_path params/cpu.yaml -p run_dir runs/cpu`.

## Stage timings

{table(steps)}
The evaluation step by task, every system together{_float32_check_note(run_dir)}:

{table(tasks)}
{_book_build_note(run_dir)}
{precision_section}
## Settings that can change a number

{table(determinism)}
## Package versions

{table(packages)}
## Data files read (SHA-256)

{table(data)}"""


# Where each of the paper's headline results has its counterpart in this book.
COUNTERPARTS = {
    "Rewrites are far less toxic than the inputs": "{doc}`run/04_evaluate` (results), {doc}`run/05_significance` (in-house)",
    "The rewrite keeps the input's information": "{doc}`run/04_evaluate`, {doc}`run/trust` (retention measured three ways)",
    "SR-LLM beats prompt-only baselines": "{doc}`run/05_significance` (in-house and ToxiGen tables)",
    "SR-LLM beats traditional fine-tuning": "{doc}`run/05_significance` (`srllm-full` rows)",
    "SR-LLM beats deleting lexicon words": "{doc}`run/05_significance` (`lexicon_delete` rows)",
    "Prefix tuning comes close to QLoRA": "{doc}`run/05_significance` (`srllm-prefix` rows)",
    "Language modelling is preserved (StereoSet LMS)": "{doc}`run/04_evaluate` (StereoSet, CrowS-Pairs), {doc}`run/05_significance`",
    "Human raters agree, and rate SR-LLM's outputs safer": "{doc}`run/human`",
}


def glance_page(run_dir: Path) -> str:
    """The paper's headline results beside this run's, with the verdict: the first thing the introduction shows.

    Included by book/intro.md, so its document links are relative to book/."""
    manifest = read_json(run_dir / "manifest.json")
    metrics = read_json(run_dir / "metrics.json")
    rows = [{"the paper": f"{c.claim}: {c.paper}", "this run": c.ours if len(c.ours) < 260 else c.ours[:257] + "...", "verdict": f"**{c.verdict}**",
             "where": COUNTERPARTS.get(c.claim, "{doc}`run/claims`")} for c in check_claims(metrics, manifest["params"])]  # fmt: skip
    continuation = (metrics.get("evaluate") or {}).get("toxigen_continuation") or {}
    reference = (metrics.get("significance") or {}).get("inhouse", {}).get("reference_system")
    if continuation:
        ours = "; ".join(f"{system} {values['toxic_pct']:.1f}%" for system, values in continuation.items()
                         if system in ("base", reference))  # fmt: skip
        rows.append({"the paper": "ToxiGen continuations, % toxic (Llama 2 model card: Llama-2-7b 21.25%, Llama-2-7b-chat 0.00%, "
                                  "ToxiGen RoBERTa judge, zero-shot)",
                     "this run": f"{ours} (our offline judge; {metrics['evaluate']['tasks']['toxigen_continuation']['n_items']} prompts)",
                     "verdict": "**not comparable**", "where": "{doc}`run/04_evaluate`"})  # fmt: skip
    return f"""## The results at a glance

Run `{manifest['run_name']}` beside the paper's headline results (SR-LLM, arXiv 2404.01399 v5). The verdicts follow the
rules of {{doc}}`run/claims`; every number comes from this run's `metrics.json`. {_scale_note(manifest, metrics, "limitations")}

{table(rows)}"""


def claims_page(run_dir: Path) -> str:

    manifest = read_json(run_dir / "manifest.json")
    metrics = read_json(run_dir / "metrics.json")
    claims = check_claims(metrics, manifest["params"])
    rows = [
        {"claim": c.claim, "the paper": c.paper, "this run": c.ours, "verdict": f"**{c.verdict}**", "why": c.reason,
         "under other metric choices": c.robustness or "n/a"}
        for c in claims
    ]
    counts = {v: sum(c.verdict == v for c in claims) for v in ("reproduced", "partly reproduced", "not reproduced", "not comparable", "not tested in this run")}
    summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    return f"""# The paper's claims, side by side

Each headline claim of SR-LLM (arXiv 2404.01399 v5) against run `{manifest['run_name']}`: {summary}.
The verdicts follow the rule stated in the last column (code: `srllm/report/claims.py`); the numbers come
from `runs/{manifest['run_name']}/metrics.json`, where `significance` holds the paired tests.

{table([{k: str(v).replace("|", "/") for k, v in row.items()} for row in rows])}
{_scale_note(manifest, metrics)}
"""


def _scale_note(manifest: dict[str, Any], metrics: dict[str, Any], limitations: str = "../limitations") -> str:
    """What model and judges this run's verdicts rest on, from its parameters and training metrics."""
    model = manifest["params"]["model"]
    trained = next((m for m in metrics.get("train", {}).values() if isinstance(m, dict) and m.get("total_params")), None)
    size = f", {trained['total_params'] / 1e6:,.0f}M parameters" if trained else ""
    random = " (randomly initialised: a test of the code, not of the method)" if model.get("random_init") else ""
    judge = manifest["params"].get("judge", {}).get("kind", "finetuned")
    return (
        f"Run `{manifest['run_name']}` fine-tunes `{model['name_or_path']}`{size}{random}, and its toxicity verdicts come "
        f"from the offline `{judge}` judge (see {{doc}}`{limitations}`). So a claim that is not reproduced here is "
        "evidence about the method at this scale, not a refutation of the paper's numbers for Llama-2-7b-chat."
    )


def _stage_mathjax(target: Path) -> None:
    """Copy MathJax 3 (es5 build) from the django-static-mathjax package into the book's static files."""

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("MathJax for offline math: pip install django-static-mathjax==3.2.2.1")
    source = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    if not (target / "tex-chtml.js").is_file():
        shutil.copytree(source, target, dirs_exist_ok=True)


def check_toc(toc_path: Path) -> None:
    """The book's run part must list the pipeline's chapters in pipeline order (srllm.config.PIPELINE)."""
    toc = yaml.safe_load(toc_path.read_text())
    files = [chapter["file"] for part in toc.get("parts", []) for chapter in part.get("chapters", [])]
    listed = [f for f in files if f in {step.chapter for step in PIPELINE}]
    expected = [step.chapter for step in PIPELINE]
    if listed != expected:
        raise RuntimeError(f"{toc_path}: the run chapters are {listed}, but the pipeline declares {expected} (srllm/config.py PIPELINE)")


def build(run_dir: Path, out_dir: Path | None = None, log: Any = print) -> Path:
    root = project_root()
    if not (run_dir / "manifest.json").is_file():
        raise FileNotFoundError(f"{run_dir} has no manifest.json: run `srllm run` first")
    stage = root / STAGE
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    check_toc(root / "_toc.yml")
    for step in PIPELINE:
        source = run_dir / "notebooks" / step.notebook
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: the run has not completed step '{step.name}'")
        _stage_notebook(source, stage / step.notebook, root / "notebooks" / step.notebook)
    _stage_mathjax(root / "_mathjax_static" / "mathjax")
    write_text(stage / "reproducibility.md", reproducibility_page(run_dir))
    write_text(stage / "claims.md", claims_page(run_dir))
    write_text(stage / "trust.md", trust_page(run_dir, stage))
    write_text(stage / "glance.md", glance_page(run_dir))  # included by book/intro.md

    write_text(stage / "human.md", human_page(run_dir, stage))  # the protocol alone when the run has no ratings
    out_dir = (out_dir or root).resolve()
    command = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(root), "--path-output", str(out_dir),
        "--warningiserror", "--nitpick", "--keep-going",
    ]  # fmt: skip
    log(f"[srllm] building the book from {run_dir}")
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=root)
    write_json(run_dir / "book_build.json", {"wall_seconds": round(time.perf_counter() - started, 2), "out": str(out_dir)})
    return out_dir / "_build" / "html"


def seconds_by_task(metrics: dict[str, Any]) -> dict[str, float]:
    """Wall seconds per task, every system together, from the step's ``timings_seconds`` (per system, per task)."""
    totals: dict[str, float] = {}
    for by_task in metrics.get("timings_seconds", {}).values():
        for task, seconds in by_task.items():
            totals[task] = totals.get(task, 0.0) + seconds
    return totals
