"""Messages bounded while they arrive, against a hostile WebSocket server on 127.0.0.1.

The server is a raw TCP listener speaking WebSocket through wsproto, because what it does
cannot be said through ASGI: one frame that announces 50 MB, or 400 MB in 10,000
fragments, streamed a socket write at a time. Memory is measured with tracemalloc, with
a generous bound: today's httpx-ws would hold the whole message (50 MB, 400 MB).
"""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from functools import partial

import anyio
import httpx
import pytest
import wsproto
from anyio.abc import SocketStream
from wsproto.events import AcceptConnection, CloseConnection, Request

from arbwatch.feeds.base import Backoff
from arbwatch.feeds.bounded_ws import MessageTooBig, aconnect_bounded
from arbwatch.feeds.connection import FeedState, FeedStats, frames, reconnecting
from arbwatch.feeds.failures import read_error_bodies

pytestmark = [pytest.mark.anyio, pytest.mark.faults]

#: What a connection of the hostile server does after the handshake.
Behaviour = Callable[[SocketStream], Awaitable[None]]
#: The limit the client is given in these tests.
LIMIT = 1_000_000
#: What the server writes at a time.
CHUNK = b" " * 65_536
#: Memory the client may use over the limit: the parts and their join (2 x LIMIT), a
#: socket read, and the noise of the event loop. The old session held every byte sent.
MEMORY_BOUND = 3 * LIMIT + 4_000_000
#: Opcodes and flags of RFC 6455's frame header.
TEXT, BINARY, CONTINUATION, FIN = 0x1, 0x2, 0x0, 0x80


def header(opcode: int, length: int, *, fin: bool) -> bytes:
    """A server frame's header (unmasked) for a payload of ``length`` bytes."""
    first = opcode | (FIN if fin else 0)
    if length < 126:
        return bytes([first, length])
    if length < 65_536:
        return bytes([first, 126]) + struct.pack("!H", length)
    return bytes([first, 127]) + struct.pack("!Q", length)


async def stream_payload(stream: SocketStream, length: int) -> None:
    """Write ``length`` bytes of spaces (valid JSON padding), a chunk at a time."""
    while length > 0:
        piece = CHUNK[: min(length, len(CHUNK))]
        await stream.send(piece)
        length -= len(piece)


async def huge_message(stream: SocketStream) -> None:
    """One text frame announcing 50 MB."""
    size = 50_000_000
    await stream.send(header(TEXT, size, fin=True))
    await stream_payload(stream, size)


async def many_fragments(stream: SocketStream) -> None:
    """400 MB in 10,000 fragments of 40 kB."""
    size = 40_000
    for index in range(10_000):
        opcode = TEXT if index == 0 else CONTINUATION
        await stream.send(header(opcode, size, fin=index == 9_999))
        await stream_payload(stream, size)


def fragmented(text: str, parts: int) -> Behaviour:
    """A behaviour: ``text`` sent in ``parts`` fragments, then nothing more."""

    async def send(stream: SocketStream) -> None:
        data = text.encode()
        step = -(-len(data) // parts)
        pieces = [data[i : i + step] for i in range(0, len(data), step)]
        for index, piece in enumerate(pieces):
            opcode = TEXT if index == 0 else CONTINUATION
            await stream.send(header(opcode, len(piece), fin=index == len(pieces) - 1))
            await stream.send(piece)
        await anyio.sleep_forever()

    return send


async def binary_then_text(stream: SocketStream) -> None:
    """A binary frame, then a text one, then nothing more."""
    await stream.send(header(BINARY, 3, fin=True) + b"\x00\x01\x02")
    await stream.send(header(TEXT, 5, fin=True) + b"hello")
    await anyio.sleep_forever()


@dataclass
class Hostile:
    """A WebSocket server whose connections follow a script, one behaviour each."""

    behaviours: list[Behaviour]
    connections: int = 0
    #: The close code each connection's client sent, when it sent one.
    close_codes: list[int] = field(default_factory=list)

    async def handle(self, stream: SocketStream) -> None:
        """Accept the handshake, then run this connection's behaviour."""
        behaviour = self.behaviours[min(self.connections, len(self.behaviours) - 1)]
        self.connections += 1
        ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        async with stream:
            with anyio.fail_after(5):
                while True:
                    ws.receive_data(await stream.receive())
                    request = next((e for e in ws.events() if isinstance(e, Request)), None)
                    if request is not None:
                        break
            await stream.send(ws.send(AcceptConnection()))
            async with anyio.create_task_group() as group:

                async def read_close() -> None:
                    async for data in stream:
                        ws.receive_data(data)
                        for event in ws.events():
                            if isinstance(event, CloseConnection):
                                self.close_codes.append(event.code)
                                group.cancel_scope.cancel()
                                return

                group.start_soon(read_close)
                # The client going away mid-write is what these tests expect.
                with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    await behaviour(stream)
                await anyio.sleep(5)  # bounded: the reader ends it on the client's close
                group.cancel_scope.cancel()


@asynccontextmanager
async def serve(hostile: Hostile) -> AsyncIterator[str]:
    """``hostile`` listening on a free port of 127.0.0.1; yields its ws:// URL."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, hostile.handle)
        yield f"ws://127.0.0.1:{port}/ws"
        group.cancel_scope.cancel()


async def first_text(hostile: Hostile) -> str:
    """The first text message the client reads from ``hostile``."""
    async with serve(hostile) as url, httpx.AsyncClient() as client:
        with anyio.fail_after(20):
            async with aconnect_bounded(url, client, max_message_bytes=LIMIT) as ws:
                return await ws.receive_text()


async def peak_memory(run: Callable[[], Awaitable[None]]) -> int:
    """The peak of Python allocations while ``run()`` is awaited, over what was before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        await run()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("behaviour", [huge_message, many_fragments], ids=["50MB", "fragments"])
async def test_a_message_over_the_limit_is_refused_as_it_grows(
    behaviour: Behaviour,
) -> None:
    hostile = Hostile([behaviour])
    refused: list[BaseExceptionGroup[BaseException]] = []

    async def run() -> None:
        try:
            await first_text(hostile)
        except BaseExceptionGroup as group:  # httpx-ws raises from its task group
            refused.append(group)

    peak = await peak_memory(run)
    assert len(refused) == 1
    assert refused[0].split(MessageTooBig)[0] is not None
    assert hostile.close_codes == [1009]
    assert peak < MEMORY_BOUND, f"peak {peak:,} bytes"


async def test_a_message_within_the_limit_arrives_whole_from_many_fragments() -> None:
    text = '{"é": "' + "x" * (LIMIT - 100) + '"}'
    assert await first_text(Hostile([fragmented(text, 997)])) == text


async def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    text = "é" * (LIMIT // 2 + 1)  # within the limit in characters, over it in bytes
    with pytest.raises(BaseExceptionGroup) as caught:
        await first_text(Hostile([fragmented(text, 10)]))
    assert caught.group_contains(MessageTooBig)


async def test_a_feed_survives_oversized_and_binary_messages_and_counts_them() -> None:
    hostile = Hostile([huge_message, many_fragments, binary_then_text])
    stats = FeedStats("hostile")
    received: list[str] = []
    async with (
        serve(hostile) as url,
        httpx.AsyncClient(event_hooks={"response": [read_error_bodies]}) as client,
    ):

        async def attempt(healthy: Callable[[], None]) -> None:
            async with aconnect_bounded(url, client, max_message_bytes=LIMIT) as ws:
                async for frame in frames(ws, None, stats):
                    received.append(frame)
                    healthy()

        async with anyio.create_task_group() as group:
            group.start_soon(
                partial(reconnecting, attempt, stats, backoff=Backoff(initial=0.01, cap=0.05))
            )
            with anyio.fail_after(30):
                while not received:
                    await anyio.sleep(0.01)
            group.cancel_scope.cancel()
    assert received == ["hello"]
    assert stats.state is FeedState.UP
    assert stats.reconnects == 2
    assert stats.malformed == 3  # two oversized messages and one binary frame
    assert stats.extra == {"oversized_frames": 2, "binary_frames": 1}
    assert hostile.close_codes[:2] == [1009, 1009]
    assert "1009" in stats.last_error
