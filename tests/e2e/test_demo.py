"""``arbwatch demo`` as a new user runs it: real alerts on the console, with no API key."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time

import anyio
import httpx
import pytest
from anyio.abc import ByteReceiveStream
from anyio.streams.text import TextReceiveStream
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_status import free_port

pytestmark = pytest.mark.anyio

#: README promises alerts within 30 seconds.
PROMISE = 30.0


def demo_command(*options: str) -> list[str]:
    """``python -m arbwatch demo`` for twice the promise, plus ``options``."""
    return [sys.executable, "-m", "arbwatch", "demo", "--seconds", str(2 * PROMISE), *options]


async def until_first_alert(stdout: ByteReceiveStream) -> str:
    """Read the demo's output up to and including its first alert."""
    output = ""
    async for chunk in TextReceiveStream(stdout):
        output += chunk
        if "\nARB +" in output or "\nEV +" in output:
            break
    return output


async def rest_of(stdout: ByteReceiveStream) -> str:
    """Read the demo's output until it exits."""
    output = ""
    async for chunk in TextReceiveStream(stdout):
        output += chunk
    return output


async def test_the_demo_prints_alerts_and_ctrl_c_stops_it_cleanly() -> None:
    started = time.monotonic()
    async with await anyio.open_process(demo_command(), stdin=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        with anyio.fail_after(2 * PROMISE + 20):
            output = await until_first_alert(process.stdout)
            first_alert = time.monotonic() - started
            process.send_signal(signal.SIGINT)  # as Ctrl-C does
            output += await rest_of(process.stdout)
            status = await process.wait()
    assert status == 0, output
    assert "\nARB +" in output or "\nEV +" in output, output
    assert first_alert < PROMISE
    # "1 alert." or "5 alerts.": counted in words that agree.
    counted = re.search(r" ([\d,]+) (alerts?)\.$", output.splitlines()[-1])
    assert counted is not None, output
    assert (counted[1] == "1") == (counted[2] == "alert"), output


async def test_the_demo_with_status_serves_metrics_and_arbwatch_status_reads_them() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = demo_command("--status", f"127.0.0.1:{port}")
    async with await anyio.open_process(command, stdin=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        with anyio.fail_after(2 * PROMISE + 20):
            output = await until_first_alert(process.stdout)
            # The first alert is out, so both feeds have delivered prices by now.
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                metrics = (await client.get("/metrics")).text
            done = await anyio.run_process(
                [sys.executable, "-m", "arbwatch", "status", "--url", base], check=False
            )
            process.send_signal(signal.SIGINT)
            output += await rest_of(process.stdout)
            status = await process.wait()
    assert status == 0, output
    assert f"Health: {base}/metrics (Prometheus) and {base}/status" in output
    families = {family.name: family for family in text_string_to_metric_families(metrics)}
    up = {sample.labels["feed"]: sample.value for sample in families["arbwatch_feed_up"].samples}
    assert up == {"rapidoddsapi-sim": 1.0, "therundown-sim": 1.0}
    sent = families["arbwatch_alerts_sent"].samples
    assert [(s.labels["channel"], s.value >= 1) for s in sent] == [("console", True)]
    report = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert "feeds 2/2 up" in report.splitlines()[0]
    assert "rapidoddsapi-sim  up  rapidoddsapi" in report


async def test_the_demo_stops_with_the_reason_when_its_status_port_is_taken() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with anyio.fail_after(PROMISE):
            done = await anyio.run_process(
                demo_command("--status", f"127.0.0.1:{port}"),
                stdin=subprocess.DEVNULL,
                check=False,
            )
    assert done.returncode == 78
    assert done.stderr.decode().endswith(
        f"arbwatch: status: cannot listen on 127.0.0.1:{port} (Address already in use): "
        f"another process holds the port (another arbwatch? `arbwatch status --url "
        f"http://127.0.0.1:{port}` shows which daemon it is); set another status.listen, "
        "or stop what holds it\n"
    )
    assert "alerts." not in done.stdout.decode()
