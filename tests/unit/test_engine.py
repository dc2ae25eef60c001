"""The one engine step: what it applies, finds and decides, quiet hours included."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from zoneinfo import ZoneInfo

from arbwatch.core.dedup import AlertReason
from arbwatch.core.engine import Engine
from arbwatch.core.markets import Event, PriceUpdate, moneyline
from arbwatch.core.rulemodel import QuietHours, RuleConfig
from arbwatch.feeds.base import FeedBatch

#: 2026-01-05 12:00:00 UTC, a Monday.
NOON = 1_767_614_400.0
MARKET = moneyline("e1")
GAME = Event("e1", sport="NBA", home="Celtics", away="Lakers", starts_at=NOON + 7200.0)
#: Alerted at first sight (min_duration 0): the step itself decides.
ARBS = RuleConfig(
    name="arbs", kind="arbitrage", notify=("phone",), max_quote_age=60.0, min_duration=0.0
)
#: 11:00 to 13:00 UTC.
QUIET_AT_NOON = QuietHours(dt.time(11, 0), dt.time(13, 0), ZoneInfo("UTC"))


def arbitrage_batch(at: float) -> FeedBatch:
    """Celtics 2.10 at one book, Lakers 2.10 at another: 1/2.1 + 1/2.1 < 1, a 5% arbitrage."""
    updates = (
        PriceUpdate(MARKET, 0, "Pinnacle", 2.10, at),
        PriceUpdate(MARKET, 1, "DraftKings", 2.10, at),
    )
    return FeedBatch("feed", at, (GAME,), updates)


def test_a_step_returns_what_it_applied_evaluated_matched_and_decided() -> None:
    engine = Engine([ARBS])
    batch = arbitrage_batch(NOON)
    step = engine.step([batch], NOON)
    assert list(step.updates()) == list(batch.updates)
    assert step.update_count == 2
    assert step.refused == 0
    assert step.evaluated == {MARKET}
    assert [match.rule.name for match in step.matches] == ["arbs"]
    (alert,) = step.observation.alerts
    assert (alert.reason, alert.at) == (AlertReason.NEW, NOON)
    # The same prices again: seen, not alerted again within the repeat interval.
    again = engine.step([arbitrage_batch(NOON + 1)], NOON + 1)
    assert len(again.matches) == 1
    assert again.observation.alerts == []


def test_min_duration_holds_the_first_alert_until_the_expiry_at_its_due_time() -> None:
    held = RuleConfig(
        name="held", kind="arbitrage", notify=("phone",), max_quote_age=60.0, min_duration=0.3
    )
    engine = Engine([held])
    assert engine.step([arbitrage_batch(NOON)], NOON).observation.alerts == []
    assert engine.lifecycle.next_due() == NOON + 0.3
    (alert,) = engine.expire(NOON + 0.3).alerts
    assert (alert.reason, alert.at) == (AlertReason.NEW, NOON + 0.3)
    assert engine.lifecycle.next_due() is None


def test_quiet_hours_hold_an_alert_until_they_end_as_the_daemon_does() -> None:
    quiet = RuleConfig(
        name="quiet",
        kind="arbitrage",
        notify=("phone",),
        max_quote_age=7200.0,
        quiet_hours=QUIET_AT_NOON,
    )
    engine = Engine([quiet])
    step = engine.step([arbitrage_batch(NOON)], NOON)
    assert len(step.matches) == 1
    assert step.observation.alerts == []
    assert engine.expire(NOON + 3599).alerts == []
    (alert,) = engine.expire(NOON + 3600).alerts  # 13:00, the quiet hours are over
    assert alert.reason is AlertReason.NEW


def test_the_naive_reference_engine_is_not_loaded_by_the_daemon_or_the_command_line() -> None:
    code = (
        "import sys, arbwatch.daemon, arbwatch.cli, arbwatch.backtest, arbwatch.feeds.replay; "
        "sys.exit('arbwatch.bench.naive' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
