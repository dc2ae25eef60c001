"""Figures, not a test: slow connections flooding the status port, as issue 13 measured it.

The daemon runs in-process against TheRundown's simulator on 127.0.0.1, held to systemd's
default of 1,024 descriptors; a process of its own (`tests.e2e.slow_clients`) holds 1,100
slow connections to the status port for 30 s. Meanwhile /status is asked every second,
the feed's socket is closed once (it must connect again), an arbitrage is priced every
5 s on another game, and every log line the daemon writes is counted. Takes about 40 s::

    python -m tests.e2e.flood_figures
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import anyio
import httpx

from arbwatch.config import load_config
from arbwatch.daemon import Daemon
from arbwatch.feeds.connection import FeedState
from tests.e2e.test_daemon import arb, bootstrapped, running, stage
from tests.e2e.test_status import free_port, write_config
from tests.e2e.test_status_flood import SYSTEMD_DEFAULT_NOFILE, descriptors_at_most, slow_clients

#: Slow connections, as in the issue's table.
FLOOD = 1100
#: Seconds the flood is held.
HOLD = 30.0
#: Seconds a /status probe may take before it counts as timed out.
PROBE_TIMEOUT = 2.0


class CountingHandler(logging.Handler):
    """Counts the lines and bytes the daemon logs (not the test's SMTP server's own)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines = 0
        self.bytes = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("mail.log"):
            return
        self.lines += 1
        self.bytes += len(self.format(record)) + 1


async def main() -> None:
    """Hold the flood and print what the daemon did meanwhile."""
    counting = CountingHandler()
    logging.getLogger().addHandler(counting)
    logging.getLogger().setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        async with stage(Path(tmp)) as s:
            port = free_port()
            daemon = Daemon(load_config(write_config(s, f"status:\n  listen: 127.0.0.1:{port}\n")))
            with descriptors_at_most(SYSTEMD_DEFAULT_NOFILE):
                async with running(daemon), httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
                    await bootstrapped(daemon, len(s.events))
                    feed = daemon.feeds[0].stats
                    lines_before, bytes_before = counting.lines, counting.bytes
                    answered = failed = 0
                    slowest = 0.0
                    back_up: float | None = None
                    async with slow_clients(port, FLOOD):
                        start = time.monotonic()
                        s.rundown.faults.close_code = 1011
                        for second in range(int(HOLD)):
                            if second % 5 == 0 and second // 5 < len(s.events):
                                s.price(s.events[second // 5], arb(2.10, 2.10))
                            asked = time.monotonic()
                            try:
                                response = await client.get(f"http://127.0.0.1:{port}/status")
                                answered += response.status_code == 200
                            except httpx.HTTPError:
                                failed += 1
                            slowest = max(slowest, time.monotonic() - asked)
                            if back_up is None and feed.reconnects and feed.state is FeedState.UP:
                                back_up = time.monotonic() - start
                            await anyio.sleep(max(0.0, start + second + 1 - time.monotonic()))
                    health = daemon.health()
                    sent = sum(c.sent for c in health.channels)
                    stale = sum(c.dropped_stale for c in health.channels)
                    print(
                        f"{FLOOD} slow connections held {HOLD:.0f} s, {SYSTEMD_DEFAULT_NOFILE} fds"
                    )
                    print(f"/status: {answered} answered, {failed} failed, slowest {slowest:.3f} s")
                    print(
                        "feed closed at +0 s: "
                        + (f"up again at +{back_up:.1f} s" if back_up else "not up again")
                        + f" ({feed.reconnects} reconnects)"
                    )
                    print(f"alerts sent {sent}, dropped as stale {stale}")
                    print(
                        f"log: {counting.lines - lines_before} lines, "
                        f"{(counting.bytes - bytes_before) / 1024:.0f} KB"
                    )
                    daemon.stop()


if __name__ == "__main__":
    anyio.run(main)
