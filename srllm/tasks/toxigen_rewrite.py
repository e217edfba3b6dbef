"""ToxiGen rewrite: the 940 human-annotated ToxiGen statements rewritten by every system (as MBIAS).

Toxicity before (the ``input`` system) and after, per target group (13 groups after normalising the
15 spellings, srllm.data.parsers.GROUP_NAMES). ``label`` is the human toxicity label of the statement.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..core.rundir import sample
from ..data.parsers import load_toxigen_annotated
from ..data.sources import TOXIGEN_ANNOTATED
from .base import EvalContext, Item, Task, rate
from .scorers import by_group


def load(ctx: EvalContext, n: int | None) -> list[Item]:
    frame = load_toxigen_annotated(ctx.data)
    rows = [
        {"item_id": f"toxigen-{index}", "group": row.group, "input": row.biased_text, "label": int(row.label)}
        for index, row in enumerate(frame.itertuples())
    ]
    return sample(rows, n, ctx.config.seed, "toxigen_rewrite")


def summarise(frame: pd.DataFrame) -> dict[str, Any]:
    columns = {"input_toxicity": ("input_toxicity", "mean"), "toxicity": ("toxicity", "mean"),
               "toxicity_rate": ("toxic", "mean"), "similarity": ("similarity", "mean")}  # fmt: skip
    return {
        "n": int(len(frame)),
        "input_toxicity": rate(frame.input_toxicity),
        "toxicity": rate(frame.toxicity),
        "toxicity_rate": rate(frame.toxic),
        "knowledge_retention": rate(frame.meaning_kept),
        "refusal_rate": rate(frame.refusal),
        "toxicity_by_group": by_group(frame, columns),
    }


TASK = Task(
    name="toxigen_rewrite",
    kind="rewrite",
    source=TOXIGEN_ANNOTATED,
    group_field="target_group",
    metrics=("input_toxicity", "toxicity", "toxicity_rate", "knowledge_retention", "refusal_rate", "toxicity_by_group"),
    description="Rewrite the 940 annotated ToxiGen statements; toxicity before and after per target group.",
    load=load,
    summarise=summarise,
    default_samples=None,
    samples_help='annotated ToxiGen statements rewritten (None: all 940)',
    headline={'toxicity_rate': 'ToxiGen rewrite toxicity rate'},
)
