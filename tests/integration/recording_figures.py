"""Figures, not a test: what recording costs the event loop, per frame, at 5,000 frames/s.

TheRundown's simulator (its world moving every 50 ms) runs on 127.0.0.1 and a real feed
records what it sends for a few seconds: REST events pages, market deltas, heartbeats.
Those frames, cycled to 50,000, are then recorded as fast as they come through each
writer: the rotating gzip one the daemon uses, and a plain JSONL file flushed at every
line (the writer tests use). Printed: microseconds per frame (mean, median, 99th
percentile, the slowest call), the share of one core at 5,000 frames a second, and the
bytes on disk per frame::

    python -m tests.integration.recording_figures
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.recording import FrameRecorder, RecordedFrame, read_recording
from arbwatch.feeds.rotation import RecordSettings, RotatingWriter
from arbwatch.feeds.therundown.driver import RundownFeed
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.sim.rundown import DEFAULT_KEY, RundownSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import World

FRAMES = 50_000
RATE = 5_000
SECONDS_OF_TRAFFIC = 4.0


async def _traffic(path: Path) -> None:
    """Record a few seconds of the simulator's traffic to ``path`` (plain JSONL)."""
    simulator = RundownSimulator(World(seed=7, now=time.time()), clock=time.time)
    recorder = FrameRecorder(path)
    async with serve(simulator) as url:
        settings = RundownSettings(
            name="rundown",
            api_key=DEFAULT_KEY,
            base_url=url,
            sport_ids=(4, 2),
            market_ids=(1, 2, 3),
        )
        feed = RundownFeed(settings, EventIdentity(), recorder=recorder)
        send, receive = anyio.create_memory_object_stream[object](100_000)
        async with anyio.create_task_group() as group, send, receive:
            group.start_soon(feed.run, send)
            group.start_soon(simulator.run, 0.05)
            group.start_soon(_drain, receive)
            await anyio.sleep(SECONDS_OF_TRAFFIC)
            group.cancel_scope.cancel()
    recorder.close()


async def _drain(receive: anyio.abc.ObjectReceiveStream[object]) -> None:
    async for _ in receive:
        pass


def _measure(frames: list[RecordedFrame], recorder: FrameRecorder) -> list[float]:
    """Seconds each `FrameRecorder.record` call took."""
    took = []
    clock = time.perf_counter
    for frame in itertools.islice(itertools.cycle(frames), FRAMES):
        started = clock()
        recorder.record(frame)
        took.append(clock() - started)
    recorder.close()
    return took


def _print(name: str, took: list[float], on_disk: int) -> None:
    micros = sorted(t * 1e6 for t in took)
    mean = statistics.fmean(micros)
    print(
        f"{name:28} mean {mean:6.1f} µs  median {micros[len(micros) // 2]:6.1f}  "
        f"p99 {micros[int(len(micros) * 0.99)]:7.1f}  max {micros[-1]:8.1f} µs  "
        f"{mean * RATE / 1e4:4.1f}% of a core at {RATE:,}/s  "
        f"{on_disk / len(took):6.1f} bytes/frame on disk"
    )


def main() -> None:
    """Print the figures."""
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        anyio.run(_traffic, base / "traffic.jsonl")
        frames = list(read_recording(base / "traffic.jsonl"))
        sizes = sorted(len(frame.frame) for frame in frames)
        print(
            f"{len(frames):,} frames recorded from the simulator in {SECONDS_OF_TRAFFIC:g} s; "
            f"frame sizes median {sizes[len(sizes) // 2]:,} B, largest {sizes[-1]:,} B"
        )
        secrets = ["rundown-sim-key"]
        writer = RotatingWriter(RecordSettings(dir=base / "gz"), "rundown")
        took = _measure(frames, FrameRecorder(writer, secrets))
        gz = sum(path.stat().st_size for path in (base / "gz").iterdir())
        _print("rotating gzip (the daemon)", took, gz)
        plain = base / "plain.jsonl"
        took = _measure(frames, FrameRecorder(plain, secrets))
        _print("plain JSONL, flushed a line", took, plain.stat().st_size)


if __name__ == "__main__":
    main()
