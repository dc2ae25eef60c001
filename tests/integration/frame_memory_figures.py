"""Figures, not a test: the memory a hostile WebSocket message costs the client.

Each case runs in a fresh process against the hostile server of `test_bounded_ws` on
127.0.0.1, with the feeds' default limit (16 MB), and prints the peak resident memory over
the process's baseline (VmHWM - VmRSS before) and what is still resident afterwards::

    python -m tests.integration.frame_memory_figures            # the bounded session
    python -m tests.integration.frame_memory_figures --unbounded  # httpx-ws 0.9 as it is
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

import anyio
import httpx
from httpx_ws import AsyncWebSocketSession, aconnect_ws

from arbwatch.feeds.base import MAX_FRAME_BYTES
from arbwatch.feeds.bounded_ws import aconnect_bounded
from tests.integration.test_bounded_ws import (
    Behaviour,
    Hostile,
    huge_message,
    many_fragments,
    serve,
)


def _status(field: str) -> int:
    """A VmXXX line of /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


async def _receive(behaviour: Behaviour, unbounded: bool) -> str:
    """Read one message; say how it ended."""
    async with serve(Hostile([behaviour])) as url, httpx.AsyncClient() as client:
        ws: AsyncWebSocketSession
        try:
            if unbounded:
                async with aconnect_ws(url, client) as ws:
                    return f"received {len(await ws.receive_text()):,} characters"
            async with aconnect_bounded(url, client, max_message_bytes=MAX_FRAME_BYTES) as ws:
                return f"received {len(await ws.receive_text()):,} characters"
        except BaseException as error:  # noqa: BLE001 - a figure script reports every ending
            while isinstance(error, BaseExceptionGroup):
                error = error.exceptions[0]
            return f"{type(error).__name__}: {error}"


def _case(name: str, behaviour: Behaviour, unbounded: bool) -> None:
    """One case in this process: print its figures."""
    before = _status("VmRSS")
    ending = anyio.run(_receive, behaviour, unbounded)
    peak, after = _status("VmHWM"), _status("VmRSS")
    mb = 1024 * 1024
    print(
        f"{name:<28} peak +{(peak - before) / mb:6.1f} MB, kept +{(after - before) / mb:6.1f} MB"
        f"  ({ending})",
        flush=True,
    )


def main() -> None:
    """Each case in its own process, so that one's peak is not the next one's baseline."""
    unbounded = "--unbounded" in sys.argv
    session = "httpx-ws 0.9" if unbounded else f"bounded, {MAX_FRAME_BYTES:,} bytes"
    print(f"session: {session}")
    cases = [("one 50 MB message", huge_message), ("400 MB in 10,000 fragments", many_fragments)]
    for name, behaviour in cases:
        process = multiprocessing.get_context("fork").Process(
            target=_case, args=(name, behaviour, unbounded)
        )
        process.start()
        process.join()


if __name__ == "__main__":
    main()
