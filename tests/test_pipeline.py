"""End to end: params/smoke.yaml through all five notebooks, then the book from the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srllm.core.io import read_json

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
    # The smoke run trains all four methods with seeds 0 and 1, so every system is evaluated twice over.
    trained = {f"srllm-{m}{suffix}" for m in ("qlora", "lora", "prefix", "full") for suffix in ("", "-seed1")}
    rewriters = {"input", "lexicon_delete", "base", "base_fewshot"} | trained
    models = {"base"} | trained
    assert not evaluate["skipped_systems"]
    for method in ("qlora", "lora", "prefix", "full"):
        assert {"tokens_per_s", "peak_rss_mb", "trainable_params"} <= set(metrics["train"][method])
        assert (metrics["train"][method]["seed"], metrics["train"][f"{method}-seed1"]["seed"]) == (0, 1)
    assert set(metrics["merge"]["by_method"]) == {"qlora", "lora", "qlora-seed1", "lora-seed1"}
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
    # evaluation.dtype: auto is bfloat16 where the CPU computes it natively, with its first items run
    # again in float32 and the differences recorded; float32 (and no check) where it is emulated.
    from srllm.core.precision import native_bfloat16

    if native_bfloat16()[0]:
        check = evaluate["dtype_check"]
        assert (evaluate["dtype"], check["dtype"], check["system"]) == ("bfloat16", "bfloat16", "srllm-qlora")
        assert set(check["tasks"]) == set(evaluate["tasks"])
        for task in ("stereoset", "crows_pairs"):
            assert 0 <= check["tasks"][task]["preference_flips"] <= check["tasks"][task]["items"] > 0
        assert 0.0 <= check["tasks"]["inhouse"]["identical_outputs"] <= 1.0
    else:
        assert evaluate["dtype"] == "float32" and "dtype_check" not in evaluate
    toxicity = metrics["significance"]["inhouse"]["toxicity"]["base"]
    assert 0.0 <= toxicity["p_value"] <= 1.0 and toxicity["ci_low"] <= toxicity["ci_high"]
    # Another seed trains another adapter from the same data.
    from safetensors.torch import load_file

    adapters = [load_file(smoke_run / "train" / name / "model" / "adapter_model.safetensors") for name in ("qlora", "qlora-seed1")]
    assert adapters[0].keys() == adapters[1].keys()
    assert any(not (adapters[0][k] == adapters[1][k]).all() for k in adapters[0])
    # Further seeds are not in the family of tests: they are the spread beside it.
    assert not any("seed" in other for other in metrics["significance"]["inhouse"]["toxicity"])
    spread = metrics["significance"]["seed_spread"]["inhouse"]
    assert spread["systems"] == {"0": "srllm-qlora", "1": "srllm-qlora-seed1"}
    j = spread["results"]["J"]
    assert j["n_seeds"] == 2 and j["min"] <= j["mean"] <= j["max"]
    assert j["per_seed"] == {"0": evaluate["inhouse"]["srllm-qlora"]["J"], "1": evaluate["inhouse"]["srllm-qlora-seed1"]["J"]}
    test = spread["tests"]["toxicity"]["base"]
    assert set(test["p_holm"]) == {"0", "1"} and 0 <= test["significant_in"] <= 2
    assert test["p_holm"]["0"] == toxicity["p_holm"]

    manifest = read_json(smoke_run / "manifest.json")
    assert manifest["params"]["run_name"] == "smoke"
    assert set(manifest["steps"]) == {"dataset", "train", "merge", "evaluate", "significance"}
    assert all(s["wall_seconds"] > 0 and s["peak_rss_mb"] > 0 for s in manifest["steps"].values())
    assert "srllm_mbias/eval/train-500-debiased-evaluation.csv" in manifest["data_files_sha256"]
    assert manifest["packages"]["torch"].startswith("2.13.0")
