"""What every feed's `parse()` produces: provider events and quotes, before identity.

A provider names games its own way (TheRundown by a hex event id, RapidOddsAPI by teams
and a start time), so parsing stops at the provider's view: a `ProviderEvent` and
`ParsedQuote`s that point to it by the provider's id, with sides in the provider's own
home/away orientation. `arbwatch.feeds.identity` then maps them onto the engine's events,
where one game is one event whichever provider reported it.

Prices are decimal odds > 1.0, or NaN when the book took the quote off the board (an
off-board sentinel, a closed line, a quote missing from a full snapshot). A parser never
produces anything else: a frame it cannot read raises `ParseError`.

A price can still be absurd (1e308 is a valid JSON number above 1.0), so every session
passes what its parser gives through `PriceBounds` before anything else sees it: a price
above the feed's ``max_price`` becomes a withdrawn quote (NaN), and is counted. Withdrawn
rather than skipped, so that the book's earlier, sane price does not stay on the board as
if the book still offered it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Set
from dataclasses import dataclass, replace
from typing import Final, NamedTuple

from arbwatch.core.markets import MarketKind, Period
from arbwatch.errors import ArbwatchError

#: The longest decimal odds a feed passes on by default (999/1 against). Books rarely go
#: past 500 even on outrights; above 1,000 a price is a typo, a placeholder or an attack.
DEFAULT_MAX_PRICE: Final = 1000.0
#: The name of the count of withdrawn out-of-range prices in ``FeedStats.extra``.
PRICES_OUT_OF_RANGE: Final = "prices_out_of_range"


class ParseError(ArbwatchError):
    """A frame that does not follow the provider's protocol; the feed counts and skips it."""


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A game as one provider describes it. ``starts_at`` is epoch seconds, UTC.

    ``url`` is the provider's page for the game (RapidOddsAPI's ``game_url``), or empty.
    """

    provider: str
    provider_event_id: str
    sport: str
    home: str
    away: str
    starts_at: float
    url: str = ""


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


class CellKey(NamedTuple):
    """The identity of one quoted cell: one book's price for one outcome of one market.

    Everything of a `ParsedQuote` but its price and time, so that a set of cells says what
    a book quoted and `withdrawn` can take a cell off the board. A NamedTuple, so it hashes
    in C and sorts.
    """

    provider_event_id: str
    kind: MarketKind
    period: Period
    side: int
    line: float
    player: str
    stat: str
    book: str

    def withdrawn(self, at: float) -> ParsedQuote:
        """The quote that takes this cell off the board (price NaN) at time ``at``."""
        return ParsedQuote(
            provider_event_id=self.provider_event_id,
            kind=self.kind,
            period=self.period,
            side=self.side,
            line=self.line,
            book=self.book,
            price=math.nan,
            quoted_at=at,
            player=self.player,
            stat=self.stat,
        )


def cell_key(quote: ParsedQuote) -> CellKey:
    """The cell a quote prices."""
    return CellKey(
        quote.provider_event_id,
        quote.kind,
        quote.period,
        quote.side,
        quote.line,
        quote.player,
        quote.stat,
        quote.book,
    )


def withdraw_missing(
    previous: Set[CellKey], quotes: Iterable[ParsedQuote], *, at: float
) -> tuple[tuple[ParsedQuote, ...], frozenset[CellKey]]:
    """Withdraw the cells of ``previous`` that ``quotes`` no longer price.

    For a feed whose message replaces everything quoted before in some scope (a full
    snapshot, a TheRundown V1 line frame): returns the withdrawals (price NaN, quoted at
    ``at``), sorted so that replays are identical, and the cells of ``quotes``, to pass as
    ``previous`` next time for the same scope.
    """
    if not math.isfinite(at):
        raise ValueError(f"a withdrawal time must be finite, got {at!r}")
    current = frozenset(cell_key(quote) for quote in quotes)
    gone = sorted(cell for cell in previous if cell not in current)
    return tuple(cell.withdrawn(at) for cell in gone), current


class PriceBounds:
    """The decimal range a feed accepts, (1.0, ``max_price``], and how often it refused.

    Parsers already drop prices that are not numbers above 1.0; this is the upper bound,
    which is a setting. ``refused`` counts, for the life of the feed, the quotes withdrawn
    for a price above it, and those a parser withdrew for a price that was no price
    (`count_refused`); shown in status and metrics as ``prices_out_of_range``.
    """

    __slots__ = ("max_price", "refused")

    def __init__(self, max_price: float = DEFAULT_MAX_PRICE) -> None:
        """Accept decimal prices up to ``max_price`` (finite, above 1.0)."""
        if not (math.isfinite(max_price) and max_price > 1.0):
            raise ValueError(f"max_price must be a decimal price above 1.0, got {max_price!r}")
        self.max_price = max_price
        self.refused = 0

    def count_refused(self, count: int) -> None:
        """Count ``count`` prices the parser refused as no price at all (already withdrawn)."""
        self.refused += count

    def apply(self, quotes: Iterable[ParsedQuote]) -> list[ParsedQuote]:
        """``quotes`` with every price above `max_price` withdrawn (NaN), each counted."""
        bounded = []
        for quote in quotes:
            # NaN (already withdrawn) compares False and passes as it is.
            if quote.price > self.max_price:
                self.refused += 1
                bounded.append(replace(quote, price=math.nan))
            else:
                bounded.append(quote)
        return bounded
