"""Recording raw provider traffic to JSONL, for `arbwatch replay` and for bug reports.

One line per frame or REST body, in the order received:

    {"t": 1800000000.123, "feed": "rundown", "provider": "therundown", "channel": "ws",
     "source": "wss://.../api/v2/ws/markets?key=***&sport_ids=4", "frame": "{...}"}

``channel`` says what the frame is, so that a replay can hand it to the same parser the
live feed used: ``ws`` for a WebSocket message, ``rest:<what>`` for a REST body (for
example ``rest:events``, ``rest:delta``, ``rest:snapshot``). Sources are redacted, and so
is every known secret anywhere in the line: a recording can be attached to an issue.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from arbwatch.errors import ArbwatchError
from arbwatch.feeds.base import FeedBatch, redact


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


class FrameReplayer(Protocol):
    """Turns one provider's recorded frames into batches, as its live session did."""

    def replay(self, frame: RecordedFrame) -> FeedBatch | None:
        """The batch this frame produced, if any; `ParseError` for a broken frame."""
        ...


class FrameRecorder:
    """Appends frames to a JSONL file, flushing each line so a crash loses nothing."""

    def __init__(self, path: Path, secrets: Iterable[str] = ()) -> None:
        """Open ``path`` for appending; ``secrets`` are replaced wherever they appear."""
        self.path = path
        self._secrets = tuple(s for s in secrets if s)
        self._file: IO[str] = path.open("a", encoding="utf-8")

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
        self._file.write(redact(line, self._secrets) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def read_recording(path: Path) -> Iterator[RecordedFrame]:
    """The frames of a recording, in order.

    Raises:
        RecordingError: the file is missing, not a regular file (a FIFO or a device would
            be read forever), or a line is not a recorded frame (not UTF-8 text at all: a
            binary file).
    """
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise RecordingError(f"{path}: not a regular file")
        handle = path.open("rb")
    except OSError as error:
        raise RecordingError(f"{path}: cannot open: {error.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
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
                raise RecordingError(f"{path}:{number}: not a recorded frame ({error})") from None
