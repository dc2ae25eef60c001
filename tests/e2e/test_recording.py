"""``arbwatch run --record DIR`` as a process, then its recording replayed: the same alerts.

The daemon runs as systemd starts it, against TheRundown's simulator with a frozen world,
alerting to a real SMTP server and a ``json://`` receiver on 127.0.0.1. Two arbitrages are
published; once both have arrived the daemon is stopped with SIGTERM, and the directory it
recorded to is replayed with the config's thresholds. Every alert the run sent is found
again by the replay, and the replay finds no arbitrage the run did not alert.

A disk that fills (a real tmpfs the test mounts, skipped where mounting is not allowed)
pauses the recording with one warning while alerts go on, and it resumes with room. (A
recording that starts mid-stream, as this one does, lacks the events pages its prices
need: a replay of it alone finds nothing; see the README.)

After the merge of the ``engine`` branch, ``arbwatch backtest -c CONFIG DIR`` is the
command to run here: it prints the alerts' own texts, so the check becomes equality.
"""

from __future__ import annotations

import io
import logging
import signal
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

import anyio
import pytest

from arbwatch.backtest import backtest
from arbwatch.cli import main
from arbwatch.config import load_config
from arbwatch.daemon import Daemon
from arbwatch.feeds.recording import read_recording
from arbwatch.feeds.rotation import RotatingWriter, feed_files
from tests.e2e.test_daemon import WAIT, arb, bootstrapped, running, stage
from tests.e2e.test_service import collect, logged
from tests.mounts import fill, small_tmpfs
from tests.sinks import until

pytestmark = pytest.mark.anyio


def replayed_titles(directory: Path) -> list[str]:
    """``arbwatch replay DIR`` with the config's thresholds: each find as an alert's title."""
    out = io.StringIO()
    with redirect_stdout(out):
        status = main(
            [
                "replay",
                str(directory),
                "--sharp",
                "Pinnacle",
                "--min-profit",
                "1%",
                "--min-ev",
                "3%",
            ]
        )
    assert status == 0
    *finds, summary = out.getvalue().splitlines()
    assert summary.startswith("replayed ")
    # "DATE TIME  ARB +5.00%  NBA  Away @ Home  Moneyline  legs": the title's four parts.
    return [" · ".join(line.split("  ")[1:5]) for line in finds]


async def test_a_recorded_run_replays_to_the_alerts_it_sent(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    async with stage(tmp_path) as s:
        path = s.write_config()
        lines: list[str] = []
        command = [
            sys.executable, "-m", "arbwatch", "run", "-c", str(path), "--record", str(recordings),
        ]  # fmt: skip
        async with (
            await anyio.open_process(command, stdin=subprocess.DEVNULL) as process,
            anyio.create_task_group() as group,
        ):
            group.start_soon(collect, process, lines)
            try:
                await until(lambda: s.rundown.connection_count == 1, WAIT)
                # Bootstrapped: the daemon logs the feed up once its snapshot is in.
                await until(lambda: bool(feed_files(recordings, "rundown")), WAIT)
                first, second = s.events[:2]
                s.price(first, arb(2.10, 2.10))
                mails = [await s.smtp.next_mail(WAIT)]
                # Bovada first: FanDuel's 2.20 against Pinnacle's 1.91 before Bovada's 2.10
                # came would be an arbitrage of its own, one frame long. The replay decides
                # frame by frame, the daemon on what it drained at once: it may not see it.
                s.price(second, {"Pinnacle": (1.91, 1.91), "Bovada": (1.80, 2.10)})
                s.price(second, {"FanDuel": (2.20, 1.80)})
                mails.append(await s.smtp.next_mail(WAIT))
                # Each arbitrage also made an EV alert (Bovada's away price against Pinnacle's).
                posts = [await s.hook.next_post(WAIT) for _ in range(4)]
                process.send_signal(signal.SIGTERM)
                with anyio.fail_after(WAIT):
                    status = await process.wait()
            finally:
                # A failed step must not leave the test waiting on a daemon that runs on.
                if process.returncode is None:
                    process.kill()
            group.cancel_scope.cancel()
        assert status == 0, "\n".join(lines)
        assert s.smtp.nothing_more()
        assert s.hook.nothing_more()
    assert not logged(lines, "recording of feed")  # neither paused nor resumed

    (recording,) = feed_files(recordings, "rundown")
    assert recording.name.endswith(".jsonl.gz")
    titles = replayed_titles(recordings)
    sent = {post["title"] for post in posts} | {mail["Subject"] for mail in mails}
    assert sent <= set(titles), titles
    assert {t for t in titles if t.startswith("ARB")} == {m["Subject"] for m in mails}
    assert len({m["Subject"] for m in mails}) == 2
    # The backtest runs the directory under the same config (rules, lifecycle, texts) on the
    # recorded clock: every alert the run sent is one it would have sent.
    backtested = backtest(load_config(path), [recordings], io.StringIO())
    assert sent <= {message.title for message in backtested.messages}


@pytest.mark.faults
async def test_a_full_disk_pauses_recording_never_the_alerts_and_it_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with stage(tmp_path) as s:
        with (
            small_tmpfs(tmp_path / "disk", "1m") as disk,
            caplog.at_level(logging.INFO, logger="arbwatch.feeds.rotation"),
        ):
            filler = fill(disk)
            daemon = Daemon(load_config(s.write_config()), record_dir=disk / "recordings")
            (recorder,) = daemon.recorders
            writer = recorder.sink
            assert isinstance(writer, RotatingWriter)
            writer.retry_interval = 0.2  # 30 s in service; the test has not that long
            async with running(daemon):
                await bootstrapped(daemon, len(s.events))
                await until(lambda: writer.stats.paused, WAIT)
                first, second = s.events[:2]
                s.price(first, arb(2.10, 2.10))
                await s.smtp.next_mail(WAIT)

                resumed_at = time.time()
                filler.unlink()
                await until(lambda: not writer.stats.paused, WAIT)
                s.price(second, arb(2.10, 2.10))
                await s.smtp.next_mail(WAIT)
                await until(lambda: writer.stats.lines > 0, WAIT)
            # Recorded once there was room: the second arbitrage's prices.
            frames = list(read_recording(disk / "recordings"))
        paused = [r for r in caplog.records if "paused" in r.getMessage()]
        assert len(paused) == 1
        assert "No space left on device" in paused[0].getMessage()
        assert "resumed" in caplog.text
        assert writer.stats.lost > 0
        assert any(second.event_id in frame.frame for frame in frames)
        assert all(frame.received_at >= resumed_at for frame in frames)
