"""An alert the lifecycle decided, as the message its channels get.

One function, so that the daemon (which sends it) and the backtest (which prints what would
have been sent) write the very same text for the same decision.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from arbwatch.core.dedup import Alert, AlertReason
from arbwatch.core.odds import OddsFormat
from arbwatch.notify.message import Message, render, render_gone


def alert_message(
    alert: Alert, *, odds_format: OddsFormat, currency: str, timezone: ZoneInfo
) -> Message:
    """The message for ``alert``: the opportunity at its decision time, or its end.

    Raises:
        AssertionError: an alert other than GONE without its opportunity (a bug).
    """
    if alert.reason is AlertReason.GONE:
        return render_gone(
            alert.opportunity,
            summary=alert.state.summary,
            rule=alert.rule.name,
            key=alert.key,
            first_seen=alert.state.first_seen,
            now=alert.at,
            best_value=alert.state.best_value,
            kind=alert.state.kind,
            group=alert.state.market.event_id,
        )
    if alert.opportunity is None:  # only a GONE alert may lack its opportunity
        raise AssertionError(f"alert {alert.key} has no opportunity")
    return render(
        alert.opportunity,
        reason=alert.reason.value,
        rule=alert.rule.name,
        key=alert.key,
        now=alert.at,
        odds_format=odds_format,
        currency=currency,
        timezone=timezone,
        kelly_fraction=alert.rule.kelly_fraction,
    )
