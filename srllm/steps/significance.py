"""Step 5: SR-LLM against every other system, paired on the per-example results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import StudyConfig
from .common import finish, load_per_example


def significance(config: StudyConfig, run_dir: Path) -> dict[str, Any]:
    from ..stats import compare_paired

    results = load_per_example(run_dir)
    metrics: dict[str, Any] = {}
    for task, frame in results.groupby("task"):
        srllm_systems = [s for s in frame.system.unique() if s.startswith("srllm-")]
        if not srllm_systems:
            continue
        reference = "srllm-qlora" if "srllm-qlora" in srllm_systems else srllm_systems[0]
        others = [s for s in frame.system.unique() if s != reference]
        metrics[task] = compare_paired(frame, reference, others, config.evaluation.bootstrap_resamples, config.seed)
        metrics[task]["reference_system"] = reference
    return finish(run_dir, "significance", metrics)
