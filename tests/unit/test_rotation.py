"""Rotating recordings: gzip files per feed, rotated, pruned, paused on failure, read back."""

from __future__ import annotations

import gzip
import logging
import os
import re
import time
import zlib
from pathlib import Path

import pytest

from arbwatch.feeds.recording import FrameRecorder, RecordedFrame, RecordingError, read_recording
from arbwatch.feeds.rotation import (
    FLUSH_LINES,
    RecordingStats,
    RecordSettings,
    RotatingWriter,
    feed_files,
    recording_path,
)

#: The receive time of the test's frames (any time will do).
START = 1_800_000_000.0


class Clocks:
    """Epoch and monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        # Now, to the second: files' ages are their modification times, stamped by the disk.
        self.now = float(int(time.time()))
        self.mono = 100.0

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds

    def epoch(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono


def frame(number: int, feed: str = "rapid", at: float | None = None) -> RecordedFrame:
    return RecordedFrame(
        received_at=START + number if at is None else at,
        feed=feed,
        provider="rapidoddsapi",
        channel="ws",
        source="wss://127.0.0.1:1/ws?api_key=oa_live_secret",
        frame=f'{{"n": {number}, "pad": "{"x" * (number % 50)}"}}',
    )


def recorder(settings: RecordSettings, clocks: Clocks, feed: str = "rapid") -> FrameRecorder:
    writer = RotatingWriter(settings, feed, clock=clocks.epoch, monotonic=clocks.monotonic)
    return FrameRecorder(writer, secrets=["oa_live_secret"])


def writer_of(frames: FrameRecorder) -> RotatingWriter:
    assert isinstance(frames.sink, RotatingWriter)
    return frames.sink


def test_a_feed_records_to_a_named_gzip_file_read_back_whole_and_redacted(tmp_path: Path) -> None:
    clocks = Clocks()
    frames = recorder(RecordSettings(dir=tmp_path / "rec"), clocks)
    for number in range(5):
        frames.record(frame(number))
    frames.close()
    (path,) = (tmp_path / "rec").iterdir()
    assert re.fullmatch(r"rapid-\d{8}T\d{6}\.000Z\.jsonl\.gz", path.name)
    assert path == recording_path(tmp_path / "rec", "rapid", clocks.now)
    text = gzip.decompress(path.read_bytes()).decode()
    assert "oa_live_secret" not in text
    assert "api_key=***" in text
    read = list(read_recording(path))
    assert [f.frame for f in read] == [frame(n).frame for n in range(5)]
    assert writer_of(frames).stats.lines == 5


def test_files_rotate_at_their_size_and_age_and_read_back_in_order(tmp_path: Path) -> None:
    clocks = Clocks()
    settings = RecordSettings(dir=tmp_path, max_file_bytes=300, rotate_every=3600.0)
    frames = recorder(settings, clocks)
    # Flushed every line (a second apart), so sizes are known as they grow.
    for number in range(60):
        frames.record(frame(number))
        clocks.advance(1.0)
    frames.close()
    by_size = feed_files(tmp_path, "rapid")
    assert len(by_size) >= 3
    # Past the limit by one line's flush at most (and the trailer).
    assert all(path.stat().st_size < 300 + 150 for path in by_size)
    assert [f.frame for f in read_recording(tmp_path)] == [frame(n).frame for n in range(60)]

    aged = tmp_path / "aged"
    frames = recorder(RecordSettings(dir=aged, rotate_every=60.0), clocks)
    for number in range(10):
        frames.record(frame(number))
        clocks.advance(25.0)
    frames.close()
    # 0 s, 25 s, 50 s in the first file; 75 s starts the second, 150 s the third ...
    assert len(feed_files(aged, "rapid")) == 4
    assert len(list(read_recording(aged))) == 10


def test_old_files_beyond_the_total_or_the_age_go_and_no_other_file_does(
    tmp_path: Path,
) -> None:
    clocks = Clocks()
    others = [tmp_path / "rapid-notes.txt", tmp_path / "rapid2-20270115T080000.000Z.jsonl.gz"]
    for other in others:
        other.write_bytes(b"x" * 5000)
        os.utime(other, (0, 0))
    settings = RecordSettings(
        dir=tmp_path, max_file_bytes=300, max_total_bytes=1500, keep_for=3600.0
    )
    frames = recorder(settings, clocks)
    for number in range(60):
        frames.record(frame(number))
        clocks.advance(1.0)
    writer = writer_of(frames)
    assert writer.stats.files_deleted > 0
    kept = feed_files(tmp_path, "rapid")
    assert sum(path.stat().st_size for path in kept[:-1]) <= 1500
    assert all(other.exists() for other in others)
    # The newest frames survive; the oldest went with their files.
    numbers = [int(f.frame.split(",")[0].removeprefix('{"n": ')) for f in read_recording(kept[0])]
    assert numbers[0] > 0

    # A day on (by the writer's clock): the next line rotates, and every file written
    # before, the one it just finished included, is past keep_for.
    clocks.advance(86400.0)
    frames.record(frame(99))
    frames.close()
    assert feed_files(tmp_path, "rapid") == [writer.path]


def test_an_unfinished_file_reads_up_to_its_last_flush(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clocks = Clocks()
    frames = recorder(RecordSettings(dir=tmp_path), clocks)
    total = FLUSH_LINES * 2 + 10
    for number in range(total):
        frames.record(frame(number, at=START))  # the same instant: flushed by count only
    # The process dies here: no close, no gzip trailer.
    path = writer_of(frames).path
    assert path is not None
    with caplog.at_level(logging.WARNING):
        read = list(read_recording(path))
    assert len(read) == FLUSH_LINES * 2
    assert total - len(read) < FLUSH_LINES
    assert "cut short" in caplog.text
    frames.close()


def test_a_file_cut_anywhere_reads_its_whole_lines_up_to_the_cut(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clocks = Clocks()
    frames = recorder(RecordSettings(dir=tmp_path / "rec"), clocks)
    for number in range(300):
        frames.record(frame(number))
        clocks.advance(1.0)  # flushed every line
    frames.close()
    (whole,) = (tmp_path / "rec").iterdir()
    data = whole.read_bytes()
    counts = []
    for cut in (len(data) // 4, len(data) // 2, len(data) - 9):
        path = tmp_path / f"cut{cut}.jsonl.gz"
        path.write_bytes(data[:cut])
        with caplog.at_level(logging.WARNING):
            read = list(read_recording(path))
        assert [f.frame for f in read] == [frame(n).frame for n in range(len(read))]
        counts.append(len(read))
    assert 0 < counts[0] < counts[1] < counts[2] <= 300
    assert caplog.text.count("read up to there") == 3


def test_damaged_compressed_data_ends_the_read_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Random frames, so that the part before the damage is many kilobytes compressed.
    lines = b"".join(
        b'{"t": %d, "feed": "a", "provider": "p", "channel": "ws", "frame": "%s"}\n'
        % (n, os.urandom(16).hex().encode())
        for n in range(2000)
    )
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    head = compressor.compress(lines[:70000]) + compressor.flush(zlib.Z_SYNC_FLUSH)
    path = tmp_path / "damaged.jsonl.gz"
    path.write_bytes(head + b"\xff" * 64 + compressor.compress(lines[70000:]) + compressor.flush())
    with caplog.at_level(logging.WARNING):
        read = list(read_recording(path))
    assert 0 < len(read) < 2000
    assert "damaged" in caplog.text


def test_several_gzip_members_and_a_plain_last_line_cut_short(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    line = b'{"t": %d, "feed": "a", "provider": "p", "channel": "ws", "frame": "x"}\n'
    path = tmp_path / "members.jsonl.gz"
    path.write_bytes(gzip.compress(line % 1) + gzip.compress(line % 2 + line % 3))
    assert [f.received_at for f in read_recording(path)] == [1.0, 2.0, 3.0]

    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(line % 1 + (line % 2)[:30])
    with caplog.at_level(logging.WARNING):
        assert [f.received_at for f in read_recording(plain)] == [1.0]
    assert "line 2 is cut short" in caplog.text


def test_a_directory_is_every_recording_in_it_merged_by_receive_time(tmp_path: Path) -> None:
    clocks = Clocks()
    rapid = recorder(RecordSettings(dir=tmp_path), clocks, "rapid")
    rundown = recorder(RecordSettings(dir=tmp_path), clocks, "rundown")
    for number in range(20):
        (rapid if number % 3 else rundown).record(
            frame(number, "rapid" if number % 3 else "rundown")
        )
    rapid.close()
    rundown.close()
    plain = FrameRecorder(tmp_path / "extra.jsonl")
    plain.record(frame(7, "extra", at=START + 7.5))
    plain.close()
    (tmp_path / "README").write_text("not a recording")
    read = list(read_recording(tmp_path))
    assert [f.received_at for f in read] == sorted(f.received_at for f in read)
    assert len(read) == 21
    assert {f.feed for f in read} == {"rapid", "rundown", "extra"}

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RecordingError, match="no recordings in it"):
        read_recording(empty)


def test_a_directory_that_cannot_be_written_pauses_recording_once_and_it_resumes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clocks = Clocks()
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    frames = recorder(RecordSettings(dir=blocked / "rec"), clocks)
    writer = writer_of(frames)
    with caplog.at_level(logging.INFO, logger="arbwatch.feeds.rotation"):
        for number in range(50):
            frames.record(frame(number))
            clocks.advance(writer.retry_interval / 10)  # five tries in all
        assert writer.stats.paused
        assert writer.stats.lost == 50
        assert caplog.text.count("paused") == 1
        blocked.unlink()
        clocks.advance(writer.retry_interval)
        frames.record(frame(50))
        frames.close()
    assert writer.stats == RecordingStats(lines=1, lost=50, files_started=1)
    assert "resumed" in caplog.text
    assert [f.frame for f in read_recording(blocked / "rec")] == [frame(50).frame]
