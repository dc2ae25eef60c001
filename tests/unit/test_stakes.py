"""Stakes: commission, equal-payout arbitrage stakes, rounding to an increment, Kelly."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbwatch.core.stakes import (
    StakePlan,
    arbitrage_stakes,
    kelly_fraction,
    kelly_stake,
    with_commission,
)
from arbwatch.errors import ArbwatchError, InvalidOddsError, InvalidStakeError


def best_rounded_profit(prices: list[float], bankroll: float, increment: float) -> float:
    """Brute force: the best guaranteed profit over every floor/ceil choice within bankroll."""
    implied = sum(1.0 / price for price in prices)
    exact = [bankroll / price / implied for price in prices]
    choices = [
        {math.floor(stake / increment) * increment, math.ceil(stake / increment) * increment}
        for stake in exact
    ]
    best = -math.inf
    for stakes in itertools.product(*choices):
        spent = sum(stakes)
        if spent <= bankroll + 1e-9:
            profit = min(s * p for s, p in zip(stakes, prices, strict=True)) - spent
            best = max(best, profit)
    return best


def is_multiple(amount: float, increment: float) -> bool:
    steps = amount / increment
    return abs(steps - round(steps)) <= 1e-9


def assert_consistent(plan: StakePlan, prices: list[float]) -> None:
    """The plan's derived figures agree with its stakes."""
    assert len(plan.stakes) == len(prices)
    assert plan.total == pytest.approx(sum(plan.stakes), rel=1e-12)
    for stake, price, payout in zip(plan.stakes, prices, plan.payouts, strict=True):
        assert payout == pytest.approx(stake * price, rel=1e-12)
    assert plan.payout == min(plan.payouts)
    assert plan.guaranteed_profit == pytest.approx(plan.payout - plan.total, abs=1e-9)


# --- commission ------------------------------------------------------------------------


def test_with_commission_takes_a_share_of_the_winnings() -> None:
    assert with_commission(3.0, 0.02) == pytest.approx(2.96, abs=1e-12)
    assert with_commission(2.0, 0.05) == pytest.approx(1.95, abs=1e-12)


def test_zero_commission_leaves_the_price() -> None:
    assert with_commission(3.0, 0.0) == 3.0


@pytest.mark.parametrize("commission", [1.0, -0.1, 1.5, math.nan])
def test_invalid_commission_is_rejected(commission: float) -> None:
    with pytest.raises(InvalidStakeError):
        with_commission(3.0, commission)


# --- exact arbitrage stakes ------------------------------------------------------------


def test_worked_example_two_legs_exact() -> None:
    # By hand: L = 1/2.10 + 1/2.05 = 4.15 / (2.10 * 2.05) = 4.15 / 4.305.
    # s_1 = 1000 * (1/2.10) / L = 1000 * 2.05 / 4.15;  s_2 = 1000 * 2.10 / 4.15.
    # Payout = 1000 / L = 1000 * 4.305 / 4.15;  profit = 1000 * 0.155 / 4.15.
    plan = arbitrage_stakes([2.10, 2.05], 1000.0)
    assert plan.stakes[0] == pytest.approx(2050 / 4.15, rel=1e-12)  # 493.98
    assert plan.stakes[1] == pytest.approx(2100 / 4.15, rel=1e-12)  # 506.02
    assert plan.total == pytest.approx(1000.0, rel=1e-12)
    assert plan.payout == pytest.approx(4305 / 4.15, rel=1e-12)  # 1037.35
    assert plan.guaranteed_profit == pytest.approx(155 / 4.15, rel=1e-9)  # 37.35
    assert plan.locks_profit
    assert_consistent(plan, [2.10, 2.05])


def test_exact_stakes_pay_the_same_on_every_outcome() -> None:
    prices = [2.10, 2.05]
    plan = arbitrage_stakes(prices, 1000.0)
    implied = sum(1.0 / p for p in prices)
    assert plan.payouts[0] == pytest.approx(plan.payouts[1], rel=1e-12)
    assert plan.payout == pytest.approx(1000.0 / implied, rel=1e-12)
    assert sum(plan.stakes) == pytest.approx(1000.0, rel=1e-12)


def test_three_way_legs() -> None:
    prices = [3.2, 3.6, 4.0]
    implied = 1 / 3.2 + 1 / 3.6 + 1 / 4.0
    assert implied < 1.0
    plan = arbitrage_stakes(prices, 500.0)
    assert len(plan.stakes) == 3
    for stake, price in zip(plan.stakes, prices, strict=True):
        assert stake == pytest.approx(500.0 / price / implied, rel=1e-12)
        assert stake * price == pytest.approx(500.0 / implied, rel=1e-12)
    assert plan.total == pytest.approx(500.0, rel=1e-12)
    assert plan.guaranteed_profit == pytest.approx(500.0 / implied - 500.0, rel=1e-9)
    assert plan.locks_profit
    assert_consistent(plan, prices)


def test_no_arbitrage_gives_no_profit() -> None:
    plan = arbitrage_stakes([1.90, 1.90], 100.0)
    assert plan.guaranteed_profit < 0.0
    assert not plan.locks_profit


def test_break_even_does_not_lock_profit() -> None:
    plan = arbitrage_stakes([2.0, 2.0], 100.0)
    assert plan.guaranteed_profit == pytest.approx(0.0, abs=1e-9)
    assert not plan.locks_profit


# --- rounded stakes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prices", "bankroll", "increment"),
    [
        ([2.10, 2.05], 1000.0, 5.0),
        ([2.10, 2.05], 1000.0, 1.0),
        ([2.10, 2.05], 333.0, 0.01),
        ([1.50, 3.40], 250.0, 2.5),
        ([1.25, 6.00], 1000.0, 10.0),
        ([3.2, 3.6, 4.0], 500.0, 10.0),
        ([3.2, 3.6, 4.0], 777.0, 5.0),
        ([2.02, 1.99], 20.0, 5.0),
    ],
)
def test_rounded_plan_is_the_best_affordable_rounding(
    prices: list[float], bankroll: float, increment: float
) -> None:
    plan = arbitrage_stakes(prices, bankroll, increment)
    assert all(is_multiple(stake, increment) for stake in plan.stakes)
    assert plan.total <= bankroll + 1e-9
    assert plan.guaranteed_profit == pytest.approx(
        best_rounded_profit(prices, bankroll, increment), abs=1e-9
    )
    assert_consistent(plan, prices)


def test_rounding_to_5_on_a_1000_bankroll() -> None:
    # Exact stakes 493.98 / 506.02; the candidates are 490/495 x 505/510 within 1000.
    # By hand: (495, 505) pays min(1039.5, 1035.25) - 1000 = 35.25, the best that fits.
    plan = arbitrage_stakes([2.10, 2.05], 1000.0, 5.0)
    assert plan.stakes == (495.0, 505.0)
    assert plan.guaranteed_profit == pytest.approx(35.25, abs=1e-9)
    assert plan.locks_profit


def test_rounding_that_wipes_out_a_thin_arbitrage_is_no_profit() -> None:
    prices = [2.02, 1.99]
    exact = arbitrage_stakes(prices, 20.0)
    assert exact.locks_profit  # 1/L - 1 is about 0.24%: a real, thin arbitrage
    assert exact.guaranteed_profit > 0.0

    # Exact stakes 9.93 / 10.07 round to 5 or 10 and 10 or 15. Within 20 the options are
    # (5, 10): 10.10 - 15 = -4.90, (5, 15): 10.10 - 20 = -9.90, (10, 10): 19.90 - 20 = -0.10.
    rounded = arbitrage_stakes(prices, 20.0, 5.0)
    assert rounded.stakes == (10.0, 10.0)
    assert rounded.guaranteed_profit == pytest.approx(-0.10, abs=1e-9)
    assert rounded.guaranteed_profit <= 0.0
    assert rounded.locks_profit is False


def test_bankroll_below_one_increment_stakes_nothing() -> None:
    plan = arbitrage_stakes([2.10, 2.05], 4.0, 5.0)
    assert plan.stakes == (0.0, 0.0)
    assert plan.total == 0.0
    assert not plan.locks_profit


def test_stake_already_on_the_increment_is_not_moved() -> None:
    # 2.0 / 2.0 on 1000 is 500 / 500 exactly: no rounding choice to make.
    plan = arbitrage_stakes([2.0, 2.0], 1000.0, 5.0)
    assert plan.stakes == (500.0, 500.0)


# --- invalid input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prices", "bankroll", "increment", "error"),
    [
        pytest.param([2.0], 100.0, 0.0, InvalidStakeError, id="one-leg"),
        pytest.param([], 100.0, 0.0, InvalidStakeError, id="no-legs"),
        pytest.param([2.0, 1.0], 100.0, 0.0, InvalidOddsError, id="price-1"),
        pytest.param([2.0, 0.5], 100.0, 0.0, InvalidOddsError, id="price-below-1"),
        pytest.param([2.0, math.nan], 100.0, 0.0, InvalidOddsError, id="price-nan"),
        pytest.param([2.0, math.inf], 100.0, 0.0, InvalidOddsError, id="price-inf"),
        pytest.param([2.1, 2.1], 0.0, 0.0, InvalidStakeError, id="bankroll-0"),
        pytest.param([2.1, 2.1], -10.0, 0.0, InvalidStakeError, id="bankroll-negative"),
        pytest.param([2.1, 2.1], math.nan, 0.0, InvalidStakeError, id="bankroll-nan"),
        pytest.param([2.1, 2.1], math.inf, 0.0, InvalidStakeError, id="bankroll-inf"),
        pytest.param([2.1, 2.1], 100.0, -1.0, InvalidStakeError, id="increment-negative"),
        pytest.param([2.1, 2.1], 100.0, math.nan, InvalidStakeError, id="increment-nan"),
    ],
)
def test_invalid_arbitrage_input_raises(
    prices: list[float], bankroll: float, increment: float, error: type[ArbwatchError]
) -> None:
    with pytest.raises(error) as raised:
        arbitrage_stakes(prices, bankroll, increment)
    assert isinstance(raised.value, ValueError)


# --- Kelly -----------------------------------------------------------------------------


def test_kelly_fraction_formula() -> None:
    # (b·p - q) / b with b = 1.2, p = 0.5, q = 0.5: 0.1 / 1.2.
    assert kelly_fraction(0.5, 2.2) == pytest.approx(1 / 12, rel=1e-12)
    assert kelly_fraction(0.6, 2.0) == pytest.approx(0.2, rel=1e-12)
    assert kelly_fraction(1.0, 3.0) == pytest.approx(1.0, rel=1e-12)


def test_kelly_fraction_is_zero_or_negative_without_edge() -> None:
    assert kelly_fraction(0.5, 2.0) == pytest.approx(0.0, abs=1e-15)
    assert kelly_fraction(0.4, 2.0) == pytest.approx(-0.2, rel=1e-12)


@pytest.mark.parametrize(("probability", "price"), [(0.5, 2.0), (0.4, 2.0), (0.0, 5.0)])
def test_kelly_stake_is_zero_without_edge(probability: float, price: float) -> None:
    assert kelly_stake(probability, price, 1000.0, 0.25) == 0.0
    assert kelly_stake(probability, price, 1000.0, 1.0, 5.0) == 0.0


def test_kelly_stake_scales_with_the_fraction() -> None:
    full = kelly_stake(0.5, 2.2, 1000.0, 1.0)
    assert full == pytest.approx(1000.0 / 12, rel=1e-12)
    assert kelly_stake(0.5, 2.2, 1000.0, 0.25) == pytest.approx(full / 4, rel=1e-12)
    assert kelly_stake(0.5, 2.2, 1000.0, 0.5) == pytest.approx(full / 2, rel=1e-12)
    assert kelly_stake(0.5, 2.2, 2000.0, 0.5) == pytest.approx(full, rel=1e-12)


def test_kelly_stake_rounds_down_to_the_increment() -> None:
    # Full Kelly 83.33; quarter Kelly 20.83.
    assert kelly_stake(0.5, 2.2, 1000.0, 1.0, 10.0) == 80.0
    assert kelly_stake(0.5, 2.2, 1000.0, 0.25, 5.0) == 20.0
    assert kelly_stake(0.5, 2.2, 1000.0, 0.25, 1.0) == 20.0
    assert kelly_stake(0.5, 2.2, 1000.0, 0.25, 25.0) == 0.0
    # 1000 * 0.25 * 0.2 is 50 up to float noise; it must not be pushed down to 45.
    assert kelly_stake(0.6, 2.0, 1000.0, 0.25, 5.0) == 50.0


@pytest.mark.parametrize("fraction", [0.0, -0.25, 1.5, math.nan])
def test_invalid_kelly_fraction_raises(fraction: float) -> None:
    with pytest.raises(InvalidStakeError):
        kelly_stake(0.5, 2.2, 1000.0, fraction)


@pytest.mark.parametrize("probability", [-0.1, 1.1, math.nan])
def test_invalid_probability_raises(probability: float) -> None:
    with pytest.raises(InvalidStakeError):
        kelly_fraction(probability, 2.2)
    with pytest.raises(InvalidStakeError):
        kelly_stake(probability, 2.2, 1000.0, 0.25)


@pytest.mark.parametrize("price", [1.0, 0.5, math.nan, math.inf])
def test_kelly_invalid_price_raises(price: float) -> None:
    with pytest.raises(InvalidOddsError):
        kelly_fraction(0.5, price)


@pytest.mark.parametrize("bankroll", [0.0, -100.0, math.nan, math.inf])
def test_kelly_invalid_bankroll_raises(bankroll: float) -> None:
    with pytest.raises(InvalidStakeError):
        kelly_stake(0.5, 2.2, bankroll, 0.25)


# --- properties ------------------------------------------------------------------------


@st.composite
def arbitrage_prices(draw: st.DrawFn) -> list[float]:
    """Prices of 2 or 3 legs whose implied probabilities sum to L < 1."""
    weights = draw(st.lists(st.floats(0.05, 1.0), min_size=2, max_size=3))
    implied_sum = draw(st.floats(0.5, 0.999))
    share = sum(weights)
    return [1.0 / (implied_sum * weight / share) for weight in weights]


@settings(derandomize=True, max_examples=300, deadline=None)
@given(prices=arbitrage_prices(), bankroll=st.floats(1.0, 1e6))
def test_exact_plan_pays_equally_and_profits_one_over_l(
    prices: list[float], bankroll: float
) -> None:
    implied = sum(1.0 / price for price in prices)
    assert implied < 1.0
    plan = arbitrage_stakes(prices, bankroll)
    assert max(plan.payouts) - min(plan.payouts) <= 1e-9 * plan.payout
    assert plan.total == pytest.approx(bankroll, rel=1e-12)
    assert plan.guaranteed_profit / plan.total == pytest.approx(1.0 / implied - 1.0, abs=1e-9)
    assert plan.locks_profit


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    prices=arbitrage_prices(),
    bankroll=st.integers(10, 5000),
    increment=st.sampled_from([0.5, 1.0, 2.0, 5.0, 10.0, 25.0]),
)
def test_rounded_plan_is_best_over_all_floor_ceil_choices(
    prices: list[float], bankroll: int, increment: float
) -> None:
    plan = arbitrage_stakes(prices, float(bankroll), increment)
    assert all(is_multiple(stake, increment) for stake in plan.stakes)
    assert plan.total <= bankroll + 1e-9
    assert plan.guaranteed_profit == pytest.approx(
        best_rounded_profit(prices, float(bankroll), increment), abs=1e-9
    )
    assert plan.locks_profit == (plan.guaranteed_profit > 1e-9)
