"""Odds formats: decimal, American and fractional, both ways, for scalars and numpy arrays.

Decimal odds are the engine's one internal format: the total return per unit staked.

    American +A  ->  1 + A/100        (+150 -> 2.50)
    American -A  ->  1 + 100/A        (-150 -> 1.6667)
    Fractional a/b -> 1 + a/b         (6/4  -> 2.50)
    Implied probability = 1 / decimal

+100 and -100 are both evens (2.0). American values strictly between -100 and +100 do not
exist, and decimal odds must exceed 1.0 (a winning bet returns more than the stake).
Every invalid value raises `InvalidOddsError` with a message a bettor can act on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum
from fractions import Fraction
from typing import Final, overload

import numpy as np
import numpy.typing as npt

from arbwatch.errors import ImplausibleOddsError, InvalidOddsError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Fractional odds are shown with a denominator no larger than this (13/8, 100/30 style).
DEFAULT_MAX_DENOMINATOR: Final = 100
#: Odds that win more than this per unit staked (decimal 10,000,001, American +1e+09) are
#: written in scientific notation (``1e+10``, ``+1e+12``, ``1e+10/1``): nobody bets them,
#: and a whole number would spell out hundreds of digits (or, past float's range, fail to
#: round). They reach an alert only from a feed without price bounds.
_SCIENTIFIC_GAIN: Final = 1e7

_EVENS_WORDS: Final = frozenset({"evens", "evs", "even", "ev"})
#: The longest decimal odds written odds are taken to be: bookmakers stop at 1001
#: (American +100000, 1000/1). Text above it is a mistake, not a price (``5000`` for +5000).
MAX_WRITTEN_DECIMAL: Final = 1001.0
#: A bare whole number from this up is read as American odds missing its sign (``110``
#: beside ``-105``), never as decimal: a bettor who means decimal 150 writes ``150.0``.
_BARE_AMERICAN_FROM: Final = 100.0


class OddsFormat(StrEnum):
    """How odds are written: the engine always works in decimal."""

    DECIMAL = "decimal"
    AMERICAN = "american"
    FRACTIONAL = "fractional"


#: Each format as a sentence names it.
_FORMAT_NAMES: Final = {
    OddsFormat.DECIMAL: "decimal",
    OddsFormat.AMERICAN: "American",
    OddsFormat.FRACTIONAL: "fractional",
}


def _require_real(value: object, what: str) -> float:
    """Return ``value`` as a finite float, or raise a clear error for text, bools, NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidOddsError(f"{what} odds must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidOddsError(f"{what} odds must be a finite number, got {value!r}")
    return number


def _as_float_array(values: npt.ArrayLike, what: str) -> FloatArray:
    """Convert ``values`` to a float64 array, refusing text and non-finite entries."""
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        raise InvalidOddsError(f"{what} odds must be numbers, got an array of {array.dtype}")
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        _raise_first_bad(array, bad, f"{what} odds must be finite numbers")
    return array


def _raise_first_bad(array: FloatArray, bad: npt.NDArray[np.bool_], why: str) -> None:
    """Raise an error naming the first offending element and how many there are."""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    where = index[0] if len(index) == 1 else index
    count = int(bad.sum())
    more = f" ({count} invalid values in all)" if count > 1 else ""
    raise InvalidOddsError(f"{why}; got {float(array[index])!r} at index {where}{more}")


# --- decimal ---------------------------------------------------------------------------


@overload
def validate_decimal(decimal: float) -> float: ...
@overload
def validate_decimal(decimal: FloatArray) -> FloatArray: ...
def validate_decimal(decimal: float | FloatArray) -> float | FloatArray:
    """Return decimal odds unchanged if every value exceeds 1.0, else raise."""
    if isinstance(decimal, np.ndarray):
        array = _as_float_array(decimal, "decimal")
        bad = array <= 1.0
        if bad.any():
            _raise_first_bad(array, bad, "decimal odds must be greater than 1.0")
        return array
    number = _require_real(decimal, "decimal")
    if number <= 1.0:
        raise InvalidOddsError(
            f"decimal odds must be greater than 1.0 (a win returns more than the stake), "
            f"got {decimal!r}"
        )
    return number


# --- American --------------------------------------------------------------------------


@overload
def american_to_decimal(american: float) -> float: ...
@overload
def american_to_decimal(american: FloatArray) -> FloatArray: ...
def american_to_decimal(american: float | FloatArray) -> float | FloatArray:
    """Convert American odds to decimal: +A -> 1 + A/100, -A -> 1 + 100/A."""
    if isinstance(american, np.ndarray):
        array = _as_float_array(american, "American")
        bad = np.abs(array) < 100.0
        if bad.any():
            _raise_first_bad(array, bad, "American odds must be <= -100 or >= +100")
        # Both branches are evaluated by np.where; neither divides by zero since |A| >= 100.
        return np.where(array > 0, 1.0 + array / 100.0, 1.0 + 100.0 / np.abs(array))
    number = _require_real(american, "American")
    if abs(number) < 100.0:
        raise InvalidOddsError(
            f"American odds must be <= -100 or >= +100 (values in between do not exist), "
            f"got {american!r}"
        )
    return 1.0 + number / 100.0 if number > 0 else 1.0 + 100.0 / -number


@overload
def decimal_to_american(decimal: float) -> float: ...
@overload
def decimal_to_american(decimal: FloatArray) -> FloatArray: ...
def decimal_to_american(decimal: float | FloatArray) -> float | FloatArray:
    """Convert decimal odds to American: >= 2.0 -> +(d-1)*100, below -> -100/(d-1).

    Evens (2.0) is written +100, the usual convention.
    """
    if isinstance(decimal, np.ndarray):
        array = validate_decimal(decimal)
        gains = array - 1.0  # > 0 after validation, so the division below is safe
        # Above about 1.8e306 the American figure is past float's range: +inf is its value.
        with np.errstate(over="ignore"):
            return np.where(array >= 2.0, gains * 100.0, -100.0 / gains)
    number = validate_decimal(decimal)
    gain = number - 1.0
    return gain * 100.0 if number >= 2.0 else -100.0 / gain


# --- fractional ------------------------------------------------------------------------


@overload
def fractional_to_decimal(numerator: float, denominator: float) -> float: ...
@overload
def fractional_to_decimal(numerator: FloatArray, denominator: FloatArray) -> FloatArray: ...
def fractional_to_decimal(
    numerator: float | FloatArray, denominator: float | FloatArray
) -> float | FloatArray:
    """Convert fractional odds a/b (win a for every b staked) to decimal: 1 + a/b."""
    if isinstance(numerator, np.ndarray) or isinstance(denominator, np.ndarray):
        top = _as_float_array(numerator, "fractional")
        bottom = _as_float_array(denominator, "fractional")
        top, bottom = np.broadcast_arrays(top, bottom)
        bad = (top <= 0.0) | (bottom <= 0.0)
        if bad.any():
            _raise_first_bad(
                np.where(top <= 0.0, top, bottom), bad, "fractional odds need a/b with a, b > 0"
            )
        return 1.0 + top / bottom
    top_number = _require_real(numerator, "fractional")
    bottom_number = _require_real(denominator, "fractional")
    if top_number <= 0.0 or bottom_number <= 0.0:
        raise InvalidOddsError(
            f"fractional odds need a/b with a > 0 and b > 0, got {numerator!r}/{denominator!r}"
        )
    return 1.0 + top_number / bottom_number


@overload
def decimal_to_fractional(
    decimal: float, max_denominator: int = DEFAULT_MAX_DENOMINATOR
) -> tuple[int, int]: ...
@overload
def decimal_to_fractional(
    decimal: FloatArray, max_denominator: int = DEFAULT_MAX_DENOMINATOR
) -> tuple[IntArray, IntArray]: ...
def decimal_to_fractional(
    decimal: float | FloatArray, max_denominator: int = DEFAULT_MAX_DENOMINATOR
) -> tuple[int, int] | tuple[IntArray, IntArray]:
    """Convert decimal odds to the nearest fraction a/b with b <= ``max_denominator``.

    Fractions are exact only where the price allows: 1.909 becomes 10/11. Returns
    ``(numerator, denominator)``, as two integer arrays for an array input.
    """
    if isinstance(decimal, np.ndarray):
        array = validate_decimal(decimal)
        pairs = [_nearest_fraction(float(d), max_denominator) for d in array.ravel()]
        numerators = np.array([p[0] for p in pairs], dtype=np.int64).reshape(array.shape)
        denominators = np.array([p[1] for p in pairs], dtype=np.int64).reshape(array.shape)
        return numerators, denominators
    return _nearest_fraction(validate_decimal(decimal), max_denominator)


def _nearest_fraction(decimal: float, max_denominator: int) -> tuple[int, int]:
    """Return the nearest fraction to ``decimal - 1`` with a bounded denominator."""
    fraction = Fraction(decimal - 1.0).limit_denominator(max_denominator)
    if fraction.numerator == 0:
        # A price just above 1.0 would round to 0/1, which is not odds: use the smallest step.
        return 1, max_denominator
    return fraction.numerator, fraction.denominator


# --- text ------------------------------------------------------------------------------


def implied_probability(decimal: float) -> float:
    """Return the bookmaker's implied probability of decimal odds: 1 / decimal."""
    return 1.0 / validate_decimal(decimal)


def detect_format(text: str) -> OddsFormat:
    """Tell the format of odds text: fractional, American or decimal.

    ``11/10`` and ``evens`` are fractional, a leading sign (``+110``, ``-105``) is American,
    and anything else is decimal.
    """
    cleaned = text.strip()
    if not cleaned:
        raise InvalidOddsError("odds are empty")
    if "/" in cleaned or cleaned.lower() in _EVENS_WORDS:
        return OddsFormat.FRACTIONAL
    if cleaned[0] in "+-":
        return OddsFormat.AMERICAN
    return OddsFormat.DECIMAL


def parse_odds(text: str, odds_format: OddsFormat | None = None) -> float:
    """Parse odds written as text and return them as decimal odds.

    Without ``odds_format`` the format is read from the text: a fraction (``11/10``) or
    ``evens`` is fractional, a leading sign (``+110``, ``-105``) is American, and a bare
    number (``2.10``) is decimal. American odds therefore need their sign unless the
    format is given, and a bare whole number of 100 or more is refused with that advice
    (``110``: write ``+110``, or ``110.0`` for decimal). Decimal odds above
    `MAX_WRITTEN_DECIMAL` are refused as a mistake.
    """
    cleaned = text.strip()
    lowered = cleaned.lower()
    forced = odds_format is not None
    if odds_format is None:
        odds_format = detect_format(cleaned)
    # == rather than `is`: a StrEnum equals its plain string, which callers may pass.
    if odds_format == OddsFormat.FRACTIONAL:
        if lowered in _EVENS_WORDS:
            return 2.0
        top, slash, bottom = cleaned.partition("/")
        if not slash:
            raise InvalidOddsError(f"fractional odds look like 11/10, got {text!r}")
        decimal = fractional_to_decimal(_number(top, text), _number(bottom, text))
        return _within_reason(decimal, cleaned, odds_format)
    number = _number(cleaned, text)
    if odds_format == OddsFormat.AMERICAN:
        return _within_reason(american_to_decimal(number), cleaned, odds_format)
    if not forced and number >= _BARE_AMERICAN_FROM and cleaned.isdigit():
        raise ImplausibleOddsError(
            f"{cleaned} looks like American odds; write +{cleaned} "
            f"(or {cleaned}.0 if you mean decimal odds)"
        )
    return _within_reason(validate_decimal(number), cleaned, odds_format)


def _within_reason(decimal: float, written: str, odds_format: OddsFormat) -> float:
    """``decimal`` if no longer than `MAX_WRITTEN_DECIMAL`, else refuse what was written."""
    if decimal <= MAX_WRITTEN_DECIMAL:
        return decimal
    longest = format_odds(MAX_WRITTEN_DECIMAL, odds_format)
    why = (
        f"{_FORMAT_NAMES[odds_format]} odds of {written} are beyond any bookmaker's "
        f"(the longest is {longest})"
    )
    # 5000.0 was perhaps meant as +5000: said when that is itself a price there can be.
    if odds_format is OddsFormat.DECIMAL and decimal <= (MAX_WRITTEN_DECIMAL - 1.0) * 100.0:
        why += f"; for American odds write {decimal:+g}"
    raise ImplausibleOddsError(why)


def parse_prices(
    texts: Sequence[str], odds_format: OddsFormat | None = None
) -> tuple[tuple[float, ...], OddsFormat]:
    """Parse prices that go together (one per outcome) and the format to show them in.

    Without ``odds_format`` every price must be written in one format: ``2.10`` beside
    ``-105`` is refused, since one of them is almost surely not what it seems. ``evens``
    goes with any format.

    Returns:
        The decimal prices, and ``odds_format`` or the format they were written in.
    """
    if odds_format is not None:
        return tuple(parse_odds(text, odds_format) for text in texts), odds_format
    # Each price first: "110 looks like American odds" says more than "different formats".
    prices = tuple(parse_odds(text) for text in texts)
    formats = {
        text.strip(): detect_format(text)
        for text in texts
        if text.strip().lower() not in _EVENS_WORDS
    }
    found = set(formats.values())
    if len(found) > 1:
        described = ", ".join(f"{text} is {_FORMAT_NAMES[kind]}" for text, kind in formats.items())
        raise ImplausibleOddsError(
            f"the prices are in different formats ({described}): write them all in one format"
        )
    return prices, found.pop() if found else OddsFormat.FRACTIONAL


def _number(part: str, text: str) -> float:
    """Read one number out of odds text, naming the whole text if it is not a number."""
    try:
        number = float(part)
    except ValueError:
        raise InvalidOddsError(
            f"cannot read {text!r} as odds: write decimal (2.10), American (+110, -105) "
            f"or fractional (11/10)"
        ) from None
    if not math.isfinite(number):
        raise InvalidOddsError(f"odds must be a finite number, got {text!r}")
    return number


def format_odds(decimal: float, odds_format: OddsFormat) -> str:
    """Write decimal odds for a bettor: ``2.10``, ``+110`` / ``-105``, or ``11/10``.

    Total over valid odds: any finite decimal above 1.0, up to float's largest, is written
    (absurd ones in scientific notation); anything else raises `InvalidOddsError`.
    """
    number = validate_decimal(decimal)
    gain = number - 1.0
    if gain >= _SCIENTIFIC_GAIN:
        # gain * 100 is +inf past about 1.8e306, written "+inf": still a string, not a crash.
        scientific = {
            OddsFormat.AMERICAN: f"{gain * 100.0:+.4g}",
            OddsFormat.FRACTIONAL: f"{gain:.4g}/1",
        }
        return scientific.get(odds_format, f"{number:.4g}")
    if odds_format == OddsFormat.AMERICAN:
        american = decimal_to_american(decimal)
        # Rounding can land a price just under 2.0 on -100, which is the same as +100.
        rounded = round(american)
        return "+100" if abs(rounded) == 100 else f"{rounded:+d}"
    if odds_format == OddsFormat.FRACTIONAL:
        numerator, denominator = decimal_to_fractional(decimal)
        return f"{numerator}/{denominator}"
    # Two decimals is the bookmakers' convention; a third is kept when it says something
    # (1.909), and a price just above 1.0 keeps four so that it never reads "1.00".
    if number < 1.001:
        return f"{number:.4f}"
    text = f"{number:.3f}"
    return text[:-1] if text.endswith("0") else text
