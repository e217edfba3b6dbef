"""Progress lines that reach the terminal of ``srllm run`` from inside a notebook or a training worker.

A notebook kernel has no terminal: its output travels to the runner as notebook output. The runner
writes all of it to ``runs/<name>/logs/<step>.log`` and shows on the terminal only the lines that
start with :data:`PREFIX`, so library noise (progress-bar widgets, kernel warnings) stays in the log.
Progress is reported at most every few seconds per bar, so the log stays readable.
"""

from __future__ import annotations

import time

PREFIX = "[srllm] "


def report(message: str) -> None:
    """One progress line for the terminal (and the step's log)."""
    print(f"{PREFIX}{message}", flush=True)


def duration(seconds: float) -> str:
    """A short human duration: 45 s, 3 min 05 s, 1 h 02 min."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Counts items of one long loop and reports ``label: done/total items, time left`` now and then."""

    def __init__(self, label: str, total: int, unit: str = "items", every_seconds: float = 5.0, enabled: bool = True):
        self.label, self.total, self.unit = label, total, unit
        self.every, self.enabled = every_seconds, enabled
        self.done = 0
        self._started = self._last = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._last >= self.every or self.done >= self.total):
            self._last = now
            rate = self.done / max(now - self._started, 1e-9)
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            tail = f", {duration(left)} left" if self.done < self.total else f", {duration(now - self._started)}"
            report(f"{self.label}: {self.done}/{self.total} {self.unit}{tail}")

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        return None
