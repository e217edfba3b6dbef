"""Pack a run's small artifacts into at most 8 files of at most 16 MiB each (what the device tool brings back).

    python benchmarks/gpu_pack.py RUN_DIR OUT_DIR [--log FILE ...]

OUT_DIR receives, each name made of letters, digits, '.', '_' and '-' only:

- ``metrics.json`` and ``manifest.json``, as the run wrote them;
- ``run-files.tar.gz``: the executed notebooks, every small file of the run (logs, training log
  history, step metrics, significance tables; no weights, checkpoints or Arrow corpus) and the
  ``--log`` files (the script's console log and step times);
- ``per_example-N.parquet`` (N = 1..4): the per-example results, in row ranges, zstd-compressed;
  if four parts cannot hold them, text columns are trimmed (see ``pack.json``);
- ``pack.json``: what went where, what was left out or trimmed, and each file's size and SHA-256.

Anything that would break a limit is left out and named in pack.json, never silently dropped.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import shutil
import sys
import tarfile
from pathlib import Path

MiB = 2**20
MAX_FILES = 8
MAX_FILE_BYTES = 16 * MiB
MAX_PER_EXAMPLE_PARTS = 4  # metrics, manifest, run-files, pack.json and up to four parts: eight files
SMALL_FILE_BYTES = 2 * MiB  # run files up to this size go into the tarball
WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".arrow", ".ckpt")
SKIPPED_DIRS = ("checkpoints", "corpus", "model")  # training checkpoints, the Arrow corpus, saved models
NAME = re.compile(r"^[A-Za-z0-9._-]+$")
# Columns trimmed, in this order, when the per-example table does not fit: the inputs (recoverable from the
# data and item_id), then outputs cut to a prefix.
TRIM_COLUMNS = ("input", "reference")
OUTPUT_PREFIX = 240


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run_files(run_dir: Path) -> list[Path]:
    files = []
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file() or path.suffix in WEIGHTS or path.name == "per_example.parquet":
            continue
        if any(part in SKIPPED_DIRS for part in path.relative_to(run_dir).parts[:-1]):
            continue
        files.append(path)
    return files


def _tarball(members: list[tuple[Path, str]], target: Path, left_out: list[str]) -> None:
    """A tar.gz of (path, name) under MAX_FILE_BYTES: the largest members are left out until it fits."""
    kept = list(members)
    while True:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as tar:
            for path, name in kept:
                tar.add(path, arcname=name)
        if buffer.tell() <= MAX_FILE_BYTES or not kept:
            target.write_bytes(buffer.getvalue())
            return
        largest = max(kept, key=lambda m: m[0].stat().st_size)
        kept.remove(largest)
        left_out.append(f"{largest[1]} ({largest[0].stat().st_size} bytes): run-files.tar.gz would exceed 16 MiB")


def _write_parts(frame, out_dir: Path, parts: int) -> list[Path] | None:
    """The frame in ``parts`` row ranges; None if any part is over the limit."""
    size = -(-len(frame) // parts) if len(frame) else 0
    written = []
    for index in range(parts):
        chunk = frame.iloc[index * size : (index + 1) * size]
        if index and not len(chunk):
            break
        path = out_dir / f"per_example-{index + 1}.parquet"
        chunk.to_parquet(path, compression="zstd", index=False)
        written.append(path)
        if path.stat().st_size > MAX_FILE_BYTES:
            for p in written:
                p.unlink()
            return None
    return written


def _pack_per_example(source: Path, out_dir: Path, report: dict) -> list[Path]:
    import pandas as pd

    frame = pd.read_parquet(source)
    report["per_example_rows"] = int(len(frame))
    trimmed: list[str] = []
    attempts = [(None, None)] + [(c, None) for c in TRIM_COLUMNS] + [(None, OUTPUT_PREFIX)]
    for column, prefix in attempts:
        if column is not None and column in frame.columns:
            frame = frame.drop(columns=[column])
            trimmed.append(f"column {column!r} dropped")
        if prefix is not None and "output" in frame.columns:
            frame = frame.assign(output=frame["output"].astype("string").str.slice(0, prefix))
            trimmed.append(f"column 'output' cut to its first {prefix} characters")
        for parts in range(1, MAX_PER_EXAMPLE_PARTS + 1):
            written = _write_parts(frame, out_dir, parts)
            if written is not None:
                report["per_example_trimmed"] = trimmed
                return written
    report["left_out"].append(f"{source.name}: over {MAX_PER_EXAMPLE_PARTS} x 16 MiB even trimmed")
    report["per_example_trimmed"] = trimmed
    return []


def pack(run_dir: Path, out_dir: Path, logs: list[Path] | None = None) -> dict:
    """Pack ``run_dir`` into ``out_dir``; return the report (also out_dir/pack.json)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {"run_dir": str(run_dir), "left_out": [], "files": {}}
    written: list[Path] = []
    for name in ("metrics.json", "manifest.json"):
        source = run_dir / name
        if not source.is_file():
            report["left_out"].append(f"{name}: not written by the run")
        elif source.stat().st_size > MAX_FILE_BYTES:
            report["left_out"].append(f"{name}: {source.stat().st_size} bytes, over 16 MiB")
        else:
            written.append(Path(shutil.copyfile(source, out_dir / name)))
    copied = {run_dir / "metrics.json", run_dir / "manifest.json"}
    members = [(p, f"run/{p.relative_to(run_dir)}") for p in _run_files(run_dir) if p not in copied] if run_dir.is_dir() else []
    for path, name in list(members):
        if path.stat().st_size > SMALL_FILE_BYTES and path.suffix != ".ipynb":
            members.remove((path, name))
            report["left_out"].append(f"{name} ({path.stat().st_size} bytes): over {SMALL_FILE_BYTES // MiB} MiB")
    members += [(log, f"logs/{log.name}") for log in logs or [] if log.is_file()]
    if members:
        tarball = out_dir / "run-files.tar.gz"
        _tarball(members, tarball, report["left_out"])
        written.append(tarball)
    per_example = run_dir / "evaluate" / "per_example.parquet"
    if per_example.is_file():
        written += _pack_per_example(per_example, out_dir, report)
    else:
        report["left_out"].append("evaluate/per_example.parquet: not written by the run")
    for path in written:
        report["files"][path.name] = {"bytes": path.stat().st_size, "sha256": _sha(path)}
    (out_dir / "pack.json").write_text(json.dumps(report, indent=1) + "\n")
    check_limits(out_dir)
    return report


def check_limits(out_dir: Path) -> None:
    """Raise if ``out_dir`` breaks what the device tool brings back: 8 files, 16 MiB each, plain names."""
    files = [p for p in Path(out_dir).rglob("*")]
    problems = [f"{p.name}: not a plain file at the top" for p in files if not p.is_file() or p.parent != Path(out_dir)]
    problems += [f"{p.name}: a name with characters other than letters, digits, '.', '_', '-'" for p in files if not NAME.match(p.name)]
    problems += [f"{p.name}: {p.stat().st_size} bytes, over 16 MiB" for p in files if p.is_file() and p.stat().st_size > MAX_FILE_BYTES]
    if len(files) > MAX_FILES:
        problems.append(f"{len(files)} files, over {MAX_FILES}")
    if problems:
        raise SystemExit("gpu_pack: " + "; ".join(problems))


def unpack(out_dir: Path, target: Path) -> Path:
    """Undo :func:`pack` into ``target``: the run folder (per_example.parquet joined again); return it."""
    import pandas as pd

    out_dir, target = Path(out_dir), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    tarball = out_dir / "run-files.tar.gz"
    if tarball.is_file():
        with tarfile.open(tarball) as tar:
            tar.extractall(target, filter="data")
    run = target / "run"
    run.mkdir(exist_ok=True)
    for name in ("metrics.json", "manifest.json"):
        if (out_dir / name).is_file():
            shutil.copyfile(out_dir / name, run / name)
    parts = sorted(out_dir.glob("per_example-*.parquet"), key=lambda p: int(p.stem.split("-")[1]))
    if parts:
        (run / "evaluate").mkdir(exist_ok=True)
        pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True).to_parquet(run / "evaluate" / "per_example.parquet")
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--log", type=Path, action="append", default=[], help="a log file to include (repeatable)")
    args = parser.parse_args(argv)
    report = pack(args.run_dir, args.out_dir, args.log)
    for name, info in report["files"].items():
        print(f"gpu_pack: {name}: {info['bytes'] / MiB:.2f} MiB")
    for item in report["left_out"]:
        print(f"gpu_pack: left out: {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
