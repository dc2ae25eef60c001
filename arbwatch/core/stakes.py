"""How much to bet: equal-payout arbitrage stakes, rounding, exchange commission, Kelly.

    commission c on winnings:     o' = 1 + (o - 1)(1 - c)
    arbitrage, bankroll T:        L = Σ 1/o'_i,   s_i = T · (1/o'_i) / L,   payout T / L
    after rounding the stakes:    guaranteed profit = min_i(s_i · o'_i) - Σ s_i
    Kelly, fair probability p:    f = (b·p - q) / b,   b = o' - 1,   q = 1 - p

These are plain scalar functions: they run once per opportunity found, not per update.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from arbwatch.errors import InvalidOddsError, InvalidStakeError

#: Money is compared and shown in cents; this absorbs float noise in sums of stakes.
_CENT_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class StakePlan:
    """The stakes for one arbitrage and what they lock in.

    Attributes:
        stakes: per leg, in the order of the prices given.
        total: the sum of the stakes.
        payouts: per leg, what that leg returns if it wins (stake x effective odds).
        payout: the smallest of those: what the bettor gets back whatever happens.
        guaranteed_profit: payout - total; zero or less means no profit is locked in.
    """

    stakes: tuple[float, ...]
    total: float
    payouts: tuple[float, ...]
    payout: float
    guaranteed_profit: float

    @property
    def locks_profit(self) -> bool:
        """True when every outcome pays back more than was staked in all."""
        return self.guaranteed_profit > _CENT_EPSILON


def with_commission(price: float, commission: float) -> float:
    """Decimal odds after an exchange takes ``commission`` (0.02 = 2%) of the winnings."""
    if not 0.0 <= commission < 1.0:
        raise InvalidStakeError(f"commission must be in [0, 1), got {commission!r}")
    return 1.0 + (price - 1.0) * (1.0 - commission)


def arbitrage_stakes(prices: Sequence[float], bankroll: float, increment: float = 0.0) -> StakePlan:
    """Stakes that pay the same on every outcome, optionally rounded to ``increment``.

    Args:
        prices: each leg's decimal odds, commission already taken off.
        bankroll: the total to spread over the legs.
        increment: round each stake to a multiple of this (5 for $5 steps); 0 for exact.

    Returns:
        The plan. With rounding, of the ways to round each stake down or up whose total
        stays within the bankroll, the one with the largest guaranteed profit is chosen
        (ties: the smaller total). Its guaranteed profit can be zero or negative when
        rounding wipes out a thin arbitrage; `StakePlan.locks_profit` then says False.
    """
    if len(prices) < 2:
        raise InvalidStakeError("an arbitrage needs at least two legs")
    for price in prices:
        if not (math.isfinite(price) and price > 1.0):
            raise InvalidOddsError(f"every leg needs decimal odds above 1.0, got {price!r}")
    if not (math.isfinite(bankroll) and bankroll > 0.0):
        raise InvalidStakeError(f"bankroll must be a positive amount, got {bankroll!r}")
    if not (math.isfinite(increment) and increment >= 0.0):
        raise InvalidStakeError(f"stake increment must be zero or positive, got {increment!r}")

    implied_sum = sum(1.0 / price for price in prices)
    exact = [bankroll / price / implied_sum for price in prices]
    if increment == 0.0:
        return _plan(exact, prices)

    choices = [_round_both_ways(stake, increment) for stake in exact]
    plans = [_plan(list(stakes), prices) for stakes in itertools.product(*choices)]
    # Rounding every stake down fits the bankroll, but float sums of huge bankrolls
    # (1.2e16) can land a hair above it: the all-down plan (the first) is kept regardless.
    affordable = [plan for plan in plans if plan.total <= bankroll + _CENT_EPSILON] or plans[:1]
    return max(affordable, key=lambda plan: (plan.guaranteed_profit, -plan.total))


def _round_both_ways(stake: float, increment: float) -> tuple[float, ...]:
    """The multiples of ``increment`` just below and just above ``stake``."""
    # round(..., 9) first so that 475.0000000001 / 5 is not pushed up a whole step.
    steps = round(stake / increment, 9)
    if not math.isfinite(steps):
        # An increment so small (1e-302) that the stake is past float's range in steps of
        # it: it rounds nothing, and floor(inf) would raise.
        return (stake,)
    low, high = float(math.floor(steps) * increment), float(math.ceil(steps) * increment)
    return (low,) if low == high else (low, high)


def _plan(stakes: list[float], prices: Sequence[float]) -> StakePlan:
    """Work out totals and payouts for given stakes."""
    payouts = tuple(stake * price for stake, price in zip(stakes, prices, strict=True))
    total = sum(stakes)
    payout = min(payouts)
    return StakePlan(
        stakes=tuple(stakes),
        total=total,
        payouts=payouts,
        payout=payout,
        guaranteed_profit=payout - total,
    )


def kelly_fraction(probability: float, price: float) -> float:
    """The full-Kelly share of the bankroll: (b·p - q)/b for decimal ``price``.

    ``probability`` is the chance the bet wins; zero or negative means it has no edge.
    """
    if not 0.0 <= probability <= 1.0:
        raise InvalidStakeError(f"a probability must be in [0, 1], got {probability!r}")
    if not (math.isfinite(price) and price > 1.0):
        raise InvalidOddsError(f"decimal odds must be above 1.0, got {price!r}")
    gain = price - 1.0
    return (gain * probability - (1.0 - probability)) / gain


def kelly_stake(
    probability: float, price: float, bankroll: float, fraction: float, increment: float = 0.0
) -> float:
    """The stake for a +EV bet: bankroll x ``fraction`` x full Kelly, rounded down.

    Rounded down, never up, so that rounding never bets more than Kelly advises; a bet with
    no edge gets a stake of zero.
    """
    if not 0.0 < fraction <= 1.0:
        raise InvalidStakeError(f"Kelly fraction must be in (0, 1], got {fraction!r}")
    if not (math.isfinite(bankroll) and bankroll > 0.0):
        raise InvalidStakeError(f"bankroll must be a positive amount, got {bankroll!r}")
    if not (math.isfinite(increment) and increment >= 0.0):
        raise InvalidStakeError(f"stake increment must be zero or positive, got {increment!r}")
    stake = bankroll * fraction * max(0.0, kelly_fraction(probability, price))
    if increment > 0.0:
        steps = round(stake / increment, 9)
        # Past float's range in steps (an increment of 1e-310) the increment rounds nothing,
        # and floor(inf) would raise.
        if math.isfinite(steps):
            stake = float(math.floor(steps) * increment)
    return stake
