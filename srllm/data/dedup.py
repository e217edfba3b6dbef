"""Exact and near-duplicate detection for the corpus, between its splits, and against evaluation data.

Texts are compared after :func:`normalise` (case-folded, punctuation removed, whitespace collapsed),
as character n-gram TF-IDF vectors (3-5 characters within word boundaries); two texts are
near-duplicates when their cosine similarity is at least the configured threshold
(``dataset.near_duplicate_threshold``, 0.9 by default). The similarity matrix is never formed whole:
rows are multiplied in batches of sparse products and only entries above the threshold are kept; at a
high threshold, two sets are compared through candidates that share a rare n-gram (``rare_part``).
"""

from __future__ import annotations

import re

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer

# N-grams found in more than this share of texts are dropped from the vectors: they carry almost no
# IDF weight but make the sparse products nearly dense (on ~30k x ~40k texts: 22 s with them dropped
# at 5%, several minutes without).
MAX_DOCUMENT_FREQUENCY = 0.05
BATCH_ROWS = 2000
# From this threshold on, two sets are compared through rare-n-gram candidates (candidate_pairs). Measured on
# the CPU default's corpus against the evaluation texts (32,666 x 45,885 texts): the same pairs at 0.9 in 11.7 s
# and 8.6 s instead of 27.6 s and 23.2 s (two runs); at 0.7 the candidates are so many that the direct product is faster (26 s against 153 s),
# and a set against itself at 0.9 gains nothing (4.3 s against 4.8 s).
RARE_FILTER_FROM = 0.85

_NON_WORD = re.compile(r"[^\w\s]")


def normalise(text: str) -> str:
    """The comparison key: case-folded, punctuation replaced by spaces, whitespace collapsed."""
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def vectorise(texts: list[str]) -> sparse.csr_matrix:
    """L2-normalised character n-gram TF-IDF rows of the normalised texts, fitted on these texts."""
    vectoriser = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 5),
        sublinear_tf=True,
        max_df=MAX_DOCUMENT_FREQUENCY if len(texts) >= 1000 else 1.0,  # tiny sets: every n-gram is rare
        dtype=np.float32,
    )
    return vectoriser.fit_transform([normalise(t) for t in texts]).tocsr()


def rare_part(matrix: sparse.csr_matrix, threshold: float, frequency: np.ndarray) -> sparse.csr_matrix:
    """Each row's rarest n-grams (by ``frequency``, the document frequency), taken until what is left of the
    row has norm below ``threshold``.

    Rows are L2-normalised and non-negative, so by Cauchy-Schwarz the n-grams left out can add less than
    ``threshold`` to a cosine with any other row: a row with cosine at least ``threshold`` must share one of
    the rare ones. Those few n-grams find every candidate, and a product with them is sparse.
    """
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((matrix.indices, frequency[matrix.indices], rows))  # by row, rarest first (ties: by column)
    squares = matrix.data[order].astype(np.float64) ** 2
    total = np.bincount(rows, weights=matrix.data.astype(np.float64) ** 2, minlength=matrix.shape[0])
    row_start = np.concatenate([[0.0], np.cumsum(total)[:-1]])  # the mass of the rows before each row
    row = rows[order]
    taken_before = np.cumsum(squares) - squares - row_start[row]  # within the row, before this entry
    left = total[row] - taken_before  # the row's mass not yet taken, this entry included
    keep = np.zeros(matrix.nnz, dtype=bool)
    keep[order[left >= threshold**2]] = True
    rare = matrix.copy()
    rare.data = np.where(keep, rare.data, 0).astype(rare.data.dtype)
    rare.eliminate_zeros()
    return rare


def similar_pairs(
    left: sparse.csr_matrix, right: sparse.csr_matrix | None, threshold: float, batch_rows: int = BATCH_ROWS
) -> list[tuple[int, int, float]]:
    """(i, j, cosine) for every row i of ``left`` and row j of ``right`` with cosine >= threshold.

    With ``right`` None, compares ``left`` with itself and returns each pair once (i < j). Two sets
    compared at a high threshold (``RARE_FILTER_FROM``) go through ``candidate_pairs``, which finds the
    same pairs; anything else through the direct product.
    """
    if right is not None and threshold >= RARE_FILTER_FROM:
        return candidate_pairs(left, right, threshold, batch_rows)
    other = (left if right is None else right).T.tocsc()
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, left.shape[0], batch_rows):
        block = (left[start : start + batch_rows] @ other).tocoo()
        keep = block.data >= threshold - 1e-6  # float32 products of identical texts can land at 0.9999999
        rows, cols, values = block.row[keep] + start, block.col[keep], block.data[keep]
        if right is None:
            upper = rows < cols
            rows, cols, values = rows[upper], cols[upper], values[upper]
        pairs.extend(zip(rows.tolist(), cols.tolist(), values.tolist()))
    return pairs


def candidate_pairs(
    left: sparse.csr_matrix, right: sparse.csr_matrix, threshold: float, batch_rows: int = BATCH_ROWS
) -> list[tuple[int, int, float]]:
    """``similar_pairs`` of two sets through candidates: the pairs that share one of the left row's rare
    n-grams (``rare_part``: no pair above the threshold is missed), each candidate's cosine then computed."""
    cut = threshold - 1e-6  # as in similar_pairs
    frequency = np.bincount(left.indices, minlength=left.shape[1]) + np.bincount(right.indices, minlength=right.shape[1])
    # A little below the cut, so float32 rounding of the left-out mass cannot drop a true pair.
    rare = rare_part(left, max(cut - 1e-3, 0.0), frequency)
    other = right.T.tocsc()
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, left.shape[0], batch_rows):
        block = (rare[start : start + batch_rows] @ other).tocoo()
        rows, cols = block.row + start, block.col
        values = np.asarray(left[rows].multiply(right[cols]).sum(axis=1), dtype=np.float32).ravel()
        keep = values >= cut
        pairs.extend(zip(rows[keep].tolist(), cols[keep].tolist(), values[keep].tolist()))
    return pairs


def near_duplicates_across(
    texts: list[str], reference: list[str], threshold: float
) -> dict[int, tuple[int, float]]:
    """For each index of ``texts`` with a near-duplicate in ``reference``: (reference index, cosine) of its best match.

    Both lists are vectorised together, so the IDF weights see both.
    """
    if not texts or not reference:
        return {}
    matrix = vectorise(list(texts) + list(reference))
    left, right = matrix[: len(texts)], matrix[len(texts) :]
    best: dict[int, tuple[int, float]] = {}
    for i, j, value in similar_pairs(left, right, threshold):
        if i not in best or value > best[i][1]:
            best[i] = (j, value)
    return best


def connected_groups(n: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    """A group label per item, items linked directly or through others by ``pairs`` sharing one label."""
    if not pairs:
        return np.arange(n)
    rows, cols = zip(*pairs)
    graph = sparse.coo_matrix((np.ones(len(pairs)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels
