"""The daemon's hold on its state database: a disk that fails never stops the alerts.

A full disk, a read-only state directory or a broken file must cost history and
duplicate protection, never an alert. `StoreGuard` makes every store call the daemon makes
survivable:

- `StoreGuard.open` at start never raises: a broken file is moved aside by
  `arbwatch.store.open_store` (the one line says where it went); a directory where nothing
  can be written leaves the daemon running without a store, trying again every
  ``retry_interval`` seconds (`StoreGuard.reopen_if_due`).
- `StoreGuard.use` runs one read or write; a failure is counted, kept for the health alert
  (``store_failing``) and status, and logged once, then at most once a `LOG_INTERVAL`
  with how many more failed, so a full disk does not fill the log too. SQLite leaves the
  file as it was before the failed transaction, so the next write simply tries again:
  writing resumes by itself when space returns, and a line says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from arbwatch.store import Store, StoreError, open_store

logger = logging.getLogger(__name__)

#: Seconds between attempts to open a state database that could not be opened.
RETRY_INTERVAL: Final = 10.0
#: Seconds between log lines while writes keep failing (the first is logged at once).
LOG_INTERVAL: Final = 60.0

_T = TypeVar("_T")


class StoreGuard:
    """The state database, or its absence, and how its writes have been going."""

    def __init__(
        self, path: Path, clock: Callable[[], float], retry_interval: float = RETRY_INTERVAL
    ) -> None:
        """Nothing is opened until `open`.

        Args:
            path: the database file.
            clock: epoch seconds, for when failures began and when to retry or log.
            retry_interval: seconds between attempts to open a database that could not be.
        """
        self.path = path
        self.retry_interval = retry_interval
        self._clock = clock
        #: The open database; None before `open`, or while it cannot be opened.
        self.store: Store | None = None
        #: Writes that failed (or could not be made, with no database open) since start.
        self.failures = 0
        #: Epoch seconds of the first failure since the last write that worked (None: fine).
        self.failing_since: float | None = None
        #: The latest failure, one line.
        self.last_error = ""
        self._next_open = 0.0
        self._next_log = 0.0
        self._unlogged = 0

    def open(self) -> Store | None:
        """Open the database for the daemon; on failure, log one line and run without it."""
        now = self._clock()
        self._next_open = now + self.retry_interval
        try:
            store, moved = open_store(self.path, now)
        except StoreError as error:
            self._failed(str(error), now)
            logger.error(  # noqa: TRY400 - one line; a traceback says nothing more
                "%s; running without it (no history, alerts may repeat after a restart), "
                "trying again every %.0f s",
                error,
                self.retry_interval,
            )
            return None
        if moved is not None:
            logger.error("%s; started a fresh one", moved)
        elif self.failing_since is not None:
            logger.warning("state database %s opened: writing resumes", self.path)
        self.store = store
        self._recovered()
        return store

    def reopen_if_due(self) -> Store | None:
        """With no database open, try again once ``retry_interval`` has passed since the last.

        Returns the store if it was opened by this call.
        """
        if self.store is not None or self._clock() < self._next_open:
            return None
        return self.open()

    def use(self, what: str, action: Callable[[Store], _T]) -> _T | None:
        """Run ``action`` on the store; None if there is none or it failed (counted, logged).

        ``what`` says what was being written, for the log: ``record alerts``.
        """
        store = self.store
        if store is None:
            # Counted, not logged: `open` said why, and says when it works again.
            self._failed(self.last_error or f"no state database open at {self.path}", self._clock())
            return None
        try:
            result = action(store)
        except StoreError as error:
            now = self._clock()
            first = self.failing_since is None
            self._failed(f"could not {what}: {error}", now)
            if first or now >= self._next_log:
                more = f" ({self._unlogged} more writes failed)" if self._unlogged else ""
                logger.error(  # noqa: TRY400 - the cause is the message
                    "state database: %s%s; alerts still go out", self.last_error, more
                )
                self._unlogged = 0
                self._next_log = now + LOG_INTERVAL
            else:
                self._unlogged += 1
            return None
        if self.failing_since is not None:
            logger.warning(
                "state database %s written again after %d failed writes", self.path, self.failures
            )
            self._recovered()
        return result

    def close(self) -> None:
        """Close the database, if open."""
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self) -> StoreGuard:
        """`open`, then the guard itself."""
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """`close`."""
        self.close()

    def _failed(self, error: str, now: float) -> None:
        """Count a failure and keep when the spell began and what it was."""
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = now
        self.last_error = error

    def _recovered(self) -> None:
        """Writes work (again): the spell of failures is over."""
        self.failing_since = None
        self._unlogged = 0
        self._next_log = 0.0
