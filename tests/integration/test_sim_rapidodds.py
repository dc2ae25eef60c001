"""The RapidOddsAPI simulator over real loopback HTTP and WebSocket, as a client sees it."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from httpx_ws import (
    AsyncWebSocketSession,
    WebSocketDisconnect,
    WebSocketNetworkError,
    WebSocketUpgradeError,
    aconnect_ws,
)

from arbwatch.core.markets import AWAY, HOME, OVER, UNDER, MarketKind
from arbwatch.sim.faults import Faults
from arbwatch.sim.rapidodds import (
    DEFAULT_RATE_LIMIT,
    ELITE,
    FREE,
    PRO,
    Plan,
    RapidOddsSimulator,
    market_key,
)
from arbwatch.sim.server import serve
from arbwatch.sim.world import Quote, World

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0
#: The simulator's wall clock: fixed, so frame timestamps are known exactly.
CLOCK = NOW + 0.25
INTERVAL = 0.05
#: The longest any single wait in these tests may take.
WAIT = 3.0
#: Long enough for several pushes (ticks) to have happened, were any due.
QUIET = 6 * INTERVAL

PRO_KEY = "oa_pro"
KEYS: dict[str, Plan] = {
    PRO_KEY: PRO,
    "oa_elite": ELITE,
    "oa_free": FREE,
    "oa_lapsed": dataclasses.replace(PRO, active=False),
    "oa_poor": dataclasses.replace(PRO, credits=5),
}
SIX_BOOKS = ["Pinnacle", "DraftKings", "FanDuel", "BetMGM", "Bovada", "Fanatics"]
ALL_TYPES = ["head_to_head", "alternate_lines", "alternate_total_points", "player_points"]
NAIVE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
NAIVE_MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")


@dataclass
class Sim:
    """A running simulator and a client for it."""

    sim: RapidOddsSimulator
    world: World
    base: str
    client: httpx.AsyncClient

    @property
    def faults(self) -> Faults:
        return self.sim.faults

    def ws_url(self, key: str = PRO_KEY) -> str:
        return f"{self.base}/ws?api_key={key}"

    async def odds(
        self, sport: str, types: list[str], books: list[str], key: str = PRO_KEY
    ) -> httpx.Response:
        params = {"api_key": key, "market_type": types, "bookmaker": books}
        return await self.client.get(f"/sports/{sport}/markets", params=params)

    def used(self, key: str = PRO_KEY) -> int:
        return self.sim.usage(key).credits_used

    @asynccontextmanager
    async def connect(self, key: str = PRO_KEY) -> AsyncIterator[AsyncWebSocketSession]:
        ws: AsyncWebSocketSession
        async with aconnect_ws(self.ws_url(key), self.client) as ws:
            yield ws


@asynccontextmanager
async def running(
    *,
    step_world: bool = False,
    rate_limit: int | None = DEFAULT_RATE_LIMIT,
    world: World | None = None,
) -> AsyncIterator[Sim]:
    world = World(seed=7, now=NOW) if world is None else world
    sim = RapidOddsSimulator(
        world,
        clock=lambda: CLOCK,
        keys=KEYS,
        push_interval=INTERVAL,
        step_world=step_world,
        rate_limit=rate_limit,
    )
    with anyio.fail_after(15):
        async with serve(sim) as base, httpx.AsyncClient(base_url=base) as client:
            yield Sim(sim, world, base, client)


async def receive(ws: AsyncWebSocketSession) -> dict[str, Any]:
    with anyio.fail_after(WAIT):
        text = await ws.receive_text()
    event = json.loads(text)
    assert isinstance(event, dict)
    return event


async def next_event(ws: AsyncWebSocketSession, name: str) -> dict[str, Any]:
    """The next frame whose ``event`` is ``name``, skipping the others."""
    with anyio.fail_after(WAIT):
        while (event := await receive(ws))["event"] != name:
            pass
    return event


async def read_until_the_end(ws: AsyncWebSocketSession) -> None:
    """Read frames until the connection ends (raises); fail if it does not end in time."""
    with anyio.fail_after(WAIT):
        while True:
            await ws.receive_text()


async def assert_quiet(ws: AsyncWebSocketSession) -> None:
    """Nothing arrives for a while (several push intervals)."""
    with anyio.move_on_after(QUIET):
        text = await ws.receive_text()
        pytest.fail(f"expected no frame, got {text[:200]}")


async def subscribe(
    ws: AsyncWebSocketSession, sport: str, books: list[str], types: list[str]
) -> dict[str, Any]:
    await ws.send_json(
        {"action": "subscribe", "sport": sport, "bookmakers": books, "market_types": types}
    )
    return await next_event(ws, "subscribed")


# -- REST -------------------------------------------------------------------------------------


async def test_the_odds_response_renders_the_world_in_the_documented_shape() -> None:
    async with running() as s:
        response = await s.odds("NBA", ALL_TYPES, ["Pinnacle", "DraftKings"])
        assert response.status_code == 200
        body = response.json()
    assert set(body) == {"sport", "games"}
    assert body["sport"] == "NBA"
    events = [event for event in s.world.events if event.sport == "NBA"]
    assert len(body["games"]) == len(events)
    starts = [game["game"]["commence_time"] for game in body["games"]]
    assert starts == sorted(starts)
    seen_keys: set[str] = set()
    for game in body["games"]:
        info = game["game"]
        assert set(info) == {"commence_time", "home_team", "away_team", "game_url"}
        assert info["game_url"] is None
        assert NAIVE.match(info["commence_time"])
        event = next(
            e for e in events if (e.home, e.away) == (info["home_team"], info["away_team"])
        )
        assert [book["name"] for book in game["bookmakers"]] == ["Pinnacle", "DraftKings"]
        for book in game["bookmakers"]:
            assert set(book) == {"name", "last_update", "markets"}
            assert NAIVE.match(book["last_update"])
            keys = [market["key"] for market in book["markets"]]
            assert keys == [key for key in ALL_TYPES if key in keys]  # in requested order
            for market in book["markets"]:
                seen_keys.add(market["key"])
                index = next(
                    i for i, m in enumerate(event.markets) if market_key(m) == market["key"]
                )
                sim_market = event.markets[index]
                for outcome in market["outcomes"]:
                    assert isinstance(outcome["price"], float)
                    assert outcome["price"] > 1.0
                    kind = sim_market.kind
                    if kind is MarketKind.MONEYLINE:
                        assert set(outcome) == {"name", "price"}
                        side = {event.home: HOME, event.away: AWAY}[outcome["name"]]
                    elif kind is MarketKind.SPREAD:
                        assert set(outcome) == {"name", "price", "point"}
                        side = {event.home: HOME, event.away: AWAY}[outcome["name"]]
                        own_line = sim_market.line if side == HOME else -sim_market.line
                        assert outcome["point"] == own_line
                    else:
                        side = {"Over": OVER, "Under": UNDER}[outcome["name"]]
                        assert outcome["point"] == sim_market.line
                        if kind is MarketKind.PLAYER_PROP:
                            assert outcome["player_name"] == sim_market.player
                        else:
                            assert "player_name" not in outcome
                    quote = s.world.quotes[(event.event_id, index, side, book["name"])]
                    assert outcome["price"] == quote.price
    assert seen_keys == set(ALL_TYPES)


async def test_only_the_requested_books_and_market_types_come_back() -> None:
    async with running() as s:
        body = (await s.odds("NBA", ["alternate_total_points"], ["Bet365"])).json()
        # Parameters repeat; a comma list is one (unknown) value, which matches nothing.
        comma = (await s.odds("NBA", ["head_to_head,alternate_lines"], ["Pinnacle"])).json()
    for game in body["games"]:
        assert [book["name"] for book in game["bookmakers"]] == ["Bet365"]
        assert [m["key"] for m in game["bookmakers"][0]["markets"]] == ["alternate_total_points"]
    assert comma["games"] == []


async def test_a_three_way_market_names_the_draw() -> None:
    async with running() as s:
        body = (await s.odds("EPL", ["head_to_head_3_way"], ["Pinnacle"])).json()
    assert body["games"]
    for game in body["games"]:
        outcomes = game["bookmakers"][0]["markets"][0]["outcomes"]
        names = [outcome["name"] for outcome in outcomes]
        assert names == [game["game"]["home_team"], game["game"]["away_team"], "Draw"]


async def test_off_board_quotes_are_absent_and_so_are_books_left_without_any() -> None:
    world = World(seed=7, now=NOW)
    event = next(e for e in world.events if e.sport == "NBA")
    for key, quote in list(world.quotes.items()):
        if key[0] == event.event_id and key[3] == "DraftKings":
            world.quotes[key] = dataclasses.replace(quote, price=None)
    away_moneyline = (event.event_id, 0, AWAY, "Pinnacle")
    world.quotes[away_moneyline] = dataclasses.replace(world.quotes[away_moneyline], price=None)
    async with running(world=world) as s:
        body = (await s.odds("NBA", ["head_to_head"], ["Pinnacle", "DraftKings"])).json()
    game = next(g for g in body["games"] if g["game"]["home_team"] == event.home)
    assert [book["name"] for book in game["bookmakers"]] == ["Pinnacle"]
    assert [o["name"] for o in game["bookmakers"][0]["markets"][0]["outcomes"]] == [event.home]


async def test_sports_and_their_market_keys_are_listed_for_free() -> None:
    async with running() as s:
        sports = (await s.client.get("/sports", params={"api_key": PRO_KEY})).json()
        nba = await s.client.get(
            "/sports", params={"api_key": PRO_KEY, "sport": "NBA", "markets": "true"}
        )
        epl = await s.client.get(
            "/sports", params={"api_key": PRO_KEY, "sport": "EPL", "markets": "true"}
        )
        unknown = await s.client.get("/sports", params={"api_key": PRO_KEY, "sport": "XYZ"})
        assert s.used() == 0
    assert {"id": "NBA", "name": "NBA"} in sports
    assert {"id": "MLB", "name": "MLB"} in sports
    assert nba.json() == {
        "id": "NBA",
        "name": "NBA",
        "markets": {
            "game": ["head_to_head", "alternate_lines", "alternate_total_points"],
            "team": [],
            "player_props": ["player_points"],
        },
    }
    assert "head_to_head_3_way" in epl.json()["markets"]["game"]
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Sport 'XYZ' not found."}


async def test_rest_errors_carry_fastapi_style_details() -> None:
    async with running() as s:
        for key in ("", "sk_live_123", "oa_unknown"):
            response = await s.odds("NBA", ["head_to_head"], ["Pinnacle"], key=key)
            assert response.status_code == 401
            assert response.json() == {"detail": "Invalid API key."}
        missing_key = await s.client.get("/usage")
        assert missing_key.status_code == 401
        lapsed = await s.odds("NBA", ["head_to_head"], ["Pinnacle"], key="oa_lapsed")
        assert lapsed.status_code == 403
        assert lapsed.json() == {"detail": "Subscription is not active."}
        unknown = await s.odds("XYZ", ["head_to_head"], ["Pinnacle"])
        assert unknown.status_code == 404
        assert unknown.json() == {"detail": "Sport 'XYZ' not found."}
        neither = await s.odds("NBA", [], [])
        only_types = await s.odds("NBA", ["head_to_head"], [])
        assert s.used() == 0
    assert neither.status_code == 422
    details = neither.json()["detail"]
    assert isinstance(details, list)
    assert [d["loc"] for d in details] == [["query", "market_type"], ["query", "bookmaker"]]
    assert all(d["msg"] == "Field required" for d in details)
    assert only_types.status_code == 422
    assert [d["loc"] for d in only_types.json()["detail"]] == [["query", "bookmaker"]]


async def test_credits_are_types_times_books_in_fives_and_only_when_games_come_back() -> None:
    async with running() as s:
        one_by_six = await s.odds("NBA", ["head_to_head"], SIX_BOOKS)
        assert one_by_six.status_code == 200
        assert s.used() == 2
        # 2 types x 10 books = 4 credits; names the world does not know still count.
        ten = [*SIX_BOOKS, "Bet365", "Sportsbet", "TAB", "Ladbrokes"]
        assert (await s.odds("NBA", ["head_to_head", "alternate_lines"], ten)).status_code == 200
        assert s.used() == 6
        # No games, no charge: a sport without games, and a book without data.
        assert (await s.odds("MLB", ["head_to_head"], SIX_BOOKS)).json()["games"] == []
        assert (await s.odds("NBA", ["head_to_head"], ["Sportsbet"])).json()["games"] == []
        assert s.used() == 6
        usage = (await s.client.get("/usage", params={"api_key": PRO_KEY})).json()
    assert usage == {
        "tier": "pro",
        "status": "active",
        "credits_used": 6,
        "credits_limit": PRO.credits,
        "credits_remaining": PRO.credits - 6,
        "resets": True,
    }


async def test_insufficient_credits_is_a_429_the_sdk_can_parse() -> None:
    async with running() as s:
        three_types = ["head_to_head", "alternate_lines", "alternate_total_points"]
        too_dear = await s.odds("NBA", three_types, SIX_BOOKS, "oa_poor")
        assert too_dear.status_code == 429
        assert too_dear.json() == {
            "detail": "Insufficient credits. This request costs 6 credits, you have 5 remaining."
        }
        assert s.used("oa_poor") == 0
        # Spend down to 1 and ask for 2.
        assert (await s.odds("NBA", ["head_to_head"], ["Pinnacle"], "oa_poor")).status_code == 200
        assert (await s.odds("NBA", ALL_TYPES, ["Pinnacle"], "oa_poor")).status_code == 200
        short = await s.odds("NBA", ["head_to_head"], SIX_BOOKS, "oa_poor")
        free = await s.odds("MLB", ["head_to_head"], SIX_BOOKS, "oa_poor")
        usage = s.sim.usage("oa_poor")
    assert short.status_code == 429
    text = short.json()["detail"]
    assert text == "Insufficient credits. This request costs 2 credits, you have 0 remaining."
    match = re.search(r"you have (\d+) remaining", text)
    assert match is not None
    assert int(match.group(1)) == usage.credits_remaining == 0
    assert usage.credits_used == 5
    assert free.status_code == 200  # nothing to charge, so no credits needed


async def test_more_than_the_rate_limit_per_second_is_a_429() -> None:
    async with running(rate_limit=3) as s:
        statuses = [
            (await s.client.get("/usage", params={"api_key": PRO_KEY})).status_code
            for _ in range(4)
        ]
        last = await s.client.get("/usage", params={"api_key": PRO_KEY})
        other_key = await s.client.get("/usage", params={"api_key": "oa_elite"})
    assert statuses == [200, 200, 200, 429]
    assert last.json() == {"detail": "Rate limit exceeded. Maximum 3 requests per second."}
    assert other_key.status_code == 200


async def test_usage_of_the_free_tier() -> None:
    async with running() as s:
        assert (await s.odds("NBA", ["head_to_head"], ["Pinnacle"], "oa_free")).status_code == 200
        usage = (await s.client.get("/usage", params={"api_key": "oa_free"})).json()
    assert usage == {
        "tier": "free",
        "status": "active",
        "credits_used": 1,
        "credits_limit": 250,
        "credits_remaining": 249,
        "resets": False,
    }


# -- WebSocket --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "detail"),
    [
        ("nokey", "Invalid API key."),
        ("oa_unknown", "Invalid API key."),
        ("oa_free", "WebSocket access requires a Pro or Elite plan."),
        ("oa_lapsed", "Subscription is not active."),
    ],
)
async def test_the_handshake_is_refused_with_403(key: str, detail: str) -> None:
    async with running() as s:
        with pytest.raises(WebSocketUpgradeError) as refused:
            async with s.connect(key):
                pytest.fail("the handshake should have been refused")
        # httpx-ws leaves the refusal's body unread; a bare upgrade request reads it.
        upgrade = {
            "connection": "upgrade",
            "upgrade": "websocket",
            "sec-websocket-key": base64.b64encode(b"0123456789abcdef").decode(),
            "sec-websocket-version": "13",
        }
        raw = await s.client.get("/ws", params={"api_key": key}, headers=upgrade)
    assert refused.value.response.status_code == 403
    assert raw.status_code == 403
    assert raw.json() == {"detail": detail}


async def test_connect_subscribe_and_receive_full_snapshots() -> None:
    async with running() as s, s.connect("oa_elite") as ws:
        connected = await receive(ws)
        assert connected == {
            "event": "connected",
            "tier": "elite",
            "message": "Send subscribe messages to start receiving odds data.",
        }
        subscribed = await subscribe(ws, "NBA", SIX_BOOKS, ["head_to_head"])
        assert subscribed == {
            "event": "subscribed",
            "sport": "NBA",
            "bookmakers": SIX_BOOKS,
            "market_types": ["head_to_head"],
            "credits_per_push": 2,
        }
        first = await next_event(ws, "odds_update")
        second = await next_event(ws, "odds_update")
        rest = (await s.odds("NBA", ["head_to_head"], SIX_BOOKS, "oa_elite")).json()
    assert set(first) == {"event", "sport", "timestamp", "credits_charged", "data"}
    assert first["sport"] == "NBA"
    assert first["timestamp"] == "2027-01-15T08:00:00.250000"
    assert NAIVE_MICROS.match(first["timestamp"])
    assert first["credits_charged"] == second["credits_charged"] == 2
    # A full snapshot, exactly the REST body (the world does not move in this test).
    assert first["data"] == second["data"] == rest
    assert len(first["data"]["games"]) == 4


async def test_pushes_stop_with_insufficient_credits_and_the_connection_stays_open() -> None:
    async with running() as s, s.connect("oa_poor") as ws:
        await receive(ws)
        assert (await subscribe(ws, "NBA", SIX_BOOKS, ["head_to_head"]))["credits_per_push"] == 2
        charged = [(await next_event(ws, "odds_update"))["credits_charged"] for _ in range(2)]
        error = await receive(ws)
        assert s.used("oa_poor") == 4
        await ws.send_json({"action": "unsubscribe", "sport": "NBA"})
        unsubscribed = await next_event(ws, "unsubscribed")
        await assert_quiet(ws)
    assert charged == [2, 2]
    assert error["event"] == "error"
    assert "credit" in error["message"]
    assert "you have 1 remaining" in error["message"]
    assert unsubscribed == {"event": "unsubscribed", "sport": "NBA"}


async def test_a_push_without_games_is_sent_free() -> None:
    async with running() as s, s.connect() as ws:
        await receive(ws)
        await subscribe(ws, "NBA", ["Sportsbet"], ["head_to_head"])
        push = await next_event(ws, "odds_update")
    assert push["credits_charged"] == 0
    assert push["data"] == {"sport": "NBA", "games": []}
    assert s.used() == 0


async def test_unsubscribe_stops_a_sport_and_leaves_the_others() -> None:
    async with running() as s, s.connect() as ws:
        await receive(ws)
        await subscribe(ws, "NBA", ["Pinnacle"], ["head_to_head"])
        await subscribe(ws, "EPL", ["Pinnacle"], ["head_to_head_3_way"])
        sports: set[str] = set()
        with anyio.fail_after(WAIT):
            while sports != {"NBA", "EPL"}:
                push = await next_event(ws, "odds_update")
                assert push["data"]["sport"] == push["sport"]
                sports.add(push["sport"])
                if push["sport"] == "EPL":
                    outcomes = push["data"]["games"][0]["bookmakers"][0]["markets"][0]["outcomes"]
                    assert outcomes[-1]["name"] == "Draw"
        await ws.send_json({"action": "unsubscribe", "sport": "NBA"})
        await next_event(ws, "unsubscribed")
        after = [await next_event(ws, "odds_update") for _ in range(4)]
    # The reply is sent after the sport is dropped, so no NBA push can follow it.
    assert {push["sport"] for push in after} == {"EPL"}


async def test_subscriptions_die_with_the_connection() -> None:
    async with running() as s:
        async with s.connect() as ws:
            await receive(ws)
            await subscribe(ws, "NBA", ["Pinnacle"], ["head_to_head"])
            await next_event(ws, "odds_update")
        async with s.connect() as ws:
            assert (await receive(ws))["event"] == "connected"
            await assert_quiet(ws)


async def test_bad_messages_get_error_events_and_the_connection_survives() -> None:
    messages = [
        ("not json", "Invalid message. Send a JSON object with an 'action' field."),
        ("[1, 2]", "Invalid message. Send a JSON object with an 'action' field."),
        ('{"action": "listen"}', "Unknown action 'listen'. Use 'subscribe' or 'unsubscribe'."),
        ('{"action": "subscribe"}', "Field 'sport' must be a string."),
        (
            '{"action": "subscribe", "sport": "XYZ", "bookmakers": ["Pinnacle"],'
            ' "market_types": ["head_to_head"]}',
            "Sport 'XYZ' not found.",
        ),
        (
            '{"action": "subscribe", "sport": "NBA", "market_types": ["head_to_head"]}',
            "Field 'bookmakers' must be a non-empty list of strings.",
        ),
        (
            '{"action": "subscribe", "sport": "NBA", "bookmakers": ["Pinnacle"],'
            ' "market_types": []}',
            "Field 'market_types' must be a non-empty list of strings.",
        ),
    ]
    async with running() as s, s.connect() as ws:
        await receive(ws)
        for text, expected in messages:
            await ws.send_text(text)
            assert await receive(ws) == {"event": "error", "message": expected}
        await ws.send_bytes(b'{"action": "subscribe"}')
        assert (await receive(ws))["event"] == "error"
        # No bad message cost a credit. Checked before the good subscription: its first
        # push (every 50 ms here) may be charged before the connection closes.
        assert s.used() == 0
        assert (await subscribe(ws, "NBA", ["Pinnacle"], ["head_to_head"]))["sport"] == "NBA"


async def test_the_world_steps_once_per_tick_however_many_connections_push() -> None:
    class CountingWorld(World):
        steps = 0

        def step(self, now: float) -> list[Quote]:
            self.steps += 1
            return super().step(now)

    world = CountingWorld(seed=7, now=NOW)
    world.steps = 0
    async with (
        running(world=world, step_world=True) as s,
        s.connect() as one,
        s.connect("oa_elite") as two,
    ):
        started = anyio.current_time()
        for ws in (one, two):
            await receive(ws)
            await subscribe(ws, "NBA", ["Pinnacle", "DraftKings"], ALL_TYPES)
        pushes = [
            [(await next_event(ws, "odds_update"))["data"] for _ in range(6)] for ws in (one, two)
        ]
        elapsed_ticks = math.ceil((anyio.current_time() - started) / INTERVAL)
    assert 1 <= world.steps <= elapsed_ticks + 1
    assert any(data != pushes[0][0] for data in pushes[0][1:])  # the prices moved


# -- Faults -----------------------------------------------------------------------------------


async def test_refuse_handshake_answers_with_the_status_and_retry_after() -> None:
    async with running() as s:
        s.faults.refuse_handshake = 429
        s.faults.retry_after = 2.0
        with pytest.raises(WebSocketUpgradeError) as limited:
            async with s.connect():
                pytest.fail("the handshake should have been refused")
        s.faults.refuse_handshake = 503
        with pytest.raises(WebSocketUpgradeError) as unavailable:
            async with s.connect():
                pytest.fail("the handshake should have been refused")
        s.faults.refuse_handshake = None
        async with s.connect() as ws:
            assert (await receive(ws))["event"] == "connected"
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["retry-after"] == "2"
    assert unavailable.value.response.status_code == 503
    assert "retry-after" not in unavailable.value.response.headers


@pytest.mark.parametrize("code", [4001, 1011])
async def test_close_code_closes_live_connections_once(code: int) -> None:
    async with running() as s:
        async with s.connect() as ws:
            await receive(ws)
            await subscribe(ws, "NBA", ["Pinnacle"], ["head_to_head"])
            s.faults.close_code = code
            with pytest.raises(WebSocketDisconnect) as closed:
                await read_until_the_end(ws)
        assert closed.value.code == code
        assert s.sim.faults.close_code is None  # used up: a new connection is served
        async with s.connect() as ws:
            assert (await receive(ws))["event"] == "connected"


async def test_drop_ends_connections_without_a_close_frame_while_on() -> None:
    async with running() as s:
        async with s.connect() as ws:
            await receive(ws)
            await subscribe(ws, "NBA", ["Pinnacle"], ["head_to_head"])
            s.faults.drop = True
            # No close frame, so not WebSocketDisconnect: the stream just ends.
            with pytest.raises(WebSocketNetworkError):
                await read_until_the_end(ws)
        # While on, a new handshake is accepted and the connection ends at once.
        async with s.connect() as ws:
            with pytest.raises(WebSocketNetworkError):
                await read_until_the_end(ws)
        s.faults.drop = False
        async with s.connect() as ws:
            assert (await receive(ws))["event"] == "connected"


async def test_silent_sends_nothing_and_charges_nothing() -> None:
    async with running() as s, s.connect() as ws:
        await receive(ws)
        s.faults.silent = True
        await ws.send_json(
            {
                "action": "subscribe",
                "sport": "NBA",
                "bookmakers": ["Pinnacle"],
                "market_types": ["head_to_head"],
            }
        )
        await assert_quiet(ws)
        assert s.used() == 0
        s.faults.silent = False
        # The subscription was made while silent; its reply was lost, the pushes were not.
        assert (await receive(ws))["event"] == "odds_update"


async def test_stall_neither_answers_nor_pushes_until_it_ends() -> None:
    async with running() as s, s.connect() as ws:
        await receive(ws)
        s.faults.stall = True
        await ws.send_json(
            {
                "action": "subscribe",
                "sport": "NBA",
                "bookmakers": ["Pinnacle"],
                "market_types": ["head_to_head"],
            }
        )
        await assert_quiet(ws)
        assert s.used() == 0
        s.faults.stall = False
        # The held message is handled once the stall ends, in order.
        assert (await receive(ws))["event"] == "subscribed"
        assert (await receive(ws))["event"] == "odds_update"


async def test_malformed_frames_are_broken_json() -> None:
    async with running() as s:
        s.faults.malformed_frames = 1
        async with s.connect() as ws:
            with anyio.fail_after(WAIT):
                broken = await ws.receive_text()
            with pytest.raises(json.JSONDecodeError):
                json.loads(broken)
            assert (await subscribe(ws, "NBA", ["Pinnacle"], ["head_to_head"]))["sport"] == "NBA"
        assert s.faults.malformed_frames == 0


async def test_oversized_frames_pass_the_size_limit() -> None:
    async with running() as s:
        s.faults.oversized_bytes = 100_000
        s.faults.oversized_frames = 1
        async with s.connect() as ws:
            with anyio.fail_after(WAIT):
                big = await ws.receive_text()
            subscribed = await subscribe(ws, "NBA", ["Pinnacle"], ["head_to_head"])
        assert len(big.encode()) > 100_000
        assert json.loads(big)["event"] == "connected"  # padded, still JSON
        assert subscribed["credits_per_push"] == 1
        assert s.faults.oversized_frames == 0
