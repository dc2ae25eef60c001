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
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Protocol, TextIO

from arbwatch.config.model import RuleConfig
from arbwatch.core.dedup import Alert, AlertReason
from arbwatch.core.devig import DevigMethod
from arbwatch.core.engine import EXPIRY_INTERVAL, Engine
from arbwatch.core.evaluate import Opportunity
from arbwatch.core.odds import OddsFormat, format_odds
from arbwatch.feeds.base import FeedBatch
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.model import ParseError
from arbwatch.feeds.rapidodds_feed import RapidOddsSession
from arbwatch.feeds.recording import RecordedFrame, read_recording
from arbwatch.feeds.rundown import PROVIDER as RUNDOWN_PROVIDER
from arbwatch.feeds.rundown_feed import RundownSession
from arbwatch.feeds.rundown_v1_feed import V1_PROVIDER, RundownV1Session


class FrameReplayer(Protocol):
    """Turns one provider's recorded frames into batches, as its live session did."""

    def replay(self, frame: RecordedFrame) -> FeedBatch | None:
        """The batch this frame produced, if any; `ParseError` for a broken frame."""
        ...


_SNAPSHOT_SPORT = re.compile(r"/sports/([^/?#]+)/markets")


@dataclass
class _RapidOddsReplayer:
    """RapidOddsAPI: WebSocket messages and REST snapshots, through `RapidOddsSession`."""

    session: RapidOddsSession

    def replay(self, frame: RecordedFrame) -> FeedBatch | None:
        """Feed one frame to the session."""
        if frame.channel == "ws":
            return self.session.handle_message(frame.frame, frame.received_at).batch
        if frame.channel == "rest:snapshot":
            sport = _SNAPSHOT_SPORT.search(frame.source)
            if sport is None:
                raise ParseError(f"a snapshot without its sport in the source: {frame.source}")
            return self.session.handle_snapshot(
                frame.frame, sport.group(1), frame.received_at
            ).batch
        return None


_EVENTS_PAGE = re.compile(r"/api/v2/sports/(\d+)/events/(\d{4}-\d{2}-\d{2})")
_ONE_EVENT = re.compile(r"/api/v2/events/([^/?#]+)")


@dataclass
class _RundownReplayer:
    """TheRundown V2 or V1: REST bootstrap, resync and refresh bodies, then socket frames."""

    session: RundownSession

    def replay(self, frame: RecordedFrame) -> FeedBatch | None:
        """Feed one frame or body to the session the way the live feed did."""
        session, body, at, channel = self.session, frame.frame, frame.received_at, frame.channel
        if channel == "ws":
            return session.handle_ws(body, at).batch
        if channel == "rest:sports":
            session.handle_sports(body)
        elif channel == "rest:affiliates":
            session.handle_affiliates(body)
        elif _is_refusal(body):
            # The feed records refusals too; a missing event is withdrawn, as it was live.
            event = _ONE_EVENT.search(frame.source)
            if channel == "rest:event" and event is not None:
                return session.handle_event_missing(event.group(1), at).batch
        elif channel == "rest:events":
            page = _EVENTS_PAGE.search(frame.source)
            key = (int(page.group(1)), page.group(2)) if page is not None else None
            return session.handle_events(body, at, page=key).batch
        elif channel == "rest:event":
            return session.handle_event(body, at).batch
        elif channel == "rest:delta":
            return session.handle_delta(body, at).batch
        return None


def _is_refusal(body: str) -> bool:
    """A TheRundown error body, ``{"error": ...}``, rather than data."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return False
    return isinstance(decoded, dict) and "error" in decoded


#: provider -> how to make its replayer for a feed, sharing one identity across feeds.
REPLAYERS: dict[str, Callable[[EventIdentity, str], FrameReplayer]] = {
    "rapidoddsapi": lambda identity, feed: _RapidOddsReplayer(
        RapidOddsSession(identity, feed=feed)
    ),
    RUNDOWN_PROVIDER: lambda identity, feed: _RundownReplayer(RundownSession(feed, identity)),
    V1_PROVIDER: lambda identity, feed: _RundownReplayer(RundownV1Session(feed, identity)),
}


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
) -> ReplayResult:
    """Run ``frames`` through ``engine`` on their recorded clock; ``on_alert`` sees each alert.

    A frame's batch is one engine step at its receive time. Before it, the lifecycle's
    expiry runs at each `EXPIRY_INTERVAL` tick of recorded time since the last, as the
    daemon's timer would have: repeats come due, stale opportunities end.
    """
    identity = EventIdentity()
    replayers: dict[str, FrameReplayer] = {}
    result = ReplayResult()
    next_expiry = math.inf

    def decided(alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            result.alerts.append(alert)
            if on_alert is not None:
                on_alert(alert)

    for frame in frames:
        result.frames += 1
        now = frame.received_at
        if result.first_at is None:
            result.first_at = now
            next_expiry = now + EXPIRY_INTERVAL
        result.last_at = now
        replayer = replayers.get(frame.feed)
        if replayer is None:
            make = REPLAYERS.get(frame.provider)
            if make is None:
                result.unknown_providers[frame.provider] = (
                    result.unknown_providers.get(frame.provider, 0) + 1
                )
                continue
            replayer = replayers[frame.feed] = make(identity, frame.feed)
        try:
            batch = replayer.replay(frame)
        except ParseError:
            result.malformed += 1
            continue
        if batch is None:
            continue
        # Every tick while something is open, as the daemon's timer; with nothing open a
        # tick changes nothing, so a gap of hours (or a stray early frame) is skipped.
        while next_expiry <= now and engine.lifecycle.active_count:
            decided(engine.expire(next_expiry).alerts)
            next_expiry += EXPIRY_INTERVAL
        if next_expiry <= now:
            next_expiry += math.floor((now - next_expiry) / EXPIRY_INTERVAL + 1) * EXPIRY_INTERVAL
        result.batches += 1
        result.updates += len(batch.updates)
        decided(engine.step((batch,), now).observation.alerts)
    return result


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
) -> ReplayResult:
    """Replay the recordings at ``paths`` under ``rules``, printing each alert as decided.

    ``name_rules`` adds each alert's rule and reason to its line (a config's rules).

    Raises:
        RecordingError: a file cannot be read.
    """
    engine = Engine(rules, commissions or {})

    def show(alert: Alert) -> None:
        print(describe(alert, odds_format, name_rule=name_rules), file=out)

    result = run_frames(merged(paths), engine, show)
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
    text = (
        f"replayed {result.frames} frames: {result.batches} batches, {result.updates} updates, "
        f"{result.malformed} malformed; found {arbitrages} arbitrage and "
        f"{len(found) - arbitrages} +EV"
    )
    if result.unknown_providers:
        skipped = ", ".join(f"{n} of {p}" for p, n in sorted(result.unknown_providers.items()))
        text += f"; skipped frames of providers this version cannot replay: {skipped}"
    return text
