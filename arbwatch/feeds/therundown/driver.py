"""TheRundown V2 feed: REST bootstrap, the markets WebSocket, and market-delta resync.

Two layers, as everywhere in `arbwatch.feeds`:

`RundownSession` (pure: no I/O, no clock; every time is passed in, so a recording replays
to the same batches) turns response bodies and frames into `FeedBatch`es on the engine's
events. It holds what the parsers need between messages: the sports and affiliates maps,
the participant join table, the known provider events, the delta cursor, and the cells
each event has priced, so that a full snapshot withdraws what it no longer lists.

`RundownFeed` is the thin I/O shell on httpx and httpx-ws (its client, reconnect loop,
recording and redaction are the shared `arbwatch.feeds.driver.FeedDriver`'s)::

    catalogs     GET /api/v2/sports, /api/v2/affiliates (no key), once per run
    connect      WS {base}/api/v2/ws/markets?sport_ids=..&market_ids=..[&affiliate_ids=..]
                 (http -> ws, https -> wss), the key in the X-TheRundown-Key header so it
                 never is part of a URL, a log line or an error; opened before the events
                 pages, so a long snapshot does not hold the prices back
    pages        for every sport and every date from today to today + days_ahead (UTC),
                 today's first: GET /api/v2/sports/{id}/events/{date}?market_ids=...,
                 one page at a time between frames, each when the pacer allows
                 (`arbwatch.feeds.pacing`); `PagePlan` remembers what was fetched when, so
                 a start-up resumes where it stopped and a reconnect refetches no page
                 younger than refresh_interval
    resync       after a reconnect (once a page gave a cursor), and when the engine
                 dropped a batch: GET /api/v2/markets/delta?last_id=<cursor>&sport_id=<each
                 sport>, paging while has_more; a 400 (stale or unknown cursor) makes every
                 page due again
    read         heartbeats feed a watchdog (no heartbeat for heartbeat_timeout seconds
                 ends the connection; data frames alone do not count, since a server can
                 keep pushing from a dead upstream); the frames read together (every one
                 already waiting when the reader looks) are one batch
    refresh      each events page again refresh_interval after it was fetched (new
                 games, and a fresh delta cursor: TheRundown rejects cursors older than 30
                 minutes, so keep refresh_interval below that); an unknown participant
                 fetches its event
                 (GET /api/v2/events/{id}, at most once a minute per event); an unknown
                 affiliate refetches the affiliates (at most once a minute); events that
                 started more than `FINISHED_AFTER` ago are over: whatever they still
                 price is withdrawn and the session forgets them

Ordering. All REST work runs inside the reader task, between frames: while a REST call is
in flight the socket is not read, its frames wait in httpx-ws's queue and are applied
after the REST answer. A REST snapshot is at least as new as every frame still queued, and
the socket delivers changes in order, so the last word on each cell is always the newest.
Had REST answers been applied from another task, a snapshot taken before a price change
could land after that change's frame and put back the old price.

The start-up. The socket opens first and the pages follow, paced, between frames; until
every page has come once, ``stats.state`` is BOOTSTRAPPING (not UP) and the log counts the
pages. A frame for an event whose page has not come yet cannot be placed (its participants
are unknown); it is not lost, since the page is requested after the frame was read and so
already holds its price, and no page older than a frame is ever applied after it (the
ordering above). Such frames must not each fetch their event (a storm of REST calls at
start): their events are noted instead, and only those that no page listed are fetched
once every page has come. A resync after a reconnect runs before the pages, so that the
replayed changes never land on top of a newer page.

Pacing. Every REST request waits its turn (`PacedClient`: ``max_requests_per_second``, by
default Ultra's 10); a page job is only taken when its turn has come, so the socket is
read while the feed waits. A 429 for the rate waits its Retry-After and retries that one
request; the work around it goes on where it was.

Failures. A 401 (REST or handshake) refuses the key: the feed is REFUSED and tries again
every ``key_retry`` (doubling to three times it), since a key can be renewed. A 403 stops
this feed alone (``stats.fatal_error`` says why). Anything else reconnects with backoff, a
429 waiting at least its Retry-After. REST calls made while connected (pages, resync,
refresh) do not tear the socket down when they fail: they are retried after a backoff that
holds every REST call back, and what was already fetched is kept.

The engine. Batches go through `Handoff`, which never blocks: the reader must keep
draining the socket. A dropped batch is recovered from REST: a dropped delta page keeps
the cursor where it was and resyncs again, a dropped events page is fetched again, a
dropped event refresh fetches the event again. These retries wait a delay that starts at
``min_resync_interval`` and doubles until the engine takes a batch again, so a stuck
engine is not answered with a storm of REST calls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from functools import partial
from typing import Final
from urllib.parse import quote as quote_path

import anyio
import httpx
from httpx_ws import WebSocketUpgradeError

from arbwatch.feeds.arrival import MAX_FRAMES_PER_BATCH, merged
from arbwatch.feeds.base import (
    Allowance,
    Backoff,
    FeedBatch,
    FeedError,
    truncate,
)
from arbwatch.feeds.bounded_ws import BoundedWebSocketSession, aconnect_bounded
from arbwatch.feeds.collector import collector_paused
from arbwatch.feeds.connection import (
    FeedState,
    FeedStats,
    receive_frame,
)
from arbwatch.feeds.driver import FeedDriver
from arbwatch.feeds.failures import Verdict, classify
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.model import (
    PRICES_OUT_OF_RANGE,
    ParseError,
)
from arbwatch.feeds.recording import FrameRecorder
from arbwatch.feeds.therundown.pages import PagePlan, bootstrap_dates
from arbwatch.feeds.therundown.schedule import Job, RestJob, RestSchedule
from arbwatch.feeds.therundown.session import FrameResult, PageKey, RundownSession, SyncResult
from arbwatch.feeds.therundown.settings import RundownSettings, ids_param
from arbwatch.feeds.therundown.wire import (
    PROVIDER,
)

log = logging.getLogger(__name__)

#: The header that carries the key, on REST and on the WebSocket handshake.
KEY_HEADER: Final = "X-TheRundown-Key"
#: A bound on delta pages per resync, in case a server keeps saying has_more.
MAX_DELTA_PAGES: Final = 1000
#: The names a feed's counters have in ``FeedStats.extra``.
COUNTERS: Final = (
    "heartbeats",
    "price_changes",
    "ignored_frames",
    "oversized",
    "skipped_quotes",
    "rest_requests",
    "rest_errors",
    "rate_limited",
    "rest_retries",
    "pages_done",
    "pages_total",
    "awaiting_page",
    "snapshots",
    "pages",
    "resyncs",
    "stale_cursors",
    "event_refreshes",
    "affiliate_refreshes",
    "recoveries",
    PRICES_OUT_OF_RANGE,
)

#: Events awaiting their page, at most (a bound against a server naming endless events).
_MAX_AWAITING: Final = 10_000


class RundownFeed(FeedDriver):
    """Runs one TheRundown V2 feed: bootstrap, WebSocket, resync, refresh, reconnect.

    ``stats.extra`` counts: heartbeats, price_changes, ignored_frames (frames that placed
    no price), oversized (also in ``stats.malformed``), skipped_quotes, rest_requests,
    rest_errors (REST failures while connected, retried later), rate_limited (429s for
    the rate), rest_retries (requests retried after such a 429), pages (events pages
    fetched), snapshots (times every due page had come), resyncs (delta resyncs started),
    stale_cursors, event_refreshes, affiliate_refreshes, recoveries (REST jobs scheduled
    because the engine dropped a batch), awaiting_page (events that frames named before
    their page came), and the
    start-up's progress: pages_done of pages_total.
    """

    #: The provider's name, in status and in recordings (which tells `arbwatch replay` which
    #: session reads the frames).
    provider: str = PROVIDER

    def __init__(
        self,
        settings: RundownSettings,
        identity: EventIdentity,
        *,
        client: httpx.AsyncClient | None = None,
        recorder: FrameRecorder | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
    ) -> None:
        """Prepare the feed; nothing connects until `run`.

        Args:
            settings: what to watch.
            identity: the engine's event registry, shared by every feed.
            client: an httpx client to use (its timeouts, proxies); the feed adds the
                `read_error_bodies` hook to it if missing, so that a refused handshake
                says why. Without one, the feed makes and closes its own.
            recorder: records every WebSocket frame and REST body.
            clock: epoch seconds: receive times and the bootstrap dates.
            backoff: reconnect delays (default: 1 s doubling to 30 s, with jitter).
        """
        super().__init__(
            settings,
            client=client,
            recorder=recorder,
            clock=clock,
            backoff=backoff or Backoff(),
            request_timeout=settings.request_timeout,
            logger=log,
        )
        self.settings = settings
        self.session = self._new_session(identity)
        self.stats.extra.update(dict.fromkeys(COUNTERS, 0.0))
        self._rest_base = settings.base_url.rstrip("/")
        self._have_sports = False
        self._have_affiliates = False
        self._source = settings.ws_url
        # REST jobs, on anyio.current_time() (monotonic).
        self._jobs = RestSchedule(settings.refetch_interval)
        self._pages = PagePlan(settings.refresh_interval)
        # Events named by frames (or delta entries) before their page came, in the order
        # seen: fetched one by one only if no page lists them (see the module docstring).
        self._awaiting: dict[str, None] = {}
        self._planned_day: int | None = None
        self._started_at: float | None = None
        self._rest_backoff = Backoff(initial=1.0, cap=30.0)
        self._drop_backoff = Backoff(
            initial=settings.min_resync_interval,
            cap=max(settings.min_resync_interval, settings.refresh_interval),
            jitter=0.0,
        )

    def _new_session(self, identity: EventIdentity) -> RundownSession:
        """The protocol session this feed drives."""
        return RundownSession(self.settings.name, identity, max_price=self.settings.max_price)

    def _snapshot_requests(self) -> list[tuple[str, PageKey | None]]:
        """The requests of one snapshot round, in order: (path, page key).

        Day by day, every sport's today first: the games nearest in time come first.
        """
        dates = bootstrap_dates(self._clock(), self.settings.days_ahead)
        return [
            (f"/api/v2/sports/{sport_id}/events/{day}", (sport_id, day))
            for day in dates
            for sport_id in self.settings.sport_ids
        ]

    def _delta_scopes(self) -> list[dict[str, str]]:
        """One delta filter per sport: the endpoint takes a single sport_id."""
        return [{"sport_id": str(sport_id)} for sport_id in self.settings.sport_ids]

    def _market_params(self) -> dict[str, str]:
        """The market and book filters every odds request carries."""
        params = {"market_ids": ids_param(self.settings.market_ids)}
        if self.settings.affiliate_ids:
            params["affiliate_ids"] = ids_param(self.settings.affiliate_ids)
        return params

    # --- running -------------------------------------------------------------------------

    async def _attempt(self, healthy: Callable[[], None]) -> None:
        """One connection: the catalogs if lacking, connect, then pages and resync."""
        if self._started_at is None:
            self._started_at = anyio.current_time()
        await self._catalogs()
        url = self._source = self.settings.ws_url
        ws: BoundedWebSocketSession
        try:
            async with aconnect_bounded(
                url,
                self._http,
                max_message_bytes=self.settings.max_frame_bytes,
                headers={KEY_HEADER: self.settings.api_key},
            ) as ws:
                self._info("feed %s: connected to %s", self.settings.name, url)
                if self.session.cursor is not None:
                    # Whatever changed while no socket was listening is in the delta log.
                    self._jobs.schedule(RestJob.RESYNC, anyio.current_time())
                await self._read(ws, partial(self._healthy, healthy))
        except WebSocketUpgradeError as error:
            if error.response.status_code != 401:
                raise
            # The handshake is the key's first use: say what to check, as REST does.
            reason = classify(error).reason + "; check the feed's api_key and its plan"
            raise FeedError(self._redact(reason), fatal=False, key_refused=True) from error

    async def _catalogs(self) -> None:
        """Sports and affiliates, each fetched once per run; failures end the attempt."""
        session = self.session
        if not self._have_sports:
            session.handle_sports(
                (await self._get("/api/v2/sports", "rest:sports", auth=False)).content
            )
            self._have_sports = True
        if not self._have_affiliates:
            session.handle_affiliates(
                (await self._get("/api/v2/affiliates", "rest:affiliates", auth=False)).content
            )
            self._have_affiliates = True

    def _healthy(self, healthy: Callable[[], None]) -> None:
        """The connection's first good message: UP, or BOOTSTRAPPING until every page came."""
        healthy()
        if not self._pages.bootstrapped:
            self.stats.state = FeedState.BOOTSTRAPPING

    def allowance(self) -> Allowance:
        """The data points left and in the plan, from TheRundown's last response headers."""
        extra = self.stats.extra
        remaining = extra.get("datapoints_remaining")
        return Allowance(
            remaining=None if remaining is None else int(remaining),
            limit=int(extra.get("datapoints_limit", 0)) or None,
        )

    # --- reading -------------------------------------------------------------------------

    async def _read(self, ws: BoundedWebSocketSession, healthy: Callable[[], None]) -> None:
        """Read frames, run REST jobs as they fall due, and watch the heartbeat.

        Frames are taken by arrival: after waiting for one, every frame already queued is
        read too (without waiting) and their prices go to the engine as one batch.
        """
        timeout = self.settings.heartbeat_timeout
        heartbeat_deadline = anyio.current_time() + timeout
        greeted = False
        while True:
            started = anyio.current_time()
            await self._work()
            now = anyio.current_time()
            # The socket was not read during REST work: its queued heartbeats are not late.
            heartbeat_deadline += now - started
            if now >= heartbeat_deadline:
                raise FeedError(f"no heartbeat for {timeout:g} s", fatal=False)
            frame: str | None = None
            with anyio.move_on_after(min(heartbeat_deadline, self._next_due()) - now):
                frame = await receive_frame(ws, self.stats, oversized_key="oversized")
            if frame is None and not ws.take_arrived():
                continue
            heard, heartbeat = await self._take_arrived(ws, frame)
            if heard and not greeted:
                greeted = True
                healthy()
            if heartbeat:
                heartbeat_deadline = anyio.current_time() + timeout

    async def _take_arrived(
        self, ws: BoundedWebSocketSession, first: str | None
    ) -> tuple[bool, bool]:
        """Apply ``first`` and every frame already waiting; hand their prices on at once.

        Returns whether a frame was readable, and whether one was a heartbeat. The batch
        goes on even when a frame ends the connection midway (an oversized message).
        """
        received_at = self._clock()
        batches: list[FeedBatch] = []
        heard = heartbeat = False
        frame = first
        try:
            for _ in range(MAX_FRAMES_PER_BATCH):
                if frame is not None:
                    result = self._on_frame(frame, received_at)
                    if result is not None:
                        heard = True
                        heartbeat = heartbeat or result.heartbeat
                        if result.batch is not None:
                            batches.append(result.batch)
                if not ws.take_arrived():
                    break
                # Returns at once: the frame has arrived (no wait, no task switch).
                frame = await receive_frame(ws, self.stats, oversized_key="oversized")
        finally:
            if batches:
                self._deliver(merged(batches), recover=RestJob.RESYNC)
        return heard, heartbeat

    def _on_frame(self, frame: str, received_at: float) -> FrameResult | None:
        """Record, check and apply one frame; None when it was malformed or oversized.

        Its batch, if any, is the caller's to hand on.
        """
        stats = self.stats
        stats.frames += 1
        self._record("ws", self._source, frame, received_at)
        limit = self.settings.max_frame_bytes
        if len(frame) > limit or (len(frame) * 4 > limit and len(frame.encode()) > limit):
            stats.malformed += 1
            stats.extra["oversized"] += 1
            self._warn(
                "feed %s: frame over %d bytes skipped: %s",
                self.settings.name,
                limit,
                truncate(frame),
            )
            return None
        try:
            result = self.session.handle_ws(frame, received_at)
        except ParseError as error:
            stats.malformed += 1
            self._warn(
                "feed %s: malformed frame skipped (%s): %s",
                self.settings.name,
                error,
                truncate(frame),
            )
            return None
        extra = stats.extra
        if result.skipped:
            extra["skipped_quotes"] += result.skipped
        if result.heartbeat:
            extra["heartbeats"] += 1
        elif result.batch is not None:
            extra["price_changes"] += 1
        else:
            extra["ignored_frames"] += 1
        if result.refresh_event is not None or result.refresh_affiliates:
            self._follow_up(result.refresh_event, result.refresh_affiliates)
        return result

    # --- REST jobs -----------------------------------------------------------------------

    def _follow_up(self, event_ids: str | Collection[str] | None, affiliates: bool) -> None:
        """Ask for what a frame or page could not place: its events, the affiliates.

        Until every events page has come, an event is only noted: its page, still to
        come, is newer than the frame and will place it (see the module docstring).
        """
        now = anyio.current_time()
        if isinstance(event_ids, str):
            event_ids = (event_ids,)
        for event_id in event_ids or ():
            if self._pages.bootstrapped:
                self._jobs.refetch(event_id, now)
            elif event_id not in self._awaiting and len(self._awaiting) < _MAX_AWAITING:
                self._awaiting[event_id] = None
                self.stats.extra["awaiting_page"] += 1
        if affiliates:
            self._jobs.refetch(RestJob.AFFILIATES, now)

    def _next_due(self) -> float:
        """When the next REST job may run (monotonic), or infinity."""
        due = max(min(self._jobs.next_due(), self._pages.next_due()), self._jobs.held_until)
        return max(due, self._rest.ready_at)

    async def _work(self) -> None:
        """Run the REST jobs that are due, most important first, until none is.

        A job is only taken when the pacer gives a request its turn: until then the
        caller reads frames.
        """
        while True:
            now = anyio.current_time()
            self._plan_pages()
            if self._pages.next_due() <= now:
                self._jobs.schedule(RestJob.SNAPSHOT, now)
            if not self._rest.ready():
                return
            job = self._jobs.take(now)
            if job is None:
                return
            try:
                await self._run(job)
            except FeedError as error:
                if error.fatal or error.key_refused:
                    raise
                # Keep the job, and hold every REST call back: a 429 for its Retry-After,
                # other failures for a backoff that grows while they go on.
                self._jobs.schedule(job, now)
                delay = self._rest_backoff.next_delay(error.retry_after)
                self._jobs.hold(anyio.current_time() + delay)
                self.stats.extra["rest_errors"] += 1
                self._warn("feed %s: %s; REST retried in %.1f s", self.settings.name, error, delay)
                return
            self._rest_backoff.reset()

    async def _run(self, job: Job) -> None:
        """Run one REST job."""
        try:
            if job is RestJob.AFFILIATES:
                self.stats.extra["affiliate_refreshes"] += 1
                response = await self._get("/api/v2/affiliates", "rest:affiliates", auth=False)
                self.session.handle_affiliates(response.content)
            elif job is RestJob.SNAPSHOT:
                await self._page()
            elif job is RestJob.RESYNC:
                await self._resync()
            else:
                await self._refresh_event(job)
        except ParseError as error:
            raise FeedError(f"unreadable REST answer: {error}", fatal=False) from error

    def _plan_pages(self) -> None:
        """Bring the page plan to today's dates (once a day: the dates roll at midnight)."""
        day = int(self._clock() // 86_400)
        if day != self._planned_day:
            self._planned_day = day
            self._pages.set_pages([path for path, _ in self._snapshot_requests()])
            self.stats.extra["pages_total"] = self._pages.total

    async def _page(self) -> None:
        """Fetch the next due events page; a page the engine dropped is fetched again later."""
        now = anyio.current_time()
        pages = dict(self._snapshot_requests())
        path = self._pages.take(now)
        if path is None:
            return
        if path not in pages:
            # The dates rolled between planning and now: plan again, fetch next time.
            self._pages.set_pages(list(pages))
            return
        self.stats.extra["pages"] += 1
        response = await self._get(path, "rest:events", params=self._market_params())
        # Any page fetched while the socket is read gives a good resync cursor, but not
        # while a resync is pending: it must replay from before what it recovers.
        sets_cursor = self.session.cursor is None or RestJob.RESYNC not in self._jobs
        # A page holds a sport's whole day (14 MB for a big board): no collections while
        # it is decoded (`arbwatch.feeds.collector` says why).
        with collector_paused():
            result = self.session.handle_events(
                response.content, self._clock(), page=pages[path], sets_cursor=sets_cursor
            )
        for event_id in result.listed:
            self._awaiting.pop(event_id, None)
        was_bootstrapped = self._pages.bootstrapped
        if self._apply(result, recover=None):
            self._pages.fetched(path, anyio.current_time())
        else:
            self.stats.extra["recoveries"] += 1
            self._pages.retry_at(path, anyio.current_time() + self._drop_backoff.next_delay())
        self.stats.extra["pages_done"] = self._pages.done
        if not was_bootstrapped:
            self._info(
                "feed %s: events page %d/%d (%s): %d events, %d prices",
                self.settings.name,
                self._pages.done,
                self._pages.total,
                path,
                len(result.listed),
                len(result.batch.updates),
            )
        if self._pages.next_due() > anyio.current_time():
            self._pages_complete(was_bootstrapped)

    def _pages_complete(self, was_bootstrapped: bool) -> None:
        """Every due page came: retire finished games; end the start-up the first time."""
        self.stats.extra["snapshots"] += 1
        self._apply(self.session.retire_finished(self._clock()), recover=None)
        if was_bootstrapped or not self._pages.bootstrapped:
            return
        elapsed = anyio.current_time() - (self._started_at or 0.0)
        self._info(
            "feed %s: snapshot complete: %d pages, %d events, %d REST requests in %.1f s",
            self.settings.name,
            self._pages.total,
            len(self.session.events),
            self._rest.requests,
            elapsed,
        )
        if self.stats.state is FeedState.BOOTSTRAPPING:
            self.stats.state = FeedState.UP
        # Events frames named that no page listed since: fetch each once (paced).
        unplaced = list(self._awaiting)
        self._awaiting.clear()
        self._follow_up(unplaced, affiliates=False)

    async def _resync(self) -> None:
        """Replay the delta log from the cursor, sport by sport; re-bootstrap if refused."""
        start, scopes = self.session.cursor, self._delta_scopes()
        if start is None or not scopes:
            # Nothing to replay from: the events pages are the only way to catch up.
            self._pages.expire_all()
            return
        self.stats.extra["resyncs"] += 1
        delivered = True
        final: str | None = None
        for scope in scopes:
            cursor = start
            for _ in range(MAX_DELTA_PAGES):
                params = {**self._market_params(), **scope, "last_id": cursor}
                response = await self._get(
                    "/api/v2/markets/delta", "rest:delta", params=params, allow=(400,)
                )
                if response.status_code == 400:
                    self.stats.extra["stale_cursors"] += 1
                    self._warn(
                        "feed %s: delta cursor refused (%s); fetching the events pages again",
                        self.settings.name,
                        truncate(response.text),
                    )
                    self.session.cursor = None
                    self._pages.expire_all()
                    return
                result = self.session.handle_delta(response.content, self._clock())
                delivered &= self._apply(result, recover=RestJob.RESYNC)
                advanced = result.cursor is not None and result.cursor != cursor
                cursor = result.cursor if result.cursor is not None else cursor
                if not (result.has_more and advanced):
                    break
            # The first scope ended earliest: a resync from there misses nothing.
            final = final or cursor
        if delivered:
            self.session.cursor = final

    async def _refresh_event(self, event_id: str) -> None:
        """Fetch one event (with the feed's market filters) to learn its participants."""
        self.stats.extra["event_refreshes"] += 1
        path = "/api/v2/events/" + quote_path(event_id, safe="")
        response = await self._get(path, "rest:event", params=self._market_params(), allow=(404,))
        if response.status_code == 404:
            result = self.session.handle_event_missing(event_id, self._clock())
        else:
            result = self.session.handle_event(response.content, self._clock())
        self._apply(result, recover=event_id)

    def _apply(self, result: SyncResult, *, recover: Job | None) -> bool:
        """Hand a REST result's batch on and follow up on what it could not place."""
        self.stats.extra["skipped_quotes"] += result.skipped
        self._follow_up(result.refresh_events, result.refresh_affiliates)
        return self._deliver(result.batch, recover=recover)

    def _deliver(self, batch: FeedBatch, *, recover: Job | None) -> bool:
        """Hand ``batch`` to the engine; if it was dropped, schedule ``recover`` (if any)."""
        self.stats.extra[PRICES_OUT_OF_RANGE] = float(self.session.bounds.refused)
        if not batch.updates and not batch.events:
            return True
        if self._handoff is None:
            raise RuntimeError("the feed delivers batches only inside run()")
        if self._handoff.send(batch):
            self._drop_backoff.reset()
            return True
        if recover is not None and recover not in self._jobs:
            # Recovering costs REST calls (and data points): back off while the engine
            # stays behind, instead of answering each dropped frame at once.
            self.stats.extra["recoveries"] += 1
            delay = self._drop_backoff.next_delay()
            self._jobs.schedule(recover, anyio.current_time() + delay)
        return False

    async def _get(
        self,
        path: str,
        channel: str,
        *,
        params: Mapping[str, str] | None = None,
        auth: bool = True,
        allow: Collection[int] = (),
    ) -> httpx.Response:
        """GET a REST path, record its body, and turn refusals into `FeedError`s.

        Statuses in ``allow`` are returned for the caller to read.
        """
        headers = {KEY_HEADER: self.settings.api_key} if auth else {}

        def record(response: httpx.Response) -> None:
            self._record(channel, str(response.url), response.text, self._clock())
            _note_datapoints(self.stats, response.headers)

        try:
            response = await self._paced_get(
                self._rest_base + path, params=dict(params or {}), headers=headers, observe=record
            )
        except httpx.HTTPError as error:
            reason = f"GET {path}: network: {type(error).__name__}: {error}".rstrip(": ")
            raise FeedError(self._redact(reason), fatal=False) from error
        status = response.status_code
        if status < 400 or status in allow:
            return response
        failure = classify(
            httpx.HTTPStatusError(f"HTTP {status}", request=response.request, response=response)
        )
        fatal = failure.verdict is Verdict.FATAL
        refused = failure.verdict is Verdict.KEY_REFUSED
        hint = "; check the feed's api_key and its plan" if fatal or refused else ""
        raise FeedError(
            self._redact(f"GET {path}: {failure.reason}{hint}"),
            fatal=fatal,
            retry_after=failure.retry_after,
            key_refused=refused,
        )


def _note_datapoints(stats: FeedStats, headers: httpx.Headers) -> None:
    """Keep the plan's data points left and allowance from a response's headers.

    TheRundown sends ``x-datapoints-remaining`` and ``x-datapoints-limit`` with every
    authenticated answer; the health alerts read them from ``stats.extra``.
    """
    for header, key in (
        ("x-datapoints-remaining", "datapoints_remaining"),
        ("x-datapoints-limit", "datapoints_limit"),
    ):
        value = headers.get(header, "")
        if value.isdigit():
            stats.extra[key] = float(value)
