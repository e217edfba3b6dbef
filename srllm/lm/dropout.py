"""Dropout whose mask comes from 15 random bits per element: cheaper than ``bernoulli_`` on a CPU."""

from __future__ import annotations

import torch

BITS = 32768  # int16 ``random_()`` draws uniformly from 0..32767


class BitMaskDropout(torch.nn.Module):
    """``torch.nn.Dropout(p)`` with a mask from ``int16`` random bits (see ``patches.cheaper_lora_dropout``).

    An element is kept when its bits are at least ``round(p * 32768)``: probability 1 - p rounded to
    1/32768. Kept elements are scaled by 1 / (1 - p), as ``torch.nn.Dropout`` does. The bits come from the
    seeded default torch generator. In eval mode it is the identity.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.threshold = round(p * BITS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return x
        bits = torch.empty(x.shape, dtype=torch.int16, device=x.device).random_()
        return x * (bits >= self.threshold) * (1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"
