"""The price matrix: every quote of every book on every market, as numpy arrays.

    price(row, slot, column)      decimal odds
    quoted_at(row, slot, column)  when the book set that price (epoch seconds)

One row per market (`MarketKey`), one slot per outcome (3; a 2-way market leaves slot 2
empty), one column per bookmaker. A cell either holds a usable price (> 1.0) with its quote
time, or no quote: off-board sentinels, prices <= 1.0 and withdrawals are all written as
no quote, so the evaluator never sees them.

Updates are applied in batches: identities are resolved to indices with C-level lookups
(map over the dicts), then one fancy-indexed write per array. Rows touched since the last
evaluation are marked dirty. Arrays grow by doubling, so a new market or book costs
amortised O(1), never a copy per update.

A daemon runs for weeks while games end and lines move, and every line is a market of its
own: `retire` frees the rows of markets with no recent quote (games over, lines moved
away) for new markets to reuse, and forgets events nothing refers to any more, so memory
follows the live board rather than everything ever quoted.

Inside, the arrays are stored book-major, (books, markets, outcomes), and "no quote" is a
price of 0.0 with a NaN time. Both choices are for the evaluator, measured on 2,000 events x
3 markets x 30 books: the best price per outcome is a max over books, which numpy does ~10x
faster over the leading axis (0.09 ms) than over a short trailing one (0.92 ms); and with
0.0 for no quote, masking unusable cells is a multiplication (0.23 ms) rather than np.where
(0.55 ms), while 0.0 can never win a max against a real price. The public `prices` view
keeps the natural (markets, outcomes, books) order with NaN for no quote.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Final, TypeVar, cast

import numpy as np
import numpy.typing as npt

from arbwatch.core.books import book_id
from arbwatch.core.markets import MAX_OUTCOMES, Event, MarketKey, PriceUpdate

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

_Scalar = TypeVar("_Scalar", bound=np.generic)
_Derived = TypeVar("_Derived")

_INITIAL_MARKETS: Final = 64
_INITIAL_BOOKS: Final = 8


@dataclass(frozen=True, slots=True)
class MatrixBlock:
    """Some rows of the matrix, cut out for evaluation, in the book-major layout.

    Cut once per batch of updates and shared by every evaluation of that batch, as are the
    arrays evaluations derive from it (`derived`).

    Attributes:
        matrix: the matrix it was cut from, for names of books, markets and events.
        rows: the matrix rows, (k,).
        prices: (books, k, outcomes); 0.0 where there is no quote.
        quoted_at: (books, k, outcomes); NaN where there is no quote.
        counts: (k,) outcomes per market (2 or 3).
        required: (k, outcomes) slots that are outcomes of their market.
    """

    matrix: PriceMatrix
    rows: IntArray
    prices: FloatArray
    quoted_at: FloatArray
    counts: npt.NDArray[np.int8]
    required: BoolArray
    _derived: dict[Hashable, object] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def empty(self) -> bool:
        """No rows, or no books quoted yet."""
        return self.prices.size == 0

    @property
    def books(self) -> tuple[str, ...]:
        """Names of the block's columns (a book that joined the matrix after the cut is not)."""
        return self.matrix.books[: self.prices.shape[0]]

    @property
    def book_ids(self) -> tuple[str, ...]:
        """The canonical ids (`book_id`) of the block's columns, in column order."""
        return self.matrix.book_ids[: self.prices.shape[0]]

    def derived(self, key: Hashable, compute: Callable[[], _Derived]) -> _Derived:
        """``compute()``, worked out once per ``key`` and block and then shared.

        The rules of one batch ask the same questions of its block (which quotes are fresh
        at this time, what each book offers after commission): an arbitrage rule and a +EV
        rule with the same quote age share those arrays rather than each building its own
        (the bench's full board, both rules: 4.97 -> 4.33 ms median). ``key`` must name
        everything ``compute`` depends on beyond the block. A computed array is made
        read-only, so one evaluation cannot change what another reads.
        """
        if key not in self._derived:
            value = compute()
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            self._derived[key] = value
        return cast(_Derived, self._derived[key])


class PriceMatrix:
    """Quotes as arrays indexed by market row, outcome slot and book column."""

    def __init__(
        self, market_capacity: int = _INITIAL_MARKETS, book_capacity: int = _INITIAL_BOOKS
    ) -> None:
        """Create an empty matrix with room for the given numbers of markets and books."""
        # Doubling from zero would stay at zero.
        market_capacity, book_capacity = max(1, market_capacity), max(1, book_capacity)
        self._prices = np.zeros((book_capacity, market_capacity, MAX_OUTCOMES))
        self._quoted_at = np.full((book_capacity, market_capacity, MAX_OUTCOMES), np.nan)
        self._outcome_counts = np.zeros(market_capacity, dtype=np.int8)
        self._dirty = np.zeros(market_capacity, dtype=bool)
        self._rows: dict[MarketKey, int] = {}
        # By row; None for a retired row waiting in _free_rows to be reused.
        self._markets: list[MarketKey | None] = []
        self._free_rows: list[int] = []
        # Kept beside the array so the per-update check needs no numpy scalar access.
        self._row_outcomes: list[int] = []
        self._columns: dict[str, int] = {}
        self._books: list[str] = []
        # Rules pick books by canonical id; kept beside the names so no batch recomputes them.
        self._book_ids: list[str] = []
        self._events: dict[str, Event] = {}

    # --- sizes and lookups -------------------------------------------------------------

    @property
    def market_count(self) -> int:
        """Markets that have a row."""
        return len(self._rows)

    @property
    def row_count(self) -> int:
        """Rows handed out so far: the markets' rows and retired rows waiting to be reused.

        Every row index is below it; retired rows hold no quote.
        """
        return len(self._markets)

    @property
    def book_count(self) -> int:
        """Books that have a column."""
        return len(self._books)

    @property
    def books(self) -> tuple[str, ...]:
        """Book names in column order."""
        return tuple(self._books)

    @property
    def book_ids(self) -> tuple[str, ...]:
        """The canonical ids (`book_id`) of the books, in column order."""
        return tuple(self._book_ids)

    def market(self, row: int) -> MarketKey:
        """The market stored in ``row``.

        Raises:
            LookupError: the row is retired (or was never handed out).
        """
        market = self._markets[row]
        if market is None:
            raise LookupError(f"row {row} holds no market: it was retired")
        return market

    def row(self, market: MarketKey) -> int | None:
        """The row of ``market``, or None if it has never been quoted or was retired."""
        return self._rows.get(market)

    def column(self, book: str) -> int | None:
        """The column of ``book``, or None if it has never quoted."""
        return self._columns.get(book)

    @property
    def prices(self) -> FloatArray:
        """A read-only copy of the prices, (rows, outcomes, books), NaN for no quote."""
        stored = np.moveaxis(self._prices[: self.book_count, : self.row_count], 0, 2)
        return _read_only(np.where(stored > 0.0, stored, np.nan))

    @property
    def quoted_at(self) -> FloatArray:
        """Quote times, (rows, outcomes, books), NaN for no quote; a read-only view."""
        stored = self._quoted_at[: self.book_count, : self.row_count]
        return _read_only(np.moveaxis(stored, 0, 2))

    @property
    def outcome_counts(self) -> npt.NDArray[np.int8]:
        """Outcomes per row (2 or 3; a retired row keeps its last market's); read-only."""
        return _read_only(self._outcome_counts[: self.row_count])

    def block(self, rows: IntArray | None = None) -> MatrixBlock:
        """Cut ``rows`` (default: all, as views with no copy) out for evaluation."""
        books, markets = self.book_count, self.row_count
        if rows is None:
            rows = np.arange(markets)
            prices = self._prices[:books, :markets]
            quoted_at = self._quoted_at[:books, :markets]
            counts = self._outcome_counts[:markets]
        else:
            # np.take returns a C-contiguous copy; fancy indexing after a slice would lay the
            # result out row-major underneath, making every max over books ~30x slower.
            prices = np.take(self._prices[:books], rows, axis=1)
            quoted_at = np.take(self._quoted_at[:books], rows, axis=1)
            counts = self._outcome_counts[rows]
        required = np.arange(MAX_OUTCOMES)[np.newaxis, :] < counts[:, np.newaxis]
        return MatrixBlock(self, rows, prices, quoted_at, counts, required)

    # --- events ------------------------------------------------------------------------

    def set_event(self, event: Event) -> None:
        """Record or replace what is known about an event (teams, sport, start)."""
        self._events[event.event_id] = event

    def event(self, event_id: str) -> Event:
        """The event's details, or a stand-in if none have arrived yet."""
        return self._events.get(event_id) or Event.unknown(event_id)

    # --- writes ------------------------------------------------------------------------

    def apply(self, updates: Iterable[PriceUpdate]) -> int:
        """Write a batch of updates and mark their rows dirty; return how many were refused.

        An update is refused when its outcome slot does not exist in its market (slot 2 of a
        2-way market, say). When one batch quotes the same cell twice, the later one wins.
        """
        batch = updates if isinstance(updates, list | tuple) else list(updates)
        if not batch:
            return 0
        # Once the board is known, every market and book already has its index: look them
        # all up with C-level zip/map rather than a Python loop over the updates (measured
        # in the bench's stream of 1,000-update batches: 0.78 -> 0.58 ms). A batch that
        # brings a new market or book takes the loop, which numbers them in order of first
        # appearance.
        markets, slots, books, prices, times = zip(*batch, strict=True)
        try:
            # A market or book with no index yet looks up as None, which np.array refuses:
            # cheaper than scanning both lists for None first (~40 µs a batch).
            row_index = np.array(list(map(self._rows.get, markets)), dtype=np.intp)
            column_index = np.array(list(map(self._columns.get, books)), dtype=np.intp)
        except TypeError:
            return self._apply_in_order(batch)
        slot_index = np.array(slots, dtype=np.intp)
        price = np.array(prices, dtype=np.float64)
        quoted = np.array(times, dtype=np.float64)
        in_market = (slot_index >= 0) & (slot_index < self._outcome_counts[row_index])
        refused = len(batch) - int(np.count_nonzero(in_market))
        if refused:
            row_index, slot_index, column_index = (
                row_index[in_market],
                slot_index[in_market],
                column_index[in_market],
            )
            price, quoted = price[in_market], quoted[in_market]
        if len(row_index):
            self._write(row_index, slot_index, column_index, price, quoted)
        return refused

    def _apply_in_order(self, updates: list[PriceUpdate] | tuple[PriceUpdate, ...]) -> int:
        """`apply` one update after another, giving new markets and books their indices."""
        rows: list[int] = []
        slots: list[int] = []
        columns: list[int] = []
        prices: list[float] = []
        times: list[float] = []
        refused = 0
        row_of, column_of, outcomes = self._rows, self._columns, self._row_outcomes
        for market, slot, book, price, quoted_at in updates:
            row = row_of.get(market)
            if row is None:
                # Checked before the row exists, so a refused update leaves no empty row.
                if not 0 <= slot < market.outcome_count:
                    refused += 1
                    continue
                row = self._add_market(market)
            elif not 0 <= slot < outcomes[row]:
                refused += 1
                continue
            column = column_of.get(book)
            if column is None:
                column = self._add_book(book)
            rows.append(row)
            slots.append(slot)
            columns.append(column)
            prices.append(price)
            times.append(quoted_at)
        if rows:
            self._write(
                np.array(rows, dtype=np.intp),
                np.array(slots, dtype=np.intp),
                np.array(columns, dtype=np.intp),
                np.array(prices, dtype=np.float64),
                np.array(times, dtype=np.float64),
            )
        return refused

    def _write(
        self,
        rows: IntArray,
        slots: IntArray,
        columns: IntArray,
        price: FloatArray,
        quoted: FloatArray,
    ) -> None:
        """Write resolved cells with one flat fancy-indexed assignment per array.

        ``price`` and ``quoted`` are the caller's fresh arrays, changed in place.
        """
        height = self._prices.shape[1]
        flat = (columns * height + rows) * MAX_OUTCOMES + slots
        if len(flat) > 1:
            # numpy does not promise which of several writes to one cell wins, so keep only
            # the last update per cell. A stable sort keeps a cell's updates in batch order,
            # so the last of each run of equal cells is the one to keep.
            order = np.argsort(flat, kind="stable")
            ordered = flat[order]
            repeated = ordered[1:] == ordered[:-1]
            if repeated.any():
                keep = order[np.append(~repeated, True)]
                flat, price, quoted = flat[keep], price[keep], quoted[keep]
        # Off-board sentinels, prices <= 1.0, NaN and infinity withdraw the quote.
        unusable = ~((price > 1.0) & np.isfinite(price) & np.isfinite(quoted))
        price[unusable] = 0.0
        quoted[unusable] = np.nan
        self._prices.reshape(-1)[flat] = price
        self._quoted_at.reshape(-1)[flat] = quoted
        self._dirty[rows] = True

    def withdraw_book(self, book: str, markets: Iterable[MarketKey]) -> None:
        """Withdraw every quote of ``book`` on ``markets`` (e.g. the book left the board)."""
        column = self._columns.get(book)
        if column is None:
            return
        rows = np.array([r for m in markets if (r := self._rows.get(m)) is not None], dtype=np.intp)
        if len(rows):
            self._prices[column, rows] = 0.0
            self._quoted_at[column, rows] = np.nan
            self._dirty[rows] = True

    def touch(self, markets: Iterable[MarketKey]) -> None:
        """Mark ``markets`` for evaluation though no price changed (a feed came back)."""
        rows = [r for m in markets if (r := self._rows.get(m)) is not None]
        self._dirty[np.array(rows, dtype=np.intp)] = True

    def take_dirty(self) -> IntArray:
        """Return the rows written since the last call, and mark them clean."""
        rows = np.flatnonzero(self._dirty[: self.row_count])
        self._dirty[rows] = False
        return rows

    # --- growth ------------------------------------------------------------------------

    def _add_market(self, market: MarketKey) -> int:
        """Give ``market`` a retired row, or the next one, doubling the arrays when full."""
        if self._free_rows:
            row = self._free_rows.pop()
            self._markets[row] = market
            self._row_outcomes[row] = market.outcome_count
        else:
            row = len(self._markets)
            if row == self._prices.shape[1]:
                self._grow(books=self._prices.shape[0], markets=2 * row)
            self._markets.append(market)
            self._row_outcomes.append(market.outcome_count)
        self._rows[market] = row
        self._outcome_counts[row] = market.outcome_count
        return row

    # --- retirement --------------------------------------------------------------------

    def retire(self, before: float, *, events_before: float | None = None) -> int:
        """Retire every market none of whose quotes was set at or after ``before``.

        Such a market's row holds no quote at all (withdrawn: the game is over, the line
        moved) or only quotes older than ``before``. Pass a time no later than now minus the
        largest quote age any rule accepts, and nothing a rule could use is lost. A retired
        market's quotes are cleared and its row waits for the next new market; if its own
        prices come back it simply gets a row again. Rows written since the last
        `take_dirty` are left for a later call: their change has not been evaluated yet.

        With ``events_before``, events that no market refers to any more and that started
        before it are forgotten too. Feeds send an event's details when they first see it,
        not with every price, so pick a time by which any event is surely over.

        Returns:
            How many markets were retired.
        """
        rows = self.row_count
        retired = np.empty(0, dtype=np.intp)
        # Every market was made by an update from some book, so rows imply a column.
        if rows:
            live = np.ones(rows, dtype=bool)
            live[self._free_rows] = False
            times = self._quoted_at[: self.book_count, :rows]
            # fmax skips NaN (no quote); a row with no quote at all stays NaN, never >= before.
            # Over books first (the leading axis), then slot by slot: 3 ms on 60,000 rows x
            # 30 books, where reducing the short slot axis first took 83 ms.
            newest = reduce_slots(np.fmax, np.fmax.reduce(times, axis=0))
            retired = np.flatnonzero(live & ~(newest >= before) & ~self._dirty[:rows])
        if len(retired):
            self._prices[:, retired] = 0.0
            self._quoted_at[:, retired] = np.nan
            for row in retired.tolist():
                market = self._markets[row]
                assert market is not None  # only live rows were picked
                del self._rows[market]
                self._markets[row] = None
            # Reused lowest row first (pop takes from the end): new markets fill the front.
            self._free_rows = sorted({*self._free_rows, *retired.tolist()}, reverse=True)
        if events_before is not None:
            self._forget_events(events_before)
        return len(retired)

    def _forget_events(self, before: float) -> None:
        """Drop the details of events with no market left that started before ``before``."""
        referred = {market.event_id for market in self._rows}
        for event_id, event in list(self._events.items()):
            if event_id not in referred and event.starts_at < before:
                del self._events[event_id]

    def _add_book(self, book: str) -> int:
        """Give ``book`` the next column, doubling the arrays when they are full."""
        column = len(self._books)
        if column == self._prices.shape[0]:
            self._grow(books=2 * column, markets=self._prices.shape[1])
        self._columns[book] = column
        self._books.append(book)
        self._book_ids.append(book_id(book))
        return column

    def _grow(self, books: int, markets: int) -> None:
        """Reallocate every array to the new capacity, copying what is there."""
        self._prices = _regrown(self._prices, books, markets, fill=0.0)
        self._quoted_at = _regrown(self._quoted_at, books, markets, fill=np.nan)
        used_rows = len(self._outcome_counts)
        counts = np.zeros(markets, dtype=np.int8)
        counts[:used_rows] = self._outcome_counts
        self._outcome_counts = counts
        dirty = np.zeros(markets, dtype=bool)
        dirty[:used_rows] = self._dirty
        self._dirty = dirty


def reduce_slots(ufunc: np.ufunc, array: npt.NDArray[_Scalar]) -> npt.NDArray[_Scalar]:
    """``ufunc.reduce(array, axis=1)`` for a (k, outcomes) array, one slot at a time.

    The same result in the same order, ((a0 ∘ a1) ∘ a2), but numpy reduces a short trailing
    axis with an inner loop per row: ~10 µs on 1,000 rows, against ~1.5 µs for two
    whole-column operations.
    """
    result = array[:, 0].copy()
    for slot in range(1, array.shape[1]):
        ufunc(result, array[:, slot], out=result)
    return result


def _regrown(array: FloatArray, books: int, markets: int, fill: float) -> FloatArray:
    """A ``fill``-filled array of the new capacity holding a copy of ``array``."""
    grown = np.full((books, markets, MAX_OUTCOMES), fill)
    grown[: array.shape[0], : array.shape[1]] = array
    return grown


def _read_only(array: npt.NDArray[_Scalar]) -> npt.NDArray[_Scalar]:
    """A view of ``array`` that refuses writes, so callers cannot bypass `apply`."""
    view = array.view()
    view.flags.writeable = False
    return view
