"""What ``srllm list`` shows: every task, system, training method and shipped parameter set, in plain words.

Tasks describe themselves (srllm/tasks/); systems and methods are the schema's names (srllm.config), and
tests/pipeline/test_cli.py checks that each has a description here, so none can be left out of the list.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .core.paths import project_root


def tasks() -> dict[str, str]:
    """Every registered evaluation task with its description and default sample (from its module's TASK)."""
    from .tasks import TASKS  # imports the task modules (and torch): only `srllm list` needs them

    return {
        name: f"{task.description} [samples: {task.default_samples if task.default_samples is not None else 'all'}, {task.samples_help}]"
        for name, task in TASKS.items()
    }


SYSTEMS = {
    "input": "the input unchanged: the floor every rewrite is compared with",
    "reference": "the human safe rewrite of each item, scored as a system: the ceiling (in-house only)",
    "lexicon_delete": "rule-based: deletes every word of a profanity lexicon",
    "base": "the base chat model, zero-shot, with the debiasing instruction",
    "base_fewshot": "the base chat model with a few training pairs shown first",
    "srllm-qlora": "the base model fine-tuned with QLoRA (the paper's method), merged",
    "srllm-lora": "the base model fine-tuned with LoRA (no 4-bit base), merged",
    "srllm-prefix": "the base model with a trained prefix (prefix tuning), as an adapter",
    "srllm-full": "the base model with every weight fine-tuned",
}
METHODS = {
    "qlora": "low-rank adapters on a frozen 4-bit base (the paper's method; needs bitsandbytes)",
    "lora": "low-rank adapters on a frozen full-precision base",
    "prefix": "trained virtual tokens before every input (prefix tuning)",
    "full": "every weight of the model trained",
}


def parameter_sets(folder: Path | None = None) -> dict[str, str]:
    """``{path: description}`` for each parameter file in ``params/``: the first sentence of its
    opening comment (every shipped file starts by saying what it is for)."""
    folder = folder or project_root() / "params"
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        comment = []
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            comment.append(line.lstrip("#").strip())
        text = " ".join(part for part in comment if part)
        first = re.split(r"(?<=[.])\s+(?=[A-Z])", text, maxsplit=1)[0] if text else ""
        run_name = (yaml.safe_load(path.read_text()) or {}).get("run_name", "?")
        found[f"{path.parent.name}/{path.name}"] = f"(run {run_name}) {first or 'no description in the file'}"
    return found
