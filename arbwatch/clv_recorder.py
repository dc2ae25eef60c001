"""The daemon's closing-line value: prices and alerts into `ClvTracker`, records into the store.

Two calls, on the engine's results (`arbwatch.core.engine`):

- `ClvRecorder.observe` with each engine step's batches (`Step.batches`): their price
  updates (the tracker keeps the sharp ones on tracked markets) and their events (a start
  that moved);
- `ClvRecorder.alerted` where alerts are acted on: the prices of NEW and IMPROVED alerts are
  tracked from then on, with the sharp quotes the matrix holds for their market at that
  moment, and whatever has started by ``now`` is settled. The daemon calls it with every
  observation it acts on, the step's and the one-second expiry's, so a game that starts
  while no price moves is settled within about a second.

Replay and backtest do the same on the recorded clock with a `ClvTracker` of their own
(`arbwatch.feeds.replay.run_frames`), through the same core functions.

Prices are written to the store when alerted and again when settled, so a restart goes on
tracking what was waiting (read back on first use). Writes go through the daemon's
`StoreGuard`: a store that cannot be written costs no alert; what could not be written is
kept (up to `MAX_UNSAVED`) and written with the next call that succeeds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Final

from arbwatch.core.clv import AlertedPrice, ClvRecord, ClvTracker, RuleLike, track_alerts
from arbwatch.core.dedup import Alert
from arbwatch.core.engine import Batch
from arbwatch.core.matrix import PriceMatrix
from arbwatch.store_guard import StoreGuard

logger = logging.getLogger(__name__)

#: Prices and records kept for the store while it cannot be written; beyond this the
#: oldest are dropped (and counted in the log line).
MAX_UNSAVED: Final = 10_000


class ClvRecorder:
    """Tracks the closing-line value of every alerted price for the daemon."""

    def __init__(self, guard: StoreGuard) -> None:
        """Use ``guard``'s store; prices waiting there are read on first use."""
        self._guard = guard
        self._tracker: ClvTracker | None = None
        self._unsaved_alerted: list[AlertedPrice] = []
        self._unsaved_settled: list[ClvRecord] = []

    @property
    def tracker(self) -> ClvTracker:
        """The tracker, with the prices the store kept waiting read back."""
        if self._tracker is None:
            pending = self._guard.use("read closing-line prices", lambda s: s.pending_clv())
            self._tracker = ClvTracker(pending or ())
        return self._tracker

    def observe(self, batches: Iterable[Batch]) -> None:
        """Take the price updates and event details of a drain of batches."""
        self.tracker.observe_batches(batches)

    def alerted(
        self, alerts: Sequence[Alert], matrix: PriceMatrix, rules: Sequence[RuleLike], now: float
    ) -> list[ClvRecord]:
        """Track the prices of ``alerts``, settle what started by ``now``; return what settled.

        ``rules`` are the rules in force: an arbitrage rule's close comes from them.
        """
        tracker = self.tracker
        alerted, settled = track_alerts(tracker, alerts, matrix, rules)
        settled.extend(tracker.settle(now))
        if settled:
            with_close = [r.clv for r in settled if r.clv is not None]
            logger.info(
                "closing-line value: %d prices settled, %d with a close%s",
                len(settled),
                len(with_close),
                f" (mean {sum(with_close) / len(with_close):+.2%})" if with_close else "",
            )
        self._save(alerted, settled)
        return settled

    def _save(self, alerted: list[AlertedPrice], settled: list[ClvRecord]) -> None:
        """Write to the store, with whatever an earlier failure left unwritten."""
        alerted = self._unsaved_alerted + alerted
        settled = self._unsaved_settled + settled
        if not alerted and not settled:
            return
        written = self._guard.use(
            "record closing-line values", lambda store: store.save_clv(alerted, settled)
        )
        if written is not None:
            self._unsaved_alerted, self._unsaved_settled = [], []
            return
        dropped = max(0, len(alerted) - MAX_UNSAVED) + max(0, len(settled) - MAX_UNSAVED)
        if dropped:
            logger.warning("closing-line value: %d records dropped, the store is failing", dropped)
        self._unsaved_alerted = alerted[-MAX_UNSAVED:]
        self._unsaved_settled = settled[-MAX_UNSAVED:]
