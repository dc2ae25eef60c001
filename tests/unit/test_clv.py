"""Closing-line value: the tracker's closes, worked out by hand, and the summary's text.

The closing prices are picked so the fair probabilities come out exactly: Pinnacle's 1.90 /
2.00 devig multiplicatively to 2/3.9 and 1.9/3.9 (π = 1/1.9, 1/2; Π = 3.9/3.8), and 1.80 /
3.60 / 3.60 to 0.5 / 0.25 / 0.25.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pytest

from arbwatch.core.clv import (
    IN_PLAY,
    NO_SHARP_PRICE,
    START_UNKNOWN,
    AlertedPrice,
    Close,
    ClvRecord,
    ClvTracker,
    close_for,
)
from arbwatch.core.clv_summary import clv_cell, summary_lines
from arbwatch.core.devig import DevigMethod
from arbwatch.core.markets import AWAY, DRAW, HOME, MarketKey, PriceUpdate, moneyline

START = 1_700_000_000.0
ML = moneyline("g1")
ML3 = moneyline("g2", three_way=True)
PINNACLE = Close(("Pinnacle",), DevigMethod.MULTIPLICATIVE)


def alerted(
    price: float,
    outcome: int = HOME,
    *,
    market: MarketKey = ML,
    close: Close = PINNACLE,
    at: float = START - 3600,
    starts_at: float = START,
    rule: str = "pinnacle-ev",
    book: str = "DraftKings",
    key: str = "k1",
) -> AlertedPrice:
    return AlertedPrice(
        key=key,
        rule=rule,
        kind="positive_ev",
        book=book,
        market=market,
        outcome=outcome,
        label=("Home", "Away", "Draw")[outcome],
        price=price,
        alerted_at=at,
        starts_at=starts_at,
        close=close,
    )


def quotes(
    book: str, prices: tuple[float, ...], at: float, market: MarketKey = ML
) -> list[PriceUpdate]:
    return [PriceUpdate(market, slot, book, price, at) for slot, price in enumerate(prices)]


def settle_one(tracker: ClvTracker) -> ClvRecord:
    records = tracker.settle(START)
    assert len(records) == 1
    return records[0]


def test_clv_is_the_price_against_the_devigged_close() -> None:
    tracker = ClvTracker()
    assert tracker.track(alerted(2.10), quotes("Pinnacle", (1.90, 2.00), START - 4000)) is None
    assert tracker.settle(START - 0.001) == []
    record = settle_one(tracker)
    assert record.closing_probability == pytest.approx(2 / 3.9, abs=1e-15)
    assert record.closing_price == pytest.approx(1.95, abs=1e-12)
    # 2.10 · 2/3.9 - 1 = 0.3/3.9 = 1/13: beat the close.
    assert record.clv == pytest.approx(1 / 13, abs=1e-12)
    assert record.beat_close
    assert record.note == ""
    assert record.settled_at == START
    assert len(tracker) == 0
    assert tracker.tracked == 0


def test_the_last_price_before_the_start_counts_and_prices_after_it_do_not() -> None:
    tracker = ClvTracker()
    tracker.track(alerted(2.10), quotes("Pinnacle", (2.00, 1.90), START - 4000))
    tracker.observe(quotes("Pinnacle", (1.90, 2.00), START - 60))
    # Quoted at and after the start: in play, not the close.
    tracker.observe(quotes("Pinnacle", (1.50, 2.80), START))
    tracker.observe(quotes("Pinnacle", (1.40, 3.00), START + 30))
    # An older quote arriving late does not replace a newer one.
    tracker.observe(quotes("Pinnacle", (3.00, 1.40), START - 500))
    # Other books and other markets are not the close.
    tracker.observe(quotes("DraftKings", (1.20, 5.00), START - 10))
    tracker.observe(quotes("Pinnacle", (1.20, 5.00), START - 10, market=moneyline("g9")))
    record = settle_one(tracker)
    assert record.clv == pytest.approx(1 / 13, abs=1e-12)


def test_a_withdrawal_before_the_start_keeps_the_last_price() -> None:
    tracker = ClvTracker()
    tracker.track(alerted(2.10), quotes("Pinnacle", (1.90, 2.00), START - 4000))
    tracker.observe(quotes("Pinnacle", (math.nan, 0.0001), START - 5))
    assert settle_one(tracker).clv == pytest.approx(1 / 13, abs=1e-12)


def test_a_three_way_market_closes_on_all_three_outcomes() -> None:
    tracker = ClvTracker()
    draw = alerted(4.40, DRAW, market=ML3)
    tracker.track(draw, quotes("Pinnacle", (1.80, 3.60), START - 100, market=ML3))
    # The draw's price comes later; until then the market is incomplete.
    tracker.observe([PriceUpdate(ML3, DRAW, "Pinnacle", 3.60, START - 90)])
    record = settle_one(tracker)
    # π = 1/1.8, 1/3.6, 1/3.6 sums to 10/9: fair 0.5, 0.25, 0.25; 4.40 · 0.25 - 1 = 0.1.
    assert record.closing_probability == pytest.approx(0.25, abs=1e-15)
    assert record.clv == pytest.approx(0.1, abs=1e-12)


def test_a_market_the_sharp_book_never_priced_whole_settles_as_no_close() -> None:
    tracker = ClvTracker()
    tracker.track(alerted(2.10), [PriceUpdate(ML, HOME, "Pinnacle", 1.90, START - 50)])
    other = alerted(2.30, market=moneyline("g3"), key="k3")
    tracker.track(other)
    records = tracker.settle(START)
    assert [(r.alerted.key, r.clv, r.closing_probability, r.note) for r in records] == [
        ("k1", None, None, NO_SHARP_PRICE),
        ("k3", None, None, NO_SHARP_PRICE),
    ]
    assert not records[0].beat_close
    assert len(tracker) == 0


def test_a_missing_second_sharp_book_leaves_the_close_to_the_first() -> None:
    both = Close(("Pinnacle", "Circa"), DevigMethod.MULTIPLICATIVE)
    tracker = ClvTracker()
    tracker.track(alerted(2.10, close=both), quotes("Pinnacle", (1.90, 2.00), START - 50))
    tracker.observe([PriceUpdate(ML, HOME, "Circa", 2.00, START - 40)])  # away never
    assert settle_one(tracker).clv == pytest.approx(1 / 13, abs=1e-12)


def test_several_sharp_books_average_and_worst_case_takes_the_least() -> None:
    pinnacle = quotes("Pinnacle", (1.90, 2.00), START - 50)
    circa = quotes("circa", (2.00, 2.00), START - 50)  # named "Circa" by the rule
    mean = ClvTracker()
    mean.track(alerted(2.10, close=Close(("Pinnacle", "Circa"), DevigMethod.MULTIPLICATIVE)))
    mean.observe(pinnacle + circa)
    # (2/3.9 + 1/2) / 2 = 7.9/15.6.
    assert settle_one(mean).closing_probability == pytest.approx(7.9 / 15.6, abs=1e-15)
    worst = ClvTracker()
    worst.track(alerted(2.10, close=Close(("Pinnacle", "Circa"), DevigMethod.WORST_CASE)))
    worst.observe(pinnacle + circa)
    # Pinnacle's favourite is above 1/2 by every method; Circa's fair book gives exactly 1/2.
    record = settle_one(worst)
    assert record.closing_probability == pytest.approx(0.5, abs=1e-15)
    assert record.clv == pytest.approx(0.05, abs=1e-12)


def test_several_alerts_on_one_market_share_its_close() -> None:
    tracker = ClvTracker()
    home_new = alerted(2.10, at=START - 3600)
    home_improved = alerted(2.20, at=START - 3000)
    away = alerted(2.05, AWAY, at=START - 2000, rule="other-ev", book="FanDuel", key="k2")
    tracker.track(home_new, quotes("Pinnacle", (1.95, 1.95), START - 3600))
    tracker.track(home_improved)
    tracker.track(away)
    tracker.observe(quotes("Pinnacle", (1.90, 2.00), START - 1))
    assert len(tracker) == 1
    assert tracker.tracked == 3
    records = tracker.settle(START + 5)
    assert [r.alerted for r in records] == [home_new, home_improved, away]
    assert [r.clv for r in records] == pytest.approx(
        # 2.10 · 2/3.9 - 1; 2.20 · 2/3.9 - 1; 2.05 · 1.9/3.9 - 1 (did not beat the close).
        [0.3 / 3.9, 0.5 / 3.9, -0.005 / 3.9],
        abs=1e-12,
    )
    assert [r.beat_close for r in records] == [True, True, False]
    assert all(r.settled_at == START + 5 for r in records)


def test_in_play_and_unknown_starts_settle_at_once_as_no_close() -> None:
    tracker = ClvTracker()
    in_play = tracker.track(alerted(2.10, at=START + 10))
    unknown = tracker.track(alerted(2.10, starts_at=math.nan))
    assert in_play is not None
    assert (in_play.clv, in_play.note, in_play.settled_at) == (None, IN_PLAY, START + 10)
    assert unknown is not None
    assert (unknown.clv, unknown.note) == (None, START_UNKNOWN)
    assert len(tracker) == 0


def test_closing_prices_that_do_not_devig_say_why() -> None:
    shin = Close(("Pinnacle",), DevigMethod.SHIN)
    tracker = ClvTracker()
    # 1/2.1 + 1/2.1 < 1: an under-round book, outside Shin's model.
    tracker.track(alerted(2.30, close=shin), quotes("Pinnacle", (2.10, 2.10), START - 50))
    record = settle_one(tracker)
    assert record.clv is None
    assert record.note == (
        "Pinnacle's closing prices: devig does not apply: the prices add up to less than 100%"
    )


def test_a_postponed_game_closes_at_its_new_start() -> None:
    later = START + 7200
    tracker = ClvTracker()
    tracker.track(alerted(2.10), quotes("Pinnacle", (2.00, 1.90), START - 100))
    tracker.reschedule("g1", later)
    tracker.reschedule("unknown-event", later)  # nothing tracked there: no effect
    tracker.observe(quotes("Pinnacle", (1.90, 2.00), START + 100))  # before the new start
    assert tracker.settle(START + 200) == []
    assert settle_one_at(tracker, later).clv == pytest.approx(1 / 13, abs=1e-12)
    # Brought forward: what was quoted after the new start is dropped, and only the last
    # price per outcome is kept, so an earlier one is not brought back: no close.
    sooner = ClvTracker()
    sooner.track(alerted(2.10), quotes("Pinnacle", (1.90, 2.00), START - 100))
    sooner.observe(quotes("Pinnacle", (1.50, 2.80), START - 10))
    sooner.reschedule("g1", START - 50)
    assert settle_one_at(sooner, START - 50).note == NO_SHARP_PRICE


def settle_one_at(tracker: ClvTracker, now: float) -> ClvRecord:
    records = tracker.settle(now)
    assert len(records) == 1
    return records[0]


def test_pending_prices_restored_after_a_restart_are_tracked_again() -> None:
    before = ClvTracker()
    before.track(alerted(2.10), quotes("Pinnacle", (1.90, 2.00), START - 100))
    after = ClvTracker(before.pending())
    assert after.pending() == before.pending()
    after.observe(quotes("Pinnacle", (1.90, 2.00), START - 100))  # the feed's snapshot again
    assert settle_one(after).clv == pytest.approx(1 / 13, abs=1e-12)


@dataclass(frozen=True)
class _Rule:
    kind: str
    sharp: tuple[str, ...] = ()
    devig: DevigMethod = DevigMethod.WORST_CASE


def test_what_defines_the_close_of_each_kind_of_rule() -> None:
    arbs = _Rule("arbitrage")
    ev = _Rule("positive_ev", ("Pinnacle",), DevigMethod.SHIN)
    circa = _Rule("positive_ev", ("pinnacle", "Circa"), DevigMethod.POWER)
    assert close_for(ev, [arbs, ev, circa]) == Close(("Pinnacle",), DevigMethod.SHIN)
    assert close_for(arbs, [arbs]) is None
    assert close_for(arbs, [arbs, ev]) == Close(("Pinnacle",), DevigMethod.SHIN)
    # Books once each, in config order; methods differ, so the least favourable.
    assert close_for(arbs, [arbs, ev, circa]) == Close(
        ("Pinnacle", "Circa"), DevigMethod.WORST_CASE
    )
    assert close_for(arbs, [circa, replace(ev, devig=DevigMethod.POWER)]) == Close(
        ("pinnacle", "Circa"), DevigMethod.POWER
    )


def record(
    clv: float | None, *, rule: str = "pinnacle-ev", book: str = "DraftKings", at: float = 0.0
) -> ClvRecord:
    price = alerted(2.0, rule=rule, book=book, at=START - 3600 + at)
    probability = None if clv is None else (clv + 1.0) / 2.0
    return ClvRecord(price, START, probability, clv, "" if clv is not None else NO_SHARP_PRICE)


def test_the_summary_per_rule_and_per_book() -> None:
    records = [
        record(0.05),
        record(-0.01, book="FanDuel"),
        record(0.02, book="fan duel"),  # the same book, spelled another way
        record(None),
        record(0.03, rule="any-arbitrage", book="Bovada"),
    ]
    assert summary_lines(records, pending=2) == [
        "Closing-line value of 5 alerted prices; 2 more wait for their game to start",
        "",
        "RULE           PRICES  WITH CLOSE  MEAN CLV  BEAT CLOSE  NO CLOSE",
        "any-arbitrage       1           1    +3.00%  100% (1/1)         0",
        "pinnacle-ev         4           3    +2.00%   67% (2/3)         1",
        "",
        "BOOK           PRICES  WITH CLOSE  MEAN CLV  BEAT CLOSE  NO CLOSE",
        "Bovada              1           1    +3.00%  100% (1/1)         0",
        "DraftKings          2           1    +5.00%  100% (1/1)         1",
        "FanDuel             2           2    +0.50%   50% (1/2)         0",
        "",
        "ALL                 5           4    +2.25%   75% (3/4)         1",
        "CLV = alerted price / closing fair price - 1; beat the close: CLV > 0",
    ]


def test_a_mean_that_rounds_to_zero_has_no_minus_sign() -> None:
    lines = summary_lines([record(0.01), record(-0.01 - 1e-9)])
    assert lines[-2].split()[:4] == ["ALL", "2", "2", "+0.00%"]
    assert clv_cell([record(-1e-7)]) == "+0.00%"


def test_a_summary_with_nothing_settled_says_so() -> None:
    assert summary_lines([], pending=3) == [
        "No closing-line value yet: no alerted game has started; "
        "3 more wait for their game to start."
    ]
    assert summary_lines([record(None)])[-3:] == [
        "",
        "ALL               1           0         -           -         1",
        "CLV = alerted price / closing fair price - 1; beat the close: CLV > 0",
    ]


def test_a_history_cell_lists_each_alert_and_its_legs() -> None:
    assert clv_cell([]) == "-"
    assert clv_cell([], pending=1) == "pending"
    legs = [record(0.012, at=5.0), record(-0.008, at=5.0)]
    assert clv_cell([record(0.021), *legs, record(None, at=9.0)]) == (
        "+2.10% +1.20%/-0.80% no close"
    )
    many = [record(0.01 * n, at=float(n)) for n in range(1, 6)]
    assert clv_cell(many, pending=1) == "+1.00% +2.00% +3.00% +2 more pending"
