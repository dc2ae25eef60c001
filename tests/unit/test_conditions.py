"""The health-condition lifecycle: delays, one alert per condition, recovery, restarts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from arbwatch.core.conditions import (
    Condition,
    ConditionState,
    HealthLifecycle,
    HealthReason,
    format_duration,
)

NOW = 1_700_000_000.0
RAISED, REPEAT, RECOVERED = HealthReason.RAISED, HealthReason.REPEAT, HealthReason.RECOVERED


def down(delay: float = 60.0, feed: str = "rapid") -> Condition:
    return Condition(
        key=f"feed_down:{feed}",
        subject=feed,
        delay=delay,
        title=f"arbwatch: feed {feed} down",
        body="Not connected.",
        recovered=f"arbwatch: feed {feed} back up",
    )


def life(recovery: float = 30.0, repeat: float = 3600.0) -> HealthLifecycle:
    return HealthLifecycle(recovery=recovery, repeat=repeat)


def reasons(lifecycle: HealthLifecycle, held: list[Condition], at: float) -> list[HealthReason]:
    subjects = {"rapid", "rundown"}
    return [alert.reason for alert in lifecycle.step(held, subjects, at).alerts]


def test_a_condition_is_raised_once_it_has_held_for_its_delay() -> None:
    watch = life()
    assert reasons(watch, [down()], NOW) == []
    assert reasons(watch, [down()], NOW + 59) == []
    (alert,) = watch.step([down()], {"rapid"}, NOW + 60).alerts
    assert (alert.reason, alert.title, alert.body) == (
        RAISED,
        "arbwatch: feed rapid down",
        "Not connected.",
    )
    assert reasons(watch, [down()], NOW + 61) == []


def test_a_zero_delay_raises_at_once() -> None:
    assert reasons(life(), [down(delay=0)], NOW) == [RAISED]


def test_a_short_outage_says_nothing() -> None:
    watch = life()
    reasons(watch, [down()], NOW)
    assert reasons(watch, [], NOW + 20) == []
    assert reasons(watch, [], NOW + 50) == []  # clear for 30 s: forgotten
    assert watch.states() == []
    assert reasons(watch, [down()], NOW + 100) == []  # a new outage starts its own delay
    assert reasons(watch, [down()], NOW + 159) == []
    assert reasons(watch, [down()], NOW + 160) == [RAISED]


def test_a_flapping_feed_is_one_alert_counted_from_its_first_fall() -> None:
    watch = life()
    alerts = []
    # Down 10 s, up 10 s, for ten minutes: never clear for the recovery's 30 s.
    for second in range(0, 600, 10):
        held = [down()] if (second // 10) % 2 == 0 else []
        alerts += reasons(watch, held, NOW + second)
    assert alerts == [RAISED]
    (state,) = watch.raised()
    assert state.since == NOW
    # It last went up at 590 and stays up: one recovery, 30 s later.
    assert reasons(watch, [], NOW + 600) == []
    assert reasons(watch, [], NOW + 619) == []
    assert reasons(watch, [], NOW + 620) == [RECOVERED]
    assert watch.states() == []


def test_recovery_tells_how_long_it_lasted() -> None:
    watch = life()
    watch.step([down()], {"rapid"}, NOW)
    watch.step([down()], {"rapid"}, NOW + 60)
    watch.step([], {"rapid"}, NOW + 120)
    (alert,) = watch.step([], {"rapid"}, NOW + 150).alerts
    assert alert.title == "arbwatch: feed rapid back up"
    assert alert.body == "It lasted 2m."


def test_a_lasting_condition_is_repeated_at_the_interval_and_not_before() -> None:
    watch = life(repeat=3600)
    watch.step([down(delay=0)], {"rapid"}, NOW)
    assert reasons(watch, [down(delay=0)], NOW + 3599) == []
    (alert,) = watch.step([down(delay=0)], {"rapid"}, NOW + 3600).alerts
    assert (alert.reason, alert.title) == (REPEAT, "arbwatch: feed rapid down (still)")
    assert reasons(watch, [down(delay=0)], NOW + 7199) == []


def test_repeat_zero_never_reminds() -> None:
    watch = life(repeat=0)
    watch.step([down(delay=0)], {"rapid"}, NOW)
    assert reasons(watch, [down(delay=0)], NOW + 1e6) == []


def test_an_unknown_subject_neither_recovers_nor_is_forgotten() -> None:
    watch = life()
    watch.step([down(delay=0)], {"rapid"}, NOW)
    # The feed is (re)connecting: its status is not known yet.
    assert watch.step([], set(), NOW + 1000).alerts == []
    assert len(watch.raised()) == 1
    assert reasons(watch, [], NOW + 1001) == []
    assert reasons(watch, [], NOW + 1031) == [RECOVERED]


def test_a_restart_does_not_raise_again_and_tells_a_recovery_that_happened_meanwhile() -> None:
    before = life()
    step = before.step([down(delay=0)], {"rapid"}, NOW)
    (saved,) = step.changed
    # Restarted, the feed still down: no second alert.
    still = HealthLifecycle(recovery=30, repeat=3600, states=[saved])
    assert reasons(still, [down(delay=0)], NOW + 600) == []
    # Restarted, the feed back up: the recovery is told.
    healed = HealthLifecycle(recovery=30, repeat=3600, states=[saved])
    assert reasons(healed, [], NOW + 600) == []
    assert reasons(healed, [], NOW + 630) == [RECOVERED]


def test_each_condition_keeps_its_channels_excluded() -> None:
    failing = Condition(
        key="channel_failing:phone",
        subject="phone",
        delay=0,
        title="arbwatch: channel phone failing",
        body="HTTP 500",
        recovered="arbwatch: channel phone works again",
        exclude=("phone",),
    )
    watch = life(recovery=0)
    (raised,) = watch.step([failing], {"phone"}, NOW).alerts
    (recovered,) = watch.step([], {"phone"}, NOW + 1).alerts
    assert raised.exclude == recovered.exclude == ("phone",)


def test_the_store_hears_of_changes_and_forgettings() -> None:
    watch = life(recovery=0)
    first = watch.step([down(delay=0)], {"rapid"}, NOW)
    assert [state.raised_at for state in first.changed] == [NOW]
    assert watch.step([down(delay=0)], {"rapid"}, NOW + 1).changed == []
    last = watch.step([], {"rapid"}, NOW + 2)
    assert (last.changed, last.forgotten) == ([], ["feed_down:rapid"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=200))
def test_raised_and_recovered_alternate(pattern: list[bool]) -> None:
    watch = life(recovery=3, repeat=0)
    seen = []
    for second, held in enumerate(pattern + [False] * 5):
        seen += reasons(watch, [down(delay=2)] if held else [], NOW + second)
    assert seen == [RAISED, RECOVERED] * (len(seen) // 2)
    assert watch.states() == []


def test_a_state_from_the_store_is_the_state_given() -> None:
    state = ConditionState(down(), since=NOW, raised_at=NOW + 60)
    assert HealthLifecycle(recovery=1, repeat=1, states=[state]).raised() == [state]


def test_durations_are_short() -> None:
    assert [format_duration(s) for s in (0.4, 42, 120, 125, 3780, 7200, 2 * 86400 + 4 * 3600)] == [
        "0s",
        "42s",
        "2m",
        "2m 05s",
        "1h 03m",
        "2h",
        "2d 4h",
    ]
