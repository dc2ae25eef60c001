"""Tests for arbwatch.feeds.rapidodds: recorded frames, every documented edge, and fuzzing.

The frames live in tests/fixtures/frames/rapidodds_*.json. Copied from the provider's
documents: connected, subscribed and odds_update_nba (the WebSocket guide) and
rest_example (providers.md §2.2). Built for the edges no public example shows: the rest.

The fuzzing helpers at the top (`JSON_VALUES`, `mutations`, `check_quote`) are shared with
test_parse_rundown.py.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbwatch.core.markets import AWAY, DRAW, HOME, OVER, UNDER, MarketKind, Period
from arbwatch.feeds.decoding import parse_utc_timestamp
from arbwatch.feeds.model import (
    CellKey,
    ParsedQuote,
    ParseError,
    ProviderEvent,
    cell_key,
    withdraw_missing,
)
from arbwatch.feeds.rapidodds.wire import (
    Connected,
    ErrorEvent,
    OddsUpdate,
    Snapshot,
    SnapshotParts,
    Subscribed,
    UnknownEvent,
    Unsubscribed,
    credits_per_push,
    parse_message,
    parse_snapshot,
    provider_event_id,
    snapshot_withdrawals,
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


def check_snapshot(snapshot: Snapshot) -> None:
    for quote in snapshot.quotes:
        check_quote(quote, withdrawn_allowed=False)
    ids = {event.provider_event_id for event in snapshot.events}
    assert {quote.provider_event_id for quote in snapshot.quotes} <= ids
    for event in snapshot.events:
        assert isinstance(event, ProviderEvent)
        assert math.isfinite(event.starts_at)
    withdrawals, cells = snapshot_withdrawals(frozenset(), snapshot, at=0.0)
    assert withdrawals == ()
    withdrawals, _ = snapshot_withdrawals(cells, Snapshot(snapshot.sport, (), ()), at=1.0)
    assert len(withdrawals) == len(cells)
    for withdrawal in withdrawals:
        check_quote(withdrawal)


def check_message(message: object) -> None:
    if isinstance(message, OddsUpdate):
        assert math.isfinite(message.timestamp)
        check_snapshot(message.snapshot)


# --- control events --------------------------------------------------------------------


def test_connected_from_the_guide() -> None:
    assert parse_message(frame("rapidodds_connected.json")) == Connected(
        tier="pro", message="Send subscribe messages to start receiving odds data."
    )


def test_subscribed_from_the_guide_matches_the_credit_formula() -> None:
    message = parse_message(frame("rapidodds_subscribed.json"))
    assert message == Subscribed(
        sport="NBA",
        bookmakers=("Sportsbet", "DraftKings", "Pinnacle"),
        market_types=("head_to_head",),
        credits_per_push=1,
    )
    assert isinstance(message, Subscribed)
    cost = credits_per_push(len(message.market_types), len(message.bookmakers))
    assert cost == message.credits_per_push


def test_unsubscribed() -> None:
    assert parse_message(frame("rapidodds_unsubscribed.json")) == Unsubscribed(sport="NBA")


def test_an_unknown_event_is_reported_not_refused() -> None:
    assert parse_message(frame("rapidodds_results_update.json")) == UnknownEvent("results_update")
    assert parse_message('{"event": "pong", "data": [1, 2]}') == UnknownEvent("pong")


def test_insufficient_credits_error_with_the_remaining_balance() -> None:
    assert parse_message(frame("rapidodds_error_credits.json")) == ErrorEvent(
        message="Insufficient credits. This request costs 4 credits, you have 2 remaining.",
        insufficient_credits=True,
        credits_remaining=2,
    )


@pytest.mark.parametrize(
    ("text", "insufficient", "remaining"),
    [
        ("Sport 'XYZ' not found.", False, None),
        ("CREDIT LIMIT REACHED", True, None),
        ("Out of credits: You have 0 remaining", True, 0),
        ("Rate limit exceeded. Maximum 30 requests per second.", False, None),
        ("you have 123456789012345678901234 remaining credits", True, None),
    ],
)
def test_error_events(text: str, insufficient: bool, remaining: int | None) -> None:
    message = parse_message(json.dumps({"event": "error", "message": text}))
    assert message == ErrorEvent(text, insufficient, remaining)


def test_an_error_without_a_text_message_keeps_it_as_json() -> None:
    assert parse_message(b'{"event":"error"}') == ErrorEvent("", False)
    message = parse_message(b'{"event":"error","message":{"detail":"credits"}}')
    assert message == ErrorEvent('{"detail":"credits"}', True)


def test_metadata_of_the_wrong_type_reads_as_absent() -> None:
    message = parse_message(
        b'{"event":"subscribed","sport":4,"bookmakers":"Pinnacle",'
        b'"market_types":["head_to_head",7],"credits_per_push":true}'
    )
    assert message == Subscribed("", (), ("head_to_head",), None)
    assert parse_message(b'{"event":"connected"}') == Connected("", "")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'"odds_update"',
        b"{}",
        b'{"event": 5}',
        b'{"event": null}',
        b'{"event": "odds_update", "timestamp": "2026-02-25T10:00:00"}',
        b'{"event": "odds_update", "timestamp": "2026-02-25T10:00:00", "data": null}',
        b'{"event": "odds_update", "timestamp": "2026-02-25T10:00:00", "data": []}',
        b'{"event": "odds_update", "data": {"sport": "NBA", "games": []}}',
        b'{"event": "odds_update", "timestamp": "yesterday", "data": {"games": []}}',
        b"[" * 100_000,
    ],
)
def test_unreadable_frames_are_parse_errors(raw: bytes) -> None:
    with pytest.raises(ParseError):
        parse_message(raw)


def test_a_push_without_a_timestamp_takes_the_receive_time() -> None:
    message = parse_message(
        b'{"event":"odds_update","sport":"NBA","data":{"sport":"NBA","games":[]}}',
        received_at=1234.5,
    )
    assert message == OddsUpdate("NBA", 1234.5, None, SnapshotParts("NBA", (), 0))
    assert message.snapshot == Snapshot("NBA", (), ())


# --- odds snapshots --------------------------------------------------------------------

LAKERS_CELTICS = ProviderEvent(
    provider="rapidoddsapi",
    provider_event_id=provider_event_id(
        "NBA", "Los Angeles Lakers", "Boston Celtics", epoch("2026-02-25T11:00:00")
    ),
    sport="NBA",
    home="Los Angeles Lakers",
    away="Boston Celtics",
    starts_at=epoch("2026-02-25T11:00:00"),
)


def test_the_guides_odds_update() -> None:
    message = parse_message(frame("rapidodds_odds_update_nba.json"))
    at = epoch("2026-02-25T09:59:54")
    event_id = LAKERS_CELTICS.provider_event_id
    assert isinstance(message, OddsUpdate)
    assert (message.sport, message.timestamp, message.credits_charged) == (
        "NBA",
        epoch("2026-02-25T10:00:00"),
        1,
    )
    assert message.snapshot == Snapshot(
        sport="NBA",
        events=(LAKERS_CELTICS,),
        quotes=(
            ParsedQuote(
                event_id, MarketKind.MONEYLINE, Period.FULL_GAME, HOME, 0.0, "Pinnacle", 2.1, at
            ),
            ParsedQuote(
                event_id, MarketKind.MONEYLINE, Period.FULL_GAME, AWAY, 0.0, "Pinnacle", 1.8, at
            ),
        ),
    )


def test_a_push_parses_like_the_rest_response_it_wraps() -> None:
    """The push's data is the REST body: same events, same ids, same quotes."""
    message = parse_message(frame("rapidodds_odds_update_nba.json"))
    assert isinstance(message, OddsUpdate)
    body = fixture("rapidodds_odds_update_nba.json")["data"]
    for form in (body, json.dumps(body), json.dumps(body).encode()):
        assert parse_snapshot(form) == message.snapshot
    assert parse_message(frame("rapidodds_odds_update_nba.json").decode()) == message


def test_the_documented_rest_example() -> None:
    snapshot = parse_snapshot(frame("rapidodds_rest_example.json"))
    starts = epoch("2026-07-23T09:30:00")
    event_id = provider_event_id("NBA", "Adelaide Crows", "Collingwood", starts)
    assert snapshot.events == (
        ProviderEvent("rapidoddsapi", event_id, "NBA", "Adelaide Crows", "Collingwood", starts),
    )
    at = epoch("2026-07-23T09:00:00")
    ml = MarketKind.MONEYLINE
    assert snapshot.quotes == (
        ParsedQuote(event_id, ml, Period.FULL_GAME, HOME, 0.0, "Sportsbet", 2.4, at),
        ParsedQuote(event_id, ml, Period.FULL_GAME, AWAY, 0.0, "Sportsbet", 1.6, at),
    )


def test_the_event_id_is_stable_and_tells_games_apart() -> None:
    starts = epoch("2026-02-25T11:00:00")
    one = provider_event_id("NBA", "Los Angeles Lakers", "Boston Celtics", starts)
    assert one == provider_event_id("NBA", "Los Angeles Lakers", "Boston Celtics", starts + 0.5)
    assert len(one) == 16
    assert int(one, 16) >= 0
    others = {
        provider_event_id("NBA", "Boston Celtics", "Los Angeles Lakers", starts),
        provider_event_id("NBA", "Los Angeles Lakers", "Boston Celtics", starts + 86400),
        provider_event_id("WNBA", "Los Angeles Lakers", "Boston Celtics", starts),
        provider_event_id("NBA", "Los Angeles Lakers\x1fX", "Boston Celtics", starts),
    }
    assert one not in others
    assert len(others) == 4
    # Fractional seconds in the start time do not change the game.
    body = fixture("rapidodds_rest_example.json")
    body["games"][0]["game"]["commence_time"] = "2026-07-23T09:30:00.000000"
    first = parse_snapshot(body).events[0].provider_event_id
    assert first == parse_snapshot(frame("rapidodds_rest_example.json")).events[0].provider_event_id


def test_a_mixed_push_maps_every_market_and_skips_and_counts_the_rest() -> None:
    message = parse_message(frame("rapidodds_odds_update_mixed.json"))
    assert isinstance(message, OddsUpdate)
    assert message.timestamp == epoch("2026-08-15T13:00:00.25")
    assert message.credits_charged == 4
    snapshot = message.snapshot
    starts = epoch("2026-08-15T14:00:00")
    event_id = provider_event_id("EPL", "Arsenal", "Chelsea", starts)
    assert snapshot.events == (
        ProviderEvent("rapidoddsapi", event_id, "EPL", "Arsenal", "Chelsea", starts),
    )
    pinnacle = epoch("2026-08-15T12:59:30.5")
    bet365 = epoch("2026-08-15T12:58:00")
    # TAB has no last_update: the push timestamp stands in.
    tab = message.timestamp
    full, half = Period.FULL_GAME, Period.FIRST_HALF
    three, spread, total, prop = (
        MarketKind.MONEYLINE_3WAY,
        MarketKind.SPREAD,
        MarketKind.TOTAL,
        MarketKind.PLAYER_PROP,
    )

    def q(
        kind: MarketKind,
        period: Period,
        side: int,
        line: float,
        book: str,
        price: float,
        at: float,
        player: str = "",
        stat: str = "",
    ) -> ParsedQuote:
        return ParsedQuote(event_id, kind, period, side, line, book, price, at, player, stat)

    assert snapshot.quotes == (
        q(three, full, HOME, 0.0, "Pinnacle", 2.05, pinnacle),
        q(three, full, AWAY, 0.0, "Pinnacle", 3.9, pinnacle),
        q(three, full, DRAW, 0.0, "Pinnacle", 3.4, pinnacle),
        q(three, half, HOME, 0.0, "Pinnacle", 2.9, pinnacle),
        q(three, half, AWAY, 0.0, "Pinnacle", 4.6, pinnacle),
        q(three, half, DRAW, 0.0, "Pinnacle", 2.2, pinnacle),
        q(spread, full, HOME, -0.5, "Pinnacle", 1.95, pinnacle),
        q(spread, full, AWAY, 0.5, "Pinnacle", 1.9, pinnacle),
        # name "Home" is no team: team_name says which side it is
        q(spread, full, HOME, -1.5, "Pinnacle", 1.5, pinnacle),
        q(total, full, OVER, 2.5, "Pinnacle", 1.85, pinnacle),
        q(total, full, UNDER, 2.5, "Pinnacle", 2.0, pinnacle),
        q(total, full, OVER, 3.5, "Pinnacle", 3.1, pinnacle),
        q(prop, full, OVER, 1.5, "Pinnacle", 2.2, pinnacle, "Bukayo Saka", "shots_on_goal"),
        q(prop, full, UNDER, 1.5, "Pinnacle", 1.65, pinnacle, "Bukayo Saka", "shots_on_goal"),
        # a head_to_head with a draw outcome is three-way
        q(three, full, HOME, 0.0, "Bet365", 1.01, bet365),
        q(three, full, DRAW, 0.0, "Bet365", 3.3, bet365),
        q(three, full, HOME, 0.0, "TAB", 2.0, tab),
    )
    # Skipped markets: corners total, draw_no_bet, the milestones ladder.
    # Skipped games: a bad start time, one team twice, a game that is not an object,
    # an entry without a game.
    # Skipped outcomes: a prop without player_name, Bet365's Over without point, Under
    # with a text point, Under with an absurd point.
    # Skipped prices: 1.0 (1.01 is a price); "2.10" is text; null; 0.5; true.
    assert (snapshot.skipped_games, snapshot.skipped_markets) == (4, 3)
    assert (snapshot.skipped_outcomes, snapshot.skipped_prices) == (4, 5)


def test_us_market_keys_periods_and_prop_statistics() -> None:
    snapshot = parse_snapshot(frame("rapidodds_rest_us.json"))
    starts = epoch("2026-07-04T23:05:00")
    event_id = provider_event_id("MLB", "New York Yankees", "Boston Red Sox", starts)
    at = epoch("2026-07-04T22:00:00")
    summary = [
        (q.kind, q.period, q.side, q.line, q.price, q.player, q.stat) for q in snapshot.quotes
    ]
    assert {q.provider_event_id for q in snapshot.quotes} == {event_id}
    assert {q.quoted_at for q in snapshot.quotes} == {at}
    f5, full, half = Period.FIRST_FIVE_INNINGS, Period.FULL_GAME, Period.FIRST_HALF
    prop = MarketKind.PLAYER_PROP
    assert summary == [
        (MarketKind.MONEYLINE, f5, HOME, 0.0, 1.8, "", ""),
        (MarketKind.MONEYLINE, f5, AWAY, 0.0, 2.1, "", ""),
        (MarketKind.TOTAL, full, OVER, 8.5, 1.91, "", ""),
        (MarketKind.TOTAL, full, UNDER, 8.5, 1.91, "", ""),
        # each side's own handicap
        (MarketKind.SPREAD, full, AWAY, 1.5, 1.7, "", ""),
        (MarketKind.SPREAD, full, HOME, -1.5, 2.2, "", ""),
        (prop, full, OVER, 6.5, 1.87, "Gerrit Cole", "pitcher_strikeouts"),
        (prop, full, UNDER, 6.5, 1.95, "Gerrit Cole", "pitcher_strikeouts"),
        (prop, full, OVER, 1.5, 2.5, "Aaron Judge", "batter_total_bases"),
        (prop, half, OVER, 10.5, 1.9, "Nobody", "points"),
    ]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("head_to_head", (MarketKind.MONEYLINE, Period.FULL_GAME, "")),
        ("head_to_head_3_way", (MarketKind.MONEYLINE_3WAY, Period.FULL_GAME, "")),
        ("head_to_head_1st_period", (MarketKind.MONEYLINE, Period.FIRST_PERIOD, "")),
        ("head_to_head_1st_set", (MarketKind.MONEYLINE, Period.FIRST_SET, "")),
        ("alternate_lines_1st_half", (MarketKind.SPREAD, Period.FIRST_HALF, "")),
        ("alternate_total_points_1st_half", (MarketKind.TOTAL, Period.FIRST_HALF, "")),
        ("alternate_total_runs", (MarketKind.TOTAL, Period.FULL_GAME, "")),
        ("player_points", (MarketKind.PLAYER_PROP, Period.FULL_GAME, "points")),
        ("player_disposals", (MarketKind.PLAYER_PROP, Period.FULL_GAME, "disposals")),
        ("batter_hits", (MarketKind.PLAYER_PROP, Period.FULL_GAME, "batter_hits")),
        ("draw_no_bet", None),
        ("alternate_total_cards", None),
        ("alternate_team_total_points", None),
        ("player_points_milestones", None),
        ("player_", None),
        ("spreads", None),
        ("", None),
    ],
)
def test_market_keys(key: str, expected: tuple[MarketKind, Period, str] | None) -> None:
    body = {
        "sport": "NBA",
        "games": [
            {
                "game": {
                    "commence_time": "2026-02-25T11:00:00",
                    "home_team": "H",
                    "away_team": "A",
                },
                "bookmakers": [
                    {
                        "name": "B",
                        "last_update": "2026-02-25T10:00:00",
                        "markets": [
                            {
                                "key": key,
                                "outcomes": [
                                    {"name": "H", "price": 2.0, "point": -1.5},
                                    {
                                        "name": "Over",
                                        "price": 2.0,
                                        "point": 7.5,
                                        "player_name": "P",
                                    },
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
    }
    snapshot = parse_snapshot(body)
    if expected is None:
        assert snapshot.quotes == ()
        assert snapshot.skipped_markets == 1
    else:
        assert {(q.kind, q.period, q.stat) for q in snapshot.quotes} == {expected}
        assert snapshot.skipped_markets == 0


def test_outcome_names_match_teams_ignoring_case_and_outer_spaces_only() -> None:
    body = fixture("rapidodds_rest_example.json")
    outcomes = body["games"][0]["bookmakers"][0]["markets"][0]["outcomes"]
    outcomes[0]["name"] = " adelaide crows "
    outcomes[1]["name"] = "Collingwood Magpies"
    snapshot = parse_snapshot(body)
    assert [(q.kind, q.side) for q in snapshot.quotes] == [(MarketKind.MONEYLINE, HOME)]
    assert snapshot.skipped_outcomes == 1


def test_a_head_to_head_with_a_draw_is_three_way() -> None:
    """Read as 2-way, a soccer game's home and away prices would fake an arbitrage."""
    body = fixture("rapidodds_rest_example.json")
    outcomes = body["games"][0]["bookmakers"][0]["markets"][0]["outcomes"]
    outcomes.append({"name": "TIE", "price": 9.0})
    snapshot = parse_snapshot(body)
    three = MarketKind.MONEYLINE_3WAY
    assert [(q.kind, q.side) for q in snapshot.quotes] == [
        (three, HOME),
        (three, AWAY),
        (three, DRAW),
    ]


def test_a_book_without_a_time_is_skipped_unless_the_caller_gives_one() -> None:
    body = fixture("rapidodds_rest_example.json")
    del body["games"][0]["bookmakers"][0]["last_update"]
    assert parse_snapshot(body).quotes == ()
    assert parse_snapshot(body).skipped_markets == 1
    assert {q.quoted_at for q in parse_snapshot(body, received_at=99.0).quotes} == {99.0}


def test_the_sport_falls_back_to_the_callers() -> None:
    body = fixture("rapidodds_rest_example.json")
    del body["sport"]
    assert parse_snapshot(body, sport="AFL").events[0].sport == "AFL"


def test_decoded_bodies_with_nan_and_infinite_prices_skip_those_prices() -> None:
    body = fixture("rapidodds_rest_example.json")
    outcomes = body["games"][0]["bookmakers"][0]["markets"][0]["outcomes"]
    outcomes[0]["price"] = math.nan
    outcomes[1]["price"] = math.inf
    snapshot = parse_snapshot(body)
    assert snapshot.quotes == ()
    assert snapshot.skipped_prices == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-23T09:30:00", 1784799000.0),
        ("2026-07-23T09:30:00.5", 1784799000.5),
        ("2026-02-25T10:00:00.000000", 1772013600.0),
        ("2026-07-23T09:30:00Z", 1784799000.0),
        ("2026-07-23T11:30:00+02:00", 1784799000.0),
        ("", None),
        ("2026-13-01T00:00:00", None),
        ("yesterday", None),
        (1784799000, None),
        (None, None),
    ],
)
def test_timestamps(text: object, expected: float | None) -> None:
    assert parse_utc_timestamp(text) == expected


# --- withdrawals and credits -----------------------------------------------------------


def test_a_cell_missing_from_the_next_push_is_withdrawn_at_the_push_time() -> None:
    first = parse_message(frame("rapidodds_odds_update_mixed.json"))
    assert isinstance(first, OddsUpdate)
    withdrawals, cells = snapshot_withdrawals(frozenset(), first.snapshot, at=first.timestamp)
    assert withdrawals == ()
    assert cells == {cell_key(q) for q in first.snapshot.quotes}

    # The next push: Pinnacle pulled the first-half market; everything else stays.
    body = fixture("rapidodds_odds_update_mixed.json")
    del body["data"]["games"][0]["bookmakers"][0]["markets"][1]
    body["timestamp"] = "2026-08-15T13:00:30"
    second = parse_message(json.dumps(body))
    assert isinstance(second, OddsUpdate)
    withdrawals, cells = snapshot_withdrawals(cells, second.snapshot, at=second.timestamp)
    gone = [q for q in first.snapshot.quotes if q.period is Period.FIRST_HALF]
    assert len(gone) == 3
    assert [cell_key(w) for w in withdrawals] == sorted(cell_key(q) for q in gone)
    assert all(math.isnan(w.price) for w in withdrawals)
    assert {w.quoted_at for w in withdrawals} == {second.timestamp}
    assert cells == {cell_key(q) for q in second.snapshot.quotes}

    # A push with no games withdraws everything that is left.
    empty = Snapshot("EPL", (), ())
    withdrawals, cells = snapshot_withdrawals(cells, empty, at=5.0)
    assert len(withdrawals) == len(second.snapshot.quotes)
    assert cells == frozenset()


def test_a_withdrawal_is_the_cell_at_nan() -> None:
    quote = parse_snapshot(frame("rapidodds_rest_us.json")).quotes[-1]
    withdrawal = cell_key(quote).withdrawn(7.0)
    assert cell_key(withdrawal) == cell_key(quote)
    assert math.isnan(withdrawal.price)
    assert withdrawal.quoted_at == 7.0
    check_quote(withdrawal)
    assert isinstance(cell_key(quote), CellKey)


def test_withdraw_missing_needs_a_real_time() -> None:
    with pytest.raises(ValueError, match="finite"):
        withdraw_missing(frozenset(), (), at=math.nan)


@pytest.mark.parametrize(
    ("types", "books", "credits"),
    [(1, 1, 1), (1, 5, 1), (1, 6, 2), (2, 10, 4), (3, 15, 9), (0, 4, 0), (4, 0, 0)],
)
def test_credits_per_push_follows_the_documented_examples(
    types: int, books: int, credits: int
) -> None:
    assert credits_per_push(types, books) == credits


def test_credits_per_push_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match="negative"):
        credits_per_push(-1, 3)


# --- fuzzing ---------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(raw: bytes) -> None:
    check_message(only_parse_errors(lambda: parse_message(raw)))
    snapshot = only_parse_errors(lambda: parse_snapshot(raw))
    if snapshot is not None:
        assert isinstance(snapshot, Snapshot)
        check_snapshot(snapshot)


@FUZZ
@given(JSON_VALUES)
def test_fuzz_arbitrary_json(value: Any) -> None:
    check_message(only_parse_errors(lambda: parse_message(json.dumps(value))))
    check_message(
        only_parse_errors(
            lambda: parse_message(json.dumps({"event": "odds_update", "data": value}))
        )
    )


@FUZZ
@given(PY_VALUES)
def test_fuzz_arbitrary_decoded_bodies(value: Any) -> None:
    snapshot = only_parse_errors(lambda: parse_snapshot(value))
    if snapshot is not None:
        assert isinstance(snapshot, Snapshot)
        check_snapshot(snapshot)


@FUZZ
@given(
    st.sampled_from(
        [
            "rapidodds_odds_update_mixed.json",
            "rapidodds_odds_update_nba.json",
            "rapidodds_subscribed.json",
            "rapidodds_error_credits.json",
        ]
    ).flatmap(lambda name: mutations(fixture(name)))
)
def test_fuzz_recorded_frames_with_random_fields(value: Any) -> None:
    check_message(only_parse_errors(lambda: parse_message(json.dumps(value))))


@FUZZ
@given(mutations(fixture("rapidodds_rest_us.json"), PY_VALUES))
def test_fuzz_decoded_bodies_with_random_fields(value: Any) -> None:
    snapshot = only_parse_errors(lambda: parse_snapshot(value, received_at=0.0))
    if snapshot is not None:
        assert isinstance(snapshot, Snapshot)
        check_snapshot(snapshot)


NUMBERS = st.one_of(
    st.floats(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([1.0, 1.0000001, 0.0, -0.0, 1e308, 10**400, "2.0", None, True]),
)
OUTCOMES = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["H", "A", "Over", "Under", "Draw", "Tie", "h ", "x"]),
        "price": NUMBERS,
    },
    optional={
        "point": NUMBERS,
        "player_name": st.sampled_from(["P", "", 5]),
        "team_name": st.sampled_from(["H", "A"]),
    },
)
MARKET_KEYS = st.sampled_from(
    [
        "head_to_head",
        "head_to_head_3_way",
        "alternate_lines",
        "alternate_total_goals",
        "player_points",
        "batter_hits_1st_5_innings",
        "unknown",
    ]
)


@FUZZ
@given(
    st.lists(
        st.fixed_dictionaries({"key": MARKET_KEYS, "outcomes": st.lists(OUTCOMES, max_size=6)}),
        max_size=4,
    )
)
def test_fuzz_well_formed_snapshots_with_random_values(markets: list[dict[str, Any]]) -> None:
    body = {
        "sport": "NBA",
        "games": [
            {
                "game": {
                    "commence_time": "2026-02-25T11:00:00",
                    "home_team": "H",
                    "away_team": "A",
                },
                "bookmakers": [
                    {"name": "B", "last_update": "2026-02-25T10:00:00", "markets": markets}
                ],
            }
        ],
    }
    snapshot = parse_snapshot(body)
    check_snapshot(snapshot)
    if snapshot.skipped_games:
        return  # a number of hundreds of digits makes the game unreadable as a whole
    outcomes = sum(len(market["outcomes"]) for market in markets if market["key"] != "unknown")
    counted = snapshot.skipped_outcomes + snapshot.skipped_prices + len(snapshot.quotes)
    assert counted == outcomes
    assert snapshot.skipped_markets == sum(market["key"] == "unknown" for market in markets)


@pytest.mark.parametrize(
    ("game_url", "expected"),
    [
        (
            "https://www.example.com/nba/crows-collingwood",
            "https://www.example.com/nba/crows-collingwood",
        ),
        (None, ""),  # the documented example's null
        ("javascript:alert(1)", ""),
        (42, ""),
    ],
)
def test_the_game_url_is_kept_when_it_is_a_web_address(game_url: object, expected: str) -> None:
    body = fixture("rapidodds_rest_example.json")
    body["games"][0]["game"]["game_url"] = game_url
    (event,) = parse_snapshot(body).events
    assert event.url == expected
