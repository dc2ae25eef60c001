"""Alert delivery through apprise to real loopback receivers (SMTP, a JSON webhook).

Telegram and Discord cannot be reached from a test: their tests intercept the HTTP request
apprise makes (``requests.post``) and check its address and payload instead.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest
import requests

from arbwatch.config.model import ChannelConfig, Secret
from arbwatch.core.odds import OddsFormat
from arbwatch.notify.deliver import DeliveryResult, Notifier, send_sample
from arbwatch.notify.message import Message, render_sample
from tests.sinks import WAIT, Reply, json_receiver, smtp_server

pytestmark = pytest.mark.anyio

NOW = 1_736_897_400.0
#: Retries in tests: quick, so that a retried delivery takes milliseconds; every message
#: on its own, at once (grouping has tests of its own).
FAST = {
    "retry_initial": 0.01,
    "retry_max": 0.02,
    "group_wait": 0.0,
    "group_interval": 0.0,
    "max_per_minute": 0,
}


def channel(name: str, *urls: str, **settings: Any) -> ChannelConfig:
    return ChannelConfig(name=name, urls=tuple(Secret(url) for url in urls), **(FAST | settings))


def message(title: str, *, found_at: float = NOW, key: str = "k") -> Message:
    return Message(
        title=title,
        body=f"{title} body line 1\nbody line 2",
        found_at=found_at,
        rule="nba-arbs",
        key=key,
    )


class Results:
    """Collects `DeliveryResult`s; `next` waits (bounded) for the next one."""

    def __init__(self) -> None:
        self.send, self.receive = anyio.create_memory_object_stream[DeliveryResult](100)

    def __call__(self, result: DeliveryResult) -> None:
        self.send.send_nowait(result)

    async def next(self, timeout: float = WAIT) -> DeliveryResult:
        with anyio.fail_after(timeout):
            return await self.receive.receive()


@asynccontextmanager
async def running(
    channels: dict[str, ChannelConfig],
    *,
    clock: Callable[[], float] = lambda: NOW,
    queue_size: int = 100,
) -> AsyncIterator[tuple[Notifier, Results]]:
    """A notifier running its workers, and the results it reports."""
    results = Results()
    notifier = Notifier(channels, clock=clock, on_result=results, queue_size=queue_size, jitter=0.0)
    with results.send, results.receive:
        async with anyio.create_task_group() as group:
            group.start_soon(notifier.run)
            yield notifier, results
            group.cancel_scope.cancel()


# --- real receivers ----------------------------------------------------------------------


async def test_email_reaches_a_real_smtp_server() -> None:
    async with (
        smtp_server() as server,
        running({"mail": channel("mail", server.url())}) as (notifier, results),
    ):
        assert notifier.submit("mail", message("ARB +2.14% · NBA · Lakers @ Celtics"))
        mail = await server.next_mail()
        result = await results.next()
    assert mail["Subject"] == "ARB +2.14% · NBA · Lakers @ Celtics"
    assert mail["To"].endswith("bettor@example.com")
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "ARB +2.14% · NBA · Lakers @ Celtics body line 1" in text
    assert "body line 2" in text
    assert (result.channel, result.ok, result.attempts) == ("mail", True, 1)


async def test_json_webhook_gets_title_and_body() -> None:
    async with json_receiver() as (receiver, base):
        hook = channel("hook", f"{base}/alerts")
        async with running({"hook": hook}) as (notifier, results):
            notifier.submit("hook", message("EV +4.10% · NBA", key="ev-1"))
            post = await receiver.next_post()
            result = await results.next()
    assert post["title"] == "EV +4.10% · NBA"
    assert post["message"] == "EV +4.10% · NBA body line 1\nbody line 2"
    assert post["path"] == "/alerts"
    assert result == DeliveryResult("hook", "ev-1", True, 1, NOW, "")
    assert notifier.stats()["hook"].sent == 1


async def test_failing_channel_recovers_and_never_holds_up_another() -> None:
    # The flaky hook's second failure is held open until the steady hook has its message:
    # the steady channel delivers while the flaky one is still failing.
    steady_delivered = anyio.Event()
    flaky_replies = (Reply(500), Reply(500, release=steady_delivered), Reply(200))
    async with (
        json_receiver(*flaky_replies) as (flaky, flaky_url),
        json_receiver() as (
            steady,
            steady_url,
        ),
    ):
        channels = {"flaky": channel("flaky", flaky_url), "steady": channel("steady", steady_url)}
        async with running(channels) as (notifier, results):
            notifier.submit("flaky", message("flaky alert"))
            notifier.submit("steady", message("steady alert"))
            assert (await steady.next_post())["title"] == "steady alert"
            assert flaky.nothing_more()
            steady_delivered.set()
            assert (await flaky.next_post())["title"] == "flaky alert"
            outcomes = {r.channel: r for r in [await results.next(), await results.next()]}
            stats = notifier.stats()
    assert flaky.requests == 3
    assert flaky.nothing_more()
    assert outcomes["flaky"].attempts == 3
    assert outcomes["steady"].attempts == 1
    assert (stats["flaky"].sent, stats["flaky"].retried, stats["flaky"].failed) == (1, 2, 0)
    assert "500" in stats["flaky"].last_error
    assert (stats["steady"].sent, stats["steady"].retried) == (1, 0)


async def test_dead_channel_gives_up_after_its_retries_without_leaking_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="arbwatch")
    # apprise's own records too, at the level where it names whole URLs.
    caplog.set_level(logging.DEBUG, logger="apprise")
    async with json_receiver(default=Reply(500)) as (receiver, base):
        url = base.replace("json://", "json://alerts:s3cretpass@", 1) + "/hook"
        async with running({"dead": channel("dead", url, retries=2)}) as (notifier, results):
            notifier.submit("dead", message("doomed"))
            result = await results.next()
            stats = notifier.stats()["dead"]
    assert receiver.requests == 3
    assert (result.ok, result.attempts) == (False, 3)
    assert (stats.sent, stats.failed, stats.retried) == (0, 1, 2)
    assert "500" in stats.last_error
    assert result.detail == stats.last_error
    assert "s3cretpass" not in stats.last_error
    assert "gave up" in caplog.text
    assert "s3cretpass" not in caplog.text


async def test_stale_alert_is_dropped_not_sent() -> None:
    async with json_receiver() as (receiver, base):
        hook = channel("hook", base, freshness=120.0)
        async with running({"hook": hook}) as (notifier, results):
            notifier.submit("hook", message("too late", found_at=NOW - 121.0, key="old"))
            notifier.submit("hook", message("in time", found_at=NOW - 5.0, key="new"))
            # In order on one channel: once the second arrives, the first was dealt with.
            assert (await receiver.next_post())["title"] == "in time"
            dropped, sent = await results.next(), await results.next()
            stats = notifier.stats()["hook"]
    assert receiver.requests == 1
    assert (dropped.key, dropped.ok, dropped.attempts) == ("old", False, 0)
    assert dropped.detail.startswith("dropped: 121s old")
    assert (sent.key, sent.ok) == ("new", True)
    assert (stats.dropped_stale, stats.sent) == (1, 1)


async def test_alert_turning_stale_between_attempts_is_not_retried() -> None:
    clock = [NOW]

    def an_hour_passes() -> None:
        clock[0] += 3600.0

    async with json_receiver(Reply(500, then=an_hour_passes)) as (receiver, base):
        hook = channel("hook", base, retries=5)
        async with running({"hook": hook}, clock=lambda: clock[0]) as (notifier, results):
            notifier.submit("hook", message("slow"))
            result = await results.next()
            stats = notifier.stats()["hook"]
    assert receiver.requests == 1
    assert (result.ok, result.attempts) == (False, 1)
    assert (stats.dropped_stale, stats.retried, stats.failed) == (1, 1, 0)


async def test_full_queue_drops_the_oldest(caplog: pytest.LogCaptureFixture) -> None:
    async with json_receiver() as (receiver, base):
        results = Results()
        notifier = Notifier(
            {"hook": channel("hook", base)}, clock=lambda: NOW, on_result=results, queue_size=2
        )
        with results.send, results.receive:
            # Queued before the workers run, so the queue really fills up.
            for number in range(1, 4):
                assert notifier.submit("hook", message(f"alert {number}", key=str(number)))
            notifier.release()  # what is due moves to the queue (the timer does it in `run`)
            dropped = await results.next()
            async with anyio.create_task_group() as group:
                group.start_soon(notifier.run)
                titles = [(await receiver.next_post())["title"] for _ in range(2)]
                group.cancel_scope.cancel()
    assert titles == ["alert 2", "alert 3"]
    assert (dropped.key, dropped.ok, dropped.detail) == ("1", False, "dropped: queue full")
    assert notifier.stats()["hook"].dropped_full == 1
    assert "queue full" in caplog.text


async def test_flush_waits_for_deliveries_then_returns_nothing_left() -> None:
    async with json_receiver() as (receiver, base):
        hook = channel("hook", base)
        async with running({"hook": hook}) as (notifier, _):
            for number in range(3):
                notifier.submit("hook", message(f"alert {number}"))
            assert await notifier.flush(WAIT) == 0
            assert receiver.requests == 3


async def test_flush_gives_up_at_its_timeout_and_counts_what_is_left() -> None:
    never_answered = anyio.Event()
    async with json_receiver(default=Reply(200, release=never_answered)) as (receiver, base):
        async with running({"hook": channel("hook", base)}) as (notifier, _):
            for number in range(3):
                notifier.submit("hook", message(f"alert {number}"))
            started = time.monotonic()
            left = await notifier.flush(0.2)
            elapsed = time.monotonic() - started
        never_answered.set()  # lets the server close its connection and stop
    assert left == 3  # one in flight, two queued
    assert 0.2 <= elapsed < 1.0
    assert receiver.requests == 1


async def test_replace_channels_while_running() -> None:
    async with (
        json_receiver() as (first, first_url),
        json_receiver() as (
            second,
            second_url,
        ),
        json_receiver() as (third, third_url),
    ):
        a = channel("a", first_url)
        async with running({"a": a}) as (notifier, results):
            notifier.submit("a", message("to a"))
            assert (await first.next_post())["title"] == "to a"
            await results.next()

            # a unchanged (keeps its counters), b new: starts at once.
            notifier.replace_channels({"a": a, "b": channel("b", second_url)})
            assert notifier.submit("b", message("to b"))
            assert (await second.next_post())["title"] == "to b"
            assert notifier.stats()["a"].sent == 1

            # a removed, b changed to another URL: b's worker sends with its new settings.
            notifier.replace_channels({"b": channel("b", third_url)})
            assert not notifier.submit("a", message("to a again"))
            assert notifier.submit("b", message("to b again"))
            assert (await third.next_post())["title"] == "to b again"
            assert set(notifier.stats()) == {"b"}
    assert (first.requests, second.requests, third.requests) == (1, 1, 1)


async def test_unknown_channel_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({})
    assert not notifier.submit("nowhere", message("lost"))
    assert "no channel 'nowhere'" in caplog.text


async def test_console_prints_title_and_body(capsys: pytest.CaptureFixture[str]) -> None:
    async with running({"terminal": channel("terminal", "console://")}) as (notifier, results):
        notifier.submit("terminal", message("ARB +2.14% · NBA"))
        assert (await results.next()).ok
    assert (
        capsys.readouterr().out == "ARB +2.14% · NBA\nARB +2.14% · NBA body line 1\nbody line 2\n"
    )


async def test_send_sample_reports_each_url(caplog: pytest.LogCaptureFixture) -> None:
    sample = render_sample(NOW, OddsFormat.AMERICAN, "$", ZoneInfo("America/New_York"))
    async with (
        json_receiver() as (good, good_url),
        json_receiver(default=Reply(503)) as (
            _,
            bad_url,
        ),
    ):
        assert await send_sample(channel("hook", good_url), sample)
        post = await good.next_post()
        secret_url = bad_url.replace("json://", "json://u:t0psecret@", 1)
        assert not await send_sample(channel("mixed", good_url, secret_url), sample)
    assert post["title"] == sample.title
    assert post["title"].startswith("TEST · ARB +3.73% · NBA · Lakers @ Celtics")
    assert "json:// did not take the sample alert" in caplog.text
    assert "503" in caplog.text
    assert "t0psecret" not in caplog.text


# --- services that cannot be reached: intercepted HTTP ------------------------------------


class Intercepted:
    """Stands in for ``requests.post``: records each call and answers 200 with ``reply``."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        self.calls.append((url, json.loads(data)))
        response = requests.Response()
        response.status_code = 200
        response._content = self.reply
        return response


async def test_telegram_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    """Telegram's API cannot be reached here: apprise's ``requests.post`` is intercepted."""
    post = Intercepted(b'{"ok": true, "result": {}}')
    monkeypatch.setattr(requests, "post", post)
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    async with running({"phone": channel("phone", f"tgram://{token}/987654321")}) as (
        notifier,
        results,
    ):
        notifier.submit("phone", message("ARB +2.14% · NBA"))
        assert (await results.next()).ok
    ((url, payload),) = post.calls
    assert url == f"https://api.telegram.org/bot{token}/sendMessage"
    assert str(payload["chat_id"]) == "987654321"
    assert "ARB +2.14% · NBA" in payload["text"]
    assert "body line 1" in payload["text"]
    assert "body line 2" in payload["text"]


async def test_discord_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    """Discord cannot be reached here: apprise's ``requests.post`` is intercepted."""
    post = Intercepted(b"")
    monkeypatch.setattr(requests, "post", post)
    webhook_id, webhook_token = "1234567890", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    url = f"discord://{webhook_id}/{webhook_token}"
    async with running({"team": channel("team", url)}) as (notifier, results):
        notifier.submit("team", message("EV +4.10% · NBA"))
        assert (await results.next()).ok
    ((address, payload),) = post.calls
    assert address == f"https://discord.com/api/webhooks/{webhook_id}/{webhook_token}"
    text = json.dumps(payload, ensure_ascii=False)
    assert "EV +4.10% · NBA" in text
    assert "body line 1" in text
    assert "body line 2" in text
