"""``srllm human export``: a seeded, stratified, blinded sample of a run's rewrites for human rating.

What is sampled: ``items`` inputs of the run's rewrite tasks, among those every chosen system
rewrote, stratified by task and demographic group: the tasks take turns, and within a task its
groups take turns (each shuffled with the seed), so a large task or group does not crowd out a
small one. Each chosen
input is shown once with each system's output, so every system is rated on the same inputs and
the systems can be compared pair by pair.

Blinding: the rating items are shuffled and numbered in that order, so an item id says nothing
about the system; raters see an item id, the input and one output. The system behind each item
(the unblinding key) goes to ``runs/<name>/human/key.csv``, beside ``export.json`` (the protocol:
seed, options, scales, assignment), never into the folder handed to the raters.

Assignment: each output goes to ``per_output`` of the ``raters`` raters (all of them by default).
With fewer, the outputs cycle through every subset of that size in a seeded order, so the load is
balanced and every pair of raters shares items; the export refuses a design where some pair would
not overlap (agreement between them could not be measured).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import SEED_SUFFIX, reference_system
from ..core.io import read_json, write_json, write_text
from ..data.datadir import sha256_file
from .page import render_page
from .protocol import instructions, team_readme
from .scales import SCALES, Scale, scale_to_dict, scales_by_name

SHEET_TEXT_COLUMNS = ("export_id", "rater", "item_id", "input", "output")
KEY_COLUMNS = ("item_id", "task", "source_item_id", "group", "system", "input", "output", "raters")


@dataclass(frozen=True)
class ExportOptions:
    """How to sample and assign; every field is a ``srllm human export`` option."""

    items: int = field(default=40, metadata={"help": "inputs to sample; each is rated once per system's output"})
    raters: int = field(default=3, metadata={"help": "raters in the panel (one sheet and one page each)"})
    per_output: int | None = field(default=None, metadata={"help": "raters per output (default: every rater; at least 2)"})
    seed: int = field(default=0, metadata={"help": "seed of the sample, the shuffle and the assignment"})
    systems: tuple[str, ...] | None = field(
        default=None, metadata={"help": "systems to rate (default: every system of the rewrite tasks but further training seeds)"}
    )
    tasks: tuple[str, ...] | None = field(default=None, metadata={"help": "rewrite tasks to sample from (default: all of the run's)"})
    scales: tuple[str, ...] = field(default=tuple(s.name for s in SCALES), metadata={"help": "rating scales"})


def rewrite_rows(run_dir: Path) -> pd.DataFrame:
    """The per-example rows of the run's rewrite tasks (the evaluate step's task kinds say which)."""
    table, metrics = run_dir / "evaluate" / "per_example.parquet", run_dir / "evaluate" / "metrics.json"
    for path in (table, metrics):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: the run has not completed the evaluate step")
    kinds = {task: info["kind"] for task, info in read_json(metrics).get("tasks", {}).items()}
    frame = pd.read_parquet(table)
    rewrite = [t for t, kind in kinds.items() if kind == "rewrite"]
    return frame[frame["task"].isin(rewrite)].reset_index(drop=True)


def _round_robin(queues: list[list[Any]]) -> list[Any]:
    """Take one from each queue in turn until all are empty."""
    taken: list[Any] = []
    queues = [list(q) for q in queues]
    while any(queues):
        for queue in queues:
            if queue:
                taken.append(queue.pop(0))
    return taken


def stratified_inputs(frame: pd.DataFrame, systems: list[str], n: int, seed: int) -> pd.DataFrame:
    """``n`` (task, item_id, group) inputs that every system rewrote: the tasks in turn, and within a
    task its demographic groups in turn (each shuffled with the seed), so each task gets an equal share
    and each group of a task an equal share of it, as far as the groups have items."""
    counts = frame.groupby(["task", "item_id"])["system"].nunique()
    complete = counts[counts == len(systems)].index
    inputs = frame.set_index(["task", "item_id"]).loc[complete].reset_index()
    inputs = inputs.drop_duplicates(["task", "item_id"])[["task", "item_id", "group"]]
    if inputs.empty:
        raise ValueError(f"no input was rewritten by every one of the systems {systems}")
    rng = random.Random(f"{seed}-human-sample")
    by_task = []
    for _, task_rows in inputs.sort_values(["task", "group", "item_id"]).groupby("task", sort=True):
        groups = []
        for _, stratum in task_rows.groupby("group", sort=True):
            rows = list(stratum.itertuples(index=False))
            rng.shuffle(rows)
            groups.append(rows)
        by_task.append(_round_robin(groups))
    chosen = _round_robin(by_task)[:n]
    return pd.DataFrame(chosen, columns=["task", "item_id", "group"])


def assign(n_outputs: int, raters: list[str], per_output: int, seed: int) -> list[tuple[str, ...]]:
    """The raters of each output: cycle through every ``per_output``-subset of the panel in a seeded order."""
    if len(raters) < 2 or not 2 <= per_output <= len(raters):
        raise ValueError(f"need at least 2 raters and 2 <= per_output <= raters (got {len(raters)} raters, per_output {per_output})")
    subsets = list(itertools.combinations(raters, per_output))
    random.Random(f"{seed}-human-assign").shuffle(subsets)
    assigned = [subsets[i % len(subsets)] for i in range(n_outputs)]
    covered = {pair for subset in assigned for pair in itertools.combinations(sorted(subset), 2)}
    missing = [pair for pair in itertools.combinations(sorted(raters), 2) if pair not in covered]
    if missing:
        raise ValueError(
            f"{n_outputs} outputs, {per_output} raters each, cannot give every pair of the {len(raters)} raters a "
            f"shared item (e.g. {missing[0][0]} and {missing[0][1]}); sample more items or raise per_output "
            f"(at least {len(subsets)} outputs are needed at this per_output)"
        )
    return assigned


def build_key(run_dir: Path, options: ExportOptions) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The blinded rating items with their systems (the key), the raters and the systems."""
    frame = rewrite_rows(run_dir)
    if frame.empty:
        raise ValueError(f"{run_dir}: the run has no rewrite task results to rate")
    if options.tasks is not None:
        unknown = sorted(set(options.tasks) - set(frame["task"]))
        if unknown:
            raise ValueError(f"tasks {unknown} are not rewrite tasks of this run; it has {sorted(frame['task'].unique())}")
        frame = frame[frame["task"].isin(options.tasks)]
    # By default one model per method: the further training seeds (srllm-<method>-seed<N>) would
    # multiply the raters' work for what the significance page already reports as seed spread.
    default = [s for s in dict.fromkeys(frame["system"]) if not SEED_SUFFIX.search(s)]
    systems = list(options.systems) if options.systems is not None else default
    unknown = sorted(set(systems) - set(frame["system"]))
    if unknown:
        raise ValueError(f"systems {unknown} have no rewrites in this run; it has {sorted(frame['system'].unique())}")
    frame = frame[frame["system"].isin(systems)]
    inputs = stratified_inputs(frame, systems, options.items, options.seed)
    rows = frame.merge(inputs[["task", "item_id"]], on=["task", "item_id"])
    rows = rows.sort_values(["task", "item_id", "system"]).reset_index(drop=True)
    order = list(range(len(rows)))
    random.Random(f"{options.seed}-human-shuffle").shuffle(order)
    rows = rows.iloc[order].reset_index(drop=True)
    width = max(4, len(str(len(rows))))
    raters = [f"rater-{i + 1:02d}" for i in range(options.raters)]
    assigned = assign(len(rows), raters, options.per_output or options.raters, options.seed)
    key = pd.DataFrame(
        {
            "item_id": [f"i{i + 1:0{width}d}" for i in range(len(rows))],
            "task": rows["task"], "source_item_id": rows["item_id"].astype(str), "group": rows["group"].astype(str),
            "system": rows["system"], "input": rows["input"].fillna("").astype(str),
            "output": rows["output"].fillna("").astype(str), "raters": [";".join(a) for a in assigned],
        }
    )  # fmt: skip
    return key, raters, systems


def sheet(key: pd.DataFrame, rater: str, export_id: str, scales: list[Scale], seed: int) -> pd.DataFrame:
    """One rater's sheet: their items in an order of their own, the scale columns left blank."""
    mine = key[key["raters"].str.split(";").map(lambda names: rater in names)]
    order = list(range(len(mine)))
    random.Random(f"{seed}-human-order-{rater}").shuffle(order)
    mine = mine.iloc[order]
    table = pd.DataFrame({"export_id": export_id, "rater": rater, "item_id": mine["item_id"].to_numpy(),
                          "input": mine["input"].to_numpy(), "output": mine["output"].to_numpy()})  # fmt: skip
    for scale in scales:
        table[scale.name] = ""
    table["comment"] = ""
    return table


def export(run_dir: str | Path, out_dir: str | Path, options: ExportOptions, force: bool = False) -> dict[str, Any]:
    """Write the rating sheets, pages and instructions to ``out_dir`` and the key to ``run_dir/human/``."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    human = run_dir / "human"
    if (human / "export.json").is_file() and not force:
        raise FileExistsError(
            f"{human / 'export.json'} exists: this run was exported for rating before, and a new export would "
            "invalidate the sheets handed out; pass --force to replace it"
        )
    if out_dir.resolve().is_relative_to(human.resolve()):
        raise ValueError(f"{out_dir} is inside {human}, beside the unblinding key; hand out a folder of its own")
    scales = list(scales_by_name(options.scales).values())
    key, raters, systems = build_key(run_dir, options)
    export_id = hashlib.sha256(key.to_csv(index=False).encode()).hexdigest()[:12]
    protocol = {
        "export_id": export_id,
        "run": run_dir.name,
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.__dict__.items()},
        "per_output": options.per_output or options.raters,
        "raters": raters,
        "systems": systems,
        "tasks": sorted(key["task"].unique()),
        "reference_system": reference_system(systems),
        "n_inputs": int(key[["task", "source_item_id"]].drop_duplicates().shape[0]),
        "n_outputs": int(len(key)),
        "items_per_rater": {r: int(key["raters"].str.split(";").map(lambda n, r=r: r in n).sum()) for r in raters},
        "strata": {f"{t} / {g}": int(n) for (t, g), n in
                   key.drop_duplicates(["task", "source_item_id"]).groupby(["task", "group"]).size().items()},
        "scales": [scale_to_dict(s) for s in scales],
        "per_example_sha256": sha256_file(run_dir / "evaluate" / "per_example.parquet"),
    }  # fmt: skip
    for rater in raters:
        table = sheet(key, rater, export_id, scales, options.seed)
        write_text(out_dir / "sheets" / f"{rater}.csv", table.to_csv(index=False))
        items = table[["item_id", "input", "output"]].to_dict(orient="records")
        write_text(out_dir / "pages" / f"{rater}.html", render_page(export_id, rater, scales, items))
    write_text(out_dir / "instructions.md", instructions(scales))
    write_text(out_dir / "README.md", team_readme(protocol))
    human.mkdir(parents=True, exist_ok=True)
    write_text(human / "key.csv", key.to_csv(index=False))
    write_json(human / "export.json", protocol)
    return protocol


def load_export(run_dir: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """A run's export protocol and unblinding key, as ``srllm human export`` wrote them."""
    human = Path(run_dir) / "human"
    for name in ("export.json", "key.csv"):
        if not (human / name).is_file():
            raise FileNotFoundError(f"{human / name} is missing: run `srllm human export {run_dir} ...` first")
    key = pd.read_csv(human / "key.csv", dtype=str, keep_default_na=False)
    return json.loads((human / "export.json").read_text()), key
