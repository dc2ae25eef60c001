"""The status listener's HTTP/1.1 server: one GET per connection, bounded in every way.

A client of ``/status`` or ``/metrics`` sends one small request and reads a reply, so the
server takes nothing more (`Limits`): at most 64 connections open at once, 5 s for the
request line and headers (at most 8 KB), 5 s for a body of at most 1 KB, 10 s for the
reply, then the connection is closed (``Connection: close``: a scraper opens a new one
next time, and no idle keep-alive connection holds a slot).

When every slot is taken, the oldest connection still waiting for its request is closed
to make room: a flood of clients that connect and send nothing (or a byte a minute)
holds no more than 64 descriptors, and a real request, which arrives with its
connection, is answered. When accepting fails for want of descriptors or memory, the
server pauses and logs once a minute with a count, never once per connection.

h11 parses the protocol (it is what uvicorn's h11 mode uses too); this module only bounds
it. uvicorn, which the simulators use, has no header timeout and accepts every
connection, which is how a slow-connection flood used to exhaust the daemon's descriptors.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import anyio
import h11
from anyio.abc import SocketListener, SocketStream, TaskGroup, TaskStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one listener allows; the defaults are the daemon's (tests pass smaller ones).

    Attributes:
        connections: served at once. A scraper or two and `arbwatch status` need a few;
            64 leave room for a dashboard's bursts while bounding the descriptors held.
        header_timeout: seconds from accepting a connection to its last header line.
        body_timeout: seconds for the request's body once its headers are in.
        write_timeout: seconds to write the reply (/status of a busy daemon is some
            hundred kilobytes).
        header_bytes: the request line and headers together; a browser's GET is under 2 KB.
        body_bytes: a request body: nothing served here reads one, so only a small one is
            waited for.
    """

    connections: int = 64
    header_timeout: float = 5.0
    body_timeout: float = 5.0
    write_timeout: float = 10.0
    header_bytes: int = 8 * 1024
    body_bytes: int = 1024


#: Bytes read from a connection at a time.
RECEIVE_SIZE: Final = 4096
#: Seconds the accept loop waits after running out of descriptors or memory.
ACCEPT_PAUSE: Final = 0.1
#: Seconds between log lines about failed accepts (each says how many there were).
ACCEPT_LOG_INTERVAL: Final = 60.0
#: Errors of accept() that mean "out of resources, try again later".
_EXHAUSTED: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: Errors of accept() about one connection that went away before it was accepted (Linux
#: also passes on a pending network error of the new socket): the next one is fine.
_CLIENT_GONE: Final = frozenset(
    {errno.ECONNABORTED, errno.ECONNRESET, errno.EPROTO, errno.EPERM, errno.ETIMEDOUT,
     errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EOPNOTSUPP}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer a request with."""

    status: int
    content_type: str
    body: bytes
    headers: Sequence[tuple[str, str]] = ()


#: Answers a request: (method, path without the query) -> the reply. Runs in the event loop.
Answer = Callable[[str, str], Reply]


@dataclass(slots=True)
class ListenerCounts:
    """What the listener turned away, for tests and figures.

    Attributes:
        served: requests answered (any status).
        evicted: connections closed unanswered to make room for a new one.
        timed_out: connections closed for taking too long over their request.
        accept_failures: accept() calls that failed for want of descriptors or memory.
    """

    served: int = 0
    evicted: int = 0
    timed_out: int = 0
    accept_failures: int = 0


@dataclass(eq=False, slots=True)
class _Slot:
    """One open connection: how to close it and whether it still waits for a request."""

    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    waiting: bool = True


class BoundedHttpServer:
    """Serves `Answer` on a listening socket within the limits of the module docstring."""

    def __init__(self, answer: Answer, limits: Limits | None = None) -> None:
        """Answer each request with ``answer``, within ``limits`` (default: `Limits()`)."""
        self._answer = answer
        self.limits = limits or Limits()
        self.counts = ListenerCounts()
        # Open connections, oldest first (dicts keep insertion order).
        self._slots: dict[_Slot, None] = {}
        self._accept_failures_logged = 0
        self._accept_logged_at = -ACCEPT_LOG_INTERVAL

    @property
    def open_connections(self) -> int:
        """Connections open now."""
        return len(self._slots)

    async def serve(
        self, sock: socket.socket, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Accept on ``sock`` (listening already) until cancelled; the caller closes it."""
        listener = await SocketListener.from_socket(sock)
        async with anyio.create_task_group() as group:
            task_status.started()
            while True:
                try:
                    stream = await listener.accept()
                except OSError as error:
                    if error.errno in _CLIENT_GONE:
                        continue
                    if error.errno not in _EXHAUSTED:
                        raise
                    self._accept_failed(error)
                    await anyio.sleep(ACCEPT_PAUSE)
                    continue
                self._admit(stream, group)

    def _admit(self, stream: SocketStream, group: TaskGroup) -> None:
        """Serve ``stream``, closing the oldest idle connection if every slot is taken."""
        if len(self._slots) >= self.limits.connections:
            oldest = next((slot for slot in self._slots if slot.waiting), None)
            if oldest is None:
                # Every slot is writing a reply: the newcomer waits for none of them.
                group.start_soon(stream.aclose)
                self.counts.evicted += 1
                return
            del self._slots[oldest]
            oldest.scope.cancel()
            self.counts.evicted += 1
        slot = _Slot()
        self._slots[slot] = None
        group.start_soon(self._connection, stream, slot)

    def _accept_failed(self, error: OSError) -> None:
        """Count a failed accept; log at most once per `ACCEPT_LOG_INTERVAL`."""
        self.counts.accept_failures += 1
        now = time.monotonic()
        if now - self._accept_logged_at < ACCEPT_LOG_INTERVAL:
            return
        failures = self.counts.accept_failures - self._accept_failures_logged
        self._accept_failures_logged = self.counts.accept_failures
        self._accept_logged_at = now
        logger.warning(
            "status: cannot accept connections (%s); %d failed since the last report, "
            "pausing %.1f s after each",
            error.strerror,
            failures,
            ACCEPT_PAUSE,
        )

    async def _connection(self, stream: SocketStream, slot: _Slot) -> None:
        """One request and its reply, then close; closed at once if evicted."""
        try:
            with slot.scope:
                async with stream:
                    await self._exchange(stream, slot)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass  # the client went away mid-way: nothing to answer
        finally:
            self._slots.pop(slot, None)

    async def _exchange(self, stream: SocketStream, slot: _Slot) -> None:
        """Read the request within the limits, answer it."""
        connection = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.header_bytes)
        try:
            request = await self._request(stream, connection)
            if request is None:
                return
            slot.waiting = False
            reply = await self._reply(stream, connection, request)
        except h11.RemoteProtocolError as error:
            slot.waiting = False
            reply = Reply(error.error_status_hint, "text/plain", b"bad request\n")
        if connection.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return  # h11 cannot answer here (the request broke off mid-way): just close
        self.counts.served += 1
        with anyio.move_on_after(self.limits.write_timeout):
            await stream.send(_response_bytes(connection, reply))

    async def _request(
        self, stream: SocketStream, connection: h11.Connection
    ) -> h11.Request | None:
        """The request line and headers; None if the client closed or took too long."""
        with anyio.move_on_after(self.limits.header_timeout):
            event = await _next_event(stream, connection)
            if not isinstance(event, h11.Request):
                return None
            # h11 caps what it buffers while a request is incomplete; one that arrived
            # whole in a single read is measured here.
            if _header_size(event) > self.limits.header_bytes:
                raise h11.RemoteProtocolError("request headers too large", error_status_hint=431)
            return event
        self.counts.timed_out += 1
        return None

    async def _reply(
        self, stream: SocketStream, connection: h11.Connection, request: h11.Request
    ) -> Reply:
        """The answer to ``request`` once its body is in, or why the body is refused."""
        with anyio.move_on_after(self.limits.body_timeout):
            refused = await _read_body(stream, connection, self.limits.body_bytes)
            if refused is not None:
                return refused
            path = request.target.decode("ascii", "replace").partition("?")[0]
            return self._answer(request.method.decode("ascii", "replace"), path)
        self.counts.timed_out += 1
        return Reply(408, "text/plain", b"request timeout\n")


def _header_size(request: h11.Request) -> int:
    """About the bytes of ``request``'s line and headers as sent (name: value, CRLF)."""
    line = len(request.method) + len(request.target) + len(" HTTP/1.1\r\n") + 1
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers)


async def _next_event(stream: SocketStream, connection: h11.Connection) -> object:
    """The next h11 event, reading from ``stream`` as needed (ConnectionClosed at its end)."""
    while True:
        event = connection.next_event()
        if event is not h11.NEED_DATA:
            return event
        try:
            data = await stream.receive(RECEIVE_SIZE)
        except anyio.EndOfStream:
            data = b""
        connection.receive_data(data)


async def _read_body(stream: SocketStream, connection: h11.Connection, most: int) -> Reply | None:
    """Read and drop the request's body; a reply if it is over ``most`` bytes, else None."""
    size = 0
    while True:
        event = await _next_event(stream, connection)
        if isinstance(event, h11.Data):
            size += len(event.data)
            if size > most:
                return Reply(413, "text/plain", b"request body too large\n")
        elif isinstance(event, h11.EndOfMessage):
            return None
        else:
            raise h11.RemoteProtocolError("the request ended early", error_status_hint=400)


def _response_bytes(connection: h11.Connection, reply: Reply) -> bytes:
    """The whole reply as bytes; ``Connection: close`` (one request per connection).

    h11 lets a server answer a request it could not parse (from its idle state), which is
    how a malformed or oversized request gets its 400 or 431.
    """
    headers = [
        ("content-type", reply.content_type),
        ("content-length", str(len(reply.body))),
        ("cache-control", "no-store"),
        ("connection", "close"),
        *reply.headers,
    ]
    return b"".join(
        [
            connection.send(h11.Response(status_code=reply.status, headers=headers)) or b"",
            connection.send(h11.Data(data=reply.body)) or b"",
            connection.send(h11.EndOfMessage()) or b"",
        ]
    )
