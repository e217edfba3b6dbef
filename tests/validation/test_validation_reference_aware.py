"""srllm.validation.reference_aware: the TextDetox 2024/2025 arithmetic on hand-made arrays."""

from __future__ import annotations

import json

import pytest

from srllm.validation import reference_aware as ra


def test_neutral_probability_flips_the_judge() -> None:
    assert ra.neutral_probability([0.0, 0.25, 1.0]).tolist() == [1.0, 0.75, 0.0]
    with pytest.raises(ValueError):
        ra.neutral_probability([1.5])


def test_sta_2025_by_hand() -> None:
    out = [0.9, 0.6, 0.3, 0.2]
    src = [0.1, 0.7, 0.2, 0.5]
    ref = [0.95, 0.5, 0.9, 0.1]
    # item 1: (0.9 + 1) / 2 = 0.95, ref 0.95 > 0.9 -> 0.95
    # item 2: (0.6 + 0) / 2 = 0.3, ref 0.5 <= 0.6 -> 1
    # item 3: (0.3 + 1) / 2 = 0.65, ref 0.9 > 0.3 -> 0.65
    # item 4: (0.2 + 0) / 2 = 0.1, ref 0.1 <= 0.2 -> 1
    assert ra.sta_2025(out, src, ref) == pytest.approx([0.95, 1.0, 0.65, 1.0])
    assert ra.sta_2025(out, src) == pytest.approx([0.95, 0.3, 0.65, 0.1])
    # "at least as neutral" includes equality, as the code's <= does
    assert ra.sta_2025([0.4], [0.4], [0.4]).tolist() == [1.0]
    assert ra.sta_2024(out).tolist() == out


def test_sim_2025_weights() -> None:
    assert ra.sim_2025([0.5, 1.0], [1.0, 0.0]) == pytest.approx([0.4 * 0.5 + 0.6, 0.4])
    assert ra.sim_2025([0.5, 1.0]).tolist() == [0.5, 1.0]
    with pytest.raises(ValueError, match="differ in length"):
        ra.sim_2025([0.5], [0.5, 0.5])


def test_chrf_scores_by_hand() -> None:
    # hyp "ab" vs ref "abc": orders 1-2 count; precision 1, recall (2/3 + 1/2) / 2 = 7/12;
    # F2 = 5 * 1 * 7/12 / (4 + 7/12) = 7/11. Whitespace is ignored; a copy scores 1, nothing shared 0.
    assert ra.chrf_scores(["ab", "a b", "same text", "abc"], ["abc", "abc", "same text", "xyz"]) == pytest.approx(
        [7 / 11, 7 / 11, 1.0, 0.0]
    )


def test_joint_is_mean_of_products_not_product_of_means() -> None:
    sta, sim, fl = [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]
    assert ra.joint(sta, sim, fl).tolist() == [0.0, 0.0]
    result = ra.score_2025([0.0, 1.0], [1.0, 1.0], None, sim, None, fl)
    # STA: (1 + 1) / 2 = 1 and (0 + 1) / 2 = 0.5; SIM 0 and 1: J = mean(0, 0.5) = 0.25, not 0.75 * 0.5
    assert result == {"n": 2, "STA": 0.75, "SIM": 0.5, "FL": 1.0, "J": 0.25}


def test_score_2024_and_chrf_against() -> None:
    result = ra.score_2024([0.2, 0.6], [1.0, 0.5], ["ab", "same"], ["abc", "same"])
    assert result["STA"] == pytest.approx(0.6) and result["SIM"] == pytest.approx(0.75)
    assert result["CHRF"] == pytest.approx((7 / 11 + 1) / 2)
    assert result["J"] == pytest.approx((0.8 * 1.0 * 7 / 11 + 0.4 * 0.5 * 1.0) / 2)
    both = ra.chrf_against(["you are wrong"], ["you are mistaken"], ["you are wrong"])
    assert both["chrf_source"] == pytest.approx(1.0) and 0 < both["chrf_reference"] < 1
    json.dumps([result, both], allow_nan=False)
    assert type(result["J"]) is float
