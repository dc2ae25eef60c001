"""``record:`` in the config: the shorthand, the top level's default, a feed's own, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from arbwatch.config import parse_config, values
from arbwatch.config.show import show_config
from arbwatch.config.values import InvalidValueError
from arbwatch.errors import ConfigError
from arbwatch.feeds.rotation import DEFAULT_KEEP_FOR, DEFAULT_MAX_FILE_BYTES, RecordSettings
from tests.unit.test_config import FEED
from tests.unit.test_config_values import read

SOURCE = Path("/etc/arbwatch/config.yaml")
FEEDS = (
    FEED
    + """\
{rapid}  - name: rundown
    provider: therundown
    api_key: rundown-test
    sport_ids: [4]
{rundown}"""
)
REST = (
    "channels:\n  phone: console://\n"
    "rules:\n  - name: arbs\n    kind: arbitrage\n    notify: [phone]\n"
)


def config_text(top: str = "", rapid: str = "", rundown: str = "") -> str:
    return top + FEEDS.format(rapid=rapid, rundown=rundown) + REST


def recordings(text: str) -> dict[str, RecordSettings]:
    return dict(parse_config(text, source=SOURCE, env={}).recordings)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source=SOURCE, env={})
    return [problem.removeprefix("/etc/arbwatch/") for problem in caught.value.problems]


def test_nothing_is_recorded_unless_asked() -> None:
    assert recordings(config_text()) == {}


def test_a_feeds_record_dir_shorthand_takes_the_defaults_relative_to_the_file() -> None:
    found = recordings(config_text(rapid="    record: recordings\n"))
    assert found == {"rapid": RecordSettings(dir=Path("/etc/arbwatch/recordings"))}
    assert found["rapid"].max_file_bytes == DEFAULT_MAX_FILE_BYTES
    assert found["rapid"].keep_for == DEFAULT_KEEP_FOR


def test_the_top_level_records_every_feed_and_a_feed_replaces_or_leaves_it() -> None:
    top = "record:\n  dir: /srv/rec\n  max_file_bytes: 1MiB\n  rotate_every: 10m\n"
    found = recordings(
        config_text(
            top,
            rapid="    record: false\n",
            rundown="    record: {keep_for: 2d, max_total_bytes: 500MB}\n",
        )
    )
    assert found == {
        "rundown": RecordSettings(
            dir=Path("/srv/rec"),
            max_file_bytes=2**20,
            rotate_every=600.0,
            max_total_bytes=500 * 10**6,
            keep_for=2 * 86400.0,
        )
    }
    every = recordings(config_text("record: /srv/rec\n", rundown="    record: /srv/other\n"))
    assert every == {
        "rapid": RecordSettings(dir=Path("/srv/rec")),
        "rundown": RecordSettings(dir=Path("/srv/other")),
    }


def test_run_record_dir_records_every_feed_within_its_own_limits() -> None:
    config = parse_config(
        config_text(rapid="    record: {dir: /srv/rec, max_file_bytes: 10MB}\n"),
        source=SOURCE,
        env={},
    )
    assert config.recording("rapid", Path("/tmp/r")) == RecordSettings(
        dir=Path("/tmp/r"), max_file_bytes=10**7
    )
    assert config.recording("rundown", Path("/tmp/r")) == RecordSettings(dir=Path("/tmp/r"))
    assert config.recording("rundown") is None


def test_mistakes_are_named_by_line_and_path() -> None:
    assert problems(
        config_text(
            "record:\n  max_file_bytes: lots\n  keep: 7d\n",
            rapid="    record: true\n",
            rundown="    record: {dir: x, rotate_every: soon, max_total_bytes: 0}\n",
        )
    ) == [
        "config.yaml:2: record.max_file_bytes: expected a size like 64MiB, 1GB or 500KB, "
        'got "lots"',
        "config.yaml:2: record.dir: missing (required): the directory to record to",
        "config.yaml:3: record.keep: unknown key, did you mean 'keep_for'?",
        "config.yaml:11: feeds[0].record: true needs a directory: write record: DIR",
        "config.yaml:16: feeds[1].record.rotate_every: expected a duration like 90s, 10m, "
        '2h or 1h30m, got "soon"',
        "config.yaml:16: feeds[1].record.max_total_bytes: expected a size > 0, got 0",
    ]


@pytest.mark.parametrize(
    ("written", "size"),
    [
        ("1048576", 2**20),
        ("64MiB", 64 * 2**20),
        ("1GB", 10**9),
        ("500 kb", 500_000),
        ("2.5MB", 2_500_000),
    ],
)
def test_size(written: str, size: int) -> None:
    assert values.size(read(written)) == size


@pytest.mark.parametrize("written", ["lots", "10 MBs", "-5", "1.5", "true", "[1]", "MB"])
def test_size_refused(written: str) -> None:
    with pytest.raises(InvalidValueError, match="expected a size"):
        values.size(read(written))


def test_show_config_writes_each_feeds_record_as_the_loader_reads_it() -> None:
    text = config_text(
        "record: {dir: /srv/rec, max_total_bytes: 1GB}\n", rapid="    record: false\n"
    )
    shown = yaml.safe_load(show_config(parse_config(text, source=SOURCE, env={})))
    rapid, rundown = shown["feeds"]
    assert "record" not in rapid
    assert rundown["record"] == {
        "dir": "/srv/rec",
        "max_file_bytes": 64 * 2**20,
        "rotate_every": "1h",
        "max_total_bytes": 10**9,
        "keep_for": "7d",
    }
    # As written, it reads back the same.
    again = config_text("record: false\n", rundown=f"    record: {rundown['record']}\n")
    assert recordings(again) == recordings(text)
