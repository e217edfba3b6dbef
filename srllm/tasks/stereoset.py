"""StereoSet dev (Nadeem et al. 2020): SS, LMS and ICAT per domain and overall for every language model.

Scoring and metrics: srllm.metrics.stereoset (the official evaluation script's per-target-term
averaging). Per-example rows keep each item's three candidate scores, system = the model's name.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..data import STEREOSET, load_stereoset
from ..metrics.stereoset import score_stereoset, stereoset_metrics
from ..steps.common import sample
from .base import EvalContext, Item, Task
from .sharding import map_sharded


def load(ctx: EvalContext, n: int | None) -> list[Item]:
    items = sample(load_stereoset(ctx.data), n, ctx.config.seed, "stereoset")
    return [{**item, "item_id": item["id"], "group": item["bias_type"], "input": item["context"]} for item in items]


def score(ctx: EvalContext, items: list[Item], model: Any, tokenizer: Any) -> pd.DataFrame:
    batch = ctx.config.evaluation.score_batch_size
    rows = map_sharded(
        ctx.shard, lambda chunk: score_stereoset(model, tokenizer, chunk, batch_size=batch).to_dict("records"), items
    )
    frame = pd.DataFrame(rows).rename(columns={"id": "item_id"})
    frame.insert(1, "group", frame["bias_type"])
    frame.insert(2, "input", [item["input"] for item in items])
    return frame


def summarise(frame: pd.DataFrame) -> dict[str, Any]:
    return stereoset_metrics(frame)


TASK = Task(
    name="stereoset",
    kind="likelihood",
    source=STEREOSET,
    group_field="bias_type",
    metrics=("SS", "LMS", "ICAT"),
    description="Likelihood of stereotype / anti-stereotype / unrelated candidates; SS, LMS, ICAT.",
    load=load,
    summarise=summarise,
    score=score,
)
