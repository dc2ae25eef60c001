"""The fair-probability cache gives exactly the answers of devigging afresh, batch after batch."""

import math

import numpy as np
import pytest

from arbwatch.core.devig import DevigMethod
from arbwatch.core.evaluate import (
    ArbitrageSettings,
    EvSettings,
    PositiveEv,
    find_arbitrage,
    find_positive_ev,
)
from arbwatch.core.fair import FairCache
from arbwatch.core.markets import AWAY, DRAW, HOME, Event, PriceUpdate, moneyline, total
from arbwatch.core.matrix import PriceMatrix
from arbwatch.errors import InvalidMarketError

NOW = 1_000_000.0
BOOKS = ("pinnacle", "circa", "soft1", "soft2", "soft3")


def _random_batch(rng: np.random.Generator, now: float, size: int) -> list[PriceUpdate]:
    updates = []
    for _ in range(size):
        event = f"e{rng.integers(12)}"
        if rng.random() < 0.3:
            market, slot = moneyline(event, three_way=True), int(rng.integers(3))
        elif rng.random() < 0.5:
            market, slot = moneyline(event), int(rng.integers(2))
        else:
            market, slot = total(event, 2.5), int(rng.integers(2))
        price = float(rng.uniform(1.3, 4.5)) if rng.random() > 0.05 else math.nan
        quoted_at = now - float(rng.uniform(0.0, 90.0))
        updates.append(PriceUpdate(market, slot, BOOKS[rng.integers(len(BOOKS))], price, quoted_at))
    return updates


def _assert_same(cached: list[PositiveEv], fresh: list[PositiveEv]) -> None:
    # An iterative devig may take a step more on a row that shares its batch with slower
    # rows, which moves the last bits: the same answer, to 1e-12.
    assert [(o.market, o.leg.outcome, o.leg.book) for o in cached] == [
        (o.market, o.leg.outcome, o.leg.book) for o in fresh
    ]
    for one, other in zip(cached, fresh, strict=True):
        assert one.ev == pytest.approx(other.ev, abs=1e-12)
        assert one.leg.stake == pytest.approx(other.leg.stake, abs=1e-9)


@pytest.mark.parametrize("method", list(DevigMethod))
def test_cached_and_fresh_devig_find_the_same_over_many_batches(method: DevigMethod) -> None:
    rng = np.random.default_rng(7)
    matrix = PriceMatrix(4, 2)
    for number in range(12):
        matrix.set_event(Event(f"e{number}", "EPL", f"Home {number}", f"Away {number}", NOW))
    settings = EvSettings(
        sharp_books=("pinnacle", "circa"), devig=method, max_quote_age=60.0, min_ev=0.0
    )
    cache = FairCache(matrix)
    found_any = 0
    now = NOW
    for _ in range(60):
        now += 1.0
        matrix.apply(_random_batch(rng, now, 25))
        block = matrix.block(matrix.take_dirty())
        cached = find_positive_ev(block, now, settings, cache)
        fresh = find_positive_ev(block, now, settings)
        _assert_same(cached, fresh)
        found_any += len(fresh)
        # Time passing alone (no new quotes) must age the sharp quotes out of the cache too.
        everything = matrix.block()
        later = now + 45.0
        _assert_same(
            find_positive_ev(everything, later, settings, cache),
            find_positive_ev(everything, later, settings),
        )
    assert found_any > 0  # the comparison above was not between two empty lists


def test_a_changed_sharp_price_is_devigged_again() -> None:
    matrix = PriceMatrix()
    market = moneyline("e1", three_way=True)
    matrix.apply(
        [
            PriceUpdate(market, HOME, "pinnacle", 2.0, NOW),
            PriceUpdate(market, AWAY, "pinnacle", 4.0, NOW),
            PriceUpdate(market, DRAW, "pinnacle", 3.8, NOW),
            PriceUpdate(market, HOME, "soft", 2.2, NOW),
        ]
    )
    cache = FairCache(matrix)
    settings = EvSettings(sharp_books=("pinnacle",), max_quote_age=60.0)
    first = find_positive_ev(matrix.block(), NOW, settings, cache)
    assert [o.leg.book for o in first] == ["soft"]
    # Pinnacle moves to 2.5 / 3.0 / 3.3: home is fair at about 2.59 now, so the soft 2.2 is
    # no longer +EV, and the cache must notice.
    matrix.apply(
        [
            PriceUpdate(market, HOME, "pinnacle", 2.5, NOW + 1),
            PriceUpdate(market, AWAY, "pinnacle", 3.0, NOW + 1),
            PriceUpdate(market, DRAW, "pinnacle", 3.3, NOW + 1),
        ]
    )
    assert find_positive_ev(matrix.block(), NOW + 1, settings, cache) == []


def test_a_cache_refuses_blocks_of_another_matrix() -> None:
    one, other = PriceMatrix(), PriceMatrix()
    for matrix in (one, other):
        matrix.apply([PriceUpdate(moneyline("e1"), HOME, "pinnacle", 2.0, NOW)])
    cache = FairCache(one)
    settings = EvSettings(sharp_books=("pinnacle",))
    with pytest.raises(InvalidMarketError, match="matrix it was made for"):
        find_positive_ev(other.block(), NOW, settings, cache)


def test_a_reused_row_is_devigged_for_its_new_market() -> None:
    """A 3-way market with no draw price leaves its row; a 2-way market with the same two
    sharp prices takes it. Same prices, different outcome count: the cached NaN (a 3-way
    market missing an outcome cannot be devigged) must not be served for the 2-way one."""
    matrix = PriceMatrix()
    soccer = moneyline("e1", three_way=True)
    matrix.apply(
        [
            PriceUpdate(soccer, side, "pinnacle", price, NOW)
            for side, price in ((HOME, 1.9), (AWAY, 2.1))
        ]
    )
    cache = FairCache(matrix)
    settings = EvSettings(sharp_books=("pinnacle",), max_quote_age=60.0, min_ev=0.01)
    assert find_positive_ev(matrix.block(matrix.take_dirty()), NOW, settings, cache) == []
    assert matrix.retire(before=NOW + 1) == 1

    basketball = moneyline("e2")
    later = NOW + 10
    matrix.apply(
        [
            PriceUpdate(basketball, HOME, "pinnacle", 1.9, later),
            PriceUpdate(basketball, AWAY, "pinnacle", 2.1, later),
            PriceUpdate(basketball, HOME, "soft1", 2.3, later),  # fair ~2.0: +EV
        ]
    )
    assert matrix.row(basketball) == 0  # the row the 3-way market left
    block = matrix.block(matrix.take_dirty())
    found = find_positive_ev(block, later, settings, cache)
    assert [(o.market, o.leg.book) for o in found] == [(basketball, "soft1")]
    _assert_same(found, find_positive_ev(block, later, settings))
    # The whole matrix, retired rows included, evaluates the same as the live rows alone
    # (and without a numpy warning, which the test settings turn into an error).
    _assert_same(find_positive_ev(matrix.block(), later, settings, cache), found)
    # soft1's 2.3 against Pinnacle's 2.1 is an arbitrage too, on the live market only.
    arbitrages = find_arbitrage(matrix.block(), later, ArbitrageSettings(max_quote_age=60.0))
    assert [arbitrage.market for arbitrage in arbitrages] == [basketball]
