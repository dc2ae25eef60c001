"""The lifecycle of health conditions (a feed down, a channel failing): raised, reminded, cleared.

The daemon looks at itself every second or so and lists the `Condition`s that hold now (a
feed not connected, credits low, ...), with how long each must hold before it is worth a
push (``delay``). `HealthLifecycle.step` turns those sightings into alerts, the way
`arbwatch.core.dedup` does for opportunities:

- RAISED once a condition has held for its ``delay`` (0: at once, as for a refused key);
- REPEAT every ``repeat`` seconds while it still holds (0: never);
- RECOVERED once a raised condition has stayed clear for ``recovery`` seconds.

Hysteresis on both sides: a condition that clears for less than ``recovery`` seconds is
still the same condition (a feed that flaps between up and down is one alert, whose delay
counts from the first time it went down), and one that was never raised is forgotten only
after the same ``recovery`` seconds clear.

Only a subject whose status is known may clear: right after a restart a feed is still
connecting, so a "feed down" raised before the restart is neither re-alerted nor declared
recovered until the feed has connected or failed. States are kept by the store, so a
condition alerted before a restart is not alerted again, and a recovery that happened
while the daemon was down is alerted once the subject is known again. Time is passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum


class HealthReason(StrEnum):
    """Why a health alert is sent."""

    RAISED = "raised"
    REPEAT = "repeat"
    RECOVERED = "recovered"


@dataclass(frozen=True, slots=True)
class Condition:
    """Something wrong, as seen now.

    Attributes:
        key: names the condition and its subject, e.g. ``feed_down:rapid``; the same
            condition keeps its key from one look to the next.
        subject: what it is about (a feed, a channel, a rule, ``engine``); see ``known``
            in `HealthLifecycle.step`.
        delay: seconds it must hold before it is alerted (0: at once).
        title: the push text, e.g. ``arbwatch: feed rapid down``.
        body: what a bettor needs to act: figures, the error, what to do.
        recovered: the push text once it clears, e.g. ``arbwatch: feed rapid back up``.
        exclude: channels it must not be sent to (a failing channel is told through the
            others).
        started: when what it describes began, if known before it was first seen (a
            channel's first failed attempt, a feed's last message); its delay and how
            long it lasted count from there. None: from the look that first sees it.
    """

    key: str
    subject: str
    delay: float
    title: str
    body: str
    recovered: str
    exclude: tuple[str, ...] = ()
    started: float | None = None


@dataclass(frozen=True, slots=True)
class ConditionState:
    """What is known of one condition.

    Attributes:
        condition: as last seen while it held.
        since: when it started to hold (a clear spell shorter than ``recovery`` does not
            restart it).
        raised_at: its last RAISED or REPEAT alert; None while not alerted.
        clear_since: when it stopped holding (None while it holds).
    """

    condition: Condition
    since: float
    raised_at: float | None = None
    clear_since: float | None = None

    @property
    def key(self) -> str:
        """The condition's key."""
        return self.condition.key


@dataclass(frozen=True, slots=True)
class HealthAlert:
    """One health alert to send: ``title`` and ``body`` are the message."""

    reason: HealthReason
    key: str
    title: str
    body: str
    exclude: tuple[str, ...]
    at: float


@dataclass(slots=True)
class HealthStep:
    """What one step did: alerts to send, states to keep, keys to forget (for the store)."""

    alerts: list[HealthAlert] = field(default_factory=list)
    changed: list[ConditionState] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)


def decide(
    state: ConditionState, holds: bool, now: float, *, recovery: float, repeat: float
) -> HealthReason | None:
    """Whether ``state`` (already updated with this look) calls for an alert at ``now``.

    ``holds``: the condition holds now. A condition raised and clear for ``recovery``
    seconds has RECOVERED; one held for its delay and not raised is RAISED; one raised
    ``repeat`` seconds ago (``repeat`` > 0) and still holding is a REPEAT.
    """
    if not holds:
        clear = state.clear_since
        if state.raised_at is not None and clear is not None and now - clear >= recovery:
            return HealthReason.RECOVERED
        return None
    if state.raised_at is None:
        return HealthReason.RAISED if now - state.since >= state.condition.delay else None
    if repeat > 0 and now - state.raised_at >= repeat:
        return HealthReason.REPEAT
    return None


class HealthLifecycle:
    """Every health condition seen, and the alerts their changes call for.

    Args:
        recovery: seconds a condition must stay clear to have recovered (and, if it was
            never raised, to be forgotten).
        repeat: seconds between reminders of a condition that lasts (0: never).
        states: states restored from the store.
    """

    def __init__(
        self, *, recovery: float, repeat: float, states: Iterable[ConditionState] = ()
    ) -> None:
        """Start with the restored ``states``."""
        self.recovery = recovery
        self.repeat = repeat
        self._states = {state.key: state for state in states}

    def states(self) -> list[ConditionState]:
        """Every condition held now, oldest first."""
        return sorted(self._states.values(), key=lambda state: state.since)

    def raised(self) -> list[ConditionState]:
        """The conditions alerted and not yet recovered, oldest first."""
        return [state for state in self.states() if state.raised_at is not None]

    def step(
        self, conditions: Sequence[Condition], known: Collection[str], now: float
    ) -> HealthStep:
        """Take one look: the ``conditions`` that hold at ``now``.

        ``known`` are the subjects whose status is known, so that a condition of theirs
        that is not listed has cleared. A condition of an unknown subject that is not
        listed keeps its state untouched.
        """
        result = HealthStep()
        present = {condition.key: condition for condition in conditions}
        for key, condition in present.items():
            before = self._states.get(key)
            if before is None:
                since = now if condition.started is None else min(condition.started, now)
                state = ConditionState(condition, since=since)
            else:
                state = replace(before, condition=condition, clear_since=None)
            self._settle(state, before, True, now, result)
        for key, before in list(self._states.items()):
            if key in present or before.condition.subject not in known:
                continue
            state = before if before.clear_since is not None else replace(before, clear_since=now)
            self._settle(state, before, False, now, result)
        return result

    def _settle(
        self,
        state: ConditionState,
        before: ConditionState | None,
        holds: bool,
        now: float,
        result: HealthStep,
    ) -> None:
        """Decide on ``state``, keep it (or forget it), and note what changed."""
        reason = decide(state, holds, now, recovery=self.recovery, repeat=self.repeat)
        condition = state.condition
        if reason is HealthReason.RECOVERED:
            body = _recovery_body(state, now)
            result.alerts.append(
                HealthAlert(reason, state.key, condition.recovered, body, condition.exclude, now)
            )
            self._forget(state.key, result)
            return
        # Never raised and clear long enough: nothing to tell, nothing to keep.
        clear = state.clear_since
        if state.raised_at is None and clear is not None and now - clear >= self.recovery:
            self._forget(state.key, result)
            return
        if reason is not None:
            state = replace(state, raised_at=now)
            title = condition.title
            if reason is HealthReason.REPEAT:
                title = f"{title} (still)"
            result.alerts.append(
                HealthAlert(reason, state.key, title, condition.body, condition.exclude, now)
            )
        self._states[state.key] = state
        if state != before:
            result.changed.append(state)

    def _forget(self, key: str, result: HealthStep) -> None:
        """Drop a state from memory and from the store."""
        if self._states.pop(key, None) is not None:
            result.forgotten.append(key)


def _recovery_body(state: ConditionState, now: float) -> str:
    """What a recovery says: how long the condition lasted."""
    clear = state.clear_since if state.clear_since is not None else now
    return f"It lasted {format_duration(clear - state.since)}."


def format_duration(seconds: float) -> str:
    """``42s``, ``2m``, ``2m 05s``, ``1h 03m``, ``2d 4h``: short enough for a push."""
    whole = max(round(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"
