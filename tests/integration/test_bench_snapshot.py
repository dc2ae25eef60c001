"""``python -m arbwatch.bench.snapshot`` on a tiny board: every line printed, every planted
arbitrage found, and the events page read whole.

In-process: the RapidOddsAPI pushes are rendered by the simulator and handed to the
session as text, and the TheRundown pages come through httpx's ASGI transport. Only the
structure and the counts are checked; the times are measurements and depend on the
machine, so none is compared with a target.
"""

from __future__ import annotations

import io

import pytest

from arbwatch.bench.snapshot import MODES, main, run_snapshot_bench


def test_a_tiny_run_prints_every_mode_and_finds_every_planted_arbitrage() -> None:
    out = io.StringIO()
    bench = run_snapshot_bench(events=6, books=3, pushes=2, seed=3, out=out)
    prices = 6 * 3 * 2 * 3  # games x markets x sides x books
    assert bench.first is not None
    assert bench.first.updates == prices
    assert list(bench.pushes) == list(MODES)
    for taken in bench.pushes.values():
        assert len(taken) == 2
        assert all(push.found_planted for push in taken)
        # Six prices changed, each in a book-game of its own or not: at most 6 x 6 cells.
        assert all(0 < push.updates <= 36 for push in taken)
    assert {mode: page.updates for mode, page in bench.pages.items()} == dict.fromkeys(
        MODES, prices
    )
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"board: 6 games x moneyline, spread, total x 3 books = {prices}")
    assert lines[1].startswith("first push (whole board), gc paused: ")
    assert "planted" not in lines[1]  # nothing is planted before the whole board
    assert [line.split(":")[0] for line in lines[2:]] == [
        "later pushes (6 prices changed), gc running",
        "later pushes (6 prices changed), gc paused",
        "TheRundown events page, gc running",
        "TheRundown events page, gc paused",
    ]
    assert all("planted arbitrage found 2/2" in line for line in lines[2:4])


def test_a_board_too_small_for_its_pushes_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--events", "3", "--pushes", "2"])
    assert exit_info.value.code == 2
    assert "--pushes 2 needs --events 4 or more" in capsys.readouterr().err
