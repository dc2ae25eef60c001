"""`arbwatch backtest` on a recording of the demo alerts what the demo alerted live.

The demo's simulators and config run in-process with the daemon recording each feed
(``Daemon(record_dir=...)``) and alerting to a loopback ``json://`` receiver as well as the
console. Once two alerts have arrived the daemon stops (flushing what is in flight), and the
recordings go through `arbwatch.backtest` with the same config. Live and backtest decide
at each frame's receive time (an alert held by ``min_duration`` at the time it came due),
so the texts (prices, stakes, quote ages, start times) are the same, not just the same
opportunities. The backtest prints alerts, not the messages grouping makes of them, so the
receiving channel sends one message per alert (`arbwatch.notify.grouping`).
"""

from __future__ import annotations

import dataclasses
import io
import time
from pathlib import Path

import anyio
import pytest

from arbwatch.backtest import backtest
from arbwatch.cli import main
from arbwatch.daemon import Daemon, recording_path
from arbwatch.demo import (
    DEFAULT_SEED,
    DRIFT,
    NOISE,
    PUSH_INTERVAL,
    STALE_RATE,
    STEP_INTERVAL,
    demo_config,
)
from arbwatch.sim.rapidodds import RapidOddsSimulator
from arbwatch.sim.rundown import RundownSimulator
from arbwatch.sim.server import serve
from arbwatch.sim.world import World
from tests.sinks import json_receiver

pytestmark = pytest.mark.anyio

#: Alerts to wait for, and how long each may take (the README promises one within 30 s).
ALERTS = 2
PER_ALERT = 60.0


async def test_the_backtest_of_a_demo_recording_prints_the_alerts_the_demo_sent(
    tmp_path: Path,
) -> None:
    world = World(DEFAULT_SEED, now=time.time(), stale_rate=STALE_RATE, noise=NOISE, drift=DRIFT)
    rundown = RundownSimulator(world, clock=time.time)
    rapidodds = RapidOddsSimulator(world, clock=time.time, push_interval=PUSH_INTERVAL)
    recordings = tmp_path / "recordings"
    async with (
        json_receiver() as (receiver, url),
        serve(rapidodds) as rapidodds_url,
        serve(rundown) as rundown_url,
    ):
        config = demo_config(rapidodds_url, rundown_url, tmp_path / "state", [url])
        # One message per alert at the receiver (no grouping, no cap): the backtest's unit.
        ungrouped = dataclasses.replace(
            config.channels["notify"], group_wait=0.0, group_interval=0.0, max_per_minute=0
        )
        config = dataclasses.replace(config, channels={**config.channels, "notify": ungrouped})
        daemon = Daemon(config, record_dir=recordings)
        stopped = anyio.Event()

        async def run_daemon(*, task_status: anyio.abc.TaskStatus[None]) -> None:
            await daemon.run(task_status=task_status)
            stopped.set()

        live = []
        async with anyio.create_task_group() as group:
            await group.start(run_daemon)
            group.start_soon(rundown.run, STEP_INTERVAL)
            live += [await receiver.next_post(PER_ALERT) for _ in range(ALERTS)]
            daemon.stop()
            with anyio.fail_after(config.flush_timeout + 10):
                await stopped.wait()
            group.cancel_scope.cancel()
        # What was in flight when it stopped was flushed to the receiver.
        while not receiver.nothing_more():
            live.append(await receiver.next_post())

    paths = [recording_path(recordings, feed.name) for feed in config.feeds]
    out = io.StringIO()
    result = backtest(config, paths, out)

    live_texts = [(post["title"], post["message"]) for post in live]
    replayed = [(message.title, message.body) for message in result.messages]
    assert replayed[: len(live_texts)] == live_texts, out.getvalue()
    # Frames recorded but still queued for the engine at the stop were never decided live:
    # they can only add alerts after the last live one.
    last_live = result.messages[len(live_texts) - 1].found_at
    assert all(m.found_at >= last_live for m in result.messages[len(live_texts) :])
    assert result.replay.frames > 0
    assert result.replay.malformed == 0
    printed = out.getvalue()
    assert live_texts[0][0] in printed
    assert "recorded frames per second" in printed.splitlines()[-1]


def test_the_command_line_prints_alerts_and_exits_78_on_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recording = Path(__file__).resolve().parent.parent / "fixtures" / "recordings"
    config = tmp_path / "config.yaml"
    config.write_text(
        "state_dir: " + str(tmp_path) + "\n"
        "feeds:\n  - name: rapid\n    provider: rapidoddsapi\n    api_key: oa_test\n"
        "    base_url: http://127.0.0.1:9\n    sports: [NBA]\n    bookmakers: [Pinnacle]\n"
        "    market_types: [head_to_head]\n"
        "channels:\n  console: console://\n"
        "rules:\n"
        "  - name: arbs\n    kind: arbitrage\n    max_quote_age: 60s\n    notify: [console]\n",
        encoding="utf-8",
    )
    assert main(["backtest", "-c", str(config), str(recording / "rapid-arb.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "ARB +2.12%" in out
    assert "arbs" in out
    assert "backtest: 7 frames read from 1 recording(s)" in out

    config.write_text("rules: nonsense\n", encoding="utf-8")
    assert main(["backtest", "-c", str(config), str(recording / "rapid-arb.jsonl")]) == 78
    assert "the config cannot be used" in capsys.readouterr().err
