"""Alert text: what a bettor's phone shows for an opportunity, and for one that has gone.

Pure: the time, the odds format, the currency and the time zone are all passed in, so the
same opportunity always renders the same text. The title is the push notification itself,
so it carries the decision (kind, value, sport, game, market); the body carries the numbers
a bettor acts on, one line per bet::

    ARB +3.73% · NBA · Lakers @ Celtics · Moneyline
    Celtics  +110 @ Pinnacle    stake $493.98  (quote 4s old)
    Lakers   +105 @ DraftKings  stake $506.02  (quote 2s old)
    Payout $1,037.35 on either side · profit $37.35 on $1,000 staked
    Tue 14 Jan 19:30 EST · starts in 2h 13m
    rule nba-arbs

Stakes rounded to a book's increment pay slightly differently per outcome; the payout and
profit shown are then the worst case (``Payout at least ...``), what is really locked in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from arbwatch.core.evaluate import Arbitrage, ArbitrageSettings, Opportunity, find_arbitrage
from arbwatch.core.markets import Event, PriceUpdate, moneyline
from arbwatch.core.matrix import PriceMatrix
from arbwatch.core.odds import OddsFormat, format_odds

#: Short tags for the kinds of opportunity, as the title starts.
_KIND_TAGS: Final = {"arbitrage": "ARB", "positive_ev": "EV"}
#: Why an alert is sent (the dedup stage decides) -> how the title marks it: first sight,
#: a better price, a reminder.
_REASON_MARKS: Final = {"new": "", "improved": " ▲", "repeat": " again"}
#: Money to the cent: amounts this close to a whole number are shown without cents.
_CENT: Final = 0.005

_SECONDS_PER_MINUTE: Final = 60
_SECONDS_PER_HOUR: Final = 3600
_SECONDS_PER_DAY: Final = 86400
#: Spans are shown up to this (about 31,700 years): past it a figure means nothing, and
#: `int` of an infinite one would raise.
_LONGEST_SPAN: Final = 1e12
#: Amounts this large are shown in scientific notation: as whole numbers the largest floats
#: have 309 digits, and an infinite one cannot be rounded at all.
_LARGEST_PLAIN_AMOUNT: Final = 1e15


@dataclass(frozen=True, slots=True)
class Message:
    """One alert, ready for any channel.

    Attributes:
        title: the push text: short, everything needed to decide whether to look.
        body: the lines with the bets, stakes and timing.
        found_at: epoch seconds when the opportunity was found; a channel's freshness is
            measured from it, so a late alert is dropped rather than sent.
        rule: the name of the rule that raised it.
        key: the opportunity's identity in the alert lifecycle (dedup and the store).
    """

    title: str
    body: str
    found_at: float
    rule: str
    key: str


def render(
    opportunity: Opportunity,
    *,
    reason: str,
    rule: str,
    key: str,
    now: float,
    odds_format: OddsFormat,
    currency: str,
    timezone: ZoneInfo,
) -> Message:
    """The alert for an opportunity that is open at ``now``.

    Args:
        opportunity: what the evaluator found.
        reason: ``new``, ``improved`` (the title gets ``▲``) or ``repeat`` (``again``).
        rule: the rule's name, shown last.
        key: the opportunity's identity, passed through to the message.
        now: epoch seconds; quote ages and the time to the start are measured from it.
        odds_format: how prices are written.
        currency: put before amounts (``$``, ``£``, ``€``).
        timezone: the zone the start time is shown in.

    Returns:
        The message; its ``found_at`` is the opportunity's.

    Raises:
        ValueError: ``reason`` is none of the three.
    """
    mark = _REASON_MARKS.get(reason)
    if mark is None:
        raise ValueError(
            f"an open opportunity is alerted as new, improved or repeat, not {reason!r}"
        )
    title = (
        f"{_KIND_TAGS[opportunity.kind]} {opportunity.value:+.2%}{mark} · {_subject(opportunity)}"
    )
    lines = _leg_lines(opportunity, now, odds_format, currency)
    if isinstance(opportunity, Arbitrage):
        lines.append(_payout_line(opportunity, currency))
    else:
        lines.extend(
            [
                f"Fair odds {_fair_odds(opportunity.fair_price, odds_format)}"
                f" ({opportunity.fair_probability:.1%} to win)",
                f"Devig {opportunity.devig.value.replace('_', ' ')}"
                f" from {', '.join(opportunity.sharp_books)}"
                f" · full Kelly {opportunity.kelly:.1%} of bankroll",
            ]
        )
    lines.extend([_start_line(opportunity.event, now, timezone), f"rule {rule}"])
    return Message(
        title=title, body="\n".join(lines), found_at=opportunity.found_at, rule=rule, key=key
    )


def render_gone(
    opportunity: Opportunity | None,
    *,
    summary: str,
    rule: str,
    key: str,
    first_seen: float,
    now: float,
    best_value: float,
    kind: str,
) -> Message:
    """The follow-up for an alerted opportunity that has disappeared.

    Args:
        opportunity: the last version seen, when still at hand; names the game and the bets.
        summary: ``sport · game · market``, used for the title when ``opportunity`` is None.
        rule: the rule's name.
        key: the opportunity's identity.
        first_seen: epoch seconds when it was first found.
        now: epoch seconds when it was found to be gone; the message's ``found_at``.
        best_value: the best profit or EV it reached, as a fraction.
        kind: ``arbitrage`` or ``positive_ev``.

    Returns:
        ``GONE · ARB +2.14% · ...`` with how long it lasted.
    """
    subject = _subject(opportunity) if opportunity is not None else summary
    title = f"GONE · {_KIND_TAGS.get(kind, kind.upper())} {best_value:+.2%} · {subject}"
    lines = [f"Lasted {_duration(now - first_seen)} · best {best_value:+.2%}"]
    if opportunity is not None:
        bets = ", ".join(f"{leg.label} @ {leg.book}" for leg in opportunity.legs)
        lines.append(f"Was: {bets}")
    lines.append(f"rule {rule}")
    return Message(title=title, body="\n".join(lines), found_at=now, rule=rule, key=key)


def render_sample(
    now: float, odds_format: OddsFormat, currency: str, timezone: ZoneInfo
) -> Message:
    """A sample alert for ``arbwatch test-notify``, marked as a test in its title.

    It is a real arbitrage found by the engine in a small price matrix (Lakers @ Celtics,
    two books, starting in 2h 13m), so it shows exactly what a live alert looks like.
    """
    event = Event("sample", sport="NBA", home="Celtics", away="Lakers", starts_at=now + 7980.0)
    market = moneyline(event.event_id)
    matrix = PriceMatrix()
    matrix.set_event(event)
    matrix.apply(
        [
            PriceUpdate(market, 0, "Pinnacle", 2.10, now - 4.0),
            PriceUpdate(market, 1, "DraftKings", 2.05, now - 2.0),
            PriceUpdate(market, 0, "DraftKings", 1.80, now - 2.0),
            PriceUpdate(market, 1, "Pinnacle", 1.83, now - 4.0),
        ]
    )
    settings = ArbitrageSettings(bankroll=1000.0, stake_increment=1.0)
    (arbitrage,) = find_arbitrage(matrix.block(), now, settings)
    message = render(
        arbitrage,
        reason="new",
        rule="sample (arbwatch test-notify)",
        key="sample",
        now=now,
        odds_format=odds_format,
        currency=currency,
        timezone=timezone,
    )
    return Message(
        title=f"TEST · {message.title}",
        body=message.body,
        found_at=message.found_at,
        rule=message.rule,
        key=message.key,
    )


def _subject(opportunity: Opportunity) -> str:
    """``NBA · Lakers @ Celtics · Moneyline``; the sport is left out when unknown."""
    parts = [opportunity.event.sport, opportunity.event.name, opportunity.market.label()]
    return " · ".join(part for part in parts if part)


def _leg_lines(
    opportunity: Opportunity, now: float, odds_format: OddsFormat, currency: str
) -> list[str]:
    """One aligned line per bet: outcome, price @ book, stake, how old the quote is."""
    legs = opportunity.legs
    prices = [format_odds(leg.price, odds_format) for leg in legs]
    label_width = max(len(leg.label) for leg in legs)
    price_width = max(len(price) for price in prices)
    book_width = max(len(leg.book) for leg in legs)
    lines = []
    for leg, price in zip(legs, prices, strict=True):
        line = (
            f"{leg.label:<{label_width}}  {price:>{price_width}} @ {leg.book:<{book_width}}"
            f"  stake {_money(leg.stake, currency)}  (quote {_duration(leg.age(now))} old"
        )
        if leg.effective_price != leg.price:
            # An exchange's cut of the winnings: o' = 1 + (o - 1)(1 - c), solved for c. The
            # stake and profit already allow for it; the bettor should know why.
            commission = 1.0 - (leg.effective_price - 1.0) / (leg.price - 1.0)
            line += f", after {commission * 100:.3g}% commission"
        lines.append(line + ")")
    return lines


def _fair_odds(price: float, odds_format: OddsFormat) -> str:
    """Fair odds as a bettor reads them; a certainty (probability 1, odds 1.0) too.

    Devigging a sharp market where one side is absurdly long (2.0 against 1.8e16) leaves
    the other a fair probability of 1.0: fair odds of 1.0, which are not a price one could
    bet, so `format_odds` refuses them.
    """
    return format_odds(price, odds_format) if price > 1.0 else "1.00 (a certainty)"


def _payout_line(arbitrage: Arbitrage, currency: str) -> str:
    """What the stakes return and lock in, after they were rounded."""
    plan = arbitrage.plan
    sides = "either side" if len(plan.payouts) == 2 else "any outcome"
    # Rounded stakes pay a little differently per outcome; the guarantee is the smallest.
    even = max(plan.payouts) - plan.payout < _CENT
    payout = f"Payout {_money(plan.payout, currency)} on {sides}"
    if not even:
        payout = f"Payout at least {_money(plan.payout, currency)}"
    return (
        f"{payout} · profit {_money(plan.guaranteed_profit, currency)}"
        f" on {_money(plan.total, currency)} staked"
    )


def _start_line(event: Event, now: float, timezone: ZoneInfo) -> str:
    """The start in the bettor's zone and relative to now: starts in / live / unknown."""
    try:
        local = dt.datetime.fromtimestamp(event.starts_at, timezone)
    except (ValueError, OverflowError, OSError):
        # NaN (a provider without a start time), or outside the years datetime can hold.
        return "Start time unknown"
    when = f"{local:%a %d %b %H:%M} {local.tzname()}"
    until = event.starts_at - now
    if until > 0.0:
        return f"{when} · starts in {_duration(until)}"
    if -until < _SECONDS_PER_MINUTE:
        return f"{when} · live, just started"
    return f"{when} · live, started {_duration(-until)} ago"


def _duration(seconds: float) -> str:
    """A span as a bettor reads it: ``4s``, ``12m 5s``, ``2h 13m``, ``3d 4h``.

    Negative spans (a quote stamped a moment ahead of our clock) read as ``0s``.
    """
    # `not seconds > 0` is also true of NaN, which reads as 0s rather than failing.
    total = int(min(seconds, _LONGEST_SPAN)) if seconds > 0.0 else 0
    if total < _SECONDS_PER_MINUTE:
        return f"{total}s"
    if total < _SECONDS_PER_HOUR:
        minutes, rest = divmod(total, _SECONDS_PER_MINUTE)
        return f"{minutes}m {rest}s" if rest else f"{minutes}m"
    if total < _SECONDS_PER_DAY:
        hours, rest = divmod(total, _SECONDS_PER_HOUR)
        minutes = rest // _SECONDS_PER_MINUTE
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, rest = divmod(total, _SECONDS_PER_DAY)
    hours = rest // _SECONDS_PER_HOUR
    return f"{days}d {hours}h" if hours else f"{days}d"


def _money(amount: float, currency: str) -> str:
    """An amount with its currency: ``$1,000``, ``$476.19`` (cents only when there are any).

    Absurd amounts (from absurd prices) read ``$1e+20``, ``$inf`` or ``$nan`` rather than
    failing: the alert still goes out, and says that something is off.
    """
    if not abs(amount) < _LARGEST_PLAIN_AMOUNT:
        return f"{currency}{amount:,.3g}"
    if abs(amount - round(amount)) < _CENT:
        return f"{currency}{round(amount):,}"
    return f"{currency}{amount:,.2f}"
