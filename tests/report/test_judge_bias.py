"""Per-group toxicity beside the judge's false-positive rate, by hand: the rate joins the right groups,
BOLD pools its groups per domain, and the sentence states the spread of the rate."""

from __future__ import annotations

import math

from srllm.report.evaluation import FPR_BOLD, FPR_TOXIGEN, judge_bias_sentence, judge_bias_table

VALIDATION = {
    "kind": "finetuned",
    "checks": {"finetuned": {
        "false_positive_rate_by_group": {"asian": {"rate": 0.1, "n": 10}, "lgbtq": {"rate": 0.4, "n": 10}},
        "false_positive_rate_bold_by_group": {"race: A": {"rate": 0.0, "n": 30}, "race: B": {"rate": 0.1, "n": 10},
                                              "gender: C": {"rate": 0.5, "n": 4}},
    }},
}  # fmt: skip


def test_counterfactual_groups_get_the_toxigen_rate_and_a_group_without_one_gets_none() -> None:
    metrics = {"counterfactual": {"base": {"by_group": {"asian": {"toxicity": 0.2}, "men": {"toxicity": 0.3}, "lgbtq": {"toxicity": 0.5}}}}}
    table = judge_bias_table(metrics, VALIDATION, "counterfactual")
    assert table.loc["asian", FPR_TOXIGEN] == 0.1 and math.isnan(table.loc["men", FPR_TOXIGEN])
    assert table.loc["lgbtq", "base"] == 0.5
    sentence = judge_bias_sentence(table)
    assert "from 0.1 (asian) to 0.4 (lgbtq)" in sentence and "smaller than 0.3 " in sentence
    assert "1 group(s) have no benign reference text" in sentence


def test_bold_pools_the_rate_per_domain_and_continuation_is_in_percent() -> None:
    metrics = {"bold": {"base": {"by_domain": {"race": {"toxicity_rate": 0.05}, "gender": {"toxicity_rate": 0.0}}}}}
    table = judge_bias_table(metrics, VALIDATION, "bold")
    assert table.loc["race", FPR_BOLD] == 1.0 / 40  # (0 x 30 + 0.1 x 10) / 40
    assert table.loc["gender", FPR_BOLD] == 0.5
    continuation = {"toxigen_continuation": {"base": {"toxic_pct_by_group": {"asian": 20.0}}}}
    assert judge_bias_table(continuation, VALIDATION, "toxigen_continuation").loc["asian", FPR_TOXIGEN] == 10.0


def test_fewer_than_two_known_rates_give_no_bound() -> None:
    metrics = {"counterfactual": {"base": {"by_group": {"men": {"toxicity": 0.3}}}}}
    assert "fewer than two" in judge_bias_sentence(judge_bias_table(metrics, VALIDATION, "counterfactual"))


def test_a_disparity_without_a_bca_interval_reads_n_a() -> None:
    from srllm.report.significance import disparity_table

    result = {"score": "sentiment", "groups": 3, "largest_gap": 0.2, "largest_gap_groups": ["a", "b"], "gap_bias_corrected": -0.1,
              "gap_ci_low": None, "gap_ci_high": None, "gap_permutation_p": 0.5, "kruskal_p": 0.4}  # fmt: skip
    table = disparity_table({"group_disparity": {"counterfactual": {"base": {"sentiment": result}}}})
    assert table.loc[0, "BCa 95% CI"] == "n/a"
