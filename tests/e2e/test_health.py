"""Health alerts end to end: the daemon in-process, RapidOddsAPI's simulator, real webhooks.

Everything runs on 127.0.0.1: the simulator over real sockets, and two apprise ``json://``
receivers as the bettor's channels. Thresholds are made small (seconds) and the daemon
looks at its health ten times a second, so each scenario takes a few seconds; every wait
is bounded.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from arbwatch import daemon as daemon_module
from arbwatch.config import load_config
from arbwatch.core.markets import AWAY, HOME
from arbwatch.daemon import EXIT_KEYS_REFUSED, REFUSALS_BEFORE_EXIT, Daemon
from arbwatch.sim.rapidodds import PRO, RapidOddsSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import Quote, World
from arbwatch.store import STATE_FILE, Store
from tests.e2e.test_daemon import running
from tests.sinks import JsonReceiver, Reply, json_receiver, until

pytestmark = pytest.mark.anyio

WAIT = 20.0
GOOD_KEY = "oa_health_good_5d1e0a"
#: Five credits: the bootstrap and four pushes at one credit each (1 market type, 2 books).
POOR_KEY = "oa_health_poor_77b2c4"
DEAD_KEY = "oa_health_dead_000000"
KEYS = {GOOD_KEY: PRO, POOR_KEY: dataclasses.replace(PRO, credits=5)}

CONFIG = """\
state_dir: {state}
watch_config: false
feeds:
  - name: rapid
    provider: rapidoddsapi
    api_key: {key}
    base_url: {base}
    sports: [NBA]
    bookmakers: [Pinnacle, DraftKings]
    market_types: [head_to_head]
    idle_timeout: 5s
    credits_retry: 0.2s
    key_retry: {key_retry}
channels:
  hook:
    url: {hook}/hook
    retries: 1000
    retry_initial: 0.05s
    retry_max: 0.1s
    # One message per alert: these tests count alerts (grouping: test_alert_grouping.py).
    group_wait: 0s
    group_interval: 0s
    max_per_minute: 0
  backup:
    url: {backup}/backup
    # One message per alert: these tests count alerts (grouping: test_alert_grouping.py).
    group_wait: 0s
    group_interval: 0s
    max_per_minute: 0
rules:
  - name: arbs
    kind: arbitrage
    books: [Pinnacle, DraftKings]
    max_quote_age: 10m
    gone: true
    # Alerted at first sight: a feed dropped at once must not suspend it before it is due.
    min_duration: 0s
    notify: [hook]
health:
  notify: [hook, backup]
  feed_down: 1s
  channel_failing: 1s
  credits_low: 0%
  recovery: 0.5s
"""


@dataclass
class Stage:
    """The simulator, both receivers, and where the config and state live."""

    sim: RapidOddsSimulator
    base: str
    hook: JsonReceiver
    hook_url: str
    backup: JsonReceiver
    backup_url: str
    path: Path

    def config(self, key: str, key_retry: str = "5m") -> Path:
        self.path.write_text(
            CONFIG.format(
                state=self.path.parent / "state",
                key=key,
                key_retry=key_retry,
                base=self.base,
                hook=self.hook_url,
                backup=self.backup_url,
            ),
            encoding="utf-8",
        )
        return self.path


@pytest.fixture(autouse=True)
def look_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """Look at health ten times a second (once a second in production)."""
    monkeypatch.setattr(daemon_module, "HEALTH_INTERVAL", 0.1)


@asynccontextmanager
async def stage(tmp_path: Path, hook_reply: Reply | None = None) -> AsyncIterator[Stage]:
    world = quiet_world()
    sim = RapidOddsSimulator(world, keys=KEYS, push_interval=0.1, rate_limit=None)
    async with (
        serve(sim) as base,
        json_receiver(default=hook_reply or Reply()) as (hook, hook_url),
        json_receiver() as (backup, backup_url),
    ):
        yield Stage(sim, base, hook, hook_url, backup, backup_url, tmp_path / "config.yaml")


def quiet_world() -> World:
    """A world that never moves: every NBA moneyline at 1.87 / 1.87 (no arbitrage), but
    for the first game, where Pinnacle and DraftKings disagree: 2.10 / 2.10, a 5% arb.
    """
    now = time.time()
    world = World(seed=11, now=now, stale_rate=0.0, off_board_rate=0.0, reprice_rate=0.0)
    nba = [event for event in world.events if event.sport == "NBA"]
    for index, event in enumerate(nba):
        for book in ("Pinnacle", "DraftKings"):
            prices = (1.87, 1.87)
            if index == 0:
                prices = (2.10, 1.80) if book == "Pinnacle" else (1.80, 2.10)
            for side, price in zip((HOME, AWAY), prices, strict=True):
                world.quotes[(event.event_id, 0, side, book)] = Quote(
                    event.event_id, 0, side, book, price, now
                )
    return world


async def titles(receiver: JsonReceiver, count: int) -> list[str]:
    """The titles of the next ``count`` posts, in order of arrival."""
    return [str((await receiver.next_post(WAIT))["title"]) for _ in range(count)]


@pytest.mark.faults
async def test_a_dead_key_is_alerted_at_once_and_not_again_after_a_restart(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        config = load_config(s.config(DEAD_KEY))
        started = time.monotonic()
        async with running(Daemon(config)):
            post = await s.hook.next_post(WAIT)
            took = time.monotonic() - started
            assert post["title"] == "arbwatch: rapid API key refused"
            assert "check the API key" in post["message"]
            assert DEAD_KEY not in post["message"]
            assert (await s.backup.next_post(WAIT))["title"] == post["title"]
        print(f"dead key: alerted {took:.2f} s after start")
        # Restarted with the same dead key: the condition is already alerted.
        second = Daemon(config)
        async with running(second):
            await until(lambda: second.health().feeds[0].state == "refused", WAIT)
            await until(lambda: len(second.health().problems) == 1, WAIT)
            second.check_health()
        assert s.hook.nothing_more()
        assert s.backup.nothing_more()
        # Restarted with a good key: the recovery is told, though it happened while down.
        healed = Daemon(load_config(s.config(GOOD_KEY)))
        async with running(healed):
            assert await titles(s.backup, 1) == ["arbwatch: rapid API key accepted again"]


@pytest.mark.faults
async def test_a_renewed_key_is_taken_without_a_restart(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        # Tried again 2 s after the refusal (less up to 20%): time to renew it.
        daemon = Daemon(load_config(s.config(DEAD_KEY, key_retry="2s")))
        async with running(daemon):
            assert await titles(s.backup, 1) == ["arbwatch: rapid API key refused"]
            s.sim.add_key(DEAD_KEY, PRO)
            renewed = time.monotonic()
            assert await titles(s.backup, 1) == ["arbwatch: rapid API key accepted again"]
            took = time.monotonic() - renewed
            await until(lambda: daemon.health().feeds[0].state == "up", WAIT)
            assert daemon.feeds[0].stats.reconnects == 1
        assert daemon.exit_status == 0
        print(f"renewed key: accepted again {took:.2f} s after the renewal (key_retry 2 s)")


@pytest.mark.faults
async def test_every_key_refused_stops_the_daemon_with_status_77(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        config = s.config(DEAD_KEY, key_retry="0.2s")
        daemon = Daemon(load_config(config))
        started = time.monotonic()
        with anyio.fail_after(WAIT):
            await daemon.run()  # returns by itself: refused, and refused again 0.2 s later
        print(f"every key refused: stopped {time.monotonic() - started:.2f} s after start")
        assert daemon.exit_status == EXIT_KEYS_REFUSED == 77
        assert daemon.feeds[0].stats.refusals == REFUSALS_BEFORE_EXIT
        # The alert was decided before the stop and flushed by it.
        assert await titles(s.backup, 1) == ["arbwatch: rapid API key refused"]
        # `arbwatch run` exits with it, for systemd's Restart=.
        with anyio.fail_after(WAIT):
            result = await anyio.run_process(
                [sys.executable, "-m", "arbwatch", "run", "-c", str(config)], check=False
            )
        assert result.returncode == 77, result.stderr.decode()[-2000:]
        assert b"every feed's API key is refused" in result.stderr


async def test_exhausted_credits_are_alerted_and_a_top_up_resumes_pushes_and_says_so(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        daemon = Daemon(load_config(s.config(POOR_KEY)))
        async with running(daemon):
            out = await s.backup.next_post(WAIT)
            assert out["title"] == "arbwatch: rapid out of credits"
            assert "RapidOddsAPI says 0 of 5 credits left" in out["message"]
            # The server's error event (push skipped, socket kept) follows the last push.
            await until(lambda: daemon.health().feeds[0].out_of_credits, WAIT)
            assert daemon.health().feeds[0].state == "up"
            frames = daemon.feeds[0].stats.frames
            updates = daemon.stats.updates
            topped_up = time.monotonic()
            s.sim.top_up(POOR_KEY, 1000)
            back = await s.backup.next_post(WAIT)
            took = time.monotonic() - topped_up
            assert back["title"] == "arbwatch: rapid credits back"
            # Pushes resumed on the same socket: new frames, charged again.
            await until(lambda: daemon.stats.updates > updates or feed_charged(daemon), WAIT)
            assert daemon.feeds[0].stats.frames > frames
            assert daemon.feeds[0].stats.reconnects == 0
        print(f"credits top-up: recovery alert {took:.2f} s after the top-up")
        # The hook had them too, after the arbitrage the first pushes found.
        assert await titles(s.hook, 3) == [
            "ARB +5.00% · NBA · " + arb_game(s),
            "arbwatch: rapid out of credits",
            "arbwatch: rapid credits back",
        ]


def arb_game(s: Stage) -> str:
    """The game and market of the one arbitrage in the world, as an alert title shows it."""
    event = next(event for event in s.sim.world.events if event.sport == "NBA")
    return f"{event.away} @ {event.home} · Moneyline"


def feed_charged(daemon: Daemon) -> bool:
    """Whether the feed was charged for a push since its credits came back."""
    feed = daemon.health().feeds[0]
    return not feed.out_of_credits and (feed.credits_used or 0) > 5


async def test_a_feed_outage_is_alerted_after_the_threshold_and_its_recovery_told(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        daemon = Daemon(load_config(s.config(GOOD_KEY)))
        async with running(daemon):
            await until(lambda: daemon.health().feeds[0].state == "up", WAIT)
            dropped = time.monotonic()
            s.sim.faults.drop = True
            down = await s.backup.next_post(WAIT)
            alerted = time.monotonic() - dropped
            assert down["title"] == "arbwatch: feed rapid down for 1s"
            assert "Its opportunities are suspended" in down["message"]
            s.sim.faults.drop = False
            up = await s.backup.next_post(WAIT)
            assert up["title"] == "arbwatch: feed rapid back up"
            assert up["message"].startswith("It lasted ")
        print(f"outage: down alert {alerted:.2f} s after the drop (threshold 1 s)")
        assert await titles(s.hook, 3) == [
            "ARB +5.00% · NBA · " + arb_game(s),
            down["title"],
            up["title"],
        ]
        assert s.hook.nothing_more()
        assert s.backup.nothing_more()
        with Store(tmp_path / "state" / STATE_FILE) as store:
            assert store.load_conditions() == []


async def test_a_failing_channel_is_reported_through_the_other_channel(tmp_path: Path) -> None:
    failing = Reply(status=500)
    async with stage(tmp_path, hook_reply=failing) as s:
        # A dead key gives the channels something to send at once.
        daemon = Daemon(load_config(s.config(DEAD_KEY)))
        async with running(daemon):
            assert await titles(s.backup, 1) == ["arbwatch: rapid API key refused"]
            report = await s.backup.next_post(WAIT)
            assert report["title"].startswith("arbwatch: channel hook failing for ")
            assert "Alerts to hook are not arriving" in report["message"]
            assert "error=500" in report["message"]
            # The hook heals: its retried alert goes through, and the recovery is told on
            # the other channel only.
            s.hook.default = Reply()
            healed = await s.backup.next_post(WAIT)
            assert healed["title"] == "arbwatch: channel hook delivering again"
            delivered = await titles(s.hook, 1)
        assert delivered == ["arbwatch: rapid API key refused"]
        assert s.hook.nothing_more()


async def test_an_opportunity_of_a_feed_that_goes_down_is_suspended_never_gone(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        daemon = Daemon(load_config(s.config(GOOD_KEY)))
        async with running(daemon):
            assert await titles(s.hook, 1) == ["ARB +5.00% · NBA · " + arb_game(s)]
            s.sim.faults.drop = True
            # The feed is down: the opportunity is suspended at once, silently.
            await until(lambda: daemon.lifecycle is not None and not daemon.lifecycle.active())
            assert await titles(s.hook, 1) == ["arbwatch: feed rapid down for 1s"]
            s.sim.faults.drop = False
            # Back up, the same prices find it again: within its repeat interval, no alert.
            assert await titles(s.hook, 1) == ["arbwatch: feed rapid back up"]
            await until(
                lambda: daemon.lifecycle is not None and len(daemon.lifecycle.active()) == 1
            )
            # Stopped while the opportunity is live...
        # ...and restarted an hour later with a key that is refused: the restored state's
        # quotes are stale and no price moved, so it ends without a GONE.
        later = Daemon(load_config(s.config(DEAD_KEY)), clock=lambda: time.time() + 3600)
        async with running(later):
            assert await titles(s.hook, 1) == ["arbwatch: rapid API key refused"]
            await until(lambda: later.lifecycle is not None and later.lifecycle.active_count == 0)
            later.check_health()
        assert s.hook.nothing_more()
        # Two occurrences (before the outage, and found again after it), one alert: NEW.
        with Store(tmp_path / "state" / STATE_FILE) as store:
            rows = store.history()
        assert [(row.rule, row.alerts, row.active) for row in rows] == [
            ("arbs", 0, False),
            ("arbs", 1, False),
        ]
