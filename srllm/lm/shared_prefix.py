"""Training forward passes that run the prompt's shared start once per batch.

Every training example begins with the same tokens: the chat template's system prompt and the
debiasing instruction (about 73 tokens of an example's mean 107 in the CPU default). A batch of 8
ran them 8 times, in the forward and the backward pass, and they were most of a step's work: the
loss is on the completion only (about 11% of the positions). ``SharedPrefixBackbone`` runs the tokens
every row of the batch starts with once, on one row, keeps their keys and values (with their
autograd graph) in a KV cache, repeats that cache for the batch, and runs each row's own tokens on
top of it. The backward pass sums the rows' gradients through the repeated cache.

What it changes: with dropout off (evaluation, or ``lora.dropout: 0``) the hidden states, the loss and
the gradients are those of the plain forward pass up to floating-point rounding
(``tests/lm/test_shared_prefix.py``). With LoRA dropout in training, the shared tokens get one dropout
mask for the batch instead of one per row; the rows' own tokens, the completion among them, keep
their own masks. Each mask keeps the same distribution; only the correlation between the rows' masks
on the shared tokens differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import DynamicCache
from transformers.modeling_outputs import BaseModelOutputWithPast

MIN_SHARED_TOKENS = 8  # below this the two passes cost more than they save


def shared_prefix_length(input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> int:
    """How many leading positions every row has the same, attended token at, leaving each row at least
    one position of its own."""
    same = (input_ids == input_ids[:1]).all(dim=0)
    if attention_mask is not None:
        same &= attention_mask.bool().all(dim=0)
    length = int(same.long().cumprod(dim=0).sum())
    return min(length, input_ids.shape[1] - 1)


@dataclass
class SharedPrefixBackbone:
    """Wraps a decoder's ``forward`` (the transformer body a causal LM's head sits on); counts what it saved.

    Only plain calls take the shared path: token ids of several rows, no cache or past keys (prefix
    tuning's virtual tokens), no position ids, no ``use_cache`` (the trainer's loss and evaluation calls). Generation and anything else go to the
    original ``forward`` unchanged.
    """

    backbone: Any
    batches: int = 0  # batches that took the shared path
    shared_tokens: int = 0  # token positions not computed (the shared part, once per row but one)
    tokens: int = 0  # token positions of every batch that took the shared path
    original: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.original = self.backbone.forward
        self.backbone.forward = self.forward

    def forward(self, *args: Any, **kwargs: Any) -> BaseModelOutputWithPast:
        input_ids, attention_mask = kwargs.get("input_ids"), kwargs.get("attention_mask")
        # Prefix tuning hands its virtual tokens in as past keys and values, with a longer attention mask.
        others = any(kwargs.get(k) is not None for k in ("cache", "past_key_values", "position_ids", "inputs_embeds"))
        if (
            args
            or input_ids is None
            or input_ids.shape[0] < 2
            or others
            or kwargs.get("use_cache")
            or (attention_mask is not None and attention_mask.shape != input_ids.shape)
        ):
            return self.original(*args, **kwargs)  # exactly as called: a None can mean something (cache=None)
        rest = {k: v for k, v in kwargs.items() if k not in ("input_ids", "attention_mask", "use_cache")}
        shared = shared_prefix_length(input_ids, attention_mask)
        if shared < MIN_SHARED_TOKENS:
            return self.original(*args, **kwargs)
        batch, length = input_ids.shape
        prefix_cache = DynamicCache(config=self.backbone.config)
        head = self.original(input_ids=input_ids[:1, :shared], cache=prefix_cache, use_cache=True, **rest)
        prefix_cache.batch_repeat_interleave(batch)  # repeat_interleave: the gradient flows back to the one row
        tail = self.original(
            input_ids=input_ids[:, shared:], attention_mask=attention_mask, cache=prefix_cache, use_cache=True, **rest
        )
        self.batches += 1
        self.shared_tokens += shared * (batch - 1)
        self.tokens += batch * length
        hidden = torch.cat([head.last_hidden_state.expand(batch, -1, -1), tail.last_hidden_state], dim=1)
        return BaseModelOutputWithPast(last_hidden_state=hidden)

    def summary(self) -> dict[str, Any]:
        """For the train metrics: batches on the shared path, the share of their token positions (padding
        included) not computed, and how many positions that is per batch."""
        return {
            "batches": self.batches,
            "share_of_positions_saved": round(self.shared_tokens / self.tokens, 4) if self.tokens else 0.0,
            "positions_saved_per_batch": round(self.shared_tokens / self.batches, 1) if self.batches else 0.0,
        }


def share_prompt_prefix(model: Any) -> SharedPrefixBackbone:
    """Route the training forward passes of ``model`` (a peft or plain transformers causal LM) through
    ``SharedPrefixBackbone``."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return SharedPrefixBackbone(inner.get_decoder())
