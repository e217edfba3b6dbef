"""Knowledge retention measured more than one way.

The study reads "the rewrite keeps the input's content" off one embedding similarity. A single
measure can reward the wrong thing (an embedding can score a fluent paraphrase of a different
claim high; a surface measure rewards copying), so the same rewrites are also scored by:

- chrF of the rewrite against its input (sacrebleu sentence chrF, 0-1): shared character n-grams;
- content-word retention: the share of the input's distinct content words (lower case, a small
  explicit stopword list removed) that occur in the rewrite.

:func:`agreement_between` then gives the pairwise Spearman correlation of the measures over the
same items: if the measures rank rewrites differently, a retention claim resting on one of them
is a claim about that measure.
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sacrebleu.metrics import CHRF
from scipy import stats

from ..core.arrays import as_float_array

# Function words and auxiliaries: words whose presence says nothing about the content kept.
# Written out (rather than taken from a library) so the measure cannot change with a dependency.
STOPWORDS = frozenset(
    """
a an the and or but nor so yet if then than because as of at by for from in into on onto to with
without about over under up down out off again further once here there when where why how all any
both each few more most other some such no not only own same too very just also
i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself
she her hers herself it its itself they them their theirs themselves
what which who whom whose this that these those
am is are was were be been being have has had having do does did doing will would shall should
can could may might must
aren isn wasn weren don doesn didn won wouldn shouldn couldn haven hasn hadn mustn needn
""".split()  # noqa: SIM905 (a word list reads better as text)
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def chrf(outputs: Sequence[str], inputs: Sequence[str]) -> list[float]:
    """Per item, sentence chrF of the output against its input, on 0-1 (1: same characters)."""
    if len(outputs) != len(inputs):
        raise ValueError(f"{len(outputs)} outputs for {len(inputs)} inputs")
    metric = CHRF()
    return [float(metric.sentence_score(o, [i]).score) / 100.0 for o, i in zip(outputs, inputs)]


def content_words(text: str) -> set[str]:
    """The distinct lower-case words of ``text`` that are not stopwords. A contraction is one
    token ("don't") and is a stopword when its first part is ("don", "it", "they"); negation is
    therefore not content here, a limit of any stopword measure that :func:`agreement_between` is
    there to expose."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    return {w for w in words if w not in STOPWORDS and w.split("'")[0] not in STOPWORDS}


def content_word_retention(outputs: Sequence[str], inputs: Sequence[str]) -> list[float | None]:
    """Per item, the share of the input's content words found in the output; None when the input
    has no content words (nothing to keep, so no share)."""
    if len(outputs) != len(inputs):
        raise ValueError(f"{len(outputs)} outputs for {len(inputs)} inputs")
    shares: list[float | None] = []
    for output, source in zip(outputs, inputs):
        wanted = content_words(source)
        shares.append(len(wanted & content_words(output)) / len(wanted) if wanted else None)
    return shares


def agreement_between(measures: Mapping[str, Sequence[Any] | np.ndarray]) -> pd.DataFrame:
    """Pairwise Spearman correlation of the measures over the items where both are defined.

    One row per unordered pair (measure_a, measure_b, n, spearman, p_value); spearman is NaN
    when fewer than three items are shared or a measure is constant on them.
    """
    arrays = {name: as_float_array(values, name) for name, values in measures.items()}
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"measures differ in length: {lengths}")
    rows = []
    for a, b in itertools.combinations(arrays, 2):
        both = np.isfinite(arrays[a]) & np.isfinite(arrays[b])
        rho = p = float("nan")
        if both.sum() >= 3:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a constant measure: Spearman undefined (NaN)
                result = stats.spearmanr(arrays[a][both], arrays[b][both])
            rho, p = float(result.statistic), float(result.pvalue)
        rows.append({"measure_a": a, "measure_b": b, "n": int(both.sum()), "spearman": rho, "p_value": p})
    return pd.DataFrame(rows, columns=["measure_a", "measure_b", "n", "spearman", "p_value"])
