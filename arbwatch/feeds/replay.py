"""``arbwatch replay FILE``: run a recording through the engine again, deterministically.

Each recorded frame goes to the same pure session its live feed used (chosen by the
frame's provider), and each batch through the daemon's own engine step
(`arbwatch.core.engine`): the price matrix, the rules and the alert lifecycle, with the
frame's receive time as ``now``, and the lifecycle's expiry every `EXPIRY_INTERVAL` of
recorded time, as the daemon runs it every second. Nothing is read from the clock, so a
replay gives the same answers every time: a recording of a bad night is a test case.

Several recordings (one per feed, say) are merged in receive-time order. With a config's
rules, what is printed is what the daemon would have alerted; without, `first_sight_rules`
print each opportunity when it first appears, not again while it lasts.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import TextIO

from arbwatch.core.clv import ClvRecord, ClvTracker, track_alerts
from arbwatch.core.clv_summary import summary_lines
from arbwatch.core.dedup import Alert, AlertReason
from arbwatch.core.devig import DevigMethod
from arbwatch.core.engine import EXPIRY_INTERVAL, Engine
from arbwatch.core.evaluate import Opportunity
from arbwatch.core.odds import OddsFormat, format_odds
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.core.words import plural
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.model import ParseError
from arbwatch.feeds.recording import FrameReplayer, RecordedFrame, read_recording
from arbwatch.feeds.registry import recorded_provider


@dataclass
class ReplayResult:
    """What a replay saw and decided."""

    frames: int = 0
    batches: int = 0
    updates: int = 0
    malformed: int = 0
    #: Frames of providers this version cannot replay, by provider.
    unknown_providers: dict[str, int] = field(default_factory=dict)
    #: Receive times of the first and last frame read (None before any).
    first_at: float | None = None
    last_at: float | None = None
    #: Every alert the lifecycle decided, in order.
    alerts: list[Alert] = field(default_factory=list)
    #: The closing-line value of the alerted prices whose game started within the
    #: recording (with a `ClvTracker` given to `run_frames`).
    clv: list[ClvRecord] = field(default_factory=list)

    @property
    def found(self) -> list[Opportunity]:
        """The opportunities alerted (GONE alerts left out), in order."""
        return [
            alert.opportunity
            for alert in self.alerts
            if alert.opportunity is not None and alert.reason is not AlertReason.GONE
        ]

    @property
    def span(self) -> float:
        """Recorded seconds from the first frame to the last."""
        if self.first_at is None or self.last_at is None:
            return 0.0
        return self.last_at - self.first_at


_RECEIVED_AT = attrgetter("received_at")


def merged(paths: Sequence[Path]) -> Iterator[RecordedFrame]:
    """The frames of every recording in ``paths``, in receive-time order.

    Each file is in receive order already; ties keep the order of ``paths``.

    Raises:
        RecordingError: a file cannot be read.
    """
    return heapq.merge(*(read_recording(path) for path in paths), key=_RECEIVED_AT)


def run_frames(
    frames: Iterable[RecordedFrame],
    engine: Engine,
    on_alert: Callable[[Alert], None] | None = None,
    *,
    clv: ClvTracker | None = None,
) -> ReplayResult:
    """Run ``frames`` through ``engine`` on their recorded clock; ``on_alert`` sees each alert.

    A frame's batch is one engine step at its receive time. Before it, the lifecycle's
    expiry runs whenever the daemon's timer would have: at each `EXPIRY_INTERVAL` of
    recorded time since the last, and when an alert held by ``min_duration`` comes due
    (`Lifecycle.next_due`), at that time. With ``clv``, the alerted prices are tracked
    and settled as the daemon does (`arbwatch.clv_recorder`): each game settles at the
    first step or expiry at or after its recorded start; what has not started by the last
    frame is left in ``clv`` (`ClvTracker.tracked`). An alert still held at the last frame
    is decided when it comes due, as the daemon's timer does.
    """
    identity = EventIdentity()
    replayers: dict[str, FrameReplayer] = {}
    result = ReplayResult()
    timer = _Timer()
    rules = engine.rules

    def decided(alerts: Sequence[Alert], now: float) -> None:
        for alert in alerts:
            result.alerts.append(alert)
            if on_alert is not None:
                on_alert(alert)
        if clv is not None:
            result.clv.extend(track_alerts(clv, alerts, engine.matrix, rules)[1])
            result.clv.extend(clv.settle(now))

    for frame in frames:
        result.frames += 1
        now = frame.received_at
        if result.first_at is None:
            result.first_at = now
            timer.next_tick = now + EXPIRY_INTERVAL
        result.last_at = now
        replayer = replayers.get(frame.feed)
        if replayer is None:
            provider = recorded_provider(frame.provider)
            if provider is None:
                result.unknown_providers[frame.provider] = (
                    result.unknown_providers.get(frame.provider, 0) + 1
                )
                continue
            replayer = replayers[frame.feed] = provider.replayer(identity, frame.feed)
        try:
            batch = replayer.replay(frame)
        except ParseError:
            result.malformed += 1
            continue
        if batch is None:
            continue
        timer.run_until(engine, now, decided)
        result.batches += 1
        result.updates += len(batch.updates)
        step = engine.step((batch,), now)
        timer.last = now
        if clv is not None:
            clv.observe_batches(step.batches)
        decided(step.observation.alerts, now)
    # Alerts still held by min_duration at the last frame come due as the daemon's timer
    # would have had them (min_duration is short: the daemon was still running).
    while (due := engine.lifecycle.next_due()) is not None and due > timer.last:
        timer.run_until(engine, due, decided)
    return result


@dataclass
class _Timer:
    """The daemon's expiry timer, on the recorded clock.

    Attributes:
        next_tick: when the next `EXPIRY_INTERVAL` tick is (inf before the first frame).
        last: the latest time the engine decided at (a step or an expiry).
    """

    next_tick: float = math.inf
    last: float = -math.inf

    def run_until(
        self, engine: Engine, now: float, decided: Callable[[Sequence[Alert], float], None]
    ) -> None:
        """Run the expiries the daemon's timer would have run up to ``now``.

        Every tick while something is open, and each held alert at its due time; with
        nothing open a tick changes nothing, so a gap of hours (or a stray early frame) is
        skipped. A due time already passed (a held alert quiet hours keep held) is left to
        the ticks: time never runs backwards.
        """
        lifecycle = engine.lifecycle
        while True:
            due = lifecycle.next_due()
            if due is None or due <= self.last:
                due = math.inf
            tick = self.next_tick if lifecycle.active_count else math.inf
            at = min(tick, due)
            if at > now:
                break
            decided(engine.expire(at).alerts, at)
            self.last = at
            if at == tick:
                self.next_tick += EXPIRY_INTERVAL
        if self.next_tick <= now:
            behind = math.floor((now - self.next_tick) / EXPIRY_INTERVAL + 1)
            self.next_tick += behind * EXPIRY_INTERVAL


def first_sight_rules(
    *,
    min_profit: float,
    min_ev: float,
    max_quote_age: float,
    sharp: Sequence[str],
    devig: DevigMethod,
) -> tuple[RuleConfig, RuleConfig]:
    """Rules for a replay without a config: every arbitrage and +EV price, once each.

    An infinite repeat and no improvement step make the lifecycle alert an opportunity the
    first time it is seen and never again, whatever its price does later.
    """
    return (
        RuleConfig(
            name="arbitrage",
            kind="arbitrage",
            notify=(),
            min_value=min_profit,
            max_quote_age=max_quote_age,
            repeat=math.inf,
            improve_by=0.0,
        ),
        RuleConfig(
            name="positive_ev",
            kind="positive_ev",
            notify=(),
            min_value=min_ev,
            sharp=tuple(sharp),
            devig=devig,
            max_quote_age=max_quote_age,
            repeat=math.inf,
            improve_by=0.0,
        ),
    )


def replay(
    paths: Sequence[Path],
    out: TextIO,
    *,
    rules: Sequence[RuleConfig],
    commissions: Mapping[str, float] | None = None,
    odds_format: OddsFormat = OddsFormat.DECIMAL,
    name_rules: bool = False,
    closing_line: bool = False,
) -> ReplayResult:
    """Replay the recordings at ``paths`` under ``rules``, printing each alert as decided.

    ``name_rules`` adds each alert's rule and reason to its line (a config's rules);
    ``closing_line`` prints the closing-line value of the alerted prices before the summary
    (`arbwatch.core.clv_summary`, as ``history --clv`` does).

    Raises:
        RecordingError: a file cannot be read.
    """
    engine = Engine(rules, commissions or {})

    def show(alert: Alert) -> None:
        print(describe(alert, odds_format, name_rule=name_rules), file=out)

    tracker = ClvTracker() if closing_line else None
    result = run_frames(merged(paths), engine, show, clv=tracker)
    if tracker is not None:
        print("\n".join(summary_lines(result.clv, tracker.tracked)), file=out)
    print(_summary(result), file=out)
    return result


def describe(alert: Alert, odds_format: OddsFormat, *, name_rule: bool = False) -> str:
    """One line: when, what, how much, the event and market, and each leg."""
    when = datetime.fromtimestamp(alert.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
    kind = "ARB" if alert.state.kind == "arbitrage" else "EV"
    opportunity = alert.opportunity
    rule = f"  [{alert.rule.name} {alert.reason.value}]" if name_rule else ""
    if opportunity is None or alert.reason is AlertReason.GONE:
        return f"{when}  {kind} gone  {alert.state.summary}{rule}"
    event = opportunity.event
    legs = " / ".join(
        f"{leg.label} {format_odds(leg.price, odds_format)} @ {leg.book}"
        for leg in opportunity.legs
    )
    return (
        f"{when}  {kind} {opportunity.value:+.2%}  {event.sport}  {event.name}  "
        f"{opportunity.market.label()}  {legs}{rule}"
    )


def _summary(result: ReplayResult) -> str:
    """The closing line of a replay."""
    found = result.found
    arbitrages = sum(1 for o in found if o.kind == "arbitrage")
    if result.frames == 0:
        return "replayed nothing: the recording holds no frames"
    text = (
        f"replayed {plural(result.frames, 'frame')}: {plural(result.batches, 'batch', 'batches')}"
        f", {plural(result.updates, 'update')}, {result.malformed:,} malformed; found "
        f"{plural(arbitrages, 'arbitrage')} and {len(found) - arbitrages:,} +EV"
    )
    if result.unknown_providers:
        skipped = ", ".join(f"{n} of {p}" for p, n in sorted(result.unknown_providers.items()))
        text += f"; skipped frames of providers this version cannot replay: {skipped}"
    return text
