"""``python -m arbwatch.bench.snapshot``: a full-snapshot push from its text to the evaluation.

The pure part of `arbwatch bench --e2e`'s big push, without sockets or processes, so its
figures are reproducible: the bench board (1,000 NBA games x moneyline, spread and total
x 20 books, 120,000 prices) rendered by the RapidOddsAPI simulator as ``odds_update``
pushes (about 9 MB each). The first push brings the whole board; before each later one six
prices change, two of them a planted arbitrage. Each push goes through what the daemon
does with it: `RapidOddsSession.handle_message` (decode and compare with the last push),
the price matrix, and the evaluation of the dirty rows (arbitrage, and +EV devigged from
Book01). Pushes alternate between the garbage collector left running and paused around
the session's work (`collector_paused`, as the feed does), and each line says which.

Printed per mode (medians over the pushes, and the most): decode ms (the frame parsed
alone, for the figure), session ms (decode and comparison; the comparison is the
difference), matrix and evaluation ms, CPU ms of the whole path, the updates the push
became, collector pauses (count and ms, from `gc.callbacks`) during the path, and whether
the planted arbitrage was found. Then the same for the largest TheRundown V2 events page
of the same board (about 13 MB), read by `RundownSession.handle_events`.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Final, TextIO

import anyio
import httpx

from arbwatch.core.devig import DevigMethod
from arbwatch.core.evaluate import ArbitrageSettings, EvSettings, find_arbitrage, find_positive_ev
from arbwatch.core.fair import FairCache
from arbwatch.core.matrix import PriceMatrix
from arbwatch.feeds.base import FeedBatch
from arbwatch.feeds.collector import collector_paused
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.rapidodds.session import RapidOddsSession
from arbwatch.feeds.rapidodds.wire import parse_message
from arbwatch.feeds.therundown.pages import bootstrap_dates
from arbwatch.feeds.therundown.session import RundownSession
from arbwatch.sim.board import SPORT, bench_world, board_key, planted_arbitrage, price_walk
from arbwatch.sim.rapidodds import RapidOddsSimulator, naive_utc
from arbwatch.sim.rundown import DEFAULT_KEY, RundownSimulator
from arbwatch.sim.world import World

#: The board's clock: a fixed epoch, so every run renders the same pushes.
EPOCH: Final = 1_800_000_000.0
#: Seconds between two pushes on that clock.
PUSH_EVERY: Final = 15.0
#: The market types a RapidOddsAPI feed subscribes to for the bench board.
RAPID_MARKETS: Final = ("head_to_head", "alternate_lines", "alternate_total_points")
#: Prices changed before each push after the first: a planted arbitrage (two) and four more.
CHANGES_PER_PUSH: Final = 6
#: Quotes are fresh on the board's clock; this only keeps the evaluation from refusing them.
MAX_QUOTE_AGE: Final = 3600.0
#: The RapidOddsAPI credits a push of 3 types x 20 books costs (3 x ceil(20 / 5)).
CREDITS: Final = 12


@dataclass(slots=True)
class Pauses:
    """Collector runs seen by `gc.callbacks` while watched: how many, and their time."""

    count: int = 0
    seconds: float = 0.0
    _started: float = 0.0
    watching: bool = False

    def callback(self, phase: str, _info: dict[str, int]) -> None:
        """A `gc.callbacks` entry: time each collection that runs while watching."""
        if not self.watching:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._started

    @contextmanager
    def watch(self) -> Iterator[Pauses]:
        """Count the collections of the body only (fresh figures each time)."""
        self.count, self.seconds, self.watching = 0, 0.0, True
        gc.callbacks.append(self.callback)
        try:
            yield self
        finally:
            self.watching = False
            gc.callbacks.remove(self.callback)


@dataclass(frozen=True, slots=True)
class PushFigures:
    """One push through the session, the matrix and the evaluation."""

    characters: int
    decode: float
    session: float
    evaluate: float
    cpu: float
    updates: int
    pauses: int
    pause_seconds: float
    #: Whether the evaluation found the arbitrage planted before the push; None: none was.
    found_planted: bool | None


@dataclass(slots=True)
class SnapshotBench:
    """What one run measured: the first push, the later ones by collector mode, pages."""

    first: PushFigures | None = None
    pushes: dict[str, list[PushFigures]] = field(default_factory=dict)
    pages: dict[str, PushFigures] = field(default_factory=dict)


class _Path:
    """What the daemon holds for one RapidOddsAPI feed: its session, matrix and caches."""

    def __init__(self, world: World) -> None:
        self.session = RapidOddsSession(EventIdentity(), feed="rapid")
        self.matrix = PriceMatrix()
        self.fair = FairCache(self.matrix)
        self.arbitrage = ArbitrageSettings(max_quote_age=MAX_QUOTE_AGE, min_profit=0.0)
        self.positive_ev = EvSettings(
            sharp_books=(world.books[0].name,),
            devig=DevigMethod.WORST_CASE,
            max_quote_age=MAX_QUOTE_AGE,
            min_ev=0.01,
        )

    def take(
        self, frame: str, now: float, pause: Callable[[], AbstractContextManager[None]]
    ) -> tuple[PushFigures, list[str]]:
        """One push as the daemon takes it; the figures and the games of the arbitrages."""
        started = time.perf_counter()
        parse_message(frame, received_at=now)
        decoded = time.perf_counter()
        with Pauses().watch() as pauses:
            cpu = time.process_time()
            began = time.perf_counter()
            with pause():
                result = self.session.handle_message(frame, now)
            read = time.perf_counter()
            updates = 0 if result.batch is None else len(result.batch.updates)
            games = self._evaluate(result.batch, now)
            ended = time.perf_counter()
            cpu = time.process_time() - cpu
        figures = PushFigures(
            characters=len(frame),
            decode=decoded - started,
            session=read - began,
            evaluate=ended - read,
            cpu=cpu,
            updates=updates,
            pauses=pauses.count,
            pause_seconds=pauses.seconds,
            found_planted=None,
        )
        return figures, games

    def _evaluate(self, batch: FeedBatch | None, now: float) -> list[str]:
        """Apply the batch and evaluate the dirty rows; the home teams of the arbitrages."""
        if batch is None:
            return []
        for event in batch.events:
            self.matrix.set_event(event)
        self.matrix.apply(batch.updates)
        block = self.matrix.block(self.matrix.take_dirty())
        arbitrages = find_arbitrage(block, now, self.arbitrage)
        find_positive_ev(block, now, self.positive_ev, self.fair)
        return [arbitrage.event.home for arbitrage in arbitrages]


def _push_frame(sim: RapidOddsSimulator, books: Sequence[str], at: float) -> str:
    """The ``odds_update`` push of the whole board as the simulator renders it at ``at``."""
    sport = SPORT[0]
    return json.dumps(
        {
            "event": "odds_update",
            "sport": sport,
            "timestamp": naive_utc(at, micros=True),
            "credits_charged": CREDITS,
            "data": sim.odds(sport, RAPID_MARKETS, books),
        }
    )


#: The collector modes compared, by name: left running, or paused around the decode.
MODES: Final[dict[str, Callable[[], AbstractContextManager[None]]]] = {
    "gc running": nullcontext,
    "gc paused": collector_paused,
}


def run_snapshot_bench(
    *, events: int = 1000, books: int = 20, pushes: int = 10, seed: int = 1, out: TextIO
) -> SnapshotBench:
    """Measure ``pushes`` pushes per collector mode after the first, and the events pages."""
    if pushes < 1 or books < 3:
        raise ValueError("--pushes must be 1 or more and --books 3 or more")
    if pushes * len(MODES) > events:
        # Each push plants its arbitrage on a game of its own.
        raise ValueError(f"--pushes {pushes} needs --events {pushes * len(MODES)} or more")
    world = bench_world(events, books, seed=seed, now=EPOCH)
    sim = RapidOddsSimulator(world, clock=lambda: EPOCH, rate_limit=None)
    names = [book.name for book in world.books]
    path = _Path(world)
    bench = SnapshotBench()
    print(
        f"board: {events:,} games x moneyline, spread, total x {books} books = "
        f"{len(world.quotes):,} prices; Python {sys.version.split()[0]}, gc thresholds "
        f"{gc.get_threshold()}",
        file=out,
    )
    now = EPOCH
    first, _ = path.take(_push_frame(sim, names, now), now, collector_paused)
    bench.first = first
    print(_line("first push (whole board), gc paused", [first]), file=out)
    walk = iter(price_walk(world, pushes * len(MODES) * CHANGES_PER_PUSH, seed=seed, now=now))
    game = 0
    for _ in range(pushes):
        for mode, pause in MODES.items():
            now += PUSH_EVERY
            for change in [
                *planted_arbitrage(world, game, now),
                *(next(walk) for _ in range(CHANGES_PER_PUSH - 2)),
            ]:
                world.quotes[board_key(change.quote)] = replace(change.quote, updated_at=now)
            figures, homes = path.take(_push_frame(sim, names, now), now, pause)
            planted = world.events[game].home
            bench.pushes.setdefault(mode, []).append(
                replace(figures, found_planted=planted in homes)
            )
            game += 1
    for mode, taken in bench.pushes.items():
        print(_line(f"later pushes ({CHANGES_PER_PUSH} prices changed), {mode}", taken), file=out)
    bench.pages = anyio.run(_pages, world)
    for mode, page in bench.pages.items():
        print(_page_line(mode, page), file=out)
    return bench


async def _pages(world: World) -> dict[str, PushFigures]:
    """The largest events page of the board, read by a fresh session per collector mode.

    The simulator answers in-process (httpx's ASGI transport): only the bodies matter.
    """
    sim = RundownSimulator(world, clock=lambda: EPOCH)
    transport = httpx.ASGITransport(app=sim)
    headers = {"X-TheRundown-Key": DEFAULT_KEY}
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        sports = (await client.get("/api/v2/sports")).content
        affiliates = (await client.get("/api/v2/affiliates")).content
        sport_id = SPORT[1]
        bodies = []
        for day in bootstrap_dates(EPOCH, 2):
            response = await client.get(
                f"/api/v2/sports/{sport_id}/events/{day}",
                params={"market_ids": "1,2,3"},
                headers=headers,
            )
            response.raise_for_status()
            bodies.append((response.content, day))
    body, day = max(bodies, key=lambda item: len(item[0]))
    figures = {}
    for mode, pause in MODES.items():
        session = RundownSession("rundown", EventIdentity())
        session.handle_sports(sports)
        session.handle_affiliates(affiliates)
        gc.collect()
        with Pauses().watch() as pauses:
            cpu = time.process_time()
            started = time.perf_counter()
            with pause():
                result = session.handle_events(body, EPOCH, page=(sport_id, day))
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
        figures[mode] = PushFigures(
            characters=len(body),
            decode=elapsed,
            session=elapsed,
            evaluate=0.0,
            cpu=cpu,
            updates=len(result.batch.updates),
            pauses=pauses.count,
            pause_seconds=pauses.seconds,
            found_planted=None,
        )
    return figures


def _line(what: str, taken: Sequence[PushFigures]) -> str:
    """One mode's figures: medians, the most in brackets."""

    def ms(values: Sequence[float]) -> str:
        return f"{statistics.median(values) * 1000:,.1f} [{max(values) * 1000:,.1f}]"

    planted = [push.found_planted for push in taken if push.found_planted is not None]
    found = f"; planted arbitrage found {sum(planted)}/{len(planted)}" if planted else ""
    return (
        f"{what}: {statistics.median(push.characters for push in taken) / 1e6:.2f} MB x "
        f"{len(taken)}; decode {ms([p.decode for p in taken])} ms, session "
        f"{ms([p.session for p in taken])} ms (comparison "
        f"{ms([max(p.session - p.decode, 0.0) for p in taken])}), matrix and evaluation "
        f"{ms([p.evaluate for p in taken])} ms, CPU {ms([p.cpu for p in taken])} ms; "
        f"{statistics.median(p.updates for p in taken):,.0f} updates; collector "
        f"{statistics.median(p.pauses for p in taken):.0f} runs, "
        f"{ms([p.pause_seconds for p in taken])} ms{found}"
    )


def _page_line(mode: str, page: PushFigures) -> str:
    """The events page's figures in one mode."""
    return (
        f"TheRundown events page, {mode}: {page.characters / 1e6:.2f} MB read in "
        f"{page.session * 1000:,.1f} ms, CPU {page.cpu * 1000:,.1f} ms; {page.updates:,} "
        f"updates; collector {page.pauses} runs, {page.pause_seconds * 1000:,.1f} ms"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the bench from the command line."""
    parser = argparse.ArgumentParser(prog="python -m arbwatch.bench.snapshot", description=__doc__)
    parser.add_argument("--events", type=int, default=1000, help="games on the board (1000)")
    parser.add_argument("--books", type=int, default=20, help="bookmakers, 3 or more (20)")
    parser.add_argument("--pushes", type=int, default=10, help="pushes per collector mode (10)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    args = parser.parse_args(argv)
    try:
        run_snapshot_bench(
            events=args.events, books=args.books, pushes=args.pushes, seed=args.seed, out=sys.stdout
        )
    except ValueError as error:
        parser.error(str(error))


if __name__ == "__main__":
    main()
