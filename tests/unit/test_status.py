"""Health you can see: /metrics text, the /status document, the terminal view, the config.

The exposition text is checked with prometheus_client's own parser (a test-only oracle: the
daemon writes the format itself).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from arbwatch.config import load_config
from arbwatch.config.model import split_listen
from arbwatch.config.show import show_config
from arbwatch.health import (
    ChannelHealth,
    FeedHealth,
    Health,
    Histogram,
    LiveOpportunity,
    RecentAlert,
)
from arbwatch.status import health_from_document, metrics_text, status_document
from arbwatch.status_view import other_daemon_warning, quantile, status_lines, status_url
from tests.unit.test_config import EXAMPLE, EXAMPLE_ENV, parse, problems, top

#: 2024-03-01 12:00:00 UTC.
NOW = 1_709_294_400.0
#: A feed name with every character the format escapes in a label value.
AWKWARD = 'rundown "main" \\ east\nline 2'


def latency() -> Histogram:
    histogram = Histogram(bounds=(0.001, 0.01, 0.1))
    for seconds in (0.0005, 0.0008, 0.002, 0.003, 0.004, 0.05, 0.5):
        histogram.observe(seconds)
    return histogram


def feed(name: str, provider: str = "therundown", **changes: object) -> FeedHealth:
    base = FeedHealth(
        name=name,
        provider=provider,
        state="up",
        updates=1234,
        updates_per_second=12.5,
        frames=300,
        malformed=2,
        dropped_batches=1,
        reconnects=3,
        last_message_age=0.4,
        last_error="",
        fatal_error="",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def health(**changes: object) -> Health:
    base = Health(
        at=NOW,
        started_at=NOW - 185.0,
        version="0.1.0",
        pid=4242,
        state_dir="/var/lib/arbwatch",
        feeds=(
            feed(AWKWARD),
            feed(
                "rapid",
                "rapidoddsapi",
                state="backing off",
                updates_per_second=0.0,
                last_message_age=None,
                last_error="HTTP 503",
                credits_used=120,
                credits_remaining=880,
            ),
        ),
        channels=(
            ChannelHealth(
                "hook",
                sent=4,
                failed=1,
                retried=2,
                dropped_stale=1,
                dropped_full=0,
                last_error="HTTP 500",
            ),
            ChannelHealth(
                "mail", sent=5, failed=0, retried=0, dropped_stale=0, dropped_full=3, last_error=""
            ),
        ),
        batches=40,
        updates=2468,
        updates_per_second=25.0,
        evaluations=7,
        opportunities_found={"arbitrage": 9},
        alerts=5,
        alerts_by_reason={"new": 4, "gone": 1},
        latency=latency(),
        last_evaluation_age=0.25,
        live=(
            LiveOpportunity(
                rule="arbs",
                kind="arbitrage",
                summary="Lakers @ Celtics · Moneyline · Celtics (FanDuel) / Lakers (Bovada)",
                value=0.05,
                best_value=0.06,
                first_seen=NOW - 42.0,
                last_seen=NOW - 1.0,
                alerted=True,
            ),
        ),
        recent_alerts=(
            RecentAlert(
                NOW - 3600.0,
                "new",
                "arbs",
                "ARB +2.00% · NBA · A @ B · Moneyline",
                ("hook", "mail"),
            ),
            RecentAlert(
                NOW - 40.0,
                "new",
                "arbs",
                "ARB +5.00% · NBA · Lakers @ Celtics · Moneyline",
                ("hook",),
            ),
        ),
        config_reloads=2,
        config_reload_failures=1,
        store_failures=0,
        markets=1_234,
        markets_retired=56,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def families(text: str) -> dict[str, Metric]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family: Metric) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for sample in family.samples
    }


# --- /metrics ----------------------------------------------------------------------------


def test_every_family_is_prefixed_typed_and_documented_once() -> None:
    text = metrics_text(health())
    parsed = families(text)
    assert all(name.startswith("arbwatch_") for name in parsed)
    for name, family in parsed.items():
        full = f"{name}_total" if family.type == "counter" else name
        assert text.count(f"# HELP {full} ") == 1, name
        assert text.count(f"# TYPE {full} {family.type}\n") == 1, name
        assert family.documentation
    assert text.endswith("\n")
    assert {name: family.type for name, family in parsed.items()} == {
        "arbwatch_feed_up": "gauge",
        "arbwatch_feed_updates_per_second": "gauge",
        "arbwatch_feed_updates": "counter",
        "arbwatch_feed_frames": "counter",
        "arbwatch_feed_frames_malformed": "counter",
        "arbwatch_feed_prices_out_of_range": "counter",
        "arbwatch_feed_batches_dropped": "counter",
        "arbwatch_feed_reconnects": "counter",
        "arbwatch_feed_last_message_age_seconds": "gauge",
        "arbwatch_feed_credits_used": "gauge",
        "arbwatch_feed_credits_remaining": "gauge",
        "arbwatch_engine_batches": "counter",
        "arbwatch_engine_updates": "counter",
        "arbwatch_engine_updates_per_second": "gauge",
        "arbwatch_engine_evaluations": "counter",
        "arbwatch_engine_last_evaluation_age_seconds": "gauge",
        "arbwatch_engine_evaluation_seconds": "histogram",
        "arbwatch_opportunities_found": "counter",
        "arbwatch_opportunities_live": "gauge",
        "arbwatch_alerts": "counter",
        "arbwatch_alerts_sent": "counter",
        "arbwatch_alerts_failed": "counter",
        "arbwatch_alerts_retried": "counter",
        "arbwatch_alerts_dropped": "counter",
        "arbwatch_config_reloads": "counter",
        "arbwatch_config_reload_failures": "counter",
        "arbwatch_store_failures": "counter",
        "arbwatch_engine_markets": "gauge",
        "arbwatch_engine_markets_retired": "counter",
        "arbwatch_start_time_seconds": "gauge",
        "arbwatch_build_info": "gauge",
    }


def test_feed_samples_and_escaped_labels() -> None:
    parsed = families(metrics_text(health()))
    awkward = (("feed", AWKWARD), ("provider", "therundown"))
    rapid = (("feed", "rapid"), ("provider", "rapidoddsapi"))
    assert samples(parsed["arbwatch_feed_updates"]) == {
        ("arbwatch_feed_updates_total", awkward): 1234,
        ("arbwatch_feed_updates_total", rapid): 1234,
    }
    assert samples(parsed["arbwatch_feed_up"]) == {
        ("arbwatch_feed_up", awkward): 1,
        ("arbwatch_feed_up", rapid): 0,
    }
    # The rapid feed has had no message yet: no sample rather than a made-up age.
    assert samples(parsed["arbwatch_feed_last_message_age_seconds"]) == {
        ("arbwatch_feed_last_message_age_seconds", awkward): 0.4
    }
    # Credits only where known (RapidOddsAPI).
    assert samples(parsed["arbwatch_feed_credits_remaining"]) == {
        ("arbwatch_feed_credits_remaining", rapid): 880
    }
    text = metrics_text(health())
    assert 'feed="rundown \\"main\\" \\\\ east\\nline 2"' in text


def test_credits_are_left_out_when_no_feed_knows_them() -> None:
    parsed = families(metrics_text(health(feeds=(feed("rundown"),))))
    assert "arbwatch_feed_credits_used" not in parsed
    assert "arbwatch_feed_credits_remaining" not in parsed
    assert "arbwatch_feed_up" in parsed


def test_latency_histogram_has_cumulative_buckets_sum_and_count() -> None:
    family = families(metrics_text(health()))["arbwatch_engine_evaluation_seconds"]
    buckets = [
        (sample.labels["le"], sample.value)
        for sample in family.samples
        if sample.name.endswith("_bucket")
    ]
    # Observations: 0.0005, 0.0008 | 0.002, 0.003, 0.004 | 0.05 | 0.5
    assert buckets == [("0.001", 2), ("0.01", 5), ("0.1", 6), ("+Inf", 7)]
    values = samples(family)
    assert values[("arbwatch_engine_evaluation_seconds_count", ())] == 7
    assert values[("arbwatch_engine_evaluation_seconds_sum", ())] == pytest.approx(0.5603)


def test_engine_opportunity_alert_and_channel_samples() -> None:
    parsed = families(metrics_text(health()))
    assert samples(parsed["arbwatch_engine_evaluations"]) == {
        ("arbwatch_engine_evaluations_total", ()): 7
    }
    # Known kinds and reasons are there at 0 before their first.
    assert samples(parsed["arbwatch_opportunities_found"]) == {
        ("arbwatch_opportunities_found_total", (("kind", "arbitrage"),)): 9,
        ("arbwatch_opportunities_found_total", (("kind", "positive_ev"),)): 0,
    }
    assert samples(parsed["arbwatch_opportunities_live"]) == {
        ("arbwatch_opportunities_live", (("kind", "arbitrage"),)): 1,
        ("arbwatch_opportunities_live", (("kind", "positive_ev"),)): 0,
    }
    assert samples(parsed["arbwatch_alerts"]) == {
        ("arbwatch_alerts_total", (("reason", "new"),)): 4,
        ("arbwatch_alerts_total", (("reason", "improved"),)): 0,
        ("arbwatch_alerts_total", (("reason", "repeat"),)): 0,
        ("arbwatch_alerts_total", (("reason", "gone"),)): 1,
    }
    assert samples(parsed["arbwatch_alerts_sent"]) == {
        ("arbwatch_alerts_sent_total", (("channel", "hook"),)): 4,
        ("arbwatch_alerts_sent_total", (("channel", "mail"),)): 5,
    }
    assert (
        samples(parsed["arbwatch_alerts_failed"])[
            ("arbwatch_alerts_failed_total", (("channel", "hook"),))
        ]
        == 1
    )
    assert samples(parsed["arbwatch_alerts_dropped"]) == {
        ("arbwatch_alerts_dropped_total", (("channel", "hook"), ("reason", "stale"))): 1,
        ("arbwatch_alerts_dropped_total", (("channel", "hook"), ("reason", "full"))): 0,
        ("arbwatch_alerts_dropped_total", (("channel", "mail"), ("reason", "stale"))): 0,
        ("arbwatch_alerts_dropped_total", (("channel", "mail"), ("reason", "full"))): 3,
    }
    assert samples(parsed["arbwatch_config_reload_failures"]) == {
        ("arbwatch_config_reload_failures_total", ()): 1
    }
    assert samples(parsed["arbwatch_engine_markets"]) == {("arbwatch_engine_markets", ()): 1234}
    assert samples(parsed["arbwatch_engine_markets_retired"]) == {
        ("arbwatch_engine_markets_retired_total", ()): 56
    }
    assert samples(parsed["arbwatch_build_info"]) == {
        ("arbwatch_build_info", (("version", "0.1.0"),)): 1
    }


def test_a_daemon_that_has_done_nothing_yet() -> None:
    empty = health(
        feeds=(),
        channels=(),
        evaluations=0,
        opportunities_found={},
        alerts_by_reason={},
        latency=Histogram(),
        last_evaluation_age=None,
        live=(),
        recent_alerts=(),
    )
    parsed = families(metrics_text(empty))
    assert not [name for name in parsed if name.startswith("arbwatch_feed_")]
    assert "arbwatch_engine_last_evaluation_age_seconds" not in parsed
    assert (
        samples(parsed["arbwatch_engine_evaluation_seconds"])[
            ("arbwatch_engine_evaluation_seconds_bucket", (("le", "+Inf"),))
        ]
        == 0
    )


# --- /status -----------------------------------------------------------------------------


def test_status_document_is_json_with_ages_and_reads_back() -> None:
    original = health()
    document = json.loads(json.dumps(status_document(original)))
    assert document["uptime"] == 185.0
    assert document["feeds_up"] == 1
    assert document["feeds"][1]["credits_remaining"] == 880
    assert document["live"][0]["age"] == 42.0
    assert document["live"][0]["last_seen_age"] == 1.0
    assert [alert["age"] for alert in document["recent_alerts"]] == [3600.0, 40.0]
    assert document["latency"]["buckets"][-1] == {"le": "+Inf", "count": 7}
    assert document["latency"]["buckets"][0] == {"le": 0.001, "count": 2}
    back = health_from_document(document)
    assert back.latency.cumulative() == original.latency.cumulative()
    assert back.latency.total == original.latency.total
    assert back.latency.count == original.latency.count
    assert dataclasses.replace(back, latency=original.latency) == original


# --- the terminal view --------------------------------------------------------------------


def test_status_lines() -> None:
    assert status_lines(health(), ZoneInfo("UTC")) == [
        "arbwatch 0.1.0 · up 3m 05s · feeds 1/2 up · 25 updates/s · 1 live opportunity · "
        "5 alerts sent",
        "daemon pid 4242 · started 2024-03-01 11:56:55 · state /var/lib/arbwatch",
        "feeds",
        # The name's newline is shown escaped, so the row stays one line.
        '  rundown "main" \\ east\\nline 2  up           therundown    12.5 updates/s  '
        "last message 0.4s ago  3 reconnects",
        "  rapid                          backing off  rapidoddsapi  0.0 updates/s   "
        "no message yet         3 reconnects  credits 120 used, 880 left  (HTTP 503)",
        "engine: 2,468 updates in 7 evaluations · 1,234 markets · "
        "latency p50 5.50 ms, p95 100 ms · 5 alerts (new 4, gone 1) · 1 config reload refused",
        "live opportunities (1)",
        "  arbs  arbitrage  +5.00%  Lakers @ Celtics · Moneyline · Celtics (FanDuel) / "
        "Lakers (Bovada)  42s",
        "last alerts (2 of 5)",
        "  11:59:20  new  ARB +5.00% · NBA · Lakers @ Celtics · Moneyline  → hook",
        "  11:00:00  new  ARB +2.00% · NBA · A @ B · Moneyline             → hook, mail",
        "channels",
        "  hook  4 sent  1 failed  2 retried  1 dropped  (HTTP 500)",
        "  mail  5 sent  0 failed  0 retried  3 dropped",
    ]


def test_status_lines_before_anything_happened() -> None:
    lines = status_lines(
        health(feeds=(), channels=(), latency=Histogram(), live=(), recent_alerts=(), alerts=0),
        dt.UTC,
    )
    assert lines[2:] == [
        "feeds",
        "  (none)",
        "engine: 2,468 updates in 7 evaluations · 1,234 markets · latency p50 -, p95 - · 0 alerts "
        "(new 4, gone 1) · 1 config reload refused",
        "live opportunities (0)",
        "last alerts (0 of 0)",
        "channels",
        "  (none)",
    ]


def test_therundown_shows_data_points_and_rapidoddsapi_credits() -> None:
    feeds = (
        feed("points", "therundown", credits_remaining=4_000),
        feed("rapid", "rapidoddsapi", credits_used=5, credits_remaining=95),
    )
    rows = status_lines(health(feeds=feeds), dt.UTC)[3:5]
    assert rows[0].endswith("  data points 4,000 left"), rows[0]
    assert rows[1].endswith("  credits 5 used, 95 left"), rows[1]
    assert "credits" not in rows[0]


def test_a_document_from_an_older_daemon_reads_without_its_identity() -> None:
    document = json.loads(json.dumps(status_document(health())))
    del document["pid"], document["state_dir"]
    back = health_from_document(document)
    assert (back.pid, back.state_dir) == (0, "")
    assert status_lines(back, ZoneInfo("UTC"))[1] == (
        "daemon pid not said · started 2024-03-01 11:56:55 · state directory not said"
    )


def test_the_status_view_warns_when_another_daemon_answered() -> None:
    url = "http://127.0.0.1:9464"
    ours = health()
    assert other_daemon_warning(ours, Path("/var/lib/arbwatch"), url) == ""
    assert other_daemon_warning(ours, Path("/home/me/.local/state/arbwatch"), url) == (
        "warning: the daemon at http://127.0.0.1:9464 (pid 4242) keeps its state in "
        "/var/lib/arbwatch, not in /home/me/.local/state/arbwatch as this config says: "
        "another daemon answered, and the figures below are its own"
    )
    unsaid = other_daemon_warning(health(state_dir=""), Path("/var/lib/arbwatch"), url)
    assert unsaid.startswith(
        "warning: the daemon at http://127.0.0.1:9464 does not say which state directory"
    )


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # Rank 3.5 of 7 falls in (0.001, 0.01], which holds ranks 3 to 5: 1.5 of 3 in.
        (0.5, 0.001 + 0.009 * 1.5 / 3),
        # Rank 1 of 7 in [0, 0.001], which holds 2.
        (1 / 7, 0.0005),
        # Rank 6.65 falls in the +Inf bucket: the highest finite bound.
        (0.95, 0.1),
    ],
)
def test_quantile_interpolates_within_the_bucket(q: float, expected: float) -> None:
    assert quantile(latency(), q) == pytest.approx(expected)


def test_quantile_of_nothing() -> None:
    assert quantile(Histogram(), 0.5) is None


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("127.0.0.1:9464", "http://127.0.0.1:9464"),
        ("localhost:9464", "http://localhost:9464"),
        ("0.0.0.0:9464", "http://127.0.0.1:9464"),
        ("[::1]:9464", "http://[::1]:9464"),
        ("[::]:9464", "http://[::1]:9464"),
    ],
)
def test_status_url(listen: str, url: str) -> None:
    assert status_url(listen) == url


# --- config: status.listen ------------------------------------------------------------------


def test_status_is_off_unless_configured() -> None:
    config = parse(top())
    assert config.status_listen is None
    assert not config.status_allow_remote


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [
        ("127.0.0.1:9464", "127.0.0.1", 9464),
        ("localhost:1", "localhost", 1),
        ('"[::1]:65535"', "::1", 65535),
        ("127.8.9.10:9464", "127.8.9.10", 9464),
    ],
)
def test_loopback_listen_addresses(listen: str, host: str, port: int) -> None:
    config = parse(top("status:", f"  listen: {listen}"))
    assert config.status_listen is not None
    assert split_listen(config.status_listen) == (host, port)


def test_remote_listen_address_when_allowed() -> None:
    config = parse(top("status: {listen: 0.0.0.0:9464, allow_remote: true}"))
    assert config.status_listen == "0.0.0.0:9464"
    assert config.status_allow_remote


LISTEN = "expected host:port like 127.0.0.1:9464"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("status:", "  listen: x"), f'config.yaml:2: status.listen: {LISTEN}, got "x"'),
        (("status:", "  listen: 9464"), f"config.yaml:2: status.listen: {LISTEN}, got 9464"),
        (
            ("status:", "  listen: 127.0.0.1:0"),
            f'config.yaml:2: status.listen: {LISTEN}, got "127.0.0.1:0" (the port is 1 to 65535)',
        ),
        (
            ("status:", "  listen: metrics.example.com:9464"),
            f'config.yaml:2: status.listen: {LISTEN}, got "metrics.example.com:9464" '
            "(the host is an IP address or localhost)",
        ),
        (
            ("status:", '  listen: "[127.0.0.1]:9464"'),
            f'config.yaml:2: status.listen: {LISTEN}, got "[127.0.0.1]:9464" '
            "(only an IPv6 address goes in brackets)",
        ),
        (
            ("status: {listen: 0.0.0.0:9464}",),
            "config.yaml:1: status.listen: 0.0.0.0:9464 is not a loopback address, so anyone "
            "who can reach this machine could read the metrics and status: listen on "
            "127.0.0.1, or set status.allow_remote: true",
        ),
        (
            ("status: {listen: '[::]:9464', allow_remote: false}",),
            "config.yaml:1: status.listen: [::]:9464 is not a loopback address, so anyone "
            "who can reach this machine could read the metrics and status: listen on "
            "127.0.0.1, or set status.allow_remote: true",
        ),
        (
            ("status: {allow_remote: true}",),
            "config.yaml:1: status.listen: missing (required): host:port like 127.0.0.1:9464",
        ),
        (
            ("status: {listen: 127.0.0.1:9464, allow_remote: yes please}",),
            'config.yaml:1: status.allow_remote: expected true or false, got "yes please"',
        ),
        (
            ("status: {listen: 127.0.0.1:9464, port: 9464}",),
            "config.yaml:1: status.port: unknown key",
        ),
        (
            ("status: 127.0.0.1:9464",),
            "config.yaml:1: status: expected a mapping of listen and allow_remote (key: value), "
            'got "127.0.0.1:9464"',
        ),
    ],
)
def test_status_config_errors(lines: tuple[str, ...], expected: str) -> None:
    assert problems(top(*lines)) == [expected]


def test_show_config_keeps_the_status_listener() -> None:
    config = parse(top("status: {listen: 0.0.0.0:9464, allow_remote: true}"))
    shown = yaml.safe_load(show_config(config))["status"]
    assert shown == {"listen": "0.0.0.0:9464", "allow_remote": True}
    # What is shown reads back as the same config.
    assert parse(top(f"status: {json.dumps(shown)}")) == config


def test_the_example_listens_on_loopback() -> None:
    config = load_config(EXAMPLE, EXAMPLE_ENV)
    assert config.status_listen == "127.0.0.1:9464"
    assert not config.status_allow_remote
