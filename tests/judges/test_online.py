"""The online judges against a fake service on 127.0.0.1: retries, the score cache, request spacing.

Nothing here reaches the real network: every judge is pointed at the fake server, and the fixture
checks that the URL is local before any request is made.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from srllm.judges.online import (
    MODERATION_KEY_ENV,
    MODERATION_URL_ENV,
    PERSPECTIVE_KEY_ENV,
    PERSPECTIVE_URL_ENV,
    ModerationJudge,
    PerspectiveJudge,
    RateLimiter,
    ScoreCache,
    enabled_online_judges,
)

SECRET = "sk-test-secret-not-real-4242"


def toxicity_of(text: str) -> float:
    """The fake service's score: a function of the text, so a wrong pairing of texts and scores shows."""
    return round(len(text) / 100, 4)


class FakeService:
    """Perspective at /perspective and moderation at /moderations; ``fail_next`` answers fail with that status."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next: list[int] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                service.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization"), "at": time.monotonic()}
                )
                if service.fail_next:
                    self.send_response(service.fail_next.pop(0))
                    self.end_headers()
                    return
                if self.path.startswith("/perspective"):
                    value = toxicity_of(body["comment"]["text"])
                    answer: Any = {"attributeScores": {"TOXICITY": {"summaryScore": {"value": value, "type": "PROBABILITY"}}}}
                else:
                    answer = {"id": "modr-1", "model": body["model"], "results": [
                        {"flagged": False, "category_scores": {"hate": toxicity_of(t) / 2, "harassment": toxicity_of(t),
                                                               "sexual": 0.99, "violence": 0.98}}
                        for t in body["input"]
                    ]}  # fmt: skip
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def paths(self, prefix: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].startswith(prefix)]


@pytest.fixture
def service() -> Iterator[FakeService]:
    fake = FakeService()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def _perspective(service: FakeService, cache: ScoreCache, **kwargs: Any) -> PerspectiveJudge:
    judge = PerspectiveJudge(key=SECRET, url=f"{service.base}/perspective", cache=cache, backoff_s=0.01,
                             requests_per_second=1000, **kwargs)  # fmt: skip
    assert judge.url.startswith("http://127.0.0.1:")  # never the real service
    return judge


def _moderation(service: FakeService, cache: ScoreCache, **kwargs: Any) -> ModerationJudge:
    judge = ModerationJudge(key=SECRET, url=f"{service.base}/moderations", cache=cache, backoff_s=0.01,
                            requests_per_second=1000, **kwargs)  # fmt: skip
    assert judge.url.startswith("http://127.0.0.1:")
    return judge


def test_a_failing_request_is_retried(service: FakeService, tmp_path: Path) -> None:
    service.fail_next = [503, 429]
    judge = _perspective(service, ScoreCache(tmp_path / "scores.sqlite"))
    scores = judge.score(["you are a fine person"])
    assert scores.tolist() == [toxicity_of("you are a fine person")]
    assert len(service.paths("/perspective")) == 3 and judge.requests_made == 3
    assert SECRET in service.requests[0]["path"]  # the key is sent ...


def test_the_judge_gives_up_without_showing_the_key(service: FakeService, tmp_path: Path) -> None:
    service.fail_next = [503] * 10
    judge = _perspective(service, ScoreCache(tmp_path / "scores.sqlite"), attempts=3)
    with pytest.raises(RuntimeError) as error:
        judge.score(["hello"])
    assert "HTTP 503" in str(error.value) and "3 attempts" in str(error.value)
    assert SECRET not in str(error.value) and SECRET not in repr(judge)  # ... and never shown
    assert len(service.requests) == 3


def test_a_refused_request_is_not_retried(service: FakeService, tmp_path: Path) -> None:
    service.fail_next = [403]
    with pytest.raises(RuntimeError, match="HTTP 403"):
        _perspective(service, ScoreCache(tmp_path / "scores.sqlite")).score(["hello"])
    assert len(service.requests) == 1


def test_a_cached_score_is_not_requested_again(service: FakeService, tmp_path: Path) -> None:
    cache_path = tmp_path / "scores.sqlite"
    first = _perspective(service, ScoreCache(cache_path)).score(["a b", "c d e", "a b", ""])
    assert first.tolist() == [toxicity_of("a b"), toxicity_of("c d e"), toxicity_of("a b"), 0.0]
    assert [r["body"]["comment"]["text"] for r in service.requests] == ["a b", "c d e"]  # each distinct text once
    # A new judge and a new connection to the cache on disk, as in a later run: only the new text is asked for.
    again = _perspective(service, ScoreCache(cache_path)).score(["c d e", "fresh text", "a b"])
    assert again.tolist() == [toxicity_of("c d e"), toxicity_of("fresh text"), toxicity_of("a b")]
    assert [r["body"]["comment"]["text"] for r in service.requests] == ["a b", "c d e", "fresh text"]
    # Another judge version never reuses these scores.
    _moderation(service, ScoreCache(cache_path)).score(["a b"])
    assert len(service.paths("/moderations")) == 1


def test_moderation_batches_texts_and_scores_hate_and_harassment(service: FakeService, tmp_path: Path) -> None:
    texts = [f"text number {i}" for i in range(5)]
    judge = _moderation(service, ScoreCache(tmp_path / "scores.sqlite"), batch_size=2)
    scores = judge.score(texts)
    # The highest of the hate and harassment scores; the fake's high sexual and violence scores do not count.
    np.testing.assert_allclose(scores, [toxicity_of(t) for t in texts])
    requests = service.paths("/moderations")
    assert [r["body"]["input"] for r in requests] == [texts[0:2], texts[2:4], texts[4:5]]
    assert all(r["auth"] == f"Bearer {SECRET}" and r["body"]["model"] == "omni-moderation-latest" for r in requests)
    judge.score(texts)
    assert len(service.paths("/moderations")) == 3  # all cached


def test_requests_are_spaced_to_the_rate_limit(service: FakeService, tmp_path: Path) -> None:
    # A fake clock: the limiter's sleeps move it, so the spacing is checked exactly, not timed.
    clock = {"now": 100.0}
    released: list[float] = []

    def sleep(seconds: float) -> None:
        clock["now"] += seconds

    limiter = RateLimiter(10.0, clock=lambda: clock["now"], sleep=sleep)  # 10 requests a second
    for _ in range(4):
        limiter.wait()
        released.append(clock["now"])
        clock["now"] += 0.01  # each request takes 10 ms
    assert [round(b - a, 6) for a, b in zip(released, released[1:])] == [0.1, 0.1, 0.1]
    judge = _perspective(service, ScoreCache(tmp_path / "scores.sqlite"))
    waits: list[int] = []
    original = judge._limiter.wait
    judge._limiter.wait = lambda: (waits.append(1), original())[1]  # type: ignore[method-assign]
    judge.score(["one", "two", "three", "four"])
    assert len(service.requests) == len(waits) == 4  # every request goes through the limiter


def test_endpoints_and_keys_come_from_the_environment(service: FakeService, tmp_path: Path) -> None:
    environ = {
        PERSPECTIVE_KEY_ENV: SECRET, PERSPECTIVE_URL_ENV: f"{service.base}/perspective",
        MODERATION_KEY_ENV: SECRET, MODERATION_URL_ENV: f"{service.base}/moderations",
    }  # fmt: skip
    judges, notes = enabled_online_judges(["perspective", "moderation"], environ, ScoreCache(tmp_path / "s.sqlite"))
    assert notes == {} and [j.name for j in judges] == ["perspective", "moderation"]
    assert [j.url for j in judges] == [environ[PERSPECTIVE_URL_ENV], environ[MODERATION_URL_ENV]]
    for judge in judges:
        judge.backoff_s, judge._limiter.interval = 0.01, 0.0
        assert judge.score(["some text"]).tolist() == [toxicity_of("some text")]
    judges, notes = enabled_online_judges(["moderation"], {})
    assert judges == [] and MODERATION_KEY_ENV in notes["moderation"]
