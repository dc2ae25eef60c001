"""The demo's configuration: the packaged YAML through the real loader, plus --notify URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from arbwatch.demo import demo_config
from arbwatch.errors import ConfigError
from arbwatch.feeds.rapidodds_feed import RapidOddsSettings
from arbwatch.feeds.rundown_feed import RundownSettings

RAPID = "http://127.0.0.1:8001"
RUNDOWN = "http://127.0.0.1:8002"


def test_the_demo_config_points_every_feed_at_the_simulators(tmp_path: Path) -> None:
    config = demo_config(RAPID, RUNDOWN, tmp_path, env={})
    rapid, rundown = config.feeds
    assert isinstance(rapid, RapidOddsSettings)
    assert isinstance(rundown, RundownSettings)
    assert (rapid.base_url, rundown.base_url) == (RAPID, RUNDOWN)
    assert config.state_dir == tmp_path
    assert set(config.channels) == {"console"}
    assert [rule.kind for rule in config.rules] == ["arbitrage", "positive_ev"]
    assert all(rule.notify == ("console",) for rule in config.rules)


def test_notify_urls_become_a_channel_every_rule_sends_to(tmp_path: Path) -> None:
    url = "json://127.0.0.1:9/hook"
    config = demo_config(RAPID, RUNDOWN, tmp_path, notify=[url], env={})
    assert [secret.reveal() for secret in config.channels["notify"].urls] == [url]
    assert all(rule.notify == ("console", "notify") for rule in config.rules)


def test_a_notify_url_apprise_does_not_know_is_refused_without_showing_it(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as raised:
        demo_config(RAPID, RUNDOWN, tmp_path, notify=["nosuch://s3cret@host"], env={})
    assert "nosuch" in str(raised.value)
    assert "s3cret" not in str(raised.value)
