"""GrowingCache holds and hands out the same keys and values as transformers' DynamicCache."""

from __future__ import annotations

import torch
from transformers import DynamicCache

from srllm.config import ModelConfig, RandomInitConfig
from srllm.lm.kv_cache import SPARE, GrowingCache
from srllm.lm.models import load_causal_lm, resolve_base_model


def _decode(model, cache, prompt: torch.Tensor, steps: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Greedy steps on ``cache``; drops the second row after the second step, then repeats the rest twice."""
    logits_seen, tokens = [], prompt
    for step in range(steps):
        logits = model(input_ids=tokens, cache=cache, use_cache=True).logits[:, -1, :]
        logits_seen.append(logits)
        tokens = logits.argmax(-1, keepdim=True)
        if step == 1:
            keep = torch.tensor([0, 2])
            cache.batch_select_indices(keep)
            tokens = tokens[keep]
        if step == 3:
            cache.batch_repeat_interleave(2)
            tokens = tokens.repeat_interleave(2, dim=0)
    return logits_seen, [layer.keys for layer in cache.layers]


def test_the_growing_cache_gives_the_logits_and_keys_of_the_dynamic_cache() -> None:
    model = load_causal_lm(resolve_base_model(ModelConfig(random_init=RandomInitConfig()), seed=0))
    prompt = torch.randint(5, 200, (3, 7), generator=torch.Generator().manual_seed(0))
    steps = SPARE + 6  # past the first buffer's room: the buffer is enlarged while decoding
    with torch.inference_mode():
        expected, expected_keys = _decode(model, DynamicCache(), prompt, steps)
        growing = GrowingCache()
        got, got_keys = _decode(model, growing, prompt, steps)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for a, b in zip(got_keys, expected_keys):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert growing.get_seq_length() == 7 + steps - 1
    # The filled part is a view of a buffer with room to spare, not a fresh copy per step.
    layer = growing.layers[0]
    assert layer._key_buffer.shape[-2] > layer.keys.shape[-2]
