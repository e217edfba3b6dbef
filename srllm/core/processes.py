"""Stopping cleanly: every process a run starts ends with it.

``srllm run`` starts a notebook kernel (in a session of its own, as jupyter_client does), which may
start a training worker, which may start accelerate's processes. A signal to the runner alone would
leave the kernel's children running, orphaned, at full CPU. So the runner stops its whole process
tree itself when it is interrupted, and a worker asks the kernel to take it along should the kernel
die first (Linux's parent-death signal), which also covers a runner killed with SIGKILL.
"""

from __future__ import annotations

import ctypes
import signal
import sys

import psutil

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def stop_descendants(grace_seconds: float = 5.0) -> list[int]:
    """Terminate every descendant of this process, kill those still alive after the grace period;
    return their process ids. Children started meanwhile are found on a second pass."""
    stopped: list[int] = []
    for _ in range(2):
        children = psutil.Process().children(recursive=True)
        if not children:
            break
        for child in children:
            try:
                child.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(children, timeout=grace_seconds)
        for child in alive:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(alive, timeout=grace_seconds)
        stopped += [child.pid for child in children]
    return stopped


def end_with_parent() -> None:
    """For ``subprocess.Popen(preexec_fn=...)``: the child gets SIGTERM when its parent dies (Linux only)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Interrupted(BaseException):
    """The run was asked to stop (SIGTERM). A BaseException, as KeyboardInterrupt is, so that no
    ``except Exception`` on the way (asyncio's callbacks in the notebook client have one) swallows it."""
