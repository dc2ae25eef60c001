"""What is wrong with the daemon now, as health `Condition`s, from a `Health` snapshot.

`look` is pure: a snapshot, the ``health`` settings, the rules and the books delivered go
in; the conditions that hold and the subjects whose status is known come out. The daemon
passes them to `arbwatch.core.conditions.HealthLifecycle`, which decides what is alerted.
The texts are written for a phone: the title is the push, the body says what to do.

========================  =====================================================  ========
condition                 holds while                                            delay
========================  =====================================================  ========
feed_stopped:FEED         the feed failed for good (no plan, a filter refused)   none
key_refused:FEED          the provider refused its key (it is tried again)       none
feed_down:FEED            the feed is connecting or backing off                  feed_down
feed_silent:FEED          connected, but nothing received for ``feed_silent``    none
credits_out:FEED          no credits / data points left                          none
credits_low:FEED          fewer left than ``credits_low`` of the plan            none
channel_failing:CHANNEL   every attempt failed for ``channel_failing``           none
engine_stalled            batches wait and no evaluation for ``engine_stalled``  none
store_failing             state-database writes fail (disk full, read-only)      none
books_unseen:RULE         a book the rule names not delivered ``books_unseen``   none
                          after start
========================  =====================================================  ========
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from arbwatch.config.model import HealthConfig
from arbwatch.core.books import book_id, book_ids
from arbwatch.core.conditions import Condition, format_duration
from arbwatch.core.rulemodel import RuleConfig
from arbwatch.core.words import plural
from arbwatch.health import ChannelHealth, FeedHealth, Health, allowance

#: Feed states in which the feed is trying to connect (not failed for good).
_DOWN_STATES = frozenset({"connecting", "backing off"})


@dataclass(frozen=True, slots=True)
class Look:
    """One look at the daemon: the conditions that hold, and the subjects known."""

    conditions: tuple[Condition, ...]
    known: frozenset[str]


def look(
    health: Health,
    settings: HealthConfig,
    rules: Sequence[RuleConfig],
    books_seen: Collection[str],
    *,
    pending_batches: int,
) -> Look:
    """The conditions that hold in ``health`` (see the module's table)."""
    conditions: list[Condition] = []
    known = {"engine"}
    for feed in health.feeds:
        conditions += _feed_conditions(feed, settings, health.at)
        if feed.state not in _DOWN_STATES or feed.reconnects > 0:
            known.add(feed_subject(feed.name))
    for channel in health.channels:
        known.add(f"channel:{channel.name}")
        failing = _channel_failing(channel, health.at, settings)
        if failing is not None:
            conditions.append(failing)
    stalled = _engine_stalled(health, settings, pending_batches)
    if stalled is not None:
        conditions.append(stalled)
    known.add("store")
    if health.store_failing_since is not None:
        conditions.append(_store_failing(health.store_failing_since, health.store_error))
    uptime = health.at - health.started_at
    if uptime >= settings.books_unseen:
        for rule in rules:
            known.add(f"rule:{rule.name}")
            unseen = _books_unseen(rule, books_seen, uptime)
            if unseen is not None:
                conditions.append(unseen)
    return Look(tuple(conditions), frozenset(known))


def feed_subject(name: str) -> str:
    """The subject of a feed's conditions."""
    return f"feed:{name}"


def book_delivered(book: str, books_seen: Collection[str]) -> bool:
    """Whether a book a rule names is among those the feeds delivered.

    The one place a rule's book is compared with the feeds' books, by the canonical id
    the engine matches them with (`arbwatch.core.books.book_id`): a rule's ``pinnacle``
    is delivered by a feed's "Pinnacle".
    """
    return book_id(book) in book_ids(books_seen)


def _feed_conditions(feed: FeedHealth, settings: HealthConfig, now: float) -> list[Condition]:
    """A feed's conditions: stopped, down, silent, out of or low on credits."""
    name = feed.name
    subject = feed_subject(name)
    provider, units = allowance(feed.provider)
    found: list[Condition] = []
    if feed.state == "refused":
        found.append(
            Condition(
                key=f"key_refused:{name}",
                subject=subject,
                delay=0.0,
                title=f"arbwatch: {name} API key refused",
                body=f"{feed.last_error}\nNo prices from {name} until the key is accepted: "
                "arbwatch tries it again every few minutes (the feed's key_retry), so a "
                "renewed key is picked up without a restart. When every feed's key is "
                "refused, arbwatch exits (status 77).",
                recovered=f"arbwatch: {name} API key accepted again",
            )
        )
    elif feed.state == "failed":
        refused = "key" in feed.fatal_error.lower()
        found.append(
            Condition(
                key=f"feed_stopped:{name}",
                subject=subject,
                delay=0.0,
                title=f"arbwatch: {name} API key refused"
                if refused
                else f"arbwatch: feed {name} stopped",
                body=f"{feed.fatal_error}\nNo prices from {name} until this is fixed and "
                "arbwatch restarted.",
                recovered=f"arbwatch: feed {name} running again",
            )
        )
    elif feed.state in _DOWN_STATES:
        error = f" Last error: {feed.last_error}." if feed.last_error else ""
        found.append(
            Condition(
                key=f"feed_down:{name}",
                subject=subject,
                delay=settings.feed_down,
                title=f"arbwatch: feed {name} down for {format_duration(settings.feed_down)}",
                body=f"{provider} feed {name} is not connected "
                f"({plural(feed.reconnects, 'reconnect')}).{error} "
                "Its opportunities are suspended until it is back.",
                recovered=f"arbwatch: feed {name} back up",
            )
        )
    elif (
        # Out of credits explains the silence, and has its own alert.
        not feed.out_of_credits
        and (silence := _silence(feed)) is not None
        and silence >= settings.feed_silent
    ):
        found.append(
            Condition(
                key=f"feed_silent:{name}",
                subject=subject,
                delay=0.0,
                title=f"arbwatch: feed {name} silent for {format_duration(settings.feed_silent)}",
                body=f"{provider} feed {name} is connected but has sent no odds for "
                f"{format_duration(silence)}: no new prices are coming in.",
                recovered=f"arbwatch: feed {name} sending again",
                started=now - silence,
            )
        )
    found += _credit_conditions(feed, settings, subject, provider, units)
    return found


def _silence(feed: FeedHealth) -> float | None:
    """Seconds since the feed last sent odds (or anything, if it cannot tell odds apart).

    RapidOddsAPI pushes every scrape cycle, prices moved or not, so its silence counts
    from the last push: a server that greets every reconnect and then pushes nothing is
    silent, though each greeting is a message.
    """
    return feed.last_data_age if feed.last_data_age is not None else feed.last_message_age


def _credit_conditions(
    feed: FeedHealth, settings: HealthConfig, subject: str, provider: str, units: str
) -> list[Condition]:
    """Out of credits (or data points), and running low, with the provider's figures."""
    remaining, limit, name = feed.credits_remaining, feed.credits_limit, feed.name
    if remaining is None:
        return []
    figures = f"{remaining:,} of {limit:,}" if limit else f"{remaining:,}"
    found: list[Condition] = []
    if feed.out_of_credits or remaining == 0:
        found.append(
            Condition(
                key=f"credits_out:{name}",
                subject=subject,
                delay=0.0,
                title=f"arbwatch: {name} out of {units}",
                body=f"{provider} says {figures} {units} left: no prices from {name} until the "
                "plan renews or is topped up. arbwatch stays connected and resumes by itself.",
                recovered=f"arbwatch: {name} {units} back",
            )
        )
    if limit and remaining < settings.credits_low * limit:
        found.append(
            Condition(
                key=f"credits_low:{name}",
                subject=subject,
                # Out of credits says more: "low" is not pushed as well, nor does it
                # recover meanwhile (if it was pushed before); a top-up that leaves
                # credits low pushes it then.
                delay=math.inf if found else 0.0,
                title=f"arbwatch: {name} {units} low: {remaining:,} left",
                body=f"{provider} says {figures} {units} left "
                f"({remaining / limit:.0%}, alert below {settings.credits_low:.0%}).",
                recovered=f"arbwatch: {name} {units} no longer low",
            )
        )
    return found


def _channel_failing(
    channel: ChannelHealth, now: float, settings: HealthConfig
) -> Condition | None:
    """A channel whose every attempt has failed for ``channel_failing`` seconds."""
    since = channel.failing_since
    if since is None or now - since < settings.channel_failing:
        return None
    name = channel.name
    return Condition(
        key=f"channel_failing:{name}",
        subject=f"channel:{name}",
        delay=0.0,
        title=f"arbwatch: channel {name} failing for {format_duration(settings.channel_failing)}",
        body=f"Alerts to {name} are not arriving: every attempt failed "
        f"(last error: {channel.last_error or 'none given'}). Check its URL and service.",
        recovered=f"arbwatch: channel {name} delivering again",
        # Told through the other channels: this one is not delivering.
        exclude=(name,),
        started=since,
    )


def _engine_stalled(
    health: Health, settings: HealthConfig, pending_batches: int
) -> Condition | None:
    """Batches waiting, and no evaluation for ``engine_stalled`` seconds."""
    idle = health.last_evaluation_age
    if idle is None:
        idle = health.at - health.started_at
    if pending_batches == 0 or idle < settings.engine_stalled:
        return None
    return Condition(
        key="engine_stalled",
        subject="engine",
        delay=0.0,
        title=f"arbwatch: engine stalled for {format_duration(settings.engine_stalled)}",
        body=f"{pending_batches:,} price batches are waiting and nothing was evaluated for "
        f"{format_duration(idle)}: alerts are late or missing. Restart arbwatch if it lasts.",
        recovered="arbwatch: engine running again",
        started=health.at - idle,
    )


def _store_failing(since: float, error: str) -> Condition:
    """Writes to the state database fail: alerts go out, but nothing is remembered."""
    return Condition(
        key="store_failing",
        subject="store",
        delay=0.0,
        title="arbwatch: state database not writable",
        body=f"{error or 'Writes to the state database fail.'}\nAlerts still go out, but "
        "history is not kept and an alert may repeat after a restart. Free space in the "
        "state directory or make it writable: writing resumes by itself.",
        recovered="arbwatch: state database written again",
        started=since,
    )


def _books_unseen(rule: RuleConfig, books_seen: Collection[str], uptime: float) -> Condition | None:
    """A rule naming books (``books``, ``sharp``) that no feed has delivered."""
    named = (*sorted(rule.books or ()), *rule.sharp)
    missing = [book for book in dict.fromkeys(named) if not book_delivered(book, books_seen)]
    if not missing:
        return None
    delivered = ", ".join(sorted(books_seen)) or "none yet"
    return Condition(
        key=f"books_unseen:{rule.name}",
        subject=f"rule:{rule.name}",
        delay=0.0,
        title=f"arbwatch: rule {rule.name}: no prices from {', '.join(missing)}",
        body=f"No feed has delivered {', '.join(missing)} in {format_duration(uptime)}, so "
        f"rule {rule.name} cannot use it. Check the spelling; the feeds deliver: {delivered}.",
        recovered=f"arbwatch: rule {rule.name}: all its books delivered",
    )
