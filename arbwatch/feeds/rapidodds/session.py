"""RapidOddsAPI session: frames and REST bodies in, batches out (pure and replayable).

Frames and REST bodies go in (with the time they arrived), and `SessionResult`s come out,
carrying the `FeedBatch` for the engine. It holds the event identity, what the engine has
been sent per sport, and the credit figures. A recording fed through a new session gives
the same batches again. How a push becomes a batch: `arbwatch.feeds.rapidodds.driver`.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    Connected,
    ErrorEvent,
    OddsUpdate,
    RapidMessage,
    Snapshot,
    Subscribed,
    parse_message,
    parse_snapshot,
    snapshot_withdrawals,
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
        # Per sport: what the engine was sent, and the cells it may have held before the
        # last snapshot (to undo the bookkeeping when that snapshot's batch is dropped).
        self._held: dict[str, dict[CellKey, _Held]] = {}
        self._before: dict[str, frozenset[CellKey]] = {}

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
            sport = message.sport or message.snapshot.sport
            return self._apply(sport, message.snapshot, message.timestamp, received_at, message)
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
        snapshot = parse_snapshot(
            body, provider=self.provider, sport=sport, received_at=received_at
        )
        if (snapshot.events or snapshot.skipped_games) and self.expected_credits_per_push:
            self._charge(self.expected_credits_per_push)
        return self._apply(sport, snapshot, received_at, received_at, None)

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
        scope = normalize_sport(sport)
        held = self._held.get(scope, {})
        maybe_held = self._before.get(scope, frozenset()) | held.keys()
        self._held[scope] = dict.fromkeys(maybe_held)

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
        snapshot: Snapshot,
        at: float,
        received_at: float,
        message: RapidMessage | None,
    ) -> SessionResult:
        """Turn a full snapshot of ``sport`` into the batch of what changed.

        The batch names the engine event of every game in the snapshot, and of every game
        a withdrawal is for, so that the engine can label any update it holds.
        """
        scope = normalize_sport(sport or snapshot.sport)
        held = self._held.get(scope, {})
        events: dict[str, Event] = {}
        resolved: dict[str, Resolved] = {}
        for provider_event in snapshot.events:
            mapping = self.identity.resolve(provider_event)
            resolved[provider_event.provider_event_id] = mapping
            events.setdefault(mapping.event.event_id, mapping.event)
        current: dict[CellKey, _Held] = {}
        updates: list[PriceUpdate] = []
        invalid = 0
        for parsed in self.bounds.apply(snapshot.quotes):
            # The parser only gives quotes of the games it returned, all resolved above.
            try:
                update = to_update(parsed, resolved[parsed.provider_event_id])
            except InvalidMarketError:
                invalid += 1
                continue
            cell, value = cell_key(parsed), (parsed.price, parsed.quoted_at)
            current[cell] = value
            if held.get(cell) != value:
                updates.append(update)
        withdrawals, _ = snapshot_withdrawals(held.keys(), snapshot, at=at)
        for withdrawal in withdrawals:
            mapping_or_none = self.identity.lookup(self.provider, withdrawal.provider_event_id)
            if mapping_or_none is None:  # pragma: no cover - held cells were resolved
                continue
            # Cannot raise: the same cell converted when it was first sent.
            updates.append(to_update(withdrawal, mapping_or_none))
            events.setdefault(mapping_or_none.event.event_id, mapping_or_none.event)
        self._before[scope] = frozenset(held)
        self._held[scope] = current
        batch = None
        if updates:
            batch = FeedBatch(self.feed, received_at, tuple(events.values()), tuple(updates))
        return SessionResult(
            message=message,
            batch=batch,
            sport=scope,
            quotes=len(snapshot.quotes),
            withdrawn=len(withdrawals),
            skipped_games=snapshot.skipped_games,
            skipped_markets=snapshot.skipped_markets,
            skipped_outcomes=snapshot.skipped_outcomes,
            skipped_prices=snapshot.skipped_prices,
            invalid_quotes=invalid,
        )


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
