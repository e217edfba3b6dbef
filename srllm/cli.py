"""Command line: ``srllm run params/cpu.yaml`` and ``srllm book runs/cpu``."""

from __future__ import annotations

import argparse
import os
import sys

from .config import STEPS, ConfigError
from .datadir import DataError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="srllm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="run the study's notebooks in order with papermill")
    run_cmd.add_argument("params", help="a parameter file, e.g. params/cpu.yaml")
    run_cmd.add_argument("--force", action="store_true", help="re-run steps even if they are up to date")
    run_cmd.add_argument("--only", choices=STEPS, help="run this one step")
    check_cmd = commands.add_parser("check", help="validate a parameter file and exit")
    check_cmd.add_argument("params")
    check_cmd.add_argument(
        "--dry-run", action="store_true",
        help="validate a parameter file meant for another machine: what needs the target device (CUDA, GPU memory) is reported, not checked",
    )  # fmt: skip
    for command in (run_cmd, check_cmd):
        command.add_argument(
            "--allow-slow-bfloat16", action="store_true",
            help="accept an explicit bfloat16 on a CPU that only emulates it (about 65x slower than float32)",
        )  # fmt: skip
    book_cmd = commands.add_parser("book", help="build the Jupyter Book from a run folder")
    book_cmd.add_argument("run_dir", help="a run folder, e.g. runs/cpu")
    book_cmd.add_argument("--out", help="where to put the book (default: _build/)")
    human_cmd = commands.add_parser("human", help="human evaluation: export rating sheets, import the ratings")
    from .human.cli import add_commands

    add_commands(human_cmd)
    args = parser.parse_args(argv)
    if getattr(args, "allow_slow_bfloat16", False):
        os.environ["SRLLM_ALLOW_SLOW_BFLOAT16"] = "1"  # read by the preflight check, inherited by the notebooks

    from . import runner

    try:
        if args.command == "check":
            from .config import load_config

            from .paths import runs_dir
            from .preflight import check

            config = load_config(args.params)
            found = check(config, args.params, runs_dir() / config.run_name, dry_run=args.dry_run)
            for note in found.get("not_checked", []):
                print(f"dry run: {note}")
            chosen = found.get("precision", {})
            for use in ("training", "evaluation"):
                if use in chosen:
                    print(f"{use} dtype: {chosen[use]['dtype']} ({chosen[use]['reason']})")
            print(f"{args.params}: valid; {found}")
        elif args.command == "human":
            from .human.cli import run_command

            print(run_command(args))
        elif args.command == "run":
            run_dir = runner.run(args.params, force=args.force, only=args.only)
            print(f"[srllm] run complete: {run_dir}")
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
