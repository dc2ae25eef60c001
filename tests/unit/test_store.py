"""The SQLite store, on real files: round trips, restarts without repeats, history."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from arbwatch.core.clv import AlertedPrice, Close, ClvRecord
from arbwatch.core.dedup import AlertReason, Lifecycle, Observation
from arbwatch.core.devig import DevigMethod
from arbwatch.core.markets import AWAY, HOME, Event, PriceUpdate, moneyline, player_prop, spread
from arbwatch.core.matrix import PriceMatrix
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.core.rules import Match, RuleSet
from arbwatch.store import (
    SCHEMA_VERSION,
    STATE_FILE,
    HistoryRow,
    Store,
    StoreError,
    format_history,
    history_lines,
)

NOW = 1_700_000_000.0
GAME = Event("g1", sport="NBA", home="Celtics", away="Lakers", starts_at=NOW + 86_400)
ML = moneyline("g1")
SPREAD, _ = spread("g1", HOME, -3.5)
PROP = player_prop("g1", "Jayson Tatum", "points", 27.5)
UTC = ZoneInfo("UTC")


def rule(name: str = "arbs", **fields: Any) -> RuleConfig:
    fields.setdefault("kind", "arbitrage")
    fields.setdefault("notify", ("phone",))
    fields.setdefault("max_quote_age", 1e9)
    fields.setdefault("min_duration", 0.0)  # alerted at first sight
    return RuleConfig(name=name, **fields)


def matches(rules: RuleSet, *markets: Any, home: float = 2.10, at: float = NOW) -> list[Match]:
    """What ``rules`` find when every market in ``markets`` is an arbitrage."""
    matrix = PriceMatrix()
    matrix.set_event(GAME)
    matrix.apply(
        update
        for market in markets
        for update in (
            PriceUpdate(market, HOME, "draftkings", home, at),
            PriceUpdate(market, AWAY, "fanduel", 2.05, at),
        )
    )
    return rules.evaluate(matrix.block(), at)


def tables(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [name for (name,) in rows]


# --- opening --------------------------------------------------------------------------------


def test_open_creates_directory_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deeper" / STATE_FILE
    with Store(path) as store:
        assert store.path == path
        assert store.load_states(NOW, 600.0) == []
        assert store.history() == []
    assert tables(path) == ["alerts", "clv", "conditions", "decided", "deliveries", "occurrences"]
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_schema_is_created_once_and_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    config = rule()
    with Store(path) as store:
        store.save(Lifecycle([config]).observe(matches(RuleSet([config]), ML), {ML}, NOW))
    with Store(path) as store:
        assert len(store.load_states(NOW, 600.0)) == 1
    assert tables(path) == ["alerts", "clv", "conditions", "decided", "deliveries", "occurrences"]


def test_two_stores_on_one_file_both_write_and_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    config = rule()
    with Store(path) as first, Store(path) as second:
        first.save(Lifecycle([config]).observe(matches(RuleSet([config]), ML), {ML}, NOW))
        second.record_delivery("k", "phone", ok=True, at=NOW)
        assert len(second.history()) == 1
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT key, channel, ok FROM deliveries").fetchall() == [
            ("k", "phone", 1)
        ]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer arbwatch"):
        Store(path)
    with pytest.raises(StoreError, match="newer arbwatch"):
        Store(path, read_only=True)


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the state database"):
        Store(blocker / STATE_FILE)


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError, match="state database"):
        Store(path)


def test_read_only_store_of_a_new_file_is_empty_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    sqlite3.connect(path).close()  # an empty file, as a crash before the schema leaves
    with Store(path, read_only=True) as store:
        assert store.history() == []
        assert store.load_states(NOW, 600.0) == []
    assert tables(path) == []


# --- states ---------------------------------------------------------------------------------


def test_states_round_trip(tmp_path: Path) -> None:
    ev = rule("ev", kind="positive_ev", sharp=("pinnacle",))
    arbs = rule("arbs", gone=True)
    rules = RuleSet([arbs, ev])
    life = Lifecycle([arbs, ev])
    found = matches(rules, ML, SPREAD, PROP)
    first = life.observe(found, {ML, SPREAD, PROP}, NOW)
    gone = life.observe([m for m in found if m.opportunity.market != PROP], {PROP}, NOW + 5)
    with Store(tmp_path / STATE_FILE) as store:
        store.save(first)
        store.save(gone)
        restored = store.load_states(NOW + 5, 600.0)
    expected = {s.key: s for s in [*first.changed, *gone.changed]}
    assert {s.key: s for s in restored} == expected
    assert {s.market for s in restored} == {ML, SPREAD, PROP}
    assert sum(not s.active for s in restored) == 1


def test_load_states_keeps_active_and_recently_ended_latest_occurrence(tmp_path: Path) -> None:
    config = rule(repeat=600)
    life = Lifecycle([config])
    rules = RuleSet([config])
    with Store(tmp_path / STATE_FILE) as store:
        store.save(life.observe(matches(rules, ML), {ML}, NOW))
        store.save(life.observe([], {ML}, NOW + 10))  # ends
        store.save(life.observe(matches(rules, ML), {ML}, NOW + 20))  # a second occurrence
        store.save(life.observe(matches(rules, SPREAD), {SPREAD}, NOW + 30))
        store.save(life.observe([], {SPREAD}, NOW + 40))
        store.save(life.observe([], {ML}, NOW + 1000))

        recent = store.load_states(NOW + 1000, horizon=600.0)
        assert [(s.market, s.first_seen, s.active) for s in recent] == [(ML, NOW + 20, False)]
        longer = store.load_states(NOW + 1000, horizon=1000.0)
        assert sorted((s.first_seen, s.active) for s in longer) == [
            (NOW + 20, False),
            (NOW + 30, False),
        ]


def test_save_of_an_empty_observation_writes_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / STATE_FILE) as store:
        store.save(Observation())
        assert store.history() == []


def test_restart_does_not_alert_again(tmp_path: Path) -> None:
    config = rule(repeat=600, gone=True)
    rules = RuleSet([config])
    path = tmp_path / STATE_FILE
    with Store(path) as store:
        life = Lifecycle([config], store.load_states(NOW, 600.0))
        first = life.observe(matches(rules, ML, SPREAD), {ML, SPREAD}, NOW)
        assert [a.reason for a in first.alerts] == [AlertReason.NEW, AlertReason.NEW]
        store.save(first)
        # SPREAD goes and comes back within the interval: never alerted twice.
        store.save(life.observe(matches(rules, ML), {ML, SPREAD}, NOW + 10))

    # The daemon restarts; the same arbitrages are found again.
    with Store(path) as store:
        life = Lifecycle([config], store.load_states(NOW + 60, 600.0))
        again = life.observe(matches(rules, ML, SPREAD, at=NOW + 60), {ML, SPREAD}, NOW + 60)
        assert again.alerts == []
        store.save(again)
        # Both still there one interval after their first alert.
        later = life.observe(matches(rules, ML, SPREAD, at=NOW + 600), {ML, SPREAD}, NOW + 600)
        assert [a.reason for a in later.alerts] == [AlertReason.REPEAT, AlertReason.REPEAT]


def test_restart_after_a_crash_ends_what_went_stale_meanwhile(tmp_path: Path) -> None:
    config = rule(max_quote_age=60, gone=True)
    path = tmp_path / STATE_FILE
    with Store(path) as store:
        store.save(Lifecycle([config]).observe(matches(RuleSet([config]), ML), {ML}, NOW))
    with Store(path) as store:
        life = Lifecycle([config], store.load_states(NOW + 3600, 600.0))
        expired = life.expire(NOW + 3600)
        store.save(expired)
        # Ended when its quotes went stale, and suspended, not GONE: no price moved.
        assert expired.alerts == []
        assert len(expired.suspended) == 1
        (row,) = store.history()
    assert (row.ended_at, row.lasted, row.alerts) == (NOW + 60, 60.0, 1)


def test_prune_deletes_what_ended_before_the_cutoff_with_its_alerts(tmp_path: Path) -> None:
    config = rule(gone=True)
    rules = RuleSet([config])
    life = Lifecycle([config])
    day = 86_400.0
    with Store(tmp_path / STATE_FILE) as store:
        store.save(life.observe(matches(rules, ML), {ML}, NOW))
        store.save(life.observe([], {ML}, NOW + 10))  # ML ends on day 0
        store.save(life.observe(matches(rules, SPREAD), {SPREAD}, NOW + 20))  # still active
        store.save(life.observe(matches(rules, PROP, at=NOW + 5 * day), {PROP}, NOW + 5 * day))
        store.save(life.observe([], {PROP}, NOW + 5 * day + 10))  # PROP ends on day 5
        store.record_delivery("old", "phone", ok=True, at=NOW)
        store.record_delivery("new", "phone", ok=True, at=NOW + 5 * day)

        assert store.prune(NOW + 1 * day) == 1
        summaries = [row.summary.split(" · ")[1] for row in store.history()]
        assert summaries == ["Jayson Tatum points 27.5", "Spread -3.5"]
        # The active SPREAD stays however old it gets; PROP goes once past the cutoff.
        assert store.prune(NOW + 30 * day) == 1
        assert [row.active for row in store.history()] == [True]
        assert store.prune(NOW + 30 * day) == 0
    with closing(sqlite3.connect(tmp_path / STATE_FILE)) as db:
        alerts = db.execute("SELECT key FROM alerts").fetchall()
        deliveries = db.execute("SELECT key FROM deliveries").fetchall()
    assert len(alerts) == 1  # SPREAD's new alert; ML's and PROP's (new, gone) went with them
    assert deliveries == []


def test_prune_of_a_database_with_no_schema_yet_does_nothing(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    sqlite3.connect(path).close()  # an empty file, as a crash before the schema leaves
    with Store(path, read_only=True) as store:
        assert store.prune(NOW) == 0
    assert tables(path) == []


# --- history --------------------------------------------------------------------------------


def test_history_newest_first_with_alert_counts_and_rule_filter(tmp_path: Path) -> None:
    arbs, other = rule("arbs", repeat=60, gone=True), rule("other", min_value=0.5)
    rules = RuleSet([arbs, other])
    life = Lifecycle([arbs, other])
    with Store(tmp_path / STATE_FILE) as store:
        store.save(life.observe(matches(rules, ML), {ML}, NOW))
        store.save(life.observe(matches(rules, ML, home=2.3), {ML}, NOW + 30))  # improved
        store.save(life.observe(matches(rules, ML, home=2.3), {ML}, NOW + 90))  # repeat
        store.save(life.observe(matches(rules, SPREAD), {ML, SPREAD}, NOW + 100))  # ML gone
        rows = store.history()
        assert [(r.rule, r.summary.split(" · ")[1], r.active) for r in rows] == [
            ("arbs", "Spread -3.5", True),
            ("arbs", "Moneyline", False),
        ]
        spread_row, ml_row = rows
        assert ml_row.alerts == 4  # new, improved, repeat, gone
        assert ml_row.best_value == pytest.approx(1 / (1 / 2.3 + 1 / 2.05) - 1)
        assert (ml_row.first_seen, ml_row.last_seen, ml_row.ended_at) == (NOW, NOW + 90, NOW + 100)
        assert ml_row.lasted == 100.0
        assert (spread_row.alerts, spread_row.lasted) == (1, 0.0)
        assert store.history(limit=1) == [spread_row]
        assert store.history(rule="other") == []
        assert store.history(rule="arbs") == rows


def row(**fields: Any) -> HistoryRow:
    base: dict[str, Any] = {
        "rule": "nba-arbs",
        "kind": "arbitrage",
        "summary": "Lakers @ Celtics · Moneyline · Celtics (dk) / Lakers (fd)",
        "first_seen": NOW,
        "last_seen": NOW + 130,
        "ended_at": NOW + 133,
        "best_value": 0.0214,
        "alerts": 2,
    }
    return HistoryRow(**{**base, **fields})


def test_format_history_table() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    lines = format_history(
        [
            row(clv_pending=1),
            row(
                rule="ev",
                kind="positive_ev",
                ended_at=None,
                last_seen=NOW + 7300,
                alerts=1,
                clv=(ClvRecord(alerted_price(), NOW + 9000, 0.5, 0.05),),
            ),
        ],
        NOW + 3 * 86_400 + 3600,
        tokyo,
    )
    assert lines == [
        "FIRST SEEN             AGO          LASTED  RULE      KIND    BEST  ALERTS  CLV      WHAT",
        "2023-11-15 07:13:20  3d 1h          2m 13s  nba-arbs  ARB   +2.14%       2  pending  "
        "Lakers @ Celtics · Moneyline · Celtics (dk) / Lakers (fd)",
        "2023-11-15 07:13:20  3d 1h  2h 01m, active  ev        EV    +2.14%       1  +5.00%   "
        "Lakers @ Celtics · Moneyline · Celtics (dk) / Lakers (fd)",
        "times in Asia/Tokyo; newest first",
    ]


def alerted_price(**fields: Any) -> AlertedPrice:
    base: dict[str, Any] = {
        "key": "k",
        "rule": "ev",
        "kind": "positive_ev",
        "book": "DraftKings",
        "market": ML,
        "outcome": HOME,
        "label": "Celtics",
        "price": 2.1,
        "alerted_at": NOW,
        "starts_at": NOW + 3600,
        "close": Close(("Pinnacle",), DevigMethod.WORST_CASE),
    }
    return AlertedPrice(**{**base, **fields})


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45.9, "45s"),
        (133, "2m 13s"),
        (3600 + 300, "1h 05m"),
        (2 * 86_400 + 3 * 3600, "2d 3h"),
    ],
)
def test_durations(seconds: float, text: str) -> None:
    (line,) = format_history([row(ended_at=NOW + seconds)], NOW, UTC)[1:2]
    assert f"  {text}  " in line


def test_history_lines(tmp_path: Path) -> None:
    (missing,) = history_lines(tmp_path / "nowhere", 50, None, NOW, UTC)
    assert missing.startswith("No history yet:")
    assert not (tmp_path / "nowhere").exists()

    config = rule()
    with Store(tmp_path / STATE_FILE) as store:
        assert history_lines(tmp_path, 50, None, NOW, UTC) == ["No opportunities recorded yet."]
        store.save(Lifecycle([config]).observe(matches(RuleSet([config]), ML), {ML}, NOW))
        # Read while the writer is open, as while the daemon runs.
        lines = history_lines(tmp_path, 50, None, NOW + 60, UTC)
    assert len(lines) == 3
    assert "Moneyline" in lines[1]
    assert history_lines(tmp_path, 50, "other", NOW, UTC) == [
        "No opportunities recorded yet for rule 'other'."
    ]
