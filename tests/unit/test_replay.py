"""`arbwatch replay`: recorded frames through the engine, the same answers every time."""

import io
import json
from pathlib import Path

import pytest

from arbwatch.cli import main
from arbwatch.core.devig import DevigMethod
from arbwatch.feeds.replay import first_sight_rules, replay

RECORDING = Path(__file__).resolve().parent.parent / "fixtures" / "recordings" / "rapid-arb.jsonl"
RULES = first_sight_rules(
    min_profit=0.0,
    min_ev=0.01,
    max_quote_age=60.0,
    sharp=["Pinnacle"],
    devig=DevigMethod.WORST_CASE,
)


def run(path: Path = RECORDING) -> tuple[str, int, int]:
    out = io.StringIO()
    result = replay([path], out, rules=RULES)
    return out.getvalue(), result.malformed, len(result.found)


def test_the_recorded_arbitrage_is_found_once_and_the_replay_is_deterministic() -> None:
    first, malformed, found = run()
    lines = first.splitlines()
    # DraftKings is slow on the Lakers at 2.25 against Pinnacle's Celtics 1.87:
    # 1/1.87 + 1/2.25 = 0.97920, a 2.12% arbitrage, seen from 08:20:10 until DraftKings
    # pulls the line at 08:20:20; printed when it appears, not while it lasts.
    assert lines[0] == (
        "2026-11-22 08:20:10  ARB +2.12%  NBA  Los Angeles Lakers @ Boston Celtics  Moneyline  "
        "Boston Celtics 1.87 @ Pinnacle / Los Angeles Lakers 2.25 @ DraftKings"
    )
    assert lines[1].startswith("2026-11-22 08:20:10  EV +")
    assert lines[1].endswith("Los Angeles Lakers 2.25 @ DraftKings")
    assert lines[-1].startswith("replayed 7 frames:")
    assert lines[-1].endswith("1 malformed; found 1 arbitrage and 1 +EV")
    assert (malformed, found) == (1, 2)
    assert run()[0] == first


def test_frames_of_an_unknown_provider_are_skipped_and_said(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = RECORDING.read_text(encoding="utf-8").splitlines()
    other = {
        "t": 1.0,
        "feed": "x",
        "provider": "someday",
        "channel": "ws",
        "source": "",
        "frame": "{}",
    }
    path.write_text("\n".join([json.dumps(other), *lines]) + "\n", encoding="utf-8")
    output, _, found = run(path)
    assert found == 2
    assert output.splitlines()[-1].endswith(
        "skipped frames of providers this version cannot replay: 1 of someday"
    )


def test_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(RECORDING), "--odds", "american", "--min-ev", "50%"]) == 0
    out = capsys.readouterr().out
    assert "Boston Celtics -115 @ Pinnacle / Los Angeles Lakers +125 @ DraftKings" in out
    assert " EV " not in out  # nothing is +50%
    assert main(["replay", "/nonexistent/recording.jsonl"]) == 2
    assert "cannot open" in capsys.readouterr().err
