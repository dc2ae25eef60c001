"""The soak's bookkeeping: its fault schedule and how it tells a duplicated alert."""

from __future__ import annotations

from tests.soak import Alert, duplicates, schedule

BODY = (
    "Celtics  +110 @ Pinnacle  stake $494  (quote {age}s old)\n"
    "Tue 14 Jan · starts in {start}\n"
    "rule arbs"
)
TITLE = "ARB +3.73% · NBA · Lakers @ Celtics · Moneyline"


def alert(at: float, *, age: int = 4, start: str = "2h", title: str = TITLE) -> Alert:
    return Alert(at, "/phone", title, BODY.format(age=age, start=start))


def test_the_same_seed_gives_the_same_schedule_with_kills_in_the_second_half() -> None:
    faults = schedule(10.0, seed=1)
    assert faults == schedule(10.0, seed=1)
    assert faults != schedule(10.0, seed=2)
    kills = [fault.at for fault in faults if fault.kind == "kill"]
    assert len(kills) == 2
    assert all(300.0 <= at <= 570.0 for at in kills)
    assert abs(kills[0] - kills[1]) >= 60.0
    assert {fault.kind for fault in faults} == {"drop", "sighup", "edit", "kill"}
    assert all(10.0 <= fault.at <= 580.0 for fault in faults)


def test_an_alert_again_with_other_ages_is_a_duplicate() -> None:
    alerts = [alert(10.0), alert(30.0, age=20, start="1h 59m")]
    assert duplicates(alerts, kills=[]) == (1, {})


def test_a_gone_between_makes_the_return_a_new_alert() -> None:
    gone = Alert(20.0, "/phone", "GONE · ARB +3.73% · NBA · Lakers @ Celtics · Moneyline",
                 "Lasted 10s · best +3.73%\nrule arbs")  # fmt: skip
    assert duplicates([alert(10.0), gone, alert(30.0)], kills=[]) == (0, {})


def test_a_resend_after_a_kill_is_counted_apart_and_a_later_one_is_a_duplicate() -> None:
    kills = [(100.0, 105.0)]
    plain, resent = duplicates([alert(90.0), alert(110.0), alert(400.0)], kills)
    assert (plain, dict(resent)) == (1, {1: 1})


def test_other_values_games_and_channels_are_other_alerts() -> None:
    other_channel = Alert(11.0, "/mail", TITLE, BODY.format(age=4, start="2h"))
    alerts = [alert(10.0), alert(12.0, title=TITLE.replace("3.73", "3.80")), other_channel]
    assert duplicates(alerts, kills=[]) == (0, {})
