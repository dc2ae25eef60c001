"""Delivery: one queue and one worker per channel, apprise in a thread, retries, freshness.

    engine ──submit()──> channel queue (bounded; full: the oldest goes) ──> worker ──> apprise
                                                                             │ retry with
                                                                             │ backoff, drop
                                                                             └ when stale

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
import random
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

import anyio
import anyio.abc
import apprise

from arbwatch.config.model import ChannelConfig
from arbwatch.feeds.base import Backoff, install_redaction, redact
from arbwatch.notify.message import Message

logger = logging.getLogger(__name__)

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
    #: Messages waiting, each with its row in the notification log (None: not logged).
    queue: deque[tuple[Message, int | None]] = field(default_factory=deque)
    stats: ChannelStats = field(default_factory=ChannelStats)
    #: Set to wake the worker: a message arrived or the channel was removed.
    wake: anyio.Event = field(default_factory=anyio.Event)
    busy: bool = False
    removed: bool = False


class _Sender:
    """One channel's apprise object, and its URLs' redactions.

    Apprise is blocking; `send` runs in a worker thread, one call at a time per channel.
    """

    def __init__(self, config: ChannelConfig) -> None:
        """Load the channel's URLs into an `apprise.Apprise`; bad ones are logged and left out."""
        self.apprise = apprise.Apprise()
        self._secrets: set[str] = set()
        for url in config.urls:
            revealed = url.reveal()
            if not self.apprise.add(revealed):
                logger.error("channel %s: apprise refused a %s URL", config.name, _scheme(revealed))
                continue
            service = self.apprise[len(self.apprise) - 1]
            self._secrets |= hidden_parts(revealed, service.url(privacy=True))  # type: ignore[no-untyped-call]
        # Apprise's own log lines can carry tokens (a refused request names its URL): its
        # logger scrubs this channel's secrets from every record, whatever the level; the
        # longer ones are remembered for every other line and error too.
        install_redaction(self._secrets, loggers=("apprise",))

    def send(self, message: Message) -> tuple[bool, str]:
        """One attempt to every URL: (delivered to all, what went wrong, redacted)."""
        try:
            result = self.apprise.notify(
                body=message.body, title=message.title, body_format=apprise.NotifyFormat.TEXT
            )
        # Apprise plugins may raise anything; a raise is a failed attempt, to be retried,
        # never the end of the channel's worker.
        except Exception as error:  # noqa: BLE001
            return False, self.redact(f"{type(error).__name__}: {error}")
        if result:
            return True, ""
        if not len(result):
            return False, "no URL could be loaded"
        failures = []
        for service in result:
            if service:
                continue
            warnings = [entry.message for entry in service.logs() if entry.level != "DEBUG"]
            reason = warnings[-1] if warnings else service.status.name.lower()
            failures.append(f"{service.url.split('?', 1)[0]}: {reason}")
        return False, self.redact("; ".join(failures))

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
        self._channels = {
            name: _Channel(config, _Sender(config)) for name, config in channels.items()
        }
        self._group: anyio.abc.TaskGroup | None = None
        #: Set each time a worker finishes with a message; `flush` waits on it.
        self._progress = anyio.Event()

    # --- the engine's side -------------------------------------------------------------

    def has_channel(self, channel: str) -> bool:
        """Whether ``channel`` is one of the current channels."""
        return channel in self._channels

    def submit(self, channel: str, message: Message, decision: int | None = None) -> bool:
        """Queue ``message`` for ``channel`` without waiting; False if there is no such channel.

        ``decision`` is the message's row in the notification log, reported back with its
        outcome (`DeliveryResult.decision`).

        When the queue is full the oldest message waiting is dropped (and counted): a newer
        alert is worth more than an older one about a price that may be gone.
        """
        state = self._channels.get(channel)
        if state is None:
            logger.warning("no channel %r: alert %r not queued", channel, message.title)
            return False
        if len(state.queue) >= self._queue_size:
            dropped, dropped_decision = state.queue.popleft()
            state.stats.dropped_full += 1
            logger.warning(
                "channel %s: queue full (%d), dropped the oldest alert %r",
                channel,
                self._queue_size,
                dropped.title,
            )
            self._report(
                channel,
                dropped,
                dropped_decision,
                ok=False,
                attempts=0,
                detail="dropped: queue full",
            )
        state.queue.append((message, decision))
        state.wake.set()
        return True

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
            if gone.queue:
                logger.warning("channel %s removed: %d alerts not sent", name, len(gone.queue))
            for message, decision in gone.queue:
                self._report(
                    name,
                    message,
                    decision,
                    ok=False,
                    attempts=0,
                    detail="dropped: channel removed",
                )
            gone.queue.clear()
        for name, config in channels.items():
            state = self._channels.get(name)
            if state is None:
                state = self._channels[name] = _Channel(config, _Sender(config))
                if self._group is not None:
                    self._group.start_soon(self._work, name, state)
            elif state.config != config:
                state.config, state.sender = config, _Sender(config)

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
                await anyio.sleep_forever()
            finally:
                self._group = None

    async def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for every queue to empty and every send to end.

        For shutdown, while `run` still runs. Returns how many messages were left
        undelivered (waiting, or being sent), with a log line if any were.
        """
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
        return sum(len(state.queue) + state.busy for state in self._channels.values())

    async def _work(self, name: str, state: _Channel) -> None:
        """Send one channel's messages in order until the channel is removed."""
        while not state.removed:
            if not state.queue:
                state.wake = anyio.Event()
                await state.wake.wait()
                continue
            message, decision = state.queue.popleft()
            state.busy = True
            try:
                await self._deliver(name, state, message, decision)
            finally:
                state.busy = False
                self._progress.set()

    async def _deliver(
        self, name: str, state: _Channel, message: Message, decision: int | None
    ) -> None:
        """Send one message, retrying with backoff, unless it goes stale first."""
        config = state.config
        backoff = Backoff(config.retry_initial, config.retry_max, self._jitter, self._rng)
        attempts = 0
        while True:
            age = self._clock() - message.found_at
            if age > config.freshness:
                state.stats.dropped_stale += 1
                detail = f"dropped: {age:.0f}s old, channel freshness {config.freshness:g}s"
                logger.warning("channel %s: alert %r %s", name, message.title, detail)
                self._report(name, message, decision, ok=False, attempts=attempts, detail=detail)
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
                self._report(name, message, decision, ok=True, attempts=attempts, detail="")
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
                self._report(name, message, decision, ok=False, attempts=attempts, detail=error)
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

    def _report(
        self,
        channel: str,
        message: Message,
        decision: int | None,
        *,
        ok: bool,
        attempts: int,
        detail: str,
    ) -> None:
        """Tell ``on_result`` how a message ended."""
        if self._on_result is not None:
            self._on_result(
                DeliveryResult(channel, message.key, ok, attempts, self._clock(), detail, decision)
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
