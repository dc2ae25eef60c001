"""Alert text: what a bettor's phone shows for an opportunity, and for one that has gone.

Pure: the time, the odds format, the currency and the time zone are all passed in, so the
same opportunity always renders the same text. The title is the push notification itself,
so it carries the decision (kind, value, sport, game, market); the body carries the numbers
a bettor acts on, one line per bet. Each alert is rendered once for every kind of app, with
the same facts in each (`arbwatch.notify.apps` picks one per channel URL):

- ``body``, plain text: one bet per line, its fields split by `` · `` rather than lined up
  with spaces, which a phone's proportional font would leave ragged::

    ARB +3.73% · NBA · Lakers @ Celtics · Moneyline
    Celtics +110 @ Pinnacle · stake $493.98 · quote 4s old
    Lakers +105 @ DraftKings · stake $506.02 · quote 2s old
    Payout $1,037.35 on either side · profit $37.35 on $1,000 staked
    Tue 14 Jan 19:30 EST · starts in 2h 13m
    rule nba-arbs

- ``html``, Telegram's HTML subset (``b``, ``i``, ``a``, ``pre``; line breaks are newlines):
  the bets lined up in a ``<pre>`` block, which every app shows in a monospace font. E-mail
  takes the same with ``<br>`` line breaks (`email_html`).
- ``markdown``, Discord's: the bets lined up in a fenced code block.

Stakes rounded to a book's increment pay slightly differently per outcome; the payout and
profit shown are then the worst case (``Payout at least ...``), what is really locked in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final
from zoneinfo import ZoneInfo

from arbwatch.core.evaluate import Arbitrage, ArbitrageSettings, Opportunity, find_arbitrage
from arbwatch.core.markets import Event, PriceUpdate, moneyline
from arbwatch.core.matrix import PriceMatrix
from arbwatch.core.odds import OddsFormat, format_odds

#: Short tags for the kinds of opportunity, as the title starts.
_KIND_TAGS: Final = {"arbitrage": "ARB", "positive_ev": "EV"}
#: Why an alert is sent (the dedup stage decides) -> how the title marks it: first sight,
#: a better price, a reminder.
_REASON_MARKS: Final = {"new": "", "improved": " ▲", "repeat": " again"}
#: Money to the cent: amounts this close to a whole number are shown without cents.
_CENT: Final = 0.005

_SECONDS_PER_MINUTE: Final = 60
_SECONDS_PER_HOUR: Final = 3600
_SECONDS_PER_DAY: Final = 86400
#: Spans are shown up to this (about 31,700 years): past it a figure means nothing, and
#: `int` of an infinite one would raise.
_LONGEST_SPAN: Final = 1e12
#: Amounts this large are shown in scientific notation: as whole numbers the largest floats
#: have 309 digits, and an infinite one cannot be rounded at all.
_LARGEST_PLAIN_AMOUNT: Final = 1e15


@dataclass(frozen=True, slots=True)
class Message:
    """One alert, ready for any channel.

    Attributes:
        title: the push text: short, everything needed to decide whether to look.
        body: the lines with the bets, stakes and timing, as plain text.
        found_at: epoch seconds when the opportunity was found; a channel's freshness is
            measured from it, so a late alert is dropped rather than sent.
        rule: the name of the rule that raised it.
        key: the opportunity's identity in the alert lifecycle (dedup and the store).
        group: what it is sent together with (`arbwatch.notify.grouping`): the event's id
            for an opportunity; empty for a message on its own.
        reason: ``new``, ``improved``, ``repeat`` or ``gone`` for an opportunity; empty
            otherwise. A NEW still waiting when its GONE comes is never sent, nor the GONE.
        html: ``body`` in Telegram's HTML subset (empty: ``body`` escaped is used).
        markdown: ``body`` in Discord's markdown (empty: ``body`` escaped is used).
    """

    title: str
    body: str
    found_at: float
    rule: str
    key: str
    group: str = ""
    reason: str = ""
    html: str = field(default="", compare=False)
    markdown: str = field(default="", compare=False)

    def html_body(self) -> str:
        """The body in Telegram's HTML subset, from ``body`` when there is no ``html``."""
        return self.html or html.escape(self.body, quote=False)

    def markdown_body(self) -> str:
        """The body in Discord's markdown, from ``body`` when there is no ``markdown``."""
        return self.markdown or escape_markdown(self.body)


@dataclass(frozen=True, slots=True)
class _Text:
    """An alert's facts before they are written for an app.

    ``legs`` are the bets' cells (outcome, price, ``@ book``, stake, quote age), lined up in
    a monospace block where the app has one and joined by `` · `` where it has not; ``lines``
    follow them; ``link`` is the provider's page for the event, if it gave one.
    """

    title: str
    legs: Sequence[Sequence[str]]
    lines: Sequence[str]
    link: str = ""


def render(
    opportunity: Opportunity,
    *,
    reason: str,
    rule: str,
    key: str,
    now: float,
    odds_format: OddsFormat,
    currency: str,
    timezone: ZoneInfo,
    kelly_fraction: float | None = None,
) -> Message:
    """The alert for an opportunity that is open at ``now``.

    Args:
        opportunity: what the evaluator found.
        reason: ``new``, ``improved`` (the title gets ``▲``) or ``repeat`` (``again``).
        rule: the rule's name, shown last.
        key: the opportunity's identity, passed through to the message.
        now: epoch seconds; quote ages and the time to the start are measured from it.
        odds_format: how prices are written.
        currency: put before amounts (``$``, ``£``, ``€``).
        timezone: the zone the start time is shown in.
        kelly_fraction: +EV: the rule's share of the full Kelly stake that made the stake,
            named beside it (None: the stake is shown without it).

    Returns:
        The message; its ``found_at`` is the opportunity's.

    Raises:
        ValueError: ``reason`` is none of the three.
    """
    mark = _REASON_MARKS.get(reason)
    if mark is None:
        raise ValueError(
            f"an open opportunity is alerted as new, improved or repeat, not {reason!r}"
        )
    one_book = isinstance(opportunity, Arbitrage) and opportunity.one_book
    title = (
        f"{_KIND_TAGS[opportunity.kind]} {opportunity.value:+.2%}{mark}"
        f"{' one book' if one_book else ''} · {_subject(opportunity)}"
    )
    legs = _leg_cells(opportunity, now, odds_format, currency)
    if isinstance(opportunity, Arbitrage):
        lines = [_payout_line(opportunity, currency)]
        if one_book:
            lines.append(
                f"One book ({opportunity.legs[0].book}): likely a stale side,"
                " which the book may refuse or void"
            )
    else:
        kelly = f"full Kelly {opportunity.kelly:.1%} of bankroll"
        if kelly_fraction is not None:
            # The stake is the fraction of the full Kelly stake: name both, so that the
            # figure on the bet line can be checked.
            kelly = (
                f"stake {_money(opportunity.leg.stake, currency)} ="
                f" {_fraction_name(kelly_fraction)} Kelly of {opportunity.kelly:.1%} of bankroll"
            )
        lines = [
            f"Fair odds {_fair_odds(opportunity.fair_price, odds_format)}"
            f" ({opportunity.fair_probability:.1%} to win)",
            f"Devig {opportunity.devig.value.replace('_', ' ')}"
            f" from {', '.join(opportunity.sharp_books)} · {kelly}",
        ]
    lines.extend([_start_line(opportunity.event, now, timezone), f"rule {rule}"])
    text = _Text(title, legs, lines, opportunity.event.url)
    return _message(
        text,
        found_at=opportunity.found_at,
        rule=rule,
        key=key,
        group=opportunity.event.event_id,
        reason=reason,
    )


def render_gone(
    opportunity: Opportunity | None,
    *,
    summary: str,
    rule: str,
    key: str,
    first_seen: float,
    now: float,
    best_value: float,
    kind: str,
    group: str = "",
) -> Message:
    """The follow-up for an alerted opportunity that has disappeared.

    Args:
        opportunity: the last version seen, when still at hand; names the game and the bets.
        summary: ``sport · game · market``, used for the title when ``opportunity`` is None.
        rule: the rule's name.
        key: the opportunity's identity.
        first_seen: epoch seconds when it was first found.
        now: epoch seconds when it was found to be gone; the message's ``found_at``.
        best_value: the best profit or EV it reached, as a fraction.
        kind: ``arbitrage`` or ``positive_ev``.
        group: the event's id when ``opportunity`` is None (it is taken from it otherwise).

    Returns:
        ``GONE · ARB +2.14% · ...`` with how long it lasted.
    """
    subject = _subject(opportunity) if opportunity is not None else summary
    title = f"GONE · {_KIND_TAGS.get(kind, kind.upper())} {best_value:+.2%} · {subject}"
    lines = [f"Lasted {_duration(now - first_seen)} · best {best_value:+.2%}"]
    if opportunity is not None:
        bets = ", ".join(f"{leg.label} @ {leg.book}" for leg in opportunity.legs)
        lines.append(f"Was: {bets}")
        group = opportunity.event.event_id
    lines.append(f"rule {rule}")
    return _message(
        _Text(title, (), lines), found_at=now, rule=rule, key=key, group=group, reason="gone"
    )


def combine(messages: Sequence[Message]) -> Message:
    """Alerts that go out together (one game's, `arbwatch.notify.grouping`) as one message.

    The title is the first alert's, with how many more follow; the body has each alert's
    title and body in turn. One alert is returned as it is.
    """
    first = messages[0]
    if len(messages) == 1:
        return first
    rules = ", ".join(dict.fromkeys(message.rule for message in messages))
    return Message(
        title=f"{first.title} (+{len(messages) - 1} more)",
        body="\n\n".join(f"{m.title}\n{m.body}" for m in messages),
        found_at=max(message.found_at for message in messages),
        rule=rules,
        key=first.key,
        group=first.group,
        html="\n\n".join(
            f"<b>{html.escape(m.title, quote=False)}</b>\n{m.html_body()}" for m in messages
        ),
        markdown="\n\n".join(
            f"**{escape_markdown(m.title)}**\n{m.markdown_body()}" for m in messages
        ),
    )


#: Titles a digest lists before it only counts the rest.
DIGEST_TITLES: Final = 15


def digest(messages: Sequence[Message]) -> Message:
    """Alerts folded away by a channel's cap a minute, as one message: ``+12 more: ...``.

    Every alert is counted; the first `DIGEST_TITLES` are named by their titles.
    """
    titles = [message.title for message in messages]
    lines = [
        f"{len(titles)} alerts over this channel's limit a minute, in one message:",
        *(f"- {title}" for title in titles[:DIGEST_TITLES]),
    ]
    if len(titles) > DIGEST_TITLES:
        lines.append(f"... and {len(titles) - DIGEST_TITLES} more")
    return Message(
        title=f"+{len(titles)} more: {titles[0]}",
        body="\n".join(lines),
        found_at=max(message.found_at for message in messages),
        rule=", ".join(dict.fromkeys(message.rule for message in messages)),
        key=messages[0].key,
        reason="digest",
    )


def render_sample(
    now: float, odds_format: OddsFormat, currency: str, timezone: ZoneInfo
) -> Message:
    """A sample alert for ``arbwatch test-notify``, marked as a test in its title.

    It is a real arbitrage found by the engine in a small price matrix (Lakers @ Celtics,
    two books, starting in 2h 13m), so it shows exactly what a live alert looks like.
    """
    event = Event("sample", sport="NBA", home="Celtics", away="Lakers", starts_at=now + 7980.0)
    market = moneyline(event.event_id)
    matrix = PriceMatrix()
    matrix.set_event(event)
    matrix.apply(
        [
            PriceUpdate(market, 0, "Pinnacle", 2.10, now - 4.0),
            PriceUpdate(market, 1, "DraftKings", 2.05, now - 2.0),
            PriceUpdate(market, 0, "DraftKings", 1.80, now - 2.0),
            PriceUpdate(market, 1, "Pinnacle", 1.83, now - 4.0),
        ]
    )
    settings = ArbitrageSettings(bankroll=1000.0, stake_increment=1.0)
    (arbitrage,) = find_arbitrage(matrix.block(), now, settings)
    message = render(
        arbitrage,
        reason="new",
        rule="sample (arbwatch test-notify)",
        key="sample",
        now=now,
        odds_format=odds_format,
        currency=currency,
        timezone=timezone,
    )
    return dataclasses.replace(message, title=f"TEST · {message.title}")


def _subject(opportunity: Opportunity) -> str:
    """``NBA · Lakers @ Celtics · Moneyline``; the sport is left out when unknown."""
    parts = [opportunity.event.sport, opportunity.event.name, opportunity.market.label()]
    return " · ".join(part for part in parts if part)


def _leg_cells(
    opportunity: Opportunity, now: float, odds_format: OddsFormat, currency: str
) -> list[list[str]]:
    """Per bet: outcome, price, ``@ book``, stake, how old the quote is (and any commission)."""
    rows = []
    for leg in opportunity.legs:
        age = f"quote {_duration(leg.age(now))} old"
        if leg.effective_price != leg.price:
            # An exchange's cut of the winnings: o' = 1 + (o - 1)(1 - c), solved for c. The
            # stake and profit already allow for it; the bettor should know why.
            commission = 1.0 - (leg.effective_price - 1.0) / (leg.price - 1.0)
            age += f", after {commission * 100:.3g}% commission"
        rows.append(
            [
                leg.label,
                format_odds(leg.price, odds_format),
                f"@ {leg.book}",
                f"stake {_money(leg.stake, currency)}",
                age,
            ]
        )
    return rows


def _lined_up(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells in columns, for a monospace block; prices (column 1) to the right."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if column == 1 else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


#: Characters Discord's markdown reads as formatting anywhere in a line (``#``, ``>`` and
#: ``-`` only mean something at a line's start, where no line of an alert has them).
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_~|\[\]])")


def escape_markdown(text: str) -> str:
    """``text`` with every character Discord's markdown reads as formatting escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _message(
    text: _Text, *, found_at: float, rule: str, key: str, group: str = "", reason: str = ""
) -> Message:
    """``text`` written as plain text, Telegram HTML and Discord markdown."""
    plain_lines = [_bet_phrase(row) for row in text.legs]
    lines = list(text.lines)
    if text.link:
        lines.insert(len(lines) - 1, f"Event page: {text.link}")
    body = "\n".join([*plain_lines, *lines])
    escaped = [html.escape(line, quote=False) for line in text.lines]
    md_lines = [escape_markdown(line) for line in text.lines]
    if text.link:
        anchor = f'<a href="{html.escape(text.link)}">Event page</a>'
        escaped.insert(len(escaped) - 1, anchor)
        md_lines.insert(len(md_lines) - 1, f"[Event page](<{text.link}>)")
    html_parts = []
    md_parts = []
    if text.legs:
        block = _lined_up(text.legs)
        html_parts.append(f"<pre>{html.escape(block, quote=False)}</pre>")
        # A fence cannot be closed early by a team's name: no backticks in the block.
        fenced = block.replace("`", "'")
        md_parts.append(f"```\n{fenced}\n```")
    html_parts.append("\n".join(escaped))
    md_parts.append("\n".join(md_lines))
    return Message(
        title=text.title,
        body=body,
        found_at=found_at,
        rule=rule,
        key=key,
        group=group,
        reason=reason,
        html="\n".join(html_parts),
        markdown="\n".join(md_parts),
    )


def _bet_phrase(row: Sequence[str]) -> str:
    """One bet on one line: ``Celtics +110 @ Pinnacle · stake $494 · quote 4s old``."""
    label, price, book, *rest = row
    return " · ".join([f"{label} {price} {book}", *rest])


def _fair_odds(price: float, odds_format: OddsFormat) -> str:
    """Fair odds as a bettor reads them; a certainty (probability 1, odds 1.0) too.

    Devigging a sharp market where one side is absurdly long (2.0 against 1.8e16) leaves
    the other a fair probability of 1.0: fair odds of 1.0, which are not a price one could
    bet, so `format_odds` refuses them.
    """
    return format_odds(price, odds_format) if price > 1.0 else "1.00 (a certainty)"


def _fraction_name(fraction: float) -> str:
    """``quarter``, ``half``, ``full`` or ``0.3 of``: the Kelly fraction as bettors say it."""
    names = {1.0: "full", 0.5: "half", 0.25: "quarter", 0.125: "eighth"}
    return names.get(fraction, f"{fraction:g} of")


def _payout_line(arbitrage: Arbitrage, currency: str) -> str:
    """What the stakes return and lock in, after they were rounded."""
    plan = arbitrage.plan
    sides = "either side" if len(plan.payouts) == 2 else "any outcome"
    # Rounded stakes pay a little differently per outcome; the guarantee is the smallest.
    even = max(plan.payouts) - plan.payout < _CENT
    payout = f"Payout {_money(plan.payout, currency)} on {sides}"
    if not even:
        payout = f"Payout at least {_money(plan.payout, currency)}"
    return (
        f"{payout} · profit {_money(plan.guaranteed_profit, currency)}"
        f" on {_money(plan.total, currency)} staked"
    )


def _start_line(event: Event, now: float, timezone: ZoneInfo) -> str:
    """The start in the bettor's zone and relative to now: starts in / live / unknown."""
    try:
        local = dt.datetime.fromtimestamp(event.starts_at, timezone)
    except (ValueError, OverflowError, OSError):
        # NaN (a provider without a start time), or outside the years datetime can hold.
        return "Start time unknown"
    when = f"{local:%a %d %b %H:%M} {local.tzname()}"
    until = event.starts_at - now
    if until > 0.0:
        return f"{when} · starts in {_duration(until)}"
    if -until < _SECONDS_PER_MINUTE:
        return f"{when} · live, just started"
    return f"{when} · live, started {_duration(-until)} ago"


def _duration(seconds: float) -> str:
    """A span as a bettor reads it: ``4s``, ``12m 5s``, ``2h 13m``, ``3d 4h``.

    Negative spans (a quote stamped a moment ahead of our clock) read as ``0s``.
    """
    # `not seconds > 0` is also true of NaN, which reads as 0s rather than failing.
    total = int(min(seconds, _LONGEST_SPAN)) if seconds > 0.0 else 0
    if total < _SECONDS_PER_MINUTE:
        return f"{total}s"
    if total < _SECONDS_PER_HOUR:
        minutes, rest = divmod(total, _SECONDS_PER_MINUTE)
        return f"{minutes}m {rest}s" if rest else f"{minutes}m"
    if total < _SECONDS_PER_DAY:
        hours, rest = divmod(total, _SECONDS_PER_HOUR)
        minutes = rest // _SECONDS_PER_MINUTE
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, rest = divmod(total, _SECONDS_PER_DAY)
    hours = rest // _SECONDS_PER_HOUR
    return f"{days}d {hours}h" if hours else f"{days}d"


def _money(amount: float, currency: str) -> str:
    """An amount with its currency: ``$1,000``, ``$476.19`` (cents only when there are any).

    Absurd amounts (from absurd prices) read ``$1e+20``, ``$inf`` or ``$nan`` rather than
    failing: the alert still goes out, and says that something is off.
    """
    if not abs(amount) < _LARGEST_PLAIN_AMOUNT:
        return f"{currency}{amount:,.3g}"
    if abs(amount - round(amount)) < _CENT:
        return f"{currency}{round(amount):,}"
    return f"{currency}{amount:,.2f}"
