"""``arbwatch bench --e2e``: the real daemon against the simulators, from the socket to the alert.

Everything runs on 127.0.0.1. This process serves TheRundown's and RapidOddsAPI's
simulators over one big, quiet board (`arbwatch.sim.board`: by default 1,000 games x
moneyline, spread and total x 20 books, 120,000 prices) and a ``json://`` receiver for
the alerts; the daemon is a process of its own (``python -m arbwatch run -c CONFIG``), so
the CPU and memory read from ``/proc/<pid>`` are its own. In order:

1. **The transport**: a bare httpx-ws client (`arbwatch.bench.bare_ws`, a process too)
   reads TheRundown's V2 socket as fast as the simulator sends, before the daemon starts;
   the simulator's own CPU per frame is measured beside it, to show it is not the limit.
2. **Start-up**: the daemon is started with one TheRundown feed; the time to its WebSocket
   open (the events pages are the snapshot's size, printed) and to the feed being up.
3. **Rates**: for each rate (frames a second, or ``max``: every socket buffer kept full)
   ``market_price`` frames rendered ahead (`RundownSimulator.render_v2`) are offered for
   ``seconds``, and every ``plant_every`` seconds an arbitrage is planted on a fresh game.
   Frames a client's 256-frame buffer cannot take are dropped, as TheRundown drops them.
   Reported: frames offered and taken a second (taken: the daemon's
   ``arbwatch_feed_frames_total``), its CPU and CPU per frame (``/proc/<pid>/stat``), the
   planted arbitrages matched and their latency, from the second leg's frame handed to
   the socket to the alert received (p50, p99, max), its peak RSS (``VmHWM``), and the
   load average, since the machine may be shared.
4. **Memory** (``duration`` > 0): the daemon at full speed for that long, its RSS sampled
   every few seconds; growth from the end of warm-up to the end.
5. **Big push** (``push``): a second daemon with one RapidOddsAPI feed subscribed to the
   whole board: every push is the full board (about 10 MB, 120,000 outcomes); between two
   pushes six prices change, two of them a planted arbitrage. Reported per push: its size,
   the daemon's decode and apply time (its debug line), its CPU, and push -> alert.

Benchmarks are figures, not assertions: nothing here fails for being slow. Every wait is
bounded and every process started is ended on the way out, Ctrl-C included.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TextIO

import anyio
import httpx

from arbwatch.asgi import Receive, Scope, Send, read_body
from arbwatch.bench.e2e_figures import (
    BareFigures,
    E2eReport,
    MemoryFigures,
    PushFigures,
    RateFigures,
    StartFigures,
    bare_line,
    board_line,
    format_report,
    memory_line,
    push_line,
    rate_header,
    rate_row,
    start_line,
)
from arbwatch.bench.e2e_process import (
    POLL,
    STOP_TIMEOUT,
    DaemonProcess,
    cpu_seconds,
    daemon,
    memory_mb,
    wait_for,
)
from arbwatch.bench.e2e_settings import E2eSettings
from arbwatch.sim.board import (
    GAME_NUMBER,
    Change,
    bench_world,
    board_key,
    planted_arbitrage,
    price_walk,
    restored,
)
from arbwatch.sim.rapidodds import RapidOddsSimulator
from arbwatch.sim.rundown import DEFAULT_KEY, V2_MARKETS_PATH, RundownSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import World

#: How often the stream tops up the sockets' buffers or offers what its rate has due.
TICK: Final = 0.002
#: Buffer kept free for planted frames at full speed, so that they are never the dropped.
PLANT_ROOM: Final = 8
#: A planted arbitrage is put back this long after it was planted.
PLANT_LIFE: Final = 1.5
#: Frames rendered ahead and sent over and over.
WALK_FRAMES: Final = 40_000
#: How long the daemon may take to open its socket, and to be up, after it starts.
START_TIMEOUT: Final = 180.0
#: After a phase: the daemon's frame count still this long means it has caught up.
SETTLE_QUIET: Final = 1.0
SETTLE_TIMEOUT: Final = 60.0
#: RSS samples during the memory run, and the share of it that is warm-up.
RSS_SAMPLE: Final = 5.0
WARM_UP_SHARE: Final = 0.2
#: Prices changed between two pushes: a planted arbitrage (two) and four others.
PUSH_CHANGES: Final = 6
#: Seconds a planted arbitrage's alert may take before it counts as unmatched.
ALERT_TIMEOUT: Final = 30.0
RAPID_KEY: Final = "oa_sim_elite"
RAPID_MARKETS: Final = ("head_to_head", "alternate_lines", "alternate_total_points")
_DEBUG_APPLY: Final = re.compile(
    r"(\d+) characters decoded and applied in ([\d.]+) ms \(([\d.]+) ms CPU\)"
)
_RUNDOWN_FEED: Final = """\
  - name: rundown
    provider: therundown
    api_key: {key}
    base_url: {url}
    sport_ids: [4]
    market_ids: [1, 2, 3]
"""
_RAPID_FEED: Final = """\
  - name: rapid
    provider: rapidoddsapi
    api_key: {key}
    base_url: {url}
    sports: [NBA]
    bookmakers: [{books}]
    market_types: [{markets}]
"""


# --- the alert receiver --------------------------------------------------------------------


class AlertReceiver:
    """An ASGI app taking apprise ``json://`` posts: when each arbitrage alert came, by game."""

    def __init__(self) -> None:
        """No alert yet."""
        self.first_alert: dict[int, float] = {}
        self.posts = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Take one post; answer 200."""
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        arrived = time.monotonic()
        self.posts += 1
        try:
            post = json.loads(body)
            title = str(post.get("title", ""))
            text = f"{title}\n{post.get('message', '')}"
        except (ValueError, AttributeError):
            title = text = ""
        match = GAME_NUMBER.search(text)
        if title.startswith("ARB") and match is not None:
            self.first_alert.setdefault(int(match[1]), arrived)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


# --- streaming and planting ----------------------------------------------------------------


@dataclass
class Plant:
    """A planted arbitrage: its game, and when its second leg was handed to the socket."""

    game: int
    sent_at: float | None = None


class Planter:
    """Plants an arbitrage on the next game every ``every`` seconds and puts it back later."""

    def __init__(self, sim: RundownSimulator, world: World, every: float) -> None:
        """Plant on ``world``'s games through ``sim``, once `start` is called."""
        self.sim = sim
        self.world = world
        self.every = every
        self.plants: list[Plant] = []
        self._next_game = 0
        self._next_at = math.inf
        self._restores: deque[tuple[float, list[Change]]] = deque()

    def start(self, now: float) -> None:
        """Plant the first one half a period from ``now``."""
        self._next_at = now + self.every / 2

    def stop(self) -> None:
        """Plant no more (what is planted is still put back)."""
        self._next_at = math.inf

    def tick(self, now: float) -> None:
        """Plant and put back what is due at ``now``."""
        if now >= self._next_at:
            self._next_at += self.every
            self._plant()
        while self._restores and self._restores[0][0] <= now:
            _, changes = self._restores.popleft()
            self.sim.offer_v2(self.sim.render_v2(c.quote, c.previous) for c in changes)

    def _plant(self) -> None:
        # Games in turn, so every alert is new to the daemon's dedup (wrapping after
        # `events` plants, which the dedup's 10-minute repeat may then hold back).
        plant = Plant(self._next_game % len(self.world.events))
        self._next_game += 1
        changes = planted_arbitrage(self.world, plant.game, time.time())
        first, second = (self.sim.render_v2(c.quote, c.previous) for c in changes)

        def sent(_: str) -> None:
            plant.sent_at = time.monotonic()

        self.sim.offer_v2([first])
        self.sim.offer_v2([second], on_sent=sent)
        self.plants.append(plant)
        self._restores.append((time.monotonic() + PLANT_LIFE, restored(self.world, changes, 0.0)))


async def stream(
    sim: RundownSimulator, frames: Iterator[str], rate: int | None, seconds: float,
    planter: Planter | None,
) -> int:  # fmt: skip
    """Offer ``frames`` at ``rate`` a second (None: keep every buffer full); how many."""
    start = time.monotonic()
    offered = 0
    while (now := time.monotonic()) - start < seconds:
        if planter is not None:
            planter.tick(now)
        # At full speed every buffer is kept full (less room for planted frames).
        full = sim.v2_room() - PLANT_ROOM
        due = full if rate is None else int(rate * (now - start)) - offered
        if due > 0:
            offered += sim.offer_v2(itertools.islice(frames, due))
        await anyio.sleep(TICK)
    return offered


# --- the parts -----------------------------------------------------------------------------


async def measure_bare(
    sim: RundownSimulator, url: str, frames: Iterator[str], seconds: float
) -> BareFigures:
    """The bare client reading the simulator's full-speed stream, in a process of its own."""
    ws_url = url.replace("http://", "ws://", 1) + f"{V2_MARKETS_PATH}?key={DEFAULT_KEY}"
    command = [sys.executable, "-m", "arbwatch.bench.bare_ws", ws_url, str(seconds)]
    cpu_before = time.process_time()
    async with anyio.create_task_group() as group:

        async def feed() -> None:
            await stream(sim, frames, None, math.inf, None)

        group.start_soon(feed)
        # run_process ends the client if this is cancelled (Ctrl-C, the time limit).
        with anyio.fail_after(seconds + START_TIMEOUT):
            done = await anyio.run_process(command, stderr=None)
        group.cancel_scope.cancel()
    simulator_cpu = time.process_time() - cpu_before
    output = done.stdout
    result = json.loads(output)
    # The simulator ran for the bare client's connection, first frame and seconds: its
    # CPU over that span is a little more than what those frames cost it.
    return BareFigures(int(result["frames"]), float(result["seconds"]), simulator_cpu)


async def events_pages(url: str, now: float) -> tuple[int, int]:
    """The bytes and count of the events pages a TheRundown client bootstraps from."""
    today = datetime.fromtimestamp(now, UTC).date()
    size = pages = 0
    async with httpx.AsyncClient(timeout=60.0, headers={"X-TheRundown-Key": DEFAULT_KEY}) as client:
        for offset in range(3):
            day = (today + timedelta(days=offset)).isoformat()
            response = await client.get(f"{url}/api/v2/sports/4/events/{day}")
            size += len(response.content)
            pages += 1
            await anyio.sleep(0.2)  # the simulator's burst limit is per second
    return size, pages


async def measure_rate(
    *,
    running: DaemonProcess, sim: RundownSimulator, receiver: AlertReceiver, planter: Planter,
    frames: Iterator[str], rate: int | None, seconds: float,
) -> RateFigures:  # fmt: skip
    """One rate for ``seconds``; then wait until the daemon has caught up."""
    first_plant = len(planter.plants)
    (taken_before, evaluations_before), cpu_before = (
        await running.counts(),
        cpu_seconds(running.pid),
    )
    dropped_before = sim.dropped_frames
    started = time.monotonic()
    planter.start(started)
    offered = await stream(sim, frames, rate, seconds, planter)
    planter.stop()
    (taken_after, evaluations_after), cpu_after = await running.counts(), cpu_seconds(running.pid)
    elapsed = time.monotonic() - started
    dropped = sim.dropped_frames - dropped_before
    plants = planter.plants[first_plant:]
    await settle(running, sim, receiver, planter, plants)
    latencies = [
        receiver.first_alert[plant.game] - plant.sent_at
        for plant in plants
        if plant.sent_at is not None and plant.game in receiver.first_alert
    ]
    return RateFigures(
        rate=rate,
        seconds=elapsed,
        offered=offered,
        dropped=dropped,
        taken=taken_after - taken_before,
        evaluations=evaluations_after - evaluations_before,
        cpu_seconds=cpu_after - cpu_before,
        planted=len(plants),
        latencies=latencies,
        peak_rss_mb=memory_mb(running.pid, "VmHWM"),
        load=os.getloadavg()[0],
    )


async def settle(
    running: DaemonProcess, sim: RundownSimulator, receiver: AlertReceiver, planter: Planter,
    plants: Sequence[Plant],
) -> None:  # fmt: skip
    """Wait (bounded) for every plant's alert and for the daemon's frame count to stand still."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    last, still_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        planter.tick(time.monotonic())
        frames = await running.frames()
        if frames != last:
            last, still_since = frames, time.monotonic()
        alerted = all(plant.game in receiver.first_alert for plant in plants)
        if time.monotonic() - still_since >= SETTLE_QUIET and (
            alerted or time.monotonic() - still_since >= ALERT_TIMEOUT
        ):
            return
        await anyio.sleep(POLL)


async def measure_memory(
    running: DaemonProcess, sim: RundownSimulator, planter: Planter, frames: Iterator[str],
    duration: float,
) -> MemoryFigures:  # fmt: skip
    """The daemon at full speed for ``duration``, its RSS sampled every `RSS_SAMPLE` s."""
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    async with anyio.create_task_group() as group:

        async def sample() -> None:
            while True:
                samples.append((time.monotonic() - started, memory_mb(running.pid, "VmRSS")))
                # A short run is sampled more often, so that it has a growth to show.
                await anyio.sleep(min(RSS_SAMPLE, duration / 10))

        group.start_soon(sample)
        planter.start(started)
        await stream(sim, frames, None, duration, planter)
        planter.stop()
        group.cancel_scope.cancel()
    samples.append((time.monotonic() - started, memory_mb(running.pid, "VmRSS")))
    return MemoryFigures(samples, duration * WARM_UP_SHARE)


@dataclass(frozen=True)
class Stage:
    """What the parts share: the settings, the report they fill in, the board, the alerts."""

    settings: E2eSettings
    report: E2eReport
    world: World
    #: The receiver's ``json://`` base URL, and the receiver.
    hook: str
    receiver: AlertReceiver
    workdir: Path
    out: TextIO


async def run_rundown(stage: Stage) -> None:
    """Parts 1 to 4: the bare client, start-up, the rates and the memory run."""
    settings, report, world, out = stage.settings, stage.report, stage.world, stage.out
    sim = RundownSimulator(world, clock=time.time)
    walk = price_walk(world, WALK_FRAMES, seed=settings.seed, now=time.time())
    frames = itertools.cycle([sim.render_v2(change.quote, change.previous) for change in walk])
    prices = len(world.quotes)
    async with serve(sim) as url:
        report.bare = await measure_bare(sim, url, frames, settings.bare_seconds)
        _say(out, bare_line(report.bare))
        await wait_for(lambda: sim.connection_count == 0, STOP_TIMEOUT, "the bare client leaving")
        page_bytes, pages = await events_pages(url, time.time())
        feed = _RUNDOWN_FEED.format(key=DEFAULT_KEY, url=url)
        started = time.monotonic()
        async with daemon(feed, stage.hook, stage.workdir, "warning") as running:
            await wait_for(lambda: sim.connection_count > 0, START_TIMEOUT, "WebSocket", running)
            ws_open = time.monotonic() - started
            await wait_for_metric(running, "feed_updates_total", prices, "the board")
            applied = time.monotonic() - started
            report.start = StartFigures(page_bytes, pages, ws_open, applied)
            _say(out, start_line(report.start))
            _say(out, rate_header())
            planter = Planter(sim, world, settings.plant_every)
            for rate in settings.rates:
                figures = await measure_rate(
                    running=running,
                    sim=sim,
                    receiver=stage.receiver,
                    planter=planter,
                    frames=frames,
                    rate=rate,
                    seconds=settings.seconds,
                )
                report.rates.append(figures)
                _say(out, rate_row(figures))
            if settings.duration > 0:
                report.memory = await measure_memory(
                    running, sim, planter, frames, settings.duration
                )
                _say(out, memory_line(report.memory))


async def wait_for_metric(running: DaemonProcess, name: str, least: float, what: str) -> None:
    """Wait, bounded by `START_TIMEOUT`, until the daemon's ``name`` is at least ``least``."""
    deadline = time.monotonic() + START_TIMEOUT
    while (await running.metrics()).get(name, 0.0) < least:
        if (why := running.exited()) is not None:
            raise RuntimeError(f"{what}: {why}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: {name} not {least:g} within {START_TIMEOUT:g} s")
        await anyio.sleep(POLL)


async def run_push(stage: Stage) -> None:
    """Part 5: the whole board in every RapidOddsAPI push, six prices changed in between."""
    settings, report, world, out = stage.settings, stage.report, stage.world, stage.out
    interval = settings.push_interval
    sim = RapidOddsSimulator(world, push_interval=interval, rate_limit=None)
    books = ", ".join(book.name for book in world.books)
    walk = iter(price_walk(world, settings.pushes * PUSH_CHANGES, seed=settings.seed + 1, now=0))
    # Games counted from the end of the board: the rates' plants took them from the start.
    games = iter(range(len(world.events) - 1, -1, -1))
    markets = ", ".join(RAPID_MARKETS)
    async with serve(sim) as url:
        feed = _RAPID_FEED.format(key=RAPID_KEY, url=url, books=books, markets=markets)
        started = time.monotonic()
        async with daemon(feed, stage.hook, stage.workdir, "debug") as running:
            await wait_for(lambda: sim.live_connections > 0, START_TIMEOUT, "WebSocket", running)
            report.push_ws_open = time.monotonic() - started
            _say(out, f"RapidOddsAPI start-up: WebSocket open {report.push_ws_open:.2f} s")
            await wait_for_metric(running, "feed_updates_total", len(world.quotes), "the board")
            for number in range(1, settings.pushes + 1):
                # The last push is taken in: the world changes between two pushes.
                await anyio.sleep(interval / 2)
                game = next(games)
                now = time.time()
                for change in [
                    *planted_arbitrage(world, game, now),
                    *itertools.islice(walk, PUSH_CHANGES - 2),
                ]:
                    quote = change.quote
                    world.quotes[board_key(quote)] = replace(quote, updated_at=now)
                log_size = running.log.stat().st_size
                cpu_before = cpu_seconds(running.pid)
                pushes = len(sim.pushes_sent)

                def pushed(before: int = pushes) -> bool:
                    return len(sim.pushes_sent) > before

                def alerted(number: int = game) -> bool:
                    return number in stage.receiver.first_alert

                await wait_for(pushed, 2 * interval + 30, "a push", running)
                push = sim.pushes_sent[-1]
                with contextlib.suppress(TimeoutError):
                    await wait_for(alerted, ALERT_TIMEOUT, "an alert")
                # The rest of its work (dedup, store) counts in its CPU too.
                await anyio.sleep(min(interval / 4, 1.0))
                alert_at = stage.receiver.first_alert.get(game)
                apply = _apply_ms(running.log, log_size, push.characters)
                figures = PushFigures(
                    characters=push.characters,
                    apply_ms=apply[0],
                    apply_cpu_ms=apply[1],
                    cpu_seconds=cpu_seconds(running.pid) - cpu_before,
                    latency=None if alert_at is None else alert_at - push.at,
                )
                report.pushes.append(figures)
                _say(out, push_line(number, figures))


def _say(out: TextIO, line: str) -> None:
    print(line, file=out, flush=True)


def _apply_ms(log: Path, since: int, characters: int) -> tuple[float, float]:
    """The decode and apply (wall, CPU ms) the daemon logged after ``since`` for that push."""
    with log.open("rb") as file:
        file.seek(since)
        text = file.read().decode(errors="replace")
    times = [
        (float(wall), float(cpu))
        for size, wall, cpu in _DEBUG_APPLY.findall(text)
        if int(size) == characters
    ]
    return times[-1] if times else (math.nan, math.nan)


async def run_e2e(settings: E2eSettings, out: TextIO = sys.stdout) -> E2eReport:
    """Measure everything ``settings`` asks for, printing figures as they come."""
    report = E2eReport(settings)
    now = time.time()
    world = bench_world(settings.events, settings.books, seed=settings.seed, now=now)
    receiver = AlertReceiver()
    with tempfile.TemporaryDirectory(prefix="arbwatch-e2e-") as tmp:
        async with serve(receiver) as base:
            hook = base.replace("http://", "json://", 1)
            _say(out, board_line(settings))
            stage = Stage(settings, report, world, hook, receiver, Path(tmp), out)
            await run_rundown(stage)
            if settings.push:
                await run_push(stage)
    return report


def run_e2e_bench(settings: E2eSettings, out: TextIO = sys.stdout) -> E2eReport:
    """``arbwatch bench --e2e``: run everything, then print the whole report."""
    report = anyio.run(run_e2e, settings, out)
    print("", file=out)
    print("\n".join(format_report(report)), file=out, flush=True)
    return report
