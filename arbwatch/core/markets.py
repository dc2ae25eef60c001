"""Identities: events, markets, outcome slots, and the normalized price update.

A market is one thing a bettor can price both (or all three) sides of: an event, a market
kind, a period and, where the kind has one, a line. Outcomes live in fixed slots:

    moneyline (2-way)     0 home   1 away
    moneyline (3-way)     0 home   1 away   2 draw
    spread                0 home   1 away     keyed by the HOME side's line
    total                 0 over   1 under    keyed by the points
    player prop           0 over   1 under    keyed by player, statistic and line

A spread is keyed by the home side's line, so home -3.5 at one book and away +3.5 at another
are the same market (an arbitrage can pair them), while home -3.5 against away +3.0 are two
different markets (a middle, never an arbitrage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NamedTuple

from arbwatch.errors import InvalidMarketError

HOME: Final = 0
AWAY: Final = 1
DRAW: Final = 2
OVER: Final = 0
UNDER: Final = 1

#: Every market has at most this many outcomes; the price matrix has one slot for each.
MAX_OUTCOMES: Final = 3


class MarketKind(StrEnum):
    """What is being bet on; decides the number of outcomes and what the line means."""

    MONEYLINE = "moneyline"
    MONEYLINE_3WAY = "moneyline_3way"
    SPREAD = "spread"
    TOTAL = "total"
    PLAYER_PROP = "player_prop"

    @property
    def outcome_count(self) -> int:
        """How many outcomes a market of this kind has."""
        return 3 if self is MarketKind.MONEYLINE_3WAY else 2

    @property
    def label(self) -> str:
        """The name a bettor knows the market by."""
        return _KIND_LABELS[self]


_KIND_LABELS: Final = {
    MarketKind.MONEYLINE: "Moneyline",
    MarketKind.MONEYLINE_3WAY: "Moneyline (3-way)",
    MarketKind.SPREAD: "Spread",
    MarketKind.TOTAL: "Total",
    MarketKind.PLAYER_PROP: "Player prop",
}


class Period(StrEnum):
    """The part of the game a market settles on."""

    FULL_GAME = "full_game"
    FIRST_HALF = "first_half"
    SECOND_HALF = "second_half"
    FIRST_QUARTER = "first_quarter"
    SECOND_QUARTER = "second_quarter"
    THIRD_QUARTER = "third_quarter"
    FOURTH_QUARTER = "fourth_quarter"
    FIRST_PERIOD = "first_period"
    SECOND_PERIOD = "second_period"
    THIRD_PERIOD = "third_period"
    FIRST_FIVE_INNINGS = "first_five_innings"
    FIRST_SET = "first_set"
    SECOND_SET = "second_set"

    @property
    def label(self) -> str:
        """The period in words, e.g. ``1st half``."""
        return _PERIOD_LABELS[self]


_PERIOD_LABELS: Final = {
    Period.FULL_GAME: "full game",
    Period.FIRST_HALF: "1st half",
    Period.SECOND_HALF: "2nd half",
    Period.FIRST_QUARTER: "1st quarter",
    Period.SECOND_QUARTER: "2nd quarter",
    Period.THIRD_QUARTER: "3rd quarter",
    Period.FOURTH_QUARTER: "4th quarter",
    Period.FIRST_PERIOD: "1st period",
    Period.SECOND_PERIOD: "2nd period",
    Period.THIRD_PERIOD: "3rd period",
    Period.FIRST_FIVE_INNINGS: "first 5 innings",
    Period.FIRST_SET: "1st set",
    Period.SECOND_SET: "2nd set",
}


def normalize_line(line: float) -> float:
    """Return a line fit to be part of a key: finite, rounded to 1/100, never -0.0.

    Providers send lines as text or floats ("-3.5", 224.50000001); rounding makes the same
    line from two providers compare equal, and adding 0.0 turns -0.0 into 0.0.
    """
    if not math.isfinite(line):
        raise InvalidMarketError(f"a line must be a finite number, got {line!r}")
    return round(line, 2) + 0.0


class MarketKey(NamedTuple):
    """The identity of one market; a row of the price matrix.

    A NamedTuple, not a dataclass, because it is hashed once per price update and tuple
    hashing runs in C.
    """

    event_id: str
    kind: MarketKind
    period: Period = Period.FULL_GAME
    #: Spread: the home side's handicap. Total and prop: the points. Moneyline: 0.
    line: float = 0.0
    #: Player props only.
    player: str = ""
    #: Player props only: the statistic, e.g. "points".
    stat: str = ""

    @property
    def outcome_count(self) -> int:
        """How many outcomes this market has (2 or 3)."""
        return self.kind.outcome_count

    def label(self) -> str:
        """The market as a bettor reads it: ``Spread -3.5``, ``Total 224.5 · 1st half``."""
        if self.kind is MarketKind.SPREAD:
            text = f"Spread {format_line(self.line)}"
        elif self.kind is MarketKind.TOTAL:
            text = f"Total {self.line:g}"
        elif self.kind is MarketKind.PLAYER_PROP:
            text = f"{self.player} {self.stat} {self.line:g}"
        else:
            text = self.kind.label
        if self.period is not Period.FULL_GAME:
            text += f" · {self.period.label}"
        return text


def moneyline(
    event_id: str, *, three_way: bool = False, period: Period = Period.FULL_GAME
) -> MarketKey:
    """The moneyline market of an event; ``three_way`` adds the draw."""
    kind = MarketKind.MONEYLINE_3WAY if three_way else MarketKind.MONEYLINE
    return MarketKey(event_id, kind, period)


def spread(
    event_id: str, side: int, side_line: float, *, period: Period = Period.FULL_GAME
) -> tuple[MarketKey, int]:
    """The spread market and outcome slot of one side's handicap.

    A book quoting the away side at +3.5 and one quoting the home side at -3.5 both land
    on the market keyed by the home line -3.5.
    """
    if side not in (HOME, AWAY):
        raise InvalidMarketError(f"a spread side is HOME ({HOME}) or AWAY ({AWAY}), got {side}")
    home_line = side_line if side == HOME else -side_line
    return MarketKey(event_id, MarketKind.SPREAD, period, normalize_line(home_line)), side


def total(event_id: str, points: float, *, period: Period = Period.FULL_GAME) -> MarketKey:
    """The over/under market on ``points``."""
    return MarketKey(event_id, MarketKind.TOTAL, period, normalize_line(points))


def player_prop(
    event_id: str, player: str, stat: str, line: float, *, period: Period = Period.FULL_GAME
) -> MarketKey:
    """A player's over/under market on one statistic at one line."""
    if not player or not stat:
        raise InvalidMarketError("a player prop needs a player and a statistic")
    return MarketKey(event_id, MarketKind.PLAYER_PROP, period, normalize_line(line), player, stat)


def format_line(line: float) -> str:
    """A handicap with its sign: ``-3.5``, ``+3.5``, ``0``."""
    return f"{line:+g}" if line else "0"


def normalize_sport(name: str) -> str:
    """A sport's name as a key: ``"nba "`` -> ``"NBA"``."""
    return name.strip().upper()


@dataclass(frozen=True, slots=True)
class Event:
    """A game: who plays whom, in which sport, and when (epoch seconds, UTC).

    ``url`` is the provider's page for the game, when it gives one (alerts link to it).
    """

    event_id: str
    sport: str
    home: str
    away: str
    starts_at: float
    url: str = ""

    @classmethod
    def unknown(cls, event_id: str) -> Event:
        """A stand-in for an event whose details have not arrived yet."""
        return cls(event_id, sport="", home="Home", away="Away", starts_at=math.nan)

    @property
    def name(self) -> str:
        """``Away @ Home``, the way North American listings write a game."""
        return f"{self.away} @ {self.home}"


def outcome_label(event: Event, market: MarketKey, slot: int) -> str:
    """Name an outcome the way a bettor would: ``Celtics``, ``Lakers +3.5``, ``Over 224.5``."""
    if not 0 <= slot < market.outcome_count:
        raise InvalidMarketError(
            f"{market.kind.label} has outcomes 0..{market.outcome_count - 1}, not {slot}"
        )
    kind = market.kind
    if kind in (MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY):
        return (event.home, event.away, "Draw")[slot]
    if kind is MarketKind.SPREAD:
        team, line = (event.home, market.line) if slot == HOME else (event.away, -market.line)
        return f"{team} {format_line(line + 0.0)}"
    side = "Over" if slot == OVER else "Under"
    if kind is MarketKind.TOTAL:
        return f"{side} {market.line:g}"
    return f"{market.player} {side} {market.line:g} {market.stat}"


class PriceUpdate(NamedTuple):
    """One bookmaker's price for one outcome of one market, as every feed emits it.

    ``price`` is decimal odds; NaN (or anything <= 1.0, such as an off-board sentinel)
    withdraws the quote. ``quoted_at`` is when the book set the price, epoch seconds UTC.
    """

    market: MarketKey
    outcome: int
    book: str
    price: float
    quoted_at: float
