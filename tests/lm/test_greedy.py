"""Greedy decoding without finished rows gives the tokens of greedy ``model.generate``."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def packaged_model():
    from srllm.config import ModelConfig
    from srllm.lm.models import load_causal_lm, load_tokenizer, resolve_base_model

    base = resolve_base_model(ModelConfig())  # the packaged SmolLM2-135M-Instruct (converted once, cached)
    return load_causal_lm(base, dtype="float32"), load_tokenizer(base)


def _until_eos(tokens: list[int], eos: int) -> list[int]:
    return tokens[: tokens.index(eos) + 1] if eos in tokens else tokens


def test_the_tokens_equal_those_of_generate_and_finished_rows_leave(packaged_model, data_dir) -> None:
    from srllm.lm.generation import rewrite_prompt
    from srllm.lm.greedy import greedy_generate, supports

    model, tokenizer = packaged_model
    assert supports(model)
    texts = ["you are all idiots", "women should not be allowed to vote", "That is a dumb idea, honestly.",
             "immigrants ruin everything here", "hello", "the referee was blind and stupid"]  # fmt: skip
    tokenizer.padding_side = "left"
    batch = tokenizer([rewrite_prompt(tokenizer, t) for t in texts], return_tensors="pt", padding=True, add_special_tokens=False)
    eos = tokenizer.eos_token_id
    reference = model.generate(**batch, max_new_tokens=32, do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=eos)
    expected = [_until_eos(row, eos) for row in reference[:, batch["input_ids"].shape[1] :].tolist()]
    calls = []
    forward = model.forward

    def counting_forward(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return forward(*args, **kwargs)

    model.forward = counting_forward
    try:
        got = greedy_generate(model, [tokenizer(rewrite_prompt(tokenizer, t), add_special_tokens=False)["input_ids"] for t in texts],
                              tokenizer.pad_token_id, 32, eos)  # fmt: skip
    finally:
        del model.forward
    assert got == expected
    # The shared prompt start ran once (batch 1), then all rows; rows that ended before the budget left the batch.
    assert calls[0] == 1 and calls[1] == len(texts)
    calls = calls[1:]
    assert any(len(row) < 32 for row in expected), expected  # some rewrite ends before the budget
    assert calls[-1] < len(texts) and sorted(calls, reverse=True) == calls


def test_a_row_stop_ends_only_its_row(packaged_model) -> None:
    from srllm.lm.greedy import greedy_generate

    model, tokenizer = packaged_model
    prompts = tokenizer(["The cat sat on", "Once upon a time, in a land far", "1, 2, 3,"])["input_ids"]
    free = greedy_generate(model, prompts, tokenizer.pad_token_id, 12, tokenizer.eos_token_id)
    # Stop the second row after 3 tokens: the others decode exactly as before.
    stopped = greedy_generate(model, prompts, tokenizer.pad_token_id, 12, tokenizer.eos_token_id,
                              lambda rows, index: [i == 1 and len(r) >= 3 for r, i in zip(rows, index)])  # fmt: skip
    assert stopped[1] == free[1][:3]
    assert stopped[0] == free[0] and stopped[2] == free[2]


def test_the_shared_start_leaves_every_row_a_token_of_its_own() -> None:
    from srllm.lm.greedy import common_prefix_length

    assert common_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert common_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2  # identical prompts: the last token is each row's own
    assert common_prefix_length([[7], [7, 8]]) == 0


def test_each_row_stops_at_its_own_budget(packaged_model) -> None:
    from srllm.lm.greedy import greedy_generate

    model, tokenizer = packaged_model
    prompts = tokenizer(["The cat sat on", "Once upon a time, in a land far", "1, 2, 3,"])["input_ids"]
    free = greedy_generate(model, prompts, tokenizer.pad_token_id, 12, tokenizer.eos_token_id)
    assert all(len(row) == 12 for row in free), free  # none ends before 12 tokens, so each budget binds
    budgeted = greedy_generate(model, prompts, tokenizer.pad_token_id, [5, 12, 2], tokenizer.eos_token_id)
    assert budgeted == [free[0][:5], free[1], free[2][:2]]
    with pytest.raises(ValueError, match="one budget"):
        greedy_generate(model, prompts, tokenizer.pad_token_id, [5, 12], tokenizer.eos_token_id)
