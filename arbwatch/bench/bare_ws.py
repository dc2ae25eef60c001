"""The transport's own speed: a bare httpx-ws client reading a WebSocket as fast as it can.

Run as a process of its own by `arbwatch.bench.e2e`, so that its CPU is not the bench's:
it connects, reads and drops every message for ``SECONDS`` (counted from the first one),
and prints one JSON line ``{"frames": N, "seconds": S}``::

    python -m arbwatch.bench.bare_ws ws://127.0.0.1:PORT/api/v2/ws/markets?key=K SECONDS
"""

from __future__ import annotations

import json
import sys
import time
from typing import Final

import anyio
import httpx
from httpx_ws import AsyncWebSocketSession, aconnect_ws

#: The largest message read (the bench's frames are a few hundred bytes).
MAX_MESSAGE: Final = 16 * 1024 * 1024
#: How long the first message may take to come.
FIRST_FRAME_TIMEOUT: Final = 30.0


async def read_for(url: str, seconds: float) -> tuple[int, float]:
    """Messages read in ``seconds`` after the first one, and the seconds it really took."""
    ws: AsyncWebSocketSession
    async with (
        httpx.AsyncClient() as client,
        aconnect_ws(url, client, max_message_size_bytes=MAX_MESSAGE) as ws,
    ):
        with anyio.fail_after(FIRST_FRAME_TIMEOUT):
            await ws.receive()
        frames = 0
        started = time.monotonic()
        with anyio.move_on_after(seconds):
            while True:
                await ws.receive()
                frames += 1
        return frames, time.monotonic() - started


def main(argv: list[str]) -> None:
    """Read the URL for the seconds given and print the count."""
    url, seconds = argv[0], float(argv[1])
    frames, took = anyio.run(read_for, url, seconds)
    print(json.dumps({"frames": frames, "seconds": took}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
