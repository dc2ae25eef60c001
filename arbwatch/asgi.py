"""What the simulators and the status listener share to run an ASGI app under uvicorn."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def read_body(receive: Receive) -> bytes:
    """The whole body of an HTTP request, however many messages it came in."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        parts.append(bytes(message.get("body", b"")))
        if not message.get("more_body"):
            return b"".join(parts)


class QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers.

    uvicorn installs its own SIGINT/SIGTERM handlers while it serves, which would take the
    signals away from `arbwatch.runner` (the daemon) or from the program running a simulator.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install nothing: whoever runs the server handles signals."""
        yield
