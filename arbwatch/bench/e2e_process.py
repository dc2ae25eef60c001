"""The daemon as a process of its own, for ``arbwatch bench --e2e``.

Started on a generated config, read through its status listener and ``/proc/<pid>``,
ended on the way out (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

import anyio
import httpx
from anyio.abc import Process

from arbwatch.sim.server import LOOPBACK

#: How long a stopping daemon gets after SIGTERM before it is killed.
STOP_TIMEOUT: Final = 20.0
#: Seconds between two looks at a condition nothing signals (a counter of another process).
POLL: Final = 0.05
#: A sample of /metrics, per feed (one feed runs) or of the daemon (no labels).
_METRIC: Final = re.compile(r'^arbwatch_(\w+)(?:\{feed="[^"]*"[^}]*\})? (\S+)$', re.MULTILINE)
#: The daemon's config: one feed (a YAML list item), a json:// channel, one arbitrage rule.
#: Grouping, the cap a minute and ``min_duration`` are off: they hold alerts on purpose
#: (0.5 s, 30 s, 0.3 s by default), and the bench measures how fast the path itself is.
_CONFIG: Final = """\
odds_format: american
bankroll: 1000
state_dir: {state}
status:
  listen: {status}
feeds:
{feed}
channels:
  # Every alert its own message at once: the bench times the engine, not the grouping.
  bench:
    url: {hook}/bench
    group_wait: 0s
    group_interval: 0s
    max_per_minute: 0
rules:
  - name: bench-arbitrage
    kind: arbitrage
    min_profit: 1%
    max_profit: 15%
    max_quote_age: 10m
    # Alerted at first sight: the bench times the daemon, not the hold against blinks.
    min_duration: 0s
    notify: [bench]
    repeat: 10m
"""


def free_port() -> int:
    """A port nothing listens on now, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of ``pid`` so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # After the command's closing parenthesis: state is field 3, utime 14, stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, key: str) -> float:
    """A ``/proc/<pid>/status`` memory line (``VmRSS``, ``VmHWM``) in MB; NaN once gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return math.nan
    for line in text.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return math.nan


class DaemonProcess:
    """``python -m arbwatch run`` on a generated config, and its status listener."""

    def __init__(self, process: Process, status_url: str, log: Path) -> None:
        """Watch ``process``, whose status listener is ``status_url`` and log ``log``."""
        self.process = process
        self.pid = process.pid
        self.status_url = status_url
        self.log = log
        self.client = httpx.AsyncClient(timeout=5.0)

    async def metrics(self) -> dict[str, float]:
        """``/metrics`` samples by family (one feed runs); empty while it is down."""
        try:
            response = await self.client.get(f"{self.status_url}/metrics")
        except httpx.HTTPError:
            return {}
        return {name: float(value) for name, value in _METRIC.findall(response.text)}

    async def frames(self) -> int:
        """Frames the daemon's feed has read so far."""
        return (await self.counts())[0]

    async def counts(self) -> tuple[int, int]:
        """Frames the daemon's feed has read, and evaluations of its engine, so far."""
        metrics = await self.metrics()
        frames = metrics.get("feed_frames_total", 0.0)
        return int(frames), int(metrics.get("engine_evaluations_total", 0.0))

    def exited(self) -> str | None:
        """Why the daemon is gone (its log's tail), or None while it runs."""
        if self.process.returncode is None:
            return None
        tail = self.log.read_text(errors="replace").strip().splitlines()[-5:]
        return f"the daemon exited ({self.process.returncode}): " + " | ".join(tail)


@contextlib.asynccontextmanager
async def daemon(
    feed: str, hook: str, workdir: Path, log_level: str
) -> AsyncIterator[DaemonProcess]:
    """The daemon running on ``feed`` (a YAML list item), alerting to ``hook``."""
    port = free_port()
    state = workdir / f"state-{port}"
    config = workdir / f"config-{port}.yaml"
    config.write_text(
        _CONFIG.format(state=state, status=f"{LOOPBACK}:{port}", feed=feed, hook=hook)
    )
    log = workdir / f"daemon-{port}.log"
    command = [sys.executable, "-m", "arbwatch", "run", "-c", str(config), "--log-level", log_level]
    with log.open("wb") as stderr:
        process = await anyio.open_process(command, stdin=None, stdout=stderr, stderr=stderr)
    running = DaemonProcess(process, f"http://{LOOPBACK}:{port}", log)
    try:
        yield running
    finally:
        with anyio.CancelScope(shield=True):
            await running.client.aclose()
            await end_process(process)


async def end_process(
    process: Process, first: signal.Signals = signal.SIGTERM, grace: float = STOP_TIMEOUT
) -> int | None:
    """End ``process``: ``first``, then SIGKILL after ``grace`` seconds; its exit status.

    Shielded, so that it ends the process even while its caller is being cancelled.
    """
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(first)
            with anyio.move_on_after(grace):
                await process.wait()
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.aclose()
    return process.returncode


async def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, running: DaemonProcess | None = None
) -> None:
    """Wait, bounded, for ``condition()``; a clear error naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if running is not None and (why := running.exited()) is not None:
            raise RuntimeError(f"{what}: {why}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        await anyio.sleep(POLL)
