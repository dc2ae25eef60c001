"""The YAML config loader: every error message, defaults, units, secrets, check and show."""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from arbwatch.config import load_config, parse_config
from arbwatch.config.load import SCHEMA
from arbwatch.config.model import Config
from arbwatch.config.show import check_config, show_config
from arbwatch.core.devig import DevigMethod
from arbwatch.core.markets import MarketKind, Period
from arbwatch.core.odds import OddsFormat
from arbwatch.core.rulemodel import QuietHours
from arbwatch.errors import ConfigError
from arbwatch.feeds.base import REDACTED
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.feeds.therundown.v1 import RundownV1Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"
#: What config.example.yaml needs from the environment.
EXAMPLE_ENV = {
    "RAPIDODDS_API_KEY": "oa_example",
    "THERUNDOWN_API_KEY": "rundown-example",
    "TG_BOT_TOKEN": "123456789:AAHexampleTOKENabcdefghijklmnopqrstu",
    "TG_CHAT_ID": "12345",
    "DISCORD_WEBHOOK_ID": "1234567890",
    "DISCORD_WEBHOOK_TOKEN": "abcdefghijklmnopqrstuvwxyz",
    "SMTP_USER": "me",
    "SMTP_PASSWORD": "password",
    "HOME": "/home/bettor",
}

# The building blocks of the error cases. Their line counts matter: FEED is lines 1-7,
# CHANNELS 2 lines, RULES 4 lines and EV_RULES 5 lines.
FEED = """\
feeds:
  - name: rapid
    provider: rapidoddsapi
    api_key: oa_test
    sports: [NBA]
    bookmakers: [Pinnacle]
    market_types: [head_to_head]
"""
CHANNELS = "channels:\n  phone: console://\n"
RULES = "rules:\n  - name: arbs\n    kind: arbitrage\n    notify: [phone]\n"
EV_RULES = (
    "rules:\n  - name: ev\n    kind: positive_ev\n    sharp: [Pinnacle]\n    notify: [phone]\n"
)
MINIMAL = FEED + CHANNELS + RULES


def indented(lines: tuple[str, ...], spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in lines)


def top(*lines: str) -> str:
    """Extra top-level lines, from line 1."""
    return indented(lines, 0) + MINIMAL


def feed(*lines: str) -> str:
    """Extra lines in the feed, from line 8."""
    return FEED + indented(lines, 4) + CHANNELS + RULES


def channel(*lines: str) -> str:
    """Extra lines in ``channels``, from line 10."""
    return FEED + CHANNELS + indented(lines, 2) + RULES


def rule(*lines: str) -> str:
    """Extra lines in the arbitrage rule, from line 14."""
    return MINIMAL + indented(lines, 4)


def ev_rule(*lines: str) -> str:
    """Extra lines in the positive_ev rule, from line 15."""
    return FEED + CHANNELS + EV_RULES + indented(lines, 4)


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source=Path("config.yaml"), env=env or {})
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def parse(text: str, env: dict[str, str] | None = None, source: Path | None = None) -> Config:
    return parse_config(text, source=source, env=env or {})


MISSING_SECTIONS = [
    "config.yaml:1: channels: missing (required): at least one channel, e.g. phone: tgram://...",
    "config.yaml:1: feeds: missing (required): at least one feed",
    "config.yaml:1: rules: missing (required): at least one rule",
]

ERROR_CASES: list[tuple[str, str, list[str]]] = [
    # --- the file as YAML ---
    (
        "syntax",
        "a: [1, 2\n",
        [
            "config.yaml:2: not valid YAML: while parsing a flow sequence, "
            "expected ',' or ']', but got '<stream end>'"
        ],
    ),
    (
        "two documents",
        "a: 1\n---\nb: 2\n",
        [
            "config.yaml:2: not valid YAML: expected a single document in the stream, "
            "but found another document"
        ],
    ),
    (
        "control character",
        "a: 1\nb: \x00\n",
        ["config.yaml:2: not valid YAML: character #x0000: special characters are not allowed"],
    ),
    (
        "undefined alias",
        "a: *nope\n",
        ["config.yaml:1: not valid YAML: found undefined alias 'nope'"],
    ),
    ("empty file", "", MISSING_SECTIONS),
    (
        "not a mapping",
        "- a\n",
        ["config.yaml:1: expected a mapping of settings (key: value), got a list"],
    ),
    (
        "recursive alias",
        top("aliases: &loop {x: *loop}"),
        ["config.yaml:1: not valid YAML: an alias refers to a collection that contains it"],
    ),
    (
        "list as key",
        top("? [a]", ": 1"),
        ["config.yaml:1: a key must be text, not a list or mapping"],
    ),
    (
        "duplicate key",
        top("bankroll: 1", "bankroll: 2"),
        ["config.yaml:2: bankroll: duplicate key (first at line 1)"],
    ),
    (
        "unknown tag",
        top("currency: !secret x"),
        ["config.yaml:1: currency: unsupported YAML tag !secret"],
    ),
    (
        "non-scalar tag",
        top("currency: !!binary aGVsbG8="),
        ["config.yaml:1: currency: unsupported YAML tag !!binary"],
    ),
    # --- ${VAR} ---
    (
        "unset variable",
        top("currency: ${CURRENCY}"),
        ["config.yaml:1: currency: environment variable CURRENCY is not set"],
    ),
    (
        "unclosed reference",
        top("currency: ab${CURRENCY"),
        ["config.yaml:1: currency: an unclosed ${ (write $$ for a literal $)"],
    ),
    (
        "bad variable name",
        top("currency: ${1X}"),
        ["config.yaml:1: currency: ${1X} is not a variable name (letters, digits and _)"],
    ),
    # --- top level ---
    (
        "unknown top-level key, close",
        top("bankrol: 100"),
        ["config.yaml:1: bankrol: unknown key, did you mean 'bankroll'?"],
    ),
    ("unknown top-level key", top("colour: red"), ["config.yaml:1: colour: unknown key"]),
    (
        "odds_format",
        top("odds_format: amercan"),
        [
            "config.yaml:1: odds_format: expected one of decimal, american, fractional, "
            "got \"amercan\" (did you mean 'american'?)"
        ],
    ),
    ("currency", top("currency: 5"), ["config.yaml:1: currency: expected text, got 5"]),
    (
        "timezone",
        top("timezone: Mars/Olympus"),
        [
            "config.yaml:1: timezone: expected an IANA time zone like America/New_York, "
            'got "Mars/Olympus"'
        ],
    ),
    (
        "timezone is a directory",
        top("timezone: America"),
        [
            "config.yaml:1: timezone: expected an IANA time zone like America/New_York, "
            'got "America"'
        ],
    ),
    ("bankroll", top("bankroll: 0"), ["config.yaml:1: bankroll: expected a number > 0, got 0"]),
    (
        "bankroll text",
        top("bankroll: lots"),
        ['config.yaml:1: bankroll: expected a number > 0, got "lots"'],
    ),
    (
        "stake_round",
        top("stake_round: -5"),
        ["config.yaml:1: stake_round: expected a number >= 0, got -5"],
    ),
    ("state_dir", top("state_dir: [a]"), ["config.yaml:1: state_dir: expected text, got a list"]),
    (
        "log_level",
        top("log_level: verbose"),
        ['config.yaml:1: log_level: expected one of debug, info, warning, error, got "verbose"'],
    ),
    (
        "history_retention",
        top("history_retention: forever"),
        [
            "config.yaml:1: history_retention: expected a duration like 90s, 10m, 2h or 1h30m, "
            'got "forever"'
        ],
    ),
    (
        "history_retention negative",
        top("history_retention: -1d"),
        [
            "config.yaml:1: history_retention: expected a duration like 90s, 10m, 2h or 1h30m, "
            'got "-1d"'
        ],
    ),
    (
        "watch_config (YAML 1.1 yes is text)",
        top("watch_config: yes"),
        ['config.yaml:1: watch_config: expected true or false, got "yes"'],
    ),
    (
        "aliases not a mapping",
        top("aliases: [a]"),
        ["config.yaml:1: aliases: expected a mapping of names (key: value), got a list"],
    ),
    (
        "alias blank",
        top('aliases: {" ": x}'),
        ['config.yaml:1: aliases[" "]: a name to replace must not be blank'],
    ),
    (
        "alias meaning",
        top('aliases: {"LA Lakers": 3}'),
        ['config.yaml:1: aliases["LA Lakers"]: expected text, got 3'],
    ),
    (
        "commission of 100%",
        top("commissions: {Betfair: 100%}"),
        ['config.yaml:1: commissions.Betfair: expected a percentage below 100%, got "100%"'],
    ),
    (
        "commission ambiguous",
        top("commissions: {Betfair: 2}"),
        ["config.yaml:1: commissions.Betfair: got 2, which is ambiguous: write 2% or 0.02"],
    ),
    (
        "alerts unknown key",
        top("alerts: {flush: 5s}"),
        ["config.yaml:1: alerts.flush: unknown key, did you mean 'flush_timeout'?"],
    ),
    (
        "flush_timeout zero",
        top("alerts: {flush_timeout: 0s}"),
        ['config.yaml:1: alerts.flush_timeout: expected a duration > 0, got "0s"'],
    ),
    (
        "flush_timeout unreadable",
        top("alerts: {flush_timeout: soon}"),
        [
            "config.yaml:1: alerts.flush_timeout: expected a duration like 90s, 10m, 2h or 1h30m, "
            'got "soon"'
        ],
    ),
    (
        "queue_size",
        top("alerts: {queue_size: 0}"),
        ["config.yaml:1: alerts.queue_size: expected a whole number >= 1, got 0"],
    ),
    (
        "queue_size float",
        top("alerts: {queue_size: 2.5}"),
        ["config.yaml:1: alerts.queue_size: expected a whole number >= 1, got 2.5"],
    ),
    # --- feeds ---
    (
        "feeds empty",
        "feeds: []\n" + CHANNELS + RULES,
        ["config.yaml:1: feeds: expected a list of feeds, got an empty list"],
    ),
    (
        "feed not a mapping",
        "feeds: [rapid]\n" + CHANNELS + RULES,
        ['config.yaml:1: feeds[0]: expected a mapping of feed settings (key: value), got "rapid"'],
    ),
    (
        "provider missing",
        "feeds:\n  - name: x\n    api_key: k\n" + CHANNELS + RULES,
        [
            "config.yaml:2: feeds[0].provider: missing (required): "
            "one of rapidoddsapi, therundown, therundown_v1"
        ],
    ),
    (
        "provider unknown",
        FEED.replace("rapidoddsapi", "rapidodds") + CHANNELS + RULES,
        [
            "config.yaml:3: feeds[0].provider: expected one of rapidoddsapi, therundown, "
            "therundown_v1, got \"rapidodds\" (did you mean 'rapidoddsapi'?)"
        ],
    ),
    (
        "another provider's key",
        feed("sport_ids: [4]"),
        [
            "config.yaml:8: feeds[0].sport_ids: sport_ids is a setting of therundown, "
            "therundown_v1 feeds only"
        ],
    ),
    (
        "feed unknown key",
        feed("sprots: [NFL]"),
        ["config.yaml:8: feeds[0].sprots: unknown key, did you mean 'sports'?"],
    ),
    (
        "feed name missing",
        FEED.replace("  - name: rapid\n    provider", "  - provider") + CHANNELS + RULES,
        ["config.yaml:2: feeds[0].name: missing (required)"],
    ),
    (
        "feed name duplicate",
        FEED + FEED.removeprefix("feeds:\n") + CHANNELS + RULES,
        ["config.yaml:8: feeds[1].name: another feed is named 'rapid' (line 2)"],
    ),
    (
        "api_key and api_key_file",
        feed("api_key_file: key.txt"),
        ["config.yaml:8: feeds[0].api_key_file: give api_key or api_key_file, not both"],
    ),
    (
        "no api_key",
        FEED.replace("    api_key: oa_test\n", "") + CHANNELS + RULES,
        ["config.yaml:2: feeds[0].api_key: missing (required): give api_key or api_key_file"],
    ),
    (
        "api_key not text",
        FEED.replace("oa_test", "12345") + CHANNELS + RULES,
        [
            "config.yaml:4: feeds[0].api_key: expected text (quote it if YAML reads it "
            "as something else)"
        ],
    ),
    (
        "settings refuse the key, at its line",
        FEED.replace("oa_test", "sk_test") + CHANNELS + RULES,
        ["config.yaml:4: feeds[0].api_key: RapidOddsAPI keys start with 'oa_'"],
    ),
    (
        "required setting missing",
        FEED.replace("    bookmakers: [Pinnacle]\n", "") + CHANNELS + RULES,
        ["config.yaml:2: feeds[0].bookmakers: missing (required)"],
    ),
    (
        "settings refuse an interval",
        feed("idle_timeout: 0"),
        ["config.yaml:8: feeds[0].idle_timeout: expected seconds > 0, got 0.0"],
    ),
    (
        "feed duration unreadable",
        feed("idle_timeout: forever"),
        [
            "config.yaml:8: feeds[0].idle_timeout: expected a duration like 90s, 10m, 2h or "
            '1h30m, got "forever"'
        ],
    ),
    (
        "feed boolean",
        feed("rest_bootstrap: 1"),
        ["config.yaml:8: feeds[0].rest_bootstrap: expected true or false, got 1"],
    ),
    (
        "feed list item",
        FEED.replace("[NBA]", "[NBA, 3]") + CHANNELS + RULES,
        ["config.yaml:5: feeds[0].sports[1]: expected text, got 3"],
    ),
    (
        "rundown ids",
        "feeds:\n  - {name: r, provider: therundown, api_key: k, sport_ids: [NBA]}\n"
        + CHANNELS
        + RULES,
        ['config.yaml:2: feeds[0].sport_ids[0]: expected a whole number, got "NBA"'],
    ),
    (
        "rundown settings refuse a field",
        "feeds:\n  - name: r\n    provider: therundown\n    api_key: k\n    sport_ids: [4]\n"
        "    market_ids: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]\n" + CHANNELS + RULES,
        ["config.yaml:6: feeds[0].market_ids: needs 1 to 12 ids"],
    ),
    (
        "rundown settings refuse the feed",
        "feeds:\n  - name: r\n    provider: therundown_v1\n    api_key: k\n" + CHANNELS + RULES,
        ["config.yaml:2: feeds[0]: a V1 feed needs sport_ids or event_ids"],
    ),
    (
        "event_ids is V1 only",
        "feeds:\n  - name: r\n    provider: therundown\n    api_key: k\n    sport_ids: [4]\n"
        "    event_ids: [e1]\n" + CHANNELS + RULES,
        ["config.yaml:6: feeds[0].event_ids: event_ids is a setting of therundown_v1 feeds only"],
    ),
    # --- channels ---
    (
        "channels empty",
        FEED + "channels: {}\n" + RULES,
        [
            "config.yaml:8: channels: expected at least one channel, got none",
            "config.yaml:12: rules[0].notify[0]: no channel named 'phone'",
        ],
    ),
    (
        "channels not a mapping",
        FEED + "channels: [phone]\n" + RULES,
        [
            "config.yaml:8: channels: expected a mapping of channel names (key: value), got a list",
            "config.yaml:12: rules[0].notify[0]: no channel named 'phone'",
        ],
    ),
    (
        "channel blank name",
        channel('" ": console://'),
        ['config.yaml:10: channels[" "]: a channel\'s name must not be blank'],
    ),
    (
        "channel settings a list",
        channel("mail: [console://]"),
        [
            "config.yaml:10: channels.mail: expected a mapping of channel settings (key: value), "
            "got a list",
            "config.yaml:10: channels.mail.url: missing (required): give url, urls or url_file",
        ],
    ),
    (
        "channel unknown key",
        channel("mail: {url: console://, retry: 3}"),
        ["config.yaml:10: channels.mail.retry: unknown key, did you mean 'retry_max'?"],
    ),
    (
        "channel without URL",
        channel("mail: {retries: 3}"),
        ["config.yaml:10: channels.mail.url: missing (required): give url, urls or url_file"],
    ),
    (
        "channel with two URL keys",
        channel("mail: {url: console://, urls: [console://]}"),
        ["config.yaml:10: channels.mail.urls: give only one of url, urls and url_file"],
    ),
    (
        "channel urls empty",
        channel("mail: {urls: []}"),
        ["config.yaml:10: channels.mail.urls: expected a list of apprise URLs, got an empty list"],
    ),
    (
        "URL not text",
        channel("mail: 42"),
        [
            "config.yaml:10: channels.mail: expected text (quote it if YAML reads it as "
            "something else)"
        ],
    ),
    (
        "URL without scheme",
        channel("mail: just-a-token"),
        ["config.yaml:10: channels.mail: expected an apprise URL like tgram://TOKEN/CHAT_ID"],
    ),
    (
        "unknown scheme",
        channel("mail: mialto://user:pw@example.com"),
        ["config.yaml:10: channels.mail: unknown apprise scheme 'mialto', did you mean 'mailto'?"],
    ),
    (
        "apprise refuses the URL",
        channel("mail:", "  urls:", "    - console://", "    - tgram://nonsense"),
        [
            "config.yaml:13: channels.mail.urls[1]: apprise cannot use this tgram:// URL "
            "(check its tokens and address)"
        ],
    ),
    (
        "retry_max below retry_initial",
        channel("mail: {url: console://, retry_initial: 1m, retry_max: 30s}"),
        ["config.yaml:10: channels.mail.retry_max: must not be below retry_initial"],
    ),
    (
        "retries negative",
        channel("mail: {url: console://, retries: -1}"),
        ["config.yaml:10: channels.mail.retries: expected a whole number >= 0, got -1"],
    ),
    (
        "channel odds_format",
        channel("mail: {url: console://, odds_format: moneyline}"),
        [
            "config.yaml:10: channels.mail.odds_format: expected one of decimal, american, "
            'fractional, got "moneyline"'
        ],
    ),
    # --- rules ---
    (
        "rules not a list",
        FEED + CHANNELS + "rules: {name: arbs}\n",
        ["config.yaml:10: rules: expected a list of rules, got a mapping"],
    ),
    (
        "rule not a mapping",
        FEED + CHANNELS + "rules: [arbs]\n",
        ['config.yaml:10: rules[0]: expected a mapping of rule settings (key: value), got "arbs"'],
    ),
    (
        "kind missing",
        MINIMAL.replace("    kind: arbitrage\n", ""),
        ["config.yaml:11: rules[0].kind: missing (required): arbitrage or positive_ev"],
    ),
    (
        "kind unknown",
        MINIMAL.replace("kind: arbitrage", "kind: arb"),
        [
            'config.yaml:12: rules[0].kind: expected one of arbitrage, positive_ev, got "arb" '
            "(did you mean 'arbitrage'?)"
        ],
    ),
    (
        "rule name missing",
        MINIMAL.replace("  - name: arbs\n    kind", "  - kind"),
        ["config.yaml:11: rules[0].name: missing (required)"],
    ),
    (
        "rule name duplicate",
        MINIMAL + RULES.removeprefix("rules:\n"),
        ["config.yaml:14: rules[1].name: another rule is named 'arbs' (line 11)"],
    ),
    (
        "rule name blank",
        MINIMAL.replace("name: arbs", 'name: ""'),
        ['config.yaml:11: rules[0].name: expected text, got ""'],
    ),
    (
        "rule unknown key",
        rule("min_proft: 1%"),
        ["config.yaml:14: rules[0].min_proft: unknown key, did you mean 'min_profit'?"],
    ),
    (
        "min_ev on an arbitrage rule",
        rule("min_ev: 1%"),
        [
            "config.yaml:14: rules[0].min_ev: min_ev is for positive_ev rules; an "
            "arbitrage rule takes min_profit"
        ],
    ),
    (
        "max_ev on an arbitrage rule",
        rule("max_ev: 10%"),
        [
            "config.yaml:14: rules[0].max_ev: max_ev is for positive_ev rules; an "
            "arbitrage rule takes max_profit"
        ],
    ),
    (
        "sharp on an arbitrage rule",
        rule("sharp: [Pinnacle]"),
        ["config.yaml:14: rules[0].sharp: sharp is for positive_ev rules only"],
    ),
    (
        "devig on an arbitrage rule",
        rule("devig: shin"),
        ["config.yaml:14: rules[0].devig: devig is for positive_ev rules only"],
    ),
    (
        "kelly_fraction on an arbitrage rule",
        rule("kelly_fraction: 0.5"),
        ["config.yaml:14: rules[0].kelly_fraction: kelly_fraction is for positive_ev rules only"],
    ),
    (
        "min_profit on a positive_ev rule",
        ev_rule("min_profit: 1%"),
        [
            "config.yaml:15: rules[0].min_profit: min_profit is for arbitrage rules; a "
            "positive_ev rule takes min_ev"
        ],
    ),
    (
        "max_profit on a positive_ev rule",
        ev_rule("max_profit: 1%"),
        [
            "config.yaml:15: rules[0].max_profit: max_profit is for arbitrage rules; a "
            "positive_ev rule takes max_ev"
        ],
    ),
    (
        "sharp missing",
        FEED + CHANNELS + EV_RULES.replace("    sharp: [Pinnacle]\n", ""),
        [
            "config.yaml:11: rules[0].sharp: missing (required): the books whose prices are fair, "
            "e.g. [Pinnacle]"
        ],
    ),
    (
        "percentage unreadable",
        ev_rule("min_ev: three"),
        ['config.yaml:15: rules[0].min_ev: expected a percentage like 3% or 0.03, got "three"'],
    ),
    (
        "percentage ambiguous",
        rule("min_profit: 3"),
        ["config.yaml:14: rules[0].min_profit: got 3, which is ambiguous: write 3% or 0.03"],
    ),
    (
        "percentage negative",
        rule("min_profit: -1%"),
        ['config.yaml:14: rules[0].min_profit: expected a percentage >= 0%, got "-1%"'],
    ),
    (
        "max_profit below min_profit",
        rule("min_profit: 2%", "max_profit: 1%"),
        ["config.yaml:15: rules[0].max_profit: must not be below min_profit"],
    ),
    (
        "max_ev below min_ev",
        ev_rule("min_ev: 5%", "max_ev: 0.01"),
        ["config.yaml:16: rules[0].max_ev: must not be below min_ev"],
    ),
    (
        "kelly_fraction above 1",
        ev_rule("kelly_fraction: 1.5"),
        ["config.yaml:15: rules[0].kelly_fraction: expected a number > 0 and <= 1, got 1.5"],
    ),
    (
        "kelly_fraction zero",
        ev_rule("kelly_fraction: 0"),
        ["config.yaml:15: rules[0].kelly_fraction: expected a number > 0 and <= 1, got 0"],
    ),
    (
        "devig unknown",
        ev_rule("devig: shinn"),
        [
            "config.yaml:15: rules[0].devig: expected one of multiplicative, additive, power, "
            "shin, odds_ratio, worst_case, got \"shinn\" (did you mean 'shin'?)"
        ],
    ),
    (
        "notify missing",
        MINIMAL.replace("    notify: [phone]\n", ""),
        [
            "config.yaml:11: rules[0].notify: missing (required): the channels to alert, "
            "e.g. [phone]"
        ],
    ),
    (
        "notify empty",
        MINIMAL.replace("[phone]", "[]"),
        ["config.yaml:13: rules[0].notify: expected a list of names, got an empty list"],
    ),
    (
        "notify a string",
        MINIMAL.replace("[phone]", "phone"),
        ['config.yaml:13: rules[0].notify: expected a list of names, got "phone"'],
    ),
    (
        "notify names a missing channel",
        MINIMAL.replace("[phone]", "[phone, pager, phnoe]"),
        [
            "config.yaml:13: rules[0].notify[1]: no channel named 'pager'",
            "config.yaml:13: rules[0].notify[2]: no channel named 'phnoe', did you mean 'phone'?",
        ],
    ),
    (
        "a web address for a channel",
        channel("hook: https://example.com/hook"),
        [
            "config.yaml:10: channels.hook: unknown apprise scheme 'https': a web address is "
            "not an apprise URL; for a webhook that takes JSON write json://HOST/PATH "
            "(jsons:// for https), or the service's own scheme (tgram://, discord://, mailto://)"
        ],
    ),
    (
        "a scheme misspelled by a letter",
        channel("team: discrod://1/2"),
        [
            "config.yaml:10: channels.team: unknown apprise scheme 'discrod', "
            "did you mean 'discord'?"
        ],
    ),
    (
        "an arbitrage of 150%",
        rule("min_profit: 150%"),
        [
            'config.yaml:14: rules[0].min_profit: expected a percentage below 100%, got "150%" '
            "(an arbitrage or an edge of 100% or more is a wrong price, never a bet)"
        ],
    ),
    (
        "odds bounds that are not what they seem",
        rule("odds: {min: 1.5, max: 400}"),
        [
            "config.yaml:14: rules[0].odds.max: 400 looks like American odds; write +400 "
            "(or 400.0 if you mean decimal odds)"
        ],
    ),
    (
        "notify names a channel with problems",
        channel("mail: nosuch://x").replace("[phone]", "[phone, mail]"),
        ["config.yaml:10: channels.mail: unknown apprise scheme 'nosuch'"],
    ),
    (
        "sports item",
        rule("sports: [NBA, 7]"),
        ["config.yaml:14: rules[0].sports[1]: expected text, got 7"],
    ),
    (
        "books a string",
        rule("books: DraftKings"),
        [
            "config.yaml:14: rules[0].books: expected a mapping of include and exclude "
            "(key: value), "
            'got "DraftKings"'
        ],
    ),
    (
        "books unknown key",
        rule("books: {only: [DraftKings]}"),
        ["config.yaml:14: rules[0].books.only: unknown key"],
    ),
    (
        "books exclude empty",
        rule("books: {exclude: []}"),
        ["config.yaml:14: rules[0].books.exclude: expected a list of names, got an empty list"],
    ),
    (
        "market_types item",
        rule("market_types: [moneyline, spreads]"),
        [
            "config.yaml:14: rules[0].market_types[1]: expected one of moneyline, moneyline_3way, "
            "spread, total, player_prop, got \"spreads\" (did you mean 'spread'?)"
        ],
    ),
    (
        "periods not a list",
        rule("periods: full_game"),
        [
            "config.yaml:14: rules[0].periods: expected a list of "
            + ", ".join(period.value for period in Period)
            + ', got "full_game"'
        ],
    ),
    (
        "odds unreadable",
        rule("odds: {min: low}"),
        ['config.yaml:14: rules[0].odds.min: expected odds like 2.10, +110 or 11/10, got "low"'],
    ),
    (
        "odds American out of range",
        rule("odds: {min: +50}"),
        [
            "config.yaml:14: rules[0].odds.min: expected odds like 2.10, +110 or 11/10, got +50 "
            "(American odds are -100 or below, or +100 or above)"
        ],
    ),
    (
        "odds decimal out of range",
        rule("odds: {max: 0.9}"),
        [
            "config.yaml:14: rules[0].odds.max: expected odds like 2.10, +110 or 11/10, got 0.9 "
            "(decimal odds are above 1.0)"
        ],
    ),
    (
        "odds fractional out of range",
        rule("odds: {max: 0/1}"),
        [
            "config.yaml:14: rules[0].odds.max: expected odds like 2.10, +110 or 11/10, got "
            '"0/1" (fractional odds are a/b with a and b above 0)'
        ],
    ),
    (
        "odds a boolean",
        rule("odds: {max: true}"),
        ["config.yaml:14: rules[0].odds.max: expected odds like 2.10, +110 or 11/10, got true"],
    ),
    (
        "odds max below min",
        rule("odds: {min: 2.5, max: +120}"),
        ["config.yaml:14: rules[0].odds.max: must not be below min"],
    ),
    (
        "odds unknown key",
        rule("odds: {minimum: 1.5}"),
        ["config.yaml:14: rules[0].odds.minimum: unknown key, did you mean 'min'?"],
    ),
    (
        "starts_within zero",
        rule("starts_within: 0"),
        ["config.yaml:14: rules[0].starts_within: expected a duration > 0, got 0"],
    ),
    (
        "repeat negative",
        rule("repeat: -10"),
        ["config.yaml:14: rules[0].repeat: expected a duration > 0, got -10"],
    ),
    (
        "in_play unknown",
        rule("in_play: prematch"),
        [
            "config.yaml:14: rules[0].in_play: expected one of any, live, pre_match, got "
            '"prematch" '
            "(did you mean 'pre_match'?)"
        ],
    ),
    (
        "gone",
        rule("gone: sometimes"),
        ['config.yaml:14: rules[0].gone: expected true or false, got "sometimes"'],
    ),
    (
        "quiet_hours without to",
        rule('quiet_hours: {from: "23:00"}'),
        ['config.yaml:14: rules[0].quiet_hours.to: missing (required): a time of day like "07:00"'],
    ),
    (
        "quiet_hours bad time",
        rule('quiet_hours: {from: "24:00", to: "7"}'),
        [
            'config.yaml:14: rules[0].quiet_hours.from: expected a time of day like "23:00", '
            'got "24:00"',
            'config.yaml:14: rules[0].quiet_hours.to: expected a time of day like "23:00", got "7"',
        ],
    ),
    (
        "quiet_hours empty span",
        rule('quiet_hours: {from: "07:00", to: "7:00"}'),
        ["config.yaml:14: rules[0].quiet_hours: from and to must differ"],
    ),
    (
        "quiet_hours timezone",
        rule('quiet_hours: {from: "23:00", to: "07:00", timezone: London}'),
        [
            "config.yaml:14: rules[0].quiet_hours.timezone: expected an IANA time zone like "
            'America/New_York, got "London"'
        ],
    ),
    (
        "quiet_hours unknown key",
        rule('quiet_hours: {start: "23:00", from: "23:00", to: "07:00"}'),
        ["config.yaml:14: rules[0].quiet_hours.start: unknown key"],
    ),
    (
        "several problems, in line order",
        rule("min_profit: lots", "repeat: never"),
        [
            "config.yaml:14: rules[0].min_profit: expected a percentage like 3% or 0.03, "
            'got "lots"',
            "config.yaml:15: rules[0].repeat: expected a duration like 90s, 10m, 2h or 1h30m, "
            'got "never"',
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [pytest.param(text, expected, id=name) for name, text, expected in ERROR_CASES],
)
def test_error_message(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_building_blocks_are_a_valid_config() -> None:
    # Each error case is one change away from these; they must load as they are.
    parse(MINIMAL)
    parse(FEED + CHANNELS + EV_RULES)


def test_every_problem_is_reported_at_once() -> None:
    text = top("bankroll: -1", "currency: 3") + "    min_profit: x\n"
    assert [line.split(": ")[1] for line in problems(text)] == [
        "bankroll",
        "currency",
        "rules[0].min_profit",
    ]


# --- files ---------------------------------------------------------------------------------


def test_load_config_names_the_file_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("config.yaml").write_text(rule("repeat: 0"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(Path("config.yaml"), {})
    assert caught.value.problems == [
        "config.yaml:14: rules[0].repeat: expected a duration > 0, got 0"
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.problems == [f"{path}: cannot read the file: No such file or directory"]


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"currency: \xff\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.problems == [f"{path}:1: the file is not UTF-8 text"]


def test_parse_config_without_source_says_config() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(top("bankroll: 0"))
    assert caught.value.problems == ["<config>:1: bankroll: expected a number > 0, got 0"]


def test_load_config_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARBWATCH_TEST_CURRENCY", "£")
    path = tmp_path / "config.yaml"
    path.write_text(top("currency: ${ARBWATCH_TEST_CURRENCY}"), encoding="utf-8")
    assert load_config(path).currency == "£"


# --- defaults and units --------------------------------------------------------------------


def test_defaults_are_filled_in() -> None:
    config = parse(MINIMAL, env={"STATE_DIRECTORY": "/var/lib/arbwatch"})
    assert config.odds_format is OddsFormat.AMERICAN
    assert config.currency == "$"
    assert config.timezone == ZoneInfo("UTC")
    assert config.aliases == {}
    assert config.commissions == {}
    assert (config.flush_timeout, config.queue_size) == (5.0, 100)
    assert config.watch_config is True
    assert config.history_retention == 90 * 86_400.0
    assert config.log_level == "info"
    assert config.source is None
    (feed,) = config.feeds
    assert feed == RapidOddsSettings(
        name="rapid",
        api_key="oa_test",
        sports=("NBA",),
        bookmakers=("Pinnacle",),
        market_types=("head_to_head",),
    )
    assert config.channels["phone"].retries == 5
    (arbs,) = config.rules
    assert arbs.notify == ("phone",)
    assert arbs.sports is None
    assert arbs.books is None
    assert arbs.market_types is None
    assert (arbs.min_odds, arbs.max_odds) == (1.0, math.inf)
    assert (arbs.min_value, arbs.max_value) == (0.0, math.inf)
    assert (arbs.bankroll, arbs.stake_round, arbs.repeat) == (1000.0, 0.0, 600.0)
    assert arbs.quiet_hours is None


def test_units_are_converted() -> None:
    text = top("bankroll: 500", "stake_round: 5", "timezone: Europe/London") + (
        "    min_profit: 3%\n"
        '    max_profit: "0.5"\n'
        "    repeat: 10m\n"
        "    max_quote_age: 1h30m\n"
        "    starts_within: 1d\n"
        "    odds: {min: -200, max: +400}\n"
        "    improve_by: 0.25%\n"
        "    sports: [nba, ' Nfl ']\n"
        "    books: {include: [DraftKings, FanDuel], exclude: [FanDuel]}\n"
        "    market_types: [moneyline, spread]\n"
        "    periods: [full_game, first_half]\n"
        "    in_play: PRE_MATCH\n"
        '    quiet_hours: {from: 23:00, to: "7:30"}\n'
    )
    (arbs,) = parse(text).rules
    assert arbs.min_value == pytest.approx(0.03)
    assert arbs.max_value == 0.5
    assert arbs.repeat == 600.0
    assert arbs.max_quote_age == 5400.0
    assert arbs.starts_within == 86400.0
    assert (arbs.min_odds, arbs.max_odds) == (1.5, 5.0)
    assert arbs.improve_by == pytest.approx(0.0025)
    assert arbs.sports == frozenset({"NBA", "NFL"})
    assert arbs.books == frozenset({"DraftKings", "FanDuel"})
    assert arbs.excluded_books == frozenset({"FanDuel"})
    assert arbs.market_types == frozenset({MarketKind.MONEYLINE, MarketKind.SPREAD})
    assert arbs.periods == frozenset({Period.FULL_GAME, Period.FIRST_HALF})
    assert arbs.in_play == "pre_match"
    assert (arbs.bankroll, arbs.stake_round) == (500.0, 5.0)
    # Unquoted 23:00 is text, not YAML 1.1's base-60 number 1380; the zone is the config's.
    assert arbs.quiet_hours == QuietHours(
        start=dt.time(23, 0),
        end=dt.time(7, 30),
        timezone=ZoneInfo("Europe/London"),
    )


def test_positive_ev_rule() -> None:
    text = ev_rule(
        "min_ev: 2%",
        "max_ev: 25%",
        "devig: shin",
        "kelly_fraction: 1",
        "bankroll: 250",
        "stake_round: 0.5",
        "sharp: [Pinnacle, Circa, Pinnacle]",
    ).replace("    sharp: [Pinnacle]\n", "")
    (ev,) = parse(text).rules
    assert ev.kind == "positive_ev"
    assert ev.sharp == ("Pinnacle", "Circa")
    assert ev.devig is DevigMethod.SHIN
    assert (ev.min_value, ev.max_value) == (0.02, 0.25)
    assert ev.kelly_fraction == 1.0
    assert (ev.bankroll, ev.stake_round) == (250.0, 0.5)


def test_books_as_a_list() -> None:
    (arbs,) = parse(rule("books: [DraftKings, FanDuel]")).rules
    assert arbs.books == frozenset({"DraftKings", "FanDuel"})
    assert arbs.excluded_books == frozenset()


def test_top_level_settings() -> None:
    text = top(
        "odds_format: Decimal",
        "currency: €",
        "log_level: debug",
        "watch_config: false",
        'aliases: {"LA Lakers": Los Angeles Lakers}',
        "commissions: {Betfair: 2%, Smarkets: 0.02}",
        "alerts: {flush_timeout: 10s, queue_size: 50}",
    )
    config = parse(text)
    assert config.odds_format is OddsFormat.DECIMAL
    assert config.currency == "€"
    assert config.log_level == "debug"
    assert config.watch_config is False
    assert config.aliases == {"LA Lakers": "Los Angeles Lakers"}
    assert config.commissions == {"Betfair": 0.02, "Smarkets": 0.02}
    assert (config.flush_timeout, config.queue_size) == (10.0, 50)


@pytest.mark.parametrize(
    ("written", "seconds"), [("30d", 30 * 86_400.0), ("12h", 43_200.0), ("0", None), ("0s", None)]
)
def test_history_retention(written: str, seconds: float | None) -> None:
    assert parse(top(f"history_retention: {written}")).history_retention == seconds


def test_channel_settings() -> None:
    text = channel(
        "mail:",
        "  urls: [console://, 'json://127.0.0.1:8080/hook']",
        "  freshness: 2m",
        "  retries: 0",
        "  retry_initial: 0.5",
        "  retry_max: 1m",
        "  odds_format: fractional",
    )
    mail = parse(text).channels["mail"]
    assert [url.reveal() for url in mail.urls] == ["console://", "json://127.0.0.1:8080/hook"]
    assert (mail.freshness, mail.retries, mail.retry_initial, mail.retry_max) == (
        120.0,
        0,
        0.5,
        60.0,
    )
    assert mail.odds_format is OddsFormat.FRACTIONAL


def test_rundown_feeds() -> None:
    text = (
        (
            "feeds:\n"
            "  - {name: v2, provider: therundown, api_key: k2, sport_ids: [4], market_ids: [1],"
            " heartbeat_timeout: 1m, days_ahead: 0, base_url: 'http://127.0.0.1:9000'}\n"
            "  - {name: v1, provider: therundown_v1, api_key: k1, event_ids: [e1, e2]}\n"
        )
        + CHANNELS
        + RULES
    )
    v2, v1 = parse(text).feeds
    assert type(v2) is RundownSettings
    assert (v2.sport_ids, v2.market_ids, v2.heartbeat_timeout, v2.days_ahead) == (
        (4,),
        (1,),
        60.0,
        0,
    )
    assert v2.base_url == "http://127.0.0.1:9000"
    assert isinstance(v1, RundownV1Settings)
    assert v1.event_ids == ("e1", "e2")


def test_demo_config_loads() -> None:
    demo = Path(__file__).resolve().parents[2] / "arbwatch" / "demo" / "config.yaml"
    env = {
        "ARBWATCH_DEMO_STATE": "/tmp/arbwatch-demo",
        "ARBWATCH_DEMO_RAPIDODDS_URL": "http://127.0.0.1:1",
        "ARBWATCH_DEMO_RUNDOWN_URL": "http://127.0.0.1:2",
    }
    config = parse(demo.read_text(encoding="utf-8"), env=env)
    assert [rule.name for rule in config.rules] == ["any-arbitrage", "pinnacle-ev"]


# --- ${VAR} --------------------------------------------------------------------------------


def test_environment_substitution() -> None:
    env = {"BANKROLL": "2500", "KEY": "oa_fromenv", "CUR": "£", "RATE": "2%"}
    text = top(
        "bankroll: ${BANKROLL}",
        'currency: "${CUR}"',
        'commissions: {Betfair: "${RATE}"}',
        'aliases: {"Price $$": "cost $$5 and $ alone", plain: "${CUR}${CUR}"}',
    ).replace("oa_test", "${KEY}")
    config = parse(text, env=env)
    # Unquoted, ${BANKROLL} reads as what it holds would: a number.
    assert config.rules[0].bankroll == 2500.0
    assert config.currency == "£"
    assert config.commissions == {"Betfair": 0.02}
    assert config.aliases == {"Price $$": "cost $5 and $ alone", "plain": "££"}
    assert config.feeds[0].api_key == "oa_fromenv"


def test_quoted_substitution_stays_text() -> None:
    assert problems(top('bankroll: "${BANKROLL}"'), env={"BANKROLL": "2500"}) == [
        'config.yaml:1: bankroll: expected a number > 0, got "${BANKROLL}"'
    ]


def test_every_unset_variable_is_named() -> None:
    assert problems(channel("tg: tgram://${TG_BOT_TOKEN}/${TG_CHAT_ID}")) == [
        "config.yaml:10: channels.tg: environment variable TG_BOT_TOKEN is not set",
        "config.yaml:10: channels.tg: environment variable TG_CHAT_ID is not set",
    ]


# --- *_file secrets ------------------------------------------------------------------------


def test_api_key_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "rapid").write_text("  oa_fromfile\n", encoding="utf-8")
    text = FEED.replace("api_key: oa_test", "api_key_file: secrets/rapid") + CHANNELS + RULES
    config = parse(text, source=tmp_path / "config.yaml")
    assert config.feeds[0].api_key == "oa_fromfile"


def test_api_key_file_missing_names_the_file(tmp_path: Path) -> None:
    text = FEED.replace("api_key: oa_test", "api_key_file: ${CREDS}/rapid") + CHANNELS + RULES
    with pytest.raises(ConfigError) as caught:
        parse(text, env={"CREDS": str(tmp_path)}, source=Path("config.yaml"))
    assert caught.value.problems == [
        f"config.yaml:4: feeds[0].api_key_file: cannot read {tmp_path}/rapid: "
        "No such file or directory"
    ]


def test_api_key_file_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "key").write_bytes(b"\xff\xfe")
    text = FEED.replace("api_key: oa_test", f"api_key_file: {tmp_path}/key") + CHANNELS + RULES
    assert problems(text) == [
        f"config.yaml:4: feeds[0].api_key_file: {tmp_path}/key is not UTF-8 text"
    ]


def test_url_file(tmp_path: Path) -> None:
    (tmp_path / "urls").write_text(
        "# one URL per line\nconsole://\n\njson://127.0.0.1:8080/hook\n", encoding="utf-8"
    )
    config = parse(channel(f"mail: {{url_file: {tmp_path}/urls}}"))
    assert [url.reveal() for url in config.channels["mail"].urls] == [
        "console://",
        "json://127.0.0.1:8080/hook",
    ]


def test_url_file_problems(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("# nothing yet\n", encoding="utf-8")
    (tmp_path / "bad").write_text("console://\nnosuch://token\n", encoding="utf-8")
    text = channel(f"empty: {{url_file: {tmp_path}/empty}}", f"bad: {{url_file: {tmp_path}/bad}}")
    assert problems(text) == [
        "config.yaml:10: channels.empty.url_file: the file holds no URL",
        "config.yaml:11: channels.bad.url_file: URL 2 in the file: unknown apprise scheme 'nosuch'",
    ]


# --- secrets never shown -------------------------------------------------------------------

SECRET = "s3cr3tTOKENvalue"


def test_secrets_never_shown(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(f"oa_{SECRET}\n", encoding="utf-8")
    (tmp_path / "urls").write_text(f"json://127.0.0.1/{SECRET}\n", encoding="utf-8")
    path = tmp_path / "config.yaml"
    path.write_text(
        FEED.replace("api_key: oa_test", "api_key_file: key")
        + "  - {name: rd, provider: therundown, api_key: '"
        + SECRET
        + "', sport_ids: [4]}\n"
        + CHANNELS
        + "  tg: tgram://${TOKEN}/12345\n"
        + "  file: {url_file: urls}\n"
        + "  literal: json://127.0.0.1/"
        + SECRET
        + "\n"
        + RULES,
        encoding="utf-8",
    )
    env = {"TOKEN": "123456789:AA" + SECRET}
    config = load_config(path, env)
    assert config.feeds[0].api_key == f"oa_{SECRET}"
    ok, lines = check_config(path, env)
    assert ok
    text = "\n".join([repr(config), str(config), show_config(config), *lines])
    assert SECRET not in text
    assert text.count(REDACTED) >= 5


def test_secrets_never_in_errors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "urls").write_text(f"tgram://{SECRET}\n", encoding="utf-8")
    env = {"TOKEN": SECRET, "BAD_KEY": f"sk_{SECRET}"}
    text = (
        FEED.replace("oa_test", "${BAD_KEY}")
        + CHANNELS
        + "  tg: tgram://${TOKEN}\n"
        + f"  discord: discord://{SECRET}\n"
        + f"  file: {{url_file: {tmp_path}/urls}}\n"
        + f"  scheme: {SECRET}\n"
        + "  nested: {urls: ['mailto://user:${TOKEN}@']}\n"
        + RULES
        + "    bankroll: ${TOKEN}\n"
    )
    found = problems(text, env)
    assert len(found) == 7
    assert SECRET not in "\n".join(found)
    # apprise logs the URLs it refuses, tokens included: the check keeps it quiet.
    assert SECRET not in caplog.text


# --- state_dir -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"STATE_DIRECTORY": "/var/lib/arbwatch"}, "/var/lib/arbwatch"),
        (
            {"STATE_DIRECTORY": "/var/lib/arbwatch:/var/lib/other", "HOME": "/h"},
            "/var/lib/arbwatch",
        ),
        ({"XDG_STATE_HOME": "/h/.state", "HOME": "/h"}, "/h/.state/arbwatch"),
        ({"XDG_STATE_HOME": "relative", "HOME": "/h"}, "/h/.local/state/arbwatch"),
        ({"HOME": "/home/bettor"}, "/home/bettor/.local/state/arbwatch"),
    ],
)
def test_state_dir_defaults(env: dict[str, str], expected: str) -> None:
    assert parse(MINIMAL, env=env).state_dir == Path(expected)


def test_state_dir_relative_to_the_config(tmp_path: Path) -> None:
    config = parse(top("state_dir: state"), source=tmp_path / "conf" / "config.yaml")
    assert config.state_dir == tmp_path / "conf" / "state"


def test_state_dir_home_and_absolute() -> None:
    assert parse(top("state_dir: ~/arb"), env={"HOME": "/h"}).state_dir == Path("/h/arb")
    assert parse(top("state_dir: /srv/arb")).state_dir == Path("/srv/arb")


# --- config.example.yaml ------------------------------------------------------------------


def test_example_loads() -> None:
    config = load_config(EXAMPLE, EXAMPLE_ENV)
    assert [feed.name for feed in config.feeds] == ["rapid", "rundown"]
    assert list(config.channels) == ["phone", "team", "mail"]
    assert [rule.kind for rule in config.rules] == ["arbitrage", "positive_ev"]
    assert config.rules[0].max_odds == 5.0


@pytest.mark.parametrize(
    ("section", "key"), [(s, k) for s, keys in SCHEMA.items() for k in sorted(keys)]
)
def test_example_documents_every_key(section: str, key: str) -> None:
    # Commented-out keys count: api_key_file, url_file and event_ids are shown that way.
    text = EXAMPLE.read_text(encoding="utf-8")
    assert re.search(rf"(^|[\s{{,#-]){key}:", text, re.MULTILINE), f"{section}: {key}"


# --- check-config and show-config ----------------------------------------------------------


def test_check_config_summary(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    ok, lines = check_config(path, EXAMPLE_ENV)
    assert ok
    assert lines == [
        f"{path}: OK",
        "feed rapid (rapidoddsapi): sports NBA, NFL; 4 bookmakers; markets head_to_head",
        "feed rundown (therundown): sport_ids 4, 2; market_ids 1, 2, 3; affiliate_ids 3, "
        "19, 23, 22",
        "channel phone: tgram",
        "channel team: discord",
        "channel mail: mailtos",
        "rule nba-arbs: arbitrage, profit >= 1% and <= 15% → phone, team",
        "rule pinnacle-ev: positive_ev, EV >= 3% and <= 20%, fair prices from Pinnacle → "
        "phone, mail",
    ]
    assert not any(EXAMPLE_ENV["TG_BOT_TOKEN"] in line for line in lines)


def test_check_config_v1_feed(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "feeds:\n  - {name: v1, provider: therundown_v1, api_key: k, event_ids: [e1]}\n"
        + CHANNELS
        + RULES,
        encoding="utf-8",
    )
    assert check_config(path, {})[1][1:] == [
        "feed v1 (therundown_v1): event_ids e1; market_ids 1, 2, 3; all books",
        "channel phone: console",
        "rule arbs: arbitrage, profit >= 0% → phone",
    ]


def test_check_config_failure(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(rule("repeat: 0", "gone: 1"), encoding="utf-8")
    assert check_config(path, {}) == (
        False,
        [
            f"{path}:14: rules[0].repeat: expected a duration > 0, got 0",
            f"{path}:15: rules[0].gone: expected true or false, got 1",
        ],
    )


def test_show_config_redacts_and_reloads() -> None:
    config = load_config(EXAMPLE, EXAMPLE_ENV)
    shown = show_config(config)
    for secret in (
        "oa_example",
        "rundown-example",
        "AAHexampleTOKEN",
        "abcdefghijklmnop",
        "password",
    ):
        assert secret not in shown
    document = yaml.safe_load(shown)
    assert document["feeds"][0]["api_key"] == REDACTED
    assert document["channels"]["phone"]["urls"] == [REDACTED]
    assert document["rules"][0]["min_profit"] == "1%"
    assert document["rules"][0]["repeat"] == "10m"
    # An American config's odds bounds in American, as written (not 5.0)...
    assert document["odds_format"] == "american"
    assert document["rules"][0]["odds"] == {"min": "-200", "max": "+400"}
    assert "odds: {min: '-200', max: '+400'}" in shown
    # With the secrets put back, the output is the same config.
    for feed_entry in document["feeds"]:
        feed_entry["api_key"] = (
            "oa_example" if feed_entry["provider"] == "rapidoddsapi" else "rundown-example"
        )
    for name, entry in document["channels"].items():
        entry["urls"] = [url.reveal() for url in config.channels[name].urls]
    again = parse(yaml.safe_dump(document), source=EXAMPLE)
    assert again == config


def test_show_config_positive_ev_and_defaults() -> None:
    document = yaml.safe_load(show_config(parse(FEED + CHANNELS + EV_RULES, env={"HOME": "/h"})))
    ev = document["rules"][0]
    assert ev["sharp"] == ["Pinnacle"]
    assert ev["devig"] == "worst_case"
    assert not {"min_profit", "max_ev", "odds"} & set(ev)
    assert document["state_dir"] == "/h/.local/state/arbwatch"
    assert document["history_retention"] == "90d"
    assert document["timezone"] == "UTC"
    forever = parse(FEED + CHANNELS + EV_RULES + "history_retention: 0\n", env={"HOME": "/h"})
    # ... and decimal where American would round the price: the output reads back the same.
    rounded = parse(
        FEED + CHANNELS + RULES + "    odds: {min: 1.45}\nodds_format: american\n", env={}
    )
    assert yaml.safe_load(show_config(rounded))["rules"][0]["odds"] == {"min": 1.45}
    assert yaml.safe_load(show_config(forever))["history_retention"] == "0s"


SECRETLESS = """\
bankroll: ${BANKROLL}
feeds:
  - {name: rapid, provider: rapidoddsapi, api_key: "${RAPID_KEY}", sports: [NBA],
     bookmakers: [Pinnacle], market_types: [head_to_head]}
  - {name: rundown, provider: therundown, api_key_file: /nonexistent/rundown.key,
     sport_ids: [4], base_url: "https://${RELAY_LOGIN}@relay.invalid"}
channels:
  phone: tgram://${TG_BOT_TOKEN}/${TG_CHAT_ID}
  mail: {url_file: /nonexistent/mail.url, freshness: 1m}
rules:
  - {name: arbs, kind: arbitrage, notify: [phone, mail]}
"""


def test_a_config_without_its_secrets_loads_for_commands_that_need_none() -> None:
    secretless = parse_config(
        SECRETLESS, source=Path("config.yaml"), env={"BANKROLL": "500"}, secrets=False
    )
    assert secretless.rules[0].bankroll == 500.0
    assert [feed.name for feed in secretless.feeds] == []
    # Every problem a run would meet is there when the secrets are needed.
    assert problems(SECRETLESS, {"BANKROLL": "500"}) == [
        "config.yaml:3: feeds[0].api_key: environment variable RAPID_KEY is not set",
        "config.yaml:5: feeds[1].api_key_file: cannot read /nonexistent/rundown.key: "
        "No such file or directory",
        "config.yaml:6: feeds[1].base_url: environment variable RELAY_LOGIN is not set",
        "config.yaml:8: channels.phone: environment variable TG_BOT_TOKEN is not set",
        "config.yaml:8: channels.phone: environment variable TG_CHAT_ID is not set",
        "config.yaml:9: channels.mail.url_file: cannot read /nonexistent/mail.url: "
        "No such file or directory",
    ]


def test_a_config_without_its_secrets_still_refuses_every_other_mistake() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(SECRETLESS, source=Path("config.yaml"), env={}, secrets=False)
    assert refused.value.problems == [
        "config.yaml:1: bankroll: environment variable BANKROLL is not set"
    ]


# --- max_requests_per_second -----------------------------------------------------------------


def test_max_requests_per_second_defaults_to_the_documented_limit_and_is_shown() -> None:
    rapid = parse(MINIMAL).feeds[0]
    assert isinstance(rapid, RapidOddsSettings)
    assert rapid.max_requests_per_second == 30.0
    example = load_config(EXAMPLE, EXAMPLE_ENV)
    rundown = next(f for f in example.feeds if isinstance(f, RundownSettings))
    assert rundown.max_requests_per_second == 10.0  # Ultra, the least plan with WebSocket
    starter = parse(feed("max_requests_per_second: 2")).feeds[0]
    assert starter.max_requests_per_second == 2.0
    shown = yaml.safe_load(show_config(parse(feed("max_requests_per_second: 1.5"))))
    assert shown["feeds"][0]["max_requests_per_second"] == 1.5  # a rate, not "1.5s"


@pytest.mark.parametrize("written", ["0", "-1", "fast", "10s"])
def test_max_requests_per_second_must_be_a_positive_number(written: str) -> None:
    found = problems(feed(f"max_requests_per_second: {written}"))
    assert found == [
        "config.yaml:8: feeds[0].max_requests_per_second: expected a number > 0, got "
        + (written if written.lstrip("-").isdigit() else f'"{written}"')
    ]


# --- max_price ---------------------------------------------------------------------------------


def test_max_price_defaults_to_a_thousand_and_is_shown_as_odds() -> None:
    assert parse(MINIMAL).feeds[0].max_price == 1000.0
    example = load_config(EXAMPLE, EXAMPLE_ENV)
    assert {f.max_price for f in example.feeds} == {1000.0}
    assert parse(feed("max_price: 51")).feeds[0].max_price == 51.0
    shown = yaml.safe_load(show_config(parse(feed("max_price: 250.5"))))
    assert shown["feeds"][0]["max_price"] == 250.5  # decimal odds, not "4m10.5s"


@pytest.mark.parametrize("written", ["1", "0.5", "-3", "long", "10s", ".inf"])
def test_max_price_must_be_decimal_odds_above_one(written: str) -> None:
    (found,) = problems(feed(f"max_price: {written}"))
    assert found.startswith("config.yaml:8: feeds[0].max_price: expected a number > 1, got ")


def test_a_feed_settings_refusal_is_placed_at_its_key() -> None:
    text = (
        "feeds:\n"
        "  - name: legacy\n"
        "    provider: therundown_v1\n"
        "    api_key: k\n"
        "    sport_ids: [4]\n"
        "    market_ids: [1, 29]\n"
        "channels: {phone: 'json://127.0.0.1:9/'}\n"
        "rules: [{name: r, kind: arbitrage, notify: [phone]}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source=Path("config.yaml"), env={})
    assert caught.value.problems == [
        "config.yaml:6: feeds[0].market_ids: a V1 feed carries market_ids 1, 2 and 3 only",
    ]


# --- grouping, min_duration, min_books ----------------------------------------------------


def test_grouping_defaults_suit_a_phone_and_rules_hold_blinks_and_one_book_arbs() -> None:
    config = parse(MINIMAL)
    phone = config.channels["phone"]
    assert (phone.group_wait, phone.group_interval, phone.max_per_minute) == (0.5, 30.0, 6)
    (arbs,) = config.rules
    assert (arbs.min_books, arbs.min_duration) == (2, 0.3)


def test_grouping_and_rule_settings_are_read() -> None:
    text = channel(
        "mail:",
        "  url: console://",
        "  group_wait: 0s",
        "  group_interval: 2m",
        "  max_per_minute: 0",
    ) + indented(("min_books: 1", "min_duration: 2s"), 4)
    config = parse(text)
    mail = config.channels["mail"]
    assert (mail.group_wait, mail.group_interval, mail.max_per_minute) == (0.0, 120.0, 0)
    (arbs,) = config.rules
    assert (arbs.min_books, arbs.min_duration) == (1, 2.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            rule("min_books: 0"),
            ["config.yaml:14: rules[0].min_books: expected a whole number >= 1, got 0"],
        ),
        (
            rule("min_duration: -1"),
            ["config.yaml:14: rules[0].min_duration: expected a duration >= 0, got -1"],
        ),
        (
            ev_rule("min_books: 2"),
            [
                "config.yaml:15: rules[0].min_books: min_books is for arbitrage "
                "rules only (an EV bet is at one book)"
            ],
        ),
        (
            channel("mail:", "  url: console://", "  max_per_minute: -1"),
            ["config.yaml:12: channels.mail.max_per_minute: expected a whole number >= 0, got -1"],
        ),
    ],
)
def test_grouping_and_rule_settings_refuse_nonsense(text: str, expected: list[str]) -> None:
    assert problems(text) == expected
