"""The connection loop against a real WebSocket server on loopback."""

import random
from typing import Any

import anyio
import httpx
import pytest
from httpx_ws import AsyncWebSocketSession, aconnect_ws

from arbwatch.asgi import Receive, Scope, Send
from arbwatch.feeds.base import Backoff, FeedBatch
from arbwatch.feeds.connection import FeedState, FeedStats, Handoff, frames, reconnecting
from arbwatch.feeds.failures import read_error_bodies
from arbwatch.sim.server import serve

pytestmark = pytest.mark.anyio


class Script:
    """A WebSocket server whose connections follow a script: one behaviour per connection."""

    def __init__(self, behaviours: list[str]) -> None:
        self.behaviours = behaviours
        self.connections = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        await receive()
        behaviour = self.behaviours[min(self.connections, len(self.behaviours) - 1)]
        self.connections += 1
        if behaviour == "refuse-403":
            await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
            await send({"type": "websocket.http.response.body", "body": b'{"detail":"Plan"}'})
            return
        await send({"type": "websocket.accept"})
        if behaviour == "close-1011":
            await send({"type": "websocket.close", "code": 1011})
        elif behaviour == "close-1008":
            await send({"type": "websocket.close", "code": 1008, "reason": "Policy"})
        elif behaviour == "close-4001":
            await send({"type": "websocket.close", "code": 4001, "reason": "Invalid API key"})
        elif behaviour == "hello-then-close":
            await send({"type": "websocket.send", "text": "hello"})
            await send({"type": "websocket.close", "code": 1011})
        elif behaviour == "silent":
            await anyio.sleep(30)


async def run_against(
    script: Script,
    *,
    idle: float | None = None,
    budget: float = 10.0,
    backoff: Backoff | None = None,
    key_retry: Backoff | None = None,
    states: list[FeedState] | None = None,
) -> FeedStats:
    """Run the connection loop against ``script`` until it stops for good.

    ``states`` receives the feed's state as each attempt starts.
    """
    stats = FeedStats("test")
    async with (
        serve(script) as url,
        httpx.AsyncClient(event_hooks={"response": [read_error_bodies]}) as client,
    ):

        async def attempt(healthy: object) -> None:
            if states is not None:
                states.append(stats.state)
            ws: AsyncWebSocketSession
            async with aconnect_ws(url.replace("http", "ws") + "/ws", client) as ws:
                async for _ in frames(ws, idle, stats):
                    assert callable(healthy)
                    healthy()

        with anyio.fail_after(budget):
            await reconnecting(
                attempt,
                stats,
                backoff=backoff or Backoff(initial=0.01, cap=0.05),
                key_retry=key_retry or Backoff(initial=0.01, cap=0.05),
            )
    return stats


async def test_a_bad_key_at_the_handshake_stops_the_feed_at_once() -> None:
    script = Script(["refuse-403"])
    stats = await run_against(script)
    assert stats.state is FeedState.FAILED
    assert stats.fatal_error == "handshake refused: HTTP 403 (Plan)"
    assert script.connections == 1


async def test_close_1008_is_fatal_after_retrying_1011() -> None:
    script = Script(["close-1011", "close-1011", "close-1008"])
    stats = await run_against(script)
    assert script.connections == 3
    assert stats.reconnects == 2
    assert stats.fatal_error == "server closed the connection with code 1008 (Policy)"


class RecordingBackoff(Backoff):
    """A backoff that notes each delay it would wait in ``delays`` and waits none."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.delays: list[float] = []

    def next_delay(self, retry_after: float | None = None) -> float:
        self.delays.append(super().next_delay(retry_after))
        return 0.0


async def test_a_refused_key_is_tried_again_on_its_own_backoff_until_it_is_taken() -> None:
    states: list[FeedState] = []
    script = Script(["close-4001", "close-4001", "hello-then-close", "close-4001", "close-1008"])
    key_retry = RecordingBackoff(initial=300.0, cap=900.0, jitter=0.0)
    stats = await run_against(script, key_retry=key_retry, states=states)
    # 5 min, then 10; the key was taken (hello), so the next refusal waits 5 min again.
    assert key_retry.delays == [300.0, 600.0, 300.0]
    # Refused through its retries: never "connecting" (down) while the key is refused.
    assert states == [
        FeedState.CONNECTING,
        FeedState.REFUSED,
        FeedState.REFUSED,
        FeedState.CONNECTING,
        FeedState.REFUSED,
    ]
    assert stats.reconnects == 4
    assert stats.state is FeedState.FAILED  # the 1008 that ends the script


async def test_silence_past_the_idle_limit_reconnects() -> None:
    script = Script(["silent", "silent", "close-1008"])
    stats = await run_against(script, idle=0.05)
    assert script.connections == 3
    assert stats.reconnects == 2
    assert "nothing received for 0.05 s" in stats.last_error or stats.fatal_error


async def test_the_backoff_resets_only_after_a_healthy_message() -> None:
    script = Script(["close-1011", "close-1011", "hello-then-close", "close-1011", "close-1008"])
    backoff = RecordingBackoff(jitter=0.0, rng=random.Random(1))
    await run_against(script, backoff=backoff)
    delays = backoff.delays
    # 1 s, 2 s; the third connection said hello, so its failure waits 1 s again, then 2 s.
    assert delays == [1.0, 2.0, 1.0, 2.0]


async def test_the_handoff_never_blocks_and_counts_drops() -> None:
    send, receive = anyio.create_memory_object_stream[FeedBatch](1)
    stats = FeedStats("test")
    handoff = Handoff(send, stats)
    batch = FeedBatch("test", 5.0, (), ())
    assert handoff.send(batch)
    assert not handoff.send(batch)
    assert stats.dropped_batches == 1
    assert stats.last_message_at == 5.0
    assert receive.receive_nowait() is batch
    send.close()
    receive.close()
