"""Grouping and the cap end to end: TheRundown's simulator in, a real json:// receiver out.

The frozen world of `tests.e2e.test_daemon`: each test publishes the prices it needs through
the simulator's WebSocket. One price move that makes an arbitrage and a +EV price on one
game arrives as one message; a flood over the channel's cap a minute arrives as the cap's
messages and one digest of the rest. Every opportunity here is published once and never
moves again, so the rule's ``min_duration`` is passed by the daemon's timer, not by a new
price.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from arbwatch.config import load_config
from arbwatch.daemon import Daemon
from arbwatch.sim.rundown import DEFAULT_KEY
from tests.e2e.test_daemon import WAIT, Stage, arb, bootstrapped, running, stage
from tests.sinks import until

pytestmark = pytest.mark.anyio

CONFIG = """\
odds_format: decimal
bankroll: 1000
state_dir: {state}
watch_config: false
feeds:
  - name: rundown
    provider: therundown
    api_key: {key}
    base_url: {rundown_url}
    sport_ids: [4]
    market_ids: [1]
    affiliate_ids: [3, 23, 2]
channels:
  hook:
    url: {hook_url}/alerts
    group_wait: 1s
    group_interval: 30s
    max_per_minute: {cap}
rules:
  - name: arbs
    kind: arbitrage
    min_profit: 1%
    max_profit: 15%
    max_quote_age: 60s
    notify: [hook]
  - name: bovada-ev
    kind: positive_ev
    sharp: [Pinnacle]
    devig: multiplicative
    books: [Bovada]
    min_ev: 3%
    max_quote_age: 60s
    notify: [hook]
"""


def config(s: Stage, cap: int) -> Path:
    s.path.write_text(
        CONFIG.format(
            state=s.path.parent / "state",
            key=DEFAULT_KEY,
            rundown_url=s.rundown_url,
            hook_url=s.hook_url,
            cap=cap,
        ),
        encoding="utf-8",
    )
    return s.path


async def test_a_burst_on_one_game_arrives_as_one_message(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        burst, later = s.events[:2]
        daemon = Daemon(load_config(config(s, cap=6)))
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            # 2.10 / 2.10: a 5% arbitrage, and Bovada's 2.10 +5% EV against Pinnacle's 1.91.
            s.price(burst, arb(2.10, 2.10))
            first = await s.hook.next_post(WAIT)
            # Another game afterwards: once its message is in, nothing of the first waits.
            s.price(later, arb(2.20, 2.20))
            second = await s.hook.next_post(WAIT)
            assert s.hook.nothing_more()
    game = f"NBA · {burst.away} @ {burst.home} · Moneyline"
    assert first["title"] == f"ARB +5.00% · {game} (+1 more)"
    assert f"EV +5.00% · {game}" in first["message"]
    assert "2.10 @ FanDuel" in first["message"]
    assert second["title"].startswith(f"ARB +10.00% · NBA · {later.away} @ {later.home}")
    assert daemon.stats.alerts == 4


async def test_a_flood_is_capped_and_the_rest_folded_into_a_digest(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        games = s.events[:4]  # every NBA game of the frozen world
        assert len(games) == 4
        daemon = Daemon(load_config(config(s, cap=2)))
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            for game in games:
                s.price(game, arb(2.10, 2.10))
            capped = [await s.hook.next_post(WAIT), await s.hook.next_post(WAIT)]
            await until(lambda: daemon.stats.alerts == 8, WAIT)
        # The digest waits for room in the minute; the stop's flush sends it at once.
        digest = await s.hook.next_post(WAIT)
        if not s.hook.nothing_more():
            print(
                "DEBUG",
                [p["title"] for p in capped],
                digest["title"],
                (await s.hook.next_post(1))["title"],
            )
        assert s.hook.nothing_more()
    assert [post["title"].endswith("(+1 more)") for post in capped] == [True, True]
    assert digest["title"].startswith("+4 more: ")
    listed = digest["message"].splitlines()[1:]
    assert len(listed) == 4
    assert sum(line.startswith("- ARB +5.00%") for line in listed) == 2
    assert sum(line.startswith("- EV +5.00%") for line in listed) == 2
