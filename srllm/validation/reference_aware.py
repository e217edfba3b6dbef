"""The TextDetox shared-task scores (PAN at CLEF 2024 and 2025), which also use a human reference.

The study's own J scores a rewrite against its input only. The shared tasks score it against a
human-written neutral reference as well, so a system that merely deletes words scores worse. This
module is the arithmetic of the two published evaluation scripts, over arrays the caller computes
with the study's offline models.

What the published code does (read in github.com/pan-webis-de/pan-code, snapshot at commit
db0391d3e3ecf5850589999f0d1e8a813df2a787; the files last changed in the commits named):

2024, ``clef24/text-detoxification/evaluate.py`` (commit 88037f4602d013698c31985764a17f086baa451f):
  - STA: the probability of the *neutral* class (label 0) of ``textdetox/xlmr-large-toxicity-classifier``
    on the rewrite (softmax over the logits, texts truncated at 512 tokens);
  - SIM: cosine similarity of ``sentence-transformers/LaBSE`` embeddings of the source and the
    rewrite (1 - scipy's cosine distance); the reference is not used;
  - CHRF (in the fluency slot): ``sacrebleu.CHRF()`` with its defaults (character 6-grams, no word
    n-grams, beta 2) as ``sentence_score(rewrite, [reference]).score / 100``;
  - J = mean over items of STA x SIM x CHRF; each of STA, SIM, CHRF is reported as its mean.

2025, ``clef25/text-detoxification/evaluation/`` (commits e98b34b150c36fb54d0cb4a4f53a20abd037baf9 and
7f1258f7ff8461c2d2eaad2d7ca40b1d5fd4bde7; ``evaluate.py``, ``metrics/toxicity.py``,
``metrics/similarity.py``, ``metrics/fluency/xcomet.py``):
  - neutral probabilities p(.) (label 0) from ``textdetox/xlmr-large-toxicity-classifier-v2`` with the
    tokenizer of ``cardiffnlp/twitter-xlm-roberta-large-2022``, for the source, the rewrite and the
    reference;
  - STA = max( [p(reference) <= p(rewrite)], (p(rewrite) + [p(source) <= p(rewrite)]) / 2 ),
    brackets being 1 when true and 0 otherwise: full credit when the rewrite is at least as
    neutral as the human reference, else half for its own neutrality and half for being at least as
    neutral as the source (``compare_toxicity``);
  - SIM = 0.4 x cos(source, rewrite) + 0.6 x cos(reference, rewrite), LaBSE embeddings
    (``original_weight`` 0.4, ``reference_weight`` 0.6); without references, cos(source, rewrite);
  - fluency: ``myyycroft/XCOMET-lite`` scores of (src = source, mt = rewrite, ref = reference);
  - J = mean over items of STA x SIM x XCOMET; results are grouped by language (mean of each).
  - chrF is no longer part of the 2025 score.

What this study substitutes offline, and what cannot be reproduced:
  - toxicity: the caller passes the study's judge probability of *toxic*; it is turned into a
    neutral probability as 1 - p(toxic). The XLM-R classifiers are not used, so absolute STA
    values are not comparable with the leaderboards; the comparisons with the source and the
    reference are computed exactly as the code does, on our judge's probabilities;
  - similarity: the caller passes cosines from the study's MiniLM sentence encoder instead of LaBSE
    (MiniLM cosines run lower for paraphrases, so SIM is not on LaBSE's scale);
  - fluency: the caller's fluency array stands in for XCOMET-lite, which is not reproduced;
  - the per-language grouping does not apply (English only).
chrF needs no model, so :func:`chrf_scores` is the shared task's own computation (sacrebleu
2.6 here; the 2024 code pins no version), both against the reference and, for comparison, against
the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sacrebleu.metrics import CHRF

from ..core.arrays import as_float_array, json_safe

SOURCE_WEIGHT = 0.4  # clef25 SimilarityConfig.original_weight
REFERENCE_WEIGHT = 0.6  # clef25 SimilarityConfig.reference_weight


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"arrays differ in length: {lengths}")


def neutral_probability(toxic_probability: Any) -> np.ndarray:
    """1 - p(toxic): the shared task scores the classifier's neutral class, the study's judge the toxic one."""
    p = as_float_array(toxic_probability, "toxic_probability")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("toxicity probabilities must lie in [0, 1]")
    return 1.0 - p


def sta_2024(rewrite_neutral: Any) -> np.ndarray:
    """2024 STA: the rewrite's neutral probability, as it is."""
    return as_float_array(rewrite_neutral, "rewrite_neutral")


def sta_2025(rewrite_neutral: Any, source_neutral: Any, reference_neutral: Any | None = None) -> np.ndarray:
    """2025 STA per item (see the module docstring): max([ref <= out], (out + [src <= out]) / 2),
    or (out + [src <= out]) / 2 without references. Arguments are neutral probabilities."""
    out = as_float_array(rewrite_neutral, "rewrite_neutral")
    src = as_float_array(source_neutral, "source_neutral")
    _same_length(rewrite=out, source=src)
    combined = (out + (src <= out).astype(float)) / 2.0
    if reference_neutral is None:
        return combined
    ref = as_float_array(reference_neutral, "reference_neutral")
    _same_length(rewrite=out, reference=ref)
    return np.maximum((ref <= out).astype(float), combined)


def sim_2025(
    sim_to_source: Any, sim_to_reference: Any | None = None,
    source_weight: float = SOURCE_WEIGHT, reference_weight: float = REFERENCE_WEIGHT,
) -> np.ndarray:  # fmt: skip
    """2025 SIM per item: 0.4 x cos(source, rewrite) + 0.6 x cos(reference, rewrite); the source
    cosine alone without references (which is also the 2024 SIM)."""
    src = as_float_array(sim_to_source, "sim_to_source")
    if sim_to_reference is None:
        return src
    ref = as_float_array(sim_to_reference, "sim_to_reference")
    _same_length(source=src, reference=ref)
    return source_weight * src + reference_weight * ref


def chrf_scores(hypotheses: Sequence[str], references: Sequence[str]) -> list[float]:
    """Sentence chrF of each hypothesis against its one reference, on 0-1: sacrebleu's
    ``CHRF().sentence_score(h, [r]).score / 100``, as the 2024 evaluation computes it."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    metric = CHRF()
    return [float(metric.sentence_score(h, [r]).score) / 100.0 for h, r in zip(hypotheses, references)]


def joint(sta: Any, sim: Any, fluency: Any) -> np.ndarray:
    """Per-item J = STA x SIM x fluency (the shared tasks' J is the mean of this, not a product of means)."""
    a, b, c = as_float_array(sta, "sta"), as_float_array(sim, "sim"), as_float_array(fluency, "fluency")
    _same_length(sta=a, sim=b, fluency=c)
    return a * b * c


def _summary(**columns: np.ndarray) -> dict[str, Any]:
    return json_safe({"n": len(next(iter(columns.values()))), **{k: float(np.mean(v)) for k, v in columns.items()}})


def score_2024(
    rewrite_toxicity: Any, sim_to_source: Any, rewrites: Sequence[str], references: Sequence[str]
) -> dict[str, Any]:
    """The 2024 means: STA, SIM, CHRF (rewrite vs reference) and J = mean(STA x SIM x CHRF)."""
    sta = sta_2024(neutral_probability(rewrite_toxicity))
    sim = sim_2025(sim_to_source)
    chrf = np.asarray(chrf_scores(rewrites, references))
    return _summary(STA=sta, SIM=sim, CHRF=chrf, J=joint(sta, sim, chrf))


def score_2025(
    rewrite_toxicity: Any, source_toxicity: Any, reference_toxicity: Any | None,
    sim_to_source: Any, sim_to_reference: Any | None, fluency: Any,
) -> dict[str, Any]:  # fmt: skip
    """The 2025 means: reference-aware STA and SIM, the caller's fluency (in XCOMET's slot) and
    J = mean(STA x SIM x fluency). Toxicities are the study's p(toxic)."""
    ref_neutral = None if reference_toxicity is None else neutral_probability(reference_toxicity)
    sta = sta_2025(neutral_probability(rewrite_toxicity), neutral_probability(source_toxicity), ref_neutral)
    sim = sim_2025(sim_to_source, sim_to_reference)
    fl = as_float_array(fluency, "fluency")
    return _summary(STA=sta, SIM=sim, FL=fl, J=joint(sta, sim, fl))


def chrf_against(rewrites: Sequence[str], references: Sequence[str], sources: Sequence[str]) -> dict[str, Any]:
    """Mean chrF of the rewrites against the references and against the sources. A rewrite that
    copies its source scores 1 against the source: the pair says how much of the reference's
    wording, rather than the source's, a system reproduces."""
    to_reference, to_source = chrf_scores(rewrites, references), chrf_scores(rewrites, sources)
    return json_safe({"n": len(to_reference), "chrf_reference": float(np.mean(to_reference)) if to_reference else None,
                      "chrf_source": float(np.mean(to_source)) if to_source else None})  # fmt: skip
