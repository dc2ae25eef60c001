"""The bettor's calculator behind ``arbwatch calc``: arbitrage stakes and +EV of one price.

Pure functions from parsed numbers to the lines printed, so the command is tested without
a process and the maths is the engine's own (stakes.py, devig.py), never a second copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from arbwatch.core.devig import DevigMethod, DevigStatus, fair_probabilities
from arbwatch.core.odds import OddsFormat, format_odds
from arbwatch.core.stakes import arbitrage_stakes, kelly_fraction, kelly_stake, with_commission
from arbwatch.errors import InvalidStakeError

#: Amounts from here up are written in scientific notation: a bankroll of 1e300 would
#: otherwise print as a line of 300 digits.
_LARGEST_MONEY: Final = 1e15


@dataclass(frozen=True, slots=True)
class ArbQuestion:
    """An ``arbwatch calc arb`` request: one decimal price per outcome, and how to stake."""

    prices: tuple[float, ...]
    bankroll: float
    increment: float
    #: Per leg (0-based), the commission an exchange takes on winnings.
    commissions: dict[int, float]
    show: OddsFormat


@dataclass(frozen=True, slots=True)
class EvQuestion:
    """An ``arbwatch calc ev`` request: the sharp market, the method, and the price offered."""

    fair_market: tuple[float, ...]
    devig: DevigMethod
    price: float
    side: int
    bankroll: float
    kelly_fraction: float
    increment: float
    show: OddsFormat


def answer_arb(question: ArbQuestion) -> list[str]:
    """Say whether the prices form an arbitrage, and how to stake it."""
    _check_increment(question.increment, question.bankroll)
    for leg in question.commissions:
        if not 0 <= leg < len(question.prices):
            raise InvalidStakeError(
                f"--commission names leg {leg + 1}, but there are {len(question.prices)} legs"
            )
    effective = [
        with_commission(price, question.commissions.get(leg, 0.0))
        for leg, price in enumerate(question.prices)
    ]
    implied = [1.0 / price for price in effective]
    implied_sum = sum(implied)
    lines = [f"{'leg':<4}{'odds':>10}{'decimal':>10}{'implied':>10}"]
    for leg, price in enumerate(question.prices):
        shown = format_odds(price, question.show)
        note = ""
        if leg in question.commissions:
            note = f"  after {question.commissions[leg]:.2%} commission: {effective[leg]:.3f}"
        lines.append(f"{leg + 1:<4}{shown:>10}{price:>10.3f}{implied[leg]:>10.2%}{note}")
    lines.append(f"implied sum {implied_sum:.2%}")
    if implied_sum >= 1.0:
        lines.append(
            f"No arbitrage: the prices add up to {implied_sum:.2%}, "
            f"a {implied_sum - 1.0:.2%} margin against you."
        )
        lines.extend(_break_even_lines(effective, question.show))
        return lines

    exact = arbitrage_stakes(effective, question.bankroll)
    lines.append(f"ARBITRAGE: profit {1.0 / implied_sum - 1.0:.2%} of the total stake.")
    lines.append(f"Stakes for a bankroll of {_money(question.bankroll)}:")
    for leg, stake in enumerate(exact.stakes):
        lines.append(f"  leg {leg + 1}: {_money(stake)}  returns {_money(exact.payouts[leg])}")
    lines.append(
        f"Payout {_money(exact.payout)} whatever happens; profit {_money(exact.guaranteed_profit)}."
    )
    if question.increment > 0.0:
        rounded = arbitrage_stakes(effective, question.bankroll, question.increment)
        stakes = " / ".join(_money(stake) for stake in rounded.stakes)
        lines.append(
            f"Rounded to {_money(question.increment)}: {stakes} (total {_money(rounded.total)})"
        )
        if rounded.locks_profit:
            lines.append(
                f"  guaranteed profit after rounding {_money(rounded.guaranteed_profit)} "
                f"(worst-case payout {_money(rounded.payout)})."
            )
        else:
            lines.append(
                f"  no guaranteed profit after rounding: the worst outcome returns "
                f"{_money(rounded.payout)} for {_money(rounded.total)} staked "
                f"({_money(rounded.guaranteed_profit)})."
            )
    return lines


def _break_even_lines(effective: Sequence[float], show: OddsFormat) -> list[str]:
    """For each leg, the price it would need for the others to make a zero-profit arb."""
    lines = []
    for leg in range(len(effective)):
        others = sum(1.0 / price for index, price in enumerate(effective) if index != leg)
        if others < 1.0:
            needed = 1.0 / (1.0 - others)
            lines.append(f"  leg {leg + 1} would need better than {format_odds(needed, show)}")
    return lines


def answer_ev(question: EvQuestion) -> list[str]:
    """Devig the sharp market, then price the offered bet against it."""
    _check_increment(question.increment, question.bankroll)
    count = len(question.fair_market)
    if not 1 <= question.side <= count:
        raise InvalidStakeError(f"--side must be between 1 and {count}, got {question.side}")
    result = fair_probabilities(list(question.fair_market), question.devig)
    status = DevigStatus(int(result.status[0]))
    margin = sum(1.0 / price for price in question.fair_market) - 1.0
    lines = [f"Sharp market, margin {margin:.2%}, devig {question.devig.value}:"]
    if status is not DevigStatus.OK:
        lines.append(f"  {question.devig.value} {status.description}; try another --devig.")
        return lines
    probabilities = [float(p) for p in result.probabilities[0]]
    for index, (price, probability) in enumerate(
        zip(question.fair_market, probabilities, strict=True)
    ):
        fair_price = 1.0 / probability
        lines.append(
            f"  outcome {index + 1}: {format_odds(price, question.show):>8}  "
            f"fair {probability:.2%}  "
            f"fair odds {_odds_and_decimal(fair_price, question.show)}"
        )
    probability = probabilities[question.side - 1]
    ev = probability * question.price - 1.0
    verdict = "+EV" if ev > 0.0 else "no edge"
    lines.append(
        f"Bet outcome {question.side} at {_odds_and_decimal(question.price, question.show)}"
        f": EV {ev:+.2%} per unit staked ({verdict})."
    )
    full = kelly_fraction(probability, question.price)
    stake = kelly_stake(
        probability, question.price, question.bankroll, question.kelly_fraction, question.increment
    )
    if full > 0.0:
        lines.append(
            f"Kelly {full:.2%} of the bankroll; x{question.kelly_fraction:g} -> stake "
            f"{_money(stake)} of {_money(question.bankroll)}."
        )
    else:
        lines.append("Kelly says do not bet: the price is below the fair price.")
    return lines


def _odds_and_decimal(price: float, show: OddsFormat) -> str:
    """``+115 (2.150)``: the price as written, with its decimal where that is another figure."""
    shown = format_odds(price, show)
    return shown if show is OddsFormat.DECIMAL else f"{shown} ({price:.3f})"


def _check_increment(increment: float, bankroll: float) -> None:
    """Refuse a stake increment above the bankroll: every stake would round to nothing."""
    if increment > bankroll:
        raise InvalidStakeError(
            f"--stake-round {_money(increment)} is more than the bankroll "
            f"{_money(bankroll)}: every stake would round down to 0"
        )


def _money(amount: float) -> str:
    """An amount with thousands separators and cents: 1,011.76; absurd ones as 1e+300."""
    return f"{amount:,.2f}" if abs(amount) < _LARGEST_MONEY else f"{amount:.4g}"
