"""alt-profanity-check: the study's independent second toxicity signal, and the lexicon of its heaviest words.

Both read the package's fitted model (a calibrated LinearSVC over single-word TF-IDF features), so
the rule-based ``lexicon_delete`` baseline and the profanity score come from the same pinned model.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def profanity_proba(texts: list[str]) -> np.ndarray:
    """P(offensive) from alt-profanity-check: an independent second signal (a linear SVM on word n-grams)."""
    from profanity_check import predict_prob  # lazy: profanity_check is a heavy import, needed only here

    if not texts:
        return np.zeros(0)
    return np.asarray(predict_prob(list(texts)), dtype=np.float64)


@lru_cache(maxsize=8)
def toxic_lexicon(min_weight: float) -> frozenset[str]:
    """Words whose weight in alt-profanity-check's linear SVM is at least ``min_weight``.

    The package's model is a calibrated LinearSVC over single-word TF-IDF features (15,442 words);
    a word's weight is its SVM coefficient averaged over the 5 calibration folds. At the default
    2.0 this keeps ~150 words (slurs, insults, profanity); the lexicon is offline and versioned
    with the package (alt-profanity-check's exact pin).
    """
    from profanity_check import profanity_check as pc  # lazy: profanity_check is a heavy import, needed only here

    coef = np.mean([c.estimator.coef_.ravel() for c in pc.model.calibrated_classifiers_], axis=0)
    words = pc.vectorizer.get_feature_names_out()
    return frozenset(str(w) for w in words[coef >= min_weight])
