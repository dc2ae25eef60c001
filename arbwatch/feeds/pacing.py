"""REST within a plan's limits: one paced client per feed.

Both providers throttle REST per key: TheRundown by plan (Free 1 request a second, Starter
2, Pro 5, Ultra 10, Super 15, Mega 20, Max 50), RapidOddsAPI at 30 a second; past that, a
429 with ``Retry-After`` (usually 1). A feed that fires its start-up pages at once is
refused at the same request every time. So every REST request of a feed goes through one
`PacedClient`:

    Pacer          pure (times passed in): when the next request may start. Requests are
                   spaced evenly, ``(1 + SAFETY_MARGIN) / max_requests_per_second`` apart,
                   so that any ``max_requests_per_second`` consecutive requests span more
                   than a second, with room for the network to bunch their arrivals up a
                   little (the provider counts arrivals, the client only departures). A
                   429's Retry-After pauses the whole feed: every request waits it out.
    PacedClient    the thin async shell: waits for the pacer, sends, and retries a request
                   refused for the rate (never for credits or data points) after its
                   Retry-After, at most `MAX_TRIES` times in all; then a retryable
                   `FeedError`. The one request is retried, never the work around it.

The provider's documented limit for a plan with WebSocket access is each feed's default
(`arbwatch.feeds.therundown.settings.RUNDOWN_ULTRA_RATE`,
`arbwatch.feeds.rapidodds.settings.RAPIDODDS_RATE`); a lower plan sets ``max_requests_per_second``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Final

import anyio
import httpx

from arbwatch.feeds.base import FeedError
from arbwatch.feeds.failures import retry_after_seconds

log = logging.getLogger(__name__)

#: Share of a second added to every window of ``max_requests_per_second`` requests: the
#: provider counts requests as they arrive, and arrivals bunch up by network jitter. At
#: 0.05 a request delayed 50 ms on a busy 2-core machine was refused now and then; 0.1
#: leaves 100 ms and costs a tenth of the start-up pace.
SAFETY_MARGIN: Final = 0.1
#: Tries of one request refused for the rate, the first included.
MAX_TRIES: Final = 4
#: The longest Retry-After waited out in place (seconds). A longer one is no burst limit
#: but a quota, and is left to the caller's own retry policy.
MAX_IN_PLACE_WAIT: Final = 30.0
#: Words in a 429's body that mean a quota ran out, not the rate: such a 429 is the
#: caller's to handle (RapidOddsAPI "Insufficient credits ...", TheRundown "Daily data
#: point limit reached").
QUOTA_WORDS: Final = ("credit", "data point", "datapoint")

#: Query parameters: a mapping, or pairs (RapidOddsAPI repeats a name).
Params = Mapping[str, str] | tuple[tuple[str, str], ...]


class Pacer:
    """When the next request of a feed may start. Pure: every time is passed in.

    Times are monotonic seconds. `ready_at` is when the next request may start;
    `started` records one starting; `pause` holds every request back (a 429's
    Retry-After).
    """

    def __init__(self, max_requests_per_second: float, margin: float = SAFETY_MARGIN) -> None:
        """Space requests to stay under ``max_requests_per_second``, ``margin`` to spare."""
        if not (math.isfinite(max_requests_per_second) and max_requests_per_second > 0):
            raise ValueError("max_requests_per_second must be a positive number")
        if not (math.isfinite(margin) and margin >= 0):
            raise ValueError("margin must be a number >= 0")
        self.max_requests_per_second = max_requests_per_second
        #: Seconds between the starts of two requests.
        self.interval = (1.0 + margin) / max_requests_per_second
        self._next = -math.inf
        self._paused_until = -math.inf

    @property
    def ready_at(self) -> float:
        """The earliest time the next request may start."""
        return max(self._next, self._paused_until)

    def ready(self, now: float) -> bool:
        """Whether a request may start at ``now``."""
        return now >= self.ready_at

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until a request may start (0 when it may now)."""
        return max(0.0, self.ready_at - now)

    def started(self, now: float) -> None:
        """Record a request starting at ``now``; the next one waits an interval."""
        self._next = max(now, self.ready_at) + self.interval

    def pause(self, until: float) -> None:
        """Start no request before ``until`` (keeps a later pause already set)."""
        self._paused_until = max(self._paused_until, until)


def is_rate_limited(response: httpx.Response) -> bool:
    """Whether ``response`` refuses a request for its rate: a 429 that is not a quota.

    A 429 whose body names credits or data points means the allowance ran out; retrying
    in a second cannot help and costs a request.
    """
    if response.status_code != 429:
        return False
    try:
        text = response.text.lower()
    except httpx.ResponseNotRead:
        return True
    return not any(word in text for word in QUOTA_WORDS)


class PacedClient:
    """One feed's REST requests, spaced by a `Pacer`, rate-limit refusals retried.

    Counters (read by the feed's stats): ``requests`` sent, ``rate_limited`` 429s for the
    rate, ``retries`` of refused requests, ``waited`` seconds spent waiting for a turn.
    """

    def __init__(
        self,
        feed: str,
        max_requests_per_second: float,
        *,
        max_tries: int = MAX_TRIES,
        max_in_place_wait: float = MAX_IN_PLACE_WAIT,
        clock: Callable[[], float] = anyio.current_time,
    ) -> None:
        """Pace feed ``feed``'s requests to ``max_requests_per_second``.

        ``clock`` is monotonic seconds (the event loop's by default); ``max_tries``
        bounds the tries of one request refused for the rate.
        """
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        self.feed = feed
        self.pacer = Pacer(max_requests_per_second)
        self.max_tries = max_tries
        self.max_in_place_wait = max_in_place_wait
        self._clock = clock
        self.requests = 0
        self.rate_limited = 0
        self.retries = 0
        self.waited = 0.0

    def ready(self) -> bool:
        """Whether a request could start now without waiting."""
        return self.pacer.ready(self._clock())

    @property
    def ready_at(self) -> float:
        """When the next request may start (on ``clock``)."""
        return self.pacer.ready_at

    async def turn(self) -> None:
        """Wait until a request may start, and take that turn."""
        delay = self.pacer.wait(self._clock())
        if delay > 0:
            self.waited += delay
            await anyio.sleep(delay)
        self.pacer.started(self._clock())

    async def get(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        observe: Callable[[httpx.Response], None] | None = None,
    ) -> httpx.Response:
        """GET ``url`` in turn; retry it after a rate-limit 429's Retry-After.

        ``observe`` sees every response, refusals included (for recording). Any other
        answer, errors included, is returned for the caller to read; transport errors
        propagate.

        Raises:
            FeedError: (retryable, with the last Retry-After) the request was refused for
                the rate ``max_tries`` times, or asked for a wait over
                ``max_in_place_wait``.
        """
        path = httpx.URL(url).path
        attempt = 0
        while True:
            attempt += 1
            await self.turn()
            self.requests += 1
            response = await client.get(url, params=params, headers=headers)
            if observe is not None:
                observe(response)
            if not is_rate_limited(response):
                return response
            self.rate_limited += 1
            # A 429 without Retry-After still means "not this second".
            retry_after = retry_after_seconds(response)
            wait = 1.0 if retry_after is None else retry_after
            self.pacer.pause(self._clock() + wait)
            if attempt == self.max_tries or wait > self.max_in_place_wait:
                raise FeedError(
                    f"GET {path}: rate limited (HTTP 429) {attempt} times in a row; "
                    f"max_requests_per_second ({self.pacer.max_requests_per_second:g}) may be "
                    "above the plan's limit",
                    fatal=False,
                    retry_after=wait,
                )
            self.retries += 1
            log.warning(
                "feed %s: GET %s rate limited (HTTP 429); retrying in %.1f s (try %d of %d)",
                self.feed,
                path,
                wait,
                attempt + 1,
                self.max_tries,
            )
