"""The daemon end to end, in-process: TheRundown's simulator in, real e-mail and webhooks out.

The world is frozen (nothing moves by itself) and every NBA moneyline starts at a price no
arbitrage can come from; each test then publishes the prices it needs through the
simulator's WebSocket, exactly as TheRundown pushes them. Alerts go to a real SMTP server
(aiosmtpd) and a real HTTP receiver (apprise ``json://``), both on 127.0.0.1.

"Which alerts must not arrive" is decided without waiting for nothing: the prices that must
not alert are published before one that must, on the same socket, and every channel
delivers in order, so once the later alert has arrived the earlier ones would have too;
then nothing more may be waiting at either receiver.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from arbwatch.config import load_config
from arbwatch.core.dedup import AlertState, Observation
from arbwatch.core.markets import AWAY, HOME, moneyline
from arbwatch.daemon import Daemon
from arbwatch.feeds.connection import FeedState
from arbwatch.sim.rundown import DEFAULT_KEY, RundownSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import Quote, SimEvent, World
from arbwatch.store import STATE_FILE, Store
from tests.sinks import JsonReceiver, Reply, SmtpServer, json_receiver, smtp_server, until

pytestmark = pytest.mark.anyio

#: The books the feed watches, by TheRundown affiliate id: Pinnacle, FanDuel, Bovada.
AFFILIATES = (3, 23, 2)
BOOKS = ("Pinnacle", "FanDuel", "Bovada")
#: Decimal 1.87 is American -115 on both sides: a 7% overround, far from any arbitrage.
BASELINE = 1.87
#: Prices are sent as whole American odds, so tests use decimals that convert exactly.
WAIT = 15.0

CONFIG = """\
odds_format: decimal
currency: "$"
bankroll: 1000
state_dir: {state}
watch_config: {watch}
feeds:
  - name: rundown
    provider: therundown
    api_key: {key}
    base_url: {rundown_url}
    sport_ids: [4]
    market_ids: [1]
    affiliate_ids: [3, 23, 2]
    heartbeat_timeout: 5s
channels:
  mail:
    url: {mail_url}
    # One message per alert: these tests count alerts (grouping: test_alert_grouping.py).
    group_wait: 0s
    group_interval: 0s
    max_per_minute: 0
  hook:
    url: {hook_url}/alerts
    retries: 100
    retry_initial: 0.02s
    retry_max: 0.1s
    # One message per alert: these tests count alerts (grouping: test_alert_grouping.py).
    group_wait: 0s
    group_interval: 0s
    max_per_minute: 0
rules:
  - name: arbs
    kind: arbitrage
    min_profit: {min_profit}
    max_profit: 15%
    max_quote_age: 60s
    notify: [mail, hook]
    repeat: 10m
  - name: bovada-ev
    kind: positive_ev
    sharp: [Pinnacle]
    devig: multiplicative
    books: [Bovada]
    min_ev: 3%
    max_quote_age: 60s
    notify: [hook]
    repeat: 10m
"""


@dataclass
class Stage:
    """The frozen world, its simulator, both sinks, and where the config lives."""

    world: World
    rundown: RundownSimulator
    rundown_url: str
    smtp: SmtpServer
    hook: JsonReceiver
    hook_url: str
    path: Path
    events: list[SimEvent] = field(default_factory=list)

    def write_config(
        self, min_profit: str = "1%", text: str | None = None, *, watch: bool = False
    ) -> Path:
        """Write the config file (the template, or ``text`` as given)."""
        self.path.write_text(
            text
            if text is not None
            else CONFIG.format(
                state=self.path.parent / "state",
                key=DEFAULT_KEY,
                rundown_url=self.rundown_url,
                mail_url=self.smtp.url(),
                hook_url=self.hook_url,
                min_profit=min_profit,
                watch=str(watch).lower(),
            ),
            encoding="utf-8",
        )
        return self.path

    def price(
        self,
        event: SimEvent,
        prices: Mapping[str, tuple[float | None, float | None]],
        age: float = 0.0,
    ) -> None:
        """Publish each book's (home, away) moneyline prices; None takes a side off the board."""
        at = time.time() - age
        quotes = [
            Quote(event.event_id, 0, side, book, price, at)
            for book, pair in prices.items()
            for side, price in zip((HOME, AWAY), pair, strict=True)
        ]
        for quote in quotes:
            self.world.quotes[(quote.event_id, 0, quote.side, quote.book)] = quote
        self.rundown.publish(quotes)


def frozen_world() -> tuple[World, list[SimEvent]]:
    """A world that never moves, with every NBA moneyline at `BASELINE` at every book."""
    world = World(seed=11, now=time.time(), stale_rate=0.0, off_board_rate=0.0, reprice_rate=0.0)
    nba = [event for event in world.events if event.sport == "NBA"]
    for event in nba:
        for book in BOOKS:
            for side in (HOME, AWAY):
                world.quotes[(event.event_id, 0, side, book)] = Quote(
                    event.event_id, 0, side, book, BASELINE, world.now
                )
    return world, nba


@asynccontextmanager
async def stage(tmp_path: Path, default: Reply | None = None) -> AsyncIterator[Stage]:
    """Serve the simulator, the webhook receiver (answering ``default``) and SMTP."""
    world, nba = frozen_world()
    rundown = RundownSimulator(world, clock=time.time, heartbeat_interval=0.5)
    async with (
        smtp_server() as smtp,
        json_receiver(default=default or Reply()) as (hook, hook_url),
        serve(rundown) as rundown_url,
    ):
        path = tmp_path / "config.yaml"
        yield Stage(world, rundown, rundown_url, smtp, hook, hook_url, path, nba)


@asynccontextmanager
async def running(daemon: Daemon) -> AsyncIterator[Daemon]:
    """Run ``daemon`` until the block ends, then stop it as SIGTERM would."""
    async with anyio.create_task_group() as group:
        await group.start(daemon.run)
        try:
            yield daemon
        finally:
            daemon.stop()


async def bootstrapped(daemon: Daemon, events: int) -> None:
    """Wait until the feed's first snapshot is in: both sides at three books per event.

    And every events page: they come paced while the socket streams, and a page fetched
    between a test's frames splits them into several engine batches.
    """
    await until(lambda: daemon.stats.updates >= events * len(BOOKS) * 2, WAIT)
    await until(lambda: all(f.stats.state is FeedState.UP for f in daemon.feeds), WAIT)


def arb(home: float, away: float) -> dict[str, tuple[float | None, float | None]]:
    """FanDuel best on home, Bovada best on away, Pinnacle at the baseline."""
    return {
        "Pinnacle": (1.91, 1.91),
        "FanDuel": (home, 1.80),
        "Bovada": (1.80, away),
    }


async def test_alerts_arrive_for_what_qualifies_and_never_for_what_does_not(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        near_miss, stale, off_board, real = s.events[:4]
        daemon = Daemon(load_config(s.write_config()))
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            assert daemon.stats.alerts == 0

            # 2.01 / 2.01: L = 0.995, a 0.5% arbitrage, under the rule's 1%.
            s.price(near_miss, arb(2.01, 2.01))
            # 2.10 at Bovada would make 5%, but its quote is 5 minutes old (max age 60 s).
            s.price(stale, {"Pinnacle": (1.91, 1.91), "FanDuel": (2.10, 1.80)})
            s.price(stale, {"Bovada": (1.80, 2.10)}, age=300.0)
            # Bovada's away side goes off the board (TheRundown's 0.0001): not a price.
            s.price(off_board, {"Pinnacle": (1.91, 1.91), "FanDuel": (2.10, 1.80)})
            s.price(off_board, {"Bovada": (1.80, None)})
            # 2.10 / 2.10: L = 0.952, a 5% arbitrage; and Bovada's 2.10 is +5% EV against
            # Pinnacle's 1.91 / 1.91 (fair 50%).
            s.price(real, arb(2.10, 2.10))

            mail = await s.smtp.next_mail(WAIT)
            posts = [await s.hook.next_post(WAIT), await s.hook.next_post(WAIT)]
            assert s.smtp.nothing_more()
            assert s.hook.nothing_more()

        game = f"NBA · {real.away} @ {real.home} · Moneyline"
        assert mail["Subject"] == f"ARB +5.00% · {game}"
        assert sorted(post["title"] for post in posts) == [
            f"ARB +5.00% · {game}",
            f"EV +5.00% · {game}",
        ]
        text = mail.get_body(preferencelist=("plain",))
        assert text is not None
        body = text.get_content()
        assert "@ FanDuel" in body
        assert "@ Bovada" in body
        assert "2.10" in body
        assert daemon.stats.alerts == 2


async def test_a_restart_does_not_alert_again(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        first, second = s.events[:2]
        daemon = Daemon(load_config(s.write_config()))
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            s.price(first, arb(2.10, 2.10))
            before = await s.smtp.next_mail(WAIT)
            hooked = [await s.hook.next_post(WAIT), await s.hook.next_post(WAIT)]
            # Stop only when every send has returned, not just reached its sink (SMTP's QUIT
            # comes after the mail is in): a send still in flight at the stop is rightly
            # sent again after the restart (seen twice in CI, on slow runs).
            notifier = daemon.notifier
            await until(lambda: sum(c.sent for c in notifier.stats().values()) == 3, WAIT)

        # The same arbitrage is still on the board when the daemon comes back.
        again = Daemon(load_config(s.path))
        async with running(again):
            await bootstrapped(again, len(s.events))
            lifecycle = again.lifecycle
            assert lifecycle is not None
            await until(lambda: lifecycle.active_count > 0, WAIT)
            s.price(second, arb(2.20, 2.20))
            after = [await s.smtp.next_mail(WAIT)]
            # The second game's six prices come one WebSocket frame each, as TheRundown
            # sends them; the engine may see its arbitrage part-way (FanDuel's 2.20 alone
            # makes one), alerted new, then improved: never the first game again.
            for _ in range(2):  # at most: new, then improved
                if "10.00%" in after[-1]["Subject"]:
                    break
                after.append(await s.smtp.next_mail(WAIT))
            assert s.smtp.nothing_more()

        assert f"{first.away} @ {first.home}" in before["Subject"]
        assert all(f"{first.away} @ {first.home}" in post["title"] for post in hooked)
        assert all(f"{second.away} @ {second.home}" in mail["Subject"] for mail in after)
        assert "10.00%" in after[-1]["Subject"]
        # The second game's arbitrage (new, perhaps improved) and its Bovada EV.
        assert again.stats.alerts == len(after) + 1


async def test_reload_switches_rules_and_a_broken_config_keeps_the_old(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        a, b, c = s.events[:3]
        daemon = Daemon(load_config(s.write_config(min_profit="1%")))
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            feed_stats = daemon.feeds[0].stats

            s.write_config(text="rules: [this is not: a config")
            assert not await daemon.apply_reload("test")
            assert daemon.stats.config_reload_failures == 1
            s.price(a, arb(2.10, 2.10))  # 5%: the old 1% rule still runs
            first = await s.smtp.next_mail(WAIT)

            s.write_config(min_profit="8%")
            daemon.reload()
            await until(lambda: daemon.stats.config_reloads == 1, WAIT)
            s.price(b, arb(2.10, 2.10))  # 5%: under the new 8%
            s.price(c, arb(2.24, 2.24))  # 12%: over it
            second = await s.smtp.next_mail(WAIT)
            assert s.smtp.nothing_more()

            assert feed_stats.reconnects == 0
            assert s.rundown.connection_count == 1

        assert f"{a.away} @ {a.home}" in first["Subject"]
        assert f"{c.away} @ {c.home}" in second["Subject"]


async def test_a_failing_channel_is_retried_and_never_holds_up_the_others(
    tmp_path: Path,
) -> None:
    # The webhook fails until the e-mail of the same alert has arrived, then recovers.
    async with stage(tmp_path, default=Reply(500)) as s:
        daemon = Daemon(load_config(s.write_config()))
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            s.price(s.events[0], arb(2.10, 2.10))
            await s.smtp.next_mail(WAIT)
            await until(lambda: s.hook.requests >= 3, WAIT)
            assert s.hook.nothing_more()
            s.hook.default = Reply()
            posts = [await s.hook.next_post(WAIT), await s.hook.next_post(WAIT)]
        assert len(posts) == 2
        stats = daemon.notifier.stats()
        assert stats["hook"].sent == 2
        assert stats["hook"].retried >= 2
        assert stats["mail"].sent == 1


async def test_an_edited_config_file_is_reloaded_by_itself(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        a, b = s.events[:2]
        daemon = Daemon(load_config(s.write_config(min_profit="8%", watch=True)))
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            s.write_config(min_profit="1%", watch=True)  # no signal: the edit is noticed
            await until(lambda: daemon.stats.config_reloads == 1, WAIT)
            s.price(a, arb(2.10, 2.10))  # 5%: alerted under the new 1% rule
            mail = await s.smtp.next_mail(WAIT)
            s.write_config(text="feeds: []\n", watch=True)  # broken: logged, old rules stay
            await until(lambda: daemon.stats.config_reload_failures == 1, WAIT)
            s.price(b, arb(2.10, 2.10))
            again = await s.smtp.next_mail(WAIT)
        assert f"{a.away} @ {a.home}" in mail["Subject"]
        assert f"{b.away} @ {b.home}" in again["Subject"]


def ended(key: str, at: float) -> AlertState:
    """An opportunity of the rule ``arbs`` that lasted a minute and ended at ``at``."""
    return AlertState(
        key=key,
        rule="arbs",
        kind="arbitrage",
        market=moneyline(key),
        summary=f"NBA · {key}",
        first_seen=at - 60.0,
        last_seen=at - 1.0,
        best_value=0.02,
        last_value=0.02,
        alerted_at=at - 60.0,
        alerted_value=0.02,
        active=False,
        ended_at=at,
    )


async def test_history_past_its_retention_is_deleted_when_the_daemon_starts(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        config = load_config(s.write_config())
        assert config.history_retention == 90 * 86_400.0
        now = time.time()
        with Store(config.state_dir / STATE_FILE) as store:
            store.save(
                Observation(changed=[ended("old", now - 100 * 86_400), ended("new", now - 86_400)])
            )
        daemon = Daemon(config)
        async with running(daemon):
            pass
        with Store(config.state_dir / STATE_FILE, read_only=True) as store:
            assert [row.summary for row in store.history()] == ["NBA · new"]
