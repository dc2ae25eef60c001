"""Absurd and garbage prices from a provider: the daemon keeps running and alerts what is real.

The daemon runs in-process against RapidOddsAPI's simulator (real sockets on 127.0.0.1)
with rules that have neither ``max_profit`` nor ``max_ev`` and American odds in alerts: the
configuration in which a quote of 1e308 used to raise OverflowError and end the daemon.
One game gets 1e308 at DraftKings; another gets text, booleans, NaN, infinities, zero,
negative and sub-1.0 prices. Only then does a third game get a real 5% arbitrage, which
must be alerted, first and alone: the absurd game would have been alerted before it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arbwatch.config import load_config
from arbwatch.core.markets import AWAY, HOME
from arbwatch.daemon import Daemon
from arbwatch.feeds.connection import FeedStats
from arbwatch.sim.rapidodds import PRO, RapidOddsSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import Quote, SimEvent, World
from tests.e2e.test_daemon import running
from tests.sinks import json_receiver, until

pytestmark = [pytest.mark.anyio, pytest.mark.faults]

WAIT = 20.0
KEY = "oa_hostile_prices_9f3c1d"
BOOKS = ("Pinnacle", "DraftKings")

CONFIG = """\
state_dir: {state}
watch_config: false
odds_format: american
feeds:
  - name: rapid
    provider: rapidoddsapi
    api_key: {key}
    base_url: {base}
    sports: [NBA]
    bookmakers: [Pinnacle, DraftKings]
    market_types: [head_to_head]
    idle_timeout: 5s
channels:
  hook:
    url: {hook}/hook
    # One message per alert: these tests count alerts (grouping: test_alert_grouping.py).
    group_wait: 0s
    group_interval: 0s
    max_per_minute: 0
rules:
  - name: arbs
    kind: arbitrage
    books: [Pinnacle, DraftKings]
    max_quote_age: 10m
    notify: [hook]
  - name: ev
    kind: positive_ev
    sharp: [Pinnacle]
    books: [DraftKings]
    max_quote_age: 10m
    notify: [hook]
"""

#: What a broken or hostile server might put where a price goes, one per outcome.
GARBAGE: tuple[Any, ...] = (
    "2.10",
    True,
    float("nan"),
    float("inf"),
    float("-inf"),
    0,
    -3.5,
    0.5,
    1.0,
    1e-320,
    None,
    [2.1],
    {"price": 2.1},
)


def set_prices(world: World, event: SimEvent, book: str, home: Any, away: Any) -> None:
    """Put ``book``'s moneyline for ``event`` at these (possibly absurd) prices."""
    now = time.time()
    for side, price in ((HOME, home), (AWAY, away)):
        world.quotes[(event.event_id, 0, side, book)] = Quote(
            event.event_id, 0, side, book, price, now
        )


def quiet_world() -> tuple[World, list[SimEvent]]:
    """Every NBA moneyline at 1.87 / 1.87 at both books: no arbitrage, no +EV."""
    world = World(seed=11, now=time.time(), stale_rate=0.0, off_board_rate=0.0, reprice_rate=0.0)
    nba = [event for event in world.events if event.sport == "NBA"]
    for event in nba:
        for book in BOOKS:
            set_prices(world, event, book, 1.87, 1.87)
    return world, nba


async def pushes(stats: FeedStats, count: int) -> None:
    """Wait until the feed has read ``count`` more frames."""
    target = stats.frames + count
    await until(lambda: stats.frames >= target, WAIT)


def garbage_pairs() -> Iterator[tuple[Any, Any]]:
    """The garbage, two at a time (a book's home and away)."""
    for index in range(0, len(GARBAGE), 2):
        yield GARBAGE[index], GARBAGE[(index + 1) % len(GARBAGE)]


async def test_absurd_and_garbage_prices_neither_stop_the_daemon_nor_hide_a_real_arbitrage(
    tmp_path: Path,
) -> None:
    world, nba = quiet_world()
    assert len(nba) >= 3
    bomb, junk, real = nba[:3]
    sim = RapidOddsSimulator(world, keys={KEY: PRO}, push_interval=0.1, rate_limit=None)
    async with serve(sim) as base, json_receiver() as (hook, hook_url):
        path = tmp_path / "config.yaml"
        path.write_text(
            CONFIG.format(state=tmp_path / "state", key=KEY, base=base, hook=hook_url),
            encoding="utf-8",
        )
        daemon = Daemon(load_config(path))
        async with running(daemon):
            await until(lambda: daemon.stats.updates >= len(nba) * 4, WAIT)
            feed = daemon.feeds[0]

            # 1e308 against 1.87: a "87% arbitrage" and an absurd +EV, if it got through.
            set_prices(world, bomb, "DraftKings", 1e308, 1.87)
            await until(lambda: daemon.health().feeds[0].prices_out_of_range >= 1, WAIT)
            # Every kind of garbage, one push after another, each for a few pushes.
            for home, away in garbage_pairs():
                set_prices(world, junk, "DraftKings", home, away)
                await pushes(feed.stats, 3)
            evaluations = daemon.stats.evaluations

            # Pinnacle home 2.10, DraftKings away 2.10: L = 0.952, a 5% arbitrage; and
            # DraftKings' 2.10 against Pinnacle's devigged 53.85% is +13.08% EV.
            set_prices(world, real, "Pinnacle", 2.10, 1.80)
            set_prices(world, real, "DraftKings", 1.80, 2.10)
            posts = [await hook.next_post(WAIT), await hook.next_post(WAIT)]
            assert daemon.stats.evaluations > evaluations
            health = daemon.health().feeds[0]
            assert health.state == "up"
        assert hook.nothing_more()

    game = f"NBA · {real.away} @ {real.home} · Moneyline"
    assert sorted(str(post["title"]) for post in posts) == [
        f"ARB +5.00% · {game}",
        f"EV +13.08% · {game}",
    ]
    # Still 1e308 at every push since: each push's quote withdrawn and counted.
    assert health.prices_out_of_range >= 1
    print(
        f"hostile prices: {health.prices_out_of_range} out of range withdrawn,"
        f" {health.frames} frames, {health.malformed} malformed; the real arbitrage alerted"
    )
