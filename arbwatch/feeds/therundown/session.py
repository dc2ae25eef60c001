"""TheRundown V2 session: REST bodies and socket frames in, batches out (pure).

No I/O and no clock: every time is passed in, so a recording replays to the same batches.
It holds what the parsers need between messages: the sports and affiliates maps, the
participant join table, the known provider events, the delta cursor, and the cells each
event has priced, so that a full snapshot withdraws what it no longer lists. The module
docstring of `arbwatch.feeds.therundown.driver` tells the whole protocol.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from arbwatch.core.markets import MarketKey, PriceUpdate
from arbwatch.errors import InvalidMarketError
from arbwatch.feeds.base import (
    FeedBatch,
)
from arbwatch.feeds.identity import EventIdentity, to_update
from arbwatch.feeds.model import (
    DEFAULT_MAX_PRICE,
    CellKey,
    ParsedQuote,
    PriceBounds,
    ProviderEvent,
    cell_key,
    withdraw_missing,
)
from arbwatch.feeds.therundown.wire import (
    DRAW_SPORTS,
    PROVIDER,
    RETIRED_AFFILIATES,
    Heartbeat,
    ParticipantKey,
    ParticipantRef,
    SkipReason,
    UnknownMessage,
    parse_affiliates,
    parse_events,
    parse_market_delta,
    parse_sports,
    parse_ws_frame,
)

#: Seconds after its start by which any game is over. Past it, an event's prices are
#: withdrawn and the session forgets it: yesterday's pages are no longer fetched, so
#: nothing else would ever remove them, and a daemon runs for weeks.
FINISHED_AFTER: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What one REST body (events page, single event, delta page) produced.

    Attributes:
        batch: the events and updates to hand to the engine (possibly empty).
        cursor: the page's ``meta.delta_last_id``: for a delta page, the ``last_id`` of
            the next call; None when the body had none.
        has_more: a delta page with more changes waiting: call again with ``cursor``.
        refresh_events: events with prices the join table could not place: fetch them.
        refresh_affiliates: prices of books missing from the affiliates map were seen.
        skipped: prices, outcomes, markets and events that could not be used.
        listed: the provider events an events body listed (its full snapshots).
    """

    batch: FeedBatch
    cursor: str | None = None
    has_more: bool = False
    refresh_events: frozenset[str] = frozenset()
    refresh_affiliates: bool = False
    skipped: int = 0
    listed: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What one WebSocket frame produced; at most one of its fields says anything.

    Attributes:
        batch: updates to hand to the engine.
        heartbeat: the frame was a heartbeat.
        refresh_event: the frame named an event or participant the session does not know:
            fetch ``/api/v2/events/{refresh_event}``.
        refresh_affiliates: the frame priced a book missing from the affiliates map.
        ignored: why the frame produced nothing ("" when it did, or was a heartbeat).
        skipped: quotes of the frame that could not be used.
    """

    batch: FeedBatch | None = None
    heartbeat: bool = False
    refresh_event: str | None = None
    refresh_affiliates: bool = False
    ignored: str = ""
    skipped: int = 0


#: A snapshot page: (sport id, date). Events that leave their page are withdrawn.
PageKey = tuple[int, str]


class CellBoard:
    """The cells each provider event has priced, from every source, to withdraw by scope.

    A full snapshot of an event replaces everything quoted for it before; a TheRundown V1
    line frame replaces one book's line, a subset picked by ``within``. A single change
    (WebSocket, delta) only adds or, when off the board, removes its own cell.
    """

    def __init__(self) -> None:
        """Start with nothing priced."""
        self._cells: dict[str, set[CellKey]] = {}

    def note(self, quotes: Iterable[ParsedQuote]) -> None:
        """Record single changes: a price adds its cell, an off-board quote removes it."""
        for quote in quotes:
            cells = self._cells.setdefault(quote.provider_event_id, set())
            if math.isnan(quote.price):
                cells.discard(cell_key(quote))
            else:
                cells.add(cell_key(quote))

    def replace(
        self,
        event_id: str,
        quotes: Sequence[ParsedQuote],
        at: float,
        within: Callable[[CellKey], bool] | None = None,
    ) -> tuple[ParsedQuote, ...]:
        """Make ``quotes`` everything ``event_id`` prices (in ``within``); the withdrawals.

        ``quotes`` must all belong to ``event_id`` and to ``within``.
        """
        cells = self._cells.setdefault(event_id, set())
        previous = cells if within is None else {cell for cell in cells if within(cell)}
        gone, _ = withdraw_missing(previous, quotes, at=at)
        if within is None:
            cells.clear()
        else:
            cells.difference_update(previous)
        cells.update(cell_key(q) for q in quotes if not math.isnan(q.price))
        return gone

    def forget(self, event_id: str, at: float) -> tuple[ParsedQuote, ...]:
        """Withdraw everything ``event_id`` priced and forget it."""
        gone, _ = withdraw_missing(self._cells.pop(event_id, set()), (), at=at)
        return gone

    def cells(self, event_id: str) -> frozenset[CellKey]:
        """The cells ``event_id`` prices now."""
        return frozenset(self._cells.get(event_id, ()))


class RundownSession:
    """TheRundown V2 protocol state, without I/O: bodies and frames in, batches out.

    Feed it, in order: `handle_sports` and `handle_affiliates`, then `handle_events` for
    each events page, then WebSocket frames (`handle_ws`), delta pages (`handle_delta`)
    and single events (`handle_event`) as they come. Every method takes the time the
    input was received (epoch seconds); none reads a clock, so the same inputs give the
    same batches.

    Attributes:
        feed: the feed name put on every batch.
        sports: sport id -> name.
        affiliates: affiliate id -> book name.
        participants: the merged join table of every events page and event seen.
        events: the provider events known, by TheRundown event id.
        cursor: the market-delta ``last_id`` to resync from: set by the first page of a
            snapshot round (`handle_events` with ``sets_cursor``), and by the driver after
            a resync completes; `handle_delta` never moves it, since a resync's pages
            only count once the engine has taken them all.
        board: the cells each event prices.
    """

    def __init__(
        self,
        feed: str,
        identity: EventIdentity,
        *,
        provider: str = PROVIDER,
        draw_sports: frozenset[int] = DRAW_SPORTS,
        max_price: float = DEFAULT_MAX_PRICE,
    ) -> None:
        """A session for feed ``feed``, mapping events through ``identity``.

        Prices above ``max_price`` (decimal) are withdrawn and counted in `bounds`.
        """
        self.feed = feed
        self.bounds = PriceBounds(max_price)
        self.provider = provider
        self.draw_sports = draw_sports
        self.sports: dict[int, str] = {}
        self.affiliates: dict[int, str] = {}
        self.participants: dict[ParticipantKey, ParticipantRef] = {}
        self.events: dict[str, ProviderEvent] = {}
        self.cursor: str | None = None
        self.board = CellBoard()
        self._identity = identity
        self._pages: dict[PageKey, frozenset[str]] = {}

    # --- REST ----------------------------------------------------------------------------

    def handle_sports(self, body: object) -> None:
        """Take a ``/api/v2/sports`` body."""
        self.sports = parse_sports(body)

    def handle_affiliates(self, body: object) -> None:
        """Take a ``/api/v2/affiliates`` body; replaces the map."""
        self.affiliates = parse_affiliates(body)

    def handle_events(
        self,
        body: object,
        received_at: float,
        *,
        page: PageKey | None = None,
        sets_cursor: bool = True,
    ) -> SyncResult:
        """Take an events body: a full snapshot of every event it lists.

        Each listed event's cells that the body no longer prices are withdrawn. With
        ``page`` (the (sport id, date) the body answers), events listed by that page
        before and missing now are withdrawn entirely. With ``sets_cursor`` the body's
        ``meta.delta_last_id`` becomes `cursor`: pass it for the first page of a round
        only, since the first page is the oldest and a resync from it misses nothing.
        """
        parsed = parse_events(
            body,
            affiliates=self.affiliates,
            sports=self.sports,
            provider=self.provider,
            received_at=received_at,
            draw_sports=self.draw_sports,
        )
        self.participants.update(parsed.participants)
        by_event: dict[str, list[ParsedQuote]] = {}
        for quote in self.bounds.apply(parsed.quotes):
            by_event.setdefault(quote.provider_event_id, []).append(quote)
        quotes: list[ParsedQuote] = []
        for event in parsed.events:
            event_id = event.provider_event_id
            self.events[event_id] = event
            own = by_event.get(event_id, [])
            quotes += self.board.replace(event_id, own, received_at)
            quotes += own
        listed = frozenset(event.provider_event_id for event in parsed.events)
        if page is not None:
            for gone in sorted(self._pages.get(page, frozenset()) - listed):
                quotes += self.board.forget(gone, received_at)
            self._pages[page] = listed
        if sets_cursor and parsed.delta_cursor is not None:
            self.cursor = parsed.delta_cursor
        batch, invalid = self._batch(quotes, parsed.events, received_at)
        skipped = (
            parsed.skipped_events
            + parsed.skipped_markets
            + parsed.skipped_outcomes
            + parsed.skipped_prices
        )
        return SyncResult(
            batch,
            cursor=parsed.delta_cursor,
            refresh_affiliates=bool(parsed.unknown_affiliates),
            skipped=skipped + invalid,
            listed=listed,
        )

    def handle_event(self, body: object, received_at: float) -> SyncResult:
        """Take a ``/api/v2/events/{id}`` body: a full snapshot of that event."""
        return self.handle_events(body, received_at, sets_cursor=False)

    def handle_event_missing(self, event_id: str, received_at: float) -> SyncResult:
        """The event answered 404: withdraw whatever it priced."""
        gone = self.board.forget(event_id, received_at)
        batch, invalid = self._batch(gone, (), received_at)
        return SyncResult(batch, skipped=invalid)

    def retire_finished(self, now: float) -> SyncResult:
        """Forget every event that started more than `FINISHED_AFTER` before ``now``.

        What such an event still prices is withdrawn (the batch), and it leaves the events,
        the cell board and the pages that listed it.
        """
        cutoff = now - FINISHED_AFTER
        finished = {key for key, event in self.events.items() if event.starts_at < cutoff}
        quotes: list[ParsedQuote] = []
        for event_id in sorted(finished):
            quotes += self.board.forget(event_id, now)
        # The withdrawals are placed through the events, so they go only after.
        batch, invalid = self._batch(quotes, (), now)
        for event_id in finished:
            del self.events[event_id]
        self._pages = {
            page: rest for page, listed in self._pages.items() if (rest := listed - finished)
        }
        return SyncResult(batch, skipped=invalid)

    def handle_delta(self, body: object, received_at: float) -> SyncResult:
        """Take a ``/api/v2/markets/delta`` page; `cursor` is left alone (see the class)."""
        page = parse_market_delta(
            body,
            participants=self.participants,
            affiliates=self.affiliates,
            received_at=received_at,
        )
        self.bounds.count_refused(page.prices_refused)
        quotes = self.bounds.apply(page.quotes)
        self.board.note(quotes)
        batch, invalid = self._batch(quotes, (), received_at)
        return SyncResult(
            batch,
            cursor=page.cursor,
            has_more=page.has_more,
            refresh_events=frozenset(key.event_id for key in page.unknown_participants),
            refresh_affiliates=bool(page.unknown_affiliates),
            skipped=page.skipped + invalid,
        )

    # --- WebSocket -----------------------------------------------------------------------

    def handle_ws(self, frame: str | bytes, received_at: float) -> FrameResult:
        """Take one frame of the V2 markets WebSocket.

        Raises:
            ParseError: the frame is not a TheRundown frame; count it and go on.
        """
        message = parse_ws_frame(
            frame,
            participants=self.participants,
            affiliates=self.affiliates,
            received_at=received_at,
        )
        if isinstance(message, Heartbeat):
            return FrameResult(heartbeat=True)
        if isinstance(message, UnknownMessage):
            return FrameResult(ignored=f"message type {message.type!r}")
        if message.quote is None:
            reason = message.skip_reason
            unknown_book = (
                reason is SkipReason.UNKNOWN_AFFILIATE
                and message.affiliate_id not in RETIRED_AFFILIATES
            )
            return FrameResult(
                refresh_event=message.event_id if message.needs_refresh else None,
                refresh_affiliates=unknown_book,
                ignored=str(reason),
                skipped=1,
            )
        if message.price_refused:
            self.bounds.count_refused(1)
        quotes = self.bounds.apply((message.quote,))
        self.board.note(quotes)
        return self._frame_result(quotes, received_at)

    # --- shared --------------------------------------------------------------------------

    def _frame_result(self, quotes: Sequence[ParsedQuote], received_at: float) -> FrameResult:
        """A frame's quotes as a result: a batch, or why there is none."""
        batch, invalid = self._batch(quotes, (), received_at)
        if not batch.updates:
            return FrameResult(ignored="no usable quote", skipped=invalid)
        return FrameResult(batch=batch, skipped=invalid)

    def _batch(
        self,
        quotes: Iterable[ParsedQuote],
        events: Iterable[ProviderEvent],
        received_at: float,
    ) -> tuple[FeedBatch, int]:
        """Quotes on the engine's events, as one batch; and how many could not be mapped.

        Within a batch a cell keeps its last update (a delta page may move a price several
        times): the engine writes a batch at once, where the order of duplicates is lost.
        """
        updates: dict[tuple[MarketKey, int, str], PriceUpdate] = {}
        invalid = 0
        for quote in quotes:
            provider_event = self.events.get(quote.provider_event_id)
            if provider_event is None:
                invalid += 1
                continue
            try:
                update = to_update(quote, self._identity.resolve(provider_event))
            except InvalidMarketError:
                invalid += 1
                continue
            updates.pop((update.market, update.outcome, update.book), None)
            updates[(update.market, update.outcome, update.book)] = update
        engine_events = tuple(self._identity.resolve(event).event for event in events)
        return FeedBatch(self.feed, received_at, engine_events, tuple(updates.values())), invalid
