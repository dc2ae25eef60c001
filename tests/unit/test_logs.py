"""Log lines: one per event, journald priorities, colour only on a terminal."""

from __future__ import annotations

import io
import logging
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import pytest

from arbwatch.logs import (
    LINE_BREAK,
    MAX_LINE_CHARS,
    MAX_MESSAGE_CHARS,
    RATE_LIMIT_BURST,
    BoundedStreamHandler,
    OneLineFormatter,
    RateLimiter,
    RateLimitingFilter,
    configure_logging,
    is_journal,
    priority,
)


def fail() -> None:
    """Raise the error whose traceback a record carries."""
    raise ValueError("boom")


def record(level: int, message: str, exc: bool = False) -> logging.LogRecord:
    """A record as a logger would make it."""
    info = None
    if exc:
        try:
            fail()
        except ValueError:
            info = sys.exc_info()
    return logging.LogRecord("arbwatch.test", level, __file__, 1, message, None, info)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (logging.DEBUG, 7),
        (logging.INFO, 6),
        (logging.WARNING, 4),
        (logging.ERROR, 3),
        (logging.CRITICAL, 2),
        (logging.INFO + 5, 6),
        (1, 7),
    ],
)
def test_levels_map_to_syslog_priorities(level: int, expected: int) -> None:
    assert priority(level) == expected


def test_journal_lines_carry_their_priority_and_no_time() -> None:
    line = OneLineFormatter(journal=True).format(record(logging.WARNING, "feed down"))
    assert line == "<4>arbwatch.test: feed down"


def test_a_multi_line_message_and_its_traceback_stay_on_one_line() -> None:
    line = OneLineFormatter().format(record(logging.ERROR, "bad config:\nline 2", exc=True))
    assert "\n" not in line
    assert f"bad config:{LINE_BREAK}line 2" in line
    assert "ValueError: boom" in line


def test_plain_lines_have_no_ansi_codes_and_a_terminal_gets_colour() -> None:
    plain = OneLineFormatter().format(record(logging.ERROR, "x"))
    coloured = OneLineFormatter(colour=True).format(record(logging.ERROR, "x"))
    assert "\x1b" not in plain
    assert "ERROR" in plain
    assert "\x1b[31mERROR\x1b[0m" in coloured


def test_journal_stream_is_recognised_by_device_and_inode(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w") as stream:
        status = os.fstat(stream.fileno())
        assert is_journal(stream, {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"})
        assert not is_journal(stream, {"JOURNAL_STREAM": f"{status.st_dev}:1"})
        assert not is_journal(stream, {})
    assert not is_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})


@contextmanager
def configured(path: Path) -> Iterator[TextIO]:
    """`configure_logging` at warning into ``path``; the root logger restored after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        with path.open("w+") as stream:
            configure_logging("warning", stream)
            yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


def test_configure_logging_writes_one_plain_line_per_event(tmp_path: Path) -> None:
    with configured(tmp_path / "log") as stream:
        logging.getLogger("arbwatch.x").info("not shown")
        logging.getLogger("arbwatch.x").warning("shown\nin one line")
        stream.seek(0)
        lines = stream.read().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(f"WARNING arbwatch.x: shown{LINE_BREAK}in one line")


# --- bounded lines -----------------------------------------------------------------------------


@pytest.mark.faults
def test_a_100_kb_message_is_one_line_of_bounded_length() -> None:
    text = OneLineFormatter().format(record(logging.WARNING, "error: " + "x" * 100_000))
    assert len(text) < MAX_MESSAGE_CHARS + 100
    assert text.endswith("... (100007 characters)")


@pytest.mark.faults
def test_a_huge_traceback_is_cut_too() -> None:
    huge = record(logging.ERROR, "failed", exc=True)
    assert huge.exc_info is not None
    huge.exc_info[1].args = ("y" * 100_000,)  # type: ignore[union-attr]
    text = OneLineFormatter().format(huge)
    assert len(text) < MAX_LINE_CHARS + 100
    assert "characters)" in text


# --- rate limiting -------------------------------------------------------------------------------


def test_a_kind_passes_its_burst_then_is_counted_until_the_window_ends() -> None:
    limiter = RateLimiter(burst=3, window=60.0)
    example = record(logging.WARNING, "bad frame")
    passed = [limiter.admit("k", example, now=float(t)) for t in range(10)]
    assert passed == [True] * 3 + [False] * 7
    assert limiter.ended(59.9) == []
    (summary,) = limiter.ended(70.0)
    assert (summary.count, summary.seconds, summary.example) == (7, 70.0, example)
    # A new window, from the next record on.
    assert limiter.admit("k", example, now=71.0)
    assert limiter.ended(200.0) == []  # nothing left out in it: no summary


def test_kinds_are_limited_apart_and_forgotten_when_their_window_ends() -> None:
    limiter = RateLimiter(burst=1, window=10.0)
    a, b = record(logging.WARNING, "a"), record(logging.WARNING, "b")
    assert limiter.admit("a", a, 0.0)
    assert limiter.admit("b", b, 5.0)
    assert not limiter.admit("a", a, 6.0)
    assert [s.example for s in limiter.ended(12.0)] == [a]
    assert not limiter.admit("b", b, 12.0)  # b's window runs to 15
    assert [s.count for s in limiter.ended(15.0)] == [1]
    assert limiter.ended(1e9) == []


@pytest.mark.parametrize(("burst", "window"), [(0, 1.0), (1, 0.0), (1, math.nan)])
def test_a_limit_that_passes_nothing_is_refused(burst: int, window: float) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        RateLimiter(burst, window)


class Clock:
    """A hand-set monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.faults
def test_a_flood_of_one_warning_is_a_few_lines_and_a_count() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter())
    clock = Clock()
    handler.addFilter(RateLimitingFilter(handler, RateLimiter(burst=10, window=60.0), clock))
    logger = logging.getLogger("arbwatch.test.flood")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        for frame in range(934):
            clock.now = 1000.0 + frame * 0.05  # 934 frames in 46.7 s
            logger.warning("malformed frame skipped: %s", f"frame {frame}")
        logger.info("a feed is up")  # not limited, and not yet past the window
        clock.now = 1060.0
        logger.info("later")  # the window is over: its summary comes first
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 13
    assert lines[9].endswith("malformed frame skipped: frame 9")
    assert lines[10].endswith("a feed is up")
    assert lines[11].endswith(
        "WARNING arbwatch.test.flood: malformed frame skipped: frame 933"
        " (suppressed 924 similar in the last 60 s)"
    )
    assert lines[12].endswith("later")


def test_closing_the_handler_writes_what_the_open_windows_left_out() -> None:
    stream = io.StringIO()
    clock = Clock()
    handler = BoundedStreamHandler(stream, RateLimiter(burst=2, window=60.0))
    handler.rate_limit.clock = clock
    handler.setFormatter(OneLineFormatter())
    for frame in range(5):
        clock.now += 1.0
        handler.handle(
            logging.LogRecord(
                "arbwatch.test", logging.WARNING, "", 1, "bad frame %d", (frame,), None
            )
        )
    assert len(stream.getvalue().splitlines()) == 2
    handler.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[2].endswith("bad frame 4 (suppressed 3 similar in the last 4 s)")


def test_configure_logging_limits_and_still_redacts(tmp_path: Path) -> None:
    with configured(tmp_path / "log") as stream:
        (handler,) = logging.getLogger().handlers
        assert isinstance(handler.filters[0], RateLimitingFilter)
        for _ in range(50):
            logging.getLogger("arbwatch.x").warning("GET https://relay/?apiKey=%s", "s3cret")
        stream.seek(0)
        lines = stream.read().splitlines()
    assert len(lines) == RATE_LIMIT_BURST
    assert all(line.endswith("apiKey=***") for line in lines)
