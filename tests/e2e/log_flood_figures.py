"""Figures, not a test: how much log a flood of malformed frames makes.

A hostile RapidOddsAPI stand-in on 127.0.0.1 accepts the daemon's WebSocket, sends one
``error`` event whose message is 100 KB, then cut-off JSON frames as fast as the socket
takes them. The daemon runs as its own process (``python -m arbwatch run``) with stderr to
a file, as under systemd; after the given seconds (80 by default, the issue's figure) it
gets SIGTERM and the log is counted::

    python -m tests.e2e.log_flood_figures [seconds]
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from arbwatch.asgi import Receive, Scope, Send
from arbwatch.sim.server import serve

#: The RapidOddsAPI error event's message size: the issue's "100 KB error text".
ERROR_TEXT_BYTES = 100_000
#: A frame cut in half, as `arbwatch.sim.faults` breaks them: never valid JSON.
MALFORMED = '{"event": "odds_update", "sport": "NBA", "data": {"games": [{"ga'
CONFIG = """\
state_dir: {state}
watch_config: false
feeds:
  - name: rapid
    provider: rapidoddsapi
    api_key: oa_flood_figures_1a2b3c
    base_url: {base}
    sports: [NBA]
    bookmakers: [Pinnacle, DraftKings]
    market_types: [head_to_head]
    rest_bootstrap: false
channels:
  hook: json://127.0.0.1:9/
rules:
  - name: arbs
    kind: arbitrage
    notify: [hook]
"""


class Flood:
    """An ASGI app: every WebSocket gets the huge error event, then malformed frames."""

    def __init__(self) -> None:
        self.sent = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a WebSocket; refuse anything else."""
        if scope["type"] != "websocket":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        error = {"event": "error", "message": "x" * ERROR_TEXT_BYTES}
        await send({"type": "websocket.send", "text": json.dumps(error)})
        while True:
            await send({"type": "websocket.send", "text": MALFORMED})
            self.sent += 1
            if self.sent % 100 == 0:
                await anyio.sleep(0)  # let the server's other tasks run


async def measure(seconds: float) -> None:
    """Run the flood for ``seconds`` and print the log's size."""
    flood = Flood()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        async with serve(flood) as base:
            config = root / "config.yaml"
            config.write_text(CONFIG.format(state=root / "state", base=base), encoding="utf-8")
            log = root / "stderr.log"
            environment = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
            with log.open("wb") as stderr:
                daemon = subprocess.Popen(
                    [sys.executable, "-m", "arbwatch", "run", "-c", str(config)],
                    stderr=stderr,
                    stdout=subprocess.DEVNULL,
                    env=environment,
                )
                started = time.monotonic()
                await anyio.sleep(seconds)
                running = daemon.poll() is None
                daemon.send_signal(signal.SIGTERM)
                with anyio.fail_after(30):
                    while daemon.poll() is None:
                        await anyio.sleep(0.1)
                took = time.monotonic() - started
        lines = log.read_bytes().splitlines()
        longest = max((len(line) for line in lines), default=0)
        flood_lines = sum(b"unreadable frame" in line for line in lines)
        summaries = sum(b"suppressed" in line for line in lines)
        print(f"{took:.0f} s of flood: {flood.sent:,} malformed frames sent")
        print(f"daemon still running at the end: {running}; exit status {daemon.returncode}")
        print(
            f"log: {len(lines):,} lines, {log.stat().st_size:,} bytes; "
            f"{flood_lines} about the frames ({summaries} of them summaries); "
            f"longest line {longest:,} bytes"
        )
        for line in lines:
            if b"suppressed" in line or b"RapidOddsAPI error" in line:
                print("  " + line.decode()[:300])


def main() -> None:
    """``python -m tests.e2e.log_flood_figures [seconds]``."""
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 80.0
    anyio.run(measure, seconds)


if __name__ == "__main__":
    main()
