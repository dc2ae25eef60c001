"""The TheRundown simulator over real loopback HTTP and WebSockets (no mocks)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
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
from arbwatch.core.odds import decimal_to_american
from arbwatch.sim.faults import Faults
from arbwatch.sim.rundown import (
    DRAW_ID,
    OFF_BOARD,
    OVER_ID,
    UNDER_ID,
    RundownKey,
    RundownSimulator,
)
from arbwatch.sim.server import serve
from arbwatch.sim.world import SimEvent, World

pytestmark = pytest.mark.anyio

KEY = "ultra-key"
STARTER = "starter-key"
BURSTY = "bursty-key"
V2 = "/api/v2/ws/markets"
V1 = "/api/v1/ws"


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_sim(
    seed: int = 7,
    *,
    heartbeat_interval: float = 0.05,
    faults: Faults | None = None,
    client_buffer: int = 256,
) -> tuple[World, FakeClock, RundownSimulator]:
    world = World(seed)
    clock = FakeClock(world.now)
    keys = {
        KEY: RundownKey(),
        STARTER: RundownKey(tier="starter"),
        BURSTY: RundownKey(burst_limit=1),
    }
    sim = RundownSimulator(
        world,
        clock=clock,
        keys=keys,
        heartbeat_interval=heartbeat_interval,
        faults=faults,
        client_buffer=client_buffer,
        # The fake clock says when a second has passed, for the burst limit too.
        rate_clock=clock,
    )
    return world, clock, sim


@asynccontextmanager
async def running(sim: RundownSimulator) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The simulator on loopback: an HTTP client on its base URL, and its ws:// base URL."""
    async with serve(sim) as url, httpx.AsyncClient(base_url=url, timeout=5.0) as client:
        yield client, url.replace("http://", "ws://")


def ws_url(base: str, path: str, key: str | None = KEY, **filters: str) -> str:
    params = dict(filters)
    if key is not None:
        params["key"] = key
    return str(httpx.URL(base + path, params=params))


def connect(
    url: str, client: httpx.AsyncClient, **kwargs: Any
) -> AbstractAsyncContextManager[AsyncWebSocketSession]:
    """`aconnect_ws` with its session type spelled out, for mypy."""
    return aconnect_ws(url, client, session_class=AsyncWebSocketSession, **kwargs)


async def until_closed(ws: AsyncWebSocketSession) -> None:
    """Read until the connection ends (which raises), at most 2 s."""
    with anyio.fail_after(2):
        while True:
            await ws.receive_text()


async def next_frame(ws: AsyncWebSocketSession, timeout: float = 2.0) -> dict[str, Any]:
    with anyio.fail_after(timeout):
        frame: dict[str, Any] = json.loads(await ws.receive_text())
        return frame


async def next_data(ws: AsyncWebSocketSession, timeout: float = 2.0) -> dict[str, Any]:
    """The next frame that is not a heartbeat."""
    with anyio.fail_after(timeout):
        while True:
            frame: dict[str, Any] = json.loads(await ws.receive_text())
            if frame["meta"]["type"] != "heartbeat":
                return frame


async def assert_quiet(ws: AsyncWebSocketSession, seconds: float) -> None:
    """Nothing at all, data or heartbeat, arrives for ``seconds``."""
    with anyio.move_on_after(seconds):
        text = await ws.receive_text()
        pytest.fail(f"expected silence, got {text[:120]}")


async def drain(ws: AsyncWebSocketSession, quiet: float = 0.3) -> list[dict[str, Any]]:
    """Every data frame until none has come for ``quiet`` seconds (at most 5 s in all)."""
    frames: list[dict[str, Any]] = []
    with anyio.fail_after(5):
        while True:
            with anyio.move_on_after(quiet) as waited:
                frames.append(await next_data(ws))
            if waited.cancelled_caught:
                return frames


async def all_deltas(
    client: httpx.AsyncClient, cursor: str, **filters: str
) -> list[dict[str, Any]]:
    """Every delta after ``cursor`` matching the filters, following has_more."""
    deltas: list[dict[str, Any]] = []
    while True:
        response = await client.get(
            "/api/v2/markets/delta", params={"key": KEY, "last_id": cursor, **filters}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        deltas += body["deltas"]
        cursor = body["meta"]["delta_last_id"]
        if not body["meta"]["has_more"]:
            return deltas


def event_day(event: SimEvent) -> str:
    return datetime.fromtimestamp(event.starts_at, UTC).date().isoformat()


def first_event(world: World, sport_id: int) -> SimEvent:
    return next(e for e in world.events if e.sport_id == sport_id)


def american(price: float | None) -> float:
    return OFF_BOARD if price is None else round(decimal_to_american(price))


def market_of(event_json: dict[str, Any], market_id: int) -> dict[str, Any]:
    market: dict[str, Any] = next(m for m in event_json["markets"] if m["market_id"] == market_id)
    return market


# --- REST ---------------------------------------------------------------------------------


async def test_public_endpoints_need_no_key() -> None:
    world, _, sim = make_sim()
    async with running(sim) as (client, _):
        sports = await client.get("/api/v2/sports")
        affiliates = await client.get("/api/v2/affiliates")
    assert sports.status_code == 200
    assert {"sport_id": 4, "sport_name": "NBA"} in sports.json()["sports"]
    assert {"sport_id": 11, "sport_name": "EPL"} in sports.json()["sports"]
    assert affiliates.status_code == 200
    listed = {a["affiliate_id"]: a for a in affiliates.json()["affiliates"]}
    assert listed[3]["affiliate_name"] == "Pinnacle"
    assert listed[3]["affiliate_url"].startswith("https://")
    assert {book.affiliate_id for book in world.books} == set(listed)


async def test_rest_needs_a_valid_key() -> None:
    world, _, sim = make_sim()
    path = f"/api/v2/sports/4/events/{event_day(first_event(world, 4))}"
    async with running(sim) as (client, _):
        missing = await client.get(path)
        wrong = await client.get(path, params={"key": "nope"})
        wrong_header = await client.get(path, headers={"X-TheRundown-Key": "nope"})
    for response in (missing, wrong, wrong_header):
        assert response.status_code == 401
        assert isinstance(response.json()["error"], str)


async def test_key_by_header_in_any_case_or_by_query_with_plan_headers() -> None:
    world, _, sim = make_sim()
    path = f"/api/v2/sports/4/events/{event_day(first_event(world, 4))}"
    async with running(sim) as (client, _):
        answers = [
            await client.get(path, headers={"X-TheRundown-Key": KEY}),
            await client.get(path, headers={"x-therundown-key": KEY}),
            await client.get(path, headers={"X-Therundown-Key": KEY}),
            await client.get(path, params={"key": KEY}),
        ]
        starter = await client.get(path, params={"key": STARTER})
    for response in answers:
        assert response.status_code == 200
        assert int(response.headers["x-datapoints"]) > 0
        assert response.headers["x-tier"] == "ultra"
        assert response.headers["x-websocket-access"] == "true"
    # Usage accumulates per key.
    assert int(answers[-1].headers["x-datapoints-used"]) == 4 * int(
        answers[0].headers["x-datapoints"]
    )
    assert starter.headers["x-tier"] == "starter"
    assert starter.headers["x-websocket-access"] == "false"
    assert starter.headers["x-data-delay-seconds"] == "60"


async def test_burst_limit_answers_429_with_retry_after() -> None:
    _, clock, sim = make_sim()
    params = {"key": BURSTY, "last_id": sim.delta_cursor}
    async with running(sim) as (client, _):
        first = await client.get("/api/v2/markets/delta", params=params)
        second = await client.get("/api/v2/markets/delta", params=params)
        clock.now += 1.0
        third = await client.get("/api/v2/markets/delta", params=params)
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.headers["retry-after"] == "1"
    assert second.json() == {"error": "Rate limit exceeded"}
    assert third.status_code == 200


async def test_events_snapshot_shape() -> None:
    world, _, sim = make_sim()
    event = first_event(world, 4)
    async with running(sim) as (client, _):
        response = await client.get(
            f"/api/v2/sports/4/events/{event_day(event)}", params={"key": KEY}
        )
    body = response.json()
    assert isinstance(body["meta"]["delta_last_id"], str)
    found = next(e for e in body["events"] if e["event_id"] == event.event_id)
    assert all(e["sport_id"] == 4 for e in body["events"])
    assert found["event_date"].endswith("Z")
    assert datetime.fromisoformat(found["event_date"]).timestamp() == int(event.starts_at)
    assert found["score"]["event_status"] == "STATUS_SCHEDULED"
    assert found["schedule"]["event_name"] == f"{event.away} at {event.home}"
    teams = {t["team_id"]: t for t in found["teams"]}
    assert teams[event.home_team_id]["is_home"]
    assert not teams[event.home_team_id]["is_away"]
    assert teams[event.away_team_id]["is_away"]
    assert not teams[event.away_team_id]["is_home"]
    home = teams[event.home_team_id]
    assert f"{home['name']} {home['mascot']}" == event.home
    assert [m["market_id"] for m in found["markets"]] == [1, 2, 3]  # the default market_ids
    assert all(m["period_id"] == 0 for m in found["markets"])

    moneyline = market_of(found, 1)
    assert moneyline["name"] == "moneyline"
    assert {p["id"] for p in moneyline["participants"]} == set(teams)
    for participant in moneyline["participants"]:
        assert participant["type"] == "TYPE_TEAM"
        (line,) = participant["lines"]
        assert line["value"] == ""
        assert len(line["id"]) == 32
        side = HOME if participant["id"] == event.home_team_id else AWAY
        for affiliate, price in line["prices"].items():
            book = next(b for b in world.books if b.affiliate_id == int(affiliate))
            expected = world.quotes[(event.event_id, 0, side, book.name)].price
            assert price["price"] == american(expected)
            assert isinstance(price["price"], int | float)
            assert price["is_main_line"] is True
            assert price["updated_at"].endswith("Z")

    spread_line = next(m for m in event.markets if m.kind is MarketKind.SPREAD).line
    handicap = market_of(found, 2)
    assert handicap["name"] == "handicap"
    values = {p["id"]: p["lines"][0]["value"] for p in handicap["participants"]}
    assert float(values[event.home_team_id]) == spread_line
    assert float(values[event.away_team_id]) == -spread_line

    points = next(m for m in event.markets if m.kind is MarketKind.TOTAL).line
    totals = market_of(found, 3)
    assert totals["name"] == "totals"
    assert [(p["id"], p["type"], p["name"]) for p in totals["participants"]] == [
        (OVER_ID, "TYPE_RESULT", "Over"),
        (UNDER_ID, "TYPE_RESULT", "Under"),
    ]
    assert {p["lines"][0]["value"] for p in totals["participants"]} == {f"{points:g}"}


async def test_player_props_and_soccer_draws() -> None:
    world, _, sim = make_sim()
    nba, epl = first_event(world, 4), first_event(world, 11)
    prop = next(m for m in nba.markets if m.kind is MarketKind.PLAYER_PROP)
    async with running(sim) as (client, _):
        props = await client.get(
            f"/api/v2/events/{nba.event_id}", params={"key": KEY, "market_ids": "29"}
        )
        soccer = await client.get(f"/api/v2/events/{epl.event_id}", params={"key": KEY})
        by_type = await client.get(
            f"/api/v2/events/{epl.event_id}",
            params={"key": KEY, "participant_type": "TYPE_RESULT", "affiliate_ids": "3"},
        )
    (event_json,) = props.json()["events"]
    (points,) = event_json["markets"]
    assert (points["market_id"], points["name"]) == (29, "points")
    names = [p["name"] for p in points["participants"]]
    assert names == [f"{prop.player} Over", f"{prop.player} Under"]
    assert {p["type"] for p in points["participants"]} == {"TYPE_PLAYER"}
    assert {p["lines"][0]["value"] for p in points["participants"]} == {f"{prop.line:g}"}

    moneyline = market_of(soccer.json()["events"][0], 1)
    draw = moneyline["participants"][-1]
    assert (draw["id"], draw["type"], draw["name"]) == (DRAW_ID, "TYPE_RESULT", "Draw")
    assert [p["type"] for p in moneyline["participants"]][:2] == ["TYPE_TEAM", "TYPE_TEAM"]
    assert "mascot" not in soccer.json()["events"][0]["teams"][0]

    filtered = market_of(by_type.json()["events"][0], 1)
    assert [p["name"] for p in filtered["participants"]] == ["Draw"]
    assert set(filtered["participants"][0]["lines"][0]["prices"]) == {"3"}


async def test_off_board_quotes_are_the_sentinel() -> None:
    world, _, sim = make_sim()
    # Every book reprices and takes everything it reprices off the board.
    world.off_board_rate, world.reprice_rate = 1.0, 1.0
    cursor = sim.delta_cursor
    sim.advance()
    off = next(key for key, quote in world.quotes.items() if quote.price is None)
    event = world.event(off[0])
    async with running(sim) as (client, _):
        response = await client.get(f"/api/v2/events/{event.event_id}", params={"key": KEY})
        deltas = await all_deltas(client, cursor, event_id=event.event_id)
    prices = [
        price["price"]
        for market in response.json()["events"][0]["markets"]
        for participant in market["participants"]
        for price in participant["lines"][0]["prices"].values()
    ]
    assert OFF_BOARD in prices
    assert "0.0001" in {d["price"] for d in deltas}


async def test_event_lookup_errors_and_empty_days() -> None:
    world, _, sim = make_sim()
    event = first_event(world, 4)
    async with running(sim) as (client, _):
        found = await client.get(f"/api/v2/events/{event.event_id}", params={"key": KEY})
        missing = await client.get("/api/v2/events/" + "0" * 32, params={"key": KEY})
        bad_date = await client.get("/api/v2/sports/4/events/15-01-2027", params={"key": KEY})
        no_sport = await client.get(
            f"/api/v2/sports/42/events/{event_day(event)}", params={"key": KEY}
        )
        unknown_path = await client.get("/api/v2/nothing", params={"key": KEY})
    assert found.status_code == 200
    assert found.json()["meta"] is None
    assert [e["event_id"] for e in found.json()["events"]] == [event.event_id]
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found"}
    assert bad_date.status_code == 400
    assert "YYYY-MM-DD" in bad_date.json()["error"]
    assert no_sport.status_code == 200
    assert no_sport.json()["events"] == []
    assert unknown_path.status_code == 404


async def test_delta_pages_with_has_more() -> None:
    world, clock, sim = make_sim()
    event = first_event(world, 4)
    async with running(sim) as (client, _):
        snapshot = await client.get(
            f"/api/v2/sports/4/events/{event_day(event)}", params={"key": KEY}
        )
        cursor = snapshot.json()["meta"]["delta_last_id"]
        published = [sim.advance() for _ in range(3)]
        pages, seen = 0, []
        page_cursor = cursor
        while True:
            clock.now += 0.15  # requests spaced on the fake clock, under Ultra's 10 a second
            response = await client.get(
                "/api/v2/markets/delta", params={"key": KEY, "last_id": page_cursor, "limit": 50}
            )
            body = response.json()
            pages += 1
            assert body["meta"]["count"] == len(body["deltas"]) <= 50
            seen += body["deltas"]
            page_cursor = body["meta"]["delta_last_id"]
            assert isinstance(page_cursor, str)
            if not body["meta"]["has_more"]:
                break
        filtered = await all_deltas(client, cursor, market_ids="3", affiliate_ids="3,19")
    assert pages > 1
    assert len(seen) == sum(len(step) for step in published)
    ids = [d["id"] for d in seen]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert page_cursor == str(ids[-1]) == sim.delta_cursor
    for delta in seen:
        assert isinstance(delta["price"], str)
        assert isinstance(delta["previous_price"], str)
        float(delta["price"])
        assert delta["change_type"] == "price_change"
        assert delta["closed_at"] is None
        assert delta["participant_type"] in {"TYPE_TEAM", "TYPE_RESULT", "TYPE_PLAYER"}
    assert filtered
    assert all(d["market_id"] == 3 and d["affiliate_id"] in {3, 19} for d in filtered)
    assert {d["participant_name"] for d in filtered} == {"Over", "Under"}


async def test_delta_rejects_stale_and_unknown_cursors() -> None:
    _, clock, sim = make_sim()
    async with running(sim) as (client, _):
        cursor = sim.delta_cursor
        sim.advance()
        fresh = await client.get("/api/v2/markets/delta", params={"key": KEY, "last_id": cursor})
        head = sim.delta_cursor
        clock.now += 31 * 60
        stale = await client.get("/api/v2/markets/delta", params={"key": KEY, "last_id": cursor})
        # A cursor with nothing after it has missed nothing, however old.
        idle = await client.get("/api/v2/markets/delta", params={"key": KEY, "last_id": head})
        unknown = [
            await client.get("/api/v2/markets/delta", params={"key": KEY, "last_id": last_id})
            for last_id in ("999999999999", "1", "not-a-cursor", "")
        ]
    assert fresh.status_code == 200
    assert stale.status_code == 400
    assert stale.json() == {
        "error": "last_id is stale (>30 min), re-bootstrap from events endpoint"
    }
    assert idle.status_code == 200
    assert idle.json()["deltas"] == []
    for response in unknown:
        assert response.status_code == 400
        assert response.json() == {"error": "last_id not found, re-bootstrap from events endpoint"}


# --- V2 WebSocket -------------------------------------------------------------------------


async def test_v2_socket_filters_match_the_delta_log_and_join_rest() -> None:
    world, _, sim = make_sim()
    event = first_event(world, 4)
    subscriptions = {
        "totals": {"sport_ids": "4", "market_ids": "3", "affiliate_ids": "19,23"},
        "one_event": {"event_ids": event.event_id, "market_ids": "1"},
        "pinnacle": {"affiliate_ids": "3", "sport_ids": "2,11"},
    }
    # The same filters, as the delta endpoint spells them.
    as_delta = {
        "totals": {"sport_id": "4", "market_ids": "3", "affiliate_ids": "19,23"},
        "one_event": {"event_id": event.event_id, "market_ids": "1"},
        "pinnacle": {"affiliate_ids": "3"},
    }
    async with running(sim) as (client, base):
        cursor = sim.delta_cursor
        received: dict[str, list[dict[str, Any]]] = {}
        expected: dict[str, list[dict[str, Any]]] = {}
        async with (
            connect(ws_url(base, V2, **subscriptions["totals"]), client) as totals,
            connect(ws_url(base, V2, **subscriptions["one_event"]), client) as one_event,
            connect(ws_url(base, V2, **subscriptions["pinnacle"]), client) as pinnacle,
        ):
            for _ in range(3):
                sim.advance()
            sockets = {"totals": totals, "one_event": one_event, "pinnacle": pinnacle}
            for name, ws in sockets.items():
                expected[name] = await all_deltas(client, cursor, **as_delta[name])
                if name == "pinnacle":
                    expected[name] = [d for d in expected[name] if d["sport_id"] in {2, 11}]
                received[name] = [await next_data(ws) for _ in expected[name]]
                # Nothing beyond what the delta log holds for these filters.
                with anyio.move_on_after(0.2):
                    extra = await next_data(ws)
                    pytest.fail(f"{name}: unexpected frame {extra}")
        snapshot = await client.get(f"/api/v2/events/{event.event_id}", params={"key": KEY})

    for name in subscriptions:
        assert expected[name], name
        assert [f["data"]["id"] for f in received[name]] == [d["id"] for d in expected[name]]
        for frame, delta in zip(received[name], expected[name], strict=True):
            assert frame["meta"]["type"] == "market_price"
            assert frame["meta"]["version"] == "v2"
            assert isinstance(frame["meta"]["timestamp"], int)
            data = frame["data"]
            assert isinstance(data["price"], str)
            assert isinstance(data["previous_price"], str)
            assert isinstance(data["line"], str)
            assert float(data["price"]) == float(delta["price"])
            assert float(data["previous_price"]) == float(delta["previous_price"])
            assert data["price_delta"] == pytest.approx(
                float(data["price"]) - float(data["previous_price"])
            )
            assert data["normalized_market_participant_id"] == delta["participant_id"]
            assert data["line"] == delta["line"]

    for frame in received["totals"]:
        data = frame["data"]
        assert (data["sport_id"], data["market_id"]) == (4, 3)
        assert data["affiliate_id"] in {19, 23}
        assert data["normalized_market_participant_id"] in {OVER_ID, UNDER_ID}
        assert data["normalized_market_participant_type"] == 3
    assert {f["data"]["sport_id"] for f in received["pinnacle"]} <= {2, 11}
    assert {f["data"]["affiliate_id"] for f in received["pinnacle"]} == {3}

    # The socket's participant ids join the REST snapshot's, and its last prices are REST's.
    moneyline = market_of(snapshot.json()["events"][0], 1)
    rest = {
        (p["id"], int(affiliate)): price["price"]
        for p in moneyline["participants"]
        for affiliate, price in p["lines"][0]["prices"].items()
    }
    last: dict[tuple[int, int], str] = {}
    for frame in received["one_event"]:
        data = frame["data"]
        assert (data["event_id"], data["market_id"]) == (event.event_id, 1)
        assert data["normalized_market_participant_type"] == 1
        last[(data["normalized_market_participant_id"], data["affiliate_id"])] = data["price"]
    assert set(last) <= set(rest)
    for joined, price in last.items():
        assert float(price) == rest[joined]


async def test_v2_heartbeats_follow_the_configured_interval() -> None:
    _, _, sim = make_sim(heartbeat_interval=0.1)
    _, _, slow = make_sim(heartbeat_interval=30.0)
    async with running(sim) as (client, base):
        async with connect(ws_url(base, V2), client) as ws:
            beats = []
            with anyio.move_on_after(0.65):
                while True:
                    beats.append(await next_frame(ws))
        assert 3 <= len(beats) <= 9  # about 6 in 0.65 s at 0.1 s apart
        for beat in beats:
            assert beat["meta"] == {"type": "heartbeat"}
            assert datetime.fromisoformat(beat["data"]["now"]).timestamp() == int(sim.clock())
    async with running(slow) as (client, base), connect(ws_url(base, V2), client) as ws:
        await assert_quiet(ws, 0.3)


async def test_v2_handshake_refusals() -> None:
    faults = Faults()
    _, _, sim = make_sim(faults=faults)
    async with running(sim) as (client, base):
        statuses = {}
        for name, url in {
            "no key": ws_url(base, V2, key=None),
            "bad key": ws_url(base, V2, key="nope"),
            "no websocket plan": ws_url(base, V2, key=STARTER),
            "bad filter": ws_url(base, V2, sport_ids="four"),
        }.items():
            with pytest.raises(WebSocketUpgradeError) as refused:
                async with connect(url, client):
                    pass
            # httpx-ws closes the response unread, so the status is what a client sees.
            statuses[name] = refused.value.response.status_code
        # The header works on the handshake too.
        async with connect(
            ws_url(base, V2, key=None), client, headers={"X-TheRundown-Key": KEY}
        ) as ws:
            assert (await next_frame(ws))["meta"]["type"] == "heartbeat"

        refusals = {}
        for status, retry_after in ((401, None), (403, None), (429, 2.0), (429, None)):
            faults.refuse_handshake, faults.retry_after = status, retry_after
            with pytest.raises(WebSocketUpgradeError) as refused:
                async with connect(ws_url(base, V2), client):
                    pass
            response = refused.value.response
            refusals[(status, retry_after)] = (
                response.status_code,
                response.headers.get("retry-after"),
            )
        faults.refuse_handshake = None
        async with connect(ws_url(base, V1), client) as ws:
            assert (await next_frame(ws))["meta"]["type"] == "heartbeat"
    assert statuses == {"no key": 401, "bad key": 401, "no websocket plan": 403, "bad filter": 400}
    assert refusals == {
        (401, None): (401, None),
        (403, None): (403, None),
        (429, 2.0): (429, "2"),
        (429, None): (429, "1"),
    }


@pytest.mark.parametrize("code", [4001, 1011])
async def test_close_code_closes_live_sockets_once(code: int) -> None:
    faults = Faults()
    _, _, sim = make_sim(faults=faults)
    async with running(sim) as (client, base):
        async with (
            connect(ws_url(base, V2), client) as v2,
            connect(ws_url(base, V1), client) as v1,
        ):
            faults.close_code = code
            for ws in (v2, v1):
                with pytest.raises(WebSocketDisconnect) as closed:
                    await until_closed(ws)
                assert closed.value.code == code
        assert faults == Faults()  # close_code is used up: back to all switches off
        async with connect(ws_url(base, V2), client) as ws:
            assert (await next_frame(ws))["meta"]["type"] == "heartbeat"
            assert (await next_frame(ws))["meta"]["type"] == "heartbeat"


async def test_drop_ends_sockets_without_a_close_frame() -> None:
    faults = Faults()
    _, _, sim = make_sim(faults=faults)
    async with running(sim) as (client, base):
        async with connect(ws_url(base, V2), client) as ws:
            await next_frame(ws)
            faults.drop = True
            with pytest.raises(WebSocketNetworkError):
                await until_closed(ws)
        # Still accepting while dropping: the handshake succeeds, then the stream ends.
        async with connect(ws_url(base, V2), client) as ws:
            with pytest.raises(WebSocketNetworkError):
                await until_closed(ws)
        faults.drop = False
        async with connect(ws_url(base, V2), client) as ws:
            assert (await next_frame(ws))["meta"]["type"] == "heartbeat"


async def test_silent_sends_neither_data_nor_heartbeats() -> None:
    faults = Faults()
    _, _, sim = make_sim(faults=faults)
    async with running(sim) as (client, base), connect(ws_url(base, V2), client) as ws:
        await next_frame(ws)
        faults.silent = True
        cursor = sim.delta_cursor
        sim.advance()
        await assert_quiet(ws, 0.5)  # ten heartbeat intervals
        missed = await all_deltas(client, cursor)
        faults.silent = False
        # What was published during the silence is gone from the socket, not late.
        assert (await next_frame(ws))["meta"]["type"] == "heartbeat"
        sim.advance()
        frame = await next_data(ws)
    assert missed  # the delta log kept what the socket did not send
    assert frame["data"]["id"] > missed[-1]["id"]


async def test_stall_holds_frames_until_it_ends() -> None:
    faults = Faults()
    _, _, sim = make_sim(faults=faults)
    async with (
        running(sim) as (client, base),
        connect(ws_url(base, V2, affiliate_ids="3"), client) as ws,
    ):
        await next_frame(ws)
        faults.stall = True
        cursor = sim.delta_cursor
        sim.advance()
        await assert_quiet(ws, 0.5)
        expected = await all_deltas(client, cursor, affiliate_ids="3")
        faults.stall = False
        delivered = [await next_data(ws) for _ in expected]
    assert expected
    assert [f["data"]["id"] for f in delivered] == [d["id"] for d in expected]


async def test_a_full_client_buffer_drops_frames_silently() -> None:
    faults = Faults()
    _, _, sim = make_sim(faults=faults, client_buffer=5)
    async with running(sim) as (client, base), connect(ws_url(base, V2), client) as ws:
        await next_frame(ws)
        faults.stall = True  # the client falls behind: nothing leaves the buffer
        cursor = sim.delta_cursor
        sim.advance()
        published = await all_deltas(client, cursor)
        faults.stall = False
        delivered = await drain(ws)
    assert len(published) > 5
    assert [f["data"]["id"] for f in delivered] == [d["id"] for d in published[:5]]
    assert sim.dropped_frames == len(published) - 5


async def test_malformed_and_oversized_frames() -> None:
    faults = Faults(oversized_bytes=100_000)
    _, _, sim = make_sim(faults=faults)
    async with running(sim) as (client, base), connect(ws_url(base, V2), client) as ws:
        faults.malformed_frames = 2
        broken = []
        for _ in range(2):
            with anyio.fail_after(2):
                broken.append(await ws.receive_text())
        with anyio.fail_after(2):
            after = json.loads(await ws.receive_text())
        faults.oversized_frames = 1
        with anyio.fail_after(2):
            big = await ws.receive_text()
        with anyio.fail_after(2):
            normal = await ws.receive_text()
    for text in broken:
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
    assert after["meta"]["type"] == "heartbeat"
    assert faults.malformed_frames == faults.oversized_frames == 0
    assert len(big.encode()) > 100_000
    assert json.loads(big)["meta"]["type"] == "heartbeat"  # padded, still valid JSON
    assert len(normal) < 1000


# --- V1 WebSocket -------------------------------------------------------------------------


async def test_v1_frames_for_moneyline_spread_and_total() -> None:
    world, _, sim = make_sim()
    async with (
        running(sim) as (client, base),
        connect(ws_url(base, V1, sport_ids="4", affiliate_ids="3,19"), client) as nba,
        connect(ws_url(base, V1, sport_ids="11"), client) as epl,
    ):
        for _ in range(3):
            sim.advance()
        frames = await drain(nba)
        assert {f["meta"]["type"] for f in frames} == {"moneyline", "spread", "total"}
        soccer = await next_data(epl)
        while soccer["meta"]["type"] != "moneyline":
            soccer = await next_data(epl)

    common = {
        "event_id",
        "sport_id",
        "affiliate_id",
        "event_date",
        "period_id",
        "line_id",
        "date_updated",
        "format",
    }
    fields = {
        "moneyline": ["moneyline_away", "moneyline_home", "moneyline_draw"],
        "spread": [
            "point_spread_away",
            "point_spread_home",
            "point_spread_away_money",
            "point_spread_home_money",
        ],
        "total": ["total_over", "total_under", "total_over_money", "total_under_money"],
    }
    previous: dict[tuple[str, int, str], dict[str, Any]] = {}
    for frame in frames:
        kind, data = frame["meta"]["type"], frame["data"]
        names = fields[kind]
        assert set(data) == common | set(names) | {f"{n}_delta" for n in names}
        assert (data["sport_id"], data["period_id"], data["format"]) == (4, 0, "American")
        assert data["affiliate_id"] in {3, 19}
        assert data["event_date"].endswith("Z")
        assert data["date_updated"].endswith("Z")
        event = world.event(data["event_id"])
        if kind == "moneyline":
            assert data["moneyline_draw"] == OFF_BOARD  # no draws in the NBA
        elif kind == "spread":
            line = next(m for m in event.markets if m.kind is MarketKind.SPREAD).line
            assert data["point_spread_home"] in (line, OFF_BOARD)
            assert data["point_spread_away"] in (-line, OFF_BOARD)
        else:
            points = next(m for m in event.markets if m.kind is MarketKind.TOTAL).line
            assert data["total_over"] in (points, OFF_BOARD)
            assert data["total_under"] in (points, OFF_BOARD)
        # Each *_delta is the change since the previous frame for the same line.
        key = (data["event_id"], data["affiliate_id"], kind)
        if key in previous:
            for name in names:
                assert data[f"{name}_delta"] == pytest.approx(data[name] - previous[key][name])
        previous[key] = data

    # The last frame of every line is the line as it stands.
    book_names = {b.affiliate_id: b.name for b in world.books}
    money = {
        "moneyline": (MarketKind.MONEYLINE, {"moneyline_away": AWAY, "moneyline_home": HOME}),
        "spread": (
            MarketKind.SPREAD,
            {"point_spread_away_money": AWAY, "point_spread_home_money": HOME},
        ),
        "total": (MarketKind.TOTAL, {"total_over_money": OVER, "total_under_money": UNDER}),
    }
    for (event_id, affiliate, kind), data in previous.items():
        market_kind, sides = money[kind]
        event = world.event(event_id)
        index = next(i for i, m in enumerate(event.markets) if m.kind is market_kind)
        for name, side in sides.items():
            quote = world.quotes[(event_id, index, side, book_names[affiliate])]
            assert data[name] == american(quote.price)

    assert soccer["data"]["sport_id"] == 11
    assert set(fields["moneyline"]) <= set(soccer["data"])


async def test_one_runner_drives_two_simulators_sharing_a_world() -> None:
    world = World(11)
    clock = FakeClock(world.now)
    first = RundownSimulator(world, clock=clock, keys={KEY: RundownKey()}, heartbeat_interval=5)
    second = RundownSimulator(world, clock=clock, keys={KEY: RundownKey()}, heartbeat_interval=5)
    start = second.delta_cursor
    async with (
        running(first) as (first_client, _),
        running(second) as (second_client, second_base),
    ):
        async with (
            connect(ws_url(second_base, V2), second_client) as ws,
            anyio.create_task_group() as group,
        ):
            group.start_soon(lambda: first.run(0.02, also=[second]))
            frame = await next_data(ws)
            group.cancel_scope.cancel()
        cursors = first.delta_cursor, second.delta_cursor
        event_id = frame["data"]["event_id"]
        snapshots = [
            (await client.get(f"/api/v2/events/{event_id}", params={"key": KEY})).json()
            for client in (first_client, second_client)
        ]
    assert frame["meta"]["type"] == "market_price"
    assert cursors[0] == cursors[1] != start
    assert snapshots[0] == snapshots[1]
