"""Real filesystems that fill up or turn read-only, for the state-database fault tests.

A small tmpfs mounted by the test itself: filling it with a file makes SQLite's writes fail
with "database or disk is full" exactly as a full disk does, and remounting it read-only
stops every write, root's included (``chmod`` does not stop root). Mounting needs
CAP_SYS_ADMIN; where the machine does not allow it the test is skipped, saying why.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

#: Seconds a mount or unmount may take.
_TIMEOUT = 10.0


def _mount(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run ``mount`` with ``arguments``, never raising."""
    return subprocess.run(
        ["mount", *arguments], capture_output=True, text=True, timeout=_TIMEOUT, check=False
    )


@contextmanager
def small_tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (created) until the block ends; else skip."""
    where.mkdir(parents=True, exist_ok=True)
    try:
        result = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    except FileNotFoundError:
        pytest.skip("no mount command on this machine: a real full disk cannot be made")
    if result.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here ({result.stderr.strip()})")
    try:
        yield where
    finally:
        with suppress(subprocess.SubprocessError):
            subprocess.run(["umount", "-l", str(where)], timeout=_TIMEOUT, check=False)


def remount(where: Path, *, read_only: bool) -> None:
    """Turn the tmpfs at ``where`` read-only, or writable again."""
    mode = "ro" if read_only else "rw"
    result = _mount("-o", f"remount,{mode}", str(where))
    assert result.returncode == 0, result.stderr


def fill(where: Path) -> Path:
    """Fill the filesystem at ``where`` to the last byte with one file; return it."""
    filler = where / "filler"
    with filler.open("wb", buffering=0) as file:
        # Big writes first, then smaller ones for what is left; the write that does not
        # fit raises ENOSPC long before each bound.
        for size in (65536, 512, 1):
            with suppress(OSError):
                for _ in range(2048):
                    file.write(b"\0" * size)
    assert os.statvfs(where).f_bavail == 0, "the filesystem is not full"
    return filler
