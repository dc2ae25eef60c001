"""Loopback receivers for alert delivery tests: a JSON webhook and an SMTP server.

Both run in the test's own event loop on 127.0.0.1, and hand what they receive to the test
through memory streams, so a test waits for a delivery (bounded) instead of polling.
`until` waits, bounded, for a condition on state no stream reports (a daemon's counters).
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from aiosmtpd.smtp import SMTP, Envelope, Session

from arbwatch.asgi import Receive, Scope, Send, read_body
from arbwatch.sim.server import serve

WAIT = 5.0
#: Seconds between looks at a condition in `until`.
POLL = 0.01


async def until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(POLL)


@dataclass(frozen=True)
class Reply:
    """How the webhook answers one request.

    ``then`` runs as the request arrives; the answer waits until ``release`` is set, if given.
    """

    status: int = 200
    release: anyio.Event | None = None
    then: Callable[[], None] | None = None


class JsonReceiver:
    """An ASGI app that takes apprise ``json://`` posts.

    It answers from a script of `Reply` (``default`` once the script runs out) and passes
    every post it answered with 200 to `next_post`; ``requests`` counts every request.
    """

    def __init__(self, *replies: Reply, default: Reply = Reply()) -> None:
        self.default = default
        self.replies = deque(replies)
        self.requests = 0
        self._send, self._receive = anyio.create_memory_object_stream[dict[str, Any]](100)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        self.requests += 1
        reply = self.replies.popleft() if self.replies else self.default
        if reply.then is not None:
            reply.then()
        if reply.release is not None:
            await reply.release.wait()
        if reply.status == 200:
            payload = json.loads(body)
            payload["path"] = scope["path"]
            self._send.send_nowait(payload)
        await send({"type": "http.response.start", "status": reply.status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def next_post(self, timeout: float = WAIT) -> dict[str, Any]:
        """The next post answered 200, waiting at most ``timeout`` seconds."""
        with anyio.fail_after(timeout):
            return await self._receive.receive()

    def close(self) -> None:
        self._send.close()
        self._receive.close()

    def nothing_more(self) -> bool:
        """True when no delivered post is waiting to be read."""
        return self._receive.statistics().current_buffer_used == 0


@asynccontextmanager
async def json_receiver(
    *replies: Reply, default: Reply = Reply()
) -> AsyncIterator[tuple[JsonReceiver, str]]:
    """A running `JsonReceiver` and its ``json://127.0.0.1:PORT`` base URL."""
    receiver = JsonReceiver(*replies, default=default)
    try:
        async with serve(receiver) as base:
            yield receiver, base.replace("http://", "json://", 1)
    finally:
        receiver.close()


class _Inbox:
    """An aiosmtpd handler passing every message to a memory stream."""

    def __init__(self) -> None:
        self.send, self.receive = anyio.create_memory_object_stream[email.message.EmailMessage](100)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.send.send_nowait(parsed)
        return "250 OK"


class SmtpServer:
    """A plain SMTP server (no TLS, no login) on 127.0.0.1 that keeps what it receives."""

    def __init__(self, inbox: _Inbox, port: int) -> None:
        self._inbox = inbox
        self.port = port

    async def next_mail(self, timeout: float = WAIT) -> email.message.EmailMessage:
        """The next message received, waiting at most ``timeout`` seconds."""
        with anyio.fail_after(timeout):
            return await self._inbox.receive.receive()

    def nothing_more(self) -> bool:
        """True when no received message is waiting to be read."""
        return self._inbox.receive.statistics().current_buffer_used == 0

    def url(self, to: str = "bettor@example.com") -> str:
        """An apprise ``mailto://`` URL that sends here (no TLS, no login)."""
        return f"mailto://127.0.0.1:{self.port}?from=arbwatch@example.com&to={to}"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[SmtpServer]:
    """Run aiosmtpd in this event loop on a free loopback port."""
    inbox = _Inbox()
    loop = asyncio.get_running_loop()
    # hostname given: aiosmtpd would otherwise look up this machine's FQDN, which can be slow.
    server = await loop.create_server(
        lambda: SMTP(inbox, hostname="localhost", loop=loop), "127.0.0.1", 0
    )
    try:
        yield SmtpServer(inbox, server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()
        inbox.send.close()
        inbox.receive.close()
