"""2,000 slow connections to the status port while the daemon keeps working.

The daemon runs in-process against TheRundown's simulator, its status listener on
127.0.0.1, and this process is held to systemd's default of 1,024 descriptors, as the
service was. The flood comes from a process of its own (`tests.e2e.slow_clients`): 2,000
sockets that connect and send half a request line, then nothing. Before the listener was
bounded, each held a descriptor in the daemon until none was left: /status timed out, a
feed could not reconnect, and every failed accept was logged.
"""

from __future__ import annotations

import logging
import resource
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import httpx
import pytest

from arbwatch.config import load_config
from arbwatch.daemon import Daemon
from arbwatch.feeds.connection import FeedState
from tests.e2e.test_daemon import WAIT, arb, bootstrapped, running, stage
from tests.e2e.test_status import free_port, write_config
from tests.sinks import until

pytestmark = [pytest.mark.anyio, pytest.mark.faults]

#: Slow connections held open at once.
FLOOD = 2000
#: systemd's default soft limit on descriptors, which the unit used to leave in place.
SYSTEMD_DEFAULT_NOFILE = 1024
#: Requests made to /status while the flood is held.
PROBES = 5
#: The project's root, where ``python -m tests.e2e.slow_clients`` is found.
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def descriptors_at_most(limit: int) -> Iterator[None]:
    """This process's soft RLIMIT_NOFILE lowered to ``limit`` (if above), then restored."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        yield
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@asynccontextmanager
async def slow_clients(port: int, count: int) -> AsyncIterator[None]:
    """``count`` slow connections to ``port`` held by a child process until the block ends."""
    command = [sys.executable, "-m", "tests.e2e.slow_clients", str(port), str(count)]
    async with await anyio.open_process(command, cwd=ROOT) as child:
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            with anyio.fail_after(WAIT):
                line = await child.stdout.receive()
            assert line.decode().strip() == f"held {count}"
            yield
        finally:
            # Its standard input closing is its signal to close every connection and end.
            await child.stdin.aclose()
            with anyio.fail_after(WAIT):
                await child.wait()


async def test_2000_slow_connections_leave_status_feeds_and_alerts_working(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with stage(tmp_path) as s:
        port = free_port()
        path = write_config(s, f"status:\n  listen: 127.0.0.1:{port}\n")
        daemon = Daemon(load_config(path))
        with descriptors_at_most(SYSTEMD_DEFAULT_NOFILE):
            async with running(daemon), httpx.AsyncClient(timeout=WAIT) as client:
                await bootstrapped(daemon, len(s.events))
                rundown = daemon.feeds[0].stats
                caplog.clear()
                with caplog.at_level(logging.INFO):
                    async with slow_clients(port, FLOOD):
                        # /status answers again and again while the flood is held.
                        for _ in range(PROBES):
                            response = await client.get(f"http://127.0.0.1:{port}/status")
                            assert response.status_code == 200
                            assert response.json()["feeds_up"] == 1
                        # The feed's socket is closed; it connects again (a descriptor).
                        s.rundown.faults.close_code = 1011
                        await until(lambda: rundown.reconnects >= 1, WAIT)
                        await until(lambda: rundown.state is FeedState.UP, WAIT)
                        # And it keeps delivering: an alert still goes out.
                        s.price(s.events[0], arb(2.10, 2.10))
                        mail = await s.smtp.next_mail(WAIT)
                        assert "ARB" in mail["Subject"]
                    # Warnings and errors from anything (the SMTP server logs each of its
                    # lines at INFO), and anything the status listener said.
                    flood_log = [
                        r.getMessage()
                        for r in caplog.records
                        if r.levelno >= logging.WARNING or r.name.startswith("arbwatch.status")
                    ]
                # Nothing logged per connection: a few lines at most (the feed's reconnect),
                # against one or more per connection before.
                assert len(flood_log) < FLOOD // 100, flood_log[:20]
                response = await client.get(f"http://127.0.0.1:{port}/metrics")
                assert response.status_code == 200
