"""Figures, not a test: the simulators' memory over an hour of about 1,000 updates a second.

Both simulators share one world, as in ``arbwatch demo``; TheRundown's publishes every
change to its delta log. The simulators' clock is injected and runs as fast as the
machine can publish, so an hour of the clock takes about a minute. Prints the resident
memory every five minutes of the clock, and the delta log's length::

    python -m tests.integration.sim_memory_figures
"""

from __future__ import annotations

import time
from pathlib import Path

from arbwatch.sim.rapidodds import RapidOddsSimulator
from arbwatch.sim.rundown import RundownSimulator
from arbwatch.sim.world import World

START = 1_800_000_000.0
#: Updates a second the figures are for.
RATE = 1_000.0
#: Seconds of the simulators' clock to run, and between two lines printed.
DURATION = 3600.0
REPORT_EVERY = 300.0


def resident_mb() -> float:
    """This process's resident memory, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError("VmRSS")


def main() -> None:
    """Publish at `RATE` for `DURATION` seconds of the clock; print memory as it goes."""
    now = [START]
    world = World(seed=7, now=START)
    rundown = RundownSimulator(world, clock=lambda: now[0])
    RapidOddsSimulator(world, clock=lambda: now[0])  # reads the same world, as in the demo
    updates = 0
    next_report = START
    started = time.monotonic()
    print(f"{'clock':>8} {'updates':>10} {'RSS MB':>8} {'delta log':>10}")
    while now[0] - START <= DURATION:
        changed = world.step(now[0])
        rundown.publish(changed)
        updates += len(changed)
        if now[0] >= next_report:
            entries = rundown.delta_log_length
            print(
                f"{(now[0] - START) / 60:6.0f} m {updates:>10,} {resident_mb():8.1f} "
                f"{entries:>10,}",
                flush=True,
            )
            next_report += REPORT_EVERY
        # The clock moves as far as these changes take at RATE.
        now[0] += max(len(changed), 1) / RATE
    print(f"{updates:,} updates in {time.monotonic() - started:.0f} s of wall time")


if __name__ == "__main__":
    main()
