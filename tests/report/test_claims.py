"""The claim rules on hand-made metrics: reproduced, partly reproduced, not reproduced, and robustness."""

from __future__ import annotations

from typing import Any

from srllm.report.claims import baseline_claim, language_modelling_claim


def _r(diff: float, p: float, low: float | None = None, high: float | None = None, n: int = 100) -> dict[str, Any]:
    return {"mean_difference": diff, "p_holm": p, "ci_low": diff - 0.05 if low is None else low,
            "ci_high": diff + 0.05 if high is None else high, "n": n}  # fmt: skip


def _metrics(toxicity: float, meaning: float, j: float, toxigen: float, j_ref: float | None = None) -> dict[str, Any]:
    significance: dict[str, Any] = {
        "inhouse": {"reference_system": "srllm-qlora", "toxicity": {"base": _r(toxicity, 0.001 if toxicity else 0.9)},
                    "meaning_kept": {"base": _r(meaning, 0.001 if meaning else 0.9)}, "j": {"base": _r(j, 0.001 if j else 0.9)},
                    "profanity": {"base": _r(toxicity, 0.001 if toxicity else 0.9)}},
        "toxigen_rewrite": {"toxicity": {"base": _r(toxigen, 0.001 if toxigen else 0.9)}},
    }  # fmt: skip
    if j_ref is not None:
        significance["inhouse"]["alternatives"] = {"j_ref": {"base": _r(j_ref, 0.001 if j_ref else 0.9)}}
    return {"significance": significance}


def test_every_part_holding_is_reproduced() -> None:
    claim = baseline_claim(_metrics(toxicity=-0.2, meaning=0.0, j=0.1, toxigen=-0.1), "prompts", ("base",))
    assert claim.verdict == "reproduced"


def test_some_parts_holding_is_partly_reproduced_with_the_parts_listed() -> None:
    # The paper's case in the CPU run: J higher in-house, but toxicity higher and nothing out of distribution.
    claim = baseline_claim(_metrics(toxicity=0.2, meaning=0.0, j=0.1, toxigen=0.0), "prompts", ("base",))
    assert claim.verdict == "partly reproduced"
    assert "in-house J higher vs base" in claim.reason and "in-house toxicity lower vs base" not in claim.reason


def test_no_part_holding_is_not_reproduced() -> None:
    claim = baseline_claim(_metrics(toxicity=0.2, meaning=-0.3, j=-0.1, toxigen=0.1), "prompts", ("base",))
    assert claim.verdict == "not reproduced"


def test_a_claim_is_robust_only_where_no_metric_choice_flips_it() -> None:
    steady = baseline_claim(_metrics(toxicity=-0.2, meaning=0.0, j=0.1, toxigen=-0.1, j_ref=0.1), "prompts", ("base",))
    assert steady.robustness.startswith("robust")
    flipped = baseline_claim(_metrics(toxicity=-0.2, meaning=0.0, j=0.1, toxigen=-0.1, j_ref=-0.1), "prompts", ("base",))
    assert flipped.verdict == "reproduced" and flipped.robustness.startswith("not robust")
    assert "reference-aware J (TextDetox 2025): partly reproduced" in flipped.robustness


def test_language_modelling_needs_the_paired_interval_above_minus_two_points() -> None:
    stereoset = {"base": {"overall": {"LMS": 90.0, "SS": 60.0, "ICAT": 70.0}},
                 "srllm-qlora": {"overall": {"LMS": 89.5, "SS": 59.0, "ICAT": 71.0}}}  # fmt: skip
    def metrics(low: float) -> dict[str, Any]:
        return {"evaluate": {"stereoset": stereoset},
                "significance": {"inhouse": {"reference_system": "srllm-qlora"},
                                 "stereoset": {"lms_item": {"base": _r(-0.005, 0.5, low=low, high=0.01, n=600)}}}}  # fmt: skip

    assert language_modelling_claim(metrics(-0.015)).verdict == "reproduced"
    assert language_modelling_claim(metrics(-0.03)).verdict == "not reproduced"  # the point values alone would pass
