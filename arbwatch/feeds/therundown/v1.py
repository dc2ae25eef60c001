"""TheRundown V1 (legacy) feed: the ``/api/v1/ws`` line socket on a V2 REST bootstrap.

The V1 socket pushes whole lines: a ``moneyline``, ``spread`` or ``total`` frame carries
one book's current line of one market type and period for one event (both sides, or all
three with a draw). What it does not say matters as much: a spread that moved from -3.5
to -4 no longer prices -3.5, and a line written as the 0.0001 sentinel prices nothing.
So a frame replaces everything that book quoted in that scope (`V1Scope`): the cells it
priced before and not now are withdrawn.

Everything else is the V2 feed's, reused rather than copied:

- `RundownV1Session` is a `RundownSession`: the same REST handling (sports, affiliates,
  events pages, single events, market delta) and the same cell board, so the cells the
  REST bootstrap priced are the ones a V1 frame replaces. Only `handle_ws` differs.
- `RundownV1Feed` is a `RundownFeed`: the same bootstrap over V2 REST (V1 frames name
  events by id only, so the teams come from ``/api/v2/sports/{id}/events/{date}``), the
  same heartbeat watchdog, delta resync after every reconnect, periodic refresh,
  redaction, recording and failure rules. A frame for an event the session does not know
  fetches it (``/api/v2/events/{id}``, at most once a minute); that frame's prices are
  not kept, since the REST answer is newer than they are.

V1 carries moneyline, spread and total only (market ids 1, 2, 3; no props). Its filters
are ``sport_ids``, ``affiliate_ids`` and ``event_ids``. With ``event_ids`` the bootstrap
fetches those events one by one instead of whole days; such a feed has no delta cursor
(single-event answers carry none), so its resync fetches the events again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from arbwatch.core.markets import MarketKind
from arbwatch.feeds.base import SettingsError, websocket_url
from arbwatch.feeds.model import CellKey
from arbwatch.feeds.therundown.session import FrameResult, RundownSession
from arbwatch.feeds.therundown.settings import RundownSettings
from arbwatch.feeds.therundown.wire import (
    RETIRED_AFFILIATES,
    Heartbeat,
    SkipReason,
    UnknownMessage,
    V1Update,
    parse_v1_frame,
    period_for,
)

#: The V1 WebSocket path.
V1_WS_PATH: Final = "/api/v1/ws"
#: The market ids a V1 socket updates: moneyline, spread, total.
V1_MARKET_IDS: Final = frozenset({1, 2, 3})
#: The market kinds one V1 frame type replaces. A moneyline frame may turn a book's
#: 2-way market into a 3-way one (a real draw price appeared): both are its scope.
V1_KINDS: Final = {
    "moneyline": frozenset({MarketKind.MONEYLINE, MarketKind.MONEYLINE_3WAY}),
    "spread": frozenset({MarketKind.SPREAD}),
    "total": frozenset({MarketKind.TOTAL}),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RundownV1Settings(RundownSettings):
    """A V1 feed's settings: those of `RundownSettings`, plus ``event_ids``.

    ``market_ids`` are those of the REST bootstrap and must be among 1, 2, 3 (all V1
    sends). ``sport_ids`` or ``event_ids`` must name something to watch. The WebSocket
    URL is derived from ``base_url`` (http -> ws, https -> wss) plus ``/api/v1/ws``.
    """

    event_ids: tuple[str, ...] = ()

    def _check_scope(self) -> None:
        """V1 is filtered by sport or by event; it only carries markets 1, 2 and 3."""
        if not self.sport_ids and not self.event_ids:
            raise SettingsError.one(self.name, "", "a V1 feed needs sport_ids or event_ids")
        if not set(self.market_ids) <= V1_MARKET_IDS:
            raise SettingsError.one(
                self.name, "market_ids", "a V1 feed carries market_ids 1, 2 and 3 only"
            )

    @property
    def ws_url(self) -> str:
        """The V1 WebSocket URL with its filters (the key goes in a header)."""
        params = {}
        for name, values in (
            ("sport_ids", self.sport_ids),
            ("affiliate_ids", self.affiliate_ids),
            ("event_ids", self.event_ids),
        ):
            if values:
                params[name] = ",".join(str(value) for value in values)
        return websocket_url(self.base_url, V1_WS_PATH, params)


class RundownV1Session(RundownSession):
    """A `RundownSession` whose WebSocket frames are V1 line frames (pure, replayable)."""

    def handle_ws(self, frame: str | bytes, received_at: float) -> FrameResult:
        """Take one frame of the V1 WebSocket: a line replaces its scope's cells.

        Raises:
            ParseError: the frame is not a TheRundown frame; count it and go on.
        """
        message = parse_v1_frame(
            frame,
            affiliates=self.affiliates,
            events=self.events,
            draw_sports=self.draw_sports,
            received_at=received_at,
        )
        if isinstance(message, Heartbeat):
            return FrameResult(heartbeat=True)
        if isinstance(message, UnknownMessage):
            return FrameResult(ignored=f"message type {message.type!r}")
        return self._replace_line(message, received_at)

    def _replace_line(self, update: V1Update, received_at: float) -> FrameResult:
        scope = update.scope
        skipped = update.skipped
        if update.unknown_event:
            return FrameResult(
                refresh_event=scope.event_id,
                ignored="unknown event",
                skipped=skipped + len(update.quotes),
            )
        if update.skip_reason is not None:
            unknown_book = (
                update.skip_reason is SkipReason.UNKNOWN_AFFILIATE
                and scope.affiliate_id not in RETIRED_AFFILIATES
            )
            return FrameResult(
                refresh_affiliates=unknown_book, ignored=str(update.skip_reason), skipped=1
            )
        period = (
            update.quotes[0].period
            if update.quotes
            else period_for(scope.period_id, self._sport_id(scope.event_id))
        )
        if period is None:
            return FrameResult(ignored=str(SkipReason.UNSUPPORTED_PERIOD), skipped=1)
        book = self.affiliates[scope.affiliate_id]
        kinds = V1_KINDS[scope.market]

        def within(cell: CellKey) -> bool:
            return cell.book == book and cell.kind in kinds and cell.period == period

        quotes = self.bounds.apply(update.quotes)
        gone = self.board.replace(scope.event_id, quotes, received_at, within)
        result = self._frame_result((*gone, *quotes), received_at)
        if skipped:
            return FrameResult(
                batch=result.batch, ignored=result.ignored, skipped=result.skipped + skipped
            )
        return result

    def _sport_id(self, event_id: str) -> int | None:
        """The sport id of a known event, from its sport's name (periods depend on it)."""
        event = self.events.get(event_id)
        if event is None:
            return None
        for sport_id, name in self.sports.items():
            if name == event.sport:
                return sport_id
        # An unknown sport is named by its number (see parse_events).
        return int(event.sport) if event.sport.isdigit() else None


#: The provider name of V1 feeds, in the config and in recordings (whose frames need
#: `RundownV1Session`).
V1_PROVIDER: Final = "therundown_v1"
#: How recordings made before the name was one spelled it; they still replay.
V1_PROVIDER_BEFORE: Final = "therundown-v1"
