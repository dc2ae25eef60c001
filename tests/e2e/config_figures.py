"""Figures, not a test: hostile config files at ``check-config`` and at reload.

1. ``arbwatch check-config`` run as a process on a config of about 1.7 KB that starts with
   nine levels of nine aliases (9 ** 9 values once expanded): its time and peak memory.
2. The daemon in-process against TheRundown's simulator on 127.0.0.1, reloading a 20 MB
   file, a file at the 1 MB cap (the largest accepted) and the alias bomb, while a ticker
   measures how long the event loop was kept from running (its longest gap) and the
   engine's batches are counted. Takes about half a minute::

    python -m tests.e2e.config_figures
"""

from __future__ import annotations

import itertools
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from arbwatch.config import load_config
from arbwatch.config.load import MAX_CONFIG_BYTES
from arbwatch.daemon import Daemon
from tests.e2e.test_daemon import BOOKS, Stage, bootstrapped, running, stage
from tests.unit.test_config_bounds import alias_bomb

#: Seconds between the ticker's wake-ups.
TICK = 0.01
#: Two prices a book moves between while a reload reads (-115 and -120: no arbitrage).
QUIET = (1.87, 1.8333333333333333)
#: Seconds a check-config run may take before it is called unfinished.
CHECK_TIMEOUT = 120


def padded(config: str, size: int) -> str:
    """``config`` padded with comment lines to ``size`` bytes."""
    line = "#" + "x" * 78 + "\n"
    text = config + line * ((size - len(config)) // len(line))
    return text + "#" * (size - len(text) - 1) + "\n"


def aliased(config: str, size: int) -> str:
    """``config`` with team aliases added up to about ``size`` bytes: the most values a
    config within the size cap can hold, so the slowest one accepted to read."""
    entries: list[str] = []
    total = len(config) + len("aliases:\n")
    while total < size - 40:
        entry = f'  "Team {len(entries):06d}": "Team {len(entries):06d} FC"\n'
        entries.append(entry)
        total += len(entry)
    return config + "aliases:\n" + "".join(entries)


def check_config_figures(path: Path) -> None:
    """Time and peak memory of ``arbwatch check-config`` on ``path``."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "arbwatch", "check-config", "-c", str(path)],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"check-config: unfinished after {CHECK_TIMEOUT} s")
        return
    took = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    said = (done.stdout + done.stderr).strip().splitlines()
    print(f"check-config on {path.stat().st_size:,} bytes: exit {done.returncode} in {took:.2f} s")
    print(f"  peak resident {peak:.0f} MB; says: {said[0] if said else ''}")


async def reload_figures(s: Stage, daemon: Daemon, text: str, what: str) -> None:
    """Reload ``text`` and print the longest event-loop gap and the batches meanwhile.

    A price moves every tick meanwhile (between two prices far from any arbitrage), so
    the engine has batches to take in while the reload reads.
    """
    s.path.write_text(text, encoding="utf-8")
    longest = 0.0
    batches = daemon.stats.batches
    done = anyio.Event()

    async def tick() -> None:
        nonlocal longest
        last = time.monotonic()
        for ticks in itertools.count():
            if done.is_set():
                return
            price = QUIET[ticks % 2]
            s.price(s.events[1], dict.fromkeys(BOOKS, (price, price)))
            await anyio.sleep(TICK)
            now = time.monotonic()
            longest = max(longest, now - last - TICK)
            last = now

    async with anyio.create_task_group() as group:
        group.start_soon(tick)
        started = time.monotonic()
        reloaded = await daemon.apply_reload(what)
        took = time.monotonic() - started
        done.set()
    print(
        f"reload of {what} ({len(text.encode()):,} bytes): "
        f"{'applied' if reloaded else 'refused'} in {took:.2f} s; "
        f"longest event-loop gap {longest * 1000:.0f} ms; "
        f"engine batches meanwhile {daemon.stats.batches - batches}"
    )


async def main() -> None:
    """Print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        async with stage(Path(tmp)) as s:
            good = s.write_config().read_text(encoding="utf-8")
            bomb = Path(tmp) / "bomb.yaml"
            bomb.write_text(alias_bomb(9, 9, good), encoding="utf-8")
            check_config_figures(bomb)
            daemon = Daemon(load_config(s.path))
            async with running(daemon):
                await bootstrapped(daemon, len(s.events))
                await reload_figures(s, daemon, padded(good, 20 * 1024 * 1024), "20 MB")
                await reload_figures(s, daemon, padded(good, MAX_CONFIG_BYTES), "1 MB of comments")
                await reload_figures(s, daemon, aliased(good, MAX_CONFIG_BYTES), "1 MB of aliases")
                await reload_figures(s, daemon, alias_bomb(9, 9, good), "the alias bomb")
                daemon.stop()


if __name__ == "__main__":
    anyio.run(main)
