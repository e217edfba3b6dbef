"""Shared fixtures. Tests read the data mirror ($SRLLM_DATA_DIR, default ../shared/data) and never download."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
PLANTED_SECRET = "srllm-planted-secret-7f3a9c2e51d84b06"
SECRET_VARIABLES = ("PERSPECTIVE_API_KEY", "OPENAI_API_KEY", "SRLLM_PERSPECTIVE_API_KEY", "HF_TOKEN")


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = Path(os.environ.get("SRLLM_DATA_DIR") or ROOT.parent / "shared" / "data")
    if not root.is_dir():
        pytest.fail(f"data mirror not found at {root}: set SRLLM_DATA_DIR")
    return root


@pytest.fixture(scope="session")
def data_dir(data_root: Path):
    from srllm.data.datadir import DataDir

    return DataDir(data_root)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """params/smoke.yaml run once through all five notebooks (a few minutes), shared by the tests."""
    from srllm.pipeline import runner

    runs = tmp_path_factory.mktemp("runs")
    # Secrets for optional online judges come from the environment only: plant some, and
    # tests/pipeline/test_reliability.py checks that no artifact of the run contains them.
    planted = {name: PLANTED_SECRET for name in SECRET_VARIABLES}
    saved = {name: os.environ.get(name) for name in planted}
    os.environ.update(planted)
    os.environ["SRLLM_RUNS_DIR"] = str(runs)
    try:
        return runner.run(ROOT / "params" / "smoke.yaml")
    finally:
        os.environ.pop("SRLLM_RUNS_DIR", None)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def smoke_book(smoke_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book built from the smoke run; returns its HTML folder."""
    from srllm.report.book import build

    return build(smoke_run, tmp_path_factory.mktemp("book"))


def malformed_data_dir(root: Path, relpath: str, content: str | bytes):
    """A data directory holding one malformed file, its checksum accepted so the parser is reached."""
    from srllm.data.datadir import DataDir, sha256_file

    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    data = DataDir(root)
    data.verified[relpath] = sha256_file(path)
    return data
