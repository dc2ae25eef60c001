"""The figures ``arbwatch bench --e2e`` measures, and the plain lines that print them.

Pure: numbers in, text out; `arbwatch.bench.e2e` fills them in.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from arbwatch.bench.e2e_settings import E2eSettings


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


@dataclass
class RateFigures:
    """One rate's phase: what was offered, what the daemon took, and at what cost."""

    rate: int | None
    seconds: float
    offered: int
    dropped: int
    taken: int
    #: The engine's evaluations meanwhile: one a frame is no batching at all.
    evaluations: int
    cpu_seconds: float
    planted: int
    latencies: list[float]
    peak_rss_mb: float
    load: float

    @property
    def label(self) -> str:
        """The rate as the table shows it."""
        return "max" if self.rate is None else f"{self.rate:,}"

    @property
    def taken_per_second(self) -> float:
        """Frames the daemon read a second."""
        return self.taken / self.seconds

    @property
    def frames_per_evaluation(self) -> float:
        """Frames taken per evaluation of the engine."""
        return self.taken / self.evaluations if self.evaluations else math.nan

    @property
    def cpu_per_frame_us(self) -> float:
        """The daemon's CPU per frame taken, in microseconds."""
        return self.cpu_seconds / self.taken * 1e6 if self.taken else math.nan


@dataclass
class StartFigures:
    """How long the daemon took to open its socket and to take the board in; the pages' size."""

    page_bytes: int
    pages: int
    ws_open: float
    #: Until the feed had passed every price of the board to the engine.
    applied: float


@dataclass
class BareFigures:
    """The bare client's frames a second, and the simulator's CPU meanwhile."""

    frames: int
    seconds: float
    simulator_cpu: float

    @property
    def per_second(self) -> float:
        """Frames the bare client read a second."""
        return self.frames / self.seconds if self.seconds else math.nan

    @property
    def simulator_capacity(self) -> float:
        """Frames a second the simulator could send with a core of its own."""
        return self.frames / self.simulator_cpu if self.simulator_cpu else math.inf


@dataclass
class MemoryFigures:
    """The daemon's resident memory over a long run at full speed: (seconds, MB) samples."""

    samples: list[tuple[float, float]]
    warm_up: float

    @property
    def growth(self) -> float:
        """Growth from the first sample after warm-up to the last, in percent."""
        after = [mb for at, mb in self.samples if at >= self.warm_up]
        if len(after) < 2:
            return math.nan
        return (after[-1] / after[0] - 1.0) * 100.0


@dataclass
class PushFigures:
    """One big push: its size, the daemon's decode and apply time, CPU and push -> alert."""

    characters: int
    #: The daemon's decode and apply of the push: wall and CPU milliseconds.
    apply_ms: float
    apply_cpu_ms: float
    cpu_seconds: float
    latency: float | None


@dataclass
class E2eReport:
    """Everything one ``bench --e2e`` measured."""

    settings: E2eSettings
    bare: BareFigures | None = None
    start: StartFigures | None = None
    rates: list[RateFigures] = field(default_factory=list)
    memory: MemoryFigures | None = None
    pushes: list[PushFigures] = field(default_factory=list)
    push_ws_open: float = math.nan

    @property
    def full_speed(self) -> RateFigures | None:
        """The phase at full speed, if one ran."""
        return next((rate for rate in self.rates if rate.rate is None), None)


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:,.0f}"


#: The rate table's columns and their widths (fixed, so rows printed one by one line up).
RATE_COLUMNS: Final = (
    ("rate/s", 7), ("offered/s", 10), ("taken/s", 8), ("dropped", 8), ("CPU", 5),
    ("CPU/frame", 10), ("frames/eval", 11), ("planted", 8), ("p50 ms", 7), ("p99 ms", 7),
    ("max ms", 7), ("peak RSS", 9), ("load", 5),
)  # fmt: skip


def _row(cells: Sequence[str]) -> str:
    return "  ".join(
        cell.rjust(width) for cell, (_, width) in zip(cells, RATE_COLUMNS, strict=True)
    )


def board_line(settings: E2eSettings) -> str:
    """The board measured, and the machine."""
    prices = settings.events * settings.books * 6
    return (
        f"board: {settings.events:,} games x moneyline, spread, total x {settings.books} books"
        f" = {prices:,} prices; {os.cpu_count()} CPUs"
    )


def bare_line(bare: BareFigures) -> str:
    """The bare client's speed, and what the simulator could do."""
    return (
        f"bare httpx-ws client: {bare.per_second:,.0f} frames/s ({bare.frames:,} in "
        f"{bare.seconds:.1f} s); the simulator spent {bare.simulator_cpu:.2f} s CPU on them: "
        f"it could send {bare.simulator_capacity:,.0f} frames/s"
    )


def start_line(start: StartFigures) -> str:
    """TheRundown start-up."""
    return (
        f"TheRundown start-up: events pages {start.page_bytes / 1e6:.1f} MB in {start.pages}; "
        f"WebSocket open {start.ws_open:.2f} s after start, board applied {start.applied:.2f} s"
    )


def rate_header() -> str:
    """The rate table's header."""
    return _row([name for name, _ in RATE_COLUMNS])


def rate_row(rate: RateFigures) -> str:
    """One rate's row."""
    return _row(
        (
            rate.label,
            f"{rate.offered / rate.seconds:,.0f}",
            f"{rate.taken_per_second:,.0f}",
            f"{rate.dropped:,}",
            f"{rate.cpu_seconds / rate.seconds * 100:.0f} %",
            f"{rate.cpu_per_frame_us:,.0f} µs",
            f"{rate.frames_per_evaluation:,.2f}",
            f"{len(rate.latencies)}/{rate.planted}",
            _ms(percentile(rate.latencies, 0.5)),
            _ms(percentile(rate.latencies, 0.99)),
            _ms(max(rate.latencies, default=math.nan)),
            f"{rate.peak_rss_mb:.0f} MB",
            f"{rate.load:.2f}",
        )
    )


def memory_line(memory: MemoryFigures) -> str:
    """RSS over the long run, and its growth after warm-up."""
    after = [mb for at, mb in memory.samples if at >= memory.warm_up]
    first = after[0] if after else math.nan
    highest = max((mb for _, mb in memory.samples), default=math.nan)
    return (
        f"memory at full speed, {memory.samples[-1][0]:.0f} s: RSS {memory.samples[0][1]:.0f} MB"
        f" at start, {first:.0f} MB after {memory.warm_up:.0f} s of warm-up, "
        f"{memory.samples[-1][1]:.0f} MB at the end, {highest:.0f} MB at most "
        f"({len(memory.samples)} samples); growth after warm-up {memory.growth:+.1f} %"
    )


def push_line(number: int, push: PushFigures) -> str:
    """One big push."""
    latency = "no alert" if push.latency is None else f"alert {_ms(push.latency)} ms after"
    return (
        f"big push {number}: {push.characters / 1e6:.2f} MB, decoded and applied in "
        f"{push.apply_ms:,.0f} ms ({push.apply_cpu_ms:,.0f} ms CPU), daemon CPU "
        f"{push.cpu_seconds:.2f} s in all, {latency} it was sent"
    )


def format_report(report: E2eReport) -> list[str]:
    """The whole report as plain lines, ready for the README."""
    lines = [board_line(report.settings)]
    if report.bare is not None:
        lines.append(bare_line(report.bare))
    if report.start is not None:
        lines.append(start_line(report.start))
    if report.rates:
        lines += [rate_header(), *map(rate_row, report.rates)]
    full = report.full_speed
    if full is not None and report.bare is not None and report.bare.per_second:
        ratio = full.taken_per_second / report.bare.per_second
        lines.append(f"daemon / bare client at full speed: {ratio:.2f}")
    if report.memory is not None:
        lines.append(memory_line(report.memory))
    if report.pushes:
        lines.append(f"RapidOddsAPI start-up: WebSocket open {report.push_ws_open:.2f} s")
    lines += [push_line(number, push) for number, push in enumerate(report.pushes, 1)]
    return lines
