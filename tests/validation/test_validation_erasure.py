"""srllm.validation.erasure on hand-made inputs and outputs."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from srllm.validation.erasure import (
    erased,
    erasure_rates,
    output_kind,
    paired_erasure_test,
    refusal_against_references,  # fmt: skip
    wilson,
)


def test_erased_with_lexicon_groups() -> None:
    assert erased("Muslim women are terrible drivers", "Some drivers are careless") is True
    assert erased("Muslim women are terrible drivers", "Women are careful drivers") is True  # muslim dropped
    assert erased("Muslims are liars", "Some followers of Islam lie") is False  # another term of the same group
    assert erased("Those people are awful", "They are not nice") is None  # no group named


def test_erased_with_a_given_group() -> None:
    assert erased("jews control the banks", "Nobody controls the banks", group="jewish") is True
    assert erased("jews control the banks", "Jewish people do not control banks", group="jewish") is False
    assert erased("they should go back to their country", "Everyone is welcome", group="immigrant") is None
    with pytest.raises(ValueError, match="unknown group"):
        erased("x", "y", group="martians")


@pytest.mark.parametrize(
    "output, refusal, kind",
    [("  \n", True, "empty"), ("I can't help with that.", True, "refusal"),
     ("You  are  WRONG ", False, "copy"), ("I disagree with you", False, "rewrite")],
)  # fmt: skip
def test_output_kind(output: str, refusal: bool, kind: str) -> None:
    assert output_kind("you are wrong", output, refusal) == kind


def test_wilson_matches_the_formula() -> None:
    z, n, p = 1.959963984540054, 10, 0.2
    centre, half = (
        (p + z**2 / (2 * n)) / (1 + z**2 / n),
        z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n),
    )
    assert wilson(2, 10) == pytest.approx((centre - half, centre + half))
    assert wilson(0, 0) == (None, None)


def test_erasure_rates_counts_undefined_items() -> None:
    frame = pd.DataFrame({"group": ["a", "a", "a", "b", "b"], "system": ["s"] * 5,
                          "erased": [True, False, None, False, False]})  # fmt: skip
    table = erasure_rates(frame)
    first = table.iloc[0].to_dict()
    assert (first["group"], first["n_items"], first["n_defined"], first["n_erased"], first["rate"]) == (
        "a",
        3,
        2,
        1,
        0.5,
    )
    assert first["low"] < 0.5 < first["high"]
    second = table.iloc[1]
    assert second["rate"] == 0.0 and second["low"] == pytest.approx(0.0, abs=1e-12) and 0 < second["high"] < 1


def test_paired_erasure_test_by_hand() -> None:
    # 5 items only a erases, 1 only b: two-sided binomial p = 2 * (1 + 6) / 2**6 = 0.21875
    a = [True] * 5 + [False] + [True, False, None]
    b = [False] * 5 + [True] + [True, False, True]
    result = paired_erasure_test(a, b)
    assert (result["a_only"], result["b_only"], result["both"], result["neither"]) == (5, 1, 1, 1)
    assert result["n_pairs"] == 8 and result["n_left_out"] == 1
    assert result["p_value"] == pytest.approx(0.21875) and result["rate_a"] == pytest.approx(6 / 8)
    assert paired_erasure_test([True, False], [True, False])["p_value"] == 1.0
    json.dumps(result, allow_nan=False)


def test_refusal_against_references() -> None:
    def detector(text: str) -> bool:
        return text.lower().startswith(("sorry", "i can't"))

    refs = ["Sorry, but that is not true of everyone.", "That claim is unfair.", "People differ."]
    result = refusal_against_references(detector, refs)
    assert result["n"] == 3 and result["n_flagged"] == 1
    assert result["false_refusal_rate"] == pytest.approx(1 / 3) and result["examples"] == [refs[0]]


def test_erasure_report_pairs_the_reference_with_each_generated_system_by_item_and_group() -> None:
    import pandas as pd

    from srllm.validation.erasure import erasure_report

    rows = []
    # Items 1-4 name group "a", 5-6 group "b"; item 6's input names no group (undefined for every system).
    ours = {1: False, 2: False, 3: True, 4: False, 5: False, 6: None}
    base = {1: True, 2: True, 3: True, 4: False, 5: True, 6: None}
    for system, flags in (("srllm-qlora", ours), ("base", base), ("input", dict.fromkeys(ours, None))):
        rows += [{"system": system, "item_id": i, "group": "a" if i <= 4 else "b", "erased": f} for i, f in flags.items()]
    report = erasure_report(pd.DataFrame(rows).sample(frac=1.0, random_state=0), "srllm-qlora")  # order must not matter
    assert set(report["paired"]) == {"base"}  # `input` has no defined flag: nothing to pair
    test = report["paired"]["base"]
    assert (test["n_pairs"], test["n_left_out"], test["a_only"], test["b_only"], test["both"]) == (5, 1, 0, 3, 1)
    assert test["p_value"] == 0.25  # exact McNemar: 3 discordant pairs, all one way: 2 x 0.5^3
    assert test["by_group"]["a"]["b_only"] == 2 and test["by_group"]["b"]["b_only"] == 1
    by_group = {(r["group"], r["system"]): r for r in report["by_group"]}
    assert by_group[("a", "base")]["rate"] == 0.75 and by_group[("b", "srllm-qlora")]["n_defined"] == 1
    assert ("a", "input") not in by_group  # no defined item: not listed
