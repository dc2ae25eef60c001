"""Grouping and limits per channel: what goes out together, and how much a phone gets.

Alertmanager's model, decided here as plain functions of ``now`` (no clock, no I/O); the
notifier (`arbwatch.notify.deliver`) calls `Grouper.add` as alerts are decided and
`Grouper.due` when `Grouper.next_due` comes, and sends what it returns.

- A *group* is one event (one game): the opportunities of one game found at about the same
  time, under any rule, go out as one message. Grouping by event rather than by rule and
  event keeps an arbitrage and the +EV prices it is made of together, which is how a
  bettor acts on them; different games are different decisions and stay apart.
- ``group_wait``: a group's first message waits this long, so what appears together (one
  price move makes several opportunities at once) goes out as one message.
- ``group_interval``: after a group's message, the next one for the same game waits until
  this long after it. Apprise cannot edit a sent message, so improvements within the
  interval wait and go out as one update with the latest figures: a later alert for the
  same opportunity replaces the earlier one still waiting.
- ``max_per_minute``: at most this many messages in any 60 seconds. A group that comes
  due beyond it is folded into a digest (``+12 more: ...``), sent as soon as the window
  has room again: nothing is dropped silently.
- A NEW still waiting when its GONE arrives is never sent, nor the GONE: the price blinked.
- Health alerts (a feed down, ...) wait ``group_wait`` at most, and are never folded away
  nor held back by the cap.

With ``group_wait`` and ``group_interval`` both 0, every alert is its own message (the cap
still applies when set).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Final

from arbwatch.notify.message import Message, combine, digest

#: The window the cap counts messages in.
CAP_WINDOW: Final = 60.0
#: The rule name health alerts carry in messages, the store and status.
HEALTH_RULE: Final = "health"

#: One alert waiting, with its row in the store's notification log (None: not logged).
Entry = tuple[Message, int | None]


@dataclass(frozen=True, slots=True)
class GroupSettings:
    """One channel's grouping and limit, as its config gives them.

    Attributes:
        group_wait: seconds a new group waits for more of its kind before its message.
        group_interval: seconds between two messages of the same group.
        max_per_minute: messages a channel sends in any 60 s, beyond which alerts are
            folded into a digest (0: no cap).
    """

    group_wait: float = 0.5
    group_interval: float = 30.0
    max_per_minute: int = 6


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send, and the alerts it carries (each settled with its outcome).

    Attributes:
        message: what is sent: one alert, a group's alerts combined, or a digest.
        entries: the alerts it stands for, superseded versions included.
    """

    message: Message
    entries: tuple[Entry, ...]


@dataclass(slots=True)
class _Group:
    """A group's alerts waiting, by opportunity key in order of arrival.

    Each key holds every version that arrived; the last is the one shown.
    """

    due_at: float
    health: bool
    versions: dict[str, list[Entry]] = field(default_factory=dict)


class Grouper:
    """One channel's waiting alerts, and the decisions of when they go out."""

    def __init__(self, settings: GroupSettings) -> None:
        """Start empty with ``settings`` (they may be replaced later: `settings`)."""
        self.settings = settings
        self._groups: dict[str, _Group] = {}
        #: Group -> when its last message went out, for ``group_interval``.
        self._flushed: dict[str, float] = {}
        #: When each message in the last `CAP_WINDOW` seconds went out, oldest first.
        self._sent: deque[float] = deque()
        #: Alerts folded away by the cap, waiting to go out as one digest.
        self._folded: list[Entry] = []
        #: Counts the groups of alerts that are not grouped, so each is its own.
        self._serial = 0

    def __len__(self) -> int:
        """Alerts waiting here (in groups or the digest)."""
        groups = self._groups.values()
        return sum(len(v) for g in groups for v in g.versions.values()) + len(self._folded)

    def add(self, message: Message, decision: int | None, now: float) -> list[Entry]:
        """Take one alert decided at ``now``; returns the alerts cancelled by it.

        A GONE whose NEW is still waiting (in a group, or folded for the digest) cancels
        both: the two are returned, to be settled as not sent.
        """
        if message.reason == "gone":
            folded = [entry for entry in self._folded if entry[0].key == message.key]
            if folded and folded[0][0].reason == "new":
                self._folded = [entry for entry in self._folded if entry[0].key != message.key]
                return [*folded, (message, decision)]
        health = message.rule == HEALTH_RULE
        name = self._group_name(message, health)
        group = self._groups.get(name)
        if group is None:
            group = self._groups[name] = _Group(self._first_due(name, now, health), health)
        versions = group.versions.setdefault(message.key, [])
        if message.reason == "gone" and versions and versions[0][0].reason == "new":
            cancelled = [*group.versions.pop(message.key), (message, decision)]
            if not group.versions:
                del self._groups[name]
            return cancelled
        versions.append((message, decision))
        return []

    def due(self, now: float) -> list[Outgoing]:
        """What goes out at ``now``, in order: groups that came due, then any digest."""
        interval = self.settings.group_interval
        for name in [name for name, at in self._flushed.items() if at + interval <= now]:
            del self._flushed[name]
        # In the order they came due; those due at once in the order they were started.
        ready = sorted(
            (name for name, group in self._groups.items() if group.due_at <= now),
            key=lambda name: self._groups[name].due_at,
        )
        return self._release(ready, now, digest_always=False)

    def drain(self, now: float) -> list[Outgoing]:
        """Everything waiting, at once (shutdown): groups within the cap, the rest a digest.

        The digest goes even if the cap is reached: it is the last message there will be.
        """
        return self._release(list(self._groups), now, digest_always=True)

    def _release(self, ready: list[str], now: float, *, digest_always: bool) -> list[Outgoing]:
        """Send or fold the groups named ``ready``, then send the digest if there is room."""
        while self._sent and self._sent[0] <= now - CAP_WINDOW:
            self._sent.popleft()
        out: list[Outgoing] = []
        for name in ready:
            group = self._groups.pop(name)
            entries = tuple(entry for versions in group.versions.values() for entry in versions)
            latest = [versions[-1][0] for versions in group.versions.values()]
            if not group.health:
                self._flushed[name] = now
                if self._folded or not self._room():
                    self._folded.extend(entries)
                    continue
            out.append(Outgoing(combine(latest), entries))
            self._sent.append(now)
        if self._folded and (digest_always or self._room()):
            entries = tuple(self._folded)
            self._folded = []
            # One line per opportunity, with its latest figures.
            shown = {message.key: message for message, _ in entries}
            out.append(Outgoing(digest(list(shown.values())), entries))
            self._sent.append(now)
        return out

    def next_due(self) -> float | None:
        """When `due` next has something to send (None: nothing is waiting)."""
        times = [group.due_at for group in self._groups.values()]
        if self._folded:
            # The digest goes once the oldest send leaves the window (or at once if none).
            cap = self.settings.max_per_minute
            times.append(self._sent[-cap] + CAP_WINDOW if len(self._sent) >= cap > 0 else 0.0)
        return min(times, default=None)

    def _group_name(self, message: Message, health: bool) -> str:
        """The group an alert joins: its event's; every health alert together."""
        settings = self.settings
        if not settings.group_wait and not settings.group_interval:
            self._serial += 1
            return f"#{self._serial}"
        if health:
            return "\0health"
        return message.group or f"\0{message.key}"

    def _first_due(self, name: str, now: float, health: bool) -> float:
        """When a new group's message goes: ``group_wait`` on, no sooner than the interval."""
        due = now + self.settings.group_wait
        flushed = self._flushed.get(name)
        if flushed is not None and not health:
            due = max(due, flushed + self.settings.group_interval)
        return due

    def _room(self) -> bool:
        """Whether the cap lets one more message go now."""
        cap = self.settings.max_per_minute
        return cap <= 0 or len(self._sent) < cap
