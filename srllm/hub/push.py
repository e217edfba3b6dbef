"""``srllm push``: put a run's models and corpus on the Hugging Face Hub, each with the card the run wrote.

What goes where (``PREFIX`` is e.g. ``your-name/srllm``):

- every merged model (``merge/<name>/``) to the model repository ``PREFIX-<name>``;
- every trained model with no merged form (prefix adapters, fully fine-tuned models:
  ``train/<name>/model/``) to ``PREFIX-<name>``;
- the corpus (``dataset/``: the card, the three JSONL splits and the schema) to the dataset
  repository ``PREFIX-corpus``.

The token comes from the environment (``HF_TOKEN``) or ``huggingface-cli login``, never from a
parameter file. A run of a randomly initialised test model is refused: its weights mean nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError

DATASET_FILES = ["README.md", "train.jsonl", "validation.jsonl", "test.jsonl", "schema.json"]
MODEL_FILES = ["README.md", "*.json", "*.safetensors", "*.txt", "*.model", "*.jinja"]  # weights, configs, tokenizer


@dataclass(frozen=True)
class Target:
    folder: Path
    repo_id: str
    repo_type: str  # "model" or "dataset"
    allow_patterns: tuple[str, ...]


def targets(run_dir: Path, prefix: str) -> list[Target]:
    """What a push of ``run_dir`` uploads, and where; refuses a run it cannot push, saying why."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ConfigError(f"{run_dir} has no manifest.json: run `srllm run` first")
    if prefix.count("/") != 1 or not all(prefix.split("/")):
        raise ConfigError(f"--to {prefix}: expected OWNER/NAME, e.g. your-name/srllm")
    params = json.loads(manifest_path.read_text())["params"]
    if params.get("model", {}).get("random_init") is not None:
        raise ConfigError(
            f"{run_dir}: the run trained a randomly initialised test model (model.random_init); its weights mean "
            "nothing, so it is not pushed"
        )
    found: list[Target] = []
    merged = {p.name for p in (run_dir / "merge").iterdir() if p.is_dir()} if (run_dir / "merge").is_dir() else set()
    for name in sorted(merged):
        found.append(Target(run_dir / "merge" / name, f"{prefix}-{name}", "model", tuple(MODEL_FILES)))
    train = run_dir / "train"
    for folder in sorted(train.glob("*/model")) if train.is_dir() else []:
        if folder.parent.name not in merged:
            found.append(Target(folder, f"{prefix}-{folder.parent.name}", "model", tuple(MODEL_FILES)))
    if (run_dir / "dataset" / "train.jsonl").is_file():
        found.append(Target(run_dir / "dataset", f"{prefix}-corpus", "dataset", tuple(DATASET_FILES)))
    missing = [str(t.folder) for t in found if not (t.folder / "README.md").is_file()]
    if missing:
        raise ConfigError(
            "these folders have no card (README.md), so the run predates the cards: run `srllm run` again "
            f"to write them: {', '.join(missing)}"
        )
    if not found:
        raise ConfigError(f"{run_dir}: nothing to push (no trained model, merged model or corpus)")
    return found


def push(run_dir: Path, prefix: str, private: bool = True, dry_run: bool = False, api: Any = None,
         log: Any = print) -> list[Target]:  # fmt: skip
    """Create each repository (private unless told otherwise) and upload its folder; return the targets."""
    found = targets(run_dir, prefix)
    if dry_run:
        for target in found:
            log(f"[srllm] would push {target.folder} to the {target.repo_type} repository {target.repo_id}")
        return found
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise ConfigError("HF_HUB_OFFLINE is set (the Makefile sets it for runs): run `HF_HUB_OFFLINE=0 srllm push ...`")
    if api is None:
        from huggingface_hub import HfApi  # lazy: huggingface_hub is a heavy import, needed only here

        api = HfApi()
    manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    message = f"srllm run {manifest['run_name']} (parameters {manifest.get('params_hash', '?')})"
    for target in found:
        api.create_repo(target.repo_id, repo_type=target.repo_type, private=private, exist_ok=True)
        api.upload_folder(
            folder_path=str(target.folder), repo_id=target.repo_id, repo_type=target.repo_type,
            allow_patterns=list(target.allow_patterns), commit_message=message,
        )  # fmt: skip
        log(f"[srllm] pushed {target.folder} to {target.repo_id}")
    return found
