"""Loaders for the study's data sets and the unsafe -> safe instruction corpus.

Each source is one loader that returns plain records; malformed rows raise :class:`DataError`
naming the file and row, or are counted in ``skipped`` when the caller allows skipping. Nothing is
dropped silently.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..data.datadir import DataDir, DataError
from ..data.dedup import connected_groups, near_duplicates_across, normalise, similar_pairs, vectorise
from ..data.parsers import (
    BOLD_DOMAINS,
    clean,
    load_bold_prompts,
    load_crows_pairs,
    load_stereoset,
    load_toxigen_annotated,
    paradetox_rows,
    read_table,
    toxigen_statements,
)  # fmt: skip
from ..data.sources import PARADETOX, SRLLM_PAIRS, WNC_DIR, WNC_SPLITS
from ..lm.prompts import DEBIAS_INSTRUCTION

MAX_TEXT_CHARS = 5000  # longer "sentences" are almost certainly broken rows, not text


@dataclass
class LoadReport:
    """What a loader read: rows, records made, rows skipped (with the reason), per file."""

    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    filtered: Counter[str] = field(default_factory=Counter)  # well-formed rows left out on purpose, by reason

    def skip_or_raise(self, allow_skip: bool, path: Path, row: int, reason: str) -> None:
        if not allow_skip:
            raise DataError(f"{path}: row {row}: {reason} (set dataset.skip_malformed: true to skip such rows)")
        self.skipped[reason] += 1


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
        "kind": meta.get("kind", "rewrite"),
        "parent_id": meta.get("parent_id", ""),
    }


def load_srllm_pairs(data: DataDir, allow_skip: bool = False) -> tuple[list[dict[str, Any]], LoadReport]:
    """The SR-LLM authors' released biased -> debiased pairs (434 rows)."""
    path = data.path(SRLLM_PAIRS)
    report, records = LoadReport(), []
    for line, row in read_table(path, ",", ["biased_text", "debiased_text", "dimension", "label", "aspect"]):
        report.rows += 1
        unsafe, safe = clean(row["biased_text"]), clean(row["debiased_text"])
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
                dimension=clean(row["dimension"]),
                severity=clean(row["label"]),
                aspect=clean(row["aspect"]),
            )
        )
    return records, report


def load_paradetox(data: DataDir, allow_skip: bool = False) -> tuple[list[dict[str, Any]], LoadReport]:
    """ParaDetox toxic -> neutral pairs: one record per non-empty rewrite (1-3 per toxic sentence)."""
    path = data.path(PARADETOX)
    report, records = LoadReport(), []
    for line, row in paradetox_rows(path):
        report.rows += 1
        if None in row or any(row[k] is None for k in ("toxic", "neutral1")):
            report.skip_or_raise(allow_skip, path, line, "wrong number of columns")
            continue
        toxic = clean(row["toxic"])
        reason = _check_text(toxic, "toxic")
        if reason:
            report.skip_or_raise(allow_skip, path, line, reason)
            continue
        rewrites = [clean(row[k]) for k in ("neutral1", "neutral2", "neutral3") if clean(row.get(k))]
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


_ATTACH_LEFT = {",", ".", ";", ":", "!", "?", "%", ")", "]", "'s", "n't", "'re", "'ve", "'ll", "'d", "'m"}
_ATTACH_RIGHT = {"(", "[", "$"}


def detokenize(text: str) -> str:
    """Readable spacing for a WNC sentence tokenized with spaces around punctuation.

    Rules applied (only those that are reliable on this corpus): no space before , . ; : ! ? % ) ]
    or clitics ('s n't 're 've 'll 'd 'm, including the split form "' s"); no space after ( [ $;
    "a - b" between two word characters becomes "a-b" (the tokenizer split hyphenated words);
    double quotes alternate opening / closing. Casing is NOT restored: WNC ships lower-cased text and
    there is no reliable way to recover proper nouns, so the sentences stay lower case.
    """
    tokens = text.replace(" ' s ", " 's ").split()
    if text.endswith(" ' s"):
        tokens[-2:] = ["'s"]
    out = ""
    no_space_next = True  # nothing before the first token
    open_quote = False
    for index, token in enumerate(tokens):
        previous = tokens[index - 1] if index else ""
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token == '"':
            open_quote = not open_quote
            if open_quote:
                out += ("" if no_space_next else " ") + token
                no_space_next = True
            else:
                out += token
                no_space_next = False
            continue
        if token == "-" and previous[-1:].isalnum() and following[:1].isalnum():
            out += token
            no_space_next = True
            continue
        if no_space_next or token in _ATTACH_LEFT:
            out += token
        else:
            out += " " + token
        no_space_next = token in _ATTACH_RIGHT
    return out


def load_wnc(data: DataDir, allow_skip: bool = False) -> tuple[list[dict[str, Any]], LoadReport]:
    """The Wiki Neutrality Corpus sample: biased (pre.*) -> neutralized (post.*) Wikipedia sentences.

    The files are line-aligned; a different number of lines is an error naming both files. The text
    is tokenized and lower-cased upstream: :func:`detokenize` restores readable spacing, casing stays
    lower case. Pairs whose two sides are identical are not rewrites and are left out (counted).
    """
    report, records = LoadReport(), []
    for split in WNC_SPLITS:
        pre_path, post_path = data.path(f"{WNC_DIR}pre.{split}"), data.path(f"{WNC_DIR}post.{split}")
        try:
            pre = pre_path.read_text(encoding="utf-8").split("\n")
            post = post_path.read_text(encoding="utf-8").split("\n")
        except UnicodeDecodeError as exc:
            raise DataError(f"{pre_path} or {post_path}: undecodable bytes (not UTF-8): {exc.reason}") from None
        pre, post = (lines[:-1] if lines and lines[-1] == "" else lines for lines in (pre, post))
        if len(pre) != len(post):
            raise DataError(f"{pre_path} has {len(pre)} lines but {post_path} has {len(post)}: they must be line-aligned")
        for line, (biased, neutral) in enumerate(zip(pre, post), start=1):
            report.rows += 1
            biased, neutral = detokenize(clean(biased)), detokenize(clean(neutral))
            reason = _check_text(biased, "pre (biased) sentence") or _check_text(neutral, "post (neutral) sentence")
            if reason:
                report.skip_or_raise(allow_skip, pre_path, line, reason)
                continue
            if biased == neutral:
                report.filtered["unchanged (pre = post)"] += 1
                continue
            records.append(
                make_record("wnc", f"wnc-{split}-{line}", biased, neutral, dimension="subjectivity", severity="biased")
            )
    return records, report


LOADERS = {"srllm": load_srllm_pairs, "paradetox": load_paradetox, "wnc": load_wnc}


def build_corpus(
    data: DataDir, sources: Iterable[str], max_per_source: int | None, seed: int, allow_skip: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """All sources' records (exact duplicate pairs removed), with counts for the run's metrics."""
    records: list[dict[str, Any]] = []
    counts: dict[str, Any] = {
        "rows_read": {}, "skipped": {}, "filtered": {}, "loaded": {}, "capped": {}, "records": {},
        "exact_duplicates_removed": 0,
    }  # fmt: skip
    for source in sources:
        loaded, report = LOADERS[source](data, allow_skip=allow_skip)
        counts["rows_read"][source] = report.rows
        counts["skipped"][source] = dict(report.skipped)
        counts["filtered"][source] = dict(report.filtered)
        counts["loaded"][source] = len(loaded)
        if max_per_source is not None and len(loaded) > max_per_source:
            loaded = random.Random(f"{seed}-{source}").sample(loaded, max_per_source)
        counts["capped"][source] = counts["loaded"][source] - len(loaded)
        records.extend(loaded)
    seen: set[tuple[str, str]] = set()
    unique = []
    for record in records:
        # Normalised (case, punctuation, spacing), so "You idiot." and "you idiot" count as one.
        key = (normalise(record["input"]), normalise(record["output"]))
        if key in seen:
            counts["exact_duplicates_removed"] += 1
            continue
        seen.add(key)
        unique.append(record)
    counts["records"] = dict(Counter(r["source"] for r in unique))
    return unique, counts


def remove_near_duplicates(
    records: list[dict[str, Any]], threshold: float
) -> tuple[list[dict[str, Any]], int]:
    """Drop a record when an earlier record of the same kind has a near-duplicate input AND output.

    Both sides must match: ParaDetox's different rewrites of one toxic sentence share the input but
    teach different outputs, and a WNC sentence copied through (identity) resembles its biased
    original on both sides but teaches something else, hence "of the same kind".
    """
    if len(records) < 2:
        return list(records), 0
    inputs = vectorise([r["input"] for r in records])
    outputs = vectorise([r["output"] for r in records])
    dropped: set[int] = set()
    for i, j, _ in similar_pairs(inputs, None, threshold):
        if records[i]["kind"] != records[j]["kind"] or i in dropped:
            continue
        if float(outputs[i].multiply(outputs[j]).sum()) >= threshold - 1e-6:
            dropped.add(j)  # j > i: the later copy goes
    return [r for k, r in enumerate(records) if k not in dropped], len(dropped)


def add_identity_records(
    records: list[dict[str, Any]], is_safe: dict[str, bool], fraction: float, seed: int
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Append already-safe texts whose correct output is the text itself (the authors copied neutral rows through).

    Candidates are the safe sides (outputs) of the pairs, one per distinct text, that ``is_safe``
    confirms (both automatic annotators below 0.5); each copy records its pair in ``parent_id`` so the
    split keeps them together. Enough are drawn (seeded) to make ``fraction`` of the final corpus.
    """
    existing_inputs = {normalise(r["input"]) for r in records}
    candidates, seen = [], set()
    for record in records:
        key = normalise(record["output"])
        if record["kind"] != "rewrite" or key in seen or key in existing_inputs or not is_safe.get(record["output"]):
            continue
        seen.add(key)
        candidates.append(record)
    wanted = min(len(candidates), round(len(records) * fraction / (1.0 - fraction)))
    chosen = random.Random(f"{seed}-identity").sample(candidates, wanted)
    chosen.sort(key=lambda r: (r["source"], r["source_id"]))
    identity = [
        {
            **make_record(r["source"], f"{r['source_id']}-identity", r["output"], r["output"],
                          dimension="none", severity="safe", kind="identity", parent_id=r["source_id"]),
        }  # fmt: skip
        for r in chosen
    ]
    return records + identity, {"candidates": len(candidates), "added": len(identity)}


def _split_groups(records: list[dict[str, Any]], threshold: float | None) -> np.ndarray:
    """A group label per record: same normalised input, identity copy and its pair, near-duplicate inputs."""
    links: list[tuple[int, int]] = []
    first_with_input: dict[str, int] = {}
    index_of_id = {r["source_id"]: i for i, r in enumerate(records)}
    for i, record in enumerate(records):
        key = normalise(record["input"])
        links.append((first_with_input.setdefault(key, i), i))
        if record.get("parent_id") in index_of_id:
            links.append((index_of_id[record["parent_id"]], i))
    if threshold is not None and len(records) > 1:
        links += [(i, j) for i, j, _ in similar_pairs(vectorise([r["input"] for r in records]), None, threshold)]
    return connected_groups(len(records), links)


def split_corpus(
    records: list[dict[str, Any]],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    near_duplicate_threshold: float | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Seeded splits, stratified by source and bias dimension, that never separate related records.

    Records sharing a (normalised) input, an identity copy and the pair it came from, and (with a
    threshold) records with near-duplicate inputs form one group, and a group goes to one split:
    ParaDetox has up to three rewrites per toxic sentence, and the same input in train and test would
    leak the answer. A group's stratum is the (source, dimension) of its first record; within each
    stratum the groups are shuffled with the seed and the first ``test_fraction`` go to test, the next
    ``val_fraction`` to validation (by position, so a stratum of one group goes to train).
    """
    labels = _split_groups(records, near_duplicate_threshold)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels.tolist()):
        members.setdefault(label, []).append(index)
    strata: dict[tuple[str, str], list[int]] = {}
    for label, indices in members.items():
        first = records[indices[0]]
        strata.setdefault((first["source"], first["dimension"]), []).append(label)
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "validation": [], "test": []}
    for stratum in sorted(strata):
        groups = sorted(strata[stratum], key=lambda g: members[g][0])
        random.Random(f"{seed}-split-{stratum[0]}-{stratum[1]}").shuffle(groups)
        for position, label in enumerate(groups):
            share = (position + 0.5) / len(groups)
            split = "test" if share < test_fraction else "validation" if share < test_fraction + val_fraction else "train"
            splits[split].extend(records[i] for i in members[label])
    for split in splits.values():
        random.Random(seed).shuffle(split)
    return splits


def cross_split_near_duplicates(
    splits: dict[str, list[dict[str, Any]]], threshold: float
) -> dict[str, list[int]]:
    """Per held-out split, the indices of records whose input near-duplicates a training input."""
    found: dict[str, list[int]] = {}
    train_inputs = [r["input"] for r in splits["train"]]
    for name in ("validation", "test"):
        texts = [r["input"] for r in splits[name]]
        found[name] = sorted(near_duplicates_across(texts, train_inputs, threshold))
    return found


def load_evaluation_texts(data: DataDir) -> dict[str, list[str]]:
    """Every text of the evaluation sets, which no corpus record may near-duplicate (leakage check).

    ToxiGen: the 940 annotated statements and the statements of the prompt and demonstration files;
    StereoSet: contexts and all three candidate sentences; CrowS-Pairs: both sentences; BOLD: prompts.
    """
    texts: dict[str, list[str]] = {}
    texts["toxigen_annotated"] = load_toxigen_annotated(data)["biased_text"].tolist()
    texts["toxigen_prompts"] = [s.text for s in toxigen_statements(data)]
    texts["stereoset"] = [
        item[key].replace("BLANK", "").strip()
        for item in load_stereoset(data)
        for key in ("context", "stereotype", "anti-stereotype", "unrelated")
    ]
    texts["crows_pairs"] = [clean(pair[key]) for pair in load_crows_pairs(data) for key in ("sent_more", "sent_less")]
    texts["bold"] = [
        clean(prompt)
        for domain in BOLD_DOMAINS
        for pages in load_bold_prompts(data, domain).values()
        for prompts in pages.values()
        for prompt in prompts
    ]
    return {name: [t for t in values if t] for name, values in texts.items()}


def leaked_texts(texts: list[str], evaluation: dict[str, list[str]], threshold: float) -> dict[str, str]:
    """The texts (of ``texts``) that near-duplicate an evaluation text -> that evaluation set's name.

    Distinct texts are compared once, and an exact normalised match counts even if TF-IDF pruning
    were to miss it.
    """
    reference = [(name, text) for name, values in evaluation.items() for text in values]
    reference_keys = {normalise(text): name for name, text in reference}
    distinct = list(dict.fromkeys(texts))
    hits = near_duplicates_across(distinct, [t for _, t in reference], threshold)
    found = {distinct[i]: reference[j][0] for i, (j, _) in hits.items()}
    for text in distinct:
        if normalise(text) in reference_keys:
            found.setdefault(text, reference_keys[normalise(text)])
    return found


def leakage_check(
    records: list[dict[str, Any]], evaluation: dict[str, list[str]], scanned: set[str], flagged: set[str]
) -> dict[str, int]:
    """The final check on saved records, reusing the near-duplicate scan instead of repeating it.

    ``near_duplicate``: records with a text the scan flagged; ``unscanned``: records with a text the
    scan never saw (it must see every text, so this is counted as leakage too); ``exact``: an
    independent exact match of normalised texts against every evaluation text.
    """
    keys = {normalise(t) for values in evaluation.values() for t in values}
    sides = [(r["input"], r["output"]) for r in records]
    near = sum(any(t in flagged for t in pair) for pair in sides)
    unscanned = sum(any(t not in scanned for t in pair) for pair in sides)
    exact = sum(any(normalise(t) in keys for t in pair) for pair in sides)
    return {"near_duplicate": near, "unscanned": unscanned, "exact": exact, "remaining": near + unscanned + exact}
