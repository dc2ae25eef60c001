"""Whether apprise can use a channel URL: the config loader's and the demo's check.

It names the scheme only, never the URL (channel URLs carry tokens). Importing it
registers ``console://`` (`arbwatch.notify.console`), so that scheme is known too.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import apprise
from apprise.manager_plugins import NotificationManager

import arbwatch.notify.console  # noqa: F401 - registers console://
from arbwatch.spelling import did_you_mean

#: What apprise URLs look like before ``://``.
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
#: Apprise's registry of notification schemes (one shared instance).
_APPRISE_PLUGINS: Final = NotificationManager()  # type: ignore[no-untyped-call]


def apprise_url_problem(url: str) -> str | None:
    """Why apprise cannot use ``url`` (naming its scheme only), or None if it can."""
    scheme, separator, _ = url.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        return "expected an apprise URL like tgram://TOKEN/CHAT_ID"
    scheme = scheme.lower()
    if scheme not in _APPRISE_PLUGINS:
        hint = did_you_mean(scheme, _APPRISE_PLUGINS.schemas())  # type: ignore[no-untyped-call]
        return f"unknown apprise scheme {scheme!r}" + (f", {hint}" if hint else "")
    with _apprise_silenced():
        plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return f"apprise cannot use this {scheme}:// URL (check its tokens and address)"
    return None


class _OtherThreads(logging.Filter):
    """Lets through only records logged by other threads than the one that made it."""

    def __init__(self) -> None:
        super().__init__()
        self._thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop this thread's records."""
        return record.thread != self._thread


@contextmanager
def _apprise_silenced() -> Iterator[None]:
    """Keep apprise from logging while it checks a URL: its messages quote the URL's tokens."""
    logger = logging.getLogger("apprise")
    quiet = _OtherThreads()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
