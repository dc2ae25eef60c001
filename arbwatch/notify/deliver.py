"""Delivery: one queue and one worker per channel, apprise in a thread, retries, freshness.

    engine ──submit()──> grouper ──due──> channel queue (bounded; full: the oldest goes)
                                                 ──> worker ──> apprise
                                                      │ retry with backoff, drop when stale

Each channel's grouper (`arbwatch.notify.grouping`) holds alerts for ``group_wait`` so that
what appears together goes out as one message, spaces a game's messages by
``group_interval`` and folds what is over ``max_per_minute`` into a digest; one timer task
(`Notifier.run`) moves what comes due into the queues. Each URL gets the alert written for
its app (`arbwatch.notify.apps`).

`Notifier.submit` never blocks and never awaits, so the engine is never held up by a
channel. Each channel has its own worker, so one slow or broken channel never delays the
others; each sends its messages in order, one at a time, in a worker thread (apprise is
blocking). An alert is about a price that can vanish within seconds: one older than the
channel's ``freshness`` is dropped with a log line rather than sent late.

At-least-once: a message may carry its row in the store's notification log (``decision``);
every final outcome is reported with it, so the daemon settles that row only once the
channel took the message (or it was given up). A message still queued or in flight when
the process dies stays unsettled and is sent again at the next start.

URLs carry tokens, so nothing here logs them: a target is named by apprise's
``url(privacy=True)`` (query left off), and error text from apprise is scrubbed of every
part of the URL that the private form hides.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote

import anyio
import anyio.abc
import apprise

from arbwatch.config.model import ChannelConfig
from arbwatch.feeds.base import Backoff, install_redaction, redact
from arbwatch.notify.apps import App, app_of, payload
from arbwatch.notify.grouping import Entry, Grouper, GroupSettings, Outgoing
from arbwatch.notify.message import Message

logger = logging.getLogger(__name__)

#: Why a NEW and its GONE were both settled unsent.
_GONE_BEFORE_SENT: Final = "not sent: gone before it was sent"
#: Splits a URL into the parts that may be secret (user, password, token, path segment).
_URL_PARTS = re.compile(r"[/:@?&=#]+")


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The final outcome of one message on one channel, for the daemon's store.

    Attributes:
        channel: the channel's name.
        key: the message's key (the opportunity's identity).
        ok: whether it was delivered.
        attempts: sends tried (0 when it was dropped before any).
        at: epoch seconds of the outcome, by the notifier's clock.
        detail: why it failed or was dropped (redacted); empty when delivered.
        decision: the message's row in the notification log, as submitted (None: none).
    """

    channel: str
    key: str
    ok: bool
    attempts: int
    at: float
    detail: str
    decision: int | None = None


@dataclass(slots=True)
class ChannelStats:
    """What happened on one channel since the notifier started.

    Attributes:
        sent: messages delivered.
        failed: messages given up on after every retry.
        retried: attempts repeated after a failure.
        dropped_stale: messages dropped because they were older than the channel's freshness.
        dropped_full: messages pushed out of a full queue (the oldest go first).
        last_error: the latest failure, redacted; empty if there was none.
        failing_since: epoch seconds of the first failed attempt since the last success
            (None while the channel works), for the health alert of a failing channel.
    """

    sent: int = 0
    failed: int = 0
    retried: int = 0
    dropped_stale: int = 0
    dropped_full: int = 0
    last_error: str = ""
    failing_since: float | None = None


@dataclass(slots=True)
class _Channel:
    """One channel's queue, worker state and counters."""

    config: ChannelConfig
    sender: _Sender
    #: Alerts decided and not yet due to go (`arbwatch.notify.grouping`).
    grouper: Grouper
    #: Messages due, each with the alerts it carries and their rows in the notification log.
    queue: deque[Outgoing] = field(default_factory=deque)
    stats: ChannelStats = field(default_factory=ChannelStats)
    #: Set to wake the worker: a message arrived or the channel was removed.
    wake: anyio.Event = field(default_factory=anyio.Event)
    busy: bool = False
    removed: bool = False


def grouping(config: ChannelConfig) -> GroupSettings:
    """A channel's grouping settings."""
    return GroupSettings(config.group_wait, config.group_interval, config.max_per_minute)


def _new_channel(config: ChannelConfig) -> _Channel:
    """A channel's state, with nothing waiting."""
    return _Channel(config, _Sender(config), Grouper(grouping(config)))


class _Sender:
    """One channel's apprise objects (one per app its URLs reach), and their redactions.

    Apprise is blocking; `send` runs in a worker thread, one call at a time per channel.
    """

    def __init__(self, config: ChannelConfig) -> None:
        """Load the channel's URLs, by app; bad ones are logged and left out."""
        self.apprises: dict[App, apprise.Apprise] = {}
        self._secrets: set[str] = set()
        for url in config.urls:
            revealed = url.reveal()
            target = self.apprises.setdefault(app_of(revealed), apprise.Apprise())
            if not target.add(revealed):
                logger.error("channel %s: apprise refused a %s URL", config.name, _scheme(revealed))
                continue
            service = target[len(target) - 1]
            self._secrets |= hidden_parts(revealed, service.url(privacy=True))  # type: ignore[no-untyped-call]
        # Apprise's own log lines can carry tokens (a refused request names its URL): its
        # logger scrubs this channel's secrets from every record, whatever the level; the
        # longer ones are remembered for every other line and error too.
        install_redaction(self._secrets, loggers=("apprise",))

    def send(self, message: Message) -> tuple[bool, str]:
        """One attempt to every URL: (delivered to all, what went wrong, redacted)."""
        loaded = [(app, target) for app, target in self.apprises.items() if len(target)]
        if not loaded:
            return False, "no URL could be loaded"
        failures = []
        for app, target in loaded:
            error = self._send_to(target, message, app)
            if error:
                failures.append(error)
        return not failures, "; ".join(failures)

    def _send_to(self, target: apprise.Apprise, message: Message, app: App) -> str:
        """One attempt to the URLs of one app: what went wrong (redacted), empty if none."""
        title, body, body_format = payload(message, app)
        try:
            result = target.notify(body=body, title=title, body_format=body_format)
        # Apprise plugins may raise anything; a raise is a failed attempt, to be retried,
        # never the end of the channel's worker.
        except Exception as error:  # noqa: BLE001
            return self.redact(f"{type(error).__name__}: {error}")
        if result:
            return ""
        if not len(result):
            return "no URL could be loaded"
        failures = []
        for service in result:
            if service:
                continue
            warnings = [entry.message for entry in service.logs() if entry.level != "DEBUG"]
            reason = warnings[-1] if warnings else service.status.name.lower()
            failures.append(f"{service.url.split('?', 1)[0]}: {reason}")
        return self.redact("; ".join(failures))

    def redact(self, text: str) -> str:
        """``text`` redacted, every secret part of the channel's URLs included."""
        return redact(text, self._secrets)


def hidden_parts(url: str, private: str) -> set[str]:
    """The parts of apprise ``url`` (tokens, password) its privacy form ``private`` hides.

    The private form is compared decoded: apprise writes ``to=me@example.com`` as
    ``/me%40example.com``, and that is not hiding it.
    """
    return set(_URL_PARTS.split(url)) - set(_URL_PARTS.split(unquote(private))) - {""}


class Notifier:
    """Sends alerts to named channels, each with its own bounded queue and worker.

    `submit` and `replace_channels` are plain methods for the event loop's thread (the
    engine's); `run` runs the workers until cancelled.
    """

    def __init__(
        self,
        channels: Mapping[str, ChannelConfig],
        *,
        clock: Callable[[], float] = time.time,
        on_result: Callable[[DeliveryResult], None] | None = None,
        queue_size: int = 100,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        """Set up a queue for each channel; nothing is sent until `run` runs.

        Args:
            channels: channel name -> channel.
            clock: epoch seconds; a message's age is ``clock() - found_at``.
            on_result: told the final outcome of every message (delivered, given up,
                dropped); called on the event loop's thread.
            queue_size: the most messages waiting per channel.
            jitter: the share of each retry delay taken off at random (0 for none).
            rng: the randomness behind the jitter (for reproducible tests).
        """
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self._clock = clock
        self._on_result = on_result
        self._queue_size = queue_size
        self._jitter = jitter
        self._rng = rng or random.Random()  # noqa: S311 - spreads retries, not cryptography
        self._channels = {name: _new_channel(config) for name, config in channels.items()}
        self._group: anyio.abc.TaskGroup | None = None
        #: Set each time a worker finishes with a message; `flush` waits on it.
        self._progress = anyio.Event()
        #: Set when an alert is handed to a grouper, to wake the timer (`_release`).
        self._added = anyio.Event()

    # --- the engine's side -------------------------------------------------------------

    def has_channel(self, channel: str) -> bool:
        """Whether ``channel`` is one of the current channels."""
        return channel in self._channels

    def submit(self, channel: str, message: Message, decision: int | None = None) -> bool:
        """Hand ``message`` to ``channel`` without waiting; False if there is no such channel.

        ``decision`` is the message's row in the notification log, reported back with its
        outcome (`DeliveryResult.decision`). The channel's grouper holds it until it is
        due (`arbwatch.notify.grouping`); a GONE that finds its NEW still waiting settles
        both as not sent.
        """
        state = self._channels.get(channel)
        if state is None:
            logger.warning("no channel %r: alert %r not queued", channel, message.title)
            return False
        cancelled = state.grouper.add(message, decision, self._clock())
        if cancelled:
            logger.info(
                "channel %s: %r gone before it was sent; neither is", channel, message.title
            )
        self._report_all(channel, cancelled, ok=False, attempts=0, detail=_GONE_BEFORE_SENT)
        self._added.set()
        return True

    def release(self) -> float | None:
        """Queue what every channel's grouper says is due now; when to look again (None: idle).

        `run`'s timer calls it; tests may call it with a pinned clock.
        """
        now = self._clock()
        soonest: float | None = None
        for name, state in self._channels.items():
            for outgoing in state.grouper.due(now):
                self._enqueue(name, state, outgoing)
            due = state.grouper.next_due()
            if due is not None and (soonest is None or due < soonest):
                soonest = due
        return soonest

    def _enqueue(self, channel: str, state: _Channel, outgoing: Outgoing) -> None:
        """Queue one message for the worker.

        When the queue is full the oldest message waiting is dropped (and counted): a newer
        alert is worth more than an older one about a price that may be gone.
        """
        if len(state.queue) >= self._queue_size:
            dropped = state.queue.popleft()
            state.stats.dropped_full += 1
            logger.warning(
                "channel %s: queue full (%d), dropped the oldest alert %r",
                channel,
                self._queue_size,
                dropped.message.title,
            )
            self._report_all(
                channel, dropped.entries, ok=False, attempts=0, detail="dropped: queue full"
            )
        state.queue.append(outgoing)
        state.wake.set()

    def replace_channels(self, channels: Mapping[str, ChannelConfig]) -> None:
        """Apply a reloaded config's channels while running.

        An unchanged channel keeps its worker, queue and counters. A changed one keeps its
        queue and worker too, and sends its next message with the new settings and URLs.
        A removed channel stops after the send in progress; what it still had queued is
        dropped with a log line. A new channel starts at once (when `run` is running).
        """
        for name in self._channels.keys() - channels.keys():
            gone = self._channels.pop(name)
            gone.removed = True
            gone.wake.set()
            waiting = [entry for outgoing in gone.queue for entry in outgoing.entries]
            waiting += [
                entry
                for outgoing in gone.grouper.drain(self._clock())
                for entry in outgoing.entries
            ]
            if waiting:
                logger.warning("channel %s removed: %d alerts not sent", name, len(waiting))
            self._report_all(name, waiting, ok=False, attempts=0, detail="dropped: channel removed")
            gone.queue.clear()
        for name, config in channels.items():
            state = self._channels.get(name)
            if state is None:
                state = self._channels[name] = _new_channel(config)
                if self._group is not None:
                    self._group.start_soon(self._work, name, state)
            elif state.config != config:
                state.config, state.sender = config, _Sender(config)
                state.grouper.settings = grouping(config)

    def stats(self) -> Mapping[str, ChannelStats]:
        """A snapshot of every current channel's counters."""
        return {name: copy.copy(state.stats) for name, state in self._channels.items()}

    # --- the workers -------------------------------------------------------------------

    async def run(self) -> None:
        """Run one worker per channel until cancelled (channels added later start too)."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                for name, state in self._channels.items():
                    group.start_soon(self._work, name, state)
                await self._release_regularly()
            finally:
                self._group = None

    async def _release_regularly(self) -> None:
        """The timer: queue what comes due, sleeping until the next is due or an alert comes."""
        while True:
            self._added = anyio.Event()
            due = self.release()
            wait = math.inf if due is None else max(0.0, due - self._clock())
            with anyio.move_on_after(wait):
                await self._added.wait()

    async def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for every queue to empty and every send to end.

        For shutdown, while `run` still runs: what the groupers hold goes at once, grouped
        but not held back. Returns how many messages were left undelivered (waiting, or
        being sent), with a log line if any were.
        """
        for name, state in self._channels.items():
            for outgoing in state.grouper.drain(self._clock()):
                self._enqueue(name, state, outgoing)
        with anyio.move_on_after(timeout):
            while self._pending():
                self._progress = anyio.Event()
                await self._progress.wait()
        left = self._pending()
        if left:
            logger.warning("%d alerts not delivered within %.1fs", left, timeout)
        return left

    def _pending(self) -> int:
        """Messages queued or in flight, over every channel."""
        return sum(
            len(state.queue) + state.busy + len(state.grouper) for state in self._channels.values()
        )

    async def _work(self, name: str, state: _Channel) -> None:
        """Send one channel's messages in order until the channel is removed."""
        while not state.removed:
            if not state.queue:
                state.wake = anyio.Event()
                await state.wake.wait()
                continue
            outgoing = state.queue.popleft()
            state.busy = True
            try:
                await self._deliver(name, state, outgoing)
            finally:
                state.busy = False
                self._progress.set()

    async def _deliver(self, name: str, state: _Channel, outgoing: Outgoing) -> None:
        """Send one message, retrying with backoff, unless it goes stale first."""
        message, entries = outgoing.message, outgoing.entries
        config = state.config
        backoff = Backoff(config.retry_initial, config.retry_max, self._jitter, self._rng)
        attempts = 0
        while True:
            age = self._clock() - message.found_at
            if age > config.freshness:
                state.stats.dropped_stale += 1
                detail = f"dropped: {age:.0f}s old, channel freshness {config.freshness:g}s"
                logger.warning("channel %s: alert %r %s", name, message.title, detail)
                self._report_all(name, entries, ok=False, attempts=attempts, detail=detail)
                return
            attempts += 1
            sender = state.sender
            # Abandoned on cancellation: a send hung in apprise must not hold up shutdown
            # beyond the flush timeout.
            ok, error = await anyio.to_thread.run_sync(sender.send, message, abandon_on_cancel=True)
            if ok:
                state.stats.sent += 1
                state.stats.failing_since = None
                logger.info("channel %s: sent %r (attempt %d)", name, message.title, attempts)
                self._report_all(name, entries, ok=True, attempts=attempts, detail="")
                return
            state.stats.last_error = error
            if state.stats.failing_since is None:
                state.stats.failing_since = self._clock()
            # A removed channel stops after the send in progress: no more retries.
            if attempts > config.retries or state.removed:
                state.stats.failed += 1
                logger.error(
                    "channel %s: gave up on %r after %d attempts: %s",
                    name,
                    message.title,
                    attempts,
                    error,
                )
                self._report_all(name, entries, ok=False, attempts=attempts, detail=error)
                return
            state.stats.retried += 1
            delay = backoff.next_delay()
            logger.warning(
                "channel %s: attempt %d failed (%s); retrying in %.2fs",
                name,
                attempts,
                error,
                delay,
            )
            # Waking when the message turns stale, not later, frees the queue behind it.
            await anyio.sleep(min(delay, max(0.0, config.freshness - age)))

    def _report_all(
        self, channel: str, entries: Sequence[Entry], *, ok: bool, attempts: int, detail: str
    ) -> None:
        """Tell ``on_result`` how the alerts ``entries`` ended (those of one message, say)."""
        if self._on_result is not None:
            at = self._clock()
            for message, decision in entries:
                self._on_result(
                    DeliveryResult(channel, message.key, ok, attempts, at, detail, decision)
                )


async def send_sample(channel: ChannelConfig, message: Message) -> bool:
    """Send ``message`` once to each of the channel's URLs (``arbwatch test-notify``).

    No retries and no freshness check: the bettor is watching and wants the answer now.
    Each URL that fails gets an error log line naming its scheme and what went wrong
    (redacted). Returns whether every URL took the message.
    """
    delivered = True
    for url in channel.urls:
        sender = _Sender(ChannelConfig(name=channel.name, urls=(url,)))
        ok, error = await anyio.to_thread.run_sync(sender.send, message)
        if not ok:
            delivered = False
            logger.error(
                "channel %s: %s:// did not take the sample alert: %s",
                channel.name,
                _scheme(url.reveal()),
                error,
            )
    return delivered


def _scheme(url: str) -> str:
    """The scheme of a URL (``tgram``), the one part safe to show of an unparsed URL."""
    return url.split("://", 1)[0] if "://" in url else "?"
