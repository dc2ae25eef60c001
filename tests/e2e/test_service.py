"""``arbwatch run`` as a process: signals, a reload, a clean stop, a broken config.

The simulator and the SMTP server run in the test; the daemon is a real child process
started the way systemd starts it, and stopped with real signals.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

from arbwatch.commands import EXIT_CONFIG
from tests.e2e.test_daemon import WAIT, arb, stage
from tests.sinks import until

pytestmark = pytest.mark.anyio


async def collect(process: Process, lines: list[str]) -> None:
    """Keep every line the process writes to stderr."""
    assert process.stderr is not None
    buffer = ""
    async for chunk in TextReceiveStream(process.stderr):
        buffer += chunk
        *complete, buffer = buffer.split("\n")
        lines.extend(complete)


def logged(lines: list[str], text: str) -> bool:
    """Whether any log line so far contains ``text``."""
    return any(text in line for line in lines)


async def test_signals_reload_and_stop_the_daemon_cleanly(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        path = s.write_config()
        lines: list[str] = []
        command = [sys.executable, "-m", "arbwatch", "run", "-c", str(path)]
        async with (
            await anyio.open_process(command, stdin=subprocess.DEVNULL) as process,
            anyio.create_task_group() as group,
        ):
            group.start_soon(collect, process, lines)
            await until(lambda: s.rundown.connection_count == 1, WAIT)

            process.send_signal(signal.SIGHUP)
            await until(lambda: logged(lines, "reloaded"), WAIT)

            s.price(s.events[0], arb(2.10, 2.10))
            await s.smtp.next_mail(WAIT)

            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(WAIT):
                status = await process.wait()
        assert status == 0, "\n".join(lines)
        assert logged(lines, "SIGTERM: stopping")
        assert logged(lines, "arbwatch stopped")
        # Not a terminal: no colour codes; every record is one line.
        assert not any("\x1b[" in line for line in lines)
        assert all(line[:4].isdigit() for line in lines if line), lines


async def test_a_broken_config_exits_78_naming_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("odds_format: roman\n", encoding="utf-8")
    result = await anyio.run_process(
        [sys.executable, "-m", "arbwatch", "run", "-c", str(path)], check=False
    )
    assert result.returncode == EXIT_CONFIG
    error = result.stderr.decode()
    assert f"{path}:1: odds_format" in error
    assert "Traceback" not in error
