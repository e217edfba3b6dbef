from srllm.config import ModelConfig
from srllm.lm.generation import rewrite_prompt
from srllm.lm.models import load_tokenizer, resolve_base_model
from srllm.lm.prompts import DEBIAS_INSTRUCTION, SYSTEM_PROMPT, training_example


def test_training_example_is_prompt_completion_with_system_turn() -> None:
    example = training_example({"input": "unsafe", "output": "safe"})
    assert [m["role"] for m in example["prompt"]] == ["system", "user"]
    assert example["prompt"][0]["content"] == SYSTEM_PROMPT
    assert example["prompt"][1]["content"] == f"{DEBIAS_INSTRUCTION} unsafe"
    assert example["completion"] == [{"role": "assistant", "content": "safe"}]


def test_chat_template_puts_system_inside_and_ends_with_real_eos() -> None:
    tokenizer = load_tokenizer(resolve_base_model(ModelConfig()))
    example = training_example({"input": "unsafe text", "output": "safe text"})
    full = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False)
    assert full.startswith("<|im_start|>system\n" + SYSTEM_PROMPT)
    assert "safe text<|im_end|>" in full
    assert tokenizer.eos_token == "<|im_end|>"
    assert "<s/>" not in full
    prompt = rewrite_prompt(tokenizer, "unsafe text")
    assert prompt.endswith("<|im_start|>assistant\n")
    assert full.startswith(prompt)
