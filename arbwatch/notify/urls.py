"""Whether apprise can use a channel URL: the config loader's and the demo's check.

It names the scheme only, never the URL (channel URLs carry tokens). Importing it
registers ``console://`` (`arbwatch.notify.console`), so that scheme is known too.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import apprise
from apprise.manager_plugins import NotificationManager

import arbwatch.notify.console  # noqa: F401 - registers console://

#: What apprise URLs look like before ``://``.
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
#: Schemes of a plain web address, which apprise does not take as a notification URL.
_WEB_SCHEMES: Final = frozenset({"http", "https"})
#: How alike (difflib's ratio) an unknown scheme must be to a known one to be suggested:
#: a letter wrong, missing or swapped in a short word (``mialto``, ``tgrm``), not more.
_CLOSE_SCHEME: Final = 0.75
#: Apprise's registry of notification schemes (one shared instance).
_APPRISE_PLUGINS: Final = NotificationManager()  # type: ignore[no-untyped-call]


def apprise_url_problem(url: str) -> str | None:
    """Why apprise cannot use ``url`` (naming its scheme only), or None if it can."""
    scheme, separator, _ = url.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        return "expected an apprise URL like tgram://TOKEN/CHAT_ID"
    scheme = scheme.lower()
    if scheme not in _APPRISE_PLUGINS:
        return f"unknown apprise scheme {scheme!r}" + _scheme_hint(scheme)
    with _apprise_silenced():
        plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        return f"apprise cannot use this {scheme}:// URL (check its tokens and address)"
    return None


def _scheme_hint(scheme: str) -> str:
    """What to write instead of an unknown scheme: a close spelling, or what a web URL needs.

    '' when nothing is close: ``https`` is not ``httpsms`` cut short.
    """
    if scheme in _WEB_SCHEMES:
        return (
            ": a web address is not an apprise URL; for a webhook that takes JSON write "
            "json://HOST/PATH (jsons:// for https), or the service's own scheme "
            "(tgram://, discord://, mailto://)"
        )
    schemes = _APPRISE_PLUGINS.schemas()  # type: ignore[no-untyped-call]
    close = difflib.get_close_matches(scheme, schemes, n=1, cutoff=_CLOSE_SCHEME)
    return f", did you mean {close[0]!r}?" if close else ""


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
