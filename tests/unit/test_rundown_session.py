"""The pure TheRundown sessions (V2 and V1): bodies and frames in, batches out, no I/O.

The bootstrap page is the OpenAPI's events example (tests/fixtures/frames): Lakers (145,
away) at Celtics (153, home), moneyline, spread -4.5 and total 224.5 at DraftKings (19)
and FanDuel (23). Frames and later pages are that page with a change.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest

from arbwatch.core.markets import (
    AWAY,
    HOME,
    OVER,
    UNDER,
    Event,
    MarketKey,
    MarketKind,
    moneyline,
    spread,
    total,
)
from arbwatch.core.odds import american_to_decimal
from arbwatch.feeds.base import FeedBatch
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.model import ParseError, ProviderEvent
from arbwatch.feeds.therundown.pages import bootstrap_dates
from arbwatch.feeds.therundown.schedule import RestJob, RestSchedule
from arbwatch.feeds.therundown.session import (
    FINISHED_AFTER,
    FrameResult,
    RundownSession,
    SyncResult,
)
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.feeds.therundown.v1 import RundownV1Session, RundownV1Settings
from tests.unit.frames import epoch, fixture, frame

NBA_EVENT = "816efd1e5767d7133b5bc70c77173a18"
UNKNOWN_EVENT = "ffffffffffffffffffffffffffffffff"
PAGE = (4, "2026-01-15")
T = 1_768_431_500.0
LAKERS, CELTICS = 145, 153

Cell = tuple[MarketKey, int, str]


def dec(american: float) -> float:
    return american_to_decimal(american)


def new_session(
    cls: type[RundownSession] = RundownSession, identity: EventIdentity | None = None
) -> RundownSession:
    session = cls("rundown", identity or EventIdentity())
    session.handle_sports(frame("rundown_sports.json"))
    session.handle_affiliates(frame("rundown_affiliates.json"))
    return session


def page() -> dict[str, Any]:
    body: dict[str, Any] = fixture("rundown_events_nba.json")
    return body


def bootstrapped(cls: type[RundownSession] = RundownSession) -> tuple[RundownSession, str]:
    """A session after the bootstrap page, and the engine's id of the game."""
    session = new_session(cls)
    result = session.handle_events(page(), T, page=PAGE)
    (event,) = result.batch.events
    return session, event.event_id


def prices(batch: FeedBatch | None) -> dict[Cell, float]:
    assert batch is not None
    return {(u.market, u.outcome, u.book): u.price for u in batch.updates}


def withdrawn(batch: FeedBatch | None) -> set[Cell]:
    return {cell for cell, price in prices(batch).items() if math.isnan(price)}


def ws_frame(**data: Any) -> str:
    """A market_price frame: DraftKings' Lakers moneyline, ``data`` overriding it."""
    base = {
        "id": 1,
        "event_id": NBA_EVENT,
        "affiliate_id": 19,
        "market_id": 1,
        "line": "",
        "price": "160",
        "normalized_market_participant_id": LAKERS,
        "normalized_market_participant_type": 1,
        "updated_at": "2026-01-14T23:00:00Z",
    }
    return json.dumps(
        {"meta": {"type": "market_price", "timestamp": 1768431000}, "data": base | data}
    )


def delta_entry(**data: Any) -> dict[str, Any]:
    base = {
        "id": 700,
        "event_id": NBA_EVENT,
        "sport_id": 4,
        "affiliate_id": 19,
        "market_id": 3,
        "participant_id": 1001,
        "participant_type": "TYPE_RESULT",
        "line": "224.5",
        "price": "-120",
        "previous_price": "-110",
        "change_type": "price_change",
        "closed_at": None,
        "updated_at": "2026-01-14T23:10:00Z",
    }
    return base | data


def delta_body(*entries: dict[str, Any], cursor: str, has_more: bool) -> dict[str, Any]:
    meta = {"delta_last_id": cursor, "count": len(entries), "has_more": has_more}
    return {"meta": meta, "deltas": list(entries)}


def v1_frame(market: str, **data: Any) -> str:
    base = {
        "event_id": NBA_EVENT,
        "sport_id": 4,
        "affiliate_id": 19,
        "period_id": 0,
        "date_updated": "2026-01-14T23:30:00Z",
    }
    return json.dumps({"meta": {"type": market}, "data": base | data})


def set_line(body: dict[str, Any], market_id: int, participant_id: int, value: str) -> None:
    """Move one participant's line in an events body."""
    for market in body["events"][0]["markets"]:
        if market["market_id"] == market_id:
            for participant in market["participants"]:
                if participant["id"] == participant_id:
                    participant["lines"][0]["value"] = value


# --- V2 REST -------------------------------------------------------------------------------


def test_the_bootstrap_page_is_one_batch_of_the_game_and_its_prices() -> None:
    session = new_session()
    result = session.handle_events(page(), T, page=PAGE)
    (event,) = result.batch.events
    assert event == Event(
        event.event_id, "NBA", "Boston Celtics", "Los Angeles Lakers", epoch("2026-01-15T00:00:00")
    )
    assert result.batch.feed == "rundown"
    assert result.batch.received_at == T
    board = prices(result.batch)
    game = event.event_id
    assert len(board) == 10  # moneyline 4, spread 4, total 2
    assert board[(moneyline(game), HOME, "DraftKings")] == dec(-180)
    assert board[(moneyline(game), AWAY, "FanDuel")] == dec(155)
    # Both sides of the spread on the market of the home line, -4.5.
    assert board[(spread(game, HOME, -4.5)[0], AWAY, "FanDuel")] == dec(-108)
    assert board[(total(game, 224.5), OVER, "DraftKings")] == dec(-110)
    # The page's cursor is where a resync starts.
    assert result.cursor == session.cursor == "11ef-abcd-1234-5678-9012-abcdef123456"
    assert session.participants
    assert not result.refresh_affiliates
    assert result.skipped == 0


def test_a_page_that_does_not_set_the_cursor_leaves_it() -> None:
    session, _ = bootstrapped()
    body = page()
    body["meta"]["delta_last_id"] = "999"
    result = session.handle_events(body, T + 5, page=PAGE, sets_cursor=False)
    assert result.cursor == "999"
    assert session.cursor == "11ef-abcd-1234-5678-9012-abcdef123456"


def test_a_new_snapshot_withdraws_what_it_no_longer_prices() -> None:
    session, game = bootstrapped()
    body = page()
    set_line(body, 2, CELTICS, "-5.5")  # the spread moved from 4.5 to 5.5 at both books
    set_line(body, 2, LAKERS, "5.5")
    lakers_moneyline = body["events"][0]["markets"][0]["participants"][0]["lines"][0]
    del lakers_moneyline["prices"]["23"]  # FanDuel took its Lakers price down
    result = session.handle_events(body, T + 60, page=PAGE)
    old, new = spread(game, HOME, -4.5)[0], spread(game, HOME, -5.5)[0]
    assert withdrawn(result.batch) == {
        (old, HOME, "DraftKings"),
        (old, AWAY, "DraftKings"),
        (old, HOME, "FanDuel"),
        (old, AWAY, "FanDuel"),
        (moneyline(game), AWAY, "FanDuel"),
    }
    board = prices(result.batch)
    assert board[(new, HOME, "DraftKings")] == dec(-110)
    assert all(u.quoted_at == T + 60 for u in result.batch.updates if math.isnan(u.price))


def test_a_game_that_leaves_its_page_is_withdrawn_entirely() -> None:
    session, game = bootstrapped()
    empty = {"meta": {"delta_last_id": "12"}, "events": []}
    # Another day's page says nothing about this game.
    other = session.handle_events(empty, T + 60, page=(4, "2026-01-16"))
    assert not other.batch.updates
    result = session.handle_events(empty, T + 60, page=PAGE)
    assert len(withdrawn(result.batch)) == len(result.batch.updates) == 10
    assert not session.board.cells(NBA_EVENT)
    assert all(u.market.event_id == game for u in result.batch.updates)


def test_a_single_event_refresh_replaces_that_event_and_keeps_the_cursor() -> None:
    session, game = bootstrapped()
    body = page()
    body["meta"] = None
    set_line(body, 3, 1001, "226.5")
    set_line(body, 3, 1002, "226.5")
    result = session.handle_event(body, T + 30)
    assert withdrawn(result.batch) == {
        (total(game, 224.5), OVER, "DraftKings"),
        (total(game, 224.5), UNDER, "DraftKings"),
    }
    assert session.cursor == "11ef-abcd-1234-5678-9012-abcdef123456"
    # A 404 later: the event is gone, and so are its prices.
    missing = session.handle_event_missing(NBA_EVENT, T + 90)
    assert len(withdrawn(missing.batch)) == len(missing.batch.updates) == 10


def test_a_game_a_day_past_its_start_is_withdrawn_and_forgotten() -> None:
    session, game = bootstrapped()
    starts_at = session.events[NBA_EVENT].starts_at
    # Within a day of its start a game may still be on: nothing changes.
    kept = session.retire_finished(starts_at + FINISHED_AFTER - 1.0)
    assert kept.batch.updates == ()
    assert NBA_EVENT in session.events
    later = starts_at + FINISHED_AFTER + 1.0
    result = session.retire_finished(later)
    assert result.skipped == 0
    assert len(withdrawn(result.batch)) == len(result.batch.updates) == 10
    assert {u.market.event_id for u in result.batch.updates} == {game}
    assert {u.quoted_at for u in result.batch.updates} == {later}
    assert NBA_EVENT not in session.events
    assert not session.board.cells(NBA_EVENT)
    assert session.retire_finished(later).batch.updates == ()
    # Its page no longer lists it, so a later page without it withdraws nothing more.
    body = page()
    body["events"] = []
    assert session.handle_events(body, later, page=PAGE).batch.updates == ()


def test_delta_pages_place_changes_and_leave_the_cursor_to_the_driver() -> None:
    session, game = bootstrapped()
    first = session.handle_delta(
        delta_body(
            delta_entry(),
            delta_entry(id=701, event_id=UNKNOWN_EVENT, market_id=1, participant_id=LAKERS),
            cursor="701",
            has_more=True,
        ),
        T + 10,
    )
    assert prices(first.batch) == {(total(game, 224.5), OVER, "DraftKings"): dec(-120)}
    assert (first.cursor, first.has_more) == ("701", True)
    assert first.refresh_events == {UNKNOWN_EVENT}
    assert first.skipped == 1
    second = session.handle_delta(
        delta_body(
            # The same cell twice in a page: the later change wins, once.
            delta_entry(id=702, price="-125"),
            delta_entry(id=703, price="-130"),
            delta_entry(id=704, affiliate_id=99),
            cursor="704",
            has_more=False,
        ),
        T + 11,
    )
    assert prices(second.batch) == {(total(game, 224.5), OVER, "DraftKings"): dec(-130)}
    assert (second.cursor, second.has_more) == ("704", False)
    assert second.refresh_affiliates
    assert session.cursor == "11ef-abcd-1234-5678-9012-abcdef123456"


# --- V2 WebSocket --------------------------------------------------------------------------


def test_a_price_change_is_one_update_with_its_slot_and_line() -> None:
    session, game = bootstrapped()
    result = session.handle_ws(
        ws_frame(market_id=2, normalized_market_participant_id=CELTICS, line="-4.5", price="-115"),
        T + 1,
    )
    assert prices(result.batch) == {(spread(game, HOME, -4.5)[0], HOME, "DraftKings"): dec(-115)}
    assert result.batch is not None
    (update,) = result.batch.updates
    assert update.quoted_at == epoch("2026-01-14T23:00:00")
    assert not result.batch.events
    # The away side's +4.5 is the same market, the other slot.
    away = session.handle_ws(
        ws_frame(market_id=2, normalized_market_participant_id=LAKERS, line="4.5", price="-105"),
        T + 2,
    )
    assert prices(away.batch) == {(spread(game, HOME, -4.5)[0], AWAY, "DraftKings"): dec(-105)}


def test_a_price_change_lands_on_the_canonical_event() -> None:
    # RapidOddsAPI saw the game first and lists the Lakers at home (a neutral venue).
    identity = EventIdentity()
    starts = epoch("2026-01-15T00:00:00")
    rapid = ProviderEvent(
        "rapidoddsapi", "NBA|1", "NBA", "Los Angeles Lakers", "Boston Celtics", starts
    )
    canonical = identity.resolve(rapid).event
    session = new_session(identity=identity)
    snapshot = session.handle_events(page(), T, page=PAGE)
    assert snapshot.batch.events == (canonical,)
    result = session.handle_ws(
        ws_frame(market_id=2, normalized_market_participant_id=LAKERS, line="5.5", price="-105"),
        T + 1,
    )
    # TheRundown's away Lakers +5.5 is the engine's home side, keyed by its line +5.5.
    assert prices(result.batch) == {
        (MarketKey(canonical.event_id, MarketKind.SPREAD, line=5.5), HOME, "DraftKings"): dec(-105)
    }
    moneyline_home = session.handle_ws(ws_frame(price="+140"), T + 2)
    assert prices(moneyline_home.batch) == {
        (moneyline(canonical.event_id), HOME, "DraftKings"): 2.4
    }


def test_the_off_board_sentinel_withdraws_the_cell() -> None:
    session, game = bootstrapped()
    cell = (spread(game, HOME, -4.5)[0], HOME, "FanDuel")
    result = session.handle_ws(frame("rundown_ws_spread_sentinel.json"), T + 1)
    assert withdrawn(result.batch) == {cell}
    # Withdrawn cells are not withdrawn again by the next snapshot that lacks them.
    assert len(session.board.cells(NBA_EVENT)) == 9


def test_a_cell_only_the_socket_priced_is_withdrawn_by_the_next_snapshot() -> None:
    session, game = bootstrapped()
    alternate = session.handle_ws(
        ws_frame(market_id=2, normalized_market_participant_id=CELTICS, line="-6.5", price="+120"),
        T + 1,
    )
    cell = (spread(game, HOME, -6.5)[0], HOME, "DraftKings")
    assert prices(alternate.batch) == {cell: 2.2}
    result = session.handle_events(page(), T + 60, page=PAGE)
    assert withdrawn(result.batch) == {cell}


def test_an_unknown_participant_asks_for_its_event() -> None:
    session, _ = bootstrapped()
    result = session.handle_ws(frame("rundown_ws_unknown_participant.json"), T + 1)
    assert result == FrameResult(
        refresh_event=UNKNOWN_EVENT, ignored="unknown_participant", skipped=1
    )
    # A participant the game's page did not list asks for the event too.
    prop = session.handle_ws(ws_frame(normalized_market_participant_id=999), T + 2)
    assert prop.refresh_event == NBA_EVENT
    assert prop.batch is None


@pytest.mark.parametrize(("affiliate", "refresh"), [(99, True), (27, False)])
def test_an_unknown_book_asks_for_the_affiliates(affiliate: int, refresh: bool) -> None:
    session, _ = bootstrapped()
    result = session.handle_ws(ws_frame(affiliate_id=affiliate), T + 1)
    assert result.batch is None
    assert result.refresh_affiliates is refresh  # 27 is retired: not worth a refetch
    assert result.ignored == "unknown_affiliate"


def test_heartbeats_other_messages_and_broken_frames() -> None:
    session, _ = bootstrapped()
    assert session.handle_ws(frame("rundown_ws_heartbeat.json"), T) == FrameResult(heartbeat=True)
    score = session.handle_ws('{"meta":{"type":"score"},"data":{}}', T)
    assert score == FrameResult(ignored="message type 'score'")
    for broken in ('{"meta":{"type":"market_price"}', "[]", "", '{"meta":{}}'):
        with pytest.raises(ParseError):
            session.handle_ws(broken, T)


def test_a_session_replays_to_the_same_batches() -> None:
    inputs: list[tuple[str, object]] = [
        ("events", page()),
        ("ws", ws_frame(price="+170")),
        ("ws", frame("rundown_ws_spread_sentinel.json")),
        ("delta", delta_body(delta_entry(), cursor="9", has_more=False)),
        ("events", {"meta": {"delta_last_id": "10"}, "events": []}),
    ]

    def replay() -> list[str]:
        session = new_session()
        out: list[str] = []
        for number, (kind, body) in enumerate(inputs):
            at = T + number
            result: SyncResult | FrameResult
            if kind == "events":
                result = session.handle_events(copy.deepcopy(body), at, page=PAGE)
            elif kind == "delta":
                result = session.handle_delta(body, at)
            else:
                assert isinstance(body, str | bytes)
                result = session.handle_ws(body, at)
            out.append(repr(result))  # repr: NaN prices compare equal as text
        return out

    first = replay()
    assert first == replay()
    assert "nan" in first[-1]


# --- V1 ------------------------------------------------------------------------------------


def test_a_v1_line_replaces_that_books_line_only() -> None:
    session, game = bootstrapped(RundownV1Session)
    result = session.handle_ws(
        v1_frame(
            "spread",
            point_spread_home=-5.5,
            point_spread_home_money=-115,
            point_spread_away=5.5,
            point_spread_away_money=-105,
        ),
        T + 1,
    )
    old, new = spread(game, HOME, -4.5)[0], spread(game, HOME, -5.5)[0]
    assert prices(result.batch) == {
        (old, HOME, "DraftKings"): pytest.approx(math.nan, nan_ok=True),
        (old, AWAY, "DraftKings"): pytest.approx(math.nan, nan_ok=True),
        (new, HOME, "DraftKings"): dec(-115),
        (new, AWAY, "DraftKings"): dec(-105),
    }
    # FanDuel still quotes -4.5, and the moneyline and total are untouched.
    cells = session.board.cells(NBA_EVENT)
    assert len(cells) == 10
    assert {c.book for c in cells if c.kind is MarketKind.SPREAD and c.line in (-4.5, 4.5)} == {
        "FanDuel"
    }


def test_a_v1_line_off_the_board_withdraws_the_books_line() -> None:
    session, game = bootstrapped(RundownV1Session)
    result = session.handle_ws(
        v1_frame(
            "total",
            total_over=0.0001,
            total_under=0.0001,
            total_over_money=0.0001,
            total_under_money=0.0001,
        ),
        T + 1,
    )
    assert withdrawn(result.batch) == {
        (total(game, 224.5), OVER, "DraftKings"),
        (total(game, 224.5), UNDER, "DraftKings"),
    }
    moneyline_frame = v1_frame(
        "moneyline", moneyline_home=-190, moneyline_away=160, moneyline_draw=0.0001
    )
    moneyline_result = session.handle_ws(moneyline_frame, T + 2)
    assert prices(moneyline_result.batch) == {
        (moneyline(game), HOME, "DraftKings"): dec(-190),
        (moneyline(game), AWAY, "DraftKings"): dec(160),
    }


def test_v1_frames_for_unknown_games_and_books_ask_for_them() -> None:
    session, _ = bootstrapped(RundownV1Session)
    unknown = session.handle_ws(
        v1_frame("moneyline", event_id=UNKNOWN_EVENT, moneyline_home=-110, moneyline_away=-110),
        T + 1,
    )
    assert unknown.refresh_event == UNKNOWN_EVENT
    assert unknown.batch is None
    book = session.handle_ws(v1_frame("moneyline", affiliate_id=99, moneyline_home=-110), T + 2)
    assert book.refresh_affiliates
    assert session.handle_ws('{"meta":{"type":"score"},"data":{}}', T) == FrameResult(
        ignored="message type 'score'"
    )
    assert session.handle_ws(frame("rundown_ws_heartbeat.json"), T).heartbeat


# --- settings ------------------------------------------------------------------------------


def test_websocket_urls_follow_the_base_url_and_carry_no_key() -> None:
    secure = RundownSettings(name="trd", api_key="s3cret", sport_ids=(4, 2))
    assert (
        secure.ws_url
        == "wss://therundown.io/api/v2/ws/markets?sport_ids=4%2C2&market_ids=1%2C2%2C3"
    )
    local = RundownSettings(
        name="trd",
        api_key="s3cret",
        base_url="http://127.0.0.1:9/",
        sport_ids=(4,),
        affiliate_ids=(3,),
    )
    assert local.ws_url.startswith("ws://127.0.0.1:9/api/v2/ws/markets?")
    assert "affiliate_ids=3" in local.ws_url
    legacy = RundownV1Settings(name="v1", api_key="s3cret", event_ids=("abc",))
    assert legacy.ws_url == "wss://therundown.io/api/v1/ws?event_ids=abc"
    for settings in (secure, local, legacy):
        assert "s3cret" not in repr(settings)
        assert "s3cret" not in settings.ws_url


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sport_ids": ()}, "sport_ids"),
        ({"market_ids": tuple(range(1, 14))}, "market_ids"),
        ({"api_key": ""}, "api_key"),
        ({"base_url": "therundown.io"}, "base_url"),
        ({"heartbeat_timeout": 0}, "heartbeat_timeout"),
        ({"days_ahead": -1}, "days_ahead"),
    ],
)
def test_settings_refuse_what_cannot_work(kwargs: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"name": "trd", "api_key": "k", "sport_ids": (4,)} | kwargs
    with pytest.raises(ValueError, match=message):
        RundownSettings(**values)


def test_v1_settings_carry_only_v1_markets() -> None:
    with pytest.raises(ValueError, match="market_ids 1, 2 and 3"):
        RundownV1Settings(name="v1", api_key="k", sport_ids=(4,), market_ids=(1, 29))
    with pytest.raises(ValueError, match="sport_ids or event_ids"):
        RundownV1Settings(name="v1", api_key="k")


def test_bootstrap_dates_are_utc_days_from_today() -> None:
    late = epoch("2027-01-15T23:59:59")
    assert bootstrap_dates(late, 2) == ["2027-01-15", "2027-01-16", "2027-01-17"]
    assert bootstrap_dates(late + 1, 0) == ["2027-01-16"]


# --- the REST schedule -------------------------------------------------------------------


def test_refetches_of_one_event_are_a_minute_apart() -> None:
    jobs = RestSchedule(refetch_interval=60.0)
    jobs.refetch(NBA_EVENT, 100.0)
    assert jobs.take(100.0) == NBA_EVENT
    # A burst of frames for the same unknown event: one fetch a minute at most.
    for now in (100.5, 101.0, 130.0):
        jobs.refetch(NBA_EVENT, now)
    assert jobs.take(130.0) is None
    assert jobs.next_due() == 160.0
    assert jobs.take(160.0) == NBA_EVENT
    # Another event is not held back by the first one's fetch.
    jobs.refetch(UNKNOWN_EVENT, 161.0)
    assert jobs.take(161.0) == UNKNOWN_EVENT
    jobs.refetch(RestJob.AFFILIATES, 161.0)
    assert jobs.take(161.0) is RestJob.AFFILIATES
    jobs.refetch(RestJob.AFFILIATES, 170.0)
    assert jobs.take(170.0) is None


def test_jobs_come_most_important_first_and_wait_for_a_hold() -> None:
    jobs = RestSchedule(refetch_interval=60.0)
    jobs.schedule(UNKNOWN_EVENT, 5.0)
    jobs.schedule(NBA_EVENT, 1.0)
    jobs.schedule(RestJob.RESYNC, 3.0)
    jobs.schedule(RestJob.SNAPSHOT, 4.0)
    jobs.schedule(RestJob.RESYNC, 9.0)  # already due earlier: stays at 3
    assert jobs.due_at(RestJob.RESYNC) == 3.0
    jobs.hold(until=8.0)  # a 429's Retry-After
    assert jobs.take(7.9) is None
    assert jobs.next_due() == 8.0
    order = [jobs.take(8.0) for _ in range(5)]
    # A resync replays changes older than any page fetched after it: it goes first.
    assert order == [RestJob.RESYNC, RestJob.SNAPSHOT, NBA_EVENT, UNKNOWN_EVENT, None]
    assert jobs.next_due() == math.inf
    jobs.schedule(RestJob.RESYNC, 10.0)
    assert RestJob.RESYNC in jobs
    jobs.cancel(RestJob.RESYNC)
    assert RestJob.RESYNC not in jobs
