"""The demo's configuration: the packaged YAML through the real loader, plus --notify URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from arbwatch.demo import demo_config
from arbwatch.errors import ConfigError
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings
from arbwatch.feeds.therundown.settings import RundownSettings

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


def test_status_turns_on_the_listener(tmp_path: Path) -> None:
    assert demo_config(RAPID, RUNDOWN, tmp_path, env={}).status_listen is None
    config = demo_config(RAPID, RUNDOWN, tmp_path, env={}, status=" 127.0.0.1:9464 ")
    assert config.status_listen == "127.0.0.1:9464"
    assert demo_config(RAPID, RUNDOWN, tmp_path, env={}, status="[::1]:9464").status_listen


@pytest.mark.parametrize(
    ("status", "message"),
    [
        # A documentation address (RFC 5737): only checked, never bound.
        ("192.0.2.1:9464", "--status: the demo listens on loopback only (127.0.0.1, [::1]), "
                           "not 192.0.2.1"),
        ("0.0.0.0:9464", "not 0.0.0.0"),
        ("9464", "--status: expected host:port like 127.0.0.1:9464, got '9464'"),
        ("127.0.0.1:99999", "the port is 1 to 65535"),
        ("example.com:9464", "the host is an IP address or localhost"),
    ],
)  # fmt: skip
def test_a_status_address_off_loopback_or_malformed_is_refused(
    tmp_path: Path, status: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        demo_config(RAPID, RUNDOWN, tmp_path, env={}, status=status)
    assert message in str(raised.value)
