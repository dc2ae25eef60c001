"""The engine, the stakes and the alert text are total over every float a price can be.

Feeds bound prices where they enter (`arbwatch.feeds.model.bound_prices`), but the engine
must not depend on it: a quote of 1e308 once raised OverflowError in the American
conversion and in the alert's money, and killed the daemon. Every strategy here draws from
the whole float range (infinities, NaN, subnormals, 1e308) and pytest turns any numpy
overflow or invalid-value warning into a failure, so "no exception" also means no silent
inf - inf or 0/0 on the way.
"""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbwatch.core.devig import DevigMethod
from arbwatch.core.evaluate import (
    ArbitrageSettings,
    EvSettings,
    Opportunity,
    find_arbitrage,
    find_positive_ev,
)
from arbwatch.core.markets import AWAY, HOME, Event, PriceUpdate, moneyline
from arbwatch.core.matrix import PriceMatrix
from arbwatch.core.odds import OddsFormat, decimal_to_american, format_odds
from arbwatch.core.stakes import arbitrage_stakes, kelly_fraction, kelly_stake
from arbwatch.errors import InvalidOddsError, InvalidStakeError
from arbwatch.notify.message import render, render_gone

pytestmark = pytest.mark.faults

ANY_FLOAT = st.floats()  # inf, -inf, NaN, subnormals, ±1.8e308 included
HUGE = st.sampled_from([1e308, 1.7976931348623157e308, 1.8e306, 1e200, 1e19, 5e-324, 1e-308])
PRICE = st.one_of(ANY_FLOAT, HUGE, st.floats(1.0, 1e6))
NOW = 1_800_000_000.0
NEW_YORK = ZoneInfo("America/New_York")


def valid_odds(value: float) -> bool:
    """What the odds functions accept: a finite decimal above 1.0."""
    return math.isfinite(value) and value > 1.0


@given(PRICE)
def test_format_odds_writes_every_valid_price_and_refuses_the_rest_clearly(price: float) -> None:
    for odds_format in OddsFormat:
        if valid_odds(price):
            text = format_odds(price, odds_format)
            assert text
            assert "nan" not in text
            assert len(text) < 20  # never the 309 digits of a huge float spelled out
        else:
            with pytest.raises(InvalidOddsError):
                format_odds(price, odds_format)


@given(st.lists(PRICE, min_size=1, max_size=6))
def test_american_conversion_of_an_array_never_warns_or_gives_nan(prices: list[float]) -> None:
    array = np.array(prices, dtype=np.float64)
    if not all(valid_odds(p) for p in prices):
        with pytest.raises(InvalidOddsError):
            decimal_to_american(array)
        return
    american = decimal_to_american(array)
    assert not np.isnan(american).any()
    assert (np.abs(american) >= 100.0).all()


def test_a_price_past_american_range_is_written_not_raised() -> None:
    # (d - 1) * 100 is past float's range from about 1.8e306: the case that killed the daemon.
    assert format_odds(1e308, OddsFormat.AMERICAN) == "+inf"
    assert format_odds(1.8e306, OddsFormat.AMERICAN) == "+inf"
    assert format_odds(1.5e306, OddsFormat.AMERICAN) == "+1.5e+308"
    assert format_odds(1e308, OddsFormat.FRACTIONAL) == "1e+308/1"
    assert format_odds(1e308, OddsFormat.DECIMAL) == "1e+308"
    # Below the scientific range, the usual whole numbers.
    assert format_odds(10_000_000.0, OddsFormat.AMERICAN) == "+999999900"


@given(st.lists(PRICE, min_size=1, max_size=4), ANY_FLOAT, st.one_of(ANY_FLOAT, st.just(5.0)))
def test_arbitrage_stakes_are_total(prices: list[float], bankroll: float, increment: float) -> None:
    try:
        plan = arbitrage_stakes(prices, bankroll, increment)
    except (InvalidOddsError, InvalidStakeError):
        valid_bankroll = math.isfinite(bankroll) and bankroll > 0.0
        valid_increment = math.isfinite(increment) and increment >= 0.0
        assert not (
            len(prices) >= 2 and all(map(valid_odds, prices)) and valid_bankroll and valid_increment
        )
        return
    figures = (*plan.stakes, *plan.payouts, plan.total, plan.payout, plan.guaranteed_profit)
    assert not any(math.isnan(figure) for figure in figures)
    # Within float noise of the bankroll (at 1e16 a float's step is 2).
    assert all(0.0 <= stake <= bankroll * (1.0 + 1e-9) for stake in plan.stakes)


@given(ANY_FLOAT, PRICE, ANY_FLOAT, st.floats(0.01, 1.0), st.one_of(ANY_FLOAT, st.just(1.0)))
def test_kelly_is_total(
    probability: float, price: float, bankroll: float, fraction: float, increment: float
) -> None:
    try:
        full = kelly_fraction(probability, price)
        stake = kelly_stake(probability, price, bankroll, fraction, increment)
    except (InvalidOddsError, InvalidStakeError):
        return
    assert not math.isnan(full)
    assert math.isfinite(stake)
    assert 0.0 <= stake <= bankroll * (1.0 + 1e-9)  # rounding absorbs float noise both ways


def two_books(prices: list[float], times: list[float], starts_at: float) -> PriceMatrix:
    """A moneyline quoted by Pinnacle (the sharp) and two other books, at any floats."""
    event = Event("g1", sport="NBA", home="Celtics", away="Lakers", starts_at=starts_at)
    market = moneyline("g1")
    matrix = PriceMatrix()
    matrix.set_event(event)
    books = ("Pinnacle", "Pinnacle", "DraftKings", "DraftKings", "BetMGM", "BetMGM")
    sides = (HOME, AWAY) * 3
    matrix.apply(
        [
            PriceUpdate(market, side, book, price, quoted_at)
            for side, book, price, quoted_at in zip(sides, books, prices, times, strict=True)
        ]
    )
    return matrix


def render_all(opportunity: Opportunity) -> None:
    """Render an opportunity in every odds format, as new and as gone."""
    for odds_format in OddsFormat:
        message = render(
            opportunity,
            reason="new",
            rule="r",
            key="k",
            now=NOW,
            odds_format=odds_format,
            currency="$",
            timezone=NEW_YORK,
        )
        assert message.title
        assert message.body
    gone = render_gone(
        opportunity,
        summary="",
        rule="r",
        key="k",
        first_seen=NOW - 5.0,
        now=NOW,
        best_value=opportunity.value,
        kind=opportunity.kind,
    )
    assert gone.title


@settings(max_examples=300)
@given(
    st.lists(PRICE, min_size=6, max_size=6),
    st.lists(st.one_of(ANY_FLOAT, st.just(NOW - 3.0)), min_size=6, max_size=6),
    st.one_of(ANY_FLOAT, st.just(NOW + 3600.0)),
    st.sampled_from([0.0, 1.0, 5.0]),
)
def test_engine_and_alert_text_are_total_over_any_float(
    prices: list[float], times: list[float], starts_at: float, increment: float
) -> None:
    # Rules without max_profit / max_ev: exactly the case that crashed.
    block = two_books(prices, times, starts_at).block()
    for arbitrage in find_arbitrage(block, NOW, ArbitrageSettings(stake_increment=increment)):
        assert not math.isnan(arbitrage.profit)
        render_all(arbitrage)
    for devig in DevigMethod:
        ev_settings = EvSettings(sharp_books=("Pinnacle",), devig=devig, stake_increment=increment)
        for found in find_positive_ev(block, NOW, ev_settings):
            assert not math.isnan(found.ev)
            assert 0.0 <= found.fair_probability <= 1.0
            render_all(found)


def test_a_quote_of_1e308_is_alerted_with_readable_text() -> None:
    # The case: 1e308 against evens, no max_profit. An arbitrage of absurd profit
    # (that feeds refuse long before it gets here), but the engine answers rather than dies.
    matrix = two_books([1e308, 2.0, 1.5, 1.5, 1.5, 1.5], [NOW - 1.0] * 6, NOW + 60.0)
    (arbitrage,) = find_arbitrage(matrix.block(), NOW, ArbitrageSettings())
    message = render(
        arbitrage,
        reason="new",
        rule="r",
        key="k",
        now=NOW,
        odds_format=OddsFormat.AMERICAN,
        currency="$",
        timezone=NEW_YORK,
    )
    assert "+inf @ Pinnacle" in message.body
    assert "Payout $2,000 on either side" in message.body
