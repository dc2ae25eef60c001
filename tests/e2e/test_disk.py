"""The disk under the daemon: full, read-only, corrupt. Alerts go out whatever it does.

The daemon runs against TheRundown's simulator, an SMTP server and a ``json://`` receiver on
127.0.0.1. A full or read-only state directory is a real tmpfs the test mounts (skipped,
saying why, where the machine does not allow it); a corrupt file is written by the test
and the daemon started as a process, as systemd would.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import anyio
import pytest

from arbwatch.config import load_config
from arbwatch.daemon import Daemon
from arbwatch.status_view import status_lines
from arbwatch.store import STATE_FILE
from tests.e2e.test_daemon import WAIT, Stage, arb, bootstrapped, running, stage
from tests.e2e.test_service import collect, logged
from tests.mounts import fill, remount, small_tmpfs
from tests.sinks import JsonReceiver, until

pytestmark = [pytest.mark.anyio, pytest.mark.faults]

NOT_WRITABLE = "arbwatch: state database not writable"
WRITTEN_AGAIN = "arbwatch: state database written again"


def disk_config(s: Stage, state: Path) -> Path:
    """The stage's config with its state in ``state`` and health alerts to the webhook."""
    path = s.write_config()
    text = path.read_text().replace(f"state_dir: {s.path.parent / 'state'}", f"state_dir: {state}")
    path.write_text(text + "health:\n  notify: [hook]\n  recovery: 0.5s\n")
    return path


async def post_titled(hook: JsonReceiver, title: str) -> None:
    """Wait (bounded) for a webhook post with ``title``, passing over the alerts before it."""
    for _ in range(50):
        if (await hook.next_post(WAIT))["title"] == title:
            return
    raise AssertionError(f"no post {title!r} among 50")


def alerts_recorded(state: Path) -> int:
    """Alerts in the state database, read as ``arbwatch history`` reads it."""
    uri = f"{(state / STATE_FILE).as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        return int(db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])


async def test_a_full_disk_never_stops_alerts_and_writing_resumes_with_space(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        with small_tmpfs(tmp_path / "disk", "1m") as disk:
            daemon = Daemon(load_config(disk_config(s, disk / "state")))
            async with running(daemon):
                await bootstrapped(daemon, len(s.events))
                filler = fill(disk)
                first, second, third = s.events[:3]
                s.price(first, arb(2.10, 2.10))
                await s.smtp.next_mail(WAIT)
                s.price(second, arb(2.10, 2.10))
                await s.smtp.next_mail(WAIT)
                await until(lambda: daemon.store_guard.failures > 0, WAIT)
                await post_titled(s.hook, NOT_WRITABLE)
                view = "\n".join(status_lines(daemon.health()))
                assert "state-database writes failed, failing now" in view
                assert "database or disk is full" in view
                assert NOT_WRITABLE in view
                recorded = alerts_recorded(disk / "state")

                filler.unlink()
                s.price(third, arb(2.10, 2.10))
                await s.smtp.next_mail(WAIT)
                await post_titled(s.hook, WRITTEN_AGAIN)
                assert daemon.store_guard.failing_since is None
                assert alerts_recorded(disk / "state") > recorded
            assert daemon.stats.alerts >= 3


async def test_a_read_only_state_directory_at_start_alerts_and_opens_when_writable(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        with small_tmpfs(tmp_path / "disk") as disk:
            remount(disk, read_only=True)
            daemon = Daemon(load_config(disk_config(s, disk / "state")))
            daemon.store_guard.retry_interval = 0.2
            async with running(daemon):
                await bootstrapped(daemon, len(s.events))
                s.price(s.events[0], arb(2.10, 2.10))
                await s.smtp.next_mail(WAIT)
                await post_titled(s.hook, NOT_WRITABLE)
                assert daemon.store_guard.store is None

                remount(disk, read_only=False)
                await until(lambda: daemon.store_guard.store is not None, WAIT)
                s.price(s.events[1], arb(2.10, 2.10))
                await s.smtp.next_mail(WAIT)
                await post_titled(s.hook, WRITTEN_AGAIN)
                await until(lambda: alerts_recorded(disk / "state") >= 1, WAIT)


def garbage(path: Path) -> None:
    """A file that is no database at all."""
    path.write_bytes(b"not SQLite at all " * 2000)


def zeroed_pages(path: Path) -> None:
    """A real database whose pages 4 to 8 were zeroed (as a torn write or bad disk leaves)."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE filler (x TEXT)")
        db.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,) for _ in range(200)])
        db.commit()
    data = bytearray(path.read_bytes())
    data[3 * 4096 : 8 * 4096] = bytes(5 * 4096)
    path.write_bytes(data)


@pytest.mark.parametrize("damage", [garbage, zeroed_pages])
async def test_a_corrupt_database_at_start_is_moved_aside_in_one_line(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    async with stage(tmp_path) as s:
        path = s.write_config()
        state = tmp_path / "state"
        state.mkdir()
        damage(state / STATE_FILE)
        broken = (state / STATE_FILE).read_bytes()
        lines: list[str] = []
        command = [sys.executable, "-m", "arbwatch", "run", "-c", str(path)]
        async with (
            await anyio.open_process(command, stdin=subprocess.DEVNULL) as process,
            anyio.create_task_group() as group,
        ):
            group.start_soon(collect, process, lines)
            try:
                await until(lambda: s.rundown.connection_count == 1, WAIT)
                s.price(s.events[0], arb(2.10, 2.10))
                await s.smtp.next_mail(WAIT)
            finally:
                process.send_signal(signal.SIGTERM)
            with anyio.fail_after(WAIT):
                status = await process.wait()
    assert status == 0, "\n".join(lines)
    (moved,) = [p for p in state.iterdir() if p.name.startswith(f"{STATE_FILE}.broken-")]
    assert moved.read_bytes() == broken
    errors = [line for line in lines if " ERROR " in line]
    assert len(errors) == 1, errors
    assert f"moved to {moved}; started a fresh one" in errors[0]
    assert not logged(lines, "Traceback")
    assert alerts_recorded(state) >= 1
