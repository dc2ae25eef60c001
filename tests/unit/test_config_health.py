"""The ``health:`` section: defaults, units, channel names, and unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from arbwatch.config import parse_config
from arbwatch.config.model import HealthConfig
from arbwatch.errors import ConfigError
from tests.unit.test_config import EXAMPLE, EXAMPLE_ENV, MINIMAL


def test_without_a_health_section_system_alerts_go_to_every_channel() -> None:
    config = parse_config(MINIMAL, source=None, env={})
    assert config.health == HealthConfig()
    assert config.health.notify is None
    assert config.health.feed_down == 60.0


def test_the_health_section_sets_channels_and_thresholds() -> None:
    text = (
        MINIMAL
        + "health:\n  notify: [phone]\n  feed_down: 2m\n  feed_silent: 90s\n"
        + "  credits_low: 20%\n  channel_failing: 1m\n  engine_stalled: 30s\n"
        + "  books_unseen: 1h\n  recovery: 0s\n  repeat: 0\n"
    )
    health = parse_config(text, source=None, env={}).health
    assert health == HealthConfig(
        notify=("phone",),
        feed_down=120.0,
        feed_silent=90.0,
        credits_low=0.2,
        channel_failing=60.0,
        engine_stalled=30.0,
        books_unseen=3600.0,
        recovery=0.0,
        repeat=0.0,
    )


def test_health_mistakes_name_the_file_line_and_path() -> None:
    # MINIMAL is 13 lines: the health section starts at line 14.
    text = MINIMAL + "health:\n  notify: [phon]\n  feed_down: soon\n  credit_low: 5%\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source=Path("config.yaml"), env={})
    assert caught.value.problems == [
        "config.yaml:15: health.notify[0]: no channel named 'phon', did you mean 'phone'?",
        "config.yaml:16: health.feed_down: expected a duration like 90s, 10m, 2h or 1h30m, "
        'got "soon"',
        "config.yaml:17: health.credit_low: unknown key, did you mean 'credits_low'?",
    ]


def test_the_example_config_routes_health_alerts() -> None:
    config = parse_config(EXAMPLE.read_text(encoding="utf-8"), source=EXAMPLE, env=EXAMPLE_ENV)
    assert config.health.notify is not None
    assert set(config.health.notify) <= set(config.channels)
