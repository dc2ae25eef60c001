"""Batching by arrival: the frames a feed read together reach the engine as one batch.

A feed reads every frame already waiting in its socket's queue before it hands anything
over (`BoundedWebSocketSession.take_arrived`), so a busy second costs the engine a few
hand-overs and evaluations, not one per frame, and a lone frame still goes on at once.
Pure: no I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

from arbwatch.feeds.base import FeedBatch

#: The most frames a feed reads before it hands a batch on, however many are waiting:
#: the queue holds at most two socket reads (128 KiB), so this is a bound, not a pace.
MAX_FRAMES_PER_BATCH = 2_000


def merged(batches: Sequence[FeedBatch]) -> FeedBatch:
    """``batches`` (one feed's, in the order they were read) as one batch.

    The updates keep their order; the engine's matrix lets the later of two updates of
    one cell win (`PriceMatrix.apply`), so nothing is lost by writing them together. The
    batch is as recent as its last part.
    """
    if len(batches) == 1:
        return batches[0]
    last = batches[-1]
    return FeedBatch(
        last.feed,
        last.received_at,
        tuple(chain.from_iterable(batch.events for batch in batches)),
        tuple(chain.from_iterable(batch.updates for batch in batches)),
    )
