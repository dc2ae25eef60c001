"""Reading config values: percentages, durations, odds, names, choices, and mappings of keys.

Each parser takes a located `Value` and returns the checked value in engine units (0.03
for 3%, seconds, decimal odds), or raises `InvalidValueError` with the reason. The reason names what
was expected and what was written, quoting the file's text (``describe``) and never a
value taken from the environment or from a ``*_file``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from typing import Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from arbwatch.config.yamlsource import ListValue, MapValue, Problems, ScalarValue, Value, child_path
from arbwatch.core.odds import OddsFormat, detect_format, parse_odds
from arbwatch.errors import ImplausibleOddsError, InvalidOddsError
from arbwatch.spelling import did_you_mean

T = TypeVar("T")

#: ``90s``, ``10m``, ``2h``, ``1d``, ``1h30m``: each unit at most once, largest first.
_DURATION: Final = re.compile(
    r"(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?"
)
_UNIT_SECONDS: Final = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
#: ``64MiB``, ``1GB``, ``500 KB``, ``1048576``: a number of bytes, in a unit or not.
_SIZE: Final = re.compile(r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]i?B|B)?", re.IGNORECASE)
_UNIT_BYTES: Final = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
_CLOCK: Final = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
#: Why odds of a format that could be read were refused.
_ODDS_RULES: Final = {
    OddsFormat.AMERICAN: "American odds are -100 or below, or +100 or above",
    OddsFormat.DECIMAL: "decimal odds are above 1.0",
    OddsFormat.FRACTIONAL: "fractional odds are a/b with a and b above 0",
}


class InvalidValueError(Exception):
    """A value that cannot be used; ``why`` is the message, ``at`` the item at fault."""

    def __init__(self, why: str, at: Value | None = None) -> None:
        """Keep the reason and, for an item in a list or mapping, the item."""
        super().__init__(why)
        self.why = why
        self.at = at


class AlreadyReportedError(InvalidValueError):
    """A value whose problem was recorded when it was read (an unset ``${VAR}`` in it)."""

    def __init__(self, value: Value) -> None:
        """Stand for ``value``, which is not to be reported again."""
        super().__init__("", at=value)


def describe(value: Value) -> str:
    """What was written, for a message: ``"three"``, ``3``, ``nothing``, ``a list``."""
    if isinstance(value, ListValue):
        return "a list" if value.items else "an empty list"
    if isinstance(value, MapValue):
        return "a mapping"
    if not isinstance(value, ScalarValue) or value.data is None:
        return "nothing"
    if isinstance(value.data, str):
        return json.dumps(value.written, ensure_ascii=False)
    return value.written


def expected(what: str, value: Value, hint: str = "") -> InvalidValueError:
    """The usual problem: ``expected WHAT, got WRITTEN`` and an optional ``(hint)``."""
    suffix = f" ({hint})" if hint else ""
    return InvalidValueError(f"expected {what}, got {describe(value)}{suffix}", at=value)


def _data(value: Value) -> object:
    """A scalar's data; a list or mapping stands for itself (and fails every scalar check).

    Raises:
        AlreadyReportedError: the scalar's ``${VAR}`` could not be filled in.
    """
    if not isinstance(value, ScalarValue):
        return value
    if value.flawed:
        raise AlreadyReportedError(value)
    return value.data


def _real(data: object) -> float | None:
    """``data`` as a finite number if it is one (bools are not), else None."""
    if isinstance(data, bool) or not isinstance(data, int | float):
        return None
    return float(data) if math.isfinite(data) else None


def _real_text(text: str) -> float | None:
    """``text`` as a finite number if it reads as one, else None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# --- scalars -----------------------------------------------------------------------------


def text(value: Value) -> str:
    """Non-blank text."""
    data = _data(value)
    if not isinstance(data, str) or not data.strip():
        raise expected("text", value)
    return data


def secret(value: Value) -> str:
    """Text that may be a secret: the message never repeats what was written."""
    data = _data(value)
    if not isinstance(data, str):
        raise InvalidValueError(
            "expected text (quote it if YAML reads it as something else)", at=value
        )
    return data


def boolean(value: Value) -> bool:
    """``true`` or ``false``."""
    data = _data(value)
    if not isinstance(data, bool):
        raise expected("true or false", value)
    return data


def integer(value: Value, minimum: int | None = None) -> int:
    """A whole number, at least ``minimum`` when given."""
    data = _data(value)
    bound = f" >= {minimum}" if minimum is not None else ""
    if (
        isinstance(data, bool)
        or not isinstance(data, int)
        or (minimum is not None and data < minimum)
    ):
        raise expected(f"a whole number{bound}", value)
    return data


def number(
    value: Value,
    *,
    minimum: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
) -> float:
    """A finite number within the bounds given (``minimum`` inclusive, ``above`` not)."""
    bounds = [
        f"{sign} {bound:g}"
        for sign, bound in ((">=", minimum), (">", above), ("<=", at_most))
        if bound is not None
    ]
    what = "a number" + (" " + " and ".join(bounds) if bounds else "")
    real = _real(_data(value))
    if (
        real is None
        or (minimum is not None and real < minimum)
        or (above is not None and real <= above)
        or (at_most is not None and real > at_most)
    ):
        raise expected(what, value)
    return real


def percentage(value: Value, *, below: float | None = None, reason: str = "") -> float:
    """A fraction from ``3%``, ``"0.5%"`` or ``0.03``; never negative; under ``below`` if given.

    A bare number above 1 is refused: ``3`` could mean 3% or 300%. ``reason`` says why
    ``below`` is the limit.
    """
    data = _data(value)
    real = _real(data)
    bare = real is not None
    if isinstance(data, str):
        written = data.strip()
        bare = not written.endswith("%")
        real = _real_text(written if bare else written[:-1])
        if real is not None and not bare:
            real /= 100.0
    if real is None:
        raise expected("a percentage like 3% or 0.03", value)
    if bare and real > 1.0:
        raise InvalidValueError(
            f"got {describe(value)}, which is ambiguous: write {real:g}% or {real / 100:g}",
            at=value,
        )
    if real < 0.0:
        raise expected("a percentage >= 0%", value)
    if below is not None and real >= below:
        raise expected(f"a percentage below {below * 100:g}%", value, reason)
    return real


def threshold(value: Value) -> float:
    """``min_profit``, ``max_profit``, ``min_ev``, ``max_ev``: a percentage below 100%."""
    return percentage(
        value,
        below=1.0,
        reason="an arbitrage or an edge of 100% or more is a wrong price, never a bet",
    )


def duration(value: Value, *, positive: bool = True) -> float:
    """Seconds from ``90s``, ``10m``, ``2h``, ``1d``, ``1h30m`` or a number of seconds.

    ``positive``: zero is refused (a zero timeout or interval makes no sense).
    """
    data = _data(value)
    seconds = _real(data)
    if isinstance(data, str):
        written = data.replace(" ", "")
        seconds = _real_text(written)
        match = _DURATION.fullmatch(written)
        if seconds is None and written and match is not None:
            seconds = sum(
                float(amount) * _UNIT_SECONDS[unit]
                for unit, amount in match.groupdict().items()
                if amount is not None
            )
    if seconds is None:
        raise expected("a duration like 90s, 10m, 2h or 1h30m", value)
    if seconds < 0.0 or (positive and seconds == 0.0):
        raise expected("a duration > 0" if positive else "a duration >= 0", value)
    return seconds


def size(value: Value) -> int:
    """Bytes from ``64MiB``, ``1GB``, ``500KB`` or a whole number of bytes; above zero."""
    data = _data(value)
    found: int | None = None
    if isinstance(data, int) and not isinstance(data, bool):
        found = data
    elif isinstance(data, str) and (match := _SIZE.fullmatch(data.strip())) is not None:
        unit = (match.group("unit") or "b").lower()
        found = int(float(match.group("amount")) * _UNIT_BYTES[unit])
    if found is None:
        raise expected("a size like 64MiB, 1GB or 500KB", value)
    if found <= 0:
        raise expected("a size > 0", value)
    return found


def odds(value: Value) -> float:
    """Decimal odds from any format: ``1.5``, ``+400``, ``-110``, ``11/10``, ``evens``."""
    data = _data(value)
    if isinstance(data, bool) or not isinstance(value, ScalarValue) or data is None:
        raise expected("odds like 2.10, +110 or 11/10", value)
    # The text, not the number: YAML reads +400 as 400, which is decimal odds of 400.
    written = value.text
    try:
        return parse_odds(written)
    except ImplausibleOddsError as error:
        raise InvalidValueError(str(error), at=value) from None
    except InvalidOddsError:
        raise expected("odds like 2.10, +110 or 11/10", value, _odds_rule(written)) from None


def _odds_rule(written: str) -> str:
    """Why readable odds were refused ('' when they could not be read at all)."""
    try:
        odds_format = detect_format(written)
    except InvalidOddsError:
        return ""
    parts = written.split("/") if odds_format is OddsFormat.FRACTIONAL else [written]
    if any(_real_text(part) is None for part in parts):
        return ""
    return _ODDS_RULES[odds_format]


def choice(value: Value, options: Mapping[str, T]) -> T:
    """One of ``options`` (matched ignoring case), with a hint when close to one."""
    data = _data(value)
    word = data.strip().lower() if isinstance(data, str) else None
    if word is None or word not in options:
        hint = did_you_mean(word, options) if word else ""
        raise expected("one of " + ", ".join(options), value, hint)
    return options[word]


def clock(value: Value) -> dt.time:
    """A time of day written ``HH:MM``."""
    data = _data(value)
    match = _CLOCK.fullmatch(data.strip()) if isinstance(data, str) else None
    if match is None:
        raise expected('a time of day like "23:00"', value)
    return dt.time(int(match.group(1)), int(match.group(2)))


def zone(value: Value) -> ZoneInfo:
    """An IANA time zone: ``Europe/London``, ``America/New_York``, ``UTC``."""
    data = _data(value)
    if isinstance(data, str) and data.strip():
        try:
            return ZoneInfo(data.strip())
        except (ZoneInfoNotFoundError, ValueError, OSError):
            # Not found, a malformed key, or a directory of the tz database ("America").
            pass
    raise expected("an IANA time zone like America/New_York", value)


# --- lists -------------------------------------------------------------------------------


def _items(value: Value, what: str, *, allow_empty: bool) -> tuple[Value, ...]:
    """The items of a list, which may be empty only if ``allow_empty``."""
    if not isinstance(value, ListValue) or not (value.items or allow_empty):
        raise expected(what, value)
    return value.items


def names(value: Value, *, allow_empty: bool = False) -> tuple[str, ...]:
    """A list of non-blank names, in order, each once."""
    found = [
        text(item).strip() for item in _items(value, "a list of names", allow_empty=allow_empty)
    ]
    return tuple(dict.fromkeys(found))


def whole_numbers(value: Value) -> tuple[int, ...]:
    """A list of whole numbers (possibly empty), in order, each once."""
    found = [integer(item) for item in _items(value, "a list of whole numbers", allow_empty=True)]
    return tuple(dict.fromkeys(found))


def choices(value: Value, options: Mapping[str, T]) -> frozenset[T]:
    """A non-empty list, each item one of ``options``."""
    listed = _items(value, "a list of " + ", ".join(options), allow_empty=False)
    return frozenset(choice(item, options) for item in listed)


# --- mappings ----------------------------------------------------------------------------


class Section:
    """One mapping of the config being read: keys taken one at a time, problems recorded.

    A value that cannot be used is recorded in ``problems`` and read as absent, so that
    reading goes on and every problem in the file is found in one pass.
    """

    def __init__(
        self, value: Value, known: Collection[str], problems: Problems, what: str = "settings"
    ) -> None:
        """Read ``value``, which should be a mapping of the ``known`` keys.

        Args:
            value: the mapping; anything else is a problem, and reads as an empty mapping.
            known: the keys it may hold.
            problems: where problems go.
            what: what the mapping holds, for the message when it is not a mapping.
        """
        if not isinstance(value, MapValue):
            problems.at(value, f"expected a mapping of {what} (key: value), got {describe(value)}")
            value = MapValue(line=value.line, path=value.path, entries={}, key_lines={})
        self.mapping = value
        self._known = known
        self._problems = problems

    def __contains__(self, key: str) -> bool:
        """Whether ``key`` was written."""
        return key in self.mapping.entries

    def line(self, key: str) -> int:
        """The line of ``key`` if written, else of the mapping."""
        return self.mapping.key_lines.get(key, self.mapping.line)

    def report(self, key: str, why: str) -> None:
        """Record a problem with ``key`` (written or missing)."""
        self._problems.add(self.line(key), child_path(self.mapping.path, key), why)

    def find(self, key: str, parse: Callable[[Value], T]) -> T | None:
        """``key``'s value read by ``parse``; None if not written or not usable."""
        value = self.mapping.entries.get(key)
        if value is None:
            return None
        try:
            return parse(value)
        except AlreadyReportedError:
            return None
        except InvalidValueError as error:
            self._problems.at(error.at or value, error.why)
            return None

    def get(self, key: str, parse: Callable[[Value], T], default: T) -> T:
        """``key``'s value read by ``parse``; ``default`` if not written or not usable."""
        found = self.find(key, parse)
        return default if found is None else found

    def require(self, key: str, parse: Callable[[Value], T], why: str = "") -> T | None:
        """Like `find`, and a problem if ``key`` is missing (``why`` explains what it needs)."""
        if key not in self:
            self.report(key, "missing (required)" + (f": {why}" if why else ""))
        return self.find(key, parse)

    def reject_unknown(self, misplaced: Mapping[str, str] | None = None) -> None:
        """Record every key not among the known ones.

        Args:
            misplaced: keys of another kind of section -> what to say instead of "unknown".
        """
        for key, line in self.mapping.key_lines.items():
            if key in self._known:
                continue
            why = (misplaced or {}).get(key)
            if why is None:
                hint = did_you_mean(key, self._known)
                why = f"unknown key, {hint}" if hint else "unknown key"
            self._problems.add(line, child_path(self.mapping.path, key), why)
