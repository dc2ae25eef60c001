"""RapidOddsAPI driver: the feed that runs a `RapidOddsSession` over httpx and httpx-ws.

Three layers, after the house style (sans-I/O core, thin I/O shell), a module each here:

`RapidOddsSettings`
    What one configured RapidOddsAPI feed asks for, validated when it is built.
`RapidOddsSession`
    Pure and replayable: frames and REST bodies go in (with the time they arrived), and
    `SessionResult`s come out, carrying the `FeedBatch` for the engine. It holds the event
    identity, what the engine has been sent per sport, and the credit figures. A recording
    fed through a new session gives the same batches again.
`RapidOddsFeed`
    The I/O: an optional REST bootstrap, the odds WebSocket, the REST polling fallback;
    the client, reconnects, recording and redaction are the shared `FeedDriver`'s.

How a push becomes a batch
    Every ``odds_update`` push (and every REST snapshot) is a full snapshot of one sport's
    subscribed scope, so it replaces what that sport quoted before: a cell quoted before
    and missing now is withdrawn (price NaN), and a cell whose price and quote time are
    what the engine already has is not sent again. Pushes are compared in bulk: each
    book-game (one bookmaker's object under one game) is kept as the bytes it came in,
    and one pushed byte for byte as last time is not even read; only the others are, and
    the cells of book-games gone from the push are the withdrawals. A 9 MB push of
    120,000 prices with six changed costs about 60 ms of CPU so. The first
    push after a reconnect therefore neither withdraws what merely was not pushed while
    the connection was down, nor sends the whole sport again: only what changed. When the
    engine is behind and a batch is dropped (`Handoff`), the session forgets what it
    believed the engine had for that sport, and the next snapshot of it is sent in full,
    with a withdrawal of every cell the engine may still hold from before.

What the feed does on each failure
    ===========================================  ===========================================
    403 at the WebSocket handshake               probe ``GET /usage`` (free) with the same
                                                 key: 200 means the plan lacks WebSocket
                                                 (the free tier): poll REST every
                                                 ``poll_interval`` for the rest of the run;
                                                 401/403 means the key is refused
    close code 4001, REST 401/403                the key is refused: REFUSED (a health
                                                 alert), tried again every ``key_retry``
                                                 (doubling to 3x), since a key or a
                                                 subscription can be renewed
    REST 400/404/422                             fatal: a sport, book or market the API
                                                 rejects will not turn valid by retrying
    ``error`` event about credits                the server skips the push and keeps the
                                                 socket: stay connected (``out_of_credits``)
                                                 and ask the free ``/usage`` every
                                                 ``credits_retry`` until credits are back;
                                                 the next push resumes by itself
    REST 429 about credits                       retry after ``credits_retry`` (credits do
                                                 not come back within a backoff)
    REST 429 rate limit, 5xx, network, closes,   retry after the backoff (or Retry-After
    ``idle_timeout`` of silence                  when the server gives a longer one)
    a malformed or binary frame                  counted in ``stats.malformed``, skipped
    a message over ``max_frame_bytes``           refused while it arrives: closed with 1009,
                                                 counted (``oversized_frames``), reconnect
    any other ``error`` event                    logged, the connection stays up
    ===========================================  ===========================================

Secrets
    The API key travels in the query string (REST and WebSocket). Nothing here puts it in
    a message: URLs are logged and recorded redacted, and every error is redacted by
    `reconnecting`. Third-party libraries do log URLs (httpx logs every request at INFO),
    so `install_redaction` puts a `RedactingFilter` on the loggers that create those
    records; see its docstring for why loggers rather than handlers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Final

import anyio
import httpx
from httpx_ws import (
    AsyncWebSocketSession,
    WebSocketDisconnect,
    WebSocketUpgradeError,
)

from arbwatch.feeds.base import (
    Allowance,
    Backoff,
    FeedError,
    truncate,
)
from arbwatch.feeds.bounded_ws import aconnect_bounded
from arbwatch.feeds.collector import collector_paused
from arbwatch.feeds.connection import (
    frames,
)
from arbwatch.feeds.driver import FeedDriver
from arbwatch.feeds.failures import (
    KEY_REFUSED_CLOSE_CODE,
    leaf_error,
    retry_after_seconds,
)
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.model import (
    PRICES_OUT_OF_RANGE,
    ParseError,
)
from arbwatch.feeds.rapidodds.session import OversizedFrameError, RapidOddsSession, SessionResult
from arbwatch.feeds.rapidodds.settings import RapidOddsSettings
from arbwatch.feeds.rapidodds.wire import (
    PROVIDER,
    Connected,
    ErrorEvent,
    OddsUpdate,
    Subscribed,
    Unsubscribed,
)
from arbwatch.feeds.recording import FrameRecorder

log = logging.getLogger(__name__)

#: Protocol-level pings, the only liveness check a quiet RapidOddsAPI socket has.
KEEPALIVE_SECONDS: Final = 20.0
#: What httpx-ws reads from the socket at a time. httpx-ws calls this
#: ``max_message_size_bytes``, but it is only a read-chunk size; the frame limit
#: (`RapidOddsSettings.max_frame_bytes`) is enforced while a message arrives, by
#: `arbwatch.feeds.bounded_ws`.
READ_CHUNK_BYTES: Final = 256 * 1024
#: Timeout of each REST request (connect, read, write, pool), in seconds.
REST_TIMEOUT: Final = 30.0


# --- the feed --------------------------------------------------------------------------


class RapidOddsFeed(FeedDriver):
    """Runs one RapidOddsAPI feed: REST bootstrap, WebSocket pushes, or REST polling.

    ``stats`` is the feed's `FeedStats`. ``frames`` counts WebSocket frames and REST
    snapshots; ``malformed`` the unreadable or oversized ones; ``last_message_at`` is set
    by every one received, batch or not (an unchanged push carries no batch). In
    ``stats.extra``: ``credits_per_push`` (the server's figure, summed over the sports),
    ``credits_charged_total``, ``credits_remaining`` (once known), ``oversized_frames``,
    ``skipped_parts`` (games, markets, outcomes and prices the parser skipped),
    ``polling`` (1.0 once on REST polling), ``rest_requests`` (REST requests sent, paced
    to ``max_requests_per_second``) and ``rate_limited`` (429s for the rate, each retried).
    """

    #: The provider's name, in status and in recordings.
    provider: str = PROVIDER

    def __init__(
        self,
        settings: RapidOddsSettings,
        identity: EventIdentity,
        *,
        client: httpx.AsyncClient | None = None,
        recorder: FrameRecorder | None = None,
        clock: Callable[[], float] = time.time,
        backoff_factory: Callable[[], Backoff] = Backoff,
    ) -> None:
        """Prepare the feed; nothing connects until `run`.

        Args:
            settings: what to subscribe to, and where.
            identity: the event identity shared with the other feeds.
            client: the HTTP client for REST and the WebSocket handshake; one is made (and
                closed) by `run` when None. `read_error_bodies` is added to its response
                hooks, so that a refused handshake's reason can be read.
            recorder: records every WebSocket frame and REST body, when given.
            clock: wall-clock time in epoch seconds, stamped on every frame received.
            backoff_factory: makes the reconnect backoff (small delays in tests).
        """
        super().__init__(
            settings,
            client=client,
            recorder=recorder,
            clock=clock,
            backoff=backoff_factory(),
            request_timeout=REST_TIMEOUT,
            logger=log,
        )
        self.settings = settings
        self.stats.extra[PRICES_OUT_OF_RANGE] = 0.0
        self.session = RapidOddsSession(
            identity,
            feed=settings.name,
            expected_credits_per_push=settings.credits_per_push,
            max_frame_bytes=settings.max_frame_bytes,
            max_price=settings.max_price,
        )
        self._polling = False
        self._usage_checked = False
        #: The server said the credits ran out and skips the pushes; see `out_of_credits`.
        self._credits_exhausted = False
        #: The credits came back with a push: ask ``/usage`` once more for the new figures.
        self._usage_due = False
        self._bootstrapped: set[str] = set()
        self.stats.extra.update(rest_requests=0.0, rate_limited=0.0)

    @property
    def out_of_credits(self) -> bool:
        """Whether the credits ran out and have not come back (the socket stays open)."""
        return self._credits_exhausted

    def allowance(self) -> Allowance:
        """The credits charged since start, left and in the plan, as RapidOddsAPI said."""
        session = self.session
        return Allowance(
            used=session.credits_charged_total,
            remaining=session.credits_remaining,
            limit=session.credits_limit,
            exhausted=self._credits_exhausted,
        )

    @property
    def polling(self) -> bool:
        """Whether the feed fell back to REST polling (the plan has no WebSocket)."""
        return self._polling

    async def _serve(self) -> None:
        """The reconnect loop, and beside it the watch for credits coming back."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._watch_credits)
            await self._reconnecting()
            group.cancel_scope.cancel()

    # -- one attempt ------------------------------------------------------------------------

    async def _attempt(self, healthy: Callable[[], None]) -> None:
        """One connection: bootstrap if still due, then the WebSocket, or polling."""
        if self._polling:
            await self._poll(healthy, wait_first=False)
            return
        await self._check_usage()
        fresh = await self._bootstrap()
        refusal = await self._websocket(healthy)
        await self._fall_back_to_polling(refusal)
        healthy()
        await self._poll(healthy, wait_first=fresh)

    async def _websocket(self, healthy: Callable[[], None]) -> httpx.Response:
        """Run the WebSocket until it fails; return the refusal of a 403 handshake.

        A 403 may only mean that the plan lacks WebSocket, which the caller finds out;
        every other failure is raised, a close with 4001 as a fatal `FeedError`.
        """
        try:
            await self._stream(healthy)
        except Exception as error:
            refused = leaf_error(error, WebSocketUpgradeError)
            if refused is not None and refused.response.status_code == 403:
                return refused.response
            closed = leaf_error(error, WebSocketDisconnect)
            if closed is not None and closed.code == KEY_REFUSED_CLOSE_CODE:
                raise FeedError(
                    "RapidOddsAPI closed the connection with code 4001 (authentication "
                    f"failed: {closed.reason or 'no reason given'}); check the API key",
                    fatal=False,
                    key_refused=True,
                ) from error
            raise
        # A stream ends by raising (the idle timeout included); this is for completeness.
        raise FeedError("the WebSocket ended", fatal=False)

    async def _stream(self, healthy: Callable[[], None]) -> None:
        """Read the odds WebSocket until it fails; subscribe on every ``connected``."""
        settings = self.settings
        url = settings.ws_url
        log.info("feed %s: connecting to %s", settings.name, url)
        ws: AsyncWebSocketSession
        async with aconnect_bounded(
            url,
            self._http,
            max_message_bytes=settings.max_frame_bytes,
            read_chunk_bytes=READ_CHUNK_BYTES,
            keepalive_seconds=KEEPALIVE_SECONDS,
            params={"api_key": settings.api_key},
        ) as ws:
            greeted = False
            async for frame in frames(ws, settings.idle_timeout, self.stats):
                received_at = self._clock()
                self.stats.frames += 1
                self.stats.last_message_at = received_at
                self._record("ws", url, frame, received_at)
                result = self._read(frame, partial(self.session.handle_message, frame, received_at))
                if result is None:
                    continue
                # Handed over first, so the credit figures are current even when the
                # message ends the connection (out of credits).
                self._deliver(result)
                message = result.message
                if isinstance(message, Connected) and not greeted:
                    # A new connection has no subscriptions: RapidOddsAPI drops them all
                    # when a connection ends, so every connection subscribes afresh.
                    greeted = True
                    healthy()
                    await self._subscribe(ws)
                elif isinstance(message, Subscribed):
                    self._on_subscribed(message, result.credits_mismatch)
                elif isinstance(message, ErrorEvent):
                    self._on_error(message)
                elif isinstance(message, OddsUpdate):
                    self.stats.last_data_at = received_at
                    # A push that cost nothing (no games) says nothing about credits.
                    if message.credits_charged:
                        self._credits_back("a push was charged")
                elif isinstance(message, Unsubscribed):
                    log.warning(
                        "feed %s: unsubscribed from %s", settings.name, truncate(message.sport)
                    )

    async def _subscribe(self, ws: AsyncWebSocketSession) -> None:
        """Send one subscribe message per configured sport."""
        settings = self.settings
        for sport in settings.sports:
            await ws.send_json(
                {
                    "action": "subscribe",
                    "sport": sport,
                    "bookmakers": list(settings.bookmakers),
                    "market_types": list(settings.market_types),
                }
            )

    def _on_subscribed(self, message: Subscribed, mismatch: bool) -> None:
        name = self.settings.name
        log.info(
            "feed %s: subscribed to %s (%s credits per push)",
            name,
            message.sport,
            "?" if message.credits_per_push is None else message.credits_per_push,
        )
        if mismatch:
            log.warning(
                "feed %s: RapidOddsAPI charges %s credits per push of %s; the documented "
                "formula gives %s (market types x ceil(bookmakers / 5))",
                name,
                message.credits_per_push,
                message.sport,
                self.settings.credits_per_push,
            )

    def _on_error(self, message: ErrorEvent) -> None:
        """Act on an ``error`` event: out of credits is noted, others are logged.

        Out of credits, RapidOddsAPI skips the push and keeps the socket and its
        subscriptions: the next push after a top-up or renewal comes by itself, so the
        connection stays, and `_watch_credits` asks ``/usage`` when they are back.
        """
        if message.insufficient_credits:
            self.stats.extra.update(self.session.credit_figures())
            if not self._credits_exhausted:
                self._credits_exhausted = True
                log.warning(
                    "feed %s: RapidOddsAPI: out of credits (%s); staying connected, "
                    "asking /usage every %g s",
                    self.settings.name,
                    self._redact(truncate(message.message)),
                    self.settings.credits_retry,
                )
            return
        log.warning(
            "feed %s: RapidOddsAPI error: %s",
            self.settings.name,
            self._redact(truncate(message.message)),
        )

    def _credits_back(self, how: str) -> None:
        """Note that the credits are back, if they had run out."""
        if self._credits_exhausted:
            self._credits_exhausted = False
            # A push says the credits are back, not how many: /usage will.
            self._usage_due = how != "/usage"
            log.warning("feed %s: RapidOddsAPI credits are back (%s)", self.settings.name, how)

    async def _watch_credits(self) -> None:
        """While out of credits, ask the free ``/usage`` every ``credits_retry`` seconds.

        Credits are back once they pay for one push: the error message's "you have N
        remaining" may be above zero and still too few.
        """
        settings = self.settings
        while True:
            await anyio.sleep(settings.credits_retry)
            if not (self._credits_exhausted or self._usage_due):
                continue
            self._usage_due = False
            try:
                response = await self._get(settings.usage_url, (("api_key", settings.api_key),))
            except httpx.HTTPError as error:
                log.debug("feed %s: /usage failed: %s", settings.name, self._redact(str(error)))
                continue
            if response.status_code != 200:
                continue
            self._read_usage(response)
            remaining = self.session.credits_remaining
            if remaining is not None and remaining >= settings.credits_per_push:
                self._credits_back("/usage")

    def _out_of_credits(self, detail: str) -> FeedError:
        # Credits come back with a renewal or a top-up: read the balance again next time.
        self._usage_checked = False
        # The wait is credits_retry; `reconnecting` says so ("reconnecting in 900.0 s").
        return FeedError(
            f"RapidOddsAPI: out of credits ({self._redact(detail)})",
            fatal=False,
            retry_after=self.settings.credits_retry,
        )

    # -- REST -------------------------------------------------------------------------------

    async def _check_usage(self) -> None:
        """Learn the tier and credits left from the free ``/usage``, when not known.

        Once per run, and again after running out of credits.

        Best effort: the figures are for status lines, and the requests that matter
        report their own failures.
        """
        if self._usage_checked:
            return
        self._usage_checked = True
        try:
            response = await self._get(
                self.settings.usage_url, (("api_key", self.settings.api_key),)
            )
        except httpx.HTTPError as error:
            log.debug("feed %s: /usage failed: %s", self.settings.name, self._redact(str(error)))
            return
        if response.status_code == 200:
            self._read_usage(response)

    async def _bootstrap(self) -> bool:
        """One REST snapshot per sport not yet bootstrapped; whether any was taken now."""
        if not self.settings.rest_bootstrap:
            return False
        taken = False
        for sport in self.settings.sports:
            if sport not in self._bootstrapped:
                await self._snapshot(sport)
                self._bootstrapped.add(sport)
                taken = True
        return taken

    async def _fall_back_to_polling(self, refusal: httpx.Response) -> None:
        """After a 403 handshake: poll REST if the key works there, else stop for good."""
        settings = self.settings
        ws_detail = _detail(refusal) or "no reason given"
        response = await self._get(settings.usage_url, (("api_key", settings.api_key),))
        status = response.status_code
        if status in (401, 403):
            raise FeedError(
                f"RapidOddsAPI refused the key: WebSocket handshake HTTP 403 ({ws_detail}), "
                f"REST HTTP {status} ({_detail(response) or 'no reason given'}); check the "
                "API key and that the subscription is active",
                fatal=False,
                key_refused=True,
            )
        if status != 200:
            raise self._rest_failure(response, "checking the key on REST")
        self._read_usage(response)
        self._polling = True
        self.stats.extra["polling"] = 1.0
        log.warning(
            "feed %s: the WebSocket was refused (%s) but the key works on REST (tier %r): "
            "the plan lacks WebSocket access, so polling REST every %g s instead",
            settings.name,
            ws_detail,
            self.session.tier or "unknown",
            settings.poll_interval,
        )

    async def _poll(self, healthy: Callable[[], None], *, wait_first: bool) -> None:
        """Take a snapshot of every sport each ``poll_interval`` seconds, for ever."""
        if wait_first:
            # The bootstrap just took these snapshots; taking them again now costs credits.
            await anyio.sleep(self.settings.poll_interval)
        while True:
            for sport in self.settings.sports:
                await self._snapshot(sport)
                healthy()
            await anyio.sleep(self.settings.poll_interval)

    async def _snapshot(self, sport: str) -> None:
        """GET one sport's odds and deliver them; raise on a refusal."""
        settings = self.settings
        # Repeated singular parameters, not comma lists, as RapidOddsAPI requires.
        params = (
            ("api_key", settings.api_key),
            *(("market_type", market_type) for market_type in settings.market_types),
            *(("bookmaker", bookmaker) for bookmaker in settings.bookmakers),
        )
        url = settings.markets_url(sport)
        response = await self._get(url, params)
        if response.status_code != 200:
            raise self._rest_failure(response, f"odds of {sport}")
        received_at = self._clock()
        self.stats.frames += 1
        self.stats.last_message_at = self.stats.last_data_at = received_at
        self._record("rest:snapshot", str(response.request.url), response.text, received_at)
        result = self._read(
            response.text,
            partial(self.session.handle_snapshot, response.content, sport, received_at),
        )
        if result is not None:
            self._deliver(result)

    async def _get(self, url: str, params: tuple[tuple[str, str], ...]) -> httpx.Response:
        """A paced GET; an error status is returned (with its body recorded), not raised.

        A 429 for the rate is retried in place after its Retry-After (`PacedClient`);
        refused every time, it raises a retryable `FeedError`.
        """

        def record_refusal(response: httpx.Response) -> None:
            if response.status_code != 200:
                self._record("rest:error", str(response.request.url), response.text, self._clock())

        return await self._paced_get(url, params=params, observe=record_refusal)

    def _read_usage(self, response: httpx.Response) -> None:
        self._record("rest:usage", str(response.request.url), response.text, self._clock())
        try:
            self.session.handle_usage(response.content)
        except ParseError as error:
            self._malformed(error, response.text)
            return
        self.stats.extra.update(self.session.credit_figures())

    def _rest_failure(self, response: httpx.Response, what: str) -> FeedError:
        """The error a REST refusal means for the feed (see the module docstring)."""
        status = response.status_code
        detail = _detail(response)
        reason = f"RapidOddsAPI {what}: HTTP {status}" + (f" ({detail})" if detail else "")
        if status == 429 and self.session.handle_refusal(detail).insufficient_credits:
            self.stats.extra.update(self.session.credit_figures())
            return self._out_of_credits(detail)
        if status in (401, 403):
            return FeedError(
                f"{reason}; check the API key and the subscription", fatal=False, key_refused=True
            )
        if status in (400, 404, 422):
            return FeedError(
                f"{reason}; check the feed's sports, bookmakers and market_types", fatal=True
            )
        return FeedError(reason, fatal=False, retry_after=retry_after_seconds(response))

    # -- shared -----------------------------------------------------------------------------

    def _read(self, frame: str, read: Callable[[], SessionResult]) -> SessionResult | None:
        """What ``read()`` makes of ``frame``, or None (counted) when it is unreadable."""
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            # A push is a full snapshot (10 MB for a big subscription): no collections
            # while it is decoded (`arbwatch.feeds.collector` says why).
            with collector_paused():
                result = read()
        except OversizedFrameError as error:
            self.stats.extra["oversized_frames"] = self.stats.extra.get("oversized_frames", 0) + 1
            # Only a REST body gets here: a WebSocket message over the limit is refused
            # while it arrives (`arbwatch.feeds.bounded_ws`).
            self._malformed(error, frame)
        except ParseError as error:
            self._malformed(error, frame)
        else:
            # Decoding a full snapshot and finding what changed is this feed's cost per
            # push; `arbwatch bench --e2e` reads it from this line.
            log.debug(
                "feed %s: %d characters decoded and applied in %.1f ms (%.1f ms CPU)",
                self.settings.name,
                len(frame),
                (time.perf_counter() - started) * 1000,
                (time.process_time() - cpu_started) * 1000,
            )
            return result
        return None

    def _malformed(self, error: ParseError, frame: str) -> None:
        self.stats.malformed += 1
        log.warning(
            "feed %s: skipped an unreadable frame (%s): %s",
            self.settings.name,
            self._redact(str(error)),
            self._redact(truncate(frame)),
        )

    def _deliver(self, result: SessionResult) -> None:
        """Count what the result skipped, update credits, and hand its batch over."""
        stats = self.stats
        if result.skipped:
            stats.extra["skipped_parts"] = stats.extra.get("skipped_parts", 0) + result.skipped
        stats.extra.update(self.session.credit_figures())
        stats.extra[PRICES_OUT_OF_RANGE] = float(self.session.bounds.refused)
        if result.batch is None or self._handoff is None:
            return
        if not self._handoff.send(result.batch):
            self.session.batch_dropped(result.sport)
            dropped = stats.dropped_batches
            if dropped & (dropped - 1) == 0:  # 1, 2, 4, 8...: say it, without a flood
                log.warning(
                    "feed %s: the engine is behind; batches dropped so far: %d (the next "
                    "snapshot of each sport concerned is sent in full)",
                    self.settings.name,
                    dropped,
                )


def _detail(response: httpx.Response) -> str:
    """The ``detail`` of a RapidOddsAPI error body (FastAPI style), one line, bounded."""
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # a 422 lists its complaints
        detail = "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail
        )
    return truncate(detail) if isinstance(detail, str) else ""
