"""Names checked against the providers' catalogs: books, sports and market keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbwatch.config import parse_config
from arbwatch.config.model import Config
from arbwatch.config.names import look_up
from arbwatch.core.books import book_id
from arbwatch.core.markets import normalize_sport
from arbwatch.errors import ConfigError
from arbwatch.feeds import catalog

RAPID = """\
feeds:
  - name: rapid
    provider: rapidoddsapi
    api_key: oa_test
    sports: {sports}
    bookmakers: {books}
    market_types: {markets}
"""
RUNDOWN = """\
  - name: rundown
    provider: therundown
    api_key: rundown-key
    sport_ids: {sport_ids}
    affiliate_ids: {affiliates}
"""
CHANNELS = "channels:\n  phone: console://\n"


def config_text(
    *rule_lines: str,
    sports: str = "[NBA]",
    books: str = "[Pinnacle, DraftKings]",
    markets: str = "[head_to_head]",
    rundown: dict[str, str] | None = None,
    top: str = "",
) -> str:
    """A RapidOddsAPI feed (lines 1-7), an optional TheRundown feed (5 lines), channels and
    one positive_ev rule whose extra lines come last."""
    text = top + RAPID.format(sports=sports, books=books, markets=markets)
    if rundown is not None:
        text += RUNDOWN.format(**{"sport_ids": "[4]", "affiliates": "[]", **rundown})
    text += CHANNELS + "rules:\n  - name: ev\n    kind: positive_ev\n    notify: [phone]\n"
    return text + "".join(f"    {line}\n" for line in rule_lines)


def load(text: str) -> Config:
    return parse_config(text, source=Path("config.yaml"), env={})


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(text)
    return caught.value.problems


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


# --- the misspellings ------------------------------------------------------------


def test_a_misspelled_sharp_book_is_an_error_that_says_what_was_meant() -> None:
    text = config_text("sharp: [Pinacle]")
    assert errors(text) == [
        f"config.yaml:{line_of(text, 'Pinacle')}: rules[0].sharp[0]: 'Pinacle' is not one of "
        "RapidOddsAPI's books, did you mean 'Pinnacle'?"
    ]


def test_books_in_lower_case_are_taken_in_the_providers_spelling() -> None:
    text = config_text("sharp: [pinnacle]", "books: [pinnacle, draftkings]")
    config = load(text)
    (rule,) = config.rules
    assert rule.sharp == ("Pinnacle",)
    assert rule.books == frozenset({"Pinnacle", "DraftKings"})
    line = line_of(text, "books: [pinnacle")
    assert f"config.yaml:{line}: rules[0].books[1]: 'draftkings' is 'DraftKings'" in (
        config.names.spellings
    )
    assert config.names.warnings == ()


def test_a_misspelled_rule_sport_is_an_error() -> None:
    text = config_text("sharp: [Pinnacle]", "sports: [NBAA]")
    assert errors(text) == [
        f"config.yaml:{line_of(text, 'NBAA')}: rules[0].sports[0]: 'NBAA' is not one of "
        "RapidOddsAPI's sports, did you mean 'NBA'?"
    ]


def test_moneyline_on_a_rapidodds_feed_names_its_key() -> None:
    text = config_text("sharp: [Pinnacle]", markets="[moneyline]")
    assert errors(text) == [
        "config.yaml:7: feeds[0].market_types[0]: RapidOddsAPI has no market 'moneyline': "
        "its key for it is 'head_to_head' (did you mean it?)"
    ]


def test_a_feeds_bookmakers_are_sent_in_rapidodds_spelling() -> None:
    config = load(config_text("sharp: [Pinnacle]", books="[pinnacle, draftkings, THESCORE BET]"))
    (feed,) = config.feeds
    assert feed.bookmakers == ("Pinnacle", "DraftKings", "theScoreBet")  # type: ignore[union-attr]
    assert "config.yaml:6: feeds[0].bookmakers[1]: 'draftkings' is sent as 'DraftKings' " in (
        "\n".join(config.names.spellings) + " "
    )


def test_a_feeds_sports_and_market_keys_are_sent_as_rapidodds_spells_them() -> None:
    config = load(config_text("sharp: [Pinnacle]", sports="[nba, epl]", markets="[Head_To_Head]"))
    (feed,) = config.feeds
    assert feed.sports == ("NBA", "EPL")  # type: ignore[union-attr]
    assert feed.market_types == ("head_to_head",)  # type: ignore[union-attr]


# --- errors and warnings -----------------------------------------------------------------


def test_a_name_nothing_resembles_is_a_warning_that_says_how_to_settle_it() -> None:
    text = config_text("sharp: [Pinnacle]", "books: [Smarkets]")
    config = load(text)
    assert config.names.warnings == (
        f"config.yaml:{line_of(text, 'Smarkets')}: rules[0].books[0]: 'Smarkets' is not one of "
        "RapidOddsAPI's books, nor close to one: the rule uses it only if a feed delivers "
        "prices under that name (RapidOddsAPI publishes no list of bookmakers to ask)",
    )
    (rule,) = config.rules
    assert rule.books == frozenset({"Smarkets"})


def test_unknown_feed_names_are_warnings_and_near_misses_errors() -> None:
    text = config_text(
        "sharp: [Pinnacle]",
        sports="[NBA, KHL, NFLL]",
        books="[Pinnacle, Betfair, Draftkngs]",
        markets="[head_to_head, corners_race, head_to_hed]",
    )
    with pytest.raises(ConfigError) as caught:
        load(text)
    assert caught.value.problems == [
        "config.yaml:5: feeds[0].sports[2]: 'NFLL' is not one of RapidOddsAPI's sports, "
        "did you mean 'NFL'?",
        "config.yaml:6: feeds[0].bookmakers[2]: 'Draftkngs' is not one of RapidOddsAPI's "
        "bookmaker feeds, did you mean 'DraftKings'?",
        "config.yaml:7: feeds[0].market_types[2]: 'head_to_hed' is not one of RapidOddsAPI's "
        "market keys, did you mean 'head_to_head'?",
    ]
    warned = load(
        config_text(
            "sharp: [Pinnacle]",
            sports="[NBA, KHL]",
            books="[Pinnacle, Betfair]",
            markets="[head_to_head, corners_race, player_points_milestones]",
        )
    ).names.warnings
    assert [warning.split(": ")[1] for warning in warned] == [
        "feeds[0].sports[1]",
        "feeds[0].bookmakers[1]",
        "feeds[0].market_types[1]",
    ]
    assert "RapidOddsAPI refuses a sport it does not know" in warned[0]
    assert "check-config --online asks RapidOddsAPI" in warned[0]


def test_a_brand_is_an_error_naming_the_feed_that_carries_it() -> None:
    assert errors(config_text("sharp: [Pinnacle]", books="[Pinnacle, neds]")) == [
        "config.yaml:6: feeds[0].bookmakers[1]: 'neds' is a brand, and RapidOddsAPI returns "
        "nothing for a brand: ask for 'Ladbrokes', the feed that carries it"
    ]


def test_a_sport_rapidodds_does_not_scrape_yet_is_a_warning() -> None:
    (warning,) = load(config_text("sharp: [Pinnacle]", sports="[NBA, la_liga]")).names.warnings
    assert warning == (
        "config.yaml:5: feeds[0].sports[1]: RapidOddsAPI accepts 'LA_LIGA' but does not "
        "scrape it yet: it returns no games"
    )


def test_books_no_feed_asks_for_are_a_warning() -> None:
    text = config_text("sharp: [pinnacle]", "books: [Fanatics]", books="[DraftKings]")
    config = load(text)
    assert config.names.warnings == (
        f"config.yaml:{line_of(text, 'sharp:')}: rules[0].sharp[0]: no feed asks for "
        "'Pinnacle', so the rule never has a fair price from it: add it to a feed's "
        "bookmakers (RapidOddsAPI) or affiliate_ids (TheRundown)",
        f"config.yaml:{line_of(text, 'Fanatics')}: rules[0].books[0]: no feed asks for "
        "'Fanatics', so the rule never bets there: add it to a feed's bookmakers "
        "(RapidOddsAPI) or affiliate_ids (TheRundown)",
    )


def test_an_excluded_book_no_feed_asks_for_needs_no_warning_but_must_be_spelled_right() -> None:
    excluded = config_text("sharp: [Pinnacle]", "books: {exclude: [Fanatics]}", books="[Pinnacle]")
    assert load(excluded).names.warnings == ()
    text = config_text("sharp: [Pinnacle]", "books: {exclude: [DraftKngs]}")
    assert errors(text) == [
        f"config.yaml:{line_of(text, 'DraftKngs')}: rules[0].books.exclude[0]: 'DraftKngs' is "
        "not one of RapidOddsAPI's books, did you mean 'DraftKings'?"
    ]


def test_a_rundown_feed_without_affiliate_ids_asks_for_every_book() -> None:
    text = config_text("sharp: [Pinnacle]", "books: [FanDuel]", books="[DraftKings]", rundown={})
    assert load(text).names.warnings == ()


def test_sports_no_feed_watches_are_a_warning() -> None:
    text = config_text("sharp: [Pinnacle]", "sports: [nfl]", rundown={"sport_ids": "[4, 11]"})
    (warning,) = load(text).names.warnings
    assert warning == (
        f"config.yaml:{line_of(text, 'sports: [nfl]')}: rules[0].sports[0]: no feed watches "
        "'NFL', so the rule never fires for it: add it to a feed's sports or sport_ids"
    )
    # TheRundown's sport 2 is the NFL.
    watched = config_text("sports: [nfl]", "sharp: [Pinnacle]", rundown={"sport_ids": "[2]"})
    assert load(watched).names.warnings == ()


def test_rundown_ids_are_checked() -> None:
    text = config_text(
        "sharp: [Pinnacle]", rundown={"sport_ids": "[4, 99]", "affiliates": "[3, 27]"}
    )
    assert errors(text) == [
        "config.yaml:12: feeds[1].affiliate_ids[1]: affiliate 27 (BetRivers) is retired: "
        "TheRundown's feed drops its prices, so it would never be bet"
    ]
    text = config_text(
        "sharp: [Pinnacle]", rundown={"sport_ids": "[4, 99]", "affiliates": "[3, 1, 77]"}
    )
    assert [warning.split(": ", 2)[1:] for warning in load(text).names.warnings] == [
        [
            "feeds[1].sport_ids[1]",
            "sport 99 is not in TheRundown's documented sports "
            "(check-config --online asks TheRundown)",
        ],
        [
            "feeds[1].affiliate_ids[1]",
            "affiliate 1 (5Dimes) is no longer in TheRundown's list "
            "(check-config --online asks TheRundown)",
        ],
        [
            "feeds[1].affiliate_ids[2]",
            "affiliate 77 is not in TheRundown's documented list "
            "(check-config --online asks TheRundown)",
        ],
    ]


def test_rundown_books_are_known_with_a_rundown_feed_only() -> None:
    # FanDuel is a TheRundown affiliate, not a RapidOddsAPI feed name.
    rapid_only = load(config_text("sharp: [Pinnacle]", "books: [fanduel]"))
    assert rapid_only.names.warnings[0].endswith(
        "(RapidOddsAPI publishes no list of bookmakers to ask)"
    )
    both = load(config_text("sharp: [Pinnacle]", "books: [fanduel]", rundown={}))
    assert both.names.warnings == ()
    assert both.rules[0].books == frozenset({"FanDuel"})


def test_commissions_name_books_at_their_key() -> None:
    text = config_text("sharp: [Pinnacle]", top="commissions:\n  Pinacle: 2%\n")
    assert errors(text) == [
        "config.yaml:2: commissions.Pinacle: 'Pinacle' is not one of RapidOddsAPI's books, "
        "did you mean 'Pinnacle'?"
    ]
    config = load(
        config_text("sharp: [Pinnacle]", top="commissions:\n  matchbook: 2%\n", rundown={})
    )
    assert config.commissions == {"Matchbook": 0.02}
    (warning,) = load(
        config_text("sharp: [Pinnacle]", top="commissions:\n  Betfair: 2%\n")
    ).names.warnings
    assert warning.startswith("config.yaml:2: commissions.Betfair: 'Betfair' is not one of ")
    assert ": it counts only if a feed delivers prices under that name (" in warning


def test_every_mistake_is_reported_with_the_others() -> None:
    text = config_text("sharp: [Pinacle]", "min_ev: three")
    assert [problem.split(": ")[1] for problem in errors(text)] == [
        "rules[0].sharp[0]",
        "rules[0].min_ev",
    ]


# --- look-ups ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "meant"),
    [("Pinacle", "Pinnacle"), ("DraftKing", "DraftKings"), ("Fandual", "FanDuel")],
)
def test_near_misses_of_books(written: str, meant: str) -> None:
    names = (*catalog.RUNDOWN.books, *catalog.RAPIDODDS.books)
    assert look_up(written, names, book_id).near == meant


@pytest.mark.parametrize("written", ["Betfair", "Smarkets", "Circa", "Betway"])
def test_real_books_no_catalog_holds_are_no_near_miss(written: str) -> None:
    names = (*catalog.RUNDOWN.books, *catalog.RAPIDODDS.books)
    assert look_up(written, names, book_id) == look_up(written, (), book_id)


def test_every_documented_name_is_found_as_itself() -> None:
    # Some are close to others ("NBA Playoffs", "NFL Playoffs"): each must be found as itself.
    for names, form in (
        ((*catalog.RUNDOWN.books, *catalog.RAPIDODDS.books), book_id),
        ((*catalog.RUNDOWN.sports, *catalog.RAPIDODDS.sports), normalize_sport),
    ):
        for name in names:
            found = look_up(name, names, form)
            assert found.spelling is not None
            assert form(found.spelling) == form(name)


@given(
    st.sampled_from((*catalog.RUNDOWN.books, *catalog.RAPIDODDS.books)),
    st.lists(st.booleans(), min_size=30, max_size=30),
    st.sampled_from(["", " ", "-", "."]),
)
def test_any_case_or_spacing_of_a_book_is_that_book(
    name: str, upper: list[bool], separator: str
) -> None:
    written = separator.join(
        character.upper() if up else character.lower()
        for character, up in zip(name, upper, strict=False)
    )
    found = look_up(written, (*catalog.RUNDOWN.books, *catalog.RAPIDODDS.books), book_id)
    assert found.spelling is not None
    assert book_id(found.spelling) == book_id(name)
