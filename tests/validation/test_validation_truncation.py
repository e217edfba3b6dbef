"""srllm.validation.truncation by hand."""

from __future__ import annotations

import pytest

from srllm.lm.generation import rewrite_budget
from srllm.validation.truncation import budget_hits, hit_budget, truncated_share


def test_generation_budget_follows_the_input() -> None:
    assert rewrite_budget(40, multiple=2.0, cap=256, floor=32) == 80
    assert rewrite_budget(5, multiple=2.0, cap=256, floor=32) == 32  # floor
    assert rewrite_budget(500, multiple=2.0, cap=256, floor=32) == 256  # cap
    assert rewrite_budget(21, multiple=1.5, cap=256, floor=16) == 32  # ceil(31.5)
    with pytest.raises(ValueError):
        rewrite_budget(10, multiple=2.0, cap=16, floor=32)


def test_truncated_share() -> None:
    assert truncated_share([10, 512, 513, 900], limit=512) == {
        "n": 4, "limit": 512, "n_truncated": 2, "share": 0.5, "max_length": 900}  # fmt: skip
    assert truncated_share([], limit=512)["share"] is None


def test_hit_budget() -> None:
    assert hit_budget(64, 64, ended_with_eos=False) is True
    assert hit_budget(64, 64, ended_with_eos=True) is False
    assert hit_budget(10, 64, ended_with_eos=False) is False  # stopped early (e.g. a stop string)
    with pytest.raises(ValueError, match="exceed the budget"):
        hit_budget(65, 64, False)
    assert budget_hits([64, 10, 32], [64, 64, 32], [False, True, True]) == {"n": 3, "n_hit": 1, "share": 1 / 3}
