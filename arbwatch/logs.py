"""Log lines: one line per event, colour only on a terminal, journald priorities under systemd.

Three ways stderr can be read, three formats:

- a terminal: ``12:04:05 INFO  arbwatch.daemon: ...``, the level coloured;
- journald (systemd sets ``JOURNAL_STREAM`` to stderr's device and inode): each line starts
  with its syslog priority, ``<4>``, which journald strips and keeps, so that
  ``journalctl -p warning -u arbwatch`` shows just what needs attention; no timestamp,
  journald adds its own;
- anything else (a file, a pipe): a plain timestamped line with no ANSI codes.

A message that spans lines (a config error listing several problems, a traceback) keeps
one line per event: its line breaks are written as `` ⏎ ``.

Every line is redacted on its way out (`arbwatch.feeds.base.redact`): whichever library
logs a URL with a password or a key in it, the line shows ``***``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Final, TextIO

from arbwatch.feeds.base import RedactingFilter

#: syslog priorities (sd-daemon(3)) by logging level.
PRIORITIES: Final = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}

_COLOURS: Final = {
    logging.CRITICAL: "\x1b[1;31m",
    logging.ERROR: "\x1b[31m",
    logging.WARNING: "\x1b[33m",
    logging.INFO: "\x1b[32m",
    logging.DEBUG: "\x1b[2m",
}
_RESET: Final = "\x1b[0m"
#: What a line break inside one message becomes.
LINE_BREAK: Final = " ⏎ "


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (levels between take the one below)."""
    for level in sorted(PRIORITIES, reverse=True):
        if levelno >= level:
            return PRIORITIES[level]
    return PRIORITIES[logging.DEBUG]


class OneLineFormatter(logging.Formatter):
    """Formats a record, traceback included, as one line in one of the three styles."""

    def __init__(self, *, journal: bool = False, colour: bool = False) -> None:
        """``journal``: priority prefix and no time; ``colour``: ANSI-coloured level."""
        fmt = (
            "%(name)s: %(message)s"
            if journal
            else "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
        )
        super().__init__(fmt, datefmt="%Y-%m-%d %H:%M:%S")
        self.journal = journal
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        """One line; line breaks become `LINE_BREAK`."""
        text = super().format(record).replace("\r\n", "\n").replace("\n", LINE_BREAK)
        if self.journal:
            return f"<{priority(record.levelno)}>{text}"
        if self.colour:
            colour = _COLOURS.get(record.levelno, "")
            return text.replace(record.levelname, f"{colour}{record.levelname}{_RESET}", 1)
        return text


def is_journal(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """Whether ``stream`` is connected to journald (``JOURNAL_STREAM`` names its inode)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return bool(inode) and (str(status.st_dev), str(status.st_ino)) == (device, inode)


def configure_logging(level: str = "info", stream: TextIO | None = None) -> None:
    """Send arbwatch's and its libraries' logs to ``stream`` (stderr), one line each."""
    target = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(target)
    journal = is_journal(target)
    handler.setFormatter(OneLineFormatter(journal=journal, colour=not journal and target.isatty()))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request at INFO (a reconnecting feed would fill the log); apprise
    # logs each send at INFO, which arbwatch's notifier already does, and whole URLs with
    # their tokens at DEBUG.
    for noisy in ("httpx", "apprise"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
