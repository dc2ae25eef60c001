"""The simulated sporting world both provider simulators render in their own wire formats.

Events (NBA, NFL, EPL) have markets whose fair probabilities drift by a seeded random walk
in log-odds. Each book prices them with its own margin and a little noise, rounded to its
own tick. Now and then a soft book is slow to follow the market (a stale price, which can
form an arbitrage or a +EV price against Pinnacle for a few steps), and now and then a book
takes a line off the board. The clock is passed in, so the same seed and the same sequence
of `World.step` times give the same prices.

Both simulators serve the same world, so the same game reaches arbwatch through both
providers, as it does in real life, and cross-provider arbitrage can be tested.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Final

from arbwatch.core.markets import AWAY, DRAW, HOME, OVER, UNDER, MarketKind

#: Sports in the world: name, TheRundown sport_id, whether games can be drawn.
SPORTS: Final = (("NBA", 4, False), ("NFL", 2, False), ("EPL", 11, True))

_TEAMS: Final = {
    "NBA": [
        "Boston Celtics",
        "Los Angeles Lakers",
        "Denver Nuggets",
        "Miami Heat",
        "Golden State Warriors",
        "Milwaukee Bucks",
        "Phoenix Suns",
        "Dallas Mavericks",
        "New York Knicks",
        "Chicago Bulls",
        "Atlanta Hawks",
        "Toronto Raptors",
    ],
    "NFL": [
        "Kansas City Chiefs",
        "Buffalo Bills",
        "Philadelphia Eagles",
        "Dallas Cowboys",
        "San Francisco 49ers",
        "Detroit Lions",
        "Baltimore Ravens",
        "Green Bay Packers",
    ],
    "EPL": [
        "Arsenal",
        "Manchester City",
        "Liverpool",
        "Chelsea",
        "Tottenham Hotspur",
        "Newcastle United",
        "Aston Villa",
        "Brighton",
    ],
}
_PLAYERS: Final = ["J. Tatum", "L. James", "N. Jokic", "S. Curry", "G. Antetokounmpo", "L. Doncic"]


@dataclass(frozen=True, slots=True)
class SimBook:
    """A bookmaker: its name, TheRundown affiliate id, margin, and price tick."""

    name: str
    affiliate_id: int
    margin: float
    #: Prices are rounded to this many decimals (decimal odds) before conversion.
    decimals: int
    sharp: bool = False


#: The books of the world. Affiliate ids follow TheRundown's current table where it has them.
BOOKS: Final = (
    SimBook("Pinnacle", 3, 0.025, 3, sharp=True),
    SimBook("DraftKings", 19, 0.045, 2),
    SimBook("FanDuel", 23, 0.045, 2),
    SimBook("BetMGM", 22, 0.05, 2),
    SimBook("Bovada", 2, 0.055, 2),
    # Not in TheRundown's documented table (where 21 is Unibet and 24 theScore Bet): ids of
    # our own, which clients learn from /api/v2/affiliates like any other.
    SimBook("Fanatics", 40, 0.05, 2),
    SimBook("Bet365", 41, 0.045, 2),
)


@dataclass(frozen=True, slots=True)
class SimMarket:
    """One market of an event, in the world's (home-first) orientation."""

    kind: MarketKind
    #: Spread: the home side's handicap. Total and prop: the points. Moneyline: 0.
    line: float = 0.0
    player: str = ""
    stat: str = ""

    @property
    def sides(self) -> tuple[int, ...]:
        """The outcome slots of this market."""
        if self.kind is MarketKind.MONEYLINE_3WAY:
            return (HOME, AWAY, DRAW)
        if self.kind in (MarketKind.TOTAL, MarketKind.PLAYER_PROP):
            return (OVER, UNDER)
        return (HOME, AWAY)


@dataclass(slots=True)
class SimEvent:
    """A game, with stable ids for both providers and its markets' fair log-odds."""

    event_id: str
    sport: str
    sport_id: int
    home: str
    away: str
    home_team_id: int
    away_team_id: int
    starts_at: float
    markets: list[SimMarket]
    #: Per market, per side: the fair log-weight (softmax gives the probabilities).
    weights: list[list[float]] = field(default_factory=list)

    def fair(self, market_index: int) -> list[float]:
        """Fair probabilities of a market's outcomes, in `SimMarket.sides` order."""
        exps = [math.exp(w) for w in self.weights[market_index]]
        total = sum(exps)
        return [e / total for e in exps]


@dataclass(frozen=True, slots=True)
class Quote:
    """One book's price for one outcome; ``price`` None means off the board."""

    event_id: str
    market_index: int
    side: int
    book: str
    price: float | None
    updated_at: float


class World:
    """Seeded events, books and prices that move when `step` is called."""

    def __init__(
        self,
        seed: int = 1,
        *,
        now: float = 1_800_000_000.0,
        events_per_sport: int = 4,
        stale_rate: float = 0.02,
        off_board_rate: float = 0.01,
        reprice_rate: float = 0.3,
        noise: float = 0.01,
        drift: float = 0.03,
    ) -> None:
        """Create the events, starting between one and 30 hours after ``now``.

        ``noise`` is the spread (standard deviation, in log-odds) of a book's own error
        around its fair price: at 0.01 two books, or even one book's two sides, now and then
        add up to an arbitrage by noise alone; at 0.004 nearly only stale prices do.
        ``drift`` is how far (standard deviation, in log-odds) each outcome's fair weight
        walks per step: the default moves markets fast, so tests see prices change quickly.
        """
        # Not for cryptography: a reproducible simulation.
        self._rng = random.Random(seed)  # noqa: S311
        self.books: tuple[SimBook, ...] = BOOKS
        self.stale_rate = stale_rate
        self.off_board_rate = off_board_rate
        self.reprice_rate = reprice_rate
        self.noise = noise
        self.drift = drift
        self._first_step = True
        self.events: list[SimEvent] = []
        self.now = now
        for sport, sport_id, draws in SPORTS:
            teams = list(_TEAMS[sport])
            self._rng.shuffle(teams)
            for number in range(min(events_per_sport, len(teams) // 2)):
                self.events.append(
                    self._new_event(
                        sport, sport_id, draws, teams[2 * number], teams[2 * number + 1]
                    )
                )
        # (event_id, market_index, side, book) -> quote; filled by the first step.
        self.quotes: dict[tuple[str, int, int, str], Quote] = {}
        # Stale quotes stay where they are for a few steps: key -> steps left.
        self._stale: dict[tuple[str, int, int, str], int] = {}
        self.step(now)

    def _new_event(self, sport: str, sport_id: int, draws: bool, home: str, away: str) -> SimEvent:
        rng = self._rng
        starts_at = self.now + rng.uniform(3600.0, 30 * 3600.0)
        markets = [SimMarket(MarketKind.MONEYLINE_3WAY if draws else MarketKind.MONEYLINE)]
        if not draws:
            spread_line = -rng.choice([1.5, 2.5, 3.5, 4.5, 6.5, 7.5])
            points = {"NBA": 224.5, "NFL": 44.5}[sport] + rng.choice([-6.0, -3.0, 0.0, 3.0])
            markets += [
                SimMarket(MarketKind.SPREAD, spread_line),
                SimMarket(MarketKind.TOTAL, points),
            ]
        else:
            markets.append(SimMarket(MarketKind.TOTAL, 2.5))
        if sport == "NBA":
            markets.append(
                SimMarket(
                    MarketKind.PLAYER_PROP,
                    rng.choice([24.5, 27.5, 29.5]),
                    rng.choice(_PLAYERS),
                    "points",
                )
            )
        event = SimEvent(
            event_id=f"{rng.getrandbits(128):032x}",
            sport=sport,
            sport_id=sport_id,
            home=home,
            away=away,
            # Unique across sports too, as TheRundown's normalized team ids are.
            home_team_id=sport_id * 1000 + _TEAMS[sport].index(home),
            away_team_id=sport_id * 1000 + _TEAMS[sport].index(away),
            starts_at=starts_at,
            markets=markets,
        )
        for market in markets:
            event.weights.append([rng.gauss(0.0, 0.5) for _ in market.sides])
        return event

    def step(self, now: float) -> list[Quote]:
        """Move every market's fair odds a little and reprice; return the quotes that changed."""
        rng, changed = self._rng, []
        self.now = now
        for event in self.events:
            for index, market in enumerate(event.markets):
                weights = event.weights[index]
                for side in range(len(weights)):
                    weights[side] += rng.gauss(0.0, self.drift)
                fair = event.fair(index)
                for book in self.books:
                    # A book reprices a market now and then, not on every tick.
                    if not self._first_step and rng.random() >= self.reprice_rate:
                        continue
                    for position, side in enumerate(market.sides):
                        key = (event.event_id, index, side, book.name)
                        quote = self._price(key, book, fair[position], now)
                        if quote is not None:
                            changed.append(quote)
        self._first_step = False
        return changed

    def _price(
        self, key: tuple[str, int, int, str], book: SimBook, fair: float, now: float
    ) -> Quote | None:
        """Reprice one outcome at one book; None when the quote did not change."""
        rng = self._rng
        left = self._stale.get(key, 0)
        if left:
            self._stale[key] = left - 1
            return None
        if not book.sharp and rng.random() < self.stale_rate:
            # A slow book: its price stays put (and a little long) while the market moves.
            self._stale[key] = rng.randint(3, 8)
            price: float | None = _round(1.0 / (fair * (1.0 + book.margin)) * 1.06, book.decimals)
        elif rng.random() < self.off_board_rate:
            price = None
        else:
            noisy = fair * (1.0 + book.margin) * math.exp(rng.gauss(0.0, self.noise))
            price = _round(1.0 / noisy, book.decimals)
        old = self.quotes.get(key)
        if old is not None and old.price == price:
            return None
        quote = Quote(*key, price=price, updated_at=now)
        self.quotes[key] = quote
        return quote

    def event(self, event_id: str) -> SimEvent:
        """The event with this id."""
        for event in self.events:
            if event.event_id == event_id:
                return event
        raise KeyError(event_id)


def _round(price: float, decimals: int) -> float:
    """A book's price rounded to its tick, never below the smallest valid price."""
    return max(round(price, decimals), 1.01)
