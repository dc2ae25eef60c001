"""A reload reads the config off the event loop, and a hostile file is refused.

The daemon runs in-process against TheRundown's simulator (as in test_daemon.py); alerts go
to a real SMTP server on 127.0.0.1.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from arbwatch.config import load_config
from arbwatch.config.load import MAX_CONFIG_BYTES
from arbwatch.config.model import Config
from arbwatch.daemon import Daemon
from tests.e2e.test_daemon import WAIT, arb, bootstrapped, running, stage
from tests.sinks import until
from tests.unit.test_config_bounds import alias_bomb

pytestmark = [pytest.mark.anyio, pytest.mark.faults]


async def test_the_engine_alerts_while_a_reload_is_still_reading(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        started = threading.Event()
        release = threading.Event()

        def slow_load(path: Path) -> Config:
            """A config that takes until the test says so to read (a hung mount, a huge file)."""
            started.set()
            # Bounded: if the engine never gets to alert, the test fails rather than hangs.
            release.wait(WAIT)
            return load_config(path)

        daemon = Daemon(load_config(s.write_config(min_profit="1%")), load=slow_load)
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            daemon.reload()
            await until(started.is_set, WAIT)
            batches = daemon.stats.batches
            # Read on the event loop, the reload would hold it: no batch, no alert, until
            # `release` timed out. Read in a thread, the engine alerts meanwhile.
            s.price(s.events[0], arb(2.10, 2.10))
            mail = await s.smtp.next_mail(WAIT)
            assert "ARB" in mail["Subject"]
            assert daemon.stats.batches > batches
            assert daemon.stats.config_reloads == 0
            release.set()
            await until(lambda: daemon.stats.config_reloads == 1, WAIT)


async def test_a_reload_that_reads_too_long_is_given_up_and_the_old_config_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with stage(tmp_path) as s:
        release = threading.Event()

        def hung_load(path: Path) -> Config:
            """A read that never ends until the test ends (a hung network mount)."""
            release.wait(WAIT)
            return load_config(path)

        daemon = Daemon(load_config(s.write_config(min_profit="1%")), load=hung_load)
        daemon.reload_timeout = 0.2
        try:
            async with running(daemon):
                await bootstrapped(daemon, len(s.events))
                daemon.reload()
                await until(lambda: daemon.stats.config_reload_failures == 1, WAIT)
                assert any(
                    f"{s.path}: reading it took over 0.2 s" in record.getMessage()
                    for record in caplog.records
                )
                # The old config still alerts, and a later reload is not stuck behind it.
                s.price(s.events[0], arb(2.10, 2.10))
                assert "ARB" in (await s.smtp.next_mail(WAIT))["Subject"]
                daemon.reload()
                await until(lambda: daemon.stats.config_reload_failures == 2, WAIT)
        finally:
            release.set()


@pytest.mark.parametrize("hostile", ["alias bomb", "oversized"])
async def test_a_hostile_config_on_reload_is_refused_and_the_old_one_runs(
    tmp_path: Path, hostile: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with stage(tmp_path) as s:
        path = s.write_config(min_profit="1%")
        good = path.read_text(encoding="utf-8")
        daemon = Daemon(load_config(path))
        async with running(daemon):
            await bootstrapped(daemon, len(s.events))
            if hostile == "alias bomb":
                # 9 ** 9 = 387 million values from 400 bytes, ahead of the good config.
                path.write_text(alias_bomb(9, 9, good), encoding="utf-8")
                expected = f"{path}:2: not valid YAML: more than 100,000 values"
            else:
                path.write_text(good + "#" * MAX_CONFIG_BYTES + "\n", encoding="utf-8")
                expected = f"{path}: the file is over 1024 KB"
            daemon.reload()
            await until(lambda: daemon.stats.config_reload_failures == 1, WAIT)
            assert any(expected in record.getMessage() for record in caplog.records)
            # The old config still alerts.
            s.price(s.events[0], arb(2.10, 2.10))
            mail = await s.smtp.next_mail(WAIT)
            assert "ARB" in mail["Subject"]
            assert daemon.stats.config_reloads == 0
