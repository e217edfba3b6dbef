"""Command line: srllm run params/cpu.yaml, then srllm book runs/cpu."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .config import STEPS, ConfigError
from .data.datadir import DataError

DESCRIPTION = (
    "Run the SR-LLM reproduction: 'srllm run PARAMS' executes the five notebooks into a run folder, "
    "'srllm book RUN' builds the Jupyter Book from it. 'srllm list' shows what can be chosen."
)


def _add_params_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("params", help="a parameter file, e.g. params/cpu.yaml")
    command.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="change one parameter for this run, e.g. --set training.max_steps=20 (repeatable); the value "
        "is read as in the YAML file (write floats with a dot: 2.0e-4) and checked like the file",
    )  # fmt: skip
    command.add_argument(
        "--runs-dir", type=Path,
        help="the folder that holds run folders (default: $SRLLM_RUNS_DIR, else runs/ in the project)",
    )  # fmt: skip
    command.add_argument(
        "--allow-slow-bfloat16", action="store_true",
        help="accept an explicit bfloat16 on a CPU that only emulates it (about 65x slower than float32)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srllm", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"srllm {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_cmd = commands.add_parser(
        "run", help="run the study's notebooks in order", description="Run the five notebooks in order with "
        "papermill into RUNS_DIR/<run_name>/; steps that are up to date are skipped.",
    )  # fmt: skip
    _add_params_options(run_cmd)
    run_cmd.add_argument("--force", action="store_true", help="re-run steps even if they are up to date")
    run_cmd.add_argument("--only", choices=STEPS, help="run this one step")
    check_cmd = commands.add_parser(
        "check", help="validate a parameter file and print the parameters it resolves to",
        description="Validate a parameter file (and the machine: data, model, memory, disk) without running "
        "anything, then print every parameter as it would be used, defaults included, as YAML.",
    )  # fmt: skip
    _add_params_options(check_cmd)
    check_cmd.add_argument(
        "--dry-run", action="store_true",
        help="validate a parameter file meant for another machine: what needs the target device (CUDA, GPU memory) is reported, not checked",
    )  # fmt: skip
    book_cmd = commands.add_parser("book", help="build the Jupyter Book from a run folder")
    book_cmd.add_argument("run_dir", help="a run folder, e.g. runs/cpu")
    book_cmd.add_argument("--out", help="where to put the book (default: _build/)")
    export_cmd = commands.add_parser("export", help="write a run's tables (CSV, LaTeX) and figures (PNG, SVG) for a paper")
    export_cmd.add_argument("run_dir", help="a run folder, e.g. runs/cpu")
    export_cmd.add_argument("--out", help="where to write them (default: <run>/export/)")
    commands.add_parser("list", help="list the evaluation tasks, systems, training methods and parameter sets")
    push_cmd = commands.add_parser(
        "push", help="upload a run's models and corpus, with their cards, to the Hugging Face Hub",
        description="Upload each merged model (and each trained model with no merged form) to a model "
        "repository TO-<name>, and the corpus to the dataset repository TO-corpus. The token comes from "
        "HF_TOKEN or huggingface-cli login.",
    )  # fmt: skip
    push_cmd.add_argument("run_dir", help="a run folder, e.g. runs/cpu")
    push_cmd.add_argument("--to", required=True, metavar="OWNER/NAME", help="the repositories' name prefix, e.g. your-name/srllm")
    push_cmd.add_argument("--public", action="store_true", help="create public repositories (default: private)")
    push_cmd.add_argument("--dry-run", action="store_true", help="say what would be uploaded where, upload nothing")
    human_cmd = commands.add_parser("human", help="human evaluation: export rating sheets, import the ratings")
    from .human.cli import add_commands  # lazy: `srllm --help` and `srllm list` start without the pipeline's imports

    add_commands(human_cmd)
    return parser


def print_list() -> None:
    from .catalog import (  # lazy: `srllm --help` and `srllm list` start without the pipeline's imports
        METHODS,
        SYSTEMS,
        parameter_sets,
        tasks,
    )

    sections = [
        ("evaluation tasks (evaluation.tasks)", tasks()),
        ("systems (evaluation.systems)", SYSTEMS),
        ("training methods (training.methods)", METHODS),
        ("parameter sets", parameter_sets()),
    ]
    for number, (title, entries) in enumerate(sections):
        print(("\n" if number else "") + f"{title}:")
        width = max(len(name) for name in entries)
        for name, text in entries.items():
            print(f"  {name:<{width}}  {text}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "allow_slow_bfloat16", False):
        os.environ["SRLLM_ALLOW_SLOW_BFLOAT16"] = "1"  # read by the preflight check, inherited by the notebooks
    if args.command == "list":
        print_list()
        return 0

    from .pipeline import runner  # lazy: `srllm --help` and `srllm list` start without the pipeline's imports

    try:
        overrides = None
        if getattr(args, "overrides", None):
            from .config import (
                parse_overrides,  # lazy: `srllm --help` and `srllm list` start without the pipeline's imports
            )

            overrides = parse_overrides(args.overrides)
        if args.command == "check":
            from .config import (  # lazy: `srllm --help` and `srllm list` start without the pipeline's imports
                dump_config,
                load_config,
            )
            from .core.paths import (
                runs_dir,  # lazy: `srllm --help` and `srllm list` start without the pipeline's imports
            )
            from .pipeline.preflight import (
                check,  # lazy: `srllm --help` and `srllm list` start without the pipeline's imports
            )

            config = load_config(args.params, overrides)
            run_dir = (args.runs_dir or runs_dir()) / config.run_name
            found = check(config, args.params, run_dir, dry_run=args.dry_run)
            for note in found.get("not_checked", []):
                print(f"# dry run: {note}")
            chosen = found.get("precision", {})
            for use in ("training", "evaluation"):
                if use in chosen:
                    print(f"# {use} dtype: {chosen[use]['dtype']} ({chosen[use]['reason']})")
            if "estimated_memory_gib" in found:
                print(f"# estimated: {found['estimated_memory_gib']} GiB of memory, {found['estimated_disk_gib']} GiB of disk")
            print(f"# data directory: {found.get('data_dir')}")
            # YAML, so the output can be read, diffed, or saved as a parameter file of its own.
            print(f"# {args.params}: valid; it runs into {run_dir} with these parameters:")
            print(dump_config(config), end="")
        elif args.command == "human":
            from .human.cli import (
                run_command,  # lazy: `srllm --help` and `srllm list` start without the pipeline's imports
            )

            print(run_command(args))
        elif args.command == "run":
            run_dir = runner.run(
                args.params, force=args.force, only=args.only, overrides=overrides, runs_root=args.runs_dir
            )
            print(f"[srllm] run complete: {run_dir}")
        elif args.command == "export":
            from .report.export import (
                export,  # lazy: `srllm --help` and `srllm list` start without the pipeline's imports
            )

            written = export(Path(args.run_dir), Path(args.out) if args.out else Path(args.run_dir) / "export")
            print(f"[srllm] exported {len(written)} files to {written[0].parent if written else args.out}")
        elif args.command == "push":
            from .hub.push import push  # lazy: `srllm --help` and `srllm list` start without the pipeline's imports

            push(Path(args.run_dir), args.to, private=not args.public, dry_run=args.dry_run)
        else:
            html = runner.build_book(args.run_dir, args.out)
            print(f"[srllm] book built: {html / 'index.html'}")
    except (ConfigError, DataError, runner.StepFailed) as exc:
        print(f"srllm: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        if args.command != "human":
            raise
        # The human commands' own problems (no export yet, a design that cannot overlap): no traceback.
        print(f"srllm: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
