"""Merge a LoRA adapter into the full-precision base, and check the merge changed nothing.

Merging onto the 4-bit base would add rounding error (the merged weights are re-quantized), so the
adapter is always merged onto the float32 base. The check compares the logits of base+adapter
(unmerged) with those of the merged model on real inputs; the largest absolute difference is
recorded. For a QLoRA adapter two more gaps are measured, for information: the adapter on the 4-bit
base (how QLoRA trained it) against the merged float32 model, and the error that merging into the
4-bit base would add (peft dequantizes each 4-bit weight, adds the LoRA update and quantizes again),
also at the level of the task: each model's negative log-likelihood of the held-out probe rewrites and
how often the two merges disagree on the next token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..config import QuantizationConfig
from ..core.io import atomic_path
from .models import load_causal_lm, load_tokenizer
from .patches import keep_4bit_weights_fixed


@torch.inference_mode()
def _logits(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    model.eval()
    out = model(**{k: v.to(model.device) for k, v in batch.items()})
    return out.logits.float().cpu()


MERGEABLE = ("qlora", "lora")  # the methods whose adapter is merged into the full-precision base

def _max_abs_diff(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    # Only real tokens count: padded positions carry arbitrary values.
    return float((a - b).abs().amax(dim=-1)[mask.bool()].max())


def _task_effect(logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> float:
    """Mean negative log-likelihood per real token of the probe texts (each next token given the ones before)."""
    ids, mask = batch["input_ids"], batch["attention_mask"].bool()
    valid = mask[:, 1:] & mask[:, :-1]
    nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")
    return float(nll[valid].mean())


def _top1_agreement(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    """Share of real positions where both models predict the same next token (what greedy decoding follows)."""
    return float((a.argmax(dim=-1) == b.argmax(dim=-1))[mask.bool()].float().mean())


def merge_adapter(
    base_path: Path | str,
    adapter_dir: Path,
    out_dir: Path,
    probe_texts: list[str],
    quantization: QuantizationConfig | None = None,
) -> dict[str, Any]:
    """Merge ``adapter_dir`` into the float32 base at ``base_path``, save to ``out_dir``; return the checks."""
    from peft import PeftModel  # lazy: peft is a heavy import, needed only here

    tokenizer = load_tokenizer(base_path)
    batch = tokenizer(probe_texts, return_tensors="pt", padding=True)
    base = load_causal_lm(base_path, dtype="float32")
    with_adapter = PeftModel.from_pretrained(base, adapter_dir)
    unmerged_logits = _logits(with_adapter, batch)
    merged = with_adapter.merge_and_unload()
    merged_logits = _logits(merged, batch)
    result: dict[str, Any] = {
        "max_abs_logit_diff": _max_abs_diff(unmerged_logits, merged_logits, batch["attention_mask"]),
        "probe_nll_merged": _task_effect(merged_logits, batch),
        "probe_texts": len(probe_texts),
        "probe_tokens": int(batch["attention_mask"].sum()),
    }
    with atomic_path(out_dir) as tmp:
        merged.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    del merged, with_adapter, base

    if quantization is not None:
        mask = batch["attention_mask"]
        quantized = PeftModel.from_pretrained(load_causal_lm(base_path, quantization=quantization), adapter_dir)
        # Keep the 4-bit weights in the layout they were trained in (see training.keep_4bit_weights_fixed):
        # an eval-mode forward would otherwise repack them in place before the merge below reads them.
        keep_4bit_weights_fixed(quantized)
        # The adapter on the 4-bit base, as QLoRA trained it, against the merged float32 model.
        unmerged_4bit_logits = _logits(quantized, batch)
        result["max_abs_logit_diff_4bit_vs_merged"] = _max_abs_diff(unmerged_4bit_logits, merged_logits, mask)
        # What we avoid: merging into the 4-bit base re-quantizes W + BA to NF4.
        merged_4bit_logits = _logits(quantized.merge_and_unload(), batch)
        result["max_abs_logit_diff_merge_into_4bit"] = _max_abs_diff(merged_4bit_logits, unmerged_4bit_logits, mask)
        result["max_abs_logit_diff_merge_into_4bit_vs_float32_merge"] = _max_abs_diff(
            merged_4bit_logits, merged_logits, mask
        )
        # The same at the level of the task: how well each predicts the held-out rewrites (NLL per token), and
        # how often merging into 4-bit changes the next token that greedy decoding would take.
        result["probe_nll_4bit_as_trained"] = _task_effect(unmerged_4bit_logits, batch)
        result["probe_nll_merged_into_4bit"] = _task_effect(merged_4bit_logits, batch)
        result["top1_agreement_merge_into_4bit_vs_float32_merge"] = _top1_agreement(merged_4bit_logits, merged_logits, mask)
    return result
