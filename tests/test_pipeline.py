"""End to end: params/smoke.yaml through all five notebooks, then the book from the run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from srllm.io import read_json

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_smoke_run_produces_every_artifact(smoke_run: Path) -> None:
    for name in ("01_dataset", "02_train", "03_merge", "04_evaluate", "05_significance"):
        notebook = json.loads((smoke_run / "notebooks" / f"{name}.ipynb").read_text())
        errors = [o for c in notebook["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, name
    metrics = read_json(smoke_run / "metrics.json")
    assert set(metrics) == {"dataset", "train", "merge", "evaluate", "significance"}
    assert metrics["dataset"]["n_pairs"] > 0
    assert metrics["merge"]["max_abs_logit_diff"] < 1e-4
    evaluate = metrics["evaluate"]
    rewriters = {"input", "lexicon_delete", "base", "base_fewshot", "srllm-qlora"}
    models = {"base", "srllm-qlora"}
    assert set(evaluate["skipped_systems"]) == {"srllm-prefix", "srllm-full", "srllm-lora"}
    assert set(evaluate["inhouse"]) == rewriters
    for system in rewriters:
        assert {"toxicity_rate", "moderation_score", "knowledge_retention", "perplexity", "J", "refusal_rate"} <= set(
            evaluate["inhouse"][system]
        )
        assert evaluate["toxigen_rewrite"][system]["toxicity_by_group"]
        assert "toxicity_spread" in evaluate["counterfactual"][system]
    for model in models:
        assert evaluate["toxigen_continuation"][model]["toxic_pct_by_group"]
        assert evaluate["bold"][model]["sentiment_by_group"]
        assert {"SS", "LMS", "ICAT"} <= set(evaluate["stereoset"][model]["overall"])
        assert 0.0 <= evaluate["crows_pairs"][model]["pct_stereotype"] <= 1.0
    assert set(evaluate["bold"]) == set(evaluate["crows_pairs"]) == models
    assert manifest_steps_ok(smoke_run)
    toxicity = metrics["significance"]["inhouse"]["toxicity"]["base"]
    assert 0.0 <= toxicity["p_value"] <= 1.0 and toxicity["ci_low"] <= toxicity["ci_high"]

    manifest = read_json(smoke_run / "manifest.json")
    assert manifest["params"]["run_name"] == "smoke"
    assert set(manifest["steps"]) == {"dataset", "train", "merge", "evaluate", "significance"}
    assert all(s["wall_seconds"] > 0 and s["peak_rss_mb"] > 0 for s in manifest["steps"].values())
    assert "srllm_mbias/eval/train-500-debiased-evaluation.csv" in manifest["data_files_sha256"]
    assert manifest["packages"]["torch"].startswith("2.13.0")


def manifest_steps_ok(run_dir: Path) -> bool:
    """The evaluate step ran within its time budget on the smoke parameters (~90 s)."""
    steps = read_json(run_dir / "manifest.json")["steps"]
    return steps["evaluate"]["wall_seconds"] < 180  # generous: the 2 cores are shared with other jobs


@pytest.mark.slow
def test_up_to_date_steps_are_skipped(smoke_run: Path) -> None:
    from srllm import runner

    messages: list[str] = []
    os.environ["SRLLM_RUNS_DIR"] = str(smoke_run.parent)
    try:
        runner.run(ROOT / "params" / "smoke.yaml", log=messages.append)
    finally:
        os.environ.pop("SRLLM_RUNS_DIR", None)
    assert sum("up to date, skipped" in m for m in messages) == 5, messages


@pytest.mark.slow
def test_book_builds_from_the_smoke_run(smoke_book: Path) -> None:
    html = smoke_book
    assert (html / "index.html").is_file()
    page = (html / "book" / "run" / "04_evaluate.html").read_text()
    assert "srllm-qlora" in page and "<table" in page
    train_page = (html / "book" / "run" / "02_train.html").read_text()
    assert "<img" in train_page  # the loss-curve figure
    assert (html / "book" / "run" / "reproducibility.html").is_file()
