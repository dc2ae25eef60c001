"""A RapidOddsAPI server on loopback: its REST odds API and its odds WebSocket, over a `World`.

`RapidOddsSimulator` is a plain ASGI application; run it with `arbwatch.sim.server.serve`.
It speaks RapidOddsAPI's wire protocol as its docs, blog and official SDK describe it,
renders the shared `World` the way RapidOddsAPI renders a scrape, meters credits per API
key, and misbehaves on demand through `Faults`.

REST (every endpoint takes the key as ``?api_key=``):

- ``GET /sports`` lists the sports; ``GET /sports?sport=NBA&markets=true`` lists a sport's
  market keys; ``GET /usage`` gives the key's credits. These are free.
- ``GET /sports/{sport}/markets?market_type=A&market_type=B&bookmaker=X&bookmaker=Y``
  returns ``{"sport", "games": [...]}``. It costs ``market types x ceil(books / 5)``
  credits, charged only when at least one game comes back.

WebSocket ``/ws``: ``connected``, then per-sport ``subscribe`` / ``unsubscribe``, and every
``push_interval`` seconds one ``odds_update`` per subscribed sport holding a full snapshot
(exactly the REST body) of the subscribed scope.

How the world is rendered:

========================  ==========================  ======================================
world market              market key                  outcomes
========================  ==========================  ======================================
MONEYLINE                 ``head_to_head``            team names
MONEYLINE_3WAY            ``head_to_head_3_way``      team names and ``Draw``
SPREAD                    ``alternate_lines``         team names; ``point`` is that team's
                                                      own handicap (away = -home line)
TOTAL                     ``alternate_total_points``  ``Over`` / ``Under`` with ``point``
PLAYER_PROP (stat *s*)    ``player_s``                ``Over`` / ``Under`` with ``point``
                                                      and ``player_name``
========================  ==========================  ======================================

Quotes that are off the board are left out, markets with no quote left are left out, books
with no market left are left out of ``bookmakers[]``, and games with no book left are left out
of ``games[]`` (RapidOddsAPI lists only what it has). Games come in start-time order, books
and markets in the order the request named them. Several world markets with the same key (a
ladder) share one market object.

Choices where the provider's documentation is silent (all of them ours, not RapidOddsAPI's):

- Sports: the SDK's sport ids plus the world's are accepted; sports the world has no games
  for return ``games: []`` (as RapidOddsAPI's not-yet-scraped leagues do), free of charge.
- Order of REST checks: 401/403 (key), 429 (rate limit, ``rate_limit`` requests per rolling
  second of the event loop's clock per key, counting every request of the key; 30 by
  default, as documented; answered with ``Retry-After: 1``), 422 (missing parameters), 404
  (sport), 429 (credits). Credits are only checked when the answer has games, as that is the
  only time they are charged. Repeated equal ``market_type`` or ``bookmaker`` values count
  once. Unknown market keys and book names are accepted; they simply match nothing.
- WebSocket refusals are HTTP 403 with a ``{"detail": ...}`` body: "Invalid API key.",
  "Subscription is not active." or "WebSocket access requires a Pro or Elite plan.".
- WebSocket error events (``{"event": "error", "message": ...}``), which the connection
  survives: "Invalid message. Send a JSON object with an 'action' field." (not JSON, not an
  object, or a binary frame); "Unknown action 'X'. Use 'subscribe' or 'unsubscribe'.";
  "Field 'sport' must be a string."; "Sport 'XYZ' not found."; "Field 'bookmakers' must be a
  non-empty list of strings." (likewise ``market_types``); and, before a skipped push,
  "Insufficient credits. This push costs N credits, you have M remaining.".
- Subscribing again to a subscribed sport replaces its scope. Unsubscribing from a sport
  that is not subscribed still answers ``unsubscribed``.
- Pushes happen on ticks every ``push_interval`` seconds of the event loop's clock
  (`anyio.current_time`), the same ticks for every connection, as one scrape cycle reaches
  every subscriber at once. The first push follows the first tick after ``subscribe``; there
  is no snapshot at subscribe time. A push whose snapshot has no games is still sent, with
  ``credits_charged: 0``. The injected ``clock`` gives only the wall-clock times written in
  frames and passed to `World.step`: a bare ``Callable[[], float]`` cannot be waited on.

Who moves the world: with ``step_world=True`` the simulator calls ``world.step(clock())``
at most once per tick, on the first push or REST request that falls in a new tick, however
many connections are open. With the default ``step_world=False`` it only reads the world,
so exactly one party (another simulator, or the demo) should step a `World` that several
simulators share.

Faults (`arbwatch.sim.faults.Faults`) apply to the WebSocket; REST always answers. They are
read when a connection arrives, before every frame, and every `FAULT_POLL_INTERVAL`
seconds on every live connection:

- ``refuse_handshake``: the handshake is answered with that HTTP status and a
  ``{"detail": ...}`` body; a 429 carries ``Retry-After`` when ``retry_after`` is set (the
  seconds as given, e.g. "2" or "0.5").
- ``drop``: while on, every live connection, and every new one right after its handshake,
  ends without a close frame: the application returns and uvicorn closes the socket, so
  the client reads end-of-stream (httpx-ws raises ``WebSocketNetworkError``).
- ``close_code``: every live connection is closed with that code, once: the simulator sets
  the switch back to None when it acts on it. If no connection is live, the next one to
  arrive is closed.
- ``silent``: frames that would be sent are discarded and pushes are skipped (not charged);
  messages from the client are still handled.
- ``stall``: nothing is sent and nothing the client sends is handled; pushes are skipped
  (not charged). When the stall ends, what was held (a ``connected`` greeting, the client's
  messages) goes on in order. The socket is still watched for a disconnect, so a server
  with a stalled connection can still shut down.
- ``malformed_frames``: the next frames sent are cut in half (never valid JSON).
- ``oversized_frames``: the next frames sent are padded with trailing spaces (still valid
  JSON) to more than ``oversized_bytes`` bytes.
"""

from __future__ import annotations

import json
import math
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from http import HTTPStatus
from time import time
from typing import Any, Final, NamedTuple
from urllib.parse import parse_qs

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from arbwatch.asgi import Receive, Scope, Send
from arbwatch.core.markets import AWAY, DRAW, HOME, OVER, UNDER, MarketKind
from arbwatch.sim.faults import Faults
from arbwatch.sim.server import serve_lifespan
from arbwatch.sim.world import SimEvent, SimMarket, World

#: A JSON object as this module builds it.
JsonObject = dict[str, Any]

#: Every sport id the SDK knows (constants.SPORTS and the accepted, not-yet-scraped ones).
SPORT_IDS: Final = (
    "NFL",
    "NBA",
    "WNBA",
    "MLB",
    "NHL",
    "AFL",
    "NRL",
    "EPL",
    "MLS",
    "WORLD_CUP",
    "MENS_AO",
    "MENS_RG",
    "MENS_WIMBLEDON",
    "MENS_USO",
    "LA_LIGA",
    "SERIE_A",
    "BUNDESLIGA",
    "LIGUE_1",
    "UCL",
    "A_LEAGUE",
)

#: One credit buys this many bookmakers for one market type.
BOOKS_PER_CREDIT: Final = 5
#: Requests per rolling second per key before RapidOddsAPI answers 429.
DEFAULT_RATE_LIMIT: Final = 30
#: How often, in seconds, a live connection looks at its `Faults` between frames.
FAULT_POLL_INTERVAL: Final = 0.01

_ODDS_WS_PATH: Final = "/ws"
_CLOSE_REASONS: Final = {4001: "Invalid API key.", 1011: "Internal server error."}
_INVALID_KEY: Final = "Invalid API key."
_INACTIVE: Final = "Subscription is not active."
_NO_WEBSOCKET: Final = "WebSocket access requires a Pro or Elite plan."
_BAD_MESSAGE: Final = "Invalid message. Send a JSON object with an 'action' field."
_CONNECTED_TEXT: Final = "Send subscribe messages to start receiving odds data."


@dataclass(frozen=True, slots=True)
class Plan:
    """What an API key's subscription allows.

    Attributes:
        tier: the tier name reported by ``/usage`` and the ``connected`` event.
        credits: the credit allowance.
        websocket: whether the plan may open the odds WebSocket.
        active: False for a lapsed subscription (REST 403, WebSocket refused).
        resets: whether the allowance renews (reported by ``/usage``; the simulator
            never resets it on its own).
    """

    tier: str
    credits: int
    websocket: bool
    active: bool = True
    resets: bool = True


#: The free tier: a one-off 250 credits, REST only.
FREE: Final = Plan("free", 250, websocket=False, resets=False)
#: A Pro plan; the credit figure is the simulator's own.
PRO: Final = Plan("pro", 200_000, websocket=True)
#: An Elite plan; the credit figure is the simulator's own.
ELITE: Final = Plan("elite", 1_000_000, websocket=True)
#: The keys a simulator accepts when it is given none.
DEFAULT_KEYS: Final[Mapping[str, Plan]] = {
    "oa_sim_pro": PRO,
    "oa_sim_elite": ELITE,
    "oa_sim_free": FREE,
}


@dataclass(frozen=True, slots=True)
class Usage:
    """A key's credits at one moment, as ``GET /usage`` reports them."""

    tier: str
    status: str
    credits_used: int
    credits_limit: int
    resets: bool

    @property
    def credits_remaining(self) -> int:
        """Credits left to spend."""
        return max(self.credits_limit - self.credits_used, 0)

    def to_json(self) -> JsonObject:
        """The ``/usage`` response body."""
        return {
            "tier": self.tier,
            "status": self.status,
            "credits_used": self.credits_used,
            "credits_limit": self.credits_limit,
            "credits_remaining": self.credits_remaining,
            "resets": self.resets,
        }


def credit_cost(market_types: int, bookmakers: int) -> int:
    """Credits one odds request (or one push) costs: ``market_types x ceil(bookmakers / 5)``."""
    return market_types * -(-bookmakers // BOOKS_PER_CREDIT)


def market_key(market: SimMarket) -> str:
    """The RapidOddsAPI market key a world market is published under."""
    if market.kind is MarketKind.MONEYLINE:
        return "head_to_head"
    if market.kind is MarketKind.MONEYLINE_3WAY:
        return "head_to_head_3_way"
    if market.kind is MarketKind.SPREAD:
        return "alternate_lines"
    if market.kind is MarketKind.TOTAL:
        return "alternate_total_points"
    return f"player_{market.stat}"


def naive_utc(epoch: float, *, micros: bool = False) -> str:
    """Epoch seconds as RapidOddsAPI writes times: naive UTC, ``YYYY-MM-DDTHH:MM:SS[.ffffff]``."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f" if micros else "%Y-%m-%dT%H:%M:%S")


@dataclass(slots=True)
class _Account:
    """A key's plan and its metering; mutable, unlike the `Usage` handed out."""

    plan: Plan
    used: int = 0
    #: When the key's recent requests arrived (event-loop seconds), for the rate limit.
    calls: deque[float] = field(default_factory=deque)
    #: Requests refused for the rate limit.
    throttled: int = 0

    @property
    def remaining(self) -> int:
        return max(self.plan.credits - self.used, 0)

    def usage(self) -> Usage:
        plan = self.plan
        status = "active" if plan.active else "inactive"
        return Usage(plan.tier, status, self.used, plan.credits, plan.resets)


class _Refusal(NamedTuple):
    """Why a request or handshake is turned away: the HTTP status and ``detail`` text."""

    status: int
    detail: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class _Subscription:
    sport: str
    bookmakers: tuple[str, ...]
    market_types: tuple[str, ...]

    @property
    def credits_per_push(self) -> int:
        return credit_cost(len(self.market_types), len(self.bookmakers))


#: How many `PushSent` records a simulator keeps.
PUSHES_KEPT: Final = 1000


class PushSent(NamedTuple):
    """One ``odds_update`` push handed to a socket: when (event-loop seconds), how long."""

    at: float
    characters: int


class _Ending(Enum):
    """Why a WebSocket connection ends, which decides what the client is sent last."""

    DISCONNECTED = "disconnected"
    DROP = "drop"
    CLOSE = "close"


class RapidOddsSimulator:
    """The RapidOddsAPI REST and WebSocket server, as an ASGI application.

    Args:
        world: the world to publish; read on every request and push.
        clock: wall-clock time in epoch seconds, for the times written in frames and the
            ``now`` passed to `World.step`. Defaults to `time.time`; keep it on the
            world's timeline (a `World` starts at its own ``now``, 2027 by default).
        keys: API key to plan. Keys must start with ``oa_``. Defaults to `DEFAULT_KEYS`.
        push_interval: seconds between scrape cycles (WebSocket pushes), measured on the
            event loop's clock. Make it small in tests (0.05).
        faults: the switches to honour; a fresh, all-off `Faults` by default. Keep one
            `Faults` per simulator: the simulator resets ``close_code`` once it acts on it.
        step_world: whether this simulator advances the world, once per tick (see the
            module docstring). Leave it False when something else steps the world.
        rate_limit: REST requests allowed per key per rolling second; None for no limit.

    Raises:
        ValueError: a key without the ``oa_`` prefix, or a non-positive ``push_interval``.
    """

    def __init__(
        self,
        world: World,
        *,
        clock: Callable[[], float] = time,
        keys: Mapping[str, Plan] | None = None,
        push_interval: float = 1.0,
        faults: Faults | None = None,
        step_world: bool = False,
        rate_limit: int | None = DEFAULT_RATE_LIMIT,
    ) -> None:
        """Set up the accounts; nothing runs until a server calls the application."""
        if push_interval <= 0:
            raise ValueError(f"push_interval must be positive, got {push_interval}")
        plans = DEFAULT_KEYS if keys is None else keys
        for key in plans:
            if not key.startswith("oa_"):
                raise ValueError(f"RapidOddsAPI keys start with 'oa_', got {key!r}")
        self.world = world
        self.clock = clock
        self.push_interval = push_interval
        self.faults = Faults() if faults is None else faults
        self.step_world = step_world
        self.rate_limit = rate_limit
        #: Every sport id the API accepts, the SDK's first, then any other the world has.
        self.sports: tuple[str, ...] = tuple(
            dict.fromkeys((*SPORT_IDS, *(event.sport for event in world.events)))
        )
        self._accounts = {key: _Account(plan) for key, plan in plans.items()}
        self._requests: dict[str, Counter[str]] = {}
        self._live: set[_Connection] = set()
        # The last tick the world was stepped on; ticks are shared by every connection so
        # that two connections (or REST and a connection) never step the world twice.
        self._stepped_tick = -1
        #: The latest pushes handed to a socket (a bench times its big pushes by them).
        self.pushes_sent: deque[PushSent] = deque(maxlen=PUSHES_KEPT)

    # -- what tests change ------------------------------------------------------------------

    def add_key(self, api_key: str, plan: Plan) -> None:
        """Accept ``api_key`` on ``plan`` from now on: a new or renewed key.

        Raises:
            ValueError: the key does not start with ``oa_``.
        """
        if not api_key.startswith("oa_"):
            raise ValueError(f"RapidOddsAPI keys start with 'oa_', got {api_key!r}")
        self._accounts[api_key] = _Account(plan)

    # -- what tests and the demo read --------------------------------------------------------

    def usage(self, api_key: str) -> Usage:
        """The credits of ``api_key`` right now.

        Raises:
            KeyError: the simulator does not know the key.
        """
        return self._accounts[api_key].usage()

    def requests(self, api_key: str) -> Counter[str]:
        """REST requests made with ``api_key`` so far, by path, refused ones included."""
        return Counter(self._requests.get(api_key, {}))

    def throttled(self, api_key: str) -> int:
        """REST requests of ``api_key`` refused for the rate limit so far.

        Raises:
            KeyError: the simulator does not know the key.
        """
        return self._accounts[api_key].throttled

    def top_up(self, api_key: str, credits: int) -> None:
        """Add ``credits`` to the allowance of ``api_key``, as buying more does.

        Pushes skipped for want of credits resume with the next scrape cycle, on the same
        socket: RapidOddsAPI keeps the connection and its subscriptions meanwhile.

        Raises:
            KeyError: the simulator does not know the key.
        """
        account = self._accounts[api_key]
        account.plan = replace(account.plan, credits=account.plan.credits + credits)

    @property
    def live_connections(self) -> int:
        """How many WebSocket connections are open (accepted and not yet ended)."""
        return len(self._live)

    def odds(
        self, sport: str, market_types: Iterable[str], bookmakers: Iterable[str]
    ) -> JsonObject:
        """The body of ``GET /sports/{sport}/markets`` for this scope, from the world as it is.

        Charges nothing and never steps the world; a sport the world has no games for
        gives ``games: []``.
        """
        types = tuple(dict.fromkeys(market_types))
        books = tuple(dict.fromkeys(bookmakers))
        events = sorted(
            (event for event in self.world.events if event.sport == sport),
            key=lambda event: (event.starts_at, event.home),
        )
        games = []
        for event in events:
            rendered = [
                book_json
                for book in books
                if (book_json := self._book_json(event, book, types)) is not None
            ]
            if rendered:
                game = {
                    "commence_time": naive_utc(event.starts_at),
                    "home_team": event.home,
                    "away_team": event.away,
                    "game_url": None,
                }
                games.append({"game": game, "bookmakers": rendered})
        return {"sport": sport, "games": games}

    def _book_json(self, event: SimEvent, book: str, types: tuple[str, ...]) -> JsonObject | None:
        """One book's markets for one game, or None when it has no quote in scope."""
        outcomes: dict[str, list[JsonObject]] = {}
        latest: float | None = None
        quotes = self.world.quotes
        for index, market in enumerate(event.markets):
            key = market_key(market)
            if key not in types:
                continue
            for side in market.sides:
                quote = quotes.get((event.event_id, index, side, book))
                if quote is None or quote.price is None:
                    continue
                outcomes.setdefault(key, []).append(_outcome(event, market, side, quote.price))
                latest = quote.updated_at if latest is None else max(latest, quote.updated_at)
        if latest is None:
            return None
        markets = [{"key": key, "outcomes": outcomes[key]} for key in types if key in outcomes]
        return {"name": book, "last_update": naive_utc(latest), "markets": markets}

    def market_keys(self, sport: str) -> JsonObject:
        """The ``markets`` object of ``GET /sports?sport=X&markets=true``: the world's keys."""
        keys = dict.fromkeys(
            market_key(market)
            for event in self.world.events
            if event.sport == sport
            for market in event.markets
        )
        props = [key for key in keys if key.startswith("player_")]
        game = [key for key in keys if key not in props]
        return {"game": game, "team": [], "player_props": props}

    # -- ticks and the world -----------------------------------------------------------------

    def _tick_now(self) -> int:
        return math.floor(anyio.current_time() / self.push_interval)

    def _advance_world(self, tick: int) -> None:
        """Step the world if this simulator owns it and ``tick`` has not been stepped yet."""
        if self.step_world and tick > self._stepped_tick:
            self._stepped_tick = tick
            self.world.step(self.clock())

    async def _next_tick(self, last: int) -> int:
        """Sleep until the tick after ``last`` (and after now); return its number."""
        # The max() guards against float rounding putting us back on the tick just served.
        tick = max(self._tick_now() + 1, last + 1)
        await anyio.sleep_until(tick * self.push_interval)
        self._advance_world(tick)
        return tick

    def _take_close_code(self) -> None:
        """Act on ``faults.close_code`` once: mark every live connection, reset the switch."""
        code = self.faults.close_code
        if code is None:
            return
        self.faults.close_code = None
        for connection in self._live:
            if connection.close_code is None:
                connection.close_code = code

    # -- ASGI --------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection: HTTP, WebSocket or lifespan."""
        if scope["type"] == "http":
            await self._serve_http(scope, send)
        elif scope["type"] == "websocket":
            await self._serve_websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            await serve_lifespan(receive, send)

    async def _serve_http(self, scope: Scope, send: Send) -> None:
        status, body = self._route(scope)
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        if status == 429 and isinstance(body, dict) and body.get("detail") == self._rate_text:
            headers.append((b"retry-after", b"1"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _route(self, scope: Scope) -> tuple[int, object]:
        """The status and JSON body answering one REST request."""
        parts = scope["path"].strip("/").split("/")
        is_odds = len(parts) == 3 and parts[0] == "sports" and parts[2] == "markets"
        if not (is_odds or parts in (["sports"], ["usage"])):
            return 404, {"detail": "Not Found"}
        if scope["method"] != "GET":
            return 405, {"detail": "Method Not Allowed"}
        query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        api_key = query.get("api_key", [""])[0]
        self._requests.setdefault(api_key, Counter())[scope["path"]] += 1
        account = self._admit(api_key)
        if isinstance(account, _Refusal):
            return account.status, {"detail": account.detail}
        if parts == ["usage"]:
            return 200, account.usage().to_json()
        if parts == ["sports"]:
            return self._sports(query)
        return self._markets(account, parts[1], query)

    def _admit(self, api_key: str) -> _Account | _Refusal:
        """The key's account, or why the request is refused: 401, 403 or a rate-limit 429."""
        account = self._authenticate(api_key)
        if isinstance(account, _Account) and self._rate_limited(account):
            account.throttled += 1
            return _Refusal(429, self._rate_text)
        return account

    @property
    def _rate_text(self) -> str:
        """The documented ``detail`` of a rate-limit 429."""
        return _refusal_detail(429, self.rate_limit)

    def _authenticate(self, api_key: str, *, unknown_status: int = 401) -> _Account | _Refusal:
        """The key's account, or the refusal for a bad key (unknown_status) or a lapsed plan."""
        account = self._accounts.get(api_key) if api_key.startswith("oa_") else None
        if account is None:
            return _Refusal(unknown_status, _INVALID_KEY)
        if not account.plan.active:
            return _Refusal(403, _INACTIVE)
        return account

    def _rate_limited(self, account: _Account) -> bool:
        """Count this request against the key's rolling second; whether it is over."""
        if self.rate_limit is None:
            return False
        now, calls = anyio.current_time(), account.calls
        while calls and calls[0] <= now - 1.0:
            calls.popleft()
        if len(calls) >= self.rate_limit:
            return True
        calls.append(now)
        return False

    def _sports(self, query: Mapping[str, list[str]]) -> tuple[int, object]:
        sport = query.get("sport", [None])[0]
        if sport is None:
            return 200, [{"id": sport_id, "name": sport_id} for sport_id in self.sports]
        if sport not in self.sports:
            return 404, {"detail": f"Sport '{sport}' not found."}
        body: JsonObject = {"id": sport, "name": sport}
        if query.get("markets", ["false"])[0].lower() == "true":
            body["markets"] = self.market_keys(sport)
        return 200, body

    def _markets(
        self, account: _Account, sport: str, query: Mapping[str, list[str]]
    ) -> tuple[int, object]:
        # FastAPI validates the query before the handler runs, so 422 comes before 404.
        missing = [name for name in ("market_type", "bookmaker") if not query.get(name)]
        if missing:
            return 422, {"detail": [_field_required(name) for name in missing]}
        if sport not in self.sports:
            return 404, {"detail": f"Sport '{sport}' not found."}
        self._advance_world(self._tick_now())
        types = tuple(dict.fromkeys(query["market_type"]))
        books = tuple(dict.fromkeys(query["bookmaker"]))
        body = self.odds(sport, types, books)
        if body["games"]:
            cost = credit_cost(len(types), len(books))
            if cost > account.remaining:
                return 429, {"detail": _insufficient("request", cost, account.remaining)}
            account.used += cost
        return 200, body

    async def _serve_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        account = self._ws_admission(scope)
        if isinstance(account, _Refusal):
            await _deny(scope, send, account)
            return
        await send({"type": "websocket.accept"})
        connection = _Connection(self, account, receive, send)
        self._live.add(connection)
        try:
            await connection.run()
        finally:
            self._live.discard(connection)

    def _ws_admission(self, scope: Scope) -> _Account | _Refusal:
        """The account a handshake is for, or why it is refused."""
        if scope["path"] != _ODDS_WS_PATH:
            return _Refusal(404, "Not Found")
        faults = self.faults
        if faults.refuse_handshake is not None:
            status = faults.refuse_handshake
            headers: tuple[tuple[bytes, bytes], ...] = ()
            if status == 429 and faults.retry_after is not None:
                headers = ((b"retry-after", f"{faults.retry_after:g}".encode()),)
            return _Refusal(status, _refusal_detail(status, self.rate_limit), headers)
        query = parse_qs(scope["query_string"].decode("latin-1"))
        # RapidOddsAPI refuses every handshake it will not serve with 403, even a bad key.
        account = self._authenticate(query.get("api_key", [""])[0], unknown_status=403)
        if isinstance(account, _Account) and not account.plan.websocket:
            return _Refusal(403, _NO_WEBSOCKET)
        return account

    def _connected_event(self, account: _Account) -> JsonObject:
        return {"event": "connected", "tier": account.plan.tier, "message": _CONNECTED_TEXT}

    def _handle(self, connection: _Connection, text: str | None) -> JsonObject:
        """Act on one client message; return the reply."""
        try:
            message = json.loads(text) if text is not None else None
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return _error(_BAD_MESSAGE)
        action = message.get("action")
        sport = message.get("sport")
        if action not in ("subscribe", "unsubscribe"):
            return _error(f"Unknown action '{action}'. Use 'subscribe' or 'unsubscribe'.")
        if not isinstance(sport, str):
            return _error("Field 'sport' must be a string.")
        if action == "unsubscribe":
            connection.subscriptions.pop(sport, None)
            return {"event": "unsubscribed", "sport": sport}
        return self._subscribe(connection, sport, message)

    def _subscribe(self, connection: _Connection, sport: str, message: JsonObject) -> JsonObject:
        """Act on a subscribe message; return the ``subscribed`` or ``error`` reply."""
        if sport not in self.sports:
            return _error(f"Sport '{sport}' not found.")
        lists: dict[str, tuple[str, ...]] = {}
        for name in ("bookmakers", "market_types"):
            values = message.get(name)
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(value, str) for value in values)
            ):
                return _error(f"Field '{name}' must be a non-empty list of strings.")
            lists[name] = tuple(dict.fromkeys(values))
        subscription = _Subscription(sport, lists["bookmakers"], lists["market_types"])
        connection.subscriptions[sport] = subscription
        return {
            "event": "subscribed",
            "sport": sport,
            "bookmakers": list(subscription.bookmakers),
            "market_types": list(subscription.market_types),
            "credits_per_push": subscription.credits_per_push,
        }

    def _push_event(self, account: _Account, subscription: _Subscription) -> JsonObject:
        """One scrape cycle's frame for a subscription: an odds update, or a credits error."""
        sport = subscription.sport
        data = self.odds(sport, subscription.market_types, subscription.bookmakers)
        cost = subscription.credits_per_push if data["games"] else 0
        if cost > account.remaining:
            return _error(_insufficient("push", cost, account.remaining))
        account.used += cost
        return {
            "event": "odds_update",
            "sport": sport,
            "timestamp": naive_utc(self.clock(), micros=True),
            "credits_charged": cost,
            "data": data,
        }


class _Connection:
    """One accepted odds WebSocket: its subscriptions and the tasks that serve it.

    Four tasks share the connection: the watcher (faults), the reader (takes every ASGI
    message at once, so a disconnect is seen even while stalled), the talker (greets, then
    handles the client's messages in order) and the pusher (one frame per subscription per
    tick). Frames go out under one lock, and a message is handled under it too, so no push
    for a sport follows its ``unsubscribed`` reply.
    """

    def __init__(
        self, sim: RapidOddsSimulator, account: _Account, receive: Receive, send: Send
    ) -> None:
        self.sim = sim
        self.account = account
        self.subscriptions: dict[str, _Subscription] = {}
        #: Set by `RapidOddsSimulator._take_close_code`: close with this code.
        self.close_code: int | None = None
        self._receive = receive
        self._send = send
        self._lock = anyio.Lock()
        self._greeted = anyio.Event()
        self._ending: _Ending | None = None
        self._scope = anyio.CancelScope()

    async def run(self) -> None:
        """Serve the connection until it ends, then close it the way the ending asks."""
        # A fault already on when the connection arrives ends it before it starts.
        if not self._check_faults():
            inbox_in, inbox_out = anyio.create_memory_object_stream[str | None](math.inf)
            # Closed here too, in case the tasks that own them are cancelled before they start.
            async with inbox_in, inbox_out:
                with self._scope:
                    async with anyio.create_task_group() as group:
                        group.start_soon(self._watch)
                        group.start_soon(self._read, inbox_in)
                        group.start_soon(self._talk, inbox_out)
                        group.start_soon(self._push)
        if self._ending is _Ending.CLOSE and self.close_code is not None:
            code = self.close_code
            reason = _CLOSE_REASONS.get(code, "")
            # The client may be gone already; then there is nobody to tell.
            with suppress(OSError):
                await self._send({"type": "websocket.close", "code": code, "reason": reason})
        # DROP and DISCONNECTED return without a close frame; uvicorn then closes the socket.

    def _end(self, ending: _Ending) -> None:
        if self._ending is None:
            self._ending = ending
        self._scope.cancel()

    def _check_faults(self) -> bool:
        """End the connection if a fault says so; whether it did."""
        if self.sim.faults.drop:
            self._end(_Ending.DROP)
            return True
        self.sim._take_close_code()
        if self.close_code is not None:
            self._end(_Ending.CLOSE)
            return True
        return False

    async def _watch(self) -> None:
        while not self._check_faults():
            await anyio.sleep(FAULT_POLL_INTERVAL)

    async def _read(self, inbox: ObjectSendStream[str | None]) -> None:
        async with inbox:
            while True:
                message = await self._receive()
                if message["type"] == "websocket.disconnect":
                    self._end(_Ending.DISCONNECTED)
                    return
                if message["type"] == "websocket.receive":
                    text = message.get("text")
                    # A binary frame is passed on as None: not a message the API understands.
                    await inbox.send(text if isinstance(text, str) else None)

    async def _wait_unstalled(self) -> None:
        while self.sim.faults.stall:
            await anyio.sleep(FAULT_POLL_INTERVAL)

    async def _talk(self, inbox: ObjectReceiveStream[str | None]) -> None:
        async with inbox:
            async with self._lock:
                await self._send_frame(self.sim._connected_event(self.account))
            self._greeted.set()
            async for text in inbox:
                await self._wait_unstalled()
                async with self._lock:
                    reply = self.sim._handle(self, text)
                    await self._send_frame(reply)

    async def _push(self) -> None:
        await self._greeted.wait()
        faults, tick = self.sim.faults, -1
        while True:
            tick = await self.sim._next_tick(tick)
            for sport in list(self.subscriptions):
                async with self._lock:
                    # Checked under the lock: the sport may have been unsubscribed meanwhile,
                    # and a stalled or silent scrape is skipped, not charged.
                    subscription = self.subscriptions.get(sport)
                    if subscription is None or faults.stall or faults.silent:
                        continue
                    frame = self.sim._push_event(self.account, subscription)
                    await self._send_frame(frame)

    async def _send_frame(self, frame: JsonObject) -> None:
        """Send one JSON frame as the faults allow; the caller holds the lock."""
        faults = self.sim.faults
        await self._wait_unstalled()
        if faults.silent or self._check_faults():
            return
        text = json.dumps(frame, separators=(",", ":"))
        if faults.take_malformed():
            # Any proper prefix of a JSON object is invalid JSON: the object never closes.
            text = text[: len(text) // 2]
        elif faults.take_oversized():
            text += " " * max(faults.oversized_bytes + 1 - len(text.encode()), 0)
        message: dict[str, object] = {"type": "websocket.send", "text": text}
        if faults.take_binary():
            message = {"type": "websocket.send", "bytes": text.encode()}
        try:
            await self._send(message)
        except OSError:
            # uvicorn's ClientDisconnected: the peer went away between two frames.
            self._end(_Ending.DISCONNECTED)
            return
        if frame.get("event") == "odds_update":
            self.sim.pushes_sent.append(PushSent(anyio.current_time(), len(text)))


def _outcome(event: SimEvent, market: SimMarket, side: int, price: float) -> JsonObject:
    """One outcome as RapidOddsAPI writes it (see the module docstring's table)."""
    kind = market.kind
    if kind in (MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY, MarketKind.SPREAD):
        name = {HOME: event.home, AWAY: event.away, DRAW: "Draw"}[side]
        outcome: JsonObject = {"name": name, "price": price}
        if kind is MarketKind.SPREAD:
            # Each team carries its own handicap; + 0.0 keeps -0.0 off the wire.
            outcome["point"] = (market.line if side == HOME else -market.line) + 0.0
        return outcome
    outcome = {"name": {OVER: "Over", UNDER: "Under"}[side], "price": price, "point": market.line}
    if kind is MarketKind.PLAYER_PROP:
        outcome["player_name"] = market.player
    return outcome


def _error(message: str) -> JsonObject:
    return {"event": "error", "message": message}


def _insufficient(what: str, cost: int, remaining: int) -> str:
    # The SDK parses "you have (\d+) remaining" out of this text; keep that part verbatim.
    return (
        f"Insufficient credits. This {what} costs {cost} credits, you have {remaining} remaining."
    )


def _field_required(name: str) -> JsonObject:
    """One entry of a FastAPI (pydantic 2) 422 body for a missing query parameter."""
    return {"type": "missing", "loc": ["query", name], "msg": "Field required", "input": None}


def _refusal_detail(status: int, rate_limit: int | None) -> str:
    if status == 401:
        return _INVALID_KEY
    if status == 403:
        return _INACTIVE
    if status == 429:
        return (
            f"Rate limit exceeded. Maximum {rate_limit or DEFAULT_RATE_LIMIT} requests per second."
        )
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _deny(scope: Scope, send: Send, refusal: _Refusal) -> None:
    """Refuse a WebSocket handshake with an HTTP response, as RapidOddsAPI does."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        # A server without the denial-response extension can only say 403, bodiless.
        await send({"type": "websocket.close"})
        return
    body = json.dumps({"detail": refusal.detail}, separators=(",", ":")).encode()
    await send(
        {
            "type": "websocket.http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *refusal.headers,
            ],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})
