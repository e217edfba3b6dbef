"""End to end: params/smoke.yaml through every step of srllm.config.PIPELINE; one behaviour per test.

All tests share one smoke run (the ``smoke_run`` fixture of conftest.py), so the run is paid once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srllm.config import PIPELINE, STEPS
from srllm.core.io import read_json

pytestmark = pytest.mark.slow
METHODS = ("qlora", "lora", "prefix", "full")
TRAINED = {f"srllm-{m}{suffix}" for m in METHODS for suffix in ("", "-seed1")}  # smoke trains seeds 0 and 1
REWRITERS = {"input", "reference", "lexicon_delete", "base", "base_fewshot"} | TRAINED
MODELS = {"base"} | TRAINED


def test_every_notebook_of_the_pipeline_ran_without_an_error(smoke_run: Path) -> None:
    for step in PIPELINE:
        notebook = json.loads((smoke_run / "notebooks" / step.notebook).read_text())
        errors = [o for c in notebook["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, step.name


def test_the_run_metrics_hold_one_section_per_step(smoke_run: Path) -> None:
    metrics = read_json(smoke_run / "metrics.json")
    assert set(STEPS) <= set(metrics)
    assert metrics["dataset"]["n_pairs"] > 0
    assert metrics["merge"]["max_abs_logit_diff"] < 1e-4


def test_every_method_trains_with_each_seed(smoke_run: Path) -> None:
    train = read_json(smoke_run / "metrics.json")["train"]
    for method in METHODS:
        assert {"tokens_per_s", "peak_rss_mb", "trainable_params"} <= set(train[method])
        assert (train[method]["seed"], train[f"{method}-seed1"]["seed"]) == (0, 1)
    assert set(read_json(smoke_run / "metrics.json")["merge"]["by_method"]) == {"qlora", "lora", "qlora-seed1", "lora-seed1"}


def test_another_seed_trains_another_adapter(smoke_run: Path) -> None:
    from safetensors.torch import load_file

    adapters = [load_file(smoke_run / "train" / name / "model" / "adapter_model.safetensors") for name in ("qlora", "qlora-seed1")]
    assert adapters[0].keys() == adapters[1].keys()
    assert any(not (adapters[0][k] == adapters[1][k]).all() for k in adapters[0])


def test_every_system_runs_every_task_it_applies_to(smoke_run: Path) -> None:
    evaluate = read_json(smoke_run / "metrics.json")["evaluate"]
    assert not evaluate["skipped_systems"]
    assert set(evaluate["inhouse"]) == REWRITERS
    for system in REWRITERS:
        assert {"toxicity_rate", "moderation_score", "knowledge_retention", "perplexity", "J", "refusal_rate"} <= set(
            evaluate["inhouse"][system]
        )
    for system in REWRITERS - {"reference"}:  # only the in-house items have a human rewrite
        assert evaluate["toxigen_rewrite"][system]["toxicity_by_group"]
        assert "toxicity_spread" in evaluate["counterfactual"][system]
    for model in MODELS:
        assert evaluate["toxigen_continuation"][model]["toxic_pct_by_group"]
        assert evaluate["bold"][model]["sentiment_by_group"]
        assert {"SS", "LMS", "ICAT"} <= set(evaluate["stereoset"][model]["overall"])
        assert 0.0 <= evaluate["crows_pairs"][model]["pct_stereotype"] <= 1.0
    assert set(evaluate["bold"]) == set(evaluate["crows_pairs"]) == MODELS


def test_rewrites_are_checked_for_erasure_and_scored_against_the_reference(smoke_run: Path) -> None:
    evaluate = read_json(smoke_run / "metrics.json")["evaluate"]
    for task in ("inhouse", "toxigen_rewrite", "counterfactual"):
        for values in evaluate[task].values():
            assert {"erasure_rate", "erasure_n", "copy_rate", "refusal_rate", "empty_rate"} <= set(values)
    assert evaluate["inhouse"]["input"]["copy_rate"] == 1.0
    assert {"sta_ref", "sim_ref", "j_ref", "chrf_ref"} <= set(evaluate["inhouse"]["srllm-qlora"])


def test_the_metrics_are_validated_against_the_human_ratings(smoke_run: Path) -> None:
    human = read_json(smoke_run / "metrics.json")["evaluate"]["validation"]["human"]
    assert human["n_rewrites"] == 600 and human["n_sources"] == 200
    for metric in ("toxicity", "similarity", "fluency", "j", "chrf"):
        spearman = human["metrics"][metric]["spearman"]
        assert spearman["low"] <= spearman["value"] <= spearman["high"]
    assert 0.0 < human["alpha"]["style"]["value"] < 1.0


def test_the_dtype_follows_the_cpu(smoke_run: Path) -> None:
    # evaluation.dtype: auto is bfloat16 where the CPU computes it natively, with its first items run
    # again in float32 and the differences recorded; float32 (and no check) where it is emulated.
    from srllm.core.precision import native_bfloat16

    evaluate = read_json(smoke_run / "metrics.json")["evaluate"]
    if native_bfloat16()[0]:
        check = evaluate["dtype_check"]
        assert (evaluate["dtype"], check["dtype"], check["system"]) == ("bfloat16", "bfloat16", "srllm-qlora")
        assert set(check["tasks"]) == set(evaluate["tasks"])
        for task in ("stereoset", "crows_pairs"):
            assert 0 <= check["tasks"][task]["preference_flips"] <= check["tasks"][task]["items"] > 0
        assert 0.0 <= check["tasks"]["inhouse"]["identical_outputs"] <= 1.0
    else:
        assert evaluate["dtype"] == "float32" and "dtype_check" not in evaluate


def test_significance_pairs_the_reference_system_with_the_others(smoke_run: Path) -> None:
    significance = read_json(smoke_run / "metrics.json")["significance"]
    toxicity = significance["inhouse"]["toxicity"]["base"]
    assert 0.0 <= toxicity["p_value"] <= 1.0 and toxicity["ci_low"] <= toxicity["ci_high"]
    # Further seeds are not in the family of tests: they are the spread beside it.
    assert not any("seed" in other for other in significance["inhouse"]["toxicity"])


def test_further_seeds_give_the_spread_beside_the_tests(smoke_run: Path) -> None:
    metrics = read_json(smoke_run / "metrics.json")
    spread = metrics["significance"]["seed_spread"]["inhouse"]
    assert spread["systems"] == {"0": "srllm-qlora", "1": "srllm-qlora-seed1"}
    j = spread["results"]["J"]
    assert j["n_seeds"] == 2 and j["min"] <= j["mean"] <= j["max"]
    evaluate = metrics["evaluate"]
    assert j["per_seed"] == {"0": evaluate["inhouse"]["srllm-qlora"]["J"], "1": evaluate["inhouse"]["srllm-qlora-seed1"]["J"]}
    test = spread["tests"]["toxicity"]["base"]
    assert set(test["p_holm"]) == {"0", "1"} and 0 <= test["significant_in"] <= 2
    assert test["p_holm"]["0"] == metrics["significance"]["inhouse"]["toxicity"]["base"]["p_holm"]


def test_the_manifest_records_what_repeats_the_run(smoke_run: Path) -> None:
    manifest = read_json(smoke_run / "manifest.json")
    assert manifest["params"]["run_name"] == "smoke"
    assert set(manifest["steps"]) == set(STEPS)
    assert all(s["wall_seconds"] > 0 and s["peak_rss_mb"] > 0 for s in manifest["steps"].values())
    assert "srllm_mbias/eval/train-500-debiased-evaluation.csv" in manifest["data_files_sha256"]
    assert manifest["packages"]["torch"].startswith("2.13.0")
