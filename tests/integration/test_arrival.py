"""Frames taken by arrival: what already waits in the socket is read at once and handed on once.

Real sockets on 127.0.0.1 throughout. To have frames *waiting* when the feed reads (not
arriving one by one while it reads), the TheRundown simulator runs on an event loop of its
own in another thread: the test's loop, where the feed and the daemon run, is held still
while the simulator writes a burst, so every frame of it is in the feed's socket before
the feed looks. A lone frame is then offered on its own and must go on by itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from anyio.abc import SocketStream
from anyio.from_thread import BlockingPortal, start_blocking_portal

from arbwatch.config import load_config
from arbwatch.core.markets import MarketKind
from arbwatch.daemon import Daemon
from arbwatch.feeds.base import Backoff, FeedBatch
from arbwatch.feeds.bounded_ws import aconnect_bounded
from arbwatch.feeds.connection import FeedState
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.therundown.driver import RundownFeed
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.sim.rundown import RundownSimulator
from arbwatch.sim.server import serve as serve_sim
from tests.integration.test_bounded_ws import LIMIT, TEXT, Hostile, header, serve
from tests.integration.test_rundown_feed import KEY, Setup, make_sim, settings

pytestmark = pytest.mark.anyio

#: Messages written to the socket at once, in the session's test.
BURST = 40
#: Frames of the simulator's burst. It writes each frame on its own (a TCP segment each), and
#: Linux lets only a dozen or so such small segments into a fresh connection's receive
#: window before the rest wait in the sender's kernel (measured: 12 of 40): a burst that
#: small is all in the socket when the feed reads.
SIM_BURST = 8
#: Seconds any wait of these tests may take.
WAIT = 20.0
#: TheRundown's market ids the simulator's V2 frames carry: moneyline, spread, total.
V2_KINDS = (MarketKind.MONEYLINE, MarketKind.SPREAD, MarketKind.TOTAL)


async def test_messages_of_one_socket_read_are_taken_without_a_wait() -> None:
    messages = [f'{{"n": {n}}}' for n in range(BURST)]

    async def burst(stream: SocketStream) -> None:
        # One write: every message is in the client's socket when it first reads.
        await stream.send(b"".join(header(TEXT, len(m), fin=True) + m.encode() for m in messages))
        await anyio.sleep_forever()

    async with serve(Hostile([burst])) as url, httpx.AsyncClient() as client:
        with anyio.fail_after(WAIT):
            async with aconnect_bounded(url, client, max_message_bytes=LIMIT) as ws:
                taken = [await ws.receive_text()]
                with anyio.CancelScope() as scope:
                    # Cancelled from the start: any wait or checkpoint ends the block.
                    scope.cancel()
                    for _ in range(BURST):
                        if not ws.take_arrived():
                            break
                        taken.append(await ws.receive_text())
                left = ws.take_arrived()
    assert not scope.cancelled_caught
    assert taken == messages
    assert not left


@contextmanager
def threaded_simulator(setup: Setup) -> Iterator[tuple[BlockingPortal, str]]:
    """The simulator served from its own event loop in a thread; its portal and base URL."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(serve_sim(setup.sim)) as url,
    ):
        yield portal, url


def fresh_frames(setup: Setup, count: int) -> list[str]:
    """``count`` V2 frames of prices the world just moved, on the feed's sport (4)."""
    sim, world = setup.sim, setup.world
    setup.clock.now += 1.0
    events = {event.event_id: event for event in world.events}
    frames: list[str] = []
    for quote in world.step(setup.clock()):
        event = events[quote.event_id]
        kind = event.markets[quote.market_index].kind
        if quote.price is not None and event.sport_id == 4 and kind in V2_KINDS:
            frames.append(sim.render_v2(quote, None))
        if len(frames) == count:
            return frames
    raise AssertionError(f"the world moved fewer than {count} prices of sport 4")


async def sent(sim: RundownSimulator, frames: list[str]) -> None:
    """Offer ``frames`` on every V2 socket and wait until the simulator has written them."""
    before = sim.frames_sent
    sim.offer_v2(frames)
    with anyio.fail_after(WAIT):
        while sim.frames_sent < before + len(frames):
            await anyio.sleep(0.005)


def burst_waiting(portal: BlockingPortal, setup: Setup, count: int) -> None:
    """Write ``count`` frames to the feed's socket while this thread's event loop is held.

    ``portal.call`` blocks the calling loop: the feed cannot read until every frame of the
    burst is in its socket.
    """
    portal.call(sent, setup.sim, fresh_frames(setup, count))


async def test_frames_waiting_in_the_socket_reach_the_engine_as_one_batch() -> None:
    setup = make_sim()
    with threaded_simulator(setup) as (portal, url):
        feed = RundownFeed(
            RundownSettings(**settings(url, heartbeat_timeout=5.0)),
            EventIdentity(),
            clock=setup.clock,
            backoff=Backoff(initial=0.01, cap=0.05),
        )
        send, receive = anyio.create_memory_object_stream[FeedBatch](10_000)
        with send, receive:
            async with anyio.create_task_group() as group:
                group.start_soon(feed.run, send)
                with anyio.fail_after(WAIT):
                    while feed.stats.state is not FeedState.UP:
                        await anyio.sleep(0.01)
                while receive.statistics().current_buffer_used:
                    receive.receive_nowait()  # the start-up's pages
                changes = feed.stats.extra["price_changes"]

                burst_waiting(portal, setup, SIM_BURST)
                with anyio.fail_after(WAIT):
                    batch = await receive.receive()
                burst_changes = feed.stats.extra["price_changes"] - changes

                portal.call(sent, setup.sim, fresh_frames(setup, 1))
                with anyio.fail_after(WAIT):
                    lone = await receive.receive()
                group.cancel_scope.cancel()
    assert burst_changes == SIM_BURST
    assert len(batch.updates) == SIM_BURST
    assert len(lone.updates) == 1


CONFIG = """\
state_dir: {state}
feeds:
  - name: rundown
    provider: therundown
    api_key: {key}
    base_url: {url}
    sport_ids: [4]
channels:
  screen: console://
rules:
  - name: never
    kind: arbitrage
    min_profit: 50%
    max_profit: 60%
    notify: [screen]
"""


async def test_a_burst_of_waiting_frames_costs_the_daemon_one_evaluation(tmp_path: Path) -> None:
    setup = make_sim()
    with threaded_simulator(setup) as (portal, url):
        path = tmp_path / "config.yaml"
        path.write_text(CONFIG.format(state=tmp_path / "state", key=KEY, url=url))
        # The feed on the simulator's clock, so that its pages are the world's dates.
        feed = RundownFeed(
            RundownSettings(**settings(url, heartbeat_timeout=5.0)),
            EventIdentity(),
            clock=setup.clock,
            backoff=Backoff(initial=0.01, cap=0.05),
        )
        daemon = Daemon(load_config(path), clock=setup.clock, feeds=[feed])
        async with anyio.create_task_group() as group:
            await group.start(daemon.run)
            with anyio.fail_after(WAIT):
                while feed.stats.state is not FeedState.UP:
                    await anyio.sleep(0.01)
                # Every page was handed on before the feed was UP; the engine has taken
                # them once the feed went back to its socket for two more heartbeats.
                beats = feed.stats.extra["heartbeats"]
                while feed.stats.extra["heartbeats"] < beats + 2:
                    await anyio.sleep(0.01)
            updates, evaluations = daemon.stats.updates, daemon.stats.evaluations

            burst_waiting(portal, setup, SIM_BURST)
            with anyio.fail_after(WAIT):
                while daemon.stats.updates < updates + SIM_BURST:
                    await anyio.sleep(0.01)
            burst_evaluations = daemon.stats.evaluations - evaluations
            burst_updates = daemon.stats.updates - updates
            daemon.stop()
    assert burst_updates == SIM_BURST
    assert burst_evaluations == 1
