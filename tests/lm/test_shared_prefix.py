"""Running a batch's shared prompt start once gives the plain forward pass's hidden states, loss and
LoRA gradients (dropout off), and leaves calls it does not apply to alone.

The model is the tiny random Llama with LoRA adapters whose B is not zero, so the adapters change
every layer's keys and values and their gradients flow back through the shared KV cache.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from peft import LoraConfig, get_peft_model

from srllm.config import ModelConfig, RandomInitConfig
from srllm.lm.models import load_causal_lm, resolve_base_model
from srllm.lm.shared_prefix import MIN_SHARED_TOKENS, share_prompt_prefix, shared_prefix_length

PAD = 0


def tiny_lora(seed: int) -> Any:
    path = resolve_base_model(ModelConfig(random_init=RandomInitConfig()), seed=0)
    torch.manual_seed(seed)
    model = load_causal_lm(path, attn_implementation="eager")
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                      task_type="CAUSAL_LM", init_lora_weights=False)  # fmt: skip
    return get_peft_model(model, lora)


def right_padded_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Four rows: the same 20 tokens, then 3 to 15 tokens of their own, right-padded; labels on the last 5."""
    generator = torch.Generator().manual_seed(1)
    prefix = torch.randint(5, 200, (20,), generator=generator).tolist()
    rows = [prefix + torch.randint(5, 200, (n,), generator=generator).tolist() for n in (15, 3, 9, 12)]
    width = max(map(len, rows))
    ids = torch.tensor([row + [PAD] * (width - len(row)) for row in rows])
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
    labels = torch.full_like(ids, -100)
    for r, row in enumerate(rows):
        labels[r, len(row) - 5 : len(row)] = ids[r, len(row) - 5 : len(row)]
    return ids, mask, labels


def loss_and_hidden(
    model: Any, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    hidden = model.get_base_model().get_decoder()(input_ids=ids, attention_mask=mask).last_hidden_state
    logits = model.get_base_model().lm_head(hidden[:, :-1])
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)
    return loss, hidden


def test_the_shared_length_stops_at_the_first_difference_or_padding() -> None:
    ids = torch.tensor([[1, 2, 3, 4, 5], [1, 2, 3, 9, 9], [1, 2, 3, 4, 0]])
    assert shared_prefix_length(ids, torch.ones_like(ids)) == 3
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]])
    assert shared_prefix_length(ids, mask) == 2  # a padded position is never shared
    same = torch.tensor([[1, 2, 3], [1, 2, 3]])
    assert shared_prefix_length(same, None) == 2  # each row keeps a position of its own


def test_hidden_states_loss_and_gradients_equal_the_plain_forward_pass() -> None:
    plain, shared = tiny_lora(seed=3), tiny_lora(seed=3)
    wrapper = share_prompt_prefix(shared)
    ids, mask, labels = right_padded_batch()
    loss_a, hidden_a = loss_and_hidden(plain, ids, mask, labels)
    loss_b, hidden_b = loss_and_hidden(shared, ids, mask, labels)
    assert wrapper.batches == 1 and wrapper.summary()["share_of_positions_saved"] == pytest.approx(
        20 * 3 / ids.numel(), abs=1e-4
    )
    attended = mask.bool()
    torch.testing.assert_close(hidden_b[attended], hidden_a[attended], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss_b, loss_a, atol=1e-6, rtol=1e-6)
    loss_a.backward()
    loss_b.backward()
    grads = {name: p.grad for name, p in plain.named_parameters() if p.requires_grad}
    assert grads and all(g is not None for g in grads.values())
    moved_through_the_cache = 0
    for name, p in shared.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.grad, grads[name], atol=1e-6, rtol=1e-4)
            # Layer 0's k/v adapters act on the shared tokens' keys and values too: their gradient comes through the cache.
            moved_through_the_cache += int(
                "layers.0." in name and ("k_proj" in name or "v_proj" in name) and p.grad.abs().sum() > 0
            )
    assert moved_through_the_cache == 4  # lora_A and lora_B of k_proj and v_proj


def test_calls_it_does_not_apply_to_go_to_the_plain_forward_pass() -> None:
    model = tiny_lora(seed=3)
    wrapper = share_prompt_prefix(model)
    decoder = model.get_base_model().get_decoder()
    ids, mask, _ = right_padded_batch()
    decoder(input_ids=ids[:1], attention_mask=mask[:1])  # one row
    decoder(input_ids=ids, attention_mask=mask, use_cache=True)  # generation
    different = ids.clone()
    different[1, MIN_SHARED_TOKENS - 2] += 1  # rows share fewer than MIN_SHARED_TOKENS
    decoder(input_ids=different, attention_mask=mask)
    assert wrapper.batches == 0
    decoder(input_ids=ids, attention_mask=mask)
    assert wrapper.batches == 1
