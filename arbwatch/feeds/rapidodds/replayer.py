"""RapidOddsAPI recordings replayed: WebSocket messages and REST snapshots, as live.

Pure: a `RapidOddsSession` does the work; this only routes each recorded frame to the
handler its live feed used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from arbwatch.feeds.base import FeedBatch
from arbwatch.feeds.model import ParseError
from arbwatch.feeds.rapidodds.session import RapidOddsSession
from arbwatch.feeds.recording import RecordedFrame

#: The sport a REST snapshot was for, from its URL.
_SNAPSHOT_SPORT: Final = re.compile(r"/sports/([^/?#]+)/markets")


@dataclass
class RapidOddsReplayer:
    """RapidOddsAPI: WebSocket messages and REST snapshots, through `RapidOddsSession`."""

    session: RapidOddsSession

    def replay(self, frame: RecordedFrame) -> FeedBatch | None:
        """Feed one frame to the session."""
        if frame.channel == "ws":
            return self.session.handle_message(frame.frame, frame.received_at).batch
        if frame.channel == "rest:snapshot":
            sport = _SNAPSHOT_SPORT.search(frame.source)
            if sport is None:
                raise ParseError(f"a snapshot without its sport in the source: {frame.source}")
            return self.session.handle_snapshot(
                frame.frame, sport.group(1), frame.received_at
            ).batch
        return None
