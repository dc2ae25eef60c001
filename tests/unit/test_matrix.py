"""The price matrix: batched writes, withdrawals, dirty rows, growth and read-only views."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbwatch.core.markets import (
    AWAY,
    DRAW,
    HOME,
    MAX_OUTCOMES,
    OVER,
    UNDER,
    Event,
    MarketKey,
    PriceUpdate,
    moneyline,
    player_prop,
    spread,
    total,
)
from arbwatch.core.matrix import FloatArray, PriceMatrix, reduce_slots

ML = moneyline("e1")
ML3 = moneyline("e2", three_way=True)
SPREAD = spread("e1", HOME, -3.5)[0]
TOTAL = total("e1", 224.5)
PROP = player_prop("e1", "LeBron James", "points", 27.5)
POOL = (ML, ML3, SPREAD, TOTAL, PROP)
BOOKS = ("pinnacle", "draftkings", "fanduel", "betfair")

Cell = tuple[MarketKey, int, str]


def cell(matrix: PriceMatrix, market: MarketKey, slot: int, book: str) -> tuple[float, float]:
    """The (price, quoted_at) stored for one outcome at one book."""
    row, column = matrix.row(market), matrix.column(book)
    assert row is not None
    assert column is not None
    return float(matrix.prices[row, slot, column]), float(matrix.quoted_at[row, slot, column])


def is_withdrawn(value: tuple[float, float]) -> bool:
    return math.isnan(value[0]) and math.isnan(value[1])


def usable(price: float, quoted_at: float) -> bool:
    """The documented rule: a quote is kept only with a finite price > 1.0 and a finite time."""
    return math.isfinite(price) and price > 1.0 and math.isfinite(quoted_at)


def expected_arrays(
    matrix: PriceMatrix, model: dict[Cell, tuple[float, float]]
) -> tuple[FloatArray, FloatArray]:
    """What the matrix's public views must hold, built from a plain dict of last writes."""
    shape = (matrix.row_count, MAX_OUTCOMES, matrix.book_count)
    prices, times = np.full(shape, np.nan), np.full(shape, np.nan)
    for (market, slot, book), (price, quoted_at) in model.items():
        row, column = matrix.row(market), matrix.column(book)
        assert row is not None
        assert column is not None
        if usable(price, quoted_at):
            prices[row, slot, column] = price
            times[row, slot, column] = quoted_at
    return prices, times


# --- writes ----------------------------------------------------------------------------


def test_apply_writes_price_and_time_at_row_slot_column() -> None:
    matrix = PriceMatrix()
    refused = matrix.apply(
        [
            PriceUpdate(ML, HOME, "pinnacle", 1.95, 100.0),
            PriceUpdate(ML, AWAY, "draftkings", 2.10, 101.0),
            PriceUpdate(TOTAL, UNDER, "pinnacle", 1.87, 102.0),
            PriceUpdate(ML3, DRAW, "betfair", 3.40, 103.0),
        ]
    )
    assert refused == 0
    assert matrix.market_count == 3
    assert matrix.books == ("pinnacle", "draftkings", "betfair")
    assert matrix.book_count == 3
    ml, tot, ml3 = matrix.row(ML), matrix.row(TOTAL), matrix.row(ML3)
    assert (ml, tot, ml3) == (0, 1, 2)
    assert matrix.market(1) == TOTAL
    assert (matrix.column("pinnacle"), matrix.column("draftkings")) == (0, 1)
    assert matrix.row(SPREAD) is None
    assert matrix.column("fanduel") is None

    assert matrix.prices.shape == (3, MAX_OUTCOMES, 3)
    assert matrix.prices[0, HOME, 0] == 1.95
    assert matrix.quoted_at[0, HOME, 0] == 100.0
    assert matrix.prices[0, AWAY, 1] == 2.10
    assert matrix.quoted_at[0, AWAY, 1] == 101.0
    assert matrix.prices[1, UNDER, 0] == 1.87
    assert matrix.quoted_at[1, UNDER, 0] == 102.0
    assert matrix.prices[2, DRAW, 2] == 3.40
    assert matrix.quoted_at[2, DRAW, 2] == 103.0
    # Exactly four cells hold a quote; everything else is NaN in both arrays.
    assert int(np.count_nonzero(~np.isnan(matrix.prices))) == 4
    assert int(np.count_nonzero(~np.isnan(matrix.quoted_at))) == 4
    assert matrix.outcome_counts.tolist() == [2, 2, 3]


def test_apply_accepts_any_iterable() -> None:
    matrix = PriceMatrix()
    matrix.apply(PriceUpdate(TOTAL, slot, "fanduel", 1.9, 5.0) for slot in (OVER, UNDER))
    assert cell(matrix, TOTAL, OVER, "fanduel") == (1.9, 5.0)
    assert cell(matrix, TOTAL, UNDER, "fanduel") == (1.9, 5.0)


def test_empty_batch_changes_nothing() -> None:
    matrix = PriceMatrix()
    assert matrix.apply([]) == 0
    assert matrix.market_count == 0
    assert matrix.book_count == 0
    assert matrix.prices.shape == (0, MAX_OUTCOMES, 0)
    assert len(matrix.take_dirty()) == 0


def test_later_update_to_the_same_cell_in_one_batch_wins() -> None:
    matrix = PriceMatrix()
    matrix.apply(
        [
            PriceUpdate(ML, HOME, "pinnacle", 1.90, 1.0),
            PriceUpdate(ML, HOME, "pinnacle", 1.95, 2.0),
            PriceUpdate(ML, AWAY, "pinnacle", 2.00, 2.0),
            PriceUpdate(ML, HOME, "pinnacle", 1.85, 3.0),
        ]
    )
    assert cell(matrix, ML, HOME, "pinnacle") == (1.85, 3.0)
    assert cell(matrix, ML, AWAY, "pinnacle") == (2.00, 2.0)


def test_later_withdrawal_in_one_batch_wins_over_a_price() -> None:
    matrix = PriceMatrix()
    matrix.apply(
        [
            PriceUpdate(ML, HOME, "pinnacle", 1.90, 1.0),
            PriceUpdate(ML, HOME, "pinnacle", math.nan, 2.0),
        ]
    )
    assert is_withdrawn(cell(matrix, ML, HOME, "pinnacle"))
    matrix.apply(
        [
            PriceUpdate(ML, HOME, "pinnacle", math.nan, 3.0),
            PriceUpdate(ML, HOME, "pinnacle", 1.90, 4.0),
        ]
    )
    assert cell(matrix, ML, HOME, "pinnacle") == (1.90, 4.0)


def test_thousand_random_updates_with_duplicates_last_write_wins() -> None:
    rng = random.Random(20240601)
    updates = []
    for _ in range(1000):
        market = rng.choice(POOL)
        updates.append(
            PriceUpdate(
                market,
                rng.randrange(market.outcome_count),
                rng.choice(BOOKS),
                round(rng.uniform(1.01, 15.0), 3),
                rng.uniform(0.0, 1e6),
            )
        )
    model: dict[Cell, tuple[float, float]] = {}
    for market, slot, book, price, quoted_at in updates:
        model[market, slot, book] = (price, quoted_at)
    # The test is only meaningful if the batch really writes many cells more than once.
    assert len(model) < 100

    matrix = PriceMatrix()
    assert matrix.apply(updates) == 0

    prices, times = expected_arrays(matrix, model)
    np.testing.assert_array_equal(matrix.prices, prices)
    np.testing.assert_array_equal(matrix.quoted_at, times)


# --- withdrawals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "quoted_at"),
    [
        pytest.param(1.0, 10.0, id="evens-minus-stake"),
        pytest.param(0.5, 10.0, id="below-one"),
        pytest.param(0.0, 10.0, id="zero"),
        pytest.param(-1.5, 10.0, id="negative"),
        pytest.param(math.nan, 10.0, id="nan-price"),
        pytest.param(0.0001, 10.0, id="therundown-off-board-sentinel"),
        pytest.param(2.5, math.nan, id="nan-quote-time"),
        pytest.param(2.5, math.inf, id="infinite-quote-time"),
    ],
)
def test_unusable_quote_is_stored_as_nan_in_both_arrays(price: float, quoted_at: float) -> None:
    matrix = PriceMatrix()
    matrix.apply(
        [
            PriceUpdate(ML, HOME, "draftkings", price, quoted_at),
            PriceUpdate(ML, AWAY, "draftkings", 1.8, 10.0),
        ]
    )
    assert is_withdrawn(cell(matrix, ML, HOME, "draftkings"))
    assert cell(matrix, ML, AWAY, "draftkings") == (1.8, 10.0)


def test_infinite_price_is_stored_as_nan_in_both_arrays() -> None:
    # The matrix promises a cell holds a usable price (> 1.0) or NaN; infinite odds are not
    # usable (arbitrage_stakes refuses them), and the quote time is already checked for
    # finiteness the same way.
    matrix = PriceMatrix()
    matrix.apply([PriceUpdate(ML, HOME, "draftkings", math.inf, 10.0)])
    assert is_withdrawn(cell(matrix, ML, HOME, "draftkings"))


@pytest.mark.parametrize("price", [math.nan, 1.0, 0.0001])
def test_withdrawal_of_an_existing_quote(price: float) -> None:
    matrix = PriceMatrix()
    matrix.apply(
        [
            PriceUpdate(ML, HOME, "draftkings", 2.2, 10.0),
            PriceUpdate(ML, AWAY, "draftkings", 1.7, 10.0),
        ]
    )
    matrix.take_dirty()
    assert cell(matrix, ML, HOME, "draftkings") == (2.2, 10.0)

    matrix.apply([PriceUpdate(ML, HOME, "draftkings", price, 20.0)])

    assert is_withdrawn(cell(matrix, ML, HOME, "draftkings"))
    assert cell(matrix, ML, AWAY, "draftkings") == (1.7, 10.0)
    assert matrix.take_dirty().tolist() == [matrix.row(ML)]


# --- refused slots ---------------------------------------------------------------------


def test_slot_past_the_outcome_count_is_refused_and_the_rest_applies() -> None:
    matrix = PriceMatrix()
    refused = matrix.apply(
        [
            PriceUpdate(ML, HOME, "pinnacle", 1.9, 1.0),
            PriceUpdate(ML, DRAW, "pinnacle", 3.5, 1.0),
            PriceUpdate(ML, AWAY, "pinnacle", 2.0, 1.0),
            PriceUpdate(TOTAL, DRAW, "fanduel", 3.0, 1.0),
            PriceUpdate(ML3, DRAW, "pinnacle", 3.6, 1.0),
            PriceUpdate(ML, -1, "pinnacle", 2.5, 1.0),
            PriceUpdate(ML3, 3, "pinnacle", 2.5, 1.0),
        ]
    )
    assert refused == 4
    assert cell(matrix, ML, HOME, "pinnacle") == (1.9, 1.0)
    assert cell(matrix, ML, AWAY, "pinnacle") == (2.0, 1.0)
    assert is_withdrawn(cell(matrix, ML, DRAW, "pinnacle"))
    assert cell(matrix, ML3, DRAW, "pinnacle") == (3.6, 1.0)
    # A book seen only in refused updates gets no column.
    assert matrix.column("fanduel") is None
    assert matrix.books == ("pinnacle",)
    row = matrix.row(ML)
    assert row is not None
    assert np.isnan(matrix.prices[row, DRAW]).all()


def test_refused_update_marks_nothing_dirty() -> None:
    matrix = PriceMatrix()
    assert matrix.apply([PriceUpdate(ML, DRAW, "pinnacle", 3.5, 1.0)]) == 1
    assert len(matrix.take_dirty()) == 0
    assert matrix.book_count == 0


# --- dirty rows ------------------------------------------------------------------------


def test_take_dirty_returns_rows_touched_since_last_call() -> None:
    matrix = PriceMatrix()
    matrix.apply(
        [
            PriceUpdate(ML, HOME, "pinnacle", 1.9, 1.0),
            PriceUpdate(TOTAL, OVER, "pinnacle", 1.9, 1.0),
            PriceUpdate(SPREAD, AWAY, "pinnacle", 1.9, 1.0),
        ]
    )
    first = matrix.take_dirty()
    assert first.dtype == np.intp
    assert first.tolist() == [0, 1, 2]
    assert len(matrix.take_dirty()) == 0

    matrix.apply([PriceUpdate(SPREAD, HOME, "fanduel", 2.0, 2.0)])
    matrix.apply([PriceUpdate(ML, AWAY, "fanduel", math.nan, 2.0)])  # a withdrawal touches too
    assert sorted(matrix.take_dirty().tolist()) == [matrix.row(ML), matrix.row(SPREAD)]
    assert len(matrix.take_dirty()) == 0

    matrix.apply([PriceUpdate(PROP, UNDER, "fanduel", 1.8, 3.0)])
    assert matrix.take_dirty().tolist() == [matrix.row(PROP)]


# --- growth ----------------------------------------------------------------------------


def growth_price(market_index: int, book_index: int) -> float:
    return 1.5 + market_index / 100 + book_index / 10_000


def test_growth_by_doubling_keeps_every_price() -> None:
    matrix = PriceMatrix(2, 2)
    markets = [total("growth", 100.5 + i) for i in range(100)]
    books = [f"book{j:02d}" for j in range(40)]
    # Markets and books arrive over many batches, so the arrays grow while holding prices.
    for i, market in enumerate(markets):
        batch = [
            PriceUpdate(market, slot, books[j], growth_price(i, j), float(i * 1000 + j))
            for j in range(min(i + 1, len(books)))
            for slot in (OVER, UNDER)
        ]
        assert matrix.apply(batch) == 0

    assert matrix.market_count == 100
    assert matrix.book_count == 40
    assert matrix.books == tuple(books)
    prices, times = matrix.prices, matrix.quoted_at
    for i, market in enumerate(markets):
        row = matrix.row(market)
        assert row == i
        for j, book in enumerate(books):
            column = matrix.column(book)
            assert column == j
            quoted = j <= i
            for slot in (OVER, UNDER):
                price, quoted_at = float(prices[i, slot, j]), float(times[i, slot, j])
                if quoted:
                    assert price == growth_price(i, j)
                    assert quoted_at == float(i * 1000 + j)
                else:
                    assert math.isnan(price)
                    assert math.isnan(quoted_at)
            assert math.isnan(prices[i, DRAW, j])
    assert matrix.outcome_counts.tolist() == [2] * 100

    # Reading the private arrays is acceptable here and only here: capacity is not public,
    # and the point is that it doubled from (2, 2) rather than growing per update. The axis
    # order is an internal layout choice, so only the set of dimensions is checked: markets
    # 2 -> 4 -> ... -> 128 (the first doubling >= 100), books 2 -> ... -> 64 (>= 40).
    assert sorted(matrix._prices.shape) == sorted((MAX_OUTCOMES, 128, 64))
    assert matrix._quoted_at.shape == matrix._prices.shape


def test_growth_in_the_middle_of_one_batch() -> None:
    matrix = PriceMatrix(2, 2)
    batch = [
        PriceUpdate(total("g", 10.5 + i), OVER, f"b{j}", 1.01 + i + j / 100, float(i + j))
        for i in range(9)
        for j in range(5)
    ]
    assert matrix.apply(batch) == 0
    for i in range(9):
        for j in range(5):
            assert cell(matrix, total("g", 10.5 + i), OVER, f"b{j}") == (
                1.01 + i + j / 100,
                float(i + j),
            )
    assert sorted(matrix.take_dirty().tolist()) == list(range(9))


# --- views -----------------------------------------------------------------------------


def test_public_views_are_read_only() -> None:
    matrix = PriceMatrix()
    matrix.apply([PriceUpdate(ML, HOME, "pinnacle", 1.9, 1.0)])
    with pytest.raises(ValueError, match="read-only"):
        matrix.prices[0, HOME, 0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        matrix.quoted_at[0, HOME, 0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        matrix.outcome_counts[0] = 3
    assert cell(matrix, ML, HOME, "pinnacle") == (1.9, 1.0)
    assert matrix.outcome_counts.tolist() == [2]


# --- books and events ------------------------------------------------------------------


def test_withdraw_book() -> None:
    matrix = PriceMatrix()
    matrix.apply(
        [
            PriceUpdate(market, slot, book, 1.9, 1.0)
            for market in (ML, TOTAL, SPREAD)
            for slot in (0, 1)
            for book in ("pinnacle", "fanduel")
        ]
    )
    matrix.take_dirty()

    unknown = total("never-quoted", 1.5)
    matrix.withdraw_book("fanduel", [ML, TOTAL, unknown])

    for market in (ML, TOTAL):
        for slot in (0, 1):
            assert is_withdrawn(cell(matrix, market, slot, "fanduel"))
            assert cell(matrix, market, slot, "pinnacle") == (1.9, 1.0)
    for slot in (0, 1):
        assert cell(matrix, SPREAD, slot, "fanduel") == (1.9, 1.0)
    assert set(matrix.take_dirty().tolist()) == {matrix.row(ML), matrix.row(TOTAL)}
    assert matrix.row(unknown) is None


def test_withdraw_unknown_book_or_no_markets_is_a_no_op() -> None:
    matrix = PriceMatrix()
    matrix.apply([PriceUpdate(ML, HOME, "pinnacle", 1.9, 1.0)])
    matrix.take_dirty()
    matrix.withdraw_book("nobody", [ML])
    matrix.withdraw_book("pinnacle", [])
    assert cell(matrix, ML, HOME, "pinnacle") == (1.9, 1.0)
    assert len(matrix.take_dirty()) == 0
    assert matrix.column("nobody") is None


def test_event_stand_in_until_set_then_replaced() -> None:
    matrix = PriceMatrix()
    stand_in = matrix.event("e1")
    assert stand_in.event_id == "e1"
    assert (stand_in.home, stand_in.away, stand_in.sport) == ("Home", "Away", "")
    assert math.isnan(stand_in.starts_at)

    game = Event("e1", sport="basketball", home="Celtics", away="Lakers", starts_at=1e9)
    matrix.set_event(game)
    assert matrix.event("e1") == game
    assert matrix.event("e2").home == "Home"

    moved = Event("e1", sport="basketball", home="Celtics", away="Lakers", starts_at=2e9)
    matrix.set_event(moved)
    assert matrix.event("e1").starts_at == 2e9


# --- property: the matrix is a dict of last writes -------------------------------------

# Prices a feed may send: ordinary odds, and the invalid ones that must withdraw the quote.
# Infinite prices are left to test_infinite_price_is_stored_as_nan_in_both_arrays, so that
# this property checks batching independently of that one rule.
PRICES = st.one_of(
    st.floats(min_value=1.001, max_value=100.0),
    st.sampled_from([math.nan, 1.0, 0.0001, 0.5, 0.0, -3.0]),
)
TIMES = st.one_of(st.floats(min_value=0.0, max_value=2e9), st.just(math.nan))
UPDATES = st.builds(
    PriceUpdate,
    market=st.sampled_from(POOL),
    outcome=st.integers(min_value=-1, max_value=3),
    book=st.sampled_from(BOOKS),
    price=PRICES,
    quoted_at=TIMES,
)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    batches=st.lists(st.lists(UPDATES, max_size=25), max_size=6),
    capacity=st.tuples(st.integers(1, 4), st.integers(1, 3)),
)
def test_matrix_equals_a_dict_of_last_writes(
    batches: list[list[PriceUpdate]], capacity: tuple[int, int]
) -> None:
    check_against_last_writes(PriceMatrix(*capacity), {}, batches)


@settings(derandomize=True, max_examples=100, deadline=None)
@given(batches=st.lists(st.lists(UPDATES, max_size=25), max_size=6))
def test_batches_on_a_known_board_equal_a_dict_of_last_writes(
    batches: list[list[PriceUpdate]],
) -> None:
    # Every market and book already has its index, so every batch takes apply's lookup path
    # for known indices, refused slots and repeated cells included.
    matrix = PriceMatrix()
    board = [PriceUpdate(m, HOME, b, 2.0, 1.0) for m in POOL for b in BOOKS]
    matrix.apply(board)
    matrix.take_dirty()
    model = {(u.market, u.outcome, u.book): (u.price, u.quoted_at) for u in board}
    check_against_last_writes(matrix, model, batches)


def check_against_last_writes(
    matrix: PriceMatrix,
    model: dict[Cell, tuple[float, float]],
    batches: list[list[PriceUpdate]],
) -> None:
    """Apply ``batches`` and check the matrix against ``model`` (updated too) after each."""
    for batch in batches:
        accepted = [u for u in batch if 0 <= u.outcome < u.market.outcome_count]
        assert matrix.apply(batch) == len(batch) - len(accepted)
        for update in accepted:
            model[update.market, update.outcome, update.book] = (update.price, update.quoted_at)

        touched = {matrix.row(u.market) for u in accepted}
        assert set(matrix.take_dirty().tolist()) == touched

        assert set(matrix.books) == {book for _, _, book in model}
        prices, times = expected_arrays(matrix, model)
        np.testing.assert_array_equal(matrix.prices, prices)
        np.testing.assert_array_equal(matrix.quoted_at, times)
        assert matrix.outcome_counts.tolist() == [
            matrix.market(row).outcome_count for row in range(matrix.market_count)
        ]


# --- retirement ------------------------------------------------------------------------


def quoted(matrix: PriceMatrix, market: MarketKey, at: float, book: str = "pinnacle") -> None:
    """Quote both sides of a 2-way ``market`` at ``at``, and evaluate (take the dirty rows)."""
    matrix.apply(
        [PriceUpdate(market, HOME, book, 1.9, at), PriceUpdate(market, AWAY, book, 1.9, at)]
    )
    matrix.take_dirty()


def test_a_market_with_every_quote_withdrawn_is_retired() -> None:
    matrix = PriceMatrix()
    quoted(matrix, ML, 100.0)
    quoted(matrix, TOTAL, 100.0)
    matrix.apply([PriceUpdate(ML, side, "pinnacle", math.nan, 101.0) for side in (HOME, AWAY)])
    matrix.take_dirty()

    assert matrix.retire(before=0.0) == 1
    assert matrix.row(ML) is None
    assert matrix.market_count == 1
    assert matrix.row_count == 2
    assert matrix.row(TOTAL) == 1
    with pytest.raises(LookupError, match="row 0 holds no market"):
        matrix.market(0)
    assert matrix.retire(before=0.0) == 0


def test_only_markets_with_no_quote_at_or_after_the_cutoff_are_retired() -> None:
    matrix = PriceMatrix()
    quoted(matrix, ML, 100.0)
    quoted(matrix, TOTAL, 100.0)
    # One fresh quote among stale ones keeps a market.
    matrix.apply([PriceUpdate(TOTAL, OVER, "draftkings", 1.95, 200.0)])
    matrix.take_dirty()

    assert matrix.retire(before=200.0) == 1
    assert (matrix.row(ML), matrix.row(TOTAL)) == (None, 1)
    # Every quote of a retired market is gone: nothing stale is left in its row.
    assert np.isnan(matrix.prices[0]).all()
    assert np.isnan(matrix.quoted_at[0]).all()
    assert cell(matrix, TOTAL, OVER, "draftkings") == (1.95, 200.0)
    assert cell(matrix, TOTAL, OVER, "pinnacle") == (1.9, 100.0)


def test_a_market_written_since_the_last_evaluation_is_kept_until_evaluated() -> None:
    matrix = PriceMatrix()
    matrix.apply([PriceUpdate(ML, HOME, "pinnacle", math.nan, 100.0)])
    assert matrix.retire(before=1e9) == 0
    assert matrix.row(ML) == 0
    assert matrix.take_dirty().tolist() == [0]
    assert matrix.retire(before=1e9) == 1


def test_a_retired_row_is_reused_clean_lowest_first() -> None:
    matrix = PriceMatrix()
    for market in (ML, TOTAL, SPREAD):
        quoted(matrix, market, 100.0)
    quoted(matrix, TOTAL, 300.0)
    assert matrix.retire(before=200.0) == 2  # ML (row 0) and SPREAD (row 2)

    matrix.apply([PriceUpdate(ML3, DRAW, "betfair", 3.4, 400.0)])
    assert matrix.row(ML3) == 0
    assert matrix.market(0) == ML3
    assert matrix.outcome_counts.tolist()[0] == 3
    assert matrix.take_dirty().tolist() == [0]
    # Only the new quote is in the reused row.
    assert int(np.count_nonzero(~np.isnan(matrix.prices[0]))) == 1
    assert cell(matrix, ML3, DRAW, "betfair") == (3.4, 400.0)
    # A retired market that is quoted again gets a row again: the other free one.
    quoted(matrix, ML, 500.0)
    assert matrix.row(ML) == 2
    assert matrix.row_count == 3
    assert matrix.market_count == 3


def test_a_market_made_by_a_withdrawal_alone_is_retired() -> None:
    matrix = PriceMatrix()
    assert matrix.retire(before=0.0) == 0  # an empty matrix
    # A withdrawal for a market never quoted gives it a row, but no quote.
    matrix.apply([PriceUpdate(ML, HOME, "pinnacle", math.nan, 1.0)])
    matrix.take_dirty()
    assert matrix.retire(before=0.0) == 1
    assert matrix.market_count == 0


def test_events_nothing_refers_to_are_forgotten_only_when_asked_and_old_enough() -> None:
    matrix = PriceMatrix()
    old = Event("e1", "NBA", "Celtics", "Lakers", starts_at=1_000.0)
    upcoming = Event("e9", "NBA", "Heat", "Knicks", starts_at=9_000.0)
    still_priced = Event("e2", "EPL", "Arsenal", "Chelsea", starts_at=1_000.0)
    for event in (old, upcoming, still_priced):
        matrix.set_event(event)
    quoted(matrix, ML, 100.0)  # event e1
    quoted(matrix, ML3, 5_000.0)  # event e2 (2 slots quoted; enough to keep it)

    assert matrix.retire(before=4_000.0) == 1
    assert matrix.event("e1") == old  # no events_before: events are kept
    assert matrix.retire(before=4_000.0, events_before=5_000.0) == 0
    assert matrix.event("e1").home == "Home"  # forgotten: the stand-in
    assert matrix.event("e9") == upcoming  # starts after the cutoff
    assert matrix.event("e2") == still_priced  # a market still refers to it


def test_retiring_as_lines_move_keeps_the_matrix_to_the_live_board() -> None:
    """A day of a total whose line moves every minute: each line is a market of its own."""
    matrix = PriceMatrix(4, 2)
    live_rows = []
    for minute in range(1_440):
        now = minute * 60.0
        line = total("e1", 200.5 + minute)
        quoted(matrix, line, now)
        # The book moved its line: the old one is withdrawn.
        previous = total("e1", 200.5 + minute - 1)
        matrix.apply(
            [PriceUpdate(previous, side, "pinnacle", math.nan, now) for side in (OVER, UNDER)]
        )
        matrix.take_dirty()
        if minute % 10 == 0:
            matrix.retire(before=now - 600.0)
            live_rows.append(matrix.row_count)
    # Without retirement the matrix would hold 1,440 rows; with it, one line plus the ones
    # withdrawn since the last sweep.
    assert matrix.market_count <= 11
    assert matrix.row_count <= 16
    assert max(live_rows) <= 16
    assert matrix.row(total("e1", 200.5 + 1_439)) is not None


# --- reduce_slots ----------------------------------------------------------------------


@settings(derandomize=True, max_examples=100, deadline=None)
@given(
    values=st.lists(
        st.tuples(*[st.one_of(st.floats(-1e6, 1e6), st.just(math.nan))] * MAX_OUTCOMES),
        min_size=1,
        max_size=20,
    )
)
def test_reduce_slots_equals_the_ufunc_reduce_bit_for_bit(
    values: list[tuple[float, ...]],
) -> None:
    array = np.array(values)
    for ufunc in (np.add, np.fmin, np.maximum):
        np.testing.assert_array_equal(reduce_slots(ufunc, array), ufunc.reduce(array, axis=1))
    mask = array > 0.0
    for logical in (np.logical_or, np.logical_and):
        np.testing.assert_array_equal(reduce_slots(logical, mask), logical.reduce(mask, axis=1))


def test_block_derives_each_array_once_and_shares_it_read_only() -> None:
    matrix = PriceMatrix()
    matrix.apply([PriceUpdate(moneyline("g1"), 0, "book", 2.0, 10.0)])
    block = matrix.block()
    calls: list[str] = []

    def fresh_after(cutoff: float) -> Any:
        calls.append(f"fresh {cutoff}")
        return block.quoted_at >= cutoff

    first = block.derived(("fresh", 5.0), lambda: fresh_after(5.0))
    assert block.derived(("fresh", 5.0), lambda: fresh_after(5.0)) is first
    assert calls == ["fresh 5.0"]
    other = block.derived(("fresh", 20.0), lambda: fresh_after(20.0))
    assert calls == ["fresh 5.0", "fresh 20.0"]
    assert first[0, 0, 0]
    assert not other[0, 0, 0]
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0, 0] = False
    # A new block of the same matrix starts with nothing derived.
    matrix.block().derived(("fresh", 5.0), lambda: fresh_after(5.0))
    assert calls == ["fresh 5.0", "fresh 20.0", "fresh 5.0"]


def test_block_names_the_books_of_its_own_columns() -> None:
    matrix = PriceMatrix()
    matrix.apply([PriceUpdate(moneyline("g1"), 0, "first", 2.0, 10.0)])
    block = matrix.block()
    matrix.apply([PriceUpdate(moneyline("g1"), 1, "second", 2.0, 10.0)])
    assert block.books == ("first",)
    assert matrix.block().books == ("first", "second")
