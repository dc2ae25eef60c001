"""Closing-line value: each alerted price against the sharp books' price when the game starts.

The close of a market is each sharp book's last price per outcome quoted before the event
starts. It is devigged with the rule's method (devig.py) into a closing fair probability
p_c for the outcome bet: averaged over the sharp books that priced the whole market, or
their smallest for worst_case, as fair.py does for the live fair price. For a price o
alerted on that outcome:

    closing fair price   o_c = 1 / p_c
    CLV                  = o / o_c - 1   ( = o · p_c - 1, the EV of o at the close)

The bettor beat the close when CLV > 0: the price taken was longer than the market's own
last, margin-free estimate. Over many alerts that is the early sign that a rule finds value,
long before the results say so.

What defines the close (`close_for`):
- a +EV rule: its own sharp books and devig method;
- an arbitrage rule: the sharp books of the config's +EV rules (each once, in config
  order), devigged with the method those rules share, or worst_case where they differ.
  A config with no +EV rule gives arbitrage alerts no CLV: nothing is tracked, since no
  book is trusted to say what the fair price was.

Which prices: the price alerted after the book's commission (the one EV is figured on), one
per leg of an arbitrage. Only NEW and IMPROVED alerts are tracked: those are the prices a
bettor acts on; a REPEAT is a reminder, and counting it would weigh a price by how long it
lingered.

`ClvTracker` is told of alerted prices (`ClvTracker.track`, with the sharp quotes known at
that moment) and of price updates (`ClvTracker.observe`); per tracked market it keeps each
sharp book's last price per outcome quoted before the start. A price quoted at or after the
start never counts. A withdrawal does not erase the last price: a book taking its line off
the board at the start is how a market closes. `ClvTracker.settle` returns a `ClvRecord` for
every price whose event has started by ``now`` and forgets those markets, so memory is the
markets with a tracked price whose game has not started. A price with no sharp close (no
sharp book quoted every outcome before the start, or none of their prices devig) settles
"no close" with the reason; so, at once, does one alerted after its game started (in play:
the close was before the alert) or whose start is unknown. Time is always passed in.

Whoever runs the engine (the daemon, through `arbwatch.clv_recorder`; replay and backtest,
through `arbwatch.feeds.replay.run_frames`) does per engine step:
``tracker.observe_batches(step.batches)``; ``track_alerts(tracker, alerts, matrix, rules)``
with the step's alerts and every other observation's (the expiry's); then
``tracker.settle(now)``. `arbwatch.core.clv_summary.summary_lines` prints the records.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

import numpy as np

from arbwatch.core.books import book_id
from arbwatch.core.dedup import Alert, AlertReason
from arbwatch.core.devig import DevigMethod, DevigStatus, fair_probabilities
from arbwatch.core.engine import Batch
from arbwatch.core.markets import MarketKey, PriceUpdate
from arbwatch.core.matrix import PriceMatrix

#: Why a price has no CLV, as history and summaries say it.
NO_SHARP_PRICE = "no sharp price before the start"
IN_PLAY = "alerted after the start"
START_UNKNOWN = "start time unknown"
#: The alerts whose prices are tracked: those a bettor acts on (see above).
TRACKED_REASONS: Final = frozenset({AlertReason.NEW, AlertReason.IMPROVED})


@dataclass(frozen=True, slots=True)
class Close:
    """What defines a closing line: the sharp books (as the rule names them) and the devig."""

    sharp_books: tuple[str, ...]
    devig: DevigMethod


class RuleLike(Protocol):
    """The parts of a rule `close_for` reads (`arbwatch.config.model.RuleConfig` has them)."""

    @property
    def kind(self) -> str:
        """``arbitrage`` or ``positive_ev``."""

    @property
    def sharp(self) -> tuple[str, ...]:
        """The sharp books of a +EV rule."""

    @property
    def devig(self) -> DevigMethod:
        """How a +EV rule devigs its sharp books."""


def close_for(rule: RuleLike, rules: Sequence[RuleLike]) -> Close | None:
    """The close ``rule``'s alerts are measured against, among the config's ``rules``.

    See the module docstring; None when there is none (an arbitrage rule in a config with no
    +EV rule).
    """
    if rule.kind == "positive_ev":
        return Close(rule.sharp, rule.devig)
    ev_rules = [other for other in rules if other.kind == "positive_ev" and other.sharp]
    if not ev_rules:
        return None
    books: dict[str, str] = {}
    for other in ev_rules:
        for book in other.sharp:
            books.setdefault(book_id(book), book)
    methods = {other.devig for other in ev_rules}
    method = methods.pop() if len(methods) == 1 else DevigMethod.WORST_CASE
    return Close(tuple(books.values()), method)


@dataclass(frozen=True, slots=True)
class AlertedPrice:
    """One price a bettor was alerted to, waiting for its closing line.

    Attributes:
        key: the opportunity's key (`arbwatch.core.rules.match_key`); with ``alerted_at``
            it names the alert.
        rule: the rule's name.
        kind: ``arbitrage`` or ``positive_ev``.
        book: the book the price is at.
        market: the market.
        outcome: the outcome slot bet.
        label: the outcome as a bettor reads it (``Celtics``, ``Over 224.5``).
        price: decimal odds after the book's commission.
        alerted_at: when the alert was decided, epoch seconds.
        starts_at: when the event starts (NaN: unknown).
        close: the sharp books and devig method that define its close.
    """

    key: str
    rule: str
    kind: str
    book: str
    market: MarketKey
    outcome: int
    label: str
    price: float
    alerted_at: float
    starts_at: float
    close: Close


@dataclass(frozen=True, slots=True)
class ClvRecord:
    """An alerted price with its closing line, settled once its event started.

    Attributes:
        alerted: the price.
        settled_at: when it was settled.
        closing_probability: p_c, the closing fair probability of the outcome (None: no
            close).
        clv: o · p_c - 1 (None: no close).
        note: why there is no close ("" when there is one).
    """

    alerted: AlertedPrice
    settled_at: float
    closing_probability: float | None
    clv: float | None
    note: str = ""

    @property
    def closing_price(self) -> float | None:
        """The closing fair price, 1 / p_c (None: no close)."""
        p = self.closing_probability
        return None if p is None else 1.0 / p

    @property
    def beat_close(self) -> bool:
        """Whether the price was longer than the closing fair price (CLV > 0)."""
        return self.clv is not None and self.clv > 0.0


@dataclass(slots=True)
class _Market:
    """A tracked market: its start, the prices alerted on it, the sharp closes seen so far."""

    starts_at: float
    alerted: list[AlertedPrice] = field(default_factory=list)
    #: Book ids whose prices define some alert's close.
    sharp: set[str] = field(default_factory=set)
    #: Book id -> per outcome slot (price, quote time) of its last quote before the start.
    closing: dict[str, list[tuple[float, float] | None]] = field(default_factory=dict)

    def quote(self, market: MarketKey, update: PriceUpdate) -> None:
        """Keep ``update`` if it is a sharp price quoted before the start, newer than the last."""
        book = book_id(update.book)
        price, quoted_at, slot = update.price, update.quoted_at, update.outcome
        if (
            book not in self.sharp
            # A withdrawal (NaN, <= 1.0, a sentinel) keeps the last price: see the docstring.
            or not (price > 1.0 and math.isfinite(price))
            or not quoted_at < self.starts_at
            or not 0 <= slot < market.outcome_count
        ):
            return
        slots = self.closing.setdefault(book, [None] * market.outcome_count)
        last = slots[slot]
        if last is None or quoted_at >= last[1]:
            slots[slot] = (price, quoted_at)


def alerted_prices(alert: Alert, rules: Sequence[RuleLike]) -> list[AlertedPrice]:
    """The prices ``alert`` tells a bettor to take, one per leg, if they are tracked.

    None for a REPEAT or GONE alert, or a rule with no close (`close_for` among ``rules``,
    the rules in force).
    """
    opportunity = alert.opportunity
    if alert.reason not in TRACKED_REASONS or opportunity is None:
        return []
    close = close_for(alert.rule, rules)
    if close is None:
        return []
    return [
        AlertedPrice(
            key=alert.key,
            rule=alert.rule.name,
            kind=opportunity.kind,
            book=leg.book,
            market=opportunity.market,
            outcome=leg.outcome,
            label=leg.label,
            price=leg.effective_price,
            alerted_at=alert.at,
            starts_at=opportunity.event.starts_at,
            close=close,
        )
        for leg in opportunity.legs
    ]


def sharp_quotes(matrix: PriceMatrix, price: AlertedPrice) -> list[PriceUpdate]:
    """The quotes of ``price``'s sharp books on its market, as ``matrix`` holds them now.

    What `ClvTracker.track` is given with a price just alerted: the sharp prices that came
    before the alert.
    """
    market = price.market
    row = matrix.row(market)
    sharp = {book_id(book) for book in price.close.sharp_books}
    columns = [column for column, book in enumerate(matrix.book_ids) if book in sharp]
    if row is None or not columns:
        return []
    block = matrix.block(np.array([row], dtype=np.intp))
    books = matrix.books
    return [
        PriceUpdate(market, slot, books[column], float(quoted), float(at))
        for column in columns
        for slot in range(market.outcome_count)
        if (quoted := block.prices[column, 0, slot]) > 0.0
        and not np.isnan(at := block.quoted_at[column, 0, slot])
    ]


def track_alerts(
    tracker: ClvTracker, alerts: Iterable[Alert], matrix: PriceMatrix, rules: Sequence[RuleLike]
) -> tuple[list[AlertedPrice], list[ClvRecord]]:
    """Track the prices of ``alerts`` with the sharp quotes ``matrix`` holds for them now.

    ``rules`` are the rules in force (an arbitrage rule's close comes from them). Returns
    the prices now tracked, and the records of those settled at once (in play, start
    unknown).
    """
    tracked: list[AlertedPrice] = []
    settled: list[ClvRecord] = []
    for alert in alerts:
        for price in alerted_prices(alert, rules):
            record = tracker.track(price, sharp_quotes(matrix, price))
            if record is None:
                tracked.append(price)
            else:
                settled.append(record)
    return tracked, settled


class ClvTracker:
    """Alerted prices waiting for their event to start, and the sharp prices that will close them.

    ``pending`` are prices tracked before a restart (read back from the store); their sharp
    prices come again with the feeds' snapshots.
    """

    def __init__(self, pending: Iterable[AlertedPrice] = ()) -> None:
        """Start tracking ``pending``."""
        self._markets: dict[MarketKey, _Market] = {}
        self._by_event: dict[str, set[MarketKey]] = {}
        # (start, market): when a market settles; checked against the market when popped,
        # since a rescheduled event leaves its old entry behind.
        self._starts: list[tuple[float, MarketKey]] = []
        for alerted in pending:
            self._add(alerted)

    @property
    def tracked(self) -> int:
        """Prices waiting for their event to start."""
        return sum(len(market.alerted) for market in self._markets.values())

    def __len__(self) -> int:
        """Markets tracked."""
        return len(self._markets)

    def pending(self) -> list[AlertedPrice]:
        """Every price waiting for its event to start, by market."""
        return [alerted for market in self._markets.values() for alerted in market.alerted]

    def track(self, alerted: AlertedPrice, quotes: Iterable[PriceUpdate] = ()) -> ClvRecord | None:
        """Track ``alerted``; ``quotes`` are the sharp prices on its market known now.

        Returns the record at once, "no close", for a price alerted at or after its
        event's start or whose start is unknown; None when it is tracked.
        """
        if math.isnan(alerted.starts_at):
            return ClvRecord(alerted, alerted.alerted_at, None, None, START_UNKNOWN)
        if alerted.alerted_at >= alerted.starts_at:
            return ClvRecord(alerted, alerted.alerted_at, None, None, IN_PLAY)
        market = self._add(alerted)
        for update in quotes:
            market.quote(alerted.market, update)
        return None

    def observe(self, updates: Iterable[PriceUpdate]) -> None:
        """Take a batch of price updates; only sharp prices on tracked markets are kept."""
        markets = self._markets
        if not markets:
            return
        for update in updates:
            market = markets.get(update.market)
            if market is not None:
                market.quote(update.market, update)

    def observe_batches(self, batches: Iterable[Batch]) -> None:
        """Take an engine step's batches: their events' starts, then their price updates."""
        if not self._markets:
            return
        for batch in batches:
            # Events first: a frame that moves a start and prices the game in one go has
            # its prices judged against the new start.
            for event in batch.events:
                self.reschedule(event.event_id, event.starts_at)
            self.observe(batch.updates)

    def reschedule(self, event_id: str, starts_at: float) -> None:
        """The event's start moved (a game postponed): its markets close at the new time.

        Prices already kept that were quoted at or after the new start are dropped; only the
        last price per outcome is kept, so a game brought forward past its sharp book's last
        quote closes with no price for that outcome.
        """
        keys = self._by_event.get(event_id, ())
        if math.isnan(starts_at):
            return
        for key in keys:
            market = self._markets[key]
            if market.starts_at == starts_at:
                continue
            market.starts_at = starts_at
            for slots in market.closing.values():
                for slot, last in enumerate(slots):
                    if last is not None and not last[1] < starts_at:
                        slots[slot] = None
            heapq.heappush(self._starts, (starts_at, key))

    def settle(self, now: float) -> list[ClvRecord]:
        """The records of every price whose event has started by ``now``; those are forgotten."""
        records: list[ClvRecord] = []
        while self._starts and self._starts[0][0] <= now:
            starts_at, key = heapq.heappop(self._starts)
            market = self._markets.get(key)
            if market is None or market.starts_at != starts_at:
                continue
            del self._markets[key]
            keys = self._by_event[key.event_id]
            keys.discard(key)
            if not keys:
                del self._by_event[key.event_id]
            records.extend(_settled(alerted, market, now) for alerted in market.alerted)
        return records

    def _add(self, alerted: AlertedPrice) -> _Market:
        """Hold ``alerted`` under its market, creating the market's entry if needed."""
        key = alerted.market
        market = self._markets.get(key)
        if market is None:
            market = _Market(alerted.starts_at)
            self._markets[key] = market
            self._by_event.setdefault(key.event_id, set()).add(key)
            heapq.heappush(self._starts, (alerted.starts_at, key))
        market.alerted.append(alerted)
        market.sharp.update(map(book_id, alerted.close.sharp_books))
        return market


def _settled(alerted: AlertedPrice, market: _Market, now: float) -> ClvRecord:
    """``alerted``'s record from its market's closing prices."""
    probability, note = closing_probability(
        market.closing, alerted.close, alerted.market.outcome_count, alerted.outcome
    )
    if probability is None:
        return ClvRecord(alerted, now, None, None, note)
    return ClvRecord(alerted, now, probability, alerted.price * probability - 1.0)


def closing_probability(
    closing: dict[str, list[tuple[float, float] | None]],
    close: Close,
    outcomes: int,
    outcome: int,
) -> tuple[float | None, str]:
    """The closing fair probability of ``outcome``, or None and why there is none.

    ``closing`` holds, by book id, each outcome slot's last (price, quote time). A sharp
    book counts when it priced every outcome and its prices devig; the probability is the
    mean over those books, or their smallest for worst_case.
    """
    found: list[float] = []
    failures: list[str] = []
    for book in dict.fromkeys(close.sharp_books):
        slots = closing.get(book_id(book))
        if slots is None or any(last is None for last in slots[:outcomes]):
            continue
        prices = [last[0] for last in slots[:outcomes] if last is not None]
        result = fair_probabilities(np.array(prices), close.devig)
        status = DevigStatus(int(result.status[0]))
        if status is not DevigStatus.OK:
            failures.append(f"{book}'s closing prices: devig {status.description}")
            continue
        found.append(float(result.probabilities[0, outcome]))
    if not found:
        return None, "; ".join(failures) or NO_SHARP_PRICE
    if close.devig is DevigMethod.WORST_CASE:
        return min(found), ""
    return sum(found) / len(found), ""
