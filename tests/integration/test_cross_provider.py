"""Both providers at once, over loopback: one game is one event, and a recording replays.

One simulated world is served as RapidOddsAPI and as TheRundown; the two feeds share one
`EventIdentity` and one engine stream. The books are split between the providers, so a
market that holds quotes from books of both can only have got there through identity.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream

from arbwatch.core.devig import DevigMethod
from arbwatch.core.markets import moneyline
from arbwatch.core.matrix import PriceMatrix
from arbwatch.feeds.base import Backoff, FeedBatch
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.rapidodds.driver import RapidOddsFeed
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings
from arbwatch.feeds.recording import FrameRecorder
from arbwatch.feeds.replay import first_sight_rules, replay
from arbwatch.feeds.therundown.driver import RundownFeed
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.sim.rapidodds import RapidOddsSimulator
from arbwatch.sim.rundown import RundownKey, RundownSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import BOOKS, World

pytestmark = pytest.mark.anyio

RUNDOWN_KEY = "trd-cross-provider-key"
RAPID_KEY = "oa_sim_pro"
RAPID_BOOKS = ("DraftKings", "BetMGM", "Bet365")
RUNDOWN_BOOKS = ("Pinnacle", "FanDuel", "Bovada")


class Clock:
    """The world's time, shared by both simulators and both feeds."""

    def __init__(self, world: World) -> None:
        self.world = world

    def __call__(self) -> float:
        return self.world.now


def books_of(matrix: PriceMatrix, event_id: str) -> set[str]:
    """The books holding a price on an event's moneyline."""
    row = matrix.row(moneyline(event_id))
    if row is None:
        return set()
    prices = matrix.prices[row]
    return {
        book
        for column, book in enumerate(matrix.books)
        if any(not math.isnan(prices[slot, column]) for slot in range(2))
    }


async def test_both_providers_price_one_event_and_the_recording_replays(tmp_path: Path) -> None:
    path = tmp_path / "night.jsonl"
    world = World(seed=5)
    clock = Clock(world)
    affiliates = tuple(book.affiliate_id for book in BOOKS if book.name in RUNDOWN_BOOKS)
    rundown = RundownSimulator(
        world, clock=clock, keys={RUNDOWN_KEY: RundownKey()}, heartbeat_interval=0.05
    )
    rapid = RapidOddsSimulator(world, clock=clock, push_interval=0.05)
    identity = EventIdentity()
    matrix = PriceMatrix()
    recorder = FrameRecorder(path, secrets=[RUNDOWN_KEY, RAPID_KEY])
    nba = [event for event in world.events if event.sport == "NBA"]

    def both_providers_everywhere() -> bool:
        found = 0
        for world_event in nba:
            for event_id in {
                m.event_id for m in (matrix.market(r) for r in range(matrix.market_count))
            }:
                event = matrix.event(event_id)
                if (event.home, event.away) == (world_event.home, world_event.away):
                    books = books_of(matrix, event_id)
                    found += bool(books & set(RAPID_BOOKS)) and bool(books & set(RUNDOWN_BOOKS))
        return found == len(nba)

    async def engine(receive: MemoryObjectReceiveStream[FeedBatch]) -> None:
        async for batch in receive:
            for event in batch.events:
                matrix.set_event(event)
            matrix.apply(batch.updates)

    async with serve(rundown) as rundown_url, serve(rapid) as rapid_url:
        feeds: list[RundownFeed | RapidOddsFeed] = [
            RundownFeed(
                RundownSettings(
                    name="rundown",
                    api_key=RUNDOWN_KEY,
                    base_url=rundown_url,
                    sport_ids=(4,),
                    affiliate_ids=affiliates,
                    days_ahead=2,
                    heartbeat_timeout=2.0,
                    min_resync_interval=0.05,
                ),
                identity,
                clock=clock,
                recorder=recorder,
                backoff=Backoff(initial=0.01, cap=0.05),
            ),
            RapidOddsFeed(
                RapidOddsSettings(
                    name="rapid",
                    api_key=RAPID_KEY,
                    base_url=rapid_url,
                    sports=("NBA",),
                    bookmakers=RAPID_BOOKS,
                    market_types=("head_to_head",),
                    idle_timeout=2.0,
                ),
                identity,
                recorder=recorder,
                clock=clock,
                backoff_factory=lambda: Backoff(initial=0.01, cap=0.05),
            ),
        ]
        send, receive = anyio.create_memory_object_stream[FeedBatch](10_000)
        # Feeds never close the stream they are given (the daemon owns it): the test does.
        clones = [send.clone() for _ in feeds]
        with send, receive, clones[0], clones[1], anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                for feed, clone in zip(feeds, clones, strict=True):
                    group.start_soon(feed.run, clone)
                group.start_soon(engine, receive)
                # The world moves on a few times; both simulators serve what it became.
                for _ in range(400):
                    if both_providers_everywhere():
                        break
                    world.now += 5.0
                    rundown.publish(world.step(world.now))
                    await anyio.sleep(0.05)
                group.cancel_scope.cancel()
    recorder.close()

    assert both_providers_everywhere()
    # One engine event per NBA game, whichever provider reported it.
    names = {
        (matrix.event(m.event_id).home, matrix.event(m.event_id).away)
        for m in (matrix.market(r) for r in range(matrix.market_count))
    }
    assert names == {(event.home, event.away) for event in nba}

    rules = first_sight_rules(
        min_profit=0.0,
        min_ev=0.0,
        max_quote_age=3600.0,
        sharp=["Pinnacle"],
        devig=DevigMethod.WORST_CASE,
    )
    first, second = io.StringIO(), io.StringIO()
    result = replay([path], first, rules=rules)
    replay([path], second, rules=rules)
    assert first.getvalue() == second.getvalue()
    assert result.batches > 0
    assert result.updates > 0
    assert result.malformed == 0
    assert not result.unknown_providers
    text = path.read_text(encoding="utf-8")
    assert RUNDOWN_KEY not in text
    assert RAPID_KEY not in text
