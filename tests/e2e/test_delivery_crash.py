"""At-least-once delivery across ``kill -9``: what was decided is sent after the restart.

``arbwatch run`` is a real child process against TheRundown's simulator and
a slow webhook (apprise ``json://``), all on 127.0.0.1. The webhook holds every request, so
the alerts pile up in its channel's queue; the daemon is then
killed with SIGKILL, started again with the webhook answering, and stopped with SIGTERM.
What was decided is read from the state database, as ``arbwatch history`` reads it.
Every alert decided (and still fresh) must reach the webhook exactly once, or with at most
one duplicate per channel; none may be lost. In-process, what is resent at start is only
what is still fresh and has a channel to go to; the rest is settled as not sent.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import anyio
import pytest

from arbwatch.config import load_config
from arbwatch.core.dedup import Observation
from arbwatch.daemon import Daemon
from arbwatch.store import STATE_FILE, Decision, Store
from tests.e2e.test_daemon import WAIT, arb, running, stage
from tests.e2e.test_service import collect, logged
from tests.sinks import Reply, until

pytestmark = [pytest.mark.anyio, pytest.mark.faults]

#: Decimal prices with whole American odds: 5 % and 10 % arbitrages, so the second is an
#: improved alert of the first (``improve_by`` is 0.5 %).
STEPS = (2.10, 2.20)


def decided(state: Path) -> list[str]:
    """The alerts the daemon logged as decided for the webhook, read as ``history`` reads."""
    path = state / STATE_FILE
    if not path.exists():
        return []
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        try:
            rows = db.execute("SELECT title FROM decided WHERE channel = 'hook' ORDER BY id")
            return [title for (title,) in rows]
        except sqlite3.OperationalError:  # not created yet
            return []


def arbs_decided(state: Path) -> int:
    """How many arbitrage alerts were decided (the EV rule alerts too, as it may).

    A price sent as two frames (home, then away) may be two improved alerts: hence at least.
    """
    return sum(title.startswith("ARB") for title in decided(state))


async def test_kill_9_while_alerts_wait_loses_none_and_repeats_at_most_one(
    tmp_path: Path,
) -> None:
    hold = anyio.Event()
    async with stage(tmp_path) as s:
        path = s.write_config()
        # Only the slow channel; the state database says what was decided.
        path.write_text(path.read_text().replace("notify: [mail, hook]", "notify: [hook]"))
        state = tmp_path / "state"
        command = [sys.executable, "-m", "arbwatch", "run", "-c", str(path)]
        # The slow channel: every request waits (and then fails) until the test ends.
        s.hook.default = Reply(status=503, release=hold)
        first: list[str] = []
        async with (
            await anyio.open_process(command, stdin=subprocess.DEVNULL) as process,
            anyio.create_task_group() as group,
        ):
            group.start_soon(collect, process, first)
            try:
                await until(lambda: s.rundown.connection_count == 1, WAIT)
                prices = [(event, STEPS[0]) for event in s.events] + [(s.events[0], STEPS[1])]
                for count, (event, price) in enumerate(prices, 1):
                    s.price(event, arb(price, price))
                    await until(lambda n=count: arbs_decided(state) >= n, WAIT)  # type: ignore[misc]
                await until(lambda: s.hook.requests >= 1, WAIT)
            finally:
                process.kill()
            with anyio.fail_after(WAIT):
                killed = await process.wait()
        assert killed == -signal.SIGKILL, "\n".join(first)
        before = decided(state)
        assert len(set(before)) == len(before)
        assert arbs_decided(state) >= len(s.events) + 1
        assert s.hook.nothing_more()

        s.hook.default = Reply()
        lines: list[str] = []
        async with (
            await anyio.open_process(command, stdin=subprocess.DEVNULL) as process,
            anyio.create_task_group() as group,
        ):
            group.start_soon(collect, process, lines)
            try:
                hooked = [(await s.hook.next_post(WAIT))["title"] for _ in before]
                await until(lambda: s.rundown.connection_count == 1, WAIT)
            finally:
                # Stopped cleanly, it sends whatever else it has before exiting.
                process.send_signal(signal.SIGTERM)
            with anyio.fail_after(WAIT):
                status = await process.wait()
        hold.set()
        assert status == 0, "\n".join(lines)
        for _ in range(len(before)):
            if s.hook.nothing_more():
                break
            hooked.append((await s.hook.next_post(WAIT))["title"])

    # None lost: every alert decided reached the slow channel after the restart.
    assert set(hooked) == set(before)
    # At most one duplicate per channel (the send a kill can catch before its record).
    assert len(hooked) - len(set(hooked)) <= 1
    assert logged(lines, f"{len(before)} alerts decided before the last stop were not delivered")
    assert decided(state) == before
    assert not logged(lines, "Traceback")


async def test_at_start_only_fresh_deliveries_to_existing_channels_are_sent_again(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        config = load_config(s.write_config())
        now = time.time()
        unsent = [
            Decision("hook", "k1", "arbs", "fresh", "body", now - 5, now - 5),
            Decision("hook", "k2", "arbs", "stale", "body", now - 1000, now - 1000),
            Decision("pager", "k3", "arbs", "channel gone", "body", now - 5, now - 5),
        ]
        with Store(config.state_dir / STATE_FILE) as store:
            store.save(Observation(), unsent)
        daemon = Daemon(config)
        async with running(daemon):
            assert (await s.hook.next_post(WAIT))["title"] == "fresh"
            await until(lambda: daemon.notifier.stats()["hook"].sent == 1, WAIT)
        assert s.hook.nothing_more()
        with Store(config.state_dir / STATE_FILE) as store:
            assert store.unsettled() == []
        uri = f"{(config.state_dir / STATE_FILE).as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as db:
            outcomes = db.execute("SELECT key, ok FROM deliveries ORDER BY key").fetchall()
        assert outcomes == [("k1", 1), ("k2", 0), ("k3", 0)]
