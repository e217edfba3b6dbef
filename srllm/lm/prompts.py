"""The debiasing instruction and how it becomes chat messages.

The wording is the SR-LLM authors' (their released training script; the book's method page quotes it). Two of their defects are fixed here:
the system block goes *inside* the model's chat template (their ``<<SYS>>`` block sat outside
``[INST]``), and the completion ends with the tokenizer's real end-of-sequence token, which the chat
template appends (their closing ``<s/>`` is not ``</s>``, so their model never learned to stop).
"""

from __future__ import annotations

from typing import Any

SYSTEM_PROMPT = (
    "You are a text debiasing bot, you take as input a text and you output its debiased version by "
    "rephrasing it to be free from any age, gender, political, social or socio-economic biases, "
    "without any extra outputs"
)
DEBIAS_INSTRUCTION = "Debias this text by rephrasing it to be free of bias :"

Message = dict[str, str]


def rewrite_messages(text: str) -> list[Message]:
    """System + user turn asking for a debiased rewrite of ``text``."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"{DEBIAS_INSTRUCTION} {text}"},
    ]


def training_example(record: dict[str, Any]) -> dict[str, list[Message]]:
    """A conversational prompt-completion example, the form trl's SFTTrainer masks to the completion."""
    return {
        "prompt": rewrite_messages(record["input"]),
        "completion": [{"role": "assistant", "content": record["output"]}],
    }
