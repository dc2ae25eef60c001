"""Closing-line value end to end: a +EV alert, its game's start, and ``arbwatch history``.

The daemon runs in-process against TheRundown's simulator (the frozen world of
`tests.e2e.test_daemon`), alerting to a real webhook receiver. Its clock is the wall clock
plus an offset the test moves: the game starts an hour from now, and once the alert is out
and the sharp book's closing price is in, the clock jumps past the start; the daemon's
once-a-second step settles the price. Then ``arbwatch history`` runs as a child process on
the SQLite file the run left.

Prices convert exactly to the whole American odds the simulator sends. Pinnacle opens at
1.80 / 2.00: fair home 10/19, and Bovada's 2.00 on home is +EV 20/19 - 1 = 5.26%. Pinnacle
closes at 1.50 / 2.50: fair home (1/1.5) / (1/1.5 + 1/2.5) = 5/8, so the CLV is
2.00 · 5/8 - 1 = +25%. A price Pinnacle sets after the start (2.50 / 1.50, fair home 3/8)
must not count.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from arbwatch.config import load_config
from arbwatch.daemon import Daemon
from arbwatch.sim.rundown import DEFAULT_KEY
from arbwatch.store import STATE_FILE, Store
from tests.e2e.test_commands import arbwatch
from tests.e2e.test_daemon import WAIT, bootstrapped, running, stage
from tests.sinks import until

pytestmark = pytest.mark.anyio

#: Seconds from now to the game's start, on the wall clock.
LEAD = 3600.0

CONFIG = """\
odds_format: decimal
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
  hook: {hook_url}/alerts
rules:
  - name: bovada-ev
    kind: positive_ev
    sharp: [Pinnacle]
    devig: multiplicative
    books: [Bovada]
    min_ev: 3%
    max_quote_age: 60s
    improve_by: 0%
    notify: [hook]
"""


def settled(path: Path) -> int:
    """How many closing-line values the state database holds settled."""
    with Store(path, read_only=True) as store:
        return len(store.clv_records())


async def test_a_positive_ev_alerts_clv_is_settled_at_the_start_and_shown(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        game = s.events[0]
        game.starts_at = time.time() + LEAD
        path = s.write_config(
            text=CONFIG.format(
                state=tmp_path / "state",
                key=DEFAULT_KEY,
                rundown_url=s.rundown_url,
                hook_url=s.hook_url,
            )
        )
        offset = 0.0
        daemon = Daemon(load_config(path), clock=lambda: time.time() + offset)
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            s.price(game, {"Pinnacle": (1.80, 2.00), "Bovada": (2.00, 1.50)})
            post = await s.hook.next_post(WAIT)
            assert "EV +5.26%" in str(post)
            assert daemon.clv.tracker.tracked == 1
            # The close, then a price set after the start (quoted two hours from now).
            s.price(game, {"Pinnacle": (1.50, 2.50)})
            s.price(game, {"Pinnacle": (2.50, 1.50)}, age=-2 * LEAD)
            await until(lambda: daemon.stats.updates >= len(s.events) * 6 + 8, WAIT)
            offset = LEAD + 1.0
            await until(lambda: settled(tmp_path / "state" / STATE_FILE) == 1, WAIT)
            assert len(daemon.clv.tracker) == 0

        status, out, err = await arbwatch("history", "-c", str(path))
        assert (status, err) == (0, "")
        (row,) = [line for line in out.splitlines() if game.home in line]
        assert "bovada-ev" in row
        assert "  +25.00%  " in row

        status, out, err = await arbwatch("history", "--clv", "-c", str(path))
        assert (status, err) == (0, "")
        lines = out.splitlines()
        assert lines[0] == "Closing-line value of 1 alerted price"
        assert ["bovada-ev", "1", "1", "+25.00%", "100%", "(1/1)", "0"] in [
            line.split() for line in lines
        ]
        assert ["Bovada", "1", "1", "+25.00%", "100%", "(1/1)", "0"] in [
            line.split() for line in lines
        ]

        # A rule the config does not name and the history never saw is a mistake, not a summary.
        status, _, err = await arbwatch("history", "--clv", "--rule", "nosuch", "-c", str(path))
        assert status == 2
        assert "no rule named 'nosuch'" in err
