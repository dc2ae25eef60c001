"""The status listener: ``GET /metrics`` for Prometheus and ``GET /status`` as JSON.

Both are written from one `Health` snapshot per request, so they never disagree with each
other, with ``arbwatch status`` or with systemd's STATUS= line. ``/metrics`` is the
Prometheus text exposition format 0.0.4, written here (it is a few lines of text, and the
daemon need not depend on a client library for it); every family is named ``arbwatch_*``:

==========================================  =========  =================================
family                                      type       labels
==========================================  =========  =================================
feed_up, feed_updates_per_second            gauge      feed, provider
feed_updates_total, feed_frames_total,      counter    feed, provider
feed_frames_malformed_total,
feed_prices_out_of_range_total,
feed_batches_dropped_total,
feed_reconnects_total
feed_last_message_age_seconds               gauge      feed, provider (once a message came)
feed_credits_used, feed_credits_remaining   gauge      feed, provider (RapidOddsAPI, if known)
engine_batches_total, engine_updates_total, counter
engine_evaluations_total,
engine_markets_retired_total
engine_updates_per_second, engine_markets   gauge
engine_last_evaluation_age_seconds          gauge      (once an evaluation ran)
engine_evaluation_seconds                   histogram
opportunities_found_total                   counter    kind
opportunities_live                          gauge      kind
alerts_total                                counter    reason (new, improved, repeat, gone)
alerts_sent_total, alerts_failed_total,     counter    channel
alerts_retried_total
alerts_dropped_total                        counter    channel, reason (stale, full)
config_reloads_total,                       counter
config_reload_failures_total,
store_failures_total
start_time_seconds                          gauge
build_info                                  gauge      version (always 1)
==========================================  =========  =================================

``/status`` is the whole snapshot as JSON, plus ages worked out from its time (``uptime``,
each live opportunity's ``age``, each recent alert's ``age``); `health_from_document`
reads it back, which is what ``arbwatch status`` does. Any other path is 404, any other
method 405.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import math
import os
import socket
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

import anyio
from anyio.abc import TaskStatus

from arbwatch.config.model import split_listen
from arbwatch.core.dedup import AlertReason
from arbwatch.core.rulemodel import RuleKind
from arbwatch.errors import ArbwatchError
from arbwatch.feeds.base import redact
from arbwatch.health import (
    ChannelHealth,
    FeedHealth,
    Health,
    Histogram,
    LiveOpportunity,
    RecentAlert,
)
from arbwatch.status_http import BoundedHttpServer, Reply

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

logger = logging.getLogger(__name__)

#: What ``/metrics`` answers with: the text exposition format, version 0.0.4.
METRICS_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
#: Every family's name starts with this.
PREFIX: Final = "arbwatch_"

Labels = tuple[tuple[str, str], ...]
MetricType = Literal["counter", "gauge", "histogram"]
T = TypeVar("T")
#: A family of samples read off a record: name, type, help, and the value (None: no sample).
_Family = tuple[str, MetricType, str, Callable[[T], float | None]]

# --- /metrics ----------------------------------------------------------------------------

#: Families with a sample per feed.
_FEED_FAMILIES: Final[tuple[_Family[FeedHealth], ...]] = (
    ("feed_up", "gauge", "Whether the feed is connected (1) or not (0).",
     lambda f: int(f.state == "up")),
    ("feed_updates_per_second", "gauge", "Price updates per second over the last 10 s.",
     lambda f: f.updates_per_second),
    ("feed_updates_total", "counter", "Price updates the feed passed to the engine.",
     lambda f: f.updates),
    ("feed_frames_total", "counter", "Messages received from the provider.",
     lambda f: f.frames),
    ("feed_frames_malformed_total", "counter", "Messages that could not be read.",
     lambda f: f.malformed),
    ("feed_prices_out_of_range_total", "counter",
     "Quotes withdrawn for a price above the feed's max_price.",
     lambda f: f.prices_out_of_range),
    ("feed_batches_dropped_total", "counter", "Batches of updates dropped: the engine was behind.",
     lambda f: f.dropped_batches),
    ("feed_reconnects_total", "counter", "Times the feed connected again.",
     lambda f: f.reconnects),
    ("feed_last_message_age_seconds", "gauge", "Seconds since the feed's last message.",
     lambda f: f.last_message_age),
    ("feed_credits_used", "gauge", "RapidOddsAPI credits charged since the daemon started.",
     lambda f: f.credits_used),
    ("feed_credits_remaining", "gauge", "RapidOddsAPI credits left on the plan.",
     lambda f: f.credits_remaining),
)  # fmt: skip

#: Families of one sample without labels.
_DAEMON_FAMILIES: Final[tuple[_Family[Health], ...]] = (
    ("engine_batches_total", "counter", "Batches of updates the engine took in.",
     lambda h: h.batches),
    ("engine_updates_total", "counter", "Price updates the engine applied.",
     lambda h: h.updates),
    ("engine_updates_per_second", "gauge", "Price updates per second over the last 10 s.",
     lambda h: h.updates_per_second),
    ("engine_evaluations_total", "counter", "Evaluations of the markets whose prices changed.",
     lambda h: h.evaluations),
    ("engine_last_evaluation_age_seconds", "gauge", "Seconds since the last evaluation ended.",
     lambda h: h.last_evaluation_age),
    ("config_reloads_total", "counter", "Config reloads that took effect.",
     lambda h: h.config_reloads),
    ("config_reload_failures_total", "counter", "Config reloads refused (the old one kept).",
     lambda h: h.config_reload_failures),
    ("store_failures_total", "counter", "State-database writes that failed.",
     lambda h: h.store_failures),
    ("engine_markets", "gauge", "Markets in the price matrix now.",
     lambda h: h.markets),
    ("engine_markets_retired_total", "counter",
     "Markets retired from the price matrix after no quote for an hour or more.",
     lambda h: h.markets_retired),
    ("start_time_seconds", "gauge", "When the daemon started, in Unix time.",
     lambda h: h.started_at),
)  # fmt: skip

#: Per-channel families: name, help, and the value.
_CHANNEL_FAMILIES: Final[tuple[tuple[str, str, Callable[[ChannelHealth], int]], ...]] = (
    ("alerts_sent_total", "Alerts the channel delivered.", lambda c: c.sent),
    ("alerts_failed_total", "Alerts the channel gave up on after every retry.", lambda c: c.failed),
    ("alerts_retried_total", "Delivery attempts repeated after a failure.", lambda c: c.retried),
)


class _Exposition:
    """Families written one after another; a family without samples is left out."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self,
        name: str,
        kind: MetricType,
        help_text: str,
        samples: Iterable[tuple[Labels, float | None]],
    ) -> None:
        """``# HELP``, ``# TYPE`` and a line per sample (samples whose value is None skipped)."""
        written = [(labels, value) for labels, value in samples if value is not None]
        if not written:
            return
        self._header(name, kind, help_text)
        self.lines.extend(_sample(PREFIX + name, labels, value) for labels, value in written)

    def histogram(self, name: str, help_text: str, histogram: Histogram) -> None:
        """A histogram: cumulative ``_bucket`` lines up to ``le="+Inf"``, ``_sum``, ``_count``."""
        self._header(name, "histogram", help_text)
        full = PREFIX + name
        self.lines.extend(
            _sample(f"{full}_bucket", (("le", _number(bound)),), count)
            for bound, count in histogram.cumulative()
        )
        self.lines.append(_sample(f"{full}_sum", (), histogram.total))
        self.lines.append(_sample(f"{full}_count", (), histogram.count))

    def _header(self, name: str, kind: MetricType, help_text: str) -> None:
        """The family's ``# HELP`` and ``# TYPE`` lines."""
        escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
        self.lines.append(f"# HELP {PREFIX}{name} {escaped}")
        self.lines.append(f"# TYPE {PREFIX}{name} {kind}")


def metrics_text(health: Health) -> str:
    """``/metrics``: ``health`` in the Prometheus text exposition format 0.0.4."""
    out = _Exposition()
    feeds = [(feed, (("feed", feed.name), ("provider", feed.provider))) for feed in health.feeds]
    for name, kind, help_text, value in _FEED_FAMILIES:
        out.family(name, kind, help_text, ((labels, value(feed)) for feed, labels in feeds))
    for name, kind, help_text, of in _DAEMON_FAMILIES:
        out.family(name, kind, help_text, [((), of(health))])
    out.histogram(
        "engine_evaluation_seconds",
        "Seconds one evaluation took: apply prices, evaluate, alert, record.",
        health.latency,
    )

    # Every kind and reason is written, at 0 before the first, so that rates start at zero.
    kinds = _all(typing.get_args(RuleKind), health.opportunities_found)
    found = health.opportunities_found
    out.family(
        "opportunities_found_total",
        "counter",
        "Rule matches found, counted again on every evaluation they are still there.",
        [((("kind", kind),), found.get(kind, 0)) for kind in kinds],
    )
    out.family(
        "opportunities_live",
        "gauge",
        "Opportunities live now.",
        [((("kind", kind),), sum(live.kind == kind for live in health.live)) for kind in kinds],
    )
    reasons = _all([reason.value for reason in AlertReason], health.alerts_by_reason)
    out.family(
        "alerts_total",
        "counter",
        "Alerts handed to the channels, by why: new, improved, repeat or gone.",
        [((("reason", reason),), health.alerts_by_reason.get(reason, 0)) for reason in reasons],
    )
    for name, help_text, count in _CHANNEL_FAMILIES:
        out.family(
            name,
            "counter",
            help_text,
            [((("channel", c.name),), count(c)) for c in health.channels],
        )
    out.family(
        "alerts_dropped_total",
        "counter",
        "Alerts dropped unsent: too old to be worth sending (stale) or pushed out of a full "
        "queue (full).",
        (
            sample
            for c in health.channels
            for sample in (
                ((("channel", c.name), ("reason", "stale")), c.dropped_stale),
                ((("channel", c.name), ("reason", "full")), c.dropped_full),
            )
        ),
    )
    out.family(
        "build_info",
        "gauge",
        "The running arbwatch's version (the value is always 1).",
        [((("version", health.version),), 1)],
    )
    return "\n".join(out.lines) + "\n"


def _all(known: Iterable[str], seen: Mapping[str, int]) -> list[str]:
    """The known label values, then any others seen, each once."""
    return list(dict.fromkeys([*known, *sorted(seen)]))


def _sample(name: str, labels: Labels, value: float) -> str:
    """One sample line: ``name{label="value",...} number``."""
    if not labels:
        return f"{name} {_number(value)}"
    pairs = ",".join(f'{label}="{_escape_label(text)}"' for label, text in labels)
    return f"{name}{{{pairs}}} {_number(value)}"


def _escape_label(text: str) -> str:
    r"""A label value as the format wants it: ``\``, ``"`` and newlines escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    """A sample value or bucket bound: integers as such, and ``+Inf``, ``-Inf``, ``NaN``."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


# --- /status -----------------------------------------------------------------------------


def status_document(health: Health) -> dict[str, Any]:
    """``/status``: every field of ``health``, the histogram as buckets, times with ages."""
    at = health.at
    return {
        **_fields(health),
        "uptime": at - health.started_at,
        "feeds_up": health.feeds_up,
        "status_line": health.status_line(),
        "feeds": [_fields(feed) for feed in health.feeds],
        "channels": [_fields(channel) for channel in health.channels],
        "latency": {
            "buckets": [
                {"le": _number(bound) if math.isinf(bound) else bound, "count": count}
                for bound, count in health.latency.cumulative()
            ],
            "sum": health.latency.total,
            "count": health.latency.count,
        },
        "live": [
            _fields(live) | {"age": at - live.first_seen, "last_seen_age": at - live.last_seen}
            for live in health.live
        ],
        "recent_alerts": [
            _fields(alert) | {"channels": list(alert.channels), "age": at - alert.at}
            for alert in health.recent_alerts
        ],
        "problems": list(health.problems),
    }


def health_from_document(document: Mapping[str, Any]) -> Health:
    """The `Health` a ``/status`` document describes (the ages in it are not needed).

    Raises:
        KeyError, TypeError, ValueError: it is not such a document.
    """
    latency = document["latency"]
    return Health(
        **{
            **_known(Health, document),
            "feeds": tuple(FeedHealth(**_known(FeedHealth, item)) for item in document["feeds"]),
            "channels": tuple(
                ChannelHealth(**_known(ChannelHealth, item)) for item in document["channels"]
            ),
            "latency": Histogram.from_cumulative(
                [(float(item["le"]), int(item["count"])) for item in latency["buckets"]],
                float(latency["sum"]),
            ),
            "live": tuple(
                LiveOpportunity(**_known(LiveOpportunity, item)) for item in document["live"]
            ),
            "recent_alerts": tuple(
                RecentAlert(**_known(RecentAlert, item) | {"channels": tuple(item["channels"])})
                for item in document["recent_alerts"]
            ),
            "problems": tuple(str(problem) for problem in document["problems"]),
        }
    )


def _fields(record: DataclassInstance) -> dict[str, Any]:
    """A dataclass's fields by name (not converted: the caller replaces what JSON cannot hold)."""
    return {field.name: getattr(record, field.name) for field in dataclasses.fields(record)}


def _known(kind: type[DataclassInstance], document: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``document`` that are fields of ``kind``.

    A field with a default may be missing: a daemon of an older version did not send it.
    """
    return {
        field.name: document[field.name]
        for field in dataclasses.fields(kind)
        if field.name in document or field.default is dataclasses.MISSING
    }


# --- the ASGI app and its server -----------------------------------------------------------


class StatusPages:
    """Answers ``GET /metrics`` and ``GET /status`` from a fresh snapshot each time."""

    def __init__(self, health: Callable[[], Health]) -> None:
        """Serve what ``health()`` returns (called once per request, in the event loop)."""
        self._health = health
        # Each body passes the one redaction on its way out: a feed's or channel's last
        # error, an alert's title, are texts built from what servers said.
        self._routes: Mapping[str, Callable[[Health], tuple[str, bytes]]] = {
            "/metrics": lambda h: (METRICS_CONTENT_TYPE, redact(metrics_text(h)).encode()),
            "/status": lambda h: (
                "application/json",
                redact(json.dumps(status_document(h), ensure_ascii=False)).encode(),
            ),
        }

    def __call__(self, method: str, path: str) -> Reply:
        """The reply to ``method path``: 404 for any other path, 405 for any other method."""
        route = self._routes.get(path)
        if route is None:
            return Reply(404, "text/plain", b"not found: try /metrics or /status\n")
        if method != "GET":
            return Reply(405, "text/plain", b"only GET\n", [("allow", "GET")])
        content_type, body = route(self._health())
        return Reply(200, content_type, body)


class StatusListenError(ArbwatchError):
    """The status listener's address cannot be listened on; the message says why."""


def bind_status(listen: str) -> socket.socket:
    """A socket listening on ``listen`` (``host:port``, as the config checked it).

    Bound before the daemon starts, so that a port another process holds stops the start
    (exit 78) instead of leaving ``arbwatch status`` to read whatever answers there.

    Raises:
        StatusListenError: the address is taken, not this machine's, or not permitted.
    """
    host, port = split_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as error:
        # Not the error's own text: create_server adds the address to it a second time.
        why = os.strerror(error.errno) if error.errno else str(error)
        hint = (
            "another process holds the port (another arbwatch? `arbwatch status --url "
            f"{_base_url(host, port)}` shows which daemon it is)"
            if error.errno == errno.EADDRINUSE
            else "check status.listen"
        )
        raise StatusListenError(
            f"status: cannot listen on {listen} ({why}): {hint}; set another status.listen, "
            "or stop what holds it"
        ) from None


def _base_url(host: str, port: int) -> str:
    """``http://host:port``, brackets around an IPv6 address."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve_status(
    health: Callable[[], Health],
    listener: socket.socket,
    *,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `StatusPages` on ``listener`` (from `bind_status`) until cancelled.

    Reports started once the server is set up, so a request right after is answered (the
    socket listens already: the kernel queues a connection until the server accepts it).
    The server is bounded (`arbwatch.status_http`): slow or many clients cannot starve it
    or the daemon. The caller keeps and closes ``listener``.
    """
    host, port = listener.getsockname()[:2]
    server = BoundedHttpServer(StatusPages(health))
    logger.info("status: serving %s/metrics and /status", _base_url(host, port))
    await server.serve(listener, task_status=task_status)
