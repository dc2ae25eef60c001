"""Batches merged by arrival: the frames a feed read together, as one batch for the engine."""

from __future__ import annotations

from arbwatch.core.markets import HOME, Event, PriceUpdate, moneyline
from arbwatch.core.matrix import PriceMatrix
from arbwatch.feeds.arrival import merged
from arbwatch.feeds.base import FeedBatch

GAME = Event("g1", "NBA", "Lakers", "Celtics", 1_800_000_000.0)
MARKET = moneyline("g1")


def batch(at: float, *prices: float, events: tuple[Event, ...] = ()) -> FeedBatch:
    """A batch of Pinnacle's home prices, one update a price, quoted at ``at``."""
    updates = tuple(PriceUpdate(MARKET, HOME, "Pinnacle", p, at) for p in prices)
    return FeedBatch("rundown", at, events, updates)


def test_one_batch_is_handed_on_as_it_is() -> None:
    only = batch(1.0, 2.1)
    assert merged([only]) is only


def test_batches_merge_in_order_and_are_as_recent_as_the_last() -> None:
    parts = [batch(1.0, 2.1, events=(GAME,)), batch(2.0, 2.2, 2.3), batch(3.0)]
    whole = merged(parts)
    assert whole.feed == "rundown"
    assert whole.received_at == 3.0
    assert whole.events == (GAME,)
    assert [update.price for update in whole.updates] == [2.1, 2.2, 2.3]


def test_the_engine_keeps_the_last_price_of_a_cell_merged_twice() -> None:
    matrix = PriceMatrix()
    matrix.set_event(GAME)
    matrix.apply(merged([batch(1.0, 2.1), batch(2.0, 2.4)]).updates)
    block = matrix.block(matrix.take_dirty())
    assert 2.4 in block.prices
    assert 2.1 not in block.prices
