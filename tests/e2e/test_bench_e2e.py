"""``arbwatch bench --e2e`` run as a user runs it, on a tiny board: the table is whole and
every planted arbitrage reached the receiver.

The bench starts the simulators, a ``json://`` receiver and the daemon (a process of its
own), all on 127.0.0.1. Only the table's structure and the matching are checked: its
figures are measurements and depend on the machine, so none is compared with a target.
"""

from __future__ import annotations

import re

import anyio
import pytest

from tests.e2e.test_commands import arbwatch

pytestmark = pytest.mark.anyio

#: The whole run takes about 20 s on a quiet machine.
BENCH_TIMEOUT = 240.0
_ROW = re.compile(
    r"^\s*(\S+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+(\d+) %\s+[\d,]+ µs\s+([\d.,]+)\s+(\d+)/(\d+)\s"
)
_PUSH = re.compile(
    r"^big push (\d): ([\d.]+) MB, decoded and applied in ([\d,]+) ms \(([\d,]+) ms CPU\), "
    r".* alert "
)


async def test_bench_e2e_prints_a_whole_table_with_every_planted_arbitrage_matched() -> None:
    with anyio.fail_after(BENCH_TIMEOUT):
        status, out, err = await arbwatch(
            "bench", "--e2e", "--events", "12", "--books", "3", "--rates", "400,max",
            "--seconds", "2", "--plant-every", "0.5", "--bare-seconds", "0.5",
            "--duration", "2", "--pushes", "2", "--push-interval", "0.5",
        )  # fmt: skip
    assert status == 0, err
    report = out[out.rindex("\nboard: ") + 1 :].splitlines()
    assert report[0].startswith("board: 12 games x moneyline, spread, total x 3 books = 216")
    assert re.match(r"bare httpx-ws client: [\d,]+ frames/s", report[1])
    assert re.match(r"TheRundown start-up: events pages [\d.]+ MB in 3; WebSocket open", report[2])
    assert report[3].split() == [
        "rate/s", "offered/s", "taken/s", "dropped", "CPU", "CPU/frame", "frames/eval", "planted",
        "p50", "ms", "p99", "ms", "max", "ms", "peak", "RSS", "load",
    ]  # fmt: skip
    rows = [_ROW.match(line) for line in report[4:6]]
    assert [row[1] for row in rows if row] == ["400", "max"]
    for row in rows:
        assert row is not None
        taken, matched, planted = int(row[3].replace(",", "")), int(row[7]), int(row[8])
        assert taken > 0
        assert float(row[6].replace(",", "")) >= 1.0  # an evaluation takes one frame or more
        assert planted >= 3
        assert matched == planted, f"planted arbitrages without an alert: {row[0]}"
    assert re.match(r"daemon / bare client at full speed: [\d.]+$", report[6])
    assert re.match(
        r"memory at full speed, 2 s: RSS \d+ MB at start, .* growth after warm-up [+-][\d.]+ %$",
        report[7],
    )
    assert report[8].startswith("RapidOddsAPI start-up: WebSocket open ")
    pushes = [_PUSH.match(line) for line in report[9:]]
    assert [push[1] for push in pushes if push] == ["1", "2"]


async def test_bench_e2e_refuses_a_rate_it_cannot_offer() -> None:
    with anyio.fail_after(BENCH_TIMEOUT):
        status, _, err = await arbwatch("bench", "--e2e", "--rates", "1000,fast")
    assert status != 0
    assert "--rates: expected frames a second or max, got 'fast'" in err
    assert "Traceback" not in err
