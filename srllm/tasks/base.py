"""What an evaluation task is: a small declarative definition plus the code only it needs.

In the spirit of lm-evaluation-harness task configs: each task names its data source, its kind
(``rewrite``: a system rewrites each input; ``continuation``: a language model continues each raw
prompt; ``likelihood``: a language model scores given sentences), the metrics it reports and the
field that holds an item's demographic group. A demographic subset is always a filter on the
``group`` column of the per-example table, never a copy of the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

import pandas as pd

if TYPE_CHECKING:  # types of the seams only: no import at run time
    from ..config import StudyConfig
    from ..data.datadir import DataDir
    from ..judges.online import OnlineJudge
    from ..judges.toxicity import ToxicityJudge
    from .sharding import Shard

Kind = Literal["rewrite", "continuation", "likelihood"]
Item = dict[str, Any]  # item_id, group, input (the text rewritten / the prompt continued) and task fields


@dataclass
class EvalContext:
    """What every task may use: parameters, the run folder, data, judge, shard, shared scorers."""

    config: StudyConfig
    run_dir: Path
    data: DataDir
    judge: ToxicityJudge
    shard: Shard
    reference_model: Path | str  # the base model: perplexity reference (in evaluation.dtype)
    online: list[OnlineJudge] = field(default_factory=list)  # enabled online judges
    notes: dict[str, str] = field(default_factory=dict)  # per-run notes (skipped judges, ...)
    loaded: dict[str, Any] = field(default_factory=dict)  # models the shared scorers load once per step


@dataclass(frozen=True)
class Task:
    """One evaluation task.

    ``load(ctx, n)`` returns the items (n from ``evaluation.samples``); ``summarise(frame)`` turns
    one system's per-example rows into its metrics. Rewrite/continuation tasks get their outputs
    scored by the shared scorers (srllm.tasks.scorers) plus ``extra_scores``; likelihood tasks
    instead provide ``score(ctx, items, model, tokenizer)`` returning per-item rows.
    """

    name: str
    kind: Kind
    source: str  # data file or folder in the data directory (or the run's split)
    group_field: str  # which item field is the demographic group
    metrics: tuple[str, ...]
    description: str
    load: Callable[[EvalContext, int | None], list[Item]]
    summarise: Callable[[pd.DataFrame], dict[str, Any]]
    extra_scores: Callable[[EvalContext, pd.DataFrame], pd.DataFrame] | None = None
    score: Callable[[EvalContext, list[Item], Any, Any], pd.DataFrame] | None = None
    first_line: bool = False  # continuation: keep the generated text up to the first newline
    default_samples: int | None = None  # items drawn when evaluation.samples does not name the task (None: all)
    samples_help: str = "items drawn (seeded sample)"  # what one sample unit is, for `srllm list`
    headline: dict[str, str] = field(default_factory=dict)  # metric -> column label of the book's results table


def rate(series: pd.Series) -> float:
    """Mean of a flag or score as a plain float (NaN for no rows)."""
    return float(series.astype(float).mean()) if len(series) else float("nan")
