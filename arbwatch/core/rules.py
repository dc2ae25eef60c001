"""Rules: which opportunities each of the bettor's rules alerts on.

A rule is two things. Engine settings (books, quote age, value range, odds, stakes, sharp
books, devig) decide what the evaluator finds; rules whose engine settings are identical
share one evaluation per block, so ten rules that differ only in sport or notify channels
cost one arbitrage pass. Filters (sport, market type, period, start time, in play) then
pick, from what was found, the opportunities each rule wants. (Cutting the rows no rule
of a pass wants out of the block before evaluating was measured and dropped: the copy costs
about what the evaluation saves, since rules that share settings mostly want the union.)

A rule's arbitrage odds bounds are applied to the block before the evaluation (quotes out
of bounds count as no quote), so a leg's best price above ``max_odds`` is replaced by the
best price within bounds rather than losing the arbitrage. The +EV engine applies its
odds bounds itself.

Time, where a filter needs it, is the ``now`` passed in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from arbwatch.core.evaluate import (
    ArbitrageSettings,
    EvSettings,
    Opportunity,
    find_arbitrage,
    find_positive_ev,
)
from arbwatch.core.fair import FairCache
from arbwatch.core.markets import MarketKey, MarketKind, Period, normalize_sport
from arbwatch.core.matrix import MatrixBlock
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.errors import InvalidStakeError

_NO_COMMISSIONS: Final[Mapping[str, float]] = MappingProxyType({})

#: What makes an opportunity the same one again: kind, market, and each leg's
#: (outcome slot, book).
Identity = tuple[str, MarketKey, tuple[tuple[int, str], ...]]


def opportunity_identity(opportunity: Opportunity) -> Identity:
    """The identity of an opportunity: kind, market, and each leg's outcome and book.

    Prices and stakes are not part of it: the same bets at a better price are the same
    opportunity, improved.
    """
    legs = tuple((leg.outcome, leg.book) for leg in opportunity.legs)
    return (opportunity.kind, opportunity.market, legs)


def match_key(rule: str, opportunity: Opportunity) -> str:
    """A stable text key for ``opportunity`` under the rule named ``rule``.

    The key is the rule, the kind, the market and the outcomes bet, not the books: when
    the best price of a market moves from one book to another, a bettor is looking at the
    same opportunity, and alerting it again would be spam (it is alerted again if its
    value improves by the rule's step, or after the repeat interval, with the new books).

    Built from plain values as JSON (never ``hash()``, which changes between runs), so the
    key read back from the store after a restart is the key found again; JSON also keeps
    names that contain separators unambiguous.
    """
    kind, market, legs = opportunity_identity(opportunity)
    outcomes = [outcome for outcome, _book in legs]
    return json.dumps([rule, kind, list(market), outcomes], ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Match:
    """An opportunity one rule alerts on.

    Attributes:
        rule: the rule that matched.
        opportunity: what was found.
        key: the stable identity of this opportunity under this rule (`match_key`).
        value: the opportunity's headline figure: profit (arbitrage) or EV (+EV).
    """

    rule: RuleConfig
    opportunity: Opportunity
    key: str
    value: float


def admits(rule: RuleConfig, opportunity: Opportunity, now: float) -> bool:
    """Whether ``rule``'s filters (sport, market, period, start, in play) take ``opportunity``.

    Engine settings (books, values, odds, quote age) are not checked here: the evaluation
    with the rule's settings applied them.
    """
    market = opportunity.market
    return _in_scope(
        rule, normalize_sport(opportunity.event.sport), market.kind, market.period
    ) and (_in_time(rule, opportunity.event.starts_at, now))


def _in_scope(rule: RuleConfig, sport: str, kind: MarketKind, period: Period) -> bool:
    """The filters that depend on the market alone, not on time."""
    return (
        (rule.sports is None or sport in rule.sports)
        and (rule.market_types is None or kind in rule.market_types)
        and (rule.periods is None or period in rule.periods)
    )


def _in_time(rule: RuleConfig, starts_at: float, now: float) -> bool:
    """The start-time filters.

    A game has started when ``now >= starts_at``. ``in_play: live`` wants started games,
    ``pre_match`` games not started. ``starts_within`` takes games that have not started and
    start within the window, and games already started (``in_play`` decides on those: a
    live game does not "start within" anything, but a rule for live and soon-starting games
    wants it). An unknown start (NaN, the event's details not yet known) passes only a rule
    that filters on neither: whether the game is live is exactly what is unknown.
    """
    if rule.in_play == "any" and rule.starts_within is None:
        return True
    if math.isnan(starts_at):
        return False
    started = now >= starts_at
    if (rule.in_play == "live" and not started) or (rule.in_play == "pre_match" and started):
        return False
    return rule.starts_within is None or started or starts_at - now <= rule.starts_within


EngineSettings = ArbitrageSettings | EvSettings


def engine_settings(rule: RuleConfig, commissions: Mapping[str, float]) -> EngineSettings:
    """What the evaluator needs to run ``rule``.

    Raises:
        InvalidStakeError: the rule's settings are out of range; the message names the rule.
    """
    try:
        if rule.kind == "arbitrage":
            return ArbitrageSettings(
                max_quote_age=rule.max_quote_age,
                min_profit=rule.min_value,
                max_profit=rule.max_value,
                bankroll=rule.bankroll,
                stake_increment=rule.stake_round,
                books=rule.books,
                excluded_books=rule.excluded_books,
                commissions=commissions,
                min_books=rule.min_books,
            )
        return EvSettings(
            sharp_books=rule.sharp,
            devig=rule.devig,
            max_quote_age=rule.max_quote_age,
            min_ev=rule.min_value,
            max_ev=rule.max_value,
            min_odds=rule.min_odds,
            max_odds=rule.max_odds,
            kelly_fraction=rule.kelly_fraction,
            bankroll=rule.bankroll,
            stake_increment=rule.stake_round,
            books=rule.books,
            excluded_books=rule.excluded_books,
            commissions=commissions,
        )
    except InvalidStakeError as error:
        raise InvalidStakeError(f"rule {rule.name}: {error}") from error


@dataclass(frozen=True, slots=True)
class _Pass:
    """One evaluation per block, shared by the rules with the same engine settings.

    ``odds`` are the arbitrage odds bounds applied to the block first ((1, inf) for +EV,
    whose settings hold them).
    """

    settings: EngineSettings
    odds: tuple[float, float]
    rules: tuple[RuleConfig, ...]


class RuleSet:
    """The bettor's rules, ready to evaluate blocks of the price matrix."""

    def __init__(
        self, rules: Sequence[RuleConfig], commissions: Mapping[str, float] = _NO_COMMISSIONS
    ) -> None:
        """Work out each rule's engine settings and group rules that share them.

        Raises:
            InvalidStakeError: a rule's settings are out of range (a loaded config has been
                checked, so this names a bug); the message names the rule.
        """
        self._rules = tuple(rules)
        keys: list[tuple[EngineSettings, tuple[float, float]]] = []
        members: list[list[RuleConfig]] = []
        for rule in self._rules:
            settings = engine_settings(rule, commissions)
            odds = (rule.min_odds, rule.max_odds) if rule.kind == "arbitrage" else (1.0, math.inf)
            # Settings hold a commissions dict, so they are compared, not hashed; rule sets
            # are small and built once per config.
            key = (settings, odds)
            if key in keys:
                members[keys.index(key)].append(rule)
            else:
                keys.append(key)
                members.append([rule])
        self._passes = tuple(
            _Pass(settings, odds, tuple(group))
            for (settings, odds), group in zip(keys, members, strict=True)
        )

    @property
    def rules(self) -> tuple[RuleConfig, ...]:
        """The rules, in config order."""
        return self._rules

    def evaluate(
        self, block: MatrixBlock, now: float, cache: FairCache | None = None
    ) -> list[Match]:
        """Every (rule, opportunity) match in ``block`` at ``now``, rules in config order.

        ``cache`` spares devigging unchanged sharp prices again (see `FairCache`).
        """
        if block.empty:
            return []
        found: dict[str, list[Opportunity]] = {}
        for evaluation in self._passes:
            opportunities = _run(evaluation, block, now, cache)
            for rule in evaluation.rules:
                found[rule.name] = opportunities
        matches = []
        for rule in self._rules:
            for opportunity in found[rule.name]:
                if admits(rule, opportunity, now):
                    key = match_key(rule.name, opportunity)
                    matches.append(Match(rule, opportunity, key, opportunity.value))
        return matches


def _run(
    evaluation: _Pass, block: MatrixBlock, now: float, cache: FairCache | None
) -> list[Opportunity]:
    """One engine pass over ``block``."""
    settings = evaluation.settings
    if isinstance(settings, EvSettings):
        return list(find_positive_ev(block, now, settings, cache))
    low, high = evaluation.odds
    if low > 1.0 or high < math.inf:
        block = _within_odds(block, low, high)
    return list(find_arbitrage(block, now, settings))


def _within_odds(block: MatrixBlock, low: float, high: float) -> MatrixBlock:
    """The block with quotes outside [low, high] taken out.

    Only the prices change (masking the times too costs 4x as much): a removed cell's
    price is 0.0 (below 1 after any commission), which never wins the best price against a
    real quote, and an outcome with no real quote left has 1/best >= 1, no arbitrage; so a
    removed cell's quote time is never read.
    """
    inside = (block.prices >= low) & (block.prices <= high)
    return MatrixBlock(
        block.matrix,
        block.rows,
        block.prices * inside,
        block.quoted_at,
        block.counts,
        block.required,
    )
