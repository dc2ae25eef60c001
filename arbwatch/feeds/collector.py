"""The garbage collector kept out of a large decode (a full push, an events page).

Decoding a 10 MB RapidOddsAPI push or a 14 MB TheRundown events page makes hundreds of
thousands of lists, dicts and structs. Every 700 new container objects start a young
collection, every tenth of those a middle one, and now and then a full one that walks
every object the daemon holds; all of them in the middle of the decode, which is the
feed's latency. Nearly all of what a decode makes dies by reference counting as soon as
the body has been turned into updates, with no cycle among it (JSON cannot make one), so
the collector has nothing to find there: it is paused for the decode and resumed after,
when only the few survivors remain to be looked at. `arbwatch bench --snapshot` measures
the difference, pauses counted by `gc.callbacks`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cyclic garbage collector off; on again after, if it was on.

    Only for synchronous work: no other task runs meanwhile, so nothing else loses its
    collections, and a nested use leaves the collector as the outer one found it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
