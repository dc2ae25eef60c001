"""Which of TheRundown's events pages a feed still needs, and when each is due again.

Pure: monotonic times are passed in. A feed's snapshot is one events page per sport and
date (``/api/v2/sports/{id}/events/{date}``), fetched one at a time between WebSocket
frames. `PagePlan` remembers when each page was last fetched, so that:

- a start-up interrupted half-way (a failure, a reconnect) resumes with the pages it
  lacks, instead of fetching every page again;
- a page fetched within ``refresh_interval`` is not fetched again after a reconnect (the
  delta resync covers what changed meanwhile), and each page is refreshed once its
  interval has passed;
- a page whose batch the engine dropped is fetched again, after a delay;
- a day that starts brings its page in, and the page of a day past leaves the plan.

`bootstrapped` turns true once every page has been fetched once, and stays true: later
pages (a new day) are refreshes, not a start-up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta


class PagePlan:
    """The events pages of a feed, in fetch order, and when each is due."""

    def __init__(self, refresh_interval: float) -> None:
        """An empty plan; a fetched page is due again ``refresh_interval`` seconds later."""
        self.refresh_interval = refresh_interval
        #: Every page has been fetched at least once (the start-up snapshot is complete).
        self.bootstrapped = False
        self._order: list[str] = []
        self._due: dict[str, float] = {}
        self._fetched: set[str] = set()

    def set_pages(self, pages: Sequence[str]) -> None:
        """Make ``pages`` (in fetch order) the plan's pages.

        A page new to the plan is due at once; one no longer listed is forgotten.
        """
        self._order = list(dict.fromkeys(pages))
        self._due = {page: self._due.get(page, -math.inf) for page in self._order}
        self._fetched &= set(self._order)
        if len(self._fetched) == len(self._order):
            self.bootstrapped = True

    def take(self, now: float) -> str | None:
        """The first page, in fetch order, due by ``now``; None when none is."""
        return next((page for page in self._order if self._due[page] <= now), None)

    def fetched(self, page: str, now: float) -> None:
        """``page`` was fetched (and delivered) at ``now``: due again after the interval."""
        self._due[page] = now + self.refresh_interval
        self._fetched.add(page)
        if len(self._fetched) == len(self._order):
            self.bootstrapped = True

    def retry_at(self, page: str, at: float) -> None:
        """Fetch ``page`` again at ``at`` (its batch was dropped)."""
        self._due[page] = at

    def expire_all(self) -> None:
        """Make every page due at once (the delta cursor was refused: start afresh)."""
        self._due = dict.fromkeys(self._order, -math.inf)

    def next_due(self) -> float:
        """When the next page falls due; infinity for an empty plan."""
        return min(self._due.values(), default=math.inf)

    @property
    def done(self) -> int:
        """How many of the plan's pages have been fetched at least once."""
        return len(self._fetched)

    @property
    def total(self) -> int:
        """How many pages the plan has."""
        return len(self._order)


def bootstrap_dates(now: float, days_ahead: int) -> list[str]:
    """The dates (YYYY-MM-DD, UTC) whose events pages make a bootstrap: today onwards."""
    today = datetime.fromtimestamp(now, UTC).date()
    return [(today + timedelta(days=offset)).isoformat() for offset in range(days_ahead + 1)]
