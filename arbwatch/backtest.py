"""``arbwatch backtest -c config.yaml RECORDING...``: what the daemon would have alerted.

The recordings (one file per feed, as ``Daemon(record_dir=...)`` writes them) are merged in
receive-time order and run through the daemon's own engine step (`arbwatch.core.engine`)
with the config's rules, quiet hours and alert lifecycle, on the recorded clock
(`arbwatch.feeds.replay.run_frames`). Each alert is printed as its channels would get it
(`arbwatch.notify.alert_message`, the daemon's rendering), then the closing-line value of the
alerted prices whose game started within the recordings (`arbwatch.core.clv_summary`, as
``history --clv`` prints it; the rest are counted as waiting), the alerts per rule and the
figures: frames read, the recorded span, the wall time and recorded frames per second.

Nothing is sent and no state is read or written: a backtest starts from an empty lifecycle,
as a daemon does on a fresh state directory. So a bettor can try a rule change on
yesterday's prices before it costs a missed or a spammed alert.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from arbwatch.config.model import Config
from arbwatch.core.clv import ClvTracker
from arbwatch.core.clv_summary import summary_lines
from arbwatch.core.dedup import Alert
from arbwatch.core.engine import Engine
from arbwatch.feeds.replay import ReplayResult, merged, run_frames
from arbwatch.notify.alert_message import alert_message
from arbwatch.notify.message import Message


@dataclass
class BacktestResult:
    """What a backtest decided, and how fast it ran.

    Attributes:
        replay: frames, batches and updates read; every alert decided.
        messages: each alert's message, as its channels would have got it.
        by_rule: alerts per rule (every configured rule, zero included), by reason.
        wall_seconds: how long the run took.
        clv_pending: alerted prices whose game had not started by the last frame (the
            settled ones are ``replay.clv``).
    """

    replay: ReplayResult
    messages: list[Message] = field(default_factory=list)
    by_rule: dict[str, Counter[str]] = field(default_factory=dict)
    wall_seconds: float = 0.0
    clv_pending: int = 0

    @property
    def frames_per_second(self) -> float:
        """Recorded frames read per second of wall time."""
        return self.replay.frames / self.wall_seconds if self.wall_seconds > 0 else 0.0


def backtest(
    config: Config,
    paths: Sequence[Path],
    out: TextIO,
    *,
    timer: Callable[[], float] = time.perf_counter,
) -> BacktestResult:
    """Run ``paths`` under ``config``'s rules; print each alert, the counts and the figures.

    Raises:
        RecordingError: a recording cannot be read (named with its line).
    """
    engine = Engine(config.rules, config.commissions)
    messages: list[Message] = []
    by_rule: dict[str, Counter[str]] = {rule.name: Counter() for rule in config.rules}

    def show(alert: Alert) -> None:
        message = alert_message(
            alert,
            odds_format=config.odds_format,
            currency=config.currency,
            timezone=config.timezone,
        )
        messages.append(message)
        by_rule.setdefault(alert.rule.name, Counter())[alert.reason.value] += 1
        when = datetime.fromtimestamp(alert.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        channels = ", ".join(alert.rule.notify)
        # The header is the backtest's; title and body are what the channels would get.
        print(f"[{when}] {alert.reason.value} · {alert.rule.name} -> {channels}", file=out)
        print(f"{message.title}\n{message.body}\n", file=out)

    tracker = ClvTracker()
    started = timer()
    replayed = run_frames(merged(paths), engine, show, clv=tracker)
    result = BacktestResult(replayed, messages, by_rule, timer() - started, tracker.tracked)
    print(report(result, len(paths)), file=out)
    return result


def report(result: BacktestResult, recordings: int) -> str:
    """The closing lines: the closing-line value, the alerts per rule, then the figures."""
    lines = [*summary_lines(result.replay.clv, result.clv_pending), "", "alerts per rule:"]
    width = max((len(name) for name in result.by_rule), default=0)
    for name, reasons in result.by_rule.items():
        detail = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
        total = sum(reasons.values())
        lines.append(f"  {name:<{width}}  {total:>5}" + (f"  ({detail})" if detail else ""))
    replayed = result.replay
    skipped = sum(replayed.unknown_providers.values())
    lines.append(
        f"backtest: {replayed.frames:,} frames read from {recordings} recording(s) "
        f"({replayed.batches:,} batches, {replayed.updates:,} updates, "
        f"{replayed.malformed} malformed, {skipped} of unknown providers); "
        f"{replayed.span:,.1f} s recorded, run in {result.wall_seconds:.2f} s: "
        f"{result.frames_per_second:,.0f} recorded frames per second"
    )
    return "\n".join(lines)
