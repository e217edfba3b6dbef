"""Step 5: SR-LLM against every other system, paired on the per-example results; group disparity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import StudyConfig
from .common import finish, load_per_example

# The scores whose spread across demographic groups is tested, each with its binary flag.
DISPARITY_SCORES = {"sentiment": "negative", "toxicity": "toxic"}


def reference_system(systems: list[str]) -> str | None:
    """SR-LLM as the paper trains it (QLoRA) when the run has it, else the first trained system."""
    trained = [s for s in systems if s.startswith("srllm-")]
    if not trained:
        return None
    return "srllm-qlora" if "srllm-qlora" in trained else trained[0]


def significance(config: StudyConfig, run_dir: Path) -> dict[str, Any]:
    from ..stats import compare_paired, group_disparity

    results = load_per_example(run_dir)
    resamples, seed = config.evaluation.bootstrap_resamples, config.seed
    metrics: dict[str, Any] = {"group_disparity": {}}
    for task, frame in results.groupby("task"):
        systems = list(frame.system.unique())
        reference = reference_system(systems)
        if reference is not None and len(systems) > 1:
            others = [s for s in systems if s != reference]
            metrics[task] = compare_paired(frame, reference, others, resamples, seed)
            metrics[task]["reference_system"] = reference
        scores = [s for s in DISPARITY_SCORES if s in frame.columns and frame[s].notna().any()]
        if frame["group"].nunique() > 1 and scores:
            metrics["group_disparity"][task] = {
                system: {
                    score: group_disparity(sub.dropna(subset=[score]), score, DISPARITY_SCORES[score], resamples, seed)
                    for score in scores
                }
                for system, sub in frame.groupby("system")
            }
    return finish(run_dir, "significance", metrics)
