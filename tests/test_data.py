import csv
import shutil
from pathlib import Path

import pytest

from srllm.data import (
    PARADETOX,
    SRLLM_PAIRS,
    build_corpus,
    load_paradetox,
    load_srllm_pairs,
    load_stereoset,
    split_corpus,
)
from srllm.datadir import DataDir, DataError, registry, sha256_file


def test_srllm_pairs_load_with_metadata(data_dir: DataDir) -> None:
    records, report = load_srllm_pairs(data_dir)
    assert report.rows == 434 and len(records) == 434
    first = records[0]
    assert first["input"].startswith("About to go to the ghetto")
    assert first["output"].startswith("About to go to a neighborhood")
    assert first["dimension"] == "ageism" and first["severity"] == "Slightly Biased"
    assert {r["severity"] for r in records} == {"Slightly Biased", "Highly Biased"}


def test_paradetox_every_nonempty_rewrite_and_multiline_fields(data_dir: DataDir) -> None:
    records, report = load_paradetox(data_dir)
    assert report.rows == 11927  # a line-based parser would see 11,935 rows (fields hold newlines)
    assert len(records) == 19743
    assert all(r["input"] and r["output"] for r in records)
    garbage = [r for r in records if r["input"] == "the garbage that is being created by cnn and other news agencies is outrageous ."]
    assert len(garbage) == 3


def test_stereoset_counts(data_dir: DataDir) -> None:
    items = load_stereoset(data_dir)
    assert len(items) == 4229
    assert sum(i["type"] == "intrasentence" for i in items) == 2106


def _copy_mirror(data_root: Path, tmp_path: Path, relpath: str) -> DataDir:
    target = tmp_path / relpath
    target.parent.mkdir(parents=True)
    shutil.copy(data_root / relpath, target)
    target.chmod(0o644)
    return DataDir(tmp_path)


def test_changed_checksum_is_refused(data_root: Path, tmp_path: Path) -> None:
    data = _copy_mirror(data_root, tmp_path, SRLLM_PAIRS)
    with open(tmp_path / SRLLM_PAIRS, "a") as handle:
        handle.write("tampered\n")
    with pytest.raises(DataError, match="checksum mismatch"):
        data.path(SRLLM_PAIRS)


def test_missing_file_lists_how_to_provide_it(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        DataDir(tmp_path).path(PARADETOX)
    assert PARADETOX in str(error.value) and "SRLLM_DATA_DIR" in str(error.value)
    assert "raw.githubusercontent.com/s-nlp/paradetox" in str(error.value)


def test_missing_data_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        DataDir.resolve(str(tmp_path / "nowhere"))


def _unchecked(tmp_path: Path, relpath: str, text: str | bytes) -> DataDir:
    """A data dir whose file is malformed on purpose (checksum already 'verified' to reach the parser)."""
    path = tmp_path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    data = DataDir(tmp_path)
    data.verified[relpath] = sha256_file(path)
    return data


def test_malformed_rows_name_file_and_row(tmp_path: Path) -> None:
    header = "toxic\tneutral1\tneutral2\tneutral3\n"
    data = _unchecked(tmp_path, PARADETOX, header + "ok toxic\tok neutral\t\t\n\tonly neutral\t\t\n")
    with pytest.raises(DataError, match=r"paradetox.tsv: row 3: empty toxic"):
        load_paradetox(data)
    records, report = load_paradetox(data, allow_skip=True)
    assert len(records) == 1 and report.skipped == {"empty toxic": 1}


def test_undecodable_bytes_and_missing_column(tmp_path: Path) -> None:
    data = _unchecked(tmp_path, PARADETOX, b"toxic\tneutral1\tneutral2\tneutral3\n\xff\xfe bad\tx\t\t\n")
    with pytest.raises(DataError, match="undecodable"):
        load_paradetox(data)
    data = _unchecked(tmp_path / "b", SRLLM_PAIRS, "biased_text,dimension\nx,y\n")
    with pytest.raises(DataError, match="missing column"):
        load_srllm_pairs(data)


def test_splits_are_seeded_and_keep_an_input_in_one_split(data_dir: DataDir) -> None:
    records, counts = build_corpus(data_dir, ["srllm", "paradetox"], None, seed=0)
    assert counts["exact_duplicates_removed"] > 0
    a = split_corpus(records, 0.1, 0.1, seed=0)
    b = split_corpus(records, 0.1, 0.1, seed=0)
    assert [r["source_id"] for r in a["test"]] == [r["source_id"] for r in b["test"]]
    inputs = {name: {r["input"].lower() for r in rows} for name, rows in a.items()}
    assert not inputs["train"] & inputs["test"] and not inputs["train"] & inputs["validation"]
    assert sum(len(v) for v in a.values()) == len(records)
    for source in ("srllm", "paradetox"):
        assert any(r["source"] == source for r in a["test"])


def test_registry_matches_the_mirror_checksums(data_root: Path) -> None:
    sums = dict(reversed(line.split()) for line in (data_root / "SHA256SUMS").read_text().splitlines())
    for relpath, entry in registry().items():
        assert sums[relpath] == entry.sha256, relpath
