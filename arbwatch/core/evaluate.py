"""Find arbitrage and +EV opportunities in the price matrix, for many markets in one pass.

Arbitrage. For each outcome i take the best price o_i any allowed book offers (after its
commission: o' = 1 + (o - 1)(1 - c)). With L = Σ 1/o_i over the market's outcomes:

    L < 1   ->  arbitrage; profit = 1/L - 1; equal-payout stakes s_i = T · (1/o_i) / L

Positive EV. The sharp books' prices are devigged into fair probabilities p_i (fair.py:
averaged over the sharp books that quote the whole market, the least favourable of them
for worst_case). For each outcome, the best price o at any other allowed book has

    EV = p · o - 1      and is +EV when EV > 0;  Kelly stake = T · fraction · (b·p - q)/b

Both functions evaluate a `MatrixBlock`: the rows cut out of the matrix once per batch
(``matrix.block(matrix.take_dirty())``, or ``matrix.block()`` for every market), shared by
every rule evaluated on that batch, as are the arrays derived from it (which quotes are
fresh, what each book offers after commission) by rules that ask the same of it.

Only usable quotes count: a price > 1.0 (the matrix already stores off-board sentinels and
withdrawals as no quote) that is no older than the maximum quote age at ``now``. Time is
passed in, never read, so a replay gives the same answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from arbwatch.core.books import book_id, book_ids
from arbwatch.core.devig import DevigMethod
from arbwatch.core.fair import FairCache, sharp_fair_probabilities
from arbwatch.core.markets import Event, MarketKey, outcome_label
from arbwatch.core.matrix import MatrixBlock, reduce_slots
from arbwatch.core.stakes import StakePlan, arbitrage_stakes, kelly_fraction, kelly_stake
from arbwatch.errors import InvalidStakeError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]


# --- what is asked ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArbitrageSettings:
    """What counts as an arbitrage worth reporting, and how to stake it.

    Profits are fractions: 0.01 is 1%. ``books`` limits the legs to books the bettor can use
    (None: any) and ``excluded_books`` takes books out of that. ``commissions`` maps a
    book to its commission on winnings (exchanges). Books are named as a bettor likes:
    they are matched to the matrix's books by `book_id` ("pinnacle" is "Pinnacle").
    An arbitrage whose rounded stakes no longer lock in a profit is not reported.
    ``min_books`` is the fewest different books its legs may be at: with 2 (a rule's
    default) an arbitrage whose every best price is at one book is left out, since a book
    whose own sides add up under 100 % has almost always left one side stale (it refuses or
    voids). The engine's default, 1, leaves nothing out.
    """

    max_quote_age: float = math.inf
    min_profit: float = 0.0
    max_profit: float = math.inf
    bankroll: float = 1000.0
    stake_increment: float = 0.0
    books: frozenset[str] | None = None
    excluded_books: frozenset[str] = frozenset()
    commissions: Mapping[str, float] = field(default_factory=dict)
    min_books: int = 1

    def __post_init__(self) -> None:
        """Refuse settings that would make every answer wrong rather than fail later."""
        _check_common(self.max_quote_age, self.bankroll, self.stake_increment, self.commissions)
        _check_range("profit", self.min_profit, self.max_profit)
        if self.min_books < 1:
            raise InvalidStakeError(f"min_books must be at least 1, got {self.min_books}")


@dataclass(frozen=True, slots=True)
class EvSettings:
    """What counts as a +EV price worth reporting, and how to stake it.

    ``sharp_books`` give the fair probabilities and are never bet into themselves.
    ``books`` / ``excluded_books`` limit the books bet into, as for arbitrage (the sharp
    books still give fair prices when excluded from betting). Every book named here is
    matched by `book_id`, as for arbitrage.
    ``min_odds`` / ``max_odds`` bound the decimal price of the bet as the book quotes it
    (before any commission; EV and Kelly use the price after commission).
    """

    sharp_books: tuple[str, ...]
    devig: DevigMethod = DevigMethod.MULTIPLICATIVE
    max_quote_age: float = math.inf
    min_ev: float = 0.0
    max_ev: float = math.inf
    min_odds: float = 1.0
    max_odds: float = math.inf
    kelly_fraction: float = 0.25
    bankroll: float = 1000.0
    stake_increment: float = 0.0
    books: frozenset[str] | None = None
    excluded_books: frozenset[str] = frozenset()
    commissions: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse settings that would make every answer wrong rather than fail later."""
        _check_common(self.max_quote_age, self.bankroll, self.stake_increment, self.commissions)
        _check_range("EV", self.min_ev, self.max_ev)
        _check_range("odds", self.min_odds, self.max_odds)
        if not self.sharp_books:
            raise InvalidStakeError("+EV needs at least one sharp book to take fair prices from")
        if not 0.0 < self.kelly_fraction <= 1.0:
            raise InvalidStakeError(f"Kelly fraction must be in (0, 1], got {self.kelly_fraction}")


def _check_common(
    max_quote_age: float, bankroll: float, increment: float, commissions: Mapping[str, float]
) -> None:
    """Checks shared by both kinds of settings."""
    if not max_quote_age > 0.0:
        raise InvalidStakeError(f"maximum quote age must be positive, got {max_quote_age}")
    if not (math.isfinite(bankroll) and bankroll > 0.0):
        raise InvalidStakeError(f"bankroll must be a positive amount, got {bankroll}")
    if not (math.isfinite(increment) and increment >= 0.0):
        raise InvalidStakeError(f"stake increment must be zero or positive, got {increment}")
    for book, commission in commissions.items():
        if not 0.0 <= commission < 1.0:
            raise InvalidStakeError(f"commission of {book} must be in [0, 1), got {commission}")


def _check_range(what: str, low: float, high: float) -> None:
    """A minimum must not exceed its maximum."""
    if not low <= high:
        raise InvalidStakeError(f"minimum {what} {low} is above the maximum {what} {high}")


# --- what is found ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leg:
    """One bet of an opportunity: which outcome, where, at what price, for how much."""

    outcome: int
    label: str
    book: str
    #: Decimal odds as the book quotes them.
    price: float
    #: Decimal odds after the book's commission; equal to ``price`` for most books.
    effective_price: float
    stake: float
    quoted_at: float

    def age(self, now: float) -> float:
        """Seconds since the book set this price."""
        return now - self.quoted_at


@dataclass(frozen=True, slots=True)
class Arbitrage:
    """Prices across books that return a profit whatever the outcome."""

    event: Event
    market: MarketKey
    legs: tuple[Leg, ...]
    #: L = Σ 1/o_i over the best prices.
    implied_sum: float
    #: 1/L - 1, before rounding the stakes.
    profit: float
    plan: StakePlan
    found_at: float
    kind: Literal["arbitrage"] = "arbitrage"

    @property
    def value(self) -> float:
        """The headline figure: profit as a fraction of the total stake."""
        return self.profit

    @property
    def one_book(self) -> bool:
        """Whether every leg is at the same book (likely a stale side; see `min_books`)."""
        return len({leg.book for leg in self.legs}) == 1


@dataclass(frozen=True, slots=True)
class PositiveEv:
    """A price that beats the fair price devigged from sharp books."""

    event: Event
    market: MarketKey
    leg: Leg
    fair_probability: float
    ev: float
    #: Full Kelly share of the bankroll; the leg's stake applies the rule's fraction.
    kelly: float
    sharp_books: tuple[str, ...]
    devig: DevigMethod
    found_at: float
    kind: Literal["positive_ev"] = "positive_ev"

    @property
    def fair_price(self) -> float:
        """Decimal odds with no margin: 1 / fair probability."""
        return 1.0 / self.fair_probability

    @property
    def legs(self) -> tuple[Leg, ...]:
        """The single bet, as a one-leg tuple like an arbitrage's."""
        return (self.leg,)

    @property
    def value(self) -> float:
        """The headline figure: EV per unit staked."""
        return self.ev


Opportunity = Arbitrage | PositiveEv


# --- arbitrage -------------------------------------------------------------------------


def find_arbitrage(block: MatrixBlock, now: float, settings: ArbitrageSettings) -> list[Arbitrage]:
    """Every arbitrage among the block's markets at time ``now``."""
    matrix = block.matrix
    if block.empty:
        return []
    allowed = _allowed_books(block, settings.books, settings.excluded_books)
    offered = _offered(block, now, settings.max_quote_age, settings.commissions)
    # A slot past the market's outcome count needs no price: odds of ∞ add nothing to L.
    best = np.where(block.required, _best(offered, allowed), np.inf)
    # An outcome no book prices has best 0, so 1/0 -> ∞ makes L infinite: no arbitrage.
    inverse = np.divide(1.0, best, out=np.full(best.shape, np.inf), where=best > 0.0)
    implied_sum = reduce_slots(np.add, inverse)
    profit = 1.0 / implied_sum - 1.0
    hits = np.flatnonzero(
        (implied_sum < 1.0) & (profit >= settings.min_profit) & (profit <= settings.max_profit)
    )
    if not len(hits):
        return []
    # The offers of every hit at once, one cell per leg: hit by hit, in slot order.
    hit_of_cell, slot_of_cell = np.nonzero(block.required[hits])
    offers = _best_offers(block, offered, allowed, hits[hit_of_cell], slot_of_cell)
    found = []
    first_cell = 0
    for index, count in zip(hits.tolist(), block.counts[hits].tolist(), strict=True):
        cells = range(first_cell, first_cell + count)
        first_cell += count
        # Left out, not re-searched at the second-best books: a book whose own sides make
        # an arbitrage is the anomaly, and the rest of the market rarely makes one too.
        if len({offers.columns[cell] for cell in cells}) < settings.min_books:
            continue
        effective = [offers.effective[cell] for cell in cells]
        plan = arbitrage_stakes(effective, settings.bankroll, settings.stake_increment)
        if not plan.locks_profit:
            continue
        market = matrix.market(int(block.rows[index]))
        event = matrix.event(market.event_id)
        legs = tuple(
            offers.leg(cell, event, market, slot, stake=stake)
            for slot, (cell, stake) in enumerate(zip(cells, plan.stakes, strict=True))
        )
        found.append(
            Arbitrage(
                event=event,
                market=market,
                legs=legs,
                implied_sum=float(implied_sum[index]),
                profit=float(profit[index]),
                plan=plan,
                found_at=now,
            )
        )
    return found


# --- positive EV -----------------------------------------------------------------------


def find_positive_ev(
    block: MatrixBlock, now: float, settings: EvSettings, cache: FairCache | None = None
) -> list[PositiveEv]:
    """Every +EV price among the block's markets at time ``now``.

    One opportunity per market outcome: the allowed non-sharp book with the best price.
    A `FairCache` kept across batches of one matrix spares devigging unchanged sharp
    markets again; the answers are the same with or without it.
    """
    matrix = block.matrix
    # In the rule's order, a book named twice counting twice, as the naive engine does.
    columns = block.book_ids
    sharp_columns = [
        column
        for sharp in map(book_id, settings.sharp_books)
        for column, book in enumerate(columns)
        if book == sharp
    ]
    if block.empty or not sharp_columns:
        return []
    fresh = _fresh(block, now, settings.max_quote_age)
    fair = sharp_fair_probabilities(block, fresh, sharp_columns, settings.devig, cache)
    bettable = _allowed_books(block, settings.books, settings.excluded_books).copy()
    bettable[sharp_columns] = False
    offered = _offered(block, now, settings.max_quote_age, settings.commissions)
    if settings.min_odds > 1.0 or settings.max_odds < math.inf:
        # Bounds apply to the price as quoted; a cell outside them offers nothing (0.0).
        offered = offered * (
            (block.prices >= settings.min_odds) & (block.prices <= settings.max_odds)
        )
    best = _best(offered, bettable)
    ev = fair * best - 1.0  # NaN where there is no fair probability: every test below fails
    hit = block.required & (ev > 0.0) & (ev >= settings.min_ev) & (ev <= settings.max_ev)
    hit_index, hit_slot = np.nonzero(hit)
    if not len(hit_index):
        return []
    offers = _best_offers(block, offered, bettable, hit_index, hit_slot)
    found = []
    for cell, (row, slot, probability, value) in enumerate(
        zip(
            block.rows[hit_index].tolist(),
            hit_slot.tolist(),
            fair[hit_index, hit_slot].tolist(),
            ev[hit_index, hit_slot].tolist(),
            strict=True,
        )
    ):
        price = offers.effective[cell]
        market = matrix.market(row)
        event = matrix.event(market.event_id)
        stake = kelly_stake(
            probability,
            price,
            settings.bankroll,
            settings.kelly_fraction,
            settings.stake_increment,
        )
        found.append(
            PositiveEv(
                event=event,
                market=market,
                leg=offers.leg(cell, event, market, slot, stake=stake),
                fair_probability=probability,
                ev=value,
                kelly=kelly_fraction(probability, price),
                sharp_books=settings.sharp_books,
                devig=settings.devig,
                found_at=now,
            )
        )
    return found


# --- shared ----------------------------------------------------------------------------


def _fresh(block: MatrixBlock, now: float, max_age: float) -> BoolArray:
    """Cells holding a quote no older than ``max_age`` (no-quote times are NaN: False).

    Shared by every evaluation of the block with the same cut-off; read-only.
    """
    cutoff = now - max_age
    return block.derived(("fresh", cutoff), lambda: block.quoted_at >= cutoff)


def _offered(
    block: MatrixBlock, now: float, max_age: float, commissions: Mapping[str, float]
) -> FloatArray:
    """What every book offers a bettor, after commission; 0.0 where a quote is not fresh.

    Over every book, so that rules allowing different books share it (`_best` picks their
    columns); read-only.
    """
    kept = _kept_share(block, commissions)
    key = ("offered", now - max_age, None if kept is None else kept.tobytes())

    def compute() -> FloatArray:
        fresh = _fresh(block, now, max_age)
        if kept is None:
            return block.prices * fresh
        # o' = 1 + (o - 1)(1 - c); masked after, since a no-quote 0.0 would come out as c.
        return (1.0 + (block.prices - 1.0) * kept[:, np.newaxis, np.newaxis]) * fresh

    return block.derived(key, compute)


def _best(offered: FloatArray, allowed: BoolArray) -> FloatArray:
    """(k, outcomes): the best price among the ``allowed`` columns; 0.0 where none offers.

    A max over each run of adjacent allowed columns, as views: masking the others out
    first would copy the whole (books, k, outcomes) array for every rule.
    """
    runs = _runs(allowed)
    if not runs:
        return np.zeros(offered.shape[1:])
    start, stop = runs[0]
    best: FloatArray = offered[start:stop].max(axis=0)
    for start, stop in runs[1:]:
        np.maximum(best, offered[start:stop].max(axis=0), out=best)
    return best


@dataclass(frozen=True, slots=True)
class _Offers:
    """The best allowed offer in some cells of a block, as plain Python values.

    Worked out for all of a rule's hits in a few numpy calls, not a few per hit; with ~5
    hits a batch, the bench's stream evaluation took 1,091 -> 1,058 µs (median, in one
    process, alternating with the old code).
    """

    books: tuple[str, ...]
    #: Per cell: the offer's column, the price as the book quotes it, the price after
    #: commission, and the quote time.
    columns: list[int]
    prices: list[float]
    effective: list[float]
    quoted_at: list[float]

    def leg(self, cell: int, event: Event, market: MarketKey, slot: int, *, stake: float) -> Leg:
        """The bet on the offer in ``cell``: outcome ``slot`` of ``market``."""
        return Leg(
            outcome=slot,
            label=outcome_label(event, market, slot),
            book=self.books[self.columns[cell]],
            price=self.prices[cell],
            effective_price=self.effective[cell],
            stake=stake,
            quoted_at=self.quoted_at[cell],
        )


def _best_offers(
    block: MatrixBlock, offered: FloatArray, allowed: BoolArray, index: IntArray, slot: IntArray
) -> _Offers:
    """The best allowed offer in each cell (``index[j]``, ``slot[j]``) of the block.

    Of columns offering the same best price, the first wins, as with a max over the block.
    """
    candidates = offered[:, index, slot]  # (books, cells), a copy
    # Every offer is >= 0.0, so a column that is not allowed never wins.
    candidates[~allowed] = -1.0
    columns = candidates.argmax(axis=0)
    cells = (columns, index, slot)
    return _Offers(
        books=block.books,
        columns=columns.tolist(),
        prices=block.prices[cells].tolist(),
        effective=offered[cells].tolist(),
        quoted_at=block.quoted_at[cells].tolist(),
    )


def _runs(allowed: BoolArray) -> list[tuple[int, int]]:
    """The [start, stop) ranges of consecutive True entries of ``allowed``."""
    runs: list[tuple[int, int]] = []
    start = None
    for column, flag in enumerate([*allowed.tolist(), False]):
        if flag and start is None:
            start = column
        elif not flag and start is not None:
            runs.append((start, column))
            start = None
    return runs


def _allowed_books(
    block: MatrixBlock, books: frozenset[str] | None, excluded: frozenset[str]
) -> BoolArray:
    """(books,): the block's columns a bettor may use; shared and read-only."""

    def compute() -> BoolArray:
        wanted = None if books is None else book_ids(books)
        unwanted = book_ids(excluded)
        return np.array(
            [
                (wanted is None or book in wanted) and book not in unwanted
                for book in block.book_ids
            ],
            dtype=bool,
        )

    return block.derived(("allowed", books, excluded), compute)


def _kept_share(block: MatrixBlock, commissions: Mapping[str, float]) -> FloatArray | None:
    """Per column, the share of winnings the bettor keeps (1 - c); None when no book charges."""
    if not commissions:
        return None
    rates = {book_id(book): rate for book, rate in commissions.items()}
    columns = block.book_ids
    if not any(rates.get(book, 0.0) for book in columns):
        return None
    return np.array([1.0 - rates.get(book, 0.0) for book in columns])
