"""The systemd notify protocol (sd_notify(3)), and when to tell systemd the daemon is alive.

Under ``Type=notify`` systemd hands the service a datagram socket in ``NOTIFY_SOCKET``; the
service writes newline-separated ``KEY=VALUE`` lines to it, one datagram per message:

=====================  ================================================================
``READY=1``            start-up is done: ``systemctl start`` returns, dependants start
``STATUS=text``        one line shown by ``systemctl status``
``WATCHDOG=1``         still alive; missing it for ``WatchdogSec`` gets the service killed
``RELOADING=1``        a reload has begun (``MONOTONIC_USEC`` says when); ``READY=1`` ends it
``STOPPING=1``         shutdown has begun: shown as "deactivating" until the exit
``EXTEND_TIMEOUT_USEC``  with STOPPING: wait at least this long (µs) before killing it, so a
                       longer ``alerts.flush_timeout`` than the unit's TimeoutStopSec holds
=====================  ================================================================

A name starting with ``@`` is in the abstract namespace (its first byte becomes NUL).

Telling systemd anything is never worth crashing the daemon for: a message that cannot be
sent is logged once and counted, and the daemon goes on. Outside systemd there is no
``NOTIFY_SOCKET`` and `SystemdNotifier.from_environ` returns None, so callers skip it all.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Self

logger = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends notify messages to systemd over a non-blocking AF_UNIX datagram socket.

    Attributes:
        address: where messages go: a path, or a NUL then the name in the abstract namespace.
        failures: how many messages could not be sent.
    """

    def __init__(self, address: str) -> None:
        """Notify ``address``, as written in ``NOTIFY_SOCKET`` (a path or ``@name``).

        Raises:
            ValueError: ``address`` is neither an absolute path nor ``@name`` (systemd
                also speaks ``vsock:``, which only virtual machines' managers use).
        """
        if address.startswith("@") and len(address) > 1:
            self.address = "\0" + address[1:]
        elif address.startswith("/"):
            self.address = address
        else:
            raise ValueError(f"NOTIFY_SOCKET={address!r} is not a path or @name")
        self.failures = 0
        self._socket: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier | None:
        """The notifier systemd asked for, or None when not run by systemd (or unusable).

        Args:
            environ: the environment to read ``NOTIFY_SOCKET`` from; `os.environ` if None.
        """
        address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
        if not address:
            return None
        try:
            return cls(address)
        except ValueError as error:
            logger.warning("not notifying systemd: %s", error)
            return None

    def send(self, lines: Iterable[str]) -> bool:
        """Send ``KEY=VALUE`` lines as one message; True if it went, False (logged) if not."""
        payload = "\n".join(lines).encode()
        try:
            if self._socket is None:
                # Non-blocking: a service manager too busy to read must not stall the engine;
                # CLOEXEC: children (none today) must not inherit a way to talk for us.
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
                self._socket.setblocking(False)
            self._socket.sendto(payload, self.address)
        except OSError as error:
            self.failures += 1
            # Once at warning: a dead socket would otherwise log every watchdog ping.
            level = logging.WARNING if self.failures == 1 else logging.DEBUG
            logger.log(level, "cannot notify systemd at %r: %s", self.address, error)
            return False
        return True

    def notify(self, **fields: str | int) -> bool:
        """Send ``KEY=value`` for each field, in order (``notify(READY=1, STATUS="up")``)."""
        return self.send(f"{key}={value}" for key, value in fields.items())

    def ready(self, status: str | None = None) -> bool:
        """Start-up (or a reload) is done; ``status`` is shown by ``systemctl status``."""
        if status is None:
            return self.notify(READY=1)
        return self.notify(READY=1, STATUS=_one_line(status))

    def status(self, text: str) -> bool:
        """Set the line ``systemctl status`` shows (line breaks become spaces)."""
        return self.notify(STATUS=_one_line(text))

    def watchdog(self) -> bool:
        """Reset the watchdog timer: the daemon is alive (see `WatchdogGate` for when)."""
        return self.notify(WATCHDOG=1)

    def reloading(self) -> bool:
        """A reload has begun; send `ready` when it is over.

        ``MONOTONIC_USEC`` (CLOCK_MONOTONIC in µs) is what ``Type=notify-reload`` (systemd
        253 and later) requires, so it can tell this reload from an earlier one; plain
        ``Type=notify`` ignores it.
        """
        return self.notify(
            RELOADING=1, MONOTONIC_USEC=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        )

    def stopping(self, needs: float | None = None) -> bool:
        """Shutdown has begun: systemd shows the service as deactivating until it exits.

        ``needs``: seconds the shutdown may take; systemd then waits at least that long
        before it kills the service, even past the unit's ``TimeoutStopSec``.
        """
        if needs is None:
            return self.notify(STOPPING=1)
        return self.notify(STOPPING=1, EXTEND_TIMEOUT_USEC=round(needs * 1_000_000))

    def close(self) -> None:
        """Close the socket; a later message opens a new one."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> Self:
        """The notifier itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the socket."""
        self.close()


def _one_line(text: str) -> str:
    """``text`` with line breaks as spaces: a line break would start a new ``KEY=``."""
    return " ".join(text.splitlines())


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """How often to send ``WATCHDOG=1``, in seconds: half of ``WatchdogSec``.

    Half, as sd_watchdog_enabled(3) advises, so one late ping is not yet a missed one.

    None when there is no watchdog: ``WATCHDOG_USEC`` unset or not a positive integer, or
    ``WATCHDOG_PID`` naming another process (the variables were meant for a parent and
    leaked into us).

    Args:
        environ: the environment to read; `os.environ` if None.
    """
    env = os.environ if environ is None else environ
    pid = env.get("WATCHDOG_PID")
    if pid is not None and pid != str(os.getpid()):
        return None
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None


class WatchdogGate:
    """Whether the engine is healthy enough to send ``WATCHDOG=1``; time is passed in.

    A timer that pinged regardless would only prove that the event loop runs. What the
    watchdog should catch is the engine no longer doing its job, so the engine reports two
    things, and either one counts as healthy:

    - `note_progress` each time it finishes an evaluation: it is working;
    - `note_idle` each time it waits with no batches pending: it has caught up.

    If neither happened within ``stall_after`` seconds, the engine is stuck inside one
    evaluation (a pathological batch, a blocked store write, a loop that never yields) or is
    no longer taking batches off its queue. Pings stop, and once ``WatchdogSec`` passes
    without one systemd kills the service and ``Restart=on-failure`` starts it afresh.

    Idleness counts because a quiet market, or every feed down and reconnecting with backoff,
    is not a fault a restart can fix: the engine waiting on an empty queue is healthy. An
    engine that keeps finishing evaluations under a backlog also keeps pinging, on purpose:
    overload is met by the bounded queue dropping batches, and a restart would lose the
    price matrix and make it worse.

    The default ``stall_after`` is the whole ``WatchdogSec``: pings are sent every half of
    it, so an engine that stalls is restarted between one and one and a half ``WatchdogSec``
    later, and one that merely had a slow evaluation is not.

    ``now`` is any clock that never goes backwards (`time.monotonic`), the same in every call.
    """

    def __init__(self, watchdog_sec: float, *, stall_after: float | None = None) -> None:
        """A gate for a watchdog of ``watchdog_sec`` seconds (twice `watchdog_interval`).

        Raises:
            ValueError: a window that is not positive, or longer than the watchdog's (the
                service would be killed before the gate ever closed).
        """
        window = watchdog_sec if stall_after is None else stall_after
        if not 0 < window <= watchdog_sec:
            raise ValueError(
                f"stall_after must be in (0, {watchdog_sec:g}] seconds, got {window:g}"
            )
        self.stall_after = window
        self._last_healthy: float | None = None

    def note_progress(self, now: float) -> None:
        """The engine finished an evaluation at ``now``."""
        self._healthy_at(now)

    def note_idle(self, now: float) -> None:
        """The engine is waiting at ``now`` with no batches pending."""
        self._healthy_at(now)

    def should_ping(self, now: float) -> bool:
        """True if progress or idleness was noted within the last ``stall_after`` seconds."""
        return self._last_healthy is not None and now - self._last_healthy <= self.stall_after

    def _healthy_at(self, now: float) -> None:
        """Remember the latest sign of health (a late report of an earlier one changes nothing)."""
        if self._last_healthy is None or now > self._last_healthy:
            self._last_healthy = now
