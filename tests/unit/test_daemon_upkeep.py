"""The daemon's upkeep, on a daemon that is never run: its price matrix kept to the live
board (markets with no recent quote go, never a quote a rule could still use), and health
snapshots that stay as they were taken."""

from __future__ import annotations

import math
from pathlib import Path

from arbwatch.config import parse_config
from arbwatch.core.markets import AWAY, HOME, Event, PriceUpdate, moneyline
from arbwatch.daemon import EVENT_RETENTION, MARKET_RETENTION, Daemon, every_key_refused
from arbwatch.feeds.connection import FeedState, FeedStats
from arbwatch.feeds.model import ProviderEvent

CONFIG = """\
state_dir: {state}
feeds:
  - name: rundown
    provider: therundown
    api_key: not-used
    base_url: http://127.0.0.1:9
    sport_ids: [4]
channels:
  console: console://
rules:
  - name: arbs
    kind: arbitrage
    max_quote_age: {age}
    notify: [console]
"""

START = 1_800_000_000.0


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def daemon(tmp_path: Path, age: str, clock: Clock) -> Daemon:
    """A daemon that is never run: its matrix is written and swept directly."""
    config = parse_config(CONFIG.format(state=tmp_path, age=age), source=None, env={})
    return Daemon(config, clock=clock, feeds=[])


def quote(target: Daemon, event_id: str, at: float) -> None:
    """Both sides of an event's moneyline at Pinnacle, quoted at ``at`` and evaluated."""
    market = moneyline(event_id)
    target.matrix.apply([PriceUpdate(market, side, "Pinnacle", 1.95, at) for side in (HOME, AWAY)])
    target.matrix.take_dirty()


def test_markets_go_after_an_hour_without_a_quote(tmp_path: Path) -> None:
    clock = Clock()
    target = daemon(tmp_path, "2m", clock)
    quote(target, "old", START - MARKET_RETENTION - 1.0)
    quote(target, "recent", START - MARKET_RETENTION + 60.0)
    assert target.retire_idle() == 1
    health = target.health()
    assert (health.markets, health.markets_retired) == (1, 1)
    assert target.matrix.row(moneyline("old")) is None


def test_a_rule_that_accepts_older_quotes_keeps_them_longer(tmp_path: Path) -> None:
    clock = Clock()
    target = daemon(tmp_path, "3h", clock)
    quote(target, "e1", START - 2 * 3600.0)
    assert target.retire_idle() == 0  # the rule can still use a 2-hour-old quote
    clock.now += 3600.0 + 1.0
    assert target.retire_idle() == 1


def test_a_withdrawn_market_goes_at_the_next_sweep(tmp_path: Path) -> None:
    clock = Clock()
    target = daemon(tmp_path, "2m", clock)
    quote(target, "e1", START)
    market = moneyline("e1")
    target.matrix.apply(
        [PriceUpdate(market, side, "Pinnacle", math.nan, START) for side in (HOME, AWAY)]
    )
    target.matrix.take_dirty()
    assert target.retire_idle() == 1


def test_event_details_outlive_their_markets_for_a_week(tmp_path: Path) -> None:
    clock = Clock()
    target = daemon(tmp_path, "2m", clock)
    event = Event("e1", "NBA", "Celtics", "Lakers", starts_at=START)
    target.matrix.set_event(event)
    target.identity.resolve(ProviderEvent("rundown", "g1", "NBA", "Celtics", "Lakers", START))
    quote(target, "e1", START)
    clock.now += 2 * MARKET_RETENTION
    assert target.retire_idle() == 1
    assert target.matrix.event("e1") == event
    assert target.identity.lookup("rundown", "g1") is not None
    clock.now = START + EVENT_RETENTION + 1.0
    target.retire_idle()
    assert target.matrix.event("e1").sport == ""  # the stand-in for an unknown event
    assert target.identity.lookup("rundown", "g1") is None


def test_a_health_snapshot_does_not_change_as_the_engine_goes_on(tmp_path: Path) -> None:
    target = daemon(tmp_path, "2m", Clock())
    target.counters.latency.observe(0.001)
    snapshot = target.health()
    target.counters.latency.observe(0.002)
    assert (snapshot.latency.count, snapshot.latency.total) == (1, 0.001)
    assert target.health().latency.count == 2


def test_the_daemon_exits_only_when_every_feed_is_refused_twice_in_a_row() -> None:
    def refused(name: str, refusals: int) -> FeedStats:
        return FeedStats(name, state=FeedState.REFUSED, refusals=refusals)

    assert not every_key_refused([])
    assert every_key_refused([refused("a", 2), refused("b", 3)])
    # The first refusal is not enough: the key is tried again key_retry later first.
    assert not every_key_refused([refused("a", 2), refused("b", 1)])
    # One feed up (or backing off, down for another reason) keeps the daemon running.
    assert not every_key_refused([refused("a", 5), FeedStats("b", state=FeedState.UP)])
    assert not every_key_refused([refused("a", 5), FeedStats("b", state=FeedState.BACKING_OFF)])
