"""The YAML config loader: the schema, and the checks that turn a file into a `Config`.

Every mistake in the file is collected before anything is refused, so the bettor fixes
them all in one go: `ConfigError` lists each as ``FILE:LINE: PATH: why``. Secrets (feed API
keys, channel URLs) come from the file, from ``${VAR}`` or from a ``*_file``, and are never
quoted in a message.

The key tables below are the schema: a key not in them is refused, and the test of
``config.example.yaml`` checks that every one of them is documented there.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import typing
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo

from arbwatch.config import values
from arbwatch.config.model import (
    DEFAULT_HISTORY_RETENTION,
    ChannelConfig,
    Config,
    HealthConfig,
    Secret,
    is_loopback,
    split_listen,
)
from arbwatch.config.names import check_names
from arbwatch.config.values import InvalidValueError, Section, describe
from arbwatch.config.yamlsource import (
    ListValue,
    MapValue,
    Problems,
    ScalarValue,
    Value,
    YamlSyntaxError,
    read_yaml,
)
from arbwatch.core.devig import DevigMethod
from arbwatch.core.markets import MarketKind, Period, normalize_sport
from arbwatch.core.odds import OddsFormat
from arbwatch.core.rulemodel import InPlay, QuietHours, RuleConfig, RuleKind
from arbwatch.errors import ConfigError
from arbwatch.feeds.base import SettingsError, SettingsProblem, redact
from arbwatch.feeds.registry import PROVIDERS, FeedSettings
from arbwatch.feeds.rotation import RecordSettings
from arbwatch.spelling import did_you_mean

# --- the schema --------------------------------------------------------------------------

# The keys each mapping of the config takes (SCHEMA below says where each mapping sits).
TOP_KEYS: Final = frozenset({
    "odds_format", "currency", "timezone", "bankroll", "stake_round", "state_dir",
    "history_retention", "log_level", "watch_config", "aliases", "commissions", "alerts",
    "feeds", "channels", "rules", "status", "health", "record",
})  # fmt: skip
ALERTS_KEYS: Final = frozenset({"flush_timeout", "queue_size"})
STATUS_KEYS: Final = frozenset({"listen", "allow_remote"})
HEALTH_KEYS: Final = frozenset({
    "notify", "feed_down", "feed_silent", "credits_low", "channel_failing", "engine_stalled",
    "books_unseen", "recovery", "repeat",
})  # fmt: skip
#: The keys of a feed of each provider: its settings' fields, and where the key comes from.
FEED_KEYS: Final[Mapping[str, frozenset[str]]] = {
    name: frozenset({"name", "provider", "api_key", "api_key_file", "record"})
    | {field.name for field in dataclasses.fields(provider.settings)}
    for name, provider in PROVIDERS.items()
}
#: ``record:`` at the top level (every feed) and in a feed (that feed): see `_recordings`.
RECORD_KEYS: Final = frozenset(field.name for field in dataclasses.fields(RecordSettings))
CHANNEL_KEYS: Final = frozenset({
    "url", "urls", "url_file", "freshness", "retries", "retry_initial", "retry_max",
    "odds_format", "group_wait", "group_interval", "max_per_minute",
})  # fmt: skip
#: The keys every rule takes, and those of one kind only.
RULE_COMMON_KEYS: Final = frozenset({
    "name", "kind", "sports", "books", "market_types", "periods", "odds", "starts_within",
    "in_play", "max_quote_age", "bankroll", "stake_round", "notify", "repeat", "improve_by",
    "gone", "quiet_hours", "min_duration",
})  # fmt: skip
ARBITRAGE_KEYS: Final = frozenset({"min_profit", "max_profit", "min_books"})
POSITIVE_EV_KEYS: Final = frozenset({"min_ev", "max_ev", "sharp", "devig", "kelly_fraction"})
BOOKS_KEYS: Final = frozenset({"include", "exclude"})
ODDS_KEYS: Final = frozenset({"min", "max"})
QUIET_HOURS_KEYS: Final = frozenset({"from", "to", "timezone"})

#: Every mapping of the schema, by where it sits, and the keys it takes.
SCHEMA: Final[Mapping[str, frozenset[str]]] = {
    "(top level)": TOP_KEYS,
    "alerts": ALERTS_KEYS,
    "status": STATUS_KEYS,
    "health": HEALTH_KEYS,
    "record": RECORD_KEYS,
    "feeds[]": frozenset().union(*FEED_KEYS.values()),
    "feeds[].record": RECORD_KEYS,
    "channels.*": CHANNEL_KEYS,
    "rules[]": RULE_COMMON_KEYS | ARBITRAGE_KEYS | POSITIVE_EV_KEYS,
    "rules[].books": BOOKS_KEYS,
    "rules[].odds": ODDS_KEYS,
    "rules[].quiet_hours": QUIET_HOURS_KEYS,
}

_PROVIDER_NAMES: Final = {name: name for name in PROVIDERS}
_ODDS_FORMATS: Final = {member.value: member for member in OddsFormat}
_LOG_LEVELS: Final[Mapping[str, Literal["debug", "info", "warning", "error"]]] = {
    "debug": "debug", "info": "info", "warning": "warning", "error": "error",
}  # fmt: skip
_RULE_KINDS: Final[Mapping[str, RuleKind]] = {
    "arbitrage": "arbitrage", "positive_ev": "positive_ev",
}  # fmt: skip
_IN_PLAY: Final[Mapping[str, InPlay]] = {"any": "any", "live": "live", "pre_match": "pre_match"}
_MARKET_KINDS: Final = {member.value: member for member in MarketKind}
_PERIODS: Final = {member.value: member for member in Period}
_DEVIG_METHODS: Final = {member.value: member for member in DevigMethod}

#: What to say about a key of the other kind of rule.
_MISPLACED: Final[Mapping[RuleKind, Mapping[str, str]]] = {
    "arbitrage": {
        "min_ev": "min_ev is for positive_ev rules; an arbitrage rule takes min_profit",
        "max_ev": "max_ev is for positive_ev rules; an arbitrage rule takes max_profit",
        **{
            key: f"{key} is for positive_ev rules only"
            for key in ("sharp", "devig", "kelly_fraction")
        },
    },
    "positive_ev": {
        "min_profit": "min_profit is for arbitrage rules; a positive_ev rule takes min_ev",
        "max_profit": "max_profit is for arbitrage rules; a positive_ev rule takes max_ev",
        "min_books": "min_books is for arbitrage rules only (an EV bet is at one book)",
    },
}
#: What to say about a key of another provider's feeds.
_MISPLACED_FEED_KEYS: Final[Mapping[str, Mapping[str, str]]] = {
    provider: {
        key: f"{key} is a setting of "
        + ", ".join(other for other, keys in FEED_KEYS.items() if key in keys)
        + " feeds only"
        for key in SCHEMA["feeds[]"] - own
    }
    for provider, own in FEED_KEYS.items()
}
#: The keys holding a rule's thresholds, by kind.
_THRESHOLD_KEYS: Final[Mapping[RuleKind, tuple[str, str]]] = {
    "arbitrage": ("min_profit", "max_profit"),
    "positive_ev": ("min_ev", "max_ev"),
}

#: Feed settings that are not read by their type: a rate is a number, not seconds.
_FEED_FIELD_READERS_BY_NAME: Final[Mapping[str, Callable[[Value], object]]] = {
    "max_requests_per_second": partial(values.number, above=0.0),
    # Decimal odds, not seconds: above 1.0 (a price of 1.0 returns only the stake).
    "max_price": partial(values.number, above=1.0),
}
#: How a feed setting is read, by its type. Every other float setting of a feed is
#: seconds; the settings classes check ranges themselves (some take zero, some do not).
_FEED_FIELD_READERS: Final[Mapping[object, Callable[[Value], object]]] = {
    str: values.text,
    float: partial(values.duration, positive=False),
    int: values.integer,
    bool: values.boolean,
    tuple[str, ...]: partial(values.names, allow_empty=True),
    tuple[int, ...]: values.whole_numbers,
}
#: Where a file is named in messages when it was read from a string.
UNNAMED_SOURCE: Final = "<config>"
#: The largest config file read. A real one is a few kilobytes (config.example.yaml is
#: under 4 KB, and a thousand team aliases add about 40 KB); PyYAML reads some 200 KB a
#: second, so this bounds a check or a reload at a few seconds.
MAX_CONFIG_BYTES: Final = 1024 * 1024


# --- entry points ------------------------------------------------------------------------


def load_config(
    path: Path, env: Mapping[str, str] | None = None, *, secrets: bool = True
) -> Config:
    """Read and check the config file at ``path``.

    Args:
        path: the YAML file; messages name it as given.
        env: where ``${VAR}`` and the state directory's defaults come from (default:
            ``os.environ``).
        secrets: whether the feeds' keys and the channels' URLs must be there. Commands
            that only read the state directory or ask the status listener (``history``,
            ``status``) pass False: then an unset ``${VAR}`` or an unreadable file there is
            no problem, and the feeds and channels are incomplete in the result (a feed
            without its key is left out): such a config is never run.

    Raises:
        ConfigError: every problem found, or why the file could not be read.
    """
    text = read_config_text(path)
    return parse_config(text, source=path, env=os.environ if env is None else env, secrets=secrets)


def read_config_text(path: Path) -> str:
    """The text of the config file at ``path``, read only if it is a file of sane size.

    Raises:
        ConfigError: it cannot be read, is not a regular file (a FIFO would block the read
            until something writes to it), is over `MAX_CONFIG_BYTES`, or is not UTF-8.
    """
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ConfigError(f"{path}: not a regular file")
        with path.open("rb") as file:
            # One byte more than allowed tells a file too large without reading all of it.
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the file: {error.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: the file is over {MAX_CONFIG_BYTES // 1024} KB, too large for a config"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(f"{path}:{line}: the file is not UTF-8 text") from None
    if not text.strip():
        # Not three "missing" lines for feeds, channels and rules: one that says why.
        raise ConfigError(
            f"{path}: the file is empty; a config needs feeds, channels and rules "
            "(see config.example.yaml)"
        )
    return text


def parse_config(
    text: str, *, source: Path | None, env: Mapping[str, str], secrets: bool = True
) -> Config:
    """Check the YAML config in ``text``.

    Args:
        text: the YAML.
        source: the file it came from: named in messages (``<config>`` when None), and
            relative paths in it are relative to its directory (else to the current one).
        env: where ``${VAR}`` and the state directory's defaults come from.
        secrets: whether the secrets must be there (see `load_config`).

    Raises:
        ConfigError: every problem found, redacted.
    """
    problems = Problems(
        UNNAMED_SOURCE if source is None else str(source),
        ignore=None if secrets else _holds_secret,
    )
    try:
        root = read_yaml(text, env, problems)
    except YamlSyntaxError as error:
        raise ConfigError(
            f"{problems.source_name}:{error.line}: not valid YAML: {error.why}"
        ) from None
    base = source.absolute().parent if source is not None else Path.cwd()
    config = check_names(root, _Reader(problems, base, env).config(root, source), problems)
    if problems:
        # Messages quote what was written, and a base_url may carry a password.
        raise ConfigError([redact(message) for message in problems.messages()])
    return config


#: Where secrets sit: a feed's key and base URL (its userinfo), and everything of a channel.
_SECRET_PATH: Final = re.compile(
    r"feeds\[\d+\]\.(?:api_key|api_key_file|base_url)|channels(?:\.|\[).*"
)


def _holds_secret(path: str) -> bool:
    """Whether a problem at ``path`` is about a secret (see `load_config`)."""
    return _SECRET_PATH.fullmatch(path) is not None


# --- reading -----------------------------------------------------------------------------


class _Reader:
    """Reads one config document, recording every problem in ``problems``."""

    def __init__(self, problems: Problems, base: Path, env: Mapping[str, str]) -> None:
        self._problems = problems
        self._base = base
        self._env = env

    def config(self, root: Value, source: Path | None) -> Config:
        """The whole config (meaningful only if no problem was recorded)."""
        if not isinstance(root, MapValue):
            self._problems.at(
                root, f"expected a mapping of settings (key: value), got {describe(root)}"
            )
            return Config(source=source)
        top = Section(root, TOP_KEYS, self._problems)
        top.reject_unknown()
        timezone = top.get("timezone", values.zone, ZoneInfo("UTC"))
        alerts = Section(top.mapping.entries.get("alerts", _EMPTY), ALERTS_KEYS, self._problems)
        alerts.reject_unknown()
        channels = self._channels(top)
        rule_defaults = _RuleDefaults(
            timezone=timezone,
            bankroll=top.get("bankroll", partial(values.number, above=0.0), 1000.0),
            stake_round=top.get("stake_round", partial(values.number, minimum=0.0), 0.0),
        )
        status_listen, status_allow_remote = self._status(top)
        feeds = self._feeds(top)
        return Config(
            source=source,
            feeds=feeds,
            recordings=self._recordings(top, feeds),
            channels=channels,
            rules=self._rules(top, rule_defaults, channels),
            odds_format=top.get(
                "odds_format", partial(values.choice, options=_ODDS_FORMATS), OddsFormat.AMERICAN
            ),
            currency=top.get("currency", values.text, "$"),
            timezone=timezone,
            state_dir=self._state_dir(top),
            aliases=self._aliases(top),
            commissions=self._commissions(top),
            flush_timeout=alerts.get("flush_timeout", values.duration, 5.0),
            queue_size=alerts.get("queue_size", partial(values.integer, minimum=1), 100),
            watch_config=top.get("watch_config", values.boolean, True),
            history_retention=(
                top.get(
                    "history_retention",
                    partial(values.duration, positive=False),
                    DEFAULT_HISTORY_RETENTION,
                )
                or None
            ),
            log_level=top.get("log_level", partial(values.choice, options=_LOG_LEVELS), "info"),
            status_listen=status_listen,
            status_allow_remote=status_allow_remote,
            health=self._health(top, channels),
        )

    # --- top level ---

    def _state_dir(self, top: Section) -> Path:
        """``state_dir``, else systemd's, XDG's or the home directory's state directory."""
        written = top.find("state_dir", values.text)
        if written is not None:
            return self._path(written)
        systemd = self._env.get("STATE_DIRECTORY", "")
        if systemd:
            # systemd joins several StateDirectory= entries with ':'; ours is the first.
            return Path(systemd.split(":")[0])
        xdg = self._env.get("XDG_STATE_HOME", "")
        # The XDG spec says to ignore a relative XDG_STATE_HOME.
        if xdg and Path(xdg).is_absolute():
            return Path(xdg) / "arbwatch"
        return self._home() / ".local" / "state" / "arbwatch"

    def _status(self, top: Section) -> tuple[str | None, bool]:
        """``status: {listen, allow_remote}``: where to serve status (None: nowhere)."""
        if "status" not in top:
            return None, False
        written = top.mapping.entries["status"]
        status = Section(written, STATUS_KEYS, self._problems, "listen and allow_remote")
        if not isinstance(written, MapValue):
            return None, False
        status.reject_unknown()
        listen = status.require("listen", _listen, f"host:port like {_LISTEN_EXAMPLE}")
        allow_remote = status.get("allow_remote", values.boolean, False)
        if listen is None:
            return None, False
        if not allow_remote and not is_loopback(split_listen(listen)[0]):
            # Loopback by default: the metrics name every feed, channel and opportunity.
            status.report(
                "listen",
                f"{listen} is not a loopback address, so anyone who can reach this machine "
                "could read the metrics and status: listen on 127.0.0.1, or set "
                "status.allow_remote: true",
            )
            return None, False
        return listen, allow_remote

    def _health(self, top: Section, channels: Mapping[str, ChannelConfig]) -> HealthConfig:
        """``health:``: where system alerts go, and the thresholds that raise them."""
        if "health" not in top:
            return HealthConfig()
        health = Section(top.mapping.entries["health"], HEALTH_KEYS, self._problems, "health")
        health.reject_unknown()
        # Without ``notify``, every channel: a bettor who set up none still hears of it.
        notify = self._notify(health, set(channels)) if "notify" in health else None
        defaults = HealthConfig()
        return HealthConfig(
            notify=notify,
            feed_down=health.get("feed_down", values.duration, defaults.feed_down),
            feed_silent=health.get("feed_silent", values.duration, defaults.feed_silent),
            credits_low=health.get(
                "credits_low", partial(values.percentage, below=1.0), defaults.credits_low
            ),
            channel_failing=health.get(
                "channel_failing", values.duration, defaults.channel_failing
            ),
            engine_stalled=health.get("engine_stalled", values.duration, defaults.engine_stalled),
            books_unseen=health.get("books_unseen", values.duration, defaults.books_unseen),
            recovery=health.get(
                "recovery", partial(values.duration, positive=False), defaults.recovery
            ),
            repeat=health.get("repeat", partial(values.duration, positive=False), defaults.repeat),
        )

    def _home(self) -> Path:
        """The home directory: ``$HOME`` in the environment given, else the user's."""
        home = self._env.get("HOME")
        return Path(home) if home else Path.home()

    def _path(self, written: str) -> Path:
        """A path from the file: ``~`` is the home directory, relative is to the file's."""
        if written == "~" or written.startswith("~/"):
            return self._home() / written[2:]
        return self._base / written

    def _aliases(self, top: Section) -> dict[str, str]:
        """``aliases``: team name -> the name it stands for."""
        aliases = Section(top.mapping.entries.get("aliases", _EMPTY), (), self._problems, "names")
        found: dict[str, str] = {}
        for name in aliases.mapping.entries:
            if not name.strip():
                aliases.report(name, "a name to replace must not be blank")
            elif (meaning := aliases.find(name, values.text)) is not None:
                found[name.strip()] = meaning.strip()
        return found

    def _commissions(self, top: Section) -> dict[str, float]:
        """``commissions``: book -> commission on winnings."""
        written = Section(
            top.mapping.entries.get("commissions", _EMPTY), (), self._problems, "books"
        )
        found: dict[str, float] = {}
        for book in written.mapping.entries:
            rate = written.find(book, partial(values.percentage, below=1.0))
            if rate is not None:
                found[book] = rate
        return found

    # --- feeds ---

    def _feeds(self, top: Section) -> tuple[FeedSettings, ...]:
        """``feeds``: each feed's settings, names unique."""
        listed = top.require("feeds", partial(_listed, what="a list of feeds"), "at least one feed")
        feeds: list[FeedSettings] = []
        seen: dict[str, int] = {}
        for value in listed or ():
            feed = self._feed(value, seen)
            if feed is not None:
                feeds.append(feed)
        return tuple(feeds)

    def _feed(self, value: Value, seen: dict[str, int]) -> FeedSettings | None:
        """One feed's settings, or None after recording why not."""
        if not isinstance(value, MapValue):
            self._problems.at(
                value, f"expected a mapping of feed settings (key: value), got {describe(value)}"
            )
            return None
        before = len(self._problems)
        provider_names = ", ".join(PROVIDERS)
        probe = Section(value, (), self._problems)
        provider = probe.require(
            "provider", partial(values.choice, options=_PROVIDER_NAMES), f"one of {provider_names}"
        )
        feed = Section(
            probe.mapping, FEED_KEYS[provider] if provider else SCHEMA["feeds[]"], self._problems
        )
        feed.reject_unknown(_MISPLACED_FEED_KEYS.get(provider or ""))
        name = self._unique_name(feed, seen, "feed")
        api_key = self._feed_key(feed)
        if provider is None:
            return None
        settings = PROVIDERS[provider].settings
        fields: dict[str, object] = {}
        hints = typing.get_type_hints(settings)
        for field in dataclasses.fields(settings):
            if field.name in ("name", "api_key"):
                continue
            if field.name in feed:
                reader = (
                    _FEED_FIELD_READERS_BY_NAME.get(field.name)
                    or _FEED_FIELD_READERS[hints[field.name]]
                )
                read = feed.find(field.name, reader)
                if read is not None:
                    fields[field.name] = read
            elif field.default is dataclasses.MISSING:
                feed.report(field.name, "missing (required)")
        if name is None or api_key is None or len(self._problems) > before:
            return None
        try:
            built: FeedSettings = settings(name=name, api_key=api_key, **fields)
        except SettingsError as error:
            for problem in error.problems:
                self._settings_problem(feed, problem)
            return None
        return built

    def _recordings(
        self, top: Section, feeds: tuple[FeedSettings, ...]
    ) -> dict[str, RecordSettings]:
        """Each recorded feed's ``record``: its own, else the top level's.

        ``record: DIR`` or ``record: {dir: DIR, max_file_bytes: ..., ...}``. The top level's
        records every feed; a feed's replaces it for that feed, taking what it does not say
        (``dir`` included) from the top level's, and ``record: false`` leaves the feed out.
        Relative directories are the config file's.
        """
        default = self._record(top, None) if "record" in top else None
        built = {feed.name for feed in feeds}
        found: dict[str, RecordSettings] = {}
        listed = top.mapping.entries.get("feeds")
        for value in listed.items if isinstance(listed, ListValue) else ():
            if not isinstance(value, MapValue):
                continue  # refused as a feed already
            name = value.entries.get("name")
            if not (isinstance(name, ScalarValue) and str(name.data).strip() in built):
                continue  # a feed refused: its record would not be used
            feed = Section(value, SCHEMA["feeds[]"], self._problems)
            record = self._record(feed, default) if "record" in feed else default
            if record is not None:
                found[str(name.data).strip()] = record
        return found

    def _record(self, parent: Section, default: RecordSettings | None) -> RecordSettings | None:
        """``parent``'s ``record`` (written), on top of ``default``; None for false."""
        written = parent.mapping.entries["record"]
        if isinstance(written, MapValue):
            return self._record_settings(written, default)
        if isinstance(written, ScalarValue) and isinstance(written.data, bool):
            if written.data and default is None:
                parent.report("record", "true needs a directory: write record: DIR")
            return default if written.data else None
        directory = parent.find("record", values.text)
        if directory is None:
            return None
        return dataclasses.replace(default or RecordSettings(dir=Path()), dir=self._path(directory))

    def _record_settings(
        self, written: MapValue, default: RecordSettings | None
    ) -> RecordSettings | None:
        """``record: {dir: ..., max_file_bytes: ..., ...}``, on top of ``default``."""
        record = Section(written, RECORD_KEYS, self._problems, "recording settings")
        record.reject_unknown()
        directory = record.find("dir", values.text)
        base = default or RecordSettings(dir=Path())
        built = RecordSettings(
            dir=base.dir if directory is None else self._path(directory),
            max_file_bytes=record.get("max_file_bytes", values.size, base.max_file_bytes),
            rotate_every=record.get("rotate_every", values.duration, base.rotate_every),
            max_total_bytes=record.get("max_total_bytes", values.size, base.max_total_bytes),
            keep_for=record.get("keep_for", values.duration, base.keep_for),
        )
        if "dir" not in record and default is None:
            record.report("dir", "missing (required): the directory to record to")
            return None
        return built

    def _settings_problem(self, feed: Section, problem: SettingsProblem) -> None:
        """A feed settings class's refusal, at the line of its key when the key is written."""
        if problem.key and problem.key in feed:
            feed.report(problem.key, problem.reason)
        else:
            # A key not written (api_key from api_key_file) or none: said on the feed.
            where = f"{problem.key}: " if problem.key else ""
            self._problems.at(feed.mapping, where + problem.reason)

    def _feed_key(self, feed: Section) -> str | None:
        """The feed's API key, from ``api_key`` or ``api_key_file``."""
        if "api_key" in feed and "api_key_file" in feed:
            feed.report("api_key_file", "give api_key or api_key_file, not both")
            return None
        if "api_key_file" in feed:
            return self._secret_file(feed, "api_key_file")
        return feed.require("api_key", values.secret, "give api_key or api_key_file")

    def _secret_file(self, section: Section, key: str) -> str | None:
        """The contents of the file named by ``key``, stripped; problems name the file only."""
        written = section.find(key, values.text)
        if written is None:
            return None
        path = self._path(written)
        try:
            return path.read_text(encoding="utf-8-sig").strip()
        except OSError as error:
            section.report(key, f"cannot read {path}: {error.strerror}")
        except UnicodeDecodeError:
            section.report(key, f"{path} is not UTF-8 text")
        return None

    def _unique_name(self, section: Section, seen: dict[str, int], what: str) -> str | None:
        """The section's ``name``, refused if another ``what`` has it already."""
        name = section.require("name", values.text)
        if name is None:
            return None
        name = name.strip()
        if name in seen:
            section.report("name", f"another {what} is named {name!r} (line {seen[name]})")
            return None
        seen[name] = section.line("name")
        return name

    # --- channels ---

    def _channels(self, top: Section) -> dict[str, ChannelConfig]:
        """``channels``: name -> channel, each URL checked with apprise."""
        if "channels" not in top:
            top.report(
                "channels", "missing (required): at least one channel, e.g. phone: tgram://..."
            )
        listed = Section(
            top.mapping.entries.get("channels", _EMPTY), (), self._problems, "channel names"
        )
        if isinstance(top.mapping.entries.get("channels"), MapValue) and not listed.mapping.entries:
            top.report("channels", "expected at least one channel, got none")
        channels: dict[str, ChannelConfig] = {}
        for name, value in listed.mapping.entries.items():
            if not name.strip():
                listed.report(name, "a channel's name must not be blank")
                continue
            channel = self._channel(name, value)
            if channel is not None:
                channels[name] = channel
        return channels

    def _channel(self, name: str, value: Value) -> ChannelConfig | None:
        """One channel; a bare URL is a channel with every setting at its default."""
        before = len(self._problems)
        if isinstance(value, ScalarValue):
            url = self._url(value)
            return ChannelConfig(name=name, urls=(url,)) if url is not None else None
        channel = Section(value, CHANNEL_KEYS, self._problems, "channel settings")
        channel.reject_unknown()
        urls = self._channel_urls(channel)
        retry_initial = channel.get("retry_initial", values.duration, 1.0)
        retry_max = channel.get("retry_max", values.duration, 30.0)
        if retry_max < retry_initial:
            channel.report("retry_max", "must not be below retry_initial")
        settings = ChannelConfig(
            name=name,
            urls=urls,
            freshness=channel.get("freshness", values.duration, 120.0),
            retries=channel.get("retries", partial(values.integer, minimum=0), 5),
            retry_initial=retry_initial,
            retry_max=retry_max,
            odds_format=channel.find("odds_format", partial(values.choice, options=_ODDS_FORMATS)),
            group_wait=channel.get("group_wait", partial(values.duration, positive=False), 0.5),
            group_interval=channel.get(
                "group_interval", partial(values.duration, positive=False), 30.0
            ),
            max_per_minute=channel.get("max_per_minute", partial(values.integer, minimum=0), 6),
        )
        return settings if len(self._problems) == before else None

    def _channel_urls(self, channel: Section) -> tuple[Secret, ...]:
        """The channel's URLs, from exactly one of ``url``, ``urls`` and ``url_file``."""
        given = [key for key in ("url", "urls", "url_file") if key in channel]
        if not given:
            channel.report("url", "missing (required): give url, urls or url_file")
        for extra in given[1:]:
            channel.report(extra, "give only one of url, urls and url_file")
        if given != ["url_file"]:
            listed = channel.find("urls", partial(_listed, what="a list of apprise URLs")) or ()
            single = channel.mapping.entries.get("url")
            found = [self._url(value) for value in (*listed, *([single] if single else []))]
            return tuple(url for url in found if url is not None)
        contents = self._secret_file(channel, "url_file")
        if contents is None:
            return ()
        lines = [line.strip() for line in contents.splitlines()]
        urls = [line for line in lines if line and not line.startswith("#")]
        if not urls:
            channel.report("url_file", "the file holds no URL")
        secrets: list[Secret] = []
        for number, url in enumerate(urls, start=1):
            why = _url_problem(url)
            if why is None:
                secrets.append(Secret(url))
            else:
                channel.report("url_file", f"URL {number} in the file: {why}")
        return tuple(secrets)

    def _url(self, value: Value) -> Secret | None:
        """One apprise URL written in the file, checked."""
        try:
            url = values.secret(value).strip()
        except values.AlreadyReportedError:
            return None
        except InvalidValueError as error:
            self._problems.at(value, error.why)
            return None
        why = _url_problem(url)
        if why is not None:
            self._problems.at(value, why)
            return None
        return Secret(url)

    # --- rules ---

    def _rules(
        self, top: Section, defaults: _RuleDefaults, channels: Mapping[str, ChannelConfig]
    ) -> tuple[RuleConfig, ...]:
        """``rules``: each rule, names unique, every ``notify`` entry a channel."""
        listed = top.require("rules", partial(_listed, what="a list of rules"), "at least one rule")
        # A channel that has problems of its own still counts as named: one mistake, one message.
        channel_names = set(channels)
        if isinstance(written := top.mapping.entries.get("channels"), MapValue):
            channel_names |= set(written.entries)
        rules: list[RuleConfig] = []
        seen: dict[str, int] = {}
        for value in listed or ():
            rule = self._rule(value, defaults, channel_names, seen)
            if rule is not None:
                rules.append(rule)
        return tuple(rules)

    def _rule(
        self, value: Value, defaults: _RuleDefaults, channel_names: set[str], seen: dict[str, int]
    ) -> RuleConfig | None:
        """One rule, or None after recording why not."""
        if not isinstance(value, MapValue):
            self._problems.at(
                value, f"expected a mapping of rule settings (key: value), got {describe(value)}"
            )
            return None
        before = len(self._problems)
        probe = Section(value, (), self._problems)
        kind = probe.require(
            "kind", partial(values.choice, options=_RULE_KINDS), "arbitrage or positive_ev"
        )
        keys = RULE_COMMON_KEYS | {
            "arbitrage": ARBITRAGE_KEYS,
            "positive_ev": POSITIVE_EV_KEYS,
        }.get(kind or "", ARBITRAGE_KEYS | POSITIVE_EV_KEYS)
        rule = Section(probe.mapping, keys, self._problems)
        rule.reject_unknown(_MISPLACED[kind] if kind else None)
        name = self._unique_name(rule, seen, "rule")
        notify = self._notify(rule, channel_names)
        min_key, max_key = _THRESHOLD_KEYS[kind or "arbitrage"]
        min_value = rule.get(min_key, values.threshold, 0.0)
        max_value = rule.get(max_key, values.threshold, float("inf"))
        if max_value < min_value:
            rule.report(max_key, f"must not be below {min_key}")
        min_odds, max_odds = self._odds_range(rule)
        include, exclude = self._books(rule)
        sharp: tuple[str, ...] = ()
        if kind == "positive_ev":
            sharp = (
                rule.require(
                    "sharp", values.names, "the books whose prices are fair, e.g. [Pinnacle]"
                )
                or ()
            )
        kelly = rule.get("kelly_fraction", partial(values.number, above=0.0, at_most=1.0), 0.25)
        sports = rule.find("sports", values.names)
        built = RuleConfig(
            name=name or "",
            kind=kind or "arbitrage",
            notify=notify,
            sports=frozenset(map(normalize_sport, sports)) if sports else None,
            books=include,
            excluded_books=exclude,
            market_types=rule.find("market_types", partial(values.choices, options=_MARKET_KINDS)),
            periods=rule.find("periods", partial(values.choices, options=_PERIODS)),
            min_odds=min_odds,
            max_odds=max_odds,
            min_value=min_value,
            max_value=max_value,
            starts_within=rule.find("starts_within", values.duration),
            in_play=rule.get("in_play", partial(values.choice, options=_IN_PLAY), "any"),
            max_quote_age=rule.get("max_quote_age", values.duration, 120.0),
            sharp=sharp,
            devig=rule.get(
                "devig", partial(values.choice, options=_DEVIG_METHODS), DevigMethod.WORST_CASE
            ),
            kelly_fraction=kelly,
            bankroll=rule.get("bankroll", partial(values.number, above=0.0), defaults.bankroll),
            stake_round=rule.get(
                "stake_round", partial(values.number, minimum=0.0), defaults.stake_round
            ),
            repeat=rule.get("repeat", values.duration, 600.0),
            improve_by=rule.get("improve_by", values.percentage, 0.005),
            gone=rule.get("gone", values.boolean, False),
            quiet_hours=self._quiet_hours(rule, defaults.timezone),
            min_books=rule.get("min_books", partial(values.integer, minimum=1), 2),
            min_duration=rule.get("min_duration", partial(values.duration, positive=False), 0.3),
        )
        return built if len(self._problems) == before else None

    def _notify(self, rule: Section, channel_names: set[str]) -> tuple[str, ...]:
        """``notify``: channel names, each one that exists (reported at its own line)."""
        listed = rule.require("notify", values.names, "the channels to alert, e.g. [phone]")
        if listed is None:
            return ()
        written = rule.mapping.entries["notify"]
        # `values.names` took it, so it is a list of text.
        for item in written.items if isinstance(written, ListValue) else ():
            name = values.text(item).strip()
            if name not in channel_names:
                hint = did_you_mean(name, channel_names)
                self._problems.at(
                    item, f"no channel named {name!r}" + (f", {hint}" if hint else "")
                )
        return listed

    def _odds_range(self, rule: Section) -> tuple[float, float]:
        """``odds: {min, max}`` as decimal odds."""
        if "odds" not in rule:
            return 1.0, float("inf")
        bounds = Section(rule.mapping.entries["odds"], ODDS_KEYS, self._problems, "min and max")
        bounds.reject_unknown()
        low = bounds.get("min", values.odds, 1.0)
        high = bounds.get("max", values.odds, float("inf"))
        if high < low:
            bounds.report("max", "must not be below min")
        return low, high

    def _books(self, rule: Section) -> tuple[frozenset[str] | None, frozenset[str]]:
        """``books``: a list to include, or ``{include: [...], exclude: [...]}``."""
        written = rule.mapping.entries.get("books")
        if written is None:
            return None, frozenset()
        if isinstance(written, ListValue):
            include = rule.find("books", values.names)
            return (frozenset(include) if include else None), frozenset()
        books = Section(written, BOOKS_KEYS, self._problems, "include and exclude")
        books.reject_unknown()
        include = books.find("include", values.names)
        exclude = books.find("exclude", values.names) or ()
        return (frozenset(include) if include else None), frozenset(exclude)

    def _quiet_hours(self, rule: Section, timezone: ZoneInfo) -> QuietHours | None:
        """``quiet_hours: {from, to, timezone}``; the zone defaults to the config's."""
        if "quiet_hours" not in rule:
            return None
        span = Section(
            rule.mapping.entries["quiet_hours"],
            QUIET_HOURS_KEYS,
            self._problems,
            "from, to and timezone",
        )
        span.reject_unknown()
        start = span.require("from", values.clock, 'a time of day like "23:00"')
        end = span.require("to", values.clock, 'a time of day like "07:00"')
        zone = span.get("timezone", values.zone, timezone)
        if start is None or end is None:
            return None
        if start == end:
            self._problems.at(span.mapping, "from and to must differ")
            return None
        return QuietHours(start=start, end=end, timezone=zone)


@dataclasses.dataclass(frozen=True, slots=True)
class _RuleDefaults:
    """What a rule takes from the top level when it does not say."""

    timezone: ZoneInfo
    bankroll: float
    stake_round: float


#: The status listener's address, as messages show it.
_LISTEN_EXAMPLE: Final = "127.0.0.1:9464"
#: Stands in for a section that is not written (read as an empty mapping).
_EMPTY: Final = MapValue(line=1, path="", entries={}, key_lines={})


def _listen(value: Value) -> str:
    """``host:port`` to listen on (see `split_listen`)."""
    if isinstance(value, ScalarValue) and value.flawed:
        raise values.AlreadyReportedError(value)
    data = value.data if isinstance(value, ScalarValue) else None
    what = f"host:port like {_LISTEN_EXAMPLE}"
    if not isinstance(data, str):
        raise values.expected(what, value)
    try:
        split_listen(data)
    except ValueError as error:
        raise values.expected(what, value, str(error)) from None
    return data.strip()


def _listed(value: Value, what: str) -> tuple[Value, ...]:
    """A non-empty list's items."""
    if not isinstance(value, ListValue) or not value.items:
        raise values.expected(what, value)
    return value.items


def _url_problem(url: str) -> str | None:
    """Why apprise cannot use ``url``, or None: `arbwatch.notify.urls.apprise_url_problem`."""
    # Imported at the first URL checked, not with the loader: apprise and its plugins take
    # about 0.27 s to import (measured beside the loader), which whatever imports the loader
    # without reading a config (the CLI, replay, tests) would otherwise pay.
    from arbwatch.notify.urls import apprise_url_problem  # noqa: PLC0415

    return apprise_url_problem(url)
