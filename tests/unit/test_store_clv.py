"""Closing-line value in the SQLite store, on real files: tracked, settled, restored, shown."""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing
from pathlib import Path

from arbwatch.core.clv import NO_SHARP_PRICE, Close, ClvRecord, ClvTracker
from arbwatch.core.dedup import Lifecycle
from arbwatch.core.devig import DevigMethod
from arbwatch.core.markets import AWAY, HOME, PriceUpdate, moneyline
from arbwatch.core.rules import RuleSet
from arbwatch.store import STATE_FILE, Store, clv_lines, format_history
from tests.unit.test_store import ML, NOW, UTC, alerted_price, matches, rule

START = NOW + 3600


def test_alerted_prices_wait_in_the_store_and_settle_there(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    waiting = alerted_price(starts_at=START)
    other = alerted_price(key="k2", outcome=AWAY, price=1.95, market=moneyline("g2"))
    with Store(path) as store:
        store.save_clv([waiting, other], [])
        store.save_clv([waiting], [])  # written again: still one row
        assert store.pending_clv() == [waiting, other]
        assert store.clv_pending_count() == 2
        assert store.clv_records() == []
    # A restart tracks them again, and the feed's snapshot brings the sharp prices back.
    with Store(path) as store:
        tracker = ClvTracker(store.pending_clv())
        tracker.observe(
            PriceUpdate(ML, slot, "Pinnacle", price, NOW + 10)
            for slot, price in ((HOME, 1.90), (AWAY, 2.00))
        )
        settled = tracker.settle(START)
        store.save_clv([], settled)
        store.save_clv([waiting], [])  # a late duplicate write never unsettles it
        assert store.pending_clv() == []
        assert store.clv_records() == settled
        assert store.clv_records("ev") == settled
        assert store.clv_records("other") == []
    first, second = settled
    # Worst case of 1.90 / 2.00 for the favourite is multiplicative's 2/3.9 here, the
    # smallest of the five; 2.10 · 2/3.9 - 1 = 1/13.
    assert first.clv is not None
    assert math.isclose(first.clv, 1 / 13, abs_tol=1e-9)
    assert (second.clv, second.note) == (None, NO_SHARP_PRICE)


def test_history_shows_each_occurrences_clv_and_the_summary(tmp_path: Path) -> None:
    config = rule()
    path = tmp_path / STATE_FILE
    with Store(path) as store:
        observation = Lifecycle([config]).observe(matches(RuleSet([config]), ML), {ML}, NOW)
        store.save(observation)
        (alert,) = observation.alerts
        legs = [
            alerted_price(key=alert.key, rule="arbs", kind="arbitrage", outcome=slot, book=book)
            for slot, book in ((HOME, "draftkings"), (AWAY, "fanduel"))
        ]
        store.save_clv(legs, [])
        (row,) = store.history()
        assert (row.clv, row.clv_pending) == ((), 2)
        assert "pending" in format_history([row], NOW, UTC)[1]
        store.save_clv(
            [],
            [
                ClvRecord(legs[0], START, 0.5, 2.2 * 0.5 - 1.0),
                ClvRecord(legs[1], START, 0.5, 1.9 * 0.5 - 1.0),
            ],
        )
        (row,) = store.history()
        assert row.clv_pending == 0
        assert "  +10.00%/-5.00%  " in format_history([row], NOW, UTC)[1]
    lines = clv_lines(tmp_path, None)
    assert lines[0] == "Closing-line value of 2 alerted prices"
    assert lines[3].split() == ["arbs", "2", "2", "+2.50%", "50%", "(1/2)", "0"]
    assert clv_lines(tmp_path, "nosuch")[:2] == [
        "rule nosuch:",
        "No closing-line value yet: no alerted game has started.",
    ]
    (missing,) = clv_lines(tmp_path / "nowhere", None)
    assert missing.startswith("No history yet:")


def test_prune_keeps_prices_still_waiting_for_their_game(tmp_path: Path) -> None:
    with Store(tmp_path / STATE_FILE) as store:
        old = alerted_price(key="old", alerted_at=NOW - 100)
        store.save_clv([alerted_price(key="waiting")], [ClvRecord(old, NOW - 50, 0.5, 0.05)])
        store.prune(NOW)
        assert [p.key for p in store.pending_clv()] == ["waiting"]
        assert store.clv_records() == []


def test_a_database_from_before_clv_upgrades_and_reads_without_it(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    with Store(path):
        pass
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DROP TABLE clv")
    # Read-only, as `arbwatch history` reads while an older daemon runs: nothing to show.
    with Store(path, read_only=True) as store:
        assert store.pending_clv() == []
        assert store.clv_records() == []
        assert store.clv_pending_count() == 0
        assert store.history() == []
    assert clv_lines(tmp_path, None) == ["No closing-line value yet: no alerted game has started."]
    # The next start of the daemon creates the table.
    with Store(path) as store:
        store.save_clv([alerted_price()], [])
        assert len(store.pending_clv()) == 1


def test_an_unknown_start_and_every_devig_method_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path / STATE_FILE) as store:
        prices = [
            alerted_price(key=method.value, close=Close(("Pinnacle", "Circa"), method))
            for method in DevigMethod
        ]
        unknown = alerted_price(key="unknown", starts_at=math.nan)
        store.save_clv([*prices, unknown], [])
        restored = store.pending_clv()
    assert restored[:-1] == prices
    assert restored[-1].key == "unknown"
    assert math.isnan(restored[-1].starts_at)
