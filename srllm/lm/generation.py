"""Batched generation with a chat model: left padding, KV cache, decoding settings from the parameters.

Two uses:

- rewriting (``generate_rewrites``): the debiasing instruction in the model's chat template,
  zero-shot or with k demonstrations as prior chat turns;
- continuation (``generate_continuations``): the raw prompt text, no chat template, as the
  ToxiGen and BOLD evaluations of Llama 2 prompt a model.
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from ..config import GenerationConfig
from ..core.progress import Progress
from . import greedy
from .greedy import RowStop
from .prompts import DEBIAS_INSTRUCTION, rewrite_messages

# Openings of a refusal instead of a rewrite ("I'm sorry, but ...", "As an AI ...").
REFUSAL_PATTERN = re.compile(
    r"^\s*(i'?m sorry|i am sorry|sorry,|i cannot|i can'?t|i won'?t|i'?m not able|i am not able|"
    r"as an ai|i'?m unable|i am unable|i apologi[sz]e)",
    re.IGNORECASE,
)


def rewrite_budget(n_input_tokens: int, multiple: float, cap: int, floor: int) -> int:
    """A rewrite's token budget: max(floor, ceil(multiple x n_input_tokens)), at most ``cap``."""
    if n_input_tokens < 0:
        raise ValueError(f"n_input_tokens must be >= 0, got {n_input_tokens}")
    if multiple <= 0 or floor < 1 or cap < floor:
        raise ValueError(f"need multiple > 0 and 1 <= floor <= cap; got multiple={multiple}, floor={floor}, cap={cap}")
    return int(min(cap, max(floor, math.ceil(multiple * n_input_tokens))))


def rewrite_budgets(tokenizer: Any, texts: list[str], generation: GenerationConfig) -> list[int]:
    """Each rewrite's budget of new tokens: ``generation.max_new_tokens``, or, with ``budget_multiple``,
    one that follows the input's token count (a long input gets room to be rewritten whole, a short one
    no room to ramble)."""
    if generation.budget_multiple is None:
        return [generation.max_new_tokens] * len(texts)
    counts = [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]] if texts else []
    return [rewrite_budget(n, generation.budget_multiple, generation.max_new_tokens, generation.budget_floor) for n in counts]


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


_NEWLINE_TABLES: dict[int, torch.Tensor] = {}  # per tokenizer object: the vocabulary is read once


def _newline_table(tokenizer: Any) -> torch.Tensor:
    """For every token id, whether its text holds a newline."""
    if id(tokenizer) not in _NEWLINE_TABLES:
        vocabulary = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        pieces = [tokenizer.convert_tokens_to_string([token]) if token is not None else "" for token in vocabulary]
        _NEWLINE_TABLES[id(tokenizer)] = torch.tensor(["\n" in piece for piece in pieces], dtype=torch.bool)
    return _NEWLINE_TABLES[id(tokenizer)]


def _first_line_done(tokenizer: Any, table: torch.Tensor, new_tokens: list[int]) -> bool:
    """Whether the new text, leading whitespace left aside, holds a newline (checked only when the last token has one)."""
    last = new_tokens[-1]
    if last >= len(table) or not table[last]:
        return False
    return "\n" in tokenizer.decode(new_tokens, skip_special_tokens=True).lstrip()


class FirstLineEnds(StoppingCriteria):
    """Stops a row once its new text, leading whitespace left aside, contains a newline.

    A continuation task keeps only the first line (``text.strip().split("\\n", 1)[0]``), so decoding
    past that newline only spends the token budget on text that is thrown away. Stopping there keeps
    exactly the same first line: each row of a batch is decoded independently of the others, and the
    row's tokens up to the stop are the ones it would have had anyway. Only rows whose latest token
    holds a newline are decoded to check, so the cost per step is a lookup.
    """

    def __init__(self, tokenizer: Any, prompt_length: int):
        self.tokenizer, self.prompt_length = tokenizer, prompt_length
        self.has_newline = _newline_table(tokenizer)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        rows = input_ids[:, self.prompt_length :].cpu().tolist()
        done = [bool(row) and _first_line_done(self.tokenizer, self.has_newline, row) for row in rows]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def first_line_stop(tokenizer: Any) -> RowStop:
    """``FirstLineEnds`` for ``greedy_generate``: which of the active rows have completed their first line."""
    table = _newline_table(tokenizer)
    return lambda rows, _index: [_first_line_done(tokenizer, table, row) for row in rows]


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
    stop_at_first_line: bool = False,
    budgets: list[int] | None = None,
) -> list[str]:
    """The new text after each (already rendered) prompt, in input order; at most ``budgets[i]`` new
    tokens for prompt i (default: ``max_new_tokens``, else ``generation.max_new_tokens``, for all).

    Prompts are sorted by length so a batch wastes little on padding; left padding because a
    decoder-only model continues from the right edge; the KV cache is on. Every row stops at the
    end-of-sequence token (a chat model's end of turn); with ``stop_at_first_line`` also once its
    first line is complete (``FirstLineEnds``). Greedy decoding of a plain model runs the prompts'
    shared start once and drops finished rows from the batch (``srllm.lm.greedy``); sampling and peft
    models go through ``model.generate``.
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
    budgets = budgets or [max_new_tokens or generation.max_new_tokens] * len(prompts)
    if len(budgets) != len(prompts):
        raise ValueError(f"{len(budgets)} budgets for {len(prompts)} prompts")
    with Progress(desc, len(prompts), "items", enabled=progress) as bar:
        for start in range(0, len(order), generation.batch_size):
            index = order[start : start + generation.batch_size]
            budget = [budgets[i] for i in index]
            if not generation.do_sample and greedy.supports(model):
                # The batch's shared prompt start runs once and finished rows leave the batch (srllm.lm.greedy).
                stop = first_line_stop(tokenizer) if stop_at_first_line else None
                rows = tokenizer([prompts[i] for i in index], add_special_tokens=False)["input_ids"]
                new_tokens = greedy.greedy_generate(model, rows, tokenizer.pad_token_id, budget, tokenizer.eos_token_id, stop)
            else:
                batch = tokenizer([prompts[i] for i in index], return_tensors="pt", padding=True, add_special_tokens=False)
                batch = {k: v.to(device) for k, v in batch.items()}
                prompt_length = batch["input_ids"].shape[1]
                stopping = StoppingCriteriaList([FirstLineEnds(tokenizer, prompt_length)] if stop_at_first_line else [])
                generated = model.generate(
                    **batch,
                    stopping_criteria=stopping,
                    max_new_tokens=max(budget),
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    use_cache=True,
                    **sampling,
                )
                # A row's first budget[r] tokens are what a row of its own budget would have drawn.
                new_tokens = [row[:b] for row, b in zip(generated[:, prompt_length:].tolist(), budget)]
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
    budgets = rewrite_budgets(tokenizer, texts, generation)
    outputs = generate(model, tokenizer, prompts, generation, seed, desc=desc, progress=progress, budgets=budgets)
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
    outputs = generate(
        model, tokenizer, prompts, generation, seed, max_new_tokens, desc=desc, progress=progress,
        stop_at_first_line=first_line,
    )  # fmt: skip
    if first_line:
        outputs = [text.strip().split("\n", 1)[0] for text in outputs]
    return [text.strip() for text in outputs]
