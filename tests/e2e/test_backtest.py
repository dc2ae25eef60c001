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
import json
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
from tests.unit.test_rapidodds_session import game, push

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


#: 2026-11-22 08:20:00 UTC, the recording's first frame.
T0 = 1795335600.0


#: A game in a push: home, away, start (ISO, UTC) and each book's (home, away) prices.
Game = tuple[str, str, str, dict[str, tuple[float, float]]]


def _odds_frame(at: float, games: list[Game]) -> str:
    """A recorded RapidOddsAPI push at ``at``, every price quoted then."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at))
    pushed = []
    for home, away, start, books in games:
        one = game(books, home=home, away=away, updated=stamp)
        one["game"]["commence_time"] = start
        pushed.append(one)
    return json.dumps(
        {
            "t": at,
            "feed": "rapid",
            "provider": "rapidoddsapi",
            "channel": "ws",
            "source": "wss://api.example.invalid/ws?api_key=***",
            "frame": push(pushed, at=stamp),
        }
    )


def test_a_backtest_prints_the_closing_line_value_of_a_game_that_started_within_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two games, DraftKings slow on the away side of each at 2.25. Celtics-Lakers starts at
    # 08:21:00, within the recording; Heat-Knicks the next day, after it.
    celtics = ("Boston Celtics", "Los Angeles Lakers", "2026-11-22T08:21:00")
    heat = ("Miami Heat", "New York Knicks", "2026-11-23T01:00:00")
    fair = {"Pinnacle": (1.87, 2.03), "FanDuel": (1.85, 1.98)}
    slow = {**fair, "DraftKings": (1.83, 2.25)}
    # Pinnacle's last price before the start: Celtics 1.80, Lakers 2.10.
    closing = {"Pinnacle": (1.80, 2.10), "FanDuel": (1.85, 1.98), "DraftKings": (1.83, 2.25)}
    # In play, after the start: never the close.
    in_play = {"Pinnacle": (2.50, 1.60), "FanDuel": (1.85, 1.98), "DraftKings": (1.83, 2.25)}
    frames = [
        _odds_frame(T0 + 5, [(*celtics, fair), (*heat, fair)]),
        _odds_frame(T0 + 10, [(*celtics, slow), (*heat, slow)]),
        _odds_frame(T0 + 40, [(*celtics, closing), (*heat, slow)]),
        _odds_frame(T0 + 70, [(*celtics, in_play), (*heat, slow)]),
    ]
    recording = tmp_path / "rapid.jsonl"
    recording.write_text("\n".join(frames) + "\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        "state_dir: " + str(tmp_path) + "\n"
        "feeds:\n  - name: rapid\n    provider: rapidoddsapi\n    api_key: oa_test\n"
        "    base_url: http://127.0.0.1:9\n    sports: [NBA]\n"
        "    bookmakers: [Pinnacle, DraftKings, FanDuel]\n    market_types: [head_to_head]\n"
        "channels:\n  console: console://\n"
        "rules:\n"
        "  - name: sharp-ev\n    kind: positive_ev\n    sharp: [Pinnacle]\n"
        "    devig: multiplicative\n    min_ev: 3%\n    max_quote_age: 10m\n"
        "    notify: [console]\n",
        encoding="utf-8",
    )
    assert main(["backtest", "-c", str(config), str(recording)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Alerted at 08:20:10: Lakers 2.25 at DraftKings. Pinnacle's close, 1.80 / 2.10:
    # p_c(Lakers) = (1/2.10) / (1/1.80 + 1/2.10) = 0.461538, so CLV = 2.25 x 0.461538 - 1
    # = +3.85%. The in-play frame improves the alert after the start: that price has no
    # close (alerted in play), and Pinnacle's in-play 1.60 never became the close. The
    # Knicks' price waits for its game, which starts after the recording.
    heading = "Closing-line value of 2 alerted prices; 1 more wait for their game to start"
    summary = [
        line for line in lines[lines.index(heading) + 1 : lines.index("alerts per rule:")] if line
    ]
    columns = ["PRICES", "WITH", "CLOSE", "MEAN", "CLV", "BEAT", "CLOSE", "NO", "CLOSE"]
    figures = ["2", "1", "+3.85%", "100%", "(1/1)", "1"]
    assert [line.split() for line in summary[:-1]] == [
        ["RULE", *columns],
        ["sharp-ev", *figures],
        ["BOOK", *columns],
        ["DraftKings", *figures],
        ["ALL", *figures],
    ]
    assert summary[-1] == "CLV = alerted price / closing fair price - 1; beat the close: CLV > 0"
