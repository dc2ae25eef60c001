"""The typed configuration: what `arbwatch.config.load` builds from YAML.

Every value here is already checked and in engine units: fractions (0.03 for 3%), seconds,
decimal odds. Nothing in this module reads files or the environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo

from arbwatch.core.odds import OddsFormat
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.feeds.base import REDACTED, url_secrets
from arbwatch.feeds.registry import FeedSettings
from arbwatch.feeds.rotation import RecordSettings

#: Opportunity history kept in the state database unless the config says otherwise: 90 days.
DEFAULT_HISTORY_RETENTION: Final = 90 * 86400.0


class Secret:
    """A value that must never be shown: ``str()`` and ``repr()`` give `REDACTED`.

    Use `reveal` at the one place the real value is needed (handing a URL to apprise).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        """Wrap ``value``."""
        self._value = value

    def reveal(self) -> str:
        """The secret itself."""
        return self._value

    def __repr__(self) -> str:
        """Never the value."""
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        """Never the value."""
        return REDACTED

    def __eq__(self, other: object) -> bool:
        """Equal to another secret with the same value (so configs compare on reload)."""
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        """Hash by value, consistent with equality."""
        return hash(self._value)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelConfig:
    """Where alerts go: one or more apprise URLs, and how hard to try.

    Attributes:
        name: the channel's name, as rules refer to it.
        urls: apprise URLs (``tgram://...``, ``mailto://...``, ``json://...``,
            ``console://``); secrets, since most carry a token.
        freshness: seconds; an alert not delivered this long after it was found is dropped
            with a log line rather than sent late.
        retries: attempts after the first before the alert is given up on.
        retry_initial / retry_max: the backoff between attempts starts at ``retry_initial``
            seconds and doubles up to ``retry_max`` (with jitter).
        odds_format: how this channel shows prices (None: the config's ``odds_format``).
        group_wait / group_interval / max_per_minute: grouping and the cap a minute
            (`arbwatch.notify.grouping`); the defaults suit a phone.
    """

    name: str
    urls: tuple[Secret, ...]
    freshness: float = 120.0
    retries: int = 5
    retry_initial: float = 1.0
    retry_max: float = 30.0
    odds_format: OddsFormat | None = None
    group_wait: float = 0.5
    group_interval: float = 30.0
    max_per_minute: int = 6


@dataclass(frozen=True, slots=True)
class NameCheck:
    """What the check of a config's names against the providers' catalogs noted.

    Attributes:
        warnings: ``FILE:LINE: PATH: why`` for a name no catalog knows, or one no feed asks
            for; the config is used all the same (see `arbwatch.config.names`).
        spellings: ``FILE:LINE: PATH: why`` for each name taken in the provider's spelling.
    """

    warnings: tuple[str, ...] = ()
    spellings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthConfig:
    """Where system alerts go (a feed down, a channel failing, ...) and when they fire.

    Attributes:
        notify: the channels system alerts go to; None for every channel. A channel that
            is failing is told about through the others only.
        feed_down: seconds a feed may be disconnected or backing off before an alert.
        feed_silent: seconds a connected feed may send nothing before an alert.
        credits_low: a fraction of the plan's credits (RapidOddsAPI) or data points
            (TheRundown); fewer left than this is an alert.
        channel_failing: seconds a channel may fail every attempt before an alert.
        engine_stalled: seconds the engine may leave batches waiting before an alert.
        books_unseen: seconds after start by which every book a rule names (``books``,
            ``sharp``) should have been delivered by some feed.
        recovery: seconds a condition must stay clear before its recovery is alerted (and
            before a new one is alerted afresh): a feed that flaps stays one alert.
        repeat: seconds between reminders while a condition lasts (0: never again).
    """

    notify: tuple[str, ...] | None = None
    feed_down: float = 60.0
    feed_silent: float = 600.0
    credits_low: float = 0.10
    channel_failing: float = 300.0
    engine_stalled: float = 60.0
    books_unseen: float = 900.0
    recovery: float = 30.0
    repeat: float = 6 * 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """A whole, checked configuration.

    Attributes:
        source: the file it was read from (None when built in code, as by the demo).
        feeds: the feeds' settings, in file order; names are unique.
        channels: channel name -> channel.
        rules: in file order; names are unique; every ``notify`` entry names a channel.
        odds_format: how alerts show prices.
        currency: put before stake amounts ("$", "£", "€").
        timezone: the zone start times are shown in.
        state_dir: where the SQLite state lives.
        history_retention: seconds of opportunity history to keep (None: all of it).
        aliases: team name -> the name it stands for, across providers.
        commissions: book -> commission on winnings (exchanges), a fraction.
        flush_timeout: seconds; on shutdown, alerts in flight get this long to go out.
        queue_size: the most alerts waiting per channel; beyond it the oldest is dropped.
        watch_config: reload when the config file changes (SIGHUP always reloads).
        log_level: ``debug``, ``info``, ``warning`` or ``error``.
        status_listen: ``host:port`` where ``/metrics`` and ``/status`` are served (None:
            not served); loopback unless ``status_allow_remote``.
        status_allow_remote: the bettor allowed a non-loopback ``status_listen``.
        names: what the check of books, sports and market names noted (not compared: the
            same settings are the same config).
        health: system alerts: where they go and their thresholds.
        recordings: feed name -> where and how much its traffic is recorded (a feed
            missing here is not recorded); from the feeds' and the top level's ``record``.
    """

    source: Path | None = None
    feeds: tuple[FeedSettings, ...] = ()
    channels: Mapping[str, ChannelConfig] = field(default_factory=dict)
    rules: tuple[RuleConfig, ...] = ()
    odds_format: OddsFormat = OddsFormat.AMERICAN
    currency: str = "$"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    state_dir: Path = Path("state")
    history_retention: float | None = DEFAULT_HISTORY_RETENTION
    aliases: Mapping[str, str] = field(default_factory=dict)
    commissions: Mapping[str, float] = field(default_factory=dict)
    flush_timeout: float = 5.0
    queue_size: int = 100
    watch_config: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    status_listen: str | None = None
    status_allow_remote: bool = False
    health: HealthConfig = field(default_factory=HealthConfig)
    recordings: Mapping[str, RecordSettings] = field(default_factory=dict)
    names: NameCheck = field(default_factory=NameCheck, compare=False)

    def recording(self, feed: str, directory: Path | None = None) -> RecordSettings | None:
        """Where and how much ``feed`` records: None if it does not.

        ``directory`` (``arbwatch run --record DIR``) records every feed there, within the
        limits of the feed's ``record`` settings if it has any, else the defaults.
        """
        configured = self.recordings.get(feed)
        if directory is None:
            return configured
        if configured is None:
            return RecordSettings(dir=directory)
        return dataclasses.replace(configured, dir=directory)

    def secrets(self) -> frozenset[str]:
        """Every secret in the config, for `arbwatch.feeds.base.remember_secrets`.

        The feeds' API keys, the user and password in a ``base_url``, and each channel URL
        whole and its own userinfo (the tokens apprise hides are added by the notifier).
        """
        found: set[str] = set()
        for feed in self.feeds:
            found.add(feed.api_key)
            found.update(url_secrets(feed.base_url))
        for channel in self.channels.values():
            for url in channel.urls:
                found.add(url.reveal())
                found.update(url_secrets(url.reveal()))
        found.discard("")
        return frozenset(found)


#: ``host:port``, or ``[v6 address]:port``.
_LISTEN: Final = re.compile(r"(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]+)):(?P<port>[0-9]{1,5})")


def split_listen(listen: str) -> tuple[str, int]:
    """``127.0.0.1:9464`` -> ``("127.0.0.1", 9464)``; ``[::1]:9464`` -> ``("::1", 9464)``.

    The host is an IP address or ``localhost``: a name could resolve to any address, so
    whether it is loopback could not be told from the config.

    Raises:
        ValueError: it is not ``host:port``. The message adds what is wrong beyond that,
            and is empty when the shape itself is wrong.
    """
    match = _LISTEN.fullmatch(listen.strip())
    if match is None:
        raise ValueError("")
    host = match.group("v6") or match.group("host")
    if host != "localhost":
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError("the host is an IP address or localhost") from None
        if address.version == 4 and match.group("v6") is not None:
            raise ValueError("only an IPv6 address goes in brackets")
    port = int(match.group("port"))
    if not 0 < port < 65536:
        raise ValueError("the port is 1 to 65535")
    return host, port


def is_loopback(host: str) -> bool:
    """Whether ``host`` (as `split_listen` gives it) is reachable from this machine only."""
    return host == "localhost" or ipaddress.ip_address(host).is_loopback
