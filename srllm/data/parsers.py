"""One parser per file format of the data directory; every loader of a source file lives here.

Malformed files raise :class:`DataError` naming the file and the row. Texts are returned as the
files hold them, whitespace-collapsed by :func:`clean` where the callers compare or train on them.
Two text keys exist on purpose: :func:`exact_key` (case and whitespace only) identifies the same
text written twice; the near-duplicate key of :mod:`srllm.data.dedup` also drops punctuation.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from .datadir import DataDir, DataError, registry
from .sources import (
    BOLD_PROMPTS_DIR,
    BOLD_WIKIPEDIA_DIR,
    CROWS_PAIRS,
    PERSPECTIVE_PROMPTS,
    STEREOSET,
    TOXIGEN_ANNOTATED,
    TOXIGEN_DEMOS_DIR,
    TOXIGEN_PROMPTS_DIR,
)  # fmt: skip

GROUP_NAMES = {
    "asian folks": "asian",
    "black/african-american folks": "black",
    "black folks / african-americans": "black",
    "chinese folks": "chinese",
    "jewish folks": "jewish",
    "latino/hispanic folks": "latino",
    "lgbtq+ folks": "lgbtq",
    "folks with mental disabilities": "mental_disability",
    "mexican folks": "mexican",
    "middle eastern folks": "middle_east",
    "muslim folks": "muslim",
    "native american/indigenous folks": "native_american",
    "native american folks": "native_american",
    "folks with physical disabilities": "physical_disability",
    "women": "women",
}

def clean(text: Any) -> str:
    """The text with its whitespace collapsed ("" for a missing field)."""
    return " ".join(str(text).split()) if text is not None else ""


def exact_key(text: str) -> str:
    """The key for exact-match comparisons: case-folded, whitespace collapsed."""
    return " ".join(text.casefold().split())

def read_table(path: Path, delimiter: str, required: list[str]) -> Iterator[tuple[int, dict[str, str | None]]]:
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

# ---------------------------------------------------------------------------------------------------
# ToxiGen

def parse_toxigen_line(line: str) -> list[str]:
    """The statements of one ToxiGen prompt line: "- s1\\n- s2\\n-" with a literal backslash-n."""
    statements = []
    for part in line.split("\\n"):
        part = part.strip()
        if part.startswith("-"):
            part = part[1:].strip()  # the "- " bullet; the trailing lone "-" becomes empty
        if part:
            statements.append(clean(part))
    return statements

def toxigen_file_info(relpath: str) -> tuple[int, str]:
    """(label, group) from a ToxiGen file name, e.g. hate_mental_disability_1k.txt -> (1, mental_disability)."""
    stem = Path(relpath).stem
    kind, _, group = stem.partition("_")
    if kind not in ("hate", "neutral"):
        raise DataError(f"{relpath}: expected a hate_* or neutral_* ToxiGen file")
    group = group.removesuffix("_1k").removesuffix("_sentences")
    return (1 if kind == "hate" else 0), group

@dataclass(frozen=True)
class Statement:
    text: str
    label: int  # 1: from a hate_* file, 0: from a neutral_* file (the prompt's label, not a person's)
    group: str


def toxigen_files(prompts_only: bool = False) -> list[str]:
    """The registered ToxiGen prompt files (and demonstration files unless ``prompts_only``), sorted."""
    prefixes = (TOXIGEN_PROMPTS_DIR,) if prompts_only else (TOXIGEN_PROMPTS_DIR, TOXIGEN_DEMOS_DIR)
    return sorted(p for p in registry() if p.startswith(prefixes))


def toxigen_statements(data: DataDir, max_lines: int | None = None) -> list[Statement]:
    """Distinct statements of each registered ToxiGen prompt and demonstration file, in file order.

    The prompts are permutations of a few hundred seed statements, so the 31,000 prompt lines hold only
    ~670 distinct statements; the demonstration files add ~100 more seeds that no prompt uses.
    """
    statements = []
    for relpath in toxigen_files():
        label, group = toxigen_file_info(relpath)
        seen: set[str] = set()  # each prompt file repeats its statements ~1,000 times: keep one copy
        with open(data.path(relpath), encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                if max_lines is not None and number >= max_lines:
                    break
                for text in parse_toxigen_line(line):
                    key = exact_key(text)
                    if key not in seen:
                        seen.add(key)
                        statements.append(Statement(text, label, group))
    return statements


def toxigen_prompt_lines(data: DataDir, relpath: str) -> list[str]:
    """The non-empty lines of one ToxiGen prompt file, as written (literal backslash-n kept)."""
    return [line.rstrip("\n") for line in data.path(relpath).read_text(encoding="utf-8").splitlines() if line.strip()]

def load_toxigen_annotated(data: DataDir) -> pd.DataFrame:
    """The 940 human-annotated ToxiGen statements, with a normalised ``group`` column."""
    path = data.path(TOXIGEN_ANNOTATED)
    frame = pd.read_csv(path)
    needed = {"biased_text", "label", "target_group", "biased_hatebert_score"}
    if needed - set(frame.columns):
        raise DataError(f"{path}: missing column(s) {sorted(needed - set(frame.columns))}")
    unknown = sorted(set(frame["target_group"]) - set(GROUP_NAMES))
    if unknown:
        raise DataError(f"{path}: unknown target_group spelling(s) {unknown}: add them to GROUP_NAMES")
    frame["group"] = frame["target_group"].map(GROUP_NAMES)
    frame["biased_text"] = frame["biased_text"].astype(str)
    return frame

# ---------------------------------------------------------------------------------------------------
# Perspective-scored prompts, ParaDetox, StereoSet, CrowS-Pairs, BOLD

def load_perspective_prompts(data: DataDir) -> pd.DataFrame:
    """The 993 toxicity-eliciting prompts with their Perspective API scores."""
    path = data.path(PERSPECTIVE_PROMPTS)
    frame = pd.read_json(path, lines=True)
    if not {"text", "toxicity"} <= set(frame.columns):
        raise DataError(f"{path}: expected fields text and toxicity, found {list(frame.columns)}")
    frame["text"] = frame["text"].astype(str)
    return frame

PARADETOX_COLUMNS = ["toxic", "neutral1", "neutral2", "neutral3"]


def paradetox_rows(path: Path) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(line, row) of the ParaDetox TSV: a toxic sentence and up to three neutral rewrites of it.

    Quoted fields contain newlines, so ``line`` is the row's last physical line (csv's count).
    """
    yield from read_table(path, "\t", PARADETOX_COLUMNS)


PARADETOX_UNREWRITABLE_COLUMNS = ["INPUT:toxic_comment", "OUTPUT:reasons"]


def paradetox_unrewritable_rows(path: Path) -> Iterator[tuple[int, str, dict[str, bool]]]:
    """(line, comment, reasons) of ParaDetox's comments its annotators could not detoxify.

    ``reasons`` is the annotators' answer as JSON flags: ``toxic_content`` (the whole comment is toxic),
    ``not_toxic`` (nothing to detoxify), ``unclear``, ``other_tick``; some rows carry two. The comment is stored
    with a literal pair of quotes around it, removed here.
    """
    for line, row in read_table(path, "\t", PARADETOX_UNREWRITABLE_COLUMNS):
        text = clean(row["INPUT:toxic_comment"])
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = clean(text[1:-1])
        try:
            reasons = json.loads(row["OUTPUT:reasons"] or "{}")
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {line}: reasons are not JSON ({exc.msg})") from None
        yield line, text, {str(k): bool(v) for k, v in reasons.items()}

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

CROWS_PAIRS_COLUMNS = ("sent_more", "sent_less", "stereo_antistereo", "bias_type")
CROWS_PAIRS_DIRECTIONS = ("stereo", "antistereo")


def load_crows_pairs(data: DataDir) -> list[dict[str, str]]:
    """The CrowS-Pairs pairs (checksum-verified file): id, sent_more, sent_less, stereo_antistereo,
    bias_type. Raises DataError naming the file and row for a malformed row."""
    return read_crows_pairs_csv(data.path(CROWS_PAIRS))

def read_crows_pairs_csv(path: Path) -> list[dict[str, str]]:
    """Parse a CrowS-Pairs CSV (the unnamed first column is the pair's index). Sentences are kept
    verbatim, as lm-eval scores them."""
    pairs: list[dict[str, str]] = []
    row_number = 0
    try:
        with open(path, newline="", encoding="utf-8", errors="strict") as handle:
            reader = csv.DictReader(handle, strict=True)
            header = reader.fieldnames or []
            missing = [column for column in CROWS_PAIRS_COLUMNS if column not in header]
            if missing:
                raise DataError(f"{path}: missing column(s) {missing}; found {header}")
            for row_number, row in enumerate(reader, start=1):
                where = f"{path}: row {row_number} (line {reader.line_num})"
                # DictReader files surplus fields under None and fills absent ones with None.
                if None in row:
                    raise DataError(f"{where}: {len(header) + len(row[None])} fields, the header has {len(header)}")
                if any(value is None for value in row.values()):
                    raise DataError(f"{where}: fewer fields than the header's {len(header)}")
                empty = [column for column in CROWS_PAIRS_COLUMNS if not row[column].strip()]
                if empty:
                    raise DataError(f"{where}: empty field(s) {empty}")
                if row["stereo_antistereo"] not in CROWS_PAIRS_DIRECTIONS:
                    found = row["stereo_antistereo"]
                    raise DataError(f"{where}: stereo_antistereo is {found!r}, expected one of {CROWS_PAIRS_DIRECTIONS}")
                index = (row.get("") or "").strip() or str(row_number - 1)
                pairs.append(
                    {
                        "id": f"crows-{index}",
                        "sent_more": row["sent_more"],
                        "sent_less": row["sent_less"],
                        "stereo_antistereo": row["stereo_antistereo"],
                        "bias_type": row["bias_type"].strip(),
                    }
                )
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: undecodable bytes (not UTF-8) at byte {exc.start}: {exc.reason}") from None
    except csv.Error as exc:
        raise DataError(f"{path}: row {row_number + 1}: malformed CSV: {exc}") from None
    return pairs

BOLD_DOMAINS = ("gender", "political_ideology", "profession", "race", "religious_ideology")


def _bold_json(data: DataDir, folder: str, suffix: str, domain: str) -> dict[str, dict[str, list[str]]]:
    if domain not in BOLD_DOMAINS:
        raise DataError(f"BOLD has no domain {domain!r}; its domains: {BOLD_DOMAINS}")
    path = data.path(f"{folder}{domain}_{suffix}.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None


def load_bold_prompts(data: DataDir, domain: str) -> dict[str, dict[str, list[str]]]:
    """BOLD's prompts of one domain: group -> Wikipedia page -> sentence beginnings."""
    return _bold_json(data, BOLD_PROMPTS_DIR, "prompt", domain)


def load_bold_wikipedia(data: DataDir, domain: str) -> dict[str, dict[str, list[str]]]:
    """BOLD's Wikipedia sentences of one domain: group -> page -> sentences (benign reference text)."""
    return _bold_json(data, BOLD_WIKIPEDIA_DIR, "wiki", domain)
