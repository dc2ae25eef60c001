"""Recording raw provider traffic to JSONL, for `arbwatch replay` and for bug reports.

One line per frame or REST body, in the order received:

    {"t": 1800000000.123, "feed": "rundown", "provider": "therundown", "channel": "ws",
     "source": "wss://.../api/v2/ws/markets?key=***&sport_ids=4", "frame": "{...}"}

``channel`` says what the frame is, so that a replay can hand it to the same parser the
live feed used: ``ws`` for a WebSocket message, ``rest:<what>`` for a REST body (for
example ``rest:events``, ``rest:delta``, ``rest:snapshot``). Sources are redacted, and so
is every known secret anywhere in the line: a recording can be attached to an issue.

Lines go to a sink: one plain file (`AppendedFile`), or the daemon's rotating gzip files
(`arbwatch.feeds.rotation`). `read_recording` reads either, a gzip file cut short up to the
cut, and a directory of them merged by receive time.
"""

from __future__ import annotations

import heapq
import json
import logging
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import IO, Final, Protocol

from arbwatch.errors import ArbwatchError
from arbwatch.feeds.base import FeedBatch, redact

logger = logging.getLogger(__name__)

#: The names of recording files, plain and compressed.
RECORDING_SUFFIXES: Final = (".jsonl", ".jsonl.gz")
_GZIP_MAGIC: Final = b"\x1f\x8b"
#: gzip framing for zlib (16 + the largest window).
_GZIP_WBITS: Final = 31
#: Bytes of a compressed file read and decompressed at a time.
_FEED_CHUNK: Final = 4096


class RecordingError(ArbwatchError):
    """A recording that cannot be read: names the file and line."""


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    """One recorded frame or REST body."""

    received_at: float
    feed: str
    provider: str
    channel: str
    source: str
    frame: str


_RECEIVED_AT = attrgetter("received_at")


class FrameReplayer(Protocol):
    """Turns one provider's recorded frames into batches, as its live session did."""

    def replay(self, frame: RecordedFrame) -> FeedBatch | None:
        """The batch this frame produced, if any; `ParseError` for a broken frame."""
        ...


class LineSink(Protocol):
    """Where a `FrameRecorder` puts lines: a file, `arbwatch.feeds.rotation.RotatingWriter`."""

    def write_line(self, line: str) -> None:
        """Keep one line (ending in a newline)."""
        ...

    def close(self) -> None:
        """Finish; nothing is written after."""
        ...


class AppendedFile:
    """One plain JSONL file, appended to and flushed at each line so a crash loses nothing."""

    def __init__(self, path: Path) -> None:
        """Open ``path`` for appending."""
        self.path = path
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def write_line(self, line: str) -> None:
        """Append one line."""
        self._file.write(line)
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class FrameRecorder:
    """Turns frames into redacted JSON lines for a sink: a plain file, or rotating gzip files."""

    def __init__(self, target: Path | LineSink, secrets: Iterable[str] = ()) -> None:
        """Record to ``target``; ``secrets`` are replaced wherever they appear.

        Args:
            target: a path (one plain JSONL file, appended to) or a sink (the daemon's
                `arbwatch.feeds.rotation.RotatingWriter`).
            secrets: replaced by `arbwatch.feeds.base.REDACTED` in every line, as are the
                secrets remembered process-wide and key-like URL parameters.
        """
        self._secrets = tuple(s for s in secrets if s)
        self.sink: LineSink = AppendedFile(target) if isinstance(target, Path) else target

    def record(self, frame: RecordedFrame) -> None:
        """Write one frame as one line."""
        line = json.dumps(
            {
                "t": frame.received_at,
                "feed": frame.feed,
                "provider": frame.provider,
                "channel": frame.channel,
                "source": frame.source,
                "frame": frame.frame,
            },
            ensure_ascii=False,
        )
        self.sink.write_line(redact(line, self._secrets) + "\n")

    def close(self) -> None:
        """Close the sink."""
        self.sink.close()


def read_recording(path: Path) -> Iterator[RecordedFrame]:
    """The frames of a recording, in receive order.

    ``path`` is a ``.jsonl`` file, a gzip one (``.jsonl.gz``, told by its first bytes), or
    a directory, whose recordings (``*.jsonl``, ``*.jsonl.gz``) are merged by receive
    time. A gzip file that ends mid-stream (the daemon stopped by a crash or a full disk)
    is read up to the cut, with a warning; so is a last line cut short.

    Raises:
        RecordingError: the path is missing, not a regular file or directory (a FIFO or a
            device would be read forever), a directory holds no recording, or a line is
            not a recorded frame (not UTF-8 text at all: a binary file).
    """
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise RecordingError(f"{path}: cannot open: {error.strerror}") from None
    if stat.S_ISDIR(mode):
        return _read_directory(path)
    if not stat.S_ISREG(mode):
        raise RecordingError(f"{path}: not a regular file")
    return _read_file(path)


def recording_files(directory: Path) -> list[Path]:
    """The recordings in ``directory`` (``*.jsonl``, ``*.jsonl.gz``), by name."""
    return sorted(
        entry
        for entry in directory.iterdir()
        if entry.name.endswith(RECORDING_SUFFIXES) and entry.is_file()
    )


def _read_directory(directory: Path) -> Iterator[RecordedFrame]:
    """Every recording in ``directory``, merged by receive time (ties: by file name)."""
    try:
        files = recording_files(directory)
    except OSError as error:
        raise RecordingError(f"{directory}: cannot list: {error.strerror}") from None
    if not files:
        raise RecordingError(
            f"{directory}: no recordings in it (files ending {' or '.join(RECORDING_SUFFIXES)})"
        )
    return heapq.merge(*(_read_file(file) for file in files), key=_RECEIVED_AT)


def _read_file(path: Path) -> Iterator[RecordedFrame]:
    """The frames of one file, plain or gzip."""
    try:
        handle = path.open("rb")
    except OSError as error:
        raise RecordingError(f"{path}: cannot open: {error.strerror}") from None
    with handle:
        compressed = handle.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
        handle.seek(0)
        lines = _gzip_lines(handle, path) if compressed else _plain_lines(handle)
        yield from _frames(lines, path)


def _plain_lines(handle: IO[bytes]) -> Iterator[bytes]:
    yield from handle


def _gzip_lines(handle: IO[bytes], path: Path) -> Iterator[bytes]:
    """The lines of a gzip file (one stream or several), each with its newline.

    A stream that ends early or turns to garbage ends the lines there, with a warning;
    the line it cut is left out (`_frames` never sees a line without its newline).
    """
    decompressor = zlib.decompressobj(_GZIP_WBITS)
    within = False  # inside a gzip stream that has not ended yet
    pending: list[bytes] = []
    # Fed in small pieces, so that damage loses only the lines of the piece it is in.
    while chunk := handle.read(_FEED_CHUNK):
        while chunk:
            within = True
            try:
                data = decompressor.decompress(chunk)
            except zlib.error as error:
                _warn_cut(path, f"damaged after byte {handle.tell():,} ({error})")
                return
            chunk = b""
            if decompressor.eof:
                # One stream ended; whatever follows is the next (gzip allows several).
                chunk = decompressor.unused_data
                decompressor = zlib.decompressobj(_GZIP_WBITS)
                within = False
            pieces = data.split(b"\n")
            if len(pieces) == 1:
                pending.append(data)
                continue
            pending.append(pieces[0])
            yield b"".join(pending) + b"\n"
            for piece in pieces[1:-1]:
                yield piece + b"\n"
            pending = [pieces[-1]]
    if within:
        _warn_cut(path, "cut short: it ends before its gzip trailer (a crash or a full disk?)")
    elif any(pending):
        _warn_cut(path, "its last line has no end")


def _warn_cut(path: Path, why: str) -> None:
    logger.warning("%s: %s; read up to there", path, why)


def _frames(lines: Iterable[bytes], path: Path) -> Iterator[RecordedFrame]:
    """Each line of a recording read as a frame; blank lines skipped."""
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RecordingError(
                f"{path}:{number}: not UTF-8 text, so not a recording (a .jsonl file)"
            ) from None
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            yield RecordedFrame(
                received_at=float(item["t"]),
                feed=str(item["feed"]),
                provider=str(item["provider"]),
                channel=str(item["channel"]),
                source=str(item.get("source", "")),
                frame=str(item["frame"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            if not line.endswith("\n"):
                # The writer was stopped mid-line: what came before it stands.
                _warn_cut(path, f"line {number} is cut short")
                return
            raise RecordingError(f"{path}:{number}: not a recorded frame ({error})") from None
