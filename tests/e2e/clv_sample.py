"""A sample, not a test: ``arbwatch history`` and ``history --clv`` after a demo run.

The demo's games start one to 30 hours after it starts, so a demo of a few minutes never
sees a close. This runs the demo exactly as ``arbwatch demo`` does (its config, its seed,
its world's settings, the real daemon against both simulators on 127.0.0.1) with one change:
the games start ``--first`` seconds from now and then every ``--every`` seconds, so their
closes fall within the run. The simulated books go on pricing a game after its start; those
prices never count as the close, and alerts after a start are recorded "no close". The
state directory is kept and named at the end::

    python -m tests.e2e.clv_sample --seconds 300
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio

from arbwatch.daemon import Daemon
from arbwatch.demo import (
    DEFAULT_SEED,
    DRIFT,
    NOISE,
    PUSH_INTERVAL,
    STALE_RATE,
    STEP_INTERVAL,
    demo_config,
)
from arbwatch.runner import run_daemon
from arbwatch.sim.rapidodds import RapidOddsSimulator
from arbwatch.sim.rundown import RundownSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import World
from arbwatch.store import clv_lines, history_lines


async def sample(seconds: float, first: float, every: float, state: Path) -> None:
    """Run the demo with the games' starts brought forward, then print history."""
    now = time.time()
    world = World(DEFAULT_SEED, now=now, stale_rate=STALE_RATE, noise=NOISE, drift=DRIFT)
    for number, event in enumerate(sorted(world.events, key=lambda e: e.starts_at)):
        event.starts_at = float(int(now + first + number * every))
    rundown = RundownSimulator(world, clock=time.time)
    rapidodds = RapidOddsSimulator(world, clock=time.time, push_interval=PUSH_INTERVAL)
    async with serve(rapidodds) as rapidodds_url, serve(rundown) as rundown_url:
        daemon = Daemon(demo_config(rapidodds_url, rundown_url, state))

        async def move_the_world() -> None:
            await rundown.run(STEP_INTERVAL)

        await run_daemon(daemon, seconds=seconds, companions=[move_the_world])
    print(
        f"\n{len(world.events)} games starting {first:g} s after the start, every {every:g} s;"
        f" ran {seconds:g} s: {daemon.stats.alerts} alerts\n"
    )
    print("$ arbwatch history --limit 15")
    print("\n".join(history_lines(state, 15, None, time.time(), ZoneInfo("UTC"))))
    print("\n$ arbwatch history --clv")
    print("\n".join(clv_lines(state, None)))
    print(f"\nstate kept in {state}")


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="how long the demo runs")
    parser.add_argument("--first", type=float, default=60.0, help="seconds to the first start")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between starts")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="arbwatch-clv-sample-"))
    anyio.run(sample, args.seconds, args.first, args.every, state)


if __name__ == "__main__":
    main()
