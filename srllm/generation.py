"""Batched rewriting with a chat model: left padding, KV cache, decoding settings from the parameters."""

from __future__ import annotations

import re
from typing import Any

import torch
from tqdm import tqdm

from .config import GenerationConfig
from .prompts import render_prompt

# Openings of a refusal instead of a rewrite ("I'm sorry, but ...", "As an AI ...").
REFUSAL_PATTERN = re.compile(
    r"^\s*(i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i won'?t|i'?m not able|i am not able|"
    r"as an ai|i'?m unable|i am unable|i apologi[sz]e)",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    return bool(REFUSAL_PATTERN.match(text))


@torch.inference_mode()
def generate_rewrites(
    model: Any, tokenizer: Any, texts: list[str], generation: GenerationConfig, seed: int = 0, desc: str = "rewriting"
) -> list[str]:
    """The model's rewrite of each text, prompted with the debiasing instruction in its chat template.

    Prompts are sorted by length so a batch wastes little on padding; outputs come back in input order.
    """
    model.eval()
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    prompts = [render_prompt(tokenizer, text) for text in texts]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    outputs: list[str] = [""] * len(prompts)
    torch.manual_seed(seed)
    sampling = (
        {"do_sample": True, "temperature": generation.temperature, "top_p": generation.top_p}
        if generation.do_sample
        else {"do_sample": False}
    )
    for start in tqdm(range(0, len(order), generation.batch_size), desc=desc, unit="batch"):
        index = order[start : start + generation.batch_size]
        batch = tokenizer([prompts[i] for i in index], return_tensors="pt", padding=True, add_special_tokens=False)
        batch = {k: v.to(model.device) for k, v in batch.items()}
        generated = model.generate(
            **batch,
            max_new_tokens=generation.max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            use_cache=True,
            **sampling,
        )
        new_tokens = generated[:, batch["input_ids"].shape[1] :]
        for i, text in zip(index, tokenizer.batch_decode(new_tokens, skip_special_tokens=True)):
            outputs[i] = text.strip()
    return outputs
