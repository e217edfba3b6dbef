"""Annotation, agreement, Fleiss' kappa and the group lexicon."""

from __future__ import annotations

import json

import numpy as np
import pytest

from srllm.corpus.annotate import SCHEMA, agreement, annotate_texts, attach_annotations, fleiss_kappa
from srllm.corpus.build import make_record
from srllm.data.datadir import DataDir
from srllm.data.lexicon import EXCLUDED, group_dimension, group_terms, groups_mentioned


def test_fleiss_kappa_textbook_example() -> None:
    # Fleiss (1971) as tabulated on Wikipedia's "Fleiss' kappa": 10 subjects, 14 raters, 5 categories.
    table = np.array([
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ])  # fmt: skip
    assert fleiss_kappa(table) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa(np.array([[3, 0], [0, 3], [3, 0]])) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        fleiss_kappa(np.array([[1, 1], [3, 0]]))


def test_lexicon_whole_word_case_insensitive() -> None:
    assert groups_mentioned("Muslims and JEWS alike") == ["jewish", "muslim"]
    assert groups_mentioned("the LGBTQ+ community and african americans") == ["black", "lgbtq"]
    assert groups_mentioned("a mandate on womenswear, he said") == []  # no partial words, no pronouns
    assert groups_mentioned("an old-fashioned girl") == ["women"]
    terms = group_terms()
    assert "women" in terms["women"] and group_dimension()["women"] == "gender"
    every = [t for values in terms.values() for t in values]
    assert len(every) == len(set(every)), "a term belongs to one group"


def test_lexicon_covers_every_source_group(data_dir: DataDir) -> None:
    """Each ToxiGen group, BOLD group and StereoSet term is a group/term of the lexicon or excluded on purpose."""
    from srllm.corpus.build import load_stereoset
    from srllm.data.datadir import registry
    from srllm.data.parsers import toxigen_file_info

    terms = {t for values in group_terms().values() for t in values}
    groups = set(group_terms())
    toxigen = {toxigen_file_info(p)[1] for p in registry() if p.startswith("toxigen/prompts/")}
    assert toxigen <= groups, toxigen - groups
    bold = set()
    for relpath in (p for p in registry() if p.startswith("bold/prompts/")):
        bold |= set(json.loads(data_dir.path(relpath).read_text()))
    bold_terms = {g.lower().replace("_", " ") for g in bold}
    missing = {g for g in bold if g not in EXCLUDED and g.lower() not in groups
               and not ({g.lower(), g.lower().replace("_", " ")} & terms)}  # fmt: skip
    # BOLD's race groups are named e.g. "Hispanic_and_Latino_Americans": their terms are in the lexicon.
    assert missing <= {"Hispanic_and_Latino_Americans", "American_actors", "American_actresses"}, missing
    assert {"african americans", "asian americans", "european americans"} <= terms & bold_terms
    stereoset = {i["target"].lower() for i in load_stereoset(data_dir)}
    stereoset |= {t.strip().lower() for t in data_dir.path("stereoset/test_terms.txt").read_text().splitlines() if t.strip()}
    uncovered = {t for t in stereoset if t not in terms and t not in EXCLUDED and t not in groups}
    assert not uncovered, sorted(uncovered)


class _FakeJudge:
    """Toxicity = share of words that are 'idiot' (no embedding model needed in unit tests)."""

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.array([0.9 if "idiot" in t else 0.1 for t in texts])


def test_annotations_on_both_sides_and_agreement() -> None:
    records = [
        make_record("paradetox", "p-1", "muslims are idiots, fuck them", "I disagree with some muslims"),
        make_record("paradetox", "p-2", "you idiot", "you are wrong"),
        make_record("srllm", "s-1", "old people are useless idiots", "older people have much to offer"),
    ]
    table = annotate_texts([t for r in records for t in (r["input"], r["output"])], _FakeJudge())
    annotated = attach_annotations(records, table)
    for row in annotated:
        assert set(SCHEMA) <= set(row), set(SCHEMA) - set(row)
    first = annotated[0]
    assert first["input_groups"] == ["muslim"] and first["input_harm"] is True and first["output_harm"] is False
    assert first["input_profanity"] > 0.5 > first["output_profanity"]
    assert first["input_sentiment"] < 0
    result = agreement(annotated)
    assert result["all_labelled"]["n_texts"] == 6
    assert result["all_labelled"]["kappa_judge_source"] == pytest.approx(1.0)
    assert -1.0 <= result["all_labelled"]["fleiss_judge_profanity_source"] <= 1.0
