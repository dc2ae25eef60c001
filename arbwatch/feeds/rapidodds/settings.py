"""RapidOddsAPI feed settings: what one configured feed subscribes to, checked when built.

Pure: no I/O library, so config loading pays for none (the driver is
`arbwatch.feeds.rapidodds.driver`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, TypeGuard
from urllib.parse import SplitResult, quote, urlsplit

from arbwatch.feeds.base import (
    DEFAULT_KEY_RETRY,
    MAX_FRAME_BYTES,
    SettingsError,
    redact,
    websocket_url,
)
from arbwatch.feeds.model import (
    DEFAULT_MAX_PRICE,
)
from arbwatch.feeds.rapidodds.wire import (
    credits_per_push,
)

#: RapidOddsAPI's REST host; the odds WebSocket is ``wss://`` on the same host, path /ws.
DEFAULT_BASE_URL: Final = "https://api.rapidoddsapi.com"
#: RapidOddsAPI sends no heartbeat, and pushes follow scrape cycles whose cadence depends
#: on the sport; five minutes without a frame means the connection is dead.
DEFAULT_IDLE_TIMEOUT: Final = 300.0
#: Out of credits, how often to ask the free ``/usage`` whether they are back (and to retry
#: a REST request refused for credits): a top-up is noticed within this long, and
#: ``/usage`` costs nothing.
DEFAULT_CREDITS_RETRY: Final = 30.0
#: Seconds between REST snapshots when the plan has no WebSocket.
DEFAULT_POLL_INTERVAL: Final = 60.0
#: RapidOddsAPI allows 30 REST requests a second per key.
RAPIDODDS_RATE: Final = 30.0


class RapidOddsSettingsError(SettingsError):
    """A RapidOddsAPI feed configured in a way the API would refuse; names the feed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RapidOddsSettings:
    """One RapidOddsAPI feed's configuration.

    Attributes:
        name: the feed's name, on its batches, stats and log lines.
        api_key: the key (starts with ``oa_``). Never shown: left out of ``repr``.
        sports: RapidOddsAPI sport ids ("NBA", "EPL"); one subscription each.
        bookmakers: feed names as RapidOddsAPI spells them ("Pinnacle", "DraftKings").
        market_types: market keys ("head_to_head", "alternate_lines").
        base_url: the REST base URL, overridable for a proxy, relay or simulator. The
            WebSocket URL derives from it: ``http`` becomes ``ws``, ``https`` becomes
            ``wss``, and ``/ws`` is appended to its path (see `ws_url`).
        idle_timeout: seconds without any frame after which the connection is presumed
            dead and reopened. RapidOddsAPI sends no heartbeats; pushes follow scrape
            cycles, so keep this above the slowest sport's cycle.
        credits_retry: seconds between looks at ``/usage`` while out of credits (and the
            wait before a REST request refused for credits is tried again).
        poll_interval: seconds between REST snapshots when the plan lacks WebSocket.
        rest_bootstrap: take one REST snapshot per sport at start, so that prices are
            known before the first push (a push only follows the next scrape cycle).
            Costs the same credits as one push per sport.
        max_frame_bytes: the largest WebSocket message read; a larger one is refused
            as it arrives (the connection closed with 1009, counted, opened again).
        key_retry: seconds before a refused key is tried again (a key can be renewed);
            the wait doubles up to three times this.
        max_requests_per_second: REST requests (snapshots, polling, ``/usage``) are
            spaced to stay under this rate: RapidOddsAPI allows 30 a second per key.
        max_price: the longest decimal odds taken; a longer price withdraws the quote
            and is counted (``prices_out_of_range`` in the feed's stats).

    Raises:
        RapidOddsSettingsError: a key without ``oa_``, an empty or blank list, a base
            URL that is not http(s), or a non-positive interval.
    """

    name: str
    api_key: str = field(repr=False)
    sports: tuple[str, ...]
    bookmakers: tuple[str, ...]
    market_types: tuple[str, ...]
    base_url: str = DEFAULT_BASE_URL
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    credits_retry: float = DEFAULT_CREDITS_RETRY
    poll_interval: float = DEFAULT_POLL_INTERVAL
    rest_bootstrap: bool = True
    max_frame_bytes: int = MAX_FRAME_BYTES
    max_requests_per_second: float = RAPIDODDS_RATE
    key_retry: float = DEFAULT_KEY_RETRY
    max_price: float = DEFAULT_MAX_PRICE

    def __post_init__(self) -> None:
        """Validate, and keep each list as a tuple without repeats."""
        # Checked as objects: settings come from YAML, where any type can turn up.
        name: object = self.name
        if not _is_name(name):
            raise RapidOddsSettingsError.one(
                name if isinstance(name, str) else "", "name", "a RapidOddsAPI feed needs a name"
            )
        feed = self.name
        key: object = self.api_key
        # The key itself is never quoted back: the message would end up in logs.
        if not _is_name(key) or not key.startswith("oa_") or len(key) == len("oa_"):
            raise RapidOddsSettingsError.one(feed, "api_key", "RapidOddsAPI keys start with 'oa_'")
        if any(c.isspace() for c in key):
            raise RapidOddsSettingsError.one(feed, "api_key", "contains whitespace")
        for names in ("sports", "bookmakers", "market_types"):
            object.__setattr__(self, names, _names(feed, names, getattr(self, names)))
        url = _parse_url(feed, self.base_url)
        if url.scheme not in ("http", "https") or not url.hostname or url.query:
            raise RapidOddsSettingsError.one(
                feed,
                "base_url",
                f"expected http(s)://host[/path] without a query, got {redact(self.base_url)!r}",
            )
        for interval in ("idle_timeout", "poll_interval", "key_retry"):
            value = getattr(self, interval)
            if not _finite(value) or value <= 0:
                raise RapidOddsSettingsError.one(
                    feed, interval, f"expected seconds > 0, got {value}"
                )
        rate = self.max_requests_per_second
        if not _finite(rate) or rate <= 0:
            raise RapidOddsSettingsError.one(
                feed, "max_requests_per_second", f"expected a number > 0, got {rate}"
            )
        if not _finite(self.credits_retry) or self.credits_retry < 0:
            raise RapidOddsSettingsError.one(
                feed, "credits_retry", f"expected seconds >= 0, got {self.credits_retry}"
            )
        if not _finite(self.max_price) or self.max_price <= 1.0:
            raise RapidOddsSettingsError.one(
                feed, "max_price", f"expected decimal odds above 1.0, got {self.max_price}"
            )
        limit: object = self.max_frame_bytes
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise RapidOddsSettingsError.one(
                feed, "max_frame_bytes", f"expected a positive integer, got {self.max_frame_bytes}"
            )

    @property
    def ws_url(self) -> str:
        """The odds WebSocket URL, without the key (it goes in as a query parameter).

        ``https://api.rapidoddsapi.com`` gives ``wss://api.rapidoddsapi.com/ws``, and
        ``http://127.0.0.1:8000/relay`` gives ``ws://127.0.0.1:8000/relay/ws``.
        """
        return websocket_url(self.base_url, "/ws")

    def markets_url(self, sport: str) -> str:
        """The REST odds endpoint of one sport: ``{base}/sports/{sport}/markets``."""
        return f"{self.base_url.rstrip('/')}/sports/{quote(sport, safe='')}/markets"

    @property
    def usage_url(self) -> str:
        """The free ``/usage`` endpoint: the key's tier and credits."""
        return f"{self.base_url.rstrip('/')}/usage"

    @property
    def credits_per_push(self) -> int:
        """What one push (or REST snapshot) of one sport costs, by the documented formula."""
        return credits_per_push(len(self.market_types), len(self.bookmakers))


def _names(feed: str, field_name: str, values: object) -> tuple[str, ...]:
    """A non-empty tuple of non-blank names, repeats dropped (the API counts them once)."""
    # A bare string is a sequence too: "NBA" would otherwise become ("N", "B", "A").
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise RapidOddsSettingsError.one(feed, field_name, "expected a list of names")
    names = tuple(values)
    if not names:
        raise RapidOddsSettingsError.one(feed, field_name, "must not be empty")
    for value in names:
        if not _is_name(value):
            raise RapidOddsSettingsError.one(
                feed, field_name, f"expected non-blank names, got {value!r}"
            )
    return tuple(dict.fromkeys(names))


def _parse_url(feed: str, text: object) -> SplitResult:
    """``text`` as a URL, or a settings error."""
    if not isinstance(text, str):
        raise RapidOddsSettingsError.one(feed, "base_url", "expected a URL")
    try:
        return urlsplit(text)
    except ValueError as error:
        raise RapidOddsSettingsError.one(feed, "base_url", f"{error}") from None


def _is_name(value: object) -> TypeGuard[str]:
    """Whether ``value`` is text with something other than spaces in it."""
    return isinstance(value, str) and bool(value.strip())


def _finite(value: object) -> bool:
    """Whether ``value`` is a real, finite number (bools excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
