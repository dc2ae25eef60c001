"""Book names: canonical ids, and rules that pick books whatever their spelling."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from arbwatch.core.books import book_id, book_ids
from arbwatch.core.markets import AWAY, HOME, Event, PriceUpdate, moneyline
from arbwatch.core.matrix import PriceMatrix
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.core.rules import RuleSet

NOW = 1_700_000_000.0
GAME = Event("g1", sport="NBA", home="Celtics", away="Lakers", starts_at=NOW + 3600.0)
ML = moneyline("g1")

#: What a bettor may put between the letters of a name without making it another book.
_SEPARATORS = st.text(alphabet=" -._'&", max_size=2)


def test_spellings_of_one_book_share_an_id() -> None:
    assert book_id("theScore Bet") == book_id("theScoreBet") == book_id("thescorebet")
    assert book_id("Bet 365") == book_id("bet365") == "bet365"
    assert book_id(" Pinnacle ") == book_id("PINNACLE") == "pinnacle"


def test_different_books_keep_different_ids() -> None:
    names = ["Pinnacle", "DraftKings", "FanDuel", "BetMGM", "Bet365", "BetRivers", "Betr"]
    assert len(book_ids(names)) == len(names)


@given(st.text(alphabet=string.ascii_letters + string.digits, min_size=1), _SEPARATORS)
def test_case_and_separators_never_change_the_id(name: str, separator: str) -> None:
    spaced = separator.join(name)
    assert book_id(spaced.upper()) == book_id(name.lower()) == book_id(name)


@given(st.text())
def test_an_id_is_its_own_id(name: str) -> None:
    assert book_id(book_id(name)) == book_id(name)


def test_matrix_keeps_each_column_id_beside_its_name() -> None:
    matrix = PriceMatrix()
    matrix.set_event(GAME)
    matrix.apply([PriceUpdate(ML, HOME, "theScore Bet", 2.1, NOW)])
    matrix.apply([PriceUpdate(ML, AWAY, "Pinnacle", 1.9, NOW)])
    assert matrix.books == ("theScore Bet", "Pinnacle")
    assert matrix.book_ids == ("thescorebet", "pinnacle")
    assert matrix.block().book_ids == ("thescorebet", "pinnacle")


# --- rules --------------------------------------------------------------------------------


def _block() -> PriceMatrix:
    """An arbitrage between DraftKings (home 2.10) and FanDuel (away 2.05); Pinnacle 1.85 both."""
    matrix = PriceMatrix()
    matrix.set_event(GAME)
    quotes = [
        (HOME, "DraftKings", 2.10),
        (AWAY, "FanDuel", 2.05),
        (HOME, "Pinnacle", 1.85),
        (AWAY, "Pinnacle", 1.85),
    ]
    matrix.apply([PriceUpdate(ML, slot, book, price, NOW) for slot, book, price in quotes])
    return matrix


def _rule(**fields: object) -> RuleConfig:
    fields.setdefault("kind", "arbitrage")
    return RuleConfig(name="r", notify=("phone",), **fields)  # type: ignore[arg-type]


def _legs(rule: RuleConfig, commissions: dict[str, float] | None = None) -> list[list[str]]:
    matches = RuleSet([rule], commissions or {}).evaluate(_block().block(), NOW)
    return [[leg.book for leg in match.opportunity.legs] for match in matches]


def test_lower_case_books_in_a_rule_match_the_feeds_spelling() -> None:
    rule = _rule(books=frozenset({"draftkings", "FANDUEL"}))
    assert _legs(rule) == [["DraftKings", "FanDuel"]]


def test_books_the_rule_leaves_out_are_still_left_out() -> None:
    # Without FanDuel the away side's best is Pinnacle at 1.85: no arbitrage.
    assert _legs(_rule(books=frozenset({"draftkings", "pinnacle"}))) == []


def test_excluded_books_match_by_id() -> None:
    assert _legs(_rule(excluded_books=frozenset({"fan duel"}))) == []
    assert _legs(_rule(excluded_books=frozenset({"bet365"}))) == [["DraftKings", "FanDuel"]]


def test_commissions_match_by_id() -> None:
    # Half of FanDuel's winnings: 2.05 -> 1.525, below Pinnacle's 1.85, and no arbitrage.
    assert _legs(_rule(), {"fanduel": 0.5}) == []
    assert _legs(_rule(), {"FanDuel": 0.0}) == [["DraftKings", "FanDuel"]]


def test_sharp_books_match_by_id() -> None:
    rule = _rule(kind="positive_ev", sharp=("pinnacle",), books=frozenset({"draft kings"}))
    assert _legs(rule) == [["DraftKings"]]


def test_a_sharp_book_no_feed_has_finds_nothing() -> None:
    assert _legs(_rule(kind="positive_ev", sharp=("Pinacle",))) == []
