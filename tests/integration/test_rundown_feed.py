"""The TheRundown V2 and V1 feeds against the real simulator over loopback (no mocks).

Each test serves a `RundownSimulator` on 127.0.0.1, runs a feed into a memory stream and
reads the batches like the engine would, into a board of prices that is compared with
the simulated world. The world moves only when a test steps it (``sim.advance()``), and
the simulator and the feed share a fake clock, so dates and cursor ages are the test's.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream

from arbwatch.core.devig import DevigMethod
from arbwatch.core.markets import (
    HOME,
    Event,
    MarketKey,
    MarketKind,
    moneyline,
    player_prop,
    spread,
    total,
)
from arbwatch.core.odds import american_to_decimal, decimal_to_american
from arbwatch.feeds.base import Backoff, FeedBatch
from arbwatch.feeds.connection import FeedState, FeedStats
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.pacing import MAX_TRIES
from arbwatch.feeds.recording import FrameRecorder, read_recording
from arbwatch.feeds.replay import first_sight_rules, replay
from arbwatch.feeds.therundown.driver import RundownFeed
from arbwatch.feeds.therundown.session import FINISHED_AFTER
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.feeds.therundown.v1 import RundownV1Settings
from arbwatch.feeds.therundown.v1_driver import RundownV1Feed
from arbwatch.feeds.therundown.wire import PROVIDER
from arbwatch.sim.faults import Faults
from arbwatch.sim.rundown import RundownKey, RundownSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import SimEvent, SimMarket, World

pytestmark = pytest.mark.anyio

KEY = "trd-test-key-7Hq2ZpX"
DAY = 86_400.0

BoardKey = tuple[MarketKey, int, str]


class FakeClock:
    """Epoch seconds that move only when a test says so; shared by simulator and feed."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Engine:
    """Reads batches the way the engine does: the last price of each cell wins."""

    def __init__(self) -> None:
        self.board: dict[BoardKey, float] = {}
        self.batches: list[FeedBatch] = []
        self.events: dict[str, Event] = {}
        self._running = anyio.Event()
        self._running.set()

    def pause(self) -> None:
        """Stop reading the stream, like an engine stuck in a long evaluation."""
        self._running = anyio.Event()

    def resume(self) -> None:
        self._running.set()

    def take(self, batch: FeedBatch) -> None:
        self.batches.append(batch)
        for event in batch.events:
            self.events[event.event_id] = event
        for update in batch.updates:
            self.board[(update.market, update.outcome, update.book)] = update.price

    async def consume(self, receive: MemoryObjectReceiveStream[FeedBatch]) -> None:
        async for batch in receive:
            await self._running.wait()
            self.take(batch)


@dataclass
class Setup:
    """A simulator and what a test needs to steer it."""

    world: World
    clock: FakeClock
    sim: RundownSimulator
    faults: Faults = field(default_factory=Faults)


def make_sim(
    seed: int = 7,
    *,
    keys: dict[str, RundownKey] | None = None,
    cursor_max_age: float = 30 * 60.0,
    heartbeat_interval: float = 0.05,
) -> Setup:
    world = World(seed)
    clock = FakeClock(world.now)
    faults = Faults()
    sim = RundownSimulator(
        world,
        clock=clock,
        keys=keys if keys is not None else {KEY: RundownKey()},
        heartbeat_interval=heartbeat_interval,
        faults=faults,
        cursor_max_age=cursor_max_age,
        # One step of the world publishes hundreds of changes at once; TheRundown's 256
        # would drop some silently (only the periodic refresh could recover them).
        client_buffer=100_000,
    )
    return Setup(world, clock, sim, faults)


@dataclass
class Running:
    """A feed running against a served simulator."""

    setup: Setup
    feed: RundownFeed
    engine: Engine
    identity: EventIdentity

    def step(self) -> None:
        """Move the world one step (one second later) and publish the changes."""
        self.setup.clock.now += 1.0
        self.setup.sim.advance()


def settings(url: str, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "rundown",
        "api_key": KEY,
        "base_url": url,
        "sport_ids": (4,),
        "days_ahead": 1,
        "heartbeat_timeout": 1.0,
        "refresh_interval": 60.0,
        "min_resync_interval": 0.05,
    }
    values.update(overrides)
    return values


@asynccontextmanager
async def running(
    setup: Setup,
    *,
    v1: bool = False,
    stream_size: int = 100_000,
    consume: bool = True,
    backoff: Backoff | None = None,
    recorder: FrameRecorder | None = None,
    client: httpx.AsyncClient | None = None,
    **overrides: Any,
) -> AsyncIterator[Running]:
    identity = EventIdentity()
    engine = Engine()
    backoff = backoff or Backoff(initial=0.01, cap=0.05)
    async with serve(setup.sim) as url:
        feed: RundownFeed
        if v1:
            feed = RundownV1Feed(
                RundownV1Settings(**settings(url, **overrides)),
                identity,
                clock=setup.clock,
                backoff=backoff,
                recorder=recorder,
                client=client,
            )
        else:
            feed = RundownFeed(
                RundownSettings(**settings(url, **overrides)),
                identity,
                clock=setup.clock,
                backoff=backoff,
                recorder=recorder,
                client=client,
            )
        send, receive = anyio.create_memory_object_stream[FeedBatch](stream_size)
        with send, receive:
            async with anyio.create_task_group() as group:
                group.start_soon(feed.run, send)
                if consume:
                    group.start_soon(engine.consume, receive)
                try:
                    yield Running(setup, feed, engine, identity)
                finally:
                    group.cancel_scope.cancel()


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.01)


# --- the world as the engine should see it -----------------------------------------------

MARKET_IDS = {
    MarketKind.MONEYLINE: 1,
    MarketKind.MONEYLINE_3WAY: 1,
    MarketKind.SPREAD: 2,
    MarketKind.TOTAL: 3,
    MarketKind.PLAYER_PROP: 29,
}


def market_key(engine_event_id: str, market: SimMarket) -> MarketKey:
    if market.kind is MarketKind.SPREAD:
        return spread(engine_event_id, HOME, market.line)[0]
    if market.kind is MarketKind.TOTAL:
        return total(engine_event_id, market.line)
    if market.kind is MarketKind.PLAYER_PROP:
        return player_prop(engine_event_id, market.player, market.stat, market.line)
    return moneyline(engine_event_id, three_way=market.kind is MarketKind.MONEYLINE_3WAY)


def wire_price(price: float | None) -> float:
    """A world price as it survives TheRundown's American odds; NaN off the board."""
    if price is None:
        return math.nan
    return american_to_decimal(round(decimal_to_american(price)))


def expected_board(
    world: World,
    identity: EventIdentity,
    *,
    sport_ids: Iterable[int] = (4,),
    market_ids: Iterable[int] = (1, 2, 3),
    books: Iterable[str] | None = None,
    events: Iterable[str] | None = None,
) -> dict[BoardKey, float] | None:
    """Every world quote in the filters as a board cell; None if an event is unknown."""
    sports, markets = set(sport_ids), set(market_ids)
    wanted_books = None if books is None else set(books)
    wanted_events = None if events is None else set(events)
    board: dict[BoardKey, float] = {}
    for (event_id, index, side, book), quote in world.quotes.items():
        event = world.event(event_id)
        market = event.markets[index]
        if (
            event.sport_id not in sports
            or MARKET_IDS[market.kind] not in markets
            or (wanted_books is not None and book not in wanted_books)
            or (wanted_events is not None and event_id not in wanted_events)
        ):
            continue
        resolved = identity.lookup(PROVIDER, event_id)
        if resolved is None:
            return None
        board[(market_key(resolved.event.event_id, market), side, book)] = wire_price(quote.price)
    return board


def same_price(a: float | None, b: float) -> bool:
    if a is None:
        return False
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12)


def matches(run: Running, *, exclusive: bool = True, **filters: Any) -> bool:
    """Whether the engine's board is the world's within the filters (and only that)."""
    expected = expected_board(run.setup.world, run.identity, **filters)
    if expected is None:
        return False
    board = run.engine.board
    if not all(same_price(board.get(key), price) for key, price in expected.items()):
        return False
    return not exclusive or all(
        key in expected or math.isnan(price) for key, price in board.items()
    )


def more_frames(stats: FeedStats, count: int) -> Callable[[], bool]:
    """A condition: the feed has read more than ``count`` frames, or reconnected."""
    return lambda: stats.frames > count or stats.reconnects > 0


def day_of(event: SimEvent) -> str:
    return datetime.fromtimestamp(event.starts_at, UTC).date().isoformat()


def today(setup: Setup) -> str:
    return datetime.fromtimestamp(setup.clock(), UTC).date().isoformat()


# --- bootstrap, deltas, filters ------------------------------------------------------------


async def test_bootstrap_and_socket_deltas_match_the_world(tmp_path: Path) -> None:
    setup = make_sim()
    path = tmp_path / "rundown.jsonl"
    recorder = FrameRecorder(path, secrets=(KEY,))
    sports, markets = (4, 2, 11), (1, 2, 3, 29)
    async with running(setup, recorder=recorder, sport_ids=sports, market_ids=markets) as run:
        await wait_until(lambda: matches(run, sport_ids=sports, market_ids=markets))
        await wait_until(lambda: run.feed.stats.state is FeedState.UP)
        snapshot_batches = len(run.engine.batches)
        for _ in range(3):
            run.step()
        await wait_until(lambda: matches(run, sport_ids=sports, market_ids=markets))
        socket_batches = run.engine.batches[snapshot_batches:]
        stats = run.feed.stats
    recorder.close()

    # Every game of the three sports, named as the world names it.
    for event in setup.world.events:
        resolved = run.identity.lookup(PROVIDER, event.event_id)
        assert resolved is not None
        engine_event = run.engine.events[resolved.event.event_id]
        assert (engine_event.home, engine_event.away) == (event.home, event.away)
        assert engine_event.starts_at == int(event.starts_at)
    # The world's changes came by arrival: one batch for the frames read together, each
    # frame's price in it (the batching itself: test_arrival.py).
    assert socket_batches
    assert all(batch.feed == "rundown" for batch in run.engine.batches)
    assert stats.extra["price_changes"] == sum(len(batch.updates) for batch in socket_batches)
    assert stats.extra["heartbeats"] > 0
    assert stats.malformed == stats.reconnects == stats.dropped_batches == 0
    assert stats.extra["snapshots"] == 1
    assert stats.extra["pages"] == 6  # 3 sports x 2 days, each once
    # The socket opened before the pages: nothing was missed, so nothing to resync.
    assert stats.extra["resyncs"] == 0

    frames = list(read_recording(path))
    channels = {frame.channel for frame in frames}
    assert channels == {"rest:sports", "rest:affiliates", "rest:events", "ws"}
    assert {frame.provider for frame in frames} == {"therundown"}
    assert KEY not in path.read_text()


async def test_the_filters_reach_the_server() -> None:
    setup = make_sim()
    books = ("Pinnacle", "DraftKings")
    filters: dict[str, Any] = {"sport_ids": (4,), "market_ids": (1, 3)}
    async with running(setup, affiliate_ids=(3, 19), **filters) as run:
        await wait_until(lambda: matches(run, books=books, **filters))
        for _ in range(3):
            run.step()
        await wait_until(lambda: matches(run, books=books, **filters))
    updates = [update for batch in run.engine.batches for update in batch.updates]
    assert {update.book for update in updates} == set(books)
    assert {update.market.kind for update in updates} == {MarketKind.MONEYLINE, MarketKind.TOTAL}
    assert {event.sport for event in run.engine.events.values()} == {"NBA"}


# --- watchdog, resync, re-bootstrap, refresh ----------------------------------------------


@pytest.mark.parametrize("fault", ["silent", "stall"])
async def test_silence_trips_the_watchdog_and_the_resync_brings_what_was_missed(
    fault: str,
) -> None:
    setup = make_sim()
    async with running(setup, heartbeat_timeout=0.3) as run:
        await wait_until(lambda: matches(run) and run.feed.stats.state is FeedState.UP)
        stats = run.feed.stats
        resyncs, seen = stats.extra["resyncs"], len(run.engine.batches)
        # Silent or stalled: no data and no heartbeat; the delta log keeps the data.
        setattr(setup.faults, fault, True)
        setup.clock.now += 1.0
        changed = setup.sim.advance()
        # The socket says nothing while silent: only a resync can bring the changes.
        await wait_until(lambda: stats.reconnects >= 1 and matches(run))
        assert stats.extra["resyncs"] > resyncs
        assert "no heartbeat for 0.3 s" in stats.last_error
        setattr(setup.faults, fault, False)
        await wait_until(lambda: stats.state is FeedState.UP)
    missed = {
        (quote.event_id, quote.side, quote.book, wire_price(quote.price))
        for quote in changed
        if setup.world.event(quote.event_id).sport_id == 4
        and MARKET_IDS[setup.world.event(quote.event_id).markets[quote.market_index].kind] <= 3
    }
    assert missed
    # They came in a resync batch (a page of changes), not as single frames.
    resynced = [batch for batch in run.engine.batches[seen:] if len(batch.updates) > 1]
    assert resynced
    prices = {(update.book, update.price) for batch in resynced for update in batch.updates}
    assert {(book, price) for _, _, book, price in missed if not math.isnan(price)} <= prices


async def test_data_without_heartbeats_still_trips_the_watchdog() -> None:
    # Prices keep coming but no heartbeat does: the upstream may be stuck half-way, so
    # only heartbeats prove the connection healthy.
    setup = make_sim(heartbeat_interval=30.0)
    async with running(setup, heartbeat_timeout=0.4) as run:
        stats = run.feed.stats
        await wait_until(lambda: setup.sim.connection_count == 1)
        with anyio.fail_after(5):
            while stats.reconnects == 0:
                run.step()
                await wait_until(more_frames(stats, stats.frames))
    assert "no heartbeat for 0.4 s" in stats.last_error
    assert stats.extra["heartbeats"] == 0
    assert stats.extra["price_changes"] > 0


async def test_a_stale_cursor_rebootstraps_the_events() -> None:
    setup = make_sim(cursor_max_age=60.0)
    async with running(setup) as run:
        await wait_until(lambda: matches(run) and run.feed.stats.state is FeedState.UP)
        stats = run.feed.stats
        run.step()  # delivered by the socket; the cursor stays where the resync left it
        await wait_until(lambda: matches(run))
        setup.clock.now += 120.0
        setup.sim.advance()  # prunes the first step's changes: the cursor is now stale
        await wait_until(lambda: matches(run))
        setup.faults.close_code = 1011
        await wait_until(lambda: stats.extra["stale_cursors"] >= 1)
        await wait_until(lambda: stats.extra["snapshots"] >= 2 and matches(run))
        assert stats.reconnects >= 1
        run.step()
        await wait_until(lambda: matches(run))


async def test_an_unknown_event_on_the_socket_is_fetched() -> None:
    setup = make_sim()
    later = [e for e in setup.world.events if e.sport_id == 4 and day_of(e) != today(setup)]
    assert later, "the seed should have NBA games tomorrow"
    async with running(setup, days_ahead=0) as run:
        await wait_until(lambda: run.feed.stats.state is FeedState.UP)
        assert all(run.identity.lookup(PROVIDER, e.event_id) is None for e in later)
        run.step()
        await wait_until(lambda: matches(run))
        stats = run.feed.stats
    assert stats.extra["event_refreshes"] >= len(later)
    assert stats.extra["snapshots"] == 1


async def test_the_periodic_refresh_finds_new_games() -> None:
    setup = make_sim()
    later = [e for e in setup.world.events if e.sport_id == 4 and day_of(e) != today(setup)]
    assert later
    async with running(setup, days_ahead=0, refresh_interval=0.2) as run:
        await wait_until(lambda: run.feed.stats.state is FeedState.UP)
        assert run.identity.lookup(PROVIDER, later[0].event_id) is None
        setup.clock.now += DAY  # tomorrow's games are today's now
        await wait_until(
            lambda: all(run.identity.lookup(PROVIDER, e.event_id) for e in later), timeout=3
        )
        later_ids = [e.event_id for e in later]
        await wait_until(lambda: matches(run, exclusive=False, events=later_ids))
        stats = run.feed.stats
    assert stats.extra["event_refreshes"] == 0  # found by the refresh, not by a frame
    assert stats.extra["snapshots"] >= 2


async def test_games_a_day_past_their_start_are_withdrawn_at_the_next_refresh() -> None:
    setup = make_sim()
    today_ids = [
        e.event_id for e in setup.world.events if e.sport_id == 4 and day_of(e) == today(setup)
    ]
    assert today_ids
    async with running(setup, days_ahead=0, refresh_interval=0.2) as run:
        await wait_until(lambda: run.feed.stats.state is FeedState.UP)
        await wait_until(lambda: matches(run, exclusive=False, events=today_ids))
        priced = [key for key, price in run.engine.board.items() if not math.isnan(price)]
        assert priced
        assert run.feed.session.events
        last_start = max(event.starts_at for event in run.feed.session.events.values())
        # A day after the last of today's games started, none of them can still be on.
        setup.clock.now = last_start + FINISHED_AFTER + 1.0
        await wait_until(lambda: all(math.isnan(run.engine.board[key]) for key in priced))
        # The session forgot them (it knows the new day's games only): its state does not
        # pile up day after day.
        assert not run.feed.session.events.keys() & set(today_ids)
        cutoff = setup.clock.now - FINISHED_AFTER
        assert all(event.starts_at >= cutoff for event in run.feed.session.events.values())


# --- fatal and retried failures -----------------------------------------------------------


async def test_a_bad_key_is_refused_never_shown_and_taken_once_renewed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    setup = make_sim(keys={"another-key": RundownKey()})
    async with running(setup, key_retry=0.05) as run:
        stats = run.feed.stats
        await wait_until(lambda: stats.state is FeedState.REFUSED)
        assert "HTTP 401 (Invalid API key)" in stats.last_error
        assert "check the feed's api_key" in stats.last_error
        # Tried again on the key's backoff, and still refused meanwhile (not "down").
        await wait_until(lambda: stats.reconnects >= 3)
        assert stats.state is FeedState.REFUSED
        assert not stats.fatal_error
        setup.sim.keys[KEY] = RundownKey()  # the key is renewed
        await wait_until(lambda: matches(run) and stats.state is FeedState.UP)
    assert KEY not in repr(stats)
    assert KEY not in caplog.text
    assert "trying the key again in" in caplog.text


async def test_a_key_without_websocket_access_is_refused_for_good() -> None:
    setup = make_sim(keys={KEY: RundownKey(websocket_access=False)})
    # A client of the caller's, without the hook that keeps refusal bodies readable: the
    # feed adds it, or the reason below would be lost.
    async with httpx.AsyncClient() as client, running(setup, client=client) as run:
        await wait_until(lambda: run.feed.stats.state is FeedState.FAILED)
    stats = run.feed.stats
    assert stats.fatal_error == (
        "handshake refused: HTTP 403 (WebSocket access requires Ultra plan or higher)"
    )
    assert KEY not in repr(stats)
    # The socket comes before the events pages: no page is paid for that could not be
    # kept current.
    assert not any("/events/" in path for path in setup.sim.requests(KEY))


async def test_a_key_revoked_while_connected_is_refused_at_the_next_rest_call() -> None:
    setup = make_sim()
    async with running(setup, refresh_interval=0.2, key_retry=0.05) as run:
        stats = run.feed.stats
        await wait_until(lambda: stats.state is FeedState.UP)
        del setup.sim.keys[KEY]  # the live socket stays open; the periodic refresh fails
        await wait_until(lambda: stats.state is FeedState.REFUSED)
        assert "/api/v2/sports/4/events/" in stats.last_error
        assert "HTTP 401 (Invalid API key); check the feed's api_key" in stats.last_error
        setup.sim.keys[KEY] = RundownKey()
        await wait_until(lambda: stats.state is FeedState.UP)
        run.step()
        await wait_until(lambda: matches(run))


@pytest.mark.faults
async def test_close_4001_refuses_the_key_until_it_is_tried_again() -> None:
    setup = make_sim()
    async with running(setup, key_retry=0.05) as run:
        stats = run.feed.stats
        await wait_until(lambda: stats.state is FeedState.UP)
        setup.faults.close_code = 4001
        await wait_until(lambda: stats.state is FeedState.REFUSED)
        assert "code 4001" in stats.last_error
        # The simulator takes the key again: the next try connects.
        await wait_until(lambda: stats.state is FeedState.UP)
    assert stats.reconnects == 1


@pytest.mark.parametrize("fault", ["close 1011", "drop"])
async def test_a_lost_connection_reconnects_and_resyncs(fault: str) -> None:
    setup = make_sim()
    async with running(setup) as run:
        await wait_until(lambda: matches(run) and run.feed.stats.state is FeedState.UP)
        stats = run.feed.stats
        resyncs = stats.extra["resyncs"]
        if fault == "drop":
            setup.faults.drop = True
        else:
            setup.faults.close_code = 1011
        await wait_until(lambda: stats.reconnects >= 1)
        run.step()  # while the socket is down (drop) or just back (1011)
        setup.faults.drop = False
        await wait_until(lambda: stats.state is FeedState.UP and matches(run))
        assert stats.extra["resyncs"] > resyncs
        run.step()
        await wait_until(lambda: matches(run))
    assert stats.state is not FeedState.FAILED


async def test_a_429_handshake_waits_for_its_retry_after() -> None:
    delays: list[tuple[float | None, float]] = []

    class Recording(Backoff):
        def next_delay(self, retry_after: float | None = None) -> float:
            delay = super().next_delay(retry_after)
            delays.append((retry_after, delay))
            return delay

    setup = make_sim()
    setup.faults.refuse_handshake, setup.faults.retry_after = 429, 0.4
    async with running(setup, backoff=Recording(initial=0.01, cap=0.05)) as run:
        await wait_until(lambda: bool(delays))
        refused_at = anyio.current_time()
        setup.faults.refuse_handshake = None
        await wait_until(lambda: run.feed.stats.state is FeedState.UP)
        waited = anyio.current_time() - refused_at
    retry_after, delay = delays[0]
    assert retry_after == 0.4
    assert delay == pytest.approx(0.4)
    assert waited >= 0.3
    assert "HTTP 429" in run.feed.stats.last_error


async def test_a_rest_429_is_retried_after_retry_after_and_the_start_up_resumes(
    tmp_path: Path,
) -> None:
    # An events page is refused once, as if over the burst limit: that one request waits
    # its Retry-After (1 s) and is retried; the pages before it are not fetched again.
    setup = make_sim()
    path = tmp_path / "rundown.jsonl"
    recorder = FrameRecorder(path)
    sports = (4, 2, 3)
    async with running(setup, sport_ids=sports, recorder=recorder) as run:
        stats = run.feed.stats
        await wait_until(lambda: stats.extra["pages"] >= 2)
        setup.faults.rest_rate_limited = 1
        await wait_until(lambda: stats.extra["snapshots"] >= 1, timeout=10)
        await wait_until(lambda: matches(run, sport_ids=sports) and stats.state is FeedState.UP)
    recorder.close()
    pages = [f for f in read_recording(path) if f.channel == "rest:events"]
    refused = [i for i, page in enumerate(pages) if "Rate limit exceeded" in page.frame]
    assert len(refused) == 1
    # The refused request is the very next one sent again, and answered.
    retried = pages[refused[0] + 1]
    assert retried.source == pages[refused[0]].source
    assert '"events"' in retried.frame
    requests = setup.sim.requests(KEY)
    events_pages = {p: n for p, n in requests.items() if "/events/" in p}
    assert len(events_pages) == 6  # 3 sports x 2 days
    assert sorted(events_pages.values()) == [1, 1, 1, 1, 1, 2]  # the refused one twice
    assert setup.sim.requests()["/api/v2/sports"] == 1
    assert setup.sim.requests()["/api/v2/affiliates"] == 1
    assert setup.sim.throttled(KEY) == 1
    assert stats.extra["rate_limited"] == stats.extra["rest_retries"] == 1
    assert stats.reconnects == 0
    assert stats.extra["rest_errors"] == 0


async def test_a_request_refused_again_and_again_gives_up_without_dropping_the_socket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every try of one resync is refused: after the bounded tries, a retryable error
    # holds REST back; the socket stays up and nothing already fetched is fetched again.
    setup = make_sim()
    async with running(setup) as run:
        stats = run.feed.stats
        await wait_until(lambda: matches(run) and stats.state is FeedState.UP)
        setup.faults.rest_rate_limited = MAX_TRIES
        setup.faults.close_code = 1011  # a reconnect: its resync meets the refusals
        await wait_until(lambda: stats.extra["rest_errors"] >= 1, timeout=10)
        assert stats.extra["rate_limited"] == MAX_TRIES
        await wait_until(lambda: stats.extra["resyncs"] >= 2, timeout=10)
        run.step()
        await wait_until(lambda: matches(run))
    assert "rate limited (HTTP 429) 4 times in a row" in caplog.text
    assert stats.reconnects == 1
    events_pages = [n for p, n in setup.sim.requests(KEY).items() if "/events/" in p]
    assert events_pages == [1, 1]  # 2 days, each once: the reconnect refetched no page


@pytest.mark.faults
async def test_malformed_frames_are_skipped_and_oversized_ones_refused_and_reconnected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup = make_sim()
    setup.faults.oversized_bytes = 100_000
    async with running(setup, max_frame_bytes=64_000) as run:
        await wait_until(lambda: matches(run) and run.feed.stats.state is FeedState.UP)
        stats = run.feed.stats
        # Nothing is published meanwhile, so the broken frames are heartbeats. One fault
        # at a time: the simulator would cut an oversized frame in half too.
        setup.faults.malformed_frames = 3
        await wait_until(lambda: stats.malformed >= 3)
        setup.faults.oversized_frames = 2
        await wait_until(lambda: stats.malformed >= 5)
        run.step()
        await wait_until(lambda: matches(run))
    assert stats.extra["oversized"] == 2
    assert stats.malformed == 5
    # An oversized message is refused while it arrives: the connection is closed with
    # 1009 and opened again, and the delta resync brings back what it carried.
    assert stats.reconnects == 2
    lines = [r.getMessage() for r in caplog.records]
    assert sum("malformed frame skipped" in line for line in lines) == 3
    assert sum("a message over 64000 bytes; closed with 1009" in line for line in lines) == 2
    assert all(len(line) < 600 for line in lines if "skipped" in line)  # truncated


@pytest.mark.faults
async def test_binary_frames_are_counted_as_malformed_and_never_reconnect() -> None:
    setup = make_sim()
    async with running(setup) as run:
        await wait_until(lambda: matches(run) and run.feed.stats.state is FeedState.UP)
        stats = run.feed.stats
        setup.faults.binary_frames = 3
        await wait_until(lambda: stats.malformed >= 3)
        run.step()
        await wait_until(lambda: matches(run))
    assert stats.extra["binary_frames"] == 3
    assert stats.malformed == 3
    assert stats.reconnects == 0


async def test_a_stalled_engine_costs_batches_not_the_socket() -> None:
    setup = make_sim()
    # A stream of one batch: while the engine is stuck, nearly every batch is dropped.
    async with running(setup, stream_size=1) as run:
        stats = run.feed.stats
        await wait_until(lambda: matches(run) and stats.state is FeedState.UP)
        run.engine.pause()
        for _ in range(3):
            run.step()
            await wait_until(more_frames(stats, stats.frames + 5))
        await wait_until(lambda: stats.extra["recoveries"] >= 2)
        assert stats.dropped_batches > 0
        assert stats.state is FeedState.UP
        assert stats.reconnects == 0
        # The reader kept draining the socket: the server had nothing to drop.
        assert setup.sim.dropped_frames == 0
        # The resyncs' own batches were dropped too: the cursor stayed, and once the
        # engine is back, a resync brings every change it missed.
        run.engine.resume()
        await wait_until(lambda: matches(run))
        assert stats.extra["resyncs"] >= 2
        assert stats.extra["snapshots"] == 1


# --- V1 -----------------------------------------------------------------------------------


async def test_v1_lines_reach_the_engine_and_survive_a_reconnect() -> None:
    setup = make_sim()
    sports = (4, 11)  # NBA two-way, EPL three-way moneylines
    # Only today's games are bootstrapped: the others are learnt from their first frame.
    async with running(setup, v1=True, sport_ids=sports, days_ahead=0) as run:
        stats = run.feed.stats
        await wait_until(lambda: stats.state is FeedState.UP)
        setup.world.off_board_rate = 0.2  # lines leave the board: their cells withdraw
        for _ in range(3):
            run.step()
        setup.world.off_board_rate = 0.01
        await wait_until(lambda: matches(run, sport_ids=sports))
        assert stats.extra["price_changes"] > 0
        assert stats.extra["event_refreshes"] >= 1
        setup.faults.close_code = 1011
        await wait_until(lambda: stats.reconnects >= 1)
        run.step()
        await wait_until(lambda: stats.state is FeedState.UP and matches(run, sport_ids=sports))
    kinds = {u.market.kind for b in run.engine.batches for u in b.updates}
    assert kinds == {
        MarketKind.MONEYLINE,
        MarketKind.MONEYLINE_3WAY,
        MarketKind.SPREAD,
        MarketKind.TOTAL,
    }
    withdrawn = [u for b in run.engine.batches for u in b.updates if math.isnan(u.price)]
    assert withdrawn


# --- within the plan's limits ---------------------------------------------------------------

#: Six sports: the world's three (NBA, NFL, EPL) and three it has no games for (MLB, NHL,
#: NCAAF), whose pages still cost a request each.
SIX_SPORTS = (4, 2, 11, 3, 6, 1)


def events_requests(setup: Setup) -> dict[str, int]:
    """How often each events page was requested with the test key."""
    return {path: n for path, n in setup.sim.requests(KEY).items() if "/events/" in path}


async def test_six_sports_three_days_on_ultra_stream_while_the_pages_come_paced() -> None:
    # Ultra's burst limit (10 a second) on the simulator's own clock of real seconds; the
    # feed at its default, Ultra's limit. 18 pages take about two seconds.
    setup = make_sim()
    seen: set[FeedState] = set()
    async with running(setup, sport_ids=SIX_SPORTS, days_ahead=2) as run:
        stats = run.feed.stats

        def first_price_while_bootstrapping() -> bool:
            seen.add(stats.state)
            return stats.extra["price_changes"] > 0 or stats.extra["pages_done"] >= 18

        # The socket is open before the pages are in: a change published now streams.
        await wait_until(lambda: stats.frames > 0)
        assert stats.extra["pages_done"] < 18
        run.step()
        await wait_until(first_price_while_bootstrapping, timeout=10)
        await wait_until(lambda: stats.extra["snapshots"] >= 1, timeout=10)
        await wait_until(lambda: matches(run, sport_ids=SIX_SPORTS) and stats.state is FeedState.UP)
    assert FeedState.BOOTSTRAPPING in seen  # never UP while pages were missing
    pages = events_requests(setup)
    assert len(pages) == 18
    assert set(pages.values()) == {1}
    assert setup.sim.throttled(KEY) == 0
    assert stats.extra["rate_limited"] == 0
    assert (stats.extra["pages_done"], stats.extra["pages_total"]) == (18, 18)
    assert stats.reconnects == 0


async def test_frames_before_their_page_are_placed_by_it_without_a_fetch_per_event() -> None:
    # Two requests a second for 2 sports x 2 days: the world moves while pages are
    # missing. Frames for games whose page has not come cannot be placed; the page,
    # requested after them, carries their prices, and no event is fetched on its own.
    setup = make_sim(keys={KEY: RundownKey(tier="starter", websocket_access=True)})
    sports = (4, 2)
    async with running(setup, sport_ids=sports, max_requests_per_second=2) as run:
        stats = run.feed.stats
        await wait_until(lambda: stats.extra["pages_done"] >= 1)
        for _ in range(3):
            run.step()
        await wait_until(lambda: stats.extra["awaiting_page"] > 0)
        assert stats.state is not FeedState.UP
        await wait_until(lambda: stats.extra["snapshots"] >= 1, timeout=10)
        await wait_until(lambda: matches(run, sport_ids=sports) and stats.state is FeedState.UP)
    assert stats.extra["event_refreshes"] == 0
    assert set(events_requests(setup).values()) == {1}
    assert not any(path.startswith("/api/v2/events/") for path in setup.sim.requests(KEY))
    assert setup.sim.throttled(KEY) == 0


async def test_a_reconnect_within_the_refresh_interval_refetches_no_page() -> None:
    setup = make_sim()
    sports = (4, 2, 11)
    async with running(setup, sport_ids=sports) as run:
        stats = run.feed.stats
        await wait_until(lambda: matches(run, sport_ids=sports) and stats.state is FeedState.UP)
        before = setup.sim.requests(KEY)
        setup.faults.close_code = 1011
        await wait_until(lambda: stats.reconnects >= 1)
        run.step()  # around the reconnect: the socket or the resync brings it
        await wait_until(lambda: stats.extra["resyncs"] >= 1)
        await wait_until(lambda: matches(run, sport_ids=sports) and stats.state is FeedState.UP)
    after = setup.sim.requests(KEY)
    assert events_requests(setup) == {p: n for p, n in before.items() if "/events/" in p}
    assert set(events_requests(setup).values()) == {1}
    assert after["/api/v2/markets/delta"] >= 1
    assert setup.sim.requests()["/api/v2/sports"] == 1
    assert setup.sim.requests()["/api/v2/affiliates"] == 1


async def test_a_v1_recording_names_its_provider_as_the_config_does_and_replays(
    tmp_path: Path,
) -> None:
    # The provider is spelled the same in config and recordings (therundown_v1); a
    # recording made before, spelled therundown-v1, replays the same.
    setup = make_sim()
    path = tmp_path / "v1.jsonl"
    recorder = FrameRecorder(path)
    async with running(setup, v1=True, days_ahead=0, recorder=recorder) as run:
        await wait_until(lambda: run.feed.stats.state is FeedState.UP)
        run.step()
        await wait_until(lambda: run.feed.stats.extra["price_changes"] > 0)
    recorder.close()
    assert {frame.provider for frame in read_recording(path)} == {"therundown_v1"}
    old = tmp_path / "v1-before.jsonl"
    old.write_text(
        path.read_text(encoding="utf-8").replace(
            '"provider": "therundown_v1"', '"provider": "therundown-v1"'
        ),
        encoding="utf-8",
    )
    rules = first_sight_rules(
        min_profit=0.0,
        min_ev=0.0,
        max_quote_age=math.inf,
        sharp=["Pinnacle"],
        devig=DevigMethod.WORST_CASE,
    )
    now, before = io.StringIO(), io.StringIO()
    result = replay([path], now, rules=rules)
    replay([old], before, rules=rules)
    assert result.unknown_providers == {}
    assert result.updates > 0
    assert now.getvalue() == before.getvalue()
