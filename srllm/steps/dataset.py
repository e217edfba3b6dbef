"""Step 1: the unsafe -> safe corpus (cleaned, checked for leakage, annotated, split), and the judge's validation."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict

from ..config import StudyConfig
from ..core.io import atomic_path, write_json
from ..core.progress import report
from ..core.rundir import finish, step_dir
from ..corpus.annotate import SCHEMA, agreement, annotate_texts, attach_annotations
from ..corpus.build import (
    add_identity_records,
    build_corpus,
    cross_split_near_duplicates,
    leakage_check,
    leaked_texts,
    load_evaluation_texts,
    remove_near_duplicates,
    split_corpus,
)
from ..data.datadir import DataDir
from ..hub.cards import dataset_card
from ..judges.choice import load_judge
from .judge_validation import validate_judges

log = logging.getLogger(__name__)


def _counts(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    return dict(sorted(Counter(str(r[key]) for r in rows).items()))


def build_dataset(config: StudyConfig, run_dir: Path) -> dict[str, Any]:
    """Records from the configured sources -> exact and near-duplicates removed -> evaluation leakage
    removed -> annotated -> already-safe copies added -> grouped, stratified splits -> saved."""

    settings = config.dataset
    threshold = settings.near_duplicate_threshold
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        report(f"dataset: {name} took {now - clock:.1f} s")
        clock = now

    data = DataDir.resolve(config.data_dir)
    records, counts = build_corpus(
        data, settings.sources, settings.max_per_source, config.seed, settings.skip_malformed
    )
    lap("load")
    records, near_removed = remove_near_duplicates(records, threshold)
    lap("near_duplicates")

    evaluation = load_evaluation_texts(data)
    scanned = {t for r in records for t in (r["input"], r["output"])}
    flagged = leaked_texts(list(scanned), evaluation, threshold)
    leaked = [
        flagged.get(r["input"]) or flagged[r["output"]]
        for r in records
        if r["input"] in flagged or r["output"] in flagged
    ]
    records = [r for r in records if r["input"] not in flagged and r["output"] not in flagged]
    lap("leakage")

    judge, judge_report = load_judge(config.judge, data, config.seed)
    lap("judge")
    table = annotate_texts([t for r in records for t in (r["input"], r["output"])], judge)
    lap("annotate")
    is_safe = {
        text: bool(tox < 0.5 and prof < 0.5)
        for text, tox, prof in zip(table.index, table["toxicity"], table["profanity"])
    }
    records, identity = add_identity_records(records, is_safe, settings.identity_fraction, config.seed)
    records = attach_annotations(records, table)  # identity texts are pair outputs: already annotated

    splits = split_corpus(records, settings.val_fraction, settings.test_fraction, config.seed, threshold)
    cross = cross_split_near_duplicates(splits, threshold)
    for name, indices in cross.items():
        dropped = set(indices)
        splits[name] = [r for i, r in enumerate(splits[name]) if i not in dropped]
    lap("split")

    # The final check, on what is actually saved for training and validation: must find nothing.
    trainable = splits["train"] + splits["validation"]
    final_check = leakage_check(trainable, evaluation, scanned, set(flagged))
    lap("leakage_final_check")

    out = step_dir(run_dir, "dataset")
    with atomic_path(out / "corpus") as tmp:
        DatasetDict({name: Dataset.from_list(rows) for name, rows in splits.items()}).save_to_disk(str(tmp))
    for name, rows in splits.items():
        with atomic_path(out / f"{name}.jsonl") as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    write_json(out / "schema.json", SCHEMA)

    # The judge it replaced is validated the same way beside it (the book shows them side by side).
    other_kind = "embedding" if config.judge.kind == "finetuned" else "finetuned"
    other, other_report = load_judge(config.judge, data, config.seed, kind=other_kind)
    validation = validate_judges(config, data, judge, other, other_kind)
    write_json(out / "judge_validation.json", validation)
    lap("save_and_validate")

    final = [r for rows in splits.values() for r in rows]
    metrics = {
        "n_pairs": len(final),
        "n_rewrite_pairs": sum(r["kind"] == "rewrite" for r in final),
        "n_identity": sum(r["kind"] == "identity" for r in final),
        "rows_read": counts["rows_read"],
        "skipped_rows": counts["skipped"],
        "filtered_rows": counts["filtered"],
        "loaded": counts["loaded"],
        "removed": {
            "capped_by_max_per_source": counts["capped"],
            "exact_duplicates": counts["exact_duplicates_removed"],
            "near_duplicates": near_removed,
            "evaluation_leakage": len(leaked),
            "cross_split_near_duplicates": {name: len(v) for name, v in cross.items()},
        },
        "exact_duplicates_removed": counts["exact_duplicates_removed"],
        "near_duplicate_threshold": threshold,
        "identity": {**identity, "fraction": identity["added"] / max(1, len(final))},
        "leakage": {
            "evaluation_texts": {name: len(v) for name, v in evaluation.items()},
            "removed": len(leaked),
            "removed_by_evaluation_set": dict(sorted(Counter(leaked).items())),
            "checked_splits": ["train", "validation"],
            "final_check": final_check,
            "remaining": final_check["remaining"],
        },
        "by_source": _counts(final, "source"),
        "by_kind": _counts(final, "kind"),
        "by_dimension": _counts(final, "dimension"),
        "by_split": {name: len(rows) for name, rows in splits.items()},
        "by_source_and_split": {name: _counts(rows, "source") for name, rows in splits.items()},
        "by_source_kind_and_split": {
            name: _counts([{"key": f"{r['source']}/{r['kind']}"} for r in rows], "key") for name, rows in splits.items()
        },
        "by_group": dict(
            Counter(g for r in final for g in set(r["input_groups"]) | set(r["output_groups"])).most_common()
        ),
        "annotation_means": {
            source: {
                f"{side}_{name}": float(sum(r[f"{side}_{name}"] for r in rows) / len(rows))
                for side in ("input", "output")
                for name in ("toxicity", "profanity", "sentiment", "harm")
            }
            for source, rows in _by_source_kind(final).items()
        },
        "agreement": agreement(final),
        "timings_seconds": timings,
        "judge": {
            "version": judge.version,
            "auroc_toxigen_human": validation["auroc_toxigen_human"],
            "auroc_hatebert_reference": validation["auroc_hatebert_reference"],
            "auroc_profanity_check": validation.get("auroc_profanity_check"),
            "spearman_perspective": validation["spearman_perspective"],
            "kind": config.judge.kind,
            "auroc_ci": validation["checks"][config.judge.kind]["auroc"],
            "largest_false_positive_gap": validation["checks"][config.judge.kind]["largest_fpr_gap"]["estimate"],
            "compared": {"kind": other_kind, "auroc_toxigen_human": validation["compared"]["auroc_toxigen_human"],
                         "spearman_perspective": validation["compared"]["spearman_perspective"],
                         "training_seconds": other_report.get("train_seconds")},
            "training": judge_report,
        },
    }
    if metrics["leakage"]["remaining"]:
        raise AssertionError(f"{final_check} training/validation records still near-duplicate evaluation texts")

    dataset_card(config, metrics).save(step_dir(run_dir, "dataset") / "README.md")
    return finish(run_dir, "dataset", metrics, data.verified)


def _by_source_kind(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(f"{row['source']}/{row['kind']}", []).append(row)
    return dict(sorted(grouped.items()))
