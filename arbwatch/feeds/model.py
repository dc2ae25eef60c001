"""What every feed's `parse()` produces: provider events and quotes, before identity.

A provider names games its own way (TheRundown by a hex event id, RapidOddsAPI by teams
and a start time), so parsing stops at the provider's view: a `ProviderEvent` and
`ParsedQuote`s that point to it by the provider's id, with sides in the provider's own
home/away orientation. `arbwatch.feeds.identity` then maps them onto the engine's events,
where one game is one event whichever provider reported it.

Prices are decimal odds > 1.0, or NaN when the book took the quote off the board (an
off-board sentinel, a closed line, a quote missing from a full snapshot). A parser never
produces anything else: a frame it cannot read raises `ParseError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from arbwatch.core.markets import MarketKind, Period
from arbwatch.errors import ArbwatchError


class ParseError(ArbwatchError):
    """A frame that does not follow the provider's protocol; the feed counts and skips it."""


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A game as one provider describes it. ``starts_at`` is epoch seconds, UTC."""

    provider: str
    provider_event_id: str
    sport: str
    home: str
    away: str
    starts_at: float


@dataclass(frozen=True, slots=True)
class ParsedQuote:
    """One book's price for one outcome, as the provider reported it.

    Attributes:
        provider_event_id: the `ProviderEvent` this quote belongs to.
        kind: the market kind.
        period: the part of the game it settles on.
        side: HOME, AWAY or DRAW; OVER or UNDER for totals and props. In the provider's
            own orientation, which identity may flip.
        line: spread: this side's own handicap (away +3.5); total or prop: the points;
            moneyline: 0.
        book: the bookmaker's name as arbwatch knows it (e.g. "Pinnacle").
        price: decimal odds > 1.0, or NaN for a quote taken off the board.
        quoted_at: when the book set the price, epoch seconds UTC.
        player: player props only.
        stat: player props only, e.g. "points".
    """

    provider_event_id: str
    kind: MarketKind
    period: Period
    side: int
    line: float
    book: str
    price: float
    quoted_at: float
    player: str = ""
    stat: str = ""
