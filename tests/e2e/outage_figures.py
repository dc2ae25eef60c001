"""Figures, not a test: a 2-minute RapidOddsAPI outage with the default health thresholds.

Runs the daemon in-process against RapidOddsAPI's simulator (pushes every second) on
127.0.0.1, drops every connection for 120 s, and prints each alert the bettor's phone (a
``json://`` receiver) gets, with its time from the start of the outage. Takes about three
minutes::

    python -m tests.e2e.outage_figures
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import anyio

from arbwatch.config import load_config
from arbwatch.daemon import Daemon
from arbwatch.sim.rapidodds import RapidOddsSimulator
from arbwatch.sim.server import serve
from tests.e2e.test_health import quiet_world
from tests.sinks import json_receiver

OUTAGE = 120.0
#: Long enough for the backoff (capped at 30 s) to reconnect and the 30 s recovery to pass.
PATIENCE = 400.0
CONFIG = """\
state_dir: {state}
watch_config: false
feeds:
  - name: rapid
    provider: rapidoddsapi
    api_key: oa_sim_pro
    base_url: {base}
    sports: [NBA]
    bookmakers: [Pinnacle, DraftKings]
    market_types: [head_to_head]
channels:
  phone: {hook}/phone
rules:
  - name: arbs
    kind: arbitrage
    books: [Pinnacle, DraftKings]
    max_quote_age: 10m
    gone: true
    notify: [phone]
"""


async def main() -> None:
    """Run the outage and print what arrives."""
    sim = RapidOddsSimulator(quiet_world(), push_interval=1.0, rate_limit=None)
    with tempfile.TemporaryDirectory() as tmp:
        async with serve(sim) as base, json_receiver() as (hook, hook_url):
            path = Path(tmp) / "config.yaml"
            state = Path(tmp) / "state"
            path.write_text(CONFIG.format(state=state, base=base, hook=hook_url), "utf-8")
            daemon = Daemon(load_config(path))
            async with anyio.create_task_group() as group:
                await group.start(daemon.run)
                first = await hook.next_post(30)
                print(f"before the outage: {first['title']}")
                dropped = time.monotonic()
                sim.faults.drop = True

                async def end_outage() -> None:
                    await anyio.sleep(OUTAGE)
                    sim.faults.drop = False
                    print(f"t=+{time.monotonic() - dropped:6.1f}s  the server accepts again")

                group.start_soon(end_outage)
                for _ in range(2):
                    post = await hook.next_post(PATIENCE)
                    print(f"t=+{time.monotonic() - dropped:6.1f}s  {post['title']}")
                    print(f"            {post['message']}")
                print(f"reconnect attempts: {daemon.feeds[0].stats.reconnects}")
                print(f"alerts after the first: {daemon.stats.alerts - 1} (no GONE)")
                daemon.stop()


if __name__ == "__main__":
    anyio.run(main)
