"""Our CrowS-Pairs numbers equal lm-evaluation-harness's ``crows_pairs_english`` on the same model.

lm-eval (``lm-eval[hf]==0.4.13``, requirements-test.txt) runs in a subprocess, offline, with a private
HF_HOME, on a copy of its stock task config pointed at the local nyu-mll CSV (its stock task reads a
revised multilingual copy, so only the file differs). Batch size 1 on both sides: the per-sentence
log-likelihoods then agree bit for bit, so pct_stereotype must be equal and likelihood_diff equal to
float rounding.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

N_PAIRS = 40  # lm-eval's ``limit`` takes the first N documents, in file order; so do we

LM_EVAL_SCRIPT = """
import json, sys
from lm_eval import simple_evaluate
from lm_eval.tasks import TaskManager
model, include, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = simple_evaluate(
    model="hf", model_args=f"pretrained={model},dtype=float32", tasks=["crows_pairs_english"],
    task_manager=TaskManager(include_path=include, include_defaults=False),
    batch_size=1, limit=limit, device="cpu", log_samples=False,
)
print("RESULT " + json.dumps(out["results"]["crows_pairs_english"]))
"""


def _task_copy(target: Path, csv_path: Path) -> None:
    """The stock crows_pairs_english config and its utils.py, reading the local CSV instead of the hub."""
    lm_eval = pytest.importorskip("lm_eval")
    stock = Path(lm_eval.__file__).parent / "tasks" / "crows_pairs"
    target.mkdir(parents=True)
    shutil.copy(stock / "utils.py", target / "utils.py")
    config = (stock / "crows_pairs_english.yaml").read_text()
    config = config.replace("dataset_path: jannalu/crows_pairs_multilingual", "dataset_path: csv")
    config = config.replace("dataset_name: english", f"dataset_name: null\ndataset_kwargs:\n  data_files:\n    test: {csv_path}")
    assert "dataset_path: csv" in config and "dataset_kwargs" in config
    (target / "crows_pairs_english.yaml").write_text(config)


@pytest.mark.slow
def test_crows_pairs_equals_lm_eval_on_the_smoke_model(data_dir, tmp_path: Path) -> None:
    pytest.importorskip("lm_eval")
    from srllm.config import load_config
    from srllm.data.parsers import load_crows_pairs
    from srllm.data.sources import CROWS_PAIRS
    from srllm.lm.models import load_causal_lm, load_tokenizer, resolve_base_model
    from srllm.tasks.crows_pairs import crows_pairs_metrics, score_crows_pairs

    root = Path(__file__).resolve().parents[2]
    model_path = resolve_base_model(load_config(root / "params" / "smoke.yaml").model, seed=0)
    include = tmp_path / "tasks"
    _task_copy(include / "crows_pairs", data_dir.path(CROWS_PAIRS))

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf_home"),
           "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", LM_EVAL_SCRIPT, str(model_path), str(include), str(N_PAIRS)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT "))
    theirs = json.loads(line.removeprefix("RESULT "))

    pairs = load_crows_pairs(data_dir)[:N_PAIRS]
    ours = crows_pairs_metrics(
        score_crows_pairs(load_causal_lm(model_path), load_tokenizer(model_path), pairs, batch_size=1, progress=False)
    )["overall"]
    assert ours["count"] == N_PAIRS
    assert ours["pct_stereotype"] == theirs["pct_stereotype,none"]
    assert ours["likelihood_diff"] == pytest.approx(theirs["likelihood_diff,none"], rel=1e-9, abs=1e-9)
