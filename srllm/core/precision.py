"""Which floating-point precision the models compute in on this machine, and why.

``quantization.compute_dtype`` and ``evaluation.dtype`` accept ``auto`` (the value of every shipped
parameter set): bfloat16 where the device computes it natively, float32 everywhere else. The
difference is large. On a CPU without AVX512-BF16 or AMX (an AVX2-only laptop or cloud machine)
torch emulates a bfloat16 matrix product, and at the base model's shapes it ran about 65 times
slower than float32 (1.2 against 80 GFLOP/s on one AVX2 core); with native support it is 2-3 times
faster than float32. So ``auto`` never picks bfloat16 where it is emulated, and an explicit
``bfloat16`` there is refused before any work (``srllm check`` / ``srllm run``) unless the user asks
for it with ``--allow-slow-bfloat16``.

"Native" is what torch itself reports: on CUDA ``torch.cuda.is_bf16_supported()``; on a CPU, oneDNN's
bfloat16 support (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``, true with AVX512-BF16 or AMX)
and a vector capability of AVX512 or better (``torch.backends.cpu.get_cpu_capability()``). Both
read the processor's feature flags, and both honour ``ATEN_CPU_CAPABILITY`` / ``ONEDNN_MAX_CPU_ISA``,
which is how the tests play an AVX2-only machine on a newer one.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import torch

AUTO = "auto"
# The shapes of the measurement: one MLP up-projection of SmolLM2-135M for 1,024 tokens.
_PROBE_SHAPE = (1024, 576, 1536)


@dataclass(frozen=True)
class Precision:
    """The dtype chosen for one use (training or evaluation), what was asked for, and why."""

    requested: str
    dtype: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@lru_cache(maxsize=1)
def cpu_capability() -> str:
    """torch's name for the CPU's vector extension: DEFAULT, AVX2, AVX512, ..."""
    return str(torch.backends.cpu.get_cpu_capability())


@lru_cache(maxsize=1)
def native_bfloat16() -> tuple[bool, str]:
    """Whether the device computes bfloat16 natively, and the evidence in words."""
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return True, f"the GPU ({name}) computes bfloat16 natively"
        return False, f"the GPU ({name}) has no native bfloat16"
    capability = cpu_capability()
    onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    vector_ok = capability.startswith("AVX512") or capability.startswith("AMX")
    if onednn and vector_ok:
        return True, f"the CPU computes bfloat16 natively (torch CPU capability {capability}, oneDNN bfloat16 support)"
    missing = "no oneDNN bfloat16 support (no AVX512-BF16 or AMX)" if not onednn else f"vector capability {capability} only"
    return False, f"the CPU emulates bfloat16: torch CPU capability {capability}, {missing}"


def autocast_dtype(compute_dtype: str) -> str:
    """The dtype training's autocast computes in for ``quantization.compute_dtype`` on this device."""
    if compute_dtype == "float16" and not torch.cuda.is_available():
        return "float32"  # fp16 autocast needs CUDA (a gradient scaler); a CPU computes in float32
    return compute_dtype


def resolve(requested: str, use: str) -> Precision:
    """The dtype for ``use`` ('training' or 'evaluation') from the parameter's value."""
    native, evidence = native_bfloat16()
    if requested != AUTO:
        return Precision(requested, requested, "set explicitly in the parameters")
    if native:
        return Precision(AUTO, "bfloat16", f"auto: {evidence}")
    return Precision(AUTO, "float32", f"auto: {evidence}, so float32 is faster")


@lru_cache(maxsize=1)
def measured_bfloat16_cost(repeats: int = 3) -> dict[str, Any]:
    """Time one bfloat16 and one float32 product at the model's shapes on one thread (medians, after a
    warm-up): what an explicit bfloat16 would cost here. Takes well under a second where bfloat16 is
    native, a few seconds where it is emulated."""
    m, k, n = _PROBE_SHAPE
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seconds = {}
        for dtype in (torch.float32, torch.bfloat16):
            a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
            torch.mm(a, b)  # warm-up: oneDNN builds its kernel on first use
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                torch.mm(a, b)
                times.append(time.perf_counter() - start)
            seconds[str(dtype).removeprefix("torch.")] = sorted(times)[len(times) // 2]
    finally:
        torch.set_num_threads(threads)
    flops = 2 * m * k * n
    return {
        "shape": f"{m}x{k} @ {k}x{n}, one thread",
        "float32_gflops": round(flops / seconds["float32"] / 1e9, 1),
        "bfloat16_gflops": round(flops / seconds["bfloat16"] / 1e9, 1),
        "bfloat16_slowdown": round(seconds["bfloat16"] / seconds["float32"], 2),
    }


def slow_bfloat16_keys(training: Precision, evaluation: Precision) -> list[str]:
    """The parameter keys that ask for bfloat16 on a device that only emulates it."""
    if native_bfloat16()[0]:
        return []
    keys = []
    if training.dtype == "bfloat16":
        keys.append("quantization.compute_dtype")
    if evaluation.dtype == "bfloat16":
        keys.append("evaluation.dtype")
    return keys


def allow_slow_bfloat16() -> bool:
    """The override (``--allow-slow-bfloat16`` sets it for the run and its notebooks)."""
    return os.environ.get("SRLLM_ALLOW_SLOW_BFLOAT16") == "1"


def record(training: Precision, evaluation: Precision) -> dict[str, Any]:
    """What the manifest keeps: each dtype with what was asked for and why, and the evidence."""
    native, evidence = native_bfloat16()
    return {
        "training": training.as_dict(),
        "evaluation": evaluation.as_dict(),
        "native_bfloat16": native,
        "evidence": evidence,
        "cpu_capability": cpu_capability(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
    }
