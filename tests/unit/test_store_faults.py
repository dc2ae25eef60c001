"""The state database under faults, on real files: full, read-only, corrupt; the notification log.

A full disk is made two ways: SQLite's own limit (``PRAGMA max_page_count``, which fails
with "database or disk is full" exactly as a full disk does) and a real small tmpfs filled
to the last byte; read-only is a tmpfs remounted read-only, which stops root too. The
tmpfs tests skip, saying why, where mounting is not permitted.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from arbwatch.core.dedup import Lifecycle, Observation
from arbwatch.core.rules import RuleSet
from arbwatch.store import STATE_FILE, Decision, Store, StoreError, open_store
from arbwatch.store_guard import StoreGuard
from tests.mounts import fill, remount, small_tmpfs
from tests.unit.test_store import ML, NOW, PROP, SPREAD, matches, rule

pytestmark = pytest.mark.faults


def observation(*markets: object, at: float = NOW) -> Observation:
    """An observation with one new alert per market, as the daemon saves it."""
    config = rule()
    return Lifecycle([config]).observe(matches(RuleSet([config]), *markets, at=at), set(), at)


def decision(channel: str, key: str = "k1", found_at: float = NOW, body: str = "body") -> Decision:
    return Decision(channel, key, "arbs", f"ARB {key}", body, found_at, found_at)


#: A message body that needs pages of its own: with the file at its page limit, it cannot fit.
BIG = "x" * 20_000


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


# --- the notification log ---------------------------------------------------------------------


def test_decisions_are_saved_with_their_alert_and_settled_one_by_one(tmp_path: Path) -> None:
    with Store(tmp_path / STATE_FILE) as store:
        ids = store.save(observation(ML), [decision("phone"), decision("team")])
        assert len(set(ids)) == 2
        assert [d.channel for d in store.unsettled()] == ["phone", "team"]
        store.record_delivery("k1", "phone", ok=True, at=NOW + 1, decision=ids[0])
        (left,) = store.unsettled()
        assert (left.channel, left.id, left.title, left.found_at) == ("team", ids[1], "ARB k1", NOW)
        store.settle([ids[1]], NOW + 2, "not sent: stale")
        assert store.unsettled() == []
    with closing(sqlite3.connect(tmp_path / STATE_FILE)) as db:
        rows = db.execute("SELECT channel, ok, detail FROM deliveries ORDER BY id").fetchall()
    assert rows == [("phone", 1, ""), ("team", 0, "not sent: stale")]


def test_a_failed_save_leaves_neither_the_alert_nor_its_decisions(tmp_path: Path) -> None:
    """One transaction: an alert saved as alerted always has its deliveries to make."""
    with Store(tmp_path / STATE_FILE) as store:
        store.save(observation(ML))
        store._db.execute("PRAGMA max_page_count = 1")  # SQLite's own "disk full"
        with pytest.raises(StoreError, match="database or disk is full") as raised:
            store.save(observation(SPREAD, PROP), [decision("phone", "k2", body=BIG)])
        assert not raised.value.broken
        assert store.unsettled() == []
        assert len(store.load_states(NOW, 600.0)) == 1
        store._db.execute("PRAGMA max_page_count = 1000000")  # space is back
        store.save(observation(SPREAD, PROP), [decision("phone", "k2")])
        assert [d.key for d in store.unsettled()] == ["k2"]
        assert len(store.load_states(NOW, 600.0)) == 3


def test_prune_forgets_old_decisions(tmp_path: Path) -> None:
    with Store(tmp_path / STATE_FILE) as store:
        store.save(observation(ML), [decision("phone", "old")])
        store.save(observation(SPREAD, at=NOW + 100), [decision("phone", "new", NOW + 100)])
        store.prune(NOW + 50)
        assert [d.key for d in store.unsettled()] == ["new"]


# --- a broken file at start -------------------------------------------------------------------


def test_garbage_is_moved_aside_kept_and_named(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    garbage = b"this is not SQLite" * 1000
    path.write_bytes(garbage)
    store, moved = open_store(path, NOW)
    with store:
        store.save(observation(ML))
        assert len(store.load_states(NOW, 600.0)) == 1
    assert moved is not None
    aside = tmp_path / f"{STATE_FILE}.broken-20231114T221320Z"
    assert str(aside) in moved
    assert "file is not a database" in moved
    assert "\n" not in moved
    assert aside.read_bytes() == garbage


def test_zeroed_pages_are_found_at_start_and_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    with Store(path) as store:
        for n in range(300):
            store.save(observation(ML, at=NOW + n), [decision("phone", f"k{n}", NOW + n)])
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all in the file
    data = bytearray(path.read_bytes())
    assert len(data) > 8 * 4096
    data[3 * 4096 : 8 * 4096] = bytes(5 * 4096)
    path.write_bytes(data)
    store, moved = open_store(path, NOW)
    with store:
        assert store.unsettled() == []
    assert moved is not None
    assert "malformed" in moved or "corrupt" in moved
    assert (tmp_path / f"{STATE_FILE}.broken-20231114T221320Z").read_bytes() == data


def test_a_sound_file_is_never_moved(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    with Store(path) as store:
        store.save(observation(ML))
    store, moved = open_store(path, NOW)
    with store:
        assert len(store.load_states(NOW, 600.0)) == 1
    assert moved is None
    assert sorted(p.name for p in tmp_path.iterdir() if "broken" in p.name) == []


def test_a_newer_schema_is_refused_not_moved(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer arbwatch"):
        open_store(path, NOW)
    assert path.exists()


# --- a full or read-only disk (real tmpfs) ----------------------------------------------------


def save_until_refused(store: Store) -> StoreError:
    """Save alerts until the disk refuses one (the WAL's free room ends well before 200)."""
    for n in range(1, 200):
        try:
            store.save(observation(ML, at=NOW + n), [decision("phone", f"k{n}")])
        except StoreError as error:
            return error
    raise AssertionError("200 saves fitted on a full disk")


def test_a_full_disk_fails_writes_and_they_resume_when_space_returns(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk") as disk:
        with Store(disk / STATE_FILE) as store:
            store.save(observation(ML))
            filler = fill(disk)
            refused = save_until_refused(store)
            assert "database or disk is full" in str(refused)
            assert not refused.broken
            filler.unlink()
            store.save(observation(SPREAD), [decision("phone", "after")])
            assert store.unsettled()[-1].key == "after"
        # Still sound: opened again without being moved aside.
        store, moved = open_store(disk / STATE_FILE, NOW)
        store.close()
        assert moved is None


def test_a_read_only_directory_is_refused_and_nothing_moved(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk") as disk:
        with Store(disk / STATE_FILE) as store:
            store.save(observation(ML))
        remount(disk, read_only=True)
        with pytest.raises(StoreError) as raised:
            open_store(disk / STATE_FILE, NOW)
        assert "is on a read-only file system" in str(raised.value)
        assert sorted(p.name for p in disk.iterdir()) == [STATE_FILE]
        remount(disk, read_only=False)
        store, moved = open_store(disk / STATE_FILE, NOW)
        with store:
            assert len(store.load_states(NOW, 600.0)) == 1
        assert moved is None


# --- the guard: counted, logged sparingly, resumed ---------------------------------------------


def failing(guard: StoreGuard) -> bool:
    """Whether the guard is in a spell of failures (read afresh, not narrowed by mypy)."""
    return guard.failing_since is not None


def test_guard_counts_failures_logs_once_and_says_when_writes_resume(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    guard = StoreGuard(tmp_path / STATE_FILE, clock)
    big = decision("phone", body=BIG)
    with guard:
        store = guard.store
        assert store is not None
        store._db.execute("PRAGMA max_page_count = 1")  # SQLite's "disk full"
        with caplog.at_level(logging.ERROR, "arbwatch.store_guard"):
            for n in range(50):
                clock.now = NOW + n
                saved = guard.use("record alerts", lambda s: s.save(observation(ML), [big]))
                assert saved is None
        assert guard.failures == 50
        assert guard.failing_since == NOW
        assert "database or disk is full" in guard.last_error
        assert len(caplog.records) == 1
        caplog.clear()
        with caplog.at_level(logging.ERROR, "arbwatch.store_guard"):
            clock.now = NOW + 61
            guard.use("record alerts", lambda s: s.save(observation(ML), [big]))
        assert "(49 more writes failed)" in caplog.text
        store._db.execute("PRAGMA max_page_count = 1000000")  # space is back
        caplog.clear()
        with caplog.at_level(logging.WARNING, "arbwatch.store_guard"):
            assert guard.use("record alerts", lambda s: s.save(observation(ML), [big])) == [1]
        assert not failing(guard)
        assert "written again after 51 failed writes" in caplog.text


def test_guard_runs_without_a_store_until_the_directory_is_writable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    with small_tmpfs(tmp_path / "disk") as disk:
        remount(disk, read_only=True)
        guard = StoreGuard(disk / "state" / STATE_FILE, clock, retry_interval=10.0)
        with caplog.at_level(logging.INFO, "arbwatch.store_guard"), guard:
            assert guard.store is None
            assert guard.use("record alerts", lambda s: s.save(observation(ML))) is None
            assert guard.failures == 2  # the open, then the write
            assert guard.failing_since == NOW
            (line,) = caplog.messages
            assert "Read-only file system" in line
            assert "running without it" in line
            remount(disk, read_only=False)
            clock.now = NOW + 5
            assert guard.reopen_if_due() is None  # not yet: every 10 s
            clock.now = NOW + 10
            assert guard.reopen_if_due() is not None
            assert not failing(guard)
            assert "opened: writing resumes" in caplog.text
            assert guard.use("record alerts", lambda s: s.save(observation(ML))) == []
