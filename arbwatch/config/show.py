"""What ``arbwatch check-config`` and ``arbwatch show-config`` print.

Neither ever prints a secret: channels are summed up by their apprise scheme (``tgram``),
and the effective configuration shows API keys and URLs as `REDACTED`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from arbwatch.config.load import load_config
from arbwatch.config.model import ChannelConfig, Config, HealthConfig
from arbwatch.config.names import name_lines
from arbwatch.core.odds import OddsFormat, format_odds, parse_odds
from arbwatch.core.rulemodel import QuietHours, RuleConfig
from arbwatch.errors import ConfigError
from arbwatch.feeds.base import MIN_REMEMBERED_LENGTH, REDACTED, redact
from arbwatch.feeds.registry import FeedSettings, provider_of


def check_config(path: Path, env: Mapping[str, str] | None = None) -> tuple[bool, list[str]]:
    """Load the config at ``path`` and say what it does, or what is wrong with it.

    Args:
        path: the YAML file.
        env: the environment for ``${VAR}`` (default: ``os.environ``).

    Returns:
        Whether it can be used, and the lines to print: ``FILE: OK``, one line per feed,
        channel and rule, then the names taken in a provider's spelling (``note:``) and
        those no catalog knows (``warning:``); or every problem, one per line.
    """
    try:
        config = load_config(path, env)
    except ConfigError as error:
        return False, list(error.problems)
    return True, [
        f"{path}: OK",
        *(_feed_line(feed) for feed in config.feeds),
        *(_channel_line(channel) for channel in config.channels.values()),
        *(_rule_line(rule) for rule in config.rules),
        *name_lines(config.names),
    ]


def _feed_line(feed: FeedSettings) -> str:
    """``feed NAME (PROVIDER): what it watches``."""
    provider = provider_of(feed)
    return f"feed {feed.name} ({provider.name}): {provider.watches(feed)}"


def _channel_line(channel: ChannelConfig) -> str:
    """``channel NAME: SCHEMES`` (the scheme of each URL, never the URL)."""
    schemes = dict.fromkeys(url.reveal().partition("://")[0].lower() for url in channel.urls)
    return f"channel {channel.name}: {', '.join(schemes)}"


def _rule_line(rule: RuleConfig) -> str:
    """``rule NAME: KIND, THRESHOLD → CHANNELS``."""
    measure = "profit" if rule.kind == "arbitrage" else "EV"
    threshold = f"{measure} >= {_percent(rule.min_value)}"
    if math.isfinite(rule.max_value):
        threshold += f" and <= {_percent(rule.max_value)}"
    if rule.kind == "positive_ev":
        threshold += f", fair prices from {', '.join(rule.sharp)}"
    return f"rule {rule.name}: {rule.kind}, {threshold} → {', '.join(rule.notify)}"


# --- show-config -------------------------------------------------------------------------


def show_config(config: Config) -> str:
    """The effective configuration as YAML, defaults filled in and every secret redacted.

    Percentages and durations are written as the loader reads them (``3%``, ``10m``), so
    the output is itself a config once the secrets are put back.
    """
    document = {
        "odds_format": config.odds_format.value,
        "currency": config.currency,
        "timezone": config.timezone.key,
        "state_dir": str(config.state_dir),
        "history_retention": (
            "0s" if config.history_retention is None else _duration(config.history_retention)
        ),
        "log_level": config.log_level,
        "watch_config": config.watch_config,
        "aliases": dict(config.aliases),
        "commissions": {book: _percent(rate) for book, rate in config.commissions.items()},
        "alerts": {
            "flush_timeout": _duration(config.flush_timeout),
            "queue_size": config.queue_size,
        },
        "feeds": [_feed(feed) | _record(config, feed.name) for feed in config.feeds],
        "channels": {name: _channel(channel) for name, channel in config.channels.items()},
        "rules": [_rule(rule, config.odds_format) for rule in config.rules],
        "health": _health(config.health),
    }
    if config.status_listen is not None:
        document["status"] = {
            "listen": config.status_listen,
            "allow_remote": config.status_allow_remote,
        }
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=None)
    source = f" of {config.source}" if config.source is not None else ""
    # Keys and channel URLs are left out above; the one redaction catches the rest: a
    # base_url's user and password, a key in a query, a secret written where none belongs.
    shown = redact(body, (s for s in config.secrets() if len(s) >= MIN_REMEMBERED_LENGTH))
    return f"# The effective configuration{source}; secrets are shown as {REDACTED}.\n{shown}"


def _health(health: HealthConfig) -> dict[str, object]:
    """The ``health`` section; ``notify`` only when it names channels (else: all of them)."""
    shown: dict[str, object] = {} if health.notify is None else {"notify": list(health.notify)}
    for name in ("feed_down", "feed_silent", "channel_failing", "engine_stalled"):
        shown[name] = _duration(getattr(health, name))
    shown["credits_low"] = _percent(health.credits_low)
    for name in ("books_unseen", "recovery", "repeat"):
        shown[name] = _duration(getattr(health, name))
    return shown


def _record(config: Config, feed: str) -> dict[str, object]:
    """A recorded feed's ``record`` (sizes in bytes), resolved from the top level's."""
    record = config.recordings.get(feed)
    if record is None:
        return {}
    return {
        "record": {
            "dir": str(record.dir),
            "max_file_bytes": record.max_file_bytes,
            "rotate_every": _duration(record.rotate_every),
            "max_total_bytes": record.max_total_bytes,
            "keep_for": _duration(record.keep_for),
        }
    }


def _feed(feed: FeedSettings) -> dict[str, object]:
    """A feed as its config entry, key redacted."""
    shown: dict[str, object] = {"name": feed.name, "provider": provider_of(feed).name}
    for field in dataclasses.fields(feed):
        value = getattr(feed, field.name)
        if field.name == "api_key":
            shown["api_key"] = REDACTED
        elif isinstance(value, tuple):
            shown[field.name] = list(value)
        elif field.name in ("max_requests_per_second", "max_price"):
            shown[field.name] = value  # a rate and decimal odds, not seconds
        elif isinstance(value, float):
            # Every other float setting of a feed is seconds (see the loader).
            shown[field.name] = _duration(value)
        elif field.name != "name":
            shown[field.name] = value
    return shown


def _channel(channel: ChannelConfig) -> dict[str, object]:
    """A channel as its config entry, URLs redacted."""
    shown: dict[str, object] = {
        "urls": [REDACTED for _ in channel.urls],
        "freshness": _duration(channel.freshness),
        "retries": channel.retries,
        "retry_initial": _duration(channel.retry_initial),
        "retry_max": _duration(channel.retry_max),
    }
    if channel.odds_format is not None:
        shown["odds_format"] = channel.odds_format.value
    return shown


def _rule(rule: RuleConfig, odds_format: OddsFormat) -> dict[str, object]:
    """A rule as its config entry; what is unlimited (every sport, no maximum) is left out."""
    min_key, max_key = (
        ("min_profit", "max_profit") if rule.kind == "arbitrage" else ("min_ev", "max_ev")
    )
    shown: dict[str, object] = {"name": rule.name, "kind": rule.kind}
    optional: dict[str, object | None] = {
        "sports": _sorted(rule.sports),
        "books": _books(rule),
        "market_types": _sorted(rule.market_types),
        "periods": _sorted(rule.periods),
        "odds": _odds(rule, odds_format),
        min_key: _percent(rule.min_value),
        max_key: _percent(rule.max_value) if math.isfinite(rule.max_value) else None,
        "starts_within": None if rule.starts_within is None else _duration(rule.starts_within),
        "in_play": rule.in_play,
        "max_quote_age": _duration(rule.max_quote_age),
    }
    if rule.kind == "positive_ev":
        optional |= {
            "sharp": list(rule.sharp),
            "devig": rule.devig.value,
            "kelly_fraction": rule.kelly_fraction,
        }
    optional |= {
        "bankroll": rule.bankroll,
        "stake_round": rule.stake_round,
        "notify": list(rule.notify),
        "repeat": _duration(rule.repeat),
        "improve_by": _percent(rule.improve_by),
        "gone": rule.gone,
        "quiet_hours": _quiet_hours(rule.quiet_hours),
    }
    shown |= {key: value for key, value in optional.items() if value is not None}
    return shown


def _quiet_hours(span: QuietHours | None) -> dict[str, str] | None:
    """``quiet_hours: {from, to, timezone}``."""
    if span is None:
        return None
    return {
        "from": span.start.strftime("%H:%M"),
        "to": span.end.strftime("%H:%M"),
        "timezone": span.timezone.key,
    }


def _books(rule: RuleConfig) -> object:
    """``books`` as written: a list, ``{include, exclude}``, or None for every book."""
    if not rule.excluded_books:
        return _sorted(rule.books)
    books: dict[str, object] = {"exclude": sorted(rule.excluded_books)}
    if rule.books is not None:
        books = {"include": sorted(rule.books), **books}
    return books


def _odds(rule: RuleConfig, odds_format: OddsFormat) -> dict[str, float | str] | None:
    """``odds: {min, max}`` in the config's odds format, leaving out a bound that is not set."""
    bounds = {"min": rule.min_odds, "max": rule.max_odds}
    # 1.0 and infinity are "no bound": neither is a price anyone can quote.
    shown = {
        key: _price(value, odds_format) for key, value in bounds.items() if 1.0 < value < math.inf
    }
    return shown or None


def _price(decimal: float, odds_format: OddsFormat) -> float | str:
    """A price in the config's format: ``+400``, not ``5.0``, in an American config.

    Decimal where the format would round the price (-222 is not quite 1.45), so that the
    output still reads back as the same config.
    """
    if odds_format is OddsFormat.DECIMAL:
        return decimal
    written = format_odds(decimal, odds_format)
    return written if parse_odds(written, odds_format) == decimal else decimal


def _sorted(names: Iterable[str] | None) -> list[str] | None:
    """A set as a sorted list of plain text, so the output is the same every time."""
    return None if names is None else [str(name) for name in sorted(names)]


def _percent(fraction: float) -> str:
    """``0.03`` -> ``3%`` (rounded to hide float noise: 0.03 * 100 is 3.0000000000000004)."""
    return f"{round(fraction * 100, 9):g}%"


def _duration(seconds: float) -> str:
    """Seconds as ``1h30m``, ``90s`` -> ``1m30s``; fractions of a second as ``0.5s``."""
    if not seconds.is_integer():
        return f"{seconds:g}s"
    left = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, left = divmod(left, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"
