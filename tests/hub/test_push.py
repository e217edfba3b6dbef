"""srllm push on a synthetic run folder, with a stand-in for the Hub's API (nothing leaves the machine)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from srllm import cli
from srllm.config import ConfigError
from srllm.hub.push import push


class FakeApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_repo(self, repo_id: str, **kwargs: Any) -> None:
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, **kwargs: Any) -> None:
        self.calls.append(("upload_folder", kwargs))


def _run(tmp_path: Path, random_init: Any = None, cards: bool = True) -> Path:
    run = tmp_path / "run"
    manifest = {"run_name": "cpu", "params_hash": "abc123", "params": {"model": {"random_init": random_init}}}
    folders = [run / "merge" / "qlora", run / "train" / "qlora" / "model", run / "train" / "prefix" / "model", run / "dataset"]
    for folder in folders:
        folder.mkdir(parents=True)
        if cards:
            (folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# card\n")
    (run / "dataset" / "train.jsonl").write_text("{}\n")
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


def test_push_uploads_merged_models_unmerged_adapters_and_the_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    run, api = _run(tmp_path), FakeApi()
    push(run, "me/srllm", api=api, log=lambda _: None)
    uploads = {c["repo_id"]: c for name, c in api.calls if name == "upload_folder"}
    # qlora goes as its merged model only; prefix has no merged form, so its adapter goes.
    assert uploads["me/srllm-qlora"]["folder_path"] == str(run / "merge" / "qlora")
    assert uploads["me/srllm-prefix"]["folder_path"] == str(run / "train" / "prefix" / "model")
    assert uploads["me/srllm-corpus"]["repo_type"] == "dataset" and "README.md" in uploads["me/srllm-corpus"]["allow_patterns"]
    assert len(uploads) == 3 and all("abc123" in c["commit_message"] for c in uploads.values())
    assert all(c["private"] for name, c in api.calls if name == "create_repo")  # private unless --public


def test_push_refuses_what_it_should_not_push(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi()
    with pytest.raises(ConfigError, match="randomly initialised test model"):
        push(_run(tmp_path / "a", random_init={"hidden_size": 64}), "me/srllm", api=api)
    with pytest.raises(ConfigError, match="no card"):
        push(_run(tmp_path / "b", cards=False), "me/srllm", api=api)
    with pytest.raises(ConfigError, match="OWNER/NAME"):
        push(_run(tmp_path / "c"), "srllm", api=api)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE"):
        push(_run(tmp_path / "d"), "me/srllm", api=api)
    assert api.calls == []


def test_push_dry_run_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _run(tmp_path)
    assert cli.main(["push", str(run), "--to", "me/srllm", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would push {run / 'merge' / 'qlora'} to the model repository me/srllm-qlora" in out
    assert "dataset repository me/srllm-corpus" in out
    assert cli.main(["push", str(tmp_path / "nowhere"), "--to", "me/srllm"]) == 2
