"""One game from two providers is one engine event; different games never pair."""

import dataclasses
import math

import pytest

from arbwatch.core.markets import AWAY, DRAW, HOME, OVER, MarketKind, Period, moneyline, spread
from arbwatch.errors import InvalidMarketError
from arbwatch.feeds.identity import EventIdentity, normalize_team, to_update
from arbwatch.feeds.model import ParsedQuote, ProviderEvent

START = 1_800_000_000.0


def game(
    provider: str, game_id: str, home: str, away: str, starts_at: float = START, sport: str = "NBA"
) -> ProviderEvent:
    return ProviderEvent(provider, game_id, sport, home, away, starts_at)


def quote(kind: MarketKind, side: int, line: float = 0.0, book: str = "DraftKings") -> ParsedQuote:
    return ParsedQuote("g", kind, Period.FULL_GAME, side, line, book, 2.05, START - 60.0)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Los Angeles Lakers", "los angeles lakers"),
        ("  LOS ANGELES  lakers ", "los angeles lakers"),
        ("Brighton & Hove Albion F.C.", "brighton and hove albion"),
        ("Atlético Madrid", "atletico madrid"),
        ("Paris Saint-Germain FC", "paris saint germain"),
        ("A.C. Milan", "ac milan"),
        ("St. Louis Blues", "st louis blues"),
    ],
)
def test_team_names_are_normalized(name: str, key: str) -> None:
    assert normalize_team(name) == key


def test_the_same_game_from_two_providers_is_one_event() -> None:
    identity = EventIdentity()
    first = identity.resolve(game("rundown", "abc", "Boston Celtics", "Los Angeles Lakers"))
    # RapidOddsAPI's books disagree on the start by a few minutes, and it writes names its way.
    second = identity.resolve(
        game("rapid", "NBA|x", "BOSTON CELTICS", "Los Angeles Lakers", START + 600.0, "nba")
    )
    assert second.event is first.event
    assert not second.swapped
    assert first.event.sport == "NBA"
    assert first.event.home == "Boston Celtics"


def test_an_alias_joins_names_that_differ() -> None:
    plain = EventIdentity()
    one = plain.resolve(game("rundown", "abc", "Los Angeles Lakers", "Boston Celtics"))
    other = plain.resolve(game("rapid", "x", "LA Lakers", "Boston Celtics"))
    assert one.event != other.event  # never guessed at

    aliased = EventIdentity(aliases={"LA Lakers": "Los Angeles Lakers"})
    one = aliased.resolve(game("rundown", "abc", "Los Angeles Lakers", "Boston Celtics"))
    other = aliased.resolve(game("rapid", "x", "LA Lakers", "Boston Celtics"))
    assert one.event is other.event


def test_different_games_never_pair() -> None:
    identity = EventIdentity()
    base = identity.resolve(game("rundown", "a", "Boston Celtics", "Los Angeles Lakers")).event
    other_team = identity.resolve(game("rapid", "b", "Boston Celtics", "Miami Heat")).event
    other_sport = identity.resolve(
        game("rapid", "c", "Boston Celtics", "Los Angeles Lakers", sport="WNBA")
    ).event
    next_week = identity.resolve(
        game("rapid", "d", "Boston Celtics", "Los Angeles Lakers", START + 7 * 86400.0)
    ).event
    assert len({base.event_id, other_team.event_id, other_sport.event_id, next_week.event_id}) == 4


def test_the_window_is_narrower_for_mlb_doubleheaders() -> None:
    identity = EventIdentity()
    early = identity.resolve(
        game("rundown", "g1", "New York Yankees", "Boston Red Sox", sport="MLB")
    )
    late_start = START + 5 * 3600.0
    late = identity.resolve(
        game("rundown", "g2", "New York Yankees", "Boston Red Sox", late_start, "MLB")
    )
    assert late.event != early.event
    # The other provider's times are a little off; each game finds its own twin.
    rapid_late = identity.resolve(
        game("rapid", "r2", "New York Yankees", "Boston Red Sox", late_start + 300.0, "MLB")
    )
    rapid_early = identity.resolve(
        game("rapid", "r1", "New York Yankees", "Boston Red Sox", START - 300.0, "MLB")
    )
    assert rapid_late.event is late.event
    assert rapid_early.event is early.event


def test_two_games_of_one_provider_are_two_events() -> None:
    identity = EventIdentity()
    first = identity.resolve(game("rundown", "g1", "Arsenal", "Chelsea", sport="EPL"))
    second = identity.resolve(game("rundown", "g2", "Arsenal", "Chelsea", START + 3600.0, "EPL"))
    assert first.event != second.event


def test_a_provider_event_resolves_the_same_way_every_time() -> None:
    identity = EventIdentity()
    first = identity.resolve(game("rundown", "abc", "Boston Celtics", "Los Angeles Lakers"))
    # Even if its start time moves later (a postponed game), the mapping stands.
    again = identity.resolve(
        game("rundown", "abc", "Boston Celtics", "Los Angeles Lakers", START + 86400.0)
    )
    assert again == first
    assert identity.lookup("rundown", "abc") == first
    assert identity.lookup("rundown", "unknown") is None


def test_flipped_home_and_away_flips_the_sides() -> None:
    identity = EventIdentity()
    identity.resolve(game("rundown", "abc", "Boston Celtics", "Los Angeles Lakers"))
    flipped = identity.resolve(game("rapid", "x", "Los Angeles Lakers", "Boston Celtics"))
    assert flipped.swapped
    event_id = flipped.event.event_id

    # The provider's "home" (the Lakers) is the engine's away side.
    update = to_update(quote(MarketKind.MONEYLINE, HOME), flipped)
    assert update.market == moneyline(event_id)
    assert update.outcome == AWAY

    # The Lakers +3.5 (the provider's home side) is the engine's away +3.5: the market keyed
    # by the engine's home line, Celtics -3.5.
    update = to_update(quote(MarketKind.SPREAD, HOME, 3.5), flipped)
    assert (update.market, update.outcome) == spread(event_id, AWAY, 3.5)
    assert update.market.line == -3.5

    # A draw and a total do not care who is at home.
    assert to_update(quote(MarketKind.MONEYLINE_3WAY, DRAW), flipped).outcome == DRAW
    over = to_update(quote(MarketKind.TOTAL, OVER, 224.5), flipped)
    assert (over.outcome, over.market.line) == (OVER, 224.5)


def test_updates_keep_book_price_and_time() -> None:
    identity = EventIdentity()
    resolved = identity.resolve(game("rundown", "abc", "Boston Celtics", "Los Angeles Lakers"))
    withdrawn = ParsedQuote(
        "abc",
        MarketKind.PLAYER_PROP,
        Period.FIRST_HALF,
        OVER,
        12.5,
        "Pinnacle",
        math.nan,
        START,
        player="J. Tatum",
        stat="points",
    )
    update = to_update(withdrawn, resolved)
    assert update.book == "Pinnacle"
    assert math.isnan(update.price)
    assert update.quoted_at == START
    assert update.market.player == "J. Tatum"
    assert update.market.period is Period.FIRST_HALF


def test_a_spread_quote_for_a_draw_is_refused() -> None:
    identity = EventIdentity()
    resolved = identity.resolve(game("rundown", "abc", "Arsenal", "Chelsea", sport="EPL"))
    with pytest.raises(InvalidMarketError):
        to_update(quote(MarketKind.SPREAD, DRAW, 0.5), resolved)


def test_past_games_are_forgotten_with_every_mapping_onto_them() -> None:
    identity = EventIdentity()
    old = identity.resolve(game("rundown", "old", "Boston Celtics", "Los Angeles Lakers"))
    identity.resolve(game("rapid", "old-r", "Boston Celtics", "Los Angeles Lakers"))
    week = 7 * 86_400.0
    upcoming = identity.resolve(
        game("rundown", "new", "Boston Celtics", "Los Angeles Lakers", START + week)
    )
    assert identity.forget_started_before(START + 1.0) == 1
    assert identity.lookup("rundown", "old") is None
    assert identity.lookup("rapid", "old-r") is None
    assert identity.lookup("rundown", "new") == upcoming
    # The rematch still joins across providers; the old game, if seen again, is made anew
    # with the same readable id.
    rapid = identity.resolve(
        game("rapid", "new-r", "Boston Celtics", "Los Angeles Lakers", START + week)
    )
    assert rapid.event is upcoming.event
    again = identity.resolve(game("rundown", "old", "Boston Celtics", "Los Angeles Lakers"))
    assert again.event == old.event
    assert identity.forget_started_before(START + 1.0) == 1
    assert identity.forget_started_before(START + 1.0) == 0


def test_the_providers_event_page_reaches_the_event() -> None:
    identity = EventIdentity()
    linked = dataclasses.replace(
        game("rapidoddsapi", "g1", "Celtics", "Lakers"), url="https://example.com/nba/g1"
    )
    assert identity.resolve(linked).event.url == "https://example.com/nba/g1"
    assert identity.resolve(game("therundown", "g2", "Heat", "Knicks")).event.url == ""
