"""The status listener's server on 127.0.0.1: its limits, met by real sockets.

Each test serves a small answer with limits scaled down (a 0.3 s header timeout rather than
5 s) so that a limit is reached quickly; every wait is bounded by `WAIT`.
"""

from __future__ import annotations

import logging
import os
import resource
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from anyio.abc import SocketStream

from arbwatch.status_http import BoundedHttpServer, Limits, Reply
from tests.e2e.test_status_flood import ROOT
from tests.sinks import until

pytestmark = pytest.mark.anyio

#: Seconds any one wait of a test may take before it fails.
WAIT = 10.0
#: Small limits, so that tests reach them at once.
SMALL = Limits(connections=4, header_timeout=0.3, body_timeout=0.3, header_bytes=512, body_bytes=16)
GET = b"GET /status HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"


def answer(method: str, path: str) -> Reply:
    """Echo the request, so a test sees what the server read."""
    return Reply(200, "text/plain", f"{method} {path}".encode())


@asynccontextmanager
async def serving(limits: Limits) -> AsyncIterator[tuple[BoundedHttpServer, int]]:
    """The server on a free port of 127.0.0.1, until the block ends."""
    server = BoundedHttpServer(answer, limits)
    with socket.create_server(("127.0.0.1", 0)) as sock:
        async with anyio.create_task_group() as group:
            await group.start(server.serve, sock)
            yield server, sock.getsockname()[1]
            group.cancel_scope.cancel()


async def reply_to(port: int, request: bytes) -> bytes:
    """Everything the server sends back to ``request`` until it closes."""
    with anyio.fail_after(WAIT):
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(request)
            return await read_all(stream)


async def read_all(stream: SocketStream) -> bytes:
    """What ``stream`` receives until the other end closes (bounded by the caller)."""
    chunks = []
    while True:
        try:
            chunks.append(await stream.receive())
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return b"".join(chunks)


async def test_a_request_is_answered_once_and_the_connection_closed() -> None:
    async with serving(SMALL) as (server, port):
        data = await reply_to(port, b"GET /status?x=1 HTTP/1.1\r\nhost: a\r\n\r\n")
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert b"connection: close" in head.lower()
        assert body == b"GET /status"
        assert server.counts.served == 1


@pytest.mark.faults
async def test_a_client_that_sends_no_request_is_closed_after_the_header_timeout() -> None:
    async with serving(SMALL) as (server, port):
        with anyio.fail_after(WAIT):
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(b"GET /status HTTP/1.1\r\n")  # and never the rest
                assert await read_all(stream) == b""
        assert server.counts.timed_out == 1
        assert server.counts.served == 0


@pytest.mark.faults
async def test_a_body_that_never_ends_gets_408() -> None:
    async with serving(SMALL) as (server, port):
        with anyio.fail_after(WAIT):
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(b"POST /status HTTP/1.1\r\nhost: a\r\ncontent-length: 10\r\n\r\n")
                assert (await read_all(stream)).startswith(b"HTTP/1.1 408 ")
        assert server.counts.timed_out == 1


@pytest.mark.faults
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"x" * 1000 + b" HTTP/1.1\r\nhost: a\r\n\r\n", b"431"),
        (b"GET /status HTTP/1.1\r\nhost: a\r\ncookie: " + b"x" * 1000 + b"\r\n\r\n", b"431"),
        (b"POST /status HTTP/1.1\r\nhost: a\r\ncontent-length: 17\r\n\r\n" + b"x" * 17, b"413"),
        (b"POST /status HTTP/1.1\r\nhost: a\r\ncontent-length: 16\r\n\r\n" + b"x" * 16, b"200"),
        (b"HELLO\r\n\r\n", b"400"),
    ],
    ids=["long target", "long header", "body over the cap", "body at the cap", "not HTTP"],
)
async def test_oversized_or_malformed_requests_are_refused(
    request_bytes: bytes, status: bytes
) -> None:
    async with serving(SMALL) as (_, port):
        data = await reply_to(port, request_bytes)
        assert data.startswith(b"HTTP/1.1 " + status + b" "), data[:100]


@pytest.mark.faults
async def test_when_every_slot_is_taken_the_oldest_idle_connection_makes_room() -> None:
    async with serving(SMALL) as (server, port):
        with anyio.fail_after(WAIT):
            idle = [await anyio.connect_tcp("127.0.0.1", port) for _ in range(SMALL.connections)]
            try:
                await until(lambda: server.open_connections == SMALL.connections, WAIT)
                # A fifth connection with a real request: the first idle one is closed for it.
                data = await reply_to(port, GET)
                assert data.startswith(b"HTTP/1.1 200 ")
                assert server.counts.evicted == 1
                assert await read_all(idle[0]) == b""
                assert server.open_connections <= SMALL.connections
            finally:
                for stream in idle:
                    await stream.aclose()


@pytest.mark.faults
async def test_out_of_descriptors_the_listener_pauses_logs_once_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limits = Limits(connections=4, header_timeout=WAIT)
    command = [sys.executable, "-m", "tests.e2e.slow_clients", "0", "200", "--on-line"]
    async with serving(limits) as (server, port):
        command[3] = str(port)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        # The connections come from a process of their own, started before the limit
        # drops, and connecting after.
        async with await anyio.open_process(command, cwd=ROOT) as child:
            assert child.stdin is not None
            assert child.stdout is not None
            with anyio.fail_after(WAIT):
                assert (await child.stdout.receive()).strip() == b"waiting"
            with caplog.at_level(logging.WARNING, logger="arbwatch.status_http"):
                # No descriptor to spare: every accept() fails, again and again.
                spare = len(os.listdir("/proc/self/fd")) - 1
                resource.setrlimit(resource.RLIMIT_NOFILE, (spare, hard))
                try:
                    await child.stdin.send(b"go\n")
                    await until(lambda: server.counts.accept_failures >= 10, WAIT)
                finally:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            said = [r.getMessage() for r in caplog.records if r.name == "arbwatch.status_http"]
            assert len(said) == 1, said
            assert "Too many open files" in said[0]
            # With descriptors back, the listener serves again.
            data = await reply_to(port, GET)
            assert data.startswith(b"HTTP/1.1 200 ")
            await child.stdin.aclose()
            with anyio.fail_after(WAIT):
                await child.wait()
