"""What the daemon reports about itself: a plain snapshot, and the counters it is made from.

`Daemon.health` builds a `Health` on demand; the status listener (``/metrics``,
``/status``), ``arbwatch status`` and systemd's STATUS= line all read from it, so the three
never disagree. Everything here is plain data (no sockets, no clock reads): times are
passed in.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from arbwatch.core.words import plural
from arbwatch.feeds.registry import PROVIDERS, THERUNDOWN

#: Upper bounds (seconds) of the evaluation-latency histogram's buckets; +Inf is implied.
LATENCY_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
#: The window (seconds) over which "per second" rates are measured.
RATE_WINDOW: Final = 10.0


def allowance(provider: str) -> tuple[str, str]:
    """How ``provider`` is named in texts, and what its allowance counts.

    RapidOddsAPI charges credits; TheRundown counts data points. Status, health alerts and
    ``arbwatch status`` all take the word from the providers' registry, so they never
    disagree.
    """
    known = PROVIDERS.get(provider, THERUNDOWN)
    return known.title, known.allowance


class Histogram:
    """A cumulative histogram in the Prometheus sense: counts per upper bound, sum, count."""

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        """Empty, with these upper bounds (ascending)."""
        self.bounds = bounds
        self._counts = [0] * (len(bounds) + 1)
        self.total = 0.0
        self.count = 0

    @classmethod
    def from_cumulative(cls, cumulative: Sequence[tuple[float, int]], total: float) -> Histogram:
        """The histogram `cumulative` describes (its last bound is inf), with this sum.

        How a reader of ``/status`` gets the daemon's histogram back.
        """
        histogram = cls(tuple(bound for bound, _ in cumulative[:-1]))
        previous = 0
        for index, (_, running) in enumerate(cumulative):
            histogram._counts[index] = running - previous
            previous = running
        histogram.total = total
        histogram.count = previous
        return histogram

    def copy(self) -> Histogram:
        """An independent histogram with the same counts."""
        return Histogram.from_cumulative(self.cumulative(), self.total)

    def observe(self, value: float) -> None:
        """Count one observation."""
        self._counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations <= it) for every bound, then (inf, count)."""
        running, out = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self._counts, strict=True):
            running += count
            out.append((bound, running))
        return out


class Rate:
    """Events per second over the last `RATE_WINDOW` seconds, from a running total."""

    def __init__(self, window: float = RATE_WINDOW) -> None:
        """Empty; ``window`` seconds of samples are kept."""
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def sample(self, now: float, total: int) -> None:
        """Note the running total at ``now`` (monotonic seconds)."""
        self._samples.append((now, total))
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
            self._samples.popleft()

    def per_second(self) -> float:
        """The rate between the oldest and the newest sample kept (0 with fewer than two)."""
        if len(self._samples) < 2:
            return 0.0
        (start, first), (end, last) = self._samples[0], self._samples[-1]
        return (last - first) / (end - start) if end > start else 0.0


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One feed as an operator sees it."""

    name: str
    provider: str
    state: str
    updates: int
    updates_per_second: float
    frames: int
    malformed: int
    dropped_batches: int
    reconnects: int
    #: Seconds since the feed's last message (None: nothing yet).
    last_message_age: float | None
    last_error: str
    fatal_error: str
    #: RapidOddsAPI only: credits charged since start, and left on the plan (if known).
    credits_used: int | None = None
    #: Credits (RapidOddsAPI) or data points (TheRundown) left, and the plan's allowance,
    #: as the provider last said (None: not said).
    credits_remaining: int | None = None
    credits_limit: int | None = None
    #: The provider said the credits ran out (its pushes are skipped until they are back).
    out_of_credits: bool = False
    #: Seconds since the feed's last message with odds, for feeds that tell (RapidOddsAPI
    #: pushes on a schedule); None: not told, or none yet.
    last_data_age: float | None = None
    #: Quotes withdrawn because their price was above the feed's ``max_price``.
    prices_out_of_range: int = 0

    @property
    def delivering(self) -> bool:
        """Whether its prices are current: connected and not out of credits.

        A feed still fetching its start-up pages ("bootstrapping") streams already.
        """
        return self.state in ("up", "bootstrapping") and not self.out_of_credits


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """One alert channel's delivery counters."""

    name: str
    sent: int
    failed: int
    retried: int
    dropped_stale: int
    dropped_full: int
    last_error: str
    #: Epoch seconds of the first failed attempt since the last success (None: working).
    failing_since: float | None = None


@dataclass(frozen=True, slots=True)
class LiveOpportunity:
    """An opportunity that is live now, as the lifecycle tracks it."""

    rule: str
    kind: str
    summary: str
    value: float
    best_value: float
    first_seen: float
    last_seen: float
    alerted: bool


@dataclass(frozen=True, slots=True)
class RecentAlert:
    """One alert the daemon sent to the notifier."""

    at: float
    reason: str
    rule: str
    title: str
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Health:
    """The daemon at one moment: feeds, engine, opportunities, alerts, channels."""

    at: float
    started_at: float
    version: str
    feeds: tuple[FeedHealth, ...]
    channels: tuple[ChannelHealth, ...]
    batches: int
    updates: int
    updates_per_second: float
    evaluations: int
    #: Rule matches found, by kind (``arbitrage``, ``positive_ev``), counted per evaluation.
    opportunities_found: dict[str, int]
    alerts: int
    #: Alerts by reason (``new``, ``improved``, ``repeat``, ``gone``).
    alerts_by_reason: dict[str, int]
    latency: Histogram
    #: Seconds since the engine last finished an evaluation (None: not yet).
    last_evaluation_age: float | None
    live: tuple[LiveOpportunity, ...]
    recent_alerts: tuple[RecentAlert, ...]
    config_reloads: int
    config_reload_failures: int
    store_failures: int
    #: Markets with a row in the price matrix now.
    markets: int
    #: Markets retired from the matrix for want of a recent quote, since start.
    markets_retired: int
    #: Which daemon this is, so that ``arbwatch status`` can tell it from another one on
    #: the same port: its process id and its state directory ("" and 0: not said).
    pid: int = 0
    state_dir: str = ""
    #: The health conditions alerted and not recovered (titles, as pushed), oldest first.
    problems: tuple[str, ...] = ()
    #: Epoch seconds since when state-database writes fail (None: they work), and why.
    store_failing_since: float | None = None
    store_error: str = ""

    @property
    def feeds_up(self) -> int:
        """How many feeds are connected now."""
        return sum(1 for feed in self.feeds if feed.state == "up")

    def status_line(self) -> str:
        """One line for systemd's STATUS=: feeds up, updates/s, live opportunities, alerts."""
        return (
            f"feeds {self.feeds_up}/{len(self.feeds)} up · "
            f"{self.updates_per_second:,.0f} updates/s · "
            f"{plural(len(self.live), 'live opportunity', 'live opportunities')} · "
            f"{plural(self.alerts, 'alert')} sent"
        )


@dataclass
class Counters:
    """The daemon's running counters, kept by the engine task (one writer, no locks)."""

    latency: Histogram = field(default_factory=Histogram)
    updates_by_feed: dict[str, int] = field(default_factory=dict)
    found_by_kind: dict[str, int] = field(default_factory=dict)
    alerts_by_reason: dict[str, int] = field(default_factory=dict)
    recent_alerts: deque[RecentAlert] = field(default_factory=lambda: deque(maxlen=20))
    rate: Rate = field(default_factory=Rate)
    feed_rates: dict[str, Rate] = field(default_factory=dict)
