"""RapidOddsAPI driver: settings, a pure session, and the feed that runs it over httpx-ws.

Three layers, after the house style (sans-I/O core, thin I/O shell):

`RapidOddsSettings`
    What one configured RapidOddsAPI feed asks for, validated when it is built.
`RapidOddsSession`
    Pure and replayable: frames and REST bodies go in (with the time they arrived), and
    `SessionResult`s come out, carrying the `FeedBatch` for the engine. It holds the event
    identity, what the engine has been sent per sport, and the credit figures. A recording
    fed through a new session gives the same batches again.
`RapidOddsFeed`
    The I/O: an optional REST bootstrap, the odds WebSocket, the REST polling fallback,
    reconnects (`arbwatch.feeds.connection.reconnecting`), recording and redaction.

How a push becomes a batch
    Every ``odds_update`` push (and every REST snapshot) is a full snapshot of one sport's
    subscribed scope, so it replaces what that sport quoted before: a cell quoted before
    and missing now is withdrawn (price NaN, `snapshot_withdrawals`), and a cell whose
    price and quote time are what the engine already has is not sent again. The first
    push after a reconnect therefore neither withdraws what merely was not pushed while
    the connection was down, nor sends the whole sport again: only what changed. When the
    engine is behind and a batch is dropped (`Handoff`), the session forgets what it
    believed the engine had for that sport, and the next snapshot of it is sent in full,
    with a withdrawal of every cell the engine may still hold from before.

What the feed does on each failure
    ===========================================  ===========================================
    403 at the WebSocket handshake               probe ``GET /usage`` (free) with the same
                                                 key: 200 means the plan lacks WebSocket
                                                 (the free tier): poll REST every
                                                 ``poll_interval`` for the rest of the run;
                                                 401/403 means the key is refused
    close code 4001, REST 401/403                the key is refused: REFUSED (a health
                                                 alert), tried again every ``key_retry``
                                                 (doubling to 3x), since a key or a
                                                 subscription can be renewed
    REST 400/404/422                             fatal: a sport, book or market the API
                                                 rejects will not turn valid by retrying
    ``error`` event about credits                the server skips the push and keeps the
                                                 socket: stay connected (``out_of_credits``)
                                                 and ask the free ``/usage`` every
                                                 ``credits_retry`` until credits are back;
                                                 the next push resumes by itself
    REST 429 about credits                       retry after ``credits_retry`` (credits do
                                                 not come back within a backoff)
    REST 429 rate limit, 5xx, network, closes,   retry after the backoff (or Retry-After
    ``idle_timeout`` of silence                  when the server gives a longer one)
    a malformed or binary frame                  counted in ``stats.malformed``, skipped
    a message over ``max_frame_bytes``           refused while it arrives: closed with 1009,
                                                 counted (``oversized_frames``), reconnect
    any other ``error`` event                    logged, the connection stays up
    ===========================================  ===========================================

Secrets
    The API key travels in the query string (REST and WebSocket). Nothing here puts it in
    a message: URLs are logged and recorded redacted, and every error is redacted by
    `reconnecting`. Third-party libraries do log URLs (httpx logs every request at INFO),
    so `install_redaction` puts a `RedactingFilter` on the loggers that create those
    records; see its docstring for why loggers rather than handlers.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Final, TypeGuard, TypeVar
from urllib.parse import quote

import anyio
import httpx
import msgspec
from anyio.streams.memory import MemoryObjectSendStream
from httpx_ws import (
    AsyncWebSocketSession,
    WebSocketDisconnect,
    WebSocketUpgradeError,
)

from arbwatch.core.markets import Event, PriceUpdate
from arbwatch.errors import ArbwatchError, InvalidMarketError
from arbwatch.feeds.base import (
    KEY_REFUSED_CLOSE_CODE,
    MAX_FRAME_BYTES,
    REDACTED_LOGGERS,
    Backoff,
    FeedBatch,
    FeedError,
    install_redaction,
    read_error_bodies,
    redact,
    retry_after_seconds,
    truncate,
    websocket_url,
)
from arbwatch.feeds.bounded_ws import aconnect_bounded
from arbwatch.feeds.connection import (
    DEFAULT_KEY_RETRY,
    FeedState,
    FeedStats,
    Handoff,
    frames,
    key_retry_backoff,
    reconnecting,
)
from arbwatch.feeds.identity import EventIdentity, Resolved, normalize_sport, to_update
from arbwatch.feeds.model import (
    DEFAULT_MAX_PRICE,
    PRICES_OUT_OF_RANGE,
    CellKey,
    ParseError,
    PriceBounds,
    cell_key,
)
from arbwatch.feeds.pacing import RAPIDODDS_RATE, PacedClient
from arbwatch.feeds.rapidodds import (
    PROVIDER,
    Connected,
    ErrorEvent,
    OddsUpdate,
    RapidMessage,
    Snapshot,
    Subscribed,
    Unsubscribed,
    credits_per_push,
    parse_message,
    parse_snapshot,
    snapshot_withdrawals,
)
from arbwatch.feeds.recording import FrameRecorder, RecordedFrame

log = logging.getLogger(__name__)

#: RapidOddsAPI's REST host; the odds WebSocket is ``wss://`` on the same host, path /ws.
DEFAULT_BASE_URL: Final = "https://api.rapidoddsapi.com"
#: RapidOddsAPI sends no heartbeat, and pushes follow scrape cycles whose cadence depends
#: on the sport; five minutes without a frame means the connection is dead.
DEFAULT_IDLE_TIMEOUT: Final = 300.0
#: Out of credits, how often to ask the free ``/usage`` whether they are back (and to retry
#: a REST request refused for credits): a top-up is noticed within this long, and
#: ``/usage`` costs nothing.
DEFAULT_CREDITS_RETRY: Final = 30.0
#: Seconds between REST snapshots when the plan has no WebSocket.
DEFAULT_POLL_INTERVAL: Final = 60.0
#: Protocol-level pings, the only liveness check a quiet RapidOddsAPI socket has.
KEEPALIVE_SECONDS: Final = 20.0
#: What httpx-ws reads from the socket at a time. httpx-ws calls this
#: ``max_message_size_bytes``, but it is only a read-chunk size; the frame limit
#: (`RapidOddsSettings.max_frame_bytes`) is enforced while a message arrives, by
#: `arbwatch.feeds.bounded_ws`.
READ_CHUNK_BYTES: Final = 256 * 1024
#: Timeout of each REST request (connect, read, write, pool), in seconds.
REST_TIMEOUT: Final = 30.0
#: The loggers that create records which can hold a URL with the key in its query.
#: How much of an oversized frame a recording keeps (it stays unreadable on replay too).
_RECORDED_OVERSIZED_CHARS: Final = 1000

_T = TypeVar("_T", bound=BaseException)


class RapidOddsSettingsError(ArbwatchError, ValueError):
    """A RapidOddsAPI feed configured in a way the API would refuse; names the feed."""


# --- settings --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RapidOddsSettings:
    """One RapidOddsAPI feed's configuration.

    Attributes:
        name: the feed's name, on its batches, stats and log lines.
        api_key: the key (starts with ``oa_``). Never shown: left out of ``repr``.
        sports: RapidOddsAPI sport ids ("NBA", "EPL"); one subscription each.
        bookmakers: feed names as RapidOddsAPI spells them ("Pinnacle", "DraftKings").
        market_types: market keys ("head_to_head", "alternate_lines").
        base_url: the REST base URL, overridable for a proxy, relay or simulator. The
            WebSocket URL derives from it: ``http`` becomes ``ws``, ``https`` becomes
            ``wss``, and ``/ws`` is appended to its path (see `ws_url`).
        idle_timeout: seconds without any frame after which the connection is presumed
            dead and reopened. RapidOddsAPI sends no heartbeats; pushes follow scrape
            cycles, so keep this above the slowest sport's cycle.
        credits_retry: seconds between looks at ``/usage`` while out of credits (and the
            wait before a REST request refused for credits is tried again).
        poll_interval: seconds between REST snapshots when the plan lacks WebSocket.
        rest_bootstrap: take one REST snapshot per sport at start, so that prices are
            known before the first push (a push only follows the next scrape cycle).
            Costs the same credits as one push per sport.
        max_frame_bytes: the largest WebSocket message read; a larger one is refused
            as it arrives (the connection closed with 1009, counted, opened again).
        key_retry: seconds before a refused key is tried again (a key can be renewed);
            the wait doubles up to three times this.
        max_requests_per_second: REST requests (snapshots, polling, ``/usage``) are
            spaced to stay under this rate: RapidOddsAPI allows 30 a second per key.
        max_price: the longest decimal odds taken; a longer price withdraws the quote
            and is counted (``prices_out_of_range`` in the feed's stats).

    Raises:
        RapidOddsSettingsError: a key without ``oa_``, an empty or blank list, a base
            URL that is not http(s), or a non-positive interval.
    """

    name: str
    api_key: str = field(repr=False)
    sports: tuple[str, ...]
    bookmakers: tuple[str, ...]
    market_types: tuple[str, ...]
    base_url: str = DEFAULT_BASE_URL
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    credits_retry: float = DEFAULT_CREDITS_RETRY
    poll_interval: float = DEFAULT_POLL_INTERVAL
    rest_bootstrap: bool = True
    max_frame_bytes: int = MAX_FRAME_BYTES
    max_requests_per_second: float = RAPIDODDS_RATE
    key_retry: float = DEFAULT_KEY_RETRY
    max_price: float = DEFAULT_MAX_PRICE

    def __post_init__(self) -> None:
        """Validate, and keep each list as a tuple without repeats."""
        # Checked as objects: settings come from YAML, where any type can turn up.
        name: object = self.name
        if not _is_name(name):
            raise RapidOddsSettingsError("a RapidOddsAPI feed needs a name")
        where = f"feed {self.name!r}"
        key: object = self.api_key
        # The key itself is never quoted back: the message would end up in logs.
        if not _is_name(key) or not key.startswith("oa_") or len(key) == len("oa_"):
            raise RapidOddsSettingsError(f"{where}: api_key: RapidOddsAPI keys start with 'oa_'")
        if any(c.isspace() for c in key):
            raise RapidOddsSettingsError(f"{where}: api_key: contains whitespace")
        for names in ("sports", "bookmakers", "market_types"):
            object.__setattr__(self, names, _names(where, names, getattr(self, names)))
        url = _parse_url(where, self.base_url)
        if url.scheme not in ("http", "https") or not url.host or url.query:
            raise RapidOddsSettingsError(
                f"{where}: base_url: expected http(s)://host[/path] without a query, "
                f"got {redact(self.base_url)!r}"
            )
        for interval in ("idle_timeout", "poll_interval", "key_retry"):
            value = getattr(self, interval)
            if not _finite(value) or value <= 0:
                raise RapidOddsSettingsError(
                    f"{where}: {interval}: expected seconds > 0, got {value}"
                )
        rate = self.max_requests_per_second
        if not _finite(rate) or rate <= 0:
            raise RapidOddsSettingsError(
                f"{where}: max_requests_per_second: expected a number > 0, got {rate}"
            )
        if not _finite(self.credits_retry) or self.credits_retry < 0:
            raise RapidOddsSettingsError(
                f"{where}: credits_retry: expected seconds >= 0, got {self.credits_retry}"
            )
        if not _finite(self.max_price) or self.max_price <= 1.0:
            raise RapidOddsSettingsError(
                f"{where}: max_price: expected decimal odds above 1.0, got {self.max_price}"
            )
        limit: object = self.max_frame_bytes
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise RapidOddsSettingsError(
                f"{where}: max_frame_bytes: expected a positive integer, got {self.max_frame_bytes}"
            )

    @property
    def ws_url(self) -> str:
        """The odds WebSocket URL, without the key (it goes in as a query parameter).

        ``https://api.rapidoddsapi.com`` gives ``wss://api.rapidoddsapi.com/ws``, and
        ``http://127.0.0.1:8000/relay`` gives ``ws://127.0.0.1:8000/relay/ws``.
        """
        return websocket_url(self.base_url, "/ws")

    def markets_url(self, sport: str) -> str:
        """The REST odds endpoint of one sport: ``{base}/sports/{sport}/markets``."""
        return f"{self.base_url.rstrip('/')}/sports/{quote(sport, safe='')}/markets"

    @property
    def usage_url(self) -> str:
        """The free ``/usage`` endpoint: the key's tier and credits."""
        return f"{self.base_url.rstrip('/')}/usage"

    @property
    def credits_per_push(self) -> int:
        """What one push (or REST snapshot) of one sport costs, by the documented formula."""
        return credits_per_push(len(self.market_types), len(self.bookmakers))


def _names(where: str, field_name: str, values: object) -> tuple[str, ...]:
    """A non-empty tuple of non-blank names, repeats dropped (the API counts them once)."""
    # A bare string is a sequence too: "NBA" would otherwise become ("N", "B", "A").
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise RapidOddsSettingsError(f"{where}: {field_name}: expected a list of names")
    names = tuple(values)
    if not names:
        raise RapidOddsSettingsError(f"{where}: {field_name}: must not be empty")
    for value in names:
        if not _is_name(value):
            raise RapidOddsSettingsError(
                f"{where}: {field_name}: expected non-blank names, got {value!r}"
            )
    return tuple(dict.fromkeys(names))


def _parse_url(where: str, text: object) -> httpx.URL:
    """``text`` as a URL, or a settings error."""
    if not isinstance(text, str):
        raise RapidOddsSettingsError(f"{where}: base_url: expected a URL")
    try:
        return httpx.URL(text)
    except httpx.InvalidURL as error:
        raise RapidOddsSettingsError(f"{where}: base_url: {error}") from None


def _is_name(value: object) -> TypeGuard[str]:
    """Whether ``value`` is text with something other than spaces in it."""
    return isinstance(value, str) and bool(value.strip())


def _finite(value: object) -> bool:
    """Whether ``value`` is a real, finite number (bools excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- the pure session ------------------------------------------------------------------


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


# --- redaction -------------------------------------------------------------------------


# --- the feed --------------------------------------------------------------------------


class RapidOddsFeed:
    """Runs one RapidOddsAPI feed: REST bootstrap, WebSocket pushes, or REST polling.

    ``stats`` is the feed's `FeedStats`. ``frames`` counts WebSocket frames and REST
    snapshots; ``malformed`` the unreadable or oversized ones; ``last_message_at`` is set
    by every one received, batch or not (an unchanged push carries no batch). In
    ``stats.extra``: ``credits_per_push`` (the server's figure, summed over the sports),
    ``credits_charged_total``, ``credits_remaining`` (once known), ``oversized_frames``,
    ``skipped_parts`` (games, markets, outcomes and prices the parser skipped),
    ``polling`` (1.0 once on REST polling), ``rest_requests`` (REST requests sent, paced
    to ``max_requests_per_second``) and ``rate_limited`` (429s for the rate, each retried).
    """

    def __init__(
        self,
        settings: RapidOddsSettings,
        identity: EventIdentity,
        *,
        client: httpx.AsyncClient | None = None,
        recorder: FrameRecorder | None = None,
        clock: Callable[[], float] = time.time,
        backoff_factory: Callable[[], Backoff] = Backoff,
    ) -> None:
        """Prepare the feed; nothing connects until `run`.

        Args:
            settings: what to subscribe to, and where.
            identity: the event identity shared with the other feeds.
            client: the HTTP client for REST and the WebSocket handshake; one is made (and
                closed) by `run` when None. `read_error_bodies` is added to its response
                hooks, so that a refused handshake's reason can be read.
            recorder: records every WebSocket frame and REST body, when given.
            clock: wall-clock time in epoch seconds, stamped on every frame received.
            backoff_factory: makes the reconnect backoff (small delays in tests).
        """
        self.settings = settings
        self.stats = FeedStats(settings.name, extra={PRICES_OUT_OF_RANGE: 0.0})
        self.session = RapidOddsSession(
            identity,
            feed=settings.name,
            expected_credits_per_push=settings.credits_per_push,
            max_frame_bytes=settings.max_frame_bytes,
            max_price=settings.max_price,
        )
        self._client = client
        self._recorder = recorder
        self._clock = clock
        self._backoff_factory = backoff_factory
        self._secrets = (settings.api_key,)
        self._polling = False
        self._usage_checked = False
        #: The server said the credits ran out and skips the pushes; see `out_of_credits`.
        self._credits_exhausted = False
        #: The credits came back with a push: ask ``/usage`` once more for the new figures.
        self._usage_due = False
        self._bootstrapped: set[str] = set()
        self._http: httpx.AsyncClient | None = None
        self._handoff: Handoff | None = None
        self._rest = PacedClient(settings.name, settings.max_requests_per_second)
        self.stats.extra.update(rest_requests=0.0, rate_limited=0.0)

    @property
    def out_of_credits(self) -> bool:
        """Whether the credits ran out and have not come back (the socket stays open)."""
        return self._credits_exhausted

    @property
    def polling(self) -> bool:
        """Whether the feed fell back to REST polling (the plan has no WebSocket)."""
        return self._polling

    async def run(self, out: MemoryObjectSendStream[FeedBatch]) -> None:
        """Feed batches to ``out`` until a fatal failure or cancellation.

        Returns after a fatal failure, with ``stats.state`` FAILED and ``stats.fatal_error``
        saying why (redacted). Never blocks on ``out``: when it is full, batches are
        dropped and counted. ``out`` is not closed: it belongs to the caller.
        """
        install_redaction([self.settings.api_key], (*REDACTED_LOGGERS, __name__))
        self._handoff = Handoff(out, self.stats)
        try:
            async with AsyncExitStack() as stack:
                client = self._client
                if client is None:
                    client = await stack.enter_async_context(
                        httpx.AsyncClient(timeout=REST_TIMEOUT)
                    )
                _add_error_body_hook(client)
                self._http = client
                async with anyio.create_task_group() as group:
                    group.start_soon(self._watch_credits)
                    await reconnecting(
                        self._attempt,
                        self.stats,
                        backoff=self._backoff_factory(),
                        key_retry=key_retry_backoff(self.settings.key_retry),
                        secrets=self._secrets,
                    )
                    group.cancel_scope.cancel()
        finally:
            if self.stats.state is not FeedState.FAILED:
                self.stats.state = FeedState.STOPPED

    # -- one attempt ------------------------------------------------------------------------

    async def _attempt(self, healthy: Callable[[], None]) -> None:
        """One connection: bootstrap if still due, then the WebSocket, or polling."""
        if self._polling:
            await self._poll(healthy, wait_first=False)
            return
        await self._check_usage()
        fresh = await self._bootstrap()
        refusal = await self._websocket(healthy)
        await self._fall_back_to_polling(refusal)
        healthy()
        await self._poll(healthy, wait_first=fresh)

    async def _websocket(self, healthy: Callable[[], None]) -> httpx.Response:
        """Run the WebSocket until it fails; return the refusal of a 403 handshake.

        A 403 may only mean that the plan lacks WebSocket, which the caller finds out;
        every other failure is raised, a close with 4001 as a fatal `FeedError`.
        """
        try:
            await self._stream(healthy)
        except Exception as error:
            refused = _leaf(error, WebSocketUpgradeError)
            if refused is not None and refused.response.status_code == 403:
                return refused.response
            closed = _leaf(error, WebSocketDisconnect)
            if closed is not None and closed.code == KEY_REFUSED_CLOSE_CODE:
                raise FeedError(
                    "RapidOddsAPI closed the connection with code 4001 (authentication "
                    f"failed: {closed.reason or 'no reason given'}); check the API key",
                    fatal=False,
                    key_refused=True,
                ) from error
            raise
        # A stream ends by raising (the idle timeout included); this is for completeness.
        raise FeedError("the WebSocket ended", fatal=False)

    async def _stream(self, healthy: Callable[[], None]) -> None:
        """Read the odds WebSocket until it fails; subscribe on every ``connected``."""
        settings = self.settings
        url = settings.ws_url
        log.info("feed %s: connecting to %s", settings.name, url)
        ws: AsyncWebSocketSession
        async with aconnect_bounded(
            url,
            self._client_or_fail(),
            max_message_bytes=settings.max_frame_bytes,
            read_chunk_bytes=READ_CHUNK_BYTES,
            keepalive_seconds=KEEPALIVE_SECONDS,
            params={"api_key": settings.api_key},
        ) as ws:
            greeted = False
            async for frame in frames(ws, settings.idle_timeout, self.stats):
                received_at = self._clock()
                self.stats.frames += 1
                self.stats.last_message_at = received_at
                self._record("ws", url, frame, received_at)
                result = self._read(frame, partial(self.session.handle_message, frame, received_at))
                if result is None:
                    continue
                # Handed over first, so the credit figures are current even when the
                # message ends the connection (out of credits).
                self._deliver(result)
                message = result.message
                if isinstance(message, Connected) and not greeted:
                    # A new connection has no subscriptions: RapidOddsAPI drops them all
                    # when a connection ends, so every connection subscribes afresh.
                    greeted = True
                    healthy()
                    await self._subscribe(ws)
                elif isinstance(message, Subscribed):
                    self._on_subscribed(message, result.credits_mismatch)
                elif isinstance(message, ErrorEvent):
                    self._on_error(message)
                elif isinstance(message, OddsUpdate):
                    self.stats.last_data_at = received_at
                    # A push that cost nothing (no games) says nothing about credits.
                    if message.credits_charged:
                        self._credits_back("a push was charged")
                elif isinstance(message, Unsubscribed):
                    log.warning(
                        "feed %s: unsubscribed from %s", settings.name, truncate(message.sport)
                    )

    async def _subscribe(self, ws: AsyncWebSocketSession) -> None:
        """Send one subscribe message per configured sport."""
        settings = self.settings
        for sport in settings.sports:
            await ws.send_json(
                {
                    "action": "subscribe",
                    "sport": sport,
                    "bookmakers": list(settings.bookmakers),
                    "market_types": list(settings.market_types),
                }
            )

    def _on_subscribed(self, message: Subscribed, mismatch: bool) -> None:
        name = self.settings.name
        log.info(
            "feed %s: subscribed to %s (%s credits per push)",
            name,
            message.sport,
            "?" if message.credits_per_push is None else message.credits_per_push,
        )
        if mismatch:
            log.warning(
                "feed %s: RapidOddsAPI charges %s credits per push of %s; the documented "
                "formula gives %s (market types x ceil(bookmakers / 5))",
                name,
                message.credits_per_push,
                message.sport,
                self.settings.credits_per_push,
            )

    def _on_error(self, message: ErrorEvent) -> None:
        """Act on an ``error`` event: out of credits is noted, others are logged.

        Out of credits, RapidOddsAPI skips the push and keeps the socket and its
        subscriptions: the next push after a top-up or renewal comes by itself, so the
        connection stays, and `_watch_credits` asks ``/usage`` when they are back.
        """
        if message.insufficient_credits:
            self.stats.extra.update(self.session.credit_figures())
            if not self._credits_exhausted:
                self._credits_exhausted = True
                log.warning(
                    "feed %s: RapidOddsAPI: out of credits (%s); staying connected, "
                    "asking /usage every %g s",
                    self.settings.name,
                    redact(truncate(message.message), self._secrets),
                    self.settings.credits_retry,
                )
            return
        log.warning(
            "feed %s: RapidOddsAPI error: %s",
            self.settings.name,
            redact(truncate(message.message), self._secrets),
        )

    def _credits_back(self, how: str) -> None:
        """Note that the credits are back, if they had run out."""
        if self._credits_exhausted:
            self._credits_exhausted = False
            # A push says the credits are back, not how many: /usage will.
            self._usage_due = how != "/usage"
            log.warning("feed %s: RapidOddsAPI credits are back (%s)", self.settings.name, how)

    async def _watch_credits(self) -> None:
        """While out of credits, ask the free ``/usage`` every ``credits_retry`` seconds.

        Credits are back once they pay for one push: the error message's "you have N
        remaining" may be above zero and still too few.
        """
        settings = self.settings
        while True:
            await anyio.sleep(settings.credits_retry)
            if not (self._credits_exhausted or self._usage_due):
                continue
            self._usage_due = False
            try:
                response = await self._get(settings.usage_url, (("api_key", settings.api_key),))
            except httpx.HTTPError as error:
                log.debug("feed %s: /usage failed: %s", settings.name, self._redact(str(error)))
                continue
            if response.status_code != 200:
                continue
            self._read_usage(response)
            remaining = self.session.credits_remaining
            if remaining is not None and remaining >= settings.credits_per_push:
                self._credits_back("/usage")

    def _out_of_credits(self, detail: str) -> FeedError:
        # Credits come back with a renewal or a top-up: read the balance again next time.
        self._usage_checked = False
        # The wait is credits_retry; `reconnecting` says so ("reconnecting in 900.0 s").
        return FeedError(
            f"RapidOddsAPI: out of credits ({redact(detail, self._secrets)})",
            fatal=False,
            retry_after=self.settings.credits_retry,
        )

    # -- REST -------------------------------------------------------------------------------

    async def _check_usage(self) -> None:
        """Learn the tier and credits left from the free ``/usage``, when not known.

        Once per run, and again after running out of credits.

        Best effort: the figures are for status lines, and the requests that matter
        report their own failures.
        """
        if self._usage_checked:
            return
        self._usage_checked = True
        try:
            response = await self._get(
                self.settings.usage_url, (("api_key", self.settings.api_key),)
            )
        except httpx.HTTPError as error:
            log.debug("feed %s: /usage failed: %s", self.settings.name, self._redact(str(error)))
            return
        if response.status_code == 200:
            self._read_usage(response)

    async def _bootstrap(self) -> bool:
        """One REST snapshot per sport not yet bootstrapped; whether any was taken now."""
        if not self.settings.rest_bootstrap:
            return False
        taken = False
        for sport in self.settings.sports:
            if sport not in self._bootstrapped:
                await self._snapshot(sport)
                self._bootstrapped.add(sport)
                taken = True
        return taken

    async def _fall_back_to_polling(self, refusal: httpx.Response) -> None:
        """After a 403 handshake: poll REST if the key works there, else stop for good."""
        settings = self.settings
        ws_detail = _detail(refusal) or "no reason given"
        response = await self._get(settings.usage_url, (("api_key", settings.api_key),))
        status = response.status_code
        if status in (401, 403):
            raise FeedError(
                f"RapidOddsAPI refused the key: WebSocket handshake HTTP 403 ({ws_detail}), "
                f"REST HTTP {status} ({_detail(response) or 'no reason given'}); check the "
                "API key and that the subscription is active",
                fatal=False,
                key_refused=True,
            )
        if status != 200:
            raise self._rest_failure(response, "checking the key on REST")
        self._read_usage(response)
        self._polling = True
        self.stats.extra["polling"] = 1.0
        log.warning(
            "feed %s: the WebSocket was refused (%s) but the key works on REST (tier %r): "
            "the plan lacks WebSocket access, so polling REST every %g s instead",
            settings.name,
            ws_detail,
            self.session.tier or "unknown",
            settings.poll_interval,
        )

    async def _poll(self, healthy: Callable[[], None], *, wait_first: bool) -> None:
        """Take a snapshot of every sport each ``poll_interval`` seconds, for ever."""
        if wait_first:
            # The bootstrap just took these snapshots; taking them again now costs credits.
            await anyio.sleep(self.settings.poll_interval)
        while True:
            for sport in self.settings.sports:
                await self._snapshot(sport)
                healthy()
            await anyio.sleep(self.settings.poll_interval)

    async def _snapshot(self, sport: str) -> None:
        """GET one sport's odds and deliver them; raise on a refusal."""
        settings = self.settings
        # Repeated singular parameters, not comma lists, as RapidOddsAPI requires.
        params = (
            ("api_key", settings.api_key),
            *(("market_type", market_type) for market_type in settings.market_types),
            *(("bookmaker", bookmaker) for bookmaker in settings.bookmakers),
        )
        url = settings.markets_url(sport)
        response = await self._get(url, params)
        if response.status_code != 200:
            raise self._rest_failure(response, f"odds of {sport}")
        received_at = self._clock()
        self.stats.frames += 1
        self.stats.last_message_at = self.stats.last_data_at = received_at
        self._record("rest:snapshot", str(response.request.url), response.text, received_at)
        result = self._read(
            response.text,
            partial(self.session.handle_snapshot, response.content, sport, received_at),
        )
        if result is not None:
            self._deliver(result)

    async def _get(self, url: str, params: tuple[tuple[str, str], ...]) -> httpx.Response:
        """A paced GET; an error status is returned (with its body recorded), not raised.

        A 429 for the rate is retried in place after its Retry-After (`PacedClient`);
        refused every time, it raises a retryable `FeedError`.
        """

        def record_refusal(response: httpx.Response) -> None:
            if response.status_code != 200:
                self._record("rest:error", str(response.request.url), response.text, self._clock())

        try:
            return await self._rest.get(
                self._client_or_fail(), url, params=params, observe=record_refusal
            )
        finally:
            extra = self.stats.extra
            extra["rest_requests"] = self._rest.requests
            extra["rate_limited"] = self._rest.rate_limited

    def _read_usage(self, response: httpx.Response) -> None:
        self._record("rest:usage", str(response.request.url), response.text, self._clock())
        try:
            self.session.handle_usage(response.content)
        except ParseError as error:
            self._malformed(error, response.text)
            return
        self.stats.extra.update(self.session.credit_figures())

    def _rest_failure(self, response: httpx.Response, what: str) -> FeedError:
        """The error a REST refusal means for the feed (see the module docstring)."""
        status = response.status_code
        detail = _detail(response)
        reason = f"RapidOddsAPI {what}: HTTP {status}" + (f" ({detail})" if detail else "")
        if status == 429 and self.session.handle_refusal(detail).insufficient_credits:
            self.stats.extra.update(self.session.credit_figures())
            return self._out_of_credits(detail)
        if status in (401, 403):
            return FeedError(
                f"{reason}; check the API key and the subscription", fatal=False, key_refused=True
            )
        if status in (400, 404, 422):
            return FeedError(
                f"{reason}; check the feed's sports, bookmakers and market_types", fatal=True
            )
        return FeedError(reason, fatal=False, retry_after=retry_after_seconds(response))

    # -- shared -----------------------------------------------------------------------------

    def _read(self, frame: str, read: Callable[[], SessionResult]) -> SessionResult | None:
        """What ``read()`` makes of ``frame``, or None (counted) when it is unreadable."""
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            result = read()
        except OversizedFrameError as error:
            self.stats.extra["oversized_frames"] = self.stats.extra.get("oversized_frames", 0) + 1
            # Only a REST body gets here: a WebSocket message over the limit is refused
            # while it arrives (`arbwatch.feeds.bounded_ws`).
            self._malformed(error, frame)
        except ParseError as error:
            self._malformed(error, frame)
        else:
            # Decoding a full snapshot and finding what changed is this feed's cost per
            # push; `arbwatch bench --e2e` reads it from this line.
            log.debug(
                "feed %s: %d characters decoded and applied in %.1f ms (%.1f ms CPU)",
                self.settings.name,
                len(frame),
                (time.perf_counter() - started) * 1000,
                (time.process_time() - cpu_started) * 1000,
            )
            return result
        return None

    def _malformed(self, error: ParseError, frame: str) -> None:
        self.stats.malformed += 1
        log.warning(
            "feed %s: skipped an unreadable frame (%s): %s",
            self.settings.name,
            self._redact(str(error)),
            self._redact(truncate(frame)),
        )

    def _deliver(self, result: SessionResult) -> None:
        """Count what the result skipped, update credits, and hand its batch over."""
        stats = self.stats
        if result.skipped:
            stats.extra["skipped_parts"] = stats.extra.get("skipped_parts", 0) + result.skipped
        stats.extra.update(self.session.credit_figures())
        stats.extra[PRICES_OUT_OF_RANGE] = float(self.session.bounds.refused)
        if result.batch is None or self._handoff is None:
            return
        if not self._handoff.send(result.batch):
            self.session.batch_dropped(result.sport)
            dropped = stats.dropped_batches
            if dropped & (dropped - 1) == 0:  # 1, 2, 4, 8...: say it, without a flood
                log.warning(
                    "feed %s: the engine is behind; batches dropped so far: %d (the next "
                    "snapshot of each sport concerned is sent in full)",
                    self.settings.name,
                    dropped,
                )

    def _record(self, channel: str, source: str, frame: str, received_at: float) -> None:
        if self._recorder is None:
            return
        if len(frame) > self.settings.max_frame_bytes:
            # Bounded recordings: the cut frame stays unreadable, so a replay skips it too.
            frame = truncate(frame, _RECORDED_OVERSIZED_CHARS)
        self._recorder.record(
            RecordedFrame(
                received_at=received_at,
                feed=self.settings.name,
                provider=PROVIDER,
                channel=channel,
                source=self._redact(source),
                frame=frame,
            )
        )

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _client_or_fail(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("RapidOddsFeed used outside run()")
        return self._http


def _add_error_body_hook(client: httpx.AsyncClient) -> None:
    """Make sure ``client`` reads refusal bodies (`read_error_bodies`), once."""
    hooks = client.event_hooks
    if read_error_bodies not in hooks["response"]:
        client.event_hooks = {**hooks, "response": [*hooks["response"], read_error_bodies]}


def _detail(response: httpx.Response) -> str:
    """The ``detail`` of a RapidOddsAPI error body (FastAPI style), one line, bounded."""
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # a 422 lists its complaints
        detail = "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail
        )
    return truncate(detail) if isinstance(detail, str) else ""


def _leaf(error: BaseException, kind: type[_T]) -> _T | None:
    """The first exception of type ``kind`` in ``error``, looking inside exception groups.

    httpx-ws raises from inside its own task group, so what failed may arrive wrapped.
    """
    if isinstance(error, kind):
        return error
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            found = _leaf(inner, kind)
            if found is not None:
                return found
    return None
