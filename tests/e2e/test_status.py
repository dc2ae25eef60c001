"""Health you can see, end to end: a daemon in-process against TheRundown's simulator, its
status listener scraped over HTTP, and ``arbwatch status`` run as a process against it.

Everything listens on 127.0.0.1. A port for the listener is found by binding port 0 and
closing the socket (the config cannot say "any port").
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from arbwatch.cli import main
from arbwatch.commands import EXIT_CONFIG
from arbwatch.config import load_config
from arbwatch.daemon import Daemon
from arbwatch.errors import ConfigError
from arbwatch.sim.rundown import DEFAULT_KEY
from arbwatch.status import METRICS_CONTENT_TYPE, StatusListenError
from tests.e2e.test_daemon import (
    WAIT,
    Stage,
    arb,
    bootstrapped,
    running,
    stage,
)
from tests.sinks import until


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_config(s: Stage, status: str) -> Path:
    """The e2e config with a ``status:`` section added."""
    path = s.write_config()
    path.write_text(path.read_text(encoding="utf-8") + status, encoding="utf-8")
    return path


def sent(daemon: Daemon, channel: str) -> int:
    """How many alerts ``channel`` has delivered."""
    return next(c.sent for c in daemon.health().channels if c.name == channel)


async def arbwatch(*args: str) -> tuple[int, str, str]:
    """Run ``python -m arbwatch ARGS`` without blocking the daemon in this event loop."""
    with anyio.fail_after(WAIT):
        done = await anyio.run_process([sys.executable, "-m", "arbwatch", *args], check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.anyio
async def test_metrics_status_and_the_status_command_against_a_running_daemon(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        path = write_config(s, f"status:\n  listen: 127.0.0.1:{port}\n")
        daemon = Daemon(load_config(path))
        async with running(daemon), httpx.AsyncClient(base_url=base, timeout=WAIT) as client:
            await bootstrapped(daemon, len(s.events))
            # Up once the first WebSocket frame (a heartbeat, every 0.5 s) is in.
            await until(lambda: daemon.health().feeds[0].state == "up", WAIT)
            event = s.events[0]
            # 2.10 / 2.04: L = 0.9664, a 3.48% arbitrage. Bovada's 2.04 against Pinnacle's
            # fair 2.00 is +2% EV, under the EV rule's 3%: one alert, to mail and hook.
            s.price(event, arb(2.10, 2.04))
            post = await s.hook.next_post(WAIT)
            await s.smtp.next_mail(WAIT)
            # The post is in before the notifier counts it as sent.
            await until(lambda: sent(daemon, "hook") == 1, WAIT)

            response = await client.get("/metrics")
            assert response.status_code == 200
            assert response.headers["content-type"] == METRICS_CONTENT_TYPE
            families = {f.name: f for f in text_string_to_metric_families(response.text)}

            def value(family: str, sample: str, **labels: str) -> float:
                return next(
                    s.value
                    for s in families[family].samples
                    if s.name == sample and s.labels == labels
                )

            feed = {"feed": "rundown", "provider": "therundown"}
            assert value("arbwatch_feed_updates", "arbwatch_feed_updates_total", **feed) > 0
            assert value("arbwatch_feed_up", "arbwatch_feed_up", **feed) == 1
            evaluations = value("arbwatch_engine_evaluations", "arbwatch_engine_evaluations_total")
            assert evaluations > 0
            latency = "arbwatch_engine_evaluation_seconds"
            assert value(latency, f"{latency}_count") == evaluations
            assert value(latency, f"{latency}_bucket", le="+Inf") == evaluations
            assert value("arbwatch_alerts_sent", "arbwatch_alerts_sent_total", channel="hook") == 1
            assert value("arbwatch_alerts", "arbwatch_alerts_total", reason="new") == 1
            assert value("arbwatch_opportunities_live", "arbwatch_opportunities_live",
                         kind="arbitrage") == 1  # fmt: skip

            document = (await client.get("/status")).json()
            assert [(f["name"], f["state"]) for f in document["feeds"]] == [("rundown", "up")]
            assert [live["rule"] for live in document["live"]] == ["arbs"]
            assert f"{event.away} @ {event.home}" in document["live"][0]["summary"]
            assert [alert["title"] for alert in document["recent_alerts"]] == [post["title"]]
            assert post["title"].startswith("ARB +3.48%")

            missing = await client.get("/metrics/extra")
            assert missing.status_code == 404
            refused = await client.post("/metrics")
            assert refused.status_code == 405
            assert refused.headers["allow"] == "GET"

            status, out, err = await arbwatch("status", "-c", str(path))
            assert (status, err) == (0, "")
            assert "rundown  up  therundown" in out
            assert f"{event.away} @ {event.home}" in out
            assert "arbs  arbitrage  +3.48%" in out
            assert f"new  {post['title']}  → mail, hook" in out
            assert "hook  1 sent  0 failed" in out

            status, out, err = await arbwatch("status", "--url", base, "--json")
            assert (status, err) == (0, "")
            assert json.loads(out)["recent_alerts"][0]["title"] == post["title"]

        # Stopped with the daemon.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/metrics", timeout=WAIT)


@pytest.mark.anyio
async def test_a_taken_port_stops_the_start_before_any_feed_connects(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        with socket.create_server(("127.0.0.1", 0)) as taken:
            port = taken.getsockname()[1]
            daemon = Daemon(load_config(write_config(s, f"status: {{listen: 127.0.0.1:{port}}}\n")))
            with pytest.raises(StatusListenError) as refused:
                await daemon.run()
        assert str(refused.value).startswith(
            f"status: cannot listen on 127.0.0.1:{port} (Address already in use): another "
            f"process holds the port (another arbwatch? `arbwatch status --url "
            f"http://127.0.0.1:{port}` shows which daemon it is)"
        )
        assert daemon.feeds[0].stats.reconnects == 0
        assert daemon.feeds[0].stats.frames == 0
        assert not (s.path.parent / "state").exists()


@pytest.mark.anyio
async def test_run_exits_78_with_the_reason_when_the_status_port_is_taken(tmp_path: Path) -> None:
    async with stage(tmp_path) as s:
        with socket.create_server(("127.0.0.1", 0)) as taken:
            port = taken.getsockname()[1]
            path = write_config(s, f"status: {{listen: 127.0.0.1:{port}}}\n")
            status, out, err = await arbwatch("run", "-c", str(path))
    assert (status, out) == (EXIT_CONFIG, "")
    assert status == 78  # EX_CONFIG, as for a broken config: systemd does not retry it
    assert err == (
        f"arbwatch: status: cannot listen on 127.0.0.1:{port} (Address already in use): "
        f"another process holds the port (another arbwatch? `arbwatch status --url "
        f"http://127.0.0.1:{port}` shows which daemon it is); set another status.listen, "
        "or stop what holds it\n"
    )


@pytest.mark.anyio
async def test_status_names_the_daemon_and_warns_when_another_one_answers(
    tmp_path: Path,
) -> None:
    async with stage(tmp_path) as s:
        port = free_port()
        listen = f"status: {{listen: 127.0.0.1:{port}}}\n"
        ours = write_config(s, listen)
        # Another config on the same port, keeping its state elsewhere, and with none of
        # its secrets at hand: `status -c` needs neither the key nor the channels' URLs.
        other = tmp_path / "other.yaml"
        other.write_text(
            ours.read_text(encoding="utf-8")
            .replace(f"state_dir: {tmp_path / 'state'}", f"state_dir: {tmp_path / 'other'}")
            .replace(f"api_key: {DEFAULT_KEY}", "api_key: ${NOT_SET_KEY}")
            .replace(f"url: {s.smtp.url()}", "url: ${NOT_SET_MAIL_URL}"),
            encoding="utf-8",
        )
        assert "NOT_SET_KEY" in other.read_text(encoding="utf-8")
        daemon = Daemon(load_config(ours))
        async with running(daemon):
            identity = f"daemon pid {os.getpid()} · started "
            status, out, err = await arbwatch("status", "-c", str(ours))
            assert (status, err) == (0, "")
            assert identity in out
            assert f"state {tmp_path / 'state'}" in out

            status, out, err = await arbwatch("status", "-c", str(other))
            assert status == 0
            assert err == (
                f"arbwatch status: warning: the daemon at http://127.0.0.1:{port} "
                f"(pid {os.getpid()}) keeps its state in {tmp_path / 'state'}, not in "
                f"{tmp_path / 'other'} as this config says: another daemon answered, and "
                "the figures below are its own\n"
            )
            assert identity in out

            status, out, err = await arbwatch(
                "status", "--url", f"http://127.0.0.1:{port}", "--json"
            )
            assert (status, err) == (0, "")
            document = json.loads(out)
            assert (document["pid"], document["state_dir"]) == (
                os.getpid(),
                str(tmp_path / "state"),
            )
            assert document["started_at"] == daemon.health().started_at


#: A config with no status section.
WITHOUT_STATUS = """\
feeds:
  - {name: r, provider: rapidoddsapi, api_key: oa_x, sports: [NBA], bookmakers: [Pinnacle],
     market_types: [head_to_head]}
channels:
  phone: console://
rules:
  - {name: arbs, kind: arbitrage, notify: [phone]}
"""


def test_the_listener_is_loopback_unless_remote_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(WITHOUT_STATUS + "status:\n  listen: 0.0.0.0:9464\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert f"{path}:9: status.listen: 0.0.0.0:9464 is not a loopback address" in str(refused.value)
    path.write_text(
        WITHOUT_STATUS + "status:\n  listen: 0.0.0.0:9464\n  allow_remote: true\n",
        encoding="utf-8",
    )
    assert load_config(path).status_listen == "0.0.0.0:9464"


def test_status_says_so_in_one_line_when_no_daemon_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["status", "--url", url]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"arbwatch status: no daemon answering at {url} "
        "(is status.listen set and the daemon running?)\n"
    )


def test_status_without_a_listener_in_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(WITHOUT_STATUS, encoding="utf-8")
    assert main(["status", "-c", str(path)]) == EXIT_CONFIG
    assert capsys.readouterr().err == (
        f"arbwatch status: {path} sets no status.listen: add status: {{listen: "
        "127.0.0.1:9464} and restart the daemon, or give --url\n"
    )


def test_a_status_url_with_a_login_is_never_shown_with_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://watcher:status-pass-71@127.0.0.1:{free_port()}"
    assert main(["status", "--url", url]) == 1
    err = capsys.readouterr().err
    assert "status-pass-71" not in err
    assert "no daemon answering at http://***@127.0.0.1:" in err
