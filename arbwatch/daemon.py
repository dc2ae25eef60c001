"""The daemon: feeds -> price matrix -> rules -> alert lifecycle -> notifier, in one task group.

```
 feed tasks ──> one bounded stream ──> engine task: drain, apply, evaluate dirty rows
                                            │
                         lifecycle (new / improved / repeat / gone) ──> SQLite store
                                            │
                         notifier: one queue and worker per channel (never blocks the engine)
```

The engine task is the only one that touches the matrix, the lifecycle and the store, so
none of them needs a lock. Signals are not handled here: the command line turns SIGTERM and
SIGINT into `Daemon.stop` and SIGHUP into `Daemon.reload`, so tests run the daemon
in-process and stop it the same way.

Stopping: the feeds and the engine stop first (nothing new comes in), then the notifier
gets ``flush_timeout`` seconds to send what is in flight, then everything is cancelled.

Under systemd (``NOTIFY_SOCKET`` set) it says READY=1 once every feed has connected or
tried once, keeps STATUS= up to date, sends WATCHDOG=1 at half of WatchdogSec only while the
engine is making progress or has caught up (`arbwatch.sdnotify.WatchdogGate`), and says
RELOADING=1 / READY=1 around a reload and STOPPING=1 when it stops.

Health (`arbwatch.health_checks`, `arbwatch.core.conditions`): every second the daemon
looks at itself (feeds, credits, channels, engine, the books the rules name) and sends
system alerts and their recoveries to the ``health.notify`` channels; their states are kept
in the store like the opportunities'. While a feed is down (or out of credits), the
opportunities on the books only it delivers are suspended, never alerted as gone. A feed
whose key is refused is alerted at once and tries the key again on a long backoff; when
every feed's key is refused (twice in a row: at first and ``key_retry`` later), `run`
stops with ``exit_status`` `EXIT_KEYS_REFUSED` (77), which systemd's Restart= acts on.

With ``status.listen`` set, an HTTP listener (`arbwatch.status`) serves `Daemon.health` as
Prometheus ``/metrics`` and ``/status`` JSON, which ``arbwatch status`` reads. Its port is
bound before anything else starts: one that is taken stops the start (`StatusListenError`).

Reloading (SIGHUP, or the config file changing when ``watch_config`` is on): a new config
that loads replaces the rules, channels and how alerts are written, without touching the
feed connections; one that does not load is logged and the running config stays. Feeds,
aliases and the state directory are read at start only: a change to them is logged as
needing a restart.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from arbwatch import __version__
from arbwatch.clv_recorder import ClvRecorder
from arbwatch.config import load_config
from arbwatch.config.model import Config
from arbwatch.core.conditions import HealthAlert, HealthLifecycle, HealthReason
from arbwatch.core.dedup import Alert, Lifecycle, Observation
from arbwatch.core.engine import EXPIRY_INTERVAL, Engine
from arbwatch.core.markets import MarketKey
from arbwatch.errors import ConfigError
from arbwatch.feeds.base import FeedBatch, remember_secrets
from arbwatch.feeds.connection import FeedState, FeedStats
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.model import PRICES_OUT_OF_RANGE
from arbwatch.feeds.recording import FrameRecorder
from arbwatch.feeds.registry import Feed, FeedSettings, provider_of
from arbwatch.health import (
    ChannelHealth,
    Counters,
    FeedHealth,
    Health,
    LiveOpportunity,
    Rate,
    RecentAlert,
)
from arbwatch.health_checks import look
from arbwatch.notify.alert_message import alert_message
from arbwatch.notify.deliver import DeliveryResult, Notifier
from arbwatch.notify.grouping import HEALTH_RULE
from arbwatch.notify.message import Message
from arbwatch.sdnotify import SystemdNotifier, WatchdogGate, watchdog_interval
from arbwatch.status import bind_status, serve_status
from arbwatch.store import STATE_FILE, Decision
from arbwatch.store_guard import StoreGuard

logger = logging.getLogger(__name__)

#: Batches waiting for the engine; beyond this a feed's batch is dropped and counted
#: (a delta feed then resyncs). About a minute of a busy feed's frames.
STREAM_SIZE = 10_000
#: The most batches the engine drains into one evaluation, so one pass stays short.
MAX_DRAIN = 500
#: Seconds a shutdown may take beyond ``alerts.flush_timeout`` (closing feeds, the state
#: database and the status listener), told to systemd so it does not kill the flush.
STOP_MARGIN = 10.0
#: Seconds between deletions of history older than ``history_retention`` (and at start).
PRUNE_INTERVAL = 3600.0
#: Seconds between sweeps that retire markets with no recent quote from the price matrix.
RETIRE_INTERVAL = 60.0
#: A market is retired after this long without a new quote (or the largest max_quote_age
#: of the rules, if longer): long enough that a quiet pre-match market is not dropped and
#: built again every minute, short enough that finished games and old lines do not pile up.
MARKET_RETENTION = 3600.0
#: An event's details (teams, sport, start) are kept this long after its start once no
#: market refers to it: feeds send them only when they first see the event.
EVENT_RETENTION = 7 * 86400.0
#: Seconds between looks at the config file's modification time.
CONFIG_POLL_INTERVAL = 1.0
#: Seconds a reload may spend reading the config (in a worker thread) before it is given
#: up and the old config kept: a file on a hung network mount never leaves reloads stuck.
RELOAD_TIMEOUT = 60.0
#: Seconds between STATUS= lines to systemd (and rate samples for the health snapshot).
STATUS_INTERVAL = 5.0
#: Seconds between samples of the update counters, for the per-second rates.
RATE_INTERVAL = 1.0
#: Seconds between looks at the daemon's health (feeds, channels, engine, books).
HEALTH_INTERVAL = 1.0
#: Exit status of `Daemon.run` when every feed's key is refused: EX_NOPERM from sysexits.h.
#: Not in the unit's RestartPreventExitStatus, so systemd restarts it (RestartSec later) and
#: the restarts show in `systemctl status`; a renewed key is then read from the
#: credentials, which a reload does not do.
EXIT_KEYS_REFUSED = 77
#: Refusals in a row of every feed's key before the daemon exits: the first, and the try
#: ``key_retry`` later. A key being rotated gets that long; and under systemd a start
#: whose keys are all refused lasts ``key_retry``, so restarts never hammer the provider
#: (nor reach the unit's start limit).
REFUSALS_BEFORE_EXIT = 2
#: Why a delivery decided before a restart was not sent again at start.
_NOT_RESENT = "not sent: stale or no such channel at start"
#: A price update's book, for the books each feed delivers.
_BOOK = attrgetter("book")


def build_feed(
    settings: FeedSettings, identity: EventIdentity, recorder: FrameRecorder | None = None
) -> Feed:
    """The feed that runs ``settings``: its provider's driver, recording to ``recorder``."""
    return provider_of(settings).driver(settings, identity, recorder)


def recording_path(directory: Path, feed: str) -> Path:
    """Where a feed's frames are recorded in ``directory``: one JSONL file per feed."""
    return directory / f"{feed}.jsonl"


@dataclass
class EngineStats:
    """What the engine has done since start; read by status lines and metrics."""

    batches: int = 0
    updates: int = 0
    #: Updates the matrix refused (an outcome slot its market does not have).
    refused: int = 0
    evaluations: int = 0
    alerts: int = 0
    #: `time.monotonic` of the last evaluation, for the watchdog (None before the first).
    last_evaluation: float | None = None
    config_reloads: int = 0
    config_reload_failures: int = 0
    #: Markets retired from the price matrix for want of a recent quote.
    markets_retired: int = 0


class Daemon:
    """One running arbwatch: build it from a `Config`, then `run` it in a task group."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        feeds: Sequence[Feed] | None = None,
        load: Callable[[Path], Config] = load_config,
        record_dir: Path | None = None,
    ) -> None:
        """Prepare everything; nothing connects or opens until `run`.

        Args:
            config: the configuration to start with.
            clock: epoch seconds; passed to every decision (tests may pin it).
            feeds: feeds to run instead of those the config names (the demo and tests
                pass their own; None builds them from ``config.feeds``).
            load: reads a config file on reload (tests may count calls).
            record_dir: record every frame and REST body the config's feeds receive to
                `recording_path` files in this directory, for ``arbwatch backtest``
                (appended to; secrets redacted). Ignored with ``feeds``.
        """
        # Known before anything logs: every line and error from here on is scrubbed of them.
        remember_secrets(config.secrets())
        self.config = config
        self.stats = EngineStats()
        self.counters = Counters()
        self._clock = clock
        self._started_at = clock()
        self._load = load
        #: Seconds a reload may read before it is given up (`RELOAD_TIMEOUT`).
        self.reload_timeout = RELOAD_TIMEOUT
        self.identity = EventIdentity(config.aliases)
        #: The recorders of the feeds' traffic (with ``record_dir``), closed when `run` ends.
        self.recorders: list[FrameRecorder] = []
        self.feeds: list[Feed] = list(feeds) if feeds is not None else []
        if feeds is None and record_dir is not None:
            record_dir.mkdir(parents=True, exist_ok=True)
        for settings in config.feeds if feeds is None else ():
            recorder = None
            if record_dir is not None:
                path = recording_path(record_dir, settings.name)
                recorder = FrameRecorder(path, config.secrets())
                self.recorders.append(recorder)
            self.feeds.append(build_feed(settings, self.identity, recorder))
        #: The one engine step (`arbwatch.core.engine`); the daemon acts on its decisions.
        self.engine = Engine(config.rules, config.commissions)
        self.matrix = self.engine.matrix
        self.notifier = Notifier(
            config.channels,
            clock=clock,
            on_result=self._delivered,
            queue_size=config.queue_size,
        )
        self.lifecycle: Lifecycle | None = None
        #: The health conditions and their alerts (see `check_health`).
        self.conditions: HealthLifecycle | None = None
        #: The books each feed has delivered since start, by feed name.
        self.books_by_feed: dict[str, set[str]] = {}
        #: Feeds down at the last health look, and the markets of what was suspended.
        self._down: set[str] = set()
        self._suspended_markets: set[MarketKey] = set()
        #: The state database, whose failures are counted and never stop alerting.
        self.store_guard = StoreGuard(config.state_dir / STATE_FILE, clock)
        #: The closing-line value of every alerted price (`arbwatch.core.clv`).
        self.clv = ClvRecorder(self.store_guard)
        self._stop = anyio.Event()
        self._reload_requested = anyio.Event()
        #: Set by each step of the lifecycle, to re-time `_expire_regularly`.
        self._decided = anyio.Event()
        #: The time the last engine step decided at (`process`).
        self._stepped_at = -math.inf
        self._config_stamp = _file_stamp(config.source)
        self._systemd: SystemdNotifier | None = None
        self._gate: WatchdogGate | None = None
        self._pending: Callable[[], int] = lambda: 0
        #: What `arbwatch run` exits with once `run` returns: 0, or `EXIT_KEYS_REFUSED`.
        self.exit_status = 0

    # -- control, from the command line or a test ------------------------------------------

    def stop(self) -> None:
        """Ask `run` to stop: feeds first, then flush alerts within ``flush_timeout``."""
        self._stop.set()

    def reload(self) -> None:
        """Ask for the config file to be read again (what SIGHUP does)."""
        self._reload_requested.set()

    # -- the task group ---------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until `stop` is called; the caller's cancellation also ends it (no flush).

        Raises:
            StatusListenError: ``status.listen`` cannot be listened on; nothing started.
        """
        state_dir = self.config.state_dir
        listen = self.config.status_listen
        # First of all: a status port another process holds stops the start, before any
        # feed connects, rather than leaving `arbwatch status` to read that process.
        listener = bind_status(listen) if listen is not None else None
        self._systemd = SystemdNotifier.from_environ()
        with listener or nullcontext(), self.store_guard as guard:
            now = self._clock()
            horizon = _dedup_horizon(self.config)
            self.engine.restore(
                guard.use("read the alert states", lambda s: s.load_states(now, horizon)) or []
            )
            self.lifecycle = self.engine.lifecycle
            self.conditions = HealthLifecycle(
                recovery=self.config.health.recovery,
                repeat=self.config.health.repeat,
                states=guard.use("read the health states", lambda s: s.load_conditions()) or [],
            )
            self.resend_unsettled()
            self.prune_history()
            send, receive = anyio.create_memory_object_stream[FeedBatch](STREAM_SIZE)
            self._pending = lambda: receive.statistics().current_buffer_used
            logger.info(
                "arbwatch started: %d feeds, %d channels, %d rules; state in %s",
                len(self.feeds),
                len(self.config.channels),
                len(self.config.rules),
                state_dir,
            )
            async with anyio.create_task_group() as outer:
                outer.start_soon(self.notifier.run)
                async with anyio.create_task_group() as inner:
                    # Each feed gets its own clone; the engine ends when every clone and
                    # the original are closed, which cancelling the group does.
                    with send:
                        for feed in self.feeds:
                            inner.start_soon(self._run_feed, feed, send.clone())
                    inner.start_soon(self._engine, receive)
                    inner.start_soon(self._expire_regularly)
                    inner.start_soon(self._retire_regularly)
                    inner.start_soon(self._prune_regularly)
                    inner.start_soon(self._watch_config)
                    inner.start_soon(self._sample_rates)
                    inner.start_soon(self._watch_health)
                    if listener is not None:
                        await inner.start(serve_status, self.health, listener)
                    if self._systemd is not None:
                        inner.start_soon(self._tell_systemd, self._systemd)
                    task_status.started()
                    await self._stop.wait()
                    logger.info("stopping: feeds closed, sending alerts in flight")
                    if self._systemd is not None:
                        self._systemd.stopping(needs=self.config.flush_timeout + STOP_MARGIN)
                    inner.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):
                    left = await self.notifier.flush(self.config.flush_timeout)
                if left:
                    logger.warning("stopped with %d alerts not sent", left)
                outer.cancel_scope.cancel()
        if self._systemd is not None:
            self._systemd.close()
        for recorder in self.recorders:
            recorder.close()
        logger.info("arbwatch stopped")

    async def _run_feed(self, feed: Feed, out: MemoryObjectSendStream[FeedBatch]) -> None:
        """Run one feed; a feed that fails for good stops alone, with a log line."""
        with out:
            await feed.run(out)
        if feed.stats.fatal_error:
            logger.error("feed %s stopped: %s", feed.stats.name, feed.stats.fatal_error)

    # -- the engine -------------------------------------------------------------------------

    async def _engine(self, receive: MemoryObjectReceiveStream[FeedBatch]) -> None:
        """Take every batch waiting, apply them at once, evaluate the rows they touched."""
        with receive:
            async for first in receive:
                batches = [first]
                while len(batches) < MAX_DRAIN:
                    try:
                        batches.append(receive.receive_nowait())
                    except anyio.WouldBlock:
                        break
                self.process(batches)

    def process(self, batches: Sequence[FeedBatch]) -> Observation:
        """Run one engine step on ``batches`` and act on its decisions (synchronous).

        The step decides at the newest batch's receive time, the time its prices were
        true, not when the engine got to them: so a replay of the recording, which has
        only receive times, decides the same (quote ages, quiet hours, repeats). A step
        with no batch (markets touched again) decides at the clock's time.
        """
        started = time.monotonic()
        self._require_lifecycle()
        now = max((batch.received_at for batch in batches), default=None)
        step = self.engine.step(batches, self._clock() if now is None else now)
        self._stepped_at = step.now
        # The prices the step wrote, for the closes of the alerted prices; the alerts
        # themselves reach the tracker through `_act`, as every observation's do.
        self.clv.observe(step.batches)
        by_feed = self.counters.updates_by_feed
        books = self.books_by_feed
        for batch in batches:
            self.stats.updates += len(batch.updates)
            by_feed[batch.feed] = by_feed.get(batch.feed, 0) + len(batch.updates)
            if batch.updates:
                # map(attrgetter) costs ~30 ns an update; a set comprehension twice that.
                books.setdefault(batch.feed, set()).update(map(_BOOK, batch.updates))
        self.stats.refused += step.refused
        self.stats.batches += len(batches)
        observation = step.observation
        self._act(observation)
        self.stats.evaluations += 1
        found = self.counters.found_by_kind
        for match in step.matches:
            found[match.opportunity.kind] = found.get(match.opportunity.kind, 0) + 1
        finished = time.monotonic()
        self.stats.last_evaluation = finished
        self.counters.latency.observe(finished - started)
        if self._gate is not None:
            self._gate.note_progress(finished)
        return observation

    async def _expire_regularly(self) -> None:
        """End opportunities whose quotes have gone stale without any new price.

        Also the timer of a rule's ``min_duration``: an opportunity held back comes due
        even if no new price re-evaluates it. Each decision wakes this loop to look at
        when the next one is due (`Lifecycle.next_due`).
        """
        expire_at = anyio.current_time() + EXPIRY_INTERVAL
        while True:
            self._decided = anyio.Event()
            wait = expire_at - anyio.current_time()
            due = self._require_lifecycle().next_due()
            if due is not None:
                wait = min(wait, due - self._clock())
            with anyio.move_on_after(max(0.0, wait)) as timer:
                await self._decided.wait()
            if timer.cancelled_caught:
                now = self._clock()
                if due is not None and due <= now:
                    # A held alert is decided at the time it came due (never before the last
                    # step), not when the timer got round to it: a replay of the recording
                    # decides it then too, so its message (quote ages) is the very same.
                    now = max(due, self._stepped_at)
                self._act(self.engine.expire(now))
                expire_at = anyio.current_time() + EXPIRY_INTERVAL

    async def _retire_regularly(self) -> None:
        """Keep the price matrix to the live board: see `retire_idle`."""
        while True:
            await anyio.sleep(RETIRE_INTERVAL)
            self.retire_idle()

    def retire_idle(self) -> int:
        """Retire markets with no recent quote from the matrix; return how many.

        Recent is `MARKET_RETENTION`, or the longest quote age a rule accepts if longer, so
        nothing a rule could use goes: every quote retired is older than any rule's
        ``max_quote_age``. A retired market that is quoted again simply gets a row again.
        Events, and the cross-provider mappings onto them, go `EVENT_RETENTION` after
        their start.
        """
        now = self._clock()
        longest_age = max((rule.max_quote_age for rule in self.config.rules), default=0.0)
        retention = max(MARKET_RETENTION, longest_age)
        retired = self.matrix.retire(now - retention, events_before=now - EVENT_RETENTION)
        self.identity.forget_started_before(now - EVENT_RETENTION)
        if retired:
            self.stats.markets_retired += retired
            logger.debug(
                "retired %d markets with no quote in the last %.0f s; %d markets left",
                retired,
                retention,
                self.matrix.market_count,
            )
        return retired

    async def _prune_regularly(self) -> None:
        """Keep the state database to ``history_retention``: see `prune_history`."""
        while True:
            await anyio.sleep(PRUNE_INTERVAL)
            self.prune_history()

    def prune_history(self) -> int:
        """Delete history older than ``history_retention``; return how many opportunities.

        Opportunities that ended longer ago go from the state database with their alerts
        and deliveries; never one the lifecycle reads back at a restart (ended within the
        longest repeat interval), so a short retention cannot cause a repeated alert.
        """
        retention = self.config.history_retention
        if retention is None:
            return 0
        keep = max(retention, _dedup_horizon(self.config))
        before = self._clock() - keep
        pruned = self.store_guard.use("prune history", lambda store: store.prune(before))
        if pruned:
            logger.info(
                "history: deleted %d opportunities that ended over %.0f s ago", pruned, keep
            )
        return pruned or 0

    def _act(self, observation: Observation) -> None:
        """Record an observation with its alerts' deliveries, then hand them to the notifier.

        Each delivery is logged as decided in the same transaction as its alert (the
        notification log), and settled once its channel took it: one a crash left
        unsettled is sent again at start (`resend_unsettled`). A store that cannot be
        written costs the record, never the alert: it goes out unrecorded.
        """
        self._decided.set()
        routed = [(alert, self._message(alert)) for alert in observation.alerts]
        decided = [self._decisions(message, alert.rule.notify) for alert, message in routed]
        ids: list[dict[str, int]] = [{} for _ in routed]
        if observation.changed or observation.alerts:
            flat = [decision for decisions in decided for decision in decisions]
            saved = self.store_guard.use(
                "record alerts", lambda store: store.save(observation, flat)
            )
            ids = _numbered(decided, saved)
        for (alert, message), numbers in zip(routed, ids, strict=True):
            channels = alert.rule.notify
            accepted = [
                name for name in channels if self.notifier.submit(name, message, numbers.get(name))
            ]
            self.stats.alerts += 1
            reasons = self.counters.alerts_by_reason
            reasons[alert.reason.value] = reasons.get(alert.reason.value, 0) + 1
            self.counters.recent_alerts.append(
                RecentAlert(
                    alert.at, alert.reason.value, alert.rule.name, message.title, tuple(accepted)
                )
            )
            logger.info(
                "alert %s: %s -> %s", alert.reason.value, message.title, ", ".join(accepted)
            )
        self.clv.alerted(observation.alerts, self.matrix, self.config.rules, self._clock())

    def _message(self, alert: Alert) -> Message:
        """The text of one alert, in the running config's format."""
        config = self.config
        return alert_message(
            alert,
            odds_format=config.odds_format,
            currency=config.currency,
            timezone=config.timezone,
        )

    # -- health alerts ----------------------------------------------------------------------

    async def _watch_health(self) -> None:
        """Look at the daemon's health every `HEALTH_INTERVAL` seconds."""
        while True:
            await anyio.sleep(HEALTH_INTERVAL)
            self.check_health()
            if every_key_refused(feed.stats for feed in self.feeds):
                # After check_health: the "API key refused" alerts are decided, and the
                # stop flushes them out.
                logger.error(
                    "every feed's API key is refused (%d times in a row): stopping with "
                    "exit status %d",
                    REFUSALS_BEFORE_EXIT,
                    EXIT_KEYS_REFUSED,
                )
                self.exit_status = EXIT_KEYS_REFUSED
                self.stop()
                return

    def check_health(self) -> list[HealthAlert]:
        """Suspend what down feeds quoted, then alert what changed in the daemon's health.

        Returns the health alerts decided (each handed to the notifier).
        """
        conditions = self.conditions
        if conditions is None:
            raise RuntimeError("the daemon is not running")
        health = self.health()
        now = health.at
        self._suspend_down_feeds(health, now)
        looked = look(
            health,
            self.config.health,
            self.config.rules,
            self.books_seen(),
            pending_batches=self._pending(),
        )
        step = conditions.step(looked.conditions, looked.known, now)
        routed = [self._health_message(alert) for alert in step.alerts]
        decided = [self._decisions(message, targets) for message, targets in routed]
        ids: list[dict[str, int]] = [{} for _ in routed]
        if step.changed or step.forgotten or step.alerts:
            flat = [decision for decisions in decided for decision in decisions]
            saved = self.store_guard.use(
                "record health", lambda store: store.save_conditions(step, flat)
            )
            ids = _numbered(decided, saved)
        for alert, (message, targets), numbers in zip(step.alerts, routed, ids, strict=True):
            self._send_health(alert, message, targets, numbers)
        self.store_guard.reopen_if_due()
        return step.alerts

    def books_seen(self) -> set[str]:
        """Every book some feed has delivered since start."""
        return set().union(*self.books_by_feed.values())

    def _suspend_down_feeds(self, health: Health, now: float) -> None:
        """Suspend the opportunities on books that only down feeds delivered.

        Down is disconnected or out of credits: the feed's quotes linger in the matrix
        until they go stale, but nobody knows whether they still stand. When a feed comes
        back, the suspended markets are evaluated again: a feed resends only the prices
        that changed, so what still stands would otherwise wait for a new price.
        """
        down = {f.name for f in health.feeds if not f.delivering}
        came_back = bool(self._down - down)
        self._down = down
        if came_back and self._suspended_markets:
            self.engine.touch(self._suspended_markets)
            self._suspended_markets = set()
            self.process([])
        if not down:
            return
        live = set().union(*(b for name, b in self.books_by_feed.items() if name not in down))
        books = set().union(*(self.books_by_feed.get(name, set()) for name in down)) - live
        if not books:
            return
        self._require_lifecycle()
        observation = self.engine.suspend(books, now)
        self._suspended_markets.update(state.market for state in observation.suspended)
        if observation.suspended:
            logger.warning(
                "feeds down (%s): %d opportunities suspended until they are back",
                ", ".join(sorted(down)),
                len(observation.suspended),
            )
        self._act(observation)

    def _health_message(self, alert: HealthAlert) -> tuple[Message, list[str]]:
        """One health alert's message, and the ``health.notify`` channels it may go to."""
        config = self.config
        routed = config.health.notify if config.health.notify is not None else config.channels
        message = Message(
            title=alert.title,
            body=alert.body,
            found_at=alert.at,
            rule=HEALTH_RULE,
            key=f"{HEALTH_RULE}:{alert.key}",
        )
        return message, [name for name in routed if name not in alert.exclude]

    def _send_health(
        self, alert: HealthAlert, message: Message, targets: list[str], ids: dict[str, int]
    ) -> None:
        """Hand one health alert to its channels (``ids``: their rows in the notification log)."""
        accepted = [name for name in targets if self.notifier.submit(name, message, ids.get(name))]
        self.counters.recent_alerts.append(
            RecentAlert(
                alert.at, f"health {alert.reason}", HEALTH_RULE, alert.title, tuple(accepted)
            )
        )
        level = logging.INFO if alert.reason is HealthReason.RECOVERED else logging.WARNING
        logger.log(
            level,
            "health %s: %s -> %s",
            alert.reason,
            alert.title,
            ", ".join(accepted) or "no channel",
        )

    def _delivered(self, result: DeliveryResult) -> None:
        """Keep the outcome of one delivery in the store, settling its decision."""
        self.store_guard.use(
            "record a delivery",
            lambda store: store.record_delivery(
                result.key,
                result.channel,
                result.ok,
                result.at,
                result.detail,
                decision=result.decision,
            ),
        )

    def _decisions(self, message: Message, channels: Iterable[str]) -> list[Decision]:
        """``message`` as the notification log keeps it, once per channel that exists."""
        return [
            Decision(
                channel=name,
                key=message.key,
                rule=message.rule,
                title=message.title,
                body=message.body,
                found_at=message.found_at,
                decided_at=self._clock(),
            )
            for name in channels
            if self.notifier.has_channel(name)
        ]

    def resend_unsettled(self) -> int:
        """Queue again what was decided before a restart and never settled; return how many.

        Alertmanager's notification log, in short: a delivery is settled only once its
        channel took it, so what a crash caught queued or in flight is sent again here,
        once, if still within its channel's freshness. The rest is settled as not sent.
        A crash after a send and before its record costs one duplicate; none is lost.
        """
        unsettled = self.store_guard.use("read the notification log", lambda s: s.unsettled())
        if not unsettled:
            return 0
        now = self._clock()
        fresh: list[Decision] = []
        stale: list[int] = []
        for decision in unsettled:
            channel = self.config.channels.get(decision.channel)
            if channel is None or now - decision.found_at > channel.freshness:
                stale.append(decision.id)
            else:
                fresh.append(decision)
        for decision in fresh:
            message = Message(
                title=decision.title,
                body=decision.body,
                found_at=decision.found_at,
                rule=decision.rule,
                key=decision.key,
            )
            self.notifier.submit(decision.channel, message, decision.id)
        if stale:
            self.store_guard.use(
                "settle stale alerts",
                lambda store: store.settle(stale, now, _NOT_RESENT),
            )
        logger.warning(
            "%d alerts decided before the last stop were not delivered: %d sent again, "
            "%d too old (or their channel gone)",
            len(unsettled),
            len(fresh),
            len(stale),
        )
        return len(fresh)

    def _require_lifecycle(self) -> Lifecycle:
        """The lifecycle, which exists while `run` runs."""
        if self.lifecycle is None:
            raise RuntimeError("the daemon is not running")
        return self.lifecycle

    # -- reload -----------------------------------------------------------------------------

    async def _watch_config(self) -> None:
        """Reload on request, or when the config file changes (polled; no inotify needed)."""
        while True:
            with anyio.move_on_after(CONFIG_POLL_INTERVAL):
                await self._reload_requested.wait()
            if self._reload_requested.is_set():
                self._reload_requested = anyio.Event()
                await self.apply_reload("reload requested")
            elif self.config.watch_config:
                stamp = _file_stamp(self.config.source)
                if stamp != self._config_stamp:
                    await self.apply_reload("config file changed")

    async def apply_reload(self, why: str) -> bool:
        """Read the config file again and switch to it; keep the old one if it is broken.

        The file is read and checked in a worker thread, so the engine, the feeds and the
        watchdog run on while a large or slow file loads.
        """
        source = self.config.source
        if source is None:
            logger.warning("%s, but this config was not read from a file", why)
            return False
        self._config_stamp = _file_stamp(source)
        if self._systemd is not None:
            self._systemd.reloading()
        try:
            new = await self._load_in_thread(source)
        except ConfigError as error:
            self.stats.config_reload_failures += 1
            if self._systemd is not None:
                self._systemd.ready(
                    f"reload failed, old config kept · {self.health().status_line()}"
                )
            logger.error(  # noqa: TRY400 - the problems are the message; no traceback
                "%s, but the new config is broken; still running the old one:\n%s", why, error
            )
            return False
        remember_secrets(new.secrets())
        old = self.config
        self._require_lifecycle()
        self.engine.replace_rules(new.rules, new.commissions)
        if self.conditions is not None:
            self.conditions.recovery = new.health.recovery
            self.conditions.repeat = new.health.repeat
        self.notifier.replace_channels(new.channels)
        self.config = new
        self.stats.config_reloads += 1
        for what, before, after in (
            ("feeds", old.feeds, new.feeds),
            ("aliases", old.aliases, new.aliases),
            ("state_dir", old.state_dir, new.state_dir),
            ("status", old.status_listen, new.status_listen),
        ):
            if before != after:
                logger.warning("%s changed: that takes a restart to apply", what)
        logger.info(
            "%s: reloaded %s: %d rules, %d channels",
            why,
            source,
            len(new.rules),
            len(new.channels),
        )
        if self._systemd is not None:
            self._systemd.ready(self.health().status_line())
        return True

    async def _load_in_thread(self, source: Path) -> Config:
        """``self._load(source)`` in a worker thread, given up after ``reload_timeout``.

        Raises:
            ConfigError: the config is broken, or reading it took too long (the thread is
                left to finish on its own; its result is dropped).
        """
        with anyio.move_on_after(self.reload_timeout):
            return await anyio.to_thread.run_sync(self._load, source, abandon_on_cancel=True)
        raise ConfigError(f"{source}: reading it took over {self.reload_timeout:g} s")

    # -- health and systemd -------------------------------------------------------------------

    async def _sample_rates(self) -> None:
        """Sample the update counters every second for the per-second rates."""
        counters = self.counters
        while True:
            now = time.monotonic()
            counters.rate.sample(now, self.stats.updates)
            for name, total in counters.updates_by_feed.items():
                counters.feed_rates.setdefault(name, Rate()).sample(now, total)
            await anyio.sleep(RATE_INTERVAL)

    async def _tell_systemd(self, systemd: SystemdNotifier) -> None:
        """READY once every feed has tried; STATUS= lines; WATCHDOG=1 while the engine works."""
        interval = watchdog_interval()
        if interval is not None:
            self._gate = WatchdogGate(2 * interval)
        tick = min(interval, STATUS_INTERVAL) if interval is not None else STATUS_INTERVAL / 5
        ready = False
        last_status = -STATUS_INTERVAL
        while True:
            now = time.monotonic()
            if not ready and all(_tried(feed.stats) for feed in self.feeds):
                ready = True
                systemd.ready(self.health().status_line())
                last_status = now
            elif ready and now - last_status >= STATUS_INTERVAL:
                systemd.status(self.health().status_line())
                last_status = now
            if self._gate is not None:
                # The engine task only ever waits on its stream: an empty stream means it
                # has caught up. A stuck evaluation blocks the loop and this task with it.
                if self._pending() == 0:
                    self._gate.note_idle(now)
                if self._gate.should_ping(now):
                    systemd.watchdog()
            await anyio.sleep(tick)

    def health(self) -> Health:
        """A snapshot of the daemon now, for status, metrics and systemd."""
        now = self._clock()
        monotonic = time.monotonic()
        counters = self.counters
        lifecycle = self.lifecycle
        live = tuple(
            LiveOpportunity(
                rule=state.rule,
                kind=state.kind,
                summary=state.summary,
                value=state.last_value,
                best_value=state.best_value,
                first_seen=state.first_seen,
                last_seen=state.last_seen,
                alerted=state.alerted_at is not None,
            )
            for state in (lifecycle.active() if lifecycle is not None else [])
        )
        last = self.stats.last_evaluation
        return Health(
            at=now,
            started_at=self._started_at,
            version=__version__,
            feeds=tuple(self._feed_health(feed, now) for feed in self.feeds),
            channels=tuple(
                ChannelHealth(
                    name=name,
                    sent=stats.sent,
                    failed=stats.failed,
                    retried=stats.retried,
                    dropped_stale=stats.dropped_stale,
                    dropped_full=stats.dropped_full,
                    last_error=stats.last_error,
                    failing_since=stats.failing_since,
                )
                for name, stats in sorted(self.notifier.stats().items())
            ),
            batches=self.stats.batches,
            updates=self.stats.updates,
            updates_per_second=counters.rate.per_second(),
            evaluations=self.stats.evaluations,
            opportunities_found=dict(counters.found_by_kind),
            alerts=self.stats.alerts,
            alerts_by_reason=dict(counters.alerts_by_reason),
            # A copy: the engine goes on counting into its own after the snapshot is taken.
            latency=counters.latency.copy(),
            last_evaluation_age=None if last is None else monotonic - last,
            live=live,
            recent_alerts=tuple(counters.recent_alerts),
            config_reloads=self.stats.config_reloads,
            config_reload_failures=self.stats.config_reload_failures,
            store_failures=self.store_guard.failures,
            store_failing_since=self.store_guard.failing_since,
            store_error=self.store_guard.last_error if self.store_guard.failing_since else "",
            markets=self.matrix.market_count,
            markets_retired=self.stats.markets_retired,
            pid=os.getpid(),
            state_dir=str(self.config.state_dir),
            # Alerted ones only: a feed connecting for two seconds is not yet a problem.
            problems=tuple(
                state.condition.title
                for state in (self.conditions.raised() if self.conditions is not None else [])
            ),
        )

    def _feed_health(self, feed: Feed, now: float) -> FeedHealth:
        """One feed's part of the snapshot."""
        stats = feed.stats
        rate = self.counters.feed_rates.get(stats.name)
        allowance = feed.allowance()
        return FeedHealth(
            name=stats.name,
            provider=feed.provider,
            state=stats.state.value,
            updates=self.counters.updates_by_feed.get(stats.name, 0),
            updates_per_second=rate.per_second() if rate is not None else 0.0,
            frames=stats.frames,
            malformed=stats.malformed,
            dropped_batches=stats.dropped_batches,
            reconnects=stats.reconnects,
            last_message_age=None if stats.last_message_at is None else now - stats.last_message_at,
            last_error=stats.last_error,
            fatal_error=stats.fatal_error,
            credits_used=allowance.used,
            credits_remaining=allowance.remaining,
            credits_limit=allowance.limit,
            out_of_credits=allowance.exhausted,
            last_data_age=None if stats.last_data_at is None else now - stats.last_data_at,
            prices_out_of_range=int(stats.extra.get(PRICES_OUT_OF_RANGE, 0)),
        )


def every_key_refused(feeds: Iterable[FeedStats]) -> bool:
    """Whether every feed (of at least one) is refused, `REFUSALS_BEFORE_EXIT` times in a row."""
    stats = list(feeds)
    return bool(stats) and all(
        s.state is FeedState.REFUSED and s.refusals >= REFUSALS_BEFORE_EXIT for s in stats
    )


def _numbered(decided: Sequence[Sequence[Decision]], ids: list[int] | None) -> list[dict[str, int]]:
    """Each alert's rows in the notification log, by channel (none if they were not stored)."""
    if ids is None:
        return [{} for _ in decided]
    numbers = iter(ids)
    return [{decision.channel: next(numbers) for decision in decisions} for decisions in decided]


def _tried(stats: FeedStats) -> bool:
    """Whether a feed has connected, or tried once and failed (READY waits for no more)."""
    return stats.state is not FeedState.CONNECTING or stats.reconnects > 0


def _dedup_horizon(config: Config) -> float:
    """How far back ended opportunities still matter for not alerting twice."""
    return max((rule.repeat for rule in config.rules), default=0.0)


def _file_stamp(path: Path | None) -> tuple[int, int, int] | None:
    """What changes when a file is edited or replaced: mtime, size and inode."""
    if path is None:
        return None
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)
