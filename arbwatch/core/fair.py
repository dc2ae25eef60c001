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


class FairCache:
    """Devigged sharp-book probabilities per market row, kept between batches of one matrix.

    It can never serve a stale answer: each row's current sharp prices are compared with
    the prices that were devigged, and a row whose prices differ is devigged again.
    """

    def __init__(self, matrix: PriceMatrix) -> None:
        """A cache for blocks cut from ``matrix`` (rows are only meaningful within it)."""
        self._matrix = matrix
        # (sharp column, method) -> (prices devigged, their probabilities), by matrix row.
        self._entries: dict[tuple[int, DevigMethod], tuple[FloatArray, FloatArray]] = {}

    def devigged(self, block: MatrixBlock, column: int, method: DevigMethod) -> FloatArray:
        """The book in ``column``'s devigged prices for the block's rows, (k, outcomes).

        Quote ages are not considered here: `sharp_fair_probabilities` applies them.
        """
        if block.matrix is not self._matrix:
            raise InvalidMarketError("a FairCache serves blocks of the matrix it was made for")
        prices, rows = block.prices[column], block.rows
        inputs, outputs = self._entry(column, method, block.matrix.market_count)
        # np.take rather than inputs[rows]: the same rows, ~3x faster for a 2-D array.
        changed = np.flatnonzero(
            reduce_slots(np.logical_or, np.take(inputs, rows, axis=0) != prices)
        )
        if len(changed):
            result = fair_probabilities(prices[changed], method, block.counts[changed])
            inputs[rows[changed]] = prices[changed]
            outputs[rows[changed]] = result.probabilities
        return np.take(outputs, rows, axis=0)

    def _entry(
        self, column: int, method: DevigMethod, markets: int
    ) -> tuple[FloatArray, FloatArray]:
        """The arrays for one sharp book and method, grown (by doubling) to ``markets`` rows."""
        key = (column, method)
        inputs, outputs = self._entries.get(key, (_empty(), _empty()))
        if len(inputs) < markets:
            capacity = max(markets, 2 * len(inputs))
            # NaN inputs never equal a price, so new rows are devigged on first sight.
            inputs, outputs = _regrown(inputs, capacity), _regrown(outputs, capacity)
            self._entries[key] = inputs, outputs
        return inputs, outputs


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
