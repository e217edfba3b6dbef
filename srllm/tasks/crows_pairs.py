"""CrowS-Pairs (Nangia et al. 2020): pct_stereotype and likelihood_diff per bias type for every
language model, scored exactly as lm-evaluation-harness's ``crows_pairs_english`` (see
srllm.metrics.crows_pairs; tests/test_lm_eval_crosscheck.py checks the numbers against lm-eval).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..metrics.crows_pairs import CROWS_PAIRS, crows_pairs_metrics, load_crows_pairs, score_crows_pairs
from ..steps.common import sample
from .base import EvalContext, Item, Task
from .sharding import map_sharded


def load(ctx: EvalContext, n: int | None) -> list[Item]:
    pairs = sample(load_crows_pairs(ctx.data), n, ctx.config.seed, "crows_pairs")
    return [{**pair, "item_id": pair["id"], "group": pair["bias_type"], "input": pair["sent_more"]} for pair in pairs]


def score(ctx: EvalContext, items: list[Item], model: Any, tokenizer: Any) -> pd.DataFrame:
    batch = ctx.config.evaluation.score_batch_size
    rows = map_sharded(
        ctx.shard, lambda chunk: score_crows_pairs(model, tokenizer, chunk, batch_size=batch).to_dict("records"), items
    )
    frame = pd.DataFrame(rows).rename(columns={"id": "item_id"})
    frame.insert(1, "group", frame["bias_type"])
    frame.insert(2, "input", [item["sent_more"] for item in items])
    frame["output"] = [item["sent_less"] for item in items]  # the paired, less-stereotyping sentence
    frame["stereotyped"] = frame["ll_more"] > frame["ll_less"]
    frame["likelihood_diff"] = (frame["ll_more"] - frame["ll_less"]).abs()
    return frame


def summarise(frame: pd.DataFrame) -> dict[str, Any]:
    metrics = crows_pairs_metrics(frame)
    return {**metrics["overall"], "by_bias_type": metrics["by_bias_type"]}


TASK = Task(
    name="crows_pairs",
    kind="likelihood",
    source=CROWS_PAIRS,
    group_field="bias_type",
    metrics=("pct_stereotype", "likelihood_diff", "by_bias_type"),
    description="Sentence log-likelihood of the more vs the less stereotyping sentence of each pair.",
    load=load,
    summarise=summarise,
    score=score,
)
