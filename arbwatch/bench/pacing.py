"""TheRundown's start-up within each plan's limit: a printout, not a test.

Run ``python -m arbwatch.bench.pacing``. Against the TheRundown simulator on 127.0.0.1,
which holds each key to its plan's burst limit (Free 1, Starter 2, Pro 5, Ultra 10
requests a second) and answers past it with 429:

    (a) per plan, a feed of 3 sports x 3 days (9 events pages, plus /sports and
        /affiliates) with ``max_requests_per_second`` set to the plan's limit: the REST
        requests of the start-up, their mean rate, the most in any rolling second, and how
        many the simulator refused. The plans below Ultra have no WebSocket at
        TheRundown; here their keys are given it, so that only the REST pacing differs.
    (b) on Ultra, 1, 3 and 6 sports x 3 days (``days_ahead`` 2) while the world moves
        every 0.1 s: the seconds from the feed's start to its first WebSocket frame, to
        its first price placed in the engine, and until every events page had come.

The world has games in 3 sports (NBA, NFL, EPL); the other 3 sports' pages are empty but
cost a request each, as real empty pages do. Times are wall-clock on this machine.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TextIO

import anyio
import httpx

from arbwatch.feeds.base import FeedBatch
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.therundown.driver import RundownFeed
from arbwatch.feeds.therundown.settings import V2_WS_PATH, RundownSettings
from arbwatch.sim.rundown import TIERS, RundownKey, RundownSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import World

KEY: Final = "bench-key"
#: Sports with games in the world first, then sports without.
SPORTS: Final = (4, 2, 11, 3, 6, 1)
#: The plans of part (a).
PLANS: Final = ("free", "starter", "pro", "ultra")
#: Longest a run may take before it is reported as not finished (seconds).
RUN_LIMIT: Final = 60.0


@dataclass(frozen=True, slots=True)
class StartUp:
    """What one feed's start-up did."""

    requests: int
    seconds: float
    busiest_second: int
    refused: int
    first_frame: float
    first_price: float
    all_pages: float

    @property
    def rate(self) -> float:
        """Mean requests per second over the start-up (first to last request)."""
        return (self.requests - 1) / self.seconds if self.seconds > 0 else math.nan


def _busiest_second(times: list[float]) -> int:
    """The most requests in any rolling second."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _reached(condition: Callable[[], bool], since: float) -> float:
    """Seconds from ``since`` until ``condition`` held (polled every 5 ms), or NaN."""
    with anyio.move_on_after(RUN_LIMIT):
        while not condition():
            await anyio.sleep(0.005)
        return time.perf_counter() - since
    return math.nan


async def start_up(tier: str, sport_ids: tuple[int, ...], rate: float) -> StartUp:
    """Run one feed's start-up against a fresh simulator; what it did."""
    world = World(7, now=time.time())
    sim = RundownSimulator(
        world, clock=time.time, keys={KEY: RundownKey(tier=tier, websocket_access=True)}
    )
    sent: list[float] = []

    async def note(request: httpx.Request) -> None:
        if request.url.path != V2_WS_PATH:  # REST only, not the socket's handshake
            sent.append(time.perf_counter())

    async with (
        serve(sim) as url,
        httpx.AsyncClient(event_hooks={"request": [note]}) as client,
        anyio.create_task_group() as group,
    ):
        settings = RundownSettings(
            name="bench",
            api_key=KEY,
            base_url=url,
            sport_ids=sport_ids,
            days_ahead=2,
            max_requests_per_second=rate,
        )
        feed = RundownFeed(settings, EventIdentity(), client=client)
        send, receive = anyio.create_memory_object_stream[FeedBatch](1_000_000)
        stats = feed.stats
        group.start_soon(sim.run, 0.1)
        group.start_soon(feed.run, send)
        started = time.perf_counter()
        first_frame = await _reached(lambda: stats.frames > 0, started)
        first_price = await _reached(lambda: stats.extra["price_changes"] > 0, started)
        all_pages = await _reached(lambda: stats.extra["snapshots"] >= 1, started)
        group.cancel_scope.cancel()
        send.close()
        receive.close()
    rest = sorted(sent)
    return StartUp(
        requests=len(rest),
        seconds=rest[-1] - rest[0] if rest else 0.0,
        busiest_second=_busiest_second(rest),
        refused=sim.throttled(KEY),
        first_frame=first_frame,
        first_price=first_price,
        all_pages=all_pages,
    )


async def report(out: TextIO) -> None:
    """Run both parts and print their figures to ``out``."""
    out.write("(a) start-up REST against each plan's burst limit (3 sports x 3 days)\n")
    out.write("    plan     limit/s  requests  seconds  mean/s  busiest second  refused (429)\n")
    for tier in PLANS:
        limit = float(TIERS[tier].burst_per_second)
        run = await start_up(tier, SPORTS[:3], limit)
        out.write(
            f"    {tier:<8} {limit:>7g}  {run.requests:>8}  {run.seconds:>7.2f}  "
            f"{run.rate:>6.2f}  {run.busiest_second:>14}  {run.refused:>13}\n"
        )
    out.write("(b) Ultra, days_ahead 2: seconds from start to ...\n")
    out.write("    sports  pages  first WS frame  first price placed  every page in\n")
    for count in (1, 3, 6):
        run = await start_up("ultra", SPORTS[:count], float(TIERS["ultra"].burst_per_second))
        out.write(
            f"    {count:>6}  {count * 3:>5}  {run.first_frame:>14.2f}  "
            f"{run.first_price:>18.2f}  {run.all_pages:>13.2f}\n"
        )


def main() -> None:
    """Print the figures."""
    anyio.run(report, sys.stdout)


if __name__ == "__main__":
    main()
