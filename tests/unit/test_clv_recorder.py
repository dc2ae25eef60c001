"""The daemon's CLV adapter on a real matrix, real rules and lifecycle, and a real SQLite file.

Pinnacle's 1.90 / 2.00 close devigs (multiplicatively) to 2/3.9 for the home side, so
DraftKings' 2.10 there has CLV 2.10 · 2/3.9 - 1 = 1/13.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from arbwatch.clv_recorder import ClvRecorder
from arbwatch.core.clv import IN_PLAY
from arbwatch.core.dedup import AlertReason, Lifecycle
from arbwatch.core.devig import DevigMethod
from arbwatch.core.markets import AWAY, HOME, Event, PriceUpdate, moneyline
from arbwatch.core.matrix import PriceMatrix
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.core.rules import RuleSet
from arbwatch.feeds.base import FeedBatch
from arbwatch.store import STATE_FILE
from arbwatch.store_guard import StoreGuard

NOW = 1_700_000_000.0
START = NOW + 600
GAME = Event("g1", sport="NBA", home="Celtics", away="Lakers", starts_at=START)
ML = moneyline("g1")
EV = RuleConfig(
    name="pinnacle-ev",
    kind="positive_ev",
    notify=("phone",),
    sharp=("Pinnacle",),
    devig=DevigMethod.MULTIPLICATIVE,
    max_quote_age=1e9,
    min_duration=0.0,  # alerted at first sight: these steps are the whole story
)
ARBS = RuleConfig(
    name="arbs", kind="arbitrage", notify=("phone",), max_quote_age=1e9, min_duration=0.0
)


def batch(*updates: PriceUpdate, events: tuple[Event, ...] = ()) -> FeedBatch:
    return FeedBatch("rundown", NOW, events, updates)


def sharp(home: float, away: float, at: float) -> list[PriceUpdate]:
    return [
        PriceUpdate(ML, HOME, "Pinnacle", home, at),
        PriceUpdate(ML, AWAY, "Pinnacle", away, at),
    ]


class Stage:
    """A matrix, the rules and their lifecycle, and the recorder on a real store."""

    def __init__(self, tmp_path: Path, rules: tuple[RuleConfig, ...] = (EV,)) -> None:
        self.clock = NOW
        self.guard = StoreGuard(tmp_path / STATE_FILE, lambda: self.clock, retry_interval=0.0)
        self.rules = rules
        self.matrix = PriceMatrix()
        self.matrix.set_event(GAME)
        self.lifecycle = Lifecycle(rules)
        self.recorder = ClvRecorder(self.guard)

    def step(self, *updates: PriceUpdate, now: float) -> None:
        """What `Daemon.process` does with a batch, and `_act` with its alerts."""
        self.recorder.observe([batch(*updates)])
        self.matrix.apply(list(updates))
        rows = self.matrix.take_dirty()
        matches = RuleSet(self.rules).evaluate(self.matrix.block(rows), now)
        evaluated = {self.matrix.market(int(row)) for row in rows}
        observation = self.lifecycle.observe(matches, evaluated, now)
        self.recorder.alerted(observation.alerts, self.matrix, self.rules, now)


def test_an_alerted_price_settles_against_the_last_sharp_price_before_the_start(
    tmp_path: Path,
) -> None:
    stage = Stage(tmp_path)
    with stage.guard as guard:
        stage.step(*sharp(1.95, 1.95, NOW), PriceUpdate(ML, HOME, "DraftKings", 2.10, NOW), now=NOW)
        store = guard.store
        assert store is not None
        (waiting,) = store.pending_clv()
        assert (waiting.rule, waiting.book, waiting.price, waiting.starts_at) == (
            "pinnacle-ev",
            "DraftKings",
            2.10,
            START,
        )
        # The sharp line moves before the start (EV 5% -> 7.7%: IMPROVED, a second price
        # tracked), and again after it: not the close, and an in-play alert of its own.
        stage.step(*sharp(1.90, 2.00, START - 60), now=START - 60)
        stage.step(*sharp(1.50, 2.80, START + 1), now=START + 1)
        records = store.clv_records()
        assert store.pending_clv() == []
        assert [(r.alerted.alerted_at, r.clv, r.note) for r in records] == [
            (NOW, pytest.approx(1 / 13, abs=1e-12), ""),
            (START - 60, pytest.approx(1 / 13, abs=1e-12), ""),
            (START + 1, None, IN_PLAY),
        ]
        assert all(r.settled_at == START + 1 for r in records)
        assert len(stage.recorder.tracker) == 0


def test_a_restart_goes_on_tracking_what_waited(tmp_path: Path) -> None:
    first = Stage(tmp_path)
    with first.guard:
        first.step(*sharp(1.90, 2.00, NOW), PriceUpdate(ML, HOME, "DraftKings", 2.10, NOW), now=NOW)
    second = Stage(tmp_path)
    with second.guard as guard:
        # The feed's snapshot after the restart brings Pinnacle's price again.
        second.recorder.observe([batch(*sharp(1.90, 2.00, NOW))])
        assert second.recorder.tracker.tracked == 1
        settled = second.recorder.alerted([], second.matrix, second.rules, START)
        assert [r.clv for r in settled] == pytest.approx([1 / 13], abs=1e-12)
        assert guard.store is not None
        assert guard.store.clv_records() == settled


def test_a_postponed_game_settles_at_its_new_start(tmp_path: Path) -> None:
    stage = Stage(tmp_path)
    with stage.guard:
        stage.step(*sharp(1.90, 2.00, NOW), PriceUpdate(ML, HOME, "DraftKings", 2.10, NOW), now=NOW)
        later = Event("g1", sport="NBA", home="Celtics", away="Lakers", starts_at=START + 3600)
        stage.recorder.observe([batch(*sharp(1.95, 1.95, START + 10), events=(later,))])
        assert stage.recorder.alerted([], stage.matrix, stage.rules, START + 60) == []
        (record,) = stage.recorder.alerted([], stage.matrix, stage.rules, START + 3600)
        # 2.10 · 0.5 - 1: the price quoted before the new start is the close.
        assert record.clv == pytest.approx(0.05, abs=1e-12)


def test_arbitrage_legs_are_measured_against_the_ev_rules_sharp_books(tmp_path: Path) -> None:
    stage = Stage(tmp_path, rules=(ARBS, EV))
    with stage.guard:
        stage.step(
            *sharp(1.90, 2.00, NOW),
            PriceUpdate(ML, HOME, "DraftKings", 2.10, NOW),
            PriceUpdate(ML, AWAY, "FanDuel", 2.05, NOW),
            now=NOW,
        )
        settled = stage.recorder.alerted([], stage.matrix, stage.rules, START)
    by_rule = {(r.alerted.rule, r.alerted.book): r.clv for r in settled}
    # Home 2.10 · 2/3.9 - 1 = 0.3/3.9 (the +EV rule and the arb's leg); away 2.05 · 1.9/3.9 - 1.
    assert by_rule == pytest.approx(
        {
            ("arbs", "DraftKings"): 0.3 / 3.9,
            ("arbs", "FanDuel"): -0.005 / 3.9,
            ("pinnacle-ev", "DraftKings"): 0.3 / 3.9,
        },
        abs=1e-12,
    )


def test_a_repeat_alert_is_not_another_price(tmp_path: Path) -> None:
    stage = Stage(tmp_path, rules=(replace(EV, repeat=60.0),))
    with stage.guard:
        stage.step(*sharp(1.90, 2.00, NOW), PriceUpdate(ML, HOME, "DraftKings", 2.10, NOW), now=NOW)
        later = NOW + 61
        observation = stage.lifecycle.expire(later)
        assert [alert.reason for alert in observation.alerts] == [AlertReason.REPEAT]
        stage.recorder.alerted(observation.alerts, stage.matrix, stage.rules, later)
        assert stage.recorder.tracker.tracked == 1


def test_without_a_sharp_book_arbitrage_alerts_are_not_tracked(tmp_path: Path) -> None:
    stage = Stage(tmp_path, rules=(ARBS,))
    with stage.guard:
        stage.step(
            PriceUpdate(ML, HOME, "DraftKings", 2.10, NOW),
            PriceUpdate(ML, AWAY, "FanDuel", 2.05, NOW),
            now=NOW,
        )
        assert stage.lifecycle.active_count == 1
        assert len(stage.recorder.tracker) == 0


def test_an_in_play_alert_is_recorded_with_no_close(tmp_path: Path) -> None:
    stage = Stage(tmp_path)
    with stage.guard as guard:
        later = START + 5
        stage.step(
            *sharp(1.90, 2.00, later), PriceUpdate(ML, HOME, "DraftKings", 2.10, later), now=later
        )
        assert guard.store is not None
        (record,) = guard.store.clv_records()
    assert (record.clv, record.note) == (None, IN_PLAY)


def test_what_a_failing_store_could_not_take_is_written_once_it_works(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory should be", encoding="utf-8")
    stage = Stage(tmp_path)
    stage.guard = StoreGuard(blocker / STATE_FILE, lambda: stage.clock, retry_interval=0.0)
    stage.recorder = ClvRecorder(stage.guard)
    with stage.guard as guard:
        assert guard.store is None
        stage.step(*sharp(1.90, 2.00, NOW), PriceUpdate(ML, HOME, "DraftKings", 2.10, NOW), now=NOW)
        assert stage.recorder.tracker.tracked == 1
        blocker.unlink()
        store = guard.reopen_if_due()
        assert store is not None
        (record,) = stage.recorder.alerted([], stage.matrix, stage.rules, START)
        assert store.clv_records() == [record]
