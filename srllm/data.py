"""Loaders for the study's data sets and the unsafe -> safe instruction corpus.

Each source is one loader that returns plain records; malformed rows raise :class:`DataError`
naming the file and row, or are counted in ``skipped`` when the caller allows skipping. Nothing is
dropped silently.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .datadir import DataDir, DataError
from .prompts import DEBIAS_INSTRUCTION

SRLLM_PAIRS = "srllm_mbias/eval/train-500-debiased-evaluation.csv"
PARADETOX = "paradetox/paradetox.tsv"
STEREOSET = "stereoset/stereoset_dev_flat.jsonl"
TOXIGEN_ANNOTATED = "srllm_mbias/inference_results/toxigen-results.csv"
TOXIGEN_PROMPTS_DIR = "toxigen/prompts"

MAX_TEXT_CHARS = 5000  # longer "sentences" are almost certainly broken rows, not text


@dataclass
class LoadReport:
    """What a loader read: rows, records made, rows skipped (with the reason), per file."""

    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def skip_or_raise(self, allow_skip: bool, path: Path, row: int, reason: str) -> None:
        if not allow_skip:
            raise DataError(f"{path}: row {row}: {reason} (set dataset.skip_malformed: true to skip such rows)")
        self.skipped[reason] += 1


def _clean(text: Any) -> str:
    return " ".join(str(text).split()) if text is not None else ""


def _read_rows(path: Path, delimiter: str, required: list[str]) -> Iterator[tuple[int, dict[str, str | None]]]:
    """Yield (row number, row) from a CSV/TSV, with clear errors for decoding and header problems."""
    try:
        handle = open(path, newline="", encoding="utf-8", errors="strict")
        with handle:
            reader = csv.DictReader(handle, delimiter=delimiter, strict=True)
            header = reader.fieldnames or []
            missing = [column for column in required if column not in header]
            if missing:
                raise DataError(f"{path}: missing column(s) {missing}; found {header}")
            for row in reader:
                # +1 for the header line; csv's line_num counts physical lines, we count records.
                yield reader.line_num, row
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: undecodable bytes (not UTF-8) at byte {exc.start}: {exc.reason}") from None
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV near line {reader.line_num}: {exc}") from None


def _check_text(text: str, what: str) -> str | None:
    """The reason a text is unusable, or None."""
    if not text:
        return f"empty {what}"
    if len(text) > MAX_TEXT_CHARS:
        return f"{what} longer than {MAX_TEXT_CHARS} characters"
    return None


def make_record(source: str, source_id: str, unsafe: str, safe: str, **meta: Any) -> dict[str, Any]:
    """One Alpaca-form record: instruction, input (unsafe text), output (safe rewrite), plus metadata."""
    return {
        "instruction": DEBIAS_INSTRUCTION,
        "input": unsafe,
        "output": safe,
        "source": source,
        "source_id": source_id,
        "dimension": meta.get("dimension", ""),
        "severity": meta.get("severity", ""),
        "aspect": meta.get("aspect", ""),
    }


def load_srllm_pairs(data: DataDir, allow_skip: bool = False) -> tuple[list[dict[str, Any]], LoadReport]:
    """The SR-LLM authors' released biased -> debiased pairs (434 rows)."""
    path = data.path(SRLLM_PAIRS)
    report, records = LoadReport(), []
    for line, row in _read_rows(path, ",", ["biased_text", "debiased_text", "dimension", "label", "aspect"]):
        report.rows += 1
        unsafe, safe = _clean(row["biased_text"]), _clean(row["debiased_text"])
        reason = _check_text(unsafe, "biased_text") or _check_text(safe, "debiased_text")
        if reason:
            report.skip_or_raise(allow_skip, path, line, reason)
            continue
        records.append(
            make_record(
                "srllm",
                f"srllm-{row.get('') or line}",
                unsafe,
                safe,
                dimension=_clean(row["dimension"]),
                severity=_clean(row["label"]),
                aspect=_clean(row["aspect"]),
            )
        )
    return records, report


def load_paradetox(data: DataDir, allow_skip: bool = False) -> tuple[list[dict[str, Any]], LoadReport]:
    """ParaDetox toxic -> neutral pairs: one record per non-empty rewrite (1-3 per toxic sentence)."""
    path = data.path(PARADETOX)
    report, records = LoadReport(), []
    for line, row in _read_rows(path, "\t", ["toxic", "neutral1", "neutral2", "neutral3"]):
        report.rows += 1
        if None in row or any(row[k] is None for k in ("toxic", "neutral1")):
            report.skip_or_raise(allow_skip, path, line, "wrong number of columns")
            continue
        toxic = _clean(row["toxic"])
        reason = _check_text(toxic, "toxic")
        if reason:
            report.skip_or_raise(allow_skip, path, line, reason)
            continue
        rewrites = [_clean(row[k]) for k in ("neutral1", "neutral2", "neutral3") if _clean(row.get(k))]
        if not rewrites:
            report.skip_or_raise(allow_skip, path, line, "no neutral rewrite")
            continue
        for index, neutral in enumerate(rewrites, start=1):
            reason = _check_text(neutral, f"neutral{index}")
            if reason:
                report.skip_or_raise(allow_skip, path, line, reason)
                continue
            records.append(
                make_record("paradetox", f"paradetox-{line}-{index}", toxic, neutral, dimension="toxicity", severity="toxic")
            )
    return records, report


LOADERS = {"srllm": load_srllm_pairs, "paradetox": load_paradetox}


def build_corpus(
    data: DataDir, sources: Iterable[str], max_per_source: int | None, seed: int, allow_skip: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All sources' records (exact duplicate pairs removed), with counts for the run's metrics."""
    records: list[dict[str, Any]] = []
    counts: dict[str, Any] = {"rows_read": {}, "skipped": {}, "records": {}, "exact_duplicates_removed": 0}
    for source in sources:
        loaded, report = LOADERS[source](data, allow_skip=allow_skip)
        counts["rows_read"][source] = report.rows
        counts["skipped"][source] = dict(report.skipped)
        if max_per_source is not None and len(loaded) > max_per_source:
            loaded = random.Random(f"{seed}-{source}").sample(loaded, max_per_source)
        records.extend(loaded)
    seen: set[tuple[str, str]] = set()
    unique = []
    for record in records:
        key = (record["input"].lower(), record["output"].lower())
        if key in seen:
            counts["exact_duplicates_removed"] += 1
            continue
        seen.add(key)
        unique.append(record)
    counts["records"] = dict(Counter(r["source"] for r in unique))
    return unique, counts


def split_corpus(
    records: list[dict[str, Any]], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[dict[str, Any]]]:
    """Seeded splits, stratified by source, that keep every rewrite of one input in the same split.

    Grouping by input matters: ParaDetox has up to three rewrites per toxic sentence, and the same
    input in train and test would leak the answer.
    """
    by_source: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in records:
        by_source.setdefault(record["source"], {}).setdefault(record["input"].lower(), []).append(record)
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "validation": [], "test": []}
    for source in sorted(by_source):
        groups = sorted(by_source[source])
        random.Random(f"{seed}-split-{source}").shuffle(groups)
        n_test = max(1, round(len(groups) * test_fraction))
        n_val = max(1, round(len(groups) * val_fraction))
        for index, key in enumerate(groups):
            split = "test" if index < n_test else "validation" if index < n_test + n_val else "train"
            splits[split].extend(by_source[source][key])
    for split in splits.values():
        random.Random(seed).shuffle(split)
    return splits


def load_stereoset(data: DataDir) -> list[dict[str, str]]:
    """StereoSet dev (flattened): type, target, bias_type, context, stereotype, anti-stereotype, unrelated."""
    path = data.path(STEREOSET)
    required = ["type", "target", "bias_type", "context", "stereotype", "anti-stereotype", "unrelated"]
    items = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {line_number}: not valid JSON ({exc.msg})") from None
            missing = [key for key in required if not isinstance(item.get(key), str) or not item[key].strip()]
            if missing:
                raise DataError(f"{path}: line {line_number}: missing or empty field(s) {missing}")
            item["id"] = f"stereoset-{line_number}"
            items.append(item)
    return items
