"""The shell every provider's driver shares: its client, reconnect loop, recording, logging.

A driver is a `FeedDriver` that says how one connection goes (`FeedDriver._attempt`); what
every driver did alike is written here once:

    run             redaction installed for the feed's key, the hand-off to the engine,
                    an HTTP client (the caller's, or one of its own, closed at the end),
                    the reconnect loop (`arbwatch.feeds.connection.reconnecting`) with the
                    long backoff of a refused key, and STOPPED when it ends unfailed
    client hooks    `read_error_bodies` on whichever client is used, so that a refused
                    handshake or request keeps the provider's reason
    paced GETs      REST requests within the plan's rate (`PacedClient`), counted in
                    ``stats.extra`` (rest_requests, rate_limited, rest_retries)
    recording       every frame and body, its source redacted, a frame over the feed's
                    limit cut short (it stays unreadable on replay, as it was live)
    logging         messages redacted of the key, the template kept as the record's
                    message so that the log's rate limit tells one kind from another
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Final, Protocol

import httpx
from anyio.streams.memory import MemoryObjectSendStream

from arbwatch.feeds.base import (
    REDACTED_LOGGERS,
    Allowance,
    Backoff,
    FeedBatch,
    install_redaction,
    redact,
    truncate,
)
from arbwatch.feeds.connection import (
    FeedState,
    FeedStats,
    Handoff,
    key_retry_backoff,
    reconnecting,
)
from arbwatch.feeds.failures import read_error_bodies
from arbwatch.feeds.pacing import PacedClient
from arbwatch.feeds.recording import FrameRecorder, RecordedFrame

#: How much of an oversized frame a recording keeps (it stays unreadable on replay too).
RECORDED_OVERSIZED_CHARS: Final = 1000


class DriverSettings(Protocol):
    """What the shared shell reads of a feed's settings (every provider's have these)."""

    @property
    def name(self) -> str:
        """The feed's name."""
        ...

    @property
    def api_key(self) -> str:
        """The key: redacted everywhere."""
        ...

    @property
    def key_retry(self) -> float:
        """Seconds before a refused key is tried again."""
        ...

    @property
    def max_requests_per_second(self) -> float:
        """The plan's REST rate."""
        ...

    @property
    def max_frame_bytes(self) -> int:
        """The largest frame taken."""
        ...


class FeedDriver:
    """One feed's I/O shell; a provider's driver says how one connection goes.

    Attributes:
        provider: the provider's name (`arbwatch.feeds.registry.Provider.name`), in status
            and in recordings.
        stats: the feed's `FeedStats`.
    """

    provider: str

    def __init__(
        self,
        settings: DriverSettings,
        *,
        client: httpx.AsyncClient | None,
        recorder: FrameRecorder | None,
        clock: Callable[[], float],
        backoff: Backoff,
        request_timeout: float,
        logger: logging.Logger,
    ) -> None:
        """Prepare the shell; nothing connects until `run`.

        Args:
            settings: the feed's settings.
            client: the caller's HTTP client (its timeouts, proxies), or None for one of
                the feed's own, made and closed by `run`.
            recorder: records every frame and REST body, when given.
            clock: epoch seconds, stamped on what is received.
            backoff: the reconnect delays.
            request_timeout: seconds for one request, when the feed makes its client.
            logger: the driver module's logger; redaction is installed on it too.
        """
        self.stats = FeedStats(settings.name)
        self._shell_settings = settings
        self._secrets = (settings.api_key,)
        self._client = client
        self._recorder = recorder
        self._clock = clock
        self._backoff = backoff
        self._request_timeout = request_timeout
        self._log = logger
        self._rest = PacedClient(settings.name, settings.max_requests_per_second)
        self._http_client: httpx.AsyncClient | None = None
        self._handoff: Handoff | None = None

    def allowance(self) -> Allowance:
        """The plan's credits or data points as far as known (nothing, unless overridden)."""
        return Allowance()

    # --- running ---------------------------------------------------------------------------

    async def run(self, out: MemoryObjectSendStream[FeedBatch]) -> None:
        """Feed ``out`` until a fatal failure (then return, ``stats`` saying why) or cancel.

        Never blocks on ``out``: when it is full, batches are dropped and counted. ``out`` is
        not closed: it may be shared with other feeds.
        """
        install_redaction(self._secrets, (*REDACTED_LOGGERS, self._log.name))
        self._handoff = Handoff(out, self.stats)
        try:
            async with self._client_scope() as client:
                self._http_client = client
                try:
                    await self._serve()
                finally:
                    self._http_client = None
        finally:
            if self.stats.state is not FeedState.FAILED:
                self.stats.state = FeedState.STOPPED

    async def _serve(self) -> None:
        """Run while the client is open: the reconnect loop (a driver may run more beside)."""
        await self._reconnecting()

    async def _reconnecting(self) -> None:
        """`_attempt` again and again, until a fatal failure; a refused key waits long."""
        await reconnecting(
            self._attempt,
            self.stats,
            backoff=self._backoff,
            key_retry=key_retry_backoff(self._shell_settings.key_retry),
            secrets=self._secrets,
        )

    async def _attempt(self, healthy: Callable[[], None]) -> None:
        """One connection, until it fails; ``healthy()`` after its first good message."""
        raise NotImplementedError

    @asynccontextmanager
    async def _client_scope(self) -> AsyncIterator[httpx.AsyncClient]:
        """The caller's client with the error-body hook added, or one of the feed's own."""
        if self._client is not None:
            install_error_hook(self._client)
            yield self._client
            return
        hooks = {"response": [read_error_bodies]}
        async with httpx.AsyncClient(timeout=self._request_timeout, event_hooks=hooks) as own:
            yield own

    @property
    def _http(self) -> httpx.AsyncClient:
        """The HTTP client, inside `run` only."""
        if self._http_client is None:
            raise RuntimeError("the feed's HTTP client is used outside run()")
        return self._http_client

    # --- REST --------------------------------------------------------------------------------

    async def _paced_get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | tuple[tuple[str, str], ...],
        headers: Mapping[str, str] | None = None,
        observe: Callable[[httpx.Response], None] | None = None,
    ) -> httpx.Response:
        """A GET within the plan's rate; its status is the caller's to read.

        A 429 for the rate is retried in place after its Retry-After (`PacedClient`);
        refused every time, it raises a retryable `arbwatch.feeds.base.FeedError`.
        """
        try:
            return await self._rest.get(
                self._http, url, params=params, headers=headers, observe=observe
            )
        finally:
            extra = self.stats.extra
            extra["rest_requests"] = self._rest.requests
            extra["rate_limited"] = self._rest.rate_limited
            extra["rest_retries"] = self._rest.retries

    # --- recording and logging -----------------------------------------------------------------

    def _record(self, channel: str, source: str, frame: str, received_at: float) -> None:
        """Record one frame or body, its source redacted, an oversized frame cut short."""
        if self._recorder is None:
            return
        if len(frame) > self._shell_settings.max_frame_bytes:
            # Bounded recordings: the cut frame stays unreadable, so a replay skips it too.
            frame = truncate(frame, RECORDED_OVERSIZED_CHARS)
        self._recorder.record(
            RecordedFrame(
                received_at=received_at,
                feed=self.stats.name,
                provider=self.provider,
                channel=channel,
                source=self._redact(source),
                frame=frame,
            )
        )

    def _redact(self, text: str) -> str:
        """``text`` without the feed's key (or any other known secret)."""
        return redact(text, self._secrets)

    def _warn(self, message: str, *args: object) -> None:
        """A warning, its arguments redacted."""
        # The template stays the record's message, so that the log's rate limit tells one
        # kind of warning from another; the arguments (a frame, an error) are redacted.
        self._log.warning(message, *self._redacted(args))

    def _info(self, message: str, *args: object) -> None:
        """An info line, its arguments redacted."""
        self._log.info(message, *self._redacted(args))

    def _redacted(self, args: tuple[object, ...]) -> tuple[object, ...]:
        # Numbers stay numbers for %d and %.1f; anything else (an error) is text to scrub.
        return tuple(
            arg if isinstance(arg, int | float) else self._redact(str(arg)) for arg in args
        )


def install_error_hook(client: httpx.AsyncClient) -> None:
    """Add `read_error_bodies` to a caller's client once, so refusals keep their reason."""
    hooks = client.event_hooks
    responses = list(hooks.get("response", []))
    if read_error_bodies not in responses:
        client.event_hooks = {**hooks, "response": [*responses, read_error_bodies]}
