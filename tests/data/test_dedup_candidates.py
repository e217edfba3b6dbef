"""The rare-n-gram candidates find exactly the pairs the direct product finds, and what they leave out
of a row can never reach the threshold."""

from __future__ import annotations

import random

import numpy as np
import pytest

from srllm.data.dedup import RARE_FILTER_FROM, candidate_pairs, rare_part, similar_pairs, vectorise

WORDS = [
    "the",
    "a",
    "women",
    "men",
    "old",
    "young",
    "people",
    "city",
    "vote",
    "work",
    "drive",
    "teach",
    "cook",
    "nurse",
    "lawyer",
    "doctor",
    "always",
    "never",
]


def _texts(n: int, seed: int) -> list[str]:
    """Short random sentences, with near-copies (a word changed, a word added) among them."""
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) for _ in range(n)]
    for i in range(0, n, 5):
        words = texts[i].split()
        words[rng.randrange(len(words))] = rng.choice(WORDS)
        texts.append(" ".join(words + [rng.choice(WORDS)] * (i % 2)))
    return texts


def _direct(left, right, threshold):
    other = right.T.tocsc()
    block = (left @ other).tocoo()
    keep = block.data >= threshold - 1e-6
    return {(int(i), int(j)) for i, j in zip(block.row[keep], block.col[keep])}


@pytest.mark.parametrize("threshold", [0.85, 0.9, 0.95])
def test_candidates_find_the_same_pairs_as_the_direct_product(threshold: float) -> None:
    texts, reference = _texts(300, seed=1), _texts(200, seed=2) + _texts(60, seed=1)[:60]  # some exact copies
    matrix = vectorise(texts + reference)
    left, right = matrix[: len(texts)], matrix[len(texts) :]
    expected = _direct(left, right, threshold)
    assert len(expected) >= 60  # the copies at least
    found = candidate_pairs(left, right, threshold, batch_rows=64)
    assert {(i, j) for i, j, _ in found} == expected
    assert {(i, j) for i, j, _ in similar_pairs(left, right, threshold)} == expected  # the dispatch agrees
    assert threshold >= RARE_FILTER_FROM


def test_the_part_left_out_of_a_row_cannot_reach_the_threshold() -> None:
    matrix = vectorise(_texts(200, seed=3))
    frequency = np.bincount(matrix.indices, minlength=matrix.shape[1])
    rare = rare_part(matrix, 0.9, frequency)
    left_out = matrix - rare
    norms = np.sqrt(np.asarray(left_out.multiply(left_out).sum(axis=1)).ravel())
    assert norms.max() < 0.9
    assert rare.nnz < matrix.nnz / 2  # and most of each row is left out
    assert set(zip(*rare.nonzero())) <= set(zip(*matrix.nonzero()))  # only the row's own entries
