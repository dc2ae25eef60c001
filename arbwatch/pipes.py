"""Standard output as a pipe whose reader may go away: ``arbwatch demo | head -3``.

Unix tools end quietly when what reads their output is gone. Python raises
`BrokenPipeError` at the next write instead, and again when it flushes at exit; a command
that writes only now and then (the demo) would not even notice for minutes. Here: how to
notice (`reader_gone`, `stop_when_reader_gone`) and how to end without a second error
(`silence_stdout`).
"""

from __future__ import annotations

import io
import os
import select
import sys
from collections.abc import Callable
from typing import Final, TextIO

import anyio

#: Exit status after the reader of standard output went away: 128 + SIGPIPE, what a shell
#: shows for a Unix tool that SIGPIPE ended (``yes | head -1``).
EXIT_BROKEN_PIPE: Final = 141
#: Seconds between looks at standard output: an alert or two may go nowhere meanwhile.
CHECK_INTERVAL: Final = 0.25


def reader_gone(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (standard output) is a pipe that no one reads any more.

    The write end of a pipe polls as POLLERR once its read end is closed; a terminal, a
    file or a stream without a descriptor (a test's capture) never does.
    """
    try:
        descriptor = (stream or sys.stdout).fileno()
    except (io.UnsupportedOperation, ValueError, AttributeError):
        return False
    poller = select.poll()
    poller.register(descriptor, select.POLLERR)
    return any(events & select.POLLERR for _, events in poller.poll(0))


async def stop_when_reader_gone(stop: Callable[[], None]) -> None:
    """Call ``stop`` once standard output's reader is gone (a companion task of the demo)."""
    while not reader_gone():
        await anyio.sleep(CHECK_INTERVAL)
    stop()


def silence_stdout() -> None:
    """Send what is still to be written to standard output nowhere, so exit is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (io.UnsupportedOperation, ValueError, OSError):
        pass  # no descriptor to replace (a test's capture): nothing will be flushed to it
    finally:
        os.close(devnull)
