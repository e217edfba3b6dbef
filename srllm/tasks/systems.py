"""The systems under evaluation, each one entry of ``evaluation.systems``.

- ``input``: the input unchanged (the reference every rewrite is compared with);
- ``lexicon_delete``: rule-based, deletes every word of a toxicity lexicon (below);
- ``base``: the base chat model, zero-shot with the debiasing instruction;
- ``base_fewshot``: the same with k training pairs as earlier chat turns;
- ``srllm-<method>``: the fine-tuned models (qlora/lora/full merged, prefix as an unmerged adapter),
  followed by ``srllm-<method>-seed<N>`` for each of ``training.seeds``.

A trained system the run did not train is skipped with a note (``skipped_systems``), not an error.
Rewrite tasks use every system; continuation and likelihood tasks need a language model of its
own, so they use ``base`` and the ``srllm-*`` models (``base_fewshot`` is the base model again: its
demonstrations are rewrite turns, which a continuation has no place for).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..config import StudyConfig
from ..core.rundir import load_split
from ..lm.merge import MERGEABLE
from ..lm.models import DTYPES, load_causal_lm, load_tokenizer, resolve_base_model

SystemKind = Literal["identity", "reference", "lexicon", "lm"]
WORD = re.compile(r"\b\w\w+\b")  # alt-profanity-check's vectorizer tokens: runs of 2+ word characters

@dataclass(frozen=True)
class System:
    name: str
    kind: SystemKind
    path: Path | str | None = None  # model folder (or hub id) for kind "lm"
    fewshot: bool = False

    @property
    def is_language_model(self) -> bool:
        """A model of its own (continuation and likelihood tasks): base and the trained models."""
        return self.kind == "lm" and not self.fewshot


def resolve_systems(config: StudyConfig, run_dir: Path) -> tuple[list[System], dict[str, str]]:
    """The systems of ``evaluation.systems`` this run can evaluate, and the skipped ones with the reason."""

    base = resolve_base_model(config.model, config.seed)
    systems: list[System] = []
    skipped: dict[str, str] = {}
    for name in config.evaluation.systems:
        if name == "input":
            systems.append(System(name, "identity"))
        elif name == "reference":
            systems.append(System(name, "reference"))  # the human safe rewrite, where an item has one
        elif name == "lexicon_delete":
            systems.append(System(name, "lexicon"))
        elif name == "base":
            systems.append(System(name, "lm", base))
        elif name == "base_fewshot":
            systems.append(System(name, "lm", base, fewshot=True))
        else:
            method = name.removeprefix("srllm-")
            if method not in config.training.methods:
                skipped[name] = f"not trained in this run (training.methods: {config.training.methods})"
                continue
            # The method as trained with the study's seed, then with each of training.seeds.
            for trained in (t for t in config.trained_models() if t.method == method):
                folder = run_dir / "merge" / trained.name if method in MERGEABLE else run_dir / "train" / trained.name / "model"
                if not folder.is_dir():
                    raise FileNotFoundError(f"srllm-{trained.name}: trained but its model folder {folder} is missing; rerun train/merge")
                systems.append(System(f"srllm-{trained.name}", "lm", folder))
    return systems, skipped


def load_system(system: System, base: Path | str, dtype: str = "float32") -> tuple[Any, Any]:
    """Model and tokenizer of a language-model system: a model folder, or a prefix adapter on the base."""

    assert system.path is not None
    if (Path(system.path) / "adapter_config.json").is_file():
        from peft import PeftModel  # lazy: peft is a heavy import, needed only here

        model = PeftModel.from_pretrained(load_causal_lm(base, dtype=dtype), system.path)
        return model.to(DTYPES[dtype]), load_tokenizer(base)  # the prefix weights too
    return load_causal_lm(system.path, dtype=dtype), load_tokenizer(system.path)


def demonstrations(run_dir: Path, k: int, seed: int, max_chars: int = 200) -> list[tuple[str, str]]:
    """k (unsafe, safe) training pairs for base_fewshot: a seeded sample of the short pairs (both
    sides at most ``max_chars`` characters, so the prompt stays short), the same for every item."""

    train = [r for r in load_split(run_dir, "train") if len(r["input"]) <= max_chars and len(r["output"]) <= max_chars]
    chosen = random.Random(f"{seed}-fewshot").sample(train, min(k, len(train)))
    return [(r["input"], r["output"]) for r in chosen]


def delete_lexicon_words(text: str, lexicon: frozenset[str]) -> str:
    """``text`` without the words (case-insensitive) in ``lexicon``; spacing tidied."""
    kept = WORD.sub(lambda m: "" if m.group(0).lower() in lexicon else m.group(0), text)
    kept = re.sub(r"\s+([,.!?;:])", r"\1", kept)  # no space left before punctuation
    return " ".join(kept.split())
