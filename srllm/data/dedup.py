"""Exact and near-duplicate detection for the corpus, between its splits, and against evaluation data.

Texts are compared after :func:`normalise` (case-folded, punctuation removed, whitespace collapsed),
as character n-gram TF-IDF vectors (3-5 characters within word boundaries); two texts are
near-duplicates when their cosine similarity is at least the configured threshold
(``dataset.near_duplicate_threshold``, 0.9 by default). The similarity matrix is never formed whole:
rows are multiplied in batches of sparse products and only entries above the threshold are kept.
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


def similar_pairs(
    left: sparse.csr_matrix, right: sparse.csr_matrix | None, threshold: float, batch_rows: int = BATCH_ROWS
) -> list[tuple[int, int, float]]:
    """(i, j, cosine) for every row i of ``left`` and row j of ``right`` with cosine >= threshold.

    With ``right`` None, compares ``left`` with itself and returns each pair once (i < j).
    """
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
