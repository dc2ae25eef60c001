"""TheRundown V1 (legacy) driver: `RundownV1Feed`, the V2 driver with V1's socket and session.

What V1 is and how its frames replace lines: `arbwatch.feeds.therundown.v1`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

import httpx

from arbwatch.feeds.base import Backoff
from arbwatch.feeds.identity import EventIdentity
from arbwatch.feeds.recording import FrameRecorder
from arbwatch.feeds.therundown.driver import RundownFeed
from arbwatch.feeds.therundown.session import PageKey, RundownSession
from arbwatch.feeds.therundown.v1 import V1_PROVIDER, RundownV1Session, RundownV1Settings


class RundownV1Feed(RundownFeed):
    """Runs one TheRundown V1 feed: V2 REST bootstrap and resync, the V1 line socket.

    Built like `RundownFeed` (same arguments, same ``stats``), with `RundownV1Settings`.
    """

    settings: RundownV1Settings
    provider = V1_PROVIDER

    def __init__(
        self,
        settings: RundownV1Settings,
        identity: EventIdentity,
        *,
        client: httpx.AsyncClient | None = None,
        recorder: FrameRecorder | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
    ) -> None:
        """Prepare the feed; nothing connects until `run` (arguments as `RundownFeed`)."""
        super().__init__(
            settings, identity, client=client, recorder=recorder, clock=clock, backoff=backoff
        )

    def _new_session(self, identity: EventIdentity) -> RundownSession:
        """A V1 session."""
        return RundownV1Session(self.settings.name, identity, max_price=self.settings.max_price)

    def _snapshot_requests(self) -> list[tuple[str, PageKey | None]]:
        """Whole days of the sports, or the listed events one by one."""
        if self.settings.event_ids:
            return [
                ("/api/v2/events/" + quote(event_id, safe=""), None)
                for event_id in self.settings.event_ids
            ]
        return super()._snapshot_requests()
