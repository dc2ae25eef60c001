"""``arbwatch replay FILE``: run a recording through the engine again, deterministically.

Each recorded frame goes to the same pure session its live feed used (chosen by the
frame's provider), each batch into a price matrix, and the touched markets are evaluated
with the frame's receive time as ``now``. Nothing is read from the clock, so a replay gives
the same answers every time: a recording of a bad night is a test case.

An opportunity is printed when it first appears (kind, market, and each leg's outcome and
book), not again while it lasts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from arbwatch.core.evaluate import (
    ArbitrageSettings,
    EvSettings,
    Opportunity,
    find_arbitrage,
    find_positive_ev,
)
from arbwatch.core.fair import FairCache
from arbwatch.core.matrix import PriceMatrix
from arbwatch.core.odds import OddsFormat, format_odds
from arbwatch.core.rules import Identity, opportunity_identity
from arbwatch.core.words import plural
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.model import ParseError
from arbwatch.feeds.recording import FrameReplayer, read_recording
from arbwatch.feeds.registry import recorded_provider


@dataclass
class ReplayResult:
    """What a replay saw and found."""

    frames: int = 0
    batches: int = 0
    updates: int = 0
    malformed: int = 0
    #: Frames of providers this version cannot replay, by provider.
    unknown_providers: dict[str, int] = field(default_factory=dict)
    found: list[Opportunity] = field(default_factory=list)


def replay(
    path: Path,
    out: TextIO,
    *,
    arbitrage: ArbitrageSettings,
    positive_ev: EvSettings | None,
    odds_format: OddsFormat = OddsFormat.DECIMAL,
) -> ReplayResult:
    """Replay the recording at ``path``, printing each opportunity as it first appears.

    Raises:
        RecordingError: the file cannot be read.
    """
    identity = EventIdentity()
    replayers: dict[str, FrameReplayer] = {}
    matrix = PriceMatrix()
    fair_cache = FairCache(matrix)
    result = ReplayResult()
    seen: set[Identity] = set()
    for frame in read_recording(path):
        result.frames += 1
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
        result.batches += 1
        result.updates += len(batch.updates)
        for event in batch.events:
            matrix.set_event(event)
        matrix.apply(batch.updates)
        block = matrix.block(matrix.take_dirty())
        now = frame.received_at
        found: list[Opportunity] = list(find_arbitrage(block, now, arbitrage))
        if positive_ev is not None:
            found += find_positive_ev(block, now, positive_ev, fair_cache)
        for opportunity in found:
            key = opportunity_identity(opportunity)
            if key not in seen:
                seen.add(key)
                result.found.append(opportunity)
                print(describe(opportunity, now, odds_format), file=out)
    print(_summary(result), file=out)
    return result


def describe(opportunity: Opportunity, now: float, odds_format: OddsFormat) -> str:
    """One line: when, what, how much, the event and market, and each leg."""
    when = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S")
    kind = "ARB" if opportunity.kind == "arbitrage" else "EV"
    event = opportunity.event
    legs = " / ".join(
        f"{leg.label} {format_odds(leg.price, odds_format)} @ {leg.book}"
        for leg in opportunity.legs
    )
    return (
        f"{when}  {kind} {opportunity.value:+.2%}  {event.sport}  {event.name}  "
        f"{opportunity.market.label()}  {legs}"
    )


def _summary(result: ReplayResult) -> str:
    """The closing line of a replay."""
    arbitrages = sum(1 for o in result.found if o.kind == "arbitrage")
    if result.frames == 0:
        return "replayed nothing: the recording holds no frames"
    text = (
        f"replayed {plural(result.frames, 'frame')}: {plural(result.batches, 'batch', 'batches')}"
        f", {plural(result.updates, 'update')}, {result.malformed:,} malformed; found "
        f"{plural(arbitrages, 'arbitrage')} and {len(result.found) - arbitrages:,} +EV"
    )
    if result.unknown_providers:
        skipped = ", ".join(f"{n} of {p}" for p, n in sorted(result.unknown_providers.items()))
        text += f"; skipped frames of providers this version cannot replay: {skipped}"
    return text
