"""Rotating recordings: each feed's frames to gzip JSONL files, bounded on disk, never in the way.

A feed records to ``DIR/<feed>-<UTC start>.jsonl.gz`` (`recording_path`). One file is one
gzip stream, compressed as lines come and flushed with ``Z_SYNC_FLUSH`` at least every
`FLUSH_SECONDS` of traffic and every `FLUSH_LINES` lines: everything up to the last flush
is whole deflate blocks on disk, which `arbwatch.feeds.recording.read_recording` reads
even when the file ends there (a crash, a full disk). So a crash loses at most the lines
since the last flush: fewer than `FLUSH_LINES`, received within `FLUSH_SECONDS` before
the last frame (a feed that goes quiet keeps its last lines in memory until the next
frame, the next rotation or the stop). A flush costs about 5 bytes; one per line would
cost the compression most of its gain on short frames.

A file is closed and another started when it reaches ``max_file_bytes`` (compressed, as
on disk; it may pass the limit by what one flush adds) or is ``rotate_every`` old. At
each start of a file, the feed's older files beyond ``keep_for`` of age, and the oldest
beyond ``max_total_bytes`` in all, are deleted; other files in the directory (another
feed's, the bettor's) are never touched.

A write that fails (a full disk, a directory made read-only or removed) pauses the
recording, not the feed: one warning says so, frames are counted as lost, and every
`RETRY_SECONDS` the next frame tries a new file; when one can be written, an info line
says how many frames were lost. The file being written when it failed is left as it is:
its readable part stays readable.

Compression runs in the event loop, no thread: measured first
(``python -m tests.integration.recording_figures``, TheRundown simulator's frames, median
426 bytes), a frame costs 15 µs to record (median 13, 99th percentile 41), 7.6% of one
core at 5,000 frames a second, against 11 µs for a plain JSONL file flushed at every
line; the slowest of 50,000 calls took 1 to 8 ms over two runs on 2 busy cores (the plain
file's 0.3 to 3 ms). On disk: 33 bytes a frame against 675. Writes go to the page cache.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Final

logger = logging.getLogger(__name__)

#: Defaults of a feed's ``record:`` settings.
DEFAULT_MAX_FILE_BYTES: Final = 64 * 1024 * 1024
DEFAULT_ROTATE_EVERY: Final = 3600.0
DEFAULT_MAX_TOTAL_BYTES: Final = 4 * 1024 * 1024 * 1024
DEFAULT_KEEP_FOR: Final = 7 * 86400.0
#: Flush the compressed stream to disk at least this often (seconds of traffic) ...
FLUSH_SECONDS: Final = 1.0
#: ... and at least every this many lines: the most a crash can lose.
FLUSH_LINES: Final = 1000
#: Seconds between tries of a paused recording.
RETRY_SECONDS: Final = 30.0
#: zlib's default: 2 µs a line against 1.2 µs at level 1, for files 40% smaller (measured).
COMPRESS_LEVEL: Final = 6
#: gzip framing for zlib (16 + the largest window).
_GZIP_WBITS: Final = 31
#: The UTC start in a file's name: sortable, no ':' (which some filesystems refuse).
_STAMP_FORMAT: Final = "%Y%m%dT%H%M%S"
#: Characters of a feed's name kept in file names; any other becomes ``_``.
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordSettings:
    """Where and how much a feed records (a feed's ``record:``, or ``arbwatch run --record``).

    Attributes:
        dir: the directory of the recordings (created if missing).
        max_file_bytes: a file is closed and a new one started at this size (compressed).
        rotate_every: ... or at this age, in seconds.
        max_total_bytes: the feed's files beyond this size in all are deleted, oldest first.
        keep_for: the feed's files older than this (seconds since last written) are deleted.
    """

    dir: Path
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    rotate_every: float = DEFAULT_ROTATE_EVERY
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES
    keep_for: float = DEFAULT_KEEP_FOR


def file_prefix(feed: str) -> str:
    """The start of every recording file of ``feed``: its name made safe for a path."""
    return _UNSAFE.sub("_", feed) + "-"


def recording_path(directory: Path, feed: str, started: float) -> Path:
    """The file ``feed`` records to in ``directory`` from ``started`` (epoch seconds).

    ``rapid-20261206T094512.123Z.jsonl.gz``: names sort in time order, milliseconds
    keep two files started in one second apart.
    """
    moment = datetime.fromtimestamp(started, UTC)
    stamp = f"{moment.strftime(_STAMP_FORMAT)}.{moment.microsecond // 1000:03d}Z"
    return directory / f"{file_prefix(feed)}{stamp}.jsonl.gz"


def feed_files(directory: Path, feed: str) -> list[Path]:
    """``feed``'s recording files in ``directory``, oldest first (by name: their start)."""
    pattern = re.compile(re.escape(file_prefix(feed)) + r"\d{8}T\d{6}\.\d{3}Z(?:-\d+)?\.jsonl\.gz")
    try:
        names = [entry.name for entry in os.scandir(directory) if pattern.fullmatch(entry.name)]
    except OSError:
        return []
    return [directory / name for name in sorted(names)]


@dataclass
class RecordingStats:
    """What a feed's recording has done since start."""

    lines: int = 0
    #: Lines not written: received while the recording was paused, or lost with the
    #: unflushed part of a file that failed.
    lost: int = 0
    files_started: int = 0
    files_deleted: int = 0
    #: Whether the recording is paused for a failed write.
    paused: bool = False


class RotatingWriter:
    """Writes one feed's recorded lines to rotating gzip files (see the module docstring).

    A `arbwatch.feeds.recording.FrameRecorder` sink: `write_line` and `close`.
    """

    def __init__(
        self,
        settings: RecordSettings,
        feed: str,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare; the first file is opened by the first line.

        Args:
            settings: the directory and the limits.
            feed: the feed's name, which starts its files' names.
            clock: epoch seconds, for file names and ages.
            monotonic: seconds, for flushes and retries (tests may pin both).
        """
        self.settings = settings
        self.feed = feed
        self.stats = RecordingStats()
        self._clock = clock
        self._monotonic = monotonic
        self._file: BinaryIO | None = None
        self._compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        #: The file's bytes on disk, and when (monotonic) it was started and last flushed.
        self._size = 0
        self._started = 0.0
        self._flushed = 0.0
        self._unflushed = 0
        #: Seconds between tries while paused (`RETRY_SECONDS`; tests shorten it).
        self.retry_interval = RETRY_SECONDS
        #: Monotonic time of the next try while paused.
        self._retry_at = 0.0
        self.path: Path | None = None

    def write_line(self, line: str) -> None:
        """Record one line (ending in a newline); never raises for the disk's sake."""
        now = self._monotonic()
        if self.stats.paused:
            if now < self._retry_at:
                self.stats.lost += 1
                return
            self._retry_at = now + self.retry_interval
        try:
            if self._file is None or self._due_rotation(now):
                self._rotate(now)
            file = self._file
            assert file is not None  # _rotate opened it or raised
            data = self._compressor.compress(line.encode("utf-8"))
            self._unflushed += 1
            if self._unflushed >= FLUSH_LINES or now - self._flushed >= FLUSH_SECONDS:
                data += self._compressor.flush(zlib.Z_SYNC_FLUSH)
                self._write(file, data)
                file.flush()
                self.stats.lines += self._unflushed
                self._unflushed = 0
                self._flushed = now
            elif data:
                self._write(file, data)
        except OSError as error:
            self._pause(error, now)
            return
        if self.stats.paused:
            self.stats.paused = False
            logger.info(
                "recording of feed %s resumed in %s (%d frames were not recorded)",
                self.feed,
                self.path,
                self.stats.lost,
            )

    def close(self) -> None:
        """End the current file whole (its gzip trailer written); never raises."""
        try:
            self._finish()
        except OSError as error:
            logger.warning(
                "recording of feed %s: the last file could not be finished (%s): %s",
                self.feed,
                self.path,
                error.strerror or error,
            )
            self._drop_file()

    # --- files ---

    def _due_rotation(self, now: float) -> bool:
        """Whether the current file is at its size or age limit."""
        settings = self.settings
        return self._size >= settings.max_file_bytes or now - self._started >= (
            settings.rotate_every
        )

    def _rotate(self, now: float) -> None:
        """Finish the current file, start the next, and delete what is beyond the limits."""
        self._finish()
        directory = self.settings.dir
        directory.mkdir(parents=True, exist_ok=True)
        first = recording_path(directory, self.feed, self._clock())
        # Never append to a file another process (or a clock that went back) started: a
        # taken name gets a counter, and the open is exclusive.
        for attempt in range(100):
            suffix = f"-{attempt}.jsonl.gz" if attempt else ".jsonl.gz"
            path = first.with_name(first.name.replace(".jsonl.gz", suffix))
            if not path.exists():
                self._file = path.open("xb")
                break
        else:
            raise FileExistsError(f"{first}: a hundred files of that name already")
        self.path = path
        self._compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        self._size = 0
        self._started = now
        self._flushed = now
        self.stats.files_started += 1
        self._prune()

    def _finish(self) -> None:
        """Write the rest of the stream and its trailer, and close the file."""
        file = self._file
        if file is None:
            return
        self._write(file, self._compressor.flush(zlib.Z_FINISH))
        file.close()
        self._file = None
        self.stats.lines += self._unflushed
        self._unflushed = 0

    def _write(self, file: BinaryIO, data: bytes) -> None:
        file.write(data)
        self._size += len(data)

    def _prune(self) -> None:
        """Delete the feed's files beyond ``keep_for`` and ``max_total_bytes``, oldest first."""
        settings = self.settings
        oldest_kept = self._clock() - settings.keep_for
        sized: list[tuple[Path, int]] = []
        for path in feed_files(settings.dir, self.feed):
            if path == self.path:
                continue
            try:
                status = path.stat()
            except OSError:
                continue
            if status.st_mtime < oldest_kept:
                self._delete(path)
            else:
                sized.append((path, status.st_size))
        total = sum(size for _, size in sized)
        for path, size in sized:  # oldest first
            if total <= settings.max_total_bytes:
                break
            self._delete(path)
            total -= size

    def _delete(self, path: Path) -> None:
        try:
            path.unlink()
        except OSError as error:
            logger.warning("recording: cannot delete %s: %s", path, error.strerror or error)
            return
        self.stats.files_deleted += 1

    # --- failures ---

    def _pause(self, error: OSError, now: float) -> None:
        """Stop recording until `RETRY_SECONDS` from ``now``; warn once per pause."""
        self.stats.lost += 1 + self._unflushed
        self._unflushed = 0
        self._drop_file()
        self._retry_at = now + self.retry_interval
        if self.stats.paused:
            return
        self.stats.paused = True
        logger.warning(
            "recording of feed %s paused: cannot write in %s (%s); the feed and alerts go "
            "on, and recording tries again every %g s",
            self.feed,
            self.settings.dir,
            error.strerror or error,
            self.retry_interval,
        )

    def _drop_file(self) -> None:
        """Let go of a file that failed: what was flushed stays readable, the rest is lost."""
        file, self._file = self._file, None
        if file is not None:
            # Closing flushes Python's buffer, which may fail the same way; the descriptor
            # is released regardless.
            with contextlib.suppress(OSError):
                file.close()
