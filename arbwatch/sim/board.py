"""A big, quiet board for the end-to-end bench: many games, many books, arbitrage only planted.

`bench_world` builds a `World` both simulators can serve: ``events`` NBA games, each with a
moneyline, a spread and a total, priced by ``books`` books named ``Book01``... with a 5 %
margin and no noise, so no arbitrage exists until one is planted. `price_walk` renders a
stream of price changes that never makes one either (a step of at most 2 % on a 5 %
margin), on every book but the first two; `planted_arbitrage` prices one game's moneyline
at those two books into a 5 % arbitrage, and `restored` puts it back. Home and away teams
are named ``Home<n>`` and ``Away<n>``, so an alert names the game it is about.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from typing import Final

from arbwatch.core.markets import AWAY, HOME, MarketKind
from arbwatch.sim.world import Quote, SimBook, SimEvent, SimMarket, World

#: TheRundown's NBA.
SPORT: Final = ("NBA", 4)
#: Every book's margin: wide enough that a 2 % step never opens an arbitrage.
MARGIN: Final = 0.05
#: The profit of a planted arbitrage.
PLANTED_PROFIT: Final = 0.05
#: Steps of the price walk, as fractions of the book's resting price.
WALK_STEPS: Final = (-0.02, -0.01, 0.01, 0.02)
#: Books the walk leaves alone: the planted arbitrage is priced at these.
PLANT_BOOKS: Final = 2
#: The game an alert is about, from its text (``Home17`` -> 17).
GAME_NUMBER: Final = re.compile(r"\bHome(\d+)\b")
MONEYLINE_INDEX: Final = 0


@dataclass(frozen=True, slots=True)
class Change:
    """One price change of the walk: the new quote and the price it replaces."""

    quote: Quote
    previous: float | None


def bench_world(events: int, books: int, *, seed: int, now: float) -> World:
    """``events`` NBA games x moneyline, spread and total x ``books`` books, priced at ``now``.

    Games start from one hour after ``now``, half a minute apart, so that every one falls
    in a client's bootstrap window of today and the next two days.
    """
    if events < 1 or books < PLANT_BOOKS:
        raise ValueError(f"a bench board needs games and {PLANT_BOOKS}+ books")
    world = World(seed, now=now, events_per_sport=0)
    rng = random.Random(seed)  # noqa: S311 - a reproducible board, not a secret
    world.books = tuple(
        SimBook(f"Book{number:02d}", 100 + number, MARGIN, 2) for number in range(1, books + 1)
    )
    name, sport_id = SPORT
    for number in range(events):
        event = SimEvent(
            event_id=f"{rng.getrandbits(128):032x}",
            sport=name,
            sport_id=sport_id,
            home=f"Home{number}",
            away=f"Away{number}",
            home_team_id=100_000 + 2 * number,
            away_team_id=100_001 + 2 * number,
            starts_at=now + 3600.0 + 30.0 * number,
            markets=[
                SimMarket(MarketKind.MONEYLINE),
                SimMarket(MarketKind.SPREAD, -rng.choice([1.5, 3.5, 5.5])),
                SimMarket(MarketKind.TOTAL, rng.choice([218.5, 224.5, 230.5])),
            ],
        )
        for market in event.markets:
            weight = rng.gauss(0.0, 0.4)
            event.weights.append([weight, -weight][: len(market.sides)])
        world.events.append(event)
        for index, market in enumerate(event.markets):
            for side, fair in zip(market.sides, event.fair(index), strict=True):
                for book in world.books:
                    key = (event.event_id, index, side, book.name)
                    world.quotes[key] = Quote(*key, price=_resting(fair), updated_at=now)
    return world


def _resting(fair: float) -> float:
    return max(round(1.0 / (fair * (1.0 + MARGIN)), 2), 1.01)


def price_walk(world: World, count: int, *, seed: int, now: float) -> list[Change]:
    """``count`` price changes on random cells of every book but the first two.

    Each changes its cell's price (one of `WALK_STEPS` from its resting price, never the
    price the walk left it at), so a client that takes it has something to apply.
    """
    rng = random.Random(seed)  # noqa: S311 - a reproducible stream, not a secret
    books = [book.name for book in world.books[PLANT_BOOKS:]]
    if not books:
        raise ValueError(f"the walk needs more than {PLANT_BOOKS} books")
    current: dict[tuple[str, int, int, str], float | None] = {}
    changes = []
    for _ in range(count):
        event = rng.choice(world.events)
        index = rng.randrange(len(event.markets))
        side = rng.choice(event.markets[index].sides)
        key = (event.event_id, index, side, rng.choice(books))
        resting = world.quotes[key].price
        assert resting is not None  # the bench board has every price
        previous = current.get(key, resting)
        price = previous
        while price == previous:
            price = max(round(resting * (1.0 + rng.choice(WALK_STEPS)), 2), 1.01)
        current[key] = price
        changes.append(Change(Quote(*key, price=price, updated_at=now), previous))
    return changes


def planted_arbitrage(world: World, number: int, now: float) -> list[Change]:
    """Game ``number``'s moneyline priced into a `PLANTED_PROFIT` arbitrage.

    Home at the first book, away at the second: 1/home + 1/away = 1 / (1 + profit).
    """
    event = world.events[number]
    fair = dict(zip(event.markets[MONEYLINE_INDEX].sides, event.fair(MONEYLINE_INDEX), strict=True))
    first, second = (book.name for book in world.books[:PLANT_BOOKS])
    changes = []
    for side, book in ((HOME, first), (AWAY, second)):
        key = (event.event_id, MONEYLINE_INDEX, side, book)
        price = round((1.0 + PLANTED_PROFIT) / fair[side], 2)
        changes.append(Change(Quote(*key, price=price, updated_at=now), world.quotes[key].price))
    return changes


def restored(world: World, planted: list[Change], now: float) -> list[Change]:
    """The changes that put a planted arbitrage's prices back where they rest."""
    return [
        Change(
            replace(
                change.quote,
                price=world.quotes[board_key(change.quote)].price,
                updated_at=now,
            ),
            change.quote.price,
        )
        for change in planted
    ]


def board_key(quote: Quote) -> tuple[str, int, int, str]:
    """Where a quote sits in `World.quotes`."""
    return (quote.event_id, quote.market_index, quote.side, quote.book)
