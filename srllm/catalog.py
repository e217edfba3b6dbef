"""What ``srllm list`` shows: every task, system, training method and shipped parameter set, in plain words.

The names are the schema's (srllm.config); tests/test_cli.py checks that each has a description
here, so a task or system added to the schema cannot be left out of the list.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .core.paths import project_root

TASKS = {
    "inhouse": "held-out unsafe -> safe pairs of the run's own corpus, rewritten by every system",
    "toxigen_rewrite": "the 940 human-annotated ToxiGen statements rewritten; toxicity before and after, per group",
    "toxigen_continuation": "ToxiGen prompts continued by each language model; share of toxic continuations per group",
    "bold": "BOLD Wikipedia sentence beginnings continued; sentiment and toxicity of the continuations per group",
    "stereoset": "StereoSet: does the model prefer the stereotype (SS, LMS and ICAT per domain)",
    "crows_pairs": "CrowS-Pairs: how often the more stereotyping sentence of a pair is more likely, per bias type",
    "counterfactual": "the same neutral sentences with the group swapped: how much toxicity and sentiment differ",
}
SYSTEMS = {
    "input": "the input unchanged: the reference every rewrite is compared with",
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
