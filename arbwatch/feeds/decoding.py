"""Decoding helpers the provider parsers share: JSON through msgspec, times, line bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, TypeVar

import msgspec

from arbwatch.feeds.model import ParseError

_T = TypeVar("_T")

#: The largest line (handicap or points) a parser accepts. No sport's total comes near it,
#: and a value beyond it is a broken field, not a market.
MAX_ABS_LINE: Final = 10_000.0


def parse_utc_timestamp(value: object) -> float | None:
    """Read an ISO 8601 time into epoch seconds, or None when it is not one.

    A time without an offset is UTC (RapidOddsAPI's naive "2026-07-23T09:30:00"); "Z" and
    offsets (TheRundown's "2026-01-15T00:00:00Z") are honoured.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    except (ValueError, OverflowError):
        return None


def decode_json(decoder: msgspec.json.Decoder[_T], data: object, what: str) -> _T:
    """Decode ``data`` (bytes, str, or an already decoded JSON value) with ``decoder``.

    A decoded value is encoded back to JSON first, so one typed path reads both (NaN and
    infinity become null on the way, as JSON has neither). Every failure is a
    `ParseError` naming ``what``.
    """
    try:
        if not isinstance(data, bytes | bytearray | memoryview | str | msgspec.Raw):
            data = msgspec.json.encode(data)
        return decoder.decode(data)
    except (msgspec.MsgspecError, TypeError, ValueError, RecursionError) as exc:
        raise ParseError(f"unreadable {what}: {exc}") from None
