"""The alert lifecycle: new, improved, repeat, gone, quiet hours, expiry, reloads, memory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbwatch.core.dedup import (
    Alert,
    AlertReason,
    AlertState,
    Lifecycle,
    Observation,
    decide,
    summarize,
)
from arbwatch.core.evaluate import Arbitrage, Leg
from arbwatch.core.markets import AWAY, HOME, Event, MarketKey, moneyline
from arbwatch.core.rulemodel import QuietHours, RuleConfig
from arbwatch.core.rules import Match, match_key
from arbwatch.core.stakes import arbitrage_stakes

NOW = 1_700_000_000.0
GAME = Event("g1", sport="NBA", home="Celtics", away="Lakers", starts_at=NOW + 86_400)
ML = moneyline("g1")
OTHER = moneyline("g2")
NEW, IMPROVED, REPEAT, GONE = (
    AlertReason.NEW,
    AlertReason.IMPROVED,
    AlertReason.REPEAT,
    AlertReason.GONE,
)


def rule(name: str = "arbs", **fields: Any) -> RuleConfig:
    fields.setdefault("kind", "arbitrage")
    fields.setdefault("notify", ("phone",))
    fields.setdefault("max_quote_age", 1e9)  # quotes never go stale unless a test says so
    fields.setdefault("min_duration", 0.0)  # alerted at first sight unless a test says so
    return RuleConfig(name=name, **fields)


def arb(
    value: float,
    *,
    market: MarketKey = ML,
    books: tuple[str, str] = ("draftkings", "fanduel"),
    quoted_at: float = NOW,
    event: Event = GAME,
) -> Arbitrage:
    """An arbitrage with the given profit (prices are not what is under test here)."""
    legs = tuple(
        Leg(slot, label, book, 2.1, 2.1, 500.0, quoted_at)
        for slot, label, book in zip((HOME, AWAY), (event.home, event.away), books, strict=True)
    )
    return Arbitrage(
        event=event,
        market=market,
        legs=legs,
        implied_sum=1.0 / (1.0 + value),
        profit=value,
        plan=arbitrage_stakes([2.1, 2.1], 1000.0),
        found_at=quoted_at,
    )


def match(config: RuleConfig, value: float, **opportunity: Any) -> Match:
    found = arb(value, **opportunity)
    return Match(config, found, match_key(config.name, found), value)


Step = tuple[float, float | None]


def run(config: RuleConfig, steps: Sequence[Step]) -> list[AlertReason | None]:
    """Observe one opportunity: (seconds after NOW, value, or None for evaluated but absent).

    Quotes are as fresh as each step. Returns each step's alert reason (None: no alert).
    """
    life = Lifecycle([config])
    reasons: list[AlertReason | None] = []
    for offset, value in steps:
        now = NOW + offset
        found = [] if value is None else [match(config, value, quoted_at=now)]
        alerts = life.observe(found, {ML}, now).alerts
        assert len(alerts) <= 1
        reasons.append(alerts[0].reason if alerts else None)
    return reasons


# --- the policy as tables -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "steps", "expected"),
    [
        pytest.param(
            rule(repeat=600),
            [(0, 0.02), (10, 0.02), (599, 0.02), (600, 0.02), (601, 0.02), (1200, 0.02)],
            [NEW, None, None, REPEAT, None, REPEAT],
            id="repeat-after-the-interval",
        ),
        pytest.param(
            rule(repeat=600, improve_by=0.005),
            [
                (0, 0.02),
                (10, 0.024),
                (20, 0.025),
                (30, 0.029),
                (40, 0.03),
                (639, 0.03),
                (640, 0.03),
            ],
            [NEW, None, IMPROVED, None, IMPROVED, None, REPEAT],
            id="improved-over-the-value-last-alerted",
        ),
        pytest.param(
            rule(repeat=600, improve_by=0.005),
            [(0, 0.03), (10, 0.01), (20, 0.034), (30, 0.035)],
            [NEW, None, None, IMPROVED],
            id="a-dip-does-not-lower-the-bar",
        ),
        pytest.param(
            rule(repeat=600, improve_by=0.0),
            [(0, 0.02), (10, 0.5), (600, 0.5)],
            [NEW, None, REPEAT],
            id="improve-by-zero-never-improves",
        ),
        pytest.param(
            rule(repeat=600, gone=True),
            [(0, 0.02), (10, None), (20, 0.02), (30, None), (700, 0.02), (710, None)],
            [NEW, GONE, None, None, NEW, GONE],
            id="gone-only-for-an-alerted-occurrence",
        ),
        pytest.param(
            rule(repeat=600, gone=False),
            [(0, 0.02), (10, None), (20, None)],
            [NEW, None, None],
            id="gone-off",
        ),
        pytest.param(
            rule(repeat=600),
            [(0, 0.02), (10, None), (20, 0.02), (30, None), (590, 0.02), (600, 0.02)],
            [NEW, None, None, None, None, REPEAT],
            id="never-twice-within-the-interval-across-returns",
        ),
        pytest.param(
            rule(repeat=600),
            [(0, 0.02), (10, None), (700, 0.02)],
            [NEW, None, NEW],
            id="back-after-the-interval-is-new",
        ),
        pytest.param(
            rule(repeat=600, improve_by=0.005),
            [(0, 0.02), (10, None), (20, 0.03)],
            [NEW, None, IMPROVED],
            id="back-improved-within-the-interval",
        ),
        pytest.param(
            rule(repeat=0),
            [(0, 0.02), (0, 0.02), (1, 0.02)],
            [NEW, REPEAT, REPEAT],
            id="repeat-zero-alerts-every-sighting",
        ),
    ],
)
def test_lifecycle_table(
    config: RuleConfig, steps: list[Step], expected: list[AlertReason | None]
) -> None:
    assert run(config, steps) == expected


def state(**fields: Any) -> AlertState:
    base = AlertState(
        key="k",
        rule="arbs",
        kind="arbitrage",
        market=ML,
        summary="s",
        first_seen=NOW,
        last_seen=NOW,
        best_value=0.02,
        last_value=0.02,
        alerted_at=NOW,
        alerted_value=0.02,
        active=True,
        ended_at=None,
    )
    return replace(base, **fields)


@pytest.mark.parametrize(
    ("before", "value", "at", "expected"),
    [
        (None, 0.01, 0, NEW),
        (state(alerted_at=None, alerted_value=None), 0.01, 0, NEW),
        (state(), 0.02, 599, None),
        (state(), 0.02, 600, REPEAT),
        (state(active=False, ended_at=NOW + 5), 0.02, 599, None),
        (state(active=False, ended_at=NOW + 5), 0.02, 600, NEW),
        (state(), 0.025, 1, IMPROVED),
        (state(active=False, ended_at=NOW + 5), 0.025, 1, IMPROVED),
        (state(), 0.0249, 1, None),
    ],
)
def test_decide(before: AlertState | None, value: float, at: float, expected: Any) -> None:
    assert decide(before, value, NOW + at, rule(repeat=600, improve_by=0.005)) is expected


# --- quiet hours ----------------------------------------------------------------------------

NEW_YORK = ZoneInfo("America/New_York")


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=NEW_YORK).timestamp()


QUIET = rule(
    repeat=600,
    gone=True,
    quiet_hours=QuietHours(dt.time(23, 0), dt.time(7, 0), NEW_YORK),
)


def test_quiet_hours_across_midnight_hold_alerts_until_they_end() -> None:
    # The night of the change to summer time: 23:00 EST to 07:00 EDT is 7 hours, not 8.
    life = Lifecycle([QUIET])
    before = local(2024, 3, 9, 22, 59)
    assert [a.reason for a in life.observe([match(QUIET, 0.02)], {ML}, before).alerts] == [NEW]

    other = {"market": OTHER, "books": ("betmgm", "caesars")}
    for when in (local(2024, 3, 9, 23, 0), local(2024, 3, 10, 3, 30), local(2024, 3, 10, 6, 59)):
        observation = life.observe([match(QUIET, 0.03, **other)], {OTHER}, when)
        assert observation.alerts == []
        (held,) = observation.changed
        assert held.alerted_at is None
    assert local(2024, 3, 10, 6, 59) - local(2024, 3, 9, 23, 0) == 7 * 3600 - 60

    ended = local(2024, 3, 10, 7, 0)
    (alert,) = life.observe([match(QUIET, 0.03, **other)], {OTHER}, ended).alerts
    assert (alert.reason, alert.at, alert.state.alerted_at) == (NEW, ended, ended)


def test_quiet_hours_end_alerts_what_is_still_there_without_a_new_price() -> None:
    life = Lifecycle([QUIET])
    night = local(2024, 1, 15, 23, 30)
    assert life.observe([match(QUIET, 0.02, quoted_at=night)], {ML}, night).alerts == []
    assert life.expire(local(2024, 1, 16, 6, 59)).alerts == []
    (alert,) = life.expire(local(2024, 1, 16, 7, 0)).alerts
    assert alert.reason is NEW
    assert alert.opportunity is not None
    assert life.expire(local(2024, 1, 16, 7, 1)).alerts == []


def test_no_gone_during_quiet_hours() -> None:
    life = Lifecycle([QUIET])
    life.observe([match(QUIET, 0.02)], {ML}, local(2024, 1, 15, 22, 0))
    observation = life.observe([], {ML}, local(2024, 1, 15, 23, 30))
    assert observation.alerts == []
    (ended,) = observation.changed
    assert not ended.active


# --- observations ---------------------------------------------------------------------------


def test_states_record_first_last_best_and_alerts() -> None:
    config = rule(repeat=600, gone=True)
    life = Lifecycle([config])
    first = life.observe([match(config, 0.02)], {ML}, NOW)
    (alert,) = first.alerts
    assert first.changed == [alert.state]
    assert alert == Alert(NEW, config, alert.key, 0.02, alert.opportunity, alert.state, NOW)
    assert (
        alert.state.summary
        == "Lakers @ Celtics · Moneyline · Celtics (draftkings) / Lakers (fanduel)"
    )

    life.observe([match(config, 0.03)], {ML}, NOW + 5)
    (later,) = life.observe([match(config, 0.025)], {ML}, NOW + 9).changed
    assert (later.first_seen, later.last_seen) == (NOW, NOW + 9)
    assert (later.best_value, later.last_value) == (0.03, 0.025)
    assert (later.alerted_at, later.alerted_value) == (NOW + 5, 0.03)  # improved at +5
    assert later.active
    assert later.ended_at is None
    assert life.active() == [later]
    assert life.active_count == 1
    assert life.state(later.key) == later

    gone = life.observe([], {ML, OTHER}, NOW + 20)
    (alert,) = gone.alerts
    assert alert.reason is GONE
    assert alert.value == 0.025
    assert alert.opportunity is not None
    assert alert.opportunity.value == 0.025
    assert alert.state.ended_at == NOW + 20
    assert gone.changed == [alert.state]
    assert life.active_count == 0


def test_only_evaluated_markets_can_lose_an_opportunity() -> None:
    config = rule(gone=True)
    life = Lifecycle([config])
    life.observe([match(config, 0.02)], {ML}, NOW)
    assert life.observe([], {OTHER}, NOW + 1) == Observation()
    assert life.active_count == 1
    assert [a.reason for a in life.observe([], {ML}, NOW + 2).alerts] == [GONE]


def test_rules_keep_their_own_states_for_one_opportunity() -> None:
    quick, slow = rule("quick", repeat=60), rule("slow", repeat=600)
    life = Lifecycle([quick, slow])
    both = [match(quick, 0.02), match(slow, 0.02)]
    assert [(a.rule.name, a.reason) for a in life.observe(both, {ML}, NOW).alerts] == [
        ("quick", NEW),
        ("slow", NEW),
    ]
    assert [(a.rule.name, a.reason) for a in life.observe(both, {ML}, NOW + 60).alerts] == [
        ("quick", REPEAT)
    ]
    # One rule stops matching (say its filters changed): only its state ends.
    life.observe([match(slow, 0.02)], {ML}, NOW + 61)
    assert [s.rule for s in life.active()] == ["slow"]


def test_the_same_market_at_other_books_is_not_alerted_again() -> None:
    config = rule(gone=True)
    life = Lifecycle([config])
    life.observe([match(config, 0.02)], {ML}, NOW)
    moved = life.observe([match(config, 0.02, books=("betmgm", "fanduel"))], {ML}, NOW + 1)
    assert moved.alerts == []
    assert life.active_count == 1


def test_active_lists_best_value_first() -> None:
    config = rule()
    life = Lifecycle([config])
    life.observe([match(config, 0.01), match(config, 0.05, market=OTHER)], {ML, OTHER}, NOW)
    assert [s.last_value for s in life.active()] == [0.05, 0.01]


def test_matches_of_a_rule_not_in_force_are_ignored() -> None:
    life = Lifecycle([rule("kept")])
    assert life.observe([match(rule("dropped"), 0.02)], {ML}, NOW) == Observation()
    assert len(life) == 0


# --- expire ---------------------------------------------------------------------------------


def test_expire_suspends_an_opportunity_when_its_oldest_quote_goes_stale() -> None:
    # No price moved: nobody knows it went, so it ends without a GONE.
    config = rule(max_quote_age=60, gone=True)
    life = Lifecycle([config])
    life.observe([match(config, 0.02, quoted_at=NOW - 20)], {ML}, NOW)
    assert life.expire(NOW + 40) == Observation()
    observation = life.expire(NOW + 41)
    assert observation.alerts == []
    (state,) = observation.changed
    assert observation.suspended == [state]
    assert (state.active, state.ended_at) == (False, NOW + 40)  # when the quote went stale
    assert life.active_count == 0
    assert life.expire(NOW + 100) == Observation()


def test_a_restored_state_never_seen_again_is_suspended_not_gone() -> None:
    config = rule(max_quote_age=60, gone=True)
    first = Lifecycle([config])
    (alert,) = first.observe([match(config, 0.02)], {ML}, NOW).alerts
    restarted = Lifecycle([config], [alert.state])
    assert restarted.expire(NOW + 60) == Observation()
    observation = restarted.expire(NOW + 61)
    assert observation.alerts == []
    assert [state.key for state in observation.suspended] == [alert.key]
    assert observation.changed[0].ended_at == NOW + 60


def test_a_re_evaluation_that_finds_only_stale_quotes_suspends() -> None:
    # Another book's price on the market moved, but the opportunity's own quote had gone
    # stale: the evaluation could not use it, which is not a price saying it went.
    config = rule(max_quote_age=60, gone=True)
    life = Lifecycle([config])
    life.observe([match(config, 0.02, quoted_at=NOW)], {ML}, NOW)
    observation = life.observe([], {ML}, NOW + 61)
    assert observation.alerts == []
    assert len(observation.suspended) == 1


def test_a_price_that_moves_is_gone() -> None:
    config = rule(max_quote_age=60, gone=True)
    life = Lifecycle([config])
    life.observe([match(config, 0.02, quoted_at=NOW)], {ML}, NOW)
    observation = life.observe([], {ML}, NOW + 30)
    (alert,) = observation.alerts
    assert alert.reason is GONE
    assert observation.suspended == []


def test_suspend_ends_only_opportunities_on_the_books_of_a_feed_that_is_down() -> None:
    config = rule(gone=True)
    life = Lifecycle([config])
    life.observe(
        [
            match(config, 0.02, books=("pinnacle", "fanduel")),
            match(config, 0.03, market=OTHER, books=("draftkings", "bovada")),
        ],
        {ML, OTHER},
        NOW,
    )
    observation = life.suspend({"pinnacle"}, NOW + 5)
    assert observation.alerts == []
    (state,) = observation.suspended
    assert (state.market, state.active, state.ended_at) == (ML, False, NOW + 5)
    assert [state.market for state in life.active()] == [OTHER]
    # The market is quoted again by the other books, without the suspended opportunity:
    # it had already ended, so there is nothing to say GONE about.
    assert life.observe([], {ML}, NOW + 6).alerts == []


def test_a_suspended_opportunity_found_again_is_not_alerted_within_repeat() -> None:
    config = rule(gone=True, repeat=600)
    life = Lifecycle([config])
    assert len(life.observe([match(config, 0.02)], {ML}, NOW).alerts) == 1
    life.suspend({"draftkings"}, NOW + 10)
    assert life.observe([match(config, 0.02)], {ML}, NOW + 60).alerts == []
    assert life.active_count == 1
    (again,) = life.observe([match(config, 0.02)], {ML}, NOW + 601).alerts
    assert again.reason is REPEAT


def test_expire_ends_a_pre_match_opportunity_when_the_game_starts() -> None:
    config = rule(in_play="pre_match", gone=True)
    event = replace(GAME, starts_at=NOW + 100)
    life = Lifecycle([config])
    life.observe([match(config, 0.02, event=event)], {ML}, NOW)
    assert life.expire(NOW + 99).alerts == []
    (alert,) = life.expire(NOW + 100).alerts
    assert (alert.reason, alert.state.ended_at) == (GONE, NOW + 100)


def test_expire_sends_a_repeat_that_came_due() -> None:
    config = rule(repeat=600)
    life = Lifecycle([config])
    life.observe([match(config, 0.02)], {ML}, NOW)
    assert life.expire(NOW + 599).alerts == []
    (alert,) = life.expire(NOW + 600).alerts
    assert alert.reason is REPEAT
    assert alert.state.alerted_at == NOW + 600
    assert life.observe([match(config, 0.02)], {ML}, NOW + 601).alerts == []


# --- restart and reload ---------------------------------------------------------------------


def test_restored_states_are_not_alerted_again() -> None:
    config = rule(repeat=600)
    before = Lifecycle([config])
    saved = before.observe([match(config, 0.02)], {ML}, NOW).changed

    after = Lifecycle([config], saved)
    observation = after.observe([match(config, 0.02)], {ML}, NOW + 30)
    assert observation.alerts == []
    (continued,) = observation.changed
    assert continued.first_seen == NOW
    assert [a.reason for a in after.observe([match(config, 0.02)], {ML}, NOW + 600).alerts] == [
        REPEAT
    ]


def test_restored_state_without_a_sighting_is_suspended_when_its_quotes_go_stale() -> None:
    config = rule(max_quote_age=60, gone=True)
    saved = Lifecycle([config]).observe([match(config, 0.02)], {ML}, NOW).changed
    after = Lifecycle([config], saved)
    assert after.expire(NOW + 60) == Observation()  # no timer alerts without the legs
    observation = after.expire(NOW + 3600)
    assert observation.alerts == []
    (ended,) = observation.suspended
    assert ended.ended_at == NOW + 60


def test_restored_states_of_vanished_rules_end_with_the_next_observation() -> None:
    saved = Lifecycle([rule("old")]).observe([match(rule("old"), 0.02)], {ML}, NOW).changed
    life = Lifecycle([rule("new")], saved)
    assert len(life) == 0
    (ended,) = life.expire(NOW + 5).changed
    assert (ended.rule, ended.active, ended.ended_at) == ("old", False, NOW)
    assert life.expire(NOW + 6) == Observation()


def test_replace_rules_ends_states_of_vanished_rules_silently() -> None:
    kept, dropped = rule("kept", gone=True), rule("dropped", gone=True)
    life = Lifecycle([kept, dropped])
    life.observe([match(kept, 0.02), match(dropped, 0.02)], {ML}, NOW)
    life.replace_rules([kept])
    assert [r.name for r in life.rules] == ["kept"]
    assert [s.rule for s in life.active()] == ["kept"]
    observation = life.observe([match(kept, 0.02)], {ML}, NOW + 10)
    assert observation.alerts == []
    ended = [s for s in observation.changed if s.rule == "dropped"]
    assert [(s.active, s.ended_at) for s in ended] == [(False, NOW)]


def test_replace_rules_applies_new_thresholds_from_the_next_observation() -> None:
    life = Lifecycle([rule(repeat=600)])
    life.observe([match(rule(repeat=600), 0.02)], {ML}, NOW)
    shorter = rule(repeat=60)
    life.replace_rules([shorter])
    (alert,) = life.observe([match(shorter, 0.02)], {ML}, NOW + 60).alerts
    assert (alert.reason, alert.rule) == (REPEAT, shorter)


def test_a_changed_rule_sends_no_timer_alert_until_seen_under_it() -> None:
    life = Lifecycle([rule(repeat=600)])
    life.observe([match(rule(repeat=600), 0.02)], {ML}, NOW)
    changed = rule(repeat=600, min_value=0.05)
    life.replace_rules([changed])
    assert life.expire(NOW + 700).alerts == []
    assert life.active_count == 1


# --- memory ---------------------------------------------------------------------------------


def test_memory_stays_bounded_over_many_distinct_opportunities() -> None:
    config = rule(repeat=600, gone=True)
    life = Lifecycle([config])
    most = 0
    for index in range(2000):
        now = NOW + 10.0 * index
        market = moneyline(f"game-{index}")
        life.observe([match(config, 0.02, market=market)], {market}, now)
        life.observe([], {market}, now + 5)
        most = max(most, len(life))
    # Alerted states are kept for one repeat interval after their alert: 600 s / 10 s.
    assert most <= 61
    life.expire(NOW + 10.0 * 2000 + 600)
    assert len(life) == 0


def test_never_alerted_states_are_forgotten_when_they_end() -> None:
    config = rule(quiet_hours=QuietHours(dt.time(0, 0), dt.time(23, 59), ZoneInfo("UTC")))
    life = Lifecycle([config])
    quiet = dt.datetime(2024, 1, 1, 12, tzinfo=ZoneInfo("UTC")).timestamp()
    for index in range(100):
        market = moneyline(f"game-{index}")
        life.observe([match(config, 0.02, market=market)], {market}, quiet)
        life.observe([], {market}, quiet)
    life.expire(quiet)
    assert len(life) == 0


# --- the property ---------------------------------------------------------------------------

KEYS = (ML, OTHER, moneyline("g3"))


@st.composite
def histories(draw: st.DrawFn) -> tuple[RuleConfig, list[tuple[str, float, list[float | None]]]]:
    config = rule(
        repeat=draw(st.sampled_from([0.0, 30.0, 600.0])),
        improve_by=draw(st.sampled_from([0.0, 0.005, 0.02])),
        gone=draw(st.booleans()),
        max_quote_age=draw(st.sampled_from([20.0, 120.0, 1e9])),
    )
    values = st.one_of(st.none(), st.floats(0.0, 0.1))
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["observe", "expire"]),
                st.floats(0.0, 400.0),
                st.lists(values, min_size=len(KEYS), max_size=len(KEYS)),
            ),
            max_size=40,
        )
    )
    return config, steps


@settings(max_examples=200, deadline=None)
@given(histories())
def test_no_two_alerts_for_one_key_within_the_interval_unless_improved(
    history: tuple[RuleConfig, list[tuple[str, float, list[float | None]]]],
) -> None:
    config, steps = history
    life = Lifecycle([config])
    now = NOW
    last_alert: dict[str, float] = {}
    alerted_occurrence: set[tuple[str, float]] = set()
    for action, pause, values in steps:
        now += pause
        if action == "expire":
            observation = life.expire(now)
        else:
            found = [
                match(config, value, market=market, quoted_at=now)
                for market, value in zip(KEYS, values, strict=True)
                if value is not None
            ]
            observation = life.observe(found, set(KEYS), now)
        for alert in observation.alerts:
            occurrence = (alert.key, alert.state.first_seen)
            if alert.reason is GONE:
                assert occurrence in alerted_occurrence
                continue
            previous = last_alert.get(alert.key)
            if previous is not None and alert.reason is not IMPROVED:
                assert now - previous >= config.repeat
            last_alert[alert.key] = now
            alerted_occurrence.add(occurrence)
    assert len(life) <= len(KEYS)


def test_summary_names_event_market_and_legs() -> None:
    assert (
        summarize(arb(0.02, books=("a", "b")))
        == "Lakers @ Celtics · Moneyline · Celtics (a) / Lakers (b)"
    )


# --- min_duration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "steps", "expected"),
    [
        pytest.param(
            rule(min_duration=0.3, gone=True),
            [(0, 0.02), (0.1, 0.02), (0.2, None)],
            [None, None, None],
            id="a-blink-is-never-sent-nor-its-gone",
        ),
        pytest.param(
            rule(min_duration=0.3, gone=True),
            [(0, 0.02), (0.29, 0.02), (0.3, 0.025), (0.5, None)],
            [None, None, NEW, GONE],
            id="alerted-once-it-lasted-with-the-latest-value-then-gone",
        ),
        pytest.param(
            rule(min_duration=0.3, improve_by=0.005),
            [(0, 0.02), (0.3, 0.02), (0.4, 0.03)],
            [None, NEW, IMPROVED],
            id="improvements-after-the-first-alert-are-not-held",
        ),
        pytest.param(
            rule(min_duration=0.3, repeat=600),
            [(0, 0.02), (0.3, 0.02), (1, None), (2, 0.02), (2.1, 0.02), (2.4, 0.02)],
            [None, NEW, None, None, None, None],
            id="back-within-repeat-stays-quiet",
        ),
        pytest.param(
            rule(min_duration=0.3, repeat=1, improve_by=0.0),
            [(0, 0.02), (0.3, 0.02), (1, None), (5, 0.02), (5.2, 0.02), (5.3, 0.02)],
            [None, NEW, None, None, None, NEW],
            id="a-new-occurrence-is-held-again",
        ),
    ],
)
def test_min_duration_table(
    config: RuleConfig, steps: list[Step], expected: list[AlertReason | None]
) -> None:
    assert run(config, steps) == expected


def test_a_held_opportunity_is_alerted_by_expire_with_no_new_price() -> None:
    config = rule(min_duration=0.5)
    life = Lifecycle([config])
    assert life.next_due() is None
    assert life.observe([match(config, 0.02)], {ML}, NOW).alerts == []
    assert life.next_due() == NOW + 0.5
    assert life.expire(NOW + 0.49).alerts == []
    (alert,) = life.expire(NOW + 0.5).alerts
    assert (alert.reason, alert.value, alert.at) == (NEW, 0.02, NOW + 0.5)
    assert life.next_due() is None
    assert life.expire(NOW + 0.6).alerts == []


def test_a_held_opportunity_that_ends_is_no_longer_due() -> None:
    config = rule(min_duration=0.5, gone=True)
    life = Lifecycle([config])
    life.observe([match(config, 0.02)], {ML}, NOW)
    observation = life.observe([], {ML}, NOW + 0.2)
    assert observation.alerts == []
    assert life.next_due() is None
    assert life.expire(NOW + 1.0).alerts == []


def test_an_occurrence_that_begins_as_the_last_one_repeats_is_not_gone_unalerted() -> None:
    # Found by the property above: a REPEAT at t=30, the opportunity gone and back within
    # that instant (not alerted again: the repeat interval runs from the REPEAT), then gone
    # again. Only the alerted occurrence may have a GONE.
    config = rule(repeat=30.0, improve_by=0.0, gone=True, max_quote_age=120.0, min_duration=0.0)
    life = Lifecycle([config])
    first = life.observe([match(config, 0.02, market=OTHER, quoted_at=NOW)], {OTHER}, NOW)
    assert [alert.reason for alert in first.alerts] == [NEW]
    later = NOW + 30
    assert [alert.reason for alert in life.expire(later).alerts] == [REPEAT]
    assert [alert.reason for alert in life.observe([], {OTHER}, later).alerts] == [GONE]
    back = life.observe([match(config, 0.02, market=OTHER, quoted_at=later)], {OTHER}, later)
    assert back.alerts == []
    assert life.observe([], {OTHER}, later).alerts == []
