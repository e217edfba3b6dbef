"""Step 5: SR-LLM against every other system, paired on the per-example results; group disparity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..config import SEED_SUFFIX, StudyConfig, reference_system
from ..core.io import read_json
from ..core.rundir import finish, load_per_example
from ..core.stats import (
    ALTERNATIVE_BINARY,
    ALTERNATIVE_CONTINUOUS,
    compare_paired,
    group_disparity,
    spread,
    system_intervals,
)
from ..validation.erasure import erasure_report

SIGNIFICANT = 0.05  # Holm-corrected p-value below which a seed counts as significant

# The scores whose spread across demographic groups is tested, each with its binary flag.
DISPARITY_SCORES = {"sentiment": "negative", "toxicity": "toxic"}


def significance(config: StudyConfig, run_dir: Path) -> dict[str, Any]:
    results = load_per_example(run_dir)
    resamples, seed = config.evaluation.bootstrap_resamples, config.seed
    evaluated = read_json(Path(run_dir) / "evaluate" / "metrics.json")
    metrics: dict[str, Any] = {"group_disparity": {}, "seed_spread": {}, "intervals": {}, "erasure": {}}
    for task, frame in results.groupby("task"):
        metrics["intervals"][task] = system_intervals(frame, resamples, seed)
        systems = list(frame.system.unique())
        reference = reference_system(systems)
        # The family compares the reference with the other systems; further seeds go to the spread.
        others = [s for s in systems if s != reference and not SEED_SUFFIX.search(s)]
        if reference is not None and others:
            metrics[task] = compare_paired(frame, reference, others, resamples, seed)
            metrics[task]["reference_system"] = reference
            derived = with_alternatives(frame, evaluated)
            alternatives = compare_paired(derived, reference, others, resamples, seed, ALTERNATIVE_CONTINUOUS, ALTERNATIVE_BINARY)
            if alternatives["family"]["size"]:
                metrics[task]["alternatives"] = alternatives
        variants = seed_variants(reference, systems, config.seed) if reference else {}
        if len(variants) > 1:
            metrics["seed_spread"][task] = seed_spread(frame, evaluated.get(task, {}), variants, others, resamples, seed)
        if reference is not None and "erased" in frame.columns and frame["erased"].notna().any():
            metrics["erasure"][task] = erasure_report(frame, reference)
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


def with_alternatives(frame: pd.DataFrame, evaluated: dict[str, Any]) -> pd.DataFrame:
    """The per-example rows with the scores of the alternative metric choices added where they apply:
    J with an erased identity counted as a failure, and meaning kept at the cut that best matched the
    human ratings (validation.human) instead of the study's."""
    frame = frame.copy()
    if "erased" in frame and "j" in frame:
        frame["j_named"] = frame["j"] * (1.0 - frame["erased"].fillna(0.0))
    cut = (((evaluated.get("validation") or {}).get("human") or {}).get("metrics", {}).get("similarity", {})
           .get("threshold", {}).get("fitted", {}).get("threshold"))  # fmt: skip
    if cut is not None and "similarity" in frame:
        frame["meaning_kept_human"] = (frame["similarity"] >= cut).astype(float).where(frame["similarity"].notna())
    return frame


def seed_variants(reference: str, systems: list[str], study_seed: int) -> dict[int, str]:
    """{training seed: system} of the reference method: itself (the study's seed) and its -seed<N> runs."""
    variants = {study_seed: reference}
    for system in systems:
        match = SEED_SUFFIX.search(system)
        if match and system[: match.start()] == reference:
            variants[int(match.group(1))] = system
    return variants


def summary_numbers(summary: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric results of one system on one task (``evaluate.<task>.<system>``), per-group breakdowns left out."""
    numbers: dict[str, float] = {}
    for key, value in summary.items():
        if key.startswith("by_") or key == "n":
            continue
        if isinstance(value, dict):
            numbers.update(summary_numbers(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers[f"{prefix}{key}"] = float(value)
    return numbers


def seed_spread(
    frame: Any, summaries: dict[str, Any], variants: dict[int, str], others: list[str], resamples: int, seed: int
) -> dict[str, Any]:
    """How much the reference's results and its tests against the other systems move across training seeds.

    ``results``: every task-level number (``evaluate.<task>.<system>``) per seed with its mean, sd and
    range. ``tests``: for each metric and other system, the mean difference and Holm p-value of each
    seed's own family of tests, and in how many seeds the difference is significant (p_holm < 0.05) and
    points the same way as with the study's seed.
    """
    per_seed = {s: summary_numbers(summaries.get(system, {})) for s, system in variants.items()}
    keys = sorted(set.intersection(*(set(v) for v in per_seed.values())))
    results = {key: spread({s: per_seed[s][key] for s in variants}) for key in keys}
    tests: dict[str, Any] = {}
    if others:
        families = {s: compare_paired(frame, system, others, resamples, seed) for s, system in variants.items()}
        main = families[next(iter(variants))]
        for metric, by_other in main.items():
            if metric == "family":
                continue
            for other, first in by_other.items():
                runs = {s: f[metric][other] for s, f in families.items() if other in f.get(metric, {})}
                direction = [r["mean_difference"] * first["mean_difference"] > 0 for r in runs.values()]
                tests.setdefault(metric, {})[other] = {
                    "mean_difference": spread({s: r["mean_difference"] for s, r in runs.items()}),
                    "p_holm": {str(s): r["p_holm"] for s, r in runs.items()},
                    "significant_in": sum(r["p_holm"] < SIGNIFICANT for r in runs.values()),
                    "same_direction_in": int(sum(direction)) if first["mean_difference"] != 0 else None,
                    "n_seeds": len(runs),
                }
    return {"systems": {str(s): system for s, system in variants.items()}, "results": results, "tests": tests}
