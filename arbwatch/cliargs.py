"""Argument types for the command line that read numbers exactly as the config reads them.

``--min-ev 300`` is refused as ``min_ev: 300`` is, ``--stake-round -5`` as ``stake_round: -5``:
each type here hands the typed text to a parser of `arbwatch.config.values` and turns its
reason into argparse's ``argument --min-ev: ...`` message, so one rule has one wording.
"""

from __future__ import annotations

import argparse
import urllib.parse
from collections.abc import Callable
from functools import partial
from typing import Final, TypeVar

from arbwatch.config import values
from arbwatch.config.yamlsource import ScalarValue

T = TypeVar("T")

#: The largest board ``arbwatch bench`` builds, in events x books: 20,000 events of 30 books
#: peaked at 964 MiB resident, so this is about 2.4 GB; beyond, a machine runs out of memory
#: (a traceback, before).
MAX_BENCH_BOARD: Final = 50_000 * 30
#: The most events and books ``arbwatch bench`` takes, each within `MAX_BENCH_BOARD` too.
MAX_BENCH_EVENTS: Final = 50_000
MAX_BENCH_BOOKS: Final = 500


def _scalar(text: str) -> ScalarValue:
    """The typed text as the config's reader would hold it: a number if it reads as one."""
    data: int | float | str
    try:
        data = int(text)
    except ValueError:
        try:
            data = float(text)
        except ValueError:
            data = text
    return ScalarValue(line=0, path="", data=data, text=text, written=text)


def config_type(parse: Callable[[ScalarValue], T]) -> Callable[[str], T]:
    """An argparse ``type=`` that reads the text with ``parse``, a `values` parser."""

    def read(text: str) -> T:
        try:
            return parse(_scalar(text))
        except values.InvalidValueError as error:
            raise argparse.ArgumentTypeError(error.why) from None

    # argparse names the type in "invalid <name> value" only when no message is given.
    read.__name__ = getattr(parse, "__name__", "value")
    return read


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """A whole number from ``minimum`` up to ``maximum`` (when given)."""
    at_least = config_type(partial(values.integer, minimum=minimum))

    def read(text: str) -> int:
        number = at_least(text)
        if maximum is not None and number > maximum:
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {minimum} to {maximum:,}, got {text}"
            )
        return number

    return read


#: ``bankroll``: a number above 0.
bankroll = config_type(partial(values.number, above=0.0))
#: ``stake_round``: a number >= 0 (0: no rounding).
stake_round = config_type(partial(values.number, minimum=0.0))
#: ``kelly_fraction``: a number above 0, at most 1.
kelly_fraction = config_type(partial(values.number, above=0.0, at_most=1.0))
#: ``min_profit``, ``min_ev``: a percentage like 3% or 0.03, below 100%.
threshold = config_type(values.threshold)
#: ``max_quote_age``, and any other span: ``90s``, ``10m``, ``1h30m`` or seconds.
duration = config_type(values.duration)
#: A commission rate: a percentage like 2% or 0.02, below 100%.
rate = config_type(partial(values.percentage, below=1.0))


#: A book's name (``--sharp Pinnacle``): non-blank text.
book_name = config_type(values.text)


def base_url(text: str) -> str:
    """An http(s) base URL with a host, e.g. ``http://127.0.0.1:9464``."""
    parts = urllib.parse.urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected a URL like http://127.0.0.1:9464, got {text!r}")
    return text.strip()
