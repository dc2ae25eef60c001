"""Market identities: kinds, line normalization, keys, labels and events."""

from __future__ import annotations

import math

import pytest

from arbwatch.core.markets import (
    AWAY,
    DRAW,
    HOME,
    OVER,
    UNDER,
    Event,
    MarketKey,
    MarketKind,
    Period,
    moneyline,
    normalize_line,
    outcome_label,
    player_prop,
    spread,
    total,
)
from arbwatch.errors import InvalidMarketError

GAME = Event("g1", sport="basketball", home="Celtics", away="Lakers", starts_at=1_700_000_000.0)


# --- kinds -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "count"),
    [
        (MarketKind.MONEYLINE, 2),
        (MarketKind.MONEYLINE_3WAY, 3),
        (MarketKind.SPREAD, 2),
        (MarketKind.TOTAL, 2),
        (MarketKind.PLAYER_PROP, 2),
    ],
)
def test_outcome_count_of_each_kind(kind: MarketKind, count: int) -> None:
    assert kind.outcome_count == count
    assert MarketKey("g1", kind).outcome_count == count


def test_every_kind_has_a_label() -> None:
    labels = {kind.label for kind in MarketKind}
    assert len(labels) == len(MarketKind)
    assert MarketKind.MONEYLINE_3WAY.label == "Moneyline (3-way)"


# --- lines -----------------------------------------------------------------------------


def test_normalize_line_absorbs_rounding_noise() -> None:
    assert normalize_line(224.50000001) == 224.5
    assert normalize_line(224.49999999) == 224.5
    assert normalize_line(-3.5) == -3.5
    assert normalize_line(7) == 7.0


@pytest.mark.parametrize("line", [-0.0, -0.001, 0.004])
def test_normalize_line_never_returns_negative_zero(line: float) -> None:
    normalized = normalize_line(line)
    assert normalized == 0.0
    assert math.copysign(1.0, normalized) == 1.0


@pytest.mark.parametrize("line", [math.nan, math.inf, -math.inf])
def test_normalize_line_rejects_non_finite(line: float) -> None:
    with pytest.raises(InvalidMarketError):
        normalize_line(line)


@pytest.mark.parametrize("line", [math.nan, math.inf])
def test_keys_reject_non_finite_lines(line: float) -> None:
    with pytest.raises(InvalidMarketError):
        total("g1", line)
    with pytest.raises(InvalidMarketError):
        spread("g1", HOME, line)
    with pytest.raises(InvalidMarketError):
        player_prop("g1", "LeBron James", "points", line)


def test_noisy_line_gives_the_same_key() -> None:
    noisy, clean = total("g1", 224.50000001), total("g1", 224.5)
    assert noisy == clean
    assert hash(noisy) == hash(clean)


# --- spreads ---------------------------------------------------------------------------


def test_home_minus_and_away_plus_same_handicap_are_one_market() -> None:
    home_key, home_slot = spread("g1", HOME, -3.5)
    away_key, away_slot = spread("g1", AWAY, +3.5)
    assert home_key == away_key
    assert hash(home_key) == hash(away_key)
    assert home_key.line == -3.5
    assert home_key.kind is MarketKind.SPREAD
    assert (home_slot, away_slot) == (HOME, AWAY)
    assert len({home_key, away_key}) == 1


def test_home_minus_3_5_against_away_plus_3_is_two_markets() -> None:
    home_key, _ = spread("g1", HOME, -3.5)
    away_key, _ = spread("g1", AWAY, +3.0)
    assert home_key != away_key
    assert away_key.line == -3.0


def test_away_favourite_is_keyed_by_the_home_line() -> None:
    away_key, slot = spread("g1", AWAY, -7.0)
    assert slot == AWAY
    assert away_key.line == 7.0
    assert away_key == spread("g1", HOME, 7.0)[0]


def test_pick_em_spread_from_either_side_is_one_market() -> None:
    home_key, _ = spread("g1", HOME, 0.0)
    away_key, _ = spread("g1", AWAY, 0.0)
    assert home_key == away_key
    assert math.copysign(1.0, away_key.line) == 1.0


def test_spread_keys_differ_by_event_and_period() -> None:
    full = spread("g1", HOME, -3.5)[0]
    assert full != spread("g2", HOME, -3.5)[0]
    assert full != spread("g1", HOME, -3.5, period=Period.FIRST_HALF)[0]


@pytest.mark.parametrize("side", [DRAW, -1, 5])
def test_spread_side_must_be_home_or_away(side: int) -> None:
    with pytest.raises(InvalidMarketError):
        spread("g1", side, -3.5)


# --- totals and props ------------------------------------------------------------------


def test_total_key() -> None:
    key = total("g1", 224.5)
    assert key == MarketKey("g1", MarketKind.TOTAL, Period.FULL_GAME, 224.5)
    assert key != total("g1", 225.5)
    assert key != total("g1", 224.5, period=Period.FIRST_HALF)
    assert key != total("g2", 224.5)


def test_player_prop_key() -> None:
    key = player_prop("g1", "LeBron James", "points", 27.5)
    assert key.kind is MarketKind.PLAYER_PROP
    assert (key.player, key.stat, key.line) == ("LeBron James", "points", 27.5)
    assert key == player_prop("g1", "LeBron James", "points", 27.50000001)


@pytest.mark.parametrize(
    "other",
    [
        player_prop("g1", "Anthony Davis", "points", 27.5),
        player_prop("g1", "LeBron James", "rebounds", 27.5),
        player_prop("g1", "LeBron James", "points", 28.5),
        player_prop("g1", "LeBron James", "points", 27.5, period=Period.FIRST_QUARTER),
        total("g1", 27.5),
    ],
)
def test_player_prop_keys_differ_by_player_stat_line_and_period(other: MarketKey) -> None:
    assert player_prop("g1", "LeBron James", "points", 27.5) != other


@pytest.mark.parametrize(("player", "stat"), [("", "points"), ("LeBron James", ""), ("", "")])
def test_player_prop_needs_player_and_stat(player: str, stat: str) -> None:
    with pytest.raises(InvalidMarketError):
        player_prop("g1", player, stat, 27.5)


def test_moneyline_keys() -> None:
    two_way, three_way = moneyline("g1"), moneyline("g1", three_way=True)
    assert two_way.kind is MarketKind.MONEYLINE
    assert three_way.kind is MarketKind.MONEYLINE_3WAY
    assert two_way != three_way
    assert two_way.line == 0.0
    assert two_way != moneyline("g1", period=Period.FIRST_HALF)


# --- labels ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("market", "label"),
    [
        (moneyline("g1"), "Moneyline"),
        (moneyline("g1", three_way=True), "Moneyline (3-way)"),
        (spread("g1", HOME, -3.5)[0], "Spread -3.5"),
        (spread("g1", AWAY, -3.5)[0], "Spread +3.5"),
        (spread("g1", HOME, 0.0)[0], "Spread 0"),
        (total("g1", 224.5), "Total 224.5"),
        (total("g1", 6.0), "Total 6"),
        (player_prop("g1", "LeBron James", "points", 27.5), "LeBron James points 27.5"),
        (moneyline("g1", period=Period.FIRST_QUARTER), "Moneyline \N{MIDDLE DOT} 1st quarter"),
        (
            total("g1", 112.5, period=Period.FIRST_HALF),
            "Total 112.5 \N{MIDDLE DOT} 1st half",
        ),
        (
            spread("g1", HOME, -1.5, period=Period.FIRST_FIVE_INNINGS)[0],
            "Spread -1.5 \N{MIDDLE DOT} first 5 innings",
        ),
    ],
)
def test_market_label(market: MarketKey, label: str) -> None:
    assert market.label() == label


def test_every_period_has_a_label() -> None:
    labels = {period.label for period in Period}
    assert len(labels) == len(Period)
    assert Period.THIRD_QUARTER.label == "3rd quarter"


@pytest.mark.parametrize(
    ("market", "slot", "label"),
    [
        (moneyline("g1"), HOME, "Celtics"),
        (moneyline("g1"), AWAY, "Lakers"),
        (moneyline("g1", three_way=True), HOME, "Celtics"),
        (moneyline("g1", three_way=True), AWAY, "Lakers"),
        (moneyline("g1", three_way=True), DRAW, "Draw"),
        (spread("g1", HOME, -3.5)[0], HOME, "Celtics -3.5"),
        (spread("g1", HOME, -3.5)[0], AWAY, "Lakers +3.5"),
        (spread("g1", AWAY, -6.5)[0], HOME, "Celtics +6.5"),
        (spread("g1", AWAY, -6.5)[0], AWAY, "Lakers -6.5"),
        (spread("g1", HOME, 0.0)[0], HOME, "Celtics 0"),
        (spread("g1", HOME, 0.0)[0], AWAY, "Lakers 0"),
        (total("g1", 224.5), OVER, "Over 224.5"),
        (total("g1", 224.5), UNDER, "Under 224.5"),
        (player_prop("g1", "LeBron James", "points", 27.5), OVER, "LeBron James Over 27.5 points"),
        (
            player_prop("g1", "LeBron James", "points", 27.5),
            UNDER,
            "LeBron James Under 27.5 points",
        ),
    ],
)
def test_outcome_label(market: MarketKey, slot: int, label: str) -> None:
    assert outcome_label(GAME, market, slot) == label


@pytest.mark.parametrize(
    ("market", "slot"),
    [
        (moneyline("g1"), DRAW),
        (moneyline("g1"), -1),
        (moneyline("g1", three_way=True), 3),
        (spread("g1", HOME, -3.5)[0], 2),
        (total("g1", 224.5), 2),
        (player_prop("g1", "LeBron James", "points", 27.5), -1),
    ],
)
def test_outcome_label_rejects_a_slot_not_in_the_market(market: MarketKey, slot: int) -> None:
    with pytest.raises(InvalidMarketError):
        outcome_label(GAME, market, slot)


# --- events ----------------------------------------------------------------------------


def test_event_name_is_away_at_home() -> None:
    assert GAME.name == "Lakers @ Celtics"


def test_unknown_event_stand_in() -> None:
    event = Event.unknown("g9")
    assert event.event_id == "g9"
    assert event.sport == ""
    assert (event.home, event.away) == ("Home", "Away")
    assert math.isnan(event.starts_at)
    assert event.name == "Away @ Home"
    assert outcome_label(event, spread("g9", HOME, -3.5)[0], AWAY) == "Away +3.5"


def test_event_is_immutable() -> None:
    with pytest.raises(AttributeError):
        GAME.home = "Knicks"  # type: ignore[misc]
