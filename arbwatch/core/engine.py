"""The engine step: feed batches and a clock in; matrix writes, matches and alert decisions out.

```
 batches ──> price matrix (events, then prices; dirty rows marked)
                  │
      dirty rows ──> rules (one evaluation per shared engine settings, then filters)
                  │
         matches ──> lifecycle (new / improved / repeat / gone; quiet hours in `decide`)
                  │
                  └──> Step: what was applied, evaluated, matched and decided
```

This is the one place that step is written. The daemon calls it on every drain of its
stream and acts on the decisions (store, notifier, counters); replay and backtest call it on
every recorded frame with the frame's receive time; the bench times it. Nothing here reads
a clock, touches a socket or writes a file: ``now`` is passed in, so a recording run through
it again gives the same answers.

`Step` carries the batches applied and the decisions taken, so an observer (the closing-line
tracker, the backtest's tallies) sees every price written and every alert decided without
the engine knowing it is there.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Protocol

from arbwatch.core.dedup import AlertState, Lifecycle, Observation
from arbwatch.core.fair import FairCache
from arbwatch.core.markets import Event, MarketKey, PriceUpdate
from arbwatch.core.matrix import PriceMatrix
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.core.rules import Match, RuleSet

_NO_COMMISSIONS: Final[Mapping[str, float]] = MappingProxyType({})
#: Seconds between runs of `Engine.expire`: the daemon's timer, and a replay's recorded clock.
EXPIRY_INTERVAL: Final = 1.0


class Batch(Protocol):
    """What the engine reads of a feed's batch (`arbwatch.feeds.base.FeedBatch` is one)."""

    @property
    def feed(self) -> str:
        """The feed that delivered it."""
        ...

    @property
    def received_at(self) -> float:
        """When its frame arrived, epoch seconds."""
        ...

    @property
    def events(self) -> Sequence[Event]:
        """Event details (teams, sport, start) it carries."""
        ...

    @property
    def updates(self) -> Sequence[PriceUpdate]:
        """The prices it carries, in the order to write them."""
        ...


@dataclass(frozen=True, slots=True)
class Step:
    """What one engine step did.

    Attributes:
        now: the time the step decided at.
        batches: the batches applied, in order (their updates are the prices written).
        refused: updates the matrix refused (an outcome slot their market does not have).
        evaluated: the markets evaluated (those the batches touched, or were touched).
        matches: every (rule, opportunity) found, rules in config order.
        observation: the lifecycle's decisions: alerts to send and states changed.
    """

    now: float
    batches: Sequence[Batch]
    refused: int
    evaluated: Collection[MarketKey]
    matches: Sequence[Match]
    observation: Observation

    @property
    def update_count(self) -> int:
        """Price updates applied (refused ones included)."""
        return sum(len(batch.updates) for batch in self.batches)

    def updates(self) -> Iterator[PriceUpdate]:
        """Every price update applied, in the order written."""
        for batch in self.batches:
            yield from batch.updates


class Engine:
    """The price matrix, the rules and the alert lifecycle, advanced one step at a time."""

    def __init__(
        self,
        rules: Sequence[RuleConfig],
        commissions: Mapping[str, float] = _NO_COMMISSIONS,
        states: Iterable[AlertState] = (),
    ) -> None:
        """Start empty, with ``rules`` and the lifecycle ``states`` restored from a store.

        Raises:
            InvalidStakeError: a rule's settings are out of range (see `RuleSet`).
        """
        self.matrix = PriceMatrix()
        self._fair = FairCache(self.matrix)
        self._rules = RuleSet(rules, commissions)
        self.lifecycle = Lifecycle(rules, states)

    @property
    def rules(self) -> tuple[RuleConfig, ...]:
        """The rules in force, in config order."""
        return self._rules.rules

    def restore(self, states: Iterable[AlertState]) -> None:
        """Start the lifecycle again from ``states`` (read from the store at start)."""
        self.lifecycle = Lifecycle(self._rules.rules, states)

    def replace_rules(
        self, rules: Sequence[RuleConfig], commissions: Mapping[str, float] = _NO_COMMISSIONS
    ) -> None:
        """Switch to ``rules`` (a reload); what is tracked under rules still there stays.

        Raises:
            InvalidStakeError: a rule's settings are out of range; nothing is switched.
        """
        rules_set = RuleSet(rules, commissions)
        self._rules = rules_set
        self.lifecycle.replace_rules(rules)

    def step(self, batches: Sequence[Batch], now: float) -> Step:
        """Apply ``batches`` in order, evaluate the rows they (or `touch`) dirtied, decide.

        ``now`` is the time every decision is taken at: quote ages, start-time filters,
        quiet hours and repeat intervals are measured from it. Callers pass the receive
        time of the newest batch, so a live run and a replay of its recording agree.
        """
        matrix = self.matrix
        refused = 0
        for batch in batches:
            for event in batch.events:
                matrix.set_event(event)
            refused += matrix.apply(batch.updates)
        rows = matrix.take_dirty()
        matches = self._rules.evaluate(matrix.block(rows), now, self._fair)
        market = matrix.market
        evaluated = {market(int(row)) for row in rows}
        observation = self.lifecycle.observe(matches, evaluated, now)
        return Step(now, batches, refused, evaluated, matches, observation)

    def touch(self, markets: Iterable[MarketKey]) -> None:
        """Have the next step evaluate ``markets`` again though no price changed."""
        self.matrix.touch(markets)

    def expire(self, now: float) -> Observation:
        """What time alone changes (stale quotes, started games, alerts come due)."""
        return self.lifecycle.expire(now)

    def suspend(self, books: Collection[str], now: float) -> Observation:
        """End silently every opportunity with a leg on ``books`` (their feed is down)."""
        return self.lifecycle.suspend(books, now)
