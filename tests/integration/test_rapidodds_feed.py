"""The RapidOddsAPI feed against the RapidOddsAPI simulator, over real loopback sockets.

No mocks: the simulator speaks the REST API and the odds WebSocket, and its `Faults`
make it fail the ways the real service and networks do. The feed's prices are checked
against the simulator's `World`: applying every batch the feed delivered, in order, must
give exactly the world's quotes in the subscribed scope.

Every wait is bounded (`until`, `anyio.fail_after`); conditions are polled, never slept on.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import math
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream

from arbwatch.asgi import Receive, Scope, Send
from arbwatch.core.markets import (
    MarketKey,
    MarketKind,
    moneyline,
    normalize_line,
    player_prop,
    total,
)
from arbwatch.feeds.base import Backoff, FeedBatch
from arbwatch.feeds.connection import FeedState
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.rapidodds.driver import RapidOddsFeed
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings
from arbwatch.feeds.recording import FrameRecorder, read_recording
from arbwatch.sim.faults import Faults
from arbwatch.sim.rapidodds import (
    DEFAULT_RATE_LIMIT,
    FREE,
    PRO,
    Plan,
    RapidOddsSimulator,
    market_key,
)
from arbwatch.sim.server import serve
from arbwatch.sim.world import SimMarket, World

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0
#: The wall clock of the simulator and the feed: fixed, so frame times are known.
CLOCK = NOW + 0.25
INTERVAL = 0.05
#: The longest any one wait in these tests may take.
WAIT = 5.0

PRO_KEY = "oa_test_pro_4a7c91"
FREE_KEY = "oa_test_free_91d2e3"
POOR_KEY = "oa_test_poor_5e0b77"
BROKE_KEY = "oa_test_broke_c3f188"
UNKNOWN_KEY = "oa_test_unknown_0f3a2b"
KEYS: dict[str, Plan] = {
    PRO_KEY: PRO,
    FREE_KEY: FREE,
    # Two pushes' worth: 4 market types x 3 books = 4 credits a push.
    POOR_KEY: dataclasses.replace(PRO, credits=8),
    BROKE_KEY: dataclasses.replace(PRO, credits=0),
}
SPORT = "NBA"
BOOKS = ("Pinnacle", "DraftKings", "FanDuel")
TYPES = ("head_to_head", "alternate_lines", "alternate_total_points", "player_points")

Cell = tuple[MarketKey, int, str]


class Counting:
    """The simulator behind a turnstile: when each WebSocket and REST request arrived."""

    def __init__(self, app: RapidOddsSimulator) -> None:
        self.app = app
        self.websockets: list[float] = []
        self.rest: Counter[str] = Counter()
        self.rest_times: dict[str, list[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            self.websockets.append(anyio.current_time())
        elif scope["type"] == "http":
            self.rest[scope["path"]] += 1
            self.rest_times.setdefault(scope["path"], []).append(anyio.current_time())
        await self.app(scope, receive, send)


@dataclass
class Sim:
    sim: RapidOddsSimulator
    world: World
    base: str
    counter: Counting

    @property
    def faults(self) -> Faults:
        return self.sim.faults


@asynccontextmanager
async def simulator(
    *,
    step_world: bool = False,
    world: World | None = None,
    rate_limit: int | None = DEFAULT_RATE_LIMIT,
) -> AsyncIterator[Sim]:
    world = World(seed=11, now=NOW) if world is None else world
    sim = RapidOddsSimulator(
        world,
        clock=lambda: CLOCK,
        keys=KEYS,
        push_interval=INTERVAL,
        step_world=step_world,
        rate_limit=rate_limit,
    )
    counter = Counting(sim)
    async with serve(counter) as base:
        yield Sim(sim, world, base, counter)


@dataclass
class Running:
    feed: RapidOddsFeed
    batches: MemoryObjectReceiveStream[FeedBatch]
    done: anyio.Event
    model: dict[Cell, float] = field(default_factory=dict)
    #: (home, away) -> the engine's event id, from the events in the batches.
    event_ids: dict[tuple[str, str], str] = field(default_factory=dict)

    async def next_batch(self) -> FeedBatch:
        """The next batch, applied to the model of what the engine holds."""
        with anyio.fail_after(WAIT):
            batch = await self.batches.receive()
        self.apply(batch)
        return batch

    def apply(self, batch: FeedBatch) -> None:
        for event in batch.events:
            self.event_ids[(event.home, event.away)] = event.event_id
        for update in batch.updates:
            key = (update.market, update.outcome, update.book)
            if math.isnan(update.price):
                self.model.pop(key, None)
            else:
                self.model[key] = update.price


@asynccontextmanager
async def running(
    sim: Sim,
    *,
    key: str = PRO_KEY,
    buffer: int = 100,
    recorder: FrameRecorder | None = None,
    **overrides: Any,
) -> AsyncIterator[Running]:
    """The feed, running in the background against ``sim`` until the block ends."""
    values: dict[str, Any] = {
        "name": "rapid",
        "api_key": key,
        "sports": (SPORT,),
        "bookmakers": BOOKS,
        "market_types": TYPES,
        "base_url": sim.base,
        "idle_timeout": 2.0,
        "credits_retry": 0.3,
        "poll_interval": 0.1,
    } | overrides
    feed = RapidOddsFeed(
        RapidOddsSettings(**values),
        EventIdentity(),
        recorder=recorder,
        clock=lambda: CLOCK,
        backoff_factory=lambda: Backoff(initial=0.01, cap=0.05),
    )
    send, receive = anyio.create_memory_object_stream[FeedBatch](buffer)
    done = anyio.Event()

    async def run() -> None:
        await feed.run(send)
        done.set()

    async with send, receive, anyio.create_task_group() as group:
        group.start_soon(run)
        yield Running(feed, receive, done)
        group.cancel_scope.cancel()


async def until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    """Wait, polling, until ``condition()`` holds; fail after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.005)


def engine_market(event_id: str, market: SimMarket) -> MarketKey:
    """The engine's key of a world market (spreads keyed by the home line)."""
    if market.kind is MarketKind.MONEYLINE:
        return moneyline(event_id)
    if market.kind is MarketKind.MONEYLINE_3WAY:
        return moneyline(event_id, three_way=True)
    if market.kind is MarketKind.SPREAD:
        return MarketKey(event_id, MarketKind.SPREAD, line=normalize_line(market.line))
    if market.kind is MarketKind.TOTAL:
        return total(event_id, market.line)
    return player_prop(event_id, market.player, market.stat, market.line)


def world_prices(
    world: World,
    event_ids: Mapping[tuple[str, str], str],
    *,
    sports: tuple[str, ...] = (SPORT,),
    types: tuple[str, ...] = TYPES,
) -> dict[Cell, float]:
    """The world's quotes in the feed's scope, as the engine should hold them."""
    expected: dict[Cell, float] = {}
    for (world_id, index, side, book), quote in world.quotes.items():
        event = world.event(world_id)
        market = event.markets[index]
        in_scope = event.sport in sports and book in BOOKS and market_key(market) in types
        if in_scope and quote.price is not None:
            event_id = event_ids[(event.home, event.away)]
            expected[(engine_market(event_id, market), side, book)] = quote.price
    return expected


def step(world: World, seconds: float) -> None:
    """Move the world on; at least one quote in scope must change for the test to mean much."""
    changed = world.step(NOW + seconds)
    assert any(world.event(q.event_id).sport == SPORT and q.book in BOOKS for q in changed), (
        "the world did not move"
    )


@pytest.fixture(autouse=True)
def no_key_is_ever_logged(caplog: pytest.LogCaptureFixture) -> Any:
    """Every test: log everything, and find no API key anywhere in it afterwards."""
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        for key in (*KEYS, UNKNOWN_KEY):
            assert key not in record.getMessage()
    for key in (*KEYS, UNKNOWN_KEY):
        assert key not in caplog.text


# --- prices ---------------------------------------------------------------------------------


async def test_the_bootstrap_and_the_pushes_reach_the_engine_as_batches() -> None:
    async with simulator() as sim, running(sim) as run:
        bootstrap = await run.next_batch()
        names = {(e.home, e.away) for e in bootstrap.events}
        assert names == {(e.home, e.away) for e in sim.world.events if e.sport == SPORT}
        assert run.model == world_prices(sim.world, run.event_ids)
        assert all(u.quoted_at == NOW for u in bootstrap.updates)
        # The world moves: the next push carries what changed, and only that.
        step(sim.world, 30.0)
        moved = await run.next_batch()
        assert run.model == world_prices(sim.world, run.event_ids)
        assert len(moved.updates) < len(bootstrap.updates)
        assert sim.counter.rest[f"/sports/{SPORT}/markets"] == 1  # it came by WebSocket
        stats = run.feed.stats
        assert stats.state is FeedState.UP
        assert run.feed.session.credits_per_push == {SPORT: 4}
        assert stats.extra["credits_per_push"] == 4
        used = sim.sim.usage(PRO_KEY).credits_used
        assert stats.extra["credits_charged_total"] <= used  # pushes may still be arriving
        assert stats.extra["credits_remaining"] >= PRO.credits - used
        assert (stats.malformed, stats.dropped_batches, stats.reconnects) == (0, 0, 0)


async def test_each_sport_is_subscribed_and_kept_whole() -> None:
    sports, types = ("NBA", "EPL"), (*TYPES, "head_to_head_3_way")
    async with (
        simulator() as sim,
        running(sim, sports=sports, market_types=types, rest_bootstrap=False) as run,
    ):
        first, second = await run.next_batch(), await run.next_batch()
        assert {e.sport for e in first.events} | {e.sport for e in second.events} == set(sports)
        assert run.model == world_prices(sim.world, run.event_ids, sports=sports, types=types)
        assert run.feed.session.credits_per_push == {"NBA": 5, "EPL": 5}
        assert run.feed.stats.extra["credits_per_push"] == 10


@pytest.mark.parametrize("fault", ["close 1011", "drop"])
async def test_a_reconnect_resubscribes_without_withdrawing_or_repeating(
    fault: str, tmp_path: Path
) -> None:
    path = tmp_path / "frames.jsonl"
    recorder = FrameRecorder(path)

    def events() -> list[str]:
        return [json.loads(f.frame)["event"] for f in read_recording(path) if f.channel == "ws"]

    async with simulator() as sim, running(sim, rest_bootstrap=False, recorder=recorder) as run:
        await run.next_batch()
        assert run.model == world_prices(sim.world, run.event_ids)
        if fault == "drop":
            sim.faults.drop = True
            await until(lambda: run.feed.stats.reconnects >= 1)
            sim.faults.drop = False
        else:
            sim.faults.close_code = 1011

        # Subscribed again on a new connection, and a push has come since.
        def pushed_after_resubscribing() -> bool:
            seen = events()
            last = len(seen) - seen[::-1].index("subscribed") if "subscribed" in seen else 0
            return seen.count("subscribed") >= 2 and "odds_update" in seen[last:]

        await until(pushed_after_resubscribing)
        assert len(sim.counter.websockets) >= 2
        # The same world again: nothing withdrawn, nothing sent twice.
        with pytest.raises(anyio.WouldBlock):
            run.batches.receive_nowait()
        step(sim.world, 30.0)
        await run.next_batch()
        assert run.model == world_prices(sim.world, run.event_ids)
        assert run.feed.stats.state is FeedState.UP
    recorder.close()
    recorded = list(read_recording(path))
    assert {f.channel for f in recorded} == {"ws", "rest:usage"}
    assert all(f.provider == "rapidoddsapi" and f.feed == "rapid" for f in recorded)
    assert all(f.source.endswith("/ws") for f in recorded if f.channel == "ws")
    assert all(PRO_KEY not in f.source and PRO_KEY not in f.frame for f in recorded)


async def test_a_stalled_engine_loses_batches_and_gets_everything_once_it_reads_again() -> None:
    # Lines come off the board often, so dropped batches hold withdrawals too.
    world = World(seed=5, now=NOW, off_board_rate=0.3)
    async with simulator(world=world) as sim, running(sim, buffer=1) as run:
        stats = run.feed.stats
        await until(lambda: stats.frames >= 3)  # the bootstrap batch fills the stream
        step(sim.world, 30.0)
        await until(lambda: stats.dropped_batches >= 3)
        frames_then = stats.frames
        # The reader keeps draining the socket, on the same connection.
        await until(lambda: stats.frames >= frames_then + 3)
        assert (stats.reconnects, stats.state) == (0, FeedState.UP)
        # The engine reads again: the bootstrap, then the full state as it now is.
        with anyio.fail_after(WAIT):
            run.apply(await run.batches.receive())
        await run.next_batch()
        assert run.model == world_prices(sim.world, run.event_ids)


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("bootstrap", [True, False])
async def test_a_bad_key_is_refused_with_a_clear_message_and_taken_once_added(
    bootstrap: bool,
) -> None:
    async with (
        simulator() as sim,
        running(sim, key=UNKNOWN_KEY, rest_bootstrap=bootstrap, key_retry=0.05) as run,
    ):
        stats = run.feed.stats
        await until(lambda: stats.state is FeedState.REFUSED)
        assert "Invalid API key." in stats.last_error
        assert "check the API key" in stats.last_error
        if not bootstrap:
            # Refused at the handshake, then by REST: not a plan without WebSocket.
            assert "WebSocket handshake HTTP 403" in stats.last_error
        # Tried again on the key's backoff, and refused meanwhile (not "down").
        await until(lambda: stats.reconnects >= 3)
        assert stats.state is FeedState.REFUSED
        assert not stats.fatal_error
        sim.sim.add_key(UNKNOWN_KEY, PRO)  # the key is renewed
        await run.next_batch()
        await until(lambda: stats.state is FeedState.UP)
        assert UNKNOWN_KEY not in repr(stats)


async def test_a_plan_without_websocket_polls_rest_instead() -> None:
    async with simulator(step_world=True) as sim, running(sim, key=FREE_KEY) as run:
        await run.next_batch()  # the bootstrap
        await until(lambda: run.feed.polling)
        for _ in range(3):
            await run.next_batch()
            # Checked at once: the world only moves when the feed polls again.
            assert run.model == world_prices(sim.world, run.event_ids)
        stats = run.feed.stats
        assert stats.state is FeedState.UP
        assert stats.extra["polling"] == 1.0
        assert len(sim.counter.websockets) == 1  # never tried again
        assert sim.counter.rest[f"/sports/{SPORT}/markets"] >= 4
        assert stats.extra["credits_remaining"] < FREE.credits


@pytest.mark.faults
async def test_close_4001_refuses_the_key_until_it_is_tried_again() -> None:
    async with simulator() as sim, running(sim, rest_bootstrap=False, key_retry=0.05) as run:
        await run.next_batch()
        sim.faults.close_code = 4001
        stats = run.feed.stats
        await until(lambda: stats.state is FeedState.REFUSED)
        assert "code 4001" in stats.last_error
        assert "check the API key" in stats.last_error
        # The simulator takes the key again: the next try connects and subscribes.
        await until(lambda: stats.state is FeedState.UP)
        assert len(sim.counter.websockets) == 2


# --- credits --------------------------------------------------------------------------------


def assert_spaced(times: list[float], at_least: float) -> None:
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps
    assert min(gaps) >= at_least * 0.95, gaps


async def test_out_of_credits_on_the_websocket_stays_connected_and_resumes_on_a_top_up() -> None:
    async with simulator() as sim, running(sim, key=POOR_KEY, rest_bootstrap=False) as run:
        await run.next_batch()
        feed = run.feed
        await until(lambda: feed.out_of_credits)
        # The server skips the push and keeps the socket: so does the feed.
        usage_before = sim.counter.rest["/usage"]
        await until(lambda: sim.counter.rest["/usage"] >= usage_before + 2)
        assert len(sim.counter.websockets) == 1
        assert sim.sim.live_connections == 1
        assert feed.stats.state is FeedState.UP
        assert feed.stats.extra["credits_remaining"] == 0
        assert feed.stats.extra["credits_charged_total"] == 8
        # /usage is asked every credits_retry (0.3 s), not hammered.
        assert_spaced(sim.counter.rest_times["/usage"][usage_before:], 0.3)
        # A top-up: the next push arrives on the same socket, and the feed sees it.
        charged = feed.session.credits_charged_total
        sim.sim.top_up(POOR_KEY, 400)
        await until(lambda: feed.session.credits_charged_total > charged)
        await until(lambda: not feed.out_of_credits)
        # The new balance is read from /usage.
        await until(lambda: (feed.session.credits_remaining or 0) > 0)
        assert feed.session.credits_limit == 408
        assert len(sim.counter.websockets) == 1


async def test_out_of_credits_on_rest_waits_before_trying_again() -> None:
    async with simulator() as sim, running(sim, key=BROKE_KEY) as run:
        path = f"/sports/{SPORT}/markets"
        await until(lambda: sim.counter.rest[path] >= 3)
        assert_spaced(sim.counter.rest_times[path], 0.3)
        stats = run.feed.stats
        assert "out of credits" in stats.last_error
        assert stats.extra["credits_remaining"] == 0
        assert stats.state is not FeedState.FAILED
        assert not sim.counter.websockets  # the bootstrap comes first


async def test_rest_paced_to_the_limit_is_never_refused() -> None:
    # Polling as fast as it may: every request waits its turn, none is refused.
    async with (
        simulator(step_world=True, rate_limit=3) as sim,
        running(sim, key=FREE_KEY, poll_interval=0.01, max_requests_per_second=3) as run,
    ):
        await until(lambda: sim.sim.requests(FREE_KEY)[f"/sports/{SPORT}/markets"] >= 6)
        for _ in range(3):
            await run.next_batch()
    assert sim.sim.throttled(FREE_KEY) == 0
    assert run.feed.stats.extra["rate_limited"] == 0


async def test_a_start_up_of_many_sports_is_paced_and_never_refused() -> None:
    # Twelve sports' snapshots and /usage against a limit of 5 a second: unpaced, they
    # would all go within a few milliseconds and most be refused.
    async with simulator(rate_limit=5) as sim:
        sports = sim.sim.sports[:12]
        async with running(sim, sports=sports, max_requests_per_second=5) as run:
            await until(lambda: run.feed.stats.state is FeedState.UP, timeout=10)
    requests = sim.sim.requests(PRO_KEY)
    assert all(requests[f"/sports/{sport}/markets"] == 1 for sport in sports)
    assert requests["/usage"] == 1
    assert sim.sim.throttled(PRO_KEY) == 0
    assert run.feed.stats.extra["rest_requests"] == 13


async def test_a_rest_rate_limit_is_retried_after_retry_after() -> None:
    # Set above the server's limit: each refused request waits its Retry-After (1 s)
    # and is retried; the feed polls on, never failing for it.
    async with (
        simulator(step_world=True, rate_limit=3) as sim,
        running(sim, key=FREE_KEY, poll_interval=0.01) as run,
    ):
        stats = run.feed.stats
        await until(lambda: stats.extra["rate_limited"] >= 1)
        got = stats.frames
        await until(lambda: stats.frames > got + 3)  # snapshots still come
        assert stats.state is not FeedState.FAILED
        assert not run.done.is_set()
    assert sim.sim.throttled(FREE_KEY) == stats.extra["rate_limited"]
    assert stats.reconnects == 0


# --- silence and broken frames --------------------------------------------------------------


@pytest.mark.parametrize("fault", ["silent", "stall"])
async def test_silence_past_the_idle_timeout_reconnects(fault: str) -> None:
    async with simulator() as sim, running(sim, rest_bootstrap=False, idle_timeout=0.3) as run:
        await run.next_batch()
        stats = run.feed.stats
        setattr(sim.faults, fault, True)
        await until(lambda: stats.reconnects >= 1)
        assert "nothing received for 0.3 s" in stats.last_error
        setattr(sim.faults, fault, False)
        step(sim.world, 30.0)
        await run.next_batch()  # pushes again, on a connection subscribed afresh
        assert run.model == world_prices(sim.world, run.event_ids)
        assert stats.state is FeedState.UP


@pytest.mark.faults
async def test_a_malformed_frame_is_counted_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    async with simulator() as sim, running(sim, rest_bootstrap=False) as run:
        await run.next_batch()
        sim.faults.malformed_frames = 1
        await until(lambda: run.feed.stats.malformed == 1)
        step(sim.world, 30.0)
        await run.next_batch()
        assert run.model == world_prices(sim.world, run.event_ids)
        assert run.feed.stats.reconnects == 0
    assert "skipped an unreadable frame" in caplog.text


@pytest.mark.faults
async def test_binary_frames_are_counted_as_malformed_and_never_reconnect() -> None:
    async with simulator() as sim, running(sim, rest_bootstrap=False) as run:
        await run.next_batch()
        sim.faults.binary_frames = 2
        await until(lambda: run.feed.stats.malformed == 2)
        assert run.feed.stats.extra["binary_frames"] == 2
        step(sim.world, 30.0)
        for _ in range(10):  # the text pushes after the binary ones; bounded
            await run.next_batch()
            if run.model == world_prices(sim.world, run.event_ids):
                break
        assert run.model == world_prices(sim.world, run.event_ids)
        assert run.feed.stats.reconnects == 0


@pytest.mark.faults
async def test_an_oversized_frame_is_refused_as_it_arrives_counted_and_reconnected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "frames.jsonl"
    recorder = FrameRecorder(path)
    async with (
        simulator() as sim,
        running(sim, rest_bootstrap=False, max_frame_bytes=200_000, recorder=recorder) as run,
    ):
        await run.next_batch()
        sim.faults.oversized_bytes = 300_000
        sim.faults.oversized_frames = 1
        await until(lambda: run.feed.stats.malformed == 1)
        assert run.feed.stats.extra["oversized_frames"] == 1
        step(sim.world, 30.0)
        for _ in range(10):  # the pushes after the reconnect; bounded
            await run.next_batch()
            if run.model == world_prices(sim.world, run.event_ids):
                break
        assert run.model == world_prices(sim.world, run.event_ids)
        # The connection was closed with 1009 mid-message and opened again.
        assert run.feed.stats.reconnects == 1
    recorder.close()
    assert "a message over 200000 bytes; closed with 1009" in caplog.text
    # The refused message never reached the recording.
    assert max(len(f.frame) for f in read_recording(path)) < 100_000
