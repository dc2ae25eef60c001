"""Evaluation: arbitrage and +EV found in hand-built price matrices."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
import pytest

from arbwatch.core.devig import BASE_METHODS, DevigMethod, fair_probabilities
from arbwatch.core.evaluate import (
    Arbitrage,
    ArbitrageSettings,
    EvSettings,
    PositiveEv,
    find_arbitrage,
    find_positive_ev,
)
from arbwatch.core.markets import (
    AWAY,
    DRAW,
    HOME,
    OVER,
    UNDER,
    Event,
    MarketKey,
    PriceUpdate,
    moneyline,
    spread,
    total,
)
from arbwatch.core.matrix import PriceMatrix
from arbwatch.core.stakes import arbitrage_stakes, kelly_fraction
from arbwatch.errors import InvalidStakeError

NOW = 1_700_000_000.0
GAME = Event("g1", sport="basketball", home="Celtics", away="Lakers", starts_at=NOW + 3600)
MATCH = Event("s1", sport="soccer", home="Arsenal", away="Chelsea", starts_at=NOW + 7200)
ML = moneyline("g1")
TOTAL = total("g1", 224.5)
ML3 = moneyline("s1", three_way=True)

ARB = ArbitrageSettings()
EV = EvSettings(sharp_books=("pinnacle",))


def q(market: MarketKey, slot: int, book: str, price: float, age: float = 0.0) -> PriceUpdate:
    """A quote set ``age`` seconds before NOW."""
    return PriceUpdate(market, slot, book, price, NOW - age)


def make_matrix(*updates: PriceUpdate) -> PriceMatrix:
    """A matrix holding the given quotes, with the events of the test markets known."""
    matrix = PriceMatrix()
    matrix.set_event(GAME)
    matrix.set_event(MATCH)
    assert matrix.apply(updates) == 0
    return matrix


T = TypeVar("T")


def only(found: list[T]) -> T:
    """The one opportunity found."""
    assert len(found) == 1, found
    return found[0]


def arb_profit(*prices: float) -> float:
    return 1.0 / sum(1.0 / p for p in prices) - 1.0


# --- arbitrage: found ------------------------------------------------------------------


def test_arbitrage_found_with_best_book_per_outcome() -> None:
    matrix = make_matrix(
        q(ML, HOME, "draftkings", 2.10, age=30.0),
        q(ML, AWAY, "draftkings", 1.80),
        q(ML, HOME, "fanduel", 2.00),
        q(ML, AWAY, "fanduel", 2.05, age=10.0),
        q(ML, HOME, "caesars", 1.95),
        q(ML, AWAY, "caesars", 1.90),
    )
    arb: Arbitrage = only(find_arbitrage(matrix.block(), NOW, ARB))

    assert arb.kind == "arbitrage"
    assert arb.market == ML
    assert arb.event == GAME
    assert arb.found_at == NOW
    implied = 1 / 2.10 + 1 / 2.05
    assert arb.implied_sum == pytest.approx(implied, rel=1e-12)
    assert arb.profit == pytest.approx(1 / implied - 1, rel=1e-9)
    assert arb.value == arb.profit

    home, away = arb.legs
    assert (home.outcome, home.label, home.book) == (HOME, "Celtics", "draftkings")
    assert (away.outcome, away.label, away.book) == (AWAY, "Lakers", "fanduel")
    assert (home.price, away.price) == (2.10, 2.05)
    assert home.effective_price == 2.10
    assert away.effective_price == 2.05
    assert home.quoted_at == NOW - 30.0
    assert home.age(NOW) == 30.0
    assert away.age(NOW + 5.0) == 15.0

    expected = arbitrage_stakes([2.10, 2.05], ARB.bankroll)
    assert arb.plan == expected
    assert (home.stake, away.stake) == expected.stakes
    assert home.stake * 2.10 == pytest.approx(away.stake * 2.05, rel=1e-12)
    assert sum(leg.stake for leg in arb.legs) == pytest.approx(ARB.bankroll, rel=1e-12)


@pytest.mark.parametrize(("home", "away"), [(1.95, 1.95), (2.0, 2.0), (1.90, 2.10), (2.5, 1.6)])
def test_no_arbitrage_when_implied_sum_is_at_least_one(home: float, away: float) -> None:
    assert 1 / home + 1 / away >= 1.0
    matrix = make_matrix(q(ML, HOME, "draftkings", home), q(ML, AWAY, "fanduel", away))
    assert find_arbitrage(matrix.block(), NOW, ARB) == []


def test_spread_arbitrage_pairs_home_minus_with_away_plus() -> None:
    home_key, home_slot = spread("g1", HOME, -3.5)
    away_key, away_slot = spread("g1", AWAY, +3.5)
    middle_key, middle_slot = spread("g1", AWAY, +3.0)
    matrix = make_matrix(
        PriceUpdate(home_key, home_slot, "draftkings", 2.10, NOW),
        PriceUpdate(away_key, away_slot, "fanduel", 2.05, NOW),
        PriceUpdate(middle_key, middle_slot, "caesars", 2.50, NOW),
    )
    arb: Arbitrage = only(find_arbitrage(matrix.block(), NOW, ARB))
    assert arb.market == home_key
    assert [leg.label for leg in arb.legs] == ["Celtics -3.5", "Lakers +3.5"]
    assert [leg.book for leg in arb.legs] == ["draftkings", "fanduel"]


# --- arbitrage: stale, withdrawn and invalid quotes ------------------------------------


def test_stale_leg_never_forms_an_arbitrage() -> None:
    settings = ArbitrageSettings(max_quote_age=60.0)
    matrix = make_matrix(
        q(ML, HOME, "draftkings", 2.10, age=61.0),
        q(ML, AWAY, "fanduel", 2.05),
    )
    assert find_arbitrage(matrix.block(), NOW, settings) == []
    # The same quotes, evaluated when the leg is still young enough, do form one.
    assert len(find_arbitrage(matrix.block(), NOW - 2.0, settings)) == 1
    # Without an age limit the old quote counts.
    assert len(find_arbitrage(matrix.block(), NOW, ARB)) == 1


def test_quote_exactly_max_age_old_is_still_fresh() -> None:
    settings = ArbitrageSettings(max_quote_age=60.0)
    matrix = make_matrix(q(ML, HOME, "draftkings", 2.10, age=60.0), q(ML, AWAY, "fanduel", 2.05))
    assert len(find_arbitrage(matrix.block(), NOW, settings)) == 1


def test_same_leg_fresh_forms_the_arbitrage() -> None:
    settings = ArbitrageSettings(max_quote_age=60.0)
    matrix = make_matrix(
        q(ML, HOME, "draftkings", 2.10, age=61.0),
        q(ML, AWAY, "fanduel", 2.05),
    )
    assert find_arbitrage(matrix.block(), NOW, settings) == []
    matrix.apply([q(ML, HOME, "draftkings", 2.10, age=1.0)])
    arb: Arbitrage = only(find_arbitrage(matrix.block(), NOW, settings))
    assert arb.legs[HOME].book == "draftkings"
    assert arb.legs[HOME].age(NOW) == 1.0


def test_stale_best_price_gives_way_to_next_best_fresh_book() -> None:
    settings = ArbitrageSettings(max_quote_age=60.0)
    matrix = make_matrix(
        q(ML, HOME, "draftkings", 2.20, age=300.0),
        q(ML, HOME, "caesars", 2.08, age=5.0),
        q(ML, HOME, "betmgm", 1.90),
        q(ML, AWAY, "fanduel", 2.05),
    )
    arb: Arbitrage = only(find_arbitrage(matrix.block(), NOW, settings))
    home = arb.legs[HOME]
    assert (home.book, home.price) == ("caesars", 2.08)
    assert arb.profit == pytest.approx(arb_profit(2.08, 2.05), rel=1e-9)
    assert arb.plan == arbitrage_stakes([2.08, 2.05], settings.bankroll)


def test_withdrawn_quote_never_forms_an_arbitrage() -> None:
    matrix = make_matrix(q(ML, HOME, "draftkings", 2.10), q(ML, AWAY, "fanduel", 2.05))
    assert len(find_arbitrage(matrix.block(), NOW, ARB)) == 1
    matrix.apply([q(ML, AWAY, "fanduel", math.nan)])
    assert find_arbitrage(matrix.block(), NOW, ARB) == []


def test_withdrawn_best_price_gives_way_to_the_next_book() -> None:
    matrix = make_matrix(
        q(ML, HOME, "draftkings", 2.20),
        q(ML, HOME, "caesars", 2.08),
        q(ML, AWAY, "fanduel", 2.05),
    )
    assert only(find_arbitrage(matrix.block(), NOW, ARB)).legs[HOME].book == "draftkings"
    matrix.withdraw_book("draftkings", [ML])
    assert only(find_arbitrage(matrix.block(), NOW, ARB)).legs[HOME].book == "caesars"


@pytest.mark.parametrize("price", [1.0, 0.5, 0.0001, 0.0, -2.0])
def test_price_at_or_below_one_never_forms_an_arbitrage(price: float) -> None:
    matrix = make_matrix(q(ML, HOME, "draftkings", price), q(ML, AWAY, "fanduel", 2.05))
    assert find_arbitrage(matrix.block(), NOW, ARB) == []
    assert find_arbitrage(matrix.block(), NOW, ArbitrageSettings(min_profit=-math.inf)) == []


def test_infinite_price_never_forms_an_arbitrage_nor_breaks_the_pass() -> None:
    # One book sending odds of +inf (e.g. a bad conversion) must not turn into an
    # "infinite" arbitrage, nor stop the arbitrage on another market from being reported.
    matrix = make_matrix(
        q(ML, HOME, "draftkings", math.inf),
        q(ML, AWAY, "fanduel", 2.05),
        q(TOTAL, OVER, "draftkings", 2.10),
        q(TOTAL, UNDER, "fanduel", 2.05),
    )
    found = find_arbitrage(matrix.block(), NOW, ARB)
    assert [arb.market for arb in found] == [TOTAL]


# --- arbitrage: thresholds, books, commission ------------------------------------------


def test_profit_bounds_drop_palpable_lines() -> None:
    matrix = make_matrix(
        q(ML, HOME, "draftkings", 2.40),  # 20%: a palpable error or a stale line
        q(ML, AWAY, "fanduel", 2.40),
        q(TOTAL, OVER, "draftkings", 2.10),  # 3.7%
        q(TOTAL, UNDER, "fanduel", 2.05),
    )
    assert {a.market for a in find_arbitrage(matrix.block(), NOW, ARB)} == {ML, TOTAL}
    capped = find_arbitrage(matrix.block(), NOW, ArbitrageSettings(max_profit=0.15))
    assert [a.market for a in capped] == [TOTAL]
    floored = find_arbitrage(matrix.block(), NOW, ArbitrageSettings(min_profit=0.04))
    assert [a.market for a in floored] == [ML]
    assert only(floored).profit == pytest.approx(0.2, rel=1e-9)
    both = find_arbitrage(matrix.block(), NOW, ArbitrageSettings(min_profit=0.03, max_profit=0.15))
    assert [a.market for a in both] == [TOTAL]
    assert find_arbitrage(matrix.block(), NOW, ArbitrageSettings(min_profit=0.25)) == []


def test_books_filter_limits_the_legs() -> None:
    matrix = make_matrix(
        q(ML, HOME, "offshore", 2.30),
        q(ML, HOME, "draftkings", 2.10),
        q(ML, AWAY, "draftkings", 1.80),
        q(ML, AWAY, "fanduel", 2.05),
    )
    assert only(find_arbitrage(matrix.block(), NOW, ARB)).legs[HOME].book == "offshore"

    allowed = ArbitrageSettings(books=frozenset({"draftkings", "fanduel"}))
    arb: Arbitrage = only(find_arbitrage(matrix.block(), NOW, allowed))
    assert [leg.book for leg in arb.legs] == ["draftkings", "fanduel"]
    assert arb.profit == pytest.approx(arb_profit(2.10, 2.05), rel=1e-9)

    assert (
        find_arbitrage(matrix.block(), NOW, ArbitrageSettings(books=frozenset({"draftkings"})))
        == []
    )
    assert find_arbitrage(matrix.block(), NOW, ArbitrageSettings(books=frozenset())) == []

    # An excluded book steps aside for the next best price, rather than hiding the market.
    without_offshore = ArbitrageSettings(excluded_books=frozenset({"offshore"}))
    arb = only(find_arbitrage(matrix.block(), NOW, without_offshore))
    assert [leg.book for leg in arb.legs] == ["draftkings", "fanduel"]
    both = ArbitrageSettings(
        books=frozenset({"offshore", "fanduel"}), excluded_books=frozenset({"fanduel"})
    )
    assert find_arbitrage(matrix.block(), NOW, both) == []


def test_exchange_commission_turns_an_arbitrage_into_none() -> None:
    matrix = make_matrix(q(ML, HOME, "betfair", 2.04), q(ML, AWAY, "fanduel", 2.00))
    assert len(find_arbitrage(matrix.block(), NOW, ARB)) == 1
    # 2.04 after 5% of the winnings is 1 + 1.04 * 0.95 = 1.988; with 2.00 that sums over 1.
    taxed = ArbitrageSettings(commissions={"betfair": 0.05})
    assert find_arbitrage(matrix.block(), NOW, taxed) == []


def test_exchange_leg_carries_its_effective_price() -> None:
    matrix = make_matrix(q(ML, HOME, "betfair", 2.20), q(ML, AWAY, "fanduel", 2.00))
    settings = ArbitrageSettings(commissions={"betfair": 0.02, "fanduel": 0.0})
    arb: Arbitrage = only(find_arbitrage(matrix.block(), NOW, settings))
    home, away = arb.legs
    assert home.book == "betfair"
    assert home.price == 2.20
    assert home.effective_price == pytest.approx(2.176, abs=1e-12)
    assert away.effective_price == 2.00
    assert arb.profit == pytest.approx(arb_profit(2.176, 2.00), rel=1e-9)
    assert arb.plan.stakes == pytest.approx(arbitrage_stakes([2.176, 2.00], 1000.0).stakes)
    assert home.stake * home.effective_price == pytest.approx(away.stake * 2.00, rel=1e-12)


def test_commission_decides_which_book_is_best() -> None:
    matrix = make_matrix(
        q(ML, HOME, "betfair", 2.10),  # 2.045 after 5%
        q(ML, HOME, "caesars", 2.06),
        q(ML, AWAY, "fanduel", 2.05),
    )
    settings = ArbitrageSettings(commissions={"betfair": 0.05})
    home = only(find_arbitrage(matrix.block(), NOW, settings)).legs[HOME]
    assert (home.book, home.price, home.effective_price) == ("caesars", 2.06, 2.06)


# --- arbitrage: outcome counts, rounding, rows -----------------------------------------


def test_three_way_arbitrage_needs_all_three_outcomes() -> None:
    matrix = make_matrix(
        q(ML3, HOME, "bet365", 3.20),
        q(ML3, AWAY, "williamhill", 3.60),
    )
    assert find_arbitrage(matrix.block(), NOW, ARB) == []  # home and away alone sum under 1

    matrix.apply([q(ML3, DRAW, "unibet", 4.00)])
    arb: Arbitrage = only(find_arbitrage(matrix.block(), NOW, ARB))
    assert [leg.label for leg in arb.legs] == ["Arsenal", "Chelsea", "Draw"]
    assert [leg.book for leg in arb.legs] == ["bet365", "williamhill", "unibet"]
    assert arb.profit == pytest.approx(arb_profit(3.2, 3.6, 4.0), rel=1e-9)
    assert arb.event == MATCH
    payouts = [leg.stake * leg.price for leg in arb.legs]
    assert max(payouts) - min(payouts) <= 1e-9 * max(payouts)

    matrix.apply([q(ML3, DRAW, "unibet", math.nan)])
    assert find_arbitrage(matrix.block(), NOW, ARB) == []


def test_two_way_empty_draw_slot_never_blocks_an_arbitrage() -> None:
    matrix = make_matrix(
        q(ML, HOME, "draftkings", 2.10),
        q(ML, AWAY, "fanduel", 2.05),
        q(ML3, HOME, "bet365", 3.20),
        q(ML3, AWAY, "williamhill", 3.60),
        q(ML3, DRAW, "unibet", 4.00),
    )
    found = {arb.market: arb for arb in find_arbitrage(matrix.block(), NOW, ARB)}
    assert set(found) == {ML, ML3}
    assert len(found[ML].legs) == 2
    assert len(found[ML3].legs) == 3


def test_two_way_draw_slot_never_forms_an_arbitrage() -> None:
    matrix = make_matrix(q(ML, HOME, "draftkings", 5.0))
    assert matrix.apply([q(ML, DRAW, "fanduel", 5.0)]) == 1
    assert find_arbitrage(matrix.block(), NOW, ARB) == []


def test_rounding_that_wipes_out_a_thin_arbitrage_is_not_reported() -> None:
    matrix = make_matrix(q(ML, HOME, "draftkings", 2.02), q(ML, AWAY, "fanduel", 1.99))
    exact = ArbitrageSettings(bankroll=20.0)
    assert len(find_arbitrage(matrix.block(), NOW, exact)) == 1
    rounded = ArbitrageSettings(bankroll=20.0, stake_increment=5.0)
    assert find_arbitrage(matrix.block(), NOW, rounded) == []


def test_rounded_stakes_are_reported_when_they_still_lock_profit() -> None:
    matrix = make_matrix(q(ML, HOME, "draftkings", 2.10), q(ML, AWAY, "fanduel", 2.05))
    arb: Arbitrage = only(
        find_arbitrage(matrix.block(), NOW, ArbitrageSettings(stake_increment=5.0))
    )
    assert [leg.stake for leg in arb.legs] == [495.0, 505.0]
    assert arb.plan.locks_profit
    assert arb.profit == pytest.approx(arb_profit(2.10, 2.05), rel=1e-9)


def test_rows_restrict_evaluation_to_dirty_rows() -> None:
    matrix = make_matrix(
        q(ML, HOME, "draftkings", 2.10),
        q(ML, AWAY, "fanduel", 2.05),
        q(TOTAL, OVER, "draftkings", 2.10),
        q(TOTAL, UNDER, "fanduel", 2.05),
    )
    dirty = matrix.take_dirty()
    assert {a.market for a in find_arbitrage(matrix.block(dirty), NOW, ARB)} == {ML, TOTAL}

    matrix.apply([q(TOTAL, OVER, "draftkings", 2.12)])
    dirty = matrix.take_dirty()
    found = find_arbitrage(matrix.block(dirty), NOW, ARB)
    assert [a.market for a in found] == [TOTAL]
    assert found[0].legs[OVER].price == 2.12

    assert find_arbitrage(matrix.block(matrix.take_dirty()), NOW, ARB) == []
    row = matrix.row(ML)
    assert row is not None
    only_ml = find_arbitrage(matrix.block(np.array([row], dtype=np.intp)), NOW, ARB)
    assert [a.market for a in only_ml] == [ML]


# --- +EV -------------------------------------------------------------------------------


def soft_vs_pinnacle(*extra: PriceUpdate) -> PriceMatrix:
    """Pinnacle 1.95 / 1.95 (fair 0.5 each); DraftKings 2.10 / 1.80."""
    return make_matrix(
        q(ML, HOME, "pinnacle", 1.95),
        q(ML, AWAY, "pinnacle", 1.95),
        q(ML, HOME, "draftkings", 2.10),
        q(ML, AWAY, "draftkings", 1.80),
        *extra,
    )


def test_positive_ev_against_pinnacle() -> None:
    matrix = soft_vs_pinnacle()
    found: PositiveEv = only(find_positive_ev(matrix.block(), NOW, EV))
    assert found.kind == "positive_ev"
    assert found.market == ML
    assert found.event == GAME
    assert found.found_at == NOW
    assert found.sharp_books == ("pinnacle",)
    assert found.devig is DevigMethod.MULTIPLICATIVE
    assert found.fair_probability == pytest.approx(0.5, rel=1e-12)
    assert found.fair_price == pytest.approx(2.0, rel=1e-12)
    assert found.ev == pytest.approx(0.5 * 2.10 - 1, rel=1e-9)  # 0.05
    assert found.value == found.ev

    kelly = (1.10 * 0.5 - 0.5) / 1.10
    assert found.kelly == pytest.approx(kelly, rel=1e-9)
    leg = found.leg
    assert found.legs == (leg,)
    assert (leg.outcome, leg.label, leg.book, leg.price) == (HOME, "Celtics", "draftkings", 2.10)
    assert leg.effective_price == 2.10
    assert leg.stake == pytest.approx(EV.bankroll * EV.kelly_fraction * kelly, rel=1e-9)
    assert leg.quoted_at == NOW


def test_positive_ev_stake_respects_increment_and_fraction() -> None:
    matrix = soft_vs_pinnacle()
    half = EvSettings(sharp_books=("pinnacle",), kelly_fraction=0.5, bankroll=2000.0)
    found: PositiveEv = only(find_positive_ev(matrix.block(), NOW, half))
    assert found.leg.stake == pytest.approx(2000.0 * 0.5 * found.kelly, rel=1e-9)  # 45.45
    rounded = EvSettings(
        sharp_books=("pinnacle",), kelly_fraction=0.5, bankroll=2000.0, stake_increment=10.0
    )
    assert only(find_positive_ev(matrix.block(), NOW, rounded)).leg.stake == 40.0


def test_sharp_book_is_never_reported() -> None:
    # Circa's home 2.10 beats the fair price when Pinnacle alone sets it ...
    matrix = make_matrix(
        q(ML, HOME, "pinnacle", 1.95),
        q(ML, AWAY, "pinnacle", 1.95),
        q(ML, HOME, "circa", 2.10),
        q(ML, AWAY, "circa", 1.75),
    )
    assert only(find_positive_ev(matrix.block(), NOW, EV)).leg.book == "circa"
    # ... and is still above the mean fair price of both, but a sharp book is never bet into.
    both = EvSettings(sharp_books=("pinnacle", "circa"))
    fair_home = (0.5 + (1 / 2.10) / (1 / 2.10 + 1 / 1.75)) / 2
    assert fair_home * 2.10 > 1.0
    assert find_positive_ev(matrix.block(), NOW, both) == []


def test_stale_sharp_quote_gives_no_ev() -> None:
    matrix = make_matrix(
        q(ML, HOME, "pinnacle", 1.95, age=120.0),
        q(ML, AWAY, "pinnacle", 1.95),
        q(ML, HOME, "draftkings", 2.10),
        q(ML, AWAY, "draftkings", 1.80),
    )
    settings = EvSettings(sharp_books=("pinnacle",), max_quote_age=60.0)
    assert find_positive_ev(matrix.block(), NOW, settings) == []
    assert len(find_positive_ev(matrix.block(), NOW - 61.0, settings)) == 1


def test_stale_soft_quote_gives_way_to_a_fresh_one() -> None:
    matrix = soft_vs_pinnacle(q(ML, HOME, "fanduel", 2.20, age=120.0))
    settings = EvSettings(sharp_books=("pinnacle",), max_quote_age=60.0)
    assert only(find_positive_ev(matrix.block(), NOW, settings)).leg.book == "draftkings"
    assert only(find_positive_ev(matrix.block(), NOW, EV)).leg.book == "fanduel"


def test_withdrawn_soft_quote_gives_no_ev() -> None:
    matrix = soft_vs_pinnacle()
    matrix.apply([q(ML, HOME, "draftkings", math.nan)])
    assert find_positive_ev(matrix.block(), NOW, EV) == []


def test_odds_bounds() -> None:
    matrix = soft_vs_pinnacle()

    def books(min_odds: float = 1.0, max_odds: float = math.inf) -> list[str]:
        settings = EvSettings(sharp_books=("pinnacle",), min_odds=min_odds, max_odds=max_odds)
        return [found.leg.book for found in find_positive_ev(matrix.block(), NOW, settings)]

    assert books() == ["draftkings"]
    assert books(min_odds=2.10) == ["draftkings"]
    assert books(min_odds=2.11) == []
    assert books(max_odds=2.10) == ["draftkings"]
    assert books(max_odds=2.09) == []


def test_odds_bounds_pick_the_best_price_in_range() -> None:
    matrix = soft_vs_pinnacle(q(ML, HOME, "fanduel", 2.05))
    settings = EvSettings(sharp_books=("pinnacle",), max_odds=2.07)
    found: PositiveEv = only(find_positive_ev(matrix.block(), NOW, settings))
    assert (found.leg.book, found.leg.price) == ("fanduel", 2.05)
    assert found.ev == pytest.approx(0.5 * 2.05 - 1, rel=1e-9)


def test_ev_bounds() -> None:
    matrix = soft_vs_pinnacle()
    assert len(find_positive_ev(matrix.block(), NOW, EvSettings(("pinnacle",), min_ev=0.04))) == 1
    assert find_positive_ev(matrix.block(), NOW, EvSettings(("pinnacle",), min_ev=0.06)) == []
    assert find_positive_ev(matrix.block(), NOW, EvSettings(("pinnacle",), max_ev=0.04)) == []
    # A negative minimum still never reports a price with no edge.
    loose = find_positive_ev(matrix.block(), NOW, EvSettings(("pinnacle",), min_ev=-1.0))
    assert [found.leg.outcome for found in loose] == [HOME]


def test_ev_books_filter() -> None:
    matrix = soft_vs_pinnacle(q(ML, HOME, "fanduel", 2.05))
    only_fanduel = EvSettings(sharp_books=("pinnacle",), books=frozenset({"fanduel"}))
    assert only(find_positive_ev(matrix.block(), NOW, only_fanduel)).leg.book == "fanduel"
    sharp_only = EvSettings(sharp_books=("pinnacle",), books=frozenset({"pinnacle"}))
    assert find_positive_ev(matrix.block(), NOW, sharp_only) == []
    # Excluding the sharp book from betting still takes its fair prices.
    not_pinnacle = EvSettings(("pinnacle",), excluded_books=frozenset({"pinnacle"}))
    assert only(find_positive_ev(matrix.block(), NOW, not_pinnacle)).leg.book == "draftkings"
    not_draftkings = EvSettings(("pinnacle",), excluded_books=frozenset({"draftkings"}))
    assert only(find_positive_ev(matrix.block(), NOW, not_draftkings)).leg.book == "fanduel"


def test_ev_uses_the_price_after_commission() -> None:
    matrix = make_matrix(
        q(ML, HOME, "pinnacle", 1.95),
        q(ML, AWAY, "pinnacle", 1.95),
        q(ML, HOME, "betfair", 2.10),
    )
    settings = EvSettings(sharp_books=("pinnacle",), commissions={"betfair": 0.05})
    found: PositiveEv = only(find_positive_ev(matrix.block(), NOW, settings))
    assert found.leg.price == 2.10
    assert found.leg.effective_price == pytest.approx(2.045, abs=1e-12)
    assert found.ev == pytest.approx(0.5 * 2.045 - 1, rel=1e-9)
    assert found.kelly == pytest.approx(kelly_fraction(0.5, 2.045), rel=1e-9)
    heavy = EvSettings(sharp_books=("pinnacle",), commissions={"betfair": 0.10})
    assert find_positive_ev(matrix.block(), NOW, heavy) == []  # 1.99 after 10%


def test_two_sharp_books_average_their_fair_probabilities() -> None:
    matrix = make_matrix(
        q(ML, HOME, "pinnacle", 1.95),
        q(ML, AWAY, "pinnacle", 1.95),
        q(ML, HOME, "circa", 1.80),
        q(ML, AWAY, "circa", 2.10),
        q(ML, HOME, "bookmaker", 1.50),  # a sharp book quoting one side only adds nothing
        q(ML, HOME, "draftkings", 2.10),
        q(ML, AWAY, "draftkings", 1.75),
    )
    circa_home = (1 / 1.80) / (1 / 1.80 + 1 / 2.10)
    fair_home = (0.5 + circa_home) / 2
    settings = EvSettings(sharp_books=("pinnacle", "circa", "bookmaker"))
    found: PositiveEv = only(find_positive_ev(matrix.block(), NOW, settings))
    assert found.leg.outcome == HOME
    assert found.fair_probability == pytest.approx(fair_home, rel=1e-12)
    assert found.ev == pytest.approx(fair_home * 2.10 - 1, rel=1e-9)
    assert found.sharp_books == ("pinnacle", "circa", "bookmaker")


def test_worst_case_devig_uses_the_smallest_fair_probability() -> None:
    sharp = np.array([[1.40, 3.10]])
    per_method = []
    for method in BASE_METHODS:
        result = fair_probabilities(sharp, method)
        assert result.ok.all(), method
        per_method.append(result.probabilities[0])
    worst = np.min(np.stack(per_method), axis=0)
    multiplicative = fair_probabilities(sharp, DevigMethod.MULTIPLICATIVE).probabilities[0]
    # Worst case must differ from the default for the test to mean anything.
    assert not np.allclose(worst, multiplicative, rtol=0, atol=1e-6)

    soft = {HOME: 1.50, AWAY: 3.40}
    matrix = make_matrix(
        q(ML, HOME, "pinnacle", 1.40),
        q(ML, AWAY, "pinnacle", 3.10),
        q(ML, HOME, "draftkings", soft[HOME]),
        q(ML, AWAY, "draftkings", soft[AWAY]),
    )
    settings = EvSettings(sharp_books=("pinnacle",), devig=DevigMethod.WORST_CASE)
    found = {f.leg.outcome: f for f in find_positive_ev(matrix.block(), NOW, settings)}
    expected = {slot for slot in (HOME, AWAY) if worst[slot] * soft[slot] > 1.0}
    assert set(found) == expected
    assert expected  # at least one price is +EV even in the worst case
    for slot, opportunity in found.items():
        assert opportunity.fair_probability == pytest.approx(worst[slot], rel=1e-12)
        assert opportunity.ev == pytest.approx(worst[slot] * soft[slot] - 1, rel=1e-9)
        assert opportunity.devig is DevigMethod.WORST_CASE


def test_worst_case_with_two_sharp_books_takes_the_smallest_of_both() -> None:
    sharps = {"pinnacle": (1.40, 3.10), "circa": (1.45, 2.90)}
    per_book = []
    for prices in sharps.values():
        per_method = [
            fair_probabilities(np.array([prices]), m).probabilities[0] for m in BASE_METHODS
        ]
        per_book.append(np.min(np.stack(per_method), axis=0))
    worst = np.min(np.stack(per_book), axis=0)
    # The least favourable of the books, not their mean, for the test to mean anything.
    assert not np.allclose(worst, np.mean(np.stack(per_book), axis=0), rtol=0, atol=1e-6)

    soft = {HOME: 1.55, AWAY: 3.40}
    matrix = make_matrix(
        *(q(ML, slot, book, prices[slot]) for book, prices in sharps.items() for slot in (0, 1)),
        *(q(ML, slot, "draftkings", price) for slot, price in soft.items()),
    )
    settings = EvSettings(sharp_books=("pinnacle", "circa"), devig=DevigMethod.WORST_CASE)
    found = {f.leg.outcome: f for f in find_positive_ev(matrix.block(), NOW, settings)}
    expected = {slot for slot in (HOME, AWAY) if worst[slot] * soft[slot] > 1.0}
    assert expected
    assert set(found) == expected
    for slot, opportunity in found.items():
        assert opportunity.fair_probability == pytest.approx(worst[slot], rel=1e-12)


def test_three_way_ev() -> None:
    sharp = (2.50, 3.00, 3.40)
    matrix = make_matrix(
        *(q(ML3, slot, "pinnacle", price) for slot, price in enumerate(sharp)),
        q(ML3, DRAW, "bet365", 3.80),
        q(ML3, HOME, "bet365", 2.40),
    )
    implied = [1 / p for p in sharp]
    fair_draw = implied[DRAW] / sum(implied)
    found: PositiveEv = only(find_positive_ev(matrix.block(), NOW, EV))
    assert (found.leg.outcome, found.leg.label) == (DRAW, "Draw")
    assert found.fair_probability == pytest.approx(fair_draw, rel=1e-12)
    # The sharp book must price all three outcomes.
    matrix.apply([q(ML3, DRAW, "pinnacle", math.nan)])
    assert find_positive_ev(matrix.block(), NOW, EV) == []


def test_no_sharp_book_in_the_matrix_gives_no_ev() -> None:
    matrix = make_matrix(
        q(ML, HOME, "draftkings", 2.10),
        q(ML, AWAY, "draftkings", 1.80),
        q(ML, HOME, "fanduel", 1.70),
        q(ML, AWAY, "fanduel", 2.30),
    )
    assert find_positive_ev(matrix.block(), NOW, EV) == []


def test_ev_rows_restrict_evaluation() -> None:
    matrix = soft_vs_pinnacle(
        q(TOTAL, OVER, "pinnacle", 1.95),
        q(TOTAL, UNDER, "pinnacle", 1.95),
        q(TOTAL, OVER, "draftkings", 2.10),
    )
    assert {f.market for f in find_positive_ev(matrix.block(), NOW, EV)} == {ML, TOTAL}
    row = matrix.row(TOTAL)
    assert row is not None
    restricted = find_positive_ev(matrix.block(np.array([row], dtype=np.intp)), NOW, EV)
    assert [f.market for f in restricted] == [TOTAL]


def test_infinite_soft_price_never_forms_ev_nor_breaks_the_pass() -> None:
    matrix = soft_vs_pinnacle(
        q(TOTAL, OVER, "pinnacle", 1.95),
        q(TOTAL, UNDER, "pinnacle", 1.95),
        q(TOTAL, OVER, "fanduel", math.inf),
    )
    assert [f.market for f in find_positive_ev(matrix.block(), NOW, EV)] == [ML]


# --- settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"bankroll": 0.0}, id="bankroll-0"),
        pytest.param({"bankroll": math.nan}, id="bankroll-nan"),
        pytest.param({"commissions": {"betfair": 1.0}}, id="commission-1"),
        pytest.param({"commissions": {"betfair": -0.01}}, id="commission-negative"),
        pytest.param({"min_profit": 0.2, "max_profit": 0.1}, id="min-above-max"),
        pytest.param({"max_quote_age": 0.0}, id="age-0"),
        pytest.param({"stake_increment": -1.0}, id="increment-negative"),
    ],
)
def test_invalid_arbitrage_settings(kwargs: Mapping[str, Any]) -> None:
    with pytest.raises(InvalidStakeError):
        ArbitrageSettings(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"sharp_books": ()}, id="no-sharp-books"),
        pytest.param({"kelly_fraction": 0.0}, id="kelly-0"),
        pytest.param({"kelly_fraction": 1.5}, id="kelly-above-1"),
        pytest.param({"bankroll": 0.0}, id="bankroll-0"),
        pytest.param({"commissions": {"betfair": 1.0}}, id="commission-1"),
        pytest.param({"min_ev": 0.1, "max_ev": 0.05}, id="min-ev-above-max"),
        pytest.param({"min_odds": 3.0, "max_odds": 2.0}, id="min-odds-above-max"),
        pytest.param({"max_quote_age": -5.0}, id="age-negative"),
    ],
)
def test_invalid_ev_settings(kwargs: Mapping[str, Any]) -> None:
    arguments: dict[str, Any] = {"sharp_books": ("pinnacle",), **kwargs}
    with pytest.raises(InvalidStakeError):
        EvSettings(**arguments)


def test_default_settings_are_valid() -> None:
    assert ArbitrageSettings().bankroll > 0
    assert EvSettings(sharp_books=("pinnacle",)).kelly_fraction == 0.25


# --- empty matrices --------------------------------------------------------------------


def test_empty_matrix_gives_nothing() -> None:
    matrix = PriceMatrix()
    assert find_arbitrage(matrix.block(), NOW, ARB) == []
    assert find_positive_ev(matrix.block(), NOW, EV) == []


def test_refused_update_leaves_an_empty_matrix_that_gives_nothing() -> None:
    matrix = PriceMatrix()
    assert matrix.apply([q(ML, DRAW, "pinnacle", 3.0)]) == 1  # slot 2 of a 2-way market
    assert matrix.market_count == 0
    assert matrix.book_count == 0
    assert find_arbitrage(matrix.block(), NOW, ARB) == []
    assert find_positive_ev(matrix.block(), NOW, EV) == []


def test_no_rows_selected_gives_nothing() -> None:
    matrix = soft_vs_pinnacle(q(ML, AWAY, "fanduel", 2.30))
    assert len(find_arbitrage(matrix.block(), NOW, ARB)) == 1
    no_rows = np.array([], dtype=np.intp)
    assert find_arbitrage(matrix.block(no_rows), NOW, ARB) == []
    assert find_positive_ev(matrix.block(no_rows), NOW, EV) == []
    assert find_arbitrage(matrix.block(matrix.take_dirty()[:0]), NOW, ARB) == []


def test_markets_nobody_prices_give_nothing() -> None:
    matrix = make_matrix(q(ML, HOME, "draftkings", 2.10), q(TOTAL, OVER, "pinnacle", 1.9))
    matrix.withdraw_book("draftkings", [ML])
    matrix.withdraw_book("pinnacle", [TOTAL])
    assert find_arbitrage(matrix.block(), NOW, ARB) == []
    assert find_positive_ev(matrix.block(), NOW, EV) == []


# --- one block, many rules -------------------------------------------------------------


def test_best_price_between_two_runs_of_allowed_books() -> None:
    # Columns in order of first quote: a, b, c, d. With b excluded the allowed columns are
    # two runs, [a] and [c, d]; the best home price is in the second run, the best away
    # price in the first.
    matrix = make_matrix(
        q(ML, HOME, "a", 2.02),
        q(ML, AWAY, "a", 2.12),
        q(ML, HOME, "b", 2.50),
        q(ML, AWAY, "b", 2.50),
        q(ML, HOME, "c", 2.08),
        q(ML, AWAY, "c", 2.01),
        q(ML, HOME, "d", 2.06),
        q(ML, AWAY, "d", 2.00),
    )
    settings = ArbitrageSettings(excluded_books=frozenset({"b"}))
    arb: Arbitrage = only(find_arbitrage(matrix.block(), NOW, settings))
    assert [(leg.book, leg.price) for leg in arb.legs] == [("c", 2.08), ("a", 2.12)]
    assert arb.profit == pytest.approx(arb_profit(2.08, 2.12), rel=1e-12)


def _random_board(seed: int) -> PriceMatrix:
    """Twelve markets (two 3-way) priced by seven books around fair odds, some quotes old."""
    rng = np.random.default_rng(seed)
    books = ["pinnacle", "a", "betfair", "b", "c", "d", "e"]
    markets = [moneyline(f"g{i}") for i in range(6)]
    markets += [total(f"g{i}", 200.5 + i) for i in range(4)]
    markets += [moneyline(f"s{i}", three_way=True) for i in range(2)]
    updates = []
    for market in markets:
        fair = rng.dirichlet(np.ones(market.outcome_count) * 4.0)
        for book in books:
            if rng.random() < 0.15:
                continue
            prices = np.round(1.0 / (fair * (1.0 + rng.uniform(-0.03, 0.05))), 2)
            ages = rng.uniform(0.0, 90.0, market.outcome_count)
            updates += [
                PriceUpdate(market, slot, book, float(price), NOW - float(age))
                for slot, (price, age) in enumerate(zip(prices, ages, strict=True))
            ]
    matrix = PriceMatrix()
    assert matrix.apply(updates) == 0
    return matrix


_SHARED_SETTINGS: list[ArbitrageSettings | EvSettings] = [
    ArbitrageSettings(max_quote_age=60.0),
    ArbitrageSettings(max_quote_age=60.0, excluded_books=frozenset({"b", "d"})),
    ArbitrageSettings(max_quote_age=60.0, commissions={"betfair": 0.03}),
    ArbitrageSettings(max_quote_age=30.0, books=frozenset({"a", "c", "e", "pinnacle"})),
    EvSettings(("pinnacle",), max_quote_age=60.0, min_ev=-1.0),
    EvSettings(("pinnacle",), max_quote_age=60.0, min_ev=-1.0, excluded_books=frozenset({"c"})),
    EvSettings(("pinnacle",), max_quote_age=60.0, min_ev=-1.0, commissions={"betfair": 0.03}),
    EvSettings(
        ("pinnacle", "a"),
        devig=DevigMethod.WORST_CASE,
        max_quote_age=90.0,
        min_ev=-1.0,
        min_odds=1.8,
        max_odds=3.0,
    ),
]


@pytest.mark.parametrize("seed", range(12))
def test_rules_sharing_one_block_find_what_each_finds_on_its_own(seed: int) -> None:
    # Every rule of a batch evaluates the same block, which keeps the arrays they derive
    # (fresh quotes, offers after commission) for the next rule: sharing must never change
    # an answer, whatever order the rules run in. min_ev=-1 makes every priced outcome a
    # finding, so the comparison covers every best price and book, not only the +EV ones.
    matrix = _random_board(seed)

    def run(block: Any, settings: ArbitrageSettings | EvSettings) -> list[Any]:
        if isinstance(settings, EvSettings):
            return list(find_positive_ev(block, NOW, settings))
        return list(find_arbitrage(block, NOW, settings))

    alone = [run(matrix.block(), settings) for settings in _SHARED_SETTINGS]
    assert sum(len(found) for found in alone) > 20
    order = np.random.default_rng(seed).permutation(len(_SHARED_SETTINGS)).tolist()
    shared_block = matrix.block()
    shared = {index: run(shared_block, _SHARED_SETTINGS[index]) for index in order}
    assert [shared[index] for index in range(len(_SHARED_SETTINGS))] == alone
