"""Grouping, the cap and each app's format, through apprise to real loopback receivers.

A burst and a flood go to a real ``json://`` HTTP receiver, e-mail to a real aiosmtpd
server. Telegram and Discord cannot be reached from a test: their tests intercept the HTTP
request apprise makes (``requests.post``) and check the payload instead.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import anyio
import pytest
import requests

from arbwatch.config.model import ChannelConfig, Secret
from arbwatch.notify.deliver import Notifier
from arbwatch.notify.message import Message
from tests.integration.test_notify import Intercepted, running
from tests.sinks import WAIT, json_receiver, smtp_server, until
from tests.unit.test_message import NOW, positive_ev, show, three_way_arb, two_way_arb

pytestmark = pytest.mark.anyio

#: Retries quick; a short group_wait so the tests take a fraction of a second.
QUICK = {"retry_initial": 0.01, "retry_max": 0.02, "group_wait": 0.2, "group_interval": 30.0}


def from_now() -> Callable[[], float]:
    """A clock that starts at the rendered alerts' ``NOW`` and runs in real time."""
    started = time.monotonic()
    return lambda: NOW + time.monotonic() - started


def channel(name: str, url: str, **settings: Any) -> ChannelConfig:
    return ChannelConfig(name=name, urls=(Secret(url),), **(QUICK | settings))


def burst() -> list[Message]:
    """One price move on one game: an arbitrage and a +EV price at once."""
    return [show(two_way_arb()), dataclasses.replace(show(positive_ev()), key="key-2")]


def game_alert(number: int) -> Message:
    """An alert on game ``number`` (each its own group)."""
    return Message(
        title=f"ARB +2.{number:02d}% · game {number}",
        body=f"bets on game {number}",
        found_at=NOW,
        rule="arbs",
        key=f"k{number}",
        group=f"g{number}",
        reason="new",
    )


async def test_a_burst_of_simultaneous_opportunities_arrives_as_one_message() -> None:
    async with (
        json_receiver() as (receiver, base),
        running({"hook": channel("hook", base)}, clock=from_now()) as (notifier, results),
    ):
        for number, message in enumerate(burst()):
            assert notifier.submit("hook", message, number)
        post = await receiver.next_post()
        outcomes = [await results.next(), await results.next()]
        await anyio.sleep(0.5)  # longer than group_wait: nothing else may come
    assert post["title"] == "ARB +3.73% · NBA · Lakers @ Celtics · Moneyline (+1 more)"
    assert "Celtics +110 @ Pinnacle · stake $493.98" in post["message"]
    assert "EV +5.74% · NBA · Lakers @ Celtics · Moneyline" in post["message"]
    assert receiver.requests == 1
    assert sorted((r.decision, r.ok) for r in outcomes) == [(0, True), (1, True)]


async def test_a_flood_is_capped_and_the_rest_arrives_as_one_digest() -> None:
    now = [NOW]
    async with json_receiver() as (receiver, base):
        hook = channel("hook", base, group_wait=0.0, group_interval=0.0, max_per_minute=3)
        async with running({"hook": hook}, clock=lambda: now[0]) as (notifier, results):
            for number in range(12):
                notifier.submit("hook", game_alert(number), number)
            posts = [await receiver.next_post() for _ in range(3)]
            # The rest waits for room in the minute's window: one digest then, nothing before.
            assert notifier.stats()["hook"].sent <= 3
            now[0] = NOW + 60.0
            notifier.release()
            digest = await receiver.next_post()
            outcomes = [await results.next() for _ in range(12)]
    assert [post["title"] for post in posts] == [f"ARB +2.0{n}% · game {n}" for n in range(3)]
    assert digest["title"] == "+9 more: ARB +2.03% · game 3"
    assert digest["message"].splitlines()[1:] == [
        f"- ARB +2.{n:02d}% · game {n}" for n in range(3, 12)
    ]
    assert receiver.requests == 4
    assert {r.decision for r in outcomes if r.ok} == set(range(12))


async def test_a_new_gone_before_group_wait_ends_is_never_sent() -> None:
    async with (
        json_receiver() as (receiver, base),
        running({"hook": channel("hook", base)}, clock=from_now()) as (notifier, results),
    ):
        new = show(two_way_arb())
        gone = Message(
            title="GONE · ARB +3.73%",
            body="Lasted 0s",
            found_at=NOW,
            rule=new.rule,
            key=new.key,
            group=new.group,
            reason="gone",
        )
        notifier.submit("hook", new, 1)
        notifier.submit("hook", gone, 2)
        outcomes = [await results.next(), await results.next()]
        await anyio.sleep(0.5)
    assert receiver.requests == 0
    assert [(r.decision, r.ok, r.detail) for r in outcomes] == [
        (1, False, "not sent: gone before it was sent"),
        (2, False, "not sent: gone before it was sent"),
    ]


async def test_flush_sends_what_waits_in_a_group_at_once() -> None:
    async with json_receiver() as (receiver, base):
        hook = channel("hook", base, group_wait=600.0)
        async with running({"hook": hook}, clock=from_now()) as (notifier, _):
            for message in burst():
                notifier.submit("hook", message)
            assert await notifier.flush(WAIT) == 0
    assert receiver.requests == 1


async def test_health_alerts_are_not_held_by_the_cap() -> None:
    async with json_receiver() as (receiver, base):
        hook = channel("hook", base, group_wait=0.0, group_interval=0.0, max_per_minute=1)
        async with running({"hook": hook}, clock=lambda: NOW) as (notifier, _):
            notifier.submit("hook", game_alert(1))
            notifier.submit("hook", game_alert(2))
            health = Message(
                title="Feed rapid down", body="since 12:00", found_at=NOW, rule="health", key="h"
            )
            notifier.submit("hook", health)
            titles = [(await receiver.next_post())["title"] for _ in range(2)]
    assert titles == ["ARB +2.01% · game 1", "Feed rapid down"]


# --- each app's format ----------------------------------------------------------------------


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


async def test_email_has_an_html_part_beside_the_plain_text_and_a_sorting_subject() -> None:
    async with smtp_server() as server:
        mail_channel = channel("mail", server.url(), group_wait=0.0)
        async with running({"mail": mail_channel}, clock=lambda: NOW) as (notifier, _):
            notifier.submit("mail", show(three_way_arb()))
            mail = await server.next_mail()
    assert mail["Subject"] == "ARB +13.24% · EPL · Chelsea @ Arsenal · Moneyline (3-way)"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(preferencelist=("plain",))
    markup = mail.get_body(preferencelist=("html",))
    assert plain is not None
    assert markup is not None
    text, page = plain.get_content(), markup.get_content()
    for fact in ("+190", "Bet365", "stake $390.48", "after 2% commission", "profit $132.39"):
        assert fact in text
        assert fact in page
    tags = Tags()
    tags.feed(page)
    assert "pre" in tags.tags


async def test_telegram_gets_html_with_the_bets_in_a_monospace_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Telegram's API cannot be reached here: apprise's ``requests.post`` is intercepted."""
    post = Intercepted(b'{"ok": true, "result": {}}')
    monkeypatch.setattr(requests, "post", post)
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    phone = channel("phone", f"tgram://{token}/987654321", group_wait=0.0)
    async with running({"phone": phone}, clock=lambda: NOW) as (notifier, results):
        for message in burst():
            notifier.submit("phone", message)
        assert (await results.next()).ok
        await until(lambda: len(post.calls) >= 1)
    ((_, payload),) = post.calls
    assert payload["parse_mode"] == "HTML"
    text = payload["text"]
    assert text.startswith("<b>ARB +3.73% · NBA · Lakers @ Celtics · Moneyline (+1 more)</b>")
    assert "<pre>Celtics  +110  @ Pinnacle    stake $493.98  quote 4s old\n" in text


async def test_discord_gets_markdown_with_the_bets_in_a_code_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Discord cannot be reached here: apprise's ``requests.post`` is intercepted."""
    post = Intercepted(b"")
    monkeypatch.setattr(requests, "post", post)
    url = "discord://1234567890/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    team = channel("team", url, group_wait=0.0)
    async with running({"team": team}, clock=lambda: NOW) as (notifier, results):
        notifier.submit("team", show(two_way_arb()))
        assert (await results.next()).ok
    ((_, payload),) = post.calls
    text = json.dumps(payload, ensure_ascii=False)
    assert "```\\nCeltics  +110  @ Pinnacle    stake $493.98  quote 4s old\\n" in text
    assert "ARB +3.73% · NBA · Lakers @ Celtics · Moneyline" in text


def test_notifier_refuses_nothing_new_at_construction() -> None:
    # The grouping keys have phone defaults: a channel built without them groups.
    notifier = Notifier({"hook": ChannelConfig(name="hook", urls=(Secret("json://127.0.0.1:1"),))})
    assert notifier.has_channel("hook")
    assert notifier.release() is None
