"""Serve a simulator (an ASGI app) on a loopback port, inside the caller's task group.

uvicorn with wsproto: a real HTTP and WebSocket server on a real socket, which supports the
ASGI WebSocket denial response, so a simulator can refuse a handshake with 401, 403 or 429
as the real providers do. Only 127.0.0.1 is ever bound.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import anyio
import uvicorn

from arbwatch.asgi import ASGIApp, QuietServer, Receive, Send

LOOPBACK: Final = "127.0.0.1"
#: How long the server may take to start before `serve` gives up.
STARTUP_TIMEOUT: Final = 10.0
#: How long open connections get to finish when the server stops.
SHUTDOWN_GRACE: Final = 1


async def serve_lifespan(receive: Receive, send: Send) -> None:
    """Answer an ASGI lifespan for a simulator with nothing to start or stop.

    `serve` turns lifespan off, but another ASGI server may send one.
    """
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


@asynccontextmanager
async def serve(app: ASGIApp, port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 (any free port by default); yield its ``http://`` base URL.

    The server stops when the block exits.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOOPBACK, port))
    listener.listen(128)
    bound_port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        ws="wsproto",
        lifespan="off",
        log_level="warning",
        access_log=False,
        # The simulators send ping-free streams, as the providers document none.
        ws_ping_interval=None,
        # A simulator's handlers stream for ever; on exit they are cancelled after this.
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )
    server = QuietServer(config)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve, [listener])
            with anyio.fail_after(STARTUP_TIMEOUT):
                while not server.started:
                    await anyio.sleep(0.005)
            try:
                yield f"http://{LOOPBACK}:{bound_port}"
            finally:
                server.should_exit = True
    finally:
        listener.close()
