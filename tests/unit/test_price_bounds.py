"""Prices are bounded where they enter: every session withdraws a price above ``max_price``.

Each provider path in turn (RapidOddsAPI pushes and REST snapshots; TheRundown V2 REST
pages, market-delta pages and socket frames; V1 line frames) is given a sane price and
then an absurd one for the same cell: the absurd one must come out as a withdrawal (NaN),
counted, so that the sane price does not stay on the board as if still offered.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbwatch.core.markets import MarketKind, Period, PriceUpdate
from arbwatch.feeds.base import FeedBatch
from arbwatch.feeds.model import DEFAULT_MAX_PRICE, ParsedQuote, PriceBounds
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings, RapidOddsSettingsError
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.feeds.therundown.v1 import RundownV1Session, RundownV1Settings
from tests.unit.test_rapidodds_session import body, game, new_session, push
from tests.unit.test_rundown_session import (
    T,
    bootstrapped,
    dec,
    delta_body,
    delta_entry,
    page,
    v1_frame,
    ws_frame,
)

#: The issue's price, and the smallest past the American conversion's range.
ABSURD = (1e308, 1.8e306, 1000.5)


def updates(batch: FeedBatch | None) -> tuple[PriceUpdate, ...]:
    assert batch is not None
    return batch.updates


def quote(price: float) -> ParsedQuote:
    return ParsedQuote("e1", MarketKind.MONEYLINE, Period.FULL_GAME, 0, 0.0, "Book", price, 1.0)


# --- the bound itself ----------------------------------------------------------------------


@given(st.floats())
def test_a_price_above_the_bound_is_withdrawn_and_counted_and_others_pass(price: float) -> None:
    bounds = PriceBounds()
    (out,) = bounds.apply([quote(price)])
    if price > DEFAULT_MAX_PRICE:
        assert math.isnan(out.price)
        assert bounds.refused == 1
    else:
        assert out == quote(price) or (math.isnan(price) and math.isnan(out.price))
        assert bounds.refused == 0


def test_the_bound_is_inclusive_and_counts_for_life() -> None:
    bounds = PriceBounds(50.0)
    kept = bounds.apply([quote(50.0), quote(1.01), quote(50.01), quote(math.nan)])
    assert [q.price for q in kept[:2]] == [50.0, 1.01]
    assert math.isnan(kept[2].price)
    bounds.apply([quote(1e308)])
    assert bounds.refused == 2


@pytest.mark.parametrize("bad", [1.0, 0.5, math.inf, math.nan, -3.0])
def test_a_bound_that_admits_no_price_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="max_price"):
        PriceBounds(bad)
    with pytest.raises(RapidOddsSettingsError, match="max_price"):
        RapidOddsSettings(
            name="r",
            api_key="oa_key",
            sports=("NBA",),
            bookmakers=("Pinnacle",),
            market_types=("head_to_head",),
            max_price=bad,
        )
    with pytest.raises(ValueError, match="max_price"):
        RundownSettings(name="r", api_key="k", sport_ids=(4,), max_price=bad)


def test_settings_default_to_a_thousand() -> None:
    assert RundownV1Settings(name="v1", api_key="k", sport_ids=(4,)).max_price == 1000.0


# --- RapidOddsAPI --------------------------------------------------------------------------


@pytest.mark.parametrize("absurd", ABSURD)
def test_a_rapidodds_push_withdraws_an_absurd_price(absurd: float) -> None:
    session = new_session()
    first = updates(session.handle_message(push([game({"Pinnacle": (2.1, 1.8)})]), 1.0).batch)
    assert sorted(u.price for u in first) == [1.8, 2.1]
    second = session.handle_message(push([game({"Pinnacle": (absurd, 1.8)})]), 2.0)
    (withdrawal,) = updates(second.batch)
    assert math.isnan(withdrawal.price)
    assert session.bounds.refused == 1
    # The garbage the parser drops (text, a bool, NaN) is not counted as out of range.
    text_price: Any = "2.1"
    third = session.handle_message(push([game({"Pinnacle": (text_price, 1.8)})]), 3.0)
    assert session.bounds.refused == 1
    assert third.skipped == 1


def test_a_rapidodds_rest_snapshot_is_bounded_too() -> None:
    session = new_session(max_price=10.0)
    snapshot = json.dumps(body([game({"Pinnacle": (12.0, 1.05)})]))
    result = session.handle_snapshot(snapshot, "NBA", 1.0)
    assert sorted(u.price for u in updates(result.batch) if not math.isnan(u.price)) == [1.05]
    assert session.bounds.refused == 1


# --- TheRundown V2 -------------------------------------------------------------------------


def test_a_rundown_socket_price_past_the_bound_withdraws_the_cell() -> None:
    session, _ = bootstrapped()
    sane = updates(session.handle_ws(ws_frame(price="+160"), T + 1).batch)
    assert [u.price for u in sane] == [dec(160)]
    # +1e310 is past float's range (skipped by the parser); +1e308 converts to 1e306.
    absurd = updates(session.handle_ws(ws_frame(price="+1e308"), T + 2).batch)
    assert [(u.market, u.outcome, u.book) for u in absurd] == [
        (u.market, u.outcome, u.book) for u in sane
    ]
    assert math.isnan(absurd[0].price)
    assert session.bounds.refused == 1


@pytest.mark.parametrize("nonsense", ["+50", "-99.99", "abc", "1e400"])
def test_a_rundown_socket_price_that_is_no_price_withdraws_the_cell(nonsense: str) -> None:
    # Not a price at all: the book's last price no longer stands either.
    session, _ = bootstrapped()
    (sane,) = updates(session.handle_ws(ws_frame(price="+160"), T + 1).batch)
    (withdrawal,) = updates(session.handle_ws(ws_frame(price=nonsense), T + 2).batch)
    assert (withdrawal.market, withdrawal.outcome, withdrawal.book) == (
        sane.market,
        sane.outcome,
        sane.book,
    )
    assert math.isnan(withdrawal.price)
    assert session.bounds.refused == 1


def test_a_rundown_delta_price_that_is_no_price_withdraws_the_cell() -> None:
    session, _ = bootstrapped()
    refused_at_start = session.bounds.refused
    delta = session.handle_delta(
        delta_body(delta_entry(price="+50"), cursor="9", has_more=False), T + 6
    )
    (withdrawal,) = updates(delta.batch)
    assert math.isnan(withdrawal.price)
    assert session.bounds.refused == refused_at_start + 1


def test_rundown_rest_and_delta_pages_are_bounded() -> None:
    session, _ = bootstrapped()
    refused_at_start = session.bounds.refused
    body: dict[str, Any] = page()
    line = body["events"][0]["markets"][0]["participants"][0]["lines"][0]
    for price in line["prices"].values():
        price["price"] = "+99999999"  # decimal 1,000,000.99
    snapshot = session.handle_events(body, T + 5, page=(4, "2026-01-15"))
    assert sum(math.isnan(u.price) for u in updates(snapshot.batch)) == len(line["prices"])
    assert session.bounds.refused == refused_at_start + len(line["prices"])
    delta = session.handle_delta(
        delta_body(delta_entry(price="+500000"), cursor="9", has_more=False), T + 6
    )
    (withdrawal,) = updates(delta.batch)
    assert math.isnan(withdrawal.price)
    assert session.bounds.refused == refused_at_start + len(line["prices"]) + 1


# --- TheRundown V1 -------------------------------------------------------------------------


def test_a_v1_line_with_an_absurd_price_withdraws_that_side() -> None:
    session, _ = bootstrapped(RundownV1Session)
    result = session.handle_ws(
        v1_frame(
            "spread",
            point_spread_home=-4.5,
            point_spread_home_money=1e308,
            point_spread_away=4.5,
            point_spread_away_money=-105,
        ),
        T + 1,
    )
    prices = sorted((u.price for u in updates(result.batch)), key=math.isnan)
    assert prices[0] == dec(-105)
    assert math.isnan(prices[1])
    assert session.bounds.refused == 1
