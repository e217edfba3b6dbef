"""The bit-mask dropout is dropout: the kept share, the scale, the gradient, eval mode, the seed."""

from __future__ import annotations

import math

import pytest
import torch

from srllm.lm.dropout import BitMaskDropout


def test_keeps_one_minus_p_and_scales_the_kept_elements() -> None:
    torch.manual_seed(0)
    x = torch.full((200, 500), 2.0, requires_grad=True)
    dropout = BitMaskDropout(0.05).train()
    y = dropout(x)
    kept = y != 0
    share = kept.float().mean().item()
    n = x.numel()
    assert abs(share - 0.95) < 5 * math.sqrt(0.05 * 0.95 / n), share  # within 5 standard errors
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 2.0 / 0.95))
    y.sum().backward()
    torch.testing.assert_close(x.grad, kept.float() / 0.95)


def test_eval_mode_is_the_identity_and_the_seed_fixes_the_mask() -> None:
    x = torch.randn(64, 64)
    dropout = BitMaskDropout(0.3)
    assert dropout.eval()(x) is x
    dropout.train()
    torch.manual_seed(7)
    first = dropout(x)
    torch.manual_seed(7)
    assert torch.equal(first, dropout(x))
    assert not torch.equal(first, dropout(x))  # the generator moved on


def test_a_probability_outside_the_range_is_refused() -> None:
    with pytest.raises(ValueError, match="dropout probability"):
        BitMaskDropout(1.0)
