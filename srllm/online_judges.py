"""Optional online toxicity judges, extra to the offline ones (which stay the default).

Enabled by ``evaluation.online_judges``; keys come from the environment only, never from
parameters or notebooks, and never appear in any output (notes name the variable, not its value).
A judge whose key or package is missing is skipped with a note, not an error.

- ``perspective``: Google's Perspective API (TOXICITY attribute) over HTTPS with urllib;
  key ``PERSPECTIVE_API_KEY``. Its scores drift as the service's models change: record the date.
- ``detoxify``: the Detoxify package, if installed with its weights already cached (it downloads
  them otherwise, which this study never does at run time).
- ``moderation``: the plumbing only; no client is implemented here.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

PERSPECTIVE_URL = "https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze"
PERSPECTIVE_KEY_ENV = "PERSPECTIVE_API_KEY"


class OnlineJudge(Protocol):
    name: str

    def score(self, texts: list[str]) -> np.ndarray:  # P(toxic) per text
        ...


@dataclass
class PerspectiveJudge:
    """Perspective API TOXICITY summary score per text (one request per text, rate-limited)."""

    key: str = field(repr=False)  # never printed: repr hides it
    name: str = "perspective"
    requests_per_second: float = 1.0  # the API's default quota
    timeout_s: float = 30.0

    def _request(self, text: str) -> float:
        body = json.dumps(
            {"comment": {"text": text}, "languages": ["en"], "requestedAttributes": {"TOXICITY": {}}}
        ).encode()
        request = urllib.request.Request(
            f"{PERSPECTIVE_URL}?key={self.key}", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 (fixed https URL)
                payload = json.load(response)
        except Exception as exc:  # the URL holds the key: never let it into a message
            raise RuntimeError(f"Perspective API request failed: {type(exc).__name__}") from None
        return float(payload["attributeScores"]["TOXICITY"]["summaryScore"]["value"])

    def score(self, texts: list[str]) -> np.ndarray:
        scores = []
        for text in texts:
            scores.append(self._request(text) if text.strip() else 0.0)
            time.sleep(1.0 / self.requests_per_second)
        return np.array(scores, dtype=float)


@dataclass
class DetoxifyJudge:
    model: Any = field(repr=False)
    name: str = "detoxify"

    def score(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.predict(list(texts))["toxicity"], dtype=float)


def enabled_online_judges(names: list[str], environ: dict[str, str] | None = None) -> tuple[list[Any], dict[str, str]]:
    """The usable judges among ``names`` and a note for each skipped one (``{name: reason}``)."""
    environ = dict(os.environ) if environ is None else environ
    judges: list[Any] = []
    notes: dict[str, str] = {}
    for name in names:
        if name == "perspective":
            key = environ.get(PERSPECTIVE_KEY_ENV, "").strip()
            if key:
                judges.append(PerspectiveJudge(key))
            else:
                notes[name] = f"skipped: environment variable {PERSPECTIVE_KEY_ENV} is not set"
        elif name == "detoxify":
            try:
                from detoxify import Detoxify  # type: ignore[import-not-found]

                judges.append(DetoxifyJudge(Detoxify("original")))
            except Exception as exc:  # not installed, or its weights are not cached (offline)
                notes[name] = f"skipped: Detoxify unavailable offline ({type(exc).__name__})"
        elif name == "moderation":
            notes[name] = "skipped: no moderation-API client is implemented (plumbing only)"
        else:
            notes[name] = "skipped: unknown online judge"
    return judges, notes
