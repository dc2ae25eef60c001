"""Alert text, rendered from opportunities the engine itself found in small price matrices."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest

from arbwatch.core.devig import DevigMethod
from arbwatch.core.evaluate import (
    Arbitrage,
    ArbitrageSettings,
    EvSettings,
    PositiveEv,
    find_arbitrage,
    find_positive_ev,
)
from arbwatch.core.markets import AWAY, DRAW, HOME, Event, PriceUpdate, moneyline, spread
from arbwatch.core.matrix import PriceMatrix
from arbwatch.core.odds import OddsFormat
from arbwatch.notify.message import Message, render, render_gone, render_sample

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
START = dt.datetime(2025, 1, 14, 19, 30, tzinfo=NEW_YORK).timestamp()
NOW = START - (2 * 3600 + 13 * 60)
GAME = Event("g1", sport="NBA", home="Celtics", away="Lakers", starts_at=START)
MATCH = Event("s1", sport="EPL", home="Arsenal", away="Chelsea", starts_at=START)
ML = moneyline("g1")
ML3 = moneyline("s1", three_way=True)
EXACT = ArbitrageSettings()


def matrix(*updates: PriceUpdate, events: tuple[Event, ...] = (GAME, MATCH)) -> PriceMatrix:
    prices = PriceMatrix()
    for event in events:
        prices.set_event(event)
    assert prices.apply(updates) == 0
    return prices


def two_way_arb(
    settings: ArbitrageSettings = EXACT, *, events: tuple[Event, ...] = (GAME,)
) -> Arbitrage:
    """Celtics 2.10 at Pinnacle (4 s old), Lakers 2.05 at DraftKings (2 s old): 3.73%."""
    prices = matrix(
        PriceUpdate(ML, HOME, "Pinnacle", 2.10, NOW - 4.0),
        PriceUpdate(ML, AWAY, "DraftKings", 2.05, NOW - 2.0),
        events=events,
    )
    (arbitrage,) = find_arbitrage(prices.block(), NOW, settings)
    return arbitrage


def three_way_arb() -> Arbitrage:
    """Arsenal / Chelsea / draw across three books, Chelsea on an exchange taking 2%."""
    prices = matrix(
        PriceUpdate(ML3, HOME, "Bet365", 2.9, NOW - 10.0),
        PriceUpdate(ML3, AWAY, "Betfair", 3.6, NOW - 75.0),
        PriceUpdate(ML3, DRAW, "Pinnacle", 3.9, NOW - 3700.0),
    )
    settings = ArbitrageSettings(commissions={"Betfair": 0.02})
    (arbitrage,) = find_arbitrage(prices.block(), NOW, settings)
    return arbitrage


def positive_ev() -> PositiveEv:
    """Pinnacle 1.80 / 2.10 devigged; DraftKings' Lakers 2.30 is +EV."""
    prices = matrix(
        PriceUpdate(ML, HOME, "Pinnacle", 1.80, NOW - 5.0),
        PriceUpdate(ML, AWAY, "Pinnacle", 2.10, NOW - 5.0),
        PriceUpdate(ML, AWAY, "DraftKings", 2.30, NOW - 3.0),
    )
    settings = EvSettings(
        sharp_books=("Pinnacle",), devig=DevigMethod.WORST_CASE, stake_increment=1.0
    )
    (found,) = find_positive_ev(prices.block(), NOW, settings)
    return found


def show(
    opportunity: Arbitrage | PositiveEv,
    *,
    reason: str = "new",
    now: float = NOW,
    odds_format: OddsFormat = OddsFormat.AMERICAN,
    currency: str = "$",
    timezone: ZoneInfo = NEW_YORK,
) -> Message:
    return render(
        opportunity,
        reason=reason,
        rule="nba-arbs",
        key="key-1",
        now=now,
        odds_format=odds_format,
        currency=currency,
        timezone=timezone,
    )


# --- arbitrage -------------------------------------------------------------------------


def test_two_way_arbitrage_reads_like_the_phone_example() -> None:
    arbitrage = two_way_arb()
    message = show(arbitrage)
    assert message.title == "ARB +3.73% · NBA · Lakers @ Celtics · Moneyline"
    assert message.body.splitlines() == [
        "Celtics +110 @ Pinnacle · stake $493.98 · quote 4s old",
        "Lakers +105 @ DraftKings · stake $506.02 · quote 2s old",
        "Payout $1,037.35 on either side · profit $37.35 on $1,000 staked",
        "Tue 14 Jan 19:30 EST · starts in 2h 13m",
        "rule nba-arbs",
    ]
    assert (message.found_at, message.rule, message.key) == (NOW, "nba-arbs", "key-1")


def test_three_way_arbitrage_has_a_line_per_outcome_and_shows_commission() -> None:
    message = show(three_way_arb(), odds_format=OddsFormat.DECIMAL, currency="£")
    assert message.title == "ARB +13.24% · EPL · Chelsea @ Arsenal · Moneyline (3-way)"
    assert message.body.splitlines()[:4] == [
        "Arsenal 2.90 @ Bet365 · stake £390.48 · quote 10s old",
        "Chelsea 3.60 @ Betfair · stake £319.16 · quote 1m 15s old, after 2% commission",
        "Draw 3.90 @ Pinnacle · stake £290.36 · quote 1h 1m old",
        "Payout £1,132.39 on any outcome · profit £132.39 on £1,000 staked",
    ]


def test_profit_shown_is_the_one_locked_in_after_rounding_the_stakes() -> None:
    arbitrage = two_way_arb(ArbitrageSettings(stake_increment=5.0))
    assert arbitrage.plan.stakes == (495.0, 505.0)
    lines = show(arbitrage).body.splitlines()
    assert "stake $495 · " in lines[0]
    assert "stake $505 · " in lines[1]
    # 505 x 2.05 = 1,035.25 is the worst outcome; the unrounded plan would say $37.35.
    assert lines[2] == "Payout at least $1,035.25 · profit $35.25 on $1,000 staked"
    # The title keeps the market's profit before rounding.
    assert show(arbitrage).title.startswith("ARB +3.73% ·")


@pytest.mark.parametrize(
    ("odds_format", "celtics", "lakers"),
    [
        (OddsFormat.AMERICAN, "+110", "+105"),
        (OddsFormat.DECIMAL, "2.10", "2.05"),
        (OddsFormat.FRACTIONAL, "11/10", "21/20"),
    ],
)
def test_prices_in_every_odds_format(odds_format: OddsFormat, celtics: str, lakers: str) -> None:
    first, second = show(two_way_arb(), odds_format=odds_format).body.splitlines()[:2]
    assert first.startswith(f"Celtics {celtics} @ Pinnacle · ")
    assert second.startswith(f"Lakers {lakers} @ DraftKings · ")


@pytest.mark.parametrize("currency", ["$", "£", "€", "CHF "])
def test_amounts_carry_the_currency(currency: str) -> None:
    body = show(two_way_arb(), currency=currency).body
    assert f"stake {currency}493.98" in body
    assert f"Payout {currency}1,037.35 on either side · profit {currency}37.35" in body


def test_start_time_in_the_bettors_time_zone() -> None:
    lines = show(two_way_arb(), timezone=LONDON).body.splitlines()
    assert lines[3] == "Wed 15 Jan 00:30 GMT · starts in 2h 13m"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (START - 45.0, "Tue 14 Jan 19:30 EST · starts in 45s"),
        (START - 3 * 86400 - 7200, "Tue 14 Jan 19:30 EST · starts in 3d 2h"),
        (START + 20.0, "Tue 14 Jan 19:30 EST · live, just started"),
        (START + 12 * 60, "Tue 14 Jan 19:30 EST · live, started 12m ago"),
    ],
)
def test_start_relative_to_now(now: float, expected: str) -> None:
    assert show(two_way_arb(), now=now).body.splitlines()[3] == expected


def test_unknown_start_and_sport() -> None:
    # Prices for a game whose details never arrived: no sport, stand-in names, NaN start.
    arbitrage = two_way_arb(events=())
    assert math.isnan(arbitrage.event.starts_at)
    message = show(arbitrage)
    assert message.title == "ARB +3.73% · Away @ Home · Moneyline"
    assert "Start time unknown" in message.body.splitlines()


def test_quote_ages_are_measured_from_now() -> None:
    later = show(two_way_arb(), now=NOW + 3600.0).body.splitlines()
    assert later[0].endswith("· quote 1h old")
    assert later[1].endswith("· quote 1h old")
    # A quote stamped a moment ahead of our clock is not "-1s old".
    earlier = show(two_way_arb(), now=NOW - 3.0).body.splitlines()
    assert earlier[1].endswith("· quote 0s old")


def test_spread_market_labels() -> None:
    market, slot = spread("g1", HOME, -3.5)
    prices = matrix(
        PriceUpdate(market, slot, "Pinnacle", 2.10, NOW),
        PriceUpdate(market, AWAY, "DraftKings", 2.05, NOW),
    )
    (arbitrage,) = find_arbitrage(prices.block(), NOW, ArbitrageSettings())
    message = show(arbitrage)
    assert message.title == "ARB +3.73% · NBA · Lakers @ Celtics · Spread -3.5"
    assert message.body.startswith("Celtics -3.5 +110 @ Pinnacle · ")
    assert "\nLakers +3.5 +105 @ DraftKings · " in message.body


@pytest.mark.parametrize(
    ("reason", "title"),
    [
        ("new", "ARB +3.73% · NBA"),
        ("improved", "ARB +3.73% ▲ · NBA"),
        ("repeat", "ARB +3.73% again · NBA"),
    ],
)
def test_reason_marks_the_title(reason: str, title: str) -> None:
    assert show(two_way_arb(), reason=reason).title.startswith(title)


def test_unknown_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="new, improved or repeat"):
        show(two_way_arb(), reason="gone")


# --- positive EV -----------------------------------------------------------------------


def test_positive_ev_shows_fair_price_devig_and_kelly() -> None:
    found = positive_ev()
    message = show(found)
    assert message.title == "EV +5.74% · NBA · Lakers @ Celtics · Moneyline"
    assert message.body.splitlines() == [
        "Lakers +130 @ DraftKings · stake $11 · quote 3s old",
        "Fair odds +118 (46.0% to win)",
        "Devig worst case from Pinnacle · full Kelly 4.4% of bankroll",
        "Tue 14 Jan 19:30 EST · starts in 2h 13m",
        "rule nba-arbs",
    ]


def test_positive_ev_fair_odds_in_the_bettors_format() -> None:
    body = show(positive_ev(), odds_format=OddsFormat.DECIMAL).body
    assert "Fair odds 2.175 (46.0% to win)" in body


# --- gone ------------------------------------------------------------------------------


def test_gone_with_the_last_opportunity_seen() -> None:
    message = render_gone(
        two_way_arb(),
        summary="unused",
        rule="nba-arbs",
        key="key-1",
        first_seen=NOW - 252.0,
        now=NOW,
        best_value=0.0231,
        kind="arbitrage",
    )
    assert message.title == "GONE · ARB +2.31% · NBA · Lakers @ Celtics · Moneyline"
    assert message.body.splitlines() == [
        "Lasted 4m 12s · best +2.31%",
        "Was: Celtics @ Pinnacle, Lakers @ DraftKings",
        "rule nba-arbs",
    ]
    assert (message.found_at, message.key) == (NOW, "key-1")


def test_gone_from_the_stored_summary_alone() -> None:
    message = render_gone(
        None,
        summary="NBA · Lakers @ Celtics · Moneyline",
        rule="pinnacle-ev",
        key="key-2",
        first_seen=NOW - 2 * 3600,
        now=NOW,
        best_value=0.041,
        kind="positive_ev",
    )
    assert message.title == "GONE · EV +4.10% · NBA · Lakers @ Celtics · Moneyline"
    assert message.body == "Lasted 2h · best +4.10%\nrule pinnacle-ev"


# --- sample ----------------------------------------------------------------------------


def test_sample_is_a_real_arbitrage_marked_as_a_test() -> None:
    sample = render_sample(NOW, OddsFormat.AMERICAN, "$", NEW_YORK)
    assert sample.title == "TEST · ARB +3.73% · NBA · Lakers @ Celtics · Moneyline"
    lines = sample.body.splitlines()
    assert lines[0] == "Celtics +110 @ Pinnacle · stake $494 · quote 4s old"
    assert lines[1] == "Lakers +105 @ DraftKings · stake $506 · quote 2s old"
    assert lines[3] == "Tue 14 Jan 19:30 EST · starts in 2h 13m"
    assert sample.found_at == NOW


def test_sample_follows_format_currency_and_zone() -> None:
    sample = render_sample(NOW, OddsFormat.FRACTIONAL, "€", LONDON)
    assert "11/10 @ Pinnacle" in sample.body
    assert "stake €494" in sample.body
    assert "Wed 15 Jan 00:30 GMT" in sample.body


# --- one book, the Kelly fraction, the event's link ---------------------------------------


def one_book_prices() -> PriceMatrix:
    """FanDuel's own two sides, 2.10 and 2.05 (3.73%), beside DraftKings' 1.90 / 1.90."""
    return matrix(
        PriceUpdate(ML, HOME, "FanDuel", 2.10, NOW - 1.0),
        PriceUpdate(ML, AWAY, "FanDuel", 2.05, NOW - 1.0),
        PriceUpdate(ML, HOME, "DraftKings", 1.90, NOW - 1.0),
        PriceUpdate(ML, AWAY, "DraftKings", 1.90, NOW - 1.0),
    )


def test_one_book_arbitrage_is_left_out_with_min_books_2() -> None:
    assert find_arbitrage(one_book_prices().block(), NOW, ArbitrageSettings(min_books=2)) == []


def test_one_book_arbitrage_allowed_by_min_books_1_is_flagged() -> None:
    (arbitrage,) = find_arbitrage(one_book_prices().block(), NOW, ArbitrageSettings(min_books=1))
    assert arbitrage.one_book
    assert round(arbitrage.profit, 4) == 0.0373
    message = show(arbitrage)
    assert message.title == "ARB +3.73% one book · NBA · Lakers @ Celtics · Moneyline"
    assert "One book (FanDuel): likely a stale side, which the book may refuse or void" in (
        message.body.splitlines()
    )


def test_two_books_pass_min_books_2_and_are_not_flagged() -> None:
    prices = matrix(
        PriceUpdate(ML, HOME, "FanDuel", 2.10, NOW - 1.0),
        PriceUpdate(ML, AWAY, "DraftKings", 2.05, NOW - 1.0),
    )
    (arbitrage,) = find_arbitrage(prices.block(), NOW, ArbitrageSettings(min_books=2))
    assert not arbitrage.one_book
    assert "one book" not in show(arbitrage).title


def test_positive_ev_names_the_kelly_fraction_that_made_the_stake() -> None:
    message = render(
        positive_ev(),
        reason="new",
        rule="pinnacle-ev",
        key="k",
        now=NOW,
        odds_format=OddsFormat.AMERICAN,
        currency="$",
        timezone=NEW_YORK,
        kelly_fraction=0.25,
    )
    assert message.body.splitlines()[2] == (
        "Devig worst case from Pinnacle · stake $11 = quarter Kelly of 4.4% of bankroll"
    )


def test_the_event_page_is_linked_when_the_provider_gave_one() -> None:
    linked = Event(
        "g1",
        sport="NBA",
        home="Celtics",
        away="Lakers",
        starts_at=START,
        url="https://example.com/game?id=1&b=2",
    )
    message = show(two_way_arb(events=(linked,)))
    assert "Event page: https://example.com/game?id=1&b=2" in message.body.splitlines()
    assert '<a href="https://example.com/game?id=1&amp;b=2">Event page</a>' in message.html
    assert "[Event page](<https://example.com/game?id=1&b=2>)" in message.markdown
