"""Peak resident memory of child processes (a notebook kernel, a training worker), sampled in a thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import psutil


@dataclass
class PeakMemory:
    """Use as a context manager; ``peak_mb`` is the largest summed RSS of all descendants seen."""

    interval: float = 0.2
    peak_bytes: int = 0

    def __enter__(self) -> "PeakMemory":
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass  # the child ended between listing and reading
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20
