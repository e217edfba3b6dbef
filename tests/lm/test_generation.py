"""Decoding stops once a continuation's first line is complete, and keeps exactly the same first line."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def packaged_model():
    from srllm.config import ModelConfig
    from srllm.lm.models import load_causal_lm, load_tokenizer, resolve_base_model

    base = resolve_base_model(ModelConfig())  # the packaged SmolLM2-135M-Instruct (converted once, cached)
    return load_causal_lm(base, dtype="float32"), load_tokenizer(base)


def _toxigen_prompts(data_dir, n: int) -> list[str]:
    folder = data_dir.root / "toxigen" / "prompts"
    lines = []
    for path in sorted(folder.glob("*_1k.txt"))[:n]:
        first = next(line for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        lines.append(first.replace("\\n", "\n"))
    return lines


def test_stopping_at_the_first_line_keeps_the_same_first_line(packaged_model, data_dir) -> None:
    from srllm.config import GenerationConfig
    from srllm.lm.generation import generate

    model, tokenizer = packaged_model
    prompts = _toxigen_prompts(data_dir, 8)
    settings = GenerationConfig(max_new_tokens=24, batch_size=8)
    full = generate(model, tokenizer, prompts, settings, max_new_tokens=24, progress=False)
    stopped = generate(model, tokenizer, prompts, settings, max_new_tokens=24, progress=False, stop_at_first_line=True)
    first_line = [text.strip().split("\n", 1)[0] for text in full]
    assert [text.strip().split("\n", 1)[0] for text in stopped] == first_line
    # Each stopped text is the beginning of the full one; at least one stopped before the budget.
    assert all(long.startswith(short) for short, long in zip(stopped, full))
    assert sum(len(short) < len(long) for short, long in zip(stopped, full)) >= 1, (stopped, full)
    # A leading newline is not the end of the first line (the cut strips leading whitespace first).
    assert all(line.strip() for line in first_line if line)


def test_a_rewrite_budget_follows_its_input_on_both_decoding_paths(packaged_model) -> None:
    from srllm.config import GenerationConfig
    from srllm.lm.generation import generate, rewrite_budgets, rewrite_prompt

    model, tokenizer = packaged_model
    texts = ["you idiot", "the committee chairman told the ladies to let the men handle the budget numbers"]
    settings = GenerationConfig(max_new_tokens=20, batch_size=2, budget_multiple=1.0, budget_floor=4)
    counts = [len(tokenizer(t, add_special_tokens=False).input_ids) for t in texts]
    budgets = rewrite_budgets(tokenizer, texts, settings)
    assert budgets == [max(4, counts[0]), min(20, counts[1])] and budgets[0] < budgets[1]
    assert rewrite_budgets(tokenizer, texts, GenerationConfig(max_new_tokens=20)) == [20, 20]  # no multiple: the cap for all
    prompts = [rewrite_prompt(tokenizer, t) for t in texts]
    greedy = generate(model, tokenizer, prompts, settings, progress=False, budgets=budgets)
    full = generate(model, tokenizer, prompts, settings, progress=False)
    assert all(long.startswith(short) for short, long in zip(greedy, full))
    assert all(len(tokenizer(text, add_special_tokens=False).input_ids) <= b + 1 for text, b in zip(greedy, budgets))
    # model.generate (a peft model, or sampling) gives each row its own budget by cutting its tokens.
    sampled = GenerationConfig(max_new_tokens=20, batch_size=2, budget_multiple=1.0, budget_floor=4, do_sample=True)
    cut = generate(model, tokenizer, prompts, sampled, seed=3, progress=False, budgets=budgets)
    uncut = generate(model, tokenizer, prompts, sampled, seed=3, progress=False)
    assert all(long.startswith(short) for short, long in zip(cut, uncut))
    assert all(len(tokenizer(text, add_special_tokens=False).input_ids) <= b + 1 for text, b in zip(cut, budgets))
