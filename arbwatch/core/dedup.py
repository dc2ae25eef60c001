"""The alert lifecycle: when an opportunity a rule matched is alerted, again, or gone.

Each (rule, opportunity) has a key (`arbwatch.core.rules.match_key`) and a state: when it
was first and last seen, its best and latest value, when and at what value it was last
alerted, and whether it is still there. An occurrence runs from the evaluation that first
finds it to the one that no longer does (or until its quotes go stale); the same key
found again later starts a new occurrence that still remembers its last alert, so it is
never alerted twice within the rule's ``repeat`` interval unless it improved.

A rule's ``min_duration`` holds the first alert of an occurrence until it has lasted that
long, so a price that blinks is never pushed: one that ends before then is never alerted,
nor its GONE. A held one still there when it comes due is alerted by the next evaluation or
by `Lifecycle.expire`, whichever comes first; `Lifecycle.next_due` says when that is.

GONE means a price moved: an opportunity is alerted GONE only when a new price on its
market no longer makes it. One whose quotes went stale with no new price, one restored
after a restart and never seen again, and one whose feed went down (`Lifecycle.suspend`)
ends *suspended*: silently, with no GONE, since nobody knows whether it is still there.

`decide` is the whole policy; `Lifecycle` keeps the states, applies the policy to each
evaluation's matches, and reports every state it changed so the store can keep them. Time
is always passed in.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from arbwatch.core.evaluate import Opportunity
from arbwatch.core.markets import MarketKey
from arbwatch.core.rulemodel import RuleConfig, RuleKind
from arbwatch.core.rules import Match, admits

#: Values are floats summed from odds; a rise of exactly ``improve_by`` must count.
_VALUE_EPSILON = 1e-9


class AlertReason(StrEnum):
    """Why an alert is sent."""

    #: First alert for this opportunity (or the first since an earlier one went away
    #: longer than the repeat interval ago).
    NEW = "new"
    #: Its value rose by the rule's ``improve_by`` over the value last alerted.
    IMPROVED = "improved"
    #: Still there, and the repeat interval has passed since the last alert.
    REPEAT = "repeat"
    #: An alerted opportunity is no longer there (only for rules with ``gone``).
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class AlertState:
    """What is known about one opportunity under one rule, in its latest occurrence.

    Attributes:
        key: `arbwatch.core.rules.match_key`.
        rule: the rule's name.
        kind: ``arbitrage`` or ``positive_ev``.
        market: the market it is on.
        summary: one line naming it, for history and gone messages (`summarize`).
        first_seen: when this occurrence was first found.
        last_seen: the last evaluation that found it.
        best_value: the highest value in this occurrence.
        last_value: the value at ``last_seen``.
        alerted_at: the last alert (NEW, IMPROVED or REPEAT), in this occurrence or an
            earlier one; None if never alerted.
        alerted_value: the value that alert carried.
        active: still there.
        ended_at: when it went away (None while active).
        occurrence_alerted: whether this occurrence (not only an earlier one) was alerted.
            Kept, not worked out from the times: a REPEAT of the last occurrence and a new
            one can fall on the same instant, and its GONE must not follow an alert it
            never had.
    """

    key: str
    rule: str
    kind: RuleKind
    market: MarketKey
    summary: str
    first_seen: float
    last_seen: float
    best_value: float
    last_value: float
    alerted_at: float | None
    alerted_value: float | None
    active: bool
    ended_at: float | None
    occurrence_alerted: bool = False

    @property
    def alerted_this_time(self) -> bool:
        """Whether this occurrence (not only an earlier one) was alerted."""
        return self.occurrence_alerted


def summarize(opportunity: Opportunity) -> str:
    """One line: ``Lakers @ Celtics · Moneyline · Celtics (draftkings) / Lakers (fanduel)``."""
    legs = " / ".join(f"{leg.label} ({leg.book})" for leg in opportunity.legs)
    return f"{opportunity.event.name} · {opportunity.market.label()} · {legs}"


def decide(
    state: AlertState | None, value: float, now: float, rule: RuleConfig
) -> AlertReason | None:
    """Whether an opportunity seen at ``now`` with ``value`` is alerted, and why.

    ``state`` is what was known before this sighting (None: never seen, or forgotten
    because its interval passed). Never twice within ``rule.repeat`` of the last alert,
    even across the opportunity going away and coming back, unless the value rose by
    ``rule.improve_by`` (> 0) over the value last alerted. During quiet hours nothing is
    sent and nothing is marked alerted, so what is still there alerts once they end.
    """
    if rule.quiet_hours is not None and rule.quiet_hours.contains(now):
        return None
    if state is None or state.alerted_at is None or state.alerted_value is None:
        return AlertReason.NEW
    rise = value - state.alerted_value
    if rule.improve_by > 0.0 and rise >= rule.improve_by - _VALUE_EPSILON:
        return AlertReason.IMPROVED
    if now - state.alerted_at < rule.repeat:
        return None
    return AlertReason.REPEAT if state.active else AlertReason.NEW


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert to send.

    Attributes:
        reason: why.
        rule: the rule it is sent for (its ``notify`` says where).
        key: the opportunity's key.
        value: the value alerted (for GONE, the last value seen).
        opportunity: what was found; for GONE the last sighting, None only when that is
            not known (a state restored from the store and never seen again).
        state: the state after this alert.
        at: when it was decided.
    """

    reason: AlertReason
    rule: RuleConfig
    key: str
    value: float
    opportunity: Opportunity | None
    state: AlertState
    at: float


@dataclass(slots=True)
class Observation:
    """What one step of the lifecycle did.

    Attributes:
        alerts: the alerts to send, in the order decided.
        changed: every state created, updated or ended (for the store).
        suspended: the states ended without a GONE because no price said they went
            (stale quotes, a feed down); also in ``changed``.
    """

    alerts: list[Alert] = field(default_factory=list)
    changed: list[AlertState] = field(default_factory=list)
    suspended: list[AlertState] = field(default_factory=list)


@dataclass(slots=True)
class _Tracked:
    """A state in memory, with what the state itself does not keep.

    ``opportunity`` is the last sighting and ``seen_under`` the rule as it was then
    (None for a state restored from the store). ``oldest_quote`` is the oldest leg's quote
    time at the last sighting: the opportunity cannot outlive that quote's freshness.
    """

    state: AlertState
    opportunity: Opportunity | None
    seen_under: RuleConfig | None
    oldest_quote: float


class Lifecycle:
    """The states of every opportunity the rules matched, and the alerts they call for.

    Memory stays bounded: an ended state is forgotten once its rule's repeat interval has
    passed since its last alert (or at once if it was never alerted), since from then on
    it would be alerted as NEW anyway; the store keeps the history.
    """

    def __init__(self, rules: Sequence[RuleConfig], states: Iterable[AlertState] = ()) -> None:
        """Start with ``rules`` and the ``states`` restored from the store.

        Restored states of rules no longer configured are ended (at their last sighting)
        and reported with the next observation.
        """
        self._rules = {rule.name: rule for rule in rules}
        self._tracked: dict[str, _Tracked] = {}
        self._by_market: dict[MarketKey, set[str]] = {}
        # (when an ended state may be forgotten, key); checked again when popped.
        self._forget_at: list[tuple[float, str]] = []
        # States changed outside `observe` / `expire`, reported with the next of those.
        self._pending: list[AlertState] = []
        # (when a held first alert comes due, key); checked again when looked at.
        self._due_at: list[tuple[float, str]] = []
        for state in states:
            rule = self._rules.get(state.rule)
            if rule is None:
                if state.active:
                    self._pending.append(_ended(state, state.last_seen))
                continue
            self._track(_Tracked(state, None, None, state.last_seen), rule)

    # -- accessors ----------------------------------------------------------------------

    @property
    def rules(self) -> tuple[RuleConfig, ...]:
        """The rules in force."""
        return tuple(self._rules.values())

    @property
    def active_count(self) -> int:
        """Opportunities there now."""
        return sum(len(keys) for keys in self._by_market.values())

    def active(self) -> list[AlertState]:
        """The states of the opportunities there now, best value first."""
        states = [t.state for t in self._tracked.values() if t.state.active]
        return sorted(states, key=lambda s: s.last_value, reverse=True)

    def state(self, key: str) -> AlertState | None:
        """The state of ``key``, if it is in memory."""
        tracked = self._tracked.get(key)
        return None if tracked is None else tracked.state

    def __len__(self) -> int:
        """States held in memory, active or ended."""
        return len(self._tracked)

    # -- the steps ----------------------------------------------------------------------

    def observe(
        self, matches: Sequence[Match], evaluated: Collection[MarketKey], now: float
    ) -> Observation:
        """Take one evaluation's matches; ``evaluated`` are the markets it looked at.

        An active opportunity on an evaluated market that was not matched this time is
        gone, or suspended if its quotes had gone stale (the evaluation could not use
        them: no price said it went). Matches of rules no longer in force (a rule set
        older than the last `replace_rules`) are ignored.
        """
        result = self._start(now)
        matched: set[str] = set()
        for match in matches:
            rule = self._rules.get(match.rule.name)
            if rule is None or match.key in matched:
                continue
            matched.add(match.key)
            self._sighted(match, rule, now, result)
        for market in evaluated:
            keys = self._by_market.get(market)
            if keys:
                for key in [k for k in keys if k not in matched]:
                    tracked = self._tracked[key]
                    stale_at = tracked.oldest_quote + self._rules[tracked.state.rule].max_quote_age
                    if now > stale_at:
                        self._suspend(tracked, max(tracked.state.last_seen, stale_at), result)
                    else:
                        self._end(tracked, now, now, result)
        return result

    def expire(self, now: float) -> Observation:
        """What time alone changes, with no new price: call it every second or so.

        - An opportunity whose oldest quote has passed the rule's ``max_quote_age`` is
          suspended, not gone: no price moved (a new quote would have re-evaluated its
          market), so nobody can say it went; a state restored after a restart and not
          seen again ends the same way. One whose game no longer passes the rule's
          start-time filters (a pre-match game that started) is gone.
        - One still there whose alert came due (quiet hours ended, repeat interval passed)
          is alerted, if it was last seen under the rule as it is now.
        """
        result = self._start(now)
        for tracked in [t for t in self._tracked.values() if t.state.active]:
            rule = self._rules[tracked.state.rule]
            stale_at = tracked.oldest_quote + rule.max_quote_age
            opportunity = tracked.opportunity
            if now > stale_at:
                # It ended when its quote went stale; never before it was last seen.
                self._suspend(tracked, max(tracked.state.last_seen, stale_at), result)
            elif opportunity is None or tracked.seen_under != rule:
                continue
            elif not admits(rule, opportunity, now):
                self._end(tracked, now, now, result)
            elif _held(tracked.state, rule, now):
                continue
            else:
                reason = decide(tracked.state, tracked.state.last_value, now, rule)
                if reason is not None:
                    tracked.state = _alerted(tracked.state, tracked.state.last_value, now)
                    self._report(tracked, reason, rule, now, result)
        return result

    def next_due(self) -> float | None:
        """When a first alert held by ``min_duration`` comes due (None: none is held).

        The daemon calls `expire` then, so one still there is alerted even if no new price
        comes to re-evaluate it.
        """
        while self._due_at:
            due, key = self._due_at[0]
            tracked = self._tracked.get(key)
            rule = None if tracked is None else self._rules.get(tracked.state.rule)
            if (
                tracked is not None
                and rule is not None
                and tracked.state.active
                and not tracked.state.alerted_this_time
                and due == tracked.state.first_seen + rule.min_duration
            ):
                return due
            heapq.heappop(self._due_at)
        return None

    def suspend(self, books: Collection[str], now: float) -> Observation:
        """End, without GONE, every opportunity with a leg on one of ``books``.

        The daemon calls it when a feed goes down, with the books only that feed
        delivers: their quotes stay in the matrix until they go stale, but nobody knows
        whether they still stand. Should the opportunity still be there when the feed is
        back, it is a new occurrence, alerted only as `decide` allows (not within the
        repeat interval of its last alert).
        """
        result = self._start(now)
        for tracked in [t for t in self._tracked.values() if t.state.active]:
            opportunity = tracked.opportunity
            if opportunity is not None and any(leg.book in books for leg in opportunity.legs):
                self._suspend(tracked, now, result)
        return result

    def replace_rules(self, rules: Sequence[RuleConfig]) -> None:
        """Switch to ``rules`` (a config reload); changed thresholds apply from now on.

        States of rules that are gone are ended silently (at their last sighting) and
        forgotten; the store hears of them with the next observation.
        """
        self._rules = {rule.name: rule for rule in rules}
        for tracked in [t for t in self._tracked.values() if t.state.rule not in self._rules]:
            state = tracked.state
            if state.active:
                self._unindex(state)
                self._pending.append(_ended(state, state.last_seen))
            del self._tracked[state.key]

    # -- inside -------------------------------------------------------------------------

    def _start(self, now: float) -> Observation:
        """A new observation carrying pending changes, after forgetting what has expired."""
        while self._forget_at and self._forget_at[0][0] <= now:
            _, key = heapq.heappop(self._forget_at)
            tracked = self._tracked.get(key)
            if tracked is None or tracked.state.active:
                continue
            forget_at = _forget_time(tracked.state, self._rules[tracked.state.rule])
            if forget_at <= now:
                del self._tracked[key]
            else:  # the rule's repeat interval grew since this was scheduled
                heapq.heappush(self._forget_at, (forget_at, key))
        result = Observation(changed=self._pending)
        self._pending = []
        return result

    def _sighted(self, match: Match, rule: RuleConfig, now: float, result: Observation) -> None:
        """Record one sighting of ``match`` and alert if `decide` says so."""
        tracked = self._tracked.get(match.key)
        before = None if tracked is None else tracked.state
        reason = decide(before, match.value, now, rule)
        opportunity = match.opportunity
        if before is not None and before.active:
            state = replace(
                before,
                last_seen=now,
                best_value=max(before.best_value, match.value),
                last_value=match.value,
            )
        else:
            # A new occurrence; an earlier one's last alert still counts for `decide`.
            state = AlertState(
                key=match.key,
                rule=rule.name,
                kind=opportunity.kind,
                market=opportunity.market,
                summary=summarize(opportunity),
                first_seen=now,
                last_seen=now,
                best_value=match.value,
                last_value=match.value,
                alerted_at=None if before is None else before.alerted_at,
                alerted_value=None if before is None else before.alerted_value,
                active=True,
                ended_at=None,
            )
        if reason is not None and _held(state, rule, now):
            reason = None
            heapq.heappush(self._due_at, (state.first_seen + rule.min_duration, match.key))
        if reason is not None:
            state = _alerted(state, match.value, now)
        oldest = min((leg.quoted_at for leg in opportunity.legs), default=now)
        tracked = _Tracked(state, opportunity, rule, oldest)
        self._track(tracked, rule)
        if reason is None:
            result.changed.append(state)
        else:
            self._report(tracked, reason, rule, now, result)

    def _end(self, tracked: _Tracked, ended_at: float, now: float, result: Observation) -> None:
        """End an active state; a GONE alert if the rule wants one and it was alerted."""
        state = _ended(tracked.state, ended_at)
        tracked.state = state
        self._unindex(state)
        rule = self._rules[state.rule]
        quiet = rule.quiet_hours is not None and rule.quiet_hours.contains(now)
        if rule.gone and state.alerted_this_time and not quiet:
            self._report(tracked, AlertReason.GONE, rule, now, result)
        else:
            result.changed.append(state)
        heapq.heappush(self._forget_at, (_forget_time(state, rule), state.key))

    def _suspend(self, tracked: _Tracked, ended_at: float, result: Observation) -> None:
        """End an active state silently: no price said it went (see `suspend`)."""
        state = _ended(tracked.state, ended_at)
        tracked.state = state
        self._unindex(state)
        result.changed.append(state)
        result.suspended.append(state)
        heapq.heappush(self._forget_at, (_forget_time(state, self._rules[state.rule]), state.key))

    def _report(
        self,
        tracked: _Tracked,
        reason: AlertReason,
        rule: RuleConfig,
        now: float,
        result: Observation,
    ) -> None:
        """Add an alert for ``tracked`` as it is now, and its state to the changes."""
        state = tracked.state
        result.alerts.append(
            Alert(reason, rule, state.key, state.last_value, tracked.opportunity, state, now)
        )
        result.changed.append(state)

    def _track(self, tracked: _Tracked, rule: RuleConfig) -> None:
        """Hold ``tracked`` in memory, indexed by market while active."""
        state = tracked.state
        self._tracked[state.key] = tracked
        if state.active:
            self._by_market.setdefault(state.market, set()).add(state.key)
        else:
            heapq.heappush(self._forget_at, (_forget_time(state, rule), state.key))

    def _unindex(self, state: AlertState) -> None:
        """Take an ended state out of the by-market index."""
        keys = self._by_market.get(state.market)
        if keys is not None:
            keys.discard(state.key)
            if not keys:
                del self._by_market[state.market]


def _held(state: AlertState, rule: RuleConfig, now: float) -> bool:
    """Whether the first alert of ``state``'s occurrence waits for ``rule.min_duration``."""
    # Compared as times, as `Lifecycle.next_due` gives them, so its time is due exactly.
    return not state.alerted_this_time and now < state.first_seen + rule.min_duration


def _forget_time(state: AlertState, rule: RuleConfig) -> float:
    """When an ended state stops mattering to `decide`: its last alert + repeat."""
    if state.alerted_at is None:
        return -math.inf
    return state.alerted_at + rule.repeat


def _alerted(state: AlertState, value: float, now: float) -> AlertState:
    """``state`` marked as alerted at ``now`` with ``value``."""
    return replace(state, alerted_at=now, alerted_value=value, occurrence_alerted=True)


def _ended(state: AlertState, at: float) -> AlertState:
    """``state`` ended at ``at``."""
    return replace(state, active=False, ended_at=at)
