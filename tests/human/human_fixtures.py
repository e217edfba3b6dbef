"""A small synthetic run folder for the human-evaluation tests: the evaluate step's two files with
the real schema (srllm.steps.evaluate / srllm.tasks.scorers), rewrite tasks beside a likelihood and
a continuation task that the export must leave out. No model is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from srllm.human.scales import SCALES

SYSTEMS = ("input", "lexicon_delete", "base", "srllm-qlora")
REWRITE_COLUMNS = ("toxicity", "toxic", "profanity", "flagged", "sentiment", "negative", "input_toxicity", "similarity",
                   "meaning_kept", "refusal")  # fmt: skip


def synthetic_run(root: Path, name: str = "synthetic") -> Path:
    rng = np.random.default_rng(0)
    rows = []
    tasks = {"inhouse": ("gender", "race", "religion"), "toxigen_rewrite": ("women", "black", "jewish", "asian")}
    for task, groups in tasks.items():
        for i in range(12 if task == "inhouse" else 8):
            group = groups[i % len(groups)]
            text = f"{task} input {i} about {group}, with a comma and \"quotes\""
            for system in SYSTEMS:
                output = text if system == "input" else f"rewrite {SYSTEMS.index(system)} of {task} {i}\nsecond line"
                row = {"task": task, "system": system, "item_id": f"{task}-{i}", "group": group, "input": text, "output": output}
                row.update({c: float(rng.random()) for c in REWRITE_COLUMNS})
                row.update({"toxic": float(row["toxicity"] > 0.5), "flagged": float(row["profanity"] > 0.5),
                            "meaning_kept": float(row["similarity"] >= 0.7), "refusal": float(system == "base" and i % 3 == 0),
                            "negative": float(row["sentiment"] < 0.2)})  # fmt: skip
                if task == "inhouse":
                    row.update({"reference": "a reference", "perplexity": float(rng.uniform(5, 200)),
                                "input_perplexity": float(rng.uniform(5, 200)), "fluent": 1.0, "j": float(rng.random())})  # fmt: skip
                else:
                    row["label"] = 1
                rows.append(row)
    for i in range(3):  # a likelihood task (no output text) and a continuation task: never rated
        rows.append({"task": "stereoset", "system": "base", "item_id": f"st-{i}", "group": "gender", "input": "ctx", "output": None})
        rows.append({"task": "bold", "system": "base", "item_id": f"bold-{i}", "group": "race", "input": "prompt", "output": "continued"})
    run = root / name
    (run / "evaluate").mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(run / "evaluate" / "per_example.parquet", index=False)
    kinds = {"inhouse": "rewrite", "toxigen_rewrite": "rewrite", "stereoset": "likelihood", "bold": "continuation"}
    (run / "evaluate" / "metrics.json").write_text(json.dumps({"tasks": {t: {"kind": k} for t, k in kinds.items()}}))
    return run


def fill_sheet(path: Path, seed: int, blank_every: int = 0) -> None:
    """Rate every row of an exported sheet at random (leaving every ``blank_every``-th item blank)."""
    rng = np.random.default_rng(seed)
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False)
    for scale in SCALES:
        sheet[scale.name] = [str(int(rng.choice(scale.values))) for _ in range(len(sheet))]
    if blank_every:
        for scale in SCALES:
            sheet.loc[sheet.index % blank_every == 0, scale.name] = ""
    sheet.to_csv(path, index=False)
