from pathlib import Path

import pytest

from srllm.config import ConfigError, StudyConfig, load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["smoke", "cpu", "paper"])
def test_shipped_parameter_sets_are_valid(name: str) -> None:
    config = load_config(ROOT / "params" / f"{name}.yaml")
    assert config.run_name == name


def test_paper_set_holds_the_authors_recipe() -> None:
    config = load_config(ROOT / "params" / "paper.yaml")
    assert config.model.name_or_path == "meta-llama/Llama-2-7b-chat-hf"
    assert (config.quantization.quant_type, config.quantization.compute_dtype, config.quantization.double_quant) == (
        "nf4", "float16", False,
    )
    assert (config.lora.r, config.lora.alpha, config.lora.dropout) == (64, 16, 0.2)
    assert config.lora.target_modules == ["q_proj", "v_proj"]
    t = config.training
    assert (t.epochs, t.batch_size, t.learning_rate, t.lr_scheduler) == (1.0, 4, 2e-4, "constant")
    assert (t.warmup_ratio, t.max_grad_norm, t.weight_decay, t.max_length) == (0.03, 0.3, 0.001, 512)
    assert t.optimizer == "paged_adamw_32bit" and t.group_by_length


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("run_name: x\nfoo: 1\n", "foo"),
        ("run_name: x\ntraining:\n  lr: 0.1\n", "training.lr"),
        ("run_name: x\nmodel:\n  random_init:\n    depth: 2\n", "model.random_init.depth"),
        ("run_name: x\ntraining:\n  batch_size: '4'\n", "training.batch_size"),
        ("run_name: x\ntraining:\n  batch_size: 0\n", "training.batch_size"),
        ("run_name: x\ntraining:\n  learning_rate: 2.0\n", "training.learning_rate"),
        ("run_name: x\ntraining:\n  methods: [dpo]\n", "training.methods.0"),
        ("run_name: x\nlora:\n  dropout: 1.5\n", "lora.dropout"),
        ("seed: 1\n", "run_name"),
        ("run_name: 'a b'\n", "run_name"),
    ],
)
def test_invalid_parameters_name_the_key_and_the_file(tmp_path: Path, text: str, key: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert str(path) in message
    assert f"  {key}:" in message


def test_unknown_key_message_lists_the_valid_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="valid keys here are: .*learning_rate"):
        load_config(_write(tmp_path, "run_name: x\ntraining:\n  lr: 0.1\n"))


def test_qlora_without_4bit_is_contradictory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="load_in_4bit"):
        load_config(_write(tmp_path, "run_name: x\nquantization:\n  load_in_4bit: false\n"))


def test_not_a_mapping_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_hashes_are_stable_and_sensitive() -> None:
    a = StudyConfig(run_name="a")
    b = StudyConfig(run_name="a", seed=1)
    assert a.params_hash() == StudyConfig(run_name="a").params_hash()
    assert a.params_hash() != b.params_hash()
    assert a.section_hash("training") == b.section_hash("training")
    assert a.section_hash("seed") != b.section_hash("seed")


def test_cli_rejects_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from srllm.cli import main

    path = _write(tmp_path, "run_name: x\nbogus_key: 1\n")
    assert main(["run", str(path)]) != 0
    err = capsys.readouterr().err
    assert "bogus_key" in err and str(path) in err
