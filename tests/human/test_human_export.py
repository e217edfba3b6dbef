"""``srllm human export`` / ``import`` on a synthetic run of the real schema: blinding, stratification,
overlap, determinism, the round trip through the CLI, and each kind of bad sheet as a named error."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from human_fixtures import SYSTEMS, fill_sheet, synthetic_run

from srllm.cli import main
from srllm.human.export import ExportOptions, export
from srllm.human.importer import import_ratings
from srllm.human.ratings import RatingError


@pytest.fixture()
def exported(tmp_path: Path) -> tuple[Path, Path, dict]:
    run = synthetic_run(tmp_path)
    protocol = export(run, tmp_path / "handout", ExportOptions(items=14, raters=4, per_output=2, seed=3))
    return run, tmp_path / "handout", protocol


def test_export_is_stratified_blinded_and_overlapping(exported: tuple[Path, Path, dict]) -> None:
    run, handout, protocol = exported
    key = pd.read_csv(run / "human" / "key.csv", dtype=str, keep_default_na=False)
    assert set(key["task"]) == {"inhouse", "toxigen_rewrite"}  # never the likelihood or continuation task
    # Every system rated on the same inputs.
    inputs = key.groupby("system")["source_item_id"].apply(frozenset)
    assert set(inputs.index) == set(SYSTEMS) and len(set(inputs)) == 1 and len(inputs.iloc[0]) == 14
    # Stratified: 7 inputs per task, and within a task its groups (3 and 4 of them) within one of each other.
    strata = pd.Series(protocol["strata"])
    per_task = strata.groupby(strata.index.str.split(" / ").str[0]).agg(["sum", "min", "max"])
    assert len(strata) == 7 and list(per_task["sum"]) == [7, 7] and ((per_task["max"] - per_task["min"]) <= 1).all()
    # Each output to 2 raters; every pair of the 4 raters shares items; loads balanced.
    assigned = key["raters"].str.split(";")
    assert (assigned.map(len) == 2).all()
    pairs = {tuple(sorted(a)) for a in assigned}
    assert pairs == set(itertools.combinations(protocol["raters"], 2))
    loads = protocol["items_per_rater"].values()
    assert max(loads) - min(loads) <= 2 and sum(loads) == 2 * len(key)
    # Blinded: no sheet or page names a system, and the key is not in the hand-out folder.
    handed = sorted(p for p in handout.rglob("*") if p.is_file())
    assert not any(p.name == "key.csv" for p in handed)
    sheet = pd.read_csv(handout / "sheets" / "rater-01.csv", dtype=str, keep_default_na=False)
    assert "system" not in sheet.columns and list(sheet.columns[:5]) == ["export_id", "rater", "item_id", "input", "output"]
    for path in handed:
        text = path.read_text()
        assert not any(s in text for s in ("srllm-qlora", "lexicon_delete", "base_fewshot")), path
    # Item ids follow the shuffled order: the systems are mixed along the ids.
    first = key.sort_values("item_id").head(8)["system"]
    assert first.nunique() > 1
    page = (handout / "pages" / "rater-01.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    assert all(s in (handout / "instructions.md").read_text() for s in ("toxicity", "meaning", "fluency", "not_rewrite"))


def test_export_is_seeded(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    files = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        export(run, tmp_path / name, ExportOptions(items=6, raters=3, seed=seed), force=True)
        files[name] = (tmp_path / name / "sheets" / "rater-02.csv").read_text()
    assert files["a"] == files["b"] and files["a"] != files["c"]


def test_export_refuses_a_design_without_overlap_and_a_second_export(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    with pytest.raises(ValueError, match="cannot give every pair"):
        export(run, tmp_path / "x", ExportOptions(items=1, raters=6, per_output=2))  # 4 outputs, 15 pairs
    export(run, tmp_path / "y", ExportOptions(items=4, raters=2))
    with pytest.raises(FileExistsError, match="--force"):
        export(run, tmp_path / "z", ExportOptions(items=4, raters=2))
    with pytest.raises(ValueError, match="beside the unblinding key"):
        export(run, run / "human" / "out", ExportOptions(items=4, raters=2), force=True)


def test_cli_round_trip_and_partial_sheets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from srllm.report.claims import human_claim

    run = synthetic_run(tmp_path)
    assert human_claim({}).verdict == "not tested in this run"
    assert main(["human", "export", str(run), "--items", "10", "--raters", "3", "--out", str(tmp_path / "out"), "--seed", "1"]) == 0
    returned = tmp_path / "returned"
    shutil.copytree(tmp_path / "out" / "sheets", returned)
    for i, path in enumerate(sorted(returned.glob("*.csv"))):
        fill_sheet(path, seed=i, blank_every=5 if path.name == "rater-03.csv" else 0)
    assert main(["human", "import", str(run), str(returned), "--resamples", "100"]) == 0
    out = capsys.readouterr().out
    assert "partial: rater-03" in out and "Fleiss' kappa" in out
    metrics = json.loads((run / "metrics.json").read_text())["human"]
    assert metrics["partial"] == ["rater-03"]
    assert metrics["raters"]["rater-03"]["not_rated"] == 8 and metrics["raters"]["rater-01"]["complete"]
    ratings = pd.read_csv(run / "human" / "ratings.csv", dtype={"source_item_id": str})
    assert len(ratings) == 4 * (2 * 40 + 32) and set(ratings["system"]) == set(SYSTEMS)
    assert metrics["paired"]["family"]["reference_system"] == "srllm-qlora"
    assert metrics["paired"]["family"]["size"] == 3 * 4  # 3 other systems x 4 scales
    analysis = json.loads((run / "human" / "analysis.json").read_text())
    assert {"toxicity", "similarity", "perplexity", "refusal"} <= {m for by in analysis["correlations"].values() for m in by}
    assert human_claim({"human": metrics}).verdict in ("reproduced", "not reproduced")
    # The book page of these ratings, with the toxicity metric against the toxicity scale.
    from srllm.human.report import human_page

    page = human_page(run, tmp_path / "stage")
    assert "srllm-qlora" in page and (tmp_path / "stage" / "human_files" / "metrics.png").is_file()
    # The run's metrics.json keeps human.* when the runner rewrites it after a step.
    from srllm.pipeline.runner import collect_metrics

    assert collect_metrics(run)["human"] == metrics
    # A missing export is a one-line error, not a traceback.
    assert main(["human", "import", str(tmp_path / "nowhere"), str(returned)]) == 1
    assert "human export" in capsys.readouterr().err


def _sheets(exported: tuple[Path, Path, dict], tmp_path: Path) -> Path:
    returned = tmp_path / "returned"
    shutil.copytree(exported[1] / "sheets", returned)
    for i, path in enumerate(sorted(returned.glob("*.csv"))):
        fill_sheet(path, seed=i)
    return returned


def _edit(path: Path, change) -> None:
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False)
    sheet = change(sheet)
    sheet.to_csv(path, index=False)


BAD_SHEETS = {
    "unknown item id": (lambda s: s.assign(item_id=s["item_id"].where(s.index != 2, "i9999")), r"row 4: unknown item id 'i9999'"),
    "value off the scale": (lambda s: s.assign(toxicity=s["toxicity"].where(s.index != 0, "3")), r"row 2: value '3' is not on the toxicity scale"),
    "value not a number": (lambda s: s.assign(fluency=s["fluency"].where(s.index != 1, "good")), r"row 3: value 'good' is not on the fluency scale"),
    "a flag off its scale": (lambda s: s.assign(not_rewrite=s["not_rewrite"].where(s.index != 1, "2")), r"row 3: value '2' is not on the not_rewrite scale"),
    "duplicate rating": (lambda s: pd.concat([s, s.iloc[[1]]], ignore_index=True), r"appears twice \(first in row 3\)"),
    "rows removed": (lambda s: s.drop(index=[0, 1]), r"2 of rater-01's items are missing from the sheet"),
    "unknown rater": (lambda s: s.assign(rater="rater-99"), r"row 2: unknown rater 'rater-99'"),
    "two raters in one sheet": (lambda s: s.assign(rater=s["rater"].where(s.index != 3, "rater-02")), r"row 5: rater 'rater-02' in a sheet of 'rater-01'"),
    "another export": (lambda s: s.assign(export_id="000000000000"), r"row 2: export_id '000000000000' is not this run's export"),
    "text changed": (lambda s: s.assign(output=s["output"].where(s.index != 2, "something else")), r"row 4: the output text of item"),
    "missing column": (lambda s: s.drop(columns=["meaning"]), r"missing column\(s\) \['meaning'\]"),
}


@pytest.mark.parametrize("kind", sorted(BAD_SHEETS))
def test_bad_sheet_is_a_named_error(kind: str, exported: tuple[Path, Path, dict], tmp_path: Path) -> None:
    returned = _sheets(exported, tmp_path)
    change, message = BAD_SHEETS[kind]
    _edit(returned / "rater-01.csv", change)
    with pytest.raises(RatingError, match=message) as error:
        import_ratings(exported[0], returned, resamples=10)
    assert "rater-01.csv" in str(error.value)
    assert not (exported[0] / "human" / "ratings.csv").exists()  # nothing written from a bad set


def test_bad_sheet_sets_are_named_errors(exported: tuple[Path, Path, dict], tmp_path: Path) -> None:
    run = exported[0]
    returned = _sheets(exported, tmp_path)
    # An item that was given to another rater.
    key = pd.read_csv(run / "human" / "key.csv", dtype=str, keep_default_na=False)
    foreign = key[~key["raters"].str.contains("rater-01")].iloc[0]
    broken = tmp_path / "foreign"
    shutil.copytree(returned, broken)
    _edit(broken / "rater-01.csv", lambda s: pd.concat([s, pd.DataFrame([{**s.iloc[0].to_dict(), "item_id": foreign.item_id,
                                                                          "input": foreign.input, "output": foreign.output}])]))  # fmt: skip
    with pytest.raises(RatingError, match=rf"item '{foreign.item_id}' was not given to rater-01"):
        import_ratings(run, broken, resamples=10)
    # One rater's sheet twice.
    shutil.copy(returned / "rater-02.csv", returned / "rater-02 (1).csv")
    with pytest.raises(RatingError, match=r"a second sheet of rater-02"):
        import_ratings(run, returned, resamples=10)
    # An empty file, and a folder without sheets.
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RatingError, match="no CSV rating sheets found"):
        import_ratings(run, empty, resamples=10)
    (empty / "rater-01.csv").write_text("")
    with pytest.raises(RatingError, match=r"rater-01.csv: not a readable CSV rating sheet"):
        import_ratings(run, empty, resamples=10)


def test_a_rater_without_a_sheet_is_reported_not_dropped(exported: tuple[Path, Path, dict], tmp_path: Path) -> None:
    returned = _sheets(exported, tmp_path)
    (returned / "rater-04.csv").unlink()
    summary = import_ratings(exported[0], returned, resamples=10)
    assert summary["partial"] == ["rater-04"]
    assert summary["raters"]["rater-04"] == {"assigned": exported[2]["items_per_rater"]["rater-04"], "fully_rated": 0,
                                             "partly_rated": 0, "not_rated": exported[2]["items_per_rater"]["rater-04"],
                                             "complete": False, "sheet": None}  # fmt: skip


def test_further_training_seeds_are_left_out_by_default(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path)
    table = pd.read_parquet(run / "evaluate" / "per_example.parquet")
    seed = table[table["system"] == "srllm-qlora"].assign(system="srllm-qlora-seed1")
    pd.concat([table, seed], ignore_index=True).to_parquet(run / "evaluate" / "per_example.parquet", index=False)
    assert export(run, tmp_path / "a", ExportOptions(items=4, raters=2))["systems"] == list(SYSTEMS)
    chosen = export(run, tmp_path / "b", ExportOptions(items=4, raters=2, systems=("srllm-qlora", "srllm-qlora-seed1")), force=True)
    assert chosen["systems"] == ["srllm-qlora", "srllm-qlora-seed1"]
