"""Log lines: one per event, journald priorities, colour only on a terminal."""

from __future__ import annotations

import io
import logging
import os
import sys
from pathlib import Path

import pytest

from arbwatch.logs import LINE_BREAK, OneLineFormatter, configure_logging, is_journal, priority


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


def test_configure_logging_writes_one_plain_line_per_event(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        with (tmp_path / "log").open("w+") as stream:
            configure_logging("warning", stream)
            logging.getLogger("arbwatch.x").info("not shown")
            logging.getLogger("arbwatch.x").warning("shown\nin one line")
            stream.seek(0)
            lines = stream.read().splitlines()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    assert len(lines) == 1
    assert lines[0].endswith(f"WARNING arbwatch.x: shown{LINE_BREAK}in one line")
