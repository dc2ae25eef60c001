"""Tests for arbwatch.core.devig: every method, every status, vectorization and oracles."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import shin
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from arbwatch.core.devig import (
    BASE_METHODS,
    BOOKSUM_ROUNDING,
    DevigMethod,
    DevigResult,
    DevigStatus,
    fair_probabilities,
)
from arbwatch.errors import ArbwatchError, InvalidMarketError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DETERMINISTIC = settings(derandomize=True, max_examples=200, deadline=None, database=None)
BATCH = settings(derandomize=True, max_examples=2, deadline=None, database=None)

NAN = float("nan")
INF = float("inf")
ORACLE_TOLERANCE = 1e-9

#: Methods with a fitted parameter, and the ones without.
PARAMETRIC = (DevigMethod.POWER, DevigMethod.SHIN, DevigMethod.ODDS_RATIO)
NON_PARAMETRIC = (DevigMethod.MULTIPLICATIVE, DevigMethod.ADDITIVE, DevigMethod.WORST_CASE)

EVEN = [1.90, 1.90]
LOPSIDED = [1.25, 4.0]
THREE_WAY = [2.50, 3.40, 2.90]
UNDERROUND = [2.10, 2.10]
#: Additive devig takes (Π - 1)/3 = 0.0147 from each outcome, more than the 0.01 of 100.0.
LONG_SHOT = [1.10, 8.0, 100.0]


# --- independent expected values: plain Python, no arbwatch --------------------------------


def _implied(odds: Sequence[float]) -> list[float]:
    return [1.0 / o for o in odds]


def _bisect(function: Callable[[float], float], low: float, high: float) -> float:
    """Root of a function that changes sign on [low, high], to machine precision."""
    f_low = function(low)
    assert (f_low < 0) != (function(high) < 0), "root not bracketed"
    for _ in range(200):
        middle = (low + high) / 2
        if middle in (low, high):
            break
        f_middle = function(middle)
        if (f_middle < 0) == (f_low < 0):
            low, f_low = middle, f_middle
        else:
            high = middle
    return (low + high) / 2


def _expected_multiplicative(odds: Sequence[float]) -> list[float]:
    implied = _implied(odds)
    return [p / sum(implied) for p in implied]


def _expected_additive(odds: Sequence[float]) -> list[float]:
    implied = _implied(odds)
    share = (sum(implied) - 1.0) / len(implied)
    return [p - share for p in implied]


def _power_k(odds: Sequence[float]) -> float:
    implied = _implied(odds)
    return _bisect(lambda k: sum(p**k for p in implied) - 1.0, 1e-3, 100.0)


def _expected_power(odds: Sequence[float]) -> list[float]:
    k = _power_k(odds)
    return [p**k for p in _implied(odds)]


def _shin_probabilities(z: float, implied: Sequence[float]) -> list[float]:
    booksum = sum(implied)
    return [(math.sqrt(z * z + 4 * (1 - z) * p * p / booksum) - z) / (2 * (1 - z)) for p in implied]


def _shin_z(odds: Sequence[float]) -> float:
    implied = _implied(odds)
    # Σp(0) = sqrt(Π) > 1 on an over-round book and Σp(z) -> Σπ²/Π < 1 as z -> 1.
    return _bisect(lambda z: sum(_shin_probabilities(z, implied)) - 1.0, 0.0, 0.99)


def _expected_shin(odds: Sequence[float]) -> list[float]:
    return _shin_probabilities(_shin_z(odds), _implied(odds))


def _odds_ratio_c(odds: Sequence[float]) -> float:
    implied = _implied(odds)
    return _bisect(lambda c: sum(p / (c + p - c * p) for p in implied) - 1.0, 1e-3, 1e3)


def _expected_odds_ratio(odds: Sequence[float]) -> list[float]:
    c = _odds_ratio_c(odds)
    return [p / (c + p - c * p) for p in _implied(odds)]


EXPECTED: dict[DevigMethod, Callable[[Sequence[float]], list[float]]] = {
    DevigMethod.MULTIPLICATIVE: _expected_multiplicative,
    DevigMethod.ADDITIVE: _expected_additive,
    DevigMethod.POWER: _expected_power,
    DevigMethod.SHIN: _expected_shin,
    DevigMethod.ODDS_RATIO: _expected_odds_ratio,
}


def _expected_worst_case(odds: Sequence[float], methods: Sequence[DevigMethod]) -> list[float]:
    rows = [EXPECTED[method](odds) for method in methods]
    return [min(column) for column in zip(*rows, strict=True)]


def _expected(odds: Sequence[float], method: DevigMethod) -> list[float]:
    if method is DevigMethod.WORST_CASE:
        return _expected_worst_case(odds, BASE_METHODS)
    return EXPECTED[method](odds)


@contextmanager
def _no_numpy_warnings() -> Iterator[None]:
    """Fail on any numpy floating-point problem or warning, whatever pytest is set to."""
    with (
        np.errstate(divide="raise", invalid="raise", over="raise"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("error")
        yield


def _devig(
    odds: Any,
    method: DevigMethod,
    outcomes: Any = None,
    **options: int,
) -> DevigResult:
    with _no_numpy_warnings():
        return fair_probabilities(odds, method, outcomes, **options)


def _devig_quietly(odds: Any, method: DevigMethod, outcomes: Any = None) -> DevigResult:
    """Devig with numpy warnings silenced, to check results apart from warnings."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fair_probabilities(odds, method, outcomes)


def _booksum(odds: Sequence[float]) -> float:
    return sum(_implied(odds))


# --- strategies --------------------------------------------------------------------------


@st.composite
def markets(draw: st.DrawFn, sizes: Sequence[int] = (2, 3)) -> list[float]:
    """A 2- or 3-outcome market: Dirichlet(1, ..., 1) probabilities plus a 0-20% margin.

    The probabilities are normalised exponential variates (-log u); every price lies in
    (1.01, 200].
    """
    size = draw(st.sampled_from(sizes))
    weights = [-math.log(draw(st.floats(min_value=1e-3, max_value=0.99))) for _ in range(size)]
    margin = draw(st.floats(min_value=0.0, max_value=0.2))
    total = sum(weights)
    odds = [total / (weight * (1.0 + margin)) for weight in weights]
    assume(all(1.01 < price <= 200.0 for price in odds))
    return odds


def _random_batch(seed: int, size: int = 500) -> tuple[FloatArray, IntArray]:
    """``size`` random 2- and 3-outcome markets, padded with NaN to 3 columns.

    Margins run from -3% (a few under-round books, so the statuses mix) to +20%.
    """
    rng = np.random.default_rng(seed)
    rows: list[FloatArray] = []
    counts: list[int] = []
    while len(rows) < size:
        count = int(rng.choice([2, 3]))
        probabilities = rng.dirichlet(np.ones(count))
        margin = rng.uniform(-0.03, 0.2)
        odds = 1.0 / (probabilities * (1.0 + margin))
        if np.all((odds > 1.01) & (odds <= 200.0)):
            rows.append(np.concatenate([odds, np.full(3 - count, np.nan)]))
            counts.append(count)
    return np.array(rows), np.array(counts, dtype=np.int64)


def _shin_reference(odds: Sequence[float]) -> tuple[list[float], float] | None:
    """The shin package's probabilities and z, or None where its iteration has not settled.

    For three or more outcomes the package runs the classical fixed-point iteration, which
    crawls on low-margin books; where it stops short (its step still above its 1e-12
    threshold, or its probabilities not summing to one) it is no oracle.
    """
    details = shin.calculate_implied_probabilities(
        list(odds), max_iterations=100_000, full_output=True
    )
    probabilities = details.implied_probabilities
    if details.delta > 1e-12 or abs(sum(probabilities) - 1.0) > 1e-12:
        return None
    return probabilities, details.z


@pytest.fixture(scope="module")
def penaltyblog_implied() -> Any:
    return pytest.importorskip(
        "penaltyblog.implied", reason="penaltyblog oracle not installed: pip install -e '.[oracle]'"
    )


def _penaltyblog(implied_module: Any, odds: Sequence[float], method: DevigMethod) -> Any:
    """penaltyblog's probabilities, or None where its root bracket fails (ValueError)."""
    try:
        return implied_module.calculate_implied(list(odds), method=method.value).probabilities
    except ValueError:
        return None


# --- known values ------------------------------------------------------------------------


def test_independent_helpers_agree_with_textbook_values() -> None:
    # Guards the helpers themselves: closed forms for a two-way market.
    implied = _implied(LOPSIDED)
    assert _shin_z(LOPSIDED) == pytest.approx(
        (sum(implied) - 1)
        * ((implied[0] - implied[1]) ** 2 - sum(implied))
        / (sum(implied) * ((implied[0] - implied[1]) ** 2 - 1)),
        rel=1e-12,
    )
    odds_ratios = [p / (1 - p) for p in implied]
    assert _odds_ratio_c(LOPSIDED) == pytest.approx(math.sqrt(odds_ratios[0] * odds_ratios[1]))


@pytest.mark.parametrize("method", list(DevigMethod))
def test_even_market_is_50_50(method: DevigMethod) -> None:
    result = _devig(EVEN, method)
    assert result.status.tolist() == [DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities, [[0.5, 0.5]], rtol=1e-12)


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (DevigMethod.MULTIPLICATIVE, [0.8 / 1.05, 0.25 / 1.05]),
        (DevigMethod.ADDITIVE, [0.775, 0.225]),
        # For two outcomes Shin's probabilities coincide with the additive ones.
        (DevigMethod.SHIN, [0.775, 0.225]),
        # Odds ratio, two outcomes: c = sqrt(o1 o2) with o = π/(1-π) = 4 and 1/3.
        (
            DevigMethod.ODDS_RATIO,
            [
                (4 / math.sqrt(4 / 3)) / (1 + 4 / math.sqrt(4 / 3)),
                (1 / 3 / math.sqrt(4 / 3)) / (1 + 1 / 3 / math.sqrt(4 / 3)),
            ],
        ),
        (DevigMethod.POWER, _expected_power(LOPSIDED)),
        (DevigMethod.WORST_CASE, [0.8 / 1.05, _expected_power(LOPSIDED)[1]]),
    ],
)
def test_lopsided_two_way_known_values(method: DevigMethod, expected: list[float]) -> None:
    result = _devig(LOPSIDED, method)
    assert result.status.tolist() == [DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities[0], expected, rtol=1e-10)


def test_lopsided_power_k_solves_the_equation() -> None:
    k = _devig(LOPSIDED, DevigMethod.POWER).parameter[0]
    assert 0.8**k + 0.25**k == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("method", list(DevigMethod))
def test_three_way_known_values(method: DevigMethod) -> None:
    result = _devig(THREE_WAY, method)
    assert result.status.tolist() == [DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities[0], _expected(THREE_WAY, method), rtol=1e-9)


@pytest.mark.parametrize("method", list(DevigMethod))
def test_fair_book_is_left_alone(method: DevigMethod) -> None:
    # 1/2 + 1/4 + 1/4 is exactly 1: no margin to remove.
    result = _devig([2.0, 4.0, 4.0], method)
    assert result.status.tolist() == [DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities, [[0.5, 0.25, 0.25]], rtol=1e-12)


@pytest.mark.parametrize(
    ("method", "value"),
    [(DevigMethod.POWER, 1.0), (DevigMethod.SHIN, 0.0), (DevigMethod.ODDS_RATIO, 1.0)],
)
def test_fair_book_parameter_is_neutral(method: DevigMethod, value: float) -> None:
    result = _devig([[2.0, 2.0, NAN], [2.0, 4.0, 4.0]], method, outcomes=[2, 3])
    np.testing.assert_allclose(result.parameter, [value, value], atol=1e-12)


# --- sums, parameters --------------------------------------------------------------------


MARKETS = [EVEN, LOPSIDED, THREE_WAY, [1.5, 2.8], [1.01, 30.0], [2.8, 3.2, 2.6], [1.3, 6.0, 9.5]]


@pytest.mark.parametrize("method", list(DevigMethod))
@pytest.mark.parametrize("odds", MARKETS, ids=str)
def test_probabilities_sum_to_one(method: DevigMethod, odds: list[float]) -> None:
    result = _devig(odds, method)
    assert result.status.tolist() == [DevigStatus.OK]
    total = result.probabilities.sum()
    if method is DevigMethod.WORST_CASE:
        # The per-outcome minimum of distributions that each sum to one.
        assert total <= 1.0 + 1e-12
    else:
        assert total == pytest.approx(1.0, abs=1e-12)
    assert np.all(result.probabilities > 0.0)
    assert np.all(result.probabilities < 1.0)


@pytest.mark.parametrize("odds", MARKETS[1:], ids=str)
def test_fitted_parameters_on_an_overround_market(odds: list[float]) -> None:
    assert _booksum(odds) > 1.0
    k = _devig(odds, DevigMethod.POWER).parameter[0]
    z = _devig(odds, DevigMethod.SHIN).parameter[0]
    c = _devig(odds, DevigMethod.ODDS_RATIO).parameter[0]
    assert k > 1.0
    assert 0.0 <= z < 1.0
    assert c > 1.0
    assert k == pytest.approx(_power_k(odds), rel=1e-9)
    assert z == pytest.approx(_shin_z(odds), rel=1e-9)
    assert c == pytest.approx(_odds_ratio_c(odds), rel=1e-9)


def test_fitted_parameters_on_an_underround_market() -> None:
    assert _devig(UNDERROUND, DevigMethod.POWER).parameter[0] < 1.0
    assert _devig(UNDERROUND, DevigMethod.ODDS_RATIO).parameter[0] < 1.0


@pytest.mark.parametrize("method", NON_PARAMETRIC)
def test_methods_without_a_parameter_report_nan(method: DevigMethod) -> None:
    result = _devig([LOPSIDED, EVEN], method)
    assert np.isnan(result.parameter).all()
    assert result.parameter.shape == (2,)


@pytest.mark.parametrize("method", list(DevigMethod))
def test_result_shapes_and_dtypes(method: DevigMethod) -> None:
    odds = np.array([[1.9, 1.9, NAN], [2.5, 3.4, 2.9], [1.25, 4.0, NAN], [2.1, 2.1, NAN]])
    result = _devig(odds, method, outcomes=[2, 3, 2, 2])
    assert result.probabilities.shape == (4, 3)
    assert result.probabilities.dtype == np.float64
    assert result.status.shape == (4,)
    assert result.status.dtype == np.int8
    assert result.parameter.shape == (4,)
    np.testing.assert_array_equal(result.ok, result.status == DevigStatus.OK)


@pytest.mark.parametrize("method", list(DevigMethod))
def test_input_is_not_modified(method: DevigMethod) -> None:
    odds = np.array([[1.9, 1.9, NAN], [2.5, 3.4, 2.9], [1.25, 1.0, 7.0]])
    original = odds.copy()
    _devig_quietly(odds, method, outcomes=[2, 3, 3])
    np.testing.assert_array_equal(odds, original)


def test_every_status_has_a_description() -> None:
    for status in DevigStatus:
        assert status.description
    assert "100%" in DevigStatus.UNDERROUND.description


# --- mixed outcome counts ----------------------------------------------------------------


@pytest.mark.parametrize("method", list(DevigMethod))
def test_mixed_two_and_three_outcome_rows(method: DevigMethod) -> None:
    odds = np.array(
        [
            [1.90, 1.90, NAN],
            [2.50, 3.40, 2.90],
            [1.25, 4.00, 7.00],  # a two-way row: the 7.00 in its padding slot is ignored
            [2.80, 3.20, 2.60],
            [1.50, 2.80, 0.00],  # padding may hold anything, even an invalid price
        ]
    )
    counts = [2, 3, 2, 3, 2]
    result = _devig(odds, method, outcomes=counts)
    assert result.status.tolist() == [DevigStatus.OK] * 5
    for row, count in enumerate(counts):
        np.testing.assert_allclose(
            result.probabilities[row, :count],
            _expected(list(odds[row, :count]), method),
            rtol=1e-9,
        )
        assert np.isnan(result.probabilities[row, count:]).all()


@pytest.mark.parametrize("method", list(DevigMethod))
def test_mixed_rows_match_the_unpadded_markets(method: DevigMethod) -> None:
    odds = np.array([[1.25, 4.0, 9.0], [2.5, 3.4, 2.9]])
    result = _devig(odds, method, outcomes=np.array([2, 3]))
    two_way = _devig(odds[0, :2], method)
    three_way = _devig(odds[1], method)
    np.testing.assert_allclose(result.probabilities[0, :2], two_way.probabilities[0], rtol=1e-12)
    np.testing.assert_allclose(result.probabilities[1], three_way.probabilities[0], rtol=1e-12)
    np.testing.assert_allclose(
        result.parameter, [two_way.parameter[0], three_way.parameter[0]], rtol=1e-12
    )


def test_scalar_outcome_count_applies_to_every_row() -> None:
    odds = np.array([[1.9, 1.9, 5.0], [1.25, 4.0, NAN]])
    result = _devig(odds, DevigMethod.MULTIPLICATIVE, outcomes=2)
    np.testing.assert_allclose(result.probabilities[:, :2], [[0.5, 0.5], [0.8 / 1.05, 0.25 / 1.05]])
    assert np.isnan(result.probabilities[:, 2]).all()


# --- invalid rows ------------------------------------------------------------------------


INVALID_ROWS: list[tuple[str, list[float], int]] = [
    ("missing price", [1.9, NAN, 3.0], 3),
    ("all missing", [NAN, NAN, NAN], 3),
    ("price of exactly 1.0", [1.9, 1.0, 3.0], 3),
    ("price below 1.0", [0.5, 1.9, 3.0], 3),
    ("zero price", [1.9, 0.0, 3.0], 3),
    ("negative price", [1.9, 3.0, -2.0], 3),
    ("negative infinity", [1.9, -INF, 3.0], 3),
    ("infinite price", [1.9, INF, 3.0], 3),
    ("missing price in a two-way row", [1.9, NAN, 3.0], 2),
    ("one outcome", [1.9, 2.0, 3.0], 1),
    ("no outcomes", [1.9, 2.0, 3.0], 0),
]


INVALID_ROW_IDS = [name for name, _, _ in INVALID_ROWS]
INVALID_ROW_CASES = [(row, count) for _, row, count in INVALID_ROWS]


@pytest.mark.parametrize("method", list(DevigMethod))
@pytest.mark.parametrize(("row", "count"), INVALID_ROW_CASES, ids=INVALID_ROW_IDS)
def test_invalid_row_is_flagged_and_nan(method: DevigMethod, row: list[float], count: int) -> None:
    # Warnings are checked on their own below; this test is about the numbers.
    odds = np.array([[2.5, 3.4, 2.9], row, [1.25, 4.0, NAN]])
    result = _devig_quietly(odds, method, outcomes=[3, count, 2])
    assert result.status.tolist() == [
        DevigStatus.OK,
        DevigStatus.INVALID_INPUT,
        DevigStatus.OK,
    ]
    assert np.isnan(result.probabilities[1]).all()
    assert np.isnan(result.parameter[1])
    # The neighbours are untouched by the bad row.
    np.testing.assert_allclose(result.probabilities[0], _expected(THREE_WAY, method), rtol=1e-9)
    np.testing.assert_allclose(result.probabilities[2, :2], _expected(LOPSIDED, method), rtol=1e-9)


@pytest.mark.parametrize("method", list(DevigMethod))
@pytest.mark.parametrize(("row", "count"), INVALID_ROW_CASES, ids=INVALID_ROW_IDS)
def test_invalid_row_raises_no_numpy_warning(
    method: DevigMethod, row: list[float], count: int
) -> None:
    # Bad input must be set aside, not computed on: no divide-by-zero, log(0) or 0/0 warning.
    # (Whether the row is flagged is the test above; this one fails only on a warning.)
    odds = np.array([[2.5, 3.4, 2.9], row, [1.25, 4.0, NAN]])
    result = _devig(odds, method, outcomes=[3, count, 2])
    assert result.probabilities.shape == (3, 3)


@pytest.mark.parametrize("method", list(DevigMethod))
def test_single_invalid_market(method: DevigMethod) -> None:
    result = _devig([1.9, NAN], method)
    assert result.status.tolist() == [DevigStatus.INVALID_INPUT]
    assert not result.ok.any()
    assert np.isnan(result.probabilities).all()


# --- additive: negative probabilities ----------------------------------------------------


def test_long_shot_row_really_goes_negative_under_additive() -> None:
    # The premise of the tests below, checked by hand: π_3 - (Π - 1)/3 < 0.
    implied = _implied(LONG_SHOT)
    assert implied[2] - (sum(implied) - 1) / 3 < 0


def test_additive_flags_a_long_shot_pushed_below_zero() -> None:
    result = _devig(LONG_SHOT, DevigMethod.ADDITIVE)
    assert result.status.tolist() == [DevigStatus.NEGATIVE_PROBABILITY]
    assert np.isnan(result.probabilities).all()


@pytest.mark.parametrize(
    "method",
    [DevigMethod.MULTIPLICATIVE, DevigMethod.POWER, DevigMethod.SHIN, DevigMethod.ODDS_RATIO],
)
def test_other_methods_still_price_the_long_shot_row(method: DevigMethod) -> None:
    result = _devig(LONG_SHOT, method)
    assert result.status.tolist() == [DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities[0], EXPECTED[method](LONG_SHOT), rtol=1e-9)


def test_worst_case_on_the_long_shot_row_uses_the_other_methods() -> None:
    result = _devig(LONG_SHOT, DevigMethod.WORST_CASE)
    assert result.status.tolist() == [DevigStatus.OK]
    others = [m for m in BASE_METHODS if m is not DevigMethod.ADDITIVE]
    np.testing.assert_allclose(
        result.probabilities[0], _expected_worst_case(LONG_SHOT, others), rtol=1e-9
    )
    assert np.all(result.probabilities > 0.0)


@pytest.mark.parametrize("odds", [[1.05, 15.0, 40.0], [1.02, 30.0], [1.01, 60.0]], ids=str)
def test_additive_keeps_a_long_shot_that_stays_positive(odds: list[float]) -> None:
    # Heavy favourites whose long shots keep more than their (Π - 1)/n share: still OK.
    expected = _expected_additive(odds)
    assert min(expected) > 0.0
    result = _devig(odds, DevigMethod.ADDITIVE)
    assert result.status.tolist() == [DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities[0], expected, rtol=1e-12)


def test_additive_negative_row_does_not_spoil_its_neighbours() -> None:
    odds = np.array([LONG_SHOT, THREE_WAY])
    result = _devig(odds, DevigMethod.ADDITIVE)
    assert result.status.tolist() == [DevigStatus.NEGATIVE_PROBABILITY, DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities[1], _expected_additive(THREE_WAY), rtol=1e-12)


# --- Shin: under-round and convergence ---------------------------------------------------


@pytest.mark.parametrize("odds", [UNDERROUND, [3.2, 3.2, 3.2], [1.5, 3.5]], ids=str)
def test_shin_refuses_an_underround_book(odds: list[float]) -> None:
    assert _booksum(odds) < 1.0
    result = _devig(odds, DevigMethod.SHIN)
    assert result.status.tolist() == [DevigStatus.UNDERROUND]
    assert np.isnan(result.probabilities).all()
    assert np.isnan(result.parameter).all()


@pytest.mark.parametrize(
    "method",
    [DevigMethod.MULTIPLICATIVE, DevigMethod.POWER, DevigMethod.ODDS_RATIO, DevigMethod.ADDITIVE],
)
@pytest.mark.parametrize("odds", [UNDERROUND, [3.2, 3.2, 3.2], [1.5, 3.5]], ids=str)
def test_other_methods_work_on_an_underround_book(method: DevigMethod, odds: list[float]) -> None:
    result = _devig(odds, method)
    assert result.status.tolist() == [DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities[0], EXPECTED[method](odds), rtol=1e-9)
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-12)


def test_worst_case_on_an_underround_book_leaves_shin_out() -> None:
    odds = [1.5, 3.5]
    result = _devig(odds, DevigMethod.WORST_CASE)
    assert result.status.tolist() == [DevigStatus.OK]
    others = [m for m in BASE_METHODS if m is not DevigMethod.SHIN]
    np.testing.assert_allclose(result.probabilities[0], _expected_worst_case(odds, others))


def test_shin_with_one_iteration_does_not_converge_on_three_outcomes() -> None:
    result = _devig(THREE_WAY, DevigMethod.SHIN, shin_max_iterations=1)
    assert result.status.tolist() == [DevigStatus.NOT_CONVERGED]
    assert np.isnan(result.probabilities).all()
    assert np.isnan(result.parameter).all()
    # The same market converges with the default budget.
    assert _devig(THREE_WAY, DevigMethod.SHIN).status.tolist() == [DevigStatus.OK]


def test_worst_case_drops_an_unconverged_shin() -> None:
    result = _devig(THREE_WAY, DevigMethod.WORST_CASE, shin_max_iterations=1)
    assert result.status.tolist() == [DevigStatus.OK]
    others = [m for m in BASE_METHODS if m is not DevigMethod.SHIN]
    np.testing.assert_allclose(
        result.probabilities[0], _expected_worst_case(THREE_WAY, others), rtol=1e-9
    )


#: Ordinary 1X2 prices with a 2.4-3.2% margin, the range of a sharp bookmaker; the last is
#: three equal prices of 32/11 (a 3.125% margin), where every method must give 1/3 each.
SHARP_THREE_WAY = [
    [2.50, 3.30, 3.10],
    [2.00, 3.40, 4.35],
    [1.75, 3.80, 5.15],
    [2.909090909090909] * 3,
]


@pytest.mark.parametrize("odds", SHARP_THREE_WAY, ids=str)
def test_shin_converges_on_a_low_margin_three_way_market(odds: list[float]) -> None:
    assert 1.02 < _booksum(odds) < 1.035
    reference = _shin_reference(odds)
    assert reference is not None  # the shin package settles on these in under 1000 steps
    result = _devig(odds, DevigMethod.SHIN)
    assert result.status.tolist() == [DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities[0], _expected_shin(odds), atol=1e-9)
    np.testing.assert_allclose(result.probabilities[0], reference[0], atol=ORACLE_TOLERANCE)
    assert result.parameter[0] == pytest.approx(_shin_z(odds), abs=1e-9)


#: Fair books, priced straight from probabilities (20/71/9% and 31/59/10%), whose float
#: booksum comes out one ulp above 1: the model applies, with z = 0.
FAIR_THREE_WAY = [[100 / 20, 100 / 71, 100 / 9], [100 / 31, 100 / 59, 100 / 10]]


@pytest.mark.parametrize("odds", FAIR_THREE_WAY, ids=str)
def test_shin_on_a_fair_three_way_book_gives_its_implied_probabilities(
    odds: list[float],
) -> None:
    assert _booksum(odds) >= 1.0
    assert float(np.sum(1.0 / np.array(odds))) >= 1.0
    result = _devig(odds, DevigMethod.SHIN)
    assert result.status.tolist() == [DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities[0], _implied(odds), atol=1e-12)
    assert result.parameter[0] == pytest.approx(0.0, abs=1e-12)


#: Lopsided two-way markets: a heavy favourite against a long shot. Newton's method on the
#: odds ratio stalled on the first (100 steps without settling); the closed form does not.
EXTREME_TWO_WAY = [[1.0001779768405752, 16.5976673928166], [1.001, 400.0], [1.5, 2.2]]


@pytest.mark.parametrize("odds", EXTREME_TWO_WAY, ids=str)
def test_two_way_odds_ratio_is_exact_on_lopsided_markets(odds: list[float]) -> None:
    result = _devig(odds, DevigMethod.ODDS_RATIO)
    assert result.status.tolist() == [DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities[0], _expected_odds_ratio(odds), atol=1e-12)
    # In odds terms each fair price is the implied one divided by c, both sides alike.
    c = float(result.parameter[0])
    for share, fair in zip(_implied(odds), result.probabilities[0], strict=True):
        assert fair / (1.0 - fair) == pytest.approx(share / (1.0 - share) / c, rel=1e-12)


@pytest.mark.parametrize("odds", EXTREME_TWO_WAY, ids=str)
def test_power_on_lopsided_markets_beside_a_three_way_row(odds: list[float]) -> None:
    """π^k is exp(k·log π), with a stand-in log for padding: padding must stay out of it."""
    batch = np.array([[*odds, NAN], THREE_WAY])
    result = _devig(batch, DevigMethod.POWER, [2, 3])
    assert result.status.tolist() == [DevigStatus.OK, DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities[0, :2], _expected_power(odds), atol=1e-12)
    assert math.isnan(result.probabilities[0, 2])
    np.testing.assert_allclose(result.probabilities[1], _expected_power(THREE_WAY), atol=1e-12)


# --- worst case --------------------------------------------------------------------------


def test_worst_case_is_the_minimum_of_the_valid_base_methods() -> None:
    odds = np.array(
        [
            [1.90, 1.90, NAN],
            [1.25, 4.00, NAN],
            [2.50, 3.40, 2.90],
            LONG_SHOT,  # additive fails
            [2.10, 2.10, NAN],  # Shin fails
            [1.30, 6.00, 9.50],
        ]
    )
    counts = [2, 2, 3, 3, 2, 3]
    worst = _devig(odds, DevigMethod.WORST_CASE, outcomes=counts)
    base = [_devig(odds, method, outcomes=counts) for method in BASE_METHODS]
    assert worst.ok.all()
    for row, count in enumerate(counts):
        valid = [r.probabilities[row, :count] for r in base if r.ok[row]]
        assert len(valid) >= 4
        np.testing.assert_array_equal(worst.probabilities[row, :count], np.min(valid, axis=0))
        assert np.isnan(worst.probabilities[row, count:]).all()


# --- vectorization and shapes ------------------------------------------------------------


@pytest.mark.parametrize("method", list(DevigMethod))
def test_stacked_rows_equal_row_by_row(method: DevigMethod) -> None:
    odds = np.array(
        [
            [1.90, 1.90, 9.0],
            [2.50, 3.40, 2.90],
            [1.25, 4.00, 30.0],
            LONG_SHOT,
            [3.20, 3.20, 3.20],
            [1.30, 6.00, 9.50],
            [2.00, 4.00, 4.00],
        ]
    )
    stacked = _devig(odds, method)
    for row in range(len(odds)):
        alone = _devig(odds[row], method)
        assert stacked.status[row] == alone.status[0]
        np.testing.assert_allclose(
            stacked.probabilities[row], alone.probabilities[0], rtol=1e-12, atol=1e-14
        )
        np.testing.assert_allclose(stacked.parameter[row], alone.parameter[0], rtol=1e-12)


@pytest.mark.parametrize("method", list(DevigMethod))
def test_one_dimensional_input_is_one_market(method: DevigMethod) -> None:
    one = _devig(np.array(THREE_WAY), method)
    two_d = _devig(np.array([THREE_WAY]), method)
    assert one.probabilities.shape == (1, 3)
    assert one.status.shape == (1,)
    np.testing.assert_array_equal(one.probabilities, two_d.probabilities)
    np.testing.assert_array_equal(one.status, two_d.status)


def test_lists_are_accepted() -> None:
    result = _devig([[1.9, 1.9], [1.25, 4.0]], DevigMethod.MULTIPLICATIVE)
    np.testing.assert_allclose(result.probabilities, [[0.5, 0.5], [0.8 / 1.05, 0.25 / 1.05]])


@pytest.mark.parametrize("method", list(DevigMethod))
def test_empty_batch(method: DevigMethod) -> None:
    result = _devig(np.empty((0, 3)), method)
    assert result.probabilities.shape == (0, 3)
    assert result.status.shape == (0,)
    assert result.parameter.shape == (0,)


@pytest.mark.parametrize(
    ("odds", "outcomes"),
    [
        (2.0, None),
        ([2.0], None),
        ([[2.0], [3.0]], None),
        (np.empty((2, 0)), None),
        (np.full((2, 2, 2), 2.0), None),
        ([[1.9, 1.9], [2.0, 2.0]], [2, 3]),
        ([[1.9, 1.9], [2.0, 2.0]], [-1, 2]),
        ([[1.9, 1.9, 1.9], [2.0, 2.0, 2.0], [3.0, 3.0, 3.0]], [2, 3]),
        ([[1.9, 1.9, 1.9], [2.0, 2.0, 2.0]], [[2, 3], [2, 3]]),
        ([[1.9, 1.9], [2.5, 3.4, 2.9]], None),
    ],
    ids=[
        "scalar",
        "one price",
        "one column",
        "no columns",
        "three dimensions",
        "count above width",
        "negative count",
        "too few counts",
        "counts not one per row",
        "ragged rows",
    ],
)
def test_bad_shapes_raise_invalid_market_error(odds: Any, outcomes: Any) -> None:
    with pytest.raises(InvalidMarketError) as caught:
        fair_probabilities(odds, DevigMethod.MULTIPLICATIVE, outcomes)
    assert isinstance(caught.value, ArbwatchError)


# --- property tests: internal consistency ------------------------------------------------


@pytest.mark.parametrize("method", list(DevigMethod))
@DETERMINISTIC
@given(odds=markets())
def test_property_probabilities_form_a_distribution(method: DevigMethod, odds: list[float]) -> None:
    result = _devig(odds, method)
    status = DevigStatus(int(result.status[0]))
    # Only additive (a long shot below zero) and Shin (under-round, no convergence) may refuse.
    if method not in (DevigMethod.ADDITIVE, DevigMethod.SHIN):
        assert status is DevigStatus.OK
    if status is not DevigStatus.OK:
        assert np.isnan(result.probabilities).all()
        return
    probabilities = result.probabilities[0]
    assert np.all(probabilities > 0.0)
    assert np.all(probabilities < 1.0)
    if method is DevigMethod.WORST_CASE:
        assert probabilities.sum() <= 1.0 + 1e-12
    else:
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-9)
    # Devigging never reorders the outcomes: the favourite stays the favourite.
    order = np.argsort(odds, kind="stable")
    assert np.all(np.diff(probabilities[order]) <= 1e-12)


@DETERMINISTIC
@given(odds=markets())
def test_property_additive_fails_exactly_when_a_long_shot_goes_negative(
    odds: list[float],
) -> None:
    expected = _expected_additive(odds)
    result = _devig(odds, DevigMethod.ADDITIVE)
    if min(expected) <= 0.0:
        assert result.status.tolist() == [DevigStatus.NEGATIVE_PROBABILITY]
        assert np.isnan(result.probabilities).all()
    else:
        assert result.status.tolist() == [DevigStatus.OK]
        np.testing.assert_allclose(result.probabilities[0], expected, rtol=1e-12, atol=1e-15)


@DETERMINISTIC
@given(odds=markets(sizes=(2,)))
def test_property_two_way_additive_never_goes_negative(odds: list[float]) -> None:
    # p_2 = (1 + π_2 - π_1)/2 > 0 because π_1 < 1: only three or more outcomes can fail.
    assert _devig(odds, DevigMethod.ADDITIVE).status.tolist() == [DevigStatus.OK]


@DETERMINISTIC
@given(odds=markets(sizes=(2,)))
def test_property_two_way_shin_equals_additive(odds: list[float]) -> None:
    shin_result = _devig(odds, DevigMethod.SHIN)
    if _booksum(odds) < 1.0 - BOOKSUM_ROUNDING:
        assert shin_result.status.tolist() == [DevigStatus.UNDERROUND]
        return
    additive = _devig(odds, DevigMethod.ADDITIVE)
    np.testing.assert_allclose(shin_result.probabilities, additive.probabilities, atol=1e-12)


@pytest.mark.parametrize("method", PARAMETRIC)
@DETERMINISTIC
@given(odds=markets())
def test_property_parameter_reproduces_the_probabilities(
    method: DevigMethod, odds: list[float]
) -> None:
    result = _devig(odds, method)
    if not result.ok[0]:
        return
    parameter = float(result.parameter[0])
    implied = _implied(odds)
    if method is DevigMethod.POWER:
        expected = [p**parameter for p in implied]
        overround_side = parameter >= 1.0 - 1e-12
    elif method is DevigMethod.SHIN:
        expected = _shin_probabilities(parameter, implied)
        overround_side = 0.0 <= parameter < 1.0
    else:
        expected = [p / (parameter + p - parameter * p) for p in implied]
        overround_side = parameter >= 1.0 - 1e-12
    np.testing.assert_allclose(result.probabilities[0], expected, rtol=1e-12)
    if _booksum(odds) >= 1.0:
        assert overround_side


@DETERMINISTIC
@given(odds=markets())
def test_property_worst_case_is_the_minimum_of_the_base_methods(odds: list[float]) -> None:
    worst = _devig(odds, DevigMethod.WORST_CASE)
    valid = [r.probabilities[0] for m in BASE_METHODS if (r := _devig(odds, m)).ok[0]]
    assert worst.ok[0]
    np.testing.assert_array_equal(worst.probabilities[0], np.min(valid, axis=0))


@DETERMINISTIC
@given(odds=markets())
def test_property_shin_status(odds: list[float]) -> None:
    result = _devig(odds, DevigMethod.SHIN)
    if _booksum(odds) < 1.0 - BOOKSUM_ROUNDING:
        assert result.status.tolist() == [DevigStatus.UNDERROUND]
    elif len(odds) == 2:
        assert result.status.tolist() == [DevigStatus.OK]
    else:
        assert result.status[0] in (DevigStatus.OK, DevigStatus.NOT_CONVERGED)


# --- property tests: the shin package ----------------------------------------------------


@DETERMINISTIC
@given(odds=markets())
def test_property_shin_matches_the_shin_package(odds: list[float]) -> None:
    result = _devig(odds, DevigMethod.SHIN)
    if not result.ok[0] or _booksum(odds) <= 1.0:
        return
    reference = _shin_reference(odds)
    if reference is None:
        return
    np.testing.assert_allclose(result.probabilities[0], reference[0], atol=ORACLE_TOLERANCE)
    assert result.parameter[0] == pytest.approx(reference[1], abs=ORACLE_TOLERANCE)


@DETERMINISTIC
@given(odds=markets(sizes=(3,)))
def test_property_shin_converges_wherever_the_shin_package_does(odds: list[float]) -> None:
    if _booksum(odds) <= 1.0:
        return
    reference = _shin_reference(odds)
    if reference is None:  # the reference has no answer either
        return
    result = _devig(odds, DevigMethod.SHIN)
    assert result.status.tolist() == [DevigStatus.OK]
    np.testing.assert_allclose(result.probabilities[0], reference[0], atol=ORACLE_TOLERANCE)


@BATCH
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_property_batch_matches_row_by_row_and_the_shin_package(seed: int) -> None:
    odds, counts = _random_batch(seed)
    batches = {method: _devig(odds, method, outcomes=counts) for method in DevigMethod}
    worst = batches[DevigMethod.WORST_CASE]
    assert worst.ok.all()
    compared = 0
    for row, count in enumerate(counts):
        market = [float(price) for price in odds[row, :count]]
        valid = []
        for method in BASE_METHODS:
            batch, alone = batches[method], _devig(market, method)
            assert batch.status[row] == alone.status[0], (market, method)
            np.testing.assert_allclose(
                batch.probabilities[row, :count], alone.probabilities[0], rtol=1e-12, atol=1e-13
            )
            assert np.isnan(batch.probabilities[row, count:]).all()
            if alone.ok[0]:
                valid.append(alone.probabilities[0])
        np.testing.assert_allclose(
            worst.probabilities[row, :count], np.min(valid, axis=0), rtol=1e-12, atol=1e-13
        )
        shin_batch = batches[DevigMethod.SHIN]
        if shin_batch.ok[row] and _booksum(market) > 1.0:
            reference = _shin_reference(market)
            if reference is not None:
                np.testing.assert_allclose(
                    shin_batch.probabilities[row, :count], reference[0], atol=ORACLE_TOLERANCE
                )
                compared += 1
    assert compared > len(counts) // 2


# --- property tests: penaltyblog oracle --------------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("method", BASE_METHODS)
@DETERMINISTIC
@given(odds=markets())
def test_property_matches_penaltyblog(
    penaltyblog_implied: Any, method: DevigMethod, odds: list[float]
) -> None:
    result = _devig(odds, method)
    if not result.ok[0]:
        return
    reference = _penaltyblog(penaltyblog_implied, odds, method)
    if reference is None:
        return
    np.testing.assert_allclose(result.probabilities[0], reference, atol=ORACLE_TOLERANCE)


@pytest.mark.oracle
@pytest.mark.parametrize("method", BASE_METHODS)
def test_known_markets_match_penaltyblog(penaltyblog_implied: Any, method: DevigMethod) -> None:
    for odds in [*MARKETS, LONG_SHOT, UNDERROUND]:
        result = _devig(odds, method)
        reference = _penaltyblog(penaltyblog_implied, odds, method)
        if method is DevigMethod.SHIN and _booksum(odds) < 1.0:
            assert reference is None  # penaltyblog's bracket fails where our status says so
            continue
        assert reference is not None
        if result.ok[0]:
            np.testing.assert_allclose(result.probabilities[0], reference, atol=ORACLE_TOLERANCE)
        else:
            # Only additive may refuse here, and penaltyblog's answer shows why.
            assert method is DevigMethod.ADDITIVE
            assert min(reference) <= 0.0


@pytest.mark.oracle
@settings(derandomize=True, max_examples=2, deadline=None, database=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_property_batch_matches_penaltyblog(penaltyblog_implied: Any, seed: int) -> None:
    odds, counts = _random_batch(seed)
    for method in BASE_METHODS:
        batch = _devig(odds, method, outcomes=counts)
        compared = 0
        for row, count in enumerate(counts):
            if not batch.ok[row]:
                continue
            market = [float(price) for price in odds[row, :count]]
            reference = _penaltyblog(penaltyblog_implied, market, method)
            if reference is None:
                continue
            np.testing.assert_allclose(
                batch.probabilities[row, :count], reference, atol=ORACLE_TOLERANCE
            )
            compared += 1
        assert compared > len(counts) // 2, method
