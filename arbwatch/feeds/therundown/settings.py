"""TheRundown V2 feed settings: what one configured feed watches, checked when built.

Pure: no I/O library, so config loading pays for none (the driver is
`arbwatch.feeds.therundown.driver`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from arbwatch.feeds.base import (
    DEFAULT_KEY_RETRY,
    SettingsError,
    websocket_url,
)
from arbwatch.feeds.model import (
    DEFAULT_MAX_PRICE,
)

#: The V2 markets WebSocket path.
V2_WS_PATH: Final = "/api/v2/ws/markets"
#: TheRundown's frames are single price changes (well under 1 KiB); anything near this is
#: a broken server. Smaller than `MAX_FRAME_BYTES`, which fits RapidOddsAPI's snapshots.
DEFAULT_MAX_FRAME_BYTES: Final = 1024 * 1024
#: The events endpoint reads at most this many market ids and silently ignores the rest.
MAX_MARKET_IDS: Final = 12
#: TheRundown's Ultra plan allows 10 requests a second, the least plan with WebSocket access.
RUNDOWN_ULTRA_RATE: Final = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RundownSettings:
    """What one TheRundown V2 feed connects to and how it behaves.

    Attributes:
        name: the feed's name (``FeedBatch.feed``, log lines, stats).
        api_key: the key; never shown by ``repr`` and never put in a URL.
        base_url: ``https://therundown.io`` or a proxy / relay / test server. REST paths
            are appended to it; the WebSocket URL is derived from it (``http`` -> ``ws``,
            ``https`` -> ``wss``) plus ``/api/v2/ws/markets``.
        sport_ids: the sports to watch (at least one): REST pages, WS and delta filters.
        market_ids: the markets (at most 12, TheRundown ignores the rest silently).
        affiliate_ids: only these books, when not empty.
        days_ahead: the bootstrap fetches the dates today .. today + days_ahead (UTC).
        heartbeat_timeout: seconds without a heartbeat before reconnecting (TheRundown
            beats every 15 s; its sample code gives up after 60).
        refresh_interval: seconds between REST refreshes of the events pages (new games,
            and a fresh delta cursor: keep it under TheRundown's 30-minute cursor life).
        refetch_interval: the least time between two fetches of one event, or of the
            affiliates, asked for by frames that could not be placed.
        min_resync_interval: the first wait before recovering a batch the engine dropped;
            it doubles while the engine stays behind (up to ``refresh_interval``).
        request_timeout: seconds for one REST call, when the feed makes its own client.
        max_frame_bytes: a WebSocket message growing past this is refused as it arrives:
            the connection is closed with 1009, counted (``oversized``, ``malformed``) and
            opened again.
        max_requests_per_second: REST requests are spaced to stay under this rate: the
            plan's burst limit (Ultra 10, the least plan with WebSocket access; Free 1,
            Starter 2, Pro 5, Super 15, Mega 20, Max 50).
        key_retry: seconds before a refused key (401) is tried again (a key can be
            renewed); the wait doubles up to three times this.
        max_price: the longest decimal odds taken; a longer price withdraws the quote
            and is counted (``prices_out_of_range`` in the feed's stats).
    """

    name: str
    api_key: str = field(repr=False)
    base_url: str = "https://therundown.io"
    sport_ids: tuple[int, ...] = ()
    market_ids: tuple[int, ...] = (1, 2, 3)
    affiliate_ids: tuple[int, ...] = ()
    days_ahead: int = 2
    heartbeat_timeout: float = 60.0
    refresh_interval: float = 600.0
    refetch_interval: float = 60.0
    min_resync_interval: float = 1.0
    request_timeout: float = 15.0
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_requests_per_second: float = RUNDOWN_ULTRA_RATE
    key_retry: float = DEFAULT_KEY_RETRY
    max_price: float = DEFAULT_MAX_PRICE

    def __post_init__(self) -> None:
        """Refuse settings that cannot work, naming the field."""
        if not self.name:
            raise SettingsError.one(self.name, "name", "a feed needs a name")
        if not self.api_key:
            raise SettingsError.one(self.name, "api_key", "is empty")
        if not self.base_url.startswith(("http://", "https://")):
            raise SettingsError.one(self.name, "base_url", "must start with http:// or https://")
        if not self.market_ids or len(self.market_ids) > MAX_MARKET_IDS:
            raise SettingsError.one(self.name, "market_ids", f"needs 1 to {MAX_MARKET_IDS} ids")
        if self.days_ahead < 0:
            raise SettingsError.one(self.name, "days_ahead", "must be 0 or more")
        for label, value in (
            ("heartbeat_timeout", self.heartbeat_timeout),
            ("refresh_interval", self.refresh_interval),
            ("refetch_interval", self.refetch_interval),
            ("min_resync_interval", self.min_resync_interval),
            ("request_timeout", self.request_timeout),
            ("max_requests_per_second", self.max_requests_per_second),
            ("key_retry", self.key_retry),
        ):
            if not (math.isfinite(value) and value > 0):
                raise SettingsError.one(self.name, label, "must be a positive number")
        if self.max_frame_bytes <= 0:
            raise SettingsError.one(self.name, "max_frame_bytes", "must be positive")
        if not (math.isfinite(self.max_price) and self.max_price > 1.0):
            raise SettingsError.one(self.name, "max_price", "must be decimal odds above 1.0")
        self._check_scope()

    def _check_scope(self) -> None:
        """The V2 socket is filtered by sport: at least one is needed."""
        if not self.sport_ids:
            raise SettingsError.one(self.name, "sport_ids", "needs at least one sport")

    @property
    def ws_url(self) -> str:
        """The V2 markets WebSocket URL with its filters (the key goes in a header)."""
        params = {"sport_ids": ids_param(self.sport_ids), "market_ids": ids_param(self.market_ids)}
        if self.affiliate_ids:
            params["affiliate_ids"] = ids_param(self.affiliate_ids)
        return websocket_url(self.base_url, V2_WS_PATH, params)


def ids_param(values: Iterable[object]) -> str:
    """Ids as one query parameter: ``1,2,3``."""
    return ",".join(str(value) for value in values)
