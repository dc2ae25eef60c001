"""A TheRundown simulator: the provider's V2 REST, delta feed and WebSockets, on loopback.

`RundownSimulator` is a plain ASGI application (run it with `arbwatch.sim.server.serve`)
that renders the shared `World` the way TheRundown does (spec: providers.md section 1). Tags
below: [C] the spec confirms it, [I] the spec calls it inference and this is our choice.

Endpoints:

    GET /api/v2/sports                         no key   {"sports":[{sport_id, sport_name}]}
    GET /api/v2/affiliates (and /sportsbooks)  no key   {"affiliates":[{affiliate_id, ...}]}
    GET /api/v2/sports/{sport_id}/events/{YYYY-MM-DD}   {"meta":{"delta_last_id"},"events"}
    GET /api/v2/events/{event_id}                       {"meta":null,"events":[...]} or 404
    GET /api/v2/markets/delta?last_id=...               {"meta":{...},"deltas":[...]}
    WS  /api/v2/ws/markets   flat ``market_price`` frames and heartbeats
    WS  /api/v1/ws           legacy ``moneyline`` / ``spread`` / ``total`` frames, heartbeats

Authentication [C]: the ``key`` query parameter or the ``X-TheRundown-Key`` header (any
case; the header wins when both are sent). A missing or unknown key gets 401
``{"error": ...}``; a key whose plan has no WebSocket access is refused the handshake with
403 [I: the spec presumes 403]. Each key is held to its plan's burst limit (Free 1, Starter
2, Pro 5, Ultra 10, Super 15, Mega 20, Max 50 requests a second; ``burst_limit`` overrides
it): past that many authenticated requests in a rolling second of ``rate_clock`` (the
event loop's by default, as the provider counts real seconds), a 429 ``Retry-After: 1``
``{"error":"Rate limit exceeded"}`` [C]. `requests` counts every REST request by key and
path (refused ones included), `throttled` the 429s, `usage` the data points billed.
Authenticated REST answers carry ``X-Datapoints`` (prices or delta entries sent),
``X-Datapoints-Used/-Remaining/-Limit/-Period``, ``X-Tier``, ``X-Data-Delay-Seconds`` and
``X-Websocket-Access``; the data delay is only reported, never applied.

Mapping the world to TheRundown's V2 markets (period_id 0, full game, everywhere):

    world market      market_id  name       participants (REST id = WS normalized id)
    moneyline            1       moneyline  TYPE_TEAM, id = team_id, line value ""
    moneyline 3-way      1       moneyline  as above + TYPE_RESULT "Draw" id 1003 [I]
    spread               2       handicap   TYPE_TEAM, value = that team's own handicap
                                            (home "-4.5", away "4.5") [C]
    total                3       totals     TYPE_RESULT "Over" 1001 / "Under" 1002 [C]
    player prop points  29       points     TYPE_PLAYER "<player> Over" / "<player> Under",
                                            ids player_id*10+1 / +2, value = points [I]

- Participants are listed away first, then home (then draw), as ``teams[]`` is [C].
- Team names: ``teams[].name`` + ``mascot`` for North American sports ("Boston" +
  "Celtics"), the whole name and no mascot for soccer; participant names are the full team
  name. Team ids are the world's, which are unique within a sport, not across sports.
- Over/Under/Draw ids are the same in every event, as TheRundown's result ids are [I,
  from the spec's examples]. Player ids are given from 50001 in order of first appearance.
- The WS ``normalized_market_participant_type`` is 1 team, 2 player, 3 result [I].
- Prices are American odds, ``round(decimal_to_american(p))``; a quote off the board
  (world price None) is the sentinel ``0.0001`` [C]. REST prices are JSON numbers, the
  delta feed and the WS send strings [C]. The WS ``previous_price`` has four decimals
  ("-122.0000") as in the provider's example, the delta feed's has none ("-110") as in
  its example; ``price_delta`` is price minus previous price, sentinel included, like V1's
  deltas [C for V1, I for V2]; a first price has no previous price (null, delta 0).
- A move to or from the sentinel is an ordinary ``price_change`` with ``closed_at`` null:
  the world never closes a market, it only takes quotes off the board [I]. A quote the
  simulator has never seen before is ``new``.
- Ids: the WS frame's ``id`` is the delta entry's ``id`` (so a frame joins to the delta
  log) [I]; ``market_participant_id`` (per book), the REST price ``id``, market ``id``,
  V1 ``line_id`` (per event and book) are stable integers; line ``id`` is 32 hex.

Delta log and cursors. Every published change gets the next integer id and goes to the
delta log, whether or not a socket carried it, so a client can recover over REST what a
socket dropped. ``meta.delta_last_id`` (a string [C]) is the id of the newest entry;
``/markets/delta?last_id=C`` returns the entries after ``C`` that pass the filters
(``sport_id``, ``affiliate_ids``, ``market_ids``, ``event_id``), at most ``limit`` (default
1000, at most 5000) of them; ``has_more`` says entries remain past the returned cursor. A
cursor that is not an integer this simulator has issued gets 400 "last_id not found"; a
cursor is stale (400 "last_id is stale (>30 min)") when the first entry it has not seen
is older than ``cursor_max_age`` seconds of the injected clock, which is when those
entries are also pruned, or was pruned because the log holds ``max_delta_entries`` newer
ones (so memory stays flat at any rate). A cursor with nothing after it never goes
stale [I].

V2 WebSocket [C]: push only, filters ``sport_ids``, ``market_ids``, ``affiliate_ids``,
``event_ids`` (comma-separated; a bad one refuses the handshake with 400 [I]), one frame
per changed quote, heartbeats every ``heartbeat_interval`` seconds, a per-client buffer
of ``client_buffer`` frames past which frames are dropped silently [C].

V1 WebSocket: filters ``sport_ids``, ``affiliate_ids``, ``event_ids`` and ``date``
(YYYY-MM-DD, UTC). The changed quotes of one publish are grouped per event, market and
book into one frame carrying the whole line (e.g. both moneyline sides), with each
``*_delta`` against the value before the publish, the sentinel included (a new line's
deltas are against 0.0001) [C]. A line or total whose side is off the board is
0.0001 too [I]. ``moneyline_draw`` is 0.0001 for sports without draws [C]. Player props
have no V1 form and are not sent; V2 ``market_price`` frames are not mirrored on the V1
socket (the real one also streams them [C]; arbwatch reads V2 from the V2 socket).

Who advances the world. Nothing moves by itself: `RundownSimulator.advance` steps the
world at ``clock()`` and publishes what changed; `RundownSimulator.run` does that every
``interval`` seconds and hands the same changes to other simulators (``also``);
`RundownSimulator.publish` takes changes a step made elsewhere. ``World.step`` returns
each change only once, so when two simulators share a World exactly one of them (or
one other driver) must step it and publish the changes to all of them; a simulator
stepping a shared world on its own would hide those changes from the other. REST reads
the simulator's own copy of the quotes, updated by `publish`, so a snapshot and its
``delta_last_id`` always agree. Everything is synchronous between awaits and runs in the
server's event loop, which is what makes sharing safe; none of it is thread-safe.

Faults (`arbwatch.sim.faults.Faults`), read on every connection and before every frame
(live connections look at the switches every ``poll_interval`` seconds):

- ``refuse_handshake``: refuse WS handshakes with that status (before the key is
  checked), a JSON error body and, with 429, ``Retry-After`` (``retry_after`` written
  with ``:g``, so 2.0 is "2" and 0.5 is "0.5"; "1" if unset).
- ``drop``: while on, every live connection ends without a close frame; new ones are
  accepted and then dropped too. The client sees the TCP stream end (httpx-ws raises
  ``WebSocketNetworkError``).
- ``close_code``: the connections live when the switch is noticed are closed with that
  code; the switch then resets to None, so later connections are left alone. A stalled
  connection closes when its stall ends.
- ``silent``: no data frame and no heartbeat while on; data is discarded, not delayed
  (the delta log keeps it).
- ``stall``: accepted connections send nothing while on; data waits in the per-client
  buffer (and overflows it) and is sent when the stall ends. Incoming frames are still
  consumed, since uvicorn answers a client's close frame itself whatever the app does.
- ``malformed_frames``: the next frames (data or heartbeat) are cut in half.
- ``oversized_frames``: the next frames are padded with trailing spaces (still valid JSON)
  to more than ``oversized_bytes`` bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import math
import re
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final, Literal, Protocol
from urllib.parse import parse_qs

import anyio
import msgspec

from arbwatch.asgi import Message, Receive, Scope, Send
from arbwatch.core.markets import AWAY, DRAW, HOME, OVER, UNDER, MarketKind
from arbwatch.core.odds import decimal_to_american
from arbwatch.sim.faults import Faults
from arbwatch.sim.server import serve_lifespan
from arbwatch.sim.world import SPORTS, Quote, SimBook, SimEvent, SimMarket, World

#: The key the default simulator accepts (an Ultra plan, with WebSocket access).
DEFAULT_KEY: Final = "rundown-sim-key"
#: TheRundown's "off the board" price and line.
OFF_BOARD: Final = 0.0001
#: Cursors whose first unseen change is older than this are stale (seconds).
CURSOR_MAX_AGE: Final = 30 * 60.0
#: The most changes the delta log keeps, whatever their age: about 75 MB. The simulator
#: forgets what TheRundown forgets (30 minutes), and at high rates sooner, so that a demo
#: or soak left running stays flat: at 1,000 changes a second this is 5 minutes of them,
#: and an older cursor is stale, as one past 30 minutes is [I].
MAX_DELTA_ENTRIES: Final = 300_000
#: Frames one client may have waiting before newer ones are dropped (the OpenAPI's 256).
CLIENT_BUFFER: Final = 256
DELTA_LIMIT_DEFAULT: Final = 1000
DELTA_LIMIT_MAX: Final = 5000
#: The events endpoint reads at most this many market ids, ignoring the rest.
MAX_MARKET_IDS: Final = 12
DEFAULT_MARKET_IDS: Final = (1, 2, 3)

MONEYLINE_MARKET: Final = 1
HANDICAP_MARKET: Final = 2
TOTALS_MARKET: Final = 3
#: Player prop market ids by statistic.
PROP_MARKETS: Final = {"points": 29, "rebounds": 35, "assists": 39}

OVER_ID: Final = 1001
UNDER_ID: Final = 1002
DRAW_ID: Final = 1003

TYPE_TEAM: Final = "TYPE_TEAM"
TYPE_PLAYER: Final = "TYPE_PLAYER"
TYPE_RESULT: Final = "TYPE_RESULT"
#: The WS ``normalized_market_participant_type`` of each REST participant type [I].
PARTICIPANT_TYPE_CODES: Final = {TYPE_TEAM: 1, TYPE_PLAYER: 2, TYPE_RESULT: 3}

V2_MARKETS_PATH: Final = "/api/v2/ws/markets"
V1_PATH: Final = "/api/v1/ws"

_FIRST_CURSOR: Final = 193_500_000
_Json = dict[str, Any]
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Tier:
    """A TheRundown plan: included data points, burst limit, data delay, WebSocket access."""

    name: str
    datapoints: int
    period: str
    burst_per_second: int
    delay_seconds: int
    websocket: bool


#: The current plan table (spec section 1.2).
TIERS: Final = {
    tier.name: tier
    for tier in (
        Tier("free", 20_000, "day", 1, 300, websocket=False),
        Tier("starter", 2_000_000, "month", 2, 60, websocket=False),
        Tier("pro", 10_000_000, "month", 5, 30, websocket=False),
        Tier("ultra", 40_000_000, "month", 10, 0, websocket=True),
        Tier("super", 100_000_000, "month", 15, 0, websocket=True),
        Tier("mega", 200_000_000, "month", 20, 0, websocket=True),
        Tier("max", 1_000_000_000, "month", 50, 0, websocket=True),
        Tier("enterprise", 10_000_000_000, "month", 100, 0, websocket=True),
    )
}


@dataclass(frozen=True, slots=True)
class RundownKey:
    """What one API key may do.

    Attributes:
        tier: the plan, a key of `TIERS`.
        websocket_access: overrides the plan's WebSocket access when not None.
        burst_limit: requests per rolling second before REST answers 429; None means
            the plan's documented burst limit.
    """

    tier: str = "ultra"
    websocket_access: bool | None = None
    burst_limit: float | None = None

    def __post_init__(self) -> None:
        """Refuse a plan TheRundown does not sell."""
        if self.tier not in TIERS:
            raise ValueError(f"unknown tier {self.tier!r}; one of {', '.join(TIERS)}")

    @property
    def plan(self) -> Tier:
        """The key's plan."""
        return TIERS[self.tier]

    @property
    def burst(self) -> float:
        """Requests per rolling second the key may make: its own limit, or its plan's."""
        return self.plan.burst_per_second if self.burst_limit is None else self.burst_limit

    @property
    def websocket(self) -> bool:
        """Whether the key may open WebSockets."""
        return self.plan.websocket if self.websocket_access is None else self.websocket_access


class QuoteSink(Protocol):
    """Anything that takes the quotes a world step changed, such as another simulator."""

    def publish(self, quotes: Sequence[Quote]) -> None:
        """Take the changed quotes of one step."""


@dataclass(frozen=True, slots=True)
class Participant:
    """A V2 market participant: REST ``participants[]`` entry and WS normalized id."""

    id: int
    type: str
    name: str
    #: The line ``value``: "" for moneylines, the signed handicap or the points.
    value: str

    @property
    def type_code(self) -> int:
        """The WS ``normalized_market_participant_type``."""
        return PARTICIPANT_TYPE_CODES[self.type]


@dataclass(frozen=True, slots=True)
class DeltaEntry:
    """One published price change: a row of the delta log and the V2 frame it became."""

    id: int
    #: When it was published, in the simulator's clock (decides cursor staleness).
    logged_at: float
    quote: Quote
    sport_id: int
    affiliate_id: int
    market_id: int
    market_name: str
    participant: Participant
    #: The previous decimal price; None is off the board (or no previous, see ``new``).
    previous: float | None
    new: bool


@dataclass(slots=True)
class _Filters:
    """A connection's or a request's filters; None lets everything through."""

    sport_ids: frozenset[int] | None = None
    market_ids: frozenset[int] | None = None
    affiliate_ids: frozenset[int] | None = None
    event_ids: frozenset[str] | None = None
    day: date | None = None

    def passes(self, sport_id: int, market_id: int, affiliate_id: int, event_id: str) -> bool:
        """Whether a change with these coordinates passes every filter."""
        return (
            (self.sport_ids is None or sport_id in self.sport_ids)
            and (self.market_ids is None or market_id in self.market_ids)
            and (self.affiliate_ids is None or affiliate_id in self.affiliate_ids)
            and (self.event_ids is None or event_id in self.event_ids)
        )


@dataclass(eq=False, slots=True)
class _Connection:
    """One live WebSocket: its filters, its waiting frames and its pending close."""

    version: Literal["v1", "v2"]
    key: str
    filters: _Filters
    capacity: int
    pending: deque[str] = field(default_factory=deque)
    wake: anyio.Event = field(default_factory=anyio.Event)
    close_with: int | None = None
    dropped: int = 0

    def offer(self, text: str) -> None:
        """Queue a frame, or drop it silently when the client's buffer is full (as TRD)."""
        if len(self.pending) >= self.capacity:
            self.dropped += 1
            return
        self.pending.append(text)
        self.wake.set()


class _HttpError(Exception):
    """An error answer: status, ``{"error": message}`` and extra headers."""

    def __init__(self, status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)


class _Ids:
    """Stable integer ids, handed out in order of first request from ``start``."""

    def __init__(self, start: int) -> None:
        self._next = start
        self._ids: dict[tuple[object, ...], int] = {}

    def __call__(self, *key: object) -> int:
        number = self._ids.get(key)
        if number is None:
            number = self._ids[key] = self._next
            self._next += 1
        return number


class RundownSimulator:
    """TheRundown's V2 REST API, market delta feed, V2 and V1 WebSockets, as an ASGI app.

    Attributes:
        world: the world rendered (possibly shared with other simulators).
        clock: epoch seconds; stamps every time in the data and ages delta cursors.
        keys: API key -> plan; mutable, a test may add or revoke keys while serving.
        faults: the switches this simulator honours.
        heartbeat_interval: seconds between WS heartbeats (real time, not ``clock``).
        cursor_max_age: seconds of ``clock`` after which an unread change makes a cursor
            stale.
    """

    def __init__(
        self,
        world: World,
        *,
        clock: Callable[[], float],
        keys: Mapping[str, RundownKey] | None = None,
        heartbeat_interval: float = 15.0,
        faults: Faults | None = None,
        cursor_max_age: float = CURSOR_MAX_AGE,
        max_delta_entries: int = MAX_DELTA_ENTRIES,
        client_buffer: int = CLIENT_BUFFER,
        poll_interval: float = 0.02,
        rate_clock: Callable[[], float] = anyio.current_time,
    ) -> None:
        """Render ``world`` as it stands; nothing moves until `advance`, `run` or `publish`.

        Args:
            world: the world; its current quotes are the starting snapshot.
            clock: epoch seconds, e.g. ``time.time`` or a test's fake clock.
            keys: accepted API keys and their plans; by default `DEFAULT_KEY` on Ultra.
            heartbeat_interval: seconds between heartbeats on every socket (TRD: 15).
            faults: fault switches; a fresh, all-off `Faults` by default.
            cursor_max_age: when delta cursors go stale (TRD: 30 minutes).
            max_delta_entries: the most changes the delta log keeps; a cursor older than
                the oldest kept is stale too.
            client_buffer: frames a slow client may have waiting before frames drop.
            poll_interval: how often (real seconds) live connections look at the
                fault switches.
            rate_clock: monotonic seconds for the burst limit (the event loop's by
                default; a test may pass its fake clock to decide when a second passed).
        """
        if heartbeat_interval <= 0 or poll_interval <= 0:
            raise ValueError("heartbeat_interval and poll_interval must be positive")
        if max_delta_entries < 1:
            raise ValueError(f"max_delta_entries must be positive, got {max_delta_entries}")
        self.world = world
        self.clock = clock
        self.keys: dict[str, RundownKey] = dict(
            keys if keys is not None else {DEFAULT_KEY: RundownKey()}
        )
        self.faults = faults if faults is not None else Faults()
        self.heartbeat_interval = heartbeat_interval
        self.cursor_max_age = cursor_max_age
        self.max_delta_entries = max_delta_entries
        self.client_buffer = client_buffer
        self.poll_interval = poll_interval
        self._sports = {sport_id: (name, draws) for name, sport_id, draws in SPORTS}
        self._books = {book.name: book for book in world.books}
        self._events = {event.event_id: event for event in world.events}
        # The simulator's own copy of the board, moved only by publish(): REST serves it,
        # so a snapshot always matches the delta cursor it hands out.
        self._quotes: dict[tuple[str, int, int, str], Quote] = dict(world.quotes)
        self._log: deque[DeltaEntry] = deque()
        # One participant per outcome, shared by its log entries: a log of a million
        # changes holds a few thousand of them, not a million.
        self._participants: dict[tuple[str, int, int], Participant] = {}
        self._head = _FIRST_CURSOR
        self._connections: set[_Connection] = set()
        self._dropped_by_closed = 0
        self._usage: dict[str, int] = {}
        # Frames rendered ahead by `render_v2`, and the planted ones to time (`offer_v2`),
        # by id() of the text queued: the text is kept here until it is sent.
        self._rendered = 0
        self._on_sent: dict[int, tuple[str, Callable[[str], None]]] = {}
        self.rate_clock = rate_clock
        self._recent: dict[str, deque[float]] = {}
        self._requests: dict[str, Counter[str]] = {}
        self._throttled: dict[str, int] = {}
        self._market_ids = _Ids(2_518_000)
        self._participant_ids = _Ids(19_400_000)
        self._price_ids = _Ids(192_800_000)
        self._line_ids = _Ids(17_990_000)
        self._player_ids = _Ids(50_001)
        # Hand the ids out now, in the world's order, so they do not depend on which
        # request or frame happens to need one first.
        for event in world.events:
            for index, market in enumerate(event.markets):
                self._market_ids(event.event_id, index)
                for side in market.sides:
                    for book in world.books:
                        self._participant_ids(event.event_id, index, side, book.name)
                        self._price_ids(event.event_id, index, side, book.name)
            for book in world.books:
                self._line_ids(event.event_id, book.name)

    # --- driving the world ---------------------------------------------------------------

    def advance(self) -> list[Quote]:
        """Step the world at ``clock()`` and publish the changes; return them.

        Only for the world's one stepper: see the module docstring on shared worlds.
        """
        changed = self.world.step(self.clock())
        self.publish(changed)
        return changed

    async def run(self, interval: float = 1.0, *, also: Iterable[QuoteSink] = ()) -> None:
        """Every ``interval`` seconds, `advance` and hand the same changes to ``also``.

        Runs until cancelled; start it in the task group that serves the simulator(s).
        ``also`` lets one runner drive a World shared with other simulators.
        """
        sinks = list(also)
        while True:
            await anyio.sleep(interval)
            changed = self.advance()
            for sink in sinks:
                sink.publish(changed)

    def publish(self, quotes: Sequence[Quote]) -> None:
        """Take the quotes one world step changed: log them and push them to the sockets.

        Quotes of events this simulator does not know are ignored.
        """
        now = self.clock()
        v2 = [c for c in self._connections if c.version == "v2"]
        # (event, market, book) -> side -> the price before this publish, for V1 frames.
        lines: dict[tuple[str, int, str], dict[int, Quote | None]] = {}
        for quote in quotes:
            event = self._events.get(quote.event_id)
            book = self._books.get(quote.book)
            if event is None or book is None:
                continue
            key = (quote.event_id, quote.market_index, quote.side, quote.book)
            old = self._quotes.get(key)
            self._quotes[key] = quote
            lines.setdefault((quote.event_id, quote.market_index, quote.book), {}).setdefault(
                quote.side, old
            )
            market = event.markets[quote.market_index]
            market_id = _market_id(market)
            if market_id is None:
                continue
            self._head += 1
            entry = DeltaEntry(
                id=self._head,
                logged_at=now,
                quote=quote,
                sport_id=event.sport_id,
                affiliate_id=book.affiliate_id,
                market_id=market_id,
                market_name=_market_name(market),
                participant=self._logged_participant(event, quote.market_index, quote.side),
                previous=None if old is None else old.price,
                new=old is None,
            )
            self._log.append(entry)
            text: str | None = None
            for connection in v2:
                if connection.filters.passes(
                    event.sport_id, market_id, book.affiliate_id, event.event_id
                ):
                    text = text or self._v2_frame(entry)
                    connection.offer(text)
        self._prune(now)
        v1 = [c for c in self._connections if c.version == "v1"]
        if v1:
            for (event_id, index, book_name), before in lines.items():
                self._push_v1(v1, self._events[event_id], index, self._books[book_name], before)

    # --- bench streams (arbwatch.bench.e2e) -----------------------------------------------

    def render_v2(self, quote: Quote, previous: float | None) -> str:
        """The V2 ``market_price`` frame of one price change, rendered now to be sent later.

        For streams faster than `publish` can render (`offer_v2`): the change is neither
        logged nor applied to the REST board, so the frame's ``id`` is its own counter's
        and a resync over ``/markets/delta`` does not see it.
        """
        event = self._events[quote.event_id]
        market = event.markets[quote.market_index]
        market_id = _market_id(market)
        if market_id is None:
            raise ValueError(f"market {quote.market_index} of {quote.event_id} has no V2 id")
        self._rendered += 1
        entry = DeltaEntry(
            id=self._rendered,
            logged_at=self.clock(),
            quote=quote,
            sport_id=event.sport_id,
            affiliate_id=self._books[quote.book].affiliate_id,
            market_id=market_id,
            market_name=_market_name(market),
            participant=self._logged_participant(event, quote.market_index, quote.side),
            previous=previous,
            new=False,
        )
        return self._v2_frame(entry)

    def offer_v2(self, frames: Iterable[str], on_sent: Callable[[str], None] | None = None) -> int:
        """Queue rendered frames on every V2 socket, as a publish would; how many were offered.

        A client whose buffer is full loses them (counted in `dropped_frames`), as with
        `publish`. ``on_sent`` is called with a frame the moment it is handed to the
        socket of the first connection that sends it (a bench times planted frames so).
        """
        connections = [c for c in self._connections if c.version == "v2"]
        offered = 0
        for text in frames:
            offered += 1
            if on_sent is not None:
                self._on_sent[id(text)] = (text, on_sent)
            for connection in connections:
                connection.offer(text)
        return offered

    def v2_room(self) -> int:
        """Frames every V2 socket can still take before its buffer is full (0 with none)."""
        rooms = [c.capacity - len(c.pending) for c in self._connections if c.version == "v2"]
        return min(rooms, default=0)

    @property
    def frames_sent(self) -> int:
        """Data frames sent on every socket so far (heartbeats not counted)."""
        return sum(self._usage.values())

    @property
    def delta_log_length(self) -> int:
        """How many changes the delta log holds now (what a cursor can still read)."""
        return len(self._log)

    @property
    def delta_cursor(self) -> str:
        """The current ``delta_last_id``: the id of the newest change, as a string."""
        return str(self._head)

    @property
    def connection_count(self) -> int:
        """How many WebSockets are open."""
        return len(self._connections)

    @property
    def dropped_frames(self) -> int:
        """Frames dropped so far because a client's buffer was full."""
        return self._dropped_by_closed + sum(c.dropped for c in self._connections)

    def usage(self, key: str) -> int:
        """Data points billed to ``key`` so far (REST answers and WS data frames)."""
        return self._usage.get(key, 0)

    def requests(self, key: str = "") -> Counter[str]:
        """REST requests made with ``key`` so far, by path, refused ones included.

        Requests without a key (the sports and affiliates catalogs) count under "".
        """
        return Counter(self._requests.get(key, {}))

    def throttled(self, key: str) -> int:
        """REST requests of ``key`` answered 429 for the burst limit so far."""
        return self._throttled.get(key, 0)

    # --- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request, WebSocket or lifespan."""
        if scope["type"] == "http":
            await self._http(scope, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            await serve_lifespan(receive, send)

    # --- REST ------------------------------------------------------------------------------

    async def _http(self, scope: Scope, send: Send) -> None:
        # Answered synchronously, so no publish can land half-way through a snapshot.
        query = _query(scope)
        headers = _headers(scope)
        try:
            body, extra = self._route(scope["method"], scope["path"], query, headers)
            status = 200
        except _HttpError as error:
            status, body, extra = error.status, {"error": error.message}, error.headers
        payload = _encode(body)
        start: Message = {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *((name.encode(), value.encode()) for name, value in extra),
            ],
        }
        await send(start)
        await send({"type": "http.response.body", "body": payload})

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[object, list[tuple[str, str]]]:
        if method != "GET":
            raise _HttpError(405, "Method Not Allowed")
        path = path.rstrip("/") or "/"
        caller = headers.get("x-therundown-key") or query.get("key") or ""
        self._requests.setdefault(caller, Counter())[path] += 1
        if path == "/api/v2/sports":
            sports = [{"sport_id": sid, "sport_name": name} for name, sid, _ in SPORTS]
            return {"sports": sports}, []
        if path in ("/api/v2/affiliates", "/api/v2/sportsbooks"):
            return {"affiliates": self._affiliates()}, []
        key = self._authenticate(query, headers)
        plan_headers = self._plan_headers(key)
        self._throttle(key, plan_headers)
        body, datapoints = self._authenticated_route(path, query)
        self._usage[key] = self._usage.get(key, 0) + datapoints
        return body, [("x-datapoints", str(datapoints)), *self._plan_headers(key)]

    def _authenticated_route(self, path: str, query: dict[str, str]) -> tuple[object, int]:
        if match := re.fullmatch(r"/api/v2/sports/([^/]+)/events/([^/]+)", path):
            return self._events_by_date(match[1], match[2], query)
        if match := re.fullmatch(r"/api/v2/events/([^/]+)", path):
            event = self._events.get(match[1])
            if event is None:
                raise _HttpError(404, "Not Found")
            markets, affiliates, participant_type = _snapshot_filters(query)
            json, count = self._event_json(event, markets, affiliates, participant_type)
            return {"meta": None, "events": [json]}, max(count, 1)
        if path == "/api/v2/markets/delta":
            return self._delta(query)
        raise _HttpError(404, "Not Found")

    def _authenticate(self, query: dict[str, str], headers: dict[str, str]) -> str:
        key = headers.get("x-therundown-key") or query.get("key")
        if not key:
            raise _HttpError(401, "API key required: pass ?key= or the X-TheRundown-Key header")
        if key not in self.keys:
            raise _HttpError(401, "Invalid API key")
        return key

    def _throttle(self, key: str, plan_headers: list[tuple[str, str]]) -> None:
        limit = self.keys[key].burst
        now = self.rate_clock()
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if self.faults.take_rest_rate_limited() or len(recent) >= limit:
            self._throttled[key] = self._throttled.get(key, 0) + 1
            raise _HttpError(429, "Rate limit exceeded", [("retry-after", "1"), *plan_headers])
        recent.append(now)

    def _plan_headers(self, key: str) -> list[tuple[str, str]]:
        account = self.keys[key]
        plan = account.plan
        used = self._usage.get(key, 0)
        return [
            ("x-datapoints-used", str(used)),
            ("x-datapoints-remaining", str(max(plan.datapoints - used, 0))),
            ("x-datapoints-limit", str(plan.datapoints)),
            ("x-datapoints-period", plan.period),
            ("x-tier", plan.name),
            ("x-data-delay-seconds", str(plan.delay_seconds)),
            ("x-websocket-access", "true" if account.websocket else "false"),
        ]

    def _affiliates(self) -> list[_Json]:
        return [
            {
                "affiliate_id": book.affiliate_id,
                "affiliate_name": book.name,
                "affiliate_url": f"https://{book.name.lower()}.com",
            }
            for book in self.world.books
        ]

    def _events_by_date(self, sport: str, day: str, query: dict[str, str]) -> tuple[_Json, int]:
        try:
            sport_id = int(sport)
        except ValueError:
            raise _HttpError(400, f"Invalid sport_id {sport!r}") from None
        wanted = _parse_day(day)
        offset = _int_param(query, "offset", 0)
        markets, affiliates, participant_type = _snapshot_filters(query)
        events, datapoints = [], 0
        for event in sorted(self._events.values(), key=lambda e: (e.starts_at, e.event_id)):
            local = datetime.fromtimestamp(event.starts_at - offset * 60.0, UTC).date()
            if event.sport_id != sport_id or local != wanted:
                continue
            json, count = self._event_json(event, markets, affiliates, participant_type)
            events.append(json)
            datapoints += count
        # An unknown sport or an empty day is an empty list, not an error [C].
        return {"meta": {"delta_last_id": self.delta_cursor}, "events": events}, max(datapoints, 1)

    def _event_json(
        self,
        event: SimEvent,
        market_ids: Sequence[int],
        affiliates: frozenset[int] | None,
        participant_type: str | None,
    ) -> tuple[_Json, int]:
        """An EventV2 object and the number of prices in it."""
        _, draws = self._sports[event.sport_id]
        markets, count = [], 0
        for index, market in enumerate(event.markets):
            market_id = _market_id(market)
            if market_id is None or market_id not in market_ids:
                continue
            participants = []
            for side in _listing_order(market):
                participant = self._participant(event, market, side)
                if participant_type is not None and participant.type != participant_type:
                    continue
                prices = {}
                for book in self.world.books:
                    quote = self._quotes.get((event.event_id, index, side, book.name))
                    if quote is None or (
                        affiliates is not None and book.affiliate_id not in affiliates
                    ):
                        continue
                    prices[str(book.affiliate_id)] = {
                        "id": str(self._price_ids(event.event_id, index, side, book.name)),
                        "price": _american(quote.price),
                        "is_main_line": True,
                        "updated_at": _rfc3339(quote.updated_at),
                    }
                count += len(prices)
                line = {
                    "id": _hex_id(event.event_id, market_id, participant.id, participant.value),
                    "value": participant.value,
                    "prices": prices,
                }
                participants.append(
                    {
                        "id": participant.id,
                        "type": participant.type,
                        "name": participant.name,
                        "lines": [line],
                    }
                )
            markets.append(
                {
                    "id": self._market_ids(event.event_id, index),
                    "market_id": market_id,
                    "period_id": 0,
                    "name": _market_name(market),
                    "participants": participants,
                }
            )
        json = {
            "event_id": event.event_id,
            "event_uuid": str(uuid.UUID(bytes=_digest("uuid", event.event_id))),
            "sport_id": event.sport_id,
            "event_date": _rfc3339(event.starts_at),
            "score": {
                "event_status": "STATUS_SCHEDULED",
                "team_id_away": event.away_team_id,
                "team_id_home": event.home_team_id,
                "score_away": 0,
                "score_home": 0,
                "game_period": 0,
                "game_clock": 0,
                "display_clock": "0.0",
            },
            "teams": [
                _team(event.away, event.away_team_id, draws=draws, home=False),
                _team(event.home, event.home_team_id, draws=draws, home=True),
            ],
            "schedule": {
                "event_name": f"{event.away} at {event.home}",
                "season_type": "Regular Season",
                "season_year": datetime.fromtimestamp(event.starts_at, UTC).year,
            },
            "markets": markets,
        }
        return json, count

    def _delta(self, query: dict[str, str]) -> tuple[_Json, int]:
        cursor = self._cursor(query.get("last_id", ""))
        sport_id = query.get("sport_id")
        filters = _Filters(
            sport_ids=None if sport_id is None else frozenset({_int_param(query, "sport_id", 0)}),
            market_ids=_csv_ints(query, "market_ids"),
            affiliate_ids=_csv_ints(query, "affiliate_ids"),
            event_ids=frozenset({query["event_id"]}) if query.get("event_id") else None,
        )
        limit = min(_int_param(query, "limit", DELTA_LIMIT_DEFAULT), DELTA_LIMIT_MAX)
        if limit < 1:
            raise _HttpError(400, "limit must be at least 1")
        first = self._head - len(self._log) + 1
        deltas: list[_Json] = []
        last = cursor
        for entry in itertools.islice(self._log, cursor + 1 - first, None):
            if len(deltas) >= limit:
                break
            last = entry.id
            event_id = entry.quote.event_id
            if filters.passes(entry.sport_id, entry.market_id, entry.affiliate_id, event_id):
                deltas.append(_delta_json(entry))
        meta = {"delta_last_id": str(last), "count": len(deltas), "has_more": last < self._head}
        return {"meta": meta, "deltas": deltas}, max(len(deltas), 1)

    def _cursor(self, text: str) -> int:
        """Read a ``last_id``: 400 unless this simulator issued it and it is fresh."""
        try:
            cursor = int(text)
        except ValueError:
            cursor = -1
        if not _FIRST_CURSOR <= cursor <= self._head:
            raise _HttpError(400, "last_id not found, re-bootstrap from events endpoint")
        if cursor == self._head:
            return cursor  # nothing missed, so nothing can be too old
        # Stale when the oldest change the client has not seen is pruned or too old.
        first = self._head - len(self._log) + 1
        horizon = self.clock() - self.cursor_max_age
        if cursor + 1 < first or self._log[cursor + 1 - first].logged_at < horizon:
            minutes = f"{self.cursor_max_age / 60:g}"
            raise _HttpError(
                400, f"last_id is stale (>{minutes} min), re-bootstrap from events endpoint"
            )
        return cursor

    def _prune(self, now: float) -> None:
        """Forget the changes older than a cursor may be, and those past the log's size."""
        horizon = now - self.cursor_max_age
        log = self._log
        while log and (log[0].logged_at < horizon or len(log) > self.max_delta_entries):
            log.popleft()

    def _logged_participant(self, event: SimEvent, index: int, side: int) -> Participant:
        """The participant of an outcome, made once and shared by its log entries."""
        key = (event.event_id, index, side)
        participant = self._participants.get(key)
        if participant is None:
            participant = self._participants[key] = self._participant(
                event, event.markets[index], side
            )
        return participant

    # --- the mapping ---------------------------------------------------------------------

    def _participant(self, event: SimEvent, market: SimMarket, side: int) -> Participant:
        kind = market.kind
        if kind in (MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY):
            if side == DRAW:
                return Participant(DRAW_ID, TYPE_RESULT, "Draw", "")
            team, team_id = _side_team(event, side)
            return Participant(team_id, TYPE_TEAM, team, "")
        if kind is MarketKind.SPREAD:
            team, team_id = _side_team(event, side)
            return Participant(
                team_id, TYPE_TEAM, team, _line(market.line if side == HOME else -market.line)
            )
        over = side == OVER
        if kind is MarketKind.TOTAL:
            return Participant(
                OVER_ID if over else UNDER_ID,
                TYPE_RESULT,
                "Over" if over else "Under",
                _line(market.line),
            )
        player_id = self._player_ids(market.player)
        return Participant(
            player_id * 10 + (1 if over else 2),
            TYPE_PLAYER,
            f"{market.player} {'Over' if over else 'Under'}",
            _line(market.line),
        )

    def _v2_frame(self, entry: DeltaEntry) -> str:
        quote = entry.quote
        price = _american(quote.price)
        previous = None if entry.new else _american(entry.previous)
        data = {
            "id": entry.id,
            "event_id": quote.event_id,
            "affiliate_id": entry.affiliate_id,
            "market_participant_id": self._participant_ids(
                quote.event_id, quote.market_index, quote.side, quote.book
            ),
            "market_id": entry.market_id,
            "line": entry.participant.value,
            "price": _price_text(price),
            "previous_price": None if previous is None else f"{previous:.4f}",
            "price_delta": 0 if previous is None else _number(price - previous),
            "is_main_line": True,
            "normalized_market_participant_id": entry.participant.id,
            "normalized_market_participant_type": entry.participant.type_code,
            "sport_id": entry.sport_id,
            "updated_at": _rfc3339(quote.updated_at),
        }
        meta = {"type": "market_price", "version": "v2", "timestamp": int(entry.logged_at)}
        return _encode({"meta": meta, "data": data}).decode()

    def _push_v1(
        self,
        connections: list[_Connection],
        event: SimEvent,
        index: int,
        book: SimBook,
        before: dict[int, Quote | None],
    ) -> None:
        market = event.markets[index]
        if market.kind is MarketKind.PLAYER_PROP:
            return
        day = datetime.fromtimestamp(event.starts_at, UTC).date()
        targets = [
            c
            for c in connections
            if c.filters.passes(event.sport_id, 0, book.affiliate_id, event.event_id)
            and (c.filters.day is None or c.filters.day == day)
        ]
        if not targets:
            return
        now = {
            side: self._quotes.get((event.event_id, index, side, book.name))
            for side in market.sides
        }
        was = {side: before.get(side, quote) for side, quote in now.items()}
        updated = max((q.updated_at for q in now.values() if q is not None), default=self.clock())
        data: _Json = {
            "event_id": event.event_id,
            "sport_id": event.sport_id,
            "affiliate_id": book.affiliate_id,
            "event_date": _rfc3339(event.starts_at),
            "period_id": 0,
            "line_id": self._line_ids(event.event_id, book.name),
            "date_updated": _rfc3339(updated),
            "format": "American",
        }

        def put(name: str, current: float, previous: float) -> None:
            data[name] = _number(current)
            data[f"{name}_delta"] = _number(current - previous)

        if market.kind in (MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY):
            kind = "moneyline"
            for side, name in ((AWAY, "away"), (HOME, "home"), (DRAW, "draw")):
                put(f"moneyline_{name}", _v1_price(now.get(side)), _v1_price(was.get(side)))
        elif market.kind is MarketKind.SPREAD:
            kind = "spread"
            for side, name in ((AWAY, "away"), (HOME, "home")):
                line = market.line if side == HOME else -market.line
                put(f"point_spread_{name}", _v1_line(now[side], line), _v1_line(was[side], line))
                put(f"point_spread_{name}_money", _v1_price(now[side]), _v1_price(was[side]))
        else:
            kind = "total"
            for side, name in ((OVER, "over"), (UNDER, "under")):
                points = market.line
                put(f"total_{name}", _v1_line(now[side], points), _v1_line(was[side], points))
                put(f"total_{name}_money", _v1_price(now[side]), _v1_price(was[side]))
        text = _encode({"meta": {"type": kind}, "data": data}).decode()
        for connection in targets:
            connection.offer(text)

    # --- WebSockets ----------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        path = scope["path"].rstrip("/")
        query = _query(scope)
        version: Literal["v1", "v2"]
        if path == V2_MARKETS_PATH:
            version = "v2"
        elif path == V1_PATH:
            version = "v1"
        else:
            await _deny(scope, send, 404, "Not Found")
            return
        refusal = self.faults.refuse_handshake
        if refusal is not None:
            await self._refuse(scope, send, refusal)
            return
        try:
            key = self._authorize_socket(query, _headers(scope))
            filters = _socket_filters(query, version)
        except _HttpError as error:
            await _deny(scope, send, error.status, error.message)
            return
        connection = _Connection(version, key, filters, self.client_buffer)
        # Registered before the accept goes out: once the client is connected, every
        # later publish reaches it.
        self._connections.add(connection)
        try:
            await send({"type": "websocket.accept"})
            async with anyio.create_task_group() as group:
                group.start_soon(_watch_disconnect, receive, group.cancel_scope)
                # OSError: uvicorn's ClientDisconnected, the client left mid-send.
                with contextlib.suppress(OSError):
                    await self._pump(connection, send)
                group.cancel_scope.cancel()
        finally:
            self._connections.discard(connection)
            self._dropped_by_closed += connection.dropped

    def _authorize_socket(self, query: dict[str, str], headers: dict[str, str]) -> str:
        key = self._authenticate(query, headers)
        if not self.keys[key].websocket:
            raise _HttpError(403, "WebSocket access requires Ultra plan or higher")
        return key

    async def _refuse(self, scope: Scope, send: Send, status: int) -> None:
        messages = {
            401: "Invalid API key",
            403: "WebSocket access requires Ultra plan or higher",
            429: "Rate limit exceeded",
        }
        headers = []
        if status == 429:
            retry_after = self.faults.retry_after
            headers.append(("retry-after", "1" if retry_after is None else f"{retry_after:g}"))
        await _deny(scope, send, status, messages.get(status, "Refused"), headers)

    async def _pump(self, connection: _Connection, send: Send) -> None:
        """Send frames and heartbeats until a fault ends the connection."""
        next_beat = anyio.current_time() + self.heartbeat_interval
        while True:
            faults = self.faults
            if faults.drop:
                return  # uvicorn closes the socket without a close frame
            if faults.stall:
                await anyio.sleep(self.poll_interval)
                continue
            self._take_close_switch()
            if connection.close_with is not None:
                await send({"type": "websocket.close", "code": connection.close_with})
                return
            now = anyio.current_time()
            if now >= next_beat:
                # Heartbeats keep their rhythm, but one late beat is not followed by a burst.
                next_beat = max(next_beat + self.heartbeat_interval, now)
                if not faults.silent:
                    await self._send_frame(connection, send, self._heartbeat(), data=False)
                continue
            if connection.pending:
                text = connection.pending.popleft()
                if not faults.silent:
                    await self._send_frame(connection, send, text, data=True)
                continue
            # No await between the empty check above and this new Event: a publish cannot
            # slip in between and set the old one.
            connection.wake = anyio.Event()
            with anyio.move_on_after(min(self.poll_interval, next_beat - now)):
                await connection.wake.wait()

    def _take_close_switch(self) -> None:
        """Turn a set ``close_code`` into a close of every live connection, once."""
        code = self.faults.close_code
        if code is None:
            return
        self.faults.close_code = None
        for connection in self._connections:
            connection.close_with = code

    async def _send_frame(
        self, connection: _Connection, send: Send, text: str, *, data: bool
    ) -> None:
        faults = self.faults
        timed = self._on_sent.pop(id(text), None) if self._on_sent and data else None
        if faults.take_malformed():
            text = text[: len(text) // 2]
        if faults.take_oversized():
            # Trailing spaces keep it valid JSON: only its size is wrong.
            text += " " * max(faults.oversized_bytes + 1 - len(text.encode()), 0)
        if faults.take_binary():
            await send({"type": "websocket.send", "bytes": text.encode()})
        else:
            await send({"type": "websocket.send", "text": text})
        if data:
            self._usage[connection.key] = self._usage.get(connection.key, 0) + 1
        if timed is not None:
            timed[1](timed[0])

    def _heartbeat(self) -> str:
        frame = {"meta": {"type": "heartbeat"}, "data": {"now": _rfc3339(self.clock())}}
        return _encode(frame).decode()


# --- helpers -------------------------------------------------------------------------------


async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """Read (and ignore: the feed is push-only) client frames until the client leaves."""
    while (await receive())["type"] != "websocket.disconnect":
        pass
    scope.cancel()


async def _deny(
    scope: Scope, send: Send, status: int, message: str, headers: Sequence[tuple[str, str]] = ()
) -> None:
    """Refuse a WebSocket handshake with an HTTP status and ``{"error": message}``."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        # Without the denial extension the server can only answer 403.
        await send({"type": "websocket.close", "code": 1008})
        return
    raw = [(b"content-type", b"application/json")]
    raw += [(name.encode(), value.encode()) for name, value in headers]
    await send({"type": "websocket.http.response.start", "status": status, "headers": raw})
    await send({"type": "websocket.http.response.body", "body": _encode({"error": message})})


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return {name: values[0] for name, values in parse_qs(raw, keep_blank_values=True).items()}


def _headers(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
    }


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise _HttpError(400, f"Invalid {name} {text!r}") from None


def _csv_ints(query: dict[str, str], name: str) -> frozenset[int] | None:
    text = query.get(name, "").strip()
    if not text:
        return None
    try:
        return frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise _HttpError(400, f"Invalid {name} {text!r}: comma-separated integers") from None


def _parse_day(text: str) -> date:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise _HttpError(400, f"Invalid date format {text!r}, must be YYYY-MM-DD")


def _snapshot_filters(
    query: dict[str, str],
) -> tuple[tuple[int, ...], frozenset[int] | None, str | None]:
    """market_ids (the first 12, default 1,2,3), affiliate_ids and participant_type."""
    text = query.get("market_ids", "").strip()
    if text:
        try:
            markets = tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise _HttpError(400, f"Invalid market_ids {text!r}") from None
    else:
        markets = DEFAULT_MARKET_IDS
    participant_type = query.get("participant_type") or None
    if participant_type is not None and participant_type not in PARTICIPANT_TYPE_CODES:
        raise _HttpError(400, f"Invalid participant_type {participant_type!r}")
    return markets[:MAX_MARKET_IDS], _csv_ints(query, "affiliate_ids"), participant_type


def _socket_filters(query: dict[str, str], version: Literal["v1", "v2"]) -> _Filters:
    events = {part.strip() for part in query.get("event_ids", "").split(",") if part.strip()}
    filters = _Filters(
        sport_ids=_csv_ints(query, "sport_ids"),
        affiliate_ids=_csv_ints(query, "affiliate_ids"),
        event_ids=frozenset(events) or None,
    )
    if version == "v2":
        filters.market_ids = _csv_ints(query, "market_ids")
    elif query.get("date"):
        filters.day = _parse_day(query["date"])
    return filters


def _market_id(market: SimMarket) -> int | None:
    if market.kind in (MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY):
        return MONEYLINE_MARKET
    if market.kind is MarketKind.SPREAD:
        return HANDICAP_MARKET
    if market.kind is MarketKind.TOTAL:
        return TOTALS_MARKET
    return PROP_MARKETS.get(market.stat)


def _market_name(market: SimMarket) -> str:
    if market.kind in (MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY):
        return "moneyline"
    if market.kind is MarketKind.SPREAD:
        return "handicap"
    if market.kind is MarketKind.TOTAL:
        return "totals"
    return market.stat


def _listing_order(market: SimMarket) -> tuple[int, ...]:
    """Away before home (TRD lists teams away first); Over before Under."""
    if market.kind in (MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY, MarketKind.SPREAD):
        return tuple(sorted(market.sides, key=(AWAY, HOME, DRAW).index))
    return market.sides


def _side_team(event: SimEvent, side: int) -> tuple[str, int]:
    return (event.home, event.home_team_id) if side == HOME else (event.away, event.away_team_id)


def _team(name: str, team_id: int, *, draws: bool, home: bool) -> _Json:
    """A ``teams[]`` entry: city and mascot for North American teams, soccer names whole."""
    team: _Json = {"team_id": team_id, "name": name}
    city, _, mascot = name.rpartition(" ")
    if not draws and city:
        team["name"], team["mascot"] = city, mascot
    team["is_away"], team["is_home"] = not home, home
    return team


def _line(value: float) -> str:
    """A line as TRD writes it: "-4.5", "224.5", "0" (never "-0")."""
    return f"{value + 0.0:g}"


def _american(price: float | None) -> int | float:
    """American odds as an integer, or the off-board sentinel 0.0001 (a float)."""
    if price is None:
        return OFF_BOARD
    return round(decimal_to_american(price))


def _price_text(american: float) -> str:
    """The string form the delta feed and the WS use: "-110", "150", "0.0001"."""
    return "0.0001" if american == OFF_BOARD else str(int(american))


def _number(value: float) -> float | int:
    """An integer when the value is whole (so JSON says -110, not -110.0), else 4 decimals."""
    rounded = round(value, 4)
    return int(rounded) if rounded == math.floor(rounded) else rounded


def _v1_price(quote: Quote | None) -> float:
    return _american(None if quote is None else quote.price)


def _v1_line(quote: Quote | None, line: float) -> float:
    return OFF_BOARD if quote is None or quote.price is None else line


def _delta_json(entry: DeltaEntry) -> _Json:
    quote = entry.quote
    previous = None if entry.new else _price_text(_american(entry.previous))
    return {
        "id": entry.id,
        "event_id": quote.event_id,
        "sport_id": entry.sport_id,
        "affiliate_id": entry.affiliate_id,
        "market_id": entry.market_id,
        "market_name": entry.market_name,
        "participant_id": entry.participant.id,
        "participant_type": entry.participant.type,
        "participant_name": entry.participant.name,
        "line": entry.participant.value,
        "price": _price_text(_american(quote.price)),
        "previous_price": previous,
        "change_type": "new" if entry.new else "price_change",
        "closed_at": None,
        "updated_at": _rfc3339(quote.updated_at),
    }


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()


def _hex_id(*parts: object) -> str:
    """A stable 32-hex id (TRD's line ids look like this)."""
    return _digest(*parts).hex()
