"""srllm.validation.retention on hand-made sentences."""

from __future__ import annotations

import numpy as np
import pytest

from srllm.validation.retention import agreement_between, chrf, content_word_retention, content_words


def test_chrf_per_item_on_zero_one() -> None:
    assert chrf(["ab", "same", ""], ["abc", "same", "abc"]) == pytest.approx([7 / 11, 1.0, 0.0])
    with pytest.raises(ValueError):
        chrf(["a"], [])


def test_content_words_drop_stopwords_and_case() -> None:
    assert content_words("The Dogs are barking at THE mailman, aren't they?") == {"dogs", "barking", "mailman"}
    assert content_words("I don\u2019t know, it's Bob's") == {"know", "bob's"}


def test_content_word_retention_by_hand() -> None:
    inputs = ["Those idiots ruined the city park", "it is what it is", "Vaccines cause autism"]
    outputs = ["They ruined the park", "whatever", "Vaccines do not cause autism"]
    # {idiots, ruined, city, park}: ruined and park kept -> 1/2; no content words -> None; all 3 kept
    assert content_word_retention(outputs, inputs) == [0.5, None, 1.0]


def test_agreement_between_pairs() -> None:
    table = agreement_between({"a": [1, 2, 3, 4], "b": [2, 4, 6, 8], "c": [4, 3, None, 1]})
    assert list(zip(table["measure_a"], table["measure_b"])) == [("a", "b"), ("a", "c"), ("b", "c")]
    first = table.iloc[0]
    assert first["spearman"] == pytest.approx(1.0) and first["n"] == 4
    assert table.iloc[1]["spearman"] == pytest.approx(-1.0) and table.iloc[1]["n"] == 3
    constant = agreement_between({"a": [1, 2, 3], "b": [5, 5, 5]})
    assert np.isnan(constant.iloc[0]["spearman"])
