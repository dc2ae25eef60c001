"""The rule model: one alerting rule as the engine reads it, and its quiet hours.

It lives in the core because the rules and the alert lifecycle decide with it, and the core
depends on nothing outside itself; `arbwatch.config.load` builds these from YAML.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from arbwatch.core.devig import DevigMethod
from arbwatch.core.markets import MarketKind, Period

#: What a rule alerts on.
RuleKind = Literal["arbitrage", "positive_ev"]

#: Whether a rule wants games in play, games not yet started, or both.
InPlay = Literal["any", "live", "pre_match"]


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily span in a time zone when a rule sends nothing.

    ``start`` may be after ``end``: 23:00-07:00 spans midnight. ``start == end`` is refused
    by the loader.
    """

    start: dt.time
    end: dt.time
    timezone: ZoneInfo

    def contains(self, now: float) -> bool:
        """Whether the epoch time ``now`` falls in the quiet span (start inclusive)."""
        local = dt.datetime.fromtimestamp(now, self.timezone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleConfig:
    """One alerting rule, as the bettor wrote it (defaults filled in, units converted).

    Attributes:
        name: unique among rules; names the rule in alerts, logs and history.
        kind: ``arbitrage`` or ``positive_ev``.
        notify: the channel names to send to (each one exists in `Config.channels`).
        sports: sport names as the engine spells them (upper case, "NBA"); None for all.
        books: the books a bettor may bet into; None for every book.
        excluded_books: books never bet into (applied after ``books``).
        market_types: None for every kind of market.
        periods: None for every period.
        min_odds / max_odds: decimal bounds on every leg's quoted price.
        min_value / max_value: profit (arbitrage) or EV (positive_ev) as fractions; the
            maximum guards against stale or palpable lines.
        starts_within: seconds; only games starting within this long from now (None: any).
        in_play: ``any``, ``live`` (started) or ``pre_match`` (not started).
        max_quote_age: seconds; older quotes never form an opportunity.
        sharp: positive_ev only: the books whose devigged prices are the fair price.
        devig: positive_ev only: how the sharp books' margin is removed.
        kelly_fraction: positive_ev only: the share of the full Kelly stake.
        bankroll: the amount stakes are worked out for.
        stake_round: stakes are rounded to multiples of this (0: not rounded).
        repeat: seconds; the same opportunity is alerted again no sooner than this.
        improve_by: a fraction; alerted again at once when the value has risen this much
            above the value last alerted (0.005: half a percentage point).
        gone: send a follow-up when an alerted opportunity disappears.
        quiet_hours: when nothing is sent for this rule (None: never quiet).
        min_books: arbitrage only: the fewest different books its legs may be at (2: an
            arbitrage within one book, almost always a stale side, is left out).
        min_duration: seconds an opportunity must last before it is alerted, so a price
            that blinks is never pushed (nor its GONE).
    """

    name: str
    kind: RuleKind
    notify: tuple[str, ...]
    sports: frozenset[str] | None = None
    books: frozenset[str] | None = None
    excluded_books: frozenset[str] = frozenset()
    market_types: frozenset[MarketKind] | None = None
    periods: frozenset[Period] | None = None
    min_odds: float = 1.0
    max_odds: float = math.inf
    min_value: float = 0.0
    max_value: float = math.inf
    starts_within: float | None = None
    in_play: InPlay = "any"
    max_quote_age: float = 120.0
    sharp: tuple[str, ...] = ()
    devig: DevigMethod = DevigMethod.WORST_CASE
    kelly_fraction: float = 0.25
    bankroll: float = 1000.0
    stake_round: float = 0.0
    repeat: float = 600.0
    improve_by: float = 0.005
    gone: bool = False
    quiet_hours: QuietHours | None = None
    min_books: int = 2
    min_duration: float = 0.3
