"""The vectorized engine and the naive pure-Python engine find exactly the same things.

Random small boards (seeded, so every run checks the same ones) with stale quotes,
withdrawals, refused updates, repeated cells, tied prices, 3-way markets, commissions, book
filters, stake rounding and every devig method; then a second batch evaluated on the dirty
rows only. Plus the naive devig against the vectorized one, and a smoke run of the bench.
"""

from __future__ import annotations

import io
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbwatch.bench.engine import EngineBenchResult, run_engine_bench
from arbwatch.bench.naive import NaiveEngine, compare_opportunities, devig, opportunity_key
from arbwatch.core.devig import DevigMethod, fair_probabilities
from arbwatch.core.evaluate import (
    ArbitrageSettings,
    EvSettings,
    Opportunity,
    find_arbitrage,
    find_positive_ev,
)
from arbwatch.core.markets import (
    Event,
    MarketKey,
    PriceUpdate,
    moneyline,
    player_prop,
    spread,
    total,
)
from arbwatch.core.matrix import PriceMatrix

DETERMINISTIC = settings(derandomize=True, max_examples=300, deadline=None, database=None)

NOW = 1_700_000_000.0
BOOKS = ("Sharp", "Sharp2", "Alpha", "Beta", "Gamma", "Delta", "Exchange")
BOARDS = 200


# --- random boards ---------------------------------------------------------------------


def random_markets(rng: random.Random) -> list[MarketKey]:
    markets = []
    for index in range(rng.randint(2, 10)):
        event_id = f"e{index}"
        kind = rng.randrange(5)
        if kind == 0:
            markets.append(moneyline(event_id))
        elif kind == 1:
            markets.append(moneyline(event_id, three_way=True))
        elif kind == 2:
            markets.append(spread(event_id, rng.randrange(2), rng.choice((-3.5, 1.5, 7.0)))[0])
        elif kind == 3:
            markets.append(total(event_id, rng.choice((2.5, 221.5))))
        else:
            markets.append(player_prop(event_id, "Jokic", "points", 26.5))
    return markets


def random_price(rng: random.Random, probability: float, margin: float) -> float:
    price = 1.0 / (probability * (1.0 + margin)) * math.exp(rng.gauss(0.0, 0.04))
    # A coarse grid makes tied best prices common, so the tie-break is exercised.
    step = rng.choice((0.05, 0.01, 0.0))
    return max(1.01, round(price / step) * step) if step else max(1.01, price)


def quote_time(rng: random.Random, now: float) -> float:
    """Mostly fresh (under 60 s), some stale."""
    return now - (rng.uniform(0.0, 55.0) if rng.random() < 0.85 else rng.uniform(65.0, 300.0))


def initial_updates(rng: random.Random, markets: list[MarketKey]) -> list[PriceUpdate]:
    books = list(BOOKS)
    rng.shuffle(books)  # the order of first quote numbers the matrix's columns
    updates = []
    for market in markets:
        weights = [rng.uniform(0.3, 1.0) for _ in range(market.outcome_count)]
        fair = [w / sum(weights) for w in weights]
        for book in books:
            if rng.random() < 0.15:
                continue
            margin = rng.uniform(-0.03, 0.08)
            for slot, probability in enumerate(fair):
                if rng.random() < 0.05:
                    continue
                price = random_price(rng, probability, margin)
                updates.append(PriceUpdate(market, slot, book, price, quote_time(rng, NOW)))
    return updates


def noise_updates(
    rng: random.Random, markets: list[MarketKey], count: int, now: float
) -> list[PriceUpdate]:
    """Re-quotes, withdrawals, refused slots and unusable times, in one batch."""
    updates = []
    for _ in range(count):
        market = rng.choice(markets)
        book = rng.choice(BOOKS)
        slot = rng.randrange(3)  # slot 2 of a 2-way market is refused
        roll = rng.random()
        if roll < 0.12:
            price = rng.choice((math.nan, 0.0, 1.0, 0.5, math.inf, -110.0))
        elif roll < 0.15:
            updates.append(PriceUpdate(market, slot, book, 2.0, math.nan))
            continue
        else:
            price = random_price(rng, rng.uniform(0.2, 0.7), rng.uniform(-0.03, 0.06))
        updates.append(PriceUpdate(market, slot, book, price, quote_time(rng, now)))
    return updates


def random_arbitrage_settings(rng: random.Random) -> ArbitrageSettings:
    books = None if rng.random() < 0.5 else frozenset(rng.sample(BOOKS, rng.randint(2, 6)))
    commissions = {}
    if rng.random() < 0.5:
        commissions = {book: rng.choice((0.0, 0.02, 0.05)) for book in rng.sample(BOOKS, 3)}
        commissions["Nowhere"] = 0.03
    return ArbitrageSettings(
        max_quote_age=rng.choice((60.0, math.inf, 10.0)),
        min_profit=rng.choice((0.0, 0.0, 0.005)),
        max_profit=rng.choice((math.inf, 0.05)),
        bankroll=rng.choice((100.0, 1000.0, 2500.0)),
        stake_increment=rng.choice((0.0, 0.0, 0.01, 1.0, 5.0, 25.0)),
        books=books,
        commissions=commissions,
    )


def random_ev_settings(rng: random.Random, method: DevigMethod) -> EvSettings:
    arbitrage = random_arbitrage_settings(rng)
    return EvSettings(
        sharp_books=rng.choice(
            (("Sharp",), ("Sharp", "Sharp2"), ("Sharp2", "Unknown"), ("Sharp", "Sharp2", "Sharp"))
        ),
        devig=method,
        max_quote_age=arbitrage.max_quote_age,
        min_ev=rng.choice((0.0, 0.0, 0.01)),
        max_ev=rng.choice((math.inf, 0.2)),
        min_odds=rng.choice((1.0, 1.0, 1.6)),
        max_odds=rng.choice((math.inf, math.inf, 4.0)),
        kelly_fraction=rng.choice((0.25, 1.0)),
        bankroll=arbitrage.bankroll,
        stake_increment=arbitrage.stake_increment,
        books=arbitrage.books,
        commissions=arbitrage.commissions,
    )


def engines(rng: random.Random, markets: list[MarketKey]) -> tuple[PriceMatrix, NaiveEngine]:
    matrix, naive = PriceMatrix(market_capacity=2, book_capacity=2), NaiveEngine()
    for market in markets:
        if rng.random() < 0.8:  # the rest are unknown events with stand-in details
            event = Event(market.event_id, "sport", "Home", "Away", NOW + 3600.0)
            matrix.set_event(event)
            naive.set_event(event)
    updates = initial_updates(rng, markets) + noise_updates(rng, markets, 20, NOW)
    assert matrix.apply(updates) == naive.apply(updates)
    return matrix, naive


def found_by_both(
    matrix: PriceMatrix,
    naive: NaiveEngine,
    now: float,
    arbitrage: ArbitrageSettings,
    positive_ev: EvSettings,
    *,
    dirty_only: bool,
) -> tuple[list[Opportunity], list[Opportunity]]:
    rows = matrix.take_dirty() if dirty_only else None
    touched = naive.take_touched() if dirty_only else None
    if rows is not None and touched is not None:
        assert {matrix.market(int(row)) for row in rows} == set(touched)
    block = matrix.block(rows)
    vectorized: list[Opportunity] = [
        *find_arbitrage(block, now, arbitrage),
        *find_positive_ev(block, now, positive_ev),
    ]
    plain: list[Opportunity] = [
        *naive.find_arbitrage(now, arbitrage, touched),
        *naive.find_positive_ev(now, positive_ev, touched),
    ]
    return vectorized, plain


def test_random_boards_agree() -> None:
    kinds = {"arbitrage": 0, "positive_ev": 0, "stake_rounded": 0, "three_way": 0, "tie": 0}
    for seed in range(BOARDS):
        rng = random.Random(seed)
        markets = random_markets(rng)
        matrix, naive = engines(rng, markets)
        for method in DevigMethod:
            arbitrage, positive_ev = random_arbitrage_settings(rng), random_ev_settings(rng, method)
            vectorized, plain = found_by_both(
                matrix, naive, NOW, arbitrage, positive_ev, dirty_only=False
            )
            assert compare_opportunities(vectorized, plain) == [], (seed, method)
            for opportunity in vectorized:
                kinds[opportunity.kind] += 1
                kinds["three_way"] += opportunity.market.outcome_count == 3
                kinds["stake_rounded"] += positive_ev.stake_increment > 0.0
        # A second batch, evaluated on the touched rows only, later on the clock.
        later = NOW + rng.uniform(0.0, 30.0)
        batch = noise_updates(rng, markets, 30, later)
        assert matrix.apply(batch) == naive.apply(batch)
        vectorized, plain = found_by_both(
            matrix,
            naive,
            later,
            random_arbitrage_settings(rng),
            random_ev_settings(rng, rng.choice(list(DevigMethod))),
            dirty_only=True,
        )
        assert compare_opportunities(vectorized, plain) == [], seed
        kinds["tie"] += _has_tied_best(matrix, vectorized)
    # The boards are busy enough that every feature is exercised, not vacuously agreed on.
    assert kinds["arbitrage"] >= 1000
    assert kinds["positive_ev"] >= 1000
    assert kinds["three_way"] >= 300
    assert kinds["stake_rounded"] >= 1000
    assert kinds["tie"] >= 10


def _has_tied_best(matrix: PriceMatrix, found: list[Opportunity]) -> bool:
    """Whether some leg's price is also offered by another book on the same outcome."""
    prices = matrix.prices
    for opportunity in found:
        row = matrix.row(opportunity.market)
        assert row is not None
        for leg in opportunity.legs:
            if np.count_nonzero(prices[row, leg.outcome] == leg.price) > 1:
                return True
    return False


def test_tie_goes_to_the_book_that_quoted_first() -> None:
    market = moneyline("g1")
    updates = [
        PriceUpdate(market, 0, "Late", 1.5, NOW),  # "Late" gets column 0 here ...
        PriceUpdate(market, 0, "Early", 2.1, NOW),
        PriceUpdate(market, 1, "Early", 2.1, NOW),
        PriceUpdate(market, 1, "Late", 2.1, NOW),
    ]
    matrix, naive = PriceMatrix(), NaiveEngine()
    matrix.apply(updates)
    naive.apply(updates)
    settings_ = ArbitrageSettings()
    vectorized = find_arbitrage(matrix.block(), NOW, settings_)
    plain = naive.find_arbitrage(NOW, settings_)
    assert compare_opportunities(vectorized, plain) == []
    # ... so it wins the tie on slot 1, in both engines.
    assert [opportunity_key(o) for o in plain] == [
        ("arbitrage", market, ((0, "Early"), (1, "Late")))
    ]


def test_a_batch_that_quotes_a_cell_twice_keeps_the_later_update() -> None:
    market = total("g1", 200.5)
    updates = [
        PriceUpdate(market, 0, "A", 2.2, NOW),
        PriceUpdate(market, 1, "B", 2.2, NOW),
        PriceUpdate(market, 0, "A", math.nan, NOW),
        PriceUpdate(market, 1, "B", 1.9, NOW),
        PriceUpdate(market, 1, "B", 2.3, NOW),
    ]
    naive = NaiveEngine()
    assert naive.apply(updates) == 0
    assert naive.quote(market, 0, "A") is None
    assert naive.quote(market, 1, "B") == (2.3, NOW)
    assert naive.take_touched() == [market]
    assert naive.take_touched() == []


def test_compare_opportunities_reports_differences() -> None:
    market = moneyline("g1")
    naive = NaiveEngine()
    naive.apply([PriceUpdate(market, 0, "A", 2.2, NOW), PriceUpdate(market, 1, "B", 2.2, NOW)])
    found = naive.find_arbitrage(NOW, ArbitrageSettings())
    other = naive.find_arbitrage(NOW, ArbitrageSettings(bankroll=500.0))
    assert compare_opportunities(found, found) == []
    assert any("stake" in p for p in compare_opportunities(found, other))
    assert compare_opportunities(found, [])[0].startswith("only in the first")


# --- devig -----------------------------------------------------------------------------


odds = st.floats(min_value=1.001, max_value=1000.0, allow_nan=False)


@DETERMINISTIC
@given(st.lists(odds, min_size=2, max_size=3))
def test_naive_devig_matches_the_vectorized_devig(prices: list[float]) -> None:
    for method in DevigMethod:
        result = fair_probabilities(np.array([prices]), method)
        plain = devig(prices, method.value)
        assert (plain is not None) == bool(result.ok[0]), (prices, method)
        if plain is not None:
            assert plain == pytest.approx(result.probabilities[0].tolist(), abs=1e-12, rel=0)


@pytest.mark.parametrize("prices", [[1.0, 2.0], [math.nan, 2.0], [math.inf, 1.5], [2.0]])
def test_naive_devig_refuses_invalid_prices(prices: list[float]) -> None:
    assert all(devig(prices, method.value) is None for method in DevigMethod)


def test_naive_devig_names_its_failures() -> None:
    assert devig([1.9, 1.9], "shin") == pytest.approx([0.5, 0.5])
    assert devig([2.1, 2.1], "shin") is None  # under-round: no insider share
    assert devig([1.4, 2.8, 80.0], "additive") is None  # the long shot goes negative
    with pytest.raises(ValueError, match="unknown devig method"):
        devig([1.9, 1.9], "median")


# --- the bench itself ------------------------------------------------------------------


def test_the_bench_runs_agrees_and_prints_every_figure() -> None:
    out = io.StringIO()
    result = run_engine_bench(events=50, books=6, batches=3, runs=3, out=out)
    report = out.getvalue()
    assert isinstance(result, EngineBenchResult)
    assert not result.mismatch, result.mismatches
    assert "MISMATCH" not in report
    assert result.vectorized_batches == result.naive_batches == 3
    assert result.markets == 150
    for label in (
        "snapshot arbitrage",
        "snapshot +EV",
        "snapshot combined",
        "naive snapshot",
        "snapshot opportunities",
        "vectorized updates/s",
        "naive updates/s",
        "speedup (b)/(c)",
        "part of it is design",
        "stream opportunities",
        "peak RSS",
        "engines agree",
    ):
        assert label in report, label
    assert report.count("PASS") + report.count("MISS") == 3
