"""Greedy decoding that stops computing a row once it has finished.

``model.generate`` keeps every row of a batch in the forward pass until the last row stops, and a
finished row's compute is thrown away. On a CPU, decoding a batch of 64 costs in proportion to its
rows, and in the CPU default a batch runs until its longest rewrite ends: SR-LLM's rewrites average
about 20 of their 48 new tokens, so most of the decoding work went to rows that had already stopped.
This loop does what greedy ``generate`` does, step for step (position ids from the attention mask,
the KV cache, logits of the last position only, argmax), and drops finished rows from the batch and
from the KV cache (``DynamicCache.batch_select_indices``), and its KV cache grows into spare room instead of
being copied whole at every step (``srllm.lm.kv_cache``: 128 rewrites of the CPU default took 0.97x the time
in bfloat16 with AMX, 0.98x in float32 on the AVX2 path, identical tokens). It also runs the tokens every prompt of a
batch starts with once: in the CPU default that is the chat template's system prompt and the
instruction, 73 of a rewrite prompt's median 92 tokens, which made most of the prompt's cost.

The tokens are those of greedy ``generate`` up to floating-point rounding: a smaller batch can
round a matrix product differently, which can flip a near-tie between two tokens.
``tests/lm/test_greedy.py`` checks that the tokens are identical to ``generate``'s on the packaged
model; on 3 x 128 rewrites of the CPU default (SR-LLM, base, base two-shot) none differed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .kv_cache import GrowingCache

# (new tokens of the still-active rows, their indices in the batch) -> which of them have finished
RowStop = Callable[[list[list[int]], list[int]], list[bool]]


def supports(model: Any) -> bool:
    """Whether ``model`` can be decoded by ``greedy_generate``: a plain transformers causal LM. A peft
    model (prefix tuning adds its virtual tokens through generate's own hooks) goes through generate."""
    return not hasattr(model, "peft_config") and hasattr(model, "get_output_embeddings")


def common_prefix_length(rows: list[list[int]]) -> int:
    """The number of leading tokens every row shares, leaving each row at least one token of its own."""
    shortest = min(len(row) for row in rows)
    length = 0
    while length < shortest - 1 and all(row[length] == rows[0][length] for row in rows):
        length += 1
    return length


@torch.inference_mode()
def greedy_generate(
    model: Any,
    prompts: list[list[int]],
    pad_token_id: int,
    max_new_tokens: int | list[int],
    eos_token_id: int,
    row_stop: RowStop | None = None,
) -> list[list[int]]:
    """The new tokens after each prompt (token ids), greedy, up to and including its end-of-sequence
    token; a row also stops when ``row_stop`` says so, and at its budget (``max_new_tokens``: one for
    all rows, or one per row).

    The tokens every prompt starts with (the chat template's system prompt and the instruction) are
    run once, and their KV cache is shared by the batch; each prompt's own tokens follow, left-padded
    between the shared part and themselves, with position ids that continue the shared part.
    """
    device = next(model.parameters()).device
    batch = len(prompts)
    budgets = [max_new_tokens] * batch if isinstance(max_new_tokens, int) else list(max_new_tokens)
    if len(budgets) != batch or min(budgets) < 1:
        raise ValueError(f"need one budget of at least 1 token per prompt, got {budgets} for {batch} prompts")
    shared = common_prefix_length(prompts)
    tails = [row[shared:] for row in prompts]
    width = max(len(t) for t in tails)
    step_ids = torch.tensor([[pad_token_id] * (width - len(t)) + t for t in tails], device=device)
    tail_mask = torch.tensor([[0] * (width - len(t)) + [1] * len(t) for t in tails], device=device)
    cache = GrowingCache()  # grows into spare room: no copy of the whole cache at each step
    if shared:
        prefix = torch.tensor([prompts[0][:shared]], device=device)
        model(input_ids=prefix, position_ids=torch.arange(shared, device=device)[None], cache=cache, use_cache=True,
              logits_to_keep=1)  # fmt: skip
        cache.batch_repeat_interleave(batch)
    mask = torch.cat([tail_mask.new_ones((batch, shared)), tail_mask], dim=-1)
    # A row's real tokens continue the shared part's positions (padding gets 1, as generate gives it).
    positions = (shared + tail_mask.long().cumsum(-1) - 1).masked_fill(tail_mask == 0, 1)
    new_tokens: list[list[int]] = [[] for _ in range(batch)]
    active = list(range(batch))  # batch rows still decoding, in the order of the tensors
    for _ in range(max(budgets)):
        logits = model(
            input_ids=step_ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1, :]  # fmt: skip
        chosen = logits.argmax(dim=-1)
        keep: list[int] = []
        for slot, (row, token) in enumerate(zip(active, chosen.tolist())):
            new_tokens[row].append(token)
            if token != eos_token_id and len(new_tokens[row]) < budgets[row]:
                keep.append(slot)
        if row_stop is not None and keep:
            stopped = row_stop([new_tokens[active[s]] for s in keep], [active[s] for s in keep])
            keep = [s for s, stop in zip(keep, stopped) if not stop]
        if not keep:
            break
        if len(keep) < len(active):
            index = torch.tensor(keep, device=device)
            cache.batch_select_indices(index)
            chosen, mask, positions = chosen[index], mask[index], positions[index]
            active = [active[s] for s in keep]
        step_ids = chosen[:, None]
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=-1)
        positions = positions[:, -1:] + 1
    return new_tokens
