"""Health conditions in the state database: kept, forgotten, and added to an old file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from arbwatch.core.conditions import Condition, HealthLifecycle, HealthReason
from arbwatch.store import STATE_FILE, Store

NOW = 1_700_000_000.0
FAILING = Condition(
    key="channel_failing:phone",
    subject="phone",
    delay=0.0,
    title="arbwatch: channel phone failing",
    body="HTTP 500 from the server",
    recovered="arbwatch: channel phone works again",
    exclude=("phone",),
)


def test_a_condition_alerted_before_a_restart_comes_back_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    watch = HealthLifecycle(recovery=30, repeat=3600)
    with Store(path) as store:
        step = watch.step([FAILING], {"phone"}, NOW)
        store.save_conditions(step)
        assert [alert.reason for alert in step.alerts] == [HealthReason.RAISED]
    with Store(path) as store:
        restored = store.load_conditions()
    assert restored == watch.states()
    again = HealthLifecycle(recovery=30, repeat=3600, states=restored)
    assert again.step([FAILING], {"phone"}, NOW + 60).alerts == []


def test_a_recovered_condition_is_deleted(tmp_path: Path) -> None:
    watch = HealthLifecycle(recovery=0, repeat=0)
    with Store(tmp_path / STATE_FILE) as store:
        store.save_conditions(watch.step([FAILING], {"phone"}, NOW))
        step = watch.step([], {"phone"}, NOW + 1)
        store.save_conditions(step)
        assert [alert.reason for alert in step.alerts] == [HealthReason.RECOVERED]
        assert store.load_conditions() == []


def test_a_database_of_schema_1_gets_the_conditions_table(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    with Store(path):
        pass
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE conditions")
    with Store(path) as store:
        assert store.load_conditions() == []
        store.save_conditions(HealthLifecycle(recovery=0, repeat=0).step([FAILING], set(), NOW))
        assert len(store.load_conditions()) == 1
