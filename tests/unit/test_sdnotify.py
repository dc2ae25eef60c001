"""The notify protocol against real AF_UNIX datagram sockets standing in for systemd."""

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from arbwatch.sdnotify import SystemdNotifier, WatchdogGate, watchdog_interval

#: Every receive waits at most this long: a message that was sent is already queued.
RECEIVE_TIMEOUT = 2.0


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[socket.socket]:
    """A datagram socket bound where systemd's would be, in a fresh directory."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(RECEIVE_TIMEOUT)
        yield sock


@pytest.fixture
def notifier(systemd: socket.socket) -> Iterator[SystemdNotifier]:
    found = SystemdNotifier.from_environ({"NOTIFY_SOCKET": systemd.getsockname()})
    assert found is not None
    with found:
        yield found


def receive(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_with_status(systemd: socket.socket, notifier: SystemdNotifier) -> None:
    assert notifier.ready("watching 3 feeds")
    assert receive(systemd) == ["READY=1", "STATUS=watching 3 feeds"]


def test_ready_alone(systemd: socket.socket, notifier: SystemdNotifier) -> None:
    assert notifier.ready()
    assert receive(systemd) == ["READY=1"]


def test_status_is_one_line(systemd: socket.socket, notifier: SystemdNotifier) -> None:
    assert notifier.status("2 feeds up\nrundown: reconnecting\r\nin 4 s")
    assert receive(systemd) == ["STATUS=2 feeds up rundown: reconnecting in 4 s"]


def test_watchdog(systemd: socket.socket, notifier: SystemdNotifier) -> None:
    assert notifier.watchdog()
    assert receive(systemd) == ["WATCHDOG=1"]


def test_reloading_says_when_on_the_monotonic_clock(
    systemd: socket.socket, notifier: SystemdNotifier
) -> None:
    start = _monotonic_usec()
    assert notifier.reloading()
    end = _monotonic_usec()
    reloading, stamp = receive(systemd)
    assert reloading == "RELOADING=1"
    key, _, value = stamp.partition("=")
    assert key == "MONOTONIC_USEC"
    assert start <= int(value) <= end


def _monotonic_usec() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def test_stopping(systemd: socket.socket, notifier: SystemdNotifier) -> None:
    assert notifier.stopping()
    assert receive(systemd) == ["STOPPING=1"]


def test_stopping_asks_for_the_time_the_shutdown_needs(
    systemd: socket.socket, notifier: SystemdNotifier
) -> None:
    assert notifier.stopping(needs=45.5)
    assert receive(systemd) == ["STOPPING=1", "EXTEND_TIMEOUT_USEC=45500000"]


def test_notify_sends_fields_in_order_as_one_datagram(
    systemd: socket.socket, notifier: SystemdNotifier
) -> None:
    assert notifier.notify(STATUS="draining", ERRNO=0, EXTEND_TIMEOUT_USEC=5_000_000)
    assert receive(systemd) == ["STATUS=draining", "ERRNO=0", "EXTEND_TIMEOUT_USEC=5000000"]


def test_abstract_namespace() -> None:
    name = f"arbwatch-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(RECEIVE_TIMEOUT)
        notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "@" + name})
        assert notifier is not None
        with notifier:
            assert notifier.address == "\0" + name
            assert notifier.ready("up")
        assert receive(sock) == ["READY=1", "STATUS=up"]


def test_none_outside_systemd() -> None:
    assert SystemdNotifier.from_environ({}) is None
    assert SystemdNotifier.from_environ({"NOTIFY_SOCKET": ""}) is None


def test_none_for_an_address_it_cannot_use(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="arbwatch.sdnotify"):
        assert SystemdNotifier.from_environ({"NOTIFY_SOCKET": "vsock:2:1234"}) is None
    assert "vsock:2:1234" in caplog.text


def test_reads_os_environ_by_default(
    systemd: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", systemd.getsockname())
    notifier = SystemdNotifier.from_environ()
    assert notifier is not None
    with notifier:
        assert notifier.watchdog()
    assert receive(systemd) == ["WATCHDOG=1"]


def test_a_dead_socket_is_logged_once_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "gone"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
    path.unlink()  # systemd went away: nothing listens there any more
    notifier = SystemdNotifier(str(path))
    with caplog.at_level(logging.DEBUG, logger="arbwatch.sdnotify"), notifier:
        assert not notifier.ready("up")
        assert not notifier.watchdog()
        assert not notifier.stopping()
    assert notifier.failures == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()


def test_a_full_receiver_does_not_block(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "busy"))
        notifier = SystemdNotifier(str(tmp_path / "busy"))
        with notifier:
            # Nobody reads: the receive queue fills and a blocking send would hang here.
            sent = 0
            for _ in range(100_000):
                if not notifier.notify(STATUS="x" * 1000):
                    break
                sent += 1
            assert sent > 0
            assert notifier.failures == 1


def test_close_then_send_reopens(systemd: socket.socket, notifier: SystemdNotifier) -> None:
    notifier.close()
    notifier.close()  # closing twice is harmless
    assert notifier.watchdog()
    assert receive(systemd) == ["WATCHDOG=1"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "1000"}, 0.0005),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "not-a-pid"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "30s"}, None),
        ({"WATCHDOG_USEC": ""}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(environ: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(environ) == expected


def test_watchdog_interval_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 10.0


# WatchdogGate: (events before `now`, now, should it ping), WatchdogSec 30 s.
@pytest.mark.parametrize(
    ("events", "now", "expected"),
    [
        ([], 0.0, False),  # nothing reported yet: not known to be healthy
        ([("progress", 100.0)], 100.0, True),
        ([("progress", 100.0)], 130.0, True),  # exactly stall_after ago still counts
        ([("progress", 100.0)], 130.001, False),  # stuck inside one evaluation
        ([("idle", 100.0)], 125.0, True),  # a quiet market is healthy
        ([("idle", 100.0)], 131.0, False),  # not even waiting: blocked elsewhere
        ([("progress", 100.0), ("idle", 120.0)], 145.0, True),
        ([("idle", 100.0), ("progress", 120.0)], 145.0, True),
        ([("progress", 120.0), ("progress", 100.0)], 145.0, True),  # late report ignored
        ([("progress", 10.0), ("idle", 20.0), ("progress", 30.0)], 61.0, False),
    ],
)
def test_watchdog_gate(events: list[tuple[str, float]], now: float, expected: bool) -> None:
    gate = WatchdogGate(30.0)
    for kind, at in events:
        if kind == "progress":
            gate.note_progress(at)
        else:
            gate.note_idle(at)
    assert gate.should_ping(now) is expected


def test_watchdog_gate_with_a_shorter_stall_window() -> None:
    gate = WatchdogGate(30.0, stall_after=10.0)
    gate.note_progress(0.0)
    assert gate.should_ping(10.0)
    assert not gate.should_ping(10.5)
    gate.note_idle(11.0)
    assert gate.should_ping(20.0)


@pytest.mark.parametrize("stall_after", [0.0, -1.0, 30.5])
def test_watchdog_gate_refuses_a_window_that_cannot_work(stall_after: float) -> None:
    with pytest.raises(ValueError, match="stall_after"):
        WatchdogGate(30.0, stall_after=stall_after)


def test_watchdog_gate_default_window_is_the_whole_watchdog() -> None:
    assert WatchdogGate(30.0).stall_after == 30.0
