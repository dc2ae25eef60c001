"""Fair probabilities from the sharp books, per market, for the +EV evaluation.

A sharp book prices a market when it quotes every outcome, each quote no older than the
maximum age. Its prices are devigged (devig.py); over several sharp books the fair
probability is their mean, or for worst_case the smallest. A market no sharp book prices
has none (NaN), and so no +EV.

`FairCache` keeps each sharp book's devigged probabilities per market between batches and
devigs again only the markets whose sharp prices changed. In a stream of updates spread
over 30 books about one dirty market in 30 has a new sharp price, while devig (worst case:
five methods, three of them iterative) is otherwise the larger part of the +EV pass.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from arbwatch.core.devig import DevigMethod, fair_probabilities
from arbwatch.core.markets import MAX_OUTCOMES
from arbwatch.core.matrix import MatrixBlock, PriceMatrix, reduce_slots
from arbwatch.errors import InvalidMarketError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
#: A cache entry: (prices devigged, probabilities, outcome counts), by matrix row.
_Entry = tuple[FloatArray, FloatArray, npt.NDArray[np.int8]]


class FairCache:
    """Devigged sharp-book probabilities per market row, kept between batches of one matrix.

    It can never serve a stale answer: each row's current sharp prices and outcome count
    are compared with those that were devigged, and a row where either differs is devigged
    again. (The count matters because a retired row is reused by another market: a 2-way
    market can follow a 3-way one whose draw was withdrawn, with equal prices.)
    """

    def __init__(self, matrix: PriceMatrix) -> None:
        """A cache for blocks cut from ``matrix`` (rows are only meaningful within it)."""
        self._matrix = matrix
        # (sharp column, method) -> prices devigged, their probabilities and the outcome
        # counts they were devigged with, by matrix row.
        self._entries: dict[tuple[int, DevigMethod], _Entry] = {}

    def devigged(self, block: MatrixBlock, column: int, method: DevigMethod) -> FloatArray:
        """The book in ``column``'s devigged prices for the block's rows, (k, outcomes).

        Quote ages are not considered here: `sharp_fair_probabilities` applies them.
        """
        if block.matrix is not self._matrix:
            raise InvalidMarketError("a FairCache serves blocks of the matrix it was made for")
        prices, rows, counts = block.prices[column], block.rows, block.counts
        inputs, outputs, input_counts = self._entry(column, method, block.matrix.row_count)
        # np.take rather than inputs[rows]: the same rows, ~3x faster for a 2-D array.
        changed = np.flatnonzero(
            reduce_slots(np.logical_or, np.take(inputs, rows, axis=0) != prices)
            | (np.take(input_counts, rows) != counts)
        )
        if len(changed):
            result = fair_probabilities(prices[changed], method, counts[changed])
            inputs[rows[changed]] = prices[changed]
            outputs[rows[changed]] = result.probabilities
            input_counts[rows[changed]] = counts[changed]
        return np.take(outputs, rows, axis=0)

    def _entry(self, column: int, method: DevigMethod, rows: int) -> _Entry:
        """The arrays for one sharp book and method, grown (by doubling) to ``rows`` rows."""
        key = (column, method)
        entry = self._entries.get(key)
        if entry is None or len(entry[0]) < rows:
            inputs, outputs, counts = entry or (_empty(), _empty(), np.empty(0, np.int8))
            capacity = max(rows, 2 * len(inputs))
            # NaN inputs never equal a price, so new rows are devigged on first sight.
            grown_counts = np.zeros(capacity, np.int8)
            grown_counts[: len(counts)] = counts
            entry = _regrown(inputs, capacity), _regrown(outputs, capacity), grown_counts
            self._entries[key] = entry
        return entry


def sharp_fair_probabilities(
    block: MatrixBlock,
    fresh: BoolArray,
    sharp_columns: list[int],
    method: DevigMethod,
    cache: FairCache | None = None,
) -> FloatArray:
    """Fair probabilities per (row, slot) from the sharp books; NaN where none prices it.

    ``fresh`` marks the block's quotes young enough to use, (books, rows, outcomes).
    """
    per_book = []
    for column in sharp_columns:
        if cache is None:
            devigged = fair_probabilities(block.prices[column], method, block.counts).probabilities
        else:
            devigged = cache.devigged(block, column, method)
        complete = reduce_slots(np.logical_and, fresh[column] | ~block.required)
        devigged[~complete] = np.nan  # a copy of the cache's rows, never the cache itself
        per_book.append(devigged)
    if len(per_book) == 1:
        return per_book[0]
    stacked = np.stack(per_book)
    if method is DevigMethod.WORST_CASE:
        least: FloatArray = np.fmin.reduce(stacked, axis=0)
        return least
    known = ~np.isnan(stacked)
    count = known.sum(axis=0)
    total = np.where(known, stacked, 0.0).sum(axis=0)
    mean: FloatArray = np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)
    return mean


def _empty() -> FloatArray:
    """No rows yet."""
    return np.empty((0, MAX_OUTCOMES))


def _regrown(array: FloatArray, capacity: int) -> FloatArray:
    """A NaN-filled array of ``capacity`` rows holding a copy of ``array``."""
    grown = np.full((capacity, MAX_OUTCOMES), np.nan)
    grown[: len(array)] = array
    return grown
