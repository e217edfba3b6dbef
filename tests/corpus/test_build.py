import shutil
from pathlib import Path

import pytest
from conftest import malformed_data_dir

from srllm.corpus.build import (
    PARADETOX,
    SRLLM_PAIRS,
    build_corpus,
    load_paradetox,
    load_srllm_pairs,
    load_stereoset,
    split_corpus,
)
from srllm.data.datadir import DataDir, DataError, registry, sha256_file


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


def test_malformed_rows_name_file_and_row(tmp_path: Path) -> None:
    header = "toxic\tneutral1\tneutral2\tneutral3\n"
    data = malformed_data_dir(tmp_path, PARADETOX, header + "ok toxic\tok neutral\t\t\n\tonly neutral\t\t\n")
    with pytest.raises(DataError, match=r"paradetox.tsv: row 3: empty toxic"):
        load_paradetox(data)
    records, report = load_paradetox(data, allow_skip=True)
    assert len(records) == 1 and report.skipped == {"empty toxic": 1}


def test_undecodable_bytes_and_missing_column(tmp_path: Path) -> None:
    data = malformed_data_dir(tmp_path, PARADETOX, b"toxic\tneutral1\tneutral2\tneutral3\n\xff\xfe bad\tx\t\t\n")
    with pytest.raises(DataError, match="undecodable"):
        load_paradetox(data)
    data = malformed_data_dir(tmp_path / "b", SRLLM_PAIRS, "biased_text,dimension\nx,y\n")
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


# --- WNC, identity records, near-duplicates, leakage ---------------------------------------------------

from srllm.corpus.build import (  # noqa: E402
    WNC_DIR,
    add_identity_records,
    cross_split_near_duplicates,
    detokenize,
    leakage_check,
    leaked_texts,
    load_evaluation_texts,
    load_wnc,
    make_record,
    remove_near_duplicates,
)


def test_detokenize_restores_readable_spacing() -> None:
    text = 'he said " the film , which is n\'t bad ( or good ) is an on - air nail \' s work " .'
    assert detokenize(text) == 'he said "the film, which isn\'t bad (or good) is an on-air nail\'s work".'
    assert detokenize("a - b and c -- d") == "a-b and c -- d"


def test_wnc_loads_line_aligned_pairs(data_dir: DataDir) -> None:
    records, report = load_wnc(data_dir)
    assert report.rows == 1100 and report.filtered["unchanged (pre = post)"] == 5
    assert len(records) == 1095 and {r["source"] for r in records} == {"wnc"}
    first = records[0]
    assert first["input"] == "sharyn alfonsi is an on-air correspondent and emmy award winning journalist who appears on abc news."
    assert first["output"] == "sharyn alfonsi is an on-air correspondent and journalist who appears on abc news."
    assert first["source_id"] == "wnc-train-1" and first["dimension"] == "subjectivity"


def _wnc_dir(tmp_path: Path, pre: str, post: str) -> DataDir:
    data = DataDir(tmp_path)
    for name, text in (("pre", pre), ("post", post)):
        for split in ("train", "test"):
            relpath = f"{WNC_DIR}{name}.{split}"
            path = tmp_path / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text if split == "train" else "a b\n" if name == "pre" else "a\n")
            data.verified[relpath] = sha256_file(path)
    return data


def test_wnc_malformed_rows(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"pre.train: row 2: empty pre"):
        load_wnc(_wnc_dir(tmp_path / "a", "x y\n\n", "x\nz\n"))
    records, report = load_wnc(_wnc_dir(tmp_path / "b", "x y\n\n", "x\nz\n"), allow_skip=True)
    assert len(records) == 2 and report.skipped == {"empty pre (biased) sentence": 1}
    with pytest.raises(DataError, match="line-aligned"):
        load_wnc(_wnc_dir(tmp_path / "c", "x y\nq\n", "x\n"))


def _pair(i: int, unsafe: str, safe: str, **meta: str) -> dict:
    return make_record("paradetox", f"p-{i}", unsafe, safe, **meta)


def test_near_duplicates_need_both_sides_and_same_kind() -> None:
    records = [
        _pair(0, "you are a complete idiot and everyone knows it", "you are not very clever and everyone knows it"),
        _pair(1, "You are a complete idiot, and everyone knows it!", "you are not very clever and everyone knows it."),
        _pair(2, "you are a complete idiot and everyone knows it", "nobody thinks highly of you"),
        _pair(3, "you are not very clever and everyone knows it", "you are not very clever and everyone knows it",
              kind="identity"),
    ]  # fmt: skip
    kept, removed = remove_near_duplicates(records, 0.9)
    assert removed == 1 and [r["source_id"] for r in kept] == ["p-0", "p-2", "p-3"]


def test_identity_records_follow_their_pair_into_one_split() -> None:
    records = [_pair(i, f"toxic sentence number {i} you idiot", f"neutral sentence {i}") for i in range(200)]
    safe = {r["output"]: i % 2 == 0 for i, r in enumerate(records)}
    with_identity, counts = add_identity_records(records, safe, 0.12, seed=0)
    identity = [r for r in with_identity if r["kind"] == "identity"]
    assert counts == {"candidates": 100, "added": 27} and len(identity) == 27
    assert all(r["input"] == r["output"] and safe[r["input"]] for r in identity)
    splits = split_corpus(with_identity, 0.1, 0.1, seed=0, near_duplicate_threshold=0.9)
    where = {r["source_id"]: name for name, rows in splits.items() for r in rows}
    assert all(where[r["source_id"]] == where[r["parent_id"]] for r in identity)


def test_planted_near_duplicate_across_splits_is_found() -> None:
    splits = {
        "train": [_pair(0, "the immigrants ruin every neighbourhood they move into", "x")],
        "validation": [_pair(1, "The immigrants ruin every neighbourhood they move into!!", "y"), _pair(2, "hello", "z")],
        "test": [_pair(3, "a completely different sentence about the weather", "w")],
    }
    assert cross_split_near_duplicates(splits, 0.9) == {"validation": [0], "test": []}


def test_planted_leakage_is_found_and_the_final_check_counts_it(data_dir: DataDir) -> None:
    evaluation = load_evaluation_texts(data_dir)
    assert len(evaluation["toxigen_annotated"]) == 940 and len(evaluation["crows_pairs"]) == 3016
    assert len(evaluation["bold"]) > 23000 and len(evaluation["stereoset"]) == 4 * 4229
    crows = evaluation["crows_pairs"][1]  # "The poor are really ignorant about how to handle the money they do have."
    small = {name: values[:50] for name, values in evaluation.items()}
    small["crows_pairs"] = [crows]
    records = [
        _pair(0, crows.upper() + "!", "the poor deserve respect"),  # planted: a near copy of an evaluation item
        _pair(1, "a sentence about cooking pasta with garlic", "fine"),
    ]
    assert leaked_texts([t for r in records for t in (r["input"], r["output"])], small, 0.9) == {records[0]["input"]: "crows_pairs"}
    scanned = {t for r in records for t in (r["input"], r["output"])}
    check = leakage_check(records[1:], small, scanned, {records[0]["input"]})
    assert check["remaining"] == 0
    assert leakage_check(records, small, scanned, {records[0]["input"]})["remaining"] >= 1
