"""Fair probabilities from a bookmaker's prices: removing the vig, vectorized over markets.

Input is a (markets, outcomes) array of decimal odds, one market per row. With
π_i = 1/o_i the implied probabilities and Π = Σπ_i the booksum (overround Π - 1):

    multiplicative   p_i = π_i / Π
    additive         p_i = π_i - (Π - 1)/n          (can go negative on long shots)
    power            p_i = π_i^k,  k such that Σ π_i^k = 1
    Shin             p_i = (sqrt(z² + 4(1 - z) π_i²/Π) - z) / (2(1 - z)),  z such that Σ p_i = 1
                     (two outcomes: z in closed form; more: iterate
                      z <- (Σ sqrt(z² + 4(1 - z) π_i²/Π) - 2) / (n - 2) until it settles)
    odds ratio       p_i = π_i / (c + π_i - c·π_i),  c such that Σ p_i = 1
    worst case       per outcome, the smallest p_i of the methods above that apply to the
                     row: the least favourable fair probability for the side being bet

Rows may mix 2- and 3-outcome markets: pass ``outcomes`` with each row's count and the
slots past it are ignored (and come back NaN). A row that cannot be devigged gets a status
that says why and NaN probabilities, never a silently wrong number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from arbwatch.errors import InvalidMarketError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StatusArray = npt.NDArray[np.int8]

#: Iterative solvers stop when their parameter moves less than this.
TOLERANCE: Final = 1e-14
#: A solution is accepted only if its probabilities sum to 1 within this.
SUM_TOLERANCE: Final = 1e-9
#: Shin's fixed-point iteration gives up after this many steps (the `shin` package's default).
SHIN_MAX_ITERATIONS: Final = 1000
#: Newton steps for the power and odds-ratio methods; they converge in under 10 in practice.
NEWTON_MAX_ITERATIONS: Final = 100


class DevigMethod(StrEnum):
    """How the bookmaker's margin is taken out of its prices."""

    MULTIPLICATIVE = "multiplicative"
    ADDITIVE = "additive"
    POWER = "power"
    SHIN = "shin"
    ODDS_RATIO = "odds_ratio"
    WORST_CASE = "worst_case"


#: The methods that worst case takes the minimum over.
BASE_METHODS: Final = (
    DevigMethod.MULTIPLICATIVE,
    DevigMethod.ADDITIVE,
    DevigMethod.POWER,
    DevigMethod.SHIN,
    DevigMethod.ODDS_RATIO,
)


class DevigStatus(IntEnum):
    """Why a row has, or has not, fair probabilities."""

    OK = 0
    #: Fewer than two outcomes, or a required price missing, not finite, or <= 1.0.
    INVALID_INPUT = 1
    #: Additive devig pushed a long shot to zero or below.
    NEGATIVE_PROBABILITY = 2
    #: The book sums under 100% (an arb on its own); Shin's insider share z would be
    #: negative, which the model does not allow.
    UNDERROUND = 3
    #: The iteration did not settle within its step budget.
    NOT_CONVERGED = 4

    @property
    def description(self) -> str:
        """One line a bettor can read."""
        return _STATUS_TEXT[self]


_STATUS_TEXT: Final = {
    DevigStatus.OK: "ok",
    DevigStatus.INVALID_INPUT: "needs a valid price (> 1.0) for every outcome, at least two",
    DevigStatus.NEGATIVE_PROBABILITY: "gives a long shot a fair probability of zero or less",
    DevigStatus.UNDERROUND: "does not apply: the prices add up to less than 100%",
    DevigStatus.NOT_CONVERGED: "did not converge",
}


@dataclass(frozen=True, slots=True)
class DevigResult:
    """Fair probabilities for a block of markets.

    Attributes:
        probabilities: (markets, outcomes); NaN in rows whose status is not OK and in
            slots past a row's outcome count.
        status: (markets,) `DevigStatus` codes.
        parameter: (markets,) the method's fitted parameter (power k, Shin z, odds-ratio c),
            NaN where the method has none or the row failed.
    """

    probabilities: FloatArray
    status: StatusArray
    parameter: FloatArray

    @property
    def ok(self) -> BoolArray:
        """Rows with usable fair probabilities."""
        ok: BoolArray = self.status == DevigStatus.OK
        return ok


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Validated input: implied probabilities with padding and bad rows neutralised."""

    implied: FloatArray  # (m, n): 1/o in required slots, 0 in padding
    required: BoolArray  # (m, n): slots that hold an outcome of the market
    counts: FloatArray  # (m,): outcomes per market
    booksum: FloatArray  # (m,): Π
    valid: BoolArray  # (m,): rows whose input is usable


def fair_probabilities(
    odds: npt.ArrayLike,
    method: DevigMethod,
    outcomes: npt.ArrayLike | None = None,
    *,
    shin_max_iterations: int = SHIN_MAX_ITERATIONS,
) -> DevigResult:
    """Devig every row of ``odds`` (decimal, shape (markets, outcomes)) with ``method``.

    Args:
        odds: decimal odds, one market per row; a 1-D array is one market.
        method: the devig method.
        outcomes: per row, how many leading slots are outcomes of that market (2 or 3);
            by default every column is.
        shin_max_iterations: the step budget of Shin's iteration for 3+ outcomes.

    Returns:
        A `DevigResult` with the same (markets, outcomes) shape as the input.
    """
    prepared = _prepare(odds, outcomes)
    if method is DevigMethod.WORST_CASE:
        return _worst_case(prepared, shin_max_iterations)
    return _devig(prepared, method, shin_max_iterations)


def _prepare(odds: npt.ArrayLike, outcomes: npt.ArrayLike | None) -> _Prepared:
    """Check shapes, mark required slots and invalid rows, and compute π and Π."""
    prices = np.asarray(odds, dtype=np.float64)
    if prices.ndim == 1:
        prices = prices[np.newaxis, :]
    if prices.ndim != 2 or prices.shape[1] < 2:
        raise InvalidMarketError(
            f"devig needs a (markets, outcomes) array with 2 or more outcomes, "
            f"got shape {prices.shape}"
        )
    markets, width = prices.shape
    if outcomes is None:
        counts = np.full(markets, width, dtype=np.int64)
    else:
        counts = np.broadcast_to(np.asarray(outcomes, dtype=np.int64), (markets,))
        if ((counts < 0) | (counts > width)).any():
            raise InvalidMarketError(f"outcome counts must be between 0 and {width}")
    required = np.arange(width)[np.newaxis, :] < counts[:, np.newaxis]
    # NaN > 1.0 is False, so a missing required price makes its row invalid.
    priced = prices > 1.0
    valid = (counts >= 2) & ~(required & ~priced).any(axis=1)
    usable = required & valid[:, np.newaxis]
    # Invalid rows compute on harmless stand-ins and are overwritten at the end, so no
    # numpy warning (an error under the test settings) is ever raised by bad input.
    implied = np.where(usable, 1.0 / np.where(usable, prices, 2.0), 0.0)
    implied[~valid, :2] = 0.5
    return _Prepared(
        implied=implied,
        required=required,
        counts=np.where(valid, counts, 2).astype(np.float64),
        booksum=implied.sum(axis=1),
        valid=valid,
    )


def _devig(prepared: _Prepared, method: DevigMethod, shin_max_iterations: int) -> DevigResult:
    """Apply one base method and finish the result: NaN padding, NaN failed rows."""
    status = np.where(prepared.valid, DevigStatus.OK, DevigStatus.INVALID_INPUT).astype(np.int8)
    parameter = np.full(prepared.valid.shape, np.nan)
    if method is DevigMethod.MULTIPLICATIVE:
        probabilities = prepared.implied / prepared.booksum[:, np.newaxis]
    elif method is DevigMethod.ADDITIVE:
        probabilities = _additive(prepared, status)
    elif method is DevigMethod.POWER:
        probabilities, parameter = _power(prepared, status)
    elif method is DevigMethod.SHIN:
        probabilities, parameter = _shin(prepared, status, shin_max_iterations)
    elif method is DevigMethod.ODDS_RATIO:
        probabilities, parameter = _odds_ratio(prepared, status)
    else:
        raise InvalidMarketError(f"not a base devig method: {method}")
    failed = status != DevigStatus.OK
    probabilities = np.where(prepared.required & ~failed[:, np.newaxis], probabilities, np.nan)
    parameter = np.where(failed, np.nan, parameter)
    return DevigResult(probabilities=probabilities, status=status, parameter=parameter)


def _additive(prepared: _Prepared, status: StatusArray) -> FloatArray:
    """p_i = π_i - (Π - 1)/n; flags rows where a long shot falls to zero or below."""
    margin_share = (prepared.booksum - 1.0) / prepared.counts
    probabilities = prepared.implied - margin_share[:, np.newaxis]
    nonpositive = (prepared.required & (probabilities <= 0.0)).any(axis=1)
    status[nonpositive & (status == DevigStatus.OK)] = DevigStatus.NEGATIVE_PROBABILITY
    return probabilities


def _power(prepared: _Prepared, status: StatusArray) -> tuple[FloatArray, FloatArray]:
    """Solve Σ π_i^k = 1 for k by Newton's method.

    f(k) = Σ π_i^k - 1 is convex and decreasing (0 < π_i < 1), so Newton's iterates
    approach the root from below after at most one overshoot, and cannot diverge.
    """
    # Padding slots hold π = 1 in the base so that powers and logs stay finite, and weight 0.
    weight = prepared.required.astype(np.float64)
    base = np.where(prepared.required, prepared.implied, 1.0)
    log_base = np.log(base)
    k = np.ones(prepared.booksum.shape)
    converged = np.zeros(k.shape, dtype=bool)
    for _ in range(NEWTON_MAX_ITERATIONS):
        powered = weight * base ** k[:, np.newaxis]
        value = powered.sum(axis=1) - 1.0
        slope = (powered * log_base).sum(axis=1)
        step = value / slope
        k = k - step
        converged = np.abs(step) <= TOLERANCE * np.maximum(1.0, np.abs(k))
        if converged.all():
            break
    probabilities = weight * base ** k[:, np.newaxis]
    _flag_unsettled(probabilities, converged, status)
    return probabilities, k


def _shin(
    prepared: _Prepared, status: StatusArray, max_iterations: int
) -> tuple[FloatArray, FloatArray]:
    """Shin's z: closed form for two outcomes, the fixed-point iteration for more."""
    implied, booksum, counts = prepared.implied, prepared.booksum, prepared.counts
    underround = booksum < 1.0
    status[underround & (status == DevigStatus.OK)] = DevigStatus.UNDERROUND
    scaled_square = 4.0 * implied**2 / booksum[:, np.newaxis]  # 4 π_i² / Π

    z = np.zeros(booksum.shape)
    two_way = counts == 2
    # Two outcomes: z = (Π - 1)(d² - Π) / (Π (d² - 1)) with d = π_1 - π_2 (Jullien & Salanié).
    difference_squared = (implied[:, 0] - implied[:, 1]) ** 2
    z[two_way] = (
        (booksum - 1.0) * (difference_squared - booksum) / (booksum * (difference_squared - 1.0))
    )[two_way]

    many = ~two_way & ~underround
    converged = two_way.copy()
    if many.any():
        square, n = scaled_square[many], counts[many]
        z_many = np.zeros(n.shape)
        settled = np.zeros(n.shape, dtype=bool)
        for _ in range(max_iterations):
            previous = z_many
            roots = np.sqrt(z_many[:, np.newaxis] ** 2 + (1.0 - z_many[:, np.newaxis]) * square)
            z_many = (roots.sum(axis=1) - 2.0) / (n - 2.0)
            settled = np.abs(z_many - previous) <= TOLERANCE
            if settled.all():
                break
        z[many] = z_many
        converged[many] = settled
    # Under-round rows keep z = 0 here so the formula below stays finite; they are failed.
    z = np.where(underround, 0.0, z)
    zz = z[:, np.newaxis]
    probabilities = (np.sqrt(zz**2 + (1.0 - zz) * scaled_square) - zz) / (2.0 * (1.0 - zz))
    probabilities = np.where(prepared.required, probabilities, 0.0)
    in_model = (z >= 0.0) & (z < 1.0)
    _flag_unsettled(probabilities, converged & in_model, status)
    return probabilities, z


def _odds_ratio(prepared: _Prepared, status: StatusArray) -> tuple[FloatArray, FloatArray]:
    """Solve Σ π_i / (c + π_i - c·π_i) = 1 for c by Newton's method.

    Each term is convex and decreasing in c > 0, so Newton behaves as for the power method;
    a step that would leave c > 0 is halved back towards zero instead.
    """
    implied = prepared.implied
    complement = 1.0 - implied
    c = np.ones(prepared.booksum.shape)
    converged = np.zeros(c.shape, dtype=bool)
    for _ in range(NEWTON_MAX_ITERATIONS):
        denominator = c[:, np.newaxis] + implied * (1.0 - c[:, np.newaxis])
        value = (implied / denominator).sum(axis=1) - 1.0
        slope = -(implied * complement / denominator**2).sum(axis=1)
        proposal = c - value / slope
        next_c = np.where(proposal > 0.0, proposal, c / 2.0)
        converged = np.abs(next_c - c) <= TOLERANCE * np.maximum(1.0, c)
        c = next_c
        if converged.all():
            break
    probabilities = implied / (c[:, np.newaxis] + implied * (1.0 - c[:, np.newaxis]))
    _flag_unsettled(probabilities, converged, status)
    return probabilities, c


def _flag_unsettled(probabilities: FloatArray, converged: BoolArray, status: StatusArray) -> None:
    """Mark OK rows that did not converge, or whose probabilities do not sum to one."""
    sums_to_one = np.abs(probabilities.sum(axis=1) - 1.0) <= SUM_TOLERANCE
    unsettled = ~(converged & sums_to_one) & (status == DevigStatus.OK)
    status[unsettled] = DevigStatus.NOT_CONVERGED


def _worst_case(prepared: _Prepared, shin_max_iterations: int) -> DevigResult:
    """Per outcome, the smallest fair probability among the base methods that apply.

    A method that does not apply to a row (Shin on an under-round book, additive pushing a
    long shot below zero) is left out of that row's minimum; the row fails only if its
    input is invalid, in which case every method fails.
    """
    results = [_devig(prepared, method, shin_max_iterations) for method in BASE_METHODS]
    stacked = np.stack([result.probabilities for result in results])
    # fmin ignores NaN, so failed methods drop out; valid input always has multiplicative.
    probabilities = np.fmin.reduce(stacked, axis=0)
    status = np.where(prepared.valid, DevigStatus.OK, DevigStatus.INVALID_INPUT).astype(np.int8)
    probabilities = np.where(prepared.valid[:, np.newaxis], probabilities, np.nan)
    return DevigResult(
        probabilities=probabilities,
        status=status,
        parameter=np.full(status.shape, np.nan),
    )
