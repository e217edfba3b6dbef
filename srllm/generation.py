"""Batched generation with a chat model: left padding, KV cache, decoding settings from the parameters.

Two uses:

- rewriting (``generate_rewrites``): the debiasing instruction in the model's chat template,
  zero-shot or with k demonstrations as prior chat turns;
- continuation (``generate_continuations``): the raw prompt text, no chat template, as the
  ToxiGen and BOLD evaluations of Llama 2 prompt a model.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from tqdm.auto import tqdm

from .config import GenerationConfig
from .prompts import DEBIAS_INSTRUCTION, rewrite_messages

# Openings of a refusal instead of a rewrite ("I'm sorry, but ...", "As an AI ...").
REFUSAL_PATTERN = re.compile(
    r"^\s*(i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i won'?t|i'?m not able|i am not able|"
    r"as an ai|i'?m unable|i am unable|i apologi[sz]e)",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    return bool(REFUSAL_PATTERN.match(text))


def fewshot_messages(text: str, demonstrations: list[tuple[str, str]]) -> list[dict[str, str]]:
    """The rewrite request for ``text`` preceded by (input, rewrite) demonstrations as earlier chat turns."""
    messages = rewrite_messages(text)
    system, request = messages[0], messages[1:]
    turns: list[dict[str, str]] = []
    for unsafe, safe in demonstrations:
        turns.append({"role": "user", "content": f"{DEBIAS_INSTRUCTION} {unsafe}"})
        turns.append({"role": "assistant", "content": safe})
    return [system, *turns, *request]


def rewrite_prompt(tokenizer: Any, text: str, demonstrations: list[tuple[str, str]] | None = None) -> str:
    """The generation prompt asking for a rewrite of ``text`` in the model's own chat template."""
    messages = fewshot_messages(text, demonstrations or [])
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@torch.inference_mode()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    generation: GenerationConfig,
    seed: int = 0,
    max_new_tokens: int | None = None,
    desc: str = "generating",
    progress: bool = True,
) -> list[str]:
    """The new text after each (already rendered) prompt, in input order.

    Prompts are sorted by length so a batch wastes little on padding; left padding because a
    decoder-only model continues from the right edge; the KV cache is on.
    """
    model.eval()
    tokenizer.padding_side = "left"
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    outputs: list[str] = [""] * len(prompts)
    torch.manual_seed(seed)
    sampling = (
        {"do_sample": True, "temperature": generation.temperature, "top_p": generation.top_p}
        if generation.do_sample
        else {"do_sample": False}
    )
    device = next(model.parameters()).device
    with tqdm(total=len(prompts), desc=desc, unit="item", disable=not progress) as bar:
        for start in range(0, len(order), generation.batch_size):
            index = order[start : start + generation.batch_size]
            batch = tokenizer([prompts[i] for i in index], return_tensors="pt", padding=True, add_special_tokens=False)
            batch = {k: v.to(device) for k, v in batch.items()}
            generated = model.generate(
                **batch,
                max_new_tokens=max_new_tokens or generation.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                use_cache=True,
                **sampling,
            )
            new_tokens = generated[:, batch["input_ids"].shape[1] :]
            for i, text in zip(index, tokenizer.batch_decode(new_tokens, skip_special_tokens=True)):
                outputs[i] = text
            bar.update(len(index))
    return outputs


def generate_rewrites(
    model: Any,
    tokenizer: Any,
    texts: list[str],
    generation: GenerationConfig,
    seed: int = 0,
    desc: str = "rewriting",
    demonstrations: list[tuple[str, str]] | None = None,
    progress: bool = True,
) -> list[str]:
    """The model's rewrite of each text, prompted with the debiasing instruction (plus demonstrations)."""
    prompts = [rewrite_prompt(tokenizer, text, demonstrations) for text in texts]
    outputs = generate(model, tokenizer, prompts, generation, seed, desc=desc, progress=progress)
    return [text.strip() for text in outputs]


def generate_continuations(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    generation: GenerationConfig,
    max_new_tokens: int,
    seed: int = 0,
    desc: str = "continuing",
    first_line: bool = False,
    progress: bool = True,
) -> list[str]:
    """The model's continuation of each raw prompt (no chat template); ``first_line`` keeps the text
    up to the first newline (a ToxiGen prompt asks for one more statement of a list)."""
    outputs = generate(model, tokenizer, prompts, generation, seed, max_new_tokens, desc=desc, progress=progress)
    if first_line:
        outputs = [text.strip().split("\n", 1)[0] for text in outputs]
    return [text.strip() for text in outputs]
