"""``arbwatch bench``, engine part: the vectorized engine against the naive one, on one board.

A synthetic board like a busy evening (2,000 events x moneyline, spread and total; every
tenth event a soccer game with a 3-way moneyline; 30 books with Pinnacle as the sharp one)
is priced from fair probabilities with a 2-8% margin per book and a little noise per quote,
so that a handful of arbitrages and +EV prices exist. Then:

    (a) the full snapshot is evaluated (arbitrage, and +EV devigged worst_case from
        Pinnacle) many times: median and p95 in ms;
    (b) batches of random price updates (a mean-reverting walk on the existing quotes, a
        few withdrawals) go through the daemon's own engine step (`arbwatch.core.engine`:
        apply, evaluate the touched rows under an arbitrage rule and a +EV rule, match,
        and the alert lifecycle): updates per second;
    (c) the same update stream runs through the naive pure-Python engine
        (`arbwatch.bench.naive`), with the same "apply the batch, evaluate the touched
        markets" semantics: updates per second, and the speedup. The speedup is measured
        on the same batches with the engines taking turns every 20 batches (a fresh
        matrix beside the naive engine), because this machine's speed drifts by a third
        between runs seconds apart, and a ratio of two separate phases measures the drift.
        Part of the ratio is design rather than numpy, and the report says so: the naive
        engine devigs every touched market's sharp prices, where the vectorized one keeps
        them between batches (`FairCache`) and devigs only those that changed;
    (d) peak resident memory.

Both engines' findings are compared on the snapshot and on every batch that both ran; any
difference is printed as MISMATCH and flagged in the result. Only setup uses randomness and
numpy for speed; what is timed is exactly the engine calls. The clock given to the engines is
a synthetic epoch advanced per batch, never the wall clock.
"""

from __future__ import annotations

import gc
import math
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, TextIO

import numpy as np
import numpy.typing as npt

from arbwatch.bench.naive import NaiveEngine, compare_opportunities
from arbwatch.core.devig import DevigMethod
from arbwatch.core.engine import Engine
from arbwatch.core.evaluate import (
    ArbitrageSettings,
    EvSettings,
    Opportunity,
    find_arbitrage,
    find_positive_ev,
)
from arbwatch.core.markets import (
    MAX_OUTCOMES,
    Event,
    MarketKey,
    PriceUpdate,
    moneyline,
    spread,
    total,
)
from arbwatch.core.matrix import PriceMatrix
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.core.rules import engine_settings

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Targets printed beside the figures; never asserted.
SNAPSHOT_TARGET_MS: Final = 5.0
THROUGHPUT_TARGET: Final = 300_000.0
SPEEDUP_TARGET: Final = 20.0

SHARP_BOOK: Final = "Pinnacle"
#: The synthetic "now" of the snapshot (epoch seconds); the stream advances it per batch.
EPOCH: Final = 1_700_000_000.0
#: Synthetic seconds between batches: 1,000 updates per 20 ms is a busy 50,000/s feed.
BATCH_INTERVAL: Final = 0.02
#: How long the update-stream phases run at least, in measured seconds.
MIN_STREAM_SECONDS: Final = 2.0
MIN_STREAM_BATCHES: Final = 20
#: Batches each engine runs in turn in the paired phase (c).
PAIRED_CHUNK: Final = 20
#: Stale quotes are dropped after this many seconds in both phases.
MAX_QUOTE_AGE: Final = 60.0

_BOOK_NAMES: Final = (
    SHARP_BOOK,
    "DraftKings",
    "FanDuel",
    "BetMGM",
    "Caesars",
    "BetRivers",
    "Bet365",
    "Fanatics",
    "ESPN BET",
    "Hard Rock",
    "Unibet",
    "William Hill",
    "Betway",
    "888sport",
    "Bovada",
    "BetOnline",
    "MyBookie",
    "Betfair",
    "Circa",
    "SuperBook",
    "WynnBET",
    "Betfred",
    "Ladbrokes",
    "Coral",
    "Paddy Power",
    "Sky Bet",
    "BetVictor",
    "Betsson",
    "Tipico",
    "bwin",
)
#: Margin of the sharp book; the others draw theirs from the range below.
_SHARP_MARGIN: Final = 0.025
_MARGIN_RANGE: Final = (0.02, 0.08)
#: Share of markets each soft book quotes (the sharp book quotes all).
_COVERAGE: Final = 0.9
#: Log-price noise: a lasting opinion per book and quote, and a passing one.
#: Calibrated so that the full board holds about a dozen arbitrages and +EV prices.
_BIAS_SIGMA: Final = 0.006
_NOISE_SIGMA: Final = 0.006
#: The update walk reverts this share of the way to the book's price per update, with a
#: step noise that keeps the walk's spread at the initial _NOISE_SIGMA.
_REVERSION: Final = 0.3
_STEP_SIGMA: Final = _NOISE_SIGMA * math.sqrt(1.0 - (1.0 - _REVERSION) ** 2)
_WITHDRAW_RATE: Final = 0.003


@dataclass(frozen=True, slots=True)
class EngineBenchResult:
    """The figures of one engine benchmark run; times in ms, rates in updates per second."""

    events: int
    markets: int
    books: int
    quotes: int
    seed: int
    snapshot_runs: int
    snapshot_arbitrage_ms: float
    snapshot_arbitrage_p95_ms: float
    snapshot_ev_ms: float
    snapshot_ev_p95_ms: float
    snapshot_ms: float
    snapshot_p95_ms: float
    naive_snapshot_ms: float
    snapshot_arbitrages: int
    snapshot_positive_evs: int
    batch_size: int
    vectorized_batches: int
    vectorized_seconds: float
    vectorized_updates_per_second: float
    naive_batches: int
    naive_seconds: float
    naive_updates_per_second: float
    #: The vectorized engine's time on the batches (c) ran, measured beside it.
    paired_vectorized_seconds: float
    #: Naive over vectorized median batch time on the same batches, the engines taking
    #: turns. Medians, because the first batch of each turn runs with caches the other
    #: engine has just swept and the machine has spikes; the mean ratio is kept beside it.
    speedup: float
    speedup_of_means: float
    #: Found by each engine over the batches that both ran.
    stream_arbitrages: int
    stream_positive_evs: int
    naive_stream_arbitrages: int
    naive_stream_positive_evs: int
    #: Peak RSS after the vectorized phases, and for the whole run (naive engine included).
    vectorized_peak_rss_mib: float
    peak_rss_mib: float
    #: True when the engines disagreed anywhere; ``mismatches`` says where (first 20).
    mismatch: bool
    mismatches: tuple[str, ...]

    @property
    def snapshot_target_met(self) -> bool:
        """The median full-snapshot evaluation (arbitrage + EV) is within its target."""
        return self.snapshot_ms <= SNAPSHOT_TARGET_MS

    @property
    def throughput_target_met(self) -> bool:
        """The vectorized engine keeps up with its target update rate."""
        return self.vectorized_updates_per_second >= THROUGHPUT_TARGET

    @property
    def speedup_target_met(self) -> bool:
        """The vectorized engine beats the naive one by at least the target factor."""
        return self.speedup >= SPEEDUP_TARGET


# --- the board -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Board:
    """A priced board: identities, and per cell (market, slot, book) the quotes."""

    events: list[Event]
    markets: list[MarketKey]
    books: list[str]
    #: Where each book's price rests, log decimal odds (markets, 3, books); NaN: no quote.
    home_log: FloatArray
    #: Initial prices and quote times, (markets, 3, books); NaN: no quote.
    prices: FloatArray
    quoted_at: FloatArray
    #: Flat indices of the cells that hold a quote.
    cells: IntArray

    def updates(self, chunk: int = 20_000) -> Iterator[list[PriceUpdate]]:
        """The initial board as price updates, market by market, ``chunk`` at a time.

        In chunks so that loading the board does not itself set the peak memory.
        """
        for first in range(0, len(self.cells), chunk):
            cells = self.cells[first : first + chunk]
            yield _to_updates(
                self, cells, self.prices.reshape(-1)[cells], self.quoted_at.reshape(-1)[cells]
            )


def _book_names(count: int) -> list[str]:
    """``count`` book names, the sharp one first."""
    return [_BOOK_NAMES[i] if i < len(_BOOK_NAMES) else f"Book {i + 1}" for i in range(count)]


def _build_board(events: int, books: int, seed: int) -> _Board:
    """Price a synthetic board, vectorized: this is setup, not measured."""
    rng = np.random.default_rng([seed, 1])
    names = _book_names(books)
    soccer = np.arange(events) % 10 == 9
    event_list: list[Event] = []
    markets: list[MarketKey] = []
    basketball_lines = rng.integers(-12, 13, size=events) + 0.5
    basketball_totals = rng.integers(200, 241, size=events) + 0.5
    for index in range(events):
        event_id = f"ev{index:05d}"
        is_soccer = bool(soccer[index])
        sport = "soccer" if is_soccer else "basketball"
        event_list.append(
            Event(
                event_id,
                sport=sport,
                home=f"Home {index}",
                away=f"Away {index}",
                starts_at=EPOCH + 3600.0 * (1 + index % 12),
            )
        )
        line = -0.5 if is_soccer else float(basketball_lines[index])
        points = 2.5 if is_soccer else float(basketball_totals[index])
        markets.append(moneyline(event_id, three_way=is_soccer))
        markets.append(spread(event_id, 0, line)[0])
        markets.append(total(event_id, points))

    count = len(markets)
    fair = np.full((count, MAX_OUTCOMES), np.nan)
    home = rng.uniform(0.2, 0.8, size=events)
    draw = rng.uniform(0.22, 0.30, size=events)
    fair[0::3, 0] = np.where(soccer, (1.0 - draw) * home, home)
    fair[0::3, 1] = np.where(soccer, (1.0 - draw) * (1.0 - home), 1.0 - home)
    fair[0::3, 2] = np.where(soccer, draw, np.nan)
    for offset in (1, 2):
        side = rng.uniform(0.45, 0.55, size=events)
        fair[offset::3, 0] = side
        fair[offset::3, 1] = 1.0 - side

    margin = rng.uniform(*_MARGIN_RANGE, size=books)
    margin[0] = _SHARP_MARGIN
    quoting = rng.random((count, books)) < _COVERAGE
    quoting[:, 0] = True
    shape = (count, MAX_OUTCOMES, books)
    home_log = -np.log(fair[:, :, np.newaxis] * (1.0 + margin)) + rng.normal(0, _BIAS_SIGMA, shape)
    home_log[~np.broadcast_to(quoting[:, np.newaxis, :], shape)] = np.nan
    prices = _rounded(home_log + rng.normal(0.0, _NOISE_SIGMA, shape))
    quoted_at = np.where(np.isnan(prices), np.nan, EPOCH - rng.uniform(0.0, 59.0, shape))
    cells = np.flatnonzero(~np.isnan(prices.reshape(-1)))
    return _Board(event_list, markets, names, home_log, prices, quoted_at, cells)


def _rounded(log_price: FloatArray) -> FloatArray:
    """Decimal odds from log odds, to the cent like a book's, never below 1.01."""
    with np.errstate(invalid="ignore"):
        return np.maximum(np.round(np.exp(log_price), 2), 1.01)


def _to_updates(
    board: _Board, cells: IntArray, prices: FloatArray, quoted: FloatArray
) -> list[PriceUpdate]:
    """Price updates for flat ``cells`` of the board, one price and time per cell."""
    rows, slots, columns = np.unravel_index(cells, board.prices.shape)
    markets, books = board.markets, board.books
    return [
        PriceUpdate(markets[row], slot, books[column], price, at)
        for row, slot, column, price, at in zip(
            rows.tolist(),
            slots.tolist(),
            columns.tolist(),
            prices.tolist(),
            quoted.tolist(),
            strict=True,
        )
    ]


class _UpdateStream:
    """Random price updates on the board's quotes; the same seed gives the same stream."""

    def __init__(self, board: _Board, seed: int, size: int) -> None:
        """Start from the board's initial prices."""
        self._board = board
        self._size = size
        self._rng = np.random.default_rng([seed, 2])
        with np.errstate(invalid="ignore"):
            self._log = np.log(board.prices).reshape(-1)

    def next_batch(self, now: float) -> list[PriceUpdate]:
        """``size`` updates at time ``now``: a mean-reverting walk and a few withdrawals."""
        rng, size = self._rng, self._size
        cells = self._board.cells[rng.integers(0, len(self._board.cells), size=size)]
        rest = self._board.home_log.reshape(-1)[cells]
        old = self._log[cells]
        start = np.where(np.isnan(old), rest, old)
        walked = start + _REVERSION * (rest - start) + rng.normal(0.0, _STEP_SIGMA, size)
        prices = _rounded(walked)
        withdrawn = rng.random(size) < _WITHDRAW_RATE
        # Half the withdrawals are NaN, half an off-board sentinel of 1.0.
        prices[withdrawn] = np.where(rng.random(int(withdrawn.sum())) < 0.5, np.nan, 1.0)
        with np.errstate(invalid="ignore"):
            self._log[cells] = np.where(withdrawn, np.nan, np.log(prices))
        times = now - rng.uniform(0.0, 0.5, size)
        return _to_updates(self._board, cells, prices, times)


# --- measuring -------------------------------------------------------------------------


def _peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _count(found: Sequence[Opportunity]) -> tuple[int, int]:
    """(arbitrages, +EV prices) among ``found``."""
    arbitrages = sum(1 for o in found if o.kind == "arbitrage")
    return arbitrages, len(found) - arbitrages


def _keep_going(batches: int | None, done: int, elapsed: float) -> bool:
    """Whether a stream phase runs another batch."""
    if batches is not None:
        return done < batches
    return elapsed < MIN_STREAM_SECONDS or done < MIN_STREAM_BATCHES


@dataclass(frozen=True, slots=True)
class _Batch:
    """One batch of the update stream, as a feed hands it to the engine step."""

    feed: str
    received_at: float
    events: tuple[Event, ...]
    updates: list[PriceUpdate]


#: The bench's two rules: every arbitrage, and +EV of 1% or more against Pinnacle.
_RULES: Final = (
    RuleConfig(name="arbitrage", kind="arbitrage", notify=(), max_quote_age=MAX_QUOTE_AGE),
    RuleConfig(
        name="positive_ev",
        kind="positive_ev",
        notify=(),
        sharp=(SHARP_BOOK,),
        devig=DevigMethod.WORST_CASE,
        min_value=0.01,
        max_quote_age=MAX_QUOTE_AGE,
    ),
)


@dataclass(frozen=True, slots=True)
class _Workload:
    """What both engines are asked: the board, the rules, and the update stream.

    ``arbitrage`` and ``positive_ev`` are the rules' evaluator settings, which the snapshot
    phase and the naive engine take directly.
    """

    board: _Board
    arbitrage: ArbitrageSettings
    positive_ev: EvSettings
    seed: int
    batch: int
    batches: int | None

    def loaded_engine(self) -> Engine:
        """An engine with the whole board applied and evaluated once, as after a bootstrap.

        That first evaluation also fills the engine's devig cache, as the daemon's does.
        """
        engine = Engine(_RULES)
        board = self.board
        # A step per chunk, so that the board's updates never all exist at once (the peak
        # memory is the engine's, not the setup's); then the whole board is evaluated.
        engine.step([_Batch("board", EPOCH, tuple(board.events), [])], EPOCH)
        for chunk in board.updates():
            engine.step([_Batch("board", EPOCH, (), chunk)], EPOCH)
        engine.touch(board.markets)
        engine.step([], EPOCH)
        return engine


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """Full-snapshot timings (seconds per run) and what the last run found."""

    arbitrage: list[float]
    positive_ev: list[float]
    combined: list[float]
    found: list[Opportunity]


@dataclass(frozen=True, slots=True)
class _Stream:
    """An update-stream phase: measured seconds and the findings, per batch."""

    times: list[float]
    found: list[list[Opportunity]]

    @property
    def seconds(self) -> float:
        """Measured seconds over all batches."""
        return math.fsum(self.times)

    @property
    def batches(self) -> int:
        """Batches run."""
        return len(self.found)


@dataclass(frozen=True, slots=True)
class _Pair:
    """Both engines' timings and findings on the same batches, measured back to back."""

    vectorized: _Stream
    naive: _Stream


def run_engine_bench(
    *,
    events: int = 2000,
    books: int = 30,
    batch: int = 1000,
    batches: int | None = None,
    seed: int = 1,
    runs: int = 30,
    out: TextIO = sys.stdout,
) -> EngineBenchResult:
    """Measure the engine on a synthetic board and print the figures beside their targets.

    Args:
        events: events on the board (3 markets each).
        books: bookmakers, Pinnacle (the sharp book) among them.
        batch: price updates per batch in the update-stream phases.
        batches: batches to run; None runs until each stream phase has taken at least
            2 s (the naive phase stops early if it catches up with the vectorized one).
        seed: seeds the board and the update stream.
        runs: full-snapshot evaluations to take the median and p95 over.
        out: where the report goes.

    Returns:
        The figures; ``mismatch`` is True if the two engines found different things.
    """
    if events < 1 or books < 2 or batch < 1 or runs < 1 or (batches is not None and batches < 1):
        raise ValueError("the bench needs at least 1 event, 2 books, 1 update, 1 batch, 1 run")
    arbitrage, positive_ev = (engine_settings(rule, {}) for rule in _RULES)
    if not isinstance(arbitrage, ArbitrageSettings) or not isinstance(positive_ev, EvSettings):
        raise TypeError("the bench's rules are an arbitrage rule, then a +EV rule")
    work = _Workload(
        board=_build_board(events, books, seed),
        arbitrage=arbitrage,
        positive_ev=positive_ev,
        seed=seed,
        batch=batch,
        batches=batches,
    )
    board = work.board
    three_way = sum(1 for m in board.markets if m.outcome_count == 3)
    print(
        f"arbwatch bench: engine | {events:,} events, {len(board.markets):,} markets "
        f"({three_way:,} 3-way), {books} books, {len(board.cells):,} quotes, seed {seed}",
        file=out,
    )

    engine = work.loaded_engine()
    snapshot = _snapshot(engine.matrix, work, runs)
    vectorized = _vectorized_stream(engine, work)
    vectorized_rss = _peak_rss_mib()
    del engine
    gc.collect()

    naive = NaiveEngine()
    for event in board.events:
        naive.set_event(event)
    for updates in board.updates():
        naive.apply(updates)
    naive.take_touched()
    paired = work.loaded_engine()
    gc.collect()
    start = time.perf_counter()
    naive_snapshot: list[Opportunity] = [
        *naive.find_arbitrage(EPOCH, work.arbitrage),
        *naive.find_positive_ev(EPOCH, work.positive_ev),
    ]
    naive_snapshot_seconds = time.perf_counter() - start
    pair = _paired_stream(paired, naive, work)

    thresholds = {"arbitrage": work.arbitrage.min_profit, "positive_ev": work.positive_ev.min_ev}
    mismatches = [
        f"snapshot: {p}"
        for p in compare_opportunities(snapshot.found, naive_snapshot, thresholds=thresholds)
    ]
    for number, (expected, actual) in enumerate(
        zip(pair.vectorized.found, pair.naive.found, strict=True), start=1
    ):
        mismatches += [
            f"batch {number}: {p}"
            for p in compare_opportunities(expected, actual, thresholds=thresholds)
        ]

    vectorized_counts = _count([o for found in pair.vectorized.found for o in found])
    naive_counts = _count([o for found in pair.naive.found for o in found])
    snapshot_counts = _count(snapshot.found)
    result = EngineBenchResult(
        events=events,
        markets=len(board.markets),
        books=books,
        quotes=len(board.cells),
        seed=seed,
        snapshot_runs=runs,
        snapshot_arbitrage_ms=_ms(np.median(snapshot.arbitrage)),
        snapshot_arbitrage_p95_ms=_ms(np.percentile(snapshot.arbitrage, 95)),
        snapshot_ev_ms=_ms(np.median(snapshot.positive_ev)),
        snapshot_ev_p95_ms=_ms(np.percentile(snapshot.positive_ev, 95)),
        snapshot_ms=_ms(np.median(snapshot.combined)),
        snapshot_p95_ms=_ms(np.percentile(snapshot.combined, 95)),
        naive_snapshot_ms=_ms(naive_snapshot_seconds),
        snapshot_arbitrages=snapshot_counts[0],
        snapshot_positive_evs=snapshot_counts[1],
        batch_size=batch,
        vectorized_batches=vectorized.batches,
        vectorized_seconds=vectorized.seconds,
        vectorized_updates_per_second=vectorized.batches * batch / vectorized.seconds,
        naive_batches=pair.naive.batches,
        naive_seconds=pair.naive.seconds,
        naive_updates_per_second=pair.naive.batches * batch / pair.naive.seconds,
        paired_vectorized_seconds=pair.vectorized.seconds,
        speedup=float(np.median(pair.naive.times) / np.median(pair.vectorized.times)),
        speedup_of_means=pair.naive.seconds / pair.vectorized.seconds,
        stream_arbitrages=vectorized_counts[0],
        stream_positive_evs=vectorized_counts[1],
        naive_stream_arbitrages=naive_counts[0],
        naive_stream_positive_evs=naive_counts[1],
        vectorized_peak_rss_mib=vectorized_rss,
        peak_rss_mib=_peak_rss_mib(),
        mismatch=bool(mismatches),
        mismatches=tuple(mismatches[:20]),
    )
    _report(result, _count(naive_snapshot), len(mismatches), out)
    return result


def _snapshot(matrix: PriceMatrix, work: _Workload, runs: int) -> _Snapshot:
    """(a): evaluate every row ``runs`` times after one uncounted warm-up run."""
    gc.collect()
    timings = _Snapshot(arbitrage=[], positive_ev=[], combined=[], found=[])
    for run in range(runs + 1):
        start = time.perf_counter()
        block = matrix.block()
        arbitrages = find_arbitrage(block, EPOCH, work.arbitrage)
        middle = time.perf_counter()
        evs = find_positive_ev(block, EPOCH, work.positive_ev)
        end = time.perf_counter()
        if run:
            timings.arbitrage.append(middle - start)
            timings.positive_ev.append(end - middle)
            timings.combined.append(end - start)
        timings.found[:] = [*arbitrages, *evs]
    return timings


def _vectorized_stream(engine: Engine, work: _Workload) -> _Stream:
    """(b): each batch is one engine step; only the step is timed."""
    gc.collect()
    stream = _UpdateStream(work.board, work.seed, work.batch)
    found: list[list[Opportunity]] = []
    times: list[float] = []
    elapsed = 0.0
    now = EPOCH
    while _keep_going(work.batches, len(found), elapsed):
        now += BATCH_INTERVAL
        batch = [_Batch("stream", now, (), stream.next_batch(now))]
        start = time.perf_counter()
        step = engine.step(batch, now)
        times.append(time.perf_counter() - start)
        elapsed += times[-1]
        found.append([match.opportunity for match in step.matches])
    return _Stream(times, found)


def _paired_stream(engine: Engine, naive: NaiveEngine, work: _Workload) -> _Pair:
    """(c): the same batches through both engines, alternating every `PAIRED_CHUNK` batches.

    Chunks are short enough that the machine's drift hits both engines alike, and long
    enough that each engine runs with its own data in the CPU caches, as it would alone:
    timed batch by batch, the naive engine's sweep over its million objects would evict the
    matrix before every vectorized batch.
    """
    # The naive engine holds the board as about a million Python objects. Frozen, they are
    # left out of the collector's scans, which would otherwise land in either engine's
    # timed section at random; the same treatment a long-running daemon gives its startup.
    gc.collect()
    gc.freeze()
    stream = _UpdateStream(work.board, work.seed, work.batch)
    pair = _Pair(_Stream([], []), _Stream([], []))
    now = EPOCH
    while _keep_going(work.batches, len(pair.naive.found), pair.naive.seconds):
        size = PAIRED_CHUNK
        if work.batches is not None:
            size = min(size, work.batches - len(pair.naive.found))
        chunk = []
        for _ in range(size):
            now += BATCH_INTERVAL
            chunk.append((now, stream.next_batch(now)))
        for now_, updates in chunk:
            batch = [_Batch("stream", now_, (), updates)]
            start = time.perf_counter()
            step = engine.step(batch, now_)
            pair.vectorized.times.append(time.perf_counter() - start)
            found: list[Opportunity] = [match.opportunity for match in step.matches]
            pair.vectorized.found.append(found)
        for now_, updates in chunk:
            start = time.perf_counter()
            naive.apply(updates)
            touched = naive.take_touched()
            found = [
                *naive.find_arbitrage(now_, work.arbitrage, touched),
                *naive.find_positive_ev(now_, work.positive_ev, touched),
            ]
            pair.naive.times.append(time.perf_counter() - start)
            pair.naive.found.append(found)
    gc.unfreeze()
    return pair


def _ms(seconds: float | np.floating[npt.NBitBase]) -> float:
    """Seconds as milliseconds."""
    return float(seconds) * 1000.0


def _verdict(met: bool) -> str:
    """PASS or MISS."""
    return "PASS" if met else "MISS"


def _report(
    result: EngineBenchResult, naive_snapshot: tuple[int, int], mismatches: int, out: TextIO
) -> None:
    """Print the figures beside their targets."""
    r = result
    lines = [
        f"(a) full snapshot, {r.snapshot_runs} runs          median       p95   target",
        f"    snapshot arbitrage          {r.snapshot_arbitrage_ms:9.2f} ms "
        f"{r.snapshot_arbitrage_p95_ms:6.2f} ms",
        f"    snapshot +EV (worst_case)   {r.snapshot_ev_ms:9.2f} ms "
        f"{r.snapshot_ev_p95_ms:6.2f} ms",
        f"    snapshot combined           {r.snapshot_ms:9.2f} ms {r.snapshot_p95_ms:6.2f} ms"
        f"   <= {SNAPSHOT_TARGET_MS:g} ms  {_verdict(r.snapshot_target_met)}",
        f"    naive snapshot (one pass)   {r.naive_snapshot_ms:9.2f} ms",
        f"    snapshot opportunities: vectorized {r.snapshot_arbitrages} arbitrage, "
        f"{r.snapshot_positive_evs} +EV; naive {naive_snapshot[0]} arbitrage, "
        f"{naive_snapshot[1]} +EV",
        f"(b) vectorized updates/s       {r.vectorized_updates_per_second:12,.0f}"
        f"   ({r.vectorized_batches} batches x {r.batch_size:,} in {r.vectorized_seconds:.2f} s)"
        f"   >= {THROUGHPUT_TARGET:,.0f}  {_verdict(r.throughput_target_met)}",
        f"(c) naive updates/s            {r.naive_updates_per_second:12,.0f}"
        f"   ({r.naive_batches} batches x {r.batch_size:,} in {r.naive_seconds:.2f} s)",
        f"    speedup (b)/(c)            {r.speedup:12.1f}x"
        f"   >= {SPEEDUP_TARGET:g}x  {_verdict(r.speedup_target_met)}"
        f"   (median batch, same batches, engines taking turns every {PAIRED_CHUNK};"
        f" mean batch: {r.speedup_of_means:.1f}x)",
        "    (part of it is design, not numpy: the vectorized engine devigs again only markets"
        " whose sharp prices changed, the naive one every market a batch touches)",
        f"    stream opportunities over the {r.naive_batches} batches both ran: vectorized "
        f"{r.stream_arbitrages} arbitrage, {r.stream_positive_evs} +EV; naive "
        f"{r.naive_stream_arbitrages} arbitrage, {r.naive_stream_positive_evs} +EV",
        f"(d) peak RSS                   {r.peak_rss_mib:12.1f} MiB"
        f"   (after the vectorized phases: {r.vectorized_peak_rss_mib:.1f} MiB)",
    ]
    if r.mismatch:
        lines.append(f"!!! MISMATCH: the engines disagree in {mismatches} place(s):")
        lines += [f"!!! MISMATCH {problem}" for problem in r.mismatches]
    else:
        lines.append(
            "engines agree: the same opportunities, figures equal to 1e-9 (a finding within"
            " 1e-9 of its threshold may land on either side, so counts can differ by those)"
        )
    print("\n".join(lines), file=out)


__all__ = ["EngineBenchResult", "run_engine_bench"]
