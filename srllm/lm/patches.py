"""Every workaround that reaches into another library's internals, in one place.

Each one names the upstream behaviour it depends on and fails loudly when that behaviour is gone;
``tests/lm/test_patches.py`` checks every one against the pinned versions, so an upgrade that
changes them fails a test instead of silently changing the study.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..core.io import read_json, write_json


@contextmanager
def score_completion_positions_only() -> Iterator[None]:
    """Make trl's fused LM head score only the positions that have a label, on every device.

    With ``completion_only_loss``, trl projects the hidden states through the LM head (49,152 words for
    SmolLM2) in tiles and folds them into per-token log-probabilities (``add_fused_lm_head``). On CUDA
    it scores only the positions with a label; elsewhere it scores every position (prompt and padding
    too) and zeroes the unlabelled ones afterwards, because on a compiling backend (Neuron) a varying
    number of rows would recompile the tiles. Eager CPU execution has no such cost, and an unlabelled
    position adds exactly nothing to the loss or the gradients, so scoring only the labelled ones
    gives the same training for a fraction of the LM head's work: in the CPU default's 117 batches only
    11% of the positions have a label (the rest is prompt or padding), and its median QLoRA step went
    from 5.6 s to 3.0 s (``median_step_seconds`` of runs/cpu before and after). trl 1.16 (pinned in constraints.txt) makes that choice with
    ``trl.trainer.utils._use_triton`` alone; this swaps it for the length of the block.
    """
    import trl.trainer.utils as trl_utils  # lazy: trl is a heavy import, needed only here

    original = getattr(trl_utils, "_use_triton", None)
    if original is None:
        raise RuntimeError("trl.trainer.utils._use_triton is gone: check score_completion_positions_only against this trl")
    trl_utils._use_triton = lambda device: device.type == "cpu" or original(device)
    try:
        yield
    finally:
        trl_utils._use_triton = original


LOSS_STATE = "loss_state.json"  # written into each checkpoint after the trainer's own files: its last file


def loss_keeper(trainer: Any, resume: Path | None) -> Any:
    """A trainer callback that makes the training loss of a resumed run that of an uninterrupted one.

    The trainer sums the loss of the steps of one ``train()`` call only (``_total_loss_scalar``, with
    the steps since the last log pending in ``_tr_loss``), so a run resumed from a checkpoint would
    report the mean of the steps after it. This writes that running sum into every checkpoint and puts
    it back when training resumes, so every later addition happens in the same order and the resumed
    run's loss log and mean loss equal the uninterrupted run's bit for bit. It reads the trainer's
    private loss fields (transformers is pinned in constraints.txt).
    """
    import torch  # lazy: importing this module must not load torch
    from transformers import TrainerCallback  # lazy: transformers is a heavy import, needed only here

    class LossKeeper(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if resume is not None:
                saved = read_json(resume / LOSS_STATE)
                trainer._total_loss_scalar = saved["total"]
                trainer._tr_loss = torch.tensor(saved["pending"], device=trainer._tr_loss.device)
                trainer._globalstep_last_logged = saved["last_logged"]

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if args.should_save:
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                state_now = {"total": trainer._total_loss_scalar, "pending": trainer._tr_loss.item(),
                             "last_logged": trainer._globalstep_last_logged}  # fmt: skip
                write_json(folder / LOSS_STATE, state_now)

    return LossKeeper()


def keep_4bit_weights_fixed(model: Any) -> None:
    """Stop bitsandbytes from repacking the frozen 4-bit weights for CPU inference during evaluation.

    On a CPU with AVX512-BF16, ``bnb.nn.Linear4bit.forward`` in eval mode (no grad) converts its weight,
    once and in place, to a CPU inference layout whose quantization scales (``absmax``) are rounded from
    float32 to bfloat16, and it never converts back. So the first mid-training evaluation silently
    changes the base model, and every later training step runs on the rounded weights. A run resumed
    from a checkpoint taken after that evaluation starts from freshly loaded float32 scales instead, and
    its first step's gradients differ (about 3e-3 here; ~5e-4 in the final LoRA weights). Keeping the
    standard dequantizing path for evaluation too makes the base weights constant for the whole run, so
    a resumed run ends bit for bit where an uninterrupted one does (and eval uses the training weights).
    """
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False


def cheaper_lora_dropout(model: Any) -> int:
    """Swap peft's LoRA dropout (``torch.nn.Dropout`` in each layer's ``lora_dropout``) for ``BitMaskDropout``
    on a CPU; returns how many were swapped.

    On a CPU, ``torch.nn.Dropout`` draws its mask with ``bernoulli_``, about 3.5 ms for one 8 x 100 x 576
    input: 14% of a float32 QLoRA step of the CPU default on the AVX2 path (120 masks a step, one per
    adapted projection; torch.profiler on one step). ``BitMaskDropout`` draws 15 random bits per element
    instead: a dropout 40% cheaper (5.4 -> 3.3 ms), a whole step 0.93x the time. It keeps each element with probability 1 - p rounded to
    1/32768 and scales the kept ones by 1 / (1 - p) as ``torch.nn.Dropout`` does; only the random
    numbers differ, drawn from the same seeded torch generator (so a resumed run still ends bit for bit
    where an uninterrupted one does). Evaluation is unchanged: both are the identity in eval mode.
    """
    import torch  # lazy: importing this module must not load torch

    from .dropout import BitMaskDropout

    if torch.cuda.is_available():
        return 0  # CUDA's bernoulli_ is cheap
    swapped = 0
    for module in model.modules():
        dropouts = getattr(module, "lora_dropout", None)
        if not isinstance(dropouts, torch.nn.ModuleDict):
            continue
        for name, dropout in dropouts.items():
            if type(dropout) is torch.nn.Dropout and dropout.p > 0:
                dropouts[name] = BitMaskDropout(dropout.p)
                swapped += 1
    return swapped

