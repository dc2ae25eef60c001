"""Recordings: one JSON line per frame, secrets scrubbed, read back in order."""

from pathlib import Path

import pytest

from arbwatch.feeds.recording import FrameRecorder, RecordedFrame, RecordingError, read_recording


def test_frames_round_trip_with_secrets_scrubbed(tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    recorder = FrameRecorder(path, secrets=["oa_live_123"])
    first = RecordedFrame(
        1.5,
        "rapid",
        "rapidoddsapi",
        "ws",
        "wss://x.invalid/ws?api_key=oa_live_123",
        '{"event":"connected"}',
    )
    second = RecordedFrame(
        2.0,
        "rundown",
        "therundown",
        "rest:events",
        "https://x.invalid/api/v2/sports/4/events/2026-11-22",
        '{"note": "key oa_live_123 leaked into a body"}',
    )
    recorder.record(first)
    recorder.record(second)
    recorder.close()
    text = path.read_text(encoding="utf-8")
    assert "oa_live_123" not in text
    assert text.count("\n") == 2
    frames = list(read_recording(path))
    assert frames[0].source == "wss://x.invalid/ws?api_key=***"
    assert frames[0].frame == '{"event":"connected"}'
    assert frames[1].frame == '{"note": "key *** leaked into a body"}'
    assert [f.received_at for f in frames] == [1.5, 2.0]


def test_a_broken_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(
        '{"t": 1, "feed": "a", "provider": "p", "channel": "ws", "frame": "x"}\n\nnot json\n',
        encoding="utf-8",
    )
    with pytest.raises(RecordingError, match=r"broken.jsonl:3: not a recorded frame"):
        list(read_recording(path))


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="cannot open"):
        list(read_recording(tmp_path / "nope.jsonl"))
