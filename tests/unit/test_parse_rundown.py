"""Tests for arbwatch.feeds.therundown.wire: recorded frames, every documented edge, and fuzzing.

The frames live in tests/fixtures/frames/rundown_*.json. Copied from the provider's
documents: sports, affiliates, events_nba, openers and market_delta (OpenAPI examples),
ws_market_price, ws_heartbeat and v1_spread (the WebSocket guide), ws_market_update_old
(an earlier guide revision). Built for the edges no public example shows: the rest.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbwatch.core.markets import AWAY, DRAW, HOME, OVER, UNDER, MarketKind, Period
from arbwatch.core.odds import american_to_decimal
from arbwatch.feeds.model import ParsedQuote, ParseError, ProviderEvent, cell_key, withdraw_missing
from arbwatch.feeds.therundown.wire import (
    MARKETS,
    DeltaPage,
    EventsPage,
    Heartbeat,
    ParticipantKey,
    ParticipantRef,
    PriceChange,
    SkipReason,
    UnknownMessage,
    V1Scope,
    V1Update,
    parse_affiliates,
    parse_events,
    parse_market_delta,
    parse_sports,
    parse_v1_frame,
    parse_ws_frame,
    period_for,
)
from tests.unit.frames import (
    FUZZ,
    JSON_VALUES,
    PY_VALUES,
    check_quote,
    epoch,
    fixture,
    frame,
    mutations,
    only_parse_errors,
)

ML, ML3, SPREAD, TOTAL, PROP = (
    MarketKind.MONEYLINE,
    MarketKind.MONEYLINE_3WAY,
    MarketKind.SPREAD,
    MarketKind.TOTAL,
    MarketKind.PLAYER_PROP,
)
FULL = Period.FULL_GAME
NAN = math.nan

AFFILIATES = parse_affiliates(frame("rundown_affiliates.json"))
SPORTS = parse_sports(frame("rundown_sports.json"))
NBA_EVENT = "816efd1e5767d7133b5bc70c77173a18"
UFC_EVENT = "9b9d0cf6007fdaeb15c3a1888dcfd5df"
DELTA_EVENT = "09bfa53f8484a63e584398545c035932"


def dec(american: float) -> float:
    return american_to_decimal(american)


def events(name: str, **kwargs: Any) -> EventsPage:
    return parse_events(frame(name), affiliates=AFFILIATES, sports=SPORTS, **kwargs)


def same(left: tuple[ParsedQuote, ...], right: tuple[ParsedQuote, ...]) -> bool:
    """Quotes equal field by field, NaN prices equal to each other."""
    return (
        [cell_key(q) for q in left] == [cell_key(q) for q in right]
        and all(
            (math.isnan(a.price) and math.isnan(b.price)) or a.price == b.price
            for a, b in zip(left, right, strict=True)
        )
        and [q.quoted_at for q in left] == [q.quoted_at for q in right]
    )


#: The join table of every recorded event (the NBA, UFC events and the delta example's).
TABLE: dict[ParticipantKey, ParticipantRef] = {
    **events("rundown_events_nba.json").participants,
    **events("rundown_events_ufc.json").participants,
    **events("rundown_events_edge.json").participants,
    ParticipantKey(DELTA_EVENT, 1, 11): ParticipantRef(DELTA_EVENT, ML, FULL, AWAY),
    ParticipantKey(DELTA_EVENT, 3, 1001): ParticipantRef(DELTA_EVENT, TOTAL, FULL, OVER),
}


def ws(raw: bytes | str, **kwargs: Any) -> object:
    return parse_ws_frame(raw, participants=TABLE, affiliates=AFFILIATES, **kwargs)


def ws_frame(**data: Any) -> str:
    """A market_price frame on the NBA event, with ``data`` overriding the defaults."""
    base = {
        "id": 1,
        "event_id": NBA_EVENT,
        "affiliate_id": 19,
        "market_id": 1,
        "line": "",
        "price": "-110",
        "normalized_market_participant_id": 145,
        "updated_at": "2026-01-14T23:00:00Z",
    }
    return json.dumps(
        {"meta": {"type": "market_price", "timestamp": 1768431000}, "data": base | data}
    )


# --- reference data --------------------------------------------------------------------


def test_sports() -> None:
    assert SPORTS[4] == "NBA"
    assert SPORTS[7] == "UFC/MMA"
    assert len(SPORTS) == 17


def test_affiliates_drop_the_retired_27() -> None:
    assert AFFILIATES == {
        2: "Bovada",
        3: "Pinnacle",
        4: "Sportsbetting",
        6: "BetOnline",
        11: "LowVig",
        19: "DraftKings",
        22: "BetMGM",
        23: "FanDuel",
        24: "PointsBet",
        25: "Caesars",
        26: "Polymarket",
    }


def test_malformed_reference_entries_are_skipped() -> None:
    body = {
        "sports": [
            {"sport_id": 4, "sport_name": " NBA "},
            {"sport_id": "5", "sport_name": "NCAAB"},
            {"sport_id": True, "sport_name": "x"},
            {"sport_id": 6, "sport_name": ""},
            {"sport_id": 4, "sport_name": "duplicate"},
            "junk",
        ]
    }
    assert parse_sports(body) == {4: "NBA"}
    assert parse_sports(b'{"sports": null}') == {}
    assert parse_affiliates(b'{"affiliates": [{"affiliate_id": 27, "affiliate_name": "X"}]}') == {}
    with pytest.raises(ParseError):
        parse_sports(b'{"sports": 5}')
    with pytest.raises(ParseError):
        parse_affiliates(b"[]")


@pytest.mark.parametrize(
    ("period_id", "sport_id", "expected"),
    [
        (0, 4, Period.FULL_GAME),
        (1, 4, Period.FIRST_HALF),
        (2, 4, Period.SECOND_HALF),
        (3, 4, Period.FIRST_QUARTER),
        (6, 4, Period.FOURTH_QUARTER),
        (7, 4, Period.FULL_GAME),
        (13, 4, Period.FIRST_HALF),
        (15, 4, Period.FIRST_QUARTER),
        (18, 4, Period.FOURTH_QUARTER),
        (3, 38, Period.FIRST_SET),
        (4, 39, Period.SECOND_SET),
        (16, 38, Period.SECOND_SET),
        (5, 38, None),
        (3, 6, Period.FIRST_PERIOD),
        (5, 6, Period.THIRD_PERIOD),
        (6, 6, None),
        (1, 3, Period.FIRST_HALF),
        (8, 4, None),
        (19, 4, None),
        (-1, 4, None),
        (3, None, Period.FIRST_QUARTER),
    ],
)
def test_periods(period_id: int, sport_id: int | None, expected: Period | None) -> None:
    assert period_for(period_id, sport_id) is expected


def test_market_table_covers_the_live_variants() -> None:
    for prematch, live in [(1, 41), (2, 42), (3, 43), (29, 90), (39, 91), (38, 92), (35, 982)]:
        assert MARKETS[prematch] == MARKETS[live]
    assert 94 not in MARKETS


# --- V2 REST events --------------------------------------------------------------------


def test_the_openapi_events_example() -> None:
    page = events("rundown_events_nba.json")
    assert page.events == (
        ProviderEvent(
            "therundown",
            NBA_EVENT,
            "NBA",
            "Boston Celtics",
            "Los Angeles Lakers",
            epoch("2026-01-15T00:00:00"),
        ),
    )
    dk, fd = epoch("2026-01-14T22:30:00"), epoch("2026-01-14T22:28:00")

    def q(
        kind: MarketKind, side: int, line: float, book: str, price: float, at: float
    ) -> ParsedQuote:
        return ParsedQuote(NBA_EVENT, kind, FULL, side, line, book, dec(price), at)

    assert page.quotes == (
        q(ML, AWAY, 0.0, "DraftKings", 150, dk),
        q(ML, AWAY, 0.0, "FanDuel", 155, fd),
        q(ML, HOME, 0.0, "DraftKings", -180, dk),
        q(ML, HOME, 0.0, "FanDuel", -185, fd),
        q(SPREAD, AWAY, 4.5, "DraftKings", -110, dk),
        q(SPREAD, AWAY, 4.5, "FanDuel", -108, fd),
        q(SPREAD, HOME, -4.5, "DraftKings", -110, dk),
        q(SPREAD, HOME, -4.5, "FanDuel", -112, fd),
        q(TOTAL, OVER, 224.5, "DraftKings", -110, dk),
        q(TOTAL, UNDER, 224.5, "DraftKings", -110, dk),
    )
    assert page.quotes[0].price == 2.5
    assert page.delta_cursor == "11ef-abcd-1234-5678-9012-abcdef123456"
    assert page.unknown_affiliates == frozenset()
    # One team id, three markets: the join key needs event and market as well.
    assert page.participants == {
        ParticipantKey(NBA_EVENT, 1, 145): ParticipantRef(NBA_EVENT, ML, FULL, AWAY),
        ParticipantKey(NBA_EVENT, 1, 153): ParticipantRef(NBA_EVENT, ML, FULL, HOME),
        ParticipantKey(NBA_EVENT, 2, 145): ParticipantRef(NBA_EVENT, SPREAD, FULL, AWAY),
        ParticipantKey(NBA_EVENT, 2, 153): ParticipantRef(NBA_EVENT, SPREAD, FULL, HOME),
        ParticipantKey(NBA_EVENT, 3, 1001): ParticipantRef(NBA_EVENT, TOTAL, FULL, OVER),
        ParticipantKey(NBA_EVENT, 3, 1002): ParticipantRef(NBA_EVENT, TOTAL, FULL, UNDER),
    }
    counts = (page.skipped_events, page.skipped_markets, page.skipped_outcomes, page.skipped_prices)
    assert counts == (0, 0, 0, 0)


def test_the_same_page_as_text_and_decoded() -> None:
    page = events("rundown_events_nba.json")
    body = fixture("rundown_events_nba.json")
    assert parse_events(body, affiliates=AFFILIATES, sports=SPORTS) == page
    assert parse_events(json.dumps(body), affiliates=AFFILIATES, sports=SPORTS) == page


def test_the_edge_page() -> None:
    page = events("rundown_events_edge.json")
    assert [e.provider_event_id for e in page.events] == ["aa11", "bb22", "cc33"]
    arsenal = page.events[0]
    assert (arsenal.sport, arsenal.home, arsenal.away) == ("EPL", "Arsenal", "Chelsea")
    # No is_home/is_away flags: teams[0] is away, teams[1] home, as the docs say.
    assert (page.events[1].home, page.events[1].away) == ("Charlotte Hornets", "Atlanta Hawks")
    at = epoch

    def q(
        event: str,
        kind: MarketKind,
        period: Period,
        side: int,
        line: float,
        book: str,
        price: float,
        when: str,
        player: str = "",
        stat: str = "",
    ) -> ParsedQuote:
        decimal = price if math.isnan(price) else dec(price)
        return ParsedQuote(event, kind, period, side, line, book, decimal, at(when), player, stat)

    noon = "2026-08-15T12:00:00"
    expected = (
        # A Draw participant makes market 1 three-way, for every side.
        q("aa11", ML3, FULL, HOME, 0.0, "Pinnacle", 105, noon),
        q("aa11", ML3, FULL, HOME, 0.0, "DraftKings", NAN, "2026-08-15T12:01:00"),  # 0.0001
        q("aa11", ML3, FULL, HOME, 0.0, "FanDuel", 110, "2026-08-15T12:02:00"),  # "+110"
        q("aa11", ML3, FULL, AWAY, 0.0, "Pinnacle", NAN, noon),  # closed_at
        q("aa11", ML3, FULL, AWAY, 0.0, "FanDuel", 255, "2026-08-15T12:02:00"),  # closed_at null
        q("aa11", ML3, FULL, AWAY, 0.0, "DraftKings", NAN, "2026-08-15T12:02:00"),  # price 0
        q("aa11", ML3, FULL, DRAW, 0.0, "Pinnacle", 240, noon),
        q("aa11", SPREAD, Period.FIRST_HALF, HOME, -0.5, "Pinnacle", -102, noon),  # "-102.0000"
        q("aa11", TOTAL, FULL, OVER, 2.5, "Pinnacle", -120, noon),
        q("aa11", TOTAL, FULL, UNDER, 2.5, "Pinnacle", 105, noon),
        q(
            "bb22",
            PROP,
            FULL,
            OVER,
            24.5,
            "DraftKings",
            -115,
            "2026-01-19T20:00:00",
            "Trae Young",
            "points",
        ),
        q(
            "bb22",
            PROP,
            FULL,
            UNDER,
            24.5,
            "DraftKings",
            -105,
            "2026-01-19T20:00:00",
            "Trae Young",
            "points",
        ),
        q(
            "bb22",
            PROP,
            FULL,
            OVER,
            21.5,
            "DraftKings",
            100,
            "2026-01-19T20:00:00",
            "LaMelo Ball",
            "points",
        ),
        q(
            "bb22",
            PROP,
            FULL,
            UNDER,
            21.5,
            "DraftKings",
            -130,
            "2026-01-19T20:00:00",
            "LaMelo Ball",
            "points",
        ),
        # live moneyline 41 in live period 7: the full-game moneyline
        q("bb22", ML, FULL, AWAY, 0.0, "DraftKings", 240, "2026-01-20T01:00:00"),
        # hockey period 3 is the first period
        q("cc33", TOTAL, Period.FIRST_PERIOD, OVER, 1.5, "Pinnacle", 130, "2026-01-20T20:00:00"),
    )
    assert same(page.quotes, expected)
    assert page.delta_cursor == "193500000"  # a number on the wire
    assert page.unknown_affiliates == {99}  # 27 is retired, so not reported
    # events: one team only; a bad date; a numeric id; a string. markets: 94, period 9,
    # hockey period 6. outcomes: lines "abc" and "0.0001", a participant who is no team,
    # "Over Under", a prop line without a side. prices: 50, a draw price without a time,
    # a price that is not an object, a live total without a time.
    counts = (page.skipped_events, page.skipped_markets, page.skipped_outcomes, page.skipped_prices)
    assert counts == (4, 3, 5, 4)
    refs = page.participants
    assert refs[ParticipantKey("aa11", 1, 3)] == ParticipantRef("aa11", ML3, FULL, DRAW)
    assert refs[ParticipantKey("aa11", 1, 501)] == ParticipantRef("aa11", ML3, FULL, HOME)
    assert refs[ParticipantKey("bb22", 29, 90002)] == ParticipantRef(
        "bb22", PROP, FULL, UNDER, "Trae Young", "points"
    )
    # The side of this prop is in its line values, so the join table leaves it open.
    assert refs[ParticipantKey("bb22", 29, 90003)] == ParticipantRef(
        "bb22", PROP, FULL, None, "LaMelo Ball", "points"
    )
    assert ParticipantKey("aa11", 2, 777) not in refs
    assert ParticipantKey("bb22", 29, 90004) not in refs


def test_a_soccer_moneyline_is_three_way_even_without_a_draw_participant() -> None:
    body = fixture("rundown_events_edge.json")
    arsenal = body["events"][0]
    del arsenal["markets"][0]["participants"][2]  # the Draw
    page = parse_events(body, affiliates=AFFILIATES, sports=SPORTS)
    moneyline = [q for q in page.quotes if q.provider_event_id == "aa11" and q.line == 0.0]
    assert {q.kind for q in moneyline} == {ML3}
    assert page.participants[ParticipantKey("aa11", 1, 501)].kind is ML3
    page = parse_events(body, affiliates=AFFILIATES, sports=SPORTS, draw_sports=frozenset())
    assert page.participants[ParticipantKey("aa11", 1, 501)].kind is ML


def test_a_price_without_a_time_takes_the_receive_time() -> None:
    page = events("rundown_events_edge.json", received_at=1000.0)
    late = [q for q in page.quotes if q.quoted_at == 1000.0]
    assert [(q.provider_event_id, q.side, q.book) for q in late] == [
        ("aa11", DRAW, "FanDuel"),
        ("bb22", OVER, "DraftKings"),
    ]
    assert page.skipped_prices == 2


def test_the_openers_example_has_no_participant_ids_and_no_meta() -> None:
    page = events("rundown_openers.json")
    assert page.delta_cursor is None
    assert page.participants == {}
    assert page.quotes == (
        ParsedQuote(
            DELTA_EVENT, ML, FULL, AWAY, 0.0, "DraftKings", dec(-105), epoch("2026-02-11T22:00:00")
        ),
    )


@pytest.mark.parametrize(
    ("meta", "cursor"),
    [
        ({"delta_last_id": "193500000"}, "193500000"),
        ({"delta_last_id": 193500000}, "193500000"),
        ({"delta_last_id": 193500000.0}, "193500000"),
        ({"delta_last_id": 1.5}, None),
        ({"delta_last_id": True}, None),
        ({"delta_last_id": ""}, None),
        ({"delta_last_id": 10**40}, str(10**40)),
        ({}, None),
        (None, None),
        ("193500000", None),
    ],
)
def test_the_delta_cursor_is_text_whatever_the_wire_type(meta: object, cursor: str | None) -> None:
    page = parse_events({"meta": meta, "events": []}, affiliates=AFFILIATES, sports=SPORTS)
    assert page.delta_cursor == cursor


@pytest.mark.parametrize(
    "name",
    ["LeBron James Over", "Over - LeBron James", "LeBron James (Over)", "over: LeBron  James"],
)
def test_prop_participant_names(name: str) -> None:
    body = {
        "events": [
            {
                "event_id": "e",
                "sport_id": 4,
                "event_date": "2026-01-01T00:00:00Z",
                "teams": [{"name": "A", "is_away": True}, {"name": "H", "is_home": True}],
                "markets": [
                    {
                        "market_id": 29,
                        "participants": [
                            {
                                "id": 7,
                                "name": name,
                                "lines": [{"value": "27.5", "prices": {"19": {"price": -110}}}],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    page = parse_events(body, affiliates=AFFILIATES, sports=SPORTS, received_at=1.0)
    assert [(q.side, q.player, q.stat, q.line) for q in page.quotes] == [
        (OVER, "LeBron James", "points", 27.5)
    ]


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"events": 5}', b'{"events": {}}', b"null", b"{" * 50_000],
)
def test_unreadable_pages_are_parse_errors(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_events(body, affiliates=AFFILIATES, sports=SPORTS)


def test_an_unknown_sport_is_named_by_its_number() -> None:
    body = fixture("rundown_events_nba.json")
    body["events"][0]["sport_id"] = 4242
    page = parse_events(body, affiliates=AFFILIATES, sports=SPORTS)
    assert page.events[0].sport == "4242"


# --- V2 WebSocket ----------------------------------------------------------------------


def test_the_documented_market_price_frame() -> None:
    message = ws(frame("rundown_ws_market_price.json"))
    assert message == PriceChange(
        quote=ParsedQuote(
            UFC_EVENT, TOTAL, FULL, OVER, 1.5, "Polymarket", dec(-117), epoch("2026-03-02T23:44:44")
        ),
        event_id=UFC_EVENT,
        market_id=3,
        participant_id=10,
        affiliate_id=26,
        record_id=193600383,
        line="1.5",
    )
    assert isinstance(message, PriceChange)
    assert not message.needs_refresh


def test_string_prices_with_a_plus_sign() -> None:
    message = ws(frame("rundown_ws_moneyline_plus.json"))
    assert isinstance(message, PriceChange)
    assert message.quote == ParsedQuote(
        NBA_EVENT, ML, FULL, AWAY, 0.0, "DraftKings", 2.05, epoch("2026-01-14T22:50:00")
    )


def test_the_sentinel_withdraws_and_meta_timestamp_stands_in_for_updated_at() -> None:
    message = ws(frame("rundown_ws_spread_sentinel.json"))
    assert isinstance(message, PriceChange)
    assert message.quote is not None
    assert cell_key(message.quote) == cell_key(
        ParsedQuote(NBA_EVENT, SPREAD, FULL, HOME, -4.5, "FanDuel", NAN, 0.0)
    )
    assert math.isnan(message.quote.price)
    assert message.quote.quoted_at == 1768431060.0


def test_an_unknown_participant_asks_for_a_refresh() -> None:
    message = ws(frame("rundown_ws_unknown_participant.json"))
    assert message == PriceChange(
        None,
        "ffffffffffffffffffffffffffffffff",
        1,
        145,
        19,
        193600402,
        "",
        SkipReason.UNKNOWN_PARTICIPANT,
    )
    assert isinstance(message, PriceChange)
    assert message.needs_refresh


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"market_id": 2, "line": "pk"}, SkipReason.INVALID_LINE),
        ({"market_id": 2, "line": "0.0001"}, SkipReason.INVALID_LINE),
        ({"market_id": 2, "line": "1e9"}, SkipReason.INVALID_LINE),
        ({"market_id": 2, "line": None}, SkipReason.INVALID_LINE),
        ({"affiliate_id": 27}, SkipReason.UNKNOWN_AFFILIATE),
        ({"market_id": 94}, SkipReason.UNSUPPORTED_MARKET),
        ({"normalized_market_participant_id": 146}, SkipReason.UNKNOWN_PARTICIPANT),
        ({"normalized_market_participant_id": 10**400}, SkipReason.UNKNOWN_PARTICIPANT),
        ({"market_id": 41}, SkipReason.UNKNOWN_PARTICIPANT),
    ],
)
def test_frames_that_yield_no_quote_say_why(data: dict[str, Any], reason: SkipReason) -> None:
    message = ws(ws_frame(**data))
    assert isinstance(message, PriceChange)
    assert message.quote is None
    assert message.skip_reason is reason


@pytest.mark.parametrize(
    "price",
    ["50", "-99.99", "abc", "NaN", "1e400", "-1e20", None],  # -1e20: 1 + 1e-18 is 1.0
)
def test_a_price_that_is_no_price_withdraws_the_cell(price: object) -> None:
    # The book's last price no longer stands either: placed as a withdrawal, and said.
    message = ws(ws_frame(price=price))
    assert isinstance(message, PriceChange)
    assert message.price_refused
    assert message.skip_reason is None
    assert message.quote is not None
    assert math.isnan(message.quote.price)
    assert (message.quote.kind, message.quote.side) == (ML, AWAY)


def test_a_price_that_reads_is_not_refused() -> None:
    message = ws(ws_frame(price="-110"))
    assert isinstance(message, PriceChange)
    assert not message.price_refused


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"price": "-110"}, (ML, AWAY, 0.0, dec(-110))),
        ({"price": -110}, (ML, AWAY, 0.0, dec(-110))),
        ({"price": "100"}, (ML, AWAY, 0.0, 2.0)),
        ({"price": "-100.0000"}, (ML, AWAY, 0.0, 2.0)),
        ({"price": " +250 "}, (ML, AWAY, 0.0, 3.5)),
        ({"market_id": 2, "line": "+4.5"}, (SPREAD, AWAY, 4.5, dec(-110))),
        ({"market_id": 2, "line": 5}, (SPREAD, AWAY, 5.0, dec(-110))),
        (
            {"market_id": 3, "line": "224.50000001", "normalized_market_participant_id": 1002},
            (TOTAL, UNDER, 224.5, dec(-110)),
        ),
    ],
)
def test_frames_that_place(
    data: dict[str, Any], expected: tuple[MarketKind, int, float, float]
) -> None:
    message = ws(ws_frame(**data))
    assert isinstance(message, PriceChange)
    assert message.quote is not None
    quote = message.quote
    assert (quote.kind, quote.side, quote.line, quote.price) == expected


def test_a_live_market_resolves_through_its_own_rows() -> None:
    data = {
        "event_id": "bb22",
        "market_id": 41,
        "normalized_market_participant_id": 11,
        "price": "+240",
    }
    message = ws(ws_frame(**data))
    assert isinstance(message, PriceChange)
    assert message.quote is not None
    assert (message.quote.kind, message.quote.period, message.quote.side) == (ML, FULL, AWAY)


def test_a_prop_takes_its_side_from_the_line_when_the_participant_has_none() -> None:
    base = {"event_id": "bb22", "market_id": 29, "normalized_market_participant_id": 90003}
    over = ws(ws_frame(**base, line="o22.5"))
    under = ws(ws_frame(**base, line="Under 22.5"))
    bare = ws(ws_frame(**base, line="22.5"))
    assert isinstance(over, PriceChange)
    assert isinstance(under, PriceChange)
    assert isinstance(bare, PriceChange)
    assert over.quote is not None
    assert under.quote is not None
    assert (over.quote.side, over.quote.line, over.quote.player) == (OVER, 22.5, "LaMelo Ball")
    assert (under.quote.side, under.quote.line) == (UNDER, 22.5)
    assert bare.skip_reason is SkipReason.INVALID_LINE
    # A participant that says Over, with a line that says Under, is a contradiction.
    contradiction = ws(
        ws_frame(
            event_id="bb22", market_id=29, normalized_market_participant_id=90001, line="u24.5"
        )
    )
    assert isinstance(contradiction, PriceChange)
    assert contradiction.skip_reason is SkipReason.INVALID_LINE


def test_the_time_falls_back_from_updated_at_to_meta_to_the_receive_time() -> None:
    raw = json.loads(ws_frame())
    del raw["data"]["updated_at"]
    message = ws(json.dumps(raw))
    assert isinstance(message, PriceChange)
    assert message.quote is not None
    assert message.quote.quoted_at == 1768431000.0
    raw["meta"]["timestamp"] = "1768431000"  # text is not epoch seconds
    message = ws(json.dumps(raw), received_at=5.0)
    assert isinstance(message, PriceChange)
    assert message.quote is not None
    assert message.quote.quoted_at == 5.0
    with pytest.raises(ParseError, match="time"):
        ws(json.dumps(raw))


def test_heartbeats() -> None:
    assert ws(frame("rundown_ws_heartbeat.json")) == Heartbeat(epoch("2026-02-12T18:30:00"))
    assert ws(b'{"meta":{"type":"heartbeat"}}') == Heartbeat(None)
    assert ws(b'{"meta":{"type":"heartbeat","timestamp":1772495104},"data":[1]}') == Heartbeat(
        1772495104.0
    )
    assert ws(b'{"meta":{"type":"heartbeat"},"data":{"now":"soon"}}') == Heartbeat(None)


def test_unknown_message_types_are_reported_not_refused() -> None:
    assert ws(frame("rundown_ws_market_update_old.json")) == UnknownMessage("market_update")
    assert ws(b'{"meta":{"type":"score"},"data":"anything"}') == UnknownMessage("score")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{}",
        b'{"meta": null}',
        b'{"meta": {"type": 3}}',
        b'{"meta": "market_price"}',
        b'{"meta": {"type": "market_price"}}',
        b'{"meta": {"type": "market_price"}, "data": null}',
        b'{"meta": {"type": "market_price"}, "data": {"event_id": "x", "market_id": 1}}',
        b'{"meta": {"type": "market_price"}, "data": {"event_id": 5}}',
        b'{"meta": {"type": "market_price"}, "data": {"affiliate_id": true}}',
        ws_frame(price=[1]).encode(),
        ws_frame(affiliate_id="19").encode(),
    ],
)
def test_broken_ws_frames_are_parse_errors(raw: bytes) -> None:
    with pytest.raises(ParseError):
        ws(raw)


# --- market delta ----------------------------------------------------------------------


def test_the_openapi_delta_example() -> None:
    page = parse_market_delta(
        frame("rundown_market_delta.json"), participants=TABLE, affiliates=AFFILIATES
    )
    at = epoch("2026-02-12T00:10:43")
    assert page == DeltaPage(
        quotes=(
            ParsedQuote(DELTA_EVENT, ML, FULL, AWAY, 0.0, "DraftKings", dec(-112), at),
            ParsedQuote(DELTA_EVENT, TOTAL, FULL, OVER, 235.5, "DraftKings", dec(-110), at),
        ),
        cursor="193500000",
        has_more=False,
    )


def test_delta_edges() -> None:
    page = parse_market_delta(
        frame("rundown_market_delta_edges.json"), participants=TABLE, affiliates=AFFILIATES
    )
    expected = (
        # change_type close: withdrawn
        ParsedQuote(
            NBA_EVENT, SPREAD, FULL, AWAY, 4.5, "FanDuel", NAN, epoch("2026-01-14T23:00:00")
        ),
        # new line "+100", closed_at null
        ParsedQuote(
            NBA_EVENT, TOTAL, FULL, UNDER, 225.5, "DraftKings", 2.0, epoch("2026-01-14T23:00:01")
        ),
        # "-99" is no price: the book's last one is withdrawn
        ParsedQuote(
            NBA_EVENT, ML, FULL, HOME, 0.0, "DraftKings", NAN, epoch("2026-01-14T23:00:03")
        ),
        # reopen with a numeric price
        ParsedQuote(
            NBA_EVENT, ML, FULL, HOME, 0.0, "DraftKings", dec(-190), epoch("2026-01-14T23:00:04")
        ),
    )
    assert same(page.quotes, expected)
    assert page.cursor == "193500050"
    assert page.has_more is True
    assert page.unknown_participants == {ParticipantKey(NBA_EVENT, 1, 999)}
    assert page.unknown_affiliates == {88}
    assert page.skipped == 3  # unknown participant, unknown affiliate, unreadable entry
    assert page.prices_refused == 1


def test_delta_entries_without_a_time_use_the_receive_time_or_are_skipped() -> None:
    body = fixture("rundown_market_delta.json")
    for delta in body["deltas"]:
        del delta["updated_at"]
    assert parse_market_delta(body, participants=TABLE, affiliates=AFFILIATES).skipped == 2
    page = parse_market_delta(body, participants=TABLE, affiliates=AFFILIATES, received_at=9.0)
    assert {q.quoted_at for q in page.quotes} == {9.0}


@pytest.mark.parametrize("body", [b"", b"[]", b'{"deltas": 1}', b'{"meta": {}, "deltas": {}}'])
def test_unreadable_delta_pages_are_parse_errors(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_market_delta(body, participants=TABLE, affiliates=AFFILIATES)


def test_an_empty_delta_page() -> None:
    page = parse_market_delta(
        b'{"meta": {"delta_last_id": "5", "has_more": "yes"}}', participants={}, affiliates={}
    )
    assert page == DeltaPage((), "5", False)


# --- V1 WebSocket ----------------------------------------------------------------------

SOCCER_EVENT = "541a8c85c41cd7ec7ecc74521ee71bc4"


def v1(raw: bytes | str, **kwargs: Any) -> object:
    return parse_v1_frame(raw, affiliates=AFFILIATES, **kwargs)


def test_the_documented_v1_spread_frame() -> None:
    at = epoch("2026-03-02T23:45:24")
    assert v1(frame("rundown_v1_spread.json")) == V1Update(
        scope=V1Scope(SOCCER_EVENT, 19, "spread", 0),
        quotes=(
            ParsedQuote(SOCCER_EVENT, SPREAD, FULL, HOME, -0.5, "DraftKings", dec(-175), at),
            ParsedQuote(SOCCER_EVENT, SPREAD, FULL, AWAY, 0.5, "DraftKings", 2.15, at),
        ),
    )


def test_a_sentinel_draw_in_a_sport_without_draws_is_no_draw_market() -> None:
    update = v1(frame("rundown_v1_moneyline.json"))
    at = epoch("2026-02-11T22:00:00")
    assert update == V1Update(
        scope=V1Scope(DELTA_EVENT, 4, "moneyline", 0),
        quotes=(
            ParsedQuote(DELTA_EVENT, ML, FULL, HOME, 0.0, "Sportsbetting", dec(-115), at),
            ParsedQuote(DELTA_EVENT, ML, FULL, AWAY, 0.0, "Sportsbetting", dec(-105), at),
        ),
    )


def test_a_sentinel_draw_in_soccer_withdraws_the_draw() -> None:
    update = v1(frame("rundown_v1_moneyline_soccer.json"))
    assert isinstance(update, V1Update)
    at = epoch("2026-03-02T23:46:00")
    half = Period.FIRST_HALF
    assert same(
        update.quotes,
        (
            ParsedQuote(SOCCER_EVENT, ML3, half, HOME, 0.0, "DraftKings", 2.15, at),
            ParsedQuote(SOCCER_EVENT, ML3, half, AWAY, 0.0, "DraftKings", 3.4, at),
            ParsedQuote(SOCCER_EVENT, ML3, half, DRAW, 0.0, "DraftKings", NAN, at),
        ),
    )


def test_a_real_draw_price_makes_any_moneyline_three_way() -> None:
    raw = fixture("rundown_v1_moneyline.json")
    raw["data"]["moneyline_draw"] = 350
    update = v1(json.dumps(raw))
    assert isinstance(update, V1Update)
    assert [(q.kind, q.side, q.price) for q in update.quotes] == [
        (ML3, HOME, dec(-115)),
        (ML3, AWAY, dec(-105)),
        (ML3, DRAW, 4.5),
    ]
    # Soccer without a draw field: three-way, no draw quote.
    raw = fixture("rundown_v1_moneyline_soccer.json")
    del raw["data"]["moneyline_draw"]
    update = v1(json.dumps(raw))
    assert isinstance(update, V1Update)
    assert [(q.kind, q.side) for q in update.quotes] == [(ML3, HOME), (ML3, AWAY)]
    # The caller decides which sports have draws.
    update = v1(frame("rundown_v1_moneyline_soccer.json"), draw_sports=frozenset())
    assert isinstance(update, V1Update)
    assert [(q.kind, q.side) for q in update.quotes] == [(ML, HOME), (ML, AWAY)]


def test_a_v1_total_with_a_string_sentinel_price() -> None:
    update = v1(frame("rundown_v1_total.json"))
    assert isinstance(update, V1Update)
    at = epoch("2026-02-11T23:00:00")
    assert same(
        update.quotes,
        (
            ParsedQuote(DELTA_EVENT, TOTAL, FULL, OVER, 231.5, "DraftKings", dec(-110), at),
            ParsedQuote(DELTA_EVENT, TOTAL, FULL, UNDER, 231.5, "DraftKings", NAN, at),
        ),
    )


def test_v1_scope_replacement_withdraws_moved_and_off_board_lines() -> None:
    first = v1(frame("rundown_v1_spread.json"))
    assert isinstance(first, V1Update)
    withdrawals, cells = withdraw_missing(frozenset(), first.quotes, at=1.0)
    assert withdrawals == ()
    # The line moves from -0.5 to -1: the -0.5 cells are gone.
    raw = fixture("rundown_v1_spread.json")
    raw["data"].update(
        point_spread_home=-1, point_spread_away=1, date_updated="2026-03-02T23:47:00Z"
    )
    moved = v1(json.dumps(raw))
    assert isinstance(moved, V1Update)
    assert moved.scope == first.scope
    withdrawals, cells = withdraw_missing(cells, moved.quotes, at=2.0)
    assert [(w.side, w.line) for w in withdrawals] == [(HOME, -0.5), (AWAY, 0.5)]
    assert all(math.isnan(w.price) for w in withdrawals)
    # Off the board: a sentinel line names no cell, so the frame has no quotes and the
    # scope replacement withdraws the -1 cells.
    off = v1(frame("rundown_v1_spread_off_board.json"))
    assert isinstance(off, V1Update)
    assert off.quotes == ()
    assert off.scope == first.scope
    withdrawals, cells = withdraw_missing(cells, off.quotes, at=3.0)
    assert [(w.side, w.line, w.quoted_at) for w in withdrawals] == [
        (HOME, -1.0, 3.0),
        (AWAY, 1.0, 3.0),
    ]
    assert cells == frozenset()


def test_v1_invalid_prices_and_lines_are_counted() -> None:
    raw = fixture("rundown_v1_spread.json")
    raw["data"].update(point_spread_home_money=50, point_spread_away="abc")
    update = v1(json.dumps(raw))
    assert isinstance(update, V1Update)
    assert update.quotes == ()
    assert update.skipped == 2


def test_v1_frames_that_yield_nothing_say_why() -> None:
    raw = fixture("rundown_v1_spread.json")
    raw["data"]["affiliate_id"] = 27
    update = v1(json.dumps(raw))
    assert isinstance(update, V1Update)
    assert (update.quotes, update.skip_reason) == ((), SkipReason.UNKNOWN_AFFILIATE)
    raw["data"].update(affiliate_id=19, period_id=9)
    update = v1(json.dumps(raw))
    assert isinstance(update, V1Update)
    assert (update.quotes, update.skip_reason) == ((), SkipReason.UNSUPPORTED_PERIOD)
    assert update.scope == V1Scope(SOCCER_EVENT, 19, "spread", 9)


def test_v1_flags_unknown_events_when_given_the_known_ones() -> None:
    known = {SOCCER_EVENT: ProviderEvent("therundown", SOCCER_EVENT, "FRA1", "H", "A", 0.0)}
    spread = frame("rundown_v1_spread.json")
    assert isinstance(update := v1(spread, events=known), V1Update)
    assert not update.unknown_event
    assert isinstance(update := v1(spread, events={}), V1Update)
    assert update.unknown_event
    assert isinstance(update := v1(spread), V1Update)
    assert not update.unknown_event


def test_v1_other_types() -> None:
    assert v1(frame("rundown_v1_score.json")) == UnknownMessage("score")
    assert v1(frame("rundown_ws_market_price.json")) == UnknownMessage("market_price")
    assert v1(frame("rundown_ws_heartbeat.json")) == Heartbeat(epoch("2026-02-12T18:30:00"))


def test_v1_time_fallbacks() -> None:
    raw = fixture("rundown_v1_total.json")
    del raw["data"]["date_updated"]
    with pytest.raises(ParseError, match="time"):
        v1(json.dumps(raw))
    update = v1(json.dumps(raw), received_at=7.0)
    assert isinstance(update, V1Update)
    assert {q.quoted_at for q in update.quotes} == {7.0}


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b'{"meta": {}}',
        b'{"meta": {"type": "spread"}}',
        b'{"meta": {"type": "spread"}, "data": {"affiliate_id": 19}}',
        b'{"meta": {"type": "spread"}, "data": {"event_id": "e"}}',
        b'{"meta": {"type": "spread"}, "data": {"event_id": "e", "affiliate_id": 19, '
        b'"point_spread_home": []}}',
        b'{"meta": {"type": "total"}, "data": [1]}',
    ],
)
def test_broken_v1_frames_are_parse_errors(raw: bytes) -> None:
    with pytest.raises(ParseError):
        v1(raw)


# --- fuzzing ---------------------------------------------------------------------------


def check_message(message: object) -> None:
    """Every parser result that carries quotes keeps the quote contract."""
    if isinstance(message, PriceChange):
        assert (message.quote is None) != (message.skip_reason is None)
        if message.quote is not None:
            check_quote(message.quote)
    elif isinstance(message, V1Update):
        for quote in message.quotes:
            check_quote(quote)
        assert not (message.quotes and message.skip_reason)
    elif isinstance(message, EventsPage):
        for quote in message.quotes:
            check_quote(quote)
        known = {event.provider_event_id for event in message.events}
        assert {quote.provider_event_id for quote in message.quotes} <= known
        for ref in message.participants.values():
            assert ref.provider_event_id in known
    elif isinstance(message, DeltaPage):
        for quote in message.quotes:
            check_quote(quote)
    elif isinstance(message, Heartbeat):
        assert message.now is None or math.isfinite(message.now)
    else:
        assert message is None or isinstance(message, UnknownMessage | dict)


def run_all(raw: Any) -> None:
    """Every TheRundown parser on one input: nothing but ParseError, valid quotes."""
    check_message(only_parse_errors(lambda: parse_sports(raw)))
    check_message(only_parse_errors(lambda: parse_affiliates(raw)))
    check_message(
        only_parse_errors(lambda: parse_events(raw, affiliates=AFFILIATES, sports=SPORTS))
    )
    check_message(
        only_parse_errors(
            lambda: parse_market_delta(raw, participants=TABLE, affiliates=AFFILIATES)
        )
    )
    if isinstance(raw, bytes | str):
        check_message(only_parse_errors(lambda: ws(raw)))
        check_message(only_parse_errors(lambda: v1(raw)))


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(raw: bytes) -> None:
    run_all(raw)


@FUZZ
@given(JSON_VALUES)
def test_fuzz_arbitrary_json(value: Any) -> None:
    run_all(json.dumps(value))
    for kind in ("market_price", "heartbeat", "moneyline", "spread", "total"):
        run_all(json.dumps({"meta": {"type": kind, "timestamp": value}, "data": value}))


@FUZZ
@given(PY_VALUES)
def test_fuzz_arbitrary_decoded_bodies(value: Any) -> None:
    run_all(value)


RECORDED = [
    "rundown_events_edge.json",
    "rundown_events_nba.json",
    "rundown_market_delta_edges.json",
    "rundown_ws_market_price.json",
    "rundown_ws_moneyline_plus.json",
    "rundown_ws_heartbeat.json",
    "rundown_v1_spread.json",
    "rundown_v1_moneyline_soccer.json",
    "rundown_v1_total.json",
    "rundown_affiliates.json",
]


@FUZZ
@given(st.sampled_from(RECORDED).flatmap(lambda name: mutations(fixture(name))))
def test_fuzz_recorded_frames_with_random_fields(value: Any) -> None:
    run_all(json.dumps(value))


@FUZZ
@given(mutations(fixture("rundown_events_edge.json"), PY_VALUES))
def test_fuzz_decoded_pages_with_random_fields(value: Any) -> None:
    run_all(value)


PRICES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**18), max_value=10**18),
    st.sampled_from(["0.0001", "0", "+105", "-122.0000", "NaN", "-inf", "1e999", "", "--5"]),
)
LINES = st.one_of(PRICES, st.sampled_from(["o24.5", "Under 3", "u", "Over 1e999", "-0", "+0.5"]))
KEYS = st.sampled_from(sorted(TABLE))


@FUZZ
@given(KEYS, st.sampled_from([19, 23, 26, 27, 0]), LINES, PRICES)
def test_fuzz_well_formed_ws_frames_with_random_values(
    key: ParticipantKey, affiliate: int, line: Any, price: Any
) -> None:
    data = {
        "event_id": key.event_id,
        "market_id": key.market_id,
        "normalized_market_participant_id": key.participant_id,
        "affiliate_id": affiliate,
        "line": line,
        "price": price,
        "updated_at": "2026-01-14T23:00:00Z",
    }
    message = ws(json.dumps({"meta": {"type": "market_price"}, "data": data}))
    check_message(message)
    assert isinstance(message, PriceChange)
    assert message.skip_reason is not SkipReason.UNKNOWN_PARTICIPANT


@FUZZ
@given(
    st.sampled_from(["moneyline", "spread", "total"]),
    st.sampled_from([4, 11, 38, 6, None]),
    st.integers(min_value=-2, max_value=20),
    st.lists(PRICES, min_size=6, max_size=6),
)
def test_fuzz_well_formed_v1_frames_with_random_values(
    market: str, sport_id: int | None, period_id: int, values: list[Any]
) -> None:
    names = {
        "moneyline": ["moneyline_home", "moneyline_away", "moneyline_draw"],
        "spread": [
            "point_spread_home",
            "point_spread_away",
            "point_spread_home_money",
            "point_spread_away_money",
        ],
        "total": ["total_over", "total_under", "total_over_money", "total_under_money"],
    }[market]
    data: dict[str, Any] = dict(zip(names, values, strict=False))
    data.update(event_id="e", affiliate_id=19, sport_id=sport_id, period_id=period_id)
    data["date_updated"] = "2026-01-14T23:00:00Z"
    check_message(v1(json.dumps({"meta": {"type": market}, "data": data})))
