"""Tests for arbwatch.core.odds: conversions, validation, parsing and formatting."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbwatch.core.odds import (
    DEFAULT_MAX_DENOMINATOR,
    OddsFormat,
    american_to_decimal,
    decimal_to_american,
    decimal_to_fractional,
    detect_format,
    format_odds,
    fractional_to_decimal,
    implied_probability,
    parse_odds,
    parse_prices,
    validate_decimal,
)
from arbwatch.errors import ArbwatchError, ImplausibleOddsError, InvalidOddsError

DETERMINISTIC = settings(derandomize=True, max_examples=200, deadline=None, database=None)

NAN = float("nan")
INF = float("inf")

#: Every function that takes one scalar decimal price.
DECIMAL_FUNCTIONS: dict[str, Callable[[Any], object]] = {
    "validate_decimal": validate_decimal,
    "decimal_to_american": decimal_to_american,
    "decimal_to_fractional": decimal_to_fractional,
    "implied_probability": implied_probability,
    "format_odds(decimal)": lambda d: format_odds(d, OddsFormat.DECIMAL),
    "format_odds(american)": lambda d: format_odds(d, OddsFormat.AMERICAN),
    "format_odds(fractional)": lambda d: format_odds(d, OddsFormat.FRACTIONAL),
}

#: Every function that takes one scalar number, with a valid argument for it.
NUMERIC_FUNCTIONS: dict[str, Callable[[Any], object]] = {
    **DECIMAL_FUNCTIONS,
    "american_to_decimal": american_to_decimal,
    "fractional_to_decimal(numerator)": lambda x: fractional_to_decimal(x, 4.0),
    "fractional_to_decimal(denominator)": lambda x: fractional_to_decimal(6.0, x),
}

#: Every function that takes an array of decimal prices.
DECIMAL_ARRAY_FUNCTIONS: dict[str, Callable[[Any], object]] = {
    "validate_decimal": validate_decimal,
    "decimal_to_american": decimal_to_american,
    "decimal_to_fractional": decimal_to_fractional,
}

#: Every function that takes an array of prices in any format.
ARRAY_FUNCTIONS: dict[str, Callable[[Any], object]] = {
    **DECIMAL_ARRAY_FUNCTIONS,
    "american_to_decimal": american_to_decimal,
    "fractional_to_decimal": lambda a: fractional_to_decimal(a, np.ones_like(a)),
}

american_odds = st.one_of(
    st.floats(min_value=-100_000.0, max_value=-100.0, exclude_min=True),
    st.floats(min_value=100.0, max_value=100_000.0),
)
decimal_odds = st.floats(min_value=1.0, max_value=1000.0, exclude_min=True)


def _same_american(actual: float, expected: float) -> bool:
    """American prices agree to 1e-9 relative; +100 and -100 are the same price (evens)."""
    if math.copysign(1.0, actual) != math.copysign(1.0, expected):
        return math.isclose(abs(actual), 100.0, rel_tol=1e-9) and math.isclose(
            abs(expected), 100.0, rel_tol=1e-9
        )
    return math.isclose(actual, expected, rel_tol=1e-9)


# --- American -> decimal -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("american", "decimal"),
    [
        (100.0, 2.0),
        (-100.0, 2.0),
        (-110.0, 21 / 11),
        (150.0, 2.5),
        (-150.0, 5 / 3),
        (200.0, 3.0),
        (-200.0, 1.5),
        (-105.0, 1 + 100 / 105),
        (100_000.0, 1001.0),
        (-100_000.0, 1.001),
    ],
)
def test_american_to_decimal(american: float, decimal: float) -> None:
    result = american_to_decimal(american)
    assert isinstance(result, float)
    assert result == pytest.approx(decimal, rel=1e-12)


def test_plus_and_minus_100_are_both_evens() -> None:
    assert american_to_decimal(100.0) == 2.0
    assert american_to_decimal(-100.0) == 2.0
    assert american_to_decimal(100) == 2.0
    assert american_to_decimal(-100) == 2.0


def test_minus_110_is_1_909() -> None:
    assert american_to_decimal(-110) == pytest.approx(1.9090909090909, rel=1e-12)
    assert american_to_decimal(150) == 2.5
    assert american_to_decimal(-150) == pytest.approx(1.6666666666667, rel=1e-12)


def test_american_to_decimal_accepts_numpy_scalars() -> None:
    value: Any = np.float64(-150.0)
    assert american_to_decimal(value) == pytest.approx(5 / 3, rel=1e-12)
    value = np.int64(150)
    assert american_to_decimal(value) == 2.5


def test_american_to_decimal_array() -> None:
    american = np.array([100.0, -100.0, -110.0, 150.0, -150.0])
    result = american_to_decimal(american)
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, [2.0, 2.0, 21 / 11, 2.5, 5 / 3], rtol=1e-12)


def test_american_to_decimal_keeps_array_shape() -> None:
    american = np.array([[100.0, -110.0], [150.0, -150.0], [-100.0, 300.0]])
    result = american_to_decimal(american)
    assert result.shape == (3, 2)
    np.testing.assert_allclose(result, [[2.0, 21 / 11], [2.5, 5 / 3], [2.0, 4.0]], rtol=1e-12)


def test_american_to_decimal_accepts_an_integer_array() -> None:
    american: Any = np.array([-110, 150], dtype=np.int64)
    np.testing.assert_allclose(american_to_decimal(american), [21 / 11, 2.5], rtol=1e-12)


# --- decimal -> American -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("decimal", "american"),
    [
        (2.0, 100.0),
        (2.5, 150.0),
        (3.0, 200.0),
        (1.5, -200.0),
        (21 / 11, -110.0),
        (5 / 3, -150.0),
        (1.909, -100 / 0.909),
        (2.1, 110.0),
        (1001.0, 100_000.0),
        (1.001, -100_000.0),
    ],
)
def test_decimal_to_american(decimal: float, american: float) -> None:
    result = decimal_to_american(decimal)
    assert isinstance(result, float)
    assert result == pytest.approx(american, rel=1e-9)


def test_evens_is_written_plus_100() -> None:
    assert decimal_to_american(2.0) == 100.0


def test_decimal_to_american_array() -> None:
    decimal = np.array([[2.0, 2.5], [1.5, 21 / 11]])
    result = decimal_to_american(decimal)
    assert isinstance(result, np.ndarray)
    assert result.shape == (2, 2)
    np.testing.assert_allclose(result, [[100.0, 150.0], [-200.0, -110.0]], rtol=1e-12)


@DETERMINISTIC
@given(american_odds)
def test_american_round_trip(american: float) -> None:
    back = decimal_to_american(american_to_decimal(american))
    assert _same_american(back, american), (american, back)


@DETERMINISTIC
@given(decimal_odds)
def test_decimal_round_trip_through_american(decimal: float) -> None:
    back = american_to_decimal(decimal_to_american(decimal))
    assert back == pytest.approx(decimal, rel=1e-9)


@DETERMINISTIC
@given(st.lists(american_odds, min_size=1, max_size=20))
def test_american_array_matches_scalars_and_round_trips(values: list[float]) -> None:
    american = np.array(values)
    decimal = american_to_decimal(american)
    np.testing.assert_array_equal(decimal, [american_to_decimal(v) for v in values])
    back = decimal_to_american(decimal)
    np.testing.assert_array_equal(back, [decimal_to_american(float(d)) for d in decimal])
    for original, returned in zip(values, back.tolist(), strict=True):
        assert _same_american(returned, original), (original, returned)


@DETERMINISTIC
@given(decimal_odds)
def test_american_is_never_inside_minus_100_plus_100(decimal: float) -> None:
    assert abs(decimal_to_american(decimal)) >= 100.0


# --- fractional --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "decimal"),
    [
        (6.0, 4.0, 2.5),
        (11.0, 10.0, 2.1),
        (1.0, 1.0, 2.0),
        (1.0, 2.0, 1.5),
        (10.0, 11.0, 21 / 11),
        (100.0, 30.0, 1 + 10 / 3),
        (1.0, 100.0, 1.01),
    ],
)
def test_fractional_to_decimal(numerator: float, denominator: float, decimal: float) -> None:
    result = fractional_to_decimal(numerator, denominator)
    assert isinstance(result, float)
    assert result == pytest.approx(decimal, rel=1e-12)


def test_fractional_to_decimal_array() -> None:
    numerators = np.array([6.0, 11.0, 1.0])
    denominators = np.array([4.0, 10.0, 2.0])
    result = fractional_to_decimal(numerators, denominators)
    assert isinstance(result, np.ndarray)
    np.testing.assert_allclose(result, [2.5, 2.1, 1.5], rtol=1e-12)


def test_fractional_to_decimal_broadcasts() -> None:
    numerators = np.array([[1.0], [3.0]])
    denominators = np.array([2.0, 4.0])
    result = fractional_to_decimal(numerators, denominators)
    np.testing.assert_allclose(result, [[1.5, 1.25], [2.5, 1.75]], rtol=1e-12)


@pytest.mark.parametrize(
    ("decimal", "fraction"),
    [
        (2.5, (3, 2)),
        (2.1, (11, 10)),
        (1.909, (10, 11)),
        (21 / 11, (10, 11)),
        (2.0, (1, 1)),
        (1.5, (1, 2)),
        (1 + 10 / 3, (10, 3)),
        (1.01, (1, 100)),
        (101.0, (100, 1)),
    ],
)
def test_decimal_to_fractional(decimal: float, fraction: tuple[int, int]) -> None:
    result = decimal_to_fractional(decimal)
    assert result == fraction
    assert all(type(part) is int for part in result)


def test_decimal_to_fractional_never_returns_zero() -> None:
    # A price just above 1.0 would round to 0/1, which is not odds: the smallest step it is.
    assert decimal_to_fractional(1.001) == (1, DEFAULT_MAX_DENOMINATOR)
    assert decimal_to_fractional(1.000001, max_denominator=20) == (1, 20)


def test_decimal_to_fractional_respects_max_denominator() -> None:
    assert decimal_to_fractional(1.909, max_denominator=10) == (9, 10)
    assert decimal_to_fractional(1.909, max_denominator=11) == (10, 11)


def test_decimal_to_fractional_array() -> None:
    decimal = np.array([[2.5, 2.1], [1.909, 2.0]])
    numerators, denominators = decimal_to_fractional(decimal)
    assert numerators.dtype == np.int64
    assert denominators.dtype == np.int64
    np.testing.assert_array_equal(numerators, [[3, 11], [10, 1]])
    np.testing.assert_array_equal(denominators, [[2, 10], [11, 1]])


@DETERMINISTIC
@given(
    st.integers(min_value=1, max_value=1000),
    st.integers(min_value=1, max_value=DEFAULT_MAX_DENOMINATOR),
)
def test_fraction_round_trip(numerator: int, denominator: int) -> None:
    fraction = Fraction(numerator, denominator)
    decimal = fractional_to_decimal(float(numerator), float(denominator))
    assert decimal_to_fractional(decimal) == (fraction.numerator, fraction.denominator)


@DETERMINISTIC
@given(decimal_odds)
def test_decimal_to_fractional_is_the_nearest_fraction(decimal: float) -> None:
    numerator, denominator = decimal_to_fractional(decimal)
    assert numerator >= 1
    assert 1 <= denominator <= DEFAULT_MAX_DENOMINATOR
    assert math.gcd(numerator, denominator) == 1
    if decimal - 1.0 >= 1 / (2 * DEFAULT_MAX_DENOMINATOR):
        # Some multiple of 1/100 is always within 1/200 of the price.
        error = abs(1.0 + numerator / denominator - decimal)
        assert error <= 1 / (2 * DEFAULT_MAX_DENOMINATOR) + 1e-12
    else:
        assert (numerator, denominator) == (1, DEFAULT_MAX_DENOMINATOR)


# --- implied probability -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("decimal", "probability"),
    [(2.0, 0.5), (4.0, 0.25), (1.25, 0.8), (21 / 11, 11 / 21), (1000.0, 0.001)],
)
def test_implied_probability(decimal: float, probability: float) -> None:
    assert implied_probability(decimal) == pytest.approx(probability, rel=1e-12)


@DETERMINISTIC
@given(decimal_odds)
def test_implied_probability_is_a_probability(decimal: float) -> None:
    probability = implied_probability(decimal)
    assert 0.0 < probability < 1.0
    assert probability * decimal == pytest.approx(1.0, rel=1e-12)


# --- invalid scalars ---------------------------------------------------------------------


@pytest.mark.parametrize("american", [0, 0.0, 50, -50.0, 99.0, 99.99, -99.5, -99.999999])
def test_american_between_minus_100_and_100_is_rejected(american: float) -> None:
    with pytest.raises(InvalidOddsError, match=r"<= -100 or >= \+100") as caught:
        american_to_decimal(american)
    assert repr(american) in str(caught.value)


@pytest.mark.parametrize("name", DECIMAL_FUNCTIONS)
@pytest.mark.parametrize("decimal", [1.0, 1, 0.999, 0.5, 0.0, 0, -1.5, -2.0])
def test_decimal_at_or_below_one_is_rejected(name: str, decimal: float) -> None:
    with pytest.raises(InvalidOddsError, match=r"greater than 1\.0") as caught:
        DECIMAL_FUNCTIONS[name](decimal)
    assert repr(decimal) in str(caught.value)


@pytest.mark.parametrize("name", NUMERIC_FUNCTIONS)
@pytest.mark.parametrize("value", [NAN, INF, -INF, np.float64("nan")])
def test_non_finite_numbers_are_rejected(name: str, value: float) -> None:
    with pytest.raises(InvalidOddsError, match="finite number"):
        NUMERIC_FUNCTIONS[name](value)


@pytest.mark.parametrize("name", NUMERIC_FUNCTIONS)
@pytest.mark.parametrize("value", ["abc", "2.10", "+110", ""])
def test_text_is_rejected_by_the_numeric_functions(name: str, value: str) -> None:
    with pytest.raises(InvalidOddsError, match="must be a number") as caught:
        NUMERIC_FUNCTIONS[name](value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize("name", NUMERIC_FUNCTIONS)
@pytest.mark.parametrize("value", [True, False, np.True_, None, [2.0]])
def test_bools_and_other_non_numbers_are_rejected(name: str, value: object) -> None:
    # True == 1 and False == 0 as numbers, but a bool is never a price.
    with pytest.raises(InvalidOddsError, match="must be a number"):
        NUMERIC_FUNCTIONS[name](value)


@pytest.mark.parametrize(
    ("numerator", "denominator"),
    [(0.0, 1.0), (1.0, 0.0), (0.0, 0.0), (-6.0, 4.0), (6.0, -4.0), (-6.0, -4.0)],
)
def test_fraction_parts_must_be_positive(numerator: float, denominator: float) -> None:
    with pytest.raises(InvalidOddsError, match=r"a > 0 and b > 0"):
        fractional_to_decimal(numerator, denominator)


def test_invalid_odds_error_is_an_arbwatch_value_error() -> None:
    with pytest.raises(InvalidOddsError) as caught:
        american_to_decimal(0.0)
    assert isinstance(caught.value, ArbwatchError)
    assert isinstance(caught.value, ValueError)


# --- invalid arrays ----------------------------------------------------------------------


def test_american_array_with_one_bad_element_names_its_index() -> None:
    with pytest.raises(InvalidOddsError, match=r"<= -100 or >= \+100") as caught:
        american_to_decimal(np.array([-110.0, 50.0, 150.0]))
    message = str(caught.value)
    assert "index 1" in message
    assert "50.0" in message
    assert "invalid values in all" not in message


def test_american_array_with_several_bad_elements_names_the_first_and_the_count() -> None:
    with pytest.raises(InvalidOddsError, match=r"<= -100 or >= \+100") as caught:
        american_to_decimal(np.array([-110.0, 0.0, 150.0, -99.5, 50.0]))
    message = str(caught.value)
    assert "index 1" in message
    assert "(3 invalid values in all)" in message


def test_bad_element_of_a_2d_array_is_named_by_row_and_column() -> None:
    with pytest.raises(InvalidOddsError) as caught:
        american_to_decimal(np.array([[-110.0, 150.0], [200.0, 10.0]]))
    assert "index (1, 1)" in str(caught.value)


@pytest.mark.parametrize("name", DECIMAL_ARRAY_FUNCTIONS)
def test_decimal_array_with_one_bad_element_names_its_index(name: str) -> None:
    with pytest.raises(InvalidOddsError, match=r"greater than 1\.0") as caught:
        DECIMAL_ARRAY_FUNCTIONS[name](np.array([2.0, 1.5, 1.0, 3.0]))
    message = str(caught.value)
    assert "index 2" in message
    assert "invalid values in all" not in message


@pytest.mark.parametrize("name", DECIMAL_ARRAY_FUNCTIONS)
def test_decimal_array_with_several_bad_elements_counts_them(name: str) -> None:
    with pytest.raises(InvalidOddsError, match=r"greater than 1\.0") as caught:
        DECIMAL_ARRAY_FUNCTIONS[name](np.array([2.0, 0.5, 1.5, -3.0, 0.0]))
    message = str(caught.value)
    assert "index 1" in message
    assert "(3 invalid values in all)" in message


@pytest.mark.parametrize("name", ARRAY_FUNCTIONS)
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_array_with_a_non_finite_element_names_its_index(name: str, bad: float) -> None:
    values = np.array([200.0, 300.0, bad, 400.0])
    with pytest.raises(InvalidOddsError, match="finite numbers") as caught:
        ARRAY_FUNCTIONS[name](values)
    assert "index 2" in str(caught.value)


@pytest.mark.parametrize("name", ARRAY_FUNCTIONS)
def test_array_with_several_non_finite_elements_counts_them(name: str) -> None:
    values = np.array([NAN, 300.0, INF, 400.0])
    with pytest.raises(InvalidOddsError, match="finite numbers") as caught:
        ARRAY_FUNCTIONS[name](values)
    message = str(caught.value)
    assert "index 0" in message
    assert "(2 invalid values in all)" in message


@pytest.mark.parametrize("name", ARRAY_FUNCTIONS)
@pytest.mark.parametrize(
    "values",
    [np.array(["2.0", "abc"]), np.array([True, False]), np.array([2.0, None], dtype=object)],
    ids=["text", "bool", "object"],
)
def test_array_of_non_numbers_is_rejected(name: str, values: Any) -> None:
    with pytest.raises(InvalidOddsError, match="must be numbers"):
        ARRAY_FUNCTIONS[name](values)


def test_fractional_array_names_the_bad_part() -> None:
    with pytest.raises(InvalidOddsError, match=r"a, b > 0") as caught:
        fractional_to_decimal(np.array([6.0, 1.0, 11.0]), np.array([4.0, 0.0, 10.0]))
    assert "index 1" in str(caught.value)
    with pytest.raises(InvalidOddsError, match=r"a, b > 0") as caught:
        fractional_to_decimal(np.array([6.0, -1.0, 0.0]), np.array([4.0, 2.0, 10.0]))
    assert "index 1" in str(caught.value)
    assert "(2 invalid values in all)" in str(caught.value)


# --- parse_odds --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decimal"),
    [
        ("+110", 2.1),
        ("-105", 1 + 100 / 105),
        ("+100", 2.0),
        ("-100", 2.0),
        ("-110", 21 / 11),
        ("+150", 2.5),
        ("2.10", 2.1),
        ("1.909", 1.909),
        ("110.0", 110.0),  # unsigned with a point: decimal
        ("99", 99.0),  # a bare whole number below 100 cannot be American: decimal
        ("1001.0", 1001.0),  # the longest decimal price a bookmaker offers
        ("11/10", 2.1),
        ("6/4", 2.5),
        ("100/30", 1 + 10 / 3),
        ("evens", 2.0),
        ("Evens", 2.0),
        ("EVS", 2.0),
        ("even", 2.0),
        ("ev", 2.0),
        (" +110 ", 2.1),
        ("\t2.10\n", 2.1),
        ("  11/10  ", 2.1),
        ("11 / 10", 2.1),
        ("  evens ", 2.0),
    ],
)
def test_parse_odds_detects_the_format(text: str, decimal: float) -> None:
    assert parse_odds(text) == pytest.approx(decimal, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "odds_format"),
    [
        ("+110", OddsFormat.AMERICAN),
        ("-105", OddsFormat.AMERICAN),
        (" -100 ", OddsFormat.AMERICAN),
        ("2.10", OddsFormat.DECIMAL),
        ("110", OddsFormat.DECIMAL),  # read as decimal, and then refused by parse_odds
        ("11/10", OddsFormat.FRACTIONAL),
        ("evens", OddsFormat.FRACTIONAL),
        (" EVS ", OddsFormat.FRACTIONAL),
    ],
)
def test_detect_format(text: str, odds_format: OddsFormat) -> None:
    assert detect_format(text) is odds_format


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_detect_format_rejects_empty_text(text: str) -> None:
    with pytest.raises(InvalidOddsError, match="empty"):
        detect_format(text)


@pytest.mark.parametrize(
    ("text", "odds_format", "decimal"),
    [
        ("110", OddsFormat.AMERICAN, 2.1),
        ("+110", OddsFormat.AMERICAN, 2.1),
        ("-105", OddsFormat.AMERICAN, 1 + 100 / 105),
        (" 150 ", OddsFormat.AMERICAN, 2.5),
        ("100", OddsFormat.AMERICAN, 2.0),
        ("2.10", OddsFormat.DECIMAL, 2.1),
        (" 2.5 ", OddsFormat.DECIMAL, 2.5),
        ("11/10", OddsFormat.FRACTIONAL, 2.1),
        ("evens", OddsFormat.FRACTIONAL, 2.0),
    ],
)
def test_parse_odds_with_an_explicit_format(
    text: str, odds_format: OddsFormat, decimal: float
) -> None:
    assert parse_odds(text, odds_format) == pytest.approx(decimal, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("abc", "cannot read 'abc'"),
        ("1/0", r"a > 0 and b > 0"),
        ("0/1", r"a > 0 and b > 0"),
        ("-11/10", r"a > 0 and b > 0"),
        ("-50", r"<= -100 or >= \+100"),
        ("+99", r"<= -100 or >= \+100"),
        ("+2.10", r"<= -100 or >= \+100"),
        ("0.9", r"greater than 1\.0"),
        ("1.0", r"greater than 1\.0"),
        ("nan", "finite"),
        ("inf", "finite"),
        ("-inf", "finite"),
        ("11/", "cannot read '11/'"),
        ("/10", "cannot read '/10'"),
        ("1/2/3", "cannot read '1/2/3'"),
        ("--110", "cannot read '--110'"),
        ("2,10", "cannot read '2,10'"),
    ],
)
def test_parse_odds_rejects_garbage(text: str, problem: str) -> None:
    with pytest.raises(InvalidOddsError, match=problem):
        parse_odds(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("110", r"110 looks like American odds; write \+110 \(or 110\.0"),
        ("100", r"write \+100"),
        (" 5000 ", r"5000 looks like American odds"),
        ("1001.5", r"decimal odds of 1001\.5 are beyond any bookmaker's \(the longest is 1001"),
        ("5000.0", r"; for American odds write \+5000$"),
        ("1e308", r"the longest is 1001\.00\)$"),
        ("+1e9", r"American odds of \+1e9 are beyond any bookmaker's \(the longest is \+100000\)"),
        ("2000/1", r"fractional odds of 2000/1 are beyond any bookmaker's \(the longest is 1000/1"),
    ],
)
def test_parse_odds_refuses_odds_that_are_surely_not_what_they_seem(
    text: str, problem: str
) -> None:
    with pytest.raises(ImplausibleOddsError, match=problem):
        parse_odds(text)


def test_a_format_given_takes_a_bare_whole_number_as_written() -> None:
    assert parse_odds("110", OddsFormat.DECIMAL) == 110.0
    with pytest.raises(ImplausibleOddsError, match="beyond any bookmaker's"):
        parse_odds("5000", OddsFormat.DECIMAL)


@pytest.mark.parametrize(
    ("texts", "odds_format", "prices", "shown"),
    [
        (["+110", "-105"], None, (2.1, 1 + 100 / 105), OddsFormat.AMERICAN),
        (["evens", "-110"], None, (2.0, 21 / 11), OddsFormat.AMERICAN),
        (["evens", "11/10"], None, (2.0, 2.1), OddsFormat.FRACTIONAL),
        (["evens", "evens"], None, (2.0, 2.0), OddsFormat.FRACTIONAL),
        (["2.1", "1.9"], None, (2.1, 1.9), OddsFormat.DECIMAL),
        (["110", "105"], OddsFormat.AMERICAN, (2.1, 2.05), OddsFormat.AMERICAN),
    ],
)
def test_parse_prices_reads_one_format_and_says_which(
    texts: list[str], odds_format: OddsFormat | None, prices: tuple[float, ...], shown: OddsFormat
) -> None:
    parsed, found = parse_prices(texts, odds_format)
    assert parsed == pytest.approx(prices, rel=1e-12)
    assert found is shown


@pytest.mark.parametrize(
    ("texts", "problem"),
    [
        (["2.1", "-105"], r"different formats \(2\.1 is decimal, -105 is American\)"),
        (["11/10", "2.0", "+150"], "11/10 is fractional, 2.0 is decimal, \\+150 is American"),
        # A single price's own problem comes first: it says more.
        (["110", "-105"], "110 looks like American odds"),
    ],
)
def test_parse_prices_refuses_mixed_formats(texts: list[str], problem: str) -> None:
    with pytest.raises(ImplausibleOddsError, match=problem):
        parse_prices(texts)


@pytest.mark.parametrize(
    ("text", "odds_format", "problem"),
    [
        ("2.10", OddsFormat.AMERICAN, r"<= -100 or >= \+100"),
        ("evens", OddsFormat.AMERICAN, "cannot read"),
        ("11/10", OddsFormat.DECIMAL, "cannot read"),
        ("evens", OddsFormat.DECIMAL, "cannot read"),
        ("2.10", OddsFormat.FRACTIONAL, "look like 11/10"),
        ("nan", OddsFormat.DECIMAL, "finite"),
        ("", OddsFormat.DECIMAL, "empty|cannot read ''"),
        ("  ", OddsFormat.AMERICAN, "empty|cannot read '  '"),
        ("", OddsFormat.FRACTIONAL, "empty|look like 11/10"),
    ],
)
def test_parse_odds_rejects_text_that_does_not_fit_the_format(
    text: str, odds_format: OddsFormat, problem: str
) -> None:
    with pytest.raises(InvalidOddsError, match=problem):
        parse_odds(text, odds_format)


@DETERMINISTIC
@given(
    st.one_of(
        st.integers(min_value=-100_000, max_value=-101),
        st.integers(min_value=100, max_value=100_000),
    )
)
def test_american_text_round_trips(american: int) -> None:
    text = f"{american:+d}"
    assert format_odds(parse_odds(text), OddsFormat.AMERICAN) == text


@DETERMINISTIC
@given(
    st.integers(min_value=1, max_value=1000),
    st.integers(min_value=1, max_value=DEFAULT_MAX_DENOMINATOR),
)
def test_fractional_text_round_trips(numerator: int, denominator: int) -> None:
    fraction = Fraction(numerator, denominator)
    text = f"{fraction.numerator}/{fraction.denominator}"
    assert format_odds(parse_odds(text), OddsFormat.FRACTIONAL) == text


@DETERMINISTIC
@given(st.integers(min_value=101, max_value=100_000))
def test_two_decimal_text_round_trips(cents: int) -> None:
    text = f"{cents // 100}.{cents % 100:02d}"
    assert format_odds(parse_odds(text), OddsFormat.DECIMAL) == text


@DETERMINISTIC
@given(st.floats(min_value=1.001, max_value=1000.0), st.sampled_from(list(OddsFormat)))
def test_formatted_odds_parse_back_to_about_the_same_price(
    decimal: float, odds_format: OddsFormat
) -> None:
    text = format_odds(decimal, odds_format)
    parsed = parse_odds(text, odds_format)
    # Each format rounds: American to a whole number, fractions to 1/100, decimal to 0.01.
    assert parsed == pytest.approx(decimal, rel=0.01, abs=0.01)


# --- format_odds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decimal", "text"),
    [
        (2.1, "2.10"),
        (2.0, "2.00"),
        (1.909, "1.909"),
        (21 / 11, "1.909"),
        (10.5, "10.50"),
        (1.01, "1.01"),
        (101.0, "101.00"),
        (1.9999, "2.00"),
    ],
)
def test_format_decimal(decimal: float, text: str) -> None:
    assert format_odds(decimal, OddsFormat.DECIMAL) == text


@pytest.mark.parametrize(
    ("decimal", "text"),
    [
        (2.0, "+100"),
        (2.1, "+110"),
        (2.5, "+150"),
        (3.0, "+200"),
        (1.5, "-200"),
        (21 / 11, "-110"),
        (1.909, "-110"),
        (1.99, "-101"),
        (1.01, "-10000"),
        (1001.0, "+100000"),
        # Just under evens: American rounds to -100, which must be written +100.
        (1.999, "+100"),
        (1.9999, "+100"),
        (1.996, "+100"),
        (2.004, "+100"),
    ],
)
def test_format_american(decimal: float, text: str) -> None:
    assert format_odds(decimal, OddsFormat.AMERICAN) == text


@DETERMINISTIC
@given(st.floats(min_value=1.99, max_value=2.01))
def test_format_american_never_writes_minus_100(decimal: float) -> None:
    text = format_odds(decimal, OddsFormat.AMERICAN)
    assert text != "-100"
    assert re.fullmatch(r"[+-]\d+", text)
    assert abs(int(text)) >= 100


@DETERMINISTIC
@given(decimal_odds)
def test_format_american_is_always_a_valid_american_price(decimal: float) -> None:
    text = format_odds(decimal, OddsFormat.AMERICAN)
    assert re.fullmatch(r"[+-]\d+", text)
    assert text != "-100"
    assert abs(int(text)) >= 100


@pytest.mark.parametrize(
    ("decimal", "text"),
    [
        (2.5, "3/2"),
        (2.1, "11/10"),
        (1.909, "10/11"),
        (2.0, "1/1"),
        (1.5, "1/2"),
        (1.001, "1/100"),
        (101.0, "100/1"),
    ],
)
def test_format_fractional(decimal: float, text: str) -> None:
    assert format_odds(decimal, OddsFormat.FRACTIONAL) == text


def test_odds_format_values() -> None:
    assert [f.value for f in OddsFormat] == ["decimal", "american", "fractional"]
