"""A WebSocket session that refuses a message as it grows past a size, not once it is whole.

httpx-ws 0.9 assembles a fragmented message by concatenating each fragment onto what came
before (quadratic copying, and every intermediate string alive at once), and its
``max_message_size_bytes`` is only the size of each socket read: a message of any size is
kept whole before anyone can look at its length. One 50 MB message peaked at 179 MB, and
400 MB in 10,000 fragments at 979 MB. wsproto has no message limit of its own, but it hands
over a frame's payload as it arrives (a partial ``Message`` event per socket read), so the
size is known while the message grows.

`BoundedWebSocketSession` overrides httpx-ws's receive loop (the smallest change: the
same loop, with a running count and a list of parts joined once) so that a message over
``max_message_bytes`` (text counted in UTF-8 bytes, as it came over the wire) closes the
connection with 1009 (message too big) and reaches the reader as `MessageTooBig`. Memory
then stays within the limit plus one socket read while a message grows, and twice the
limit for the moment it is joined.

Messages are also handed over by arrival, not one by one. httpx-ws's queue between its
receive loop and the reader is a rendezvous (its ``queue_size`` is not used by the async
session): each message costs the reader a wait and a task switch, so the reader never sees
more than one message at a time. Here every message of one socket read goes into the
session's own queue and the reader is woken once; `receive` then returns what is queued
without waiting, and `take_arrived` says whether a message is there, so a feed reads every
frame already waiting before it hands a batch on. The receive loop reads the socket again
only once the reader took the wake-up, so at most two socket reads wait in the queue.

`aconnect_bounded` is `httpx_ws.aconnect_ws` with such a session.
"""

from __future__ import annotations

import contextlib
import functools
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

import anyio
import httpcore
import httpx
import wsproto
from httpx_ws import (
    AsyncWebSocketSession,
    HTTPXWSException,
    WebSocketDisconnect,
    WebSocketNetworkError,
    aconnect_ws,
)
from httpx_ws._api import EndOfStream  # the end of the stream, as httpx-ws's own loop sees it
from wsproto.frame_protocol import CloseReason

#: httpx-ws's defaults: 64 KiB per socket read, a keepalive ping every 20 s.
DEFAULT_READ_CHUNK_BYTES: Final = 65_536
DEFAULT_KEEPALIVE_SECONDS: Final = 20.0


class MessageTooBig(HTTPXWSException):
    """The server sent a message over the session's limit; the connection was closed (1009)."""

    def __init__(self, limit: int) -> None:
        """Say which limit was passed."""
        super().__init__(f"a message over {limit} bytes; closed with 1009 (message too big)")
        self.limit = limit


class _Arrived(HTTPXWSException):
    """Not an error: the wake-up that tells the reader messages wait in the session's queue.

    An exception type because httpx-ws's stream carries events and its own exceptions.
    """


_ARRIVED: Final = _Arrived("messages arrived")


class BoundedWebSocketSession(AsyncWebSocketSession):
    """httpx-ws's session with messages bounded while they arrive (see the module docstring).

    The limit is a class attribute because httpx-ws builds the session itself, passing
    only its own arguments; `bounded_session` makes the class for a limit.
    """

    #: The largest message accepted, in bytes (text in UTF-8).
    max_message_bytes: int = 16 * 1024 * 1024

    # httpx-ws's own arguments, passed through as they come.
    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        """httpx-ws's session, with a queue of what arrived and was not read yet."""
        super().__init__(*args, **kwargs)
        self._arrived: deque[wsproto.events.Event | HTTPXWSException] = deque()

    def take_arrived(self) -> bool:
        """Whether a message (or the connection's end) waits: `receive` will not wait."""
        return bool(self._arrived)

    async def receive(self, timeout: float | None = None) -> wsproto.events.Event:
        """The next event: at once if one has arrived, else the first to come.

        Raises as httpx-ws's `receive` does (`WebSocketDisconnect`, `WebSocketNetworkError`,
        `TimeoutError`), and `MessageTooBig`.
        """
        arrived = self._arrived
        if not arrived:
            with anyio.fail_after(timeout):
                while not arrived:
                    woken = await self._receive_event.receive()
                    if woken is not _ARRIVED:
                        # The keepalive task's error: it does not go through the queue.
                        arrived.append(woken)
        event = arrived.popleft()
        if isinstance(event, HTTPXWSException):
            raise event
        if isinstance(event, wsproto.events.CloseConnection):
            raise WebSocketDisconnect(event.code, event.reason)
        return event

    async def _background_receive(self, max_bytes: int) -> None:
        """httpx-ws's receive loop, counting each message's size as its parts arrive.

        ``max_bytes`` is what one socket read takes (httpx-ws's ``max_message_size_bytes``).
        """
        parts: list[str | bytes] = []
        size = 0
        arrived = self._arrived
        try:
            while not self._should_close.is_set():
                data = await self._read_stream(max_bytes)
                self.connection.receive_data(data)
                for event in self.connection.events():
                    if isinstance(event, wsproto.events.Ping):
                        reply = self.connection.send(event.response())
                        async with self._write_lock:
                            await self.stream.write(reply)
                        continue
                    if isinstance(event, wsproto.events.Pong):
                        self._ping_manager.ack(event.payload)
                        continue
                    if isinstance(event, wsproto.events.CloseConnection):
                        self._should_close.set()
                    if isinstance(event, wsproto.events.Message):
                        size += _wire_size(event.data)
                        if size > self.max_message_bytes:
                            parts.clear()
                            await self.close(CloseReason.MESSAGE_TOO_BIG, "message too big")
                            arrived.append(MessageTooBig(self.max_message_bytes))
                            await self._send_event.send(_ARRIVED)
                            return
                        if not event.message_finished:
                            parts.append(event.data)
                            continue
                        whole: wsproto.events.Event = event
                        if parts:
                            parts.append(event.data)
                            whole = _joined(event, parts)
                            parts = []
                        size = 0
                        arrived.append(whole)
                        continue
                    arrived.append(event)
                if arrived:
                    # One wake-up for the whole read; the next read waits until the reader
                    # took it, so the queue holds at most this read and the one before.
                    await self._send_event.send(_ARRIVED)
        except (httpcore.ReadError, httpcore.WriteError, EndOfStream):
            await self.close(CloseReason.INTERNAL_ERROR, "Stream error")
            arrived.append(WebSocketNetworkError())
            await self._send_event.send(_ARRIVED)


def _wire_size(data: str | bytes) -> int:
    """The size of a message part as it came over the wire: text in UTF-8 bytes."""
    if isinstance(data, bytes) or data.isascii():
        return len(data)
    return len(data.encode())


def _joined(last: wsproto.events.Message[Any], parts: list[str | bytes]) -> wsproto.events.Event:
    """The whole message, its parts joined once (httpx-ws adds them one by one)."""
    if isinstance(last, wsproto.events.TextMessage):
        return wsproto.events.TextMessage("".join(p for p in parts if isinstance(p, str)))
    return wsproto.events.BytesMessage(b"".join(p for p in parts if isinstance(p, bytes)))


@functools.cache
def bounded_session(max_message_bytes: int) -> type[BoundedWebSocketSession]:
    """The session class that refuses messages over ``max_message_bytes``."""
    if max_message_bytes <= 0:
        raise ValueError(f"max_message_bytes must be positive, got {max_message_bytes}")

    class Bounded(BoundedWebSocketSession):
        """A `BoundedWebSocketSession` with its limit set."""

    Bounded.max_message_bytes = max_message_bytes
    return Bounded


@contextlib.asynccontextmanager
async def aconnect_bounded(
    url: str,
    client: httpx.AsyncClient,
    *,
    max_message_bytes: int,
    read_chunk_bytes: int = DEFAULT_READ_CHUNK_BYTES,
    keepalive_seconds: float = DEFAULT_KEEPALIVE_SECONDS,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> AsyncIterator[BoundedWebSocketSession]:
    """`httpx_ws.aconnect_ws` whose messages are bounded by ``max_message_bytes``.

    ``read_chunk_bytes`` is what one socket read takes (aconnect_ws's
    ``max_message_size_bytes``); a ping goes out every ``keepalive_seconds`` and its pong
    must come within as long. ``headers`` and ``params`` go with the handshake.
    """
    # Only given params are passed: httpx replaces the URL's own query with any given.
    extra: dict[str, Any] = {"params": dict(params)} if params else {}
    async with aconnect_ws(
        url,
        client,
        max_message_size_bytes=read_chunk_bytes,
        keepalive_ping_interval_seconds=keepalive_seconds,
        keepalive_ping_timeout_seconds=keepalive_seconds,
        session_class=bounded_session(max_message_bytes),
        headers=dict(headers or {}),
        **extra,
    ) as ws:
        yield ws
