"""TheRundown recordings replayed: REST bootstrap, resync and refresh bodies, then frames.

Pure: a `RundownSession` (V2) or `RundownV1Session` does the work; this only routes each
recorded frame or body to the handler its live feed used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from arbwatch.feeds.base import FeedBatch
from arbwatch.feeds.recording import RecordedFrame
from arbwatch.feeds.therundown.session import RundownSession

#: An events page's sport and date, from its URL.
_EVENTS_PAGE: Final = re.compile(r"/api/v2/sports/(\d+)/events/(\d{4}-\d{2}-\d{2})")
#: A single event's id, from its URL.
_ONE_EVENT: Final = re.compile(r"/api/v2/events/([^/?#]+)")


@dataclass
class RundownReplayer:
    """TheRundown V2 or V1: REST bootstrap, resync and refresh bodies, then socket frames."""

    session: RundownSession

    def replay(self, frame: RecordedFrame) -> FeedBatch | None:
        """Feed one frame or body to the session the way the live feed did."""
        session, body, at, channel = self.session, frame.frame, frame.received_at, frame.channel
        if channel == "ws":
            return session.handle_ws(body, at).batch
        if channel == "rest:sports":
            session.handle_sports(body)
        elif channel == "rest:affiliates":
            session.handle_affiliates(body)
        elif _is_refusal(body):
            # The feed records refusals too; a missing event is withdrawn, as it was live.
            event = _ONE_EVENT.search(frame.source)
            if channel == "rest:event" and event is not None:
                return session.handle_event_missing(event.group(1), at).batch
        elif channel == "rest:events":
            page = _EVENTS_PAGE.search(frame.source)
            key = (int(page.group(1)), page.group(2)) if page is not None else None
            return session.handle_events(body, at, page=key).batch
        elif channel == "rest:event":
            return session.handle_event(body, at).batch
        elif channel == "rest:delta":
            return session.handle_delta(body, at).batch
        return None


def _is_refusal(body: str) -> bool:
    """A TheRundown error body, ``{"error": ...}``, rather than data."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return False
    return isinstance(decoded, dict) and "error" in decoded
