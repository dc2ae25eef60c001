"""The pure parts of ``bench --e2e``: its settings, percentiles, memory growth, and the
bench board (quiet until an arbitrage is planted)."""

from __future__ import annotations

import math

import pytest

from arbwatch.bench.e2e_figures import MemoryFigures, percentile
from arbwatch.bench.e2e_settings import BenchSettingsError, E2eSettings, parse_rates
from arbwatch.sim.board import (
    PLANT_BOOKS,
    PLANTED_PROFIT,
    bench_world,
    board_key,
    planted_arbitrage,
    price_walk,
    restored,
)
from arbwatch.sim.world import World

NOW = 1_800_000_000.0


def test_rates_read_numbers_and_max() -> None:
    assert parse_rates("1000, 3000,MAX") == (1000, 3000, None)


@pytest.mark.parametrize("text", ["", "0", "-5", "1e3", "fast", "1000,,max"])
def test_rates_refuse_what_is_not_a_rate(text: str) -> None:
    with pytest.raises(BenchSettingsError, match="--rates: expected frames a second or max"):
        parse_rates(text)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("events", 0, "--events must be 1 or more"),
        ("books", 2, "--books 3 or more"),
        ("seconds", 0.0, "--seconds, --plant-every and --bare-seconds must be positive"),
        ("push_interval", 0.0, "--push-interval must be positive"),
        ("duration", -1.0, "--duration must be 0 or more"),
    ],
)
def test_settings_refuse_sizes_that_measure_nothing(field: str, value: float, message: str) -> None:
    with pytest.raises(BenchSettingsError, match=message):
        E2eSettings(**{field: value})  # type: ignore[arg-type]


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))


def test_memory_growth_counts_from_the_end_of_warm_up() -> None:
    memory = MemoryFigures([(0.0, 50.0), (10.0, 100.0), (20.0, 105.0), (30.0, 110.0)], 10.0)
    assert memory.growth == pytest.approx(10.0)
    assert math.isnan(MemoryFigures([(0.0, 50.0), (30.0, 60.0)], 20.0).growth)


def _best_sum(world: World, event_index: int, market_index: int) -> float:
    """1/best + 1/best over the market's two sides: under 1 is an arbitrage."""
    event = world.events[event_index]
    total = 0.0
    for side in event.markets[market_index].sides:
        prices = [
            world.quotes[(event.event_id, market_index, side, book.name)].price
            for book in world.books
        ]
        total += 1.0 / max(price for price in prices if price is not None)
    return total


def test_the_bench_board_has_every_price_and_no_arbitrage() -> None:
    world = bench_world(30, 6, seed=3, now=NOW)
    assert len(world.quotes) == 30 * 3 * 2 * 6
    assert len({event.home for event in world.events}) == 30
    for quote in price_walk(world, 2000, seed=4, now=NOW):
        world.quotes[board_key(quote.quote)] = quote.quote
        assert quote.quote.book not in {book.name for book in world.books[:PLANT_BOOKS]}
        assert quote.quote.price != quote.previous
    for event_index in range(30):
        for market_index in range(3):
            assert _best_sum(world, event_index, market_index) > 1.0


def test_a_planted_arbitrage_is_one_and_is_put_back() -> None:
    world = bench_world(5, 4, seed=3, now=NOW)
    resting = _best_sum(world, 2, 0)
    planted = planted_arbitrage(world, 2, NOW)
    for change in planted:
        world.quotes[board_key(change.quote)] = change.quote
    assert 1.0 / _best_sum(world, 2, 0) - 1.0 == pytest.approx(PLANTED_PROFIT, abs=0.01)
    back = restored(bench_world(5, 4, seed=3, now=NOW), planted, NOW)
    for change in back:
        world.quotes[board_key(change.quote)] = change.quote
    assert _best_sum(world, 2, 0) == pytest.approx(resting)
