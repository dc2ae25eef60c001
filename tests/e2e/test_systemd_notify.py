"""The daemon speaks systemd's notify protocol to a real datagram socket.

``NOTIFY_SOCKET`` points at an AF_UNIX datagram socket the test binds, as systemd's would
be; ``WATCHDOG_USEC`` asks for pings. The daemon runs in-process against the TheRundown
simulator (see test_daemon.py).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from arbwatch.config import load_config
from arbwatch.daemon import STOP_MARGIN, Daemon
from tests.e2e.test_daemon import WAIT, bootstrapped, running, stage

pytestmark = pytest.mark.anyio


class Listener:
    """The test's end of the notify socket: every datagram, as a set of KEY=VALUE lines."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.messages: list[dict[str, str]] = []

    async def next(self, key: str, timeout: float = WAIT) -> dict[str, str]:
        """Wait for the next message that carries ``key``; keep every message read."""
        with anyio.fail_after(timeout):
            while True:
                await anyio.wait_readable(self.sock)
                data = self.sock.recv(4096).decode()
                fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
                self.messages.append(fields)
                if key in fields:
                    return fields


@contextmanager
def notify_socket(tmp_path: Path) -> Iterator[Listener]:
    """Bind a datagram socket in ``tmp_path`` as systemd would."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(str(path))
    try:
        yield Listener(sock)
    finally:
        sock.close()


async def test_ready_status_watchdog_reload_and_stopping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with notify_socket(tmp_path) as listener:
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        monkeypatch.setenv("WATCHDOG_USEC", "400000")  # WatchdogSec=0.4: a ping every 0.2 s
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        async with stage(tmp_path) as s:
            daemon = Daemon(load_config(s.write_config()))
            async with running(daemon):
                ready = await listener.next("READY")
                assert ready["READY"] == "1"
                assert "feeds 1/1 up" in ready["STATUS"]
                await bootstrapped(daemon, len(s.events))
                # The engine has caught up (nothing pending): it is healthy, so it pings.
                assert (await listener.next("WATCHDOG"))["WATCHDOG"] == "1"

                assert await daemon.apply_reload("test")
                reloading = await listener.next("RELOADING")
                assert int(reloading["MONOTONIC_USEC"]) > 0
                assert "STATUS" in await listener.next("READY")
            stopping = await listener.next("STOPPING")
        assert stopping["STOPPING"] == "1"
        # systemd waits for the flush even past TimeoutStopSec=30: 5 s (the default
        # flush_timeout) plus the margin for closing the rest.
        assert int(stopping["EXTEND_TIMEOUT_USEC"]) == round((5.0 + STOP_MARGIN) * 1e6)
