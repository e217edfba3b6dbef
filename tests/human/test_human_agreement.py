"""Agreement statistics on hand-checked cases, and the real EMNLP 2021 ratings end to end through
``srllm human import``, checked against statsmodels and krippendorff called directly on the file."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from srllm.human.agreement import agreement
from srllm.human.scales import Scale, scales_by_name

# Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters, 5 categories,
# kappa = 0.210 (0.20993).
FLEISS_COUNTS = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
])  # fmt: skip


def _long_from_counts(counts: np.ndarray) -> pd.DataFrame:
    rows = []
    for item, row in enumerate(counts):
        values = np.repeat(np.arange(len(row)), row)
        rows += [{"item_id": f"s{item}", "rater": f"r{j}", "scale": "five", "value": int(v)} for j, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_fleiss_kappa_of_the_textbook_example() -> None:
    scale = Scale("five", "?", {v: str(v) for v in range(5)}, higher_is_better=True, ordinal=False)
    result = agreement(_long_from_counts(FLEISS_COUNTS), scale, resamples=50)
    # By hand: mean per-subject agreement P-bar against chance agreement P-e from the category shares.
    n = FLEISS_COUNTS.sum(axis=1)[0]
    p_bar = ((FLEISS_COUNTS * (FLEISS_COUNTS - 1)).sum(axis=1) / (n * (n - 1))).mean()
    p_e = ((FLEISS_COUNTS.sum(axis=0) / FLEISS_COUNTS.sum()) ** 2).sum()
    assert result["fleiss_kappa"] == pytest.approx((p_bar - p_e) / (1 - p_e), abs=1e-12)
    assert round(result["fleiss_kappa"], 3) == 0.210
    assert result["fleiss_items"] == 10 and result["fleiss_raters_per_item"] == 14
    assert result["fleiss_ci_low"] < result["fleiss_kappa"] < result["fleiss_ci_high"]


def test_krippendorff_alpha_by_hand_and_pairwise_agreement() -> None:
    # Two raters, four items, nominal: the coincidence matrix has o01 = o10 = 1, n0 = 3, n1 = 5, n = 8,
    # so alpha = 1 - (n - 1) * (o01 + o10) / (2 * n0 * n1) = 1 - 7 * 2 / 30 = 8/15.
    flag = scales_by_name(["not_rewrite"])["not_rewrite"]
    frame = pd.DataFrame({"item_id": ["a", "b", "c", "d"] * 2, "rater": ["x"] * 4 + ["y"] * 4,
                          "scale": "not_rewrite", "value": [0, 0, 1, 1, 0, 1, 1, 1]})  # fmt: skip
    result = agreement(frame, flag, resamples=0)
    assert result["alpha"] == pytest.approx(8 / 15, abs=1e-12) and result["alpha_level"] == "nominal"
    (pair,) = result["pairwise"]
    assert pair["n_items"] == 4 and pair["exact_agreement"] == 0.75
    # Cohen's kappa by hand: p_o = 0.75, p_e = 0.5 * 0.25 + 0.5 * 0.75 = 0.5.
    assert pair["cohen_kappa"] == pytest.approx(0.5)


def test_items_with_another_number_of_ratings_are_left_out_of_fleiss_only() -> None:
    scale = scales_by_name(["toxicity"])["toxicity"]
    frame = _long_from_counts(np.array([[3, 0, 0], [0, 3, 0], [1, 1, 1], [0, 0, 3]])).assign(scale="toxicity")
    extra = pd.DataFrame({"item_id": ["odd", "odd"], "rater": ["r0", "r1"], "scale": "toxicity", "value": [0, 2]})
    result = agreement(pd.concat([frame, extra], ignore_index=True), scale, resamples=0)
    assert result["fleiss_items"] == 4 and result["fleiss_items_left_out"] == 1
    assert result["alpha_items"] == 5


@pytest.fixture(scope="module")
def emnlp_import(tmp_path_factory: pytest.TempPathFactory, data_dir) -> Path:
    from srllm.human.emnlp import emnlp_run
    from srllm.human.importer import import_ratings

    root = tmp_path_factory.mktemp("emnlp")
    emnlp_run(data_dir, root / "emnlp", root / "sheets")
    import_ratings(root / "emnlp", root / "sheets", resamples=300)
    return root / "emnlp"


def test_real_ratings_give_the_published_agreement(emnlp_import: Path, data_root: Path) -> None:
    """The 1,800 EMNLP ratings through the adapter, the sheets and the import give the agreement of the
    published file, computed here straight from the TSV with the libraries' own calls."""
    raw = pd.read_csv(data_root / "detox_emnlp2021" / "manual_markup" / "emnlp_eval_long.tsv", sep="\t", index_col=0)
    raw["output"] = raw["idx"].astype(str) + "/" + raw["source"]
    summary = json.loads((emnlp_import / "human" / "metrics.json").read_text())
    # 1,800 (rewrite, annotator) rows, three scales each.
    assert summary["n_ratings"] == 3 * 1800 and summary["n_items_rated"] == 600 and summary["partial"] == []
    for ours, column in (("toxicity", "style"), ("meaning", "meaning"), ("fluency", "fluency")):
        matrix = raw.pivot(index="labeller", columns="output", values=column)  # raters x rewrites, raw 0 / 0.5 / 1
        alpha = krippendorff.alpha(reliability_data=matrix.to_numpy(), level_of_measurement="ordinal", value_domain=[0.0, 0.5, 1.0])
        triples = np.array([g[column].to_numpy() for _, g in raw.groupby("output")])
        kappa = fleiss_kappa(aggregate_raters(triples)[0], method="fleiss")
        got = summary["agreement_summary"][ours]
        assert got["fleiss_kappa"] == pytest.approx(kappa, abs=1e-9), ours
        assert got["alpha"] == pytest.approx(alpha, abs=1e-9), ours
        assert got["fleiss_ci_low"] < got["fleiss_kappa"] < got["fleiss_ci_high"]
        assert got["alpha_ci_low"] < got["alpha"] < got["alpha_ci_high"]
    # The figures themselves (style = toxicity, meaning, fluency), to three decimals.
    assert {k: round(v["fleiss_kappa"], 3) for k, v in summary["agreement_summary"].items()} == {
        "toxicity": 0.415, "meaning": 0.309, "fluency": 0.522}
    assert {k: round(v["alpha"], 3) for k, v in summary["agreement_summary"].items()} == {
        "toxicity": 0.537, "meaning": 0.430, "fluency": 0.588}


def test_real_ratings_per_system_match_the_published_means(emnlp_import: Path, data_root: Path) -> None:
    """Each system's mean rating equals that of the published per-rewrite means (emnlp_eval_mean.tsv),
    mapped to our scales: toxicity = 2 - 2 x style, meaning = 2 x meaning, fluency = 2 x fluency."""
    means = pd.read_csv(data_root / "detox_emnlp2021" / "manual_markup" / "emnlp_eval_mean.tsv", sep="\t", index_col=0)
    summary = json.loads((emnlp_import / "human" / "metrics.json").read_text())
    for system, rows in means.groupby("source"):
        got = {scale: summary["systems"][scale][system] for scale in ("toxicity", "meaning", "fluency")}
        assert got["toxicity"]["mean"] == pytest.approx((2 - 2 * rows["style"]).mean())
        assert got["meaning"]["mean"] == pytest.approx((2 * rows["meaning"]).mean())
        assert got["fluency"]["mean"] == pytest.approx((2 * rows["fluency"]).mean())
        assert all(r["ci_low"] <= r["mean"] <= r["ci_high"] and r["n_outputs"] == 200 for r in got.values())
    paired = summary["paired"]
    assert paired["family"]["size"] == 6 and paired["family"]["reference_system"] == "paragedi"
    # ParaGeDi is rated far less toxic than mask_infill (the EMNLP paper's finding), with Holm's p.
    assert paired["toxicity"]["mask_infill"]["mean_difference"] < 0 and paired["toxicity"]["mask_infill"]["p_holm"] < 1e-6
    assert all(r["p_holm"] >= r["p_value"] for s, by in paired.items() if s != "family" for r in by.values())
    analysis = json.loads((emnlp_import / "human" / "analysis.json").read_text())
    # The automatic toxicity signal (alt-profanity-check) rises with the human toxicity rating.
    assert analysis["correlations"]["toxicity"]["profanity"]["spearman"] > 0.2
    needed = analysis["power"]["inputs_needed"]
    assert [row["raters_per_output"] for row in needed] == [1, 2, 3, 4, 5]
    # More raters per output make the mean rating more reliable, so fewer inputs are needed.
    column = "medium (d = 0.5)"
    assert all(a[column] >= b[column] for a, b in zip(needed, needed[1:])) and needed[0][column] > needed[-1][column]
