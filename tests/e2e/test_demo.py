"""``arbwatch demo`` as a new user runs it: real alerts on the console, with no API key."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

pytestmark = pytest.mark.anyio

#: README promises alerts within 30 seconds.
PROMISE = 30.0


async def test_the_demo_prints_alerts_and_ctrl_c_stops_it_cleanly() -> None:
    command = [sys.executable, "-m", "arbwatch", "demo", "--seconds", str(2 * PROMISE)]
    started = time.monotonic()
    first_alert: float | None = None
    output = ""
    async with await anyio.open_process(command, stdin=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        with anyio.fail_after(2 * PROMISE + 20):
            async for chunk in TextReceiveStream(process.stdout):
                output += chunk
                if first_alert is None and ("\nARB +" in output or "\nEV +" in output):
                    first_alert = time.monotonic() - started
                    process.send_signal(signal.SIGINT)  # as Ctrl-C does
            status = await process.wait()
    assert status == 0, output
    assert first_alert is not None, output
    assert first_alert < PROMISE
    assert "alerts." in output.splitlines()[-1]
