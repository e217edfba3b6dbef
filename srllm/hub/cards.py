"""Model cards for every trained and merged model, and a dataset card for the corpus (Hugging Face format).

peft's ``save_pretrained`` leaves a template README full of "[More Information Needed]"; the train
and merge steps replace it with a card written from the run itself: the base model by its Hub id,
the recipe from the parameters, the training data with their licences, what the model is for and
what it is not, and the citation. The evaluate step writes each card again with its results
(``eval_results``, from the step's metrics). The dataset step writes ``dataset/README.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData, EvalResult, ModelCard, ModelCardData

from ..config import PACKAGED_MODEL, StudyConfig, TrainedModel

# The packaged GGUF is a conversion of this Hub model; the card names the original.
PACKAGED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
# Licences of the base models the shipped parameter sets use (a fine-tuned model inherits its base's).
BASE_LICENCES = {PACKAGED_HUB_ID: "apache-2.0", "meta-llama/Llama-2-7b-chat-hf": "llama2"}
# Training sources: what, licence and upstream (the data mirror's SOURCE.md files; as srllm.report.dataset).
SOURCES = {
    "srllm": ("the SR-LLM authors' biased -> debiased pairs", "MIT", "https://github.com/shainarazavi/MBIAS"),
    "paradetox": ("ParaDetox toxic -> neutral rewrites", "CC0 1.0", "https://github.com/s-nlp/paradetox"),
    "wnc": ("a sample of the Wiki Neutrality Corpus, biased -> neutralized", "MIT", "https://github.com/rpryzant/neutralizing-bias"),
}
CITATION = """@misc{raza2025srllm,
  title         = {Developing Safe and Responsible Large Language Model: Can We Balance Bias Reduction and Language Understanding in Large Language Models?},
  author        = {Raza, Shaina and Bamgbose, Oluwanifemi and Ghuge, Shardul and Tavakoli, Fatemeh and Reji, Deepak John and Bashir, Syed Raza},
  year          = {2025},
  eprint        = {2404.01399},
  archiveprefix = {arXiv}
}"""
METHOD_WORDS = {
    "qlora": "QLoRA: LoRA adapters trained on a frozen 4-bit (NF4) base",
    "lora": "LoRA adapters trained on a frozen full-precision base",
    "prefix": "prefix tuning: trained virtual tokens before every input",
    "full": "full fine-tuning of every weight",
}


def base_model_id(config: StudyConfig) -> str | None:
    """The base model's Hub id, or None for a local folder (a card must not name a path of this machine)."""
    name = config.model.name_or_path
    if name == PACKAGED_MODEL:
        return PACKAGED_HUB_ID
    return None if Path(name).exists() else name


def eval_results(evaluated: dict[str, Any] | None, system: str) -> list[EvalResult]:
    """The headline metrics of ``system`` in the evaluate step's metrics, one EvalResult each."""
    if not evaluated:
        return []
    results = []
    for task, info in evaluated.get("tasks", {}).items():
        numbers = evaluated.get(task, {}).get(system)
        if not numbers:
            continue
        for metric in info.get("metrics", []):
            value = numbers.get(metric)
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
                continue
            results.append(
                EvalResult(
                    task_type="text-generation", dataset_type=f"srllm/{task}", dataset_name=task,
                    metric_type=metric, metric_value=round(float(value), 6),
                )
            )  # fmt: skip
    return results


def _recipe(config: StudyConfig, trained: TrainedModel, train_metrics: dict[str, Any]) -> str:
    t, lora, q = config.training, config.lora, config.quantization
    rows = [
        ("method", METHOD_WORDS[trained.method]),
        ("seed", str(trained.seed)),
        ("optimizer", str(train_metrics.get("optimizer", t.optimizer))),
        ("learning rate, schedule", f"{t.learning_rate}, {t.lr_scheduler} (warm-up ratio {t.warmup_ratio})"),
        ("batch size x accumulation x processes", f"{t.batch_size} x {t.gradient_accumulation_steps} x {t.num_processes}"),
        ("length of training", f"{t.max_steps} steps" if t.max_steps > 0 else f"{t.epochs} epoch(s)"),
        ("maximum length (tokens)", str(t.max_length)),
        ("max grad norm, weight decay", f"{t.max_grad_norm}, {t.weight_decay}"),
        ("compute dtype", q.compute_dtype),
    ]
    if trained.method in ("qlora", "lora"):
        rows.append(("LoRA", f"r={lora.r}, alpha={lora.alpha}, dropout={lora.dropout}, on {', '.join(lora.target_modules)}"))
    if trained.method == "qlora":
        rows.append(("4-bit base", f"{q.quant_type}, double quantization {'on' if q.double_quant else 'off'}"))
    if trained.method == "prefix":
        rows.append(("virtual tokens", str(lora.num_virtual_tokens)))
    for key, label in (("steps", "steps trained"), ("train_loss", "mean training loss"), ("val_loss", "validation loss"),
                       ("trainable_params", "trainable parameters")):  # fmt: skip
        if key in train_metrics:
            value = train_metrics[key]
            rows.append((label, f"{value:.4f}" if isinstance(value, float) else str(value)))
    return "\n".join(["| setting | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def _data_section(config: StudyConfig, train_metrics: dict[str, Any]) -> str:
    lines = [f"- {what} ({licence}; {upstream})" for name, (what, licence, upstream) in SOURCES.items()
             if name in config.dataset.sources]  # fmt: skip
    records = train_metrics.get("train_records")
    size = f"{records} training records" if records else "the training split"
    return (
        f"Instruction fine-tuned on {size} of the run's unsafe -> safe corpus (seeded splits; every evaluation "
        "text removed from training by a near-duplicate check), built from:\n\n" + "\n".join(lines) + "\n\n"
        f"A share of {config.dataset.identity_fraction} of the corpus is already-safe text copied through unchanged."
    )


def _results_section(results: list[EvalResult]) -> str:
    if not results:
        return (
            "This card was written by the train or merge step, before the run's evaluate step; that step "
            "writes it again with the results."
        )
    rows = [f"| {r.dataset_name} | {r.metric_type} | {r.metric_value:.4f} |" for r in results]
    return "Measured by the run's evaluate step (offline judges; see the study's book):\n\n" + "\n".join(
        ["| task | metric | value |", "|---|---|---|", *rows]
    )


def model_card(
    config: StudyConfig, trained: TrainedModel, train_metrics: dict[str, Any], *, merged: bool,
    evaluated: dict[str, Any] | None = None,
) -> ModelCard:  # fmt: skip
    """The card of one trained model: its adapter (``merged=False``; a whole model for full fine-tuning)
    or the adapter merged into the base (``merged=True``)."""
    base = base_model_id(config)
    adapter = not merged and trained.method != "full"
    system = f"srllm-{trained.name}"
    results = eval_results(evaluated, system)
    data = ModelCardData(
        model_name=system,
        base_model=base,
        library_name="peft" if adapter else "transformers",
        license=BASE_LICENCES.get(base or ""),
        language=["en"],
        pipeline_tag="text-generation",
        tags=["srllm", "text-detoxification", "debiasing", trained.method, *(["lora"] if trained.method == "qlora" else [])],
        eval_results=results or None,
    )
    kind = "adapter" if adapter else ("merged model" if merged else "model")
    base_words = f"[{base}](https://huggingface.co/{base})" if base else f"a local model ({Path(config.model.name_or_path).name})"
    warning = ""
    if config.model.random_init is not None:
        warning = (
            "\n**A test model.** Its weights were initialised at random in the architecture of the base model "
            "(`model.random_init`); it exercises the pipeline and rewrites nothing usefully.\n"
        )
    load = (
        'from peft import AutoPeftModelForCausalLM\nmodel = AutoPeftModelForCausalLM.from_pretrained("PATH/TO/THIS/FOLDER")'
        if adapter
        else 'from transformers import AutoModelForCausalLM\nmodel = AutoModelForCausalLM.from_pretrained("PATH/TO/THIS/FOLDER")'
    )
    body = f"""# {system} ({kind})

SR-LLM as reproduced by the `srllm` study (run `{config.run_name}`): {base_words} instruction fine-tuned to
rewrite biased or toxic text into safe text that keeps its meaning ({METHOD_WORDS[trained.method]}).
{"The LoRA update is merged into the float32 base weights, so the model loads without peft." if merged else ""}
{warning}
## Base model

{base_words}; its licence ({data.license or "see the base model"}) applies to this {kind} too.

## Training recipe

{_recipe(config, trained, train_metrics)}

## Training data

{_data_section(config, train_metrics)}

## Evaluation

{_results_section(results)}

## Intended use

Research on rewriting unsafe text: given a text, return a version free of bias and toxicity that keeps
its information, with the study's debiasing instruction as the prompt (system and user turns of the
base model's chat template).

## Limitations

The toxicity and meaning scores come from offline judges trained and validated by the study, not from
human raters; the training data are English and cover the social groups of its sources only; a rewrite
can still be biased, lose meaning, or refuse. Do not use it to moderate content about people without
human review.

## How to load

```python
{load}
```

## Citation

```bibtex
{CITATION}
```
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def trained_metrics(run_dir: Path, name: str) -> dict[str, Any]:
    """The train step's metrics of one model, with the number of training records (kept once for all)."""

    path = Path(run_dir) / "train" / "metrics.json"
    if not path.is_file():
        return {}
    metrics = json.loads(path.read_text())
    return {**metrics.get(name, {}), "train_records": metrics.get("train_records")}


def write_model_card(folder: Path, config: StudyConfig, trained: TrainedModel, train_metrics: dict[str, Any], *,
                     merged: bool, evaluated: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """Write (or rewrite) ``folder/README.md``: peft's template card is replaced."""
    path = Path(folder) / "README.md"
    model_card(config, trained, train_metrics, merged=merged, evaluated=evaluated).save(path)
    return path


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


def dataset_card(config: StudyConfig, metrics: dict[str, Any]) -> DatasetCard:
    """The card of the run's unsafe -> safe corpus, from the dataset step's metrics."""
    by_split = metrics.get("by_split", {})
    total = sum(by_split.values())
    sources = [s for s in SOURCES if s in config.dataset.sources]
    licences = sorted({SOURCES[s][1] for s in sources})
    data = DatasetCardData(
        language=["en"],
        license="other",
        license_name=" + ".join(licences),
        pretty_name=f"srllm corpus (run {config.run_name})",
        size_categories=[_size_category(total)],
        task_categories=["text-generation"],
        tags=["srllm", "text-detoxification", "debiasing"],
    )
    per_source = metrics.get("by_source_and_split", {})
    rows = [
        f"| {s} | {SOURCES[s][0]} | {SOURCES[s][1]} | {SOURCES[s][2]} | "
        + " | ".join(str(per_source.get(split, {}).get(s, 0)) for split in ("train", "validation", "test")) + " |"
        for s in sources
    ]
    leakage = metrics.get("leakage", {})
    body = f"""# The srllm corpus (run {config.run_name})

Unsafe -> safe text pairs for instruction fine-tuning a rewriter, built by the `srllm` study's dataset step
(seed {config.seed}): {total} records in {', '.join(f'{n} {split}' for split, n in by_split.items())}.
Exact and near-duplicates (character n-gram TF-IDF cosine >= {config.dataset.near_duplicate_threshold}) are
removed, every rewrite of one input stays in one split, and {leakage.get('removed', 0)} records that
near-duplicate an evaluation text were removed (remaining after the final check: {leakage.get('remaining', 0)}).
A share of {config.dataset.identity_fraction} is already-safe text copied through unchanged.

## Sources and licences

Each record keeps its source; the licence of its source applies to it.

| source | what | licence | upstream | train | validation | test |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

## Files

`train.jsonl`, `validation.jsonl`, `test.jsonl` (one record a line: `input`, `output`, `source`, `kind`,
annotations) and `corpus/` (the same as Arrow); `schema.json` describes the fields.

## Intended use and limitations

Training and evaluating rewriters of unsafe text. The texts are English; the annotations (toxicity,
profanity, sentiment, harm) are the study's offline scorers, not human labels; the groups covered are
those of the sources.

## Citation

```bibtex
{CITATION}
```
"""
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}")
