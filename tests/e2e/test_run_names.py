"""``arbwatch run`` holds names to the same checks as ``check-config``.

A near miss stops the start (exit 78, as any config mistake), and a name no provider
documents is said in the log at start rather than never. The daemon is a child process
against the TheRundown simulator, stopped with SIGTERM.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from arbwatch.commands import EXIT_CONFIG
from tests.e2e.test_daemon import WAIT, stage
from tests.sinks import until

pytestmark = pytest.mark.anyio


async def test_a_misspelled_sharp_book_stops_the_start_with_what_was_meant(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        path = s.write_config()
        text = path.read_text(encoding="utf-8").replace("sharp: [Pinnacle]", "sharp: [Pinacle]")
        path.write_text(text, encoding="utf-8")
        result = await anyio.run_process(
            [sys.executable, "-m", "arbwatch", "run", "-c", str(path)], check=False
        )
    assert result.returncode == EXIT_CONFIG
    line = text.splitlines().index("    sharp: [Pinacle]") + 1
    assert (
        f"{path}:{line}: rules[1].sharp[0]: 'Pinacle' is not one of TheRundown's books, "
        "did you mean 'Pinnacle'?"
    ) in result.stderr.decode()


async def test_a_book_no_provider_documents_is_logged_at_start(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        path = s.write_config()
        text = path.read_text(encoding="utf-8").replace(
            "books: [Bovada]", "books: [bovada, Smarkets]"
        )
        path.write_text(text, encoding="utf-8")
        log = tmp_path / "stderr.log"
        command = [sys.executable, "-m", "arbwatch", "run", "-c", str(path)]
        # The log goes to a file, read as it grows: nothing to drain while the daemon runs.
        with log.open("w", encoding="utf-8") as stderr:
            process = await anyio.open_process(command, stdin=subprocess.DEVNULL, stderr=stderr)
        async with process:
            await until(lambda: "is not one of" in log.read_text(encoding="utf-8"), WAIT)
            await until(lambda: s.rundown.connection_count == 1, WAIT)
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(WAIT):
                status = await process.wait()
    lines = log.read_text(encoding="utf-8").splitlines()
    assert status == 0, "\n".join(lines)
    line = text.splitlines().index("    books: [bovada, Smarkets]") + 1
    (warning,) = [line for line in lines if "Smarkets" in line]
    assert "WARNING" in warning
    assert f"{path}:{line}: rules[1].books[1]: 'Smarkets' is not one of" in warning
    # The lower-case name is no warning: it is TheRundown's Bovada.
    assert not any("'bovada'" in line for line in lines)
