"""The soak's simulators: both providers in a process of their own, counting what they send.

Started by `tests.soak` (not a test, not run in CI). Serves the RapidOddsAPI and TheRundown
simulators on 127.0.0.1 over one world moved at about ``--rate`` updates a second, prints
their base URLs as one JSON line, then obeys one command a line on stdin and answers each
with one JSON line on stdout:

``window N``      connections and REST snapshots from now on belong to window N
``drop SECONDS``  end every connection of both providers, refusing new ones that long
``silent on|off`` send nothing (TheRundown's delta log keeps the changes)
``counts N``      frames sent in window N, per provider: WebSocket messages and, for
                  RapidOddsAPI, REST snapshots (the daemon counts both as frames)
``published``     world changes published so far

It exits when stdin closes, so it never outlives the soak::

    python -m tests.soak_sims --rate 1000 --seed 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Any, Final

import anyio

from arbwatch.asgi import ASGIApp, Message, Receive, Scope, Send
from arbwatch.demo import DRIFT, NOISE, STALE_RATE
from arbwatch.sim.faults import Faults
from arbwatch.sim.rapidodds import RapidOddsSimulator
from arbwatch.sim.rundown import RundownSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import World

#: RapidOddsAPI's push interval in the soak, as in the demo's order of magnitude.
PUSH_INTERVAL: Final = 1.0
#: The longest pause between two world steps, so a quiet world still moves.
LONGEST_STEP: Final = 1.0
#: The shortest, so an unusually busy step does not make the loop spin.
SHORTEST_STEP: Final = 0.01


class CountingApp:
    """Wraps a simulator: counts, per window, the frames it hands to its connections.

    A WebSocket connection belongs to the window current when it opened, so frames sent on
    a killed daemon's connections after the next window began still count for its own.
    """

    def __init__(self, app: ASGIApp, *, snapshot_path: str | None = None) -> None:
        self.app = app
        self.snapshot_path = snapshot_path
        self.window = 0
        self.sent: Counter[int] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        window = self.window

        async def counted(message: Message) -> None:
            await send(message)
            if self._is_frame(scope, message):
                self.sent[window] += 1

        await self.app(scope, receive, counted)

    def _is_frame(self, scope: Scope, message: Message) -> bool:
        """Whether the daemon counts ``message`` as a frame.

        It counts WebSocket messages, and REST odds snapshots answered 200.
        """
        if message["type"] == "websocket.send":
            return True
        return (
            message["type"] == "http.response.start"
            and self.snapshot_path is not None
            and message.get("status") == 200
            and str(scope.get("path", "")).endswith(self.snapshot_path)
        )


async def move_world(rundown: RundownSimulator, rate: float, published: list[int]) -> None:
    """Step the world so that its changes come at about ``rate`` a second, for ever."""
    while True:
        changed = rundown.advance()
        published[0] += len(changed)
        await anyio.sleep(min(max(len(changed) / rate, SHORTEST_STEP), LONGEST_STEP))


async def obey(apps: dict[str, CountingApp], faults: list[Faults], published: list[int]) -> None:
    """Answer the soak's commands until stdin closes."""
    lines = anyio.wrap_file(sys.stdin)
    async with anyio.create_task_group() as group:
        async for line in lines:
            words = line.split()
            answer: dict[str, Any] = {"ok": True}
            if words[:1] == ["window"]:
                for app in apps.values():
                    app.window = int(words[1])
            elif words[:1] == ["drop"]:
                group.start_soon(drop, faults, float(words[1]))
            elif words[:1] == ["silent"]:
                for fault in faults:
                    fault.silent = words[1] == "on"
            elif words[:1] == ["counts"]:
                answer = {name: app.sent[int(words[1])] for name, app in apps.items()}
            elif words[:1] == ["published"]:
                answer = {"published": published[0]}
            else:
                answer = {"ok": False, "error": f"unknown command {line.strip()!r}"}
            print(json.dumps(answer), flush=True)
        group.cancel_scope.cancel()


async def drop(faults: list[Faults], seconds: float) -> None:
    """Drop every connection of both providers for ``seconds``."""
    for fault in faults:
        fault.drop = True
    await anyio.sleep(seconds)
    for fault in faults:
        fault.drop = False


async def main(rate: float, seed: int) -> None:
    """Serve both simulators and obey the soak until stdin closes."""
    world = World(seed, now=time.time(), stale_rate=STALE_RATE, noise=NOISE, drift=DRIFT)
    rundown = RundownSimulator(world, clock=time.time)
    rapidodds = RapidOddsSimulator(world, clock=time.time, push_interval=PUSH_INTERVAL)
    apps = {
        "rapidoddsapi": CountingApp(rapidodds, snapshot_path="/markets"),
        "therundown": CountingApp(rundown),
    }
    published = [0]
    async with (
        serve(apps["rapidoddsapi"]) as rapidodds_url,
        serve(apps["therundown"]) as rundown_url,
        anyio.create_task_group() as group,
    ):
        print(json.dumps({"rapidoddsapi": rapidodds_url, "therundown": rundown_url}), flush=True)
        group.start_soon(move_world, rundown, rate, published)
        await obey(apps, [rapidodds.faults, rundown.faults], published)
        group.cancel_scope.cancel()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: ``--rate`` and ``--seed``."""
    parser = argparse.ArgumentParser(prog="python -m tests.soak_sims", description=__doc__)
    parser.add_argument("--rate", type=float, default=1000.0, help="world changes a second")
    parser.add_argument("--seed", type=int, default=1, help="the world's seed")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    anyio.run(main, arguments.rate, arguments.seed)
