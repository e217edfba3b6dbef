"""Step 3: merge each LoRA adapter into the float32 base, checking the logits agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import StudyConfig
from ..core.rundir import finish, load_split, sample, step_dir
from ..hub.cards import trained_metrics, write_model_card
from ..lm.merge import MERGEABLE, merge_adapter
from ..lm.models import resolve_base_model

PROBES = 16  # held-out test pairs the merges are compared on (logits, and NLL per token for the task-level effect)


def merge(config: StudyConfig, run_dir: Path) -> dict[str, Any]:

    base = resolve_base_model(config.model, config.seed)
    test_rows = sample(load_split(run_dir, "test"), PROBES, config.seed, "merge-probe")
    # Real inputs: held-out unsafe texts with their safe rewrites.
    probes = [f"{r['input']}\n{r['output']}" for r in test_rows]
    metrics: dict[str, Any] = {"by_method": {}}
    for trained in config.trained_models():
        if trained.method not in MERGEABLE:
            continue  # prefix tuning is evaluated unmerged; full fine-tuning has nothing to merge
        adapter = Path(run_dir) / "train" / trained.name / "model"
        quant = config.quantization if trained.method == "qlora" else None
        out = step_dir(run_dir, "merge") / trained.name
        metrics["by_method"][trained.name] = merge_adapter(base, adapter, out, probes, quant)
        write_model_card(out, config, trained, trained_metrics(run_dir, trained.name), merged=True)
    diffs = [m["max_abs_logit_diff"] for m in metrics["by_method"].values()]
    metrics["max_abs_logit_diff"] = max(diffs) if diffs else None
    return finish(run_dir, "merge", metrics)
