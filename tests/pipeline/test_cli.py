"""The command line: --version, list, --set overrides, --runs-dir, readable check output, plain help texts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from srllm import __version__, cli
from srllm.config import (
    EVAL_SYSTEMS,
    STEPS,
    TRAINING_METHODS,
    ConfigError,
    load_config,
    parse_overrides,
    pipeline_step,
)
from srllm.pipeline import runner
from srllm.tasks import TASKS

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "params" / "smoke.yaml"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"srllm {__version__}"


def test_list_names_every_choice_with_a_description(capsys: pytest.CaptureFixture[str]) -> None:
    from srllm import catalog

    # The catalogue cannot drift from the schema or the task registry: every choice has a description.
    assert set(catalog.tasks()) == set(TASKS)
    assert set(catalog.SYSTEMS) == set(EVAL_SYSTEMS)
    assert set(catalog.METHODS) == set(TRAINING_METHODS)
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [*TASKS, *EVAL_SYSTEMS, *TRAINING_METHODS, *(f"params/{p.name}" for p in (ROOT / "params").glob("*.yaml"))]
    for name in names:
        (line,) = [line for line in lines if line.split()[:1] == [name]]
        assert len(line.split()) > 3, f"{name} has no description: {line!r}"
    smoke = next(line for line in lines if line.split()[:1] == ["params/smoke.yaml"])
    assert "(run smoke)" in smoke and "tiny randomly initialised model" in smoke


def _subparsers(parser: Any) -> dict[str, Any]:
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return dict(action.choices)


def test_help_texts_are_plain_words() -> None:
    parser = cli.build_parser()
    commands = _subparsers(parser)
    assert {"run", "check", "book", "list", "push"} <= set(commands)
    texts = [parser.format_help(), *(sub.format_help() for sub in commands.values())]
    for text in texts:
        for markup in ("``", ":class:", ":func:", ":mod:"):
            assert markup not in text, text


def test_overrides_are_yaml_scalars_checked_by_the_schema(tmp_path: Path) -> None:
    overrides = parse_overrides(["training.max_steps=20", "evaluation.samples.inhouse=50", "training.learning_rate=2.0e-4",
                                 "dataset.skip_malformed=true", "training.methods=[lora]"])  # fmt: skip
    assert overrides == {
        "training.max_steps": 20, "evaluation.samples.inhouse": 50, "training.learning_rate": 2.0e-4,
        "dataset.skip_malformed": True, "training.methods": ["lora"],
    }  # fmt: skip
    config = load_config(SMOKE, overrides)
    assert (config.training.max_steps, config.evaluation.samples["inhouse"], config.training.methods) == (20, 50, ["lora"])
    with pytest.raises(ConfigError) as error:
        load_config(SMOKE, parse_overrides(["training.max_steps=many"]))
    assert "  training.max_steps: Input should be a valid integer" in str(error.value)
    assert "--set training.max_steps=many" in str(error.value)
    with pytest.raises(ConfigError, match=r"training.max_step: unknown key; valid keys here are: .*max_steps"):
        load_config(SMOKE, parse_overrides(["training.max_step=20"]))
    with pytest.raises(ConfigError, match="YAML 1.1 reads a float only if it has a dot.*write 2.0e-4"):
        load_config(SMOKE, parse_overrides(["training.learning_rate=2e-4"]))
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_overrides(["training.max_steps"])
    with pytest.raises(ConfigError, match="seed is a value"):
        load_config(SMOKE, parse_overrides(["seed.x=1"]))


def test_run_with_overrides_reaches_the_notebooks_and_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SRLLM_DATA_DIR", str(data_root))
    monkeypatch.setenv("SRLLM_RUNS_DIR", str(tmp_path / "not-here"))  # --runs-dir wins over the environment
    seen: list[Any] = []

    def fake_step(step: str, params_path: Path, run_dir: Path, log: Any = print) -> Path:
        # What a notebook does first: load the parameters from the file it is given.
        seen.append((step, params_path, load_config(params_path)))
        (run_dir / step).mkdir(parents=True, exist_ok=True)
        (run_dir / step / "metrics.json").write_text("{}")
        notebook = run_dir / "notebooks" / pipeline_step(step).notebook
        notebook.parent.mkdir(parents=True, exist_ok=True)
        notebook.write_text("{}")
        return notebook

    monkeypatch.setattr(runner, "execute_step", fake_step)
    runs = tmp_path / "runs"
    argv = ["run", str(SMOKE), "--set", "training.max_steps=20", "--set", "evaluation.samples.inhouse=50", "--runs-dir", str(runs)]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert [step for step, *_ in seen] == list(STEPS)
    for _, params_path, config in seen:
        assert params_path == runs / "smoke" / "params.given.yaml"
        assert (config.training.max_steps, config.evaluation.samples["inhouse"]) == (20, 50)
    given = yaml.safe_load((runs / "smoke" / "params.given.yaml").read_text())
    assert given["quantization"]["compute_dtype"] == "auto"  # as written, not resolved for this machine
    manifest = yaml.safe_load((runs / "smoke" / "manifest.json").read_text())
    assert manifest["overrides"] == {"training.max_steps": 20, "evaluation.samples.inhouse": 50}
    assert manifest["params"]["training"]["max_steps"] == 20 and manifest["params_file"] == str(SMOKE)
    assert not (tmp_path / "not-here").exists()
    # The same run again without overrides: the steps get the file itself, and the manifest says so.
    seen.clear()
    assert cli.main(["run", str(SMOKE), "--runs-dir", str(runs), "--force"]) == 0
    assert {params_path for _, params_path, _ in seen} == {SMOKE}
    assert not (runs / "smoke" / "params.given.yaml").exists()
    assert yaml.safe_load((runs / "smoke" / "manifest.json").read_text())["overrides"] == {}


def test_check_prints_the_resolved_parameters_as_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SRLLM_DATA_DIR", str(data_root))
    assert cli.main(["check", str(SMOKE), "--set", "seed=3", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "{'" not in out  # not a Python dict
    assert f"runs into {tmp_path / 'smoke'}" in out
    printed = yaml.safe_load(out)  # the comments drop out: what is left is a parameter file
    assert printed["seed"] == 3 and printed["training"]["batch_size"] == load_config(SMOKE).training.batch_size
    assert printed["evaluation"]["dtype"] in ("float32", "bfloat16")  # "auto" resolved for this machine
    assert load_config(_written(tmp_path, out)).seed == 3


def _written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "printed.yaml"
    path.write_text(text)
    return path


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_follows_the_run_name_of_params(tmp_path: Path) -> None:
    params = tmp_path / "mine.yaml"
    params.write_text("# a run of my own\nrun_name: 'my-run.2'  # the folder\nseed: 1\n")
    for given, folder in ((str(params), "runs/my-run.2"), ("params/smoke.yaml", "runs/smoke"), (None, "runs/cpu")):
        command = ["make", "-n", "-C", str(ROOT), "book", *([f"PARAMS={given}"] if given else [])]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        assert f"srllm book {folder}\n" in out, out
