"""RapidOddsAPI session: frames and REST bodies in, batches out (pure and replayable).

Frames and REST bodies go in (with the time they arrived), and `SessionResult`s come out,
carrying the `FeedBatch` for the engine. It holds the event identity, what the engine has
been sent per sport, and the credit figures. A recording fed through a new session gives
the same batches again. How a push becomes a batch: `arbwatch.feeds.rapidodds.driver`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, TypeGuard

import msgspec

from arbwatch.core.markets import Event, PriceUpdate, normalize_sport
from arbwatch.errors import InvalidMarketError
from arbwatch.feeds.base import (
    MAX_FRAME_BYTES,
    FeedBatch,
)
from arbwatch.feeds.identity import EventIdentity, Resolved, to_update
from arbwatch.feeds.model import (
    DEFAULT_MAX_PRICE,
    CellKey,
    ParseError,
    PriceBounds,
    cell_key,
)
from arbwatch.feeds.rapidodds.wire import (
    PROVIDER,
    BookQuotes,
    Connected,
    ErrorEvent,
    GameParts,
    OddsUpdate,
    RapidMessage,
    SnapshotParts,
    Subscribed,
    parse_message,
    read_book,
    split_snapshot,
)


class OversizedFrameError(ParseError):
    """A frame over the size limit: skipped like a malformed one, and counted apart."""


@dataclass(frozen=True, slots=True)
class SessionResult:
    """What one frame or REST body did.

    Attributes:
        message: the parsed WebSocket message; None for a REST snapshot.
        batch: what to hand the engine, or None when nothing changed.
        sport: the sport a snapshot was for, normalized ("NBA"); "" for other messages.
        quotes: readable quotes in the snapshot.
        withdrawn: cells quoted before and missing now (in ``batch`` as NaN prices).
        skipped_games, skipped_markets, skipped_outcomes, skipped_prices: parts of the
            snapshot the parser could not read (see `Snapshot`).
        invalid_quotes: quotes whose side does not exist in their market.
        credits_mismatch: a ``subscribed`` reply whose ``credits_per_push`` differs from
            what the documented formula gives for the request.
    """

    message: RapidMessage | None = None
    batch: FeedBatch | None = None
    sport: str = ""
    quotes: int = 0
    withdrawn: int = 0
    skipped_games: int = 0
    skipped_markets: int = 0
    skipped_outcomes: int = 0
    skipped_prices: int = 0
    invalid_quotes: int = 0
    credits_mismatch: bool = False

    @property
    def skipped(self) -> int:
        """Everything of the snapshot that was skipped, all kinds together."""
        return (
            self.skipped_games
            + self.skipped_markets
            + self.skipped_outcomes
            + self.skipped_prices
            + self.invalid_quotes
        )


class _UsageBody(msgspec.Struct, forbid_unknown_fields=False):
    """The fields of ``GET /usage`` the session reads."""

    tier: object = None
    credits_remaining: object = None
    credits_limit: object = None


_USAGE: Final = msgspec.json.Decoder(_UsageBody)

#: What the session remembers of one cell the engine was sent: (price, quoted_at), or
#: None after a dropped batch, when it no longer knows what the engine holds.
_Held = tuple[float, float] | None


class RapidOddsSession:
    """The RapidOddsAPI protocol state of one feed, without I/O or clock.

    Times are passed in, so a recording replayed through a fresh session (with a fresh
    `EventIdentity`) gives the same results. One session serves the whole run: state per
    sport survives reconnects, which is what lets the first push after a reconnect send
    only what changed.
    """

    def __init__(
        self,
        identity: EventIdentity,
        *,
        feed: str,
        expected_credits_per_push: int | None = None,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        max_price: float = DEFAULT_MAX_PRICE,
        provider: str = PROVIDER,
    ) -> None:
        """Start with nothing sent.

        Args:
            identity: maps RapidOddsAPI games onto engine events; may be shared with other
                feeds, so that one game from two providers is one event.
            feed: the feed name put on batches.
            expected_credits_per_push: what the subscription should cost per push
                (`RapidOddsSettings.credits_per_push`), to check the server's figure.
            max_frame_bytes: frames longer than this (UTF-8) are refused.
            max_price: decimal prices above this are withdrawn and counted (`bounds`).
            provider: the provider name of the events.
        """
        self.identity = identity
        self.feed = feed
        self.expected_credits_per_push = expected_credits_per_push
        self.max_frame_bytes = max_frame_bytes
        #: The price range; its ``refused`` counts the prices withdrawn as out of range.
        self.bounds = PriceBounds(max_price)
        self.provider = provider
        #: The tier the server reported (``connected`` or ``/usage``), "" until then.
        self.tier = ""
        #: Credits per push of each subscribed sport, as the server announced them.
        self.credits_per_push: dict[str, int] = {}
        #: Credits charged so far: pushes as reported, REST snapshots by the formula.
        self.credits_charged_total = 0
        #: Credits left, when the server said (``/usage``, an "insufficient" message).
        self.credits_remaining: int | None = None
        #: The plan's credit allowance, when ``/usage`` said.
        self.credits_limit: int | None = None
        # Per sport: what the engine was sent, by cell and by book-game.
        self._sports: dict[str, _SportState] = {}

    def handle_message(self, frame: str | bytes, received_at: float) -> SessionResult:
        """Read one WebSocket frame, received at ``received_at`` (epoch seconds).

        Raises:
            OversizedFrameError: the frame is over ``max_frame_bytes``.
            ParseError: the frame does not follow the protocol. Nothing changed: skip it.
        """
        self._check_size(frame)
        message = parse_message(frame, provider=self.provider, received_at=received_at)
        if isinstance(message, OddsUpdate):
            if message.credits_charged is not None:
                self._charge(message.credits_charged)
            sport = message.sport or message.parts.sport
            return self._apply(sport, message.parts, message.timestamp, received_at, message)
        if isinstance(message, Connected):
            self.tier = message.tier or self.tier
        elif isinstance(message, Subscribed):
            figure, expected = message.credits_per_push, self.expected_credits_per_push
            if figure is not None:
                self.credits_per_push[normalize_sport(message.sport)] = figure
            mismatch = figure is not None and expected is not None and figure != expected
            return SessionResult(message=message, credits_mismatch=mismatch)
        elif isinstance(message, ErrorEvent) and message.credits_remaining is not None:
            self.credits_remaining = message.credits_remaining
        return SessionResult(message=message)

    def handle_snapshot(self, body: str | bytes, sport: str, received_at: float) -> SessionResult:
        """Read a REST odds response for ``sport``, received at ``received_at``.

        REST reports no charge, so a snapshot with games is counted at
        ``expected_credits_per_push`` (RapidOddsAPI charges only when games come back).
        The body obeys ``max_frame_bytes`` too: it holds what a push holds.

        Raises:
            OversizedFrameError: the body is over ``max_frame_bytes``.
            ParseError: the body is not an odds response. Nothing changed.
        """
        self._check_size(body)
        parts = split_snapshot(body, provider=self.provider, sport=sport)
        if (parts.games or parts.skipped_games) and self.expected_credits_per_push:
            self._charge(self.expected_credits_per_push)
        return self._apply(sport, parts, received_at, received_at, None)

    def handle_usage(self, body: str | bytes) -> None:
        """Read a ``GET /usage`` body: the tier and the credits remaining.

        Raises:
            ParseError: the body is not a JSON object.
        """
        try:
            usage = _USAGE.decode(body)
        except msgspec.MsgspecError as error:
            raise ParseError(f"unreadable RapidOddsAPI usage: {error}") from None
        if isinstance(usage.tier, str):
            self.tier = usage.tier
        if _count(usage.credits_remaining):
            self.credits_remaining = usage.credits_remaining
        if _count(usage.credits_limit):
            self.credits_limit = usage.credits_limit

    def handle_refusal(self, detail: str) -> ErrorEvent:
        """Read a REST refusal's ``detail`` the way an ``error`` event's message is read.

        A 429 about credits says what the WebSocket's credit error says ("Insufficient
        credits ... you have N remaining"), so the event parser's rule decides for both,
        and the credits remaining are noted.
        """
        message = ErrorEvent(detail, insufficient_credits=False)
        parsed = parse_message(msgspec.json.encode({"event": "error", "message": detail}))
        if isinstance(parsed, ErrorEvent):  # always, for an "error" event
            message = parsed
        if message.credits_remaining is not None:
            self.credits_remaining = message.credits_remaining
        return message

    def batch_dropped(self, sport: str) -> None:
        """The engine never got the last batch of ``sport``: resend in full next time.

        The next snapshot of the sport then sends every quote again, and withdraws every
        cell the engine may still hold, from before the dropped batch or in it.
        """
        state = self._sports.get(normalize_sport(sport))
        if state is not None:
            state.forget()

    def credit_figures(self) -> dict[str, float]:
        """The credit figures for `FeedStats.extra`; ``credits_remaining`` only when known.

        ``credits_per_push`` is the server's figure summed over the subscribed sports:
        what one scrape cycle of the whole subscription costs.
        """
        figures: dict[str, float] = {"credits_charged_total": float(self.credits_charged_total)}
        if self.credits_per_push:
            figures["credits_per_push"] = float(sum(self.credits_per_push.values()))
        if self.credits_remaining is not None:
            figures["credits_remaining"] = float(self.credits_remaining)
        return figures

    def _check_size(self, frame: str | bytes) -> None:
        if _longer_than(frame, self.max_frame_bytes):
            unit = "bytes" if isinstance(frame, bytes) else "characters"
            raise OversizedFrameError(
                f"{len(frame)} {unit}, over the limit of {self.max_frame_bytes} bytes"
            )

    def _charge(self, credits: int) -> None:
        self.credits_charged_total += credits
        if self.credits_remaining is not None:
            self.credits_remaining = max(self.credits_remaining - credits, 0)

    def _apply(
        self,
        sport: str,
        snapshot: SnapshotParts,
        at: float,
        received_at: float,
        message: RapidMessage | None,
    ) -> SessionResult:
        """Turn a full snapshot of ``sport`` into the batch of what changed.

        Book-games are compared by their bytes: one pushed exactly as last time is
        neither read nor sent (its cells are what the engine holds), and its counts are
        the ones it gave then. Only the others are read, and of those only the prices
        that differ from the engine's become updates; the cells of book-games gone from
        the push and quoted by no other are withdrawn at ``at``. The batch names the
        engine event of every game in the snapshot, and of every game a withdrawal is
        for, so that the engine can label any update it holds.
        """
        scope = normalize_sport(sport or snapshot.sport)
        state = self._sports.setdefault(scope, _SportState())
        held, owners, previous = state.held, state.owners, state.parts
        parts: dict[_PartKey, _Part] = {}
        events: dict[str, Event] = {}
        updates: list[PriceUpdate] = []
        totals = _Totals(games=snapshot.skipped_games)
        for game in snapshot.games:
            event_id = game.event.provider_event_id
            try:
                read = [self._read_part(event_id, book, previous, game, at) for book in game.books]
            except ParseError:
                totals.games += 1  # a bookmaker that is no object: the game is unreadable
                continue
            mapping = self.identity.resolve(game.event)
            events.setdefault(mapping.event.event_id, mapping.event)
            for key, last, book in read:
                if last is None:
                    assert book is not None  # one of the two, always
                    kept = self._new_part(book, mapping, at, held, updates)
                else:
                    kept = last
                    self.bounds.count_refused(kept.refused)  # counted again, as if read
                totals.add(kept)
                if key in parts:
                    continue  # the same book-game twice: its cells are owned once
                parts[key] = kept
                if book is not None:
                    for cell in kept.cells:
                        owners[cell] = owners.get(cell, 0) + 1
        gone = state.release(parts)
        withdrawals = [cell.withdrawn(at) for cell in gone]
        for withdrawal in withdrawals:
            mapping_or_none = self.identity.lookup(self.provider, withdrawal.provider_event_id)
            if mapping_or_none is None:  # pragma: no cover - held cells were resolved
                continue
            # Cannot raise: the same cell converted when it was first sent.
            updates.append(to_update(withdrawal, mapping_or_none))
            events.setdefault(mapping_or_none.event.event_id, mapping_or_none.event)
        batch = None
        if updates:
            batch = FeedBatch(self.feed, received_at, tuple(events.values()), tuple(updates))
        return SessionResult(
            message=message,
            batch=batch,
            sport=scope,
            quotes=totals.quotes,
            withdrawn=len(withdrawals),
            skipped_games=totals.games,
            skipped_markets=totals.markets,
            skipped_outcomes=totals.outcomes,
            skipped_prices=totals.prices,
            invalid_quotes=totals.invalid,
        )

    def _read_part(
        self,
        event_id: str,
        book: bytes,
        previous: Mapping[_PartKey, _Part],
        game: GameParts,
        at: float,
    ) -> tuple[_PartKey, _Part | None, BookQuotes | None]:
        """One book-game: the last snapshot's part if its bytes are unchanged, else read.

        Raises:
            ParseError: the bookmaker is not an object.
        """
        key = (event_id, book)
        part = previous.get(key)
        if part is not None and (part.timed_at is None or part.timed_at == at):
            return key, part, None
        return key, None, read_book(game.event, book, at)

    def _new_part(
        self,
        book: BookQuotes,
        mapping: Resolved,
        at: float,
        held: dict[CellKey, _Held],
        updates: list[PriceUpdate],
    ) -> _Part:
        """Compare a book-game read now with what the engine holds, cell by cell.

        The prices that differ are appended to ``updates`` and noted in ``held``.
        """
        refused_before = self.bounds.refused
        cells: dict[CellKey, None] = {}
        invalid = 0
        for quote in self.bounds.apply(book.quotes):
            try:
                update = to_update(quote, mapping)
            except InvalidMarketError:
                invalid += 1
                continue
            cell, value = cell_key(quote), (quote.price, quote.quoted_at)
            cells[cell] = None
            if held.get(cell) != value:
                updates.append(update)
                held[cell] = value
        return _Part(
            cells=tuple(cells),
            quotes=len(book.quotes),
            markets=book.skipped_markets,
            outcomes=book.skipped_outcomes,
            prices=book.skipped_prices,
            invalid=invalid,
            refused=self.bounds.refused - refused_before,
            timed_at=at if book.timed_by_caller else None,
        )


#: A book-game of a sport: the provider event id, and the bookmaker's JSON as pushed.
_PartKey = tuple[str, bytes]


@dataclass(frozen=True, slots=True)
class _Part:
    """What one book-game of the last snapshot gave: its cells and its counts.

    ``timed_at`` is the time its quotes took when the book had no ``last_update``
    (None when it had one): the same bytes at another time are other quotes.
    """

    cells: tuple[CellKey, ...]
    quotes: int
    markets: int
    outcomes: int
    prices: int
    invalid: int
    refused: int
    timed_at: float | None


@dataclass(slots=True)
class _Totals:
    """A snapshot's counts, summed over its book-games."""

    games: int = 0
    quotes: int = 0
    markets: int = 0
    outcomes: int = 0
    prices: int = 0
    invalid: int = 0

    def add(self, part: _Part) -> None:
        """Count one book-game in."""
        self.quotes += part.quotes
        self.markets += part.markets
        self.outcomes += part.outcomes
        self.prices += part.prices
        self.invalid += part.invalid


@dataclass(slots=True)
class _SportState:
    """What one sport's last snapshot left with the engine.

    ``held``: each cell the engine was sent, and its (price, quoted_at), or None after a
    dropped batch, when what the engine holds is unknown. ``owners``: how many book-games
    of the last snapshot quote each cell (a cell is withdrawn when none does).
    ``parts``: the last snapshot's book-games. ``withdrawn``: the cells its batch
    withdrew, which the engine may still hold if that batch is dropped.
    """

    held: dict[CellKey, _Held] = field(default_factory=dict)
    owners: dict[CellKey, int] = field(default_factory=dict)
    parts: dict[_PartKey, _Part] = field(default_factory=dict)
    withdrawn: tuple[CellKey, ...] = ()
    #: Set by `forget`: the next snapshot is compared with nothing, cell by cell.
    in_full: bool = False

    def release(self, parts: dict[_PartKey, _Part]) -> list[CellKey]:
        """Make ``parts`` the last snapshot's; return the cells no book-game quotes now.

        Those are forgotten here, for the caller to withdraw; sorted, so that replays are
        identical.
        """
        owners, gone = self.owners, []
        if self.in_full:
            gone = [cell for cell in self.held if cell not in owners]
        else:
            for key, part in self.parts.items():
                if key in parts:
                    continue
                for cell in part.cells:
                    count = owners[cell] - 1
                    if count:
                        owners[cell] = count
                    else:
                        del owners[cell]
                        gone.append(cell)
        gone.sort()
        for cell in gone:
            self.held.pop(cell, None)
        self.parts, self.withdrawn, self.in_full = parts, tuple(gone), False
        return gone

    def forget(self) -> None:
        """The engine never got the last batch: send the next snapshot in full.

        Every quote is then sent again, and every cell the engine may still hold is
        withdrawn unless quoted: the held ones, and those the lost batch withdrew.
        """
        self.held = dict.fromkeys([*self.held, *self.withdrawn])
        self.owners, self.parts, self.withdrawn, self.in_full = {}, {}, (), True


def _count(value: object) -> TypeGuard[int]:
    """Whether a JSON value is a count (a whole number >= 0, not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _longer_than(frame: str | bytes, limit: int) -> bool:
    """Whether ``frame`` is over ``limit`` bytes as UTF-8, encoding only when in doubt.

    A character is 1 to 4 bytes, so most frames are decided by their length alone.
    """
    if isinstance(frame, bytes) or len(frame) > limit:
        return len(frame) > limit
    if 4 * len(frame) <= limit:
        return False
    return len(frame.encode("utf-8", errors="surrogatepass")) > limit
