"""Step 1: the unsafe -> safe corpus, and the toxicity judge's validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import StudyConfig
from ..datadir import DataDir
from ..io import atomic_path, write_json
from .common import finish, step_dir


def build_dataset(config: StudyConfig, run_dir: Path) -> dict[str, Any]:
    """Unsafe -> safe records from the configured sources, de-duplicated and split; the judge validated."""
    from datasets import Dataset, DatasetDict

    from ..data import build_corpus, split_corpus
    from ..judge import load_or_train_judge, validate_judge

    data = DataDir.resolve(config.data_dir)
    records, counts = build_corpus(
        data, config.dataset.sources, config.dataset.max_per_source, config.seed, config.dataset.skip_malformed
    )
    splits = split_corpus(records, config.dataset.val_fraction, config.dataset.test_fraction, config.seed)
    out = step_dir(run_dir, "dataset")
    with atomic_path(out / "corpus") as tmp:
        DatasetDict({name: Dataset.from_list(rows) for name, rows in splits.items()}).save_to_disk(str(tmp))
    for name, rows in splits.items():
        with atomic_path(out / f"{name}.jsonl") as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

    judge, judge_report = load_or_train_judge(data, config.judge.max_per_class_per_source, config.seed)
    validation = validate_judge(judge, data)
    write_json(out / "judge_validation.json", validation)
    metrics = {
        "n_pairs": len(records),
        "rows_read": counts["rows_read"],
        "skipped_rows": counts["skipped"],
        "exact_duplicates_removed": counts["exact_duplicates_removed"],
        "by_source": counts["records"],
        "by_split": {name: len(rows) for name, rows in splits.items()},
        "by_source_and_split": {
            name: {k: int(v) for k, v in pd.Series([r["source"] for r in rows]).value_counts().sort_index().items()}
            for name, rows in splits.items()
        },
        "judge": {
            "version": judge.version,
            "auroc_toxigen_human": validation["auroc_toxigen_human"],
            "auroc_hatebert_reference": validation["auroc_hatebert_reference"],
            "auroc_profanity_check": validation.get("auroc_profanity_check"),
            "spearman_perspective": validation["spearman_perspective"],
            "training": judge_report,
        },
    }
    return finish(run_dir, "dataset", metrics, data)
