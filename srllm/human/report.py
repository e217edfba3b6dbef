"""The book's "Human evaluation" page, made from ``runs/<name>/human/`` when the run has ratings.

With ratings: agreement per scale (with the paper's 0.78 beside it), a figure of each system's mean
rating with its interval, the paired tests of SR-LLM against the other systems, the automatic
metrics against the ratings (table and scatter), the power calculation, and the protocol. Without:
the protocol, the scales and the commands that produce the ratings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # the book is built without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..core.io import read_json  # noqa: E402
from ..core.markdown import figure  # noqa: E402
from ..core.markdown import fmt as _fmt
from ..core.markdown import interval as _interval
from ..core.markdown import table as _table
from .analysis import AUTO, MATCHED  # noqa: E402
from .protocol import scales_markdown  # noqa: E402
from .scales import SCALES, scale_from_dict  # noqa: E402

PAPER_KAPPA = 0.78  # the paper's Fleiss' kappa for benign generation
FIGURES = "human_files"


def _how_to(run: str) -> str:
    return f"""```bash
.venv/bin/srllm human export runs/{run} --items 40 --raters 3 --out human-{run}   # sheets, pages, instructions
# ... the raters rate their items and send back their CSV files, collected in human-{run}/returned/
.venv/bin/srllm human import runs/{run} human-{run}/returned                          # checked, merged, analysed
.venv/bin/srllm book runs/{run}                                                       # this page, with the results
```
"""


def protocol_section(protocol: dict[str, Any] | None, scales: list[Any]) -> str:
    design = ""
    if protocol:
        design = (
            f"Export `{protocol['export_id']}`: {protocol['n_outputs']} outputs ({protocol['n_inputs']} inputs x "
            f"{len(protocol['systems'])} systems: {', '.join(f'`{s}`' for s in protocol['systems'])}), each rated by "
            f"{protocol['per_output']} of {len(protocol['raters'])} raters. {protocol.get('source', '')}\n\n"
        )
    return f"""## Protocol and scales

{design}The inputs are a seeded sample of the run's rewrite tasks, spread evenly over task x demographic
group, and every system's output for each chosen input is rated, so the systems are compared on the same
inputs. The outputs are shuffled and numbered in that order: a rater sees an item id, the input and one
output, never the system. Each output goes to several raters so that every pair of raters shares items;
the unblinding key stays in the run folder. Each output is rated on these scales:

{scales_markdown(scales)}"""


def system_figure(analysis: dict[str, Any], path: Path) -> None:
    scales = list(analysis["systems"])
    fig, axes = plt.subplots(1, len(scales), figsize=(3.2 * len(scales) + 1, 0.45 * max(len(v) for v in analysis["systems"].values()) + 1.8), squeeze=False)
    for ax, scale in zip(axes[0], scales):
        by_system = analysis["systems"][scale]
        names = list(by_system)
        means = np.array([by_system[s]["mean"] for s in names])
        lows = np.array([by_system[s].get("ci_low", by_system[s]["mean"]) for s in names])
        highs = np.array([by_system[s].get("ci_high", by_system[s]["mean"]) for s in names])
        ax.errorbar(means, range(len(names)), xerr=[means - lows, highs - means], fmt="o", capsize=4)
        ax.set_yticks(range(len(names)), names if ax is axes[0][0] else [""] * len(names))
        better = "higher" if analysis["scales"][scale]["higher_is_better"] else "lower"
        ax.set(title=f"{scale} ({better} is better)", xlabel="mean rating")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def metric_figure(outputs: pd.DataFrame, pairs: list[tuple[str, str]], path: Path) -> None:
    fig, axes = plt.subplots(1, len(pairs), figsize=(4 * len(pairs), 3.6), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (scale, metric) in zip(axes[0], pairs):
        # The automatic column keeps its prefix: the toxicity metric and the toxicity scale share a name.
        data = outputs[[scale, AUTO + metric, "system"]].dropna()
        for i, (system, rows) in enumerate(data.groupby("system")):
            # Mean ratings take few values: a little vertical jitter shows how many outputs share one.
            jitter = rng.uniform(-0.05, 0.05, len(rows))
            ax.scatter(rows[AUTO + metric].astype(float), rows[scale] + jitter, s=10, alpha=0.5, color=f"C{i}", label=system)
        ax.set(xlabel=f"automatic: {metric}", ylabel=f"human: mean {scale} rating", title=f"{scale} vs {metric}")
        if metric == "perplexity":
            ax.set_xscale("log")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _figure(file: str, alt: str, caption: str, name: str) -> str:
    return figure(f"{FIGURES}/{file}", alt, caption, name)


def human_page(run_dir: Path, stage: Path) -> str:
    """The page's Markdown; its figures are written to ``stage/human_files/``."""
    run_dir = Path(run_dir)
    run = run_dir.name
    human = run_dir / "human"
    if not (human / "analysis.json").is_file():
        protocol = read_json(human / "export.json") if (human / "export.json").is_file() else None
        state = (
            f"Run `{run}` was exported for rating (export `{protocol['export_id']}`), but no ratings have been imported yet."
            if protocol else f"Run `{run}` has no human ratings yet."
        )  # fmt: skip
        return f"""# Human evaluation

The paper backs its automatic scores with a human evaluation: annotators rate the outputs, and their
agreement is reported as Fleiss' kappa ({PAPER_KAPPA} for benign generation). {state} The claims table
therefore lists the human-evaluation claim as "not tested in this run".

To produce the ratings (an afternoon for a small team; the rating page works offline in any browser):

{_how_to(run)}
{protocol_section(protocol, [scale_from_dict(s) for s in protocol['scales']] if protocol else list(SCALES))}"""
    analysis, protocol, summary = (read_json(human / n) for n in ("analysis.json", "export.json", "metrics.json"))
    outputs = pd.read_csv(human / "outputs.csv", dtype={"source_item_id": str})
    scales = [scale_from_dict(s) for s in protocol["scales"]]
    figures = stage / FIGURES
    figures.mkdir(parents=True, exist_ok=True)

    agreement = [
        {"scale": name, "Fleiss' kappa": _fmt(a.get("fleiss_kappa")), "95% CI (kappa)": _interval(a.get("fleiss_ci_low"), a.get("fleiss_ci_high")),
         "Krippendorff's alpha": _fmt(a.get("alpha")), "alpha metric": a.get("alpha_level") or "n/a",
         "95% CI (alpha)": _interval(a.get("alpha_ci_low"), a.get("alpha_ci_high")), "items": a["n_items"], "ratings": a["n_ratings"]}
        for name, a in analysis["agreement"].items()
    ]  # fmt: skip
    pairwise = [
        {"scale": name, "raters": f"{p['rater_a']} / {p['rater_b']}", "shared items": p["n_items"],
         "exact agreement": _fmt(p.get("exact_agreement")), "Cohen's kappa": _fmt(p.get("cohen_kappa"))}
        for name, a in analysis["agreement"].items() for p in a["pairwise"]
    ]  # fmt: skip
    per_system = [
        {"scale": scale, "system": f"`{system}`", "mean rating": _fmt(r["mean"]), "95% CI": _interval(r.get("ci_low"), r.get("ci_high")),
         "outputs": r["n_outputs"], "ratings": r["n_ratings"]}
        for scale, by_system in analysis["systems"].items() for system, r in by_system.items()
    ]  # fmt: skip
    system_figure(analysis, figures / "systems.png")
    tests = analysis["paired"]
    reference = tests.get("family", {}).get("reference_system")
    paired_rows = [
        {"scale": scale, "other": f"`{other}`", "mean (reference)": _fmt(r["mean_reference"]), "mean (other)": _fmt(r["mean_other"]),
         "difference": _fmt(r["mean_difference"]), "95% CI": _interval(r["ci_low"], r["ci_high"]), "inputs": r["n"],
         "p (Wilcoxon)": f"{r['p_value']:.2g}", "p (Holm)": f"{r['p_holm']:.2g}", "rank-biserial": _fmt(r["effect_size"])}
        for scale, by_other in tests.items() if scale not in ("family", "note") for other, r in by_other.items()
    ]  # fmt: skip
    correlations = analysis["correlations"]
    corr_rows = [
        {"scale": scale, "automatic metric": f"`{metric}`", "Spearman rho": _fmt(r["spearman"]), "p (rho)": f"{r['spearman_p']:.2g}",
         "Kendall tau": _fmt(r["kendall_tau"]), "outputs": r["n"]}
        for scale, by_metric in correlations.items() if scale != "note" for metric, r in by_metric.items()
    ]  # fmt: skip
    pairs = [(s.name, next(m for m in MATCHED.get(s.name, ()) if m in correlations.get(s.name, {})))
             for s in scales if any(m in correlations.get(s.name, {}) for m in MATCHED.get(s.name, ()))]  # fmt: skip
    power = analysis["power"]
    power_rows = [{k.replace("_", " "): (_fmt(v) if isinstance(v, float) else v) for k, v in row.items()} for row in power["inputs_needed"]]
    partial = summary.get("partial") or []
    partial_note = (
        "Partial sheets: " + "; ".join(f"{r}: {summary['raters'][r]['fully_rated']} of {summary['raters'][r]['assigned']} items fully rated" for r in partial) + "."
        if partial else "Every rater rated every item given to them."
    )  # fmt: skip
    kappa_tox = analysis["agreement"].get("toxicity", {}).get("fleiss_kappa")
    system_caption = _figure("systems.png", "Mean human rating of each system on each scale with 95% bootstrap intervals",
                             "Mean human rating per system and scale, with 95% intervals over outputs and raters.", "fig-human-systems")
    paired_note = (
        "Paired on the same inputs: each output's mean rating, Wilcoxon signed-rank test, paired bootstrap interval of "
        "the difference (reference minus other), Holm-corrected across every scale and system "
        f"({tests.get('family', {}).get('size', 0)} tests)."
    )
    text = f"""# Human evaluation

{summary['n_ratings']} ratings (one per output, rater and scale) of {summary['n_items_rated']} outputs by {len(protocol['raters'])} raters
(export `{protocol['export_id']}`; merged ratings in `runs/{run}/human/ratings.csv`, every number below
in `runs/{run}/human/analysis.json`). {partial_note}

## Agreement between raters

Fleiss' kappa treats the levels as unordered and uses the items with the most common number of ratings;
Krippendorff's alpha uses the order of the levels (ordinal) and every item rated twice or more. Intervals:
95% bootstrap over items. The paper reports Fleiss' kappa {PAPER_KAPPA} for benign generation; here the
toxicity scale has {_fmt(kappa_tox)}.

{_table(agreement)}
```{{dropdown}} Agreement of each pair of raters
{_table(pairwise)}```

## Each system's ratings

The mean rating of each system's outputs (every output weighted equally), with a 95% interval from a
two-stage bootstrap over outputs and the ratings within them.

{system_caption}
{_table(per_system)}
## {('`' + reference + '`') if reference else 'The reference system'} against the other systems

{tests.get('note', paired_note)}

{_table(paired_rows)}
## Automatic metrics against the human ratings

{correlations.get('note', "Rank correlations of each automatic metric with the mean human rating of the same outputs.")}

{_table(corr_rows)}
"""
    if pairs:
        metric_figure(outputs, pairs, figures / "metrics.png")
        text += _figure("metrics.png", "Scatter plots of automatic metrics against the mean human rating of the same outputs",
                        "Each rated output: its automatic metric against its mean human rating (jittered vertically).", "fig-human-metrics")  # fmt: skip
    observed = [{"comparison": name, "Cohen's d": _fmt(o["cohen_d"]), "power with these inputs": _fmt(o["power_now"], 2)}
                for name, o in power.get("observed", {}).items()]  # fmt: skip
    text += f"""
## How many items and raters

Inputs a paired comparison needs for {int(power['power'] * 100)}% power at the Bonferroni level
{power['alpha']} / {power['comparisons'] or 1} = {power['level']:.4f} (the strictest step of Holm's correction), for 1 to 5
raters per output. The paper's effect is Cohen's h of its moderation rates (57% of inputs flagged, 5.9% of
SR-LLM rewrites); rater noise shrinks an effect by the square root of the reliability of the mean rating
(single-rater reliability {power['single_rater_reliability']:.3f}, {power['reliability_source']}, raised by Spearman-Brown).
Code: `srllm/human/analysis.py`.

{_table(power_rows)}
With the {power['n_inputs']} inputs rated here, the smallest effect in the ratings detectable at that level is
d = {_fmt(power['smallest_detectable_effect_in_ratings'], 2)}. The observed effects:

{_table(observed)}
{protocol_section(protocol, scales)}"""
    return text
