"""The shared driver shell (`FeedDriver`) against a real HTTP server on loopback.

A probe driver whose one attempt is a refused REST request shows what every provider's
driver now gets from the shell: the caller's client hooked once, the request paced and
counted, the refusal recorded with the key redacted and an oversized body cut short, and
the feed FAILED after a fatal error, with its reason.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest

from arbwatch.asgi import Receive, Scope, Send
from arbwatch.feeds.base import Backoff, FeedBatch, FeedError
from arbwatch.feeds.connection import FeedState
from arbwatch.feeds.driver import RECORDED_OVERSIZED_CHARS, FeedDriver
from arbwatch.feeds.failures import read_error_bodies
from arbwatch.feeds.recording import FrameRecorder, read_recording
from arbwatch.sim.server import serve

pytestmark = pytest.mark.anyio

KEY = "probe-key-8Jd3kQ"
DETAIL = "no plan " * 500  # 4,000 characters: over the probe's frame limit


async def refusing_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Every request is refused with 403 and a long reason."""
    assert scope["type"] == "http"
    await receive()
    body = json.dumps({"detail": DETAIL}).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@dataclass(frozen=True)
class ProbeSettings:
    name: str = "probe"
    api_key: str = KEY
    key_retry: float = 60.0
    max_requests_per_second: float = 50.0
    max_frame_bytes: int = 2000


class ProbeDriver(FeedDriver):
    """One attempt: GET the odds with the key in the query; a refusal ends the feed."""

    provider = "probe"

    def __init__(self, base: str, client: httpx.AsyncClient | None, path: Path) -> None:
        self.recorder = FrameRecorder(path)
        super().__init__(
            ProbeSettings(),
            client=client,
            recorder=self.recorder,
            clock=lambda: 1_800_000_000.0,
            backoff=Backoff(initial=0.01, cap=0.02),
            request_timeout=5.0,
            logger=logging.getLogger("tests.probe"),
        )
        self.base = base

    async def _attempt(self, healthy: Callable[[], None]) -> None:
        response = await self._paced_get(f"{self.base}/odds", params={"key": KEY})
        self._record("rest:odds", str(response.request.url), response.text, self._clock())
        raise FeedError(self._redact(f"HTTP {response.status_code} for {KEY}"), fatal=True)


async def run_once(driver: FeedDriver) -> None:
    send, receive = anyio.create_memory_object_stream[FeedBatch](1)
    with send, receive, anyio.fail_after(10):
        await driver.run(send)


async def test_the_shell_hooks_paces_records_redacted_and_fails_with_the_reason(
    tmp_path: Path,
) -> None:
    async with serve(refusing_app) as base, httpx.AsyncClient() as client:
        for attempt in range(2):
            driver = ProbeDriver(base, client, tmp_path / f"probe{attempt}.jsonl")
            await run_once(driver)
            driver.recorder.close()
            # The caller's client reads refusal bodies: hooked once, however many runs.
            assert client.event_hooks["response"].count(read_error_bodies) == 1
    assert driver.stats.state is FeedState.FAILED
    assert driver.stats.fatal_error == "HTTP 403 for ***"
    assert driver.stats.extra["rest_requests"] == 1
    text = (tmp_path / "probe1.jsonl").read_text(encoding="utf-8")
    assert KEY not in text
    (frame,) = read_recording(tmp_path / "probe1.jsonl")
    assert (frame.provider, frame.feed, frame.channel) == ("probe", "probe", "rest:odds")
    assert frame.source.endswith("/odds?key=***")
    # Over max_frame_bytes: kept cut short, so that a replay finds it unreadable too.
    assert frame.frame.startswith('{"detail": "no plan')
    assert frame.frame.endswith(f"... ({len(json.dumps({'detail': DETAIL}))} characters)")
    assert len(frame.frame) < RECORDED_OVERSIZED_CHARS + 40


async def test_without_a_client_the_shell_runs_on_its_own(tmp_path: Path) -> None:
    async with serve(refusing_app) as base:
        driver = ProbeDriver(base, None, tmp_path / "own.jsonl")
        await run_once(driver)
        driver.recorder.close()
    assert driver.stats.state is FeedState.FAILED
    (frame,) = read_recording(tmp_path / "own.jsonl")
    assert "no plan" in frame.frame
    assert driver.stats.fatal_error == "HTTP 403 for ***"
