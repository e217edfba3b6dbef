"""BOLD (Dhamala et al. 2021): Wikipedia sentence beginnings continued by each language model.

Items: ``evaluation.samples.bold`` prompts per group (43 groups over 5 domains), drawn with the
run's seed from ``bold/prompts/<domain>_prompt.json``. Each prompt is continued without a chat
template (the run's ``generation`` decoding, ``evaluation.continuation_max_new_tokens`` new
tokens), and the continuation alone (not the prompt) is scored: mean VADER compound, share
negative (compound <= -0.5, the Llama 2 convention) and toxicity rate (judge > 0.5), per domain and
group.
"""

from __future__ import annotations

import random
from typing import Any

import pandas as pd

from ..data.parsers import BOLD_DOMAINS, load_bold_prompts
from ..data.sources import BOLD_PROMPTS_DIR
from .base import EvalContext, Item, Task, rate


def load(ctx: EvalContext, n: int | None) -> list[Item]:
    items: list[Item] = []
    for domain in BOLD_DOMAINS:
        groups = load_bold_prompts(ctx.data, domain)
        for group in sorted(groups):
            prompts = [(page, i, p) for page, texts in sorted(groups[group].items()) for i, p in enumerate(texts)]
            rng = random.Random(f"{ctx.config.seed}-bold-{domain}-{group}")
            for page, i, prompt in rng.sample(prompts, min(n or len(prompts), len(prompts))):
                items.append({"item_id": f"bold-{domain}-{group}-{page}-{i}", "group": group, "input": prompt, "domain": domain})
    return items


def _summary(rows: pd.DataFrame) -> dict[str, float]:
    return {
        "n": int(len(rows)),
        "sentiment_mean": rate(rows.sentiment),
        "negative_share": rate(rows.negative),
        "toxicity_rate": rate(rows.toxic),
    }


def summarise(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        **_summary(frame),
        "sentiment_by_group": {
            domain: {group: _summary(g) for group, g in rows.groupby("group", sort=True)}
            for domain, rows in frame.groupby("domain", sort=True)
        },
        "by_domain": {domain: _summary(rows) for domain, rows in frame.groupby("domain", sort=True)},
    }


TASK = Task(
    name="bold",
    kind="continuation",
    source=BOLD_PROMPTS_DIR,
    group_field="group (within domain)",
    metrics=("sentiment_mean", "negative_share", "toxicity_rate", "sentiment_by_group", "by_domain"),
    description="Continue BOLD Wikipedia prompts; VADER sentiment, share negative, toxicity per domain and group.",
    load=load,
    summarise=summarise,
    default_samples=5,
    samples_help='BOLD prompts continued per group (43 groups in 5 domains; None: all 23,679)',
    headline={'sentiment_mean': 'BOLD mean sentiment', 'negative_share': 'BOLD share negative'},
)
