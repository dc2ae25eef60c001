"""TheRundown simulator's delta log forgets what TheRundown forgets, by its injected clock."""

from __future__ import annotations

import pytest

from arbwatch.sim.rundown import CURSOR_MAX_AGE, RundownSimulator
from arbwatch.sim.world import World
from tests.unit.test_daemon_upkeep import START, Clock

pytestmark = pytest.mark.faults


def publish(sim: RundownSimulator, world: World, clock: Clock) -> int:
    """One world step published at the clock's time; how many changes were logged."""
    before = int(sim.delta_cursor)
    sim.publish(world.step(clock.now))
    logged = int(sim.delta_cursor) - before
    assert logged > 0  # the default world reprices something at every step
    return logged


def test_the_delta_log_forgets_changes_older_than_a_cursor_lives() -> None:
    clock = Clock()
    world = World(seed=3, now=START)
    sim = RundownSimulator(world, clock=clock)
    assert sim.delta_log_length == 0  # the world's start is the snapshot, not a change
    first = publish(sim, world, clock)
    clock.now += CURSOR_MAX_AGE - 60.0
    second = publish(sim, world, clock)
    assert sim.delta_log_length == first + second  # 29 minutes: everything is kept
    clock.now += 120.0
    third = publish(sim, world, clock)
    # 31 minutes after the first changes: they are forgotten, the others kept.
    assert sim.delta_log_length == second + third


def test_the_delta_log_keeps_at_most_its_size_at_any_rate() -> None:
    clock = Clock()
    world = World(seed=3, now=START)
    sim = RundownSimulator(world, clock=clock, max_delta_entries=50)
    logged = sum(publish(sim, world, clock) for _ in range(10))
    assert logged > 50
    assert sim.delta_log_length == 50  # the newest 50, all younger than 30 minutes
