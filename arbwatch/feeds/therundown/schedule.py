"""When each of a TheRundown feed's REST jobs is due (pure: times are passed in)."""

from __future__ import annotations

import math
from enum import Enum
from typing import Final, TypeAlias


class RestJob(Enum):
    """REST work a connected feed does between frames, in order of importance.

    A resync comes before the pages: it replays changes older than any page fetched
    after it, and must not land on top of one. SNAPSHOT fetches the next due events page.
    """

    AFFILIATES = 0
    RESYNC = 1
    SNAPSHOT = 2


#: A REST job: one of `RestJob`, or the id of an event to fetch.
Job: TypeAlias = RestJob | str

#: Refetches remembered at most; older ones are forgotten past this many.
_MAX_REMEMBERED_FETCHES: Final = 10_000


class RestSchedule:
    """When each REST job is due. Pure: times (monotonic seconds) are passed in.

    `take` hands out the most important due job first: the affiliates, a resync, an
    events page, then event fetches, oldest first. A refetch (an event or the affiliates,
    asked for by a frame that could not be placed) runs at most once per
    ``refetch_interval``: a burst of frames for one unknown event costs one request.
    `hold` keeps every job back, for a 429's Retry-After or a failing server.
    """

    def __init__(self, refetch_interval: float) -> None:
        """An empty schedule; refetches of one job at least ``refetch_interval`` apart."""
        self.refetch_interval = refetch_interval
        #: No job is handed out before this time.
        self.held_until = -math.inf
        self._due: dict[Job, float] = {}
        self._fetched: dict[Job, float] = {}

    def __contains__(self, job: Job) -> bool:
        """Whether ``job`` is scheduled."""
        return job in self._due

    def schedule(self, job: Job, at: float) -> None:
        """Make ``job`` due at ``at``, or keep it earlier if it already is."""
        self._due[job] = min(self._due.get(job, math.inf), at)

    def refetch(self, job: Job, now: float) -> None:
        """Schedule a refetch: now, or ``refetch_interval`` after the last one began."""
        last = self._fetched.get(job, -math.inf)
        self.schedule(job, max(now, last + self.refetch_interval))

    def due_at(self, job: Job) -> float:
        """When ``job`` is due; infinity when it is not scheduled."""
        return self._due.get(job, math.inf)

    def cancel(self, job: Job) -> None:
        """Unschedule ``job`` (answered by other work)."""
        self._due.pop(job, None)

    def hold(self, until: float) -> None:
        """Hand out no job before ``until``."""
        self.held_until = until

    def next_due(self) -> float:
        """When `take` will next hand out a job; infinity when nothing is scheduled."""
        return max(min(self._due.values(), default=math.inf), self.held_until)

    def take(self, now: float) -> Job | None:
        """Remove and return the most important job due by ``now``, if any."""
        if now < self.held_until:
            return None
        ready = [(self._rank(job, at), job) for job, at in self._due.items() if at <= now]
        if not ready:
            return None
        _, job = min(ready, key=lambda pair: pair[0])
        del self._due[job]
        if not isinstance(job, RestJob) or job is RestJob.AFFILIATES:
            self._fetched[job] = now
            if len(self._fetched) > _MAX_REMEMBERED_FETCHES:
                horizon = now - self.refetch_interval
                self._fetched = {j: t for j, t in self._fetched.items() if t > horizon}
        return job

    @staticmethod
    def _rank(job: Job, at: float) -> tuple[int, float, str]:
        if isinstance(job, RestJob):
            return job.value, 0.0, ""
        return len(RestJob), at, job
