"""The SQLite state: opportunity history, the alert log, and deliveries.

    occurrences   one row per occurrence of an opportunity under a rule (its `AlertState`),
                  keyed by (key, first_seen): found, improved, gone, found again later
    alerts        every alert decided, linked to its occurrence
    deliveries    every attempt to send an alert to a channel, and how it went
    decided       the notification log: one row per alert and channel, written with the
                  decision and settled once the channel took it (or it was given up);
                  what a crash left unsettled is sent again at start while still fresh
    conditions    the health conditions held now (`arbwatch.core.conditions`): a feed
                  down, a channel failing; what was alerted, so a restart neither alerts
                  it again nor forgets to tell its recovery
    clv           every alerted price tracked for its closing-line value
                  (`arbwatch.core.clv`), keyed like its alert (key, at) and outcome;
                  written when alerted, so a restart goes on tracking it, and settled with
                  its close once the game starts

What the lifecycle needs after a restart, so that nothing is alerted twice, is read back by
`Store.load_states`; `arbwatch history` reads `Store.history`. `Store.prune` deletes what
ended before the history's retention, so the file stays the size of that window.

The daemon calls the store from its event loop, so every call is short: `Store.save` writes
a whole observation in one transaction, and the database is in WAL mode with
``synchronous=NORMAL`` (a commit is an append to the log, no fsync; a power cut may lose the
last transactions, never corrupt the file). Readers, such as ``arbwatch history`` while the
daemon runs, never block the writer. The schema version is SQLite's ``user_version``.

`open_store` is how the daemon opens it: a file SQLite finds corrupt (or cannot write
although its directory can be written) is moved aside, kept under a name the error gives,
and a fresh one started; only a directory where nothing can be written raises.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final
from zoneinfo import ZoneInfo

from arbwatch.core.clv import AlertedPrice, Close, ClvRecord
from arbwatch.core.clv_summary import clv_cell, summary_lines
from arbwatch.core.conditions import Condition, ConditionState, HealthStep
from arbwatch.core.dedup import AlertState, Observation
from arbwatch.core.devig import DevigMethod
from arbwatch.core.markets import MarketKey, MarketKind, Period
from arbwatch.core.rulemodel import RuleKind
from arbwatch.errors import ArbwatchError

#: The database file inside the state directory.
STATE_FILE: Final = "arbwatch.sqlite3"
#: What ``PRAGMA user_version`` holds once the schema below exists.
SCHEMA_VERSION: Final = 1
#: Seconds to wait for another connection's write to finish; short, since the daemon waits
#: in its event loop (the only other writer is a second daemon on the same directory).
_BUSY_TIMEOUT: Final = 1.0

_SCHEMA: Final = (
    """CREATE TABLE occurrences (
        key TEXT NOT NULL,
        first_seen REAL NOT NULL,
        rule TEXT NOT NULL,
        kind TEXT NOT NULL,
        market TEXT NOT NULL,
        summary TEXT NOT NULL,
        last_seen REAL NOT NULL,
        best_value REAL NOT NULL,
        last_value REAL NOT NULL,
        alerted_at REAL,
        alerted_value REAL,
        active INTEGER NOT NULL,
        ended_at REAL,
        PRIMARY KEY (key, first_seen)
    )""",
    "CREATE INDEX occurrences_by_time ON occurrences (first_seen)",
    "CREATE INDEX occurrences_by_rule ON occurrences (rule, first_seen)",
    "CREATE INDEX occurrences_active ON occurrences (active) WHERE active = 1",
    "CREATE INDEX occurrences_ended ON occurrences (ended_at)",
    """CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        first_seen REAL NOT NULL,
        rule TEXT NOT NULL,
        reason TEXT NOT NULL,
        value REAL NOT NULL,
        at REAL NOT NULL
    )""",
    "CREATE INDEX alerts_by_occurrence ON alerts (key, first_seen)",
    """CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        channel TEXT NOT NULL,
        ok INTEGER NOT NULL,
        at REAL NOT NULL,
        detail TEXT NOT NULL
    )""",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

#: Added after schema 1 without a version of its own: created when missing, so a database
#: of schema 1 gets it at the next start, and an older arbwatch just never reads it.
_CONDITIONS: Final = """CREATE TABLE IF NOT EXISTS conditions (
        key TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        delay REAL NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        recovered TEXT NOT NULL,
        exclude TEXT NOT NULL,
        since REAL NOT NULL,
        raised_at REAL,
        clear_since REAL
    )"""
#: The notification log (added like ``conditions``). ``settled_at`` is NULL while the
#: channel has not taken the alert and it was not given up: such a row is sent again at
#: start, so a crash between deciding and delivering costs at most one duplicate.
_DECIDED: Final = (
    """CREATE TABLE IF NOT EXISTS decided (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        key TEXT NOT NULL,
        rule TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        found_at REAL NOT NULL,
        decided_at REAL NOT NULL,
        settled_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS decided_unsettled ON decided (id) WHERE settled_at IS NULL",
)
#: Alerted prices and their closing-line value (added like ``conditions``). A row is
#: written when the price is alerted, with ``settled_at`` NULL until its game starts; so
#: what a restart finds unsettled is tracked again. ``starts_at`` is NULL for an unknown
#: start; ``closing_probability`` and ``clv`` are NULL when there was no close (``note``
#: says why).
_CLV: Final = (
    """CREATE TABLE IF NOT EXISTS clv (
        key TEXT NOT NULL,
        alerted_at REAL NOT NULL,
        outcome INTEGER NOT NULL,
        rule TEXT NOT NULL,
        kind TEXT NOT NULL,
        book TEXT NOT NULL,
        market TEXT NOT NULL,
        label TEXT NOT NULL,
        price REAL NOT NULL,
        starts_at REAL,
        sharp TEXT NOT NULL,
        devig TEXT NOT NULL,
        settled_at REAL,
        closing_probability REAL,
        clv REAL,
        note TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (key, alerted_at, outcome)
    )""",
    "CREATE INDEX IF NOT EXISTS clv_unsettled ON clv (alerted_at) WHERE settled_at IS NULL",
    "CREATE INDEX IF NOT EXISTS clv_by_rule ON clv (rule, settled_at)",
)
#: A price is written once when alerted; settling it fills in its close.
_CLV_UPSERT: Final = """
    INSERT INTO clv (
        key, alerted_at, outcome, rule, kind, book, market, label, price, starts_at, sharp,
        devig, settled_at, closing_probability, clv, note)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (key, alerted_at, outcome) DO UPDATE SET
        settled_at = excluded.settled_at, closing_probability = excluded.closing_probability,
        clv = excluded.clv, note = excluded.note
    WHERE excluded.settled_at IS NOT NULL
"""
#: The ``clv`` rows, settled (``:settled`` 1) or waiting (0), of ``:rule`` or (NULL) all.
_CLV_SELECT: Final = """
    SELECT key, alerted_at, outcome, rule, kind, book, market, label, price, starts_at,
           sharp, devig, settled_at, closing_probability, clv, note
    FROM clv
    WHERE (settled_at IS NOT NULL) = :settled AND (:rule IS NULL OR rule = :rule)
    ORDER BY alerted_at, outcome
"""
#: The ``clv`` rows of one occurrence's alerts, as `_CLV_SELECT` gives them.
_OCCURRENCE_CLV: Final = """
    SELECT c.key, c.alerted_at, c.outcome, c.rule, c.kind, c.book, c.market, c.label,
           c.price, c.starts_at, c.sharp, c.devig, c.settled_at, c.closing_probability,
           c.clv, c.note
    FROM alerts a JOIN clv c ON c.key = a.key AND c.alerted_at = a.at
    WHERE a.key = ? AND a.first_seen = ?
    ORDER BY c.alerted_at, c.outcome
"""
_DECIDE: Final = """
    INSERT INTO decided (channel, key, rule, title, body, found_at, decided_at)
    VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id
"""
#: SQLite's names for a file that is not a sound database, or cannot be written although
#: its directory can (a read-only file): moved aside at start. A full disk or an I/O error
#: is not the file's fault and never moves it.
_BROKEN_FILE: Final = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_READONLY"})
_CONDITION_UPSERT: Final = """
    INSERT OR REPLACE INTO conditions (
        key, subject, delay, title, body, recovered, exclude, since, raised_at, clear_since)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_UPSERT: Final = """
    INSERT INTO occurrences (
        key, first_seen, rule, kind, market, summary, last_seen, best_value, last_value,
        alerted_at, alerted_value, active, ended_at)
    VALUES (:key, :first_seen, :rule, :kind, :market, :summary, :last_seen, :best_value,
            :last_value, :alerted_at, :alerted_value, :active, :ended_at)
    ON CONFLICT (key, first_seen) DO UPDATE SET
        last_seen = excluded.last_seen, best_value = excluded.best_value,
        last_value = excluded.last_value, alerted_at = excluded.alerted_at,
        alerted_value = excluded.alerted_value, active = excluded.active,
        ended_at = excluded.ended_at
"""
_RESTORE: Final = """
    SELECT key, first_seen, rule, kind, market, summary, last_seen, best_value, last_value,
           alerted_at, alerted_value, active, ended_at
    FROM occurrences WHERE active = 1 OR ended_at >= ?
    ORDER BY first_seen
"""
_HISTORY: Final = """
    SELECT o.rule, o.kind, o.summary, o.first_seen, o.last_seen, o.ended_at, o.best_value,
           (SELECT COUNT(*) FROM alerts a WHERE a.key = o.key AND a.first_seen = o.first_seen),
           o.key
    FROM occurrences o
    WHERE :rule IS NULL OR o.rule = :rule
    ORDER BY o.first_seen DESC, o.key
    LIMIT :limit
"""
_KINDS: Final[dict[str, RuleKind]] = {"arbitrage": "arbitrage", "positive_ev": "positive_ev"}


class StoreError(ArbwatchError):
    """The state database cannot be opened, read or written.

    Attributes:
        broken: the file itself is unsound (corrupt, not a database, read-only), as
            opposed to a full disk or a directory that cannot be written.
    """

    def __init__(self, message: str, *, broken: bool = False) -> None:
        """Keep the message, and whether the file itself is at fault."""
        super().__init__(message)
        self.broken = broken


def _error(doing: str, path: Path, error: sqlite3.Error) -> StoreError:
    """A `StoreError` for ``error``, marked broken when the file is at fault."""
    name = getattr(error, "sqlite_errorname", "")
    # SQLite says "unable to open database file" for a read-only directory (WAL needs its
    # -shm file): say what the directory is, which is what the operator can fix.
    hint = _unwritable(path.parent) if name in {"SQLITE_CANTOPEN", "SQLITE_READONLY"} else ""
    return StoreError(
        f"cannot {doing} the state database {path}: {error}{hint}",
        broken=name in _BROKEN_FILE and not hint,
    )


def _unwritable(directory: Path) -> str:
    """Why nothing can be written in ``directory``, as a suffix for a message; "" if it can."""
    try:
        if os.statvfs(directory).f_flag & os.ST_RDONLY:
            return f" ({directory} is on a read-only file system)"
    except OSError:
        return ""
    return "" if os.access(directory, os.W_OK) else f" ({directory} is not writable)"


@dataclass(frozen=True, slots=True)
class Decision:
    """An alert decided for one channel, as the notification log keeps it.

    Attributes:
        channel: the channel's name.
        key / rule / title / body / found_at: the message (`arbwatch.notify.message.Message`).
        decided_at: epoch seconds of the decision.
        id: its row, once stored (0 before).
    """

    channel: str
    key: str
    rule: str
    title: str
    body: str
    found_at: float
    decided_at: float
    id: int = 0


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One occurrence of an opportunity, as ``arbwatch history`` lists it.

    Attributes:
        rule: the rule's name.
        kind: ``arbitrage`` or ``positive_ev``.
        summary: what it was (`arbwatch.core.dedup.summarize`).
        first_seen / last_seen: epoch seconds.
        ended_at: when it went away; None if it was still there when last recorded.
        best_value: the best profit or EV it reached.
        alerts: how many alerts were decided for it (gone included).
        clv: its alerted prices whose closing-line value is settled, in alert order.
        clv_pending: its alerted prices waiting for their game to start.
    """

    rule: str
    kind: RuleKind
    summary: str
    first_seen: float
    last_seen: float
    ended_at: float | None
    best_value: float
    alerts: int
    clv: tuple[ClvRecord, ...] = ()
    clv_pending: int = 0

    @property
    def active(self) -> bool:
        """Still there when last recorded."""
        return self.ended_at is None

    @property
    def lasted(self) -> float:
        """Seconds from first seen to gone (or to last seen, while active)."""
        end = self.last_seen if self.ended_at is None else self.ended_at
        return end - self.first_seen


class Store:
    """The state database; use as a context manager, or call `close`."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """Open ``path``, creating its directory and the schema unless ``read_only``.

        Raises:
            StoreError: it cannot be opened, or was written by a newer arbwatch.
        """
        self.path = path
        try:
            if read_only:
                self._db = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=_BUSY_TIMEOUT,
                    isolation_level=None,
                )
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                # Autocommit: transactions are begun and ended explicitly (`_transaction`).
                self._db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT, isolation_level=None)
                # Before WAL mode is set: that writes the header, and a broken file is to
                # be moved aside as it was found.
                problems = [str(row[0]) for row in self._db.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    self._db.close()
                    raise StoreError(
                        f"the state database {path} is corrupt: {problems[0]}", broken=True
                    )
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as error:
            if (db := getattr(self, "_db", None)) is not None:
                db.close()
            raise _error("open", path, error) from error
        except OSError as error:
            raise StoreError(f"cannot open the state database {path}: {error}") from error
        try:
            self._version = self._prepare(read_only)
        except sqlite3.Error as error:
            self._db.close()
            raise _error("open", path, error) from error
        except BaseException:
            self._db.close()
            raise

    def _prepare(self, read_only: bool) -> int:
        """Check the schema version; create the schema if the file is new (and writable)."""
        if read_only:
            return self._check_version(self._user_version())
        with self._transaction():
            # Read inside the write transaction: two processes opening a new file at once
            # must not both create the schema.
            version = self._check_version(self._user_version())
            if version == 0:
                for statement in _SCHEMA:
                    self._db.execute(statement)
            self._db.execute(_CONDITIONS)
            for statement in (*_DECIDED, *_CLV):
                self._db.execute(statement)
        return SCHEMA_VERSION

    def _user_version(self) -> int:
        """``PRAGMA user_version``: 0 for a file with no schema yet."""
        try:
            row = self._db.execute("PRAGMA user_version").fetchone()
        except sqlite3.Error as error:
            raise _error("read", self.path, error) from error
        return int(row[0])

    def _check_version(self, version: int) -> int:
        """Refuse a schema this version does not know."""
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer arbwatch (schema {version}; "
                f"this version knows {SCHEMA_VERSION})"
            )
        return version

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; SQLite errors become `StoreError`."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as error:
            if db.in_transaction:
                # A failed COMMIT (disk full) leaves the transaction open: end it, so the
                # next write begins afresh once there is room again.
                db.execute("ROLLBACK")
            raise _error("write", self.path, error) from error

    # -- the lifecycle's state -------------------------------------------------------------

    def load_states(self, now: float, horizon: float) -> list[AlertState]:
        """The states the lifecycle needs: active ones, and ones ended within ``horizon``.

        ``horizon`` is the longest repeat interval of the rules: an occurrence that ended
        earlier cannot hold back an alert. One state per key, its latest occurrence.
        """
        if self._version == 0:
            return []
        rows = self._read(_RESTORE, (now - horizon,))
        latest = {state.key: state for state in map(_state, rows)}
        return list(latest.values())

    def save(self, observation: Observation, decided: Sequence[Decision] = ()) -> list[int]:
        """Keep every state the observation changed, and log its alerts, in one transaction.

        ``decided`` (its alerts' messages, one per channel) go into the notification log
        in the same transaction: an alert saved as alerted is never without its delivery
        to make. Returns their ids, in order.
        """
        if not observation.changed and not observation.alerts and not decided:
            return []
        with self._transaction() as db:
            db.executemany(_UPSERT, [_row(state) for state in observation.changed])
            db.executemany(
                "INSERT INTO alerts (key, first_seen, rule, reason, value, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (a.key, a.state.first_seen, a.rule.name, a.reason.value, a.value, a.at)
                    for a in observation.alerts
                ],
            )
            return _decide(db, decided)

    def load_conditions(self) -> list[ConditionState]:
        """The health conditions kept at the last save, for `HealthLifecycle`."""
        if self._version == 0:
            return []
        rows = self._read(
            "SELECT key, subject, delay, title, body, recovered, exclude, since, raised_at, "
            "clear_since FROM conditions ORDER BY since",
            (),
        )
        return [_condition_state(row) for row in rows]

    def save_conditions(self, step: HealthStep, decided: Sequence[Decision] = ()) -> list[int]:
        """Keep what a health step changed and forget what it forgot, in one transaction.

        ``decided`` are its alerts' messages, logged as in `save`; returns their ids.
        """
        if not step.changed and not step.forgotten and not decided:
            return []
        with self._transaction() as db:
            db.executemany("DELETE FROM conditions WHERE key = ?", [(k,) for k in step.forgotten])
            db.executemany(_CONDITION_UPSERT, [_condition_row(state) for state in step.changed])
            return _decide(db, decided)

    def record_delivery(
        self,
        key: str,
        channel: str,
        ok: bool,
        at: float,
        detail: str = "",
        *,
        decision: int | None = None,
    ) -> None:
        """Log how sending the alert for ``key`` to ``channel`` ended.

        With ``decision`` (its row in the notification log), that row is settled in the
        same transaction: delivered, given up or dropped, it is not sent again at start.
        """
        with self._transaction() as db:
            db.execute(
                "INSERT INTO deliveries (key, channel, ok, at, detail) VALUES (?, ?, ?, ?, ?)",
                (key, channel, int(ok), at, detail),
            )
            if decision is not None:
                db.execute("UPDATE decided SET settled_at = ? WHERE id = ?", (at, decision))

    def unsettled(self) -> list[Decision]:
        """Every delivery decided and not settled (a crash or a stop came first), oldest first."""
        if self._version == 0:
            return []
        rows = self._read(
            "SELECT channel, key, rule, title, body, found_at, decided_at, id FROM decided "
            "WHERE settled_at IS NULL ORDER BY id",
            (),
        )
        return [
            Decision(
                channel=str(channel),
                key=str(key),
                rule=str(rule),
                title=str(title),
                body=str(body),
                found_at=_real(found_at),
                decided_at=_real(decided_at),
                id=int(_real(row_id)),
            )
            for channel, key, rule, title, body, found_at, decided_at, row_id in rows
        ]

    def settle(self, decisions: Sequence[int], at: float, detail: str) -> None:
        """Settle decisions that will not be sent (stale, or their channel is gone)."""
        if not decisions:
            return
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO deliveries (key, channel, ok, at, detail) "
                "SELECT key, channel, 0, ?, ? FROM decided WHERE id = ?",
                [(at, detail, decision) for decision in decisions],
            )
            db.executemany(
                "UPDATE decided SET settled_at = ? WHERE id = ?",
                [(at, decision) for decision in decisions],
            )

    def prune(self, before: float) -> int:
        """Delete what ended before ``before``; return how many occurrences went.

        That is occurrences that ended before it, their alerts, delivery attempts made
        before it and closing-line values settled before it. An occurrence still active is
        kept however old: the lifecycle needs it.
        """
        if self._version == 0:
            return 0
        with self._transaction() as db:
            db.execute(
                "DELETE FROM alerts WHERE EXISTS (SELECT 1 FROM occurrences o "
                "WHERE o.key = alerts.key AND o.first_seen = alerts.first_seen "
                "AND o.active = 0 AND o.ended_at < ?)",
                (before,),
            )
            deleted = db.execute(
                "DELETE FROM occurrences WHERE active = 0 AND ended_at < ?", (before,)
            ).rowcount
            db.execute("DELETE FROM deliveries WHERE at < ?", (before,))
            db.execute("DELETE FROM decided WHERE decided_at < ?", (before,))
            if self._has_clv():
                # Settled ones only: a price waiting for its game is still being tracked.
                db.execute("DELETE FROM clv WHERE settled_at < ?", (before,))
        return int(deleted)

    # -- history ---------------------------------------------------------------------------

    def history(self, limit: int = 50, rule: str | None = None) -> list[HistoryRow]:
        """The latest ``limit`` occurrences (of ``rule`` only, if given), newest first."""
        if self._version == 0:
            return []
        has_clv = self._has_clv()
        rows = []
        for row in self._read(_HISTORY, {"rule": rule, "limit": limit}):
            prices = self._occurrence_clv(str(row[8]), _real(row[3])) if has_clv else []
            rows.append(
                HistoryRow(
                    rule=str(row[0]),
                    kind=_kind(row[1]),
                    summary=str(row[2]),
                    first_seen=_real(row[3]),
                    last_seen=_real(row[4]),
                    ended_at=None if row[5] is None else _real(row[5]),
                    best_value=_real(row[6]),
                    alerts=int(_real(row[7])),
                    clv=tuple(p for p in prices if isinstance(p, ClvRecord)),
                    clv_pending=sum(1 for p in prices if isinstance(p, AlertedPrice)),
                )
            )
        return rows

    # -- closing-line value ----------------------------------------------------------------

    def save_clv(self, alerted: Sequence[AlertedPrice], settled: Sequence[ClvRecord]) -> int:
        """Keep prices just alerted (waiting for their game) and records just settled.

        Returns how many were given (a price written again is left as it is).
        """
        if not alerted and not settled:
            return 0
        with self._transaction() as db:
            db.executemany(
                _CLV_UPSERT,
                [*map(_clv_row, alerted), *(_clv_row(r.alerted, r) for r in settled)],
            )
        return len(alerted) + len(settled)

    def pending_clv(self) -> list[AlertedPrice]:
        """Every alerted price whose closing-line value was not settled, oldest first."""
        if not self._has_clv():
            return []
        rows = self._read(_CLV_SELECT, {"settled": 0, "rule": None})
        return [_alerted_price(row) for row in rows]

    def clv_records(self, rule: str | None = None) -> list[ClvRecord]:
        """Every settled closing-line value (of ``rule`` only, if given), oldest first."""
        if not self._has_clv():
            return []
        rows = self._read(_CLV_SELECT, {"settled": 1, "rule": rule})
        return [_clv_record(row) for row in rows]

    def clv_pending_count(self, rule: str | None = None) -> int:
        """How many alerted prices (of ``rule`` only, if given) wait for their game."""
        if not self._has_clv():
            return 0
        (row,) = self._read(
            "SELECT COUNT(*) FROM clv WHERE settled_at IS NULL AND (:rule IS NULL OR rule = :rule)",
            {"rule": rule},
        )
        return int(_real(row[0]))

    def _occurrence_clv(self, key: str, first_seen: float) -> list[AlertedPrice | ClvRecord]:
        """The tracked prices of one occurrence's alerts, settled or not, in alert order."""
        rows = self._read(_OCCURRENCE_CLV, (key, first_seen))
        return [_alerted_price(row) if row[12] is None else _clv_record(row) for row in rows]

    def _has_clv(self) -> bool:
        """Whether the file has the ``clv`` table (one only ever opened read-only may not)."""
        if self._version == 0:
            return False
        rows = self._read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'clv'", ())
        return bool(rows)

    def _read(
        self, query: str, parameters: tuple[object, ...] | dict[str, object]
    ) -> list[tuple[object, ...]]:
        """Run a query; SQLite errors become `StoreError`."""
        try:
            return list(self._db.execute(query, parameters).fetchall())
        except sqlite3.Error as error:
            raise _error("read", self.path, error) from error

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> Store:
        """The store itself."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the database."""
        self.close()


def open_store(path: Path, now: float | None = None) -> tuple[Store, str | None]:
    """Open the daemon's state database; a broken file is moved aside for a fresh one.

    Broken is what SQLite finds corrupt (zeroed pages, garbage, not a database) or cannot
    write although the directory can be: the file (and its WAL) is renamed to
    ``arbwatch.sqlite3.broken-<UTC time>``, kept for a look, and a new one is created.
    Returns the store, and a line saying what was wrong and where the file went (None if
    nothing was moved).

    Raises:
        StoreError: no database can be written there (a read-only or full directory, a
            newer arbwatch's schema); nothing is moved then.
    """
    try:
        return Store(path), None
    except StoreError as error:
        if not error.broken:
            raise
        problem = error
    stamp = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC)
    aside = path.with_name(f"{path.name}.broken-{stamp:%Y%m%dT%H%M%SZ}")
    try:
        # The WAL and shared memory go with it: they belong to the old file, and a
        # fresh database must not replay them.
        for suffix in ("-wal", "-shm"):
            companion = path.with_name(path.name + suffix)
            if companion.exists():
                companion.rename(aside.with_name(aside.name + suffix))
        path.rename(aside)
    except OSError as error:
        raise StoreError(f"{problem}; it cannot be moved aside: {error}") from error
    return Store(path), f"{problem}: moved to {aside}"


def _decide(db: sqlite3.Connection, decided: Sequence[Decision]) -> list[int]:
    """Insert ``decided`` into the notification log; their ids, in order."""
    return [
        int(
            db.execute(
                _DECIDE,
                (d.channel, d.key, d.rule, d.title, d.body, d.found_at, d.decided_at),
            ).fetchone()[0]
        )
        for d in decided
    ]


def _row(state: AlertState) -> dict[str, object]:
    """An `AlertState` as the columns of ``occurrences``."""
    return {
        "key": state.key,
        "first_seen": state.first_seen,
        "rule": state.rule,
        "kind": state.kind,
        "market": _market_text(state.market),
        "summary": state.summary,
        "last_seen": state.last_seen,
        "best_value": state.best_value,
        "last_value": state.last_value,
        "alerted_at": state.alerted_at,
        "alerted_value": state.alerted_value,
        "active": int(state.active),
        "ended_at": state.ended_at,
    }


def _state(row: tuple[object, ...]) -> AlertState:
    """A row of ``occurrences`` (`_RESTORE`'s column order) as an `AlertState`."""
    (
        key,
        first_seen,
        rule,
        kind,
        market,
        summary,
        last_seen,
        best,
        last,
        at,
        value,
        active,
        ended,
    ) = row
    return AlertState(
        key=str(key),
        rule=str(rule),
        kind=_kind(kind),
        market=_market(market),
        summary=str(summary),
        first_seen=_real(first_seen),
        last_seen=_real(last_seen),
        best_value=_real(best),
        last_value=_real(last),
        alerted_at=None if at is None else _real(at),
        alerted_value=None if value is None else _real(value),
        active=bool(active),
        ended_at=None if ended is None else _real(ended),
        # Not a column of its own: an alert at or after the occurrence began was its own
        # (a REPEAT of the last one at that very instant is the one case this misreads).
        occurrence_alerted=at is not None and _real(at) >= _real(first_seen),
    )


def _market_text(market: MarketKey) -> str:
    """A market as stored: a JSON list of its fields."""
    return json.dumps(list(market), ensure_ascii=False)


def _market(text: object) -> MarketKey:
    """A stored market back as a `MarketKey`."""
    event_id, kind, period, line, player, stat = json.loads(str(text))
    return MarketKey(event_id, MarketKind(kind), Period(period), float(line), player, stat)


def _clv_row(alerted: AlertedPrice, record: ClvRecord | None = None) -> tuple[object, ...]:
    """An alerted price, and its record once settled, as a ``clv`` row (`_CLV_SELECT`'s columns)."""
    return (
        alerted.key,
        alerted.alerted_at,
        alerted.outcome,
        alerted.rule,
        alerted.kind,
        alerted.book,
        _market_text(alerted.market),
        alerted.label,
        alerted.price,
        None if math.isnan(alerted.starts_at) else alerted.starts_at,
        json.dumps(list(alerted.close.sharp_books), ensure_ascii=False),
        alerted.close.devig.value,
        None if record is None else record.settled_at,
        None if record is None else record.closing_probability,
        None if record is None else record.clv,
        "" if record is None else record.note,
    )


def _alerted_price(row: tuple[object, ...]) -> AlertedPrice:
    """A ``clv`` row's alerted price."""
    key, at, outcome, rule, kind, book, market, label, price, starts_at, sharp, devig = row[:12]
    return AlertedPrice(
        key=str(key),
        rule=str(rule),
        kind=_kind(kind),
        book=str(book),
        market=_market(market),
        outcome=int(_real(outcome)),
        label=str(label),
        price=_real(price),
        alerted_at=_real(at),
        starts_at=math.nan if starts_at is None else _real(starts_at),
        close=Close(tuple(map(str, json.loads(str(sharp)))), DevigMethod(str(devig))),
    )


def _clv_record(row: tuple[object, ...]) -> ClvRecord:
    """A settled ``clv`` row as a `ClvRecord`."""
    settled_at, probability, clv, note = row[12:]
    return ClvRecord(
        alerted=_alerted_price(row),
        settled_at=_real(settled_at),
        closing_probability=None if probability is None else _real(probability),
        clv=None if clv is None else _real(clv),
        note=str(note),
    )


def _condition_row(state: ConditionState) -> tuple[object, ...]:
    """A `ConditionState` as a ``conditions`` row."""
    condition = state.condition
    return (
        condition.key,
        condition.subject,
        condition.delay,
        condition.title,
        condition.body,
        condition.recovered,
        json.dumps(list(condition.exclude)),
        state.since,
        state.raised_at,
        state.clear_since,
    )


def _condition_state(row: tuple[object, ...]) -> ConditionState:
    """A ``conditions`` row back as a `ConditionState`."""
    key, subject, delay, title, body, recovered, exclude, since, raised_at, clear_since = row
    condition = Condition(
        key=str(key),
        subject=str(subject),
        delay=_real(delay),
        title=str(title),
        body=str(body),
        recovered=str(recovered),
        exclude=tuple(str(name) for name in json.loads(str(exclude))),
    )
    return ConditionState(
        condition,
        since=_real(since),
        raised_at=None if raised_at is None else _real(raised_at),
        clear_since=None if clear_since is None else _real(clear_since),
    )


def _real(value: object) -> float:
    """A REAL column's value."""
    if not isinstance(value, int | float):
        raise StoreError(f"expected a number in the state database, found {value!r}")
    return float(value)


def _kind(value: object) -> RuleKind:
    """A stored kind, checked."""
    kind = _KINDS.get(str(value))
    if kind is None:
        raise StoreError(f"unknown opportunity kind in the state database: {value!r}")
    return kind


# -- arbwatch history ------------------------------------------------------------------------


def history_lines(
    state_dir: Path, limit: int, rule: str | None, now: float, tz: ZoneInfo
) -> list[str]:
    """What ``arbwatch history`` prints: the table, or one line saying there is nothing yet.

    Opens the database read-only, so it is safe while the daemon runs and creates nothing.
    """
    path = state_dir / STATE_FILE
    if not path.exists():
        return [f"No history yet: {path} does not exist (the daemon creates it on start)."]
    with Store(path, read_only=True) as store:
        rows = store.history(limit, rule)
    if not rows:
        which = "" if rule is None else f" for rule {rule!r}"
        return [f"No opportunities recorded yet{which}."]
    return format_history(rows, now, tz)


def format_history(rows: Sequence[HistoryRow], now: float, tz: ZoneInfo) -> list[str]:
    """A printable table of ``rows``, a header first and a note on time zones last.

    Columns: when first seen (in ``tz``) and how long before ``now``, how long it lasted,
    the rule, kind, best value, the number of alerts, the closing-line value of each
    alerted price (`arbwatch.core.clv_summary.clv_cell`), and what it was.
    """
    table = [("FIRST SEEN", "AGO", "LASTED", "RULE", "KIND", "BEST", "ALERTS", "CLV", "WHAT")]
    for row in rows:
        seen = dt.datetime.fromtimestamp(row.first_seen, tz).strftime("%Y-%m-%d %H:%M:%S")
        lasted = _duration(row.lasted) + (", active" if row.active else "")
        kind = "ARB" if row.kind == "arbitrage" else "EV"
        table.append(
            (
                seen,
                _duration(now - row.first_seen),
                lasted,
                row.rule,
                kind,
                f"{row.best_value:+.2%}",
                str(row.alerts),
                clv_cell(row.clv, row.clv_pending),
                row.summary,
            )
        )
    widths = [max(len(line[column]) for line in table) for column in range(len(table[0]) - 1)]
    right = {1, 2, 5, 6}  # numbers line up on the right
    lines = []
    for line in table:
        cells = [
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=False))
        ]
        lines.append("  ".join([*cells, line[-1]]))
    lines.append(f"times in {tz.key}; newest first")
    return lines


def clv_lines(state_dir: Path, rule: str | None) -> list[str]:
    """What ``arbwatch history --clv`` prints: the closing-line value per rule and per book.

    Opens the database read-only, like `history_lines`.
    """
    path = state_dir / STATE_FILE
    if not path.exists():
        return [f"No history yet: {path} does not exist (the daemon creates it on start)."]
    with Store(path, read_only=True) as store:
        records = store.clv_records(rule)
        pending = store.clv_pending_count(rule)
    lines = summary_lines(records, pending)
    return lines if rule is None else [f"rule {rule}:", *lines]


def _duration(seconds: float) -> str:
    """A span of time in the two largest units: ``45s``, ``2m 13s``, ``1h 05m``, ``2d 3h``."""
    whole = 0 if math.isnan(seconds) else max(0, int(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
