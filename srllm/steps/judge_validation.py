"""The dataset step's validation of the toxicity judge and of the judge it replaced, computed once per machine.

Both judges score the 940 human-labelled ToxiGen statements, the 993 Perspective-scored prompts and
BOLD's benign Wikipedia sentences (srllm.judges.toxicity.validate_judge,
srllm.validation.judge_checks.check_judges). Nothing of it depends on the run's corpus: only on the two
judges (their versions cover their training data, settings and code), the data files, the bootstrap
and the code that scores and compares. So it is cached under ``cache_key`` like the judges themselves.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..config import StudyConfig
from ..core.code_hash import closure_hash
from ..core.machine_cache import once_per_machine
from ..data.datadir import DataDir
from ..judges.choice import Judge
from ..judges.remembered import RememberedJudge
from ..judges.toxicity import validate_judge
from ..validation.judge_checks import check_judges

COMPARED = ("auroc", "spearman", "reliability_judge", "roc_judge")  # what of the replaced judge's validation is kept


def cache_key(config: StudyConfig, judge: Judge, other: Judge, other_kind: str) -> str:
    """The judges, the bootstrap and the code (this module's import closure, which holds the data
    registry: every data file is checked against its checksum there)."""
    settings = {
        "kind": config.judge.kind, "judge": judge.version, "other_kind": other_kind, "other": other.version,
        "resamples": config.evaluation.bootstrap_resamples, "seed": config.seed, "code": closure_hash((__name__,)),
    }  # fmt: skip
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def validate_uncached(
    config: StudyConfig, data: DataDir, judge: Judge, other: Judge, other_kind: str
) -> dict[str, Any]:
    """The ``judge_validation.json`` of the dataset step."""
    # Both validations score the 940 annotated statements: each judge scores a text once.
    scored, other_scored = RememberedJudge(judge), RememberedJudge(other)
    validation = validate_judge(scored, data)
    compared = {k: v for k, v in validate_judge(other_scored, data).items() if k.startswith(COMPARED)}
    validation["compared"] = {"kind": other_kind, "version": other.version, **compared}
    validation["checks"] = check_judges({config.judge.kind: scored, other_kind: other_scored}, data,
                                        config.evaluation.bootstrap_resamples, config.seed)  # fmt: skip
    validation["kind"] = config.judge.kind
    return validation


def validate_judges(config: StudyConfig, data: DataDir, judge: Judge, other: Judge, other_kind: str) -> dict[str, Any]:
    """``validate_uncached``, computed once per machine for the same judges, bootstrap and code. A cached
    result still has its data files verified, so the run's manifest lists the same files either way."""
    key = cache_key(config, judge, other, other_kind)
    return once_per_machine("judge_validation", key, lambda: validate_uncached(config, data, judge, other, other_kind), data)
