"""Every method trains on the tiny model (its trainable weights really change), and merging changes no logit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from srllm.config import StudyConfig, load_config
from srllm.corpus.build import load_srllm_pairs
from srllm.lm.merge import merge_adapter
from srllm.lm.models import resolve_base_model
from srllm.lm.training import optimizer_name, train_method

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("qlora", "lora", "prefix", "full")


class WeightWatcher(TrainerCallback):
    """Snapshot the trainable parameters before training and list those that changed after (as trl tests do)."""

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        after = dict(model.named_parameters())
        self.changed = {n for n, p in self.before.items() if not torch.equal(p, after[n].detach())}


def _config(**training: Any) -> StudyConfig:
    config = load_config(ROOT / "params" / "smoke.yaml")
    return config.model_copy(update={"training": config.training.model_copy(update=training)})


@pytest.fixture(scope="module")
def records(data_dir) -> list[dict]:
    return load_srllm_pairs(data_dir)[0]


@pytest.fixture(scope="module")
def base() -> Path:
    config = load_config(ROOT / "params" / "smoke.yaml")
    return Path(resolve_base_model(config.model, config.seed))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, records, base) -> dict[str, tuple[Path, dict, WeightWatcher]]:
    """Two optimizer steps of each method on 8 records."""
    config = _config(max_steps=2)
    results = {}
    for method in METHODS:
        out = tmp_path_factory.mktemp("train") / method
        watcher = WeightWatcher()
        metrics = train_method(config, method, base, records[:8], records[16:20], out, callbacks=[watcher])
        results[method] = (out, metrics, watcher)
    return results


@pytest.mark.parametrize("method", METHODS)
def test_method_trains_its_weights(trained, method: str) -> None:
    out, metrics, watcher = trained[method]
    assert metrics["steps"] == 2 and metrics["trainable_params"] > 0
    assert metrics["optimizer"] == optimizer_name("auto")
    for key in ("tokens_per_s", "median_step_seconds", "weight_memory_mb", "base_weight_memory_mb", "optimizer_state_mb"):
        assert metrics[key] > 0, key
    assert (out / "log_history.json").is_file() and (out / "train_metrics.json").is_file()
    assert not (out / "checkpoints").exists()
    # Every trainable tensor moved (lora_A and lora_B both; all weights of full fine-tuning).
    assert watcher.before and watcher.changed == set(watcher.before), set(watcher.before) - watcher.changed
    expected = {
        "qlora": "lora_B", "lora": "lora_B", "prefix": "prompt_encoder", "full": "model.layers.0.self_attn.q_proj.weight",
    }[method]  # fmt: skip
    assert any(expected in name for name in watcher.changed)
    saved = sorted(p.name for p in (out / "model").glob("*.safetensors"))
    assert saved == (["model.safetensors"] if method == "full" else ["adapter_model.safetensors"])
    # On a CPU every batch's shared prompt start ran once (lm/shared_prefix.py); prefix tuning's own
    # virtual tokens take the plain path.
    if not torch.cuda.is_available():
        shared = metrics["shared_prefix"]
        assert (shared["batches"] == 0) if method == "prefix" else (shared["batches"] > 0 and shared["share_of_positions_saved"] > 0.2), shared


def test_qlora_base_is_4bit_and_frozen(trained, base: Path) -> None:
    _, qlora, _ = trained["qlora"]
    _, lora, _ = trained["lora"]
    # The same adapter on a smaller (4-bit) base; the tiny model is mostly its float32 embedding,
    # which bitsandbytes leaves unquantized, so the gap here is small (see benchmarks/bench_training.py).
    assert qlora["trainable_params"] == lora["trainable_params"]
    assert qlora["base_weight_memory_mb"] < lora["base_weight_memory_mb"]
    adapter = load_file(trained["qlora"][0] / "model" / "adapter_model.safetensors")
    assert adapter and all("lora_" in key for key in adapter)  # only the adapter is saved


def test_best_checkpoint_is_restored(tmp_path: Path, records, base) -> None:
    # A learning rate high enough (and no clipping) that the validation loss rises after step 2.
    config = _config(max_steps=4, best_checkpoint=True, learning_rate=0.5, max_grad_norm=100.0)
    metrics = train_method(config, "lora", base, records[:16], records[16:20], tmp_path / "lora")
    history = json.loads((tmp_path / "lora" / "log_history.json").read_text())
    mid_run = [e["eval_loss"] for e in history if "eval_loss" in e][:-1]  # the last one is the final evaluate()
    assert metrics["best_checkpoint"]["eval_loss"] == pytest.approx(min(mid_run))
    assert metrics["val_loss"] == pytest.approx(min(mid_run), abs=1e-5)


def test_merge_reproduces_base_plus_adapter_logits(trained, records, base, tmp_path: Path) -> None:
    config = load_config(ROOT / "params" / "smoke.yaml")
    probes = [f"{r['input']}\n{r['output']}" for r in records[20:24]]
    result = merge_adapter(base, trained["qlora"][0] / "model", tmp_path / "merged", probes, config.quantization)
    assert result["max_abs_logit_diff"] < 1e-4
    # Merging into the 4-bit base re-quantizes the weights: a larger error than the float32 merge.
    assert result["max_abs_logit_diff_merge_into_4bit"] > result["max_abs_logit_diff"]
    assert "max_abs_logit_diff_4bit_vs_merged" in result
    # The task-level effect: NLL per token of the probes for each model, next-token agreement of the two merges.
    for key in ("probe_nll_merged", "probe_nll_4bit_as_trained", "probe_nll_merged_into_4bit"):
        assert 0 < result[key] < 20, (key, result[key])
    assert 0 <= result["top1_agreement_merge_into_4bit_vs_float32_merge"] <= 1
    assert (tmp_path / "merged" / "model.safetensors").is_file()
    assert not (tmp_path / "merged" / "adapter_config.json").exists()


def test_optimizer_follows_the_device() -> None:
    expected = "paged_adamw_32bit" if torch.cuda.is_available() else "adamw_torch"
    assert optimizer_name("auto") == expected
    assert optimizer_name("sgd") == "sgd"


def test_scoring_only_labelled_positions_changes_no_loss_or_gradient(base: Path, records, monkeypatch) -> None:
    import trl.trainer.utils as trl_utils
    from trl.trainer.utils import add_fused_lm_head

    from srllm.lm.models import load_causal_lm, load_tokenizer
    from srllm.lm.patches import score_completion_positions_only

    tokenizer = load_tokenizer(base)
    model = load_causal_lm(base)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))  # what SFTTrainer adds
    batch = tokenizer([f"{r['input']} {r['output']}" for r in records[:4]], return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    labels[:, :6] = -100  # a prompt: no label
    scored_rows: list[int] = []
    chunked = trl_utils._ChunkedLogProbFunction

    class Spy:
        @staticmethod
        def apply(hidden: torch.Tensor, *args: Any) -> Any:
            scored_rows.append(hidden.shape[0])
            return chunked.apply(hidden, *args)

    monkeypatch.setattr(trl_utils, "_ChunkedLogProbFunction", Spy)

    def loss_and_gradients() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model.zero_grad()
        outputs = model(**batch, labels=labels, fused_lm_head=True)
        outputs.loss.backward()
        return outputs.loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    every_position = loss_and_gradients()
    with score_completion_positions_only():
        labelled_only = loss_and_gradients()
    rows, length = batch["input_ids"].shape
    assert scored_rows == [rows * (length - 1), int((labels[:, 1:] != -100).sum())]
    assert 0 < scored_rows[1] < scored_rows[0]
    torch.testing.assert_close(labelled_only[0], every_position[0], rtol=1e-6, atol=0)
    assert every_position[1].keys() == labelled_only[1].keys() and len(every_position[1]) > 10
    for name, gradient in every_position[1].items():
        torch.testing.assert_close(labelled_only[1][name], gradient, rtol=1e-5, atol=1e-7, msg=name)
    assert trl_utils._use_triton(torch.device("cpu")) is False  # put back after the block


def test_a_4bit_weight_counts_by_its_real_shape_not_its_packed_bytes() -> None:
    bnb = pytest.importorskip("bitsandbytes")
    from srllm.lm.training import count_parameters

    layer = bnb.nn.Linear4bit(64, 32, compute_dtype=torch.float32, quant_type="nf4").to("cpu")
    assert layer.weight.numel() == 64 * 32 // 2  # packed: two 4-bit values per byte
    assert count_parameters(torch.nn.Sequential(layer)) == (32, 64 * 32 + 32)  # the bias trains, the weight is frozen
