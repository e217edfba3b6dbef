"""``srllm export``: the run's tables as CSV and LaTeX, its figures as PNG and SVG, the numbers of metrics.json."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from srllm import cli
from srllm.core.io import read_json


@pytest.mark.slow
def test_export_writes_tables_and_figures_from_the_run(smoke_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert cli.main(["export", str(smoke_run), "--out", str(out)]) == 0
    for name in ("results", "comparisons", "claims", "metric_validation"):
        assert (out / f"{name}.csv").is_file() and "\\begin{longtable}" in (out / f"{name}.tex").read_text()
    for name in ("metric_validation", "inhouse_toxicity_differences"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 0
        assert (out / "figures" / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    results = pd.read_csv(out / "results.csv")
    interval = read_json(smoke_run / "metrics.json")["significance"]["intervals"]["inhouse"]["srllm-qlora"]["j"]
    row = results[(results.test_set == "inhouse") & (results.system == "srllm-qlora") & (results.metric == "j")].iloc[0]
    assert (row["mean"], row["ci_low"], row["ci_high"], row["n"]) == pytest.approx((interval["mean"], interval["low"], interval["high"], interval["n"]))
