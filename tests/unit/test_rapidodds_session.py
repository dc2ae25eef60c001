"""Tests for the pure RapidOddsAPI session and the feed's settings (no sockets, no clock).

Frames are built here as JSON, in the shape of the recorded ones in tests/fixtures/frames
(rapidodds_*.json), so that each test shows exactly what changed between two pushes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbwatch.core.markets import AWAY, HOME, MarketKey, MarketKind, PriceUpdate, moneyline
from arbwatch.feeds.base import FeedBatch
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.model import ParseError, ProviderEvent
from arbwatch.feeds.rapidodds.session import OversizedFrameError, RapidOddsSession, SessionResult
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings, RapidOddsSettingsError
from arbwatch.feeds.rapidodds.wire import (
    Connected,
    ErrorEvent,
    OddsUpdate,
    Subscribed,
    UnknownEvent,
    Unsubscribed,
)
from tests.unit.frames import FUZZ, epoch, frame

T0 = "2026-02-25T10:00:00"
START = "2026-02-25T11:00:00"
HOME_TEAM, AWAY_TEAM = "Los Angeles Lakers", "Boston Celtics"
#: Books -> (home price, away price) of the Lakers-Celtics moneyline.
Prices = Mapping[str, tuple[float, float]]

Cell = tuple[MarketKey, int, str]


def game(prices: Prices, *, home: str = HOME_TEAM, away: str = AWAY_TEAM, updated: str = T0) -> Any:
    return {
        "game": {"commence_time": START, "home_team": home, "away_team": away},
        "bookmakers": [
            {
                "name": book,
                "last_update": updated,
                "markets": [
                    {
                        "key": "head_to_head",
                        "outcomes": [
                            {"name": home, "price": home_price},
                            {"name": away, "price": away_price},
                        ],
                    }
                ],
            }
            for book, (home_price, away_price) in prices.items()
        ],
    }


def body(games: Iterable[Any], sport: str = "NBA") -> dict[str, Any]:
    return {"sport": sport, "games": list(games)}


def push(games: Iterable[Any], *, sport: str = "NBA", at: str = T0, credits: int = 1) -> str:
    return json.dumps(
        {
            "event": "odds_update",
            "sport": sport,
            "timestamp": at,
            "credits_charged": credits,
            "data": body(games, sport),
        }
    )


def new_session(identity: EventIdentity | None = None, **kwargs: Any) -> RapidOddsSession:
    return RapidOddsSession(identity or EventIdentity(), feed="rapid", **kwargs)


def batch_of(result: SessionResult) -> FeedBatch:
    assert result.batch is not None
    return result.batch


def cells(updates: Iterable[PriceUpdate]) -> dict[Cell, float]:
    return {(u.market, u.outcome, u.book): u.price for u in updates}


def apply(model: dict[Cell, float], batch: FeedBatch) -> None:
    """What the engine does with a batch: NaN takes a cell off the board."""
    for update in batch.updates:
        key = (update.market, update.outcome, update.book)
        if math.isnan(update.price):
            model.pop(key, None)
        else:
            model[key] = update.price


def ml(event_id: str) -> MarketKey:
    return moneyline(event_id)


# --- snapshots become batches -------------------------------------------------------------


def test_the_first_push_sends_every_quote_on_the_canonical_event() -> None:
    result = new_session().handle_message(frame("rapidodds_odds_update_nba.json"), 5.0)
    assert isinstance(result.message, OddsUpdate)
    batch = batch_of(result)
    assert batch.feed == "rapid"
    assert batch.received_at == 5.0
    (event,) = batch.events
    assert (event.sport, event.home, event.away) == ("NBA", HOME_TEAM, AWAY_TEAM)
    assert event.starts_at == epoch("2026-02-25T11:00:00")
    market = ml(event.event_id)
    assert cells(batch.updates) == {
        (market, HOME, "Pinnacle"): 2.1,
        (market, AWAY, "Pinnacle"): 1.8,
    }
    assert {u.quoted_at for u in batch.updates} == {epoch("2026-02-25T09:59:54")}
    assert (result.sport, result.quotes, result.withdrawn, result.skipped) == ("NBA", 2, 0, 0)


def test_a_push_replaces_its_sport_withdrawing_what_is_gone_and_sending_only_changes() -> None:
    session = new_session()
    first = batch_of(
        session.handle_message(
            push([game({"Pinnacle": (2.1, 1.8), "DraftKings": (2.05, 1.85)})]), 1.0
        )
    )
    market = ml(first.events[0].event_id)
    # DraftKings pulled its line; Pinnacle moved its away price (a new quote time too).
    later = "2026-02-25T10:00:30"
    result = session.handle_message(
        push([game({"Pinnacle": (2.1, 1.75)}, updated=later)], at=later), 2.0
    )
    batch = batch_of(result)
    gone_at = epoch(later)
    updates = {(u.market, u.outcome, u.book): (u.price, u.quoted_at) for u in batch.updates}
    assert updates.keys() == {
        (market, HOME, "Pinnacle"),
        (market, AWAY, "Pinnacle"),
        (market, HOME, "DraftKings"),
        (market, AWAY, "DraftKings"),
    }
    assert updates[(market, AWAY, "Pinnacle")] == (1.75, gone_at)
    # The home price is the same, but quoted again at the book's new time.
    assert updates[(market, HOME, "Pinnacle")] == (2.1, gone_at)
    for side in (HOME, AWAY):
        price, at = updates[(market, side, "DraftKings")]
        assert math.isnan(price)
        assert at == gone_at
    assert result.withdrawn == 2
    assert batch.events == first.events


def test_an_unchanged_push_gives_no_batch() -> None:
    session = new_session()
    text = push([game({"Pinnacle": (2.1, 1.8)})])
    assert session.handle_message(text, 1.0).batch is not None
    result = session.handle_message(text, 2.0)
    assert result.batch is None
    assert isinstance(result.message, OddsUpdate)


def test_a_game_gone_from_the_snapshot_is_withdrawn_and_named_in_the_batch() -> None:
    session = new_session()
    other = game({"Pinnacle": (1.5, 2.6)}, home="Miami Heat", away="Chicago Bulls")
    first = batch_of(session.handle_message(push([game({"Pinnacle": (2.1, 1.8)}), other]), 1.0))
    heat = next(e for e in first.events if e.home == "Miami Heat")
    batch = batch_of(session.handle_message(push([game({"Pinnacle": (2.1, 1.8)})]), 2.0))
    assert {(u.market.event_id, u.book) for u in batch.updates} == {(heat.event_id, "Pinnacle")}
    assert all(math.isnan(u.price) for u in batch.updates)
    assert heat in batch.events


def test_sports_are_separate_scopes() -> None:
    session = new_session()
    session.handle_message(push([game({"Pinnacle": (2.1, 1.8)})]), 1.0)
    epl = game({"Pinnacle": (2.0, 3.8)}, home="Arsenal", away="Chelsea")
    batch = batch_of(session.handle_message(push([epl], sport="EPL"), 2.0))
    # An EPL push says nothing about NBA: no NBA cell is withdrawn.
    assert all(not math.isnan(u.price) for u in batch.updates)
    assert {e.sport for e in batch.events} == {"EPL"}
    # An empty NBA push withdraws NBA, and nothing of EPL.
    emptied = batch_of(session.handle_message(push([]), 3.0))
    assert {u.market.event_id.split(":")[0] for u in emptied.updates} == {"NBA"}


def test_rest_and_pushes_share_a_sport_and_rest_is_charged_by_the_formula() -> None:
    session = new_session(expected_credits_per_push=3)
    rest = json.dumps(body([game({"Pinnacle": (2.1, 1.8)})]))
    result = session.handle_snapshot(rest, "NBA", 1.0)
    assert result.message is None
    assert result.sport == "NBA"
    assert batch_of(result).received_at == 1.0
    assert session.credits_charged_total == 3
    # The push of the same prices changes nothing; one without them withdraws them.
    assert session.handle_message(push([game({"Pinnacle": (2.1, 1.8)})]), 2.0).batch is None
    assert batch_of(session.handle_message(push([]), 3.0)).updates
    # RapidOddsAPI charges nothing for an answer without games.
    session.handle_snapshot(json.dumps(body([])), "nba", 4.0)
    assert session.credits_charged_total == 3 + 2  # and the two pushes, 1 credit each


def test_a_reconnect_and_resubscription_neither_withdraw_nor_repeat() -> None:
    session = new_session()
    text = push([game({"Pinnacle": (2.1, 1.8)})])
    session.handle_message(text, 1.0)
    for control in (
        frame("rapidodds_connected.json"),
        frame("rapidodds_subscribed.json"),
    ):
        assert session.handle_message(control, 2.0).batch is None
    # The first push on the new connection is the same snapshot: nothing to send.
    assert session.handle_message(text, 3.0).batch is None


# --- dropped batches ------------------------------------------------------------------------


def test_after_a_dropped_batch_the_next_snapshot_is_sent_in_full() -> None:
    session = new_session()
    model: dict[Cell, float] = {}
    apply(model, batch_of(session.handle_message(push([game({"A": (2.1, 1.8)})]), 1.0)))
    # Book B joins and A moves; the engine never sees it.
    dropped = session.handle_message(push([game({"A": (2.2, 1.7), "B": (2.0, 1.9)})]), 2.0)
    assert dropped.batch is not None
    session.batch_dropped(dropped.sport)
    # B is gone again, A unchanged since the dropped push: the engine still needs A's
    # move, and must lose anything it might hold of B.
    batch = batch_of(session.handle_message(push([game({"A": (2.2, 1.7)})]), 3.0))
    apply(model, batch)
    event_id = batch.events[0].event_id
    assert model == {(ml(event_id), HOME, "A"): 2.2, (ml(event_id), AWAY, "A"): 1.7}
    withdrawn = {(u.book, u.outcome) for u in batch.updates if math.isnan(u.price)}
    assert withdrawn == {("B", HOME), ("B", AWAY)}


def test_a_dropped_withdrawal_is_withdrawn_again() -> None:
    session = new_session()
    model: dict[Cell, float] = {}
    apply(
        model,
        batch_of(session.handle_message(push([game({"A": (2.1, 1.8), "B": (2.0, 1.9)})]), 1.0)),
    )
    gone = session.handle_message(push([game({"A": (2.1, 1.8)})]), 2.0)
    assert gone.withdrawn == 2
    session.batch_dropped("nba")
    apply(model, batch_of(session.handle_message(push([game({"A": (2.1, 1.8)})]), 3.0)))
    assert {book for _, _, book in model} == {"A"}


@st.composite
def pushes(draw: st.DrawFn) -> list[tuple[dict[str, tuple[float, float]], int, bool]]:
    """Snapshots of one game at books A-C: prices, the books' quote second, dropped?"""
    price = st.sampled_from([1.5, 1.9, 2.0, 2.6])
    snapshot = st.dictionaries(st.sampled_from("ABC"), st.tuples(price, price), max_size=3)
    return draw(
        st.lists(st.tuples(snapshot, st.integers(0, 2), st.booleans()), min_size=1, max_size=8)
    )


@FUZZ
@given(pushes())
def test_whatever_is_dropped_the_engine_ends_up_with_the_last_delivered_snapshot(
    steps: Sequence[tuple[dict[str, tuple[float, float]], int, bool]],
) -> None:
    identity = EventIdentity()
    event_id = identity.resolve(
        ProviderEvent("rapidoddsapi", "x", "NBA", HOME_TEAM, AWAY_TEAM, epoch(START))
    ).event.event_id
    session = new_session(identity)
    model: dict[Cell, float] = {}
    for number, (prices, second, dropped) in enumerate(steps):
        updated = f"2026-02-25T10:00:0{second}"
        result = session.handle_message(push([game(prices, updated=updated)]), float(number))
        if dropped:
            if result.batch is not None:
                session.batch_dropped(result.sport)
            continue
        if result.batch is not None:
            apply(model, result.batch)
        expected = {}
        for book, (home, away) in prices.items():
            expected[(ml(event_id), HOME, book)] = home
            expected[(ml(event_id), AWAY, book)] = away
        assert model == expected


# --- identity -------------------------------------------------------------------------------


def test_games_land_on_events_other_providers_reported_with_their_sides() -> None:
    identity = EventIdentity(aliases={"LA Lakers": HOME_TEAM})
    # TheRundown saw the game first, with the Celtics at home (a neutral venue).
    known = identity.resolve(
        ProviderEvent("therundown", "abc", "nba", AWAY_TEAM, "LA Lakers", epoch(START) + 600)
    ).event
    batch = batch_of(new_session(identity).handle_message(push([game({"P": (2.1, 1.8)})]), 1.0))
    assert batch.events == (known,)
    # Home and away are the known event's: the Lakers' 2.1 is its AWAY price.
    assert cells(batch.updates) == {
        (ml(known.event_id), AWAY, "P"): 2.1,
        (ml(known.event_id), HOME, "P"): 1.8,
    }


def test_replaying_the_same_frames_gives_the_same_batches() -> None:
    frames = [
        push([game({"A": (2.1, 1.8), "B": (2.0, 1.9)})]),
        frame("rapidodds_subscribed.json").decode(),
        push([game({"A": (2.2, 1.8)}, updated="2026-02-25T10:00:05")]),
        "{broken",
        push([]),
    ]

    def run() -> list[str]:
        session, seen = new_session(), []
        for number, text in enumerate(frames):
            try:
                seen.append(repr(session.handle_message(text, float(number)).batch))
            except ParseError as error:
                seen.append(str(error))
        return seen

    assert run() == run()


# --- control messages and credits -----------------------------------------------------------


def test_control_messages_carry_no_batch() -> None:
    session = new_session()
    for name, kind in (
        ("rapidodds_connected.json", Connected),
        ("rapidodds_unsubscribed.json", Unsubscribed),
        ("rapidodds_results_update.json", UnknownEvent),
        ("rapidodds_error_sport.json", ErrorEvent),
    ):
        result = session.handle_message(frame(name), 1.0)
        assert isinstance(result.message, kind)
        assert result.batch is None
    assert session.tier == "pro"


def test_credit_figures() -> None:
    session = new_session(expected_credits_per_push=1)
    assert session.credit_figures() == {"credits_charged_total": 0.0}
    result = session.handle_message(frame("rapidodds_subscribed.json"), 1.0)
    assert isinstance(result.message, Subscribed)
    assert not result.credits_mismatch
    session.handle_usage(b'{"tier":"pro","credits_remaining":100,"credits_used":5}')
    session.handle_message(push([game({"A": (2.1, 1.8)})], credits=1), 2.0)
    session.handle_message(push([], credits=4), 3.0)
    assert session.credit_figures() == {
        "credits_charged_total": 5.0,
        "credits_per_push": 1.0,
        "credits_remaining": 95.0,
    }
    error = session.handle_message(frame("rapidodds_error_credits.json"), 4.0).message
    assert isinstance(error, ErrorEvent)
    assert error.insufficient_credits
    assert session.credits_remaining == 2


def test_a_server_figure_unlike_the_formula_is_flagged() -> None:
    session = new_session(expected_credits_per_push=2)
    subscribed = json.loads(frame("rapidodds_subscribed.json"))
    result = session.handle_message(json.dumps(subscribed), 1.0)
    assert result.credits_mismatch
    subscribed["sport"], subscribed["credits_per_push"] = "EPL", 2
    assert not session.handle_message(json.dumps(subscribed), 1.0).credits_mismatch
    assert session.credits_per_push == {"NBA": 1, "EPL": 2}
    assert session.credit_figures()["credits_per_push"] == 3.0


def test_rest_refusals_are_read_like_error_events() -> None:
    session = new_session()
    credits = session.handle_refusal(
        "Insufficient credits. This request costs 4 credits, you have 3 remaining."
    )
    assert credits.insufficient_credits
    assert session.credits_remaining == 3
    limited = session.handle_refusal("Rate limit exceeded. Maximum 30 requests per second.")
    assert not limited.insufficient_credits
    assert session.credits_remaining == 3


def test_unreadable_usage_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        new_session().handle_usage(b"<html>")


# --- unreadable frames ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["{not json", "[]", '{"event": 3}', '{"event":"odds_update","sport":"NBA"}', ""],
)
def test_malformed_frames_raise_and_change_nothing(text: str) -> None:
    session = new_session()
    good = push([game({"A": (2.1, 1.8)})])
    session.handle_message(good, 1.0)
    with pytest.raises(ParseError):
        session.handle_message(text, 2.0)
    assert session.handle_message(good, 3.0).batch is None


def test_skipped_parts_are_counted() -> None:
    entry = game({"A": (2.1, 1.8)})
    markets = entry["bookmakers"][0]["markets"]
    markets.append({"key": "head_to_head_milestones", "outcomes": []})
    markets[0]["outcomes"][0]["price"] = 1.0
    markets[0]["outcomes"].append({"name": "Nobody", "price": 3.0})
    result = new_session().handle_message(push([entry, {"game": {}}]), 1.0)
    assert (result.skipped_games, result.skipped_markets) == (1, 1)
    assert (result.skipped_outcomes, result.skipped_prices, result.invalid_quotes) == (1, 1, 0)
    assert result.skipped == 4
    assert result.quotes == 1


def test_frames_over_the_limit_are_refused_by_their_utf8_size() -> None:
    text = push([game({"A": (2.1, 1.8)})])
    limit = len(text.encode())
    assert new_session(max_frame_bytes=limit).handle_message(text, 1.0).batch is not None
    with pytest.raises(OversizedFrameError, match="limit"):
        new_session(max_frame_bytes=limit - 1).handle_message(text, 1.0)
    # As many characters as the limit, but more bytes: "é" is two bytes in UTF-8.
    accented = text.replace("Pinnacle", "Pinnaclé").replace('"A"', '"É"')
    assert len(accented) <= limit < len(accented.encode())
    with pytest.raises(OversizedFrameError):
        new_session(max_frame_bytes=limit).handle_message(accented, 1.0)
    assert issubclass(OversizedFrameError, ParseError)


def test_rest_bodies_obey_the_frame_limit_too() -> None:
    rest = json.dumps(body([game({"A": (2.1, 1.8)})])).encode()
    session = new_session(max_frame_bytes=len(rest) - 1)
    with pytest.raises(OversizedFrameError, match="bytes"):
        session.handle_snapshot(rest, "NBA", 1.0)
    assert new_session(max_frame_bytes=len(rest)).handle_snapshot(rest, "NBA", 1.0).batch


# --- settings -------------------------------------------------------------------------------

KEY = "oa_secret_5d1f"


def settings(**overrides: Any) -> RapidOddsSettings:
    values: dict[str, Any] = {
        "name": "rapid",
        "api_key": KEY,
        "sports": ("NBA",),
        "bookmakers": ("Pinnacle", "DraftKings"),
        "market_types": ("head_to_head",),
    } | overrides
    return RapidOddsSettings(**values)


def test_settings_derive_the_websocket_url_and_hide_the_key() -> None:
    default = settings()
    assert default.ws_url == "wss://api.rapidoddsapi.com/ws"
    assert default.markets_url("NBA") == "https://api.rapidoddsapi.com/sports/NBA/markets"
    relay = settings(base_url="http://127.0.0.1:8000/relay/")
    assert relay.ws_url == "ws://127.0.0.1:8000/relay/ws"
    assert relay.usage_url == "http://127.0.0.1:8000/relay/usage"
    assert KEY not in repr(default)
    assert KEY not in str(default)


def test_settings_keep_lists_as_tuples_without_repeats() -> None:
    values = settings(sports=["NBA", "EPL", "NBA"], bookmakers=["A", "B", "C", "D", "E", "F"])
    assert values.sports == ("NBA", "EPL")
    assert values.credits_per_push == 2  # 1 type x ceil(6 books / 5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"api_key": "secret_5d1f"}, "api_key: RapidOddsAPI keys start with 'oa_'"),
        ({"api_key": "oa_"}, "api_key"),
        ({"api_key": "oa_secret 5d1f"}, "whitespace"),
        ({"name": " "}, "needs a name"),
        ({"sports": ()}, "sports: must not be empty"),
        ({"sports": "NBA"}, "sports: expected a list"),
        ({"bookmakers": ("Pinnacle", "")}, "bookmakers: expected non-blank names"),
        ({"market_types": [None]}, "market_types"),
        ({"base_url": "ftp://example.com"}, "base_url"),
        ({"base_url": "https://example.com/?api_key=oa_secret_5d1f"}, "base_url"),
        ({"idle_timeout": 0}, "idle_timeout: expected seconds > 0"),
        ({"poll_interval": math.inf}, "poll_interval"),
        ({"credits_retry": -1}, "credits_retry"),
        ({"max_frame_bytes": 0}, "max_frame_bytes"),
    ],
)
def test_settings_refuse_mistakes_without_showing_the_key(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(RapidOddsSettingsError, match=message.replace("(", r"\(")) as caught:
        settings(**overrides)
    assert "secret_5d1f" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_market_kinds_come_through() -> None:
    # One of the recorded pushes with several kinds: nothing the parser reads is lost.
    result = new_session().handle_message(frame("rapidodds_odds_update_mixed.json"), 1.0)
    kinds = {u.market.kind for u in batch_of(result).updates}
    assert MarketKind.MONEYLINE_3WAY in kinds
    assert len(batch_of(result).updates) == result.quotes
