"""Optional online toxicity judges, extra to the offline ones (which stay the default).

Enabled by ``evaluation.online_judges``; keys come from the environment only, never from
parameters or notebooks, and never appear in any output (notes and errors name the variable, not
its value). A judge whose key or package is missing is skipped with a note, not an error.

- ``perspective``: Google's Perspective API (TOXICITY attribute), one text per request; key
  ``PERSPECTIVE_API_KEY``. Its scores drift as the service's models change: record the date.
- ``moderation``: OpenAI's moderation endpoint, many texts per request; key ``OPENAI_API_KEY``.
  A text's score is the highest of its hate and harassment category scores (the categories that
  mean toxicity here; sexual content, self-harm and violence are not what the study measures).
- ``detoxify``: the Detoxify package, if installed with its weights already cached (it downloads
  them otherwise, which this study never does at run time).

The network judges survive a flaky network: each request is retried with exponential backoff
(tenacity) on a timeout, a refused connection, HTTP 429 or a 5xx answer; requests are spaced to
stay under the service's quota; and every score is kept in a cache on disk keyed by the judge's
version and the text's SHA-256, so a re-run (or a resumed one) asks only for texts never scored.
The endpoints can be pointed elsewhere (a proxy; the tests' fake server) with
``SRLLM_PERSPECTIVE_URL`` and ``SRLLM_MODERATION_URL``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from ..core.paths import cache_dir

PERSPECTIVE_URL = "https://commentanalyzer.googleapis.com/v1alpha1/comments:analyze"
PERSPECTIVE_KEY_ENV = "PERSPECTIVE_API_KEY"
PERSPECTIVE_URL_ENV = "SRLLM_PERSPECTIVE_URL"
MODERATION_URL = "https://api.openai.com/v1/moderations"
MODERATION_KEY_ENV = "OPENAI_API_KEY"
MODERATION_URL_ENV = "SRLLM_MODERATION_URL"
MODERATION_MODEL = "omni-moderation-latest"
# The moderation categories that stand for toxicity in this study (see the module's docstring).
TOXIC_CATEGORIES = ("hate", "hate/threatening", "harassment", "harassment/threatening")


class OnlineJudge(Protocol):
    name: str

    def score(self, texts: list[str]) -> np.ndarray:  # P(toxic) per text
        ...


class TransientError(RuntimeError):
    """A failure worth retrying: a timeout, a refused connection, HTTP 429 or 5xx."""


class ScoreCache:
    """Scores already obtained, in SQLite under the cache directory: (judge version, SHA-256 of text) -> score.

    SQLite because several evaluation processes may write at once and a killed run must not leave a
    half-written file; the text itself is not stored, only its hash."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else cache_dir() / "online_scores.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS scores (version TEXT NOT NULL, text_sha256 TEXT NOT NULL, "
                "score REAL NOT NULL, PRIMARY KEY (version, text_sha256))"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one transaction: committed (or rolled back) and closed at the end."""
        db = sqlite3.connect(self.path, timeout=60)
        try:
            with db:
                yield db
        finally:
            db.close()

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, version: str, texts: Iterable[str]) -> dict[str, float]:
        """``{text: score}`` for those of ``texts`` already scored by this judge version."""
        by_key = {self.key(t): t for t in texts}
        found: dict[str, float] = {}
        keys = list(by_key)
        with self._lock, self._connect() as db:
            for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
                chunk = keys[start : start + 500]
                rows = db.execute(
                    f"SELECT text_sha256, score FROM scores WHERE version = ? AND text_sha256 IN ({','.join('?' * len(chunk))})",  # noqa: S608 (placeholders only)
                    [version, *chunk],
                )
                found.update({by_key[k]: float(s) for k, s in rows})
        return found

    def put(self, version: str, scores: dict[str, float]) -> None:
        with self._lock, self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO scores (version, text_sha256, score) VALUES (?, ?, ?)",
                [(version, self.key(t), float(s)) for t, s in scores.items()],
            )


class RateLimiter:
    """At most ``per_second`` requests a second, spaced evenly (a quota counts requests, cached texts are free)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep  # injectable, so a test can check the spacing without timing it

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


def post_json(url: str, body: dict[str, Any], headers: dict[str, str], timeout_s: float, service: str) -> Any:
    """POST ``body`` as JSON and return the decoded answer. Errors never quote the URL or the headers
    (they may hold the key): only the service's name and the HTTP status or the exception's type."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (http(s) URL from us)
            return json.load(response)
    except urllib.error.HTTPError as exc:
        exc.close()  # the error holds the answer's connection
        if exc.code == 429 or exc.code >= 500:
            raise TransientError(f"{service}: HTTP {exc.code}") from None
        raise RuntimeError(f"{service} request refused: HTTP {exc.code}") from None
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as exc:
        raise TransientError(f"{service}: {type(exc).__name__}") from None
    except ValueError:  # an answer that is not JSON (a proxy's error page)
        raise TransientError(f"{service}: the answer was not JSON") from None


@dataclass
class _NetworkJudge:
    """What the network judges share: the cache, the spacing of requests, retries with backoff."""

    name: str = ""
    requests_per_second: float = 1.0
    timeout_s: float = 30.0
    attempts: int = 6  # the first try and 5 retries
    backoff_s: float = 1.0  # waits of 1, 2, 4, 8, ... s between attempts
    max_backoff_s: float = 60.0
    batch_size: int = 1
    cache: ScoreCache | None = field(default=None, repr=False)
    requests_made: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self._limiter = RateLimiter(self.requests_per_second)

    @property
    def version(self) -> str:  # the cache key: a new version of a judge never reuses old scores
        raise NotImplementedError

    def _request(self, texts: list[str]) -> list[float]:
        raise NotImplementedError

    def _request_with_retries(self, texts: list[str]) -> list[float]:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=self.max_backoff_s),
            retry=retry_if_exception_type(TransientError),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._limiter.wait()
                    self.requests_made += 1
                    return self._request(texts)
        except TransientError as exc:
            raise RuntimeError(f"{exc}; gave up after {self.attempts} attempts") from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def score(self, texts: list[str]) -> np.ndarray:
        """P(toxic) per text (an empty text scores 0 without a request); each distinct text is asked for once."""
        cache = self.cache if self.cache is not None else ScoreCache()
        wanted = list(dict.fromkeys(t for t in texts if t.strip()))
        known = cache.get(self.version, wanted)
        missing = [t for t in wanted if t not in known]
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            scores = dict(zip(batch, self._request_with_retries(batch), strict=True))
            cache.put(self.version, scores)  # at once: an interrupted run keeps what it paid for
            known.update(scores)
        return np.array([known[t] if t.strip() else 0.0 for t in texts], dtype=float)


@dataclass
class PerspectiveJudge(_NetworkJudge):
    """Perspective API TOXICITY summary score per text (one request per text; the default quota is 1 a second)."""

    key: str = field(default="", repr=False)  # never printed: repr hides it
    name: str = "perspective"
    url: str = PERSPECTIVE_URL

    @property
    def version(self) -> str:
        return "perspective/v1alpha1/TOXICITY/en"

    def _request(self, texts: list[str]) -> list[float]:
        (text,) = texts
        body = {"comment": {"text": text}, "languages": ["en"], "requestedAttributes": {"TOXICITY": {}}}
        payload = post_json(f"{self.url}?key={self.key}", body, {}, self.timeout_s, "Perspective API")
        try:
            return [float(payload["attributeScores"]["TOXICITY"]["summaryScore"]["value"])]
        except (KeyError, TypeError, ValueError):
            raise RuntimeError("Perspective API: the answer has no TOXICITY summary score") from None


@dataclass
class ModerationJudge(_NetworkJudge):
    """OpenAI moderation: the highest of the hate and harassment category scores (TOXIC_CATEGORIES)."""

    key: str = field(default="", repr=False)
    name: str = "moderation"
    url: str = MODERATION_URL
    model: str = MODERATION_MODEL
    batch_size: int = 32

    @property
    def version(self) -> str:
        return f"openai-moderation/{self.model}/max({','.join(TOXIC_CATEGORIES)})"

    def _request(self, texts: list[str]) -> list[float]:
        body = {"model": self.model, "input": texts}
        payload = post_json(self.url, body, {"Authorization": f"Bearer {self.key}"}, self.timeout_s, "moderation API")
        try:
            results = payload["results"]
            if len(results) != len(texts):
                raise ValueError
            return [max(float(r["category_scores"].get(c, 0.0)) for c in TOXIC_CATEGORIES) for r in results]
        except (KeyError, TypeError, ValueError):
            raise RuntimeError("moderation API: the answer does not hold one result with category scores per text") from None


@dataclass
class DetoxifyJudge:
    model: Any = field(repr=False)
    name: str = "detoxify"

    def score(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.predict(list(texts))["toxicity"], dtype=float)


def enabled_online_judges(
    names: list[str], environ: dict[str, str] | None = None, cache: ScoreCache | None = None
) -> tuple[list[Any], dict[str, str]]:
    """The usable judges among ``names`` and a note for each skipped one (``{name: reason}``)."""
    environ = dict(os.environ) if environ is None else environ
    judges: list[Any] = []
    notes: dict[str, str] = {}
    network = {
        "perspective": (PerspectiveJudge, PERSPECTIVE_KEY_ENV, PERSPECTIVE_URL_ENV, PERSPECTIVE_URL),
        "moderation": (ModerationJudge, MODERATION_KEY_ENV, MODERATION_URL_ENV, MODERATION_URL),
    }
    for name in names:
        if name in network:
            judge_class, key_env, url_env, default_url = network[name]
            key = environ.get(key_env, "").strip()
            if key:
                judges.append(judge_class(key=key, url=environ.get(url_env, "").strip() or default_url, cache=cache))
            else:
                notes[name] = f"skipped: environment variable {key_env} is not set"
        elif name == "detoxify":
            try:
                from detoxify import Detoxify  # type: ignore[import-not-found]

                judges.append(DetoxifyJudge(Detoxify("original")))
            except Exception as exc:  # not installed, or its weights are not cached (offline)
                notes[name] = f"skipped: Detoxify unavailable offline ({type(exc).__name__})"
        else:
            notes[name] = "skipped: unknown online judge"
    return judges, notes
