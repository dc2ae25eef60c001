"""Rules: engine settings per rule, shared evaluations, filters, and stable match keys."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

import arbwatch.core.rules as rules_module
from arbwatch.core.devig import DevigMethod
from arbwatch.core.evaluate import (
    ArbitrageSettings,
    EvSettings,
    Opportunity,
    PositiveEv,
    find_arbitrage,
)
from arbwatch.core.fair import FairCache
from arbwatch.core.markets import (
    AWAY,
    HOME,
    Event,
    MarketKey,
    MarketKind,
    Period,
    PriceUpdate,
    moneyline,
    spread,
    total,
)
from arbwatch.core.matrix import MatrixBlock, PriceMatrix
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.core.rules import (
    Match,
    RuleSet,
    admits,
    engine_settings,
    match_key,
    opportunity_identity,
)
from arbwatch.errors import InvalidStakeError

NOW = 1_700_000_000.0
HOUR = 3600.0
NBA_GAME = Event("g1", sport="nba ", home="Celtics", away="Lakers", starts_at=NOW + HOUR)
SOCCER = Event("s1", sport="EPL", home="Arsenal", away="Chelsea", starts_at=NOW + 2 * HOUR)
ML = moneyline("g1")
SOCCER_ML = moneyline("s1")
HALF_ML = moneyline("g1", period=Period.FIRST_HALF)
TOTAL = total("g1", 224.5)


def rule(name: str = "arbs", **fields: Any) -> RuleConfig:
    fields.setdefault("kind", "arbitrage")
    fields.setdefault("notify", ("phone",))
    return RuleConfig(name=name, **fields)


def q(market: MarketKey, slot: int, book: str, price: float, age: float = 0.0) -> PriceUpdate:
    return PriceUpdate(market, slot, book, price, NOW - age)


def arb_quotes(market: MarketKey, home: float = 2.10, away: float = 2.05) -> list[PriceUpdate]:
    """An arbitrage on ``market``: home at draftkings, away at fanduel."""
    return [q(market, HOME, "draftkings", home), q(market, AWAY, "fanduel", away)]


def make_block(
    *updates: PriceUpdate, events: tuple[Event, ...] = (NBA_GAME, SOCCER)
) -> MatrixBlock:
    matrix = PriceMatrix()
    for event in events:
        matrix.set_event(event)
    assert matrix.apply(updates) == 0
    return matrix.block()


def found(rules: list[RuleConfig], block: MatrixBlock, now: float = NOW) -> list[tuple[str, str]]:
    """(rule name, market label) of each match."""
    return [
        (m.rule.name, f"{m.opportunity.event.event_id} {m.opportunity.market.label()}")
        for m in RuleSet(rules).evaluate(block, now)
    ]


# --- engine settings ---------------------------------------------------------------------


def test_arbitrage_rule_becomes_arbitrage_settings() -> None:
    config = rule(
        books=frozenset({"draftkings", "fanduel", "betfair"}),
        excluded_books=frozenset({"fanduel"}),
        min_value=0.01,
        max_value=0.15,
        max_quote_age=30.0,
        bankroll=500.0,
        stake_round=5.0,
    )
    settings = engine_settings(config, {"betfair": 0.02})
    assert settings == ArbitrageSettings(
        max_quote_age=30.0,
        min_profit=0.01,
        max_profit=0.15,
        bankroll=500.0,
        stake_increment=5.0,
        books=frozenset({"draftkings", "fanduel", "betfair"}),
        excluded_books=frozenset({"fanduel"}),
        commissions={"betfair": 0.02},
        min_books=2,
    )


def test_positive_ev_rule_becomes_ev_settings() -> None:
    config = rule(
        "pin-ev",
        kind="positive_ev",
        sharp=("pinnacle", "circa"),
        devig=DevigMethod.SHIN,
        min_value=0.03,
        max_value=0.5,
        min_odds=1.5,
        max_odds=5.0,
        kelly_fraction=0.5,
        excluded_books=frozenset({"offshore"}),
    )
    assert engine_settings(config, {}) == EvSettings(
        sharp_books=("pinnacle", "circa"),
        devig=DevigMethod.SHIN,
        max_quote_age=120.0,
        min_ev=0.03,
        max_ev=0.5,
        min_odds=1.5,
        max_odds=5.0,
        kelly_fraction=0.5,
        excluded_books=frozenset({"offshore"}),
    )


@pytest.mark.parametrize(
    "config",
    [
        rule("no-sharp", kind="positive_ev"),
        rule("bad-kelly", kind="positive_ev", sharp=("pinnacle",), kelly_fraction=1.5),
        rule("upside-down", min_value=0.2, max_value=0.1),
        rule("no-bankroll", bankroll=0.0),
    ],
)
def test_invalid_settings_name_the_rule(config: RuleConfig) -> None:
    with pytest.raises(InvalidStakeError, match=rf"^rule {config.name}: "):
        RuleSet([rule("fine"), config])


# --- matches and keys --------------------------------------------------------------------


def test_arbitrage_match_carries_rule_key_and_value() -> None:
    config = rule(min_value=0.01)
    (match,) = RuleSet([config]).evaluate(make_block(*arb_quotes(ML)), NOW)
    assert match.rule is config
    assert match.value == match.opportunity.value == pytest.approx(1 / (1 / 2.10 + 1 / 2.05) - 1)
    assert match.key == match_key("arbs", match.opportunity)
    assert json.loads(match.key) == [
        "arbs",
        "arbitrage",
        ["g1", "moneyline", "full_game", 0.0, "", ""],
        [HOME, AWAY],
    ]


def test_key_is_the_same_for_the_same_bets_at_other_prices_and_in_a_new_process() -> None:
    first = RuleSet([rule()]).evaluate(make_block(*arb_quotes(ML, 2.10, 2.05)), NOW)
    # A fresh rule set and matrix (as after a restart), better prices, later.
    again = RuleSet([rule()]).evaluate(make_block(*arb_quotes(ML, 2.20, 2.10)), NOW + 60.0)
    assert [m.key for m in first] == [m.key for m in again]
    assert first[0].value < again[0].value


def test_key_differs_by_rule_and_market() -> None:
    block = make_block(
        *arb_quotes(ML),
        *arb_quotes(TOTAL),
        q(HALF_ML, HOME, "betmgm", 2.10),
        q(HALF_ML, AWAY, "fanduel", 2.05),
    )
    matches = RuleSet([rule("a"), rule("b")]).evaluate(block, NOW)
    assert len(matches) == 6
    assert len({m.key for m in matches}) == 6


def test_key_is_the_same_when_the_best_price_moves_to_another_book() -> None:
    (before,) = RuleSet([rule()]).evaluate(make_block(*arb_quotes(ML)), NOW)
    moved = make_block(q(ML, HOME, "betmgm", 2.10), q(ML, AWAY, "bovada", 2.05))
    (after,) = RuleSet([rule()]).evaluate(moved, NOW + 1.0)
    assert [leg.book for leg in after.opportunity.legs] == ["betmgm", "bovada"]
    assert after.key == before.key


def test_key_keeps_names_with_separators_apart() -> None:
    block = make_block(*arb_quotes(ML))
    (match,) = RuleSet([rule("x")]).evaluate(block, NOW)
    tricky = match_key('x", "arbitrage', match.opportunity)
    assert json.loads(tricky)[0] == 'x", "arbitrage'
    assert tricky != match.key


def test_identity_ignores_prices_and_names_kind_market_and_legs() -> None:
    (low,) = RuleSet([rule()]).evaluate(make_block(*arb_quotes(ML, 2.10, 2.05)), NOW)
    (high,) = RuleSet([rule()]).evaluate(make_block(*arb_quotes(ML, 2.30, 2.05)), NOW)
    identity = opportunity_identity(low.opportunity)
    assert identity == opportunity_identity(high.opportunity)
    assert identity == ("arbitrage", ML, ((HOME, "draftkings"), (AWAY, "fanduel")))


def test_positive_ev_match_per_outcome() -> None:
    config = rule("ev", kind="positive_ev", sharp=("pinnacle",), devig=DevigMethod.MULTIPLICATIVE)
    block = make_block(
        q(ML, HOME, "pinnacle", 1.90),
        q(ML, AWAY, "pinnacle", 1.90),
        q(ML, HOME, "draftkings", 2.20),
        q(ML, AWAY, "draftkings", 1.70),
    )
    (match,) = RuleSet([config]).evaluate(block, NOW, FairCache(block.matrix))
    assert isinstance(match.opportunity, PositiveEv)
    assert match.value == pytest.approx(0.5 * 2.20 - 1)
    assert json.loads(match.key)[3] == [HOME]


def test_matches_come_in_rule_order() -> None:
    block = make_block(*arb_quotes(ML), *arb_quotes(SOCCER_ML))
    names = [m.rule.name for m in RuleSet([rule("z"), rule("a"), rule("m")]).evaluate(block, NOW)]
    assert names == ["z", "z", "a", "a", "m", "m"]


def test_empty_block_and_no_rules_find_nothing() -> None:
    assert RuleSet([rule()]).evaluate(PriceMatrix().block(), NOW) == []
    assert RuleSet([]).evaluate(make_block(*arb_quotes(ML)), NOW) == []
    assert RuleSet([]).rules == ()


# --- sharing evaluations -----------------------------------------------------------------


class CountingArbitrage:
    """Stands in for `find_arbitrage`, counting calls and keeping the rows it was given."""

    def __init__(self) -> None:
        self.blocks: list[MatrixBlock] = []

    def __call__(self, block: MatrixBlock, now: float, settings: ArbitrageSettings) -> list[Any]:
        self.blocks.append(block)
        return find_arbitrage(block, now, settings)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingArbitrage:
    spy = CountingArbitrage()
    monkeypatch.setattr(rules_module, "find_arbitrage", spy)
    return spy


def test_rules_with_the_same_engine_settings_share_one_evaluation(
    counting: CountingArbitrage,
) -> None:
    # Ten rules differing only in what they filter on and where they notify.
    configs = [
        rule(f"r{i}", notify=(f"ch{i}",), repeat=60.0 * i, in_play="any" if i % 2 else "pre_match")
        for i in range(10)
    ]
    matches = RuleSet(configs).evaluate(make_block(*arb_quotes(ML)), NOW)
    assert len(counting.blocks) == 1
    assert len(matches) == 10


def test_rules_with_different_engine_settings_evaluate_apart(counting: CountingArbitrage) -> None:
    configs = [
        rule("a", min_value=0.01),
        rule("b", min_value=0.01),
        rule("c", min_value=0.02),
        rule("d", min_value=0.01, max_odds=3.0),
    ]
    RuleSet(configs).evaluate(make_block(*arb_quotes(ML)), NOW)
    assert len(counting.blocks) == 3


def test_fair_cache_gives_the_same_matches() -> None:
    config = rule("ev", kind="positive_ev", sharp=("pinnacle",), sports=frozenset({"NBA"}))
    quotes = [
        q(market, slot, book, price)
        for market in (ML, SOCCER_ML)
        for slot, book, price in (
            (HOME, "pinnacle", 1.90),
            (AWAY, "pinnacle", 1.90),
            (HOME, "draftkings", 2.20),
        )
    ]
    block = make_block(*quotes)
    cache = FairCache(block.matrix)
    with_cache = RuleSet([config]).evaluate(block, NOW, cache)
    again = RuleSet([config]).evaluate(block, NOW, cache)
    without = RuleSet([config]).evaluate(block, NOW)
    assert [m.key for m in with_cache] == [m.key for m in again] == [m.key for m in without]
    assert [m.value for m in with_cache] == [m.value for m in without]
    assert len(with_cache) == 1


# --- filters -----------------------------------------------------------------------------


def test_sport_filter_compares_normalized_names() -> None:
    block = make_block(*arb_quotes(ML), *arb_quotes(SOCCER_ML))
    assert found([rule(sports=frozenset({"NBA"}))], block) == [("arbs", "g1 Moneyline")]
    assert found([rule(sports=frozenset({"EPL", "NBA"}))], block) == [
        ("arbs", "g1 Moneyline"),
        ("arbs", "s1 Moneyline"),
    ]


def test_unknown_event_fails_a_sport_filter() -> None:
    block = make_block(*arb_quotes(ML), events=())
    assert found([rule(sports=frozenset({"NBA"}))], block) == []
    assert found([rule()], block) == [("arbs", "g1 Moneyline")]


def test_market_type_and_period_filters() -> None:
    home, _ = spread("g1", HOME, -3.5)
    block = make_block(*arb_quotes(ML), *arb_quotes(HALF_ML), *arb_quotes(home))
    assert found([rule(market_types=frozenset({MarketKind.SPREAD}))], block) == [
        ("arbs", "g1 Spread -3.5")
    ]
    assert found([rule(periods=frozenset({Period.FIRST_HALF}))], block) == [
        ("arbs", "g1 Moneyline · 1st half")
    ]
    both = rule(
        market_types=frozenset({MarketKind.MONEYLINE}), periods=frozenset({Period.FULL_GAME})
    )
    assert found([both], block) == [("arbs", "g1 Moneyline")]


def test_arbitrage_odds_bounds_use_the_best_price_within_them() -> None:
    block = make_block(
        q(ML, HOME, "draftkings", 2.40),  # above max_odds: taken out
        q(ML, HOME, "caesars", 2.10),
        q(ML, AWAY, "fanduel", 2.05),
    )
    (match,) = RuleSet([rule(max_odds=2.2)]).evaluate(block, NOW)
    assert [(leg.book, leg.price) for leg in match.opportunity.legs] == [
        ("caesars", 2.10),
        ("fanduel", 2.05),
    ]
    (unbounded,) = RuleSet([rule()]).evaluate(block, NOW)
    assert unbounded.opportunity.legs[HOME].book == "draftkings"


def test_arbitrage_odds_bounds_drop_an_arbitrage_that_needs_a_price_outside() -> None:
    block = make_block(q(ML, HOME, "draftkings", 3.50), q(ML, AWAY, "fanduel", 1.45))
    assert found([rule()], block) == [("arbs", "g1 Moneyline")]
    assert found([rule(min_odds=1.5)], block) == []
    assert found([rule(max_odds=3.0)], block) == []
    # Bounds are inclusive.
    assert found([rule(min_odds=1.45, max_odds=3.5)], block) == [("arbs", "g1 Moneyline")]


def test_positive_ev_odds_bounds_are_applied_by_the_engine() -> None:
    block = make_block(
        q(ML, HOME, "pinnacle", 1.90),
        q(ML, AWAY, "pinnacle", 1.90),
        q(ML, HOME, "draftkings", 2.20),
    )
    ev: dict[str, Any] = {"kind": "positive_ev", "sharp": ("pinnacle",)}
    assert len(found([rule(**ev)], block)) == 1
    assert found([rule(**ev, max_odds=2.1)], block) == []


def opportunity_starting(starts_at: float) -> Opportunity:
    event = Event("g1", sport="NBA", home="Celtics", away="Lakers", starts_at=starts_at)
    block = make_block(*arb_quotes(ML), events=(event,))
    (match,) = RuleSet([rule()]).evaluate(block, NOW)
    return match.opportunity


@pytest.mark.parametrize(
    ("starts_in", "in_play", "starts_within", "expected"),
    [
        # Not started: within the window or not.
        (HOUR, "any", 2 * HOUR, True),
        (2 * HOUR, "any", 2 * HOUR, True),
        (3 * HOUR, "any", 2 * HOUR, False),
        # Started: a window does not exclude a game in play; in_play decides.
        (-HOUR, "any", 2 * HOUR, True),
        (-HOUR, "live", 2 * HOUR, True),
        (-HOUR, "pre_match", 2 * HOUR, False),
        (0.0, "live", None, True),
        (0.0, "pre_match", None, False),
        (1.0, "live", None, False),
        (1.0, "pre_match", None, True),
        (HOUR, "live", 2 * HOUR, False),
        (HOUR, "pre_match", 2 * HOUR, True),
        # Unknown start: only a rule with no start filter takes it.
        (math.nan, "any", None, True),
        (math.nan, "any", 2 * HOUR, False),
        (math.nan, "live", None, False),
        (math.nan, "pre_match", None, False),
    ],
)
def test_start_time_filters(
    starts_in: float, in_play: Any, starts_within: float | None, expected: bool
) -> None:
    opportunity = opportunity_starting(NOW + starts_in)
    config = rule(in_play=in_play, starts_within=starts_within)
    assert admits(config, opportunity, NOW) is expected


def test_start_time_filters_use_now_passed_in() -> None:
    block = make_block(*arb_quotes(ML))
    pre_match = [rule(in_play="pre_match", max_quote_age=10 * HOUR)]
    assert found(pre_match, block, NOW) == [("arbs", "g1 Moneyline")]
    assert found(pre_match, block, NOW + HOUR) == []


def test_match_is_a_frozen_record() -> None:
    (match,) = RuleSet([rule()]).evaluate(make_block(*arb_quotes(ML)), NOW)
    assert isinstance(match, Match)
    with pytest.raises(AttributeError):
        match.value = 1.0  # type: ignore[misc]


def test_commissions_apply_to_every_rule_and_with_odds_bounds() -> None:
    block = make_block(q(ML, HOME, "betfair", 2.20), q(ML, AWAY, "fanduel", 2.05))
    plain = RuleSet([rule()]).evaluate(block, NOW)
    charged = RuleSet([rule()], {"betfair": 0.05}).evaluate(block, NOW)
    assert charged[0].value < plain[0].value
    assert charged[0].opportunity.legs[HOME].effective_price == pytest.approx(1 + 1.2 * 0.95)
    # Every home quote out of bounds at a book that charges: nothing, not a bogus price.
    bounded = RuleSet([rule(max_odds=2.1)], {"betfair": 0.05})
    assert bounded.evaluate(block, NOW) == []
