"""Malformed rows in every source format: an error naming the file and the row, or a counted skip.

Never a silent drop, never a crash deep inside a library.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import malformed_data_dir

from srllm.corpus.build import PARADETOX, SRLLM_PAIRS, load_paradetox, load_srllm_pairs, load_stereoset
from srllm.data.datadir import DataDir, DataError
from srllm.data.sources import STEREOSET

SRLLM_HEADER = ",biased_text,dimension,biased_words,aspect,label,Done (x),debiased_text\n"
GOOD_SRLLM = '0,Old people are slow,ageism,[],Ageism,Slightly Biased,x,Some people are slow\n'


def test_csv_with_a_broken_quote(tmp_path: Path) -> None:
    data = malformed_data_dir(tmp_path, SRLLM_PAIRS, SRLLM_HEADER + GOOD_SRLLM + '1,"never closed,toxicity,[],x,Highly Biased,x,fine\n')
    with pytest.raises(DataError, match=r"train-500-debiased-evaluation.csv: .*(line|row) \d"):
        load_srllm_pairs(data)


def test_tsv_with_a_missing_column(tmp_path: Path) -> None:
    data = malformed_data_dir(tmp_path, PARADETOX, "toxic\tneutral1\nsome toxic text\ta neutral text\n")
    with pytest.raises(DataError, match=r"paradetox.tsv: missing column"):
        load_paradetox(data)


def test_tsv_row_with_too_few_fields(tmp_path: Path) -> None:
    data = malformed_data_dir(tmp_path, PARADETOX, "toxic\tneutral1\tneutral2\tneutral3\nok\tfine\t\t\nonly toxic here\n")
    with pytest.raises(DataError, match=r"paradetox.tsv: row 3"):
        load_paradetox(data)
    records, report = load_paradetox(data, allow_skip=True)
    assert len(records) == 1 and sum(report.skipped.values()) == 1


def test_json_lines_with_a_truncated_line(tmp_path: Path) -> None:
    good = '{"type": "intrasentence", "target": "t", "bias_type": "race", "context": "c BLANK", "stereotype": "a", "anti-stereotype": "b", "unrelated": "c"}\n'
    data = malformed_data_dir(tmp_path, STEREOSET, good + good[:40] + "\n")
    with pytest.raises(DataError, match=r"stereoset_dev_flat.jsonl: line 2: not valid JSON"):
        load_stereoset(data)


def test_empty_text_is_named_or_counted(tmp_path: Path) -> None:
    data = malformed_data_dir(tmp_path, SRLLM_PAIRS, SRLLM_HEADER + GOOD_SRLLM + "1,,toxicity,[],x,Highly Biased,x,fine\n")
    with pytest.raises(DataError, match=r"row 3: empty biased_text"):
        load_srllm_pairs(data)
    records, report = load_srllm_pairs(data, allow_skip=True)
    assert len(records) == 1 and report.skipped == {"empty biased_text": 1}


def test_text_of_100k_characters_is_named_or_counted(tmp_path: Path) -> None:
    huge = "word " * 20_000
    data = malformed_data_dir(tmp_path, SRLLM_PAIRS, SRLLM_HEADER + GOOD_SRLLM + f"1,{huge},toxicity,[],x,Highly Biased,x,fine\n")
    with pytest.raises(DataError, match=r"row 3: biased_text longer than"):
        load_srllm_pairs(data)
    records, report = load_srllm_pairs(data, allow_skip=True)
    assert len(records) == 1 and sum(report.skipped.values()) == 1


def test_undecodable_bytes(tmp_path: Path) -> None:
    data = malformed_data_dir(tmp_path, SRLLM_PAIRS, (SRLLM_HEADER + GOOD_SRLLM).encode() + b"1,caf\xe9 \xff,toxicity,[],x,Highly Biased,x,ok\n")
    with pytest.raises(DataError, match=r"train-500-debiased-evaluation.csv: undecodable bytes"):
        load_srllm_pairs(data)


def test_a_changed_checksum_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / SRLLM_PAIRS
    path.parent.mkdir(parents=True)
    path.write_text(SRLLM_HEADER + GOOD_SRLLM)
    with pytest.raises(DataError, match=r"checksum mismatch"):
        load_srllm_pairs(DataDir(tmp_path))


def test_crows_pairs_broken_quote(tmp_path: Path) -> None:
    from srllm.data.parsers import read_crows_pairs_csv

    path = tmp_path / "crows_pairs_anonymized.csv"
    path.write_text(',sent_more,sent_less,stereo_antistereo,bias_type\n0,"a b,c d,stereo,race-color\n')
    with pytest.raises(DataError, match=r"crows_pairs_anonymized.csv"):
        read_crows_pairs_csv(path)
