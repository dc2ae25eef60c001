"""``arbwatch status``: a running daemon's ``/status``, fetched and laid out for a terminal.

`fetch_status` reads the document, `arbwatch.status.health_from_document` turns it back
into a `Health`, and `status_lines` lays that out; each is usable alone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import httpx

from arbwatch.config.model import split_listen
from arbwatch.core.words import plural
from arbwatch.errors import ArbwatchError
from arbwatch.feeds.base import redact
from arbwatch.health import Health, Histogram, allowance

#: Seconds to wait for the daemon's answer.
TIMEOUT: Final = 5.0
#: How many of the recent alerts to show, newest first.
RECENT_SHOWN: Final = 10
#: A wildcard listen address is reached on loopback from the same machine.
_WILDCARDS: Final = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - matched, not bound


class StatusError(ArbwatchError):
    """The daemon's status could not be read; the message says why, in one line."""


def status_url(listen: str) -> str:
    """The base URL that reaches a status listener on ``listen`` from this machine."""
    host, port = split_listen(listen)
    host = _WILDCARDS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def fetch_status(url: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    """The ``/status`` document of the daemon at ``url`` (its base URL).

    Raises:
        StatusError: nothing answers there, or what answers is not arbwatch's status.
    """
    # A proxy in front of the listener may want a login: messages show the URL redacted.
    base, shown = url.rstrip("/"), redact(url.rstrip("/"))
    try:
        response = httpx.get(f"{base}/status", timeout=timeout)
    except httpx.TransportError:
        raise StatusError(
            f"no daemon answering at {shown} (is status.listen set and the daemon running?)"
        ) from None
    if response.status_code != 200:
        raise StatusError(f"{shown}/status answered {response.status_code}, not arbwatch's status")
    try:
        document = response.json()
    except ValueError:
        raise StatusError(f"{shown}/status did not answer JSON: not arbwatch's status") from None
    if not isinstance(document, dict):
        raise StatusError(f"{shown}/status answered {type(document).__name__}, not an object")
    return document


def status_lines(health: Health, timezone: dt.tzinfo | None = None) -> list[str]:
    """``health`` for a terminal: feeds, engine, live opportunities, last alerts, channels.

    Ages are worked out from ``health.at``; alert times are shown in ``timezone`` (None:
    the local time zone).
    """
    at = health.at
    lines = [
        f"arbwatch {health.version} · up {_age(at - health.started_at)} · {health.status_line()}",
        _identity(health, timezone),
    ]

    lines.append("feeds")
    lines.extend(
        _table(
            [
                feed.name,
                feed.state,
                feed.provider,
                f"{feed.updates_per_second:,.1f} updates/s",
                "no message yet"
                if feed.last_message_age is None
                else f"last message {_age(feed.last_message_age)} ago",
                f"{feed.reconnects} reconnects",
                _credits(feed.provider, feed.credits_used, feed.credits_remaining),
                _problem(feed.fatal_error or feed.last_error) if feed.state != "up" else "",
            ]
            for feed in health.feeds
        )
        or ["  (none)"]
    )

    reasons = ", ".join(f"{reason} {count}" for reason, count in health.alerts_by_reason.items())
    engine = [
        f"engine: {health.updates:,} updates in {health.evaluations:,} evaluations",
        f"{health.markets:,} markets",
        f"latency p50 {_latency(health.latency, 0.5)}, p95 {_latency(health.latency, 0.95)}",
        plural(health.alerts, "alert") + (f" ({reasons})" if reasons else ""),
    ]
    if health.config_reload_failures:
        engine.append(f"{plural(health.config_reload_failures, 'config reload')} refused")
    if health.store_failures:
        failing = f", failing now: {health.store_error}" if health.store_failing_since else ""
        engine.append(f"{health.store_failures} state-database writes failed{failing}")
    lines.append(" · ".join(engine))

    if health.problems:
        lines.append(f"problems ({len(health.problems)})")
        lines.extend(f"  {_printable(problem)}" for problem in health.problems)

    lines.append(f"live opportunities ({len(health.live)})")
    lines.extend(
        _table(
            [live.rule, live.kind, f"{live.value:+.2%}", live.summary, _age(at - live.first_seen)]
            for live in sorted(health.live, key=lambda live: -live.value)
        )
    )

    recent = health.recent_alerts[::-1][:RECENT_SHOWN]
    lines.append(f"last alerts ({len(recent)} of {health.alerts})")
    lines.extend(
        _table(
            [
                dt.datetime.fromtimestamp(alert.at, timezone).strftime("%H:%M:%S"),
                alert.reason,
                alert.title,
                "→ " + (", ".join(alert.channels) or "no channel took it"),
            ]
            for alert in recent
        )
    )

    lines.append("channels")
    lines.extend(
        _table(
            [
                channel.name,
                f"{channel.sent} sent",
                f"{channel.failed} failed",
                f"{channel.retried} retried",
                f"{channel.dropped_stale + channel.dropped_full} dropped",
                _problem(channel.last_error),
            ]
            for channel in health.channels
        )
        or ["  (none)"]
    )
    return lines


def other_daemon_warning(health: Health, state_dir: Path, url: str) -> str:
    """Why the daemon that answered at ``url`` is not the one keeping ``state_dir``; or "".

    Two daemons cannot listen on one port, but a config whose daemon is not running (or
    could not start) shares its port with whichever process holds it: its figures would
    be read as this config's.
    """
    if not health.state_dir:
        return (
            f"warning: the daemon at {redact(url)} does not say which state directory it keeps "
            f"(an older arbwatch?): it may not be the one that keeps {state_dir}"
        )
    if Path(health.state_dir) == state_dir:
        return ""
    url = redact(url)
    return (
        f"warning: the daemon at {url} (pid {health.pid}) keeps its state in "
        f"{health.state_dir}, not in {state_dir} as this config says: another daemon "
        "answered, and the figures below are its own"
    )


def _identity(health: Health, timezone: dt.tzinfo | None) -> str:
    """``daemon pid 4242 · started 2026-12-06 06:24:01 · state /var/lib/arbwatch``."""
    started = dt.datetime.fromtimestamp(health.started_at, timezone).strftime("%Y-%m-%d %H:%M:%S")
    parts = [f"pid {health.pid}" if health.pid else "pid not said", f"started {started}"]
    parts.append(f"state {health.state_dir}" if health.state_dir else "state directory not said")
    return "daemon " + " · ".join(parts)


def quantile(histogram: Histogram, q: float) -> float | None:
    """The ``q`` quantile (0 < q <= 1) estimated from the buckets; None when empty.

    As Prometheus's ``histogram_quantile``: linear within the bucket the rank falls in; in
    the last, unbounded, bucket it is the highest finite bound.
    """
    buckets = histogram.cumulative()
    count = buckets[-1][1]
    if count == 0:
        return None
    rank = q * count
    lower, below = 0.0, 0
    for bound, running in buckets:
        if running >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (running - below)
        lower, below = bound, running
    return lower


def _latency(histogram: Histogram, q: float) -> str:
    """A quantile of the evaluation latency in milliseconds, or ``-`` before any."""
    seconds = quantile(histogram, q)
    if seconds is None:
        return "-"
    milliseconds = seconds * 1000.0
    return f"{milliseconds:.2f} ms" if milliseconds < 10 else f"{milliseconds:.0f} ms"


def _age(seconds: float) -> str:
    """``0.4s``, ``42s``, ``3m 05s``, ``2h 13m``, ``3d 4h``."""
    if seconds < 10:
        return f"{max(seconds, 0.0):.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d {whole % 86400 // 3600}h"


def _credits(provider: str, used: int | None, remaining: int | None) -> str:
    """The provider's allowance as far as known: credits or data points ('' if unknown)."""
    parts = [f"{used:,} used"] if used is not None else []
    if remaining is not None:
        parts.append(f"{remaining:,} left")
    return f"{allowance(provider)[1]} {', '.join(parts)}" if parts else ""


def _problem(error: str) -> str:
    """The last error, if any."""
    return f"({error})" if error else ""


def _table(rows: Iterable[Sequence[str]]) -> list[str]:
    """Rows of cells as indented lines, each column as wide as its widest cell.

    A column empty in every row (no feed with credits) is left out, and control characters
    in a name (a newline in a quoted YAML key) are shown escaped, so one row stays one line.
    """
    cells = [[_printable(cell) for cell in row] for row in rows]
    if not cells:
        return []
    columns = [column for column in zip(*cells, strict=True) if any(column)]
    widths = [max(len(cell) for cell in column) for column in columns]
    return [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in zip(*columns, strict=True)
    ]


def _printable(text: str) -> str:
    r"""``text`` with control characters escaped as Python would (``\n``)."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
