"""Model and dataset cards, on a small synthetic run folder (no training): complete, with the base
model's Hub id, the recipe, the data's licences and, after evaluation, the results."""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import DatasetCard, ModelCard

from srllm.config import StudyConfig, TrainedModel, load_config
from srllm.hub.cards import PACKAGED_HUB_ID, dataset_card, model_card, write_model_card
from srllm.steps.evaluate import write_cards_with_results

ROOT = Path(__file__).resolve().parents[2]
PEFT_TEMPLATE = "---\nbase_model: x\nlibrary_name: peft\n---\n# Model Card for Model ID\n\n[More Information Needed]\n"
TRAIN_METRICS = {"train_records": 1200, "qlora": {"steps": 30, "train_loss": 1.25, "val_loss": 1.5, "optimizer": "adamw_torch", "trainable_params": 460800}}
EVALUATED = {
    "tasks": {"inhouse": {"metrics": ["toxicity_mean", "knowledge_retention", "perplexity"]},
              "stereoset": {"metrics": ["ICAT"]}},
    "inhouse": {"srllm-qlora": {"n": 10, "toxicity_mean": 0.125, "knowledge_retention": 0.8, "perplexity": float("nan")},
                "base": {"n": 10, "toxicity_mean": 0.5, "knowledge_retention": 0.9, "perplexity": 12.0}},
    "stereoset": {"srllm-qlora": {"ICAT": 61.5}},
}  # fmt: skip


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "train" / "qlora" / "model").mkdir(parents=True)
    (run / "train" / "qlora" / "model" / "README.md").write_text(PEFT_TEMPLATE)  # what peft leaves
    (run / "merge" / "qlora").mkdir(parents=True)
    (run / "train" / "metrics.json").write_text(json.dumps(TRAIN_METRICS))
    return run


def test_the_adapter_card_replaces_peft_template(tmp_path: Path) -> None:
    config = StudyConfig(run_name="cards")
    folder = _run(tmp_path) / "train" / "qlora" / "model"
    path = write_model_card(folder, config, TrainedModel("qlora", "qlora", 0), {**TRAIN_METRICS["qlora"], "train_records": 1200}, merged=False)
    text = path.read_text()
    assert "[More Information Needed]" not in text and "Model Card for Model ID" not in text
    card = ModelCard.load(path)
    assert (card.data.base_model, card.data.library_name, card.data.license) == (PACKAGED_HUB_ID, "peft", "apache-2.0")
    assert "r=8, alpha=16" in text and "1200 training records" in text and "validation loss | 1.5000" in text
    assert "CC0 1.0" in text and "github.com/s-nlp/paradetox" in text  # the data, with their licences
    assert "## Intended use" in text and "## Limitations" in text and "2404.01399" in text
    assert card.data.eval_results is None and "evaluate step" in text  # not evaluated yet, and it says so
    assert "A test model" not in text


def test_evaluation_writes_results_into_every_card_of_the_model(tmp_path: Path) -> None:
    config = StudyConfig(run_name="cards")
    run = _run(tmp_path)
    write_cards_with_results(config, run, EVALUATED)
    for folder, library in ((run / "train" / "qlora" / "model", "peft"), (run / "merge" / "qlora", "transformers")):
        card = ModelCard.load(folder / "README.md")
        assert card.data.library_name == library and card.data.model_name == "srllm-qlora"
        results = {(r.dataset_name, r.metric_type): r.metric_value for r in card.data.eval_results}
        # This model's numbers (not the base's); NaN is left out rather than written as a result.
        assert results == {("inhouse", "toxicity_mean"): 0.125, ("inhouse", "knowledge_retention"): 0.8, ("stereoset", "ICAT"): 61.5}
        assert "[More Information Needed]" not in folder.joinpath("README.md").read_text()
    assert "merged into the float32 base" in (run / "merge" / "qlora" / "README.md").read_text()


def test_a_random_test_model_says_so() -> None:
    config = load_config(ROOT / "params" / "smoke.yaml")
    card = str(model_card(config, TrainedModel("prefix", "prefix", 0), {}, merged=False))
    assert "A test model" in card and "virtual tokens | 16" in card


def test_dataset_card(tmp_path: Path) -> None:
    config = StudyConfig(run_name="cards")
    metrics = {
        "by_split": {"train": 900, "validation": 50, "test": 50},
        "by_source_and_split": {"train": {"paradetox": 800, "srllm": 60, "wnc": 40}, "validation": {"paradetox": 50}, "test": {"wnc": 50}},
        "leakage": {"removed": 7, "remaining": 0},
    }  # fmt: skip
    path = tmp_path / "README.md"
    dataset_card(config, metrics).save(path)
    text = path.read_text()
    card = DatasetCard.load(path)
    assert card.data.license == "other" and card.data.license_name == "CC0 1.0 + MIT"
    assert card.data.size_categories == ["1K<n<10K"] and "1000 records" in text
    assert "| paradetox | ParaDetox toxic -> neutral rewrites | CC0 1.0 | https://github.com/s-nlp/paradetox | 800 | 50 | 0 |" in text
    assert "[More Information Needed]" not in text and "7 records" in text
