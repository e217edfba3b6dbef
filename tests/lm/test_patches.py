"""Each workaround of srllm.lm.patches still meets the upstream internals it relies on.

These fail when an upgrade of trl, transformers or bitsandbytes renames or drops what a patch
reaches into, so the workaround is revisited instead of silently doing nothing.
"""

from __future__ import annotations

import inspect

import pytest
import torch

from srllm.lm import patches


def test_trl_still_chooses_its_fused_lm_head_path_with_use_triton() -> None:
    import trl.trainer.utils as trl_utils

    original = getattr(trl_utils, "_use_triton", None)
    assert callable(original)
    assert not original(torch.device("cpu"))  # upstream: every position scored on a CPU (what the patch changes)
    with patches.score_completion_positions_only():
        assert trl_utils._use_triton(torch.device("cpu"))
    assert trl_utils._use_triton is original


def test_bitsandbytes_linear4bit_still_has_the_cpu_repacking_switch() -> None:
    bnb = pytest.importorskip("bitsandbytes")
    source = inspect.getsource(bnb.nn.Linear4bit)
    assert "support_avx512bf16_for_cpu" in source  # the flag keep_4bit_weights_fixed turns off
    layer = bnb.nn.Linear4bit(8, 8, compute_dtype=torch.float32)
    model = torch.nn.Sequential(layer)
    patches.keep_4bit_weights_fixed(model)
    assert layer.support_avx512bf16_for_cpu is False


def test_the_trainer_still_keeps_its_running_loss_in_the_fields_loss_keeper_restores() -> None:
    from transformers import Trainer

    source = inspect.getsource(Trainer)
    for field in ("_total_loss_scalar", "_tr_loss", "_globalstep_last_logged"):
        assert f"self.{field}" in source, field


def test_peft_lora_layers_still_keep_their_dropout_in_lora_dropout() -> None:
    from peft import LoraConfig, get_peft_model

    from srllm.lm.dropout import BitMaskDropout

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q_proj, self.v_proj = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.v_proj(self.q_proj(x))

    model = get_peft_model(Tiny(), LoraConfig(r=2, lora_alpha=4, lora_dropout=0.1, target_modules=["q_proj", "v_proj"]))
    assert patches.cheaper_lora_dropout(model) == 2
    swapped = [d for m in model.modules() if isinstance(getattr(m, "lora_dropout", None), torch.nn.ModuleDict)
               for d in m.lora_dropout.values()]  # fmt: skip
    assert len(swapped) == 2 and all(isinstance(d, BitMaskDropout) and d.p == 0.1 for d in swapped)
