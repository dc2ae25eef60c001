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

Every line is bounded. A message is cut at `MAX_MESSAGE_CHARS` and a whole line (traceback
included) at `MAX_LINE_CHARS`, saying how long it was: a provider's 100 KB error text is
one readable line. And repeated warnings are rate-limited (`RateLimiter`): of one kind
(logger, level and message template) at most `RATE_LIMIT_BURST` lines per
`RATE_LIMIT_WINDOW` seconds pass, and one line then says how many were left out::

    ... feed rundown: malformed frame skipped (...): {"meta": ... (suppressed 924 similar
    in the last 60 s)

A flood of bad frames from a provider is then a few lines a minute, not a disk filled.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final, TextIO

from arbwatch.feeds.base import RedactingFilter, truncate

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
#: A message longer than this is cut (a provider's text in it is bounded where it is logged
#: too; this holds for every library's lines as well).
MAX_MESSAGE_CHARS: Final = 2000
#: A whole line, traceback included, longer than this is cut.
MAX_LINE_CHARS: Final = 16000
#: Lines of one kind that pass per window; then they are counted, not written.
RATE_LIMIT_BURST: Final = 10
#: Seconds of a rate-limit window.
RATE_LIMIT_WINDOW: Final = 60.0
#: Records below this level are never rate-limited: INFO lines tell what happened once
#: (an alert sent, a feed up); it is the warnings and errors that repeat in a flood.
RATE_LIMITED_LEVEL: Final = logging.WARNING


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

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        """The message part, cut at `MAX_MESSAGE_CHARS`."""
        record.message = truncate(record.message, MAX_MESSAGE_CHARS)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        """One line; line breaks become `LINE_BREAK`; cut at `MAX_LINE_CHARS`."""
        text = super().format(record).replace("\r\n", "\n").replace("\n", LINE_BREAK)
        text = truncate(text, MAX_LINE_CHARS)
        if self.journal:
            return f"<{priority(record.levelno)}>{text}"
        if self.colour:
            colour = _COLOURS.get(record.levelno, "")
            return text.replace(record.levelname, f"{colour}{record.levelname}{_RESET}", 1)
        return text


@dataclass(slots=True)
class _Window:
    """One kind of record's current window: when it began, what passed, what did not."""

    started: float
    passed: int = 0
    suppressed: int = 0
    #: The last record left out, to show in the summary line as an example.
    example: logging.LogRecord | None = None


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A window that ended having left records out: how many, over how long, one example."""

    count: int
    seconds: float
    example: logging.LogRecord


class RateLimiter:
    """Which records of each kind pass: at most ``burst`` per ``window`` seconds.

    Pure, with the time passed in. A kind's window opens with its first record and lasts
    ``window`` seconds; the first ``burst`` records in it pass, the rest are counted. Once
    a window is over, `ended` hands over its count (if any) for one summary line, and the
    kind starts afresh with its next record.
    """

    def __init__(self, burst: int = RATE_LIMIT_BURST, window: float = RATE_LIMIT_WINDOW) -> None:
        """Let ``burst`` records of a kind through per ``window`` seconds."""
        if burst < 1 or not window > 0.0:
            raise ValueError(f"a rate limit needs burst >= 1 and window > 0, got {burst}, {window}")
        self.burst = burst
        self.window = window
        self._windows: dict[Hashable, _Window] = {}

    def admit(self, kind: Hashable, record: logging.LogRecord, now: float) -> bool:
        """Whether ``record`` (of ``kind``, at ``now``) is written; if not, it is counted.

        Call `ended` first: a window past its end is not reopened here.
        """
        current = self._windows.get(kind)
        if current is None:
            current = self._windows[kind] = _Window(started=now)
        if current.passed < self.burst:
            current.passed += 1
            return True
        current.suppressed += 1
        current.example = record
        return False

    def ended(self, now: float, *, every: bool = False) -> list[Suppressed]:
        """Close the windows over by ``now``; the counts of those that left records out.

        Closed windows are forgotten, so the limiter holds only the kinds seen in the last
        ``window`` seconds, however many kinds a run logs. ``every`` closes the open ones
        too: at exit, so that the last window's count is not lost.
        """
        over = [
            kind for kind, w in self._windows.items() if every or now - w.started >= self.window
        ]
        summaries = []
        for kind in over:
            window = self._windows.pop(kind)
            if window.example is not None:
                summaries.append(
                    Suppressed(window.suppressed, now - window.started, window.example)
                )
        return summaries


class RateLimitingFilter(logging.Filter):
    """A handler's filter that applies a `RateLimiter` and writes its summary lines.

    A record's kind is its logger, level and message template (``record.msg`` before its
    arguments), so "malformed frame skipped (%s): %s" is one kind whatever the frames. A
    summary is written through ``handler`` when the next record of any kind comes after
    its window ended: "<the last one left out> (suppressed 924 similar in the last 60 s)".
    """

    def __init__(
        self,
        handler: logging.Handler,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Limit what reaches ``handler``; ``clock`` in seconds (monotonic)."""
        super().__init__()
        self.handler = handler
        self.limiter = limiter or RateLimiter()
        self.clock = clock
        # Windows are checked at most once a second: a flood passes here a million times.
        self._next_check = -float("inf")

    def filter(self, record: logging.LogRecord) -> bool:
        """Pass or count ``record``; first write the summaries of windows that ended."""
        if getattr(record, "rate_limit_summary", False):
            return True
        now = self.clock()
        if now >= self._next_check:
            self._next_check = now + 1.0
            for summary in self.limiter.ended(now):
                self.handler.handle(_summary_record(summary))
        if record.levelno < RATE_LIMITED_LEVEL:
            return True
        return self.limiter.admit((record.name, record.levelno, record.msg), record, now)

    def flush(self) -> None:
        """Write the summaries of every window, ended or not (the handler is closing)."""
        for summary in self.limiter.ended(self.clock(), every=True):
            self.handler.handle(_summary_record(summary))


class BoundedStreamHandler(logging.StreamHandler[TextIO]):
    """A stream handler behind a `RateLimitingFilter` and a `RedactingFilter`.

    On close (``logging.shutdown`` at exit, after SIGTERM too) the counts of the windows
    still open are written, so the end of a flood is accounted for as well.
    """

    def __init__(self, stream: TextIO, limiter: RateLimiter | None = None) -> None:
        """Write to ``stream``; rate-limit with ``limiter`` (the defaults if None)."""
        super().__init__(stream)
        # Rate limiting first: a record left out is never formatted or redacted.
        self.rate_limit = RateLimitingFilter(self, limiter)
        self.addFilter(self.rate_limit)
        self.addFilter(RedactingFilter())

    def close(self) -> None:
        """Write what the open windows left out, then close."""
        try:
            self.rate_limit.flush()
        finally:
            super().close()


def _summary_record(summary: Suppressed) -> logging.LogRecord:
    """The line that stands for the records a window left out."""
    example = summary.example
    message = truncate(example.getMessage(), MAX_MESSAGE_CHARS)
    record = logging.LogRecord(
        example.name,
        example.levelno,
        example.pathname,
        example.lineno,
        "%s (suppressed %d similar in the last %.0f s)",
        (message, summary.count, summary.seconds),
        None,
    )
    record.rate_limit_summary = True
    return record


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
    handler = BoundedStreamHandler(target)
    journal = is_journal(target)
    handler.setFormatter(OneLineFormatter(journal=journal, colour=not journal and target.isatty()))
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
