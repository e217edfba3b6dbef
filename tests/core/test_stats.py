import numpy as np
import pandas as pd
import pytest
from scipy import stats

from srllm.core.stats import compare_paired, holm, paired_test


def test_holm_matches_hand_computation() -> None:
    # sorted p: 0.01, 0.02, 0.04 -> 3*0.01=0.03, 2*0.02=0.04, 1*0.04=0.04 (monotone)
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_paired_continuous_detects_a_planted_shift() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(size=200)
    b = a + 0.1 + rng.normal(scale=0.01, size=200)
    result = paired_test(a, b, binary=False, resamples=500, seed=0)
    assert result["test"] == "wilcoxon"
    assert result["p_value"] < 1e-6
    assert result["ci_low"] < result["mean_difference"] < result["ci_high"] < 0
    assert result["mean_difference"] == pytest.approx(-0.1, abs=0.005)
    assert result["effect_size"] == pytest.approx(-1.0)
    assert result["p_value"] == pytest.approx(stats.wilcoxon(a, b).pvalue)


def test_mcnemar_exact_on_discordant_pairs() -> None:
    a = np.array([1] * 10 + [0] * 2 + [1] * 5 + [0] * 5, dtype=bool)
    b = np.array([0] * 10 + [1] * 2 + [1] * 5 + [0] * 5, dtype=bool)
    result = paired_test(a, b, binary=True, resamples=200, seed=0)
    assert result["p_value"] == pytest.approx(stats.binomtest(10, 12, 0.5).pvalue)
    assert result["mean_difference"] == pytest.approx(8 / 22)


def test_compare_paired_pairs_on_item_ids_and_corrects_the_family() -> None:
    rows = []
    for system, shift in (("srllm-qlora", 0.0), ("base", 0.3), ("input", 0.5)):
        for i in range(30):
            tox = min(1.0, 0.1 + shift + 0.01 * i)
            rows.append({"system": system, "item_id": f"id{i}", "toxicity": tox, "toxic": tox > 0.5})
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # order must not matter
    result = compare_paired(frame, "srllm-qlora", ["base", "input"], resamples=200, seed=0)
    assert result["family"]["size"] == 4
    assert result["toxicity"]["base"]["mean_difference"] == pytest.approx(-0.3)
    assert all(result[m][o]["p_holm"] >= result[m][o]["p_value"] for m in ("toxicity", "toxic") for o in ("base", "input"))


def test_group_disparity_finds_a_planted_gap() -> None:
    from srllm.core.stats import group_disparity

    rng = np.random.default_rng(1)
    rows = [{"group": g, "toxicity": float(np.clip(rng.normal(mu, 0.05), 0, 1))} for g, mu in (("a", 0.2), ("b", 0.6), ("c", 0.25)) for _ in range(40)]
    frame = pd.DataFrame(rows)
    frame["toxic"] = frame.toxicity > 0.5
    result = group_disparity(frame, "toxicity", "toxic", resamples=300, seed=0)
    assert result["kruskal_p"] < 1e-6 and result["chi2_p"] < 1e-6
    assert result["largest_gap_groups"] == ["b", "a"]
    assert result["gap_ci_low"] < result["largest_gap"] < result["gap_ci_high"]
    assert result["largest_gap"] == pytest.approx(0.4, abs=0.05)
    same = group_disparity(frame.assign(group="a"), "toxicity", "toxic", resamples=100, seed=0)
    assert same["groups"] == 1 and "note" in same


def test_spread_across_seeds() -> None:
    from srllm.core.stats import spread

    result = spread({0: 1.0, 1: 3.0, 2: 2.0})
    assert result["per_seed"] == {"0": 1.0, "1": 3.0, "2": 2.0}
    assert (result["n_seeds"], result["mean"], result["min"], result["max"]) == (3, 2.0, 1.0, 3.0)
    assert result["sd"] == pytest.approx(1.0)  # sample standard deviation (ddof=1)
