"""Did a generation stop because it was done, or because it ran out of tokens?

A rewrite cut off by the token budget is scored as if it were the model's answer: shorter, often
less toxic, often less faithful. Two small checks keep that visible (the budget itself follows the
input: srllm.lm.generation.rewrite_budget):

- :func:`truncated_share`: how many inputs are longer than a length limit (cut before the model sees them);
- :func:`hit_budget` / :func:`budget_hits`: outputs that used the whole budget without an
  end-of-sequence token, i.e. were cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.arrays import json_safe


def truncated_share(lengths: Sequence[int] | np.ndarray, limit: int) -> dict[str, Any]:
    """Inputs longer than ``limit`` tokens (they lose their end): count, share and the longest."""
    values = np.asarray(lengths, dtype=int)
    over = int((values > limit).sum())
    return json_safe({"n": len(values), "limit": limit, "n_truncated": over,
                      "share": over / len(values) if len(values) else None,
                      "max_length": int(values.max()) if len(values) else None})  # fmt: skip


def hit_budget(n_new_tokens: int, budget: int, ended_with_eos: bool) -> bool:
    """True when the generation used its whole budget and did not end with end-of-sequence: it
    was cut. Ending with EOS on the last allowed token is a finished answer, not a cut one."""
    if n_new_tokens > budget:
        raise ValueError(
            f"{n_new_tokens} new tokens exceed the budget of {budget}: the budget passed is not the one used"
        )
    return n_new_tokens >= budget and not ended_with_eos


def budget_hits(n_new_tokens: Sequence[int], budgets: Sequence[int], ended_with_eos: Sequence[bool]) -> dict[str, Any]:
    """:func:`hit_budget` over a run: how many outputs were cut, and their share."""
    if not len(n_new_tokens) == len(budgets) == len(ended_with_eos):
        raise ValueError("n_new_tokens, budgets and ended_with_eos must have one entry per output")
    hits = [hit_budget(int(n), int(b), bool(e)) for n, b, e in zip(n_new_tokens, budgets, ended_with_eos)]
    return json_safe({"n": len(hits), "n_hit": sum(hits), "share": sum(hits) / len(hits) if hits else None})
