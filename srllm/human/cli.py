"""``srllm human export`` and ``srllm human import``: the sub-commands, their options from ExportOptions."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from .export import ExportOptions


def add_commands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="human_command", required=True)
    export_cmd = commands.add_parser("export", help="a blinded, stratified sample of a run's rewrites: sheets, pages, key")
    export_cmd.add_argument("run_dir", help="a run folder with evaluate/per_example.parquet, e.g. runs/cpu")
    export_cmd.add_argument("--out", required=True, help="the folder to hand to the raters (the key stays in the run folder)")
    for field in dataclasses.fields(ExportOptions):
        flag = "--" + field.name.replace("_", "-")
        if field.name in ("systems", "tasks", "scales"):
            export_cmd.add_argument(flag, nargs="+", default=None, help=field.metadata["help"])
        else:
            default = "" if field.default is None else f" (default {field.default})"
            export_cmd.add_argument(flag, type=int, default=field.default, help=field.metadata["help"] + default)
    export_cmd.add_argument("--force", action="store_true", help="replace an earlier export of this run (its sheets become invalid)")
    import_cmd = commands.add_parser("import", help="check completed sheets against the key; write runs/<name>/human/")
    import_cmd.add_argument("run_dir", help="the exported run folder")
    import_cmd.add_argument("sheets_dir", help="the folder of completed CSV sheets, one per rater")
    import_cmd.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the intervals (default 1000)")


def run_command(args: argparse.Namespace) -> str:
    """Run one human sub-command; return what to print."""
    if args.human_command == "export":
        from .export import export  # lazy: `srllm --help` starts without the human-evaluation imports

        values = {f.name: getattr(args, f.name) for f in dataclasses.fields(ExportOptions)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if v is not None}
        protocol = export(args.run_dir, args.out, ExportOptions(**values), force=args.force)
        return (
            f"[srllm] exported {protocol['n_outputs']} outputs ({protocol['n_inputs']} inputs x {len(protocol['systems'])} systems) "
            f"for {len(protocol['raters'])} raters to {args.out} (see its README.md); the key is in "
            f"{Path(args.run_dir) / 'human'}"
        )
    from .importer import import_ratings  # lazy: `srllm --help` starts without the human-evaluation imports

    summary = import_ratings(args.run_dir, args.sheets_dir, resamples=args.resamples)
    lines = [f"[srllm] imported {summary['n_ratings']} ratings of {summary['n_items_rated']} of {summary['n_outputs']} outputs "
             f"into {Path(args.run_dir) / 'human'}"]  # fmt: skip
    for rater, entry in summary["raters"].items():
        if not entry["complete"]:
            sheet = entry["sheet"]["file"] if entry["sheet"] else "no sheet returned"
            lines.append(f"  partial: {rater} ({sheet}): {entry['fully_rated']} of {entry['assigned']} items fully rated, "
                         f"{entry['partly_rated']} partly, {entry['not_rated']} not rated")  # fmt: skip
    for scale, a in summary["agreement_summary"].items():
        kappa = "n/a" if a["fleiss_kappa"] is None else f"{a['fleiss_kappa']:.3f}"
        alpha = "n/a" if a["alpha"] is None else f"{a['alpha']:.3f}"
        lines.append(f"  {scale}: Fleiss' kappa {kappa}, Krippendorff's alpha ({a['alpha_level']}) {alpha}")
    return "\n".join(lines)
