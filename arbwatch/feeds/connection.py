"""The connection loop every feed driver runs: connect, read, hand off, reconnect.

reconnecting(attempt)   runs one connection attempt after another until a fatal failure
                        (a plan without access) or cancellation, waiting a `Backoff` delay
                        between attempts; the attempt calls `healthy()` once its
                        connection delivered a good first message, which resets the
                        backoff. A refused key is a decision, not a stall: the feed is
                        REFUSED (a health alert at once; the daemon exits when every feed
                        is) and tries the key again on a long backoff (`key_retry_backoff`:
                        5, 10, then every 15 minutes by default), since a key can be renewed
frames(ws, idle, stats) yields text frames as they arrive, and ends the connection with
                        a retryable error when nothing arrives for ``idle`` seconds (a
                        server gone silent, a heartbeat that stopped)
receive_frame(ws, stats)  one text frame; a binary frame (neither provider sends one) is
                        counted as malformed and skipped, and a message over the session's
                        limit (`MessageTooBig`, closed with 1009) is counted and ends the
                        connection with a retryable error
Handoff                 passes batches to the engine's bounded stream without ever
                        blocking: the reader must keep draining the socket (httpx-ws
                        queues a bounded number of messages, and a client that stops
                        reading loses its keepalive and its connection), so when the
                        engine is behind a batch is dropped and counted, and a delta feed
                        learns that it must resync
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

import anyio
from anyio.streams.memory import MemoryObjectSendStream
from httpx_ws import AsyncWebSocketSession, WebSocketInvalidTypeReceived

from arbwatch.feeds.base import DEFAULT_KEY_RETRY, Backoff, FeedBatch, FeedError, redact
from arbwatch.feeds.bounded_ws import MessageTooBig
from arbwatch.feeds.failures import Failure, Verdict, classify

log = logging.getLogger("arbwatch.feeds")


class FeedState(Enum):
    """Where a feed is in its life, for status lines and the health endpoint.

    BOOTSTRAPPING: connected and reading, but the start-up snapshot is still coming in
    (TheRundown's events pages, paced): prices are incomplete, so not yet UP.
    """

    CONNECTING = "connecting"
    BOOTSTRAPPING = "bootstrapping"
    UP = "up"
    BACKING_OFF = "backing off"
    #: The provider refused the API key; tried again on a long backoff until it is taken.
    REFUSED = "refused"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass
class FeedStats:
    """Counters a feed keeps about itself; read by status and metrics."""

    name: str
    state: FeedState = FeedState.CONNECTING
    frames: int = 0
    malformed: int = 0
    dropped_batches: int = 0
    reconnects: int = 0
    last_message_at: float | None = None
    #: The last message that carried odds, for feeds whose server sends them on a schedule
    #: whether or not prices moved (RapidOddsAPI's pushes): a greeting after each
    #: reconnect is not news. None: the feed does not tell odds from other messages.
    last_data_at: float | None = None
    #: The last failure, one line, secrets redacted.
    last_error: str = ""
    #: Set when a fatal failure stopped the feed.
    fatal_error: str = ""
    #: Refusals of the key in a row, its tries again included; 0 once a connection is
    #: healthy.
    refusals: int = 0
    extra: dict[str, float] = field(default_factory=dict)


Attempt = Callable[[Callable[[], None]], Awaitable[None]]


def key_retry_backoff(interval: float = DEFAULT_KEY_RETRY) -> Backoff:
    """The backoff between tries of a refused key: ``interval``, doubling up to 3x it."""
    return Backoff(initial=interval, cap=3.0 * interval)


async def reconnecting(
    attempt: Attempt,
    stats: FeedStats,
    *,
    backoff: Backoff | None = None,
    key_retry: Backoff | None = None,
    secrets: tuple[str, ...] = (),
) -> None:
    """Run ``attempt`` until a fatal failure; return then, with ``stats`` saying why.

    ``attempt(healthy)`` opens one connection and reads it until it ends; it calls
    ``healthy()`` after its first good message. A connection that ends without an error is
    retried like a failure, since a feed is meant to run for ever. After a refused key the
    feed stays REFUSED, through its next tries, until a connection is healthy again; it
    waits ``key_retry`` (default `key_retry_backoff`) between them.
    """
    backoff = backoff or Backoff()
    key_retry = key_retry or key_retry_backoff()
    while True:
        if stats.state is not FeedState.REFUSED:
            stats.state = FeedState.CONNECTING

        def healthy() -> None:
            stats.state = FeedState.UP
            stats.refusals = 0
            backoff.reset()
            key_retry.reset()

        try:
            await attempt(healthy)
            failure = Failure(Verdict.RETRY, "the server ended the connection")
        except Exception as error:  # noqa: BLE001 - every failure is classified, none escapes
            failure = classify(error)
        verdict, retry_after = failure.verdict, failure.retry_after
        reason = redact(failure.reason, secrets)
        stats.last_error = reason
        if verdict is Verdict.FATAL:
            stats.state = FeedState.FAILED
            stats.fatal_error = reason
            log.error("feed %s stopped: %s", stats.name, reason)
            return
        if verdict is Verdict.KEY_REFUSED:
            stats.state = FeedState.REFUSED
            stats.refusals += 1
            stats.reconnects += 1
            delay = key_retry.next_delay(retry_after)
            log.error("feed %s: %s; trying the key again in %.0f s", stats.name, reason, delay)
            await anyio.sleep(delay)
            continue
        delay = backoff.next_delay(retry_after)
        stats.state = FeedState.BACKING_OFF
        stats.reconnects += 1
        log.warning("feed %s: %s; reconnecting in %.1f s", stats.name, reason, delay)
        await anyio.sleep(delay)


async def frames(
    ws: AsyncWebSocketSession,
    idle_timeout: float | None,
    stats: FeedStats,
    *,
    oversized_key: str = "oversized_frames",
) -> AsyncIterator[str]:
    """Yield text frames from ``ws``, failing (retryably) after ``idle_timeout`` s of silence.

    None waits for ever. Binary and oversized frames are counted in ``stats`` (see
    `receive_frame`). The frame is received inside the timeout and yielded outside it: a
    cancel scope left open across a ``yield`` would time out the caller's own work.
    """
    limit = idle_timeout if idle_timeout is not None else float("inf")
    while True:
        frame: str | None = None
        with anyio.move_on_after(limit) as scope:
            frame = await receive_frame(ws, stats, oversized_key=oversized_key)
        if scope.cancelled_caught:
            raise FeedError(f"nothing received for {limit:g} s", fatal=False)
        if frame is not None:
            yield frame


async def receive_frame(
    ws: AsyncWebSocketSession, stats: FeedStats, *, oversized_key: str = "oversized_frames"
) -> str | None:
    """The next text frame; None (counted as malformed) for a binary one.

    A message over the session's limit (`MessageTooBig`: the session closed the connection
    with 1009 while it grew) is counted in ``stats.malformed`` and ``stats.extra
    [oversized_key]`` and raised as a retryable `FeedError`: the stream cannot go on
    without the rest of that message.
    """
    try:
        return await ws.receive_text()
    except WebSocketInvalidTypeReceived:
        stats.malformed += 1
        binary = stats.extra["binary_frames"] = stats.extra.get("binary_frames", 0) + 1
        if int(binary) & (int(binary) - 1) == 0:  # 1, 2, 4, 8...: said, without a flood
            log.warning("feed %s: binary frames skipped so far: %d", stats.name, binary)
        return None
    except MessageTooBig as error:
        stats.malformed += 1
        stats.extra[oversized_key] = stats.extra.get(oversized_key, 0) + 1
        raise FeedError(str(error), fatal=False) from error


class Handoff:
    """Sends batches to the engine without blocking; counts what it had to drop."""

    def __init__(self, stream: MemoryObjectSendStream[FeedBatch], stats: FeedStats) -> None:
        """Hand batches to ``stream``, counting drops in ``stats``."""
        self._stream = stream
        self._stats = stats

    def send(self, batch: FeedBatch) -> bool:
        """Pass ``batch`` on; False if the engine is behind and it was dropped."""
        self._stats.last_message_at = batch.received_at
        try:
            self._stream.send_nowait(batch)
        except anyio.WouldBlock:
            self._stats.dropped_batches += 1
            return False
        return True
