"""The typed configuration: what `arbwatch.config.load` builds from YAML.

Every value here is already checked and in engine units: fractions (0.03 for 3%), seconds,
decimal odds. Nothing in this module reads files or the environment.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo

from arbwatch.core.devig import DevigMethod
from arbwatch.core.markets import MarketKind, Period
from arbwatch.core.odds import OddsFormat
from arbwatch.feeds.base import REDACTED, url_secrets
from arbwatch.feeds.rapidodds_feed import RapidOddsSettings
from arbwatch.feeds.rundown_feed import RundownSettings

#: A feed's settings; `arbwatch.feeds.rundown_v1_feed.RundownV1Settings` is a
#: `RundownSettings`, so the V1 feed is covered too.
FeedSettings = RapidOddsSettings | RundownSettings

#: What a rule alerts on.
RuleKind = Literal["arbitrage", "positive_ev"]

#: Whether a rule wants games in play, games not yet started, or both.
InPlay = Literal["any", "live", "pre_match"]

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


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily span in a time zone when a rule sends nothing.

    ``start`` may be after ``end``: 23:00-07:00 spans midnight. ``start == end`` is refused
    by the loader.
    """

    start: dt.time
    end: dt.time
    timezone: ZoneInfo

    def contains(self, now: float) -> bool:
        """Whether the epoch time ``now`` falls in the quiet span (start inclusive)."""
        local = dt.datetime.fromtimestamp(now, self.timezone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleConfig:
    """One alerting rule, as the bettor wrote it (defaults filled in, units converted).

    Attributes:
        name: unique among rules; names the rule in alerts, logs and history.
        kind: ``arbitrage`` or ``positive_ev``.
        notify: the channel names to send to (each one exists in `Config.channels`).
        sports: sport names as the engine spells them (upper case, "NBA"); None for all.
        books: the books a bettor may bet into; None for every book.
        excluded_books: books never bet into (applied after ``books``).
        market_types: None for every kind of market.
        periods: None for every period.
        min_odds / max_odds: decimal bounds on every leg's quoted price.
        min_value / max_value: profit (arbitrage) or EV (positive_ev) as fractions; the
            maximum guards against stale or palpable lines.
        starts_within: seconds; only games starting within this long from now (None: any).
        in_play: ``any``, ``live`` (started) or ``pre_match`` (not started).
        max_quote_age: seconds; older quotes never form an opportunity.
        sharp: positive_ev only: the books whose devigged prices are the fair price.
        devig: positive_ev only: how the sharp books' margin is removed.
        kelly_fraction: positive_ev only: the share of the full Kelly stake.
        bankroll: the amount stakes are worked out for.
        stake_round: stakes are rounded to multiples of this (0: not rounded).
        repeat: seconds; the same opportunity is alerted again no sooner than this.
        improve_by: a fraction; alerted again at once when the value has risen this much
            above the value last alerted (0.005: half a percentage point).
        gone: send a follow-up when an alerted opportunity disappears.
        quiet_hours: when nothing is sent for this rule (None: never quiet).
        min_books: arbitrage only: the fewest different books its legs may be at (2: an
            arbitrage within one book, almost always a stale side, is left out).
        min_duration: seconds an opportunity must last before it is alerted, so a price
            that blinks is never pushed (nor its GONE).
    """

    name: str
    kind: RuleKind
    notify: tuple[str, ...]
    sports: frozenset[str] | None = None
    books: frozenset[str] | None = None
    excluded_books: frozenset[str] = frozenset()
    market_types: frozenset[MarketKind] | None = None
    periods: frozenset[Period] | None = None
    min_odds: float = 1.0
    max_odds: float = math.inf
    min_value: float = 0.0
    max_value: float = math.inf
    starts_within: float | None = None
    in_play: InPlay = "any"
    max_quote_age: float = 120.0
    sharp: tuple[str, ...] = ()
    devig: DevigMethod = DevigMethod.WORST_CASE
    kelly_fraction: float = 0.25
    bankroll: float = 1000.0
    stake_round: float = 0.0
    repeat: float = 600.0
    improve_by: float = 0.005
    gone: bool = False
    quiet_hours: QuietHours | None = None
    min_books: int = 2
    min_duration: float = 0.3


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
    group_wait: float = 1.5
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
    names: NameCheck = field(default_factory=NameCheck, compare=False)

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
