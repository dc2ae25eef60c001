"""The engine's workload done the naive way: pure Python, one market at a time.

This is the baseline that ``arbwatch bench`` measures the numpy engine against, and a second,
independent implementation that the tests check the numpy engine with. It reads the same
`ArbitrageSettings` / `EvSettings`, stakes with the same functions from `arbwatch.core.stakes`
and returns the same `Arbitrage` / `PositiveEv` records, so results compare field by field.
It uses no numpy and does not import `arbwatch.core.devig`: the devig methods are written out
again below with plain floats (formulas in that module's docstring).

Quotes live in nested dicts: market -> slot (a list of 2 or 3) -> book -> (price, quoted_at).
Evaluating a market loops over its books once per outcome.

Deliberate differences from the vectorized engine; none of them changes what is found:

* A withdrawal (price <= 1.0, NaN or infinite, or a quote time that is not finite) deletes
  the quote instead of writing "no quote". A batch is applied one update after another, so
  when a batch quotes a cell twice the later update wins, as in `PriceMatrix.apply`.
* When two books offer the same best price, the book that quoted first (on any market) wins:
  the matrix numbers its book columns in that order and argmax takes the first. A dict of
  first-quote ranks reproduces that.
* Newton's method (power, Shin and odds ratio on 3 outcomes) stops as soon as this market
  has settled. The vectorized solvers keep stepping settled rows until every row of the
  block has settled; those extra steps move the parameter by about 1e-16, so probabilities
  agree to ~1e-15, not bit for bit. The power method here takes ``math.pow`` where the
  vectorized one takes exp(k·log π), which differs in the last bits too. Everything else,
  including the order of every sum, is the same arithmetic.
* The naive engine devigs a market's sharp prices every time the market is touched; the
  vectorized engine keeps them (`arbwatch.core.fair.FairCache`) and devigs again only the
  markets whose sharp prices changed. Both are what each design does naturally, and the
  bench says so beside the ratio.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from arbwatch.core.evaluate import (
    Arbitrage,
    ArbitrageSettings,
    EvSettings,
    Leg,
    Opportunity,
    PositiveEv,
)
from arbwatch.core.markets import Event, MarketKey, PriceUpdate, outcome_label
from arbwatch.core.stakes import arbitrage_stakes, kelly_fraction, kelly_stake

#: Newton stops when its step is below this (the values mirror arbwatch.core.devig).
NEWTON_STEP_TOLERANCE: Final = 1e-12
#: A booksum this close to 1 is a fair book: the gap is floating-point rounding.
BOOKSUM_ROUNDING: Final = 1e-12
#: A solution is accepted only if its probabilities sum to 1 within this.
SUM_TOLERANCE: Final = 1e-9
#: Newton steps for the power, Shin (3-way) and odds-ratio methods.
NEWTON_MAX_ITERATIONS: Final = 100
SHIN_MAX_ITERATIONS: Final = NEWTON_MAX_ITERATIONS

#: A quote: decimal price and the time the book set it.
Quote = tuple[float, float]
Probabilities = list[float]
_Solver = Callable[[list[float], float], Probabilities | None]


# --- devig, one market at a time -------------------------------------------------------


def devig(prices: Sequence[float], method: str) -> Probabilities | None:
    """Fair probabilities of one market's decimal ``prices``, or None where ``method`` fails.

    ``method`` is a `DevigMethod` value (``"multiplicative"``, ..., ``"worst_case"``). None
    stands for every status other than OK: fewer than two prices, a price not above 1.0,
    additive pushing a long shot to zero, Shin on an under-round book, no convergence.
    """
    if len(prices) < 2 or not all(1.0 < price < math.inf for price in prices):
        return None
    implied = [1.0 / price for price in prices]
    booksum = _total(implied)
    if method == "worst_case":
        return _worst_case(implied, booksum)
    solver = _SOLVERS.get(method)
    if solver is None:
        raise ValueError(f"unknown devig method {method!r}")
    return solver(implied, booksum)


def _total(values: Iterable[float]) -> float:
    """Add left to right, as numpy does for a handful of numbers (``sum`` may compensate)."""
    result = 0.0
    for value in values:
        result += value
    return result


def _settled(probabilities: Probabilities) -> Probabilities | None:
    """The probabilities if they sum to one within `SUM_TOLERANCE` (NaN never does)."""
    return probabilities if abs(_total(probabilities) - 1.0) <= SUM_TOLERANCE else None


def _multiplicative(implied: list[float], booksum: float) -> Probabilities | None:
    """p_i = π_i / Π."""
    return [share / booksum for share in implied]


def _additive(implied: list[float], booksum: float) -> Probabilities | None:
    """p_i = π_i - (Π - 1)/n; None when a long shot falls to zero or below."""
    margin_share = (booksum - 1.0) / len(implied)
    probabilities = [share - margin_share for share in implied]
    return probabilities if min(probabilities) > 0.0 else None


def _power(implied: list[float], booksum: float) -> Probabilities | None:
    """p_i = π_i^k with Σ π_i^k = 1: Newton's method, a step past k/2 halved.

    It starts where the vectorized solver does, from the exact k of an evenly priced market.
    """
    logs = [math.log(share) for share in implied]
    count = len(implied)
    k = math.log(count) / math.log(count / booksum)
    for _ in range(NEWTON_MAX_ITERATIONS):
        total = slope = 0.0
        for share, log in zip(implied, logs, strict=True):
            powered = math.pow(share, k)
            total += powered
            slope += powered * log
        if slope == 0.0:
            return None
        step = (total - 1.0) / slope
        k = max(k - step, k / 2.0)
        if abs(step) <= NEWTON_STEP_TOLERANCE:
            return _settled([math.pow(share, k) for share in implied])
    return None


def _shin(implied: list[float], booksum: float) -> Probabilities | None:
    """Shin's model: z in closed form for two outcomes, by Newton's method for more.

    More outcomes: F(z) = Σ S_i - (n - 2) z - 2 with S_i = sqrt(z² + (1 - z) a_i) and
    a_i = 4 π_i² / Π; Newton from z = 0.
    """
    if booksum < 1.0 - BOOKSUM_ROUNDING:
        return None
    squares = [4.0 * (share * share) / booksum for share in implied]  # a_i
    count = len(implied)
    if count == 2:
        difference = implied[0] - implied[1]
        difference_squared = difference * difference
        z = (
            (booksum - 1.0)
            * (difference_squared - booksum)
            / (booksum * (difference_squared - 1.0))
        )
    else:
        z = 0.0
        for _ in range(SHIN_MAX_ITERATIONS):
            roots = [math.sqrt(z * z + (1.0 - z) * square) for square in squares]
            value = _total(roots) - (count - 2.0) * z - 2.0
            slope = _total(
                (2.0 * z - square) / (2.0 * root)
                for square, root in zip(squares, roots, strict=True)
            ) - (count - 2.0)
            step = value / slope
            z -= step
            if abs(step) <= NEWTON_STEP_TOLERANCE:
                break
        else:
            return None
    # A fair book can leave z at -1e-16 by rounding: that is z = 0.
    z = max(z, 0.0)
    if not z < 1.0:
        return None
    return _settled(
        [(math.sqrt(z * z + (1.0 - z) * square) - z) / (2.0 * (1.0 - z)) for square in squares]
    )


def _odds_ratio(implied: list[float], booksum: float) -> Probabilities | None:
    """p_i = π_i / (c + π_i - c·π_i) with Σ p_i = 1.

    Two outcomes: c = sqrt(π_1 π_2 / ((1 - π_1)(1 - π_2))). More: Newton's method, a step
    past c/2 halved, from the exact c of an evenly priced market as in the vectorized solver.
    """
    if len(implied) == 2:
        first, second = implied
        c = math.sqrt(first * second / ((1.0 - first) * (1.0 - second)))
        return _settled([share / (c + share * (1.0 - c)) for share in implied])
    spreads = [share * (1.0 - share) for share in implied]
    count = len(implied)
    even = booksum / count
    c = (count - 1.0) * even / (1.0 - even)
    for _ in range(NEWTON_MAX_ITERATIONS):
        total = curvature = 0.0
        for share, spread in zip(implied, spreads, strict=True):
            denominator = c + share * (1.0 - c)
            total += share / denominator
            curvature += spread / (denominator * denominator)
        if curvature == 0.0:
            return None
        step = (total - 1.0) / -curvature
        c = max(c - step, c / 2.0)
        if abs(step) <= NEWTON_STEP_TOLERANCE:
            return _settled([share / (c + share * (1.0 - c)) for share in implied])
    return None


def _worst_case(implied: list[float], booksum: float) -> Probabilities | None:
    """Per outcome, the smallest probability of the base methods that apply."""
    least: Probabilities | None = None
    for solver in _SOLVERS.values():
        probabilities = solver(implied, booksum)
        if probabilities is None:
            continue
        if least is None:
            least = probabilities
        else:
            least = [min(a, b) for a, b in zip(least, probabilities, strict=True)]
    return least


_SOLVERS: Final[dict[str, _Solver]] = {
    "multiplicative": _multiplicative,
    "additive": _additive,
    "power": _power,
    "shin": _shin,
    "odds_ratio": _odds_ratio,
}


# --- the engine ------------------------------------------------------------------------


class NaiveEngine:
    """Quotes in nested dicts, evaluated one market at a time in pure Python."""

    def __init__(self) -> None:
        """Create an empty engine."""
        # market -> slot -> book -> (price, quoted_at); only usable quotes are kept.
        self._quotes: dict[MarketKey, list[dict[str, Quote]]] = {}
        # book -> rank in order of first quote: the tie-break of the matrix's argmax.
        self._book_order: dict[str, int] = {}
        self._events: dict[str, Event] = {}
        self._touched: dict[MarketKey, None] = {}

    @property
    def markets(self) -> tuple[MarketKey, ...]:
        """Markets that have been quoted, in order of first quote."""
        return tuple(self._quotes)

    @property
    def books(self) -> tuple[str, ...]:
        """Books that have quoted, in order of first quote."""
        return tuple(self._book_order)

    def set_event(self, event: Event) -> None:
        """Record or replace what is known about an event."""
        self._events[event.event_id] = event

    def event(self, event_id: str) -> Event:
        """The event's details, or a stand-in if none have arrived yet."""
        return self._events.get(event_id) or Event.unknown(event_id)

    def quote(self, market: MarketKey, slot: int, book: str) -> Quote | None:
        """The usable quote of ``book`` on one outcome, or None."""
        slots = self._quotes.get(market)
        if slots is None or not 0 <= slot < len(slots):
            return None
        return slots[slot].get(book)

    def apply(self, updates: Iterable[PriceUpdate]) -> int:
        """Store updates one by one and note their markets; return how many were refused.

        An update for an outcome slot its market does not have is refused, as in the matrix.
        """
        quotes, order, touched = self._quotes, self._book_order, self._touched
        refused = 0
        for market, slot, book, price, quoted_at in updates:
            slots = quotes.get(market)
            if slots is None:
                slots = quotes[market] = [{} for _ in range(market.outcome_count)]
            if not 0 <= slot < len(slots):
                refused += 1
                continue
            if book not in order:
                order[book] = len(order)
            if 1.0 < price < math.inf and math.isfinite(quoted_at):
                slots[slot][book] = (price, quoted_at)
            else:
                slots[slot].pop(book, None)
            touched[market] = None
        return refused

    def take_touched(self) -> list[MarketKey]:
        """Markets written since the last call, in order of first write; forgets them."""
        touched = list(self._touched)
        self._touched.clear()
        return touched

    # --- evaluation --------------------------------------------------------------------

    def find_arbitrage(
        self, now: float, settings: ArbitrageSettings, markets: Iterable[MarketKey] | None = None
    ) -> list[Arbitrage]:
        """Every arbitrage among ``markets`` (all by default) at time ``now``."""
        cutoff = now - settings.max_quote_age
        keep = _kept_shares(settings.commissions)
        found = []
        for market in self._quotes if markets is None else markets:
            slots = self._quotes.get(market)
            if slots is None:
                continue
            offers = []
            implied_sum = 0.0
            for quotes in slots:
                offer = self._best_offer(quotes, cutoff, allowed=settings.books, keep=keep)
                if offer is None:
                    break
                offers.append(offer)
                implied_sum += 1.0 / offer[0]
            else:
                profit = 1.0 / implied_sum - 1.0
                if implied_sum < 1.0 and settings.min_profit <= profit <= settings.max_profit:
                    arbitrage = self._arbitrage(
                        market,
                        offers,
                        implied_sum=implied_sum,
                        profit=profit,
                        now=now,
                        settings=settings,
                    )
                    if arbitrage is not None:
                        found.append(arbitrage)
        return found

    def find_positive_ev(
        self, now: float, settings: EvSettings, markets: Iterable[MarketKey] | None = None
    ) -> list[PositiveEv]:
        """Every +EV price among ``markets`` (all by default) at time ``now``.

        One per market outcome: the allowed non-sharp book with the best price.
        """
        cutoff = now - settings.max_quote_age
        keep = _kept_shares(settings.commissions)
        sharp = [book for book in settings.sharp_books if book in self._book_order]
        if not sharp:
            return []
        excluded = frozenset(sharp)
        method = str(settings.devig)
        found = []
        for market in self._quotes if markets is None else markets:
            slots = self._quotes.get(market)
            if slots is None:
                continue
            fair = _fair(slots, sharp, cutoff, method)
            if fair is None:
                continue
            for slot, quotes in enumerate(slots):
                offer = self._best_offer(
                    quotes,
                    cutoff,
                    allowed=settings.books,
                    keep=keep,
                    excluded=excluded,
                    min_odds=settings.min_odds,
                    max_odds=settings.max_odds,
                )
                if offer is None:
                    continue
                ev = fair[slot] * offer[0] - 1.0
                if ev > 0.0 and settings.min_ev <= ev <= settings.max_ev:
                    found.append(
                        self._positive_ev(
                            market,
                            slot,
                            offer,
                            probability=fair[slot],
                            ev=ev,
                            now=now,
                            settings=settings,
                        )
                    )
        return found

    def _best_offer(
        self,
        quotes: dict[str, Quote],
        cutoff: float,
        *,
        allowed: frozenset[str] | None,
        keep: Mapping[str, float] | None,
        excluded: frozenset[str] = frozenset(),
        min_odds: float = 1.0,
        max_odds: float = math.inf,
    ) -> tuple[float, str, Quote] | None:
        """The best usable price after commission: (effective price, book, quote), or None.

        Ties go to the book that quoted first, like argmax over the matrix's columns.
        """
        order = self._book_order
        best = 0.0
        best_book = ""
        best_quote = (0.0, 0.0)
        for book, quote in quotes.items():
            price, quoted_at = quote
            if (
                quoted_at < cutoff
                or book in excluded
                or (allowed is not None and book not in allowed)
                or not min_odds <= price <= max_odds
            ):
                continue
            offered = price if keep is None else 1.0 + (price - 1.0) * keep.get(book, 1.0)
            # Every usable price is above 1.0, so a tie means a book was already chosen.
            if offered > best or (offered == best and order[book] < order[best_book]):
                best, best_book, best_quote = offered, book, quote
        return (best, best_book, best_quote) if best > 0.0 else None

    def _arbitrage(
        self,
        market: MarketKey,
        offers: list[tuple[float, str, Quote]],
        *,
        implied_sum: float,
        profit: float,
        now: float,
        settings: ArbitrageSettings,
    ) -> Arbitrage | None:
        """The record of one arbitrage, or None when rounded stakes lock in no profit."""
        effective = [offer[0] for offer in offers]
        plan = arbitrage_stakes(effective, settings.bankroll, settings.stake_increment)
        if not plan.locks_profit:
            return None
        event = self.event(market.event_id)
        legs = tuple(
            _leg(event, market, slot, offer, stake)
            for slot, (offer, stake) in enumerate(zip(offers, plan.stakes, strict=True))
        )
        return Arbitrage(
            event=event,
            market=market,
            legs=legs,
            implied_sum=implied_sum,
            profit=profit,
            plan=plan,
            found_at=now,
        )

    def _positive_ev(
        self,
        market: MarketKey,
        slot: int,
        offer: tuple[float, str, Quote],
        *,
        probability: float,
        ev: float,
        now: float,
        settings: EvSettings,
    ) -> PositiveEv:
        """The record of one +EV price."""
        price = offer[0]
        stake = kelly_stake(
            probability, price, settings.bankroll, settings.kelly_fraction, settings.stake_increment
        )
        event = self.event(market.event_id)
        return PositiveEv(
            event=event,
            market=market,
            leg=_leg(event, market, slot, offer, stake),
            fair_probability=probability,
            ev=ev,
            kelly=kelly_fraction(probability, price),
            sharp_books=settings.sharp_books,
            devig=settings.devig,
            found_at=now,
        )


def _kept_shares(commissions: Mapping[str, float]) -> dict[str, float] | None:
    """Per charging book, the share of winnings the bettor keeps (1 - c); None if none do."""
    keep = {book: 1.0 - commission for book, commission in commissions.items() if commission}
    return keep or None


def _fair(
    slots: list[dict[str, Quote]], sharp: list[str], cutoff: float, method: str
) -> Probabilities | None:
    """Fair probabilities from the sharp books that fully and freshly price the market.

    The mean over those books; for worst_case, per outcome the smallest. None if none do.
    """
    per_book = []
    for book in sharp:
        prices = []
        for quotes in slots:
            quote = quotes.get(book)
            if quote is None or quote[1] < cutoff:
                break
            prices.append(quote[0])
        else:
            probabilities = devig(prices, method)
            if probabilities is not None:
                per_book.append(probabilities)
    if not per_book:
        return None
    if len(per_book) == 1:
        return per_book[0]
    if method == "worst_case":
        return [min(column) for column in zip(*per_book, strict=True)]
    count = len(per_book)
    return [_total(column) / count for column in zip(*per_book, strict=True)]


def _leg(
    event: Event, market: MarketKey, slot: int, offer: tuple[float, str, Quote], stake: float
) -> Leg:
    """Describe the bet on ``slot`` at the offer's book."""
    effective, book, (price, quoted_at) = offer
    return Leg(
        outcome=slot,
        label=outcome_label(event, market, slot),
        book=book,
        price=price,
        effective_price=effective,
        stake=stake,
        quoted_at=quoted_at,
    )


# --- comparing two engines' findings ---------------------------------------------------

OpportunityKey = tuple[object, ...]


def opportunity_key(opportunity: Opportunity) -> OpportunityKey:
    """What identifies a finding: kind, market, and each leg's outcome and book."""
    legs = tuple((leg.outcome, leg.book) for leg in opportunity.legs)
    return (opportunity.kind, opportunity.market, legs)


def _figures(opportunity: Opportunity) -> dict[str, float]:
    """The numbers two engines must agree on for one finding."""
    figures = {"value": opportunity.value}
    if isinstance(opportunity, Arbitrage):
        figures["implied_sum"] = opportunity.implied_sum
        figures["guaranteed_profit"] = opportunity.plan.guaranteed_profit
    else:
        figures["fair_probability"] = opportunity.fair_probability
        figures["kelly"] = opportunity.kelly
    for index, leg in enumerate(opportunity.legs):
        figures[f"leg{index}.price"] = leg.price
        figures[f"leg{index}.effective_price"] = leg.effective_price
        figures[f"leg{index}.stake"] = leg.stake
        figures[f"leg{index}.quoted_at"] = leg.quoted_at
    return figures


def compare_opportunities(
    expected: Iterable[Opportunity],
    actual: Iterable[Opportunity],
    tolerance: float = 1e-9,
    thresholds: Mapping[str, float] | None = None,
) -> list[str]:
    """Describe every way two engines' findings differ; an empty list when they agree.

    Findings are matched by `opportunity_key`; matched ones must agree on profit or EV,
    fair probability, prices, stakes and quote times to within ``tolerance`` (absolute).
    ``thresholds`` maps a kind to its minimum value: a finding only one engine reports whose
    value lies within ``tolerance`` of it is on the boundary, where summing in a different
    order may tip the comparison either way, and is not a disagreement.
    """
    limits = thresholds or {}

    def on_boundary(opportunity: Opportunity) -> bool:
        limit = limits.get(opportunity.kind)
        return limit is not None and abs(opportunity.value - limit) <= tolerance

    left = {opportunity_key(o): o for o in expected}
    right = {opportunity_key(o): o for o in actual}
    problems = [
        f"only in the first: {_describe(left[key])}"
        for key in left.keys() - right
        if not on_boundary(left[key])
    ]
    problems += [
        f"only in the second: {_describe(right[key])}"
        for key in right.keys() - left
        if not on_boundary(right[key])
    ]
    for key in left.keys() & right.keys():
        first, second = _figures(left[key]), _figures(right[key])
        problems += [
            f"{_describe(left[key])}: {name} {first[name]!r} != {second[name]!r}"
            for name in first
            if not abs(first[name] - second[name]) <= tolerance
        ]
    return sorted(problems)


def _describe(opportunity: Opportunity) -> str:
    """One line naming a finding, for mismatch reports."""
    legs = ", ".join(f"{leg.label} @ {leg.book} {leg.price:g}" for leg in opportunity.legs)
    return (
        f"{opportunity.kind} {opportunity.market.event_id} {opportunity.market.label()} "
        f"[{legs}] value={opportunity.value!r}"
    )
