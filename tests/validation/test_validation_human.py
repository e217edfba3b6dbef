"""srllm.validation.human / emnlp_ratings / thresholds on small hand-made ratings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srllm.core.arrays import cluster_members, cluster_resamples
from srllm.data.datadir import DataError
from srllm.validation import human
from srllm.validation.emnlp_ratings import read_long_ratings, validate_long_ratings
from srllm.validation.thresholds import best_threshold, split_half_threshold

RATERS = ("Ann", "Bob", "Cy")


def long_frame(cells: dict[tuple[int, str], list[tuple[float, float, float]]]) -> pd.DataFrame:
    """Long ratings from {(source id, system): [(style, meaning, fluency) per rater]}."""
    rows = []
    for (idx, system), ratings in cells.items():
        for rater, (style, meaning, fluency) in zip(RATERS, ratings):
            rows.append(
                {
                    "idx": idx,
                    "original": f"toxic {idx}",
                    "rewritten": f"{system} rewrite of {idx}",
                    "source": system,
                    "labeller": rater,
                    "style": style,
                    "meaning": meaning,
                    "fluency": fluency,
                }
            )
    return pd.DataFrame(rows)


SMALL = {
    (1, "a"): [(1, 0.5, 1), (1, 0.5, 1), (0.5, 1, 0)],
    (1, "b"): [(0, 0, 1), (0.5, 0, 1), (0, 1, 1)],
    (2, "a"): [(1, 1, 1), (1, 1, 1), (1, 1, 0.5)],
    (2, "b"): [(0.5, 1, 0), (1, 0, 0), (0, 0.5, 0)],
}


def test_per_rewrite_means_and_majorities() -> None:
    table = human.per_rewrite_ratings(long_frame(SMALL))
    assert list(table["system"]) == ["a", "b", "a", "b"] and list(table["source_id"]) == [1, 1, 2, 2]
    first = table.iloc[0]
    assert first["n_ratings"] == 3
    assert first["style"] == pytest.approx(2.5 / 3) and first["meaning"] == pytest.approx(2 / 3)
    # joint per rater: 0.5, 0.5, 0 -> mean 1/3
    assert first["joint"] == pytest.approx(1 / 3)
    assert bool(first["non_toxic_majority"]) and not bool(first["meaning_majority"]) and bool(first["fluent_majority"])
    assert not bool(first["joint_majority"])
    third = table.iloc[2]  # 2/a: two full yeses on every scale
    assert bool(third["joint_majority"]) and bool(third["fluent_majority"])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: f.drop(columns="meaning"), "missing column"),
        (lambda f: f.assign(style=[0.7] + [1.0] * (len(f) - 1)), "row 2: style = 0.7"),
        (lambda f: f.assign(fluency=[1.0] * 5 + [np.nan] + [1.0] * (len(f) - 6)), "row 7: fluency"),
        (lambda f: f.assign(labeller=["Ann", ""] + list(f["labeller"][2:])), "row 3: a rating with no annotator"),
        (
            lambda f: f.assign(labeller=["Ann"] * 2 + list(f["labeller"][2:])),
            "rows [2, 3]: annotator 'Ann' rated rewrite 1/a twice",
        ),
        (lambda f: f.iloc[[0, 3, 4, 5, 6, 7, 8, 9, 10, 11]], "rewrite 1/a has 1 rating(s)"),
        (lambda f: f.assign(rewritten=["other"] + list(f["rewritten"][1:])), "rewrite 1/a has 2 different texts"),
    ],
)
def test_validator_names_file_and_row(change, message: str) -> None:
    with pytest.raises(DataError, match="^my.tsv") as caught:
        validate_long_ratings(change(long_frame(SMALL)), "my.tsv")
    assert message in str(caught.value)


def test_expected_annotator_without_ratings() -> None:
    with pytest.raises(DataError, match="annotator 'Dee' has no ratings"):
        validate_long_ratings(long_frame(SMALL), "x", annotators=[*RATERS, "Dee"])


def test_read_long_ratings_from_file(tmp_path: Path) -> None:
    path = tmp_path / "ratings.tsv"
    frame = long_frame(SMALL)
    frame.to_csv(path, sep="\t")
    assert len(read_long_ratings(path)) == 12
    frame.loc[4, "meaning"] = 2.0
    frame.to_csv(path, sep="\t")
    with pytest.raises(DataError, match=f"{path}, row 6: meaning = 2.0"):
        read_long_ratings(path)


def test_cluster_resamples_draw_whole_clusters() -> None:
    members = cluster_members(["s2", "s1", "s2", "s1", "s3", "s3"])
    assert [m.tolist() for m in members] == [[1, 3], [0, 2], [4, 5]]
    for rows in cluster_resamples(members, 20, seed=3):
        assert len(rows) == 6
        pairs = {tuple(sorted(rows[i : i + 2].tolist())) for i in range(0, 6, 2)}
        assert pairs <= {(1, 3), (0, 2), (4, 5)}


def test_correlation_hand_case() -> None:
    # ranks (1, 2, 3, 4) vs (1, 2, 4, 3): rho = 1 - 6 * 2 / (4 * 15) = 0.8; tau = (5 - 1) / 6
    result = human.correlation([1, 2, 3, 4], [10, 20, 40, 30], clusters=[1, 2, 3, 4], resamples=200, seed=1)
    assert result["spearman"]["value"] == pytest.approx(0.8)
    assert result["kendall"]["value"] == pytest.approx(2 / 3)
    assert result["n"] == 4 and result["n_clusters"] == 4
    assert -1 <= result["spearman"]["low"] <= 0.8 <= result["spearman"]["high"] <= 1
    assert result == human.correlation([1, 2, 3, 4], [10, 20, 40, 30], [1, 2, 3, 4], resamples=200, seed=1)


def test_correlation_leaves_out_missing_pairs() -> None:
    result = human.correlation([1, None, 3, 4], [1, 2, np.nan, 5], [1, 1, 2, 2], resamples=0, seed=0)
    assert result["n"] == 2 and result["spearman"]["low"] is None


def test_auroc_hand_case_and_orientation() -> None:
    score, binary = [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]  # 3 of 4 positive-negative pairs ordered
    result = human.auroc(score, binary, clusters=[1, 2, 3, 4], resamples=100, seed=0)
    assert result["value"] == pytest.approx(0.75) and result["n_positive"] == 2
    assert human.auroc([-s for s in score], binary, [1, 2, 3, 4], resamples=0)["value"] == pytest.approx(0.25)
    assert human.auroc(score, [1, 1, 1, 1], [1, 2, 3, 4], resamples=0)["value"] is None


def test_system_ranking_hand_case() -> None:
    frame = pd.DataFrame({"system": ["A", "B", "C"] * 2, "auto": [0.9, 0.5, 0.1] * 2, "human": [0.5, 0.8, 0.1] * 2})
    result = human.system_ranking(frame, "auto", "human")
    assert result["auto_order"] == ["A", "B", "C"] and result["human_order"] == ["B", "A", "C"]
    assert result["kendall_tau"] == pytest.approx(1 / 3)  # AB discordant, AC and BC concordant
    assert result["top_agrees"] is False and result["auto_top"] == ["A"]


def test_human_ceiling_hand_case() -> None:
    # meaning (1, 1, 0) and (0, 0, 0): Fleiss P = 2/3, Pe = 5/9 -> kappa = 0.25;
    # Krippendorff: o(0,1) = o(1,0) = 1, n0 = 4, n1 = 2 -> alpha = 1 - 5 * 2 / (2 * 4 * 2) = 0.375
    frame = long_frame({(1, "a"): [(1, 1, 1), (1, 1, 1), (1, 0, 1)], (2, "a"): [(0, 0, 1), (0, 0, 0), (0, 0, 1)]})
    result = human.human_ceiling(frame, resamples=0)
    assert result["fleiss"]["meaning"]["value"] == pytest.approx(0.25)
    assert result["alpha"]["meaning"]["value"] == pytest.approx(0.375)
    assert result["alpha"]["style"]["value"] == pytest.approx(1.0) and result["alpha"]["meaning"]["low"] is None


def test_best_threshold_ties_take_the_smallest() -> None:
    # cuts 0.2 and 0.4 both reach balanced accuracy 0.75
    assert best_threshold(np.array([0.1, 0.2, 0.3, 0.4]), np.array([False, True, False, True])) == pytest.approx(0.2)
    assert best_threshold(np.array([0.1, 0.2]), np.array([True, True])) is None


@pytest.mark.parametrize("higher", [True, False])
def test_split_half_threshold_keeps_the_study_value(higher: bool) -> None:
    score = np.arange(20) / 20 if higher else 1 - np.arange(20) / 20
    binary = np.arange(20) >= 10  # yes from 0.5 up (or, reversed, from 0.5 down)
    result = split_half_threshold(
        score, binary, clusters=np.arange(20), study_value=0.5, seed=4, higher_is_positive=higher
    )
    assert result["study"]["threshold"] == 0.5
    assert result["study"]["half_b"] == {"accuracy": 1.0, "balanced_accuracy": 1.0, "youden_j": 1.0}
    assert result["n_a"] == result["n_b"] == 10 and result["fitted"]["half_a"]["balanced_accuracy"] == 1.0
    fitted = result["fitted"]["threshold"]
    assert (fitted >= 0.5) if higher else (fitted <= 0.5)
    assert result == split_half_threshold(score, binary, np.arange(20), 0.5, seed=4, higher_is_positive=higher)


def test_validate_against_humans_is_json_and_oriented() -> None:
    rng = np.random.default_rng(0)
    cells = {(i, s): [tuple(rng.choice([0.0, 0.5, 1.0], 3)) for _ in RATERS] for i in range(8) for s in ("a", "b", "c")}
    long = long_frame(cells)
    ratings = human.per_rewrite_ratings(long)
    scores = (
        ratings[["source_id", "system"]]
        .assign(
            toxicity=1 - ratings["style"],
            similarity=ratings["meaning"] + 0.01 * np.arange(len(ratings)),
            fluency=ratings["fluency"],
            j=ratings["joint"],
        )
        .sample(frac=1.0, random_state=1)
    )  # row order must not matter: matched on keys
    result = human.validate_against_humans(ratings, scores, long_frame=long, resamples=20, seed=0)
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
    assert result["n_rewrites"] == 24 and result["n_sources"] == 8
    tox = result["metrics"]["toxicity"]
    assert tox["spearman"]["value"] == pytest.approx(1.0)  # -toxicity is the style mean
    assert tox["threshold"]["study"]["threshold"] == 0.5 and tox["threshold"]["rule"].startswith("yes when score <=")
    assert set(result["alpha"]) == {"style", "meaning", "fluency"}
    assert set(result["metrics"]["j"]) >= {"spearman", "kendall", "auroc", "ranking", "threshold"}


def test_validate_against_humans_refuses_unscored_rewrites() -> None:
    ratings = human.per_rewrite_ratings(long_frame(SMALL))
    scores = ratings[["source_id", "system"]].iloc[:3].assign(toxicity=0.1)
    with pytest.raises(ValueError, match="1 rated rewrite"):
        human.validate_against_humans(ratings, scores, resamples=0)


DATA = Path(os.environ.get("SRLLM_DATA_DIR") or Path(__file__).resolve().parents[2].parent / "shared" / "data")


@pytest.mark.skipif(not (DATA / "detox_emnlp2021/manual_markup/emnlp_eval_long.tsv").is_file(), reason="no data mirror")
def test_real_emnlp_ratings() -> None:
    from srllm.data.datadir import DataDir
    from srllm.validation.emnlp_ratings import load_long_ratings

    long = load_long_ratings(DataDir(DATA), annotators=["Anton", "Darina", "David", "Nikolay", "Varvara"])
    ratings = human.per_rewrite_ratings(long)
    assert len(ratings) == 600 and ratings["source_id"].nunique() == 200 and set(ratings["n_ratings"]) == {3}
    published = pd.read_csv(DATA / "detox_emnlp2021/manual_markup/emnlp_eval_mean.tsv", sep="\t")
    merged = ratings.merge(
        published, left_on=["source_id", "system"], right_on=["idx", "source"], suffixes=("", "_pub")
    )
    assert len(merged) == 600
    for scale in ("style", "meaning", "fluency"):
        assert np.allclose(merged[scale], merged[f"{scale}_pub"])
